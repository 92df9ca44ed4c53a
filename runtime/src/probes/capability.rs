//! What this kernel can attach, asked before anything is loaded: kprobes need the kprobe PMU
//! or tracefs `kprobe_events` (CONFIG_KPROBES); fentry and fexit need the kernel to accept a
//! BPF trampoline program, which is tried with a two-instruction program on the probe's own
//! function. The probe kinds (`crate::probes`) turn the answers into diagnostics.

use std::path::Path;

use crate::facts::LiveFacts;
use crate::kernel::sys;

/// Whether the kernel has kprobes (CONFIG_KPROBES): the kprobe PMU or tracefs
/// `kprobe_events`.
pub fn has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .any(|d| Path::new(d).join("kprobe_events").exists())
}

/// Why the kernel will not take a fentry (`exit`: fexit) program on `function`, or `None`
/// when it does: the answer of loading `r0 = 0; exit` as one.
pub fn trampoline_refused(exit: bool, function: &str, facts: &LiveFacts) -> Option<String> {
    let id = facts.btf().ok()?.function_id(function)?;
    // mov r0, 0; exit
    let code: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let attach = if exit {
        sys::ATTACH_TRACE_FENTRY + 1
    } else {
        sys::ATTACH_TRACE_FENTRY
    };
    match sys::prog_load_tracing(attach, id, &code, "tb_probe_fentry") {
        Ok(_fd) => None,
        Err(e) => Some(format!(
            "this kernel refuses BPF trampolines (loading a fentry program fails: {e}; \
             lockdown or a kernel built without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)"
        )),
    }
}

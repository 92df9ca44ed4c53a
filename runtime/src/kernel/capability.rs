//! Whether this kernel can attach each probe type a script uses, asked before anything is
//! loaded: kprobes need the kprobe PMU or tracefs `kprobe_events` (CONFIG_KPROBES), fentry
//! and fexit need the kernel to accept a BPF trampoline program, which is tried with a
//! two-instruction program on the probe's own function. A probe type the kernel cannot
//! attach is one diagnostic at the probe, naming what is missing and a probe that works.

use std::path::Path;

use tracebound_compiler::ast::Item;
use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::ProviderKind;

use crate::facts::LiveFacts;
use crate::kernel::sys;

/// The first probe of `compiled` that this kernel cannot attach, as a diagnostic.
pub fn check_attachable(compiled: &Compiled, facts: &LiveFacts) -> Result<(), Diagnostic> {
    let spans: Vec<_> = compiled
        .ast
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(p.attach_points.first().map_or(p.span, |a| a.span)),
            _ => None,
        })
        .collect();
    for probe in &compiled.probes {
        let span = spans.get(probe.probe_index).copied().unwrap_or_default();
        let function = probe
            .targets
            .first()
            .and_then(|t| t.function())
            .unwrap_or_default();
        let missing = match probe.kind {
            ProviderKind::Kprobe | ProviderKind::Kretprobe if !has_kprobes() => Some(
                "this kernel has no kprobes (built without CONFIG_KPROBES: no kprobe PMU in \
                 /sys/bus/event_source/devices and no kprobe_events in tracefs)"
                    .to_string(),
            ),
            ProviderKind::Fentry | ProviderKind::Fexit => {
                trampoline_refused(probe.kind, function, facts)
            }
            ProviderKind::Kprobe | ProviderKind::Kretprobe => None,
            _ => continue,
        };
        let Some(missing) = missing else {
            return Err(Diagnostic::error(
                format!(
                    "{} probes are not attached by the runtime yet",
                    kind_name(probe.kind)
                ),
                span,
                "compiled and verified against BTF, but not attached",
            )
            .with_help(alternative(function)));
        };
        return Err(Diagnostic::error(
            format!("cannot attach `{}`: {missing}", probe.targets[0]),
            span,
            "this kernel cannot attach this probe type",
        )
        .with_help(alternative(function)));
    }
    Ok(())
}

fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Kprobe => "kprobe",
        ProviderKind::Kretprobe => "kretprobe",
        ProviderKind::Fentry => "fentry",
        _ => "fexit",
    }
}

fn has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .any(|d| Path::new(d).join("kprobe_events").exists())
}

/// Why the kernel will not take a fentry/fexit program on `function`, or `None` when it
/// does: the answer of loading `r0 = 0; exit` as one.
fn trampoline_refused(kind: ProviderKind, function: &str, facts: &LiveFacts) -> Option<String> {
    let id = facts.btf().ok()?.function_id(function)?;
    // mov r0, 0; exit
    let code: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let attach = if kind == ProviderKind::Fentry {
        sys::ATTACH_TRACE_FENTRY
    } else {
        sys::ATTACH_TRACE_FENTRY + 1
    };
    match sys::prog_load_tracing(attach, id, &code, "tb_probe_fentry") {
        Ok(_fd) => None,
        Err(e) => Some(format!(
            "this kernel refuses BPF trampolines (loading a fentry program fails: {e}; \
             lockdown or a kernel built without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)"
        )),
    }
}

/// A probe that works here in place of one on kernel function `function`.
fn alternative(function: &str) -> String {
    let syscall = [
        "__x64_sys_",
        "__ia32_sys_",
        "__se_sys_",
        "__do_sys_",
        "sys_",
        "ksys_",
    ]
    .iter()
    .find_map(|p| function.strip_prefix(p));
    match syscall {
        Some(name) => format!(
            "use the syscall's tracepoints: `tracepoint:syscalls:sys_enter_{name}` and \
             `tracepoint:syscalls:sys_exit_{name}`"
        ),
        None => format!(
            "use a tracepoint or raw tracepoint near `{function}` (list them with \
             `tracebound -l 'tracepoint:*'` and `tracebound -l 'rawtracepoint:*'`), or a \
             uprobe on the user-space caller"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_functions_point_at_their_tracepoints() {
        assert!(alternative("__x64_sys_getppid").contains("sys_enter_getppid"));
        assert!(alternative("ksys_read").contains("sys_exit_read"));
        assert!(alternative("vfs_read").contains("rawtracepoint"));
    }
}

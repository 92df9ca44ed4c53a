//! `--info`: what this build and this kernel support, in the current release's layout (System,
//! Build, Kernel helpers, Kernel features, Probe types), so that tools reading bpftrace's
//! `--info` (its test suite's REQUIRES_FEATURE among them) read tracebound's. The kernel is
//! asked: a helper by loading a program that calls it, uprobe_multi and iter by the link or
//! program they need; kprobe_multi and kprobe_session need kprobes first, and where the kernel
//! has them, the release that brought them (5.18, 6.10).

use std::path::Path;

use crate::facts::LiveFacts;
use crate::kernel::sys;
use crate::probes::capability;

/// The whole report, each line as bpftrace prints it.
pub fn report(version: &str) -> String {
    let mut out = String::new();
    let uts = uname();
    out.push_str(&format!(
        "System\n  OS: Linux {} {}\n  Arch: {}\n\n",
        uts.release, uts.version, uts.machine
    ));
    out.push_str(&format!(
        "Build\n  version: v{version} (tracebound)\n  LLVM: none (tracebound writes BPF itself)\n  \
         bfd: no\n  libdw (DWARF support): no\n  libsystemd (systemd notify support): no\n  \
         blazesym (advanced symbolization): yes\n  dwunwind (DWARF stack unwinding): no\n\n"
    ));
    let facts = LiveFacts::new();
    let kprobes = capability::has_kprobes();
    let trampolines = capability::trampoline_refused(false, "vfs_read", &facts).is_none();
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let helpers = [
        ("dpath", yes(trampolines && has_helper(D_PATH))),
        ("get_tai_ns", yes(has_helper(KTIME_GET_TAI_NS))),
        ("get_func_ip", yes(has_helper(GET_FUNC_IP))),
        (
            "lookup_percpu_elem",
            yes(has_helper(MAP_LOOKUP_PERCPU_ELEM)),
        ),
        ("loop", yes(has_helper(LOOP))),
    ];
    let btf_dir = Path::new("/sys/kernel/btf");
    let module_btf = std::fs::read_dir(btf_dir)
        .map(|d| d.flatten().any(|e| e.file_name() != "vmlinux"))
        .unwrap_or(false);
    let features = [
        ("Instruction limit", "1000000".to_string()),
        ("btf", yes(btf_dir.join("vmlinux").exists())),
        ("module btf", yes(module_btf)),
    ];
    let probe_types = [
        (
            "kprobe_multi",
            yes(kprobes && release_at_least(&uts.release, (5, 18))),
        ),
        ("uprobe_multi", yes(has_uprobe_multi())),
        (
            "kprobe_session",
            yes(kprobes && release_at_least(&uts.release, (6, 10))),
        ),
        ("iter", yes(has_task_iter(&facts))),
    ];
    for (title, rows) in [
        ("Kernel helpers", &helpers[..]),
        ("Kernel features", &features[..]),
        ("Probe types", &probe_types[..]),
    ] {
        out.push_str(title);
        out.push('\n');
        tabulate(&mut out, rows);
        out.push('\n');
    }
    out
}

/// Two `name: value` cells a line, the first padded to 35 columns, as bpftrace lays them out.
fn tabulate(out: &mut String, rows: &[(&str, String)]) {
    for pair in rows.chunks(2) {
        let first = format!("  {}: {}", pair[0].0, pair[0].1);
        match pair.get(1) {
            Some((name, value)) => out.push_str(&format!("{first:<35}{name}: {value}\n")),
            None => out.push_str(&format!("{first}\n")),
        }
    }
}

const D_PATH: i32 = 147;
const GET_FUNC_IP: i32 = 173;
const LOOP: i32 = 181;
const MAP_LOOKUP_PERCPU_ELEM: i32 = 195;
const KTIME_GET_TAI_NS: i32 = 208;

/// Whether the kernel knows helper `id` for kprobe programs: a program calling it is
/// rejected for its arguments, if at all, and not as an unknown function.
fn has_helper(id: i32) -> bool {
    let mut code = Vec::with_capacity(24);
    code.extend_from_slice(&[0x85, 0, 0, 0]); // call id
    code.extend_from_slice(&id.to_le_bytes());
    code.extend_from_slice(&[0xb7, 0, 0, 0, 0, 0, 0, 0]); // mov r0, 0
    code.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
    match sys::prog_load(sys::PROG_TYPE_KPROBE, 0, &code, "tb_info_helper") {
        Ok(_) => true,
        Err(e) => {
            let log = e.to_string();
            !log.contains("unknown func") && !log.contains("invalid func")
        }
    }
}

/// Whether the kernel has uprobe_multi links: creating one on the path "/" fails with EBADF
/// (a directory) where it has them, with EINVAL where it does not.
fn has_uprobe_multi() -> bool {
    let code = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let Ok(prog) = sys::prog_load(
        sys::PROG_TYPE_KPROBE,
        sys::ATTACH_TRACE_UPROBE_MULTI,
        &code,
        "tb_info_umulti",
    ) else {
        return false;
    };
    use std::os::fd::AsFd;
    match sys::link_uprobe_multi(prog.as_fd(), c"/", &[0], &[0], &[0], false, None) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() == Some(libc::EBADF),
    }
}

/// Whether the kernel takes a task iterator program (`iter:task`).
fn has_task_iter(facts: &LiveFacts) -> bool {
    const ATTACH_TRACE_ITER: u32 = 28;
    let Some(id) = facts
        .btf()
        .ok()
        .and_then(|btf| btf.function_id("bpf_iter_task"))
    else {
        return false;
    };
    let code = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    sys::prog_load_tracing(ATTACH_TRACE_ITER, id, &code, "tb_info_iter").is_ok()
}

/// Whether a kernel release string ("6.18.44-...") is at least `major.minor`.
fn release_at_least(release: &str, at_least: (u32, u32)) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    version >= at_least
}

struct Uname {
    release: String,
    version: String,
    machine: String,
}

fn uname() -> Uname {
    // SAFETY: utsname is plain bytes; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname for the call.
    unsafe { libc::uname(&mut uts) };
    let text = |field: &[libc::c_char]| {
        let bytes: Vec<u8> = field
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Uname {
        release: text(&uts.release),
        version: text(&uts.version),
        machine: text(&uts.machine),
    }
}

#[cfg(test)]
mod tests {
    use super::{release_at_least, tabulate};

    #[test]
    fn releases_compare_by_major_then_minor() {
        assert!(release_at_least("6.18.44-fc-v657", (6, 10)));
        assert!(release_at_least("5.18.0", (5, 18)));
        assert!(!release_at_least("5.15.0-91-generic", (5, 18)));
        assert!(!release_at_least("4.19", (5, 3)));
    }

    #[test]
    fn two_cells_a_line_the_first_padded_to_35_columns() {
        let mut out = String::new();
        let rows = [
            ("dpath", "no".to_string()),
            ("get_tai_ns", "yes".to_string()),
            ("loop", "yes".to_string()),
        ];
        tabulate(&mut out, &rows);
        assert_eq!(
            out,
            "  dpath: no                        get_tai_ns: yes\n  loop: yes\n"
        );
    }
}

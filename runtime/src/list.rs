//! `-l [PATTERN]` and `-lv`: the probes this machine offers, as bpftrace lists them
//! (`tracepoint:syscalls:sys_enter_openat`, with `-v` each field as its format declares it;
//! `uprobe:/bin/bash:readline` for the functions of a binary the pattern names; kernel
//! functions and raw tracepoints from BTF, with `-v` their parameters). Each probe kind lists
//! its own (`crate::probes::Mechanism::list`).

use std::io::Write;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};

use crate::probes::{mechanism_of, usdt, ListQuery, LISTED};

mod types;

/// Prints every probe matching `pattern` (all of them when `None`); returns how many. As in
/// the current release, a pattern may be several, separated by commas, and a pattern such as
/// `struct task_struct` lists kernel types (`types`).
pub fn list(
    pattern: Option<&str>,
    verbose: bool,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let mut count = 0;
    for one in pattern.unwrap_or("*").split(',') {
        let one = one.split_whitespace().collect::<Vec<_>>().join(" ");
        count += match types::names_types(&one) {
            true => types::list_types(&one, verbose, facts, out)?,
            false => list_probes(&one, verbose, facts, out)?,
        };
    }
    Ok(count)
}

/// One pattern's probes, each kind listing its own.
fn list_probes(
    pattern: &str,
    verbose: bool,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let pattern = match pattern {
        "" => "*",
        p => p,
    };
    let (provider, rest) = match pattern.split_once(':') {
        Some((p, rest)) => (p, rest),
        // A bare word is matched against probe names in every provider.
        None => ("*", pattern),
    };
    let query = ListQuery {
        provider,
        rest,
        verbose,
    };
    let mut count = 0;
    for &kind in LISTED {
        count += mechanism_of(kind).list(&query, facts, out)?;
    }
    Ok(count)
}

/// `-l 'usdt:*' -p PID`: the USDT probes of every ELF file the process has mapped, named
/// through `/proc/PID/root` as bpftrace names them (so that they resolve in the process's
/// mount namespace).
pub fn list_usdt_in_process(
    pid: u32,
    pattern: Option<&str>,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let root = format!("/proc/{pid}/root");
    let mut files: Vec<String> = crate::facts::binary::binaries_of(pid, "*")?
        .into_iter()
        .map(|file| match file.starts_with(&root) {
            true => file,
            false => format!("{root}{file}"),
        })
        .collect();
    files.sort();
    // `usdt:*`, `usdt:PROVIDER:NAME` or `usdt:BINARY:PROVIDER:NAME`: the probe part is what
    // follows the binary when there is one.
    let rest = pattern
        .and_then(|p| p.split_once(':'))
        .map_or("*", |(_, rest)| rest);
    let probe = match rest.matches(':').count() {
        0 | 1 => rest,
        _ => rest.split_once(':').map_or(rest, |(_, probe)| probe),
    };
    // Files without notes (or unreadable ones, like `[vdso]` copies) list nothing.
    let readable: Vec<String> = files
        .into_iter()
        .filter(|f| facts.usdt_sites(f).is_ok_and(|s| !s.is_empty()))
        .collect();
    usdt::list_sites(&readable, probe, facts, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::machine::fixture::FixtureFacts;

    fn listed(pattern: Option<&str>, verbose: bool) -> String {
        let mut out = Vec::new();
        list(pattern, verbose, &FixtureFacts::bundled(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tracepoints_by_pattern_and_alias() {
        assert_eq!(
            listed(Some("tracepoint:syscalls:sys_enter_open*"), false),
            "tracepoint:syscalls:sys_enter_openat\n"
        );
        assert_eq!(
            listed(Some("t:sched:sched_sw*"), false),
            "tracepoint:sched:sched_switch\n"
        );
        // A bare word matches every kind's names, raw tracepoints too.
        assert_eq!(
            listed(Some("sched_switch"), false),
            "tracepoint:sched:sched_switch\nrawtracepoint:sched_switch\n"
        );
    }

    #[test]
    fn timers_every_unit_and_several_patterns() {
        assert_eq!(
            listed(Some("interval:*"), false),
            "interval:hz:\ninterval:us:\ninterval:ms:\ninterval:s:\n"
        );
        assert_eq!(
            listed(Some("profile:m*, t:sched:sched_sw*"), false),
            "profile:ms:\ntracepoint:sched:sched_switch\n"
        );
    }

    #[test]
    fn iterators_from_btf_contexts() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let mut out = Vec::new();
        list(Some("iter:*"), false, &facts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // `bpf_iter__task__safe_trusted` is the verifier's, no iterator of its own.
        assert_eq!(text, "iter:task\niter:task_file\n");
        assert_eq!(listed(Some("iter:*"), false), "", "no BTF, no iterators");
    }

    #[test]
    fn verbose_lists_fields_as_declared() {
        let text = listed(Some("tracepoint:sched:sched_switch"), true);
        assert!(
            text.starts_with(
                "tracepoint:sched:sched_switch\n    char prev_comm[16]\n    pid_t prev_pid\n"
            ),
            "{text}"
        );
        assert!(!text.contains("common_"));
    }

    #[test]
    fn functions_of_a_named_binary() {
        let facts = FixtureFacts::new().with_binary("/bin/bash", &["main", "readline", "rl_getc"]);
        let mut out = Vec::new();
        list(Some("uprobe:bash:r*"), false, &facts, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "uprobe:/bin/bash:readline\nuprobe:/bin/bash:rl_getc\n"
        );
    }

    #[test]
    fn usdt_probes_of_a_named_binary_once_each_sorted() {
        let site = |provider: &str, name: &str, offset: u64| {
            tracebound_compiler::machine::facts::UsdtSite {
                path: "/usr/bin/app".into(),
                provider: provider.into(),
                name: name.into(),
                offset,
                semaphore: None,
                args: String::new(),
            }
        };
        let facts = FixtureFacts::new()
            .with_binary("/usr/bin/app", &["main"])
            .with_usdt_site(site("app", "tick", 1))
            .with_usdt_site(site("app", "request", 2))
            .with_usdt_site(site("app", "tick", 3))
            .with_usdt_site(site("lib", "init", 4));
        let listed = |pattern: &str| {
            let mut out = Vec::new();
            list(Some(pattern), false, &facts, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            listed("usdt:app:*"),
            "usdt:/usr/bin/app:app:request\nusdt:/usr/bin/app:app:tick\nusdt:/usr/bin/app:lib:init\n"
        );
        assert_eq!(
            listed("usdt:/usr/bin/app:lib:*"),
            "usdt:/usr/bin/app:lib:init\n"
        );
        assert_eq!(listed("U:app:tick"), "usdt:/usr/bin/app:app:tick\n");
    }

    #[test]
    fn software_events() {
        assert_eq!(
            listed(Some("software:cpu*"), false),
            "software:cpu-clock:\nsoftware:cpu:\nsoftware:cpu-migrations:\n"
        );
    }

    /// Kernel functions are listed from BTF for a provider named in the pattern, with typed
    /// parameters for fentry/fexit under -v; a bare pattern lists none of them (as before).
    #[test]
    fn kernel_functions_from_btf() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let listed = |pattern: &str, verbose: bool| {
            let mut out = Vec::new();
            list(Some(pattern), verbose, &facts, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(listed("kprobe:vfs_*", false), "kprobe:vfs_read\n");
        let verbose = listed("kfunc:vfs_read", true);
        assert!(verbose.starts_with("kfunc:vfs_read\n    "), "{verbose}");
        assert!(verbose.contains(" file\n"), "{verbose}");
        assert!(listed("fexit:vfs_read", true).ends_with(" retval\n"));
        assert!(!listed("vfs_read", false).contains("kprobe:"));
    }
}

//! `-l [PATTERN]` and `-lv`: the probes this machine offers, as bpftrace lists them
//! (`tracepoint:syscalls:sys_enter_openat`, with `-v` each field as its format declares it;
//! `uprobe:/bin/bash:readline` for the functions of a binary the pattern names; kernel
//! functions and raw tracepoints from BTF, with `-v` their parameters).

use std::io::{self, Write};

use tracebound_compiler::probe::{self, software, ProviderKind, HARDWARE_EVENTS};
use tracebound_compiler::resolve::demangle::demangle;
use tracebound_compiler::resolve::facts::{FactError, MachineFacts};
use tracebound_compiler::resolve::glob::Glob;

/// Prints every probe matching `pattern` (all of them when `None`); returns how many.
pub fn list(
    pattern: Option<&str>,
    verbose: bool,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let pattern = pattern.unwrap_or("*");
    let (provider_pattern, rest) = match pattern.split_once(':') {
        Some((p, rest)) => (p, rest),
        // A bare word is matched against probe names in every provider.
        None => ("*", pattern),
    };
    let wants = |kind: ProviderKind| {
        let p = kind.provider();
        let glob = Glob::new(provider_pattern);
        glob.matches(p.name) || p.aliases.iter().any(|a| glob.matches(a))
    };
    let mut count = 0;
    let io = |e: io::Error| FactError::Unavailable {
        reason: e.to_string(),
    };

    if wants(ProviderKind::Tracepoint) {
        // `tracepoint:cat:event`, `tracepoint:event` (any category), or a bare `event`.
        let (cat, event) = rest.split_once(':').unwrap_or(("*", rest));
        let (cat, event) = (Glob::new(cat), Glob::new(event));
        let mut all = facts.tracepoints()?;
        // bpftrace lists them ordered by the joined name.
        all.sort_by(|a, b| format!("{}:{}", a.0, a.1).cmp(&format!("{}:{}", b.0, b.1)));
        for (c, e) in all
            .iter()
            .filter(|(c, e)| cat.matches(c) && event.matches(e))
        {
            writeln!(out, "tracepoint:{c}:{e}").map_err(io)?;
            count += 1;
            if verbose {
                let format = facts.tracepoint_format(c, e)?;
                for field in format.fields.iter().filter(|f| !f.common) {
                    writeln!(out, "    {}", field.declaration).map_err(io)?;
                }
            }
        }
    }
    // Uprobes only for a named binary: every file on the machine is not a list.
    if let ("uprobe" | "u" | "uretprobe" | "ur", Some((binary, function))) =
        (provider_pattern, rest.split_once(':'))
    {
        let provider = if provider_pattern.starts_with("ur") {
            "uretprobe"
        } else {
            "uprobe"
        };
        let path = facts.binary_path(binary)?;
        let glob = Glob::new(function.trim_matches('"'));
        for name in facts.function_symbols(&path)? {
            // C++ and Rust functions are listed by their demangled signature, quoted so that
            // the line is an attach point as it stands; the pattern may match either name.
            let demangled = demangle(&name);
            if !glob.matches(&name) && !demangled.as_ref().is_some_and(|d| glob.matches(d)) {
                continue;
            }
            match demangled {
                Some(d) => writeln!(out, "{provider}:{path}:\"{d}\"").map_err(io)?,
                None => writeln!(out, "{provider}:{path}:{name}").map_err(io)?,
            }
            count += 1;
        }
    }
    if let ("usdt" | "U", Some((binary, probe))) = (provider_pattern, rest.split_once(':')) {
        let path = facts.binary_path(binary)?;
        count += list_usdt(&[path], probe, facts, out)?;
    }
    for (kind, name, events) in [
        (
            ProviderKind::Software,
            "software",
            &software::event_names()[..],
        ),
        (ProviderKind::Hardware, "hardware", HARDWARE_EVENTS),
    ] {
        if !wants(kind) {
            continue;
        }
        let glob = Glob::new(rest.split(':').next().unwrap_or("*"));
        for event in events.iter().filter(|e| glob.matches(e)) {
            writeln!(out, "{name}:{event}:").map_err(io)?;
            count += 1;
        }
    }
    // Kernel functions and raw tracepoints from BTF, when the pattern names their provider
    // (they number tens of thousands; bpftrace 0.17 cannot list them on this kernel at all).
    if provider_pattern != "*" {
        count += list_from_btf(provider_pattern, rest, verbose, facts, out)?;
    }
    Ok(count)
}

/// `kprobe:`, `fentry:`/`kfunc:` (and their return forms) for the kernel functions BTF
/// describes, `rawtracepoint:` for its raw tracepoints; with `-v`, their parameters (a raw
/// tracepoint's after the `void *__data` every one starts with), as C declares them.
fn list_from_btf(
    provider_pattern: &str,
    rest: &str,
    verbose: bool,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    use tracebound_compiler::types::kernel::{CType, KernelTypes};
    use tracebound_compiler::types::{KType, NameSpace};
    let io = |e: io::Error| FactError::Unavailable {
        reason: e.to_string(),
    };
    let Some(provider) = probe::lookup(provider_pattern) else {
        return Ok(0);
    };
    // The name as the user spelled the provider (`kfunc:` lists as `kfunc:`).
    let word = provider_pattern;
    let glob = Glob::new(rest.rsplit(':').next().unwrap_or("*"));
    let types = KernelTypes::new(facts);
    let declare = |ty, name: &str| {
        let c = types.describe(&CType::kernel(ty, false));
        if name.is_empty() {
            c
        } else {
            format!("{c} {name}")
        }
    };
    let mut count = 0;
    match provider.kind {
        ProviderKind::Kprobe
        | ProviderKind::Kretprobe
        | ProviderKind::Fentry
        | ProviderKind::Fexit => {
            for f in facts.kernel_functions()?.iter().filter(|f| glob.matches(f)) {
                writeln!(out, "{word}:{f}").map_err(io)?;
                count += 1;
                // Only fentry/fexit have typed arguments (kprobes read registers).
                if verbose && matches!(provider.kind, ProviderKind::Fentry | ProviderKind::Fexit) {
                    let proto = facts.kernel_function(f)?;
                    for p in &proto.params {
                        writeln!(out, "    {}", declare(p.ty, &p.name)).map_err(io)?;
                    }
                    if provider.kind == ProviderKind::Fexit {
                        writeln!(out, "    {}", declare(proto.ret, "retval")).map_err(io)?;
                    }
                }
            }
        }
        ProviderKind::RawTracepoint => {
            let mut names = facts.raw_tracepoints()?;
            names.sort();
            names.dedup();
            for name in names.iter().filter(|n| glob.matches(n)) {
                writeln!(out, "{word}:{name}").map_err(io)?;
                count += 1;
                if !verbose {
                    continue;
                }
                let proto = facts
                    .kernel_type_named(NameSpace::Typedef, &format!("btf_trace_{name}"))
                    .and_then(|id| facts.kernel_type(id))
                    .and_then(|t| match t {
                        KType::Pointer { to } => facts.kernel_type(to),
                        other => Ok(other),
                    });
                // BTF leaves these parameters unnamed: they are the probe's arg0, arg1, ...
                if let Ok(KType::FuncProto(proto)) = proto {
                    for (i, p) in proto.params.iter().skip(1).enumerate() {
                        writeln!(out, "    {}", declare(p.ty, &format!("arg{i}"))).map_err(io)?;
                    }
                }
            }
        }
        _ => {}
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
    let maps_path = format!("/proc/{pid}/maps");
    let maps = std::fs::read_to_string(&maps_path).map_err(|e| FactError::Unavailable {
        reason: format!("cannot read {maps_path}: {e}"),
    })?;
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|file| file.starts_with('/'))
        .map(|file| format!("/proc/{pid}/root{file}"))
        .collect();
    files.sort();
    files.dedup();
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
    list_usdt(&readable, probe, facts, out)
}

/// The USDT probes of `paths` whose `[PROVIDER:]NAME` matches `probe` (`*` for all), once
/// each (a probe may have several sites), sorted, as bpftrace lists them.
fn list_usdt(
    paths: &[String],
    probe: &str,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let (provider, name) = match probe.split_once(':') {
        Some((provider, name)) => (Glob::new(provider), Glob::new(name)),
        None => (Glob::new("*"), Glob::new(probe)),
    };
    let mut lines = std::collections::BTreeSet::new();
    for path in paths {
        for site in facts.usdt_sites(path)? {
            if provider.matches(&site.provider) && name.matches(&site.name) {
                lines.insert(format!("usdt:{path}:{}:{}", site.provider, site.name));
            }
        }
    }
    for line in &lines {
        writeln!(out, "{line}").map_err(|e| FactError::Unavailable {
            reason: e.to_string(),
        })?;
    }
    Ok(lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::resolve::fixture::FixtureFacts;

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
        assert_eq!(
            listed(Some("sched_switch"), false),
            "tracepoint:sched:sched_switch\n"
        );
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
            tracebound_compiler::resolve::facts::UsdtSite {
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

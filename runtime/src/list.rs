//! `-l [PATTERN]` and `-lv`: the probes this machine offers, as bpftrace lists them
//! (`tracepoint:syscalls:sys_enter_openat`, with `-v` each field as its format declares it;
//! `uprobe:/bin/bash:readline` for the functions of a binary the pattern names).

use std::io::{self, Write};

use tracebound_compiler::provider::{self, ProviderKind, HARDWARE_EVENTS, SOFTWARE_EVENTS};
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
        let p = provider::PROVIDERS.iter().find(|p| p.kind == kind);
        let glob = Glob::new(provider_pattern);
        p.is_some_and(|p| glob.matches(p.name) || p.aliases.iter().any(|a| glob.matches(a)))
    };
    let mut count = 0;
    let mut write = |line: &str| -> io::Result<()> { writeln!(out, "{line}") };
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
            write(&format!("tracepoint:{c}:{e}")).map_err(io)?;
            count += 1;
            if verbose {
                let format = facts.tracepoint_format(c, e)?;
                for field in format.fields.iter().filter(|f| !f.common) {
                    write(&format!("    {}", field.declaration)).map_err(io)?;
                }
            }
        }
    }
    // Uprobes only for a named binary: every file on the machine is not a list.
    if let ("uprobe" | "u" | "uretprobe" | "ur", Some((binary, function))) =
        (provider_pattern, rest.rsplit_once(':'))
    {
        let provider = if provider_pattern.starts_with("ur") {
            "uretprobe"
        } else {
            "uprobe"
        };
        let path = facts.binary_path(binary)?;
        let glob = Glob::new(function);
        for name in facts
            .function_symbols(&path)?
            .iter()
            .filter(|n| glob.matches(n))
        {
            write(&format!("{provider}:{path}:{name}")).map_err(io)?;
            count += 1;
        }
    }
    for (kind, name, events) in [
        (ProviderKind::Software, "software", SOFTWARE_EVENTS),
        (ProviderKind::Hardware, "hardware", HARDWARE_EVENTS),
    ] {
        if !wants(kind) {
            continue;
        }
        let glob = Glob::new(rest.split(':').next().unwrap_or("*"));
        for event in events.iter().filter(|e| glob.matches(e)) {
            write(&format!("{name}:{event}:")).map_err(io)?;
            count += 1;
        }
    }
    Ok(count)
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
    fn software_events() {
        assert_eq!(
            listed(Some("software:cpu*"), false),
            "software:cpu-clock:\nsoftware:cpu:\nsoftware:cpu-migrations:\n"
        );
    }
}

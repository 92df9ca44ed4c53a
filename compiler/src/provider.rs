//! Every probe provider: its canonical name, the spellings bpftrace accepts (short names,
//! older and newer names), how many `:`-separated parts follow it, and what its probes can
//! see. Later phases add the hooks (resolve, attach, rate estimation) to the same entries.

use tracebound_stdlib::Contexts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Begin,
    End,
    SelfSignal,
    Kprobe,
    Kretprobe,
    Uprobe,
    Uretprobe,
    Usdt,
    Tracepoint,
    RawTracepoint,
    Profile,
    Interval,
    Software,
    Hardware,
    Watchpoint,
    AsyncWatchpoint,
    Fentry,
    Fexit,
    Iter,
}

#[derive(Debug)]
pub struct Provider {
    pub kind: ProviderKind,
    /// The name `-l` prints and diagnostics use.
    pub name: &'static str,
    /// Other accepted spellings, matched exactly (`U` is usdt, `u` is uprobe).
    pub aliases: &'static [&'static str],
    /// How many parts may follow the provider: `min..=max`.
    pub parts: (usize, usize),
    /// What the probe's program can read (`retval`, `args`, registers).
    pub contexts: Contexts,
    /// The shape of the parts, for diagnostics.
    pub usage: &'static str,
}

const NONE: Contexts = Contexts::SPECIAL;
const REGS: Contexts = Contexts::REGS;
const ARGS: Contexts = Contexts::ARGS;
const RET: Contexts = Contexts::RETURN;

pub static PROVIDERS: &[Provider] = &[
    Provider {
        kind: ProviderKind::Begin,
        name: "BEGIN",
        aliases: &["begin"],
        parts: (0, 0),
        contexts: NONE,
        usage: "BEGIN",
    },
    Provider {
        kind: ProviderKind::End,
        name: "END",
        aliases: &["end"],
        parts: (0, 0),
        contexts: NONE,
        usage: "END",
    },
    Provider {
        kind: ProviderKind::SelfSignal,
        name: "self",
        aliases: &[],
        parts: (2, 2),
        contexts: NONE,
        usage: "self:signal:SIGUSR1",
    },
    Provider {
        kind: ProviderKind::Kprobe,
        name: "kprobe",
        aliases: &["k"],
        parts: (1, 2),
        contexts: REGS,
        usage: "kprobe:[module:]function[+offset]",
    },
    Provider {
        kind: ProviderKind::Kretprobe,
        name: "kretprobe",
        aliases: &["kr"],
        parts: (1, 2),
        contexts: REGS.union(RET),
        usage: "kretprobe:[module:]function",
    },
    Provider {
        kind: ProviderKind::Uprobe,
        name: "uprobe",
        aliases: &["u"],
        parts: (1, 3),
        contexts: REGS.union(ARGS),
        usage: "uprobe:binary:function[+offset]",
    },
    Provider {
        kind: ProviderKind::Uretprobe,
        name: "uretprobe",
        aliases: &["ur"],
        parts: (1, 3),
        contexts: REGS.union(ARGS).union(RET),
        usage: "uretprobe:binary:function",
    },
    Provider {
        kind: ProviderKind::Usdt,
        name: "usdt",
        aliases: &["U"],
        parts: (1, 3),
        contexts: REGS.union(ARGS),
        usage: "usdt:binary:[provider:]probe",
    },
    Provider {
        kind: ProviderKind::Tracepoint,
        name: "tracepoint",
        aliases: &["t"],
        parts: (1, 2),
        contexts: ARGS,
        usage: "tracepoint:category:event",
    },
    Provider {
        kind: ProviderKind::RawTracepoint,
        name: "rawtracepoint",
        aliases: &["rt"],
        parts: (1, 2),
        contexts: ARGS.union(REGS),
        usage: "rawtracepoint:[module:]event",
    },
    Provider {
        kind: ProviderKind::Profile,
        name: "profile",
        aliases: &["p"],
        parts: (1, 2),
        contexts: REGS,
        usage: "profile:hz:99, profile:ms:10 or profile:10ms",
    },
    Provider {
        kind: ProviderKind::Interval,
        name: "interval",
        aliases: &["i"],
        parts: (1, 2),
        contexts: NONE,
        usage: "interval:s:1, interval:ms:100 or interval:1s",
    },
    Provider {
        kind: ProviderKind::Software,
        name: "software",
        aliases: &["s"],
        parts: (1, 2),
        contexts: REGS,
        usage: "software:event[:count]",
    },
    Provider {
        kind: ProviderKind::Hardware,
        name: "hardware",
        aliases: &["h"],
        parts: (1, 2),
        contexts: REGS,
        usage: "hardware:event[:count]",
    },
    Provider {
        kind: ProviderKind::Watchpoint,
        name: "watchpoint",
        aliases: &["w"],
        parts: (3, 3),
        contexts: REGS,
        usage: "watchpoint:address:length:mode",
    },
    Provider {
        kind: ProviderKind::AsyncWatchpoint,
        name: "asyncwatchpoint",
        aliases: &["aw"],
        parts: (3, 3),
        contexts: REGS,
        usage: "asyncwatchpoint:address:length:mode",
    },
    Provider {
        kind: ProviderKind::Fentry,
        name: "fentry",
        aliases: &["f", "kfunc"],
        parts: (1, 3),
        contexts: ARGS,
        usage: "fentry:[module:]function",
    },
    Provider {
        kind: ProviderKind::Fexit,
        name: "fexit",
        aliases: &["fr", "kretfunc"],
        parts: (1, 3),
        contexts: ARGS.union(RET),
        usage: "fexit:[module:]function",
    },
    Provider {
        kind: ProviderKind::Iter,
        name: "iter",
        aliases: &["it"],
        parts: (1, 2),
        contexts: ARGS,
        usage: "iter:name[:pin]",
    },
];

/// Finds a provider: exact spellings first (so `U` and `u` differ), then any case.
pub fn lookup(name: &str) -> Option<&'static Provider> {
    let exact = PROVIDERS
        .iter()
        .find(|p| p.name == name || p.aliases.contains(&name));
    exact.or_else(|| {
        PROVIDERS.iter().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || (p
                    .aliases
                    .iter()
                    .any(|a| a.len() > 2 && a.eq_ignore_ascii_case(name)))
        })
    })
}

/// Every spelling, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    PROVIDERS
        .iter()
        .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
}

/// Software events the kernel offers, with bpftrace's short names.
pub const SOFTWARE_EVENTS: &[&str] = &[
    "cpu-clock",
    "cpu",
    "task-clock",
    "page-faults",
    "faults",
    "context-switches",
    "cs",
    "cpu-migrations",
    "minor-faults",
    "major-faults",
    "alignment-faults",
    "emulation-faults",
    "dummy",
    "bpf-output",
];

/// Hardware events, with bpftrace's short names.
pub const HARDWARE_EVENTS: &[&str] = &[
    "cpu-cycles",
    "cycles",
    "instructions",
    "cache-references",
    "cache-misses",
    "branch-instructions",
    "branches",
    "branch-misses",
    "bus-cycles",
    "frontend-stalls",
    "backend-stalls",
    "ref-cycles",
];

/// Time units of `profile` and `interval`, each of which `rate` accepts.
pub const RATE_UNITS: &[&str] = &["hz", "s", "ms", "us", "ns"];

/// How often a `profile` or `interval` probe fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Hz(u64),
    PeriodNs(u64),
}

/// `hz:99`, `ms:100`, `s:1` (a unit and a count), or `1s` (no unit: the count already went
/// through the number parser, so it is nanoseconds). `None` for an unknown unit or a period
/// too long to count in nanoseconds.
pub fn rate(unit: Option<&str>, count: u64) -> Option<Rate> {
    let ns_per_unit: u64 = match unit {
        Some("hz") => return Some(Rate::Hz(count)),
        Some("s") => 1_000_000_000,
        Some("ms") => 1_000_000,
        Some("us") => 1_000,
        Some("ns") | None => 1,
        Some(_) => return None,
    };
    count.checked_mul(ns_per_unit).map(Rate::PeriodNs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_unit_is_a_rate() {
        for unit in RATE_UNITS {
            assert!(rate(Some(unit), 1).is_some(), "{unit}");
        }
        assert_eq!(rate(Some("ms"), 100), Some(Rate::PeriodNs(100_000_000)));
        assert_eq!(rate(Some("hz"), 99), Some(Rate::Hz(99)));
        assert_eq!(rate(Some("parsecs"), 1), None);
        assert_eq!(rate(Some("s"), u64::MAX), None);
    }
}

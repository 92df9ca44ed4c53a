//! What one attach point names once resolved, typed: the value that travels from resolve to
//! lower, attach, the estimate and the guard. Its `Display` is the canonical name (as `probe`
//! prints it, `-d bpf` lists it and diagnostics quote it); nothing parses that name back.

use std::fmt;

use super::{Period, ProviderKind, SoftwareTarget, WatchSite};
use crate::machine::facts::UsdtSite;

/// A function of a binary, and where in it (0: its entry); or, in a file that is not ELF
/// (`--unsafe` only), a bare offset into the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FunctionSite {
    /// The binary's path, as found (`archive.zip!/entry` for an ELF stored in a zip).
    pub binary: String,
    /// The symbol (mangled, as the symbol table has it); `None` in a file with no symbols.
    pub function: Option<String>,
    /// Bytes past the function's entry, on an instruction boundary; without a function, the
    /// offset into the file, unchecked.
    pub offset: u64,
}

/// One resolved attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Begin,
    End,
    Tracepoint {
        category: String,
        event: String,
    },
    RawTracepoint {
        event: String,
    },
    Interval(Period),
    Profile(Period),
    Software(SoftwareTarget),
    Uprobe(FunctionSite),
    Uretprobe(FunctionSite),
    Usdt(UsdtSite),
    Kprobe(String),
    Kretprobe(String),
    Fentry(String),
    Fexit(String),
    Watchpoint(WatchSite),
    /// `self:signal:SIGUSR1`: tracebound's own signal, attached to nothing.
    SelfSignal {
        signal: String,
    },
    /// `bench:NAME`: a benchmark, run under `--bench` only.
    Bench {
        name: String,
    },
    /// `iter:task`: the kernel's iterator `NAME` (its context `struct bpf_iter__NAME`), run
    /// once over every object it walks.
    Iter {
        iterator: String,
    },
}

impl Target {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Target::Begin => ProviderKind::Begin,
            Target::End => ProviderKind::End,
            Target::Tracepoint { .. } => ProviderKind::Tracepoint,
            Target::RawTracepoint { .. } => ProviderKind::RawTracepoint,
            Target::Interval(_) => ProviderKind::Interval,
            Target::Profile(_) => ProviderKind::Profile,
            Target::Software(_) => ProviderKind::Software,
            Target::Uprobe(_) => ProviderKind::Uprobe,
            Target::Uretprobe(_) => ProviderKind::Uretprobe,
            Target::Usdt(_) => ProviderKind::Usdt,
            Target::Kprobe(_) => ProviderKind::Kprobe,
            Target::Kretprobe(_) => ProviderKind::Kretprobe,
            Target::Fentry(_) => ProviderKind::Fentry,
            Target::Fexit(_) => ProviderKind::Fexit,
            Target::Watchpoint(_) => ProviderKind::Watchpoint,
            Target::SelfSignal { .. } => ProviderKind::SelfSignal,
            Target::Bench { .. } => ProviderKind::Bench,
            Target::Iter { .. } => ProviderKind::Iter,
        }
    }

    /// The binary a uprobe or usdt target is in.
    pub fn binary(&self) -> Option<&str> {
        match self {
            Target::Uprobe(site) | Target::Uretprobe(site) => Some(&site.binary),
            Target::Usdt(site) => Some(&site.path),
            _ => None,
        }
    }

    /// The function a uprobe, kprobe or fentry target probes (its symbol, without the offset).
    pub fn function(&self) -> Option<&str> {
        match self {
            Target::Uprobe(site) | Target::Uretprobe(site) => site.function.as_deref(),
            Target::Kprobe(f) | Target::Kretprobe(f) | Target::Fentry(f) | Target::Fexit(f) => {
                Some(f)
            }
            _ => None,
        }
    }

    /// The part that tells a wildcard's matches apart (`sys_enter_read`, `main+12`); the
    /// whole name for kinds that have no wildcards.
    pub fn member_name(&self) -> String {
        match self {
            Target::Tracepoint { event, .. } | Target::RawTracepoint { event } => event.clone(),
            Target::Uprobe(site) | Target::Uretprobe(site) => match (&site.function, site.offset) {
                (Some(function), 0) => function.clone(),
                (Some(function), at) => format!("{function}+{at}"),
                (None, at) => format!("{at:#x}"),
            },
            Target::Usdt(site) => site.name.clone(),
            Target::Bench { name } => name.clone(),
            Target::Kprobe(f) | Target::Kretprobe(f) | Target::Fentry(f) | Target::Fexit(f) => {
                f.clone()
            }
            other => other.to_string(),
        }
    }

    /// What `func` prints: the function, demangled as bpftrace prints it (`ns::f(int)`).
    /// The name `-l` prints for this attach point of a program, as the current release
    /// lists it: a timer or an event without its period (`interval:ms:`, `software:faults:`),
    /// a kernel function with its module (`fentry:vmlinux:vfs_read`).
    pub fn listed(&self) -> String {
        let name = self.kind().name();
        match self {
            Target::Interval(period) | Target::Profile(period) => {
                format!("{name}:{}:", period.unit.unwrap_or(""))
            }
            Target::Software(software) => format!("{name}:{}:", software.written),
            Target::Fentry(function) | Target::Fexit(function) if !function.contains(':') => {
                format!("{name}:vmlinux:{function}")
            }
            other => other.to_string(),
        }
    }

    pub fn function_name(&self) -> Option<String> {
        let symbol = self.function()?;
        Some(crate::machine::demangle::demangle(symbol).unwrap_or_else(|| symbol.to_string()))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = self.kind().name();
        match self {
            Target::Begin | Target::End => f.write_str(name),
            Target::Tracepoint { category, event } => write!(f, "{name}:{category}:{event}"),
            Target::RawTracepoint { event } => write!(f, "{name}:{event}"),
            Target::Interval(period) | Target::Profile(period) => write!(f, "{name}:{period}"),
            Target::Software(software) => write!(f, "{name}:{software}"),
            Target::Watchpoint(site) => write!(f, "{name}:{site}"),
            Target::SelfSignal { signal } => write!(f, "{name}:signal:{signal}"),
            Target::Bench { name: bench } => write!(f, "{name}:{bench}"),
            Target::Iter { iterator } => write!(f, "{name}:{iterator}"),
            Target::Uprobe(site) | Target::Uretprobe(site) => match (&site.function, site.offset) {
                (Some(function), 0) => write!(f, "{name}:{}:{function}", site.binary),
                (Some(function), at) => write!(f, "{name}:{}:{function}+{at}", site.binary),
                (None, at) => write!(f, "{name}:{}:{at:#x}", site.binary),
            },
            Target::Usdt(site) => write!(f, "{name}:{}:{}:{}", site.path, site.provider, site.name),
            Target::Kprobe(function)
            | Target::Kretprobe(function)
            | Target::Fentry(function)
            | Target::Fexit(function) => write!(f, "{name}:{function}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Rate;

    /// Each kind's canonical name, as `probe` prints it.
    #[test]
    fn targets_print_as_bpftrace_names_them() {
        let site = |function: &str, offset| FunctionSite {
            binary: "/bin/app".into(),
            function: Some(function.into()),
            offset,
        };
        let period = |unit, count: &str, rate| Period {
            unit,
            count: count.into(),
            rate,
        };
        let software = SoftwareTarget {
            event: crate::probe::SoftwareEvent::named("faults").unwrap(),
            written: "faults",
            period: 10,
            period_text: Some("10".into()),
        };
        for (target, name) in [
            (Target::Begin, "BEGIN"),
            (
                Target::Tracepoint {
                    category: "syscalls".into(),
                    event: "sys_enter_read".into(),
                },
                "tracepoint:syscalls:sys_enter_read",
            ),
            (
                Target::RawTracepoint {
                    event: "sched_switch".into(),
                },
                "rawtracepoint:sched_switch",
            ),
            (
                Target::Interval(period(Some("ms"), "100", Rate::PeriodNs(100_000_000))),
                "interval:ms:100",
            ),
            (
                Target::Interval(period(None, "1s", Rate::PeriodNs(1_000_000_000))),
                "interval:1s",
            ),
            (
                Target::Profile(period(Some("hz"), "99", Rate::Hz(99))),
                "profile:hz:99",
            ),
            (Target::Software(software), "software:faults:10"),
            (Target::Uprobe(site("main", 0)), "uprobe:/bin/app:main"),
            (Target::Uprobe(site("main", 12)), "uprobe:/bin/app:main+12"),
            (Target::Uretprobe(site("f", 0)), "uretprobe:/bin/app:f"),
            (
                Target::Uprobe(FunctionSite {
                    binary: "./flat.bin".into(),
                    function: None,
                    offset: 16,
                }),
                "uprobe:./flat.bin:0x10",
            ),
            (Target::Fexit("vfs_read".into()), "fexit:vfs_read"),
        ] {
            assert_eq!(target.to_string(), name);
        }
        assert_eq!(
            Target::Uprobe(site("_Z7free_fnl", 4))
                .function_name()
                .as_deref(),
            Some("free_fn(long)")
        );
        assert_eq!(Target::Uprobe(site("main", 0)).binary(), Some("/bin/app"));
        assert_eq!(Target::Begin.function_name(), None);
    }
}

//! Fire rates of a script's attach points, measured before anything of the script is
//! attached, per CPU, within a window, each by the cheapest mechanism for its family:
//!
//! - timers (`interval`, `profile`) from their definition;
//! - syscall tracepoints through one raw tracepoint program on `sys_enter` that counts by
//!   syscall number (one attach and one detach for any number of syscalls; a perf counter per
//!   tracepoint per CPU would take seconds to close for `sys_enter_*`);
//! - other tracepoints and software events by counting-only perf events that stop at a cap.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aya::programs::perf_event::SamplePolicy;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::provider::ProviderKind;

use super::counting::{
    tracepoint_id, uprobe_pmu, Counter, EventSpec, TYPE_SOFTWARE, TYPE_TRACEPOINT,
};
use crate::attach::{tracepoint_parts, uprobe_parts, AttachedScript, Timer};

/// Events each perf counter may see per CPU before it stops itself.
pub const COUNTER_CAP: u64 = 2_000;

/// How an attach point's rate was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    /// From the probe's definition (timers, BEGIN/END).
    Defined,
    /// Counted by a perf counter per CPU.
    PerfCounter,
    /// Counted by the one raw tracepoint program on `sys_enter`.
    SyscallCounter,
    /// Not measurable here (the estimate treats it as 0 and says so).
    Unknown,
}

/// One attach point's rate.
#[derive(Clone, Debug)]
pub struct FireRate {
    pub target: String,
    /// Events per second on each online CPU.
    pub per_cpu: Vec<f64>,
    pub measured: Measured,
    /// A counter stopped at its cap: the rate is measured over less than the window.
    pub capped: bool,
    /// For a uprobe: whether the kernel emulates its first instruction (`None`: unknown).
    pub first_emulated: Option<bool>,
}

impl FireRate {
    pub fn total(&self) -> f64 {
        self.per_cpu.iter().sum()
    }
}

/// Everything the estimate found.
#[derive(Clone, Debug)]
pub struct Rates {
    /// Per probe (in `Compiled::probes` order), per attach point.
    pub probes: Vec<Vec<FireRate>>,
    /// All syscalls per second, per CPU (every syscall pays a tax while a syscall tracepoint
    /// is enabled); `None` when the script has no syscall tracepoint.
    pub all_syscalls: Option<Vec<f64>>,
    /// Events the measurement itself saw (what it cost is this times a hit's cost).
    pub hits_seen: u64,
    /// How long measuring took.
    pub took: Duration,
}

/// Measures every attach point of `compiled` over `window`; with `pid`, uprobes count in that
/// process only (as they will fire).
pub fn measure(
    compiled: &Compiled,
    window: Duration,
    tracefs: &Path,
    pid: Option<u32>,
) -> Result<Rates, String> {
    let started = Instant::now();
    let cpus = crate::sys::online_cpus().map_err(|e| format!("online CPUs: {e}"))?;
    let n = cpus.len().max(1);

    // Start everything that counts, wait one window, read everything.
    let mut counters: HashMap<(usize, usize), Vec<Counter>> = HashMap::new();
    // Uprobe entries (file offset, first instruction class) by target, each binary read once.
    let mut entries: HashMap<String, (u64, bool)> = HashMap::new();
    for probe in &compiled.probes {
        // A usdt site is sdt.h's `nop`, which the kernel emulates.
        for (target, site) in probe.targets.iter().zip(&probe.usdt) {
            entries.insert(target.clone(), (site.offset, true));
        }
        if !matches!(probe.kind, ProviderKind::Uprobe | ProviderKind::Uretprobe) {
            continue;
        }
        let mut by_path: HashMap<&str, Vec<(&str, &String)>> = HashMap::new();
        for target in &probe.targets {
            if let Some((path, function)) = uprobe_parts(target) {
                by_path.entry(path).or_default().push((function, target));
            }
        }
        for (path, functions) in by_path {
            let names: Vec<&str> = functions.iter().map(|(f, _)| *f).collect();
            let found = crate::binary::function_entries(Path::new(path), &names);
            for (function, target) in functions {
                if let Some((offset, code)) = found.get(function) {
                    let emulated = crate::binary::first_instruction_emulated(code);
                    entries.insert(target.clone(), (*offset, emulated));
                }
            }
        }
    }
    let mut syscall_points: Vec<(usize, usize, String)> = Vec::new();
    for (pi, probe) in compiled.probes.iter().enumerate() {
        for (ti, target) in probe.targets.iter().enumerate() {
            let event = match probe.kind {
                ProviderKind::Tracepoint => {
                    let Some((category, name)) = tracepoint_parts(target) else {
                        continue;
                    };
                    if category == "syscalls" {
                        syscall_points.push((pi, ti, name.to_string()));
                        continue;
                    }
                    match tracepoint_id(tracefs, category, name) {
                        Ok(id) => EventSpec {
                            kind: TYPE_TRACEPOINT,
                            config: id,
                            uprobe: None,
                        },
                        Err(_) => continue,
                    }
                }
                ProviderKind::Software => match Timer::parse(probe.kind, target) {
                    Some(timer) => EventSpec {
                        kind: TYPE_SOFTWARE,
                        config: u64::from(timer.event as u32),
                        uprobe: None,
                    },
                    None => continue,
                },
                ProviderKind::Uprobe | ProviderKind::Uretprobe | ProviderKind::Usdt => {
                    let ret = probe.kind == ProviderKind::Uretprobe;
                    let event = match probe.usdt.get(ti) {
                        Some(site) => usdt_event(site),
                        None => entries
                            .get(target)
                            .and_then(|&(offset, _)| uprobe_event(target, offset, ret)),
                    };
                    let Some(event) = event else {
                        continue;
                    };
                    // In one process, one counter does (it follows the process over CPUs;
                    // its rate is split evenly for the per-CPU view).
                    if let Some(pid) = pid {
                        let counter =
                            Counter::start(&event, pid as i32, -1, COUNTER_CAP * n as u64)
                                .map_err(|e| format!("counting {target}: {e}"))?;
                        counters.insert((pi, ti), vec![counter]);
                        continue;
                    }
                    event
                }
                _ => continue,
            };
            let mut per_cpu = Vec::with_capacity(n);
            for &cpu in &cpus {
                let counter = Counter::start(&event, -1, cpu as i32, COUNTER_CAP)
                    .map_err(|e| format!("counting {target}: {e}"))?;
                per_cpu.push(counter);
            }
            counters.insert((pi, ti), per_cpu);
        }
    }
    let syscalls = if syscall_points.is_empty() {
        None
    } else {
        Some(SyscallCounter::start()?)
    };
    if !counters.is_empty() || syscalls.is_some() {
        std::thread::sleep(window);
    }
    let syscall_counts = match &syscalls {
        Some(s) => Some(s.read(&cpus)?),
        None => None,
    };
    drop(syscalls);

    let window_s = window.as_secs_f64();
    let mut hits_seen = 0u64;
    let mut probes = Vec::new();
    for (pi, probe) in compiled.probes.iter().enumerate() {
        let mut rates = Vec::new();
        for (ti, target) in probe.targets.iter().enumerate() {
            let (per_cpu, measured, capped) = if let Some(cs) = counters.get(&(pi, ti)) {
                let mut per_cpu = Vec::with_capacity(n);
                let mut capped = false;
                for c in cs {
                    let r = c.read().map_err(|e| format!("reading {target}: {e}"))?;
                    hits_seen += r.count;
                    capped |= r.capped;
                    let seconds = if r.capped {
                        (r.enabled_ns as f64 / 1e9).max(1e-6)
                    } else {
                        window_s
                    };
                    per_cpu.push(r.count as f64 / seconds);
                }
                if per_cpu.len() == 1 && n > 1 {
                    // One per-process counter: spread its rate over the CPUs.
                    let each = per_cpu[0] / n as f64;
                    per_cpu = vec![each; n];
                }
                if let Some(Timer {
                    policy: SamplePolicy::Period(period),
                    ..
                }) = Timer::parse(probe.kind, target)
                {
                    // A software probe fires once per `period` events.
                    per_cpu.iter_mut().for_each(|r| *r /= period.max(1) as f64);
                }
                (per_cpu, Measured::PerfCounter, capped)
            } else {
                defined_rate(probe.kind, target, n)
            };
            rates.push(FireRate {
                target: target.clone(),
                per_cpu,
                measured,
                capped,
                first_emulated: entries.get(target).map(|&(_, emulated)| emulated),
            });
        }
        probes.push(rates);
    }
    drop(counters);

    let mut all_syscalls = None;
    if let Some(counts) = syscall_counts {
        let numbers = syscall_numbers();
        let mut total = vec![0.0; n];
        for per_cpu in counts.values() {
            for (t, c) in total.iter_mut().zip(per_cpu) {
                *t += *c as f64 / window_s;
                hits_seen += c;
            }
        }
        for (pi, ti, name) in syscall_points {
            let call = name
                .strip_prefix("sys_enter_")
                .or_else(|| name.strip_prefix("sys_exit_"))
                .unwrap_or(&name);
            let rate = &mut probes[pi][ti];
            match numbers.get(call) {
                Some(nr) => {
                    let per_cpu = counts.get(nr).cloned().unwrap_or_else(|| vec![0; n]);
                    rate.per_cpu = per_cpu.iter().map(|&c| c as f64 / window_s).collect();
                    rate.measured = Measured::SyscallCounter;
                }
                None => rate.measured = Measured::Unknown,
            }
        }
        all_syscalls = Some(total);
    }
    Ok(Rates {
        probes,
        all_syscalls,
        hits_seen,
        took: started.elapsed(),
    })
}

/// A counting uprobe (or uretprobe) on `uprobe:/path:function`, at its file offset.
fn uprobe_event(target: &str, offset: u64, ret: bool) -> Option<EventSpec> {
    let (path, _) = uprobe_parts(target)?;
    Some(EventSpec {
        kind: uprobe_pmu()?,
        config: u64::from(ret), // the PMU's `retprobe` bit
        uprobe: Some((std::ffi::CString::new(path).ok()?, offset)),
    })
}

/// A counting uprobe on a usdt site. It holds the site's semaphore up as attaching will, or
/// a probe its program guards with the semaphore would never be seen firing.
fn usdt_event(site: &tracebound_compiler::resolve::facts::UsdtSite) -> Option<EventSpec> {
    Some(EventSpec {
        kind: uprobe_pmu()?,
        config: site.semaphore.unwrap_or(0) << 32, // the PMU's `ref_ctr_offset`
        uprobe: Some((
            std::ffi::CString::new(site.path.as_str()).ok()?,
            site.offset,
        )),
    })
}

/// Rates known without measuring: BEGIN/END fire once, timers as defined.
fn defined_rate(kind: ProviderKind, target: &str, cpus: usize) -> (Vec<f64>, Measured, bool) {
    let mut per_cpu = vec![0.0; cpus];
    let hz = match Timer::parse(kind, target).map(|t| t.policy) {
        Some(SamplePolicy::Frequency(hz)) => hz as f64,
        Some(SamplePolicy::Period(ns)) => 1e9 / ns.max(1) as f64,
        None => 0.0,
    };
    match kind {
        ProviderKind::Begin | ProviderKind::End => (per_cpu, Measured::Defined, false),
        // An interval fires on one CPU, a profile probe on every CPU.
        ProviderKind::Interval => {
            per_cpu[0] = hz;
            (per_cpu, Measured::Defined, false)
        }
        ProviderKind::Profile => {
            per_cpu.iter_mut().for_each(|r| *r = hz);
            (per_cpu, Measured::Defined, false)
        }
        _ => (per_cpu, Measured::Unknown, false),
    }
}

/// One raw tracepoint program on `sys_enter` counting syscalls by number, per CPU. It is a
/// tracebound script, compiled and loaded like any other.
struct SyscallCounter(AttachedScript);

const SYSCALL_COUNTER: &str = "rawtracepoint:sys_enter { @calls[arg1] = count(); }";

impl SyscallCounter {
    fn start() -> Result<SyscallCounter, String> {
        AttachedScript::start(SYSCALL_COUNTER).map(SyscallCounter)
    }

    /// Calls per syscall number, per online CPU.
    fn read(&self, cpus: &[u32]) -> Result<HashMap<u64, Vec<u64>>, String> {
        let info = &self.0.compiled.info.maps[0];
        let bytes = crate::snapshot::map_bytes(&self.0.loaded, info).map_err(|e| e.to_string())?;
        let entries = bytes.entries().map_err(|e| e.to_string())?;
        let mut out = HashMap::new();
        for (key, value) in entries {
            let nr = u64::from_ne_bytes(key[..8].try_into().map_err(|_| "short key")?);
            // Value slots are per possible CPU; keep the online ones.
            let slots: Vec<u64> = value
                .chunks(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            let per_cpu = cpus
                .iter()
                .map(|&c| slots.get(c as usize).copied().unwrap_or(0))
                .collect();
            out.insert(nr, per_cpu);
        }
        Ok(out)
    }
}

/// Syscall numbers by name, from the C library's headers (`__NR_openat 257`).
fn syscall_numbers() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for path in [
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
        "/usr/include/asm/unistd_64.h",
    ] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(nr)) = (words.next(), words.next()) else {
                continue;
            };
            if let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse()) {
                out.insert(name.to_string(), nr);
            }
        }
        break;
    }
    // Tracepoint names that differ from the syscall's.
    for (tracepoint, call) in [
        ("newfstat", "fstat"),
        ("newstat", "stat"),
        ("newlstat", "lstat"),
        ("newuname", "uname"),
        ("newfstatat", "newfstatat"),
    ] {
        if let Some(&nr) = out.get(call) {
            out.entry(tracepoint.to_string()).or_insert(nr);
        }
    }
    out
}

//! Attaching loaded programs to their probes: one function per probe family. Every attachment
//! is a file descriptor owned by the loaded object, so dropping it (on exit, on error, or the
//! kernel closing our descriptors after SIGKILL) detaches everything; nothing is left behind
//! in tracefs or the kernel.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy};
use aya::programs::uprobe::UProbeAttachLocation;
use aya::programs::uprobe::UProbeScope;
use aya::programs::{PerfEvent, Program, RawTracePoint, TracePoint, UProbe};
use std::os::fd::AsFd as _;

use tracebound_compiler::probe::{ProviderKind, Rate, SoftwareEvent, Target};

use crate::probes::load::Loaded;

/// What to attach one program to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPlan {
    /// The program's name in the object (`tb_...`).
    pub program: String,
    pub kind: ProviderKind,
    /// What it attaches to (`tracepoint:syscalls:sys_enter_read`, `interval:ms:100`).
    pub targets: Vec<Target>,
    /// `-p`: uprobes fire in this process only (the breakpoint stays out of the others).
    pub pid: Option<u32>,
}

#[derive(Debug)]
pub struct AttachError {
    /// The attach point that failed.
    pub target: String,
    pub reason: String,
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "cannot attach {}: {}", self.target, self.reason)
    }
}

fn fail(target: &dyn fmt::Display, reason: impl fmt::Display) -> AttachError {
    AttachError {
        target: target.to_string(),
        reason: reason.to_string(),
    }
}

/// Attaches every target of `plan`; returns how many attach points were attached.
/// BEGIN and END are not attached: they run once through BPF_PROG_TEST_RUN.
pub fn attach(loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
    let first: &dyn fmt::Display = match plan.targets.first() {
        Some(t) => t,
        None => &"",
    };
    let program = loaded.program_mut(&plan.program).ok_or_else(|| {
        fail(
            first,
            format!("program {} is not in the object", plan.program),
        )
    })?;
    match plan.kind {
        ProviderKind::Begin | ProviderKind::End => Ok(0),
        ProviderKind::Tracepoint => {
            let tp: &mut TracePoint = program.try_into().map_err(|e| fail(first, e))?;
            for target in &plan.targets {
                let Target::Tracepoint { category, event } = target else {
                    return Err(fail(target, "not a tracepoint"));
                };
                tp.attach(category, event)
                    .map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::RawTracepoint => {
            let rtp: &mut RawTracePoint = program.try_into().map_err(|e| fail(first, e))?;
            for target in &plan.targets {
                let Target::RawTracepoint { event } = target else {
                    return Err(fail(target, "not a raw tracepoint"));
                };
                rtp.attach(event).map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::Interval | ProviderKind::Profile | ProviderKind::Software => {
            let pe: &mut PerfEvent = match program {
                Program::PerfEvent(p) => p,
                _ => return Err(fail(first, "not a perf event program")),
            };
            let mut attached = 0;
            for target in &plan.targets {
                let timer = Timer::of(target).ok_or_else(|| fail(target, "not a timer"))?;
                // An interval fires on one CPU; a profile or software event samples every CPU.
                let cpus: Vec<u32> = if plan.kind == ProviderKind::Interval {
                    vec![0]
                } else {
                    crate::kernel::sys::online_cpus()
                        .ok()
                        .filter(|c| !c.is_empty())
                        .unwrap_or_else(|| vec![0])
                };
                for cpu in cpus {
                    pe.attach(
                        timer.config(),
                        PerfEventScope::AllProcessesOneCpu { cpu },
                        timer.policy,
                        false,
                    )
                    .map_err(|e| fail(target, describe(&e)))?;
                }
                attached += 1;
            }
            Ok(attached)
        }
        ProviderKind::Uprobe | ProviderKind::Uretprobe => {
            let up: &mut UProbe = program.try_into().map_err(|e| fail(first, e))?;
            let scope = match plan.pid.and_then(std::num::NonZeroU32::new) {
                Some(pid) => UProbeScope::OneProcess(pid),
                None => UProbeScope::AllProcesses,
            };
            // File offsets from one read of each binary: aya would read and parse the whole
            // file again for every target (a wildcard over libc names hundreds).
            let mut offsets: HashMap<&str, HashMap<String, (u64, Vec<u8>)>> = HashMap::new();
            for target in &plan.targets {
                let (Target::Uprobe(site) | Target::Uretprobe(site)) = target else {
                    return Err(fail(target, "not a uprobe"));
                };
                let path = site.binary.as_str();
                if !offsets.contains_key(path) {
                    let functions: Vec<&str> = plan
                        .targets
                        .iter()
                        .filter_map(|t| match t {
                            Target::Uprobe(s) | Target::Uretprobe(s) if s.binary == path => {
                                Some(s.function.as_str())
                            }
                            _ => None,
                        })
                        .collect();
                    let entries =
                        crate::facts::binary::function_entries(Path::new(path), &functions);
                    offsets.insert(path, entries);
                }
                let location = match (offsets[path].get(&site.function), site.offset) {
                    (Some(&(offset, _)), 0) => UProbeAttachLocation::AbsoluteOffset(offset),
                    // Inside the function (resolution checked the offset), or not in the
                    // symbol tables read here (aya also looks in debug links).
                    (_, 0) => UProbeAttachLocation::Symbol(&site.function),
                    (_, at) => UProbeAttachLocation::SymbolOffset(&site.function, at),
                };
                up.attach(location, path, scope)
                    .map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::Usdt => {
            let up: &mut UProbe = program.try_into().map_err(|e| fail(first, e))?;
            let fd = up
                .fd()
                .map_err(|e| fail(first, describe(&e)))?
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| fail(first, e))?;
            for target in &plan.targets {
                let Target::Usdt(site) = target else {
                    return Err(fail(target, "not a usdt site"));
                };
                let event = crate::probes::usdt::attach::attach_site(fd.as_fd(), site, plan.pid)
                    .map_err(|e| fail(target, e))?;
                loaded.keep_perf_link(&plan.program, event);
            }
            Ok(plan.targets.len())
        }
        other => Err(fail(
            first,
            format!("attaching {other:?} probes is not built yet"),
        )),
    }
}

/// A small script of tracebound's own, compiled, loaded and attached: how the estimate counts
/// syscalls and how calibration measures costs. Dropping it detaches everything.
pub struct AttachedScript {
    pub loaded: Loaded,
    pub compiled: tracebound_compiler::pipeline::Compiled,
}

impl AttachedScript {
    pub fn start(source: &str) -> Result<AttachedScript, String> {
        use tracebound_compiler::pipeline::{compile, CompileOptions};
        let compiled = compile(
            source,
            &crate::facts::LiveFacts::new(),
            &CompileOptions::default(),
        )
        .map_err(|d| format!("`{source}` does not compile: {}", d[0].message))?;
        let mut loaded = crate::probes::load::load(&compiled.object)
            .map_err(|e| format!("loading `{source}`: {e}"))?;
        for p in &compiled.probes {
            let plan = AttachPlan {
                program: p.program.clone(),
                kind: p.kind,
                targets: p.targets.clone(),
                pid: None,
            };
            attach(&mut loaded, &plan).map_err(|e| e.to_string())?;
        }
        Ok(AttachedScript { loaded, compiled })
    }
}

/// A software perf event and how often it samples: what a timer or software probe opens on
/// each CPU.
pub struct Timer {
    /// `PERF_COUNT_SW_*`.
    pub config: u64,
    pub policy: SamplePolicy,
}

impl Timer {
    /// `interval:ms:100`, `profile:hz:99` (the CPU clock), `software:faults:100`; `None` for
    /// other targets.
    pub fn of(target: &Target) -> Option<Timer> {
        match target {
            Target::Interval(period) | Target::Profile(period) => Some(Timer {
                config: SoftwareEvent::cpu_clock().config,
                policy: match period.rate {
                    Rate::Hz(hz) => SamplePolicy::Frequency(hz),
                    Rate::PeriodNs(ns) => SamplePolicy::Period(ns),
                },
            }),
            Target::Software(software) => Some(Timer {
                config: software.event.config,
                policy: SamplePolicy::Period(software.period),
            }),
            _ => None,
        }
    }

    pub fn config(&self) -> PerfEventConfig {
        PerfEventConfig::Pmu {
            pmu_type: crate::estimate::counting::TYPE_SOFTWARE,
            config: self.config,
        }
    }
}

/// The innermost cause of an aya error, which is where the kernel's errno is.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::probe::{Period, SoftwareTarget};

    /// Timers open the CPU clock at their rate, software probes their event every period.
    #[test]
    fn timers_open_their_event_at_their_rate() {
        let period = |t: &Timer| match t.policy {
            SamplePolicy::Period(p) => p,
            SamplePolicy::Frequency(f) => f + 1_000_000_000_000,
        };
        let t = |target: Target| Timer::of(&target).map(|t| (t.config, period(&t)));
        let every = |rate| Period {
            unit: None,
            count: String::new(),
            rate,
        };
        assert_eq!(
            t(Target::Interval(every(Rate::PeriodNs(100_000_000)))),
            Some((0, 100_000_000))
        );
        assert_eq!(
            t(Target::Profile(every(Rate::Hz(99)))),
            Some((0, 1_000_000_000_099))
        );
        let faults = SoftwareTarget {
            event: SoftwareEvent::named("faults").unwrap(),
            written: "faults",
            period: 10,
            period_text: None,
        };
        assert_eq!(t(Target::Software(faults)), Some((2, 10)));
        assert_eq!(t(Target::Begin), None);
    }
}

//! Timer and software probes attach the same way: a perf event sampling a software event
//! (the CPU clock for `interval` and `profile`) on each CPU they fire on, with the program as
//! its overflow handler.

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy};
use aya::programs::PerfEvent;
use tracebound_compiler::probe::{Rate, SoftwareEvent, Target};

use super::attach::{describe, fail, program, AttachError, AttachPlan};
use crate::probes::load::Loaded;

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
            pmu_type: crate::kernel::perf_counter::TYPE_SOFTWARE,
            config: self.config,
        }
    }
}

/// Opens a perf event per target on each of `cpus` with the plan's program.
pub(super) fn attach_on(
    loaded: &mut Loaded,
    plan: &AttachPlan,
    cpus: &[u32],
) -> Result<usize, AttachError> {
    attach_scoped(loaded, plan, cpus, None)
}

/// The same, counting only the events of process `pid` when there is one (`-p`: a software
/// event's samples are that process's, as in the current release).
pub(super) fn attach_scoped(
    loaded: &mut Loaded,
    plan: &AttachPlan,
    cpus: &[u32],
    pid: Option<u32>,
) -> Result<usize, AttachError> {
    let pe: &mut PerfEvent = program(loaded, plan)?;
    for target in &plan.targets {
        let timer = Timer::of(target).ok_or_else(|| fail(target, "not a timer"))?;
        for &cpu in cpus {
            let scope = match pid {
                Some(pid) => PerfEventScope::OneProcess {
                    pid,
                    cpu: Some(cpu),
                },
                None => PerfEventScope::AllProcessesOneCpu { cpu },
            };
            pe.attach(timer.config(), scope, timer.policy, false)
                .map_err(|e| fail(target, describe(&e)))?;
        }
    }
    Ok(plan.targets.len())
}

/// Every online CPU (CPU 0 when they cannot be read).
pub(super) fn every_cpu() -> Vec<u32> {
    crate::kernel::sys::online_cpus()
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| vec![0])
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

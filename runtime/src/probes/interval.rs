//! `interval`: the CPU clock on one CPU, at the probe's rate; its rate is its definition.

use std::io::Write;
use std::path::Path;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::probe::{ProviderKind, Target};

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, Defined, ListQuery, Mechanism, Price};
use super::perf_event::{attach_on, Timer};
use super::software::list_events;
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct Interval;

/// The units a timer's rate is written in, as `-l` lists them.
pub(super) const UNITS: &[&str] = &["hz", "us", "ms", "s"];

impl Mechanism for Interval {
    /// `interval:hz:`, `interval:us:`, ...: each unit a rate is written in.
    fn list(
        &self,
        query: &ListQuery,
        _facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        list_events(ProviderKind::Interval, UNITS, query, out)
    }

    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        attach_on(loaded, plan, &[0])
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .map(|t| Count {
                how: Counting::Defined(Defined::OneCpu { hz: hz(t) }),
                first_emulated: None,
            })
            .collect()
    }

    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.perf_sample_ns, model.perf_sample_cold_ns)
    }
}

/// The shortest period of the CPU clock's timer: the kernel starts the hrtimer behind a
/// `cpu-clock` event no sooner than this (`perf_swevent_start_hrtimer`), whatever period or
/// frequency was asked, so `interval:us:1` fires 100,000 times a second, not a million.
const SHORTEST_TIMER_PERIOD_NS: u64 = 10_000;

/// How often a timer target fires, per second.
pub(super) fn hz(target: &Target) -> f64 {
    use aya::programs::perf_event::SamplePolicy;
    let period_ns = match Timer::of(target).map(|t| t.policy) {
        Some(SamplePolicy::Frequency(hz)) => 1e9 / hz.max(1) as f64,
        Some(SamplePolicy::Period(ns)) => ns.max(1) as f64,
        None => return 0.0,
    };
    1e9 / period_ns.max(SHORTEST_TIMER_PERIOD_NS as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::probe::{Period, Rate};

    /// Periods under the CPU clock's shortest (10 us) fire at its rate, as the kernel runs
    /// them (`interval:us:1` counts about 100,000 a second here, not a million).
    #[test]
    fn a_timer_fires_no_faster_than_the_cpu_clock_allows() {
        let at = |rate| {
            hz(&Target::Interval(Period {
                unit: None,
                count: String::new(),
                rate,
            }))
        };
        assert_eq!(at(Rate::PeriodNs(100_000_000)), 10.0);
        assert_eq!(at(Rate::PeriodNs(20_000)), 50_000.0);
        assert_eq!(at(Rate::PeriodNs(1_000)), 100_000.0);
        assert_eq!(at(Rate::Hz(99)), 99.0);
        assert_eq!(at(Rate::Hz(1_000_000)), 100_000.0);
    }
}

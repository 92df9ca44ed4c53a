//! `interval`: the CPU clock on one CPU, at the probe's rate; its rate is its definition.

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, Defined, Mechanism, Price};
use super::perf_event::{attach_on, Timer};
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct Interval;

impl Mechanism for Interval {
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

/// How often a timer target fires, per second.
pub(super) fn hz(target: &Target) -> f64 {
    use aya::programs::perf_event::SamplePolicy;
    match Timer::of(target).map(|t| t.policy) {
        Some(SamplePolicy::Frequency(hz)) => hz as f64,
        Some(SamplePolicy::Period(ns)) => 1e9 / ns.max(1) as f64,
        None => 0.0,
    }
}

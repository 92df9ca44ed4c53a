//! `profile`: the CPU clock on every CPU, at the probe's rate. An idle CPU's clock does not
//! run, so its rate is the frequency times each CPU's busy share.

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::interval::hz;
use super::mechanism::{Count, Counting, Defined, Mechanism, Price};
use super::perf_event::{attach_on, every_cpu};
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct Profile;

impl Mechanism for Profile {
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        attach_on(loaded, plan, &every_cpu())
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .map(|t| Count {
                how: Counting::Defined(Defined::BusyCpus { hz: hz(t) }),
                first_emulated: None,
            })
            .collect()
    }

    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.perf_sample_ns, model.perf_sample_cold_ns)
    }
}

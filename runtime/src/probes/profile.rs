//! `profile`: the CPU clock on every CPU, at the probe's rate. An idle CPU's clock does not
//! run, so its rate is the frequency times each CPU's busy share.

use std::io::Write;
use std::path::Path;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::probe::{ProviderKind, Target};

use super::attach::{AttachError, AttachPlan};
use super::interval::{hz, UNITS};
use super::mechanism::{Count, Counting, Defined, ListQuery, Mechanism, Price};
use super::perf_event::{attach_on, every_cpu};
use super::software::list_events;
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct Profile;

impl Mechanism for Profile {
    /// `profile:hz:`, `profile:us:`, ...: each unit a rate is written in.
    fn list(
        &self,
        query: &ListQuery,
        _facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        list_events(ProviderKind::Profile, UNITS, query, out)
    }

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

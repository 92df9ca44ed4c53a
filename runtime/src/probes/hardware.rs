//! `hardware`: compiled, not attached (this machine has no hardware counters); listed for
//! `-l` from the compiler's table of hardware events.

use std::io::Write;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::probe::{ProviderKind, HARDWARE_EVENTS};

use super::attach::{fail, AttachError, AttachPlan};
use super::mechanism::{ListQuery, Mechanism};
use super::software::list_events;
use crate::probes::load::Loaded;

pub struct Hardware;

impl Mechanism for Hardware {
    fn attach(&self, _loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        Err(fail(
            plan.first(),
            "attaching Hardware probes is not built yet",
        ))
    }

    fn list(
        &self,
        query: &ListQuery,
        _facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        list_events(ProviderKind::Hardware, HARDWARE_EVENTS, query, out)
    }
}

//! `self:signal:SIGUSR1`: attached to nothing; the session runs the program (through
//! BPF_PROG_TEST_RUN) each time tracebound gets the signal (`run::stop`), so it fires when the
//! user asks, never per kernel event, and costs nothing per second.

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, Defined, Mechanism};
use crate::probes::load::Loaded;

pub struct SelfSignal;

impl Mechanism for SelfSignal {
    fn attach(&self, _loaded: &mut Loaded, _plan: &AttachPlan) -> Result<usize, AttachError> {
        Ok(0)
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .map(|_| Count {
                how: Counting::Defined(Defined::Once),
                first_emulated: None,
            })
            .collect()
    }
}

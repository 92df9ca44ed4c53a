//! `BEGIN` and `END`: attached to nothing (the session runs them once through
//! BPF_PROG_TEST_RUN); they fire once, so they cost nothing per second.

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, Defined, Mechanism};
use crate::probes::load::Loaded;

pub struct Special;

impl Mechanism for Special {
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

//! `bench:NAME`: attached to nothing; under `--bench` the session test-runs each one
//! (`run::session`), otherwise it never runs. Either way it costs nothing per second.

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, Defined, Mechanism};
use crate::probes::load::Loaded;

pub struct Bench;

impl Mechanism for Bench {
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

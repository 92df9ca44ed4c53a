//! The probes attached to nothing, which the session runs itself through BPF_PROG_TEST_RUN,
//! so that none fires per kernel event and none costs anything per second: `BEGIN` and `END`
//! (once each), `self:signal:SIGUSR1` (each time tracebound gets the signal, `run::stop`) and
//! `bench:NAME` (test-run under `--bench`, `run::session`; otherwise never).

use std::path::Path;

use tracebound_compiler::probe::Target;

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Mechanism};
use crate::probes::load::Loaded;

pub struct Special;

impl Mechanism for Special {
    fn attach(&self, _loaded: &mut Loaded, _plan: &AttachPlan) -> Result<usize, AttachError> {
        Ok(0)
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        Count::once_each(targets)
    }
}

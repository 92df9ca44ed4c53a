//! How a run fails, as a value: every step of the run (loading, attaching, the event loop, the
//! guard) returns it, and the binary reports it.

use std::io;

use tracebound_compiler::diagnostic::Diagnostic;

use crate::probes::attach::AttachError;
use crate::probes::load::LoadError;

#[derive(Debug)]
pub enum RunError {
    /// The verifier rejected a program; the diagnostic points at the statement, the log is
    /// the kernel's own (shown with -v).
    Rejected {
        diagnostic: Box<Diagnostic>,
        log: String,
    },
    Attach(AttachError),
    Load(LoadError),
    Io(io::Error),
    Other(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            RunError::Rejected { diagnostic, .. } => write!(f, "{}", diagnostic.message),
            RunError::Load(e) => write!(f, "loading the program failed: {e}"),
            RunError::Attach(e) => write!(f, "{e}"),
            RunError::Io(e) => write!(f, "{e}"),
            RunError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for RunError {
    fn from(e: io::Error) -> Self {
        RunError::Io(e)
    }
}

//! `MachineFacts`: everything the compiler needs to know about the machine, behind one trait.
//! The runtime implements it against the live kernel (`tracebound_runtime::facts::LiveFacts`);
//! tests implement it from fixtures (`resolve::fixture::FixtureFacts`). The compiler never
//! finds anything out for itself, which keeps it pure and `--check` root-free.
//!
//! Tracepoints are its first part; BTF types, symbols in binaries and kernel features will
//! join as methods here.

use std::fmt;

use super::tracepoint_format::TracepointFormat;

pub trait MachineFacts {
    /// Every tracepoint as (category, event), for wildcard expansion.
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError>;
    /// The format of one tracepoint (its id and fields), or FactError::NotFound.
    fn tracepoint_format(&self, category: &str, event: &str)
        -> Result<TracepointFormat, FactError>;
}

/// Why a fact could not be had. The resolver turns it into a diagnostic at the attach point
/// that asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactError {
    /// The thing does not exist on this machine. `what` names it, e.g.
    /// "tracepoint syscalls:sys_enter_opnat".
    NotFound { what: String },
    /// The facts cannot be read at all, e.g. tracefs is not mounted and cannot be, or reading
    /// it is not permitted. `reason` says which, and what to do.
    Unavailable { reason: String },
    /// The machine answered with something we could not understand, e.g. a format file the
    /// parser rejects. `what` names the source, `reason` the problem.
    Malformed { what: String, reason: String },
}

impl FactError {
    /// The usual `NotFound` for a tracepoint.
    pub fn tracepoint_not_found(category: &str, event: &str) -> FactError {
        FactError::NotFound {
            what: format!("tracepoint {category}:{event}"),
        }
    }
}

impl fmt::Display for FactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactError::NotFound { what } => write!(f, "{what} does not exist on this machine"),
            FactError::Unavailable { reason } => f.write_str(reason),
            FactError::Malformed { what, reason } => {
                write!(f, "cannot understand {what}: {reason}")
            }
        }
    }
}

impl std::error::Error for FactError {}

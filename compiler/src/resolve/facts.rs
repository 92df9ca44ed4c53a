//! `MachineFacts`: everything the compiler needs to know about the machine, behind one trait.
//! The runtime implements it against the live kernel (`tracebound_runtime::facts::LiveFacts`);
//! tests implement it from fixtures (`resolve::fixture::FixtureFacts`). The compiler never
//! finds anything out for itself, which keeps it pure and `--check` root-free.
//!
//! Tracepoints, raw tracepoints and the binaries uprobes name are here so far; BTF types and kernel features
//! will join as methods.

use std::fmt;

use super::tracepoint_format::TracepointFormat;

pub trait MachineFacts {
    /// Every tracepoint as (category, event), for wildcard expansion.
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError>;
    /// The format of one tracepoint (its id and fields), or FactError::NotFound.
    fn tracepoint_format(&self, category: &str, event: &str)
        -> Result<TracepointFormat, FactError>;
    /// Every raw tracepoint the kernel has (its BTF's `btf_trace_NAME` types), sorted;
    /// FactError::Unavailable when the kernel has no BTF to say.
    fn raw_tracepoints(&self) -> Result<Vec<String>, FactError>;
    /// The file a uprobe's binary part names: a path as written (`/bin/bash`, `./app`), or a
    /// bare name found as a shell finds a command (`$PATH`) or the dynamic loader a library
    /// (`libc` → `/lib/x86_64-linux-gnu/libc.so.6`). FactError::NotFound when there is none;
    /// FactError::Malformed when the file is not an ELF executable or library.
    fn binary_path(&self, name: &str) -> Result<String, FactError>;
    /// The names of the functions the ELF file at `path` defines (`.symtab` and `.dynsym`).
    fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError>;
    /// The address of symbol `name` (`kaddr`, `uaddr`): in the running kernel when `binary` is
    /// `None` (/proc/kallsyms), else the value the ELF file at `binary` gives it (not
    /// relocated, as bpftrace's `uaddr`).
    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        let _ = (binary, name);
        Err(FactError::Unavailable {
            reason: "symbol addresses are not known here".into(),
        })
    }
}

/// Whether a library file called `file` is what a uprobe's bare `name` means: the name
/// itself, or it continued with the shared-object suffix and versions (`libc` and `libc.so`
/// both mean `libc.so.6`).
pub fn library_file_matches(file: &str, name: &str) -> bool {
    file.strip_prefix(name).is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(".so")
            || (name.ends_with(".so") && rest.starts_with('.'))
    })
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

    /// The usual `NotFound` for a uprobe's binary.
    pub fn binary_not_found(name: &str) -> FactError {
        FactError::NotFound {
            what: format!("binary {name}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_match_like_the_loader_finds_them() {
        assert!(library_file_matches("libc.so.6", "libc"));
        assert!(library_file_matches("libc.so.6", "libc.so"));
        assert!(library_file_matches("libc.so.6", "libc.so.6"));
        assert!(library_file_matches("libssl.so.3", "libssl"));
        assert!(!library_file_matches("libcrypt.so.1", "libc"));
        assert!(!library_file_matches("libc.so.6", "libc.so.7"));
        assert!(!library_file_matches("libc.so.6", "lib"));
    }
}

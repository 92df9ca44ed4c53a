//! `MachineFacts`: everything the compiler needs to know about the machine, behind one trait.
//! The runtime implements it against the live kernel (`tracebound_runtime::facts::LiveFacts`);
//! tests implement it from fixtures (`machine::fixture::FixtureFacts`). The compiler never
//! finds anything out for itself, which keeps it pure and `--check` root-free.
//!
//! Tracepoints, raw tracepoints, the binaries uprobes name and the kernel's BTF types are
//! here so far; kernel features will join as methods. The BTF questions have answers by
//! default (`Unavailable`: a machine without BTF) so that a provider need not know them.

use std::fmt;

use super::header_macros::MacroValue;
use super::tracepoint_format::TracepointFormat;
use crate::types::{FuncProto, KType, NameSpace, TypeId};

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
    /// `ARCHIVE!/ENTRY` names an ELF file stored uncompressed in a zip archive (as Android
    /// runs libraries from an APK). FactError::NotElf when the file is not an ELF executable
    /// or library, FactError::Malformed when it cannot be probed at all (a directory, a
    /// compressed archive entry).
    fn binary_path(&self, name: &str) -> Result<String, FactError>;
    /// The names of the functions the ELF file at `path` defines (`.symtab` and `.dynsym`).
    fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError>;

    /// The kernel type called `name` in one namespace (`struct task_struct`, `pid_t`).
    fn kernel_type_named(&self, space: NameSpace, name: &str) -> Result<TypeId, FactError> {
        let _ = (space, name);
        Err(no_btf())
    }
    /// A kernel type, typedefs and modifiers looked through.
    fn kernel_type(&self, id: TypeId) -> Result<KType, FactError> {
        let _ = id;
        Err(no_btf())
    }
    /// The typedef name type `id` is written as, when it is a typedef (`kernel_type` looks
    /// through them): for printing a kernel type as its C source declares it.
    fn kernel_typedef_name(&self, id: TypeId) -> Option<String> {
        let _ = id;
        None
    }
    /// Every name of one namespace, for "did you mean".
    fn kernel_type_names(&self, space: NameSpace) -> Result<Vec<String>, FactError> {
        let _ = space;
        Err(no_btf())
    }
    /// A kernel function's prototype (what fentry and kprobe probes attach to).
    fn kernel_function(&self, name: &str) -> Result<FuncProto, FactError> {
        let _ = name;
        Err(no_btf())
    }
    /// The BTF id of kernel function `name` (the FUNC record), what a call of a kfunc names.
    fn kernel_function_id(&self, name: &str) -> Result<u32, FactError> {
        let _ = name;
        Err(no_btf())
    }
    /// Every kernel function BTF describes, sorted.
    fn kernel_functions(&self) -> Result<Vec<String>, FactError> {
        Err(no_btf())
    }
    /// The value of a kernel enumerator (`TASK_RUNNING`).
    fn kernel_enumerator(&self, name: &str) -> Result<i64, FactError> {
        let _ = name;
        Err(no_btf())
    }
    /// The enum that defines enumerator `name`, for printing it by name; a provider that
    /// cannot say leaves the enumerator a plain number.
    fn enumerator_enum(&self, name: &str) -> Result<TypeId, FactError> {
        let _ = name;
        Err(no_btf())
    }

    /// The size the ELF symbol table gives symbol `name` of the file at `binary` (`uaddr`
    /// reads that many bytes through the address).
    fn symbol_size(&self, binary: &str, name: &str) -> Result<u64, FactError> {
        let _ = (binary, name);
        Err(FactError::Unavailable {
            reason: "symbol sizes are not known here".into(),
        })
    }

    /// Whether the ELF file at `binary` is position-independent (ET_DYN: a PIE or a shared
    /// library), so that its symbols' values are not the addresses a process sees.
    fn position_independent(&self, binary: &str) -> Result<bool, FactError> {
        let _ = binary;
        Err(FactError::Unavailable {
            reason: "ELF types are not known here".into(),
        })
    }

    /// The offset of the per-CPU variable `name` in the kernel's per-CPU section
    /// (`percpu_kaddr`), as BTF's `.data..percpu` gives it.
    fn percpu_variable(&self, name: &str) -> Result<u32, FactError> {
        let _ = name;
        Err(no_btf())
    }

    /// The address of symbol `name` (`kaddr`, `uaddr`): in the running kernel when `binary` is
    /// `None` (/proc/kallsyms), else the value the ELF file at `binary` gives it (not
    /// relocated, as bpftrace's `uaddr`).
    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        let _ = (binary, name);
        Err(FactError::Unavailable {
            reason: "symbol addresses are not known here".into(),
        })
    }

    /// The macros C header `header` defines, as the preprocessor prints them (`#define NAME
    /// BODY` lines): `header` as a script's `#include` writes it (`<errno.h>`, `"app.h"`),
    /// looked for in `dirs` (`-I`) first, then where the C compiler looks.
    fn header_macros(
        &self,
        header: &str,
        dirs: &[std::path::PathBuf],
    ) -> Result<String, FactError> {
        let _ = (header, dirs);
        Err(FactError::Unavailable {
            reason: "C headers are not read here".into(),
        })
    }

    /// The value of macro `name` of the headers the script includes, when one defines it
    /// (`EPERM` of `<errno.h>`); FactError::Malformed when its body is not an integer. Only
    /// the script's view of the machine (`ScriptTypes`) knows what the script includes.
    fn header_macro(&self, name: &str) -> Option<Result<MacroValue, FactError>> {
        let _ = name;
        None
    }

    /// Where a uprobe inside a function goes: `function` plus `offset` bytes, or (no
    /// function) the function holding the address `offset`; returns the function and the
    /// offset in it, or why the kernel must not put a breakpoint there (past the function's
    /// end, inside an instruction). A breakpoint inside an instruction corrupts the process.
    fn uprobe_site(
        &self,
        path: &str,
        function: Option<&str>,
        offset: u64,
    ) -> Result<(String, u64), String> {
        let _ = (path, function, offset);
        Err("this machine cannot decode the binary's instructions".into())
    }

    /// The executables and libraries a wildcard binary part (`uprobe:*:f`, `usdt:./bin*::p`,
    /// an empty usdt binary as `*`) names, sorted: a pattern without a `/` among those the
    /// traced process (`-p`) maps, one with a `/` among the files of its directory. None is an
    /// empty list; a pattern this source cannot expand (no process to read) is an error.
    fn binaries_matching(&self, pattern: &str) -> Result<Vec<String>, FactError> {
        Err(FactError::Unavailable {
            reason: format!("cannot expand the binary `{pattern}` here"),
        })
    }

    /// The USDT probe sites the ELF file at `path` declares in its `.note.stapsdt` notes, in
    /// note order (one probe may have several sites). Fact sources that know no binaries say
    /// so with FactError::Unavailable.
    fn usdt_sites(&self, path: &str) -> Result<Vec<UsdtSite>, FactError> {
        Err(FactError::Unavailable {
            reason: format!("cannot read the USDT notes of {path} here"),
        })
    }
}

/// What a machine without BTF answers about kernel types.
pub fn no_btf() -> FactError {
    FactError::Unavailable {
        reason: "the kernel has no BTF (/sys/kernel/btf/vmlinux), so its types are unknown".into(),
    }
}

/// One USDT probe site: where a `STAP_PROBE` macro left its `nop`, as its note describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtSite {
    /// The binary's path.
    pub path: String,
    pub provider: String,
    pub name: String,
    /// The file offset of the probe's `nop` (what a uprobe attaches to), prelink-adjusted.
    pub offset: u64,
    /// The file offset of the probe's semaphore (a u16 the program tests before firing), if
    /// it has one: the kernel counts it up while the probe is attached.
    pub semaphore: Option<u64>,
    /// The argument specs as the assembler wrote them (`-4@%eax 8@-16(%rbp) 4@$5`).
    pub args: String,
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
    /// A uprobe's binary is a regular file but not ELF (a flat binary a process maps and
    /// runs): it has no symbols, so only `--unsafe` may probe it, at a file offset.
    NotElf { path: String },
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
            FactError::NotElf { path } => write!(f, "{path} is not an ELF executable or library"),
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

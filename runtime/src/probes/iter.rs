//! `iter:task`, `iter:task_file`, ...: BPF iterators. Listed from the kernel's BTF (each
//! `struct bpf_iter__NAME` is an iterator the kernel defines). Attaching links the program
//! (loaded by aya against `bpf_iter_NAME`) to its iterator, a link `Loaded` owns; nothing
//! runs until the session reads a walk of it (`open_walk`). It fires per
//! object walked, once, never per event: counted as `Defined::Once`.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::ProviderKind;
use tracebound_compiler::types::NameSpace;

use tracebound_compiler::probe::Target;

use super::attach::{fail, AttachError, AttachPlan};
use super::mechanism::{io_error, wants, Count, ListQuery, Mechanism};
use crate::kernel::sys;
use crate::probes::load::Loaded;

pub struct Iter;

/// The context struct of iterator `NAME` is `struct bpf_iter__NAME`.
const CONTEXT_PREFIX: &str = "bpf_iter__";

impl Mechanism for Iter {
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        let link = {
            let prog = loaded.program_fd(&plan.program).ok_or_else(|| {
                fail(
                    plan.first(),
                    format!("program {} is not loaded", plan.program),
                )
            })?;
            sys::link_iterator(prog).map_err(|e| fail(plan.first(), e))?
        };
        loaded.keep_perf_link(&plan.program, link);
        Ok(plan.targets.len())
    }

    /// Once, when read: the program runs per object of one walk, not per event.
    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        Count::once_each(targets)
    }

    /// Counted in /proc as the kernel walks: every thread for `task`; for `task_file` and
    /// `task_vma` each process's open files and mappings (the kernel skips the threads that
    /// share them). 0 for an iterator /proc does not show.
    fn objects_per_walk(&self, target: &Target) -> Option<u64> {
        let Target::Iter { iterator, .. } = target else {
            return None;
        };
        Some(objects_in_proc(iterator))
    }

    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        if !wants(ProviderKind::Iter, query) {
            return Ok(0);
        }
        let glob = Glob::new(query.rest.split(':').next().unwrap_or("*"));
        // Without BTF the kernel names no iterators, and the current release lists none.
        let mut names = iterators(facts).unwrap_or_default();
        names.retain(|n| glob.matches(n));
        for name in &names {
            writeln!(out, "{}:{name}", ProviderKind::Iter.name()).map_err(io_error)?;
        }
        Ok(names.len())
    }
}

/// What `objects_per_walk` counts, read from /proc now.
fn objects_in_proc(iterator: &str) -> u64 {
    let processes: Vec<std::path::PathBuf> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    let entries = |p: std::path::PathBuf| std::fs::read_dir(p).map_or(0, |d| d.count() as u64);
    processes
        .into_iter()
        .map(|p| match iterator {
            "task" => entries(p.join("task")),
            "task_file" => entries(p.join("fd")),
            "task_vma" => {
                std::fs::read_to_string(p.join("maps")).map_or(0, |m| m.lines().count() as u64)
            }
            _ => 0,
        })
        .sum()
}

/// A new walk of program `program`'s iterator: reading the file to its end runs the
/// program once per object and returns what it wrote.
pub fn open_walk(loaded: &Loaded, program: &str) -> std::io::Result<std::fs::File> {
    let link = loaded.links_of(program).first().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{program} is not linked to its iterator"),
        )
    })?;
    sys::iterator_open(link.as_fd())
}

/// The iterators this kernel's BTF defines, sorted.
pub fn iterators(facts: &dyn MachineFacts) -> Result<Vec<String>, FactError> {
    let mut names: Vec<String> = facts
        .kernel_type_names(NameSpace::Struct)?
        .into_iter()
        .filter_map(|s| s.strip_prefix(CONTEXT_PREFIX).map(str::to_string))
        // The verifier's own variants of a context (`bpf_iter__task__safe_trusted`).
        .filter(|n| !n.contains("__"))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

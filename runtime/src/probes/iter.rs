//! `iter:task`, `iter:task_file`, ...: BPF iterators. Listed from the kernel's BTF (each
//! `struct bpf_iter__NAME` is an iterator the kernel defines); attaching is not built yet.

use std::io::Write;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::ProviderKind;
use tracebound_compiler::types::NameSpace;

use super::attach::{fail, AttachError, AttachPlan};
use super::mechanism::{io_error, wants, ListQuery, Mechanism};
use crate::probes::load::Loaded;

pub struct Iter;

/// The context struct of iterator `NAME` is `struct bpf_iter__NAME`.
const CONTEXT_PREFIX: &str = "bpf_iter__";

impl Mechanism for Iter {
    fn attach(&self, _loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        Err(fail(plan.first(), "attaching iter probes is not built yet"))
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

//! Resolution: expands attach points into the concrete probes they name (wildcards matched
//! against what the machine has) and types what each probe exposes from machine facts
//! (tracepoint formats, BTF types, ELF symbols). Its product is one `ResolvedProgram`, the
//! typed program lower reads. Every fact comes through the `machine::facts::MachineFacts`
//! trait, so this stays pure: the runtime supplies the live implementation, tests supply
//! `machine::fixture::FixtureFacts`.

pub(crate) mod kernel_types;
pub(crate) mod probes;
mod resolved;
pub(crate) mod symbols;
pub(crate) mod usdt_arg;

pub(crate) use resolved::{ResolvedProbe, ResolvedProgram};

use crate::ast::Program;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;

/// Resolves a checked tree against the machine: each probe's attach points and `args`, the
/// kernel type of every expression that reaches into kernel memory (written into the tree),
/// and the symbols `kaddr`/`uaddr` name.
pub(crate) fn resolve(
    mut ast: Program,
    facts: &dyn MachineFacts,
) -> Result<ResolvedProgram, Vec<Diagnostic>> {
    let probes = probes::resolve_probes(&ast, facts)?;
    let arg_types: Vec<_> = probes
        .iter()
        .map(|p| probes::kernel_arg_types(p, facts))
        .collect();
    kernel_types::type_probes(&mut ast, &probes, &arg_types, facts)?;
    let symbols = symbols::symbol_addresses(&ast, &probes, facts)?;
    Ok(ResolvedProgram {
        ast,
        probes,
        symbols,
    })
}

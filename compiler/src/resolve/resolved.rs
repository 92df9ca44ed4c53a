//! What resolve hands to lower: the script's tree, typed (each kernel-typed expression carries
//! its `KernelAccess`), with every probe's attach points (typed `Target`s) and `args`, and the
//! addresses `kaddr`/`uaddr` stand for. Lower reads this and nothing of the machine.

use super::symbols::SymbolAddresses;
use crate::ast::{self, Item};
use crate::diagnostic::Diagnostic;
use crate::probe::{ArgField, ProviderKind, Target};

/// A script resolved against the machine and typed.
#[derive(Clone, Debug)]
pub struct ResolvedProgram {
    /// The checked tree, its kernel-typed expressions typed (`ast::Expr::kernel`).
    pub ast: ast::Program,
    /// One entry per probe item, in source order.
    pub probes: Vec<ResolvedProbe>,
    /// What each `kaddr`/`uaddr` of the script stands for.
    pub symbols: SymbolAddresses,
    /// Attach points left out (`config = { missing_probes = warn }`), to show the user.
    pub warnings: Vec<Diagnostic>,
    /// This kernel's GFP flag names where a format has `%gr` (`machine::print_flags`).
    pub gfp_flags: crate::machine::print_flags::FlagNames,
}

impl ResolvedProgram {
    /// Each probe item with what resolve found for it, in source order.
    pub fn probes(&self) -> impl Iterator<Item = (&ast::Probe, &ResolvedProbe)> {
        probe_items(&self.ast).zip(&self.probes)
    }
}

/// The probe items of a tree, in source order.
fn probe_items(program: &ast::Program) -> impl Iterator<Item = &ast::Probe> {
    program.items.iter().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    })
}

/// One probe as the resolver hands it over: what to attach to and what `args` holds.
#[derive(Clone, Debug)]
pub struct ResolvedProbe {
    pub kind: ProviderKind,
    /// What each attach point names.
    pub targets: Vec<Target>,
    /// The fields of `args` for tracepoints (the same for every target).
    pub args: Vec<ArgField>,
}

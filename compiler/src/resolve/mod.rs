//! Resolution: expands attach points into the concrete probes they name (wildcards matched
//! against what the machine has) and types what each probe exposes from machine facts
//! (tracepoint formats, BTF types, ELF symbols). Its product is one `ResolvedProgram`, the
//! typed program lower reads. Every fact comes through the `machine::facts::MachineFacts`
//! trait, so this stays pure: the runtime supplies the live implementation, tests supply
//! `machine::fixture::FixtureFacts`.

pub(crate) mod kernel_types;
pub(crate) mod probes;
mod resolved;
mod split_layouts;
pub(crate) mod symbols;
mod typed_context;
pub(crate) mod usdt_arg;
mod value_size;
mod written;

pub(crate) use resolved::{ResolvedProbe, ResolvedProgram};

use crate::ast::Program;
use crate::config::MissingProbes;
use crate::diagnostic::Diagnostic;
use crate::lex::DirectiveKind;
use crate::machine::facts::MachineFacts;
use crate::machine::print_flags::{gfp_flag_names, FlagNames};
use crate::machine::script_types::ScriptTypes;

/// Resolves a checked tree against the machine: each probe's attach points and `args`, the
/// kernel type of every expression that reaches into kernel memory (written into the tree),
/// and the symbols `kaddr`/`uaddr` name. Attach points the machine does not have are errors,
/// or left out as `missing` says (a probe left with none is taken out of the tree).
#[cfg(test)]
pub(crate) fn resolve(
    ast: Program,
    facts: &dyn MachineFacts,
    missing: MissingProbes,
) -> Result<ResolvedProgram, Vec<Diagnostic>> {
    resolve_selected(ast, facts, missing, None, &[], false)
}

/// `resolve`, keeping only the attach points whose names `filter` finds a match in
/// (`--probe-filter`; BEGIN and END always stay); a probe left with none leaves the tree.
/// Targets whose placement cannot be checked need `unsafe_allowed` (`--unsafe`).
pub(crate) fn resolve_selected(
    mut ast: Program,
    facts: &dyn MachineFacts,
    missing: MissingProbes,
    filter: Option<&regex::Regex>,
    include_dirs: &[std::path::PathBuf],
    unsafe_allowed: bool,
) -> Result<ResolvedProgram, Vec<Diagnostic>> {
    written::expand(&mut ast)?;
    probes::split_mixed_kinds(&mut ast);
    typed_context::read_as_args(&mut ast);
    let present = probes::resolve_present_probes(&ast, facts, missing, filter, unsafe_allowed)?;
    if !present.dropped_items.is_empty() {
        let first_probe = ast.items.iter().find_map(|i| match i {
            crate::ast::Item::Probe(p) => Some(p.span),
            _ => None,
        });
        let mut index = 0;
        ast.items.retain(|_| {
            index += 1;
            !present.dropped_items.contains(&(index - 1))
        });
        if !ast
            .items
            .iter()
            .any(|i| matches!(i, crate::ast::Item::Probe(_)))
        {
            let mut errors = present.warnings;
            errors.push(Diagnostic::error(
                "Attachment failed for all probes.",
                first_probe.unwrap_or_default(),
                "none of the script's attach points exists on this machine",
            ));
            return Err(errors);
        }
    }
    let warnings = present.warnings;
    let mut probes = present.probes;
    split_layouts::split_uneven_layouts(&mut ast, &mut probes, facts);
    // The script's own C definitions answer beside the kernel's BTF (and name C's integer
    // types, which a tracepoint's `const char *const *argv` points through).
    let types = ScriptTypes::new(&ast, facts)?.with_include_dirs(include_dirs);
    missing_headers(&ast, &types)?;
    let arg_types: Vec<_> = probes
        .iter()
        .map(|p| probes::kernel_arg_types(p, &types))
        .collect();
    kernel_types::type_probes(&mut ast, &probes, &arg_types, &types)?;
    let symbols = symbols::symbol_addresses(&ast, &probes, facts)?;
    let gfp_flags = gfp_flags(&ast, facts)?;
    Ok(ResolvedProgram {
        ast,
        probes,
        symbols,
        warnings,
        gfp_flags,
    })
}

/// This kernel's GFP flag names when a format names flags with `%gr`; an error at the
/// first such format when the kernel's table cannot be read.
fn gfp_flags(ast: &Program, facts: &dyn MachineFacts) -> Result<FlagNames, Vec<Diagnostic>> {
    let mut first = None;
    for item in &ast.items {
        let crate::ast::Item::Probe(probe) = item else {
            continue;
        };
        crate::ast::visit::probe_exprs(probe, &mut |e| {
            if let crate::ast::ExprKind::Call { args, .. } = &e.kind {
                if let Some(crate::ast::ExprKind::Str(format)) = args.first().map(|a| &a.kind) {
                    let specs = crate::program::format_specifiers(format.as_bytes());
                    if first.is_none() && specs.iter().any(|s| s.conversion == b'g') {
                        first = Some(args[0].span);
                    }
                }
            }
        });
    }
    let Some(span) = first else {
        return Ok(FlagNames::new());
    };
    gfp_flag_names(facts).map_err(|e| {
        vec![Diagnostic::error(
            "`%gr` needs this kernel's GFP flag names, which cannot be read",
            span,
            "names GFP flags",
        )
        .with_note(e.to_string())]
    })
}

/// An `#include` of a header the machine does not have is an error at the directive, as a C
/// compiler's: what the script expected from it would otherwise be missing at its use, or
/// silently not there at all.
fn missing_headers(ast: &Program, types: &ScriptTypes) -> Result<(), Vec<Diagnostic>> {
    let missing = types.missing_headers();
    let errors: Vec<Diagnostic> = (ast.directives.iter())
        .filter_map(|d| match &d.kind {
            DirectiveKind::Include(h) if missing.contains(&h.trim()) => Some((h.trim(), d.span)),
            _ => None,
        })
        .map(|(header, span)| {
            Diagnostic::error(
                format!("{header} file not found"),
                span,
                "no such header on this machine",
            )
            .with_help("`-I DIR` adds a directory to look in")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

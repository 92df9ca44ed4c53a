//! `offsetof` of a struct or union the script defines, answered from its definition: a field
//! it lacks is the error a run reports, so `--check` reports it too. The layout is the one the
//! resolver computes (`machine::script_types`), here without a machine: a definition that
//! needs the kernel's types (a field of `struct task_struct`) is left to the resolver, as is
//! every offset into a kernel type.

use crate::ast::visit::{walk_expr, Visitor};
use crate::ast::{Aggregate, Expr, ExprKind, Item, Program, TypeBase};
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::KernelTypes;
use crate::machine::facts::{FactError, MachineFacts};
use crate::machine::script_types::ScriptTypes;
use crate::machine::tracepoint_format::TracepointFormat;

/// The errors of every `offsetof(struct S, ...)` whose `S` the script defines.
pub fn check(program: &Program, diags: &mut Vec<Diagnostic>) {
    let defined: Vec<(Aggregate, &str)> = (program.items.iter())
        .filter_map(|i| match i {
            Item::CDefinition(d) => Some(d.with_nested()),
            _ => None,
        })
        .flatten()
        .filter_map(|d| Some((d.kind, d.name.as_ref()?.name.as_str())))
        .collect();
    if defined.is_empty() {
        return;
    }
    let Ok(types) = ScriptTypes::new(program, &NoMachine) else {
        return;
    };
    let mut offsets = Offsets {
        types: KernelTypes::new(&types),
        defined,
        diags,
    };
    visit_code(program, &mut offsets);
}

/// Walks every probe and function body of `program` with `v` (the checks that read the
/// script's own C types: `script_offsets`, `script_floats`).
pub(super) fn visit_code<'a>(program: &'a Program, v: &mut impl Visitor<'a>) {
    for item in &program.items {
        match item {
            Item::Probe(p) => v.probe(p),
            Item::Function(f) => v.block(&f.body),
            _ => {}
        }
    }
}

struct Offsets<'t, 'd> {
    types: KernelTypes<'t>,
    defined: Vec<(Aggregate, &'t str)>,
    diags: &'d mut Vec<Diagnostic>,
}

impl<'a> Visitor<'a> for Offsets<'_, '_> {
    fn expr(&mut self, e: &'a Expr) {
        if let ExprKind::Offsetof { ty, field } = &e.kind {
            let ours = match &ty.base {
                TypeBase::Aggregate(kind, name) => {
                    ty.pointers == 0 && self.defined.contains(&(*kind, name.as_str()))
                }
                _ => false,
            };
            if ours {
                if let Ok(Some(t)) = self.types.type_name(ty, false) {
                    if let Err(d) = self.types.offset_of(&t, field, e.span) {
                        self.diags.push(d);
                    }
                }
            }
        }
        walk_expr(self, e);
    }
}

/// A machine with nothing to say: the script's own types are all `--check` reads.
pub(super) struct NoMachine;

impl MachineFacts for NoMachine {
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
        Err(unavailable())
    }
    fn tracepoint_format(&self, _: &str, _: &str) -> Result<TracepointFormat, FactError> {
        Err(unavailable())
    }
    fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
        Err(unavailable())
    }
    fn binary_path(&self, _: &str) -> Result<String, FactError> {
        Err(unavailable())
    }
    fn function_symbols(&self, _: &str) -> Result<Vec<String>, FactError> {
        Err(unavailable())
    }
}

fn unavailable() -> FactError {
    FactError::Unavailable {
        reason: "--check reads no machine".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::check::tests::errors;

    #[test]
    fn a_field_the_scripts_struct_lacks_is_an_error_at_the_field() {
        let source = "struct Foo { int a; struct { int z; } b; }\n\
                      BEGIN { @x = offsetof(struct Foo, b.z); @y = offsetof(struct Foo, q); }";
        assert_eq!(
            errors(source),
            [("struct Foo has no field `q`".to_string(), "q".to_string())]
        );
    }

    #[test]
    fn kernel_types_are_left_to_the_resolver() {
        // Neither needs a diagnostic here: without the kernel's BTF nothing is known of them.
        assert!(errors("BEGIN { @x = offsetof(struct task_struct, nope); }").is_empty());
        let source =
            "struct Foo { struct task_struct *t; } BEGIN { @x = offsetof(struct Foo, q); }";
        assert!(errors(source).is_empty());
    }
}

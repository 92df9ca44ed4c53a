//! A `float` or `double` member of a struct or union the script defines, read as a value
//! (`((struct Foo *)arg0)->n.f + 1`): the run refuses it where it lowers the read, and the
//! script's own definitions say so without a machine, so `--check` refuses it too, in the
//! same words (`ctype::float_read`). Its address, its `sizeof` and indexing an array of them
//! read nothing. What is typed through variables or the kernel's types is the run's to find.

use std::collections::HashSet;

use crate::ast::visit::{walk_expr, Visitor};
use crate::ast::{Expr, ExprKind, Item, Program, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::{float_read, KernelTypes, TypeEnv, View};
use crate::machine::script_types::ScriptTypes;
use crate::span::Span;

use super::script_offsets::{visit_code, NoMachine};

/// The errors of every read of a float member the script's definitions type.
pub fn check(program: &Program, diags: &mut Vec<Diagnostic>) {
    let has_definitions = (program.items.iter()).any(|i| matches!(i, Item::CDefinition(_)));
    if !has_definitions {
        return;
    }
    let Ok(types) = ScriptTypes::new(program, &NoMachine) else {
        return;
    };
    let mut reads = FloatReads {
        types: KernelTypes::new(&types),
        env: TypeEnv::default(),
        not_read: HashSet::new(),
        diags,
    };
    visit_code(program, &mut reads);
}

struct FloatReads<'t, 'd> {
    types: KernelTypes<'t>,
    env: TypeEnv,
    /// Places whose value nothing reads: the operand of `&` or `sizeof`, an indexed array.
    not_read: HashSet<Span>,
    diags: &'d mut Vec<Diagnostic>,
}

impl FloatReads<'_, '_> {
    /// `Some(what)` when `e` is a place of a float type, or of an array of them.
    fn float_place(&self, e: &Expr) -> Option<String> {
        if !matches!(
            e.kind,
            ExprKind::Field { .. }
                | ExprKind::Index { .. }
                | ExprKind::Unary {
                    op: UnaryOp::Deref,
                    ..
                }
        ) {
            return None;
        }
        let t = self.types.type_of(e, &self.env).ok()??;
        let mut view = self.types.view(&t, e.span).ok()?;
        while let View::Array { elem, .. } = view {
            view = self.types.view(&elem, e.span).ok()?;
        }
        matches!(view, View::Float { .. }).then(|| self.types.describe(&t))
    }
}

impl<'a> Visitor<'a> for FloatReads<'_, '_> {
    fn expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Unary {
                op: UnaryOp::AddrOf,
                expr,
            }
            | ExprKind::SizeofExpr(expr)
            | ExprKind::Index { expr, .. } => {
                self.not_read.insert(expr.span);
            }
            _ => {}
        }
        if !self.not_read.contains(&e.span) {
            if let Some(what) = self.float_place(e) {
                self.diags.push(float_read(&what, e.span));
                return;
            }
        }
        walk_expr(self, e);
    }
}

#[cfg(test)]
mod tests {
    use crate::check::tests::errors;

    const TYPES: &str = "union N { int i; float f; } struct Foo { int m; union N n; double d[2]; }";

    #[test]
    fn a_float_member_read_as_a_value_is_refused_at_the_read() {
        for (read, what) in [
            ("(*(struct Foo *)arg0).n.f", "float"),
            ("((struct Foo *)arg0)->d[1]", "double"),
            ("((struct Foo *)arg0)->d", "double[2]"),
        ] {
            let source = format!("{TYPES} uprobe:/bin/sh:main {{ @x = {read} + 1; }}");
            let found = errors(&source);
            let [(message, at)] = found.as_slice() else {
                panic!("{source}: {found:?}")
            };
            assert_eq!(
                *message,
                format!("a floating-point value (`{what}`) cannot be read")
            );
            // The parser's span of a member of `( ... )` starts inside the parenthesis.
            assert!(
                read.ends_with(at.as_str()) && at.len() + 1 >= read.len(),
                "{at}"
            );
        }
    }

    #[test]
    fn whole_structs_addresses_and_sizes_read_no_float() {
        let source = format!(
            "{TYPES} uprobe:/bin/sh:main {{ $p = (struct Foo *)arg0; print(*$p); \
             print($p->n); @a = &$p->n.f; @b = &((struct Foo *)arg0)->n.f; @s = sizeof($p->d) + sizeof(((struct Foo *)arg0)->d[0]); \
             @i = (*(struct Foo *)arg0).n.i; }}"
        );
        assert!(errors(&source).is_empty(), "{:?}", errors(&source));
    }
}

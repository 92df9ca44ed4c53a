//! Every assignment of a scratch variable in a probe, for the passes that ask what all of a
//! variable's values have in common (`bswap`'s width, `len` of a stack).

use crate::ast::visit::{walk_stmt, Visitor};
use crate::ast::{Expr, ExprKind, Stmt, StmtKind};

/// Every assignment of a variable in a probe: its value, or `None` where it is no one
/// expression's value (`for` bindings, `$x op= e`).
#[derive(Default)]
pub(super) struct Assignments<'a>(pub Vec<(String, Option<&'a Expr>)>);

impl<'a> Visitor<'a> for Assignments<'a> {
    fn stmt(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::Assign { target, op, value } => {
                if let ExprKind::Var(name) = &target.kind {
                    let value = op.is_none().then_some(value);
                    self.0.push((name.clone(), value));
                }
            }
            StmtKind::Let {
                var,
                value: Some(value),
                ..
            } => self.0.push((var.name.clone(), Some(value))),
            StmtKind::For { var, .. } => self.0.push((var.name.clone(), None)),
            _ => {}
        }
        walk_stmt(self, s);
    }
}

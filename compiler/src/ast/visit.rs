//! The one walk over a probe's tree. A pass implements `Visitor` (or `VisitorMut`, for the
//! pass that writes what it learns into the tree) and overrides the nodes it cares about,
//! calling `walk_*` to go on into their children; the closure walkers (`probe_exprs`, `expr`)
//! answer one question about every expression ("does it read `func`?", "which maps does it
//! name?"). Both visitors are generated from the one definition below, so they cannot drift
//! apart. Statements are walked in order, each expression before the ones inside it.
//!
//! Lowering and printing do not walk: they translate every node themselves, and their
//! matches stay exhaustive so that a new kind of node cannot be forgotten there.

use super::{Block, Expr, ExprKind, ForIter, Probe, Stmt, StmtKind, TypeOf};

/// Generates a visitor trait and its `walk_*` functions over one kind of reference: `node` is
/// the reference type of the nodes, `borrow` the operator that borrows their fields.
macro_rules! visitor {
    (
        $(#[$doc:meta])*
        trait $Visitor:ident<$($lt:lifetime)?>,
        $walk_probe:ident, $walk_block:ident, $walk_stmt:ident, $walk_expr:ident,
        node: [$($node:tt)*], borrow: [$($borrow:tt)*]
    ) => {
        $(#[$doc])*
        pub trait $Visitor<$($lt)?> {
            fn probe(&mut self, probe: $($node)* Probe) {
                $walk_probe(self, probe)
            }
            fn block(&mut self, block: $($node)* Block) {
                $walk_block(self, block)
            }
            fn stmt(&mut self, stmt: $($node)* Stmt) {
                $walk_stmt(self, stmt)
            }
            fn expr(&mut self, expr: $($node)* Expr) {
                $walk_expr(self, expr)
            }
        }

        /// The predicate, then the body.
        pub fn $walk_probe<$($lt,)? V: $Visitor<$($lt)?> + ?Sized>(v: &mut V, probe: $($node)* Probe) {
            if let Some(p) = $($borrow)* probe.predicate {
                v.expr(p);
            }
            v.block($($borrow)* probe.body);
        }

        pub fn $walk_block<$($lt,)? V: $Visitor<$($lt)?> + ?Sized>(v: &mut V, b: $($node)* Block) {
            for s in $($borrow)* b.stmts {
                v.stmt(s);
            }
        }

        /// The statement's expressions and blocks, in the order they are written.
        pub fn $walk_stmt<$($lt,)? V: $Visitor<$($lt)?> + ?Sized>(v: &mut V, s: $($node)* Stmt) {
            match $($borrow)* s.kind {
                StmtKind::Expr(e) | StmtKind::Return(Some(e)) => v.expr(e),
                StmtKind::Assign { target, value, .. } => {
                    v.expr(target);
                    v.expr(value);
                }
                StmtKind::Let { value, .. } => {
                    if let Some(value) = value {
                        v.expr(value);
                    }
                }
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    v.expr(cond);
                    v.block(then);
                    if let Some(o) = otherwise {
                        v.stmt(o);
                    }
                }
                StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
                    v.expr(e);
                    v.block(body);
                }
                StmtKind::For { iter, body, .. } => {
                    match iter {
                        ForIter::Map(m) => v.expr(m),
                        ForIter::Range(a, b) => {
                            v.expr(a);
                            v.expr(b);
                        }
                    }
                    v.block(body);
                }
                StmtKind::Block(b) => v.block(b),
                StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
            }
        }

        /// The expressions (and blocks) directly inside `e`.
        pub fn $walk_expr<$($lt,)? V: $Visitor<$($lt)?> + ?Sized>(v: &mut V, e: $($node)* Expr) {
            match $($borrow)* e.kind {
                ExprKind::Map { keys: es, .. }
                | ExprKind::Call { args: es, .. }
                | ExprKind::Tuple(es) => {
                    for e in es {
                        v.expr(e);
                    }
                }
                ExprKind::Record(fields) => {
                    for (_, e) in fields {
                        v.expr(e);
                    }
                }
                ExprKind::Unary { expr: e, .. }
                | ExprKind::Cast { expr: e, .. }
                | ExprKind::Field { expr: e, .. }
                | ExprKind::TupleIndex { expr: e, .. }
                | ExprKind::SizeofExpr(e)
                | ExprKind::OffsetofExpr { expr: e, .. }
                | ExprKind::Update { target: e, .. } => v.expr(e),
                ExprKind::Binary { lhs, rhs, .. }
                | ExprKind::Index {
                    expr: lhs,
                    index: rhs,
                } => {
                    v.expr(lhs);
                    v.expr(rhs);
                }
                ExprKind::Ternary {
                    cond,
                    then,
                    otherwise,
                }
                | ExprKind::IfElse {
                    cond,
                    then,
                    otherwise,
                } => {
                    v.expr(cond);
                    v.expr(then);
                    v.expr(otherwise);
                }
                ExprKind::Block { block: b, value } => {
                    v.block(b);
                    v.expr(value);
                }
                ExprKind::Typeof(t) => {
                    if let TypeOf::Expr(e) = $($borrow)* **t {
                        v.expr(e);
                    }
                }
                ExprKind::Int(_)
                | ExprKind::Str(_)
                | ExprKind::Bool(_)
                | ExprKind::Ident(_)
                | ExprKind::Var(_)
                | ExprKind::Positional(_)
                | ExprKind::PositionalCount
                | ExprKind::SizeofType(_)
                | ExprKind::Offsetof { .. } => {}
            }
        }
    };
}

visitor!(
    /// A pass over a shared tree; `'a` is the tree's, so a pass may keep what it visits.
    trait Visitor<'a>, walk_probe, walk_block, walk_stmt, walk_expr,
    node: [&'a], borrow: [&]
);
visitor!(
    /// A pass that writes into the tree it walks.
    trait VisitorMut<>, walk_probe_mut, walk_block_mut, walk_stmt_mut, walk_expr_mut,
    node: [&mut], borrow: [&mut]
);

/// Calls a closure on every expression it walks, before the ones inside it.
struct EachExpr<F>(F);

impl<'a, F: FnMut(&'a Expr)> Visitor<'a> for EachExpr<F> {
    fn expr(&mut self, e: &'a Expr) {
        (self.0)(e);
        walk_expr(self, e);
    }
}

/// Calls `f` on every expression of the probe: predicate, then body, each expression before
/// the ones inside it.
pub fn probe_exprs<'a>(probe: &'a Probe, f: &mut impl FnMut(&'a Expr)) {
    EachExpr(f).probe(probe);
}

/// Calls `f` on `e` and every expression inside it, outermost first.
pub fn expr<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    EachExpr(f).expr(e);
}

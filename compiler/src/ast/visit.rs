//! Walking every expression of a probe, outermost first, so that a question about a probe
//! ("does it read `func`?", "which maps does it name?") is one closure, not one more
//! hand-written traversal. The same walk exists twice, over shared and over mutable trees
//! (`*_mut`, for the pass that writes what it learns into the tree), both generated from the
//! one definition below so that they cannot drift apart.

use super::{Block, Expr, ExprKind, ForIter, Probe, Stmt, StmtKind};

/// Generates the four walkers over one kind of reference: `node` is the reference type of the
/// nodes walked, `borrow` the operator that borrows their fields, `seen` what `f` receives.
macro_rules! walkers {
    (
        $probe_fn:ident, $block_fn:ident, $stmt_fn:ident, $expr_fn:ident,
        <$($lt:lifetime)?>, node: [$($node:tt)*], borrow: [$($borrow:tt)*], seen: [$($seen:tt)*]
    ) => {
        /// Calls `f` on every expression of the probe: predicate, then body, each expression
        /// before the ones inside it.
        pub fn $probe_fn<$($lt)?>(probe: $($node)* Probe, f: &mut impl FnMut($($seen)* Expr)) {
            if let Some(p) = $($borrow)* probe.predicate {
                $expr_fn(p, f);
            }
            $block_fn($($borrow)* probe.body, f);
        }

        pub fn $block_fn<$($lt)?>(b: $($node)* Block, f: &mut impl FnMut($($seen)* Expr)) {
            for s in $($borrow)* b.stmts {
                $stmt_fn(s, f);
            }
        }

        pub fn $stmt_fn<$($lt)?>(s: $($node)* Stmt, f: &mut impl FnMut($($seen)* Expr)) {
            match $($borrow)* s.kind {
                StmtKind::Expr(e) | StmtKind::Return(Some(e)) => $expr_fn(e, f),
                StmtKind::Assign { target, value, .. } => {
                    $expr_fn(target, f);
                    $expr_fn(value, f);
                }
                StmtKind::Let { value, .. } => {
                    if let Some(v) = value {
                        $expr_fn(v, f);
                    }
                }
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    $expr_fn(cond, f);
                    $block_fn(then, f);
                    if let Some(o) = otherwise {
                        $stmt_fn(o, f);
                    }
                }
                StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
                    $expr_fn(e, f);
                    $block_fn(body, f);
                }
                StmtKind::For { iter, body, .. } => {
                    match iter {
                        ForIter::Map(m) => $expr_fn(m, f),
                        ForIter::Range(a, b) => {
                            $expr_fn(a, f);
                            $expr_fn(b, f);
                        }
                    }
                    $block_fn(body, f);
                }
                StmtKind::Block(b) => $block_fn(b, f),
                StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
            }
        }

        pub fn $expr_fn<$($lt)?>(e: $($node)* Expr, f: &mut impl FnMut($($seen)* Expr)) {
            f(e);
            match $($borrow)* e.kind {
                ExprKind::Map { keys: es, .. }
                | ExprKind::Call { args: es, .. }
                | ExprKind::Tuple(es) => {
                    for e in es {
                        $expr_fn(e, f);
                    }
                }
                ExprKind::Unary { expr: e, .. }
                | ExprKind::Cast { expr: e, .. }
                | ExprKind::Field { expr: e, .. }
                | ExprKind::TupleIndex { expr: e, .. }
                | ExprKind::SizeofExpr(e)
                | ExprKind::OffsetofExpr { expr: e, .. }
                | ExprKind::Update { target: e, .. } => $expr_fn(e, f),
                ExprKind::Binary { lhs, rhs, .. }
                | ExprKind::Index {
                    expr: lhs,
                    index: rhs,
                } => {
                    $expr_fn(lhs, f);
                    $expr_fn(rhs, f);
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
                    $expr_fn(cond, f);
                    $expr_fn(then, f);
                    $expr_fn(otherwise, f);
                }
                ExprKind::Block { block: b, value } => {
                    $block_fn(b, f);
                    $expr_fn(value, f);
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

walkers!(probe_exprs, block, stmt, expr, <'a>, node: [&'a], borrow: [&], seen: [&'a]);
walkers!(
    probe_exprs_mut, block_mut, stmt_mut, expr_mut, <>, node: [&mut], borrow: [&mut], seen: [&mut]
);

//! Walking every expression of a probe, outermost first, so that a question about a probe
//! ("does it read `func`?", "which maps does it name?") is one closure, not one more
//! hand-written traversal.

use super::{Block, Expr, ExprKind, ForIter, Probe, Stmt, StmtKind};

/// Calls `f` on every expression of the probe: predicate, then body, each expression before
/// the ones inside it.
pub fn probe_exprs<'a>(probe: &'a Probe, f: &mut impl FnMut(&'a Expr)) {
    if let Some(p) = &probe.predicate {
        expr(p, f);
    }
    block(&probe.body, f);
}

pub fn block<'a>(b: &'a Block, f: &mut impl FnMut(&'a Expr)) {
    for s in &b.stmts {
        stmt(s, f);
    }
}

pub fn stmt<'a>(s: &'a Stmt, f: &mut impl FnMut(&'a Expr)) {
    match &s.kind {
        StmtKind::Expr(e) | StmtKind::Return(Some(e)) => expr(e, f),
        StmtKind::Assign { target, value, .. } => {
            expr(target, f);
            expr(value, f);
        }
        StmtKind::Let { value, .. } => {
            if let Some(v) = value {
                expr(v, f);
            }
        }
        StmtKind::If {
            cond,
            then,
            otherwise,
        } => {
            expr(cond, f);
            block(then, f);
            if let Some(o) = otherwise {
                stmt(o, f);
            }
        }
        StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
            expr(e, f);
            block(body, f);
        }
        StmtKind::For { iter, body, .. } => {
            match iter {
                ForIter::Map(m) => expr(m, f),
                ForIter::Range(a, b) => {
                    expr(a, f);
                    expr(b, f);
                }
            }
            block(body, f);
        }
        StmtKind::Block(b) => block(b, f),
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

pub fn expr<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Map { keys: es, .. } | ExprKind::Call { args: es, .. } | ExprKind::Tuple(es) => {
            es.iter().for_each(|e| expr(e, f))
        }
        ExprKind::Unary { expr: e, .. }
        | ExprKind::Cast { expr: e, .. }
        | ExprKind::Field { expr: e, .. }
        | ExprKind::TupleIndex { expr: e, .. }
        | ExprKind::SizeofExpr(e)
        | ExprKind::OffsetofExpr { expr: e, .. }
        | ExprKind::Update { target: e, .. } => expr(e, f),
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Index {
            expr: lhs,
            index: rhs,
        } => {
            expr(lhs, f);
            expr(rhs, f);
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
            expr(cond, f);
            expr(then, f);
            expr(otherwise, f);
        }
        ExprKind::Block { block: b, value } => {
            block(b, f);
            expr(value, f);
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

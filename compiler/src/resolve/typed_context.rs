//! An iterator's `ctx` is its kernel context structure (`struct bpf_iter__task`), whose
//! members the probe kind resolves as the fields of `args` (offsets and BTF types): each
//! `ctx.member` (or `ctx->member`) of such a probe is read as `args.member`, at the same
//! span, so that reading it, typing what it points at and diagnosing it is `args`'s. Check
//! has refused `ctx` anywhere else in such a probe.

use crate::ast::visit::{walk_expr_mut, walk_probe_mut, VisitorMut};
use crate::ast::{Expr, ExprKind, Item, Program};
use crate::parse::attach::split;
use crate::probe;

/// Rewrites the `ctx` members of every probe whose kind's `ctx` is a typed structure. Runs
/// once a probe's attach points are of one kind (`split_mixed_kinds`).
pub fn read_as_args(program: &mut Program) {
    for item in &mut program.items {
        let Item::Probe(p) = item else { continue };
        let typed = p.attach_points.first().is_some_and(|ap| {
            let parts = split(&ap.text, ap.span);
            probe::lookup(&parts[0].text).is_some_and(|p| p.kind.context().typed_ctx)
        });
        if typed {
            walk_probe_mut(&mut AsArgs, p);
        }
    }
}

struct AsArgs;

impl VisitorMut for AsArgs {
    fn expr(&mut self, e: &mut Expr) {
        walk_expr_mut(self, e);
        if let ExprKind::Field { expr, .. } = &mut e.kind {
            if matches!(&expr.kind, ExprKind::Ident(n) if n == "ctx") {
                expr.kind = ExprKind::Ident("args".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bare names each probe's expressions use, in order.
    fn names(program: &Program) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for item in &program.items {
            let Item::Probe(p) = item else { continue };
            let mut names = Vec::new();
            crate::ast::visit::probe_exprs(p, &mut |e| {
                if let ExprKind::Ident(n) = &e.kind {
                    names.push(n.clone());
                }
            });
            out.push(names);
        }
        out
    }

    #[test]
    fn ctx_members_of_iterators_only_are_args() {
        let mut p = crate::parse::parse(
            "iter:task { print(ctx.task.pid); } tracepoint:a:b { print(ctx.x); }",
        )
        .unwrap();
        read_as_args(&mut p);
        assert_eq!(names(&p), vec![vec!["args"], vec!["ctx"]]);
    }
}

//! Builtins written in the language (`Support::Written` in the stdlib table): each use is
//! replaced by the entry's expression, parsed once per use, before the kernel types are
//! resolved, so that `ppid` becomes `curtask->real_parent->pid` and is typed and read from
//! BTF like any member chain. `$task` in the text stands for the call's argument, or for
//! `curtask` when there is none. Every node of the replacement carries the use's span, so a
//! diagnostic about it (no BTF, say) points at the user's `ppid`.

use tracebound_stdlib::{self as stdlib, Support};

use crate::ast::visit::{walk_expr_mut, walk_probe_mut, VisitorMut};
use crate::ast::{Expr, ExprKind, Item, Program, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Replaces every use of a written builtin in the script's probes.
pub fn expand(program: &mut Program) -> Result<(), Vec<Diagnostic>> {
    let mut expander = Expander { errors: Vec::new() };
    for item in &mut program.items {
        if let Item::Probe(probe) = item {
            walk_probe_mut(&mut expander, probe);
        }
    }
    if expander.errors.is_empty() {
        Ok(())
    } else {
        Err(expander.errors)
    }
}

struct Expander {
    errors: Vec<Diagnostic>,
}

impl VisitorMut for Expander {
    fn expr(&mut self, e: &mut Expr) {
        walk_expr_mut(self, e);
        let (name, arg) = match &e.kind {
            ExprKind::Ident(name) => (name, None),
            ExprKind::Call { name, args } if args.len() <= 1 => (&name.name, args.first()),
            _ => return,
        };
        let Some(Support::Written(text)) = stdlib::lookup(name).map(|b| b.support) else {
            return;
        };
        let task = arg
            .cloned()
            .unwrap_or_else(|| Expr::new(ExprKind::Ident("curtask".into()), e.span));
        match written(text, e.span) {
            Some(mut replacement) => {
                substitute(&mut replacement, &task);
                *e = replacement;
            }
            None => self.errors.push(Diagnostic::error(
                format!("the stdlib's text of `{name}` does not parse: {text}"),
                e.span,
                "here",
            )),
        }
    }
}

/// The entry's text as an expression, every node at `span`.
fn written(text: &str, span: Span) -> Option<Expr> {
    let program = crate::parse::parse(&format!("BEGIN {{ {text}; }}")).ok()?;
    let Item::Probe(probe) = program.items.into_iter().next()? else {
        return None;
    };
    let stmt = probe.body.stmts.into_iter().next()?;
    let StmtKind::Expr(mut e) = stmt.kind else {
        return None;
    };
    Respan(span).expr(&mut e);
    Some(e)
}

/// Puts `task` where the text says `$task`.
fn substitute(e: &mut Expr, task: &Expr) {
    struct Put<'t>(&'t Expr);
    impl VisitorMut for Put<'_> {
        fn expr(&mut self, e: &mut Expr) {
            if matches!(&e.kind, ExprKind::Var(v) if v == "task") {
                *e = self.0.clone();
            } else {
                walk_expr_mut(self, e);
            }
        }
    }
    Put(task).expr(e);
}

/// Gives every node one span.
struct Respan(Span);

impl VisitorMut for Respan {
    fn expr(&mut self, e: &mut Expr) {
        e.span = self.0;
        walk_expr_mut(self, e);
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::print_program;
    use crate::parse::parse;

    fn expanded(source: &str) -> String {
        let mut program = parse(source).unwrap();
        super::expand(&mut program).unwrap();
        print_program(&program)
    }

    #[test]
    fn a_written_builtin_becomes_its_text_at_the_use() {
        let printed = expanded("BEGIN { @ = ppid; @c[pcomm] = count(); }");
        assert!(printed.contains("curtask->real_parent->pid"), "{printed}");
        assert!(printed.contains("curtask->real_parent->comm"), "{printed}");
        let printed = expanded("BEGIN { $t = curtask; @ = leader_tid($t); @s = leader_comm(); }");
        assert!(printed.contains("$t->group_leader->pid"), "{printed}");
        assert!(printed.contains("curtask->group_leader->comm"), "{printed}");
    }

    #[test]
    fn the_replacement_points_at_the_use() {
        let source = "BEGIN { @ = ppid; }";
        let mut program = parse(source).unwrap();
        super::expand(&mut program).unwrap();
        let crate::ast::Item::Probe(p) = &program.items[0] else {
            panic!()
        };
        let crate::ast::StmtKind::Assign { value, .. } = &p.body.stmts[0].kind else {
            panic!("{:?}", p.body.stmts[0])
        };
        assert_eq!(&source[value.span.range()], "ppid");
    }
}

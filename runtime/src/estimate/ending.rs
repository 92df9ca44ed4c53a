//! Which probes end the run on their first hit: no predicate, and `exit()` on every path
//! through the body. Such a probe takes the hits that come before the run ends (the first on
//! each CPU, in the usual case), not a sustained rate, and is priced so.

use tracebound_compiler::ast::{Block, ExprKind, Item, Probe, Stmt, StmtKind};
use tracebound_compiler::pipeline::Compiled;

/// Whether every hit of `probe` ends the run.
pub fn ends_the_run(probe: &Probe) -> bool {
    probe.predicate.is_none() && block_exits(&probe.body)
}

/// The indexes (in source order) of the script's probes that end the run on every hit.
pub fn ending_probes(compiled: &Compiled) -> Vec<usize> {
    compiled
        .ast
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(p),
            _ => None,
        })
        .enumerate()
        .filter(|(_, p)| ends_the_run(p))
        .map(|(i, _)| i)
        .collect()
}

/// Statements run in order: the block exits if one of them always exits before any of them
/// may leave the block another way (`return`, or `break`/`continue` out of a loop).
fn block_exits(block: &Block) -> bool {
    for stmt in &block.stmts {
        if stmt_exits(stmt) {
            return true;
        }
        if may_leave(stmt) {
            return false;
        }
    }
    false
}

fn stmt_exits(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Expr(e) => matches!(&e.kind, ExprKind::Call { name, .. } if name.name == "exit"),
        StmtKind::If {
            then, otherwise, ..
        } => block_exits(then) && otherwise.as_deref().is_some_and(stmt_exits),
        StmtKind::Block(b) => block_exits(b),
        // A loop's body may run no times.
        _ => false,
    }
}

/// Whether `stmt` may leave its block early.
fn may_leave(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Return(_) | StmtKind::Break | StmtKind::Continue => true,
        StmtKind::If {
            then, otherwise, ..
        } => then.stmts.iter().any(may_leave) || otherwise.as_deref().is_some_and(may_leave),
        StmtKind::Block(b) => b.stmts.iter().any(may_leave),
        StmtKind::While { body, .. }
        | StmtKind::Unroll { body, .. }
        | StmtKind::For { body, .. } => body.stmts.iter().any(may_return),
        _ => false,
    }
}

/// Whether `stmt` may `return` (a `break` inside a loop stays in it).
fn may_return(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Return(_) => true,
        StmtKind::If {
            then, otherwise, ..
        } => then.stmts.iter().any(may_return) || otherwise.as_deref().is_some_and(may_return),
        StmtKind::Block(b) => b.stmts.iter().any(may_return),
        StmtKind::While { body, .. }
        | StmtKind::Unroll { body, .. }
        | StmtKind::For { body, .. } => body.stmts.iter().any(may_return),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::machine::fixture::FixtureFacts;
    use tracebound_compiler::pipeline::{compile, CompileOptions};

    fn ending(script: &str) -> Vec<usize> {
        let compiled = compile(script, &FixtureFacts::bundled(), &CompileOptions::default())
            .unwrap_or_else(|d| panic!("{script}: {}", d[0].message));
        ending_probes(&compiled)
    }

    #[test]
    fn exit_on_every_path_ends_the_run() {
        let tp = "tracepoint:syscalls:sys_enter_openat";
        assert_eq!(
            ending(&format!("{tp} {{ printf(\"hi\\n\"); exit(); }}")),
            [0]
        );
        assert_eq!(
            ending(&format!("{tp} {{ @n = count(); {{ exit(); }} }}")),
            [0]
        );
        assert_eq!(
            ending(&format!(
                "{tp} {{ if (pid > 1) {{ exit(); }} else {{ exit(); }} }}"
            )),
            [0]
        );
        assert_eq!(
            ending(&format!(
                "BEGIN {{ }} {tp} {{ @n = count(); }} {tp} {{ exit(); }}"
            )),
            [2]
        );
    }

    #[test]
    fn exit_on_some_paths_does_not() {
        let tp = "tracepoint:syscalls:sys_enter_openat";
        for body in [
            "{ @n = count(); }",
            "{ if (pid > 1) { exit(); } }",
            "{ if (pid > 1) { exit(); } else { @n = count(); } }",
            "{ if (pid > 1) { return; } exit(); }",
            "{ $i = 0; while ($i < 3) { exit(); } }",
        ] {
            assert!(ending(&format!("{tp} {body}")).is_empty(), "{body}");
        }
        // A predicate: the hits it rejects go on.
        assert!(ending(&format!("{tp} /pid == 1/ {{ exit(); }}")).is_empty());
    }
}

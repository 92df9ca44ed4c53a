//! Map reads a probe's program has made already: `/@start[tid]/ { ... nsecs - @start[tid] }`
//! reads the map once, and the body reuses the value, as nothing wrote `@start` between.
//! Another CPU may write the map meanwhile, but then the one read is what the program would
//! have seen had that write come just after it; the program's own writes are what forget a
//! read. Deliberately narrow, so that a reused value is always one that was computed on
//! every path to its reuse:
//! - a read is noted only in the predicate and in the probe's top-level statements that
//!   assign or call without branching (`straight`: no `?:`, `&&`, `||`, block or loop),
//!   whose code runs whenever anything after it runs;
//! - its key must be the same in every place it is read: literals and the builtins that keep
//!   their value for a whole run of the program (`tid`, `pid`, `cpu`, ...), never a variable;
//! - before and after each top-level statement, the reads of every map it may write (even in
//!   a branch or a loop inside it) are forgotten, and all of them when it calls a function
//!   of the script's.
//!
//! The keys built under the same rules are kept too, and for longer: a key's slot holds the
//! same bytes whatever the map holds, so `delete(@start[tid])` after the predicate's read
//! passes the slot that read built, for the whole program.

use std::collections::HashSet;

use crate::ast::visit::{self, Visitor};
use crate::ast::{BinaryOp, Expr, ExprKind, Stmt, StmtKind};
use crate::ir::{Slot, VReg};
use tracebound_stdlib as stdlib;

/// The reads noted so far in one probe's program.
#[derive(Default)]
pub(crate) struct KnownReads {
    /// `(map, key, register holding the value, signed)`.
    reads: Vec<(usize, String, VReg, bool)>,
    /// `(map, key, slot holding the key as the map lays it out)`.
    keys: Vec<(usize, String, Slot)>,
    /// Whether reads made now may be noted (a straight top-level statement or the predicate).
    pub noting: bool,
}

impl KnownReads {
    /// The register holding the value of `map` at `key`, when it was read already.
    pub fn get(&self, map: usize, key: &str) -> Option<(VReg, bool)> {
        self.reads
            .iter()
            .find(|(m, k, ..)| *m == map && k == key)
            .map(|&(_, _, reg, signed)| (reg, signed))
    }

    pub fn note(&mut self, map: usize, key: String, reg: VReg, signed: bool) {
        if self.noting {
            self.reads.push((map, key, reg, signed));
        }
    }

    /// The slot a key of `map` was built in already.
    pub fn key_slot(&self, map: usize, key: &str) -> Option<Slot> {
        self.keys
            .iter()
            .find(|(m, k, _)| *m == map && k == key)
            .map(|&(.., slot)| slot)
    }

    pub fn note_key(&mut self, map: usize, key: String, slot: Slot) {
        if self.noting {
            self.keys.push((map, key, slot));
        }
    }

    /// Forgets the reads of the maps `names` (`None`: of every map).
    pub fn forget(&mut self, names: &Option<HashSet<String>>, name_of: impl Fn(usize) -> String) {
        match names {
            None => self.reads.clear(),
            Some(names) => self.reads.retain(|(m, ..)| !names.contains(&name_of(*m))),
        }
    }
}

/// The key's text when every part of it has one value for a whole run of the program.
pub(crate) fn key_text(keys: &[Expr]) -> Option<String> {
    let mut text = String::new();
    for k in keys {
        match &k.kind {
            ExprKind::Int(v) => text.push_str(&format!("{v},")),
            ExprKind::Str(s) => text.push_str(&format!("{s:?},")),
            ExprKind::Ident(b) if matches!(b.as_str(), "pid" | "tid" | "cpu" | "uid" | "gid") => {
                text.push_str(&format!("{b},"))
            }
            _ => return None,
        }
    }
    Some(text)
}

/// Whether the statement's code runs whole whenever it runs: an assignment or expression
/// without `?:`, `&&`, `||` or a block in it.
pub(crate) fn straight(s: &Stmt) -> bool {
    match &s.kind {
        StmtKind::Expr(e) => straight_expr(e),
        StmtKind::Assign { target, value, .. } => straight_expr(target) && straight_expr(value),
        StmtKind::Let { value, .. } => value.as_ref().is_none_or(straight_expr),
        _ => false,
    }
}

pub(crate) fn straight_expr(e: &Expr) -> bool {
    let mut ok = true;
    visit::expr(e, &mut |e| match &e.kind {
        ExprKind::Ternary { .. } | ExprKind::Block { .. } => ok = false,
        ExprKind::Binary {
            op: BinaryOp::And | BinaryOp::Or,
            ..
        } => ok = false,
        _ => {}
    });
    ok
}

/// The maps the statement may write anywhere inside it: assigned, updated (`++`), or given
/// whole or keyed to a builtin that may change it (`delete`, `clear`, ...: any but the
/// aggregations and the pure ones); `None` when it calls a function of the script's, which
/// may write any.
pub(crate) fn writes_of(s: &Stmt) -> Option<HashSet<String>> {
    let mut w = Writes {
        maps: HashSet::new(),
        anything: false,
    };
    w.stmt(s);
    (!w.anything).then_some(w.maps)
}

struct Writes {
    maps: HashSet<String>,
    anything: bool,
}

impl<'a> Visitor<'a> for Writes {
    fn stmt(&mut self, s: &'a Stmt) {
        if let StmtKind::Assign { target, .. } = &s.kind {
            if let ExprKind::Map { name, .. } = &target.kind {
                self.maps.insert(name.name.clone());
            }
        }
        visit::walk_stmt(self, s);
    }

    fn expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Update { target, .. } => {
                if let ExprKind::Map { name, .. } = &target.kind {
                    self.maps.insert(name.name.clone());
                }
            }
            ExprKind::Call { name, args } => {
                let builtin = stdlib::lookup(&name.name);
                if builtin.is_none() {
                    self.anything = true;
                }
                // An aggregation or a pure builtin only reads its arguments.
                let reads_only =
                    builtin.is_some_and(|b| b.pure || b.kind == stdlib::Kind::Aggregation);
                for a in args.iter().filter(|_| !reads_only) {
                    if let ExprKind::Map { name, .. } = &a.kind {
                        self.maps.insert(name.name.clone());
                    }
                }
            }
            _ => {}
        }
        visit::walk_expr(self, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Item;
    use crate::parse::parse;

    fn statements(body: &str) -> Vec<Stmt> {
        let program = parse(&format!("BEGIN {{ {body} }}")).expect("parses");
        match program.items.into_iter().next() {
            Some(Item::Probe(p)) => p.body.stmts,
            _ => panic!("a probe"),
        }
    }

    fn names(v: &[&str]) -> Option<HashSet<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn writes_are_found_anywhere_in_a_statement() {
        let s = statements(
            "@a = 1; delete(@b[tid]); if (1) { @c++; } @d = hist(@e[tid]); f(1); \
             while (1) { @g[1] = count(); }",
        );
        let w: Vec<_> = s.iter().map(writes_of).collect();
        assert_eq!(w[0], names(&["a"]));
        assert_eq!(w[1], names(&["b"]));
        assert_eq!(w[2], names(&["c"]));
        assert_eq!(w[3], names(&["d"]));
        assert_eq!(w[4], None, "a function of the script's may write any map");
        assert_eq!(w[5], names(&["g"]));
    }

    #[test]
    fn only_branch_free_statements_and_run_constant_keys_qualify() {
        let s = statements("@x = @m[tid] + 1; @y = tid > 1 ? @m[tid] : 0; if (1) { @z = 1; }");
        assert!(straight(&s[0]));
        assert!(!straight(&s[1]));
        assert!(!straight(&s[2]));
        let key = |body: &str| match &statements(body)[0].kind {
            StmtKind::Assign { value, .. } => match &value.kind {
                ExprKind::Map { keys, .. } => key_text(keys),
                _ => panic!("a map read"),
            },
            _ => panic!("an assignment"),
        };
        assert!(key("@x = @m[tid, 1, \"a\"];").is_some());
        assert_eq!(key("@x = @m[$v];"), None);
        assert_eq!(key("@x = @m[nsecs];"), None);
    }
}

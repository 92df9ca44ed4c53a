//! Which maps a per-CPU array holds instead of a per-CPU hash: an aggregation without keys
//! whose every entry is known before the run, which the kernel only ever adds to and user
//! space only prints or clears. That is a count (`@c = count()`, one entry), a histogram
//! (`@h = hist(x)`, `@h = lhist(x, ...)`, an entry a bucket, the bucket its index), and a
//! count keyed by one kernel stack (`@[kstack] = count()`, an entry a stack id, the id its
//! index, and one more for the hits whose stack the kernel did not record). The kernel
//! inlines an array's lookup, which cannot miss, so the first hit needs no insert and no
//! refused-update path: bpftrace 0.17 keeps a count the same way. What the current release
//! prints stays true: an array holds its entries from the start, but one that is zero on
//! every CPU was never added to (or was cleared), and the runtime leaves it out as it would an
//! absent key (`MapInfo::zero_is_unset`). A map that anything else touches stays a hash:
//! `zero(@c)` must print `@c: 0`, and a read, delete or loop in the kernel is the hash's
//! business. Which aggregations qualify (and how many entries each needs) is the map table's
//! call, once values are inferred (`MapTable::array_entries`).

use std::collections::{HashMap, HashSet};

use crate::ast::visit::{walk_expr, walk_stmt, Visitor};
use crate::ast::{Expr, ExprKind, Item, Program, Stmt, StmtKind};

/// The names of the maps a per-CPU array may hold: key-less, and only aggregated, printed or
/// cleared.
pub fn array_maps(program: &Program) -> HashSet<String> {
    let mut uses = Uses::default();
    for item in &program.items {
        match item {
            Item::Probe(p) => uses.probe(p),
            Item::Function(f) => uses.block(&f.body),
            _ => {}
        }
    }
    let declared: HashSet<&str> = program
        .items
        .iter()
        .filter_map(|i| match i {
            Item::MapDecl(d) => Some(d.map.name.as_str()),
            _ => None,
        })
        .collect();
    // A map counted by stacks of two shapes would index one array by ids of two stack maps.
    let by_one_stack = (uses.stack_counted.into_iter())
        .filter(|(_, shapes)| shapes.len() == 1)
        .map(|(m, _)| m);
    (uses.counted.into_iter())
        .chain(by_one_stack)
        .filter(|m| uses.other.get(m).is_none_or(|n| *n <= 0) && !declared.contains(m.as_str()))
        .collect()
}

/// `kstack`'s arguments as written (`kstack(perf, 5)`: `["perf", "5"]`), or `None` for any
/// other key: which stack map the key's ids come from.
fn kernel_stack_shape(key: &Expr) -> Option<Vec<String>> {
    let (false, args) = super::stacks::stack_call(key)? else {
        return None;
    };
    args.iter()
        .map(|a| match &a.kind {
            ExprKind::Ident(word) => Some(word.clone()),
            ExprKind::Int(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Default)]
struct Uses {
    /// Maps some statement `@m = count()` (or `hist`, `lhist`) aggregates into.
    counted: HashSet<String>,
    /// Maps some statement `@m[kstack] = count()` counts into, with the shapes of the
    /// `kstack`s.
    stack_counted: HashMap<String, HashSet<Vec<String>>>,
    /// Per map, its mentions other than those aggregations and a `print` or `clear` of it
    /// whole.
    other: HashMap<String, i32>,
}

impl<'a> Visitor<'a> for Uses {
    fn stmt(&mut self, s: &'a Stmt) {
        if let StmtKind::Assign {
            target,
            op: None,
            value,
        } = &s.kind
        {
            if let (ExprKind::Map { name, keys }, ExprKind::Call { name: call, args }) =
                (&target.kind, &value.kind)
            {
                let aggregation = match call.name.as_str() {
                    "count" => args.is_empty(),
                    "hist" | "lhist" => true,
                    _ => false,
                };
                if keys.is_empty() && aggregation {
                    self.counted.insert(name.name.clone());
                    // The value's maps are read: theirs is another use.
                    for a in args {
                        self.expr(a);
                    }
                    return;
                }
                let stack = match keys.as_slice() {
                    [key] if call.name == "count" && args.is_empty() => kernel_stack_shape(key),
                    _ => None,
                };
                if let Some(shape) = stack {
                    (self.stack_counted.entry(name.name.clone()).or_default()).insert(shape);
                    return;
                }
            }
        }
        walk_stmt(self, s);
    }

    fn expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Map { name, .. } => *self.other.entry(name.name.clone()).or_default() += 1,
            ExprKind::Call { name, args } if matches!(name.name.as_str(), "print" | "clear") => {
                if let Some(ExprKind::Map { name, keys }) = args.first().map(|a| &a.kind) {
                    if keys.is_empty() {
                        *self.other.entry(name.name.clone()).or_default() -= 1;
                    }
                }
            }
            _ => {}
        }
        walk_expr(self, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn arrays(source: &str) -> Vec<String> {
        let mut names: Vec<String> = array_maps(&parse(source).expect("parses"))
            .into_iter()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn counts_only_counted_printed_or_cleared_are_arrays() {
        assert_eq!(arrays("tracepoint:a:b { @ = count(); }"), vec![""]);
        assert_eq!(
            arrays("tracepoint:a:b { @h = hist(pid); @l = lhist(pid, 0, 10, 1); print(@h); }"),
            vec!["h", "l"]
        );
        // A map read in the value is not aggregated: it stays a hash.
        assert_eq!(
            arrays("tracepoint:a:b { @x = count(); @h = hist(@x); }"),
            vec!["h"]
        );
        assert_eq!(
            arrays(
                "tracepoint:a:b { @c = count(); @d = count(); } \
                 interval:s:1 { print(@c); clear(@c); }"
            ),
            vec!["c", "d"]
        );
    }

    #[test]
    fn counts_by_one_kernel_stack_are_arrays() {
        assert_eq!(
            arrays(
                "tracepoint:a:b { @[kstack] = count(); @p[kstack(perf, 5)] = count(); } \
                 interval:s:1 { print(@); clear(@); }"
            ),
            vec!["", "p"]
        );
        // Two stack maps' ids, a key with more than the stack, a user stack (its key holds
        // the pid too), another value, or a read: a hash.
        for source in [
            "tracepoint:a:b { @[kstack] = count(); } tracepoint:a:c { @[kstack(5)] = count(); }",
            "tracepoint:a:b { @[kstack, comm] = count(); }",
            "tracepoint:a:b { @[ustack] = count(); }",
            "tracepoint:a:b { @[kstack] = sum(1); }",
            "tracepoint:a:b { @[kstack] = count(); } END { print(@[kstack]); }",
        ] {
            assert_eq!(arrays(source), Vec::<String>::new(), "{source}");
        }
    }

    #[test]
    fn anything_else_keeps_the_hash() {
        for source in [
            // It must print `@c: 0`.
            "tracepoint:a:b { @c = count(); } END { zero(@c); }",
            "tracepoint:a:b { @c = count(); if (@c > 5) { exit(); } }",
            "tracepoint:a:b { @c = count(); delete(@c); }",
            "tracepoint:a:b { @c[1] = count(); }",
            "tracepoint:a:b { @c = sum(1); }",
            "tracepoint:a:b { @h[comm] = hist(pid); }",
            "tracepoint:a:b { @h = hist(pid); } END { zero(@h); }",
            "let @c = percpuhash(1); tracepoint:a:b { @c = count(); }",
            "tracepoint:a:b { @c = count(); } fn f(): int64 { return @c; }",
        ] {
            assert_eq!(arrays(source), Vec::<String>::new(), "{source}");
        }
    }
}

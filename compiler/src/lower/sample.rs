//! Sampling a probe 1 in N, an `--auto-filter` step for probes whose program costs most of
//! each hit: which probes can be sampled without changing what their output means once
//! scaled, and which maps are then scaled by N.
//!
//! A probe qualifies when every effect it has is an aggregation into maps no other probe
//! names (counts, sums and histograms scale by N; avg, min and max need no scaling), and
//! otherwise it only computes: no printf, no plain map values, no exit(). Anything else would
//! change meaning, so it is never sampled.

use std::collections::{BTreeMap, HashMap, HashSet};

use tracebound_stdlib::{self as stdlib, Kind, MapArg};

use crate::ast::visit::{walk_stmt, Visitor};
use crate::ast::{self, Expr, ExprKind, Item, Program, Stmt, StmtKind};

/// For every probe that may be sampled (by index among the script's probes), the maps it
/// aggregates into.
pub fn samplable(program: &Program) -> BTreeMap<usize, Vec<String>> {
    let probes: Vec<&ast::Probe> = program
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(p),
            _ => None,
        })
        .collect();
    let named: Vec<HashSet<&str>> = probes.iter().map(|p| maps_named(p)).collect();
    let mut out = BTreeMap::new();
    for (index, probe) in probes.iter().enumerate() {
        let mut pass = OnlyAggregates {
            maps: Vec::new(),
            ok: true,
        };
        pass.block(&probe.body);
        if !pass.ok {
            continue;
        }
        let mut maps = pass.maps;
        let shared = named
            .iter()
            .enumerate()
            .any(|(other, names)| other != index && maps.iter().any(|m| names.contains(&**m)));
        if !maps.is_empty() && !shared {
            maps.sort();
            maps.dedup();
            out.insert(index, maps);
        }
    }
    out
}

/// The maps a probe names, except as the whole map of a call user space carries out (`print`,
/// `clear`, `zero`: they print the scaled values or reset them, so sampling does not change
/// what they mean).
fn maps_named(probe: &ast::Probe) -> HashSet<&str> {
    let mut mentions: HashMap<&str, i32> = HashMap::new();
    ast::visit::probe_exprs(probe, &mut |e| match &e.kind {
        ExprKind::Map { name, .. } => *mentions.entry(name.name.as_str()).or_default() += 1,
        ExprKind::Call { name, args }
            if stdlib::lookup(&name.name).is_some_and(|b| b.map_arg == MapArg::UserSpace) =>
        {
            if let Some(ExprKind::Map { name, .. }) = args.first().map(|a| &a.kind) {
                *mentions.entry(name.name.as_str()).or_default() -= 1;
            }
        }
        _ => {}
    });
    mentions
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(m, _)| m)
        .collect()
}

/// Whether a probe's statements only aggregate (their maps noted in `maps`) and set scratch
/// variables; the expressions conditions and loops read must be pure.
struct OnlyAggregates {
    maps: Vec<String>,
    ok: bool,
}

impl<'a> Visitor<'a> for OnlyAggregates {
    fn stmt(&mut self, s: &'a Stmt) {
        let ok = match &s.kind {
            StmtKind::Assign {
                target,
                op: None,
                value,
            } => match (&target.kind, &value.kind) {
                (ExprKind::Map { name, .. }, ExprKind::Call { name: call, .. })
                    if stdlib::lookup(&call.name).is_some_and(|b| b.kind == Kind::Aggregation) =>
                {
                    self.maps.push(name.name.clone());
                    true
                }
                (ExprKind::Var(_), _) => pure(value),
                _ => false,
            },
            StmtKind::Assign { target, value, .. } => {
                matches!(target.kind, ExprKind::Var(_)) && pure(value)
            }
            StmtKind::Let { value, .. } => value.as_ref().is_none_or(pure),
            StmtKind::Expr(e) => match &e.kind {
                ExprKind::Update { target, .. } => matches!(target.kind, ExprKind::Var(_)),
                _ => false,
            },
            StmtKind::If { .. }
            | StmtKind::While { .. }
            | StmtKind::Unroll { .. }
            | StmtKind::Block(_)
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Return(None) => {
                walk_stmt(self, s);
                true
            }
            StmtKind::For { .. } | StmtKind::Return(Some(_)) => false,
        };
        self.ok &= ok;
    }

    /// A condition, or a loop's condition or count.
    fn expr(&mut self, e: &'a Expr) {
        self.ok &= pure(e);
    }
}

/// An expression without effects: no calls but the builtins the table marks pure, no `++` on
/// maps.
fn pure(e: &Expr) -> bool {
    let mut ok = true;
    ast::visit::expr(e, &mut |e| match &e.kind {
        ExprKind::Call { name, .. } => ok &= stdlib::lookup(&name.name).is_some_and(|b| b.pure),
        ExprKind::Update { target, .. } => ok &= matches!(target.kind, ExprKind::Var(_)),
        ExprKind::Block { .. } => ok = false,
        _ => {}
    });
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn indexes(source: &str) -> Vec<usize> {
        samplable(&parse(source).expect("parses"))
            .into_keys()
            .collect()
    }

    #[test]
    fn aggregations_into_maps_of_their_own_qualify() {
        assert_eq!(indexes("tracepoint:a:b { @[comm] = count(); }"), vec![0]);
        assert_eq!(
            indexes("tracepoint:a:b { $x = arg0 * 2; if ($x > 3) { @h = hist($x); } }"),
            vec![0]
        );
        // Printing and clearing it every second reads no value in the kernel.
        assert_eq!(
            indexes("tracepoint:a:b { @c = count(); } interval:s:1 { print(@c); clear(@c); }"),
            vec![0]
        );
        let s = samplable(&parse("tracepoint:a:b { @a = sum(1); @b = avg(2); }").unwrap());
        assert_eq!(s[&0], vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn anything_whose_meaning_sampling_would_change_does_not() {
        for source in [
            "tracepoint:a:b { printf(\"hi\\n\"); }",
            "tracepoint:a:b { @x = 1; }",
            "tracepoint:a:b { @x++; }",
            "tracepoint:a:b { @c = count(); exit(); }",
            "tracepoint:a:b { delete(@m[1]); @c = count(); }",
            // Another probe reads the map: it would see scaled-down values.
            "tracepoint:a:b { @c = count(); } interval:s:1 { if (@c > 5) { exit(); } }",
            "tracepoint:a:b { @c = count(); } tracepoint:a:c { @c = count(); }",
            "tracepoint:a:b { }",
        ] {
            assert_eq!(indexes(source), Vec::<usize>::new(), "{source}");
        }
    }
}

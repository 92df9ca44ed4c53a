//! Variables that hold the addresses of other variables (`$b = &$a`). Reading through one
//! (`*$b`) reads what the variable pointed at holds, a string or a tuple as much as an
//! integer; the generic dereference reads 8 bytes as an integer, which for anything else
//! prints a different value. When every assignment of `$b` in the probe is the address of the
//! same `$a`, `*$b` is `$a`; when they name several, reading a string or tuple through it is
//! refused (which one it holds is known only at run time).

use std::collections::HashMap;

use crate::ast::visit::{walk_stmt, Visitor};
use crate::ast::{Expr, ExprKind, Probe, Stmt, StmtKind, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// What a variable's assignments make it point at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PointsTo {
    /// Always the variable of this name.
    One(String),
    /// The address of one of these variables, or something else as well.
    Several(Vec<String>),
}

/// For every variable some assignment gives the address of a variable, what it points at.
pub(crate) fn var_pointers(probe: &Probe) -> HashMap<String, PointsTo> {
    let mut found = Assigned::default();
    found.probe(probe);
    let mut out = HashMap::new();
    for (var, values) in found.0 {
        let targets: Vec<String> = values.iter().flatten().cloned().collect();
        if targets.is_empty() {
            continue;
        }
        let one = values.iter().all(|v| v.as_ref() == Some(&targets[0]));
        out.insert(
            var,
            if one {
                PointsTo::One(targets[0].clone())
            } else {
                PointsTo::Several(targets)
            },
        );
    }
    out
}

/// The refusal of `*$p` at `span` when `$p` may hold the address of one of several variables
/// and one of them (`not_int` says which) holds a string or tuple: the read through it would
/// take 8 bytes of it as an integer.
pub(crate) fn refused(
    pointers: &HashMap<String, PointsTo>,
    p: &str,
    not_int: impl Fn(&str) -> bool,
    span: Span,
) -> Option<Diagnostic> {
    let Some(PointsTo::Several(targets)) = pointers.get(p) else {
        return None;
    };
    let x = targets.iter().find(|x| not_int(x))?;
    Some(
        Diagnostic::error(
            format!("`*${p}` cannot read a string or tuple: `${p}` holds more than one address"),
            span,
            format!("`${x}` or another variable"),
        )
        .with_note(format!(
            "only a variable every assignment gives the address of one variable (`${p} = &${x}`) \
             reads that variable's string or tuple through `*${p}`"
        ))
        .with_help(format!("read `${x}` itself")),
    )
}

/// Each variable's assignments: the variable whose address it is given, or `None` for any
/// other value (a compound assignment, a `for` binding, anything but `&$x`).
#[derive(Default)]
struct Assigned(HashMap<String, Vec<Option<String>>>);

fn address_of_var(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Unary {
            op: UnaryOp::AddrOf,
            expr,
        } => match &expr.kind {
            ExprKind::Var(name) => Some(name.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl<'a> Visitor<'a> for Assigned {
    fn stmt(&mut self, s: &'a Stmt) {
        let (var, value) = match &s.kind {
            StmtKind::Assign { target, op, value } => match &target.kind {
                ExprKind::Var(name) => (
                    Some(name.clone()),
                    op.is_none().then(|| address_of_var(value)).flatten(),
                ),
                _ => (None, None),
            },
            StmtKind::Let { var, value, .. } => (
                Some(var.name.clone()),
                value.as_ref().and_then(address_of_var),
            ),
            StmtKind::For { var, .. } => (Some(var.name.clone()), None),
            _ => (None, None),
        };
        if let Some(var) = var {
            self.0.entry(var).or_default().push(value);
        }
        walk_stmt(self, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Item;
    use crate::parse::parse;

    fn pointers(source: &str) -> HashMap<String, PointsTo> {
        let program = parse(source).unwrap();
        let Some(Item::Probe(p)) = program.items.first() else {
            panic!("a probe");
        };
        var_pointers(p)
    }

    #[test]
    fn a_variable_only_ever_given_one_address_points_at_that_variable() {
        let p = pointers("BEGIN { $a = \"x\"; $b = &$a; $c = &$a; $c = &$b; $d = 1; }");
        assert_eq!(p.get("b"), Some(&PointsTo::One("a".into())));
        assert_eq!(
            p.get("c"),
            Some(&PointsTo::Several(vec!["a".into(), "b".into()]))
        );
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("d"), None);
        // Given an address and something else: several.
        let p = pointers("BEGIN { $a = 1; $b = &$a; if (1) { $b = 0; } }");
        assert_eq!(p.get("b"), Some(&PointsTo::Several(vec!["a".into()])));
    }

    #[test]
    fn a_string_read_through_a_pointer_to_several_is_refused_at_the_read() {
        let source = "BEGIN { $a = \"s\"; $c = \"t\"; $b = &$a; if (pid > 1) { $b = &$c; } \
                      print(*$b); $i = 1; $j = 2; $k = &$i; if (pid > 1) { $k = &$j; } \
                      print(*$k); }";
        let program = parse(source).unwrap();
        let errors: Vec<(String, &str)> =
            (crate::check::check(&program, &crate::check::CheckOptions::default()).into_iter())
                .filter(|d| d.is_error())
                .map(|d| (d.message.clone(), &source[d.span().range()]))
                .collect();
        assert_eq!(
            errors,
            [(
                "`*$b` cannot read a string or tuple: `$b` holds more than one address".to_string(),
                "*$b"
            )]
        );
    }
}

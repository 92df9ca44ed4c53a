//! The script's macros by name, each with its parameters sorted by kind, and the lookup that
//! picks the definition a call means: the first whose parameters all accept the call's
//! arguments, or else the closest, for the diagnostic.

use std::collections::HashMap;

use crate::ast::{Expr, ExprKind, Item, Macro, Program};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use tracebound_stdlib as stdlib;

/// What a macro parameter takes, and the name it goes by in the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Param {
    /// `$x`: a scratch variable of the caller's, which the body may change.
    Var(String),
    /// `@m`: a map of the caller's, which the body may change.
    Map(String),
    /// `x`: any expression, evaluated wherever the body names it.
    Name(String),
}

impl Param {
    fn of(e: &Expr) -> Option<Param> {
        match &e.kind {
            ExprKind::Var(v) => Some(Param::Var(v.clone())),
            ExprKind::Map { name, keys } if keys.is_empty() => Some(Param::Map(name.name.clone())),
            ExprKind::Ident(n) => Some(Param::Name(n.clone())),
            _ => None,
        }
    }

    fn written(&self) -> String {
        match self {
            Param::Var(v) => format!("${v}"),
            Param::Map(m) => format!("@{m}"),
            Param::Name(n) => n.clone(),
        }
    }

    /// Whether an argument of this shape may stand for the parameter.
    fn accepts(&self, arg: &Expr) -> bool {
        match self {
            Param::Var(_) => matches!(arg.kind, ExprKind::Var(_)),
            Param::Map(_) => is_bare_map(arg),
            Param::Name(_) => true,
        }
    }
}

/// A builtin that stands without arguments (`pid`, `comm`, `nsecs`).
pub(super) fn bare_builtin(name: &str) -> bool {
    stdlib::lookup(name).is_some_and(|b| b.kind != stdlib::Kind::Aggregation && b.required == 0)
}

pub(super) fn is_bare_map(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Map { keys, .. } if keys.is_empty())
}

/// One `macro` item, its parameters read.
pub(super) struct Definition<'p> {
    pub item: &'p Macro,
    pub params: Vec<Param>,
}

impl Definition<'_> {
    /// How far the arguments are from fitting: a missing or extra argument outweighs any
    /// number of arguments of the wrong kind.
    fn distance(&self, args: &[Expr]) -> usize {
        let arity = self.params.len().abs_diff(args.len()) * 1024;
        let kinds = self
            .params
            .iter()
            .zip(args)
            .filter(|(p, a)| !p.accepts(a))
            .count();
        arity + kinds
    }
}

pub(super) enum Lookup<'d, 'p> {
    Found(&'d Definition<'p>),
    /// No definition fits; the closest one.
    Mismatch(&'d Definition<'p>),
    /// No macro has the name.
    Absent,
}

pub(super) struct Definitions<'p> {
    by_name: HashMap<&'p str, Vec<Definition<'p>>>,
}

impl<'p> Definitions<'p> {
    /// Reads the script's macros in order; a definition that is malformed or that an earlier
    /// one already covers is reported and left out.
    pub fn read(program: &'p Program, diags: &mut Vec<Diagnostic>) -> Definitions<'p> {
        let mut defs = Definitions {
            by_name: HashMap::new(),
        };
        for item in &program.items {
            let Item::Macro(m) = item else { continue };
            let Some(params) = read_params(m, diags) else {
                continue;
            };
            if let Lookup::Found(earlier) = defs.lookup(&m.name.name, &m.params) {
                diags.push(
                    Diagnostic::error(
                        format!("redefinition of macro `{}`", m.name.name),
                        m.name.span,
                        "defined again",
                    )
                    .with_label(
                        earlier.item.name.span,
                        "the earlier definition, which every call of this one would use",
                    ),
                );
                continue;
            }
            defs.by_name
                .entry(&m.name.name)
                .or_default()
                .push(Definition { item: m, params });
        }
        defs
    }

    pub fn lookup<'d>(&'d self, name: &str, args: &[Expr]) -> Lookup<'d, 'p> {
        let Some(candidates) = self.by_name.get(name) else {
            return Lookup::Absent;
        };
        if let Some(exact) = candidates.iter().find(|d| d.distance(args) == 0) {
            return Lookup::Found(exact);
        }
        match candidates.iter().min_by_key(|d| d.distance(args)) {
            Some(closest) => Lookup::Mismatch(closest),
            None => Lookup::Absent,
        }
    }
}

/// A macro's parameters, each once, none a builtin's name.
fn read_params(m: &Macro, diags: &mut Vec<Diagnostic>) -> Option<Vec<Param>> {
    let mut params: Vec<Param> = Vec::new();
    for e in &m.params {
        let Some(p) = Param::of(e) else {
            diags.push(
                Diagnostic::error(
                    "macro parameters are `$variable`, `@map` or a bare name",
                    e.span,
                    "not a parameter",
                )
                .with_help("an argument expression goes in the call, e.g. `macro add(x) { x + 1 }` then `add(1 + 2)`"),
            );
            return None;
        };
        if let Param::Name(n) = &p {
            if bare_builtin(n) {
                diags.push(Diagnostic::error(
                    format!("builtin `{n}` can't be used as a macro argument"),
                    e.span,
                    "a builtin",
                ));
                return None;
            }
        }
        if params.contains(&p) {
            diags.push(duplicate_param(&p, e.span));
            return None;
        }
        params.push(p);
    }
    Some(params)
}

fn duplicate_param(p: &Param, span: Span) -> Diagnostic {
    let kind = match p {
        Param::Var(_) => "variable",
        Param::Map(_) => "map",
        Param::Name(_) => "name",
    };
    Diagnostic::error(
        format!(
            "{kind} for macro argument has already been used: `{}`",
            p.written()
        ),
        span,
        "a second parameter of this name",
    )
}

impl Param {
    /// `$x`, `@m` or `x`, as the user wrote it.
    pub fn display(&self) -> String {
        self.written()
    }

    pub fn kind_word(&self) -> &'static str {
        match self {
            Param::Var(_) => "a variable",
            Param::Map(_) => "a map",
            Param::Name(_) => "an expression",
        }
    }
}

//! Checks that need no kernel: attach point shapes, names (builtins, functions, macros,
//! variables, positional parameters), arities, map key and value consistency, and the value
//! types that are known from the text alone. This is what `--check` runs; the resolver adds
//! what needs machine facts (tracepoint formats, BTF, symbols).

pub(crate) mod address;
mod attach;
mod calls;
mod cast;
pub(crate) mod fold;
pub mod format;
mod map_decl;
pub(crate) mod range;
mod script_floats;
mod script_offsets;
mod trace_printk;
pub(crate) mod var_pointers;

pub(crate) use calls::refused_builtin;

use std::collections::{HashMap, HashSet};

use tracebound_stdlib::{self as stdlib, Contexts, Kind};

use crate::ast::visit::{walk_stmt, Visitor};
use crate::ast::*;
use crate::diagnostic::{nearest, Diagnostic};
use crate::probe::{self, ArgSource, Provider};
use crate::program::StackMode;
use crate::span::Span;

/// What the caller knows that the text does not say.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// The positional parameters given; `None` when unknown (`--check` without arguments).
    /// When known, `positional::substitute` replaces every `$N` before check runs; when
    /// not, `$N` is checked only for being `$1` or later.
    pub positional: Option<Vec<String>>,
    /// `--unsafe` was given: destructive functions (system, signal, override) are allowed.
    pub unsafe_allowed: bool,
    /// The configuration the environment sets (`BPFTRACE_*`, from `config::environment`):
    /// it overrides the script's `config` block.
    pub environment: Vec<(String, String)>,
    /// The named options the command line gave (`-- --name=value`), checked against the
    /// script's `getopt` calls; the others take their defaults.
    pub program_options: std::collections::HashMap<String, crate::program_options::OptionValue>,
    /// `--probe-filter REGEX`: only the attach points whose names it matches are compiled
    /// (BEGIN and END always are).
    pub probe_filter: Option<String>,
    /// `--include FILE`: headers included before the script, as its own `#include <FILE>`.
    pub includes: Vec<String>,
    /// `-I DIR`: where included headers are looked for first.
    pub include_dirs: Vec<std::path::PathBuf>,
}

/// The value shapes known from the text alone. Anything else is `Unknown` and not checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Int,
    Str,
    Tuple(usize),
    /// `kstack`/`ustack` in a mode (the script's `stack_mode` unless written) with a frame
    /// count: a type each, as in the current release, so two of them do not share a map.
    Stack {
        user: bool,
        mode: StackMode,
        limit: u32,
    },
    Unknown,
}

impl Shape {
    fn describe(self) -> String {
        match self {
            Shape::Int => "an integer".into(),
            Shape::Str => "a string".into(),
            Shape::Tuple(n) => format!("a tuple of {n}"),
            Shape::Stack { user, mode, limit } => {
                let name = if user { "ustack" } else { "kstack" };
                let mode = match mode {
                    StackMode::Bpftrace => "bpftrace",
                    StackMode::Perf => "perf",
                    StackMode::Raw => "raw",
                    StackMode::BuildId => "build_id",
                };
                format!("{name}({mode}, {limit})")
            }
            Shape::Unknown => "a value".into(),
        }
    }

    /// Two known shapes that cannot share a variable or a map.
    fn conflicts_with(self, other: Shape) -> bool {
        self != Shape::Unknown && other != Shape::Unknown && self != other
    }
}

struct MapInfo {
    /// Key arity (a tuple key of n counts as n) and where it was first seen.
    keys: Option<(usize, Span)>,
    /// The shape of each key (for a single key) where known, and where it was first seen.
    key_shapes: Option<(Vec<Shape>, Span)>,
    /// Aggregation name or value shape, and where it was first assigned.
    aggregation: Option<(&'static str, Span)>,
    value: Option<(Shape, Span)>,
    /// Assigned somewhere (or declared, or handed to a macro that may assign it).
    assigned: bool,
    /// The first place a probe reads it.
    first_read: Option<Span>,
    /// The bounds of its first `lhist(x, min, max, step)` and where: one map has one set.
    lhist: Option<(Vec<Option<i64>>, Span)>,
    /// `let @m = kind(n);`: the declared kind and the declaration.
    declared: Option<(MapDeclKind, Span)>,
    /// Read, written or named whole by a probe, macro or function.
    used: bool,
}

impl MapInfo {
    fn new() -> MapInfo {
        MapInfo {
            keys: None,
            key_shapes: None,
            aggregation: None,
            value: None,
            assigned: false,
            first_read: None,
            lhist: None,
            declared: None,
            used: false,
        }
    }

    /// Notes the number of keys a use has; a number unlike the first use's is a diagnostic.
    fn note_arity(&mut self, display: &str, arity: usize, span: Span) -> Option<Diagnostic> {
        match self.keys {
            Some((n, first)) if n != arity => {
                let describe = |n: usize| match n {
                    0 => "no key".to_string(),
                    1 => "1 key".to_string(),
                    n => format!("{n} keys"),
                };
                Some(
                    Diagnostic::error(
                        format!("map `{display}` is used with different numbers of keys"),
                        span,
                        format!("used with {} here", describe(arity)),
                    )
                    .with_label(first, format!("first used with {} here", describe(n)))
                    .with_help("use the same keys everywhere, e.g. always `@m[pid, comm]`"),
                )
            }
            Some(_) => None,
            None => {
                self.keys = Some((arity, span));
                None
            }
        }
    }

    /// Notes the shapes of a use's keys; a position keyed by an integer in one place and a
    /// string in another is a diagnostic.
    fn note_key_shapes(
        &mut self,
        display: &str,
        shapes: &[Shape],
        keys: &[Expr],
        span: Span,
    ) -> Option<Diagnostic> {
        match &self.key_shapes {
            Some((old, first)) if old.len() == shapes.len() => {
                let (i, (a, b)) = old
                    .iter()
                    .zip(shapes)
                    .enumerate()
                    .find(|(_, (a, b))| a.conflicts_with(**b))?;
                let which = if shapes.len() > 1 {
                    format!("key {} of ", i + 1)
                } else {
                    String::new()
                };
                Some(
                    Diagnostic::error(
                        format!("{which}map `{display}` is keyed by different types"),
                        keys.get(i).map_or(span, |k| k.span),
                        format!("this key is {}", b.describe()),
                    )
                    .with_label(*first, format!("keyed by {} here", a.describe()))
                    .with_help("a map's keys have one type; use another map for these"),
                )
            }
            Some(_) => None,
            None => {
                self.key_shapes = Some((shapes.to_vec(), span));
                None
            }
        }
    }

    /// Notes a value assigned to the map; an aggregation unlike the one it holds, an
    /// aggregation beside plain values, or a value of another type is a diagnostic.
    fn note_assigned(&mut self, display: &str, assigned: Assigned) -> Option<Diagnostic> {
        let Assigned {
            aggregation: agg,
            shape,
            span,
        } = assigned;
        let diag = match (agg, self.aggregation, self.value) {
            (Some((new, _)), Some((old, old_span)), _) if new != old => Some(
                Diagnostic::error(
                    format!("map `{display}` is assigned {new}() but already holds {old}()"),
                    span,
                    format!("{new}() here"),
                )
                .with_label(old_span, format!("{old}() here")),
            ),
            (Some((new, _)), None, Some((_, old_span))) | (None, Some((new, old_span)), _)
                if agg.is_none() != self.aggregation.is_none() =>
            {
                Some(
                    Diagnostic::error(
                        format!("map `{display}` mixes an aggregation with plain values"),
                        span,
                        "assigned here",
                    )
                    .with_label(
                        old_span,
                        format!("{new}() and plain values cannot share a map"),
                    ),
                )
            }
            (None, None, Some((old, old_span))) if old.conflicts_with(shape) => Some(
                Diagnostic::error(
                    format!("type mismatch for map `{display}`"),
                    span,
                    format!("this is {}", shape.describe()),
                )
                .with_label(
                    old_span,
                    format!("`{display}` holds {} from here", old.describe()),
                ),
            ),
            _ => None,
        };
        if let Some(a) = agg {
            self.aggregation.get_or_insert(a);
        } else if self.value.is_none() || self.value.is_some_and(|(s, _)| s == Shape::Unknown) {
            self.value = Some((shape, span));
        }
        diag
    }
}

/// What an assignment puts into a map: an aggregation, or a value of some shape.
pub(crate) struct Assigned {
    aggregation: Option<(&'static str, Span)>,
    shape: Shape,
    span: Span,
}

struct VarInfo {
    shape: Shape,
    span: Span,
}

pub(crate) struct Checker<'p> {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) options: &'p CheckOptions,
    pub(crate) macros: HashMap<&'p str, &'p Macro>,
    pub(crate) functions: HashMap<&'p str, &'p Function>,
    maps: HashMap<String, MapInfo>,
    vars: HashMap<String, VarInfo>,
    /// What the probe's variables that hold other variables' addresses point at.
    var_pointers: HashMap<String, var_pointers::PointsTo>,
    /// What the probe being checked can see; `None` inside macros and functions, whose
    /// bodies are checked where they are used.
    contexts: Option<Contexts>,
    /// The provider of the probe's first attach point, to name it in diagnostics.
    provider: Option<&'static Provider>,
    /// Bare names bound in the current macro body.
    macro_names: HashSet<String>,
    /// Enumerators of enums defined in the script.
    enumerators: HashSet<&'p str>,
    /// Whether the script includes C headers (`#include`, `--include`): then any bare name
    /// may be one of their macros (`__NR_read`, `SYS_read`), which only resolve can read.
    includes_headers: bool,
    /// Bytes a string holds, its NUL included (`max_strlen`).
    max_strlen: u64,
    /// The mode of a stack that does not name one (`stack_mode`).
    stack_mode: StackMode,
    loops: usize,
}

/// Runs every check; returns warnings and errors in source order.
pub fn check(program: &Program, options: &CheckOptions) -> Vec<Diagnostic> {
    let mut c = Checker {
        diags: Vec::new(),
        options,
        macros: HashMap::new(),
        functions: HashMap::new(),
        maps: HashMap::new(),
        vars: HashMap::new(),
        var_pointers: HashMap::new(),
        contexts: None,
        provider: None,
        macro_names: HashSet::new(),
        enumerators: HashSet::new(),
        includes_headers: !options.includes.is_empty()
            || (program.directives.iter())
                .any(|d| matches!(d.kind, crate::lex::DirectiveKind::Include(_))),
        max_strlen: u64::from(crate::config::Limits::default().max_strlen),
        stack_mode: StackMode::default(),
        loops: 0,
    };
    for item in &program.items {
        match item {
            Item::Macro(m) => {
                c.define_once(
                    &m.name,
                    c.macros.contains_key(m.name.name.as_str()),
                    "macro",
                );
                c.macros.insert(&m.name.name, m);
            }
            Item::Function(f) => {
                c.define_once(
                    &f.name,
                    c.functions.contains_key(f.name.name.as_str()),
                    "function",
                );
                c.functions.insert(&f.name.name, f);
            }
            Item::CDefinition(d) => {
                for inner in d.with_nested() {
                    if let CBody::Enumerators(values) = &inner.body {
                        c.enumerators
                            .extend(values.iter().map(|(n, _)| n.name.as_str()));
                    }
                }
            }
            Item::MapDecl(m) => c.note_map_decl(m),
            _ => {}
        }
    }
    // The config block and the environment: every key read or refused (`config`).
    let (limits, config_diags) = crate::config::read(program, &options.environment);
    c.max_strlen = u64::from(limits.max_strlen);
    c.stack_mode = limits.stack_mode;
    c.diags.extend(config_diags);
    let mut saw_probe = false;
    for item in &program.items {
        match item {
            Item::Probe(p) => {
                saw_probe = true;
                c.probe(p);
            }
            Item::Config(_) => {}
            Item::Macro(m) => c.macro_body(m),
            Item::Function(f) => c.function_body(f),
            Item::MapDecl(m) => c.map_decl(m),
            Item::Import(_) | Item::CDefinition(_) => {}
        }
    }
    c.maps_never_assigned();
    c.declared_maps_unused();
    attach::iterator_runs_alone(program, &mut c.diags);
    script_offsets::check(program, &mut c.diags);
    script_floats::check(program, &mut c.diags);
    if !saw_probe {
        let end = program
            .items
            .last()
            .map_or(Span::default(), |i| item_span(i).after());
        c.diags.push(
            Diagnostic::error("the script has no probes", end, "nothing to attach")
                .with_help("add a probe, e.g. `BEGIN { printf(\"hello\\n\"); }`"),
        );
    }
    c.diags.sort_by_key(|d| d.span().start);
    c.diags
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Probe(p) => p.span,
        Item::Config(c) => c.span,
        Item::Macro(m) => m.span,
        Item::Function(f) => f.span,
        Item::Import(i) => i.span,
        Item::CDefinition(d) => d.span,
        Item::MapDecl(m) => m.span,
    }
}

/// The arity of a key list: `@m[a, b]` and `@m[(a, b)]` both have two.
fn key_arity(keys: &[Expr]) -> usize {
    match keys {
        [Expr {
            kind: ExprKind::Tuple(items),
            ..
        }] => items.len(),
        keys => keys.len(),
    }
}

/// The statements of probes, macros and functions, in order; expressions are checked for
/// their shape (`expr_shape`), which is not a walk but a fold: each returns what it is.
impl<'a> Visitor<'a> for Checker<'_> {
    /// A statement after `exit()`, `return`, `break` or `continue` in the same block never
    /// runs: a warning, in the current release's words, at the first such statement.
    fn block(&mut self, b: &'a Block) {
        let ends = |s: &Stmt| match &s.kind {
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(_) => true,
            StmtKind::Expr(Expr {
                kind: ExprKind::Call { name, .. },
                ..
            }) => name.name == "exit",
            _ => false,
        };
        if let Some(at) = b.stmts.iter().position(ends) {
            if let Some(next) = b.stmts.get(at + 1) {
                self.diags.push(Diagnostic::warning(
                    "Unreachable statement",
                    next.span,
                    "never runs",
                ));
            }
        }
        crate::ast::visit::walk_block(self, b);
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::Let { var, ty, value } => {
                if let Some(v) = value {
                    self.not_void(v, "assigned");
                    if let Some(ty) = ty {
                        self.literal_fits(ty, v);
                    }
                }
                let shape = value.as_ref().map_or(Shape::Unknown, |v| self.value(v));
                self.bind(&var.name, shape, var.span);
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.loop_body(body);
            }
            StmtKind::Unroll { count, body } => {
                if !matches!(count.kind, ExprKind::Int(_) | ExprKind::Positional(_)) {
                    self.diags.push(
                        Diagnostic::error(
                            "unroll needs a constant count",
                            count.span,
                            "not a constant",
                        )
                        .with_help("write a number, as in `unroll(5) { ... }`"),
                    );
                } else if let ExprKind::Int(n @ (0 | 101..)) = count.kind {
                    // The current release's words.
                    let bound = if n == 0 {
                        "minimum value is 1"
                    } else {
                        "maximum value is 100"
                    };
                    self.diags
                        .push(Diagnostic::error(format!("unroll {bound}"), count.span, ""));
                }
                self.block(body);
            }
            StmtKind::For { var, iter, body } => {
                let shape = match iter {
                    ForIter::Map(m) => {
                        if !matches!(&m.kind, ExprKind::Map { keys, .. } if keys.is_empty()) {
                            self.diags.push(
                                Diagnostic::error(
                                    "`for` iterates over a map or a range",
                                    m.span,
                                    "not a map",
                                )
                                .with_help("write `for ($kv : @map)` or `for ($i : 0..10)`"),
                            );
                        } else {
                            self.whole_map(m);
                        }
                        Shape::Tuple(2)
                    }
                    ForIter::Range(a, b) => {
                        self.expr(a);
                        self.expr(b);
                        self.diags.extend(range::too_many_counts(a, b));
                        Shape::Int
                    }
                };
                self.bind(&var.name, shape, var.span);
                self.loop_body(body);
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loops == 0 {
                    let word = if matches!(stmt.kind, StmtKind::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.diags.push(Diagnostic::error(
                        format!("`{word}` outside of a loop"),
                        stmt.span,
                        "not inside `while` or `for`",
                    ));
                }
            }
            StmtKind::Expr(_) | StmtKind::If { .. } | StmtKind::Return(_) | StmtKind::Block(_) => {
                walk_stmt(self, stmt)
            }
        }
    }

    fn expr(&mut self, e: &'a Expr) {
        self.expr_shape(e);
    }
}

impl<'p> Checker<'p> {
    fn define_once(&mut self, name: &Ident, exists: bool, what: &str) {
        if exists {
            self.diags.push(Diagnostic::error(
                format!("{what} `{}` is defined twice", name.name),
                name.span,
                "second definition",
            ));
        }
    }

    fn probe(&mut self, probe: &Probe) {
        let mut contexts = Contexts(0);
        self.provider = None;
        for ap in &probe.attach_points {
            let positionals = attach::positionals(ap);
            for (n, span) in &positionals {
                self.positional(*n, *span);
            }
            // An argument not yet known may name the probe type (`BEG$1`, a whole `$1`).
            let provider_unknown = positionals.first().is_some_and(|(_, span)| {
                !ap.text[..(span.start - ap.span.start) as usize].contains(':')
            });
            if provider_unknown {
                contexts = Contexts::ANY;
                continue;
            }
            match attach::check_attach_point(ap, &mut self.diags) {
                Some(p) => {
                    contexts = contexts.union(p.contexts);
                    self.provider.get_or_insert(p);
                }
                None => contexts = Contexts::ANY,
            }
        }
        self.contexts = Some(contexts);
        self.vars.clear();
        self.var_pointers = var_pointers::var_pointers(probe);
        if let Some(pred) = &probe.predicate {
            self.expr(pred);
        }
        self.block(&probe.body);
        self.contexts = None;
    }

    fn macro_body(&mut self, m: &'p Macro) {
        self.vars.clear();
        self.macro_names.clear();
        for p in &m.params {
            match &p.kind {
                ExprKind::Var(v) => self.bind(v, Shape::Unknown, p.span),
                ExprKind::Ident(n) => {
                    self.macro_names.insert(n.clone());
                }
                ExprKind::Map { keys, .. } if keys.is_empty() => {}
                _ => self.diags.push(Diagnostic::error(
                    "macro parameters are `$variable`, `@map` or a bare name",
                    p.span,
                    "not a parameter",
                )),
            }
        }
        self.block(&m.body);
        self.macro_names.clear();
    }

    fn function_body(&mut self, f: &Function) {
        self.vars.clear();
        for (name, _) in &f.params {
            self.bind(&name.name, Shape::Unknown, name.span);
        }
        self.block(&f.body);
    }

    fn bind(&mut self, name: &str, shape: Shape, span: Span) {
        self.vars.insert(name.to_string(), VarInfo { shape, span });
    }

    fn loop_body(&mut self, body: &Block) {
        self.loops += 1;
        self.block(body);
        self.loops -= 1;
    }

    fn assign(&mut self, target: &Expr, op: Option<BinaryOp>, value: &Expr) {
        // `@m = count()` is the only place an aggregation may stand.
        let aggregation = match &value.kind {
            ExprKind::Call { name, args }
                if op.is_none() && matches!(target.kind, ExprKind::Map { .. }) =>
            {
                stdlib::lookup(&name.name)
                    .filter(|b| {
                        b.kind == Kind::Aggregation && !self.macros.contains_key(name.name.as_str())
                    })
                    .map(|b| (b, name, args))
            }
            _ => None,
        };
        let shape = match aggregation {
            Some((b, name, args)) => {
                self.call_args(b, name, args, value.span);
                Shape::Unknown
            }
            None => {
                self.not_void(value, "assigned");
                self.value(value)
            }
        };
        match &target.kind {
            ExprKind::Var(name) => {
                if op.is_some() {
                    self.read_var(name, target.span);
                }
                let shape = if op.is_some() { Shape::Int } else { shape };
                match self.vars.get(name) {
                    Some(info) if info.shape.conflicts_with(shape) => {
                        let d = Diagnostic::error(
                            format!("type mismatch for `${name}`"),
                            value.span,
                            format!("this is {}", shape.describe()),
                        )
                        .with_label(
                            info.span,
                            format!("`${name}` holds {} from here", info.shape.describe()),
                        )
                        .with_help(
                            "a variable keeps one type; use another variable for this value",
                        );
                        self.diags.push(d);
                    }
                    Some(_) => {}
                    None => self.bind(name, shape, target.span),
                }
            }
            ExprKind::Map { name, .. } => {
                self.lhist_bounds_agree(&name.name, value);
                let agg = aggregation.map(|(b, _, _)| (b.name, value.span));
                let shape = if op.is_some() { Shape::Int } else { shape };
                self.map_use(
                    target,
                    Some(Assigned {
                        aggregation: agg,
                        shape,
                        span: value.span,
                    }),
                );
            }
            ExprKind::Ident(_) => {} // `_ = expr;`
            _ => self.expr(target),
        }
    }

    /// `let $x: uint16 = -1`: a literal converted implicitly must fit the declared type,
    /// as in bpftrace (an explicit cast, `(uint16)-1`, truncates on purpose).
    fn literal_fits(&mut self, ty: &TypeName, value: &Expr) {
        let (TypeBase::Builtin(name), 0, None) = (&ty.base, ty.pointers, &ty.array) else {
            return;
        };
        let signed = name.starts_with("int");
        if !signed && !name.starts_with("uint") {
            return;
        }
        let Ok(bits) = name
            .trim_start_matches('u')
            .trim_start_matches("int")
            .parse::<u32>()
        else {
            return;
        };
        let (lo, hi): (i128, i128) = if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        let literal = match &value.kind {
            ExprKind::Int(n) => Some(*n as i128),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => match expr.kind {
                ExprKind::Int(n) => Some(-(n as i128)),
                _ => None,
            },
            _ => None,
        };
        if let Some(v) = literal.filter(|v| *v < lo || *v > hi) {
            self.diags.push(
                Diagnostic::error(
                    format!("integer literal {v} does not fit `{name}` ({lo} to {hi})"),
                    value.span,
                    format!("out of range for {name}"),
                )
                .with_label(ty.span, "declared here")
                .with_help(format!("to truncate it on purpose, cast it: `({name}){v}`")),
            );
        }
    }

    /// Every `lhist()` into one map has the same bounds (the map's buckets are its
    /// bounds; bpftrace refuses others too).
    fn lhist_bounds_agree(&mut self, map: &str, value: &Expr) {
        let ExprKind::Call { name, args } = &value.kind else {
            return;
        };
        if name.name != "lhist" || args.len() != 4 {
            return;
        }
        let bounds: Vec<Option<i64>> = args[1..].iter().map(calls::int_value).collect();
        let info = self
            .maps
            .entry(map.to_string())
            .or_insert_with(MapInfo::new);
        match &info.lhist {
            None => info.lhist = Some((bounds, value.span)),
            Some((first, first_span)) if *first != bounds => {
                let d = Diagnostic::error(
                    format!("map `@{map}` has lhist() with other bounds elsewhere"),
                    value.span,
                    "these bounds",
                )
                .with_label(*first_span, "first bounds here")
                .with_help("one map has one set of lhist() buckets; use another map for these");
                self.diags.push(d);
            }
            Some(_) => {}
        }
    }

    /// A use of a whole map (`for`, `print(@m)`, `clear(@m)`): says nothing about its keys.
    pub(crate) fn whole_map(&mut self, map: &Expr) {
        if let ExprKind::Map { name, .. } = &map.kind {
            let in_probe = self.contexts.is_some();
            let info = self
                .maps
                .entry(name.name.clone())
                .or_insert_with(MapInfo::new);
            info.used = true;
            if in_probe {
                info.first_read.get_or_insert(map.span);
            }
        }
    }

    /// A map that something other than the script's own statements may fill: handed to a
    /// macro whose body may assign it.
    pub(crate) fn map_defined_elsewhere(&mut self, name: &str) {
        let info = self
            .maps
            .entry(name.to_string())
            .or_insert_with(MapInfo::new);
        info.assigned = true;
        info.used = true;
    }

    /// Records a use of a map: its key arity, and for assignments its value.
    pub(crate) fn map_use(&mut self, map: &Expr, assigned: Option<Assigned>) {
        let ExprKind::Map { name, keys } = &map.kind else {
            return;
        };
        for k in keys {
            self.not_void(k, "used as a map key");
        }
        let shapes: Vec<Shape> = keys.iter().map(|k| self.expr_shape(k)).collect();
        let display = if name.name.is_empty() {
            "@".to_string()
        } else {
            format!("@{}", name.name)
        };
        let in_probe = self.contexts.is_some();
        let info = self
            .maps
            .entry(name.name.clone())
            .or_insert_with(MapInfo::new);
        info.used = true;
        if assigned.is_some() {
            info.assigned = true;
        } else if in_probe {
            info.first_read.get_or_insert(map.span);
        }
        let arity = match shapes.as_slice() {
            [Shape::Tuple(n)] => Some(*n),
            // One key whose shape is not known here (`$kv.0` of a map with several keys, a
            // map's value) may be a tuple of keys: the code generator matches its layout.
            [Shape::Unknown] if keys.len() == 1 && !matches!(keys[0].kind, ExprKind::Tuple(_)) => {
                None
            }
            _ => Some(key_arity(keys)),
        };
        let mut diags = Vec::new();
        if let Some(arity) = arity {
            diags.extend(info.note_arity(&display, arity, map.span));
        }
        // The same position keyed by an integer in one place and a string in another.
        if !shapes.is_empty() {
            diags.extend(info.note_key_shapes(&display, &shapes, keys, map.span));
        }
        if let Some(assigned) = assigned {
            diags.extend(info.fits_declaration(&display, &assigned, map.span));
            diags.extend(info.note_assigned(&display, assigned));
        }
        self.diags.extend(diags);
    }

    /// Maps that probes read but nothing ever assigns: a typo of another map's name, or a
    /// statement that was lost.
    fn maps_never_assigned(&mut self) {
        let assigned: Vec<&str> = self
            .maps
            .iter()
            .filter(|(_, m)| m.assigned)
            .map(|(n, _)| n.as_str())
            .collect();
        let mut diags = Vec::new();
        for (name, info) in &self.maps {
            let (false, Some(span)) = (info.assigned, info.first_read) else {
                continue;
            };
            let mut d = Diagnostic::error(
                format!("map `@{name}` is read but never assigned"),
                span,
                "no statement stores into this map",
            );
            d = match nearest(name, assigned.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `@{s}`?")),
                None => d.with_help(format!("assign it somewhere, e.g. `@{name} = count();`")),
            };
            diags.push(d);
        }
        self.diags.extend(diags);
    }

    fn read_var(&mut self, name: &str, span: Span) -> Shape {
        if let Some(info) = self.vars.get(name) {
            return info.shape;
        }
        let mut d = Diagnostic::error(
            format!("variable `${name}` is used before it is assigned"),
            span,
            "no value yet",
        );
        let known: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        if let Some(s) = nearest(name, known) {
            d = d.with_help(format!("did you mean `${s}`?"));
        } else {
            d = d.with_help(format!("assign it first, e.g. `${name} = 0;`"));
        }
        self.diags.push(d);
        // Report once per variable.
        self.bind(name, Shape::Unknown, span);
        Shape::Unknown
    }

    /// A call of a builtin that returns nothing (`printf`, `exit`, ...) where a value is needed.
    fn not_void(&mut self, e: &Expr, used: &str) {
        // `c ? printf(..) : printf(..)` stands only as a statement.
        if let ExprKind::Ternary {
            then, otherwise, ..
        } = &e.kind
        {
            self.not_void(then, used);
            self.not_void(otherwise, used);
            return;
        }
        let ExprKind::Call { name, .. } = &e.kind else {
            return;
        };
        let n = name.name.as_str();
        if self.macros.contains_key(n) || self.functions.contains_key(n) {
            return;
        }
        if let Some(b) = stdlib::lookup(n).filter(|b| b.kind == Kind::Function) {
            if b.returns == stdlib::Ty::Void {
                self.diags.push(
                    Diagnostic::error(
                        format!("`{}()` returns no value", b.name),
                        e.span,
                        format!("{used} here"),
                    )
                    .with_help(format!(
                        "call it as a statement of its own: `{}(...);`",
                        b.name
                    )),
                );
            }
        }
    }

    /// Checks an expression used for its value and returns its shape.
    fn value(&mut self, e: &Expr) -> Shape {
        self.expr_shape(e)
    }

    fn expr_shape(&mut self, e: &Expr) -> Shape {
        // An operator on literals the current release refuses to fold (reported where it
        // is, not again at each operator around it).
        if let Some(err) = fold::refusal(e).filter(|err| err.span == e.span) {
            self.diags.push(
                Diagnostic::error(err.message.clone(), e.span, "computed when compiling")
                    .with_help("operators on literals are computed exactly, as in bpftrace"),
            );
        }
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::PositionalCount => Shape::Int,
            ExprKind::Str(text) => {
                self.string_fits(text, e.span);
                Shape::Str
            }
            ExprKind::Ident(name) => self.ident(name, e.span),
            ExprKind::Var(name) => self.read_var(name, e.span),
            ExprKind::Positional(n) => {
                self.positional(*n, e.span);
                Shape::Unknown
            }
            ExprKind::Map { .. } => {
                self.map_use(e, None);
                let ExprKind::Map { name, .. } = &e.kind else {
                    unreachable!()
                };
                self.maps
                    .get(&name.name)
                    .and_then(|m| m.value)
                    .map_or(Shape::Unknown, |(s, _)| s)
            }
            ExprKind::Call { name, args } => self.call(name, args, e.span),
            ExprKind::Unary { op, expr } => {
                self.expr(expr);
                if let (UnaryOp::Deref, ExprKind::Var(p)) = (op, &expr.kind) {
                    let vars = &self.vars;
                    let not_int = |x: &str| {
                        vars.get(x)
                            .is_some_and(|v| matches!(v.shape, Shape::Str | Shape::Tuple(_)))
                    };
                    if let Some(d) = var_pointers::refused(&self.var_pointers, p, not_int, e.span) {
                        self.diags.push(d);
                    }
                }
                Shape::Unknown
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr_shape(lhs);
                let r = self.expr_shape(rhs);
                match op {
                    BinaryOp::Eq | BinaryOp::Ne => {
                        if l.conflicts_with(r) {
                            self.diags.push(
                                Diagnostic::error(
                                    format!(
                                        "cannot compare {} with {}",
                                        l.describe(),
                                        r.describe()
                                    ),
                                    e.span,
                                    format!("{} compared with {}", l.describe(), r.describe()),
                                )
                                .with_help("compare strings with strings, e.g. `comm == \"bash\"`"),
                            );
                        }
                        Shape::Int
                    }
                    _ => {
                        for (side, shape) in [(lhs, l), (rhs, r)] {
                            if shape == Shape::Str {
                                self.diags.push(Diagnostic::error(
                                    format!("`{}` needs integers", op.symbol()),
                                    side.span,
                                    "this is a string",
                                ));
                            }
                        }
                        // Pointer arithmetic (`($p + 1)->field`) keeps the pointer, which
                        // resolve types.
                        let pointer = Shape::Unknown;
                        match op {
                            BinaryOp::Add if l == pointer || r == pointer => pointer,
                            BinaryOp::Sub if l == pointer && r != pointer => pointer,
                            _ => Shape::Int,
                        }
                    }
                }
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
                self.expr(cond);
                let a = self.expr_shape(then);
                let b = self.expr_shape(otherwise);
                if a.conflicts_with(b) {
                    self.diags.push(
                        Diagnostic::error(
                            "the two branches have different types",
                            e.span,
                            "mismatched branches",
                        )
                        .with_label(then.span, a.describe())
                        .with_label(otherwise.span, b.describe()),
                    );
                }
                a
            }
            ExprKind::Update {
                target, increment, ..
            } => {
                match &target.kind {
                    ExprKind::Var(name) => {
                        let shape = self.read_var(name, target.span);
                        if matches!(shape, Shape::Str | Shape::Tuple(_)) {
                            let op = if *increment { "++" } else { "--" };
                            self.diags.push(Diagnostic::error(
                                format!("`{op}` needs an integer"),
                                target.span,
                                format!("`${name}` holds {}", shape.describe()),
                            ));
                        }
                        // A pointer stepped (`($p++)->field`) is still the pointer, which
                        // resolve types.
                        if shape == Shape::Unknown {
                            return Shape::Unknown;
                        }
                    }
                    ExprKind::Map { .. } => self.map_use(
                        target,
                        Some(Assigned {
                            aggregation: None,
                            shape: Shape::Int,
                            span: target.span,
                        }),
                    ),
                    _ => self.diags.push(Diagnostic::error(
                        "`++` and `--` need a variable or a map",
                        target.span,
                        "not a variable or map",
                    )),
                }
                Shape::Int
            }
            ExprKind::Cast { ty, expr } => self.cast_shape(ty, expr, e.span),
            // An iterator's `ctx.member`: its context's member, typed from BTF by resolve.
            ExprKind::Field { expr, .. }
                if matches!(&expr.kind, ExprKind::Ident(n) if n == "ctx")
                    && self.provider.is_some_and(|p| p.kind.context().typed_ctx) =>
            {
                Shape::Unknown
            }
            ExprKind::Field { expr, field, .. } => {
                let inner = self.expr_shape(expr);
                if inner != Shape::Unknown {
                    let mut d = Diagnostic::error(
                        format!("{} has no field `{}`", inner.describe(), field.name),
                        e.span,
                        format!("this is {}", inner.describe()),
                    );
                    if let Shape::Tuple(_) = inner {
                        d = d.with_help("tuple elements are numbered: `.0`, `.1`, ...");
                    }
                    self.diags.push(d);
                }
                Shape::Unknown
            }
            ExprKind::TupleIndex { expr, index } => {
                match self.expr_shape(expr) {
                    Shape::Tuple(n) if *index as usize >= n => self.diags.push(Diagnostic::error(
                        format!("tuple index {index} is out of range"),
                        e.span,
                        format!(
                            "this tuple has {n} elements: .0 to .{}",
                            n.saturating_sub(1)
                        ),
                    )),
                    shape @ (Shape::Int | Shape::Str) => self.diags.push(Diagnostic::error(
                        format!("{} has no element {index}", shape.describe()),
                        e.span,
                        format!("this is {}, not a tuple", shape.describe()),
                    )),
                    _ => {}
                }
                Shape::Unknown
            }
            ExprKind::Index { expr, index } => {
                self.expr(expr);
                self.expr(index);
                Shape::Unknown
            }
            ExprKind::Tuple(items) => {
                for i in items {
                    self.expr(i);
                }
                Shape::Tuple(items.len())
            }
            ExprKind::Record(fields) => {
                for (i, (name, value)) in fields.iter().enumerate() {
                    self.expr(value);
                    if fields[..i].iter().any(|(n, _)| n.name == name.name) {
                        self.diags.push(Diagnostic::error(
                            format!("this record has two fields named `{}`", name.name),
                            name.span,
                            "named again",
                        ));
                    }
                }
                Shape::Unknown
            }
            ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } => Shape::Int,
            ExprKind::OffsetofExpr { expr, .. } => {
                self.expr(expr);
                Shape::Int
            }
            ExprKind::SizeofExpr(inner) => {
                // `sizeof(uint64_t)`: a bare name that is no builtin may be a C type, which
                // resolve looks up.
                let type_name = matches!(&inner.kind, ExprKind::Ident(n)
                    if stdlib::lookup(n).is_none() && !self.enumerators.contains(n.as_str()));
                if !type_name {
                    self.expr(inner);
                }
                Shape::Int
            }
            ExprKind::Block { block, value } => {
                self.block(block);
                self.expr_shape(value)
            }
            // `type_of::eliminate` has refused every `typeof` left where a value stands.
            ExprKind::Typeof(_) => Shape::Unknown,
        }
    }

    /// A string literal used as a value must fit a string (bpftrace: "String is too long").
    /// Format strings and their arguments are exempt: they never enter the kernel.
    fn string_fits(&mut self, text: &str, span: Span) {
        let len = text.len() as u64;
        if len >= self.max_strlen {
            self.diags.push(
                Diagnostic::error(
                    format!(
                        "this string is {len} bytes long; strings hold at most {}",
                        self.max_strlen.saturating_sub(1)
                    ),
                    span,
                    "too long",
                )
                .with_help(format!(
                    "shorten it: max_strlen is {}, the terminating NUL included",
                    self.max_strlen
                )),
            );
        }
    }

    /// `$0` is never a parameter. Counting the others against the command line is
    /// `positional::substitute`'s, which replaced them before check when they are known.
    fn positional(&mut self, n: u32, span: Span) {
        if n == 0 {
            self.diags.push(
                Diagnostic::error(
                    "there is no `$0`",
                    span,
                    "positional parameters start at `$1`",
                )
                .with_help("`$1` is the first argument after the script"),
            );
        }
    }

    /// A bare name: a builtin variable, a zero-parameter macro, a macro's bare parameter, or
    /// an enum constant (ALL_CAPS, resolved from BTF later).
    fn ident(&mut self, name: &str, span: Span) -> Shape {
        if self.macro_names.contains(name)
            || self.macros.get(name).is_some_and(|m| m.params.is_empty())
        {
            return Shape::Unknown;
        }
        if let Some(b) = stdlib::lookup(name) {
            if b.kind == Kind::Aggregation || b.required > 0 {
                self.diags.push(
                    Diagnostic::error(format!("`{name}` is a function"), span, "needs arguments")
                        .with_help(format!("call it: `{name}(...)`")),
                );
                return Shape::Unknown;
            }
            self.context_rule(b.name, b.contexts, span);
            self.compiled(b, name, span);
            // A raw tracepoint's arguments are typed from BTF when the kernel has it (a
            // pointer's members may be read): only the compile, with BTF, can say.
            if name.starts_with("arg")
                && self
                    .provider
                    .is_some_and(|p| p.kind.context().args == ArgSource::RawArgs)
            {
                return Shape::Unknown;
            }
            if b.returns == stdlib::Ty::Stack {
                return calls::stack_shape(b.name == "ustack", &[], self.stack_mode);
            }
            return shape_of(b.returns);
        }
        if is_register_arg(name) {
            self.context_rule(name, Contexts::REGS, span);
            return Shape::Unknown;
        }
        if self.enumerators.contains(name) {
            return Shape::Unknown;
        }
        if is_enum_like(name) {
            // `PID`, `COMM`: a builtin in capitals is far likelier than a kernel enum constant
            // of that name.
            let lower = name.to_ascii_lowercase();
            if let Some(b) = stdlib::lookup(&lower).filter(|b| b.kind != Kind::Aggregation) {
                self.diags.push(
                    Diagnostic::error(
                        format!("unknown identifier `{name}`"),
                        span,
                        "not a builtin",
                    )
                    .with_help(format!(
                        "names are case-sensitive: did you mean `{}`?",
                        b.name
                    )),
                );
            }
            return Shape::Unknown;
        }
        if self.includes_headers {
            return Shape::Unknown;
        }
        let mut d = Diagnostic::error(
            format!("unknown identifier `{name}`"),
            span,
            "not a builtin",
        );
        let candidates = stdlib::BUILTINS
            .iter()
            .filter(|b| b.kind != Kind::Aggregation && b.required == 0)
            .map(|b| b.name);
        d = match nearest(name, candidates) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(
                "bare names are builtins (pid, comm, nsecs, ...), macros, or kernel enum constants",
            ),
        };
        self.diags.push(d);
        Shape::Unknown
    }

    /// A bare macro parameter: it stands for whatever the call site passes, literals included.
    pub(crate) fn is_macro_name(&self, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Ident(n) if self.macro_names.contains(n))
    }

    /// Builtins that only make sense in some probes: `retval` in a return probe, `args` where
    /// there are typed arguments, `arg0` and `reg()` where there are registers, `signal()`
    /// where there is a traced process (not BEGIN, whose program runs in tracebound itself).
    pub(crate) fn context_rule(&mut self, name: &str, allowed: Contexts, span: Span) {
        let Some(contexts) = self.contexts else {
            return;
        };
        if allowed.allows(contexts) {
            return;
        }
        if allowed == Contexts::RETURN {
            self.diags.push(
                Diagnostic::error(
                    format!("`{name}` is only available in return probes"),
                    span,
                    "this probe runs on entry",
                )
                .with_help("use uretprobe, kretprobe or fexit to read the return value"),
            );
            return;
        }
        let probe = self.provider.map_or("these", |p| p.name);
        let fits: Vec<&str> = probe::providers()
            .filter(|p| p.contexts.allows(allowed))
            .map(|p| p.name)
            .collect();
        self.diags.push(
            Diagnostic::error(
                format!("`{name}` is not available in {probe} probes"),
                span,
                format!("{probe} probes do not have it"),
            )
            .with_help(format!("`{name}` works in {} probes", fits.join(", "))),
        );
    }
}

pub(crate) fn shape_of(ty: stdlib::Ty) -> Shape {
    match ty {
        stdlib::Ty::Int | stdlib::Ty::Bool => Shape::Int,
        stdlib::Ty::Str => Shape::Str,
        _ => Shape::Unknown,
    }
}

/// `arg0`..`argN` and `sarg0`..: register arguments, any N.
fn is_register_arg(name: &str) -> bool {
    let digits = name
        .strip_prefix("sarg")
        .or_else(|| name.strip_prefix("arg"));
    digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Kernel enum constants are written in capitals (`TCP_ESTABLISHED`, `AF_INET`).
pub(crate) fn is_enum_like(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests;

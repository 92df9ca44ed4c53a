//! Calls checked against the standard library's table (and the script's own macros and
//! functions): the name exists, the arity fits, compile-time arguments are literals, maps are
//! passed where maps are wanted, formats match their arguments, unsafe functions need
//! `--unsafe`, aggregations stand only on the right of a map assignment, and what the table
//! marks as not compiled is refused with its reason.

use tracebound_stdlib::{
    self as stdlib, ArgRule, Builtin, Kind, Lowering as By, MapArg, Param, Support, Ty,
};

use super::format::{conversions, Conversion};
use super::{shape_of, Checker, Shape};
use crate::ast::visit::Visitor;
use crate::ast::*;
use crate::config::stack_mode_named;
use crate::diagnostic::{nearest, Diagnostic};
use crate::program::{
    format_specifiers, StackMode, TseriesAgg, DEFAULT_STACK_FRAMES, MAX_HIST_K, MAX_LINEAR_STEPS,
};
use crate::span::Span;

const STACK_MODES: &[&str] = &["bpftrace", "perf", "raw", "build_id"];

impl Checker<'_> {
    pub(crate) fn call(&mut self, name: &Ident, args: &[Expr], span: Span) -> Shape {
        if let Some(m) = self.macros.get(name.name.as_str()).copied() {
            self.user_arity(name, m.params.len(), args.len(), span, "macro");
            for a in args {
                match &a.kind {
                    ExprKind::Map { name, keys } if keys.is_empty() => {
                        self.map_defined_elsewhere(&name.name)
                    }
                    _ => self.expr(a),
                }
            }
            return Shape::Unknown;
        }
        if let Some(f) = self.functions.get(name.name.as_str()).copied() {
            self.user_arity(name, f.params.len(), args.len(), span, "function");
            for a in args {
                self.expr(a);
            }
            return Shape::Unknown;
        }
        let Some(b) = stdlib::lookup(&name.name) else {
            let mut d = Diagnostic::error(
                format!("unknown function `{}`", name.name),
                name.span,
                "not a function",
            );
            let candidates = stdlib::BUILTINS
                .iter()
                .filter(|b| b.kind != Kind::Variable)
                .map(|b| b.name)
                .chain(self.macros.keys().copied())
                .chain(self.functions.keys().copied());
            if let Some(s) = nearest(&name.name, candidates) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            for a in args {
                self.expr(a);
            }
            return Shape::Unknown;
        };
        if b.kind == Kind::Aggregation {
            self.diags.push(
                Diagnostic::error(
                    format!("`{}()` can only be assigned to a map", b.name),
                    span,
                    "aggregations live in maps",
                )
                .with_help(format!(
                    "write `@name = {}(...)` or `@name[key] = {}(...)`",
                    b.name, b.name
                )),
            );
        }
        self.call_args(b, name, args, span);
        if b.returns == Ty::Stack {
            return stack_shape(b.name == "ustack", args, self.stack_mode);
        }
        shape_of(b.returns)
    }

    fn user_arity(&mut self, name: &Ident, want: usize, got: usize, span: Span, what: &str) {
        if want != got {
            self.diags.push(Diagnostic::error(
                format!(
                    "{what} `{}` takes {} but {} given",
                    name.name,
                    plural(want, "argument"),
                    were(got)
                ),
                span,
                "wrong number of arguments",
            ));
        }
    }

    /// Checks a builtin's arguments against its signature.
    pub(crate) fn call_args(
        &mut self,
        b: &'static Builtin,
        name: &Ident,
        args: &[Expr],
        span: Span,
    ) {
        if b.unsafe_only && !self.options.unsafe_allowed {
            self.diags.push(
                // The current release's words.
                Diagnostic::error(
                    format!("{}() is unsafe. To use you need the --unsafe flag", b.name),
                    name.span,
                    "",
                ),
            );
        }
        self.context_rule(b.name, b.contexts, name.span);
        self.compiled(b, &name.name, name.span);
        self.kfunc_rule(b, args, name.span);
        let old_multi_delete = b.arg_rule == ArgRule::ManyElements
            && args.len() > 1
            && args
                .iter()
                .all(|a| matches!(&a.kind, ExprKind::Map { keys, .. } if !keys.is_empty()));
        if old_multi_delete {
            for a in args {
                self.map_use(a, None);
            }
            return;
        }
        self.arity(b, args, span);
        // The shape of each argument that is checked as a value, for the format's conversions.
        let shapes: Vec<Shape> = args
            .iter()
            .enumerate()
            .map(|(i, arg)| self.arg(b, i, arg, args.len()))
            .collect();
        self.format_args(b, args, &shapes);
        self.element_key(b, args);
        self.lhist_bounds(b, args, span);
        self.tseries_args(b, args);
        self.non_negative_literals(b, args);
        if let (ArgRule::NoSecondArgument(reason), Some(arg)) = (b.arg_rule, args.get(1)) {
            self.diags.push(Diagnostic::error(
                format!(
                    "this argument of `{}` is not supported by tracebound",
                    b.name
                ),
                arg.span,
                reason,
            ));
        }
        if let (ArgRule::IpAddress, Some(arg)) = (b.arg_rule, args.first()) {
            self.diags.extend(super::address::check(b.name, arg));
        }
        if b.arg_rule == ArgRule::TracePrintk {
            let diags = super::trace_printk::check(args, span);
            self.diags.extend(diags);
        }
    }

    /// `tseries(x, interval, intervals [, agg])`: an interval of at least 1 ns, at least one
    /// interval, and `agg` one of the functions it knows.
    fn tseries_args(&mut self, b: &Builtin, args: &[Expr]) {
        if b.arg_rule != ArgRule::TimeSeries {
            return;
        }
        for (i, what) in [(1, "interval"), (2, "number of intervals")] {
            let Some(arg) = args.get(i) else { continue };
            if int_value(arg).is_some_and(|v| v < 1) {
                self.diags.push(
                    Diagnostic::error(
                        format!("`tseries` needs an {what} of at least 1"),
                        arg.span,
                        "here",
                    )
                    .with_help("write it as `tseries(value, 100ms, 10)`"),
                );
            }
        }
        if let Some(agg) = args.get(3) {
            let name = match &agg.kind {
                ExprKind::Str(s) => Some(s.as_str()),
                _ => None,
            };
            if name.is_none_or(|n| TseriesAgg::from_name(Some(n)).is_none()) {
                self.diags.push(
                    Diagnostic::error(
                        "`tseries` aggregates with \"avg\", \"max\", \"min\" or \"sum\"",
                        agg.span,
                        "not one of them",
                    )
                    .with_help("leave it out to keep the last value of each interval"),
                );
            }
        }
    }

    /// One argument against its parameter; returns its shape where it is checked as a value
    /// (for the format's conversions).
    fn arg(&mut self, b: &Builtin, i: usize, arg: &Expr, n_args: usize) -> Shape {
        match b.params.get(i) {
            // A printf-like function's arguments are formatted in user space: a literal
            // of any length is fine there.
            None if matches!(arg.kind, ExprKind::Str(_))
                && b.params.first() == Some(&Param::Literal) =>
            {
                return Shape::Str;
            }
            None => return self.expr_shape(arg),
            Some(Param::Value(ty)) => {
                if i == 0 && b.map_arg != MapArg::None && is_bare_map(arg) {
                    self.whole_map(arg);
                    return Shape::Unknown;
                }
                let shape = self.expr_shape(arg);
                let wanted = match ty {
                    Ty::Int if shape == Shape::Str => Some("an integer"),
                    Ty::Str if shape == Shape::Int => Some("a string"),
                    Ty::Stack if matches!(shape, Shape::Int | Shape::Str | Shape::Tuple(_)) => {
                        Some(if b.map_arg == MapArg::None {
                            "a stack"
                        } else {
                            "a whole map or a stack"
                        })
                    }
                    _ => None,
                };
                if let Some(wanted) = wanted {
                    self.diags.push(Diagnostic::error(
                        format!("`{}` wants {wanted} here", b.name),
                        arg.span,
                        format!("this is {}", shape.describe()),
                    ));
                }
                return shape;
            }
            Some(Param::Literal) => {
                if !matches!(arg.kind, ExprKind::Str(_)) && !self.is_macro_name(arg) {
                    self.diags.push(
                        Diagnostic::error(
                            format!(
                                "argument {} of `{}` must be a string literal",
                                i + 1,
                                b.name
                            ),
                            arg.span,
                            "not known when compiling",
                        )
                        .with_help("write the text in double quotes here"),
                    );
                    self.expr(arg);
                }
            }
            Some(Param::IntLiteral) => {
                if !is_int_constant(arg) && !self.is_macro_name(arg) {
                    self.diags.push(Diagnostic::error(
                        format!(
                            "argument {} of `{}` must be an integer literal",
                            i + 1,
                            b.name
                        ),
                        arg.span,
                        "not known when compiling",
                    ));
                    self.expr(arg);
                } else if b.arg_rule == ArgRule::HistBits
                    && !matches!(arg.kind, ExprKind::Int(k) if k <= u64::from(MAX_HIST_K))
                {
                    self.diags.push(Diagnostic::error(
                        format!("the sub-bucket bits of `hist` must be 0 to {MAX_HIST_K}"),
                        arg.span,
                        "out of range",
                    ));
                }
            }
            Some(Param::Map) => {
                if is_bare_map(arg) {
                    self.whole_map(arg);
                } else {
                    self.diags.push(
                        Diagnostic::error(
                            format!("`{}` takes a whole map", b.name),
                            arg.span,
                            "not a map",
                        )
                        .with_help(format!("write `{}(@name)`", b.name)),
                    );
                }
            }
            Some(Param::MapElement) => {
                if !matches!(arg.kind, ExprKind::Map { .. }) {
                    self.diags.push(Diagnostic::error(
                        format!("`{}` takes a map", b.name),
                        arg.span,
                        "not a map",
                    ));
                } else if n_args == 1 {
                    self.map_use(arg, None);
                } else {
                    self.whole_map(arg);
                }
            }
            Some(Param::StackMode) => self.word_arg(b, arg, STACK_MODES, true),
            Some(Param::Mode(words)) => self.word_arg(b, arg, words, false),
            Some(Param::Type) => {}
        }
        Shape::Unknown
    }

    /// `has_key(@m, k)`, `delete(@m, k)`: the key is a use of the map with that key, so a
    /// scalar map or a key of another arity is refused as `@m[k]` would be.
    fn element_key(&mut self, b: &Builtin, args: &[Expr]) {
        let ([map, key, ..], Some(Param::MapElement)) = (args, b.params.first()) else {
            return;
        };
        let ExprKind::Map { name, keys } = &map.kind else {
            return;
        };
        if !keys.is_empty() {
            return;
        }
        // A map without keys has no element to ask about (the current release's words).
        if let Some((0, _)) = self.maps.get(&name.name).and_then(|m| m.keys) {
            self.diags.push(Diagnostic::error(
                format!(
                    "call to {}() expects a map with explicit keys (non-scalar map)",
                    b.name
                ),
                map.span,
                "",
            ));
            return;
        }
        // A tuple key is the map's keys, `has_key(@m, (1, "a"))` as `@m[1, "a"]`.
        let keys = match &key.kind {
            ExprKind::Tuple(items) => items.clone(),
            _ => vec![key.clone()],
        };
        let element = Expr::new(
            ExprKind::Map {
                name: name.clone(),
                keys,
            },
            map.span.to(key.span),
        );
        self.map_use(&element, None);
    }

    /// The number of arguments against the entry's parameters.
    fn arity(&mut self, b: &Builtin, args: &[Expr], span: Span) {
        let max = b.max_args();
        if args.len() < b.required || max.is_some_and(|m| args.len() > m) {
            let expected = match max {
                None => format!("at least {}", plural(b.required, "argument")),
                Some(m) if m == b.required => plural(m, "argument"),
                Some(m) if m == b.required + 1 => format!("{} or {m} arguments", b.required),
                Some(m) => format!("{} to {m} arguments", b.required),
            };
            self.diags.push(
                Diagnostic::error(
                    format!(
                        "`{}` takes {expected} but {} given",
                        b.name,
                        were(args.len())
                    ),
                    span,
                    "wrong number of arguments",
                )
                .with_note(format!("{}: {}", b.name, b.doc)),
            );
        }
    }

    /// Literal arguments bpftrace refuses when negative (the entry names them: a length, a
    /// timestamp, lhist's bounds).
    fn non_negative_literals(&mut self, b: &Builtin, args: &[Expr]) {
        for (i, what) in b.non_negative {
            let Some(arg) = args.get(*i) else { continue };
            if let Some(v) = int_value(arg).filter(|v| *v < 0) {
                self.diags.push(
                    Diagnostic::error(
                        format!("`{}` cannot use a negative {what} ({v})", b.name),
                        arg.span,
                        format!("negative {what}"),
                    )
                    .with_help(format!("the {what} is 0 or more")),
                );
            }
        }
    }

    /// `lhist(x, min, max, step)`: at least one and at most 1000 whole steps from min up to
    /// max.
    fn lhist_bounds(&mut self, b: &Builtin, args: &[Expr], span: Span) {
        let (ArgRule::LinearBuckets, [_, min, max, step]) = (b.arg_rule, args) else {
            return;
        };
        let (Some(lo), Some(hi), Some(width)) = (int_value(min), int_value(max), int_value(step))
        else {
            return;
        };
        let steps = (hi as i128 - lo as i128) / (width as i128).max(1);
        let problem = if width < 1 {
            Some((
                step.span,
                format!("`lhist` needs a step of at least 1, not {width}"),
            ))
        } else if lo >= hi {
            Some((
                min.span.to(max.span),
                format!("`lhist` needs min below max, not {lo} and {hi}"),
            ))
        } else if steps < 1 {
            Some((
                step.span,
                format!("`lhist` step {width} is wider than {lo}..{hi}"),
            ))
        } else if steps > MAX_LINEAR_STEPS {
            Some((
                span,
                format!(
                    "`lhist` from {lo} to {hi} in steps of {width} has more than {MAX_LINEAR_STEPS} buckets"
                ),
            ))
        } else {
            None
        };
        if let Some((at, message)) = problem {
            self.diags.push(Diagnostic::error(message, at, "here").with_help(
                "write it as `lhist(value, min, max, step)` with min < max and 1 <= step <= max - min",
            ));
        }
    }

    /// Refuses a builtin the table marks as not compiled, at its use, with the table's reason:
    /// `--check` says no to what running would refuse.
    pub(crate) fn compiled(&mut self, b: &Builtin, spelled: &str, span: Span) {
        if let Some(reason) = b.refusal() {
            self.diags.push(refused_builtin(spelled, reason, span));
        }
        // An iterator's `ctx` is a typed structure read by its members (`ctx.task`, which
        // `Field` checks without coming here), not the context pointer.
        let typed_ctx = self
            .provider
            .is_some_and(|p| p.kind.probe().context().typed_ctx);
        if typed_ctx && matches!(b.support, Support::Lowered(By::Ctx, _)) {
            self.diags.push(
                Diagnostic::error(
                    format!("`{spelled}` of an iter probe is read by its members"),
                    span,
                    "not a value of its own",
                )
                .with_help("read a member of the iterator's context: `ctx.task`, `ctx.file`, ..."),
            );
        }
    }

    /// `comm(pid)` finds the task with a kfunc, which only some program types may call: in
    /// the others it is the current release's refusal.
    fn kfunc_rule(&mut self, b: &Builtin, args: &[Expr], span: Span) {
        let Some(provider) = self.provider else {
            return;
        };
        let by_kfunc = matches!(b.support, Support::Lowered(By::Comm, _)) && !args.is_empty();
        if by_kfunc && !provider.kind.context().kfuncs {
            self.diags.push(
                Diagnostic::error(
                    format!(
                        "Syntax comm(PID) is not supported in this probe type yet. Type: {}",
                        provider.kind.probe().type_name()
                    ),
                    span,
                    "needs the kfunc bpf_task_from_pid",
                )
                .with_note("the kernel lets iter probes call it here"),
            );
        }
    }

    /// An argument that is one of a fixed set of words (`perf`, `boot`), or a frame count.
    fn word_arg(&mut self, b: &Builtin, arg: &Expr, words: &[&str], int_ok: bool) {
        match &arg.kind {
            ExprKind::Ident(w) if words.contains(&w.as_str()) => {}
            ExprKind::Int(_) if int_ok => {}
            ExprKind::Ident(w) => {
                let mut d = Diagnostic::error(
                    format!("`{w}` is not a mode of `{}`", b.name),
                    arg.span,
                    format!("expected one of {}", words.join(", ")),
                );
                if let Some(s) = nearest(w, words.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
            }
            _ => self.diags.push(Diagnostic::error(
                format!("`{}` takes a mode word here", b.name),
                arg.span,
                format!("expected one of {}", words.join(", ")),
            )),
        }
    }

    /// printf-like functions: the format's conversions match the arguments given, in number
    /// and, where the text tells, in type (`%d` an integer, `%s` a string, nothing a tuple).
    fn format_args(&mut self, b: &Builtin, args: &[Expr], shapes: &[Shape]) {
        if !b.variadic || b.params.first() != Some(&Param::Literal) {
            return;
        }
        let Some(Expr {
            kind: ExprKind::Str(format),
            span,
            ..
        }) = args.first()
        else {
            return;
        };
        match conversions(format) {
            Err(e) => self.diags.push(Diagnostic::error(
                format!("bad format string for `{}`: {}", b.name, e.message),
                *span,
                "in this format",
            )),
            Ok(convs) if convs.len() != args.len() - 1 => {
                let given = args.len() - 1;
                let mut d = Diagnostic::error(
                    format!(
                        "`{}` format has {} but {} given",
                        b.name,
                        plural(convs.len(), "conversion"),
                        were(given)
                    ),
                    *span,
                    format!("{} here", plural(convs.len(), "conversion")),
                );
                if given > convs.len() {
                    let extra = args[convs.len() + 1].span.to(args[given].span);
                    d = d.with_label(extra, "not used by the format");
                    d = d.with_help("add a conversion such as %d or %s for each argument");
                } else {
                    d = d.with_help(
                        "pass one argument for each conversion (write %% for a literal %)",
                    );
                }
                self.diags.push(d);
            }
            Ok(convs) if b.name == "printf" && unprinted_conversion(format, &convs).is_some() => {
                let text = unprinted_conversion(format, &convs).unwrap_or_default();
                self.diags.push(
                    Diagnostic::error(
                        format!("`printf` cannot print `{text}` as written"),
                        *span,
                        "in this format",
                    )
                    .with_note(
                        "tracebound's printf cuts the format as bpftrace 0.17 does: at `%`, \
                         optionally `-`, a width and a precision, then `c`, `s`, `r`, `rx`, \
                         `rh`, or `d i u x X o p` after an optional hh, h, l, ll, j, z or t",
                    )
                    .with_help(
                        "leave out the flags `+`, ` `, `#` and `*`, and write `%%` only where no \
                         conversion letter follows it",
                    ),
                );
            }
            Ok(convs) => {
                for ((conv, arg), shape) in convs.iter().zip(&args[1..]).zip(&shapes[1..]) {
                    if let Some(d) = conversion_mismatch(&conv.spec, arg, *shape) {
                        self.diags.push(d);
                    }
                }
            }
        }
    }
}

/// The first conversion (as C reads the format) that the output side would not find where
/// C does, or a specifier it would find that C does not (`%d` after `%%`): a format printf
/// would refuse when the event arrives. `None` when both agree.
fn unprinted_conversion(format: &str, convs: &[Conversion]) -> Option<String> {
    let specs = format_specifiers(format.as_bytes());
    let ours: Vec<usize> = convs.iter().map(|c| c.offset).collect();
    let printed: Vec<usize> = specs.iter().map(|s| s.span.start).collect();
    let only_c = ours.iter().copied().filter(|o| !printed.contains(o)).min();
    let only_printed = specs.iter().find(|s| !ours.contains(&s.span.start));
    match (only_c, only_printed) {
        (Some(at), s) if s.is_none_or(|s| at < s.span.start) => {
            let end = format[at + 1..]
                .find(|c: char| c.is_ascii_alphabetic() && !"hlLqjzt".contains(c))
                .map_or(format.len(), |e| at + 2 + e);
            Some(format[at..end].to_string())
        }
        (_, Some(s)) => Some(format[s.span.clone()].to_string()),
        _ => None,
    }
}

/// The diagnostic for a builtin the table marks as not compiled: the table's reason, at the
/// use. Lowering gives the same for a tree that did not pass the checker.
pub(crate) fn refused_builtin(name: &str, reason: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("`{name}` is not supported by tracebound"),
        span,
        reason.to_string(),
    )
}

/// A value the conversion cannot print, as the output side would find when the event
/// arrives: better said now, at the argument.
fn conversion_mismatch(spec: &str, arg: &Expr, shape: Shape) -> Option<Diagnostic> {
    let integer = matches!(spec, "d" | "i" | "u" | "x" | "X" | "o" | "c" | "p" | "gr");
    let (wants, fix) = match shape {
        Shape::Str if integer => ("an integer", "print strings with `%s`"),
        Shape::Int if spec == "s" => ("a string", "print integers with `%d` (or `%u`, `%x`)"),
        Shape::Tuple(_) => (
            if integer { "an integer" } else { "a string" },
            "print the tuple's elements one by one: `$t.0`, `$t.1`, ...",
        ),
        _ => return None,
    };
    Some(
        Diagnostic::error(
            format!("`%{spec}` prints {wants}, but this is {}", shape.describe()),
            arg.span,
            format!("{} for `%{spec}`", shape.describe()),
        )
        .with_help(fix),
    )
}

/// An integer literal, possibly negated.
pub(crate) fn int_value(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => int_value(expr).map(|n| -n),
        _ => None,
    }
}

fn is_bare_map(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Map { keys, .. } if keys.is_empty())
}

/// Integers known when compiling: literals, negated literals, `$1` (fixed at start-up) and
/// `#define`d or enum constants.
fn is_int_constant(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Positional(_) => true,
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => is_int_constant(expr),
        ExprKind::Binary { lhs, rhs, .. } => is_int_constant(lhs) && is_int_constant(rhs),
        ExprKind::Ident(n) => super::is_enum_like(n),
        _ => false,
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn were(n: usize) -> String {
    if n == 1 {
        "1 was".to_string()
    } else {
        format!("{n} were")
    }
}

/// The shape of `kstack`/`ustack` with these arguments, as far as they are literals (anything
/// else is refused by the argument checks): `(mode)`, `(N)`, `(mode, N)`; `default_mode` is
/// the script's `stack_mode`.
pub(super) fn stack_shape(user: bool, args: &[Expr], default_mode: StackMode) -> Shape {
    let mut mode = default_mode;
    let mut limit = DEFAULT_STACK_FRAMES;
    for a in args {
        match &a.kind {
            ExprKind::Int(n) => limit = u32::try_from(*n).unwrap_or(u32::MAX),
            ExprKind::Ident(word) if word == "build_id" => mode = StackMode::BuildId,
            ExprKind::Ident(word) => match stack_mode_named(word) {
                Some(m) => mode = m,
                None => return Shape::Unknown,
            },
            _ => return Shape::Unknown,
        }
    }
    Shape::Stack { user, mode, limit }
}

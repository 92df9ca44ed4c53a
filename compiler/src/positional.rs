//! Positional parameters (`$1`, `$#`) as the current release reads them: constants of the
//! compile, known once the command line is. This pass, run after `program_options`, replaces
//! each by its literal, so check, the folder and lowering see `kaddr("vfs_read")`,
//! `lhist(0, 10000, 1000)` or `unroll(3)` and every rule about literal arguments applies to
//! them unchanged; no later phase knows positionals existed.
//!
//! - In an attach point, `$N` (outside quotes) is the argument's text, spliced in before the
//!   attach point is read: `i:ms:$1`, `BEG$1` and a whole `$1` all work.
//! - `str($N)` (and `str($N + k)`, the text from its k-th byte) is the argument as a string,
//!   even when it reads as a number: `str($1)` of `1` is `"1"`.
//! - Anything else: an integer if the text reads as one (decimal, `0x` hex, `0b` binary, `0`
//!   octal, `_` separators, a leading `-`), else a string; an argument not given is `0`, with
//!   the current release's warning.
//!
//! When the arguments are not known (`--check` without any), nothing is replaced and check
//! does not count them.

use crate::ast::visit::{walk_expr_mut, VisitorMut};
use crate::ast::{BinaryOp, Expr, ExprKind, Item, Program, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The builtin whose argument a positional is read as a string for.
const STR: &str = "str";

/// The program with every positional parameter replaced by its value, and the warnings for
/// the ones not given. `values` is `None` when the arguments are not known.
pub fn substitute(
    mut program: Program,
    values: Option<&[String]>,
) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let Some(values) = values else {
        return Ok((program, Vec::new()));
    };
    let mut replacer = Replacer {
        values,
        diags: Vec::new(),
    };
    for item in &mut program.items {
        if let Item::Probe(p) = item {
            for ap in &mut p.attach_points {
                match splice(&ap.text, ap.span.start as usize, values) {
                    Ok(text) => ap.text = text,
                    Err(d) => replacer.diags.push(d),
                }
            }
            replacer.probe(p);
        }
    }
    if replacer.diags.iter().any(Diagnostic::is_error) {
        return Err(replacer.diags);
    }
    Ok((program, replacer.diags))
}

/// An attach point's text with each unquoted `$N` replaced by the argument's text; `start`
/// is where the text begins in the source. An attach point cannot default an argument (an
/// empty part would name a different probe), so one not given is an error at its `$N`.
pub fn splice(text: &str, start: usize, values: &[String]) -> Result<String, Diagnostic> {
    let mut out = String::with_capacity(text.len());
    let mut in_quotes = false;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        let digits = text[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if c == '$' && !in_quotes && digits > 0 {
            let span = Span::new(start + at, start + at + 1 + digits);
            let n: usize = text[at + 1..at + 1 + digits].parse().unwrap_or(usize::MAX);
            match n.checked_sub(1).and_then(|i| values.get(i)) {
                Some(value) => out.push_str(value),
                None => return Err(not_given(n, values.len(), span)),
            }
            at += 1 + digits;
            continue;
        }
        out.push(c);
        at += c.len_utf8();
    }
    Ok(out)
}

/// `$N` in an attach point with fewer arguments given (or `$0`, which is never one).
fn not_given(n: usize, count: usize, span: Span) -> Diagnostic {
    if n == 0 {
        return Diagnostic::error(
            "there is no `$0`",
            span,
            "positional parameters start at `$1`",
        )
        .with_help("`$1` is the first argument after the script");
    }
    let given = match count {
        0 => "no positional arguments were given".to_string(),
        1 => "only 1 positional argument was given".to_string(),
        c => format!("only {c} positional arguments were given"),
    };
    // The example spells the arguments out only while that stays readable (and small:
    // `$2111111111` is a valid name).
    let arguments = if n == 1 { "argument" } else { "arguments" };
    let help = if n <= 9 {
        format!(
            "pass {n} {arguments} after the script, e.g. `tracebound script.bt{}`",
            (1..=n).map(|i| format!(" ARG{i}")).collect::<String>()
        )
    } else {
        format!("pass {n} {arguments} after the script")
    };
    Diagnostic::error(format!("`${n}` is not set: {given}"), span, "used here").with_help(help)
}

/// An argument as an integer, as the current release reads one: `Some((magnitude,
/// negative))`, or `None` when it is text.
pub fn integer(text: &str) -> Option<(u64, bool)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex)
    } else if let Some(binary) = lower.strip_prefix("0b") {
        (2, binary)
    } else if lower.len() >= 2 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative && magnitude > i64::MAX as u64 + 1 {
        return None;
    }
    Some((magnitude, negative && magnitude != 0))
}

struct Replacer<'a> {
    values: &'a [String],
    diags: Vec<Diagnostic>,
}

impl Replacer<'_> {
    fn text(&self, n: u32) -> Option<&str> {
        (n as usize)
            .checked_sub(1)
            .and_then(|i| self.values.get(i))
            .map(String::as_str)
    }

    /// `$N` read as a value: an integer, a string, or 0 when not given.
    fn value(&mut self, n: u32, e: &Expr) -> Expr {
        if n == 0 {
            self.diags.push(not_given(0, self.values.len(), e.span));
            return Expr::new(ExprKind::Int(0), e.span);
        }
        let Some(text) = self.text(n).filter(|t| !t.is_empty()) else {
            self.diags.push(Diagnostic::warning(
                format!("Positional parameter ${n} is empty or not provided."),
                e.span,
                "read as 0",
            ));
            return Expr::new(ExprKind::Int(0), e.span);
        };
        let kind = match integer(text) {
            Some((magnitude, false)) => ExprKind::Int(magnitude),
            Some((magnitude, true)) => ExprKind::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(Expr::new(ExprKind::Int(magnitude), e.span)),
            },
            None => ExprKind::Str(text.to_string()),
        };
        Expr::new(kind, e.span)
    }

    /// `str($N)` and `str($N + k)`: the argument's text (from byte k), as a string literal.
    fn string_argument(&mut self, arg: &mut Expr) {
        match &arg.kind {
            ExprKind::Positional(n) => {
                let text = self.text(*n).unwrap_or("").to_string();
                *arg = Expr::new(ExprKind::Str(text), arg.span);
            }
            ExprKind::Binary {
                op: BinaryOp::Add,
                lhs,
                rhs,
            } => {
                let (ExprKind::Positional(n), ExprKind::Int(k)) = (&lhs.kind, &rhs.kind) else {
                    return;
                };
                let text = self.text(*n).unwrap_or("");
                match usize::try_from(*k).ok().and_then(|k| text.get(k..)) {
                    Some(tail) => *arg = Expr::new(ExprKind::Str(tail.to_string()), arg.span),
                    None => self.diags.push(
                        Diagnostic::error(
                            format!(
                                "`${n} + {k}` is past the end of the argument `{text}` ({} bytes)",
                                text.len()
                            ),
                            arg.span,
                            "out of range",
                        )
                        .with_help("add at most the argument's length"),
                    ),
                }
            }
            _ => {}
        }
    }
}

impl VisitorMut for Replacer<'_> {
    fn expr(&mut self, e: &mut Expr) {
        if let ExprKind::Call { name, args } = &mut e.kind {
            if name.name == STR {
                if let Some(first) = args.first_mut() {
                    let written_literal = matches!(first.kind, ExprKind::Str(_));
                    self.string_argument(first);
                    // `str($1)` alone is the literal itself, so that a literal argument
                    // (`kaddr(str($1))`) may be written with it.
                    if let [Expr {
                        kind: ExprKind::Str(text),
                        ..
                    }] = args.as_slice()
                    {
                        if !written_literal {
                            *e = Expr::new(ExprKind::Str(text.clone()), e.span);
                            return;
                        }
                    }
                }
            }
        }
        walk_expr_mut(self, e);
        match e.kind {
            ExprKind::Positional(n) => *e = self.value(n, e),
            ExprKind::PositionalCount => {
                *e = Expr::new(ExprKind::Int(self.values.len() as u64), e.span)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::print_program;
    use crate::parse::parse;

    fn substituted(source: &str, values: &[&str]) -> String {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let (program, _) = substitute(parse(source).unwrap(), Some(&values)).unwrap();
        print_program(&program)
    }

    #[test]
    fn numbers_in_every_base_are_integers() {
        assert_eq!(integer("123"), Some((123, false)));
        assert_eq!(integer("0775"), Some((0o775, false)));
        assert_eq!(integer("0x123"), Some((0x123, false)));
        assert_eq!(integer("0xffffffffffffffff"), Some((u64::MAX, false)));
        assert_eq!(integer("0b101"), Some((5, false)));
        assert_eq!(integer("1_000"), Some((1000, false)));
        assert_eq!(integer("-5"), Some((5, true)));
        assert_eq!(integer("0"), Some((0, false)));
        assert_eq!(integer("hello"), None);
        assert_eq!(integer("09"), None);
        assert_eq!(integer("0x"), None);
        assert_eq!(integer("-"), None);
    }

    #[test]
    fn positionals_become_literals() {
        let out = substituted(
            "begin { printf(\"%d %s %d %d\\n\", $1, $2, $3, $#); }",
            &["0x10", "hi", "-3"],
        );
        assert!(
            out.contains("printf(\"%d %s %d %d\\n\", 16, \"hi\", -3, 3)"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_positional_reads_zero_with_a_warning() {
        let (program, warnings) =
            substitute(parse("begin { @ = $2; }").unwrap(), Some(&["1".into()])).unwrap();
        assert!(print_program(&program).contains("@ = 0;"));
        assert_eq!(warnings.len(), 1);
        assert!(!warnings[0].is_error());
    }

    #[test]
    fn str_of_a_positional_is_its_text() {
        let out = substituted(
            "begin { print((str($1), str($1 + 1), str($2), str($1, 1))); }",
            &["12"],
        );
        assert!(
            out.contains("(\"12\", \"2\", \"\", str(\"12\", 1))"),
            "{out}"
        );
        let past = substitute(
            parse("begin { print(str($1 + 3)); }").unwrap(),
            Some(&["ab".into()]),
        );
        assert!(past.is_err());
    }

    #[test]
    fn attach_points_splice_the_text() {
        let values = ["i:ms:1".to_string(), "IN".to_string()];
        let spliced = |text: &str| splice(text, 0, &values).map_err(|d| d.message);
        assert_eq!(spliced("$1"), Ok("i:ms:1".into()));
        assert_eq!(spliced("BEG$2"), Ok("BEGIN".into()));
        assert_eq!(
            spliced("uprobe:\"/opt/$1\":f"),
            Ok("uprobe:\"/opt/$1\":f".into())
        );
        assert_eq!(
            spliced("i:s:$3"),
            Err("`$3` is not set: only 2 positional arguments were given".into())
        );
        assert_eq!(spliced("i:s:$0"), Err("there is no `$0`".into()));
    }

    #[test]
    fn unknown_arguments_leave_the_tree_alone() {
        let program = parse("begin { @ = $1; }").unwrap();
        let (same, warnings) = substitute(program.clone(), None).unwrap();
        assert_eq!(same, program);
        assert!(warnings.is_empty());
    }
}

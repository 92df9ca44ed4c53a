//! A script's named options, as the current release reads them: `getopt("name")` is a
//! boolean option, `getopt("name", default [, "description"])` an option of the default's
//! type (boolean, integer or string), set on the command line after `--` as `--name=value`
//! (`--name` alone for a boolean). Each call is a constant of the compile: this pass, run
//! right after macro expansion, replaces it by the literal of its value, so no later phase
//! knows options existed. `declared` lists a program's options for the command line, which
//! checks what it was given against them (`value_of`) before compiling.

use std::collections::HashMap;

use crate::ast::visit::{walk_expr_mut, VisitorMut};
use crate::ast::{Expr, ExprKind, Item, Program, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The builtin this pass replaces.
const GETOPT: &str = "getopt";

/// The type of an option, which its default gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    Bool,
    Int,
    Str,
}

/// An option's value: its default or what the command line gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionValue {
    Bool(bool),
    /// An integer's magnitude and sign (`0xffffffffffffffff` is unsigned, `-10` signed).
    Int {
        magnitude: u64,
        negative: bool,
    },
    Str(String),
}

impl OptionValue {
    pub fn kind(&self) -> OptionKind {
        match self {
            OptionValue::Bool(_) => OptionKind::Bool,
            OptionValue::Int { .. } => OptionKind::Int,
            OptionValue::Str(_) => OptionKind::Str,
        }
    }

    /// The literal expression the call becomes.
    fn literal(&self, span: Span) -> Expr {
        let kind = match self {
            OptionValue::Bool(b) => ExprKind::Bool(*b),
            OptionValue::Str(s) => ExprKind::Str(s.clone()),
            OptionValue::Int {
                magnitude,
                negative: false,
            } => ExprKind::Int(*magnitude),
            OptionValue::Int {
                magnitude,
                negative: true,
            } => ExprKind::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(Expr::new(ExprKind::Int(*magnitude), span)),
            },
        };
        Expr::new(kind, span)
    }
}

/// One option a program declares with `getopt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramOption {
    pub name: String,
    pub default: OptionValue,
    pub description: Option<String>,
    /// The first call that declares it.
    pub span: Span,
}

/// The options a program declares, in the order their first calls appear; a call of the
/// wrong form, or two calls giving one name different types, is a diagnostic there.
pub fn declared(program: &Program) -> Result<Vec<ProgramOption>, Vec<Diagnostic>> {
    let mut reader = Declarations::default();
    walk_program(program.clone(), &mut reader);
    if reader.diags.is_empty() {
        Ok(reader.options)
    } else {
        Err(reader.diags)
    }
}

/// The program with each `getopt` call replaced by its option's value: the command line's
/// (`given`, by name, already checked with `value_of`) or the default.
pub fn substitute(
    program: Program,
    given: &HashMap<String, OptionValue>,
) -> Result<Program, Vec<Diagnostic>> {
    let options = declared(&program)?;
    let mut values: HashMap<String, OptionValue> = HashMap::new();
    for option in options {
        let value = given
            .get(&option.name)
            .filter(|v| v.kind() == option.default.kind())
            .cloned()
            .unwrap_or(option.default);
        values.insert(option.name, value);
    }
    let mut replacer = Replacer { values };
    Ok(walk_program(program, &mut replacer))
}

/// The value `text` gives an option of this kind (`None`: `--name` without `=`), or the
/// current release's words for why it cannot.
pub fn value_of(name: &str, kind: OptionKind, text: Option<&str>) -> Result<OptionValue, String> {
    let invalid = |what: &str, value: &str| {
        format!("program command line option --{name} invalid {what} (value: {value})")
    };
    match (kind, text) {
        (OptionKind::Bool, None) => Ok(OptionValue::Bool(true)),
        (OptionKind::Bool, Some(t)) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(OptionValue::Bool(true)),
            "false" | "0" => Ok(OptionValue::Bool(false)),
            _ => Err(invalid("boolean", t)),
        },
        (OptionKind::Int, Some(t)) => parse_int(t).ok_or_else(|| invalid("integer", t)),
        (OptionKind::Str, Some(t)) => Ok(OptionValue::Str(t.to_string())),
        (OptionKind::Int | OptionKind::Str, None) => Err(format!(
            "program command line option --{name} needs a value (--{name}=VALUE)"
        )),
    }
}

/// A decimal or `0x` hexadecimal integer, optionally negative.
fn parse_int(text: &str) -> Option<OptionValue> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    if negative && magnitude > i64::MAX as u64 + 1 {
        return None;
    }
    Some(OptionValue::Int {
        magnitude,
        negative: negative && magnitude != 0,
    })
}

/// Runs a rewriting visitor over every probe of the program.
fn walk_program<V: VisitorMut + Rewrite>(mut program: Program, v: &mut V) -> Program {
    for item in &mut program.items {
        if let Item::Probe(p) = item {
            v.probe(p);
        }
    }
    program
}

/// A pass that looks at each `getopt` call.
trait Rewrite {
    fn call(&mut self, call: &mut Expr);
}

#[derive(Default)]
struct Declarations {
    options: Vec<ProgramOption>,
    diags: Vec<Diagnostic>,
}

impl Rewrite for Declarations {
    fn call(&mut self, call: &mut Expr) {
        let ExprKind::Call { args, .. } = &call.kind else {
            return;
        };
        match declaration(args, call.span) {
            Err(d) => self.diags.push(d),
            Ok(option) => match self.options.iter().find(|o| o.name == option.name) {
                None => self.options.push(option),
                Some(first) if first.default.kind() != option.default.kind() => self.diags.push(
                    Diagnostic::error(
                        format!(
                            "the option `{}` is declared with another type before",
                            option.name
                        ),
                        call.span,
                        "a different type here",
                    )
                    .with_help("give every `getopt` of one name a default of one type"),
                ),
                Some(_) => {}
            },
        }
    }
}

/// One call's option: `getopt("name" [, default [, "description"]])`.
fn declaration(args: &[Expr], span: Span) -> Result<ProgramOption, Diagnostic> {
    let literal_string = |e: &Expr| match &e.kind {
        ExprKind::Str(s) => Some(s.clone()),
        _ => None,
    };
    let Some(first) = args.first() else {
        return Err(Diagnostic::error(
            "`getopt` needs the option's name",
            span,
            "no name",
        ));
    };
    let name = literal_string(first).ok_or_else(|| {
        Diagnostic::error(
            "the option's name must be a string literal",
            first.span,
            "not a string literal",
        )
    })?;
    if name.is_empty() || name.starts_with('-') || name.contains(['=', ' ']) {
        return Err(Diagnostic::error(
            format!("`{name}` cannot be an option's name"),
            first.span,
            "written `--NAME=VALUE` on the command line",
        ));
    }
    let default = match args.get(1) {
        None => OptionValue::Bool(false),
        Some(d) => default_value(d).ok_or_else(|| {
            Diagnostic::error(
                "an option's default must be a boolean, integer or string literal",
                d.span,
                "not a literal",
            )
        })?,
    };
    let description = match args.get(2) {
        None => None,
        Some(d) => Some(literal_string(d).ok_or_else(|| {
            Diagnostic::error(
                "an option's description must be a string literal",
                d.span,
                "not a string literal",
            )
        })?),
    };
    if let Some(extra) = args.get(3) {
        return Err(Diagnostic::error(
            "`getopt` takes a name, a default and a description",
            extra.span,
            "one argument too many",
        ));
    }
    Ok(ProgramOption {
        name,
        default,
        description,
        span,
    })
}

fn default_value(e: &Expr) -> Option<OptionValue> {
    Some(match &e.kind {
        ExprKind::Bool(b) => OptionValue::Bool(*b),
        ExprKind::Str(s) => OptionValue::Str(s.clone()),
        ExprKind::Int(n) => OptionValue::Int {
            magnitude: *n,
            negative: false,
        },
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match expr.kind {
            ExprKind::Int(n) => OptionValue::Int {
                magnitude: n,
                negative: n != 0,
            },
            _ => return None,
        },
        _ => return None,
    })
}

struct Replacer {
    values: HashMap<String, OptionValue>,
}

impl Rewrite for Replacer {
    fn call(&mut self, call: &mut Expr) {
        let ExprKind::Call { args, .. } = &call.kind else {
            return;
        };
        let Some(ExprKind::Str(name)) = args.first().map(|a| &a.kind) else {
            return;
        };
        if let Some(value) = self.values.get(name) {
            *call = value.literal(call.span);
        }
    }
}

/// Each pass sees every `getopt` call, inner expressions first, in source order.
impl<T: Rewrite> VisitorMut for T {
    fn expr(&mut self, e: &mut Expr) {
        walk_expr_mut(self, e);
        if matches!(&e.kind, ExprKind::Call { name, .. } if name.name == GETOPT) {
            self.call(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn options(source: &str) -> Vec<ProgramOption> {
        declared(&parse(source).unwrap()).unwrap()
    }

    #[test]
    fn options_are_typed_by_their_defaults() {
        let found = options(
            r#"BEGIN { print((getopt("aa", 10, "AA"), getopt("bb", "hi"), getopt("cc"), getopt("dd", -1), getopt("aa", 3))); }"#,
        );
        let kinds: Vec<(&str, OptionKind)> = found
            .iter()
            .map(|o| (o.name.as_str(), o.default.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("aa", OptionKind::Int),
                ("bb", OptionKind::Str),
                ("cc", OptionKind::Bool),
                ("dd", OptionKind::Int)
            ]
        );
        assert_eq!(found[0].description.as_deref(), Some("AA"));
    }

    #[test]
    fn calls_become_their_values() {
        let program =
            parse(r#"BEGIN { @a = getopt("aa", 10); @b = getopt("bb"); @c = getopt("cc", "x"); }"#)
                .unwrap();
        let given = HashMap::from([
            (
                "aa".to_string(),
                value_of("aa", OptionKind::Int, Some("-10")).unwrap(),
            ),
            (
                "bb".to_string(),
                value_of("bb", OptionKind::Bool, None).unwrap(),
            ),
        ]);
        let text = crate::ast::print_program(&substitute(program, &given).unwrap());
        assert!(text.contains("@a = -10"), "{text}");
        assert!(text.contains("@b = true"), "{text}");
        assert!(text.contains("@c = \"x\""), "{text}");
        assert!(!text.contains("getopt"), "{text}");
    }

    #[test]
    fn command_line_values_are_checked_in_the_current_release_words() {
        assert_eq!(
            value_of("aa", OptionKind::Int, Some("0xffffffffffffffff")),
            Ok(OptionValue::Int {
                magnitude: u64::MAX,
                negative: false
            })
        );
        assert_eq!(
            value_of("cc", OptionKind::Bool, Some("False")),
            Ok(OptionValue::Bool(false))
        );
        assert_eq!(
            value_of("aa", OptionKind::Int, Some("False")).unwrap_err(),
            "program command line option --aa invalid integer (value: False)"
        );
        assert!(value_of("s", OptionKind::Str, None).is_err());
    }

    #[test]
    fn bad_declarations_are_diagnosed_at_the_call() {
        for (source, at) in [
            (r#"BEGIN { @ = getopt(comm); }"#, "comm"),
            (r#"BEGIN { @ = getopt("a", pid); }"#, "pid"),
            (
                r#"BEGIN { @ = getopt("a", 1); @b = getopt("a", "s"); }"#,
                r#"getopt("a", "s")"#,
            ),
        ] {
            let errors = declared(&parse(source).unwrap()).unwrap_err();
            assert_eq!(&source[errors[0].span().range()], at, "{source}");
        }
    }
}

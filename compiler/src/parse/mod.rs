//! Parsing: preprocess, lex, and the LALRPOP grammar, with every failure turned into a
//! diagnostic that says in words what was expected and points at the user's text.

pub(crate) mod attach;
mod build;

use lalrpop_util::{lalrpop_mod, ParseError};

use crate::ast::Program;
use crate::diagnostic::Diagnostic;
use crate::lex::{self, LexError, LexErrorKind, Spanned, Tok};
use crate::span::Span;

pub(crate) use build::SyntaxError;

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused)]
    grammar,
    "/parse/grammar.rs"
);

/// Parses a whole script. Parsing stops at the first syntax error.
pub fn parse(source: &str) -> Result<Program, Diagnostic> {
    let pre = lex::preprocess(source)?;
    let tokens = lex::lex(&pre, source).map_err(|e| lex_diagnostic(source, e))?;
    let parser = grammar::ProgramParser::new();
    let stream = tokens.iter().cloned().map(Ok::<Spanned, SyntaxError>);
    match parser.parse(stream) {
        Ok(items) => Ok(Program {
            items,
            directives: pre.directives,
        }),
        Err(e) => Err(parse_diagnostic(source, &tokens, e)),
    }
}

fn lex_diagnostic(source: &str, e: LexError) -> Diagnostic {
    let text = &source[e.span.range()];
    match e.kind {
        LexErrorKind::UnterminatedString => {
            Diagnostic::error("unterminated string", e.span, "this string is never closed")
                .with_help("close the string with `\"` on the same line")
        }
        LexErrorKind::UnterminatedChar => Diagnostic::error(
            "unterminated character literal",
            e.span,
            "expected one character and a closing `'`",
        )
        .with_help("strings use double quotes: \"text\""),
        LexErrorKind::UnterminatedComment => Diagnostic::error(
            "unterminated comment",
            Span::new(e.span.start as usize, e.span.start as usize + 2),
            "this comment is never closed",
        )
        .with_help("close the comment with `*/`"),
        LexErrorKind::BadEscape(esc) => Diagnostic::error(
            format!("unknown escape sequence `{esc}`"),
            e.span,
            "in this string",
        )
        .with_help("escapes are \\n \\t \\r \\\\ \\\" \\xNN and octal \\NNN"),
        LexErrorKind::BadInteger(msg) if msg.contains("#define") => {
            Diagnostic::error(msg, e.span, "expanded here")
        }
        LexErrorKind::BadInteger(_) => Diagnostic::error(
            format!("invalid integer literal `{text}`"),
            e.span,
            "not a number",
        )
        .with_help(
            "integers are decimal (1_000), hex (0x1f), octal (0755), binary (0b101), \
             scientific (1e6) or durations (10ms, 5s), and fit in 64 bits",
        ),
        LexErrorKind::Unclosed('<') => Diagnostic::error(
            "unclosed `<` body",
            e.span,
            "this body is never closed with `>`",
        )
        .with_help("in a `< ... >` body every statement ends with `;`, then `>` closes it"),
        LexErrorKind::Unclosed(c) => {
            let close = match c {
                '{' => '}',
                '(' => ')',
                _ => ']',
            };
            // A keyed map's `[` is one token with its name (`@reads[`): point at the bracket.
            let span = if text.len() > 1 && text.ends_with(c) {
                Span::new(e.span.end as usize - 1, e.span.end as usize)
            } else {
                e.span
            };
            Diagnostic::error(
                format!("unclosed `{c}`"),
                span,
                format!("this `{c}` is never closed"),
            )
            .with_help(format!("add the matching `{close}`"))
        }
        LexErrorKind::Unopened(c) => {
            Diagnostic::error(format!("unmatched `{c}`"), e.span, "nothing opened this")
        }
        LexErrorKind::UnexpectedChar => Diagnostic::error(
            format!("unexpected character `{text}`"),
            e.span,
            "not part of the language",
        ),
    }
}

fn parse_diagnostic(
    source: &str,
    tokens: &[Spanned],
    e: ParseError<usize, Tok, SyntaxError>,
) -> Diagnostic {
    match e {
        ParseError::User { error } => {
            let d = Diagnostic::error(error.message, error.span, error.label);
            match error.help {
                Some(h) => d.with_help(h),
                None => d,
            }
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => unexpected_token(source, tokens, Span::new(l, r), &tok, &expected),
        ParseError::UnrecognizedEof { location, expected } => {
            let at = Span::new(location, location);
            Diagnostic::error(
                format!(
                    "unexpected end of script, expected {}",
                    describe_expected(&expected)
                ),
                at,
                "the script ends here",
            )
        }
        ParseError::ExtraToken { token: (l, tok, r) } => Diagnostic::error(
            format!("unexpected {}", tok.describe()),
            Span::new(l, r),
            "nothing more was expected here",
        ),
        ParseError::InvalidToken { location } => Diagnostic::error(
            "invalid token",
            Span::new(location, location + 1),
            "not part of the language",
        ),
    }
}

fn unexpected_token(
    source: &str,
    tokens: &[Spanned],
    span: Span,
    tok: &Tok,
    expected: &[String],
) -> Diagnostic {
    let expects = |name: &str| expected.iter().any(|e| e == &format!("\"{name}\""));
    let previous = tokens
        .iter()
        .take_while(|(l, _, _)| *l < span.start as usize)
        .last();
    let in_predicate = tokens
        .iter()
        .take_while(|(l, _, _)| *l < span.start as usize)
        .fold(false, |inside, (_, t, _)| match t {
            Tok::PredOpen => true,
            Tok::PredClose => false,
            _ => inside,
        });

    if *tok == Tok::Assign && (in_predicate || expects("==")) {
        let d = Diagnostic::error(
            "`=` assigns; it cannot be used in a condition",
            span,
            "this is an assignment",
        );
        return d.with_help("to compare, write `==`");
    }

    // A statement followed by another on the next line without `;` between them.
    if expects(";") {
        if let Some(&(_, _, prev_end)) = previous {
            let gap = &source[prev_end..span.start as usize];
            if gap.contains('\n') {
                return Diagnostic::error(
                    "missing `;` between statements",
                    Span::new(prev_end, prev_end),
                    "expected `;` here",
                )
                .with_label(span, "the next statement starts here")
                .with_help("end the statement with `;`");
            }
        }
    }

    // Two attach points in a row: a forgotten `,` if the second looks like one, else a body
    // without its braces (`BEGIN printf(...)`).
    if let (Tok::AttachPoint(text), Some((_, Tok::AttachPoint(probe), _))) = (tok, previous) {
        if !text.contains(':') {
            return Diagnostic::error(
                format!("expected `{{` to start the body of `{probe}`, found `{text}`"),
                span,
                "the body should start here",
            )
            .with_help(format!(
                "the probe's statements go in braces: `{probe} {{ ... }}`"
            ));
        }
    }
    if let (Tok::AttachPoint(_), Some((_, Tok::AttachPoint(_), prev_end))) = (tok, previous) {
        return Diagnostic::error(
            "missing `,` between attach points",
            Span::new(*prev_end, *prev_end),
            "expected `,` here",
        )
        .with_label(span, "the next attach point starts here")
        .with_help("list several attach points as `a:b:c, d:e:f { ... }`");
    }
    if let Tok::AttachPoint(text) = tok {
        return Diagnostic::error(
            format!("expected {}, found `{text}`", describe_expected(expected)),
            span,
            "unexpected here",
        )
        .with_note("a probe is written `provider:target { statements }`");
    }

    let mut d = Diagnostic::error(
        format!(
            "expected {}, found {}",
            describe_expected(expected),
            tok.describe()
        ),
        span,
        "unexpected here",
    );
    if expects("/ (end of predicate)") || (matches!(tok, Tok::Slash) && expects("{")) {
        d = d.with_help("a predicate is written `/ condition /` between the probe and its `{`");
    } else if matches!(previous, Some((_, Tok::AttachPoint(_), _))) && expects("{") {
        d = d.with_help("the probe's statements go in braces: `probe { statements }`");
    }
    d
}

/// "`;` or `}`", "an expression", ... from LALRPOP's list of expected terminals.
fn describe_expected(expected: &[String]) -> String {
    let names: Vec<&str> = expected.iter().map(|e| e.trim_matches('"')).collect();
    let starts_expression = ["integer", "identifier", "$variable", "@map", "string"]
        .iter()
        .all(|n| names.contains(n));
    let mut words: Vec<String> = Vec::new();
    if starts_expression {
        words.push("an expression".into());
    }
    let operand_tokens = [
        "integer",
        "identifier",
        "$variable",
        "@map",
        "string",
        "character",
        "$N",
        "$#",
        "true",
        "false",
        "sizeof",
        "offsetof",
        "typeof",
        "(",
        "-",
        "+",
        "!",
        "~",
        "*",
        "&",
        "++",
        "--",
    ];
    for n in &names {
        if starts_expression && operand_tokens.contains(n) {
            continue;
        }
        if is_binary_operator(n) {
            continue;
        }
        words.push(match *n {
            "attach point" => "a probe (such as `tracepoint:syscalls:sys_enter_read`)".into(),
            "/ (predicate)" => "a predicate `/.../`".into(),
            "/ (end of predicate)" => "`/` to close the predicate".into(),
            "< (body)" => "a `< ... >` body".into(),
            "> (end of body)" => "`>` to close the body".into(),
            "@map[" => "a keyed map".into(),
            n if n.starts_with('$') || n.contains(' ') => n.to_string(),
            n => format!("`{n}`"),
        });
    }
    if names.iter().any(|n| is_binary_operator(n)) && words.len() < 6 {
        words.push("an operator".into());
    }
    match words.len() {
        0 => "something else".into(),
        1 => words.remove(0),
        n if n > 6 => format!("{} or one of {} others", words[..5].join(", "), n - 5),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {last}", words.join(", "))
        }
    }
}

fn is_binary_operator(name: &str) -> bool {
    matches!(
        name,
        "||" | "&&"
            | "|"
            | "^"
            | "&"
            | "=="
            | "!="
            | "<"
            | "<="
            | ">"
            | ">="
            | "<<"
            | ">>"
            | "+"
            | "-"
            | "*"
            | "/"
            | "%"
            | "?"
            | "."
            | "->"
            | "["
            | "++"
            | "--"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{CAttribute, CBody, CDefinition, ExprKind, Item, StmtKind, TypeBase};

    fn definition(source: &str) -> CDefinition {
        match parse(source).unwrap().items.into_iter().next() {
            Some(Item::CDefinition(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn c_definitions_take_the_forms_of_the_current_release() {
        // The last field's `;` left out; several declarators with their own `*`s and arrays.
        let d = definition("struct A { char *a, b[4], **c; int d:3, e:5 } BEGIN {}");
        let CBody::Fields(f) = &d.body else { panic!() };
        let words: Vec<(String, String, Vec<u64>, Option<u64>)> = f
            .iter()
            .map(|f| {
                (
                    f.name.name.clone(),
                    f.type_words.join(" "),
                    f.array.clone(),
                    f.bits,
                )
            })
            .collect();
        assert_eq!(
            words,
            [
                ("a".into(), "char *".into(), vec![], None),
                ("b".into(), "char".into(), vec![4], None),
                ("c".into(), "char * *".into(), vec![], None),
                ("d".into(), "int".into(), vec![], Some(3)),
                ("e".into(), "int".into(), vec![], Some(5)),
            ]
        );
        // Definitions inside a struct, named and anonymous, and an anonymous member.
        let d = definition(
            "struct O { struct I { int x; } i, *p; struct { int m[1] } y; union { int u; }; } BEGIN {}",
        );
        let CBody::Fields(f) = &d.body else { panic!() };
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[0].defined.as_ref().unwrap().name.as_ref().unwrap().name,
            "I"
        );
        assert_eq!(f[1].type_words, ["struct", "I", "*"]);
        assert!(f[1].defined.is_none());
        assert!(f[2].defined.as_ref().unwrap().name.is_none());
        assert_eq!(f[3].name.name, "");
        assert_eq!(d.with_nested().len(), 4);
        // Attributes after the brace, an anonymous enum.
        let d = definition(
            "struct P { int x; } /**/ __attribute__((packed)) __attribute__((aligned(2))) BEGIN {}",
        );
        assert_eq!(d.attributes, [CAttribute::Packed, CAttribute::Aligned(2)]);
        assert!(definition("enum { A, B = 3 }; BEGIN {}").name.is_none());
    }

    #[test]
    fn c_integer_typedefs_are_the_script_s_integers() {
        let program =
            parse("BEGIN { $a = (uint64_t)1; let $b: __s16 = 2; $c = (pid_t)3; $d = (u8 *)0; }")
                .unwrap();
        let mut bases = Vec::new();
        let Item::Probe(p) = &program.items[0] else {
            panic!()
        };
        for stmt in &p.body.stmts {
            match &stmt.kind {
                StmtKind::Assign { value, .. } => {
                    if let ExprKind::Cast { ty, .. } = &value.kind {
                        bases.push(ty.base.clone());
                    }
                }
                StmtKind::Let { ty: Some(ty), .. } => bases.push(ty.base.clone()),
                _ => {}
            }
        }
        assert_eq!(
            bases,
            [
                TypeBase::Builtin("uint64".into()),
                TypeBase::Builtin("int16".into()),
                TypeBase::Named("pid_t".into()),
                TypeBase::Builtin("uint8".into()),
            ]
        );
    }

    #[test]
    fn bad_c_definitions_are_errors_at_the_text() {
        let source = "struct P { int x; } __attribute__((weak)) BEGIN {}";
        let d = parse(source).unwrap_err();
        assert_eq!(&source[d.span().range()], "weak");
        let source = "struct P { int x; } __attribute__((aligned(3))) BEGIN {}";
        assert_eq!(
            parse(source).unwrap_err().message,
            "the alignment must be a power of two"
        );
        let source = "struct P { struct Q { int x; }; } BEGIN {}";
        assert_eq!(parse(source).unwrap_err().message, "a field needs a name");
    }

    #[test]
    fn an_unclosed_map_key_points_at_its_bracket() {
        let source = "BEGIN { @reads[pid = count(); }";
        let d = parse(source).unwrap_err();
        assert_eq!(d.message, "unclosed `[`");
        assert_eq!(&source[d.span().range()], "[");
        let source = "BEGIN { printf(\"%d\\n\", (1 + 2); }";
        assert_eq!(&source[parse(source).unwrap_err().span().range()], "(");
    }
}

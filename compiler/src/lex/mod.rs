//! Lexing: preprocessor lines first, then a scanner that knows where it is in the script.
//!
//! bpftrace's text has two lexical worlds. Attach points (`uprobe:/bin/bash:read*`) are paths
//! and globs; bodies, predicates and top-level items are C-like code. The scanner reads attach
//! points itself and hands code regions to the logos lexer in `token`, producing one token
//! stream for the parser. It also decides the two places where a character's meaning depends
//! on context: the `/` that closes a predicate (the next thing is the body) and the `>` that
//! closes a `< ... >` body (it stands where a statement would start).

mod preprocess;
mod token;

use std::collections::HashMap;

use logos::Logos;

pub(crate) use preprocess::{preprocess, Preprocessed};
pub use preprocess::{Directive, DirectiveKind};
pub use token::parse_integer;
pub(crate) use token::{LexErrorKind, Tok};

use crate::span::Span;

/// A token with its byte range, as LALRPOP wants it.
pub type Spanned<'a> = (usize, Tok<'a>, usize);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub kind: LexErrorKind,
    pub span: Span,
}

/// How deep `#define` values may expand into each other before we call it a loop.
const MAX_DEFINE_DEPTH: usize = 16;

/// Lexes preprocessed text. `original` is the text as the user wrote it (define values are
/// read from there, since their lines are blanked in `pre.text`).
pub fn lex<'a>(pre: &'a Preprocessed, original: &'a str) -> Result<Vec<Spanned<'a>>, LexError> {
    let mut scanner = Scanner {
        text: &pre.text,
        original,
        defines: &pre.defines,
        pos: 0,
        out: Vec::new(),
    };
    scanner.top_level()?;
    let mut out = scanner.out;
    mark_typedef_casts(&mut out);
    mark_type_contexts(&mut out);
    Ok(out)
}

/// `(uint64_t)x`, `(size_t *)p`, `(pid_t)-1`: an identifier alone in parentheses, with or
/// without `*`s, is a C type in a cast (as bpftrace reads it) when what follows can only be
/// the cast's operand; or when it has `*`s, which no expression ends in; or when it is a C
/// integer type's name and a unary `-`, `*`, `&` or `+` follows. The parentheses of a call,
/// `sizeof`, `if` and the like never open a cast.
fn mark_typedef_casts(out: &mut [Spanned<'_>]) {
    for i in 1..out.len() {
        if out[i - 1].1 != Tok::LParen || !matches!(out[i].1, Tok::Ident(_)) {
            continue;
        }
        let call_or_keyword = i >= 2
            && matches!(
                out[i - 2].1,
                Tok::Ident(_)
                    | Tok::TypeName(_)
                    | Tok::TypedefName(_)
                    | Tok::Sizeof
                    | Tok::Offsetof
                    | Tok::Typeof
                    | Tok::TypeofType
                    | Tok::If
                    | Tok::While
                    | Tok::For
                    | Tok::Unroll
                    | Tok::RParen
                    | Tok::RBracket
                    | Tok::Var(_)
                    | Tok::Map(_)
            );
        if call_or_keyword {
            continue;
        }
        let mut close = i + 1;
        while out.get(close).is_some_and(|t| t.1 == Tok::Star) {
            close += 1;
        }
        if out.get(close).map(|t| &t.1) != Some(&Tok::RParen) {
            continue;
        }
        let Tok::Ident(name) = out[i].1 else {
            continue;
        };
        let pointer = close > i + 1;
        let cast = pointer
            || match out.get(close + 1).map(|t| &t.1) {
                Some(
                    Tok::Ident(_)
                    | Tok::Int(_)
                    | Tok::Var(_)
                    | Tok::Map(_)
                    | Tok::MapKeys(_)
                    | Tok::Positional(_)
                    | Tok::Str(_)
                    | Tok::Char(_)
                    | Tok::LParen
                    | Tok::Bang
                    | Tok::Tilde
                    | Tok::TypeName(_)
                    | Tok::True
                    | Tok::False
                    | Tok::Sizeof
                    | Tok::Offsetof,
                ) => true,
                Some(Tok::Minus | Tok::Star | Tok::Amp | Tok::Plus) => is_c_integer_name(name),
                _ => false,
            };
        if cast {
            out[i].1 = Tok::TypedefName(name);
        }
    }
}

/// Where the current release reads a type rather than a value (docs/language.md, "Type
/// expressions"): `typeof` in a cast's parentheses, after a `:` or inside another `typeof`
/// is a type (`(typeof(x))y`, `let $y: typeof(x)`); inside `typeof(...)` a name, with or
/// without `*`s and `[N]`, is a type (`typeof(size_t)`, `typeof(t*)`); inside `sizeof(...)`
/// a name with `*`s or `[N]` is one (`sizeof(t*)`, `sizeof(t[2])`), which no value ends in.
/// Runs after `mark_typedef_casts`, which has marked the names of casts.
fn mark_type_contexts(out: &mut [Spanned<'_>]) {
    for i in 0..out.len() {
        let before = |back: usize| i.checked_sub(back).map(|j| &out[j].1);
        if out[i].1 == Tok::Typeof {
            let in_type = match before(1) {
                Some(Tok::Colon) => true,
                Some(Tok::LParen) => match before(2) {
                    Some(Tok::Typeof | Tok::TypeofType) => true,
                    // A call's or keyword's parentheses (`f(typeof(x))`, `sizeof(...)`) hold
                    // a value; any other `(` directly before `typeof` opens a cast.
                    Some(
                        Tok::Ident(_)
                        | Tok::Sizeof
                        | Tok::Offsetof
                        | Tok::If
                        | Tok::While
                        | Tok::For
                        | Tok::Unroll
                        | Tok::RParen
                        | Tok::RBracket
                        | Tok::Var(_)
                        | Tok::Map(_),
                    ) => false,
                    _ => true,
                },
                _ => false,
            };
            if in_type {
                out[i].1 = Tok::TypeofType;
            }
            continue;
        }
        let Tok::Ident(name) = out[i].1 else {
            continue;
        };
        let typeof_paren = matches!(before(2), Some(Tok::Typeof | Tok::TypeofType));
        let sizeof_paren = matches!(before(2), Some(Tok::Sizeof));
        if before(1) != Some(&Tok::LParen) || !(typeof_paren || sizeof_paren) {
            continue;
        }
        let mut close = i + 1;
        while out.get(close).is_some_and(|t| t.1 == Tok::Star) {
            close += 1;
        }
        let stars = close > i + 1;
        let array = matches!(
            (out.get(close), out.get(close + 1), out.get(close + 2)),
            (
                Some((_, Tok::LBracket, _)),
                Some((_, Tok::Int(_), _)),
                Some((_, Tok::RBracket, _))
            )
        );
        if array {
            close += 3;
        }
        if out.get(close).map(|t| &t.1) == Some(&Tok::RParen) && (typeof_paren || stars || array) {
            out[i].1 = Tok::TypedefName(name);
        }
    }
}

/// The C and kernel integer type names a cast of a negated or dereferenced value may use.
fn is_c_integer_name(name: &str) -> bool {
    let bare = name.trim_start_matches("__");
    matches!(
        bare,
        "char" | "short" | "int" | "long" | "unsigned" | "signed" | "size_t" | "ssize_t"
    ) || bare.ends_with("_t")
        || (bare.len() >= 2
            && matches!(&bare[..1], "u" | "s")
            && matches!(&bare[1..], "8" | "16" | "32" | "64"))
}

/// Where a run of code tokens ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Until the first `{` opened in the region is closed (bodies, config, macro, fn).
    Braced,
    /// Like `Braced`, then an optional `;` (C struct definitions).
    BracedThenSemi,
    /// Until the first `(` opened in the region is closed (`__attribute__((packed))`).
    Parenthesized,
    /// Until a `;` outside brackets, inclusive (`import "x";`).
    UntilSemi,
    /// Until the `/` that is followed by the body.
    Predicate,
    /// Until a `>` where a statement would start.
    Angle,
}

struct Scanner<'a> {
    text: &'a str,
    original: &'a str,
    defines: &'a HashMap<String, Span>,
    pos: usize,
    out: Vec<Spanned<'a>>,
}

impl<'a> Scanner<'a> {
    fn top_level(&mut self) -> Result<(), LexError> {
        loop {
            self.skip_trivia()?;
            let Some(c) = self.peek() else {
                return Ok(());
            };
            let word = leading_word(&self.text[self.pos..]);
            match word {
                "config" if self.char_after_word(word) == Some('=') => self.code(Region::Braced)?,
                "macro" | "fn" => self.code(Region::Braced)?,
                "import" | "let" => self.code(Region::UntilSemi)?,
                "struct" | "union" | "enum" => self.code(Region::BracedThenSemi)?,
                "__attribute__" => self.code(Region::Parenthesized)?,
                _ if starts_attach_point(c) => self.probe()?,
                // Anything else is a syntax error; lex one code token so the parser can say
                // what it expected instead.
                _ => self.one_token()?,
            }
        }
    }

    fn probe(&mut self) -> Result<(), LexError> {
        loop {
            self.attach_point()?;
            self.skip_trivia()?;
            if self.peek() == Some(',') {
                self.out.push((self.pos, Tok::Comma, self.pos + 1));
                self.pos += 1;
                self.skip_trivia()?;
                if self.peek().is_some_and(starts_attach_point) {
                    continue;
                }
            }
            break;
        }
        if self.peek() == Some('/') {
            self.out.push((self.pos, Tok::PredOpen, self.pos + 1));
            self.pos += 1;
            self.code(Region::Predicate)?;
            self.skip_trivia()?;
        }
        match self.peek() {
            Some('{') => self.code(Region::Braced),
            Some('<') => {
                self.out.push((self.pos, Tok::AngleOpen, self.pos + 1));
                self.pos += 1;
                self.code(Region::Angle)
            }
            _ => Ok(()),
        }
    }

    /// Reads one attach point: everything up to white space or a delimiter, with `"..."`
    /// quoting any character (for paths with spaces and C++ names).
    fn attach_point(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => match self.text[i + 1..].find('"') {
                    Some(close) => i += close + 2,
                    None => {
                        return Err(LexError {
                            kind: LexErrorKind::UnterminatedString,
                            span: Span::new(
                                i,
                                self.text[i..].find('\n').map_or(bytes.len(), |n| i + n),
                            ),
                        })
                    }
                },
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b'{' | b'}' | b';' | b'<' | b'(' | b')' => {
                    break
                }
                _ => i += 1,
            }
        }
        self.out
            .push((start, Tok::AttachPoint(&self.text[start..i]), i));
        self.pos = i;
        Ok(())
    }

    /// Lexes code tokens from the current position until the region ends.
    fn code(&mut self, region: Region) -> Result<(), LexError> {
        let base = self.pos;
        let mut lexer = Tok::lexer(&self.text[base..]);
        let mut open: Vec<(char, Span)> = Vec::new();
        // The region's own opener (`{`, or `(` for an attribute) has been seen.
        let mut opened_brace = false;
        while let Some(result) = lexer.next() {
            let span = lexer.span();
            let (start, end) = (base + span.start, base + span.end);
            let tok = result.map_err(|kind| LexError {
                kind,
                span: Span::new(start, end),
            })?;
            let at_depth_zero = open.is_empty();
            let mut finished = false;
            let tok = match tok {
                Tok::Slash if region == Region::Predicate && at_depth_zero => {
                    if matches!(self.next_significant(end), Some('{') | Some('<')) {
                        finished = true;
                        Tok::PredClose
                    } else {
                        Tok::Slash
                    }
                }
                Tok::Gt
                    if region == Region::Angle
                        && at_depth_zero
                        && matches!(
                            self.out.last(),
                            Some((_, Tok::Semi | Tok::RBrace | Tok::AngleOpen, _))
                        ) =>
                {
                    finished = true;
                    Tok::AngleClose
                }
                Tok::Semi if at_depth_zero && region == Region::UntilSemi => {
                    finished = true;
                    Tok::Semi
                }
                Tok::LBrace | Tok::LParen | Tok::LBracket | Tok::MapKeys(_) => {
                    let c = match tok {
                        Tok::LBrace => '{',
                        Tok::LParen => '(',
                        _ => '[',
                    };
                    opened_brace |= c
                        == if region == Region::Parenthesized {
                            '('
                        } else {
                            '{'
                        };
                    open.push((c, Span::new(start, end)));
                    tok
                }
                Tok::RBrace | Tok::RParen | Tok::RBracket => {
                    let c = match tok {
                        Tok::RBrace => '{',
                        Tok::RParen => '(',
                        _ => '[',
                    };
                    // Close the nearest matching opener. Openers it skips over were never
                    // closed: report the innermost at its place. A closer that matches
                    // nothing is left for the parser to report with what it expected.
                    if let Some(at) = open.iter().rposition(|&(o, _)| o == c) {
                        if let Some(&(skipped, span)) = open.get(at + 1..).and_then(<[_]>::last) {
                            return Err(LexError {
                                kind: LexErrorKind::Unclosed(skipped),
                                span,
                            });
                        }
                        open.truncate(at);
                    }
                    let closes_region = match region {
                        Region::Braced | Region::BracedThenSemi => c == '{',
                        Region::Parenthesized => c == '(',
                        _ => false,
                    };
                    if open.is_empty() && opened_brace && closes_region {
                        finished = true;
                    }
                    tok
                }
                Tok::Ident(name) if self.defines.contains_key(name) => {
                    self.expand_define(name, Span::new(start, end), 0)?;
                    continue;
                }
                tok => tok,
            };
            self.out.push((start, tok, end));
            if finished {
                self.pos = end;
                if region == Region::BracedThenSemi {
                    self.skip_trivia()?;
                    if self.peek() == Some(';') {
                        self.out.push((self.pos, Tok::Semi, self.pos + 1));
                        self.pos += 1;
                    }
                }
                return Ok(());
            }
        }
        self.pos = self.text.len();
        match (open.last(), region) {
            (Some(&(c, span)), _) => Err(LexError {
                kind: LexErrorKind::Unclosed(c),
                span,
            }),
            (None, Region::Angle) => Err(LexError {
                kind: LexErrorKind::Unclosed('<'),
                span: self.opener_of_angle(),
            }),
            // A predicate or import that runs to the end: the parser says what is missing.
            _ => Ok(()),
        }
    }

    fn opener_of_angle(&self) -> Span {
        self.out
            .iter()
            .rev()
            .find(|(_, t, _)| *t == Tok::AngleOpen)
            .map(|&(s, _, e)| Span::new(s, e))
            .unwrap_or_default()
    }

    /// Substitutes an object-like `#define`: its value's tokens, each spanning the use.
    fn expand_define(&mut self, name: &str, at: Span, depth: usize) -> Result<(), LexError> {
        if depth > MAX_DEFINE_DEPTH {
            return Err(LexError {
                kind: LexErrorKind::BadInteger(format!("#define {name} expands into itself")),
                span: at,
            });
        }
        let value = self.defines[name];
        let text = &self.original[value.range()];
        for (result, _) in Tok::lexer(text).spanned() {
            let tok = result.map_err(|kind| LexError { kind, span: value })?;
            match tok {
                Tok::Ident(inner) if self.defines.contains_key(inner) && inner != name => {
                    self.expand_define(inner, at, depth + 1)?
                }
                tok => self.out.push((at.start as usize, tok, at.end as usize)),
            }
        }
        Ok(())
    }

    fn one_token(&mut self) -> Result<(), LexError> {
        let mut lexer = Tok::lexer(&self.text[self.pos..]);
        let base = self.pos;
        if let Some(result) = lexer.next() {
            let span = lexer.span();
            let (start, end) = (base + span.start, base + span.end);
            let tok = result.map_err(|kind| LexError {
                kind,
                span: Span::new(start, end),
            })?;
            self.out.push((start, tok, end));
            self.pos = end;
        } else {
            self.pos = self.text.len();
        }
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn char_after_word(&self, word: &str) -> Option<char> {
        self.next_significant(self.pos + word.len())
    }

    /// The first character at or after `from` that is not white space or a comment.
    fn next_significant(&self, from: usize) -> Option<char> {
        let at = self.trivia_end(from).ok()?;
        self.text[at..].chars().next()
    }

    fn skip_trivia(&mut self) -> Result<(), LexError> {
        self.pos = self.trivia_end(self.pos)?;
        Ok(())
    }

    /// Where the white space and comments starting at `from` end.
    fn trivia_end(&self, mut from: usize) -> Result<usize, LexError> {
        loop {
            let rest = &self.text[from..];
            let trimmed = rest.trim_start();
            from += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                from += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                match trimmed.find("*/") {
                    Some(e) => from += e + 2,
                    None => {
                        return Err(LexError {
                            kind: LexErrorKind::UnterminatedComment,
                            span: Span::new(from, from + 2),
                        })
                    }
                }
            } else {
                return Ok(from);
            }
        }
    }
}

fn leading_word(s: &str) -> &str {
    let end = s
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(s.len());
    &s[..end]
}

/// Attach points start like a name, a quoted part, a glob, a path or a positional parameter
/// (`$1 { }`, the whole attach point given on the command line).
fn starts_attach_point(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '"' | '.' | '?' | '[' | '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        // Leak the preprocessed text so tokens can borrow it for the test's duration.
        let pre: &'static Preprocessed = Box::leak(Box::new(preprocess(src).unwrap()));
        let src: &'static str = Box::leak(src.to_string().into_boxed_str());
        lex(pre, src)
            .unwrap()
            .into_iter()
            .map(|(_, t, _)| t)
            .collect()
    }

    #[test]
    fn a_name_alone_in_a_cast_is_a_typedef() {
        let typedefs = |src: &str| -> Vec<String> {
            kinds(src)
                .into_iter()
                .filter_map(|t| match t {
                    Tok::TypedefName(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            typedefs("BEGIN { $a = (uint64_t)1 + (size_t *)$p + (pid_t)-1 + (foo)(2); }"),
            ["uint64_t", "size_t", "pid_t", "foo"]
        );
        // Parentheses around a value, a call's and sizeof's are no casts; nor is a name
        // before an operator unless it is a C integer type's.
        assert!(typedefs(
            "BEGIN { $a = (ONE) - 1; $b = f(x) + sizeof(uint64_t) * 2; if (x) { } $c = (a) * b; }"
        )
        .is_empty());
    }

    #[test]
    fn attach_points_are_one_token_each() {
        let toks = kinds("uprobe:/bin/bash:read*, t:syscalls:sys_enter_open { }");
        assert_eq!(toks[0], Tok::AttachPoint("uprobe:/bin/bash:read*"));
        assert_eq!(toks[1], Tok::Comma);
        assert_eq!(toks[2], Tok::AttachPoint("t:syscalls:sys_enter_open"));
    }

    #[test]
    fn predicate_slashes_are_told_from_division() {
        let toks = kinds("k:f /pid / 2 == 1/ { }");
        assert_eq!(toks[1], Tok::PredOpen);
        assert!(toks.contains(&Tok::Slash));
        assert_eq!(toks[toks.len() - 3], Tok::PredClose);
    }

    #[test]
    fn angle_body_closes_where_a_statement_would_start() {
        let toks = kinds("u:b:f < if (a > 1) { @x = 1; } @y = a > b; > BEGIN { }");
        assert_eq!(toks.iter().filter(|t| **t == Tok::AngleClose).count(), 1);
        assert_eq!(toks.iter().filter(|t| **t == Tok::Gt).count(), 2);
        assert!(toks.contains(&Tok::AttachPoint("BEGIN")));
    }

    #[test]
    fn defines_expand_at_the_use_site() {
        let src = "#define N 16\nBEGIN { @x = N; }";
        let pre = preprocess(src).unwrap();
        let toks = lex(&pre, src).unwrap();
        let n = toks.iter().find(|(_, t, _)| *t == Tok::Int(16)).unwrap();
        assert_eq!(&src[n.0..n.2], "N");
    }

    #[test]
    fn unclosed_brace_points_at_the_opener() {
        let src = "BEGIN { if (x) { @a = 1; }";
        let pre = preprocess(src).unwrap();
        let err = lex(&pre, src).unwrap_err();
        assert_eq!(err.kind, LexErrorKind::Unclosed('{'));
        assert_eq!(err.span, Span::new(6, 7));
    }
}

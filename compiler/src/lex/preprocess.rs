//! The C preprocessor lines bpftrace scripts carry: a `#!` shebang, `#include` (accepted and
//! noted: types come from BTF), object-like `#define NAME value` (substituted by the scanner),
//! and `#ifdef`/`#ifndef`/`#if`/`#else`/`#endif` around them, as bpftrace's own tools use to
//! choose between BTF and headers. Directive lines and inactive regions are blanked with
//! spaces so that every byte offset, and so every span, still points at the user's text.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Macros predefined by the tool, as bpftrace predefines them.
const PREDEFINED: &[&str] = &["BPFTRACE_HAVE_BTF"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectiveKind {
    Shebang,
    Include(String),
    Define {
        name: String,
        value: Span,
    },
    /// A function-like `#define F(x) ...`: accepted, never expanded.
    DefineFunction(String),
    Undef(String),
    /// `#if*`, `#else`, `#endif`, `#pragma` and the like.
    Conditional,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub kind: DirectiveKind,
    pub span: Span,
}

/// The source with directives blanked, and what they said.
pub struct Preprocessed {
    pub text: String,
    pub directives: Vec<Directive>,
    /// Object-like macros: name to the span of its value in the (original) text.
    pub defines: HashMap<String, Span>,
}

struct Frame {
    /// This branch is being kept.
    active: bool,
    /// Some branch of this `#if` chain was already kept.
    taken: bool,
    /// The enclosing region is kept.
    parent: bool,
    open: Span,
}

pub fn preprocess(source: &str) -> Result<Preprocessed, Diagnostic> {
    let mut text = source.as_bytes().to_vec();
    let mut directives = Vec::new();
    let mut state = State {
        defines: HashMap::new(),
        stack: Vec::new(),
    };
    let mut offset = 0;
    let mut in_comment = false;
    for raw_line in source.split_inclusive('\n') {
        let start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let active = state.active();
        let trimmed = line.trim_start();
        let span = Span::new(start, start + line.len());
        if start == 0 && line.starts_with("#!") {
            directives.push(Directive {
                kind: DirectiveKind::Shebang,
                span,
            });
            blank(&mut text, span);
            continue;
        }
        let starts_in_comment = in_comment;
        in_comment = ends_in_comment(line, in_comment);
        if starts_in_comment || !trimmed.starts_with('#') {
            if !active {
                blank(&mut text, span);
            }
            continue;
        }
        let line = DirectiveLine::new(trimmed, start + line.len() - trimmed.len(), span);
        let kind = state.directive(&line, active)?;
        directives.push(Directive { kind, span });
        blank(&mut text, span);
    }
    if let Some(frame) = state.stack.last() {
        return Err(Diagnostic::error(
            "unterminated conditional directive",
            frame.open,
            "this is never closed by `#endif`",
        ));
    }
    // Only ASCII spaces replaced ASCII-or-not bytes at char boundaries of whole lines, so the
    // text is still UTF-8; fall back to the original if that ever stopped being true.
    let text = String::from_utf8(text).unwrap_or_else(|_| source.to_string());
    Ok(Preprocessed {
        text,
        directives,
        defines: state.defines,
    })
}

/// A directive line split as `#word rest`, `rest` trimmed.
struct DirectiveLine<'a> {
    word: &'a str,
    rest: &'a str,
    /// Where `rest` starts in the source.
    rest_start: usize,
    /// The name `rest` starts with (empty when none).
    first_name: &'a str,
    span: Span,
}

impl<'a> DirectiveLine<'a> {
    /// `trimmed` is the line from its `#`, which is at `at` in the source.
    fn new(trimmed: &'a str, at: usize, span: Span) -> DirectiveLine<'a> {
        let body = trimmed[1..].trim_start();
        let word_end = body
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(body.len());
        let (word, rest) = body.split_at(word_end);
        let rest = rest.trim();
        let first_name = rest
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        DirectiveLine {
            word,
            rest,
            // `rest` is a sub-slice of `trimmed`; find where it starts.
            rest_start: at + (rest.as_ptr() as usize - trimmed.as_ptr() as usize),
            first_name,
            span,
        }
    }
}

/// What the directives so far have set: the macros defined, the conditionals open.
struct State {
    defines: HashMap<String, Span>,
    stack: Vec<Frame>,
}

impl State {
    /// Whether the lines here are kept (every enclosing conditional taken).
    fn active(&self) -> bool {
        self.stack.last().is_none_or(|f| f.active)
    }

    fn is_defined(&self, name: &str) -> bool {
        self.defines.contains_key(name) || PREDEFINED.contains(&name)
    }

    fn directive(
        &mut self,
        line: &DirectiveLine,
        active: bool,
    ) -> Result<DirectiveKind, Diagnostic> {
        Ok(match line.word {
            "ifdef" | "ifndef" | "if" | "elif" | "else" | "endif" => {
                self.conditional(line, active)?
            }
            _ if !active => DirectiveKind::Conditional,
            "include" => DirectiveKind::Include(line.rest.to_string()),
            "define" => self.define(line)?,
            "undef" => {
                self.defines.remove(line.first_name);
                DirectiveKind::Undef(line.first_name.to_string())
            }
            "pragma" | "error" | "warning" | "line" => DirectiveKind::Conditional,
            word => {
                return Err(Diagnostic::error(
                    format!("unknown preprocessor directive `#{word}`"),
                    line.span,
                    "not a directive tracebound knows",
                )
                .with_help("directives are `#include`, `#define`, `#undef`, `#ifdef`, `#ifndef`, `#if`, `#else`, `#endif`"));
            }
        })
    }

    /// `#ifdef`, `#ifndef`, `#if`, `#elif`, `#else`, `#endif`.
    fn conditional(
        &mut self,
        line: &DirectiveLine,
        active: bool,
    ) -> Result<DirectiveKind, Diagnostic> {
        let span = line.span;
        match line.word {
            "ifdef" | "ifndef" | "if" => {
                let cond = match line.word {
                    "ifdef" => self.is_defined(line.first_name),
                    "ifndef" => !self.is_defined(line.first_name),
                    _ => eval_condition(line.rest, &|n| self.is_defined(n)),
                };
                self.stack.push(Frame {
                    active: active && cond,
                    taken: cond,
                    parent: active,
                    open: span,
                });
            }
            "elif" | "else" => {
                let cond =
                    line.word == "else" || eval_condition(line.rest, &|n| self.is_defined(n));
                let Some(frame) = self.stack.last_mut() else {
                    return Err(Diagnostic::error(
                        format!("`#{}` without `#if`", line.word),
                        span,
                        "no `#if`, `#ifdef` or `#ifndef` is open here",
                    ));
                };
                frame.active = frame.parent && !frame.taken && cond;
                frame.taken |= cond;
            }
            _ => {
                if self.stack.pop().is_none() {
                    return Err(Diagnostic::error(
                        "`#endif` without `#if`",
                        span,
                        "no `#if`, `#ifdef` or `#ifndef` is open here",
                    ));
                }
            }
        }
        Ok(DirectiveKind::Conditional)
    }

    /// `#define NAME value` (object-like, noted for substitution) or `#define NAME(...)`.
    fn define(&mut self, line: &DirectiveLine) -> Result<DirectiveKind, Diagnostic> {
        let name = line.first_name;
        let after_name = &line.rest[name.len()..];
        if name.is_empty() {
            return Err(Diagnostic::error(
                "`#define` needs a name",
                line.span,
                "expected a name after `#define`",
            )
            .with_help("write `#define NAME value`"));
        }
        if after_name.starts_with('(') {
            return Ok(DirectiveKind::DefineFunction(name.to_string()));
        }
        let value = after_name.trim();
        let value_start = if value.is_empty() {
            line.span.end as usize
        } else {
            line.rest_start + (value.as_ptr() as usize - line.rest.as_ptr() as usize)
        };
        let value_span = Span::new(value_start, value_start + value.len());
        self.defines.insert(name.to_string(), value_span);
        Ok(DirectiveKind::Define {
            name: name.to_string(),
            value: value_span,
        })
    }
}

/// Whether a `/* */` comment is still open at the end of `line`.
fn ends_in_comment(line: &str, mut in_comment: bool) -> bool {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let two = &bytes[i..(i + 2).min(bytes.len())];
        if in_comment {
            if two == b"*/" {
                in_comment = false;
                i += 1;
            }
        } else if in_string {
            match bytes[i] {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if two == b"/*" {
            in_comment = true;
            i += 1;
        } else if two == b"//" {
            return false;
        } else if bytes[i] == b'"' {
            in_string = true;
        }
        i += 1;
    }
    in_comment
}

/// Replaces a line's bytes with spaces, keeping multi-byte characters' lengths.
fn blank(text: &mut [u8], span: Span) {
    for b in &mut text[span.range()] {
        *b = b' ';
    }
}

/// `#if` conditions: `defined(X)`, `defined X`, `!`, `&&`, `||`, integers. Anything else counts
/// as 0, as an undefined macro does in C.
fn eval_condition(cond: &str, defined: &dyn Fn(&str) -> bool) -> bool {
    cond.split("||").any(|alt| {
        alt.split("&&").all(|term| {
            let mut term = term.trim();
            let mut negate = false;
            while let Some(t) = term.strip_prefix('!') {
                negate = !negate;
                term = t.trim();
            }
            let value = if let Some(arg) = term.strip_prefix("defined") {
                let name = arg
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .trim();
                defined(name)
            } else {
                term.parse::<i64>().map(|n| n != 0).unwrap_or(false)
            };
            value != negate
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_blanked_and_offsets_kept() {
        let src = "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\n#define N 16\nBEGIN { }\n";
        let p = preprocess(src).unwrap();
        assert_eq!(p.text.len(), src.len());
        assert_eq!(p.text.trim(), "BEGIN { }");
        assert_eq!(&src[p.defines["N"].range()], "16");
        assert_eq!(p.directives.len(), 3);
    }

    #[test]
    fn btf_branch_is_kept() {
        let src = "#ifndef BPFTRACE_HAVE_BTF\nstruct x { int a; };\n#else\n#include <x.h>\n#endif\nBEGIN {}";
        let p = preprocess(src).unwrap();
        assert!(!p.text.contains("struct"));
        assert!(p.text.contains("BEGIN"));
    }

    #[test]
    fn hash_lines_inside_block_comments_are_comment_text() {
        let src = "/*\n # not a directive\n */\nBEGIN {}";
        let p = preprocess(src).unwrap();
        assert!(p.directives.is_empty());
        assert_eq!(p.text, src);
    }

    #[test]
    fn unbalanced_conditionals_are_errors() {
        assert!(preprocess("#ifdef X\nBEGIN {}").is_err());
        assert!(preprocess("#endif\n").is_err());
    }
}

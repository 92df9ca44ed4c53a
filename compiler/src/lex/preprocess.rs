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
    let mut defines: HashMap<String, Span> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut offset = 0;
    let mut in_comment = false;
    for raw_line in source.split_inclusive('\n') {
        let start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let active = stack.last().is_none_or(|f| f.active);
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
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
        let body = trimmed[1..].trim_start();
        let word_end = body
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(body.len());
        let (word, rest) = body.split_at(word_end);
        let rest_trimmed = rest.trim();
        let first_name = rest_trimmed
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("")
            .to_string();
        let is_defined = |name: &str, defines: &HashMap<String, Span>| {
            defines.contains_key(name) || PREDEFINED.contains(&name)
        };
        let kind = match word {
            "ifdef" | "ifndef" | "if" => {
                let cond = match word {
                    "ifdef" => is_defined(&first_name, &defines),
                    "ifndef" => !is_defined(&first_name, &defines),
                    _ => eval_condition(rest_trimmed, &|n| is_defined(n, &defines)),
                };
                stack.push(Frame {
                    active: active && cond,
                    taken: cond,
                    parent: active,
                    open: span,
                });
                DirectiveKind::Conditional
            }
            "elif" | "else" => {
                let Some(frame) = stack.last_mut() else {
                    return Err(Diagnostic::error(
                        format!("`#{word}` without `#if`"),
                        span,
                        "no `#if`, `#ifdef` or `#ifndef` is open here",
                    ));
                };
                let cond =
                    word == "else" || eval_condition(rest_trimmed, &|n| is_defined(n, &defines));
                frame.active = frame.parent && !frame.taken && cond;
                frame.taken |= cond;
                DirectiveKind::Conditional
            }
            "endif" => {
                if stack.pop().is_none() {
                    return Err(Diagnostic::error(
                        "`#endif` without `#if`",
                        span,
                        "no `#if`, `#ifdef` or `#ifndef` is open here",
                    ));
                }
                DirectiveKind::Conditional
            }
            _ if !active => DirectiveKind::Conditional,
            "include" => DirectiveKind::Include(rest_trimmed.to_string()),
            "define" => {
                let after_name = &rest_trimmed[first_name.len()..];
                if first_name.is_empty() {
                    return Err(Diagnostic::error(
                        "`#define` needs a name",
                        span,
                        "expected a name after `#define`",
                    )
                    .with_help("write `#define NAME value`"));
                } else if after_name.starts_with('(') {
                    DirectiveKind::DefineFunction(first_name)
                } else {
                    let value = after_name.trim();
                    let value_start = if value.is_empty() {
                        span.end as usize
                    } else {
                        // `value` is a sub-slice of `line`; find where it starts.
                        start + lead + (value.as_ptr() as usize - trimmed.as_ptr() as usize)
                    };
                    let value_span = Span::new(value_start, value_start + value.len());
                    defines.insert(first_name.clone(), value_span);
                    DirectiveKind::Define {
                        name: first_name,
                        value: value_span,
                    }
                }
            }
            "undef" => {
                defines.remove(&first_name);
                DirectiveKind::Undef(first_name)
            }
            "pragma" | "error" | "warning" | "line" => DirectiveKind::Conditional,
            _ => {
                return Err(Diagnostic::error(
                    format!("unknown preprocessor directive `#{word}`"),
                    span,
                    "not a directive tracebound knows",
                )
                .with_help("directives are `#include`, `#define`, `#undef`, `#ifdef`, `#ifndef`, `#if`, `#else`, `#endif`"));
            }
        };
        directives.push(Directive { kind, span });
        blank(&mut text, span);
    }
    if let Some(frame) = stack.last() {
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
        defines,
    })
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

//! The integer macros of the C headers a script includes (`#include <errno.h>` for `EPERM`,
//! `<sys/socket.h>` for `AF_INET`): BTF has a kernel's enums but no macros, which only a C
//! preprocessor knows. The machine's facts give each header's definitions as the
//! preprocessor prints them (`cpp -dM`: `#define NAME BODY` lines); this module keeps the
//! object-like ones and evaluates a body as a C integer constant expression, its macros
//! expanded, when the script names it. A body that is not one (a string, a `sizeof`, a cast
//! to a type it cannot size) is an error at the use, never a guess.

use std::collections::HashMap;

/// How deep macros may expand into one another (a cycle stops here).
const MOST_EXPANSIONS: usize = 32;

/// One header's macros, or why it could not be read.
#[derive(Debug, Default)]
pub struct HeaderMacros {
    macros: HashMap<String, Macro>,
}

#[derive(Debug)]
struct Macro {
    header: String,
    /// A function-like macro's parameters (`__UINT64_C(c)`); `None` for an object-like one.
    params: Option<Vec<String>>,
    body: String,
}

/// A macro's value, and whether C types it signed (`EOF` is `(-1)`, an int) or unsigned
/// (`~0UL`): which decides how a negative 64-bit pattern prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacroValue {
    pub value: i64,
    pub signed: bool,
}

/// Why a macro's body is not an integer tracebound evaluates.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAnInteger {
    pub header: String,
    pub body: String,
}

impl HeaderMacros {
    /// Adds the `#define` lines `header` gave (later definitions replace earlier ones, as a
    /// later `#define` does).
    pub fn add(&mut self, header: &str, defines: &str) {
        for line in defines.lines() {
            let Some(rest) = line.trim_start().strip_prefix("#define ") else {
                continue;
            };
            let name_end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let (name, rest) = rest.split_at(name_end);
            if name.is_empty() {
                continue;
            }
            // A function-like macro has `(` right after its name.
            let (params, body) = match rest.strip_prefix('(') {
                Some(after) => {
                    let Some((list, body)) = after.split_once(')') else {
                        continue;
                    };
                    let params = list
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect();
                    (Some(params), body)
                }
                None => (None, rest),
            };
            self.macros.insert(
                name.to_string(),
                Macro {
                    header: header.to_string(),
                    params,
                    body: body.trim().to_string(),
                },
            );
        }
    }

    /// The value of object-like macro `name`: `None` when no header defines one.
    pub fn value(&self, name: &str) -> Option<Result<MacroValue, NotAnInteger>> {
        let m = self.macros.get(name).filter(|m| m.params.is_none())?;
        Some(
            self.evaluate(&m.body)
                .map(|n| MacroValue {
                    value: n.v,
                    signed: !n.unsigned,
                })
                .ok_or_else(|| NotAnInteger {
                    header: m.header.clone(),
                    body: m.body.clone(),
                }),
        )
    }

    /// The value of C integer constant expression `text`, these macros expanded in it (what
    /// a tracepoint's print format writes: `( unsigned long)((((1UL))) << (10))`).
    pub fn evaluate_expression(&self, text: &str) -> Option<MacroValue> {
        self.evaluate(text).map(|n| MacroValue {
            value: n.v,
            signed: !n.unsigned,
        })
    }

    fn evaluate(&self, body: &str) -> Option<Num> {
        let text = self.expand(body, 0)?;
        let mut p = Parser {
            tokens: tokenize(&text)?,
            at: 0,
        };
        let v = p.binary(0)?;
        (p.at == p.tokens.len()).then_some(v)
    }

    /// `text` with every macro replaced as the preprocessor replaces it: by its body's text
    /// (no parentheses added), a function-like one's parameters by its arguments and `##`
    /// pasting what it joins. C's integer type words stay, for casts; any other name is not
    /// part of an integer constant.
    fn expand(&self, text: &str, depth: usize) -> Option<String> {
        if depth > MOST_EXPANSIONS {
            return None;
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c.is_ascii_digit() {
                // A number with its suffix (`0x1fUL`): not a name.
                let end = rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                out.push_str(&rest[..end]);
                rest = &rest[end..];
            } else if is_name_char(c) {
                let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
                let name = &rest[..end];
                rest = &rest[end..];
                if is_type_word(name) {
                    out.push_str(name);
                    continue;
                }
                let m = self.macros.get(name)?;
                let replaced = match &m.params {
                    None => m.body.clone(),
                    Some(params) => {
                        let (args, after) = arguments(rest)?;
                        rest = after;
                        if args.len() != params.len() {
                            return None;
                        }
                        substitute(&m.body, params, &args)
                    }
                };
                out.push(' ');
                out.push_str(&self.expand(&replaced, depth + 1)?);
                out.push(' ');
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        Some(out)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A call's arguments after a function-like macro's name: `(a, (b, c))` is `a` and `(b, c)`;
/// returns them and the text after the `)`.
fn arguments(text: &str) -> Option<(Vec<String>, &str)> {
    let text = text.trim_start().strip_prefix('(')?;
    let mut args = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            ')' => {
                let last = text[start..i].trim();
                if !(args.is_empty() && last.is_empty()) {
                    args.push(last.to_string());
                }
                return Some((args, &text[i + 1..]));
            }
            ',' if depth == 0 => {
                args.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// A function-like macro's body with each parameter replaced by its argument, and `a ## b`
/// pasted into one token.
fn substitute(body: &str, params: &[String], args: &[String]) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if is_name_char(c) {
            let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let word = &rest[..end];
            match params.iter().position(|p| p == word) {
                Some(i) if !c.is_ascii_digit() => out.push_str(&args[i]),
                _ => out.push_str(word),
            }
            rest = &rest[end..];
        } else if let Some(after) = rest.strip_prefix("##") {
            let kept = out.trim_end().len();
            out.truncate(kept);
            rest = after.trim_start();
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// An integer as C computes it: its 64-bit pattern and whether its type is unsigned.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Num {
    v: i64,
    unsigned: bool,
}

impl Num {
    fn signed(v: i64) -> Num {
        Num { v, unsigned: false }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Int(Num),
    Name(String),
    Punct(&'static str),
}

const PUNCTS: [&str; 22] = [
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "+", "-", "*", "/", "%", "&", "|",
    "^", "~", "!", "<", ">",
];

fn tokenize(body: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            tokens.push(Token::Int(integer(&body[start..i])?));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            tokens.push(Token::Name(body[start..i].to_string()));
        } else {
            let p = PUNCTS.iter().find(|p| body[i..].starts_with(**p))?;
            tokens.push(Token::Punct(p));
            i += p.len();
        }
    }
    Some(tokens)
}

/// A C integer literal: decimal, `0x` hex or `0` octal, with `u`/`l` suffixes; unsigned
/// with a `u`, or when it does not fit a signed 64-bit type.
fn integer(text: &str) -> Option<Num> {
    let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let suffix_unsigned = text[digits.len()..].contains(['u', 'U']);
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(Num {
        v: v as i64,
        unsigned: suffix_unsigned || v > i64::MAX as u64,
    })
}

/// The words of a C integer type a body may cast to: `(unsigned long)1`, `(__u32)x`.
fn is_type_word(name: &str) -> bool {
    matches!(
        name,
        "int" | "long" | "short" | "char" | "unsigned" | "signed" | "const"
    ) || integer_type_width(name).is_some()
}

/// The width in bytes of a fixed-width typedef (`__u32`, `uint64_t`, `gfp_t`).
fn integer_type_width(name: &str) -> Option<(u32, bool)> {
    Some(match name {
        "__u8" | "u8" | "uint8_t" => (1, false),
        "__s8" | "s8" | "int8_t" => (1, true),
        "__u16" | "u16" | "uint16_t" => (2, false),
        "__s16" | "s16" | "int16_t" => (2, true),
        "__u32" | "u32" | "uint32_t" | "gfp_t" => (4, false),
        "__s32" | "s32" | "int32_t" => (4, true),
        "__u64" | "u64" | "uint64_t" | "size_t" => (8, false),
        "__s64" | "s64" | "int64_t" | "ssize_t" => (8, true),
        _ => return None,
    })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.peek() == Some(&Token::Punct(PUNCTS.iter().find(|x| **x == p).unwrap())) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// C's binary operators by precedence, from `||` (`a ? b : c` does not tokenize: a body
    /// with one is refused).
    fn binary(&mut self, level: usize) -> Option<Num> {
        const LEVELS: [&[&str]; 10] = [
            &["||"],
            &["&&"],
            &["|"],
            &["^"],
            &["&"],
            &["==", "!="],
            &["<", ">", "<=", ">="],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut a = self.binary(level + 1)?;
        'more: loop {
            for op in LEVELS[level] {
                if self.eat(op) {
                    let b = self.binary(level + 1)?;
                    a = apply(op, a, b)?;
                    continue 'more;
                }
            }
            return Some(a);
        }
    }

    fn unary(&mut self) -> Option<Num> {
        let with = |n: Num, v: i64| Num { v, ..n };
        if self.eat("-") {
            let n = self.unary()?;
            return Some(with(n, n.v.wrapping_neg()));
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("~") {
            let n = self.unary()?;
            return Some(with(n, !n.v));
        }
        if self.eat("!") {
            return Some(Num::signed(i64::from(self.unary()?.v == 0)));
        }
        if self.eat("(") {
            if let Some(to) = self.cast() {
                let n = self.unary()?;
                return Some(convert(n, to));
            }
            let n = self.binary(0)?;
            return self.eat(")").then_some(n);
        }
        match self.peek()?.clone() {
            Token::Int(n) => {
                self.at += 1;
                Some(n)
            }
            _ => None,
        }
    }

    /// After `(`: a type name and `)`, as its width and signedness; `None` (nothing eaten)
    /// when the parenthesis is not a cast.
    fn cast(&mut self) -> Option<(u32, bool)> {
        let start = self.at;
        let mut words = Vec::new();
        while let Some(Token::Name(n)) = self.peek() {
            words.push(n.clone());
            self.at += 1;
        }
        if words.is_empty() || !self.eat(")") {
            self.at = start;
            return None;
        }
        let signed = !words.iter().any(|w| w == "unsigned");
        let has = |word: &str| words.iter().any(|w| w == word);
        Some(
            words
                .iter()
                .find_map(|w| integer_type_width(w))
                .unwrap_or(if has("long") {
                    (8, signed)
                } else if has("short") {
                    (2, signed)
                } else if has("char") {
                    (1, signed)
                } else {
                    (4, signed)
                }),
        )
    }
}

/// `n` as C converts it to an integer of `width` bytes and that signedness; narrower than
/// an int, the result is promoted back to a (signed) int, as C does before using it.
fn convert(n: Num, (width, signed): (u32, bool)) -> Num {
    if width >= 8 {
        return Num {
            v: n.v,
            unsigned: !signed,
        };
    }
    let bits = width * 8;
    let mask = (1u64 << bits) - 1;
    let masked = (n.v as u64) & mask;
    let v = if signed && masked >> (bits - 1) == 1 {
        (masked | !mask) as i64
    } else {
        masked as i64
    };
    Num {
        v,
        unsigned: width == 4 && !signed,
    }
}

/// A binary operator with C's usual conversions: unsigned when either side is (a shift
/// takes its left side's type); comparisons and logic are ints.
fn apply(op: &str, a: Num, b: Num) -> Option<Num> {
    let unsigned = a.unsigned || b.unsigned;
    let (x, y) = (a.v, b.v);
    let (ux, uy) = (x as u64, y as u64);
    let truth = |t: bool| Some(Num::signed(i64::from(t)));
    let num = |v: i64| Some(Num { v, unsigned });
    match op {
        "||" => truth(x != 0 || y != 0),
        "&&" => truth(x != 0 && y != 0),
        "==" => truth(x == y),
        "!=" => truth(x != y),
        "<" => truth(if unsigned { ux < uy } else { x < y }),
        ">" => truth(if unsigned { ux > uy } else { x > y }),
        "<=" => truth(if unsigned { ux <= uy } else { x <= y }),
        ">=" => truth(if unsigned { ux >= uy } else { x >= y }),
        "|" => num(x | y),
        "^" => num(x ^ y),
        "&" => num(x & y),
        "+" => num(x.wrapping_add(y)),
        "-" => num(x.wrapping_sub(y)),
        "*" => num(x.wrapping_mul(y)),
        "/" if unsigned => num(ux.checked_div(uy)? as i64),
        "%" if unsigned => num(ux.checked_rem(uy)? as i64),
        "/" => num(x.checked_div(y)?),
        "%" => num(x.checked_rem(y)?),
        "<<" | ">>" => {
            let by = u32::try_from(y).ok().filter(|b| *b < 64)?;
            let v = match (op, a.unsigned) {
                ("<<", _) => x << by,
                (_, true) => (ux >> by) as i64,
                _ => x >> by,
            };
            Some(Num {
                v,
                unsigned: a.unsigned,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn macros(defines: &str) -> HeaderMacros {
        let mut m = HeaderMacros::default();
        m.add("<test.h>", defines);
        m
    }

    #[test]
    fn object_like_macros_expand_and_evaluate() {
        let m = macros(
            "#define EPERM 1\n#define PF_INET 2\n#define AF_INET PF_INET\n\
             #define BIT(n) (1UL << (n))\n#define HIGH ((( unsigned long)((((1UL))) << (5))))\n\
             #define SUM PF_INET + 1\n#define TWICE SUM * 2\n#define U64(c) c ## UL\n\
             #define MAX64 (U64(18446744073709551615))\n#define PAIR(a, b) ((a) << 8 | (b))\n\
             #define BOTH PAIR(1, (2, 3))\n#define MIXED PAIR(SUM, 4)\n#define NEG (-1)\n#define OCT 010\n\
             #define BYTE ((__u8)0x1ff)\n#define SBYTE ((signed char)0xff)\n\
             #define ALL (~0UL)\n#define HALF (ALL >> 1)\n#define WRAP (-1 < 0U)",
        );
        let v = |n: &str| m.value(n).unwrap().unwrap().value;
        let signed = |n: &str| m.value(n).unwrap().unwrap().signed;
        assert_eq!(v("EPERM"), 1);
        assert_eq!(v("AF_INET"), 2);
        assert_eq!(v("HIGH"), 32);
        assert_eq!(v("TWICE"), 4, "a body replaces the name as text: 2 + 1 * 2");
        assert_eq!(
            (v("MAX64"), signed("MAX64")),
            (-1, false),
            "pasted into 18446744073709551615UL"
        );
        assert_eq!(v("MIXED"), 3 << 8 | 4);
        assert!(
            m.value("BOTH").unwrap().is_err(),
            "a comma operator is not evaluated"
        );
        assert_eq!((v("NEG"), v("OCT")), (-1, 8));
        assert_eq!((v("BYTE"), v("SBYTE")), (0xff, -1));
        assert!(
            m.value("BIT").is_none(),
            "function-like macros are not values"
        );
        assert!(m.value("MISSING").is_none());
        // Unsigned arithmetic as C does it: ~0UL is all ones, shifted right logically, and
        // -1 converted to unsigned is not below 0.
        assert_eq!((v("ALL"), signed("ALL")), (-1, false));
        assert_eq!(v("HALF"), i64::MAX);
        assert_eq!(v("WRAP"), 0);
    }

    #[test]
    fn a_body_that_is_not_an_integer_says_so() {
        let m = macros(
            "#define NAME \"text\"\n#define SIZE sizeof(int)\n#define LOOP LOOP\n\
             #define UNDEFINED OTHER + 1\n#define PICK (1 ? 2 : 3)\n#define ZERO (1 / 0)",
        );
        for name in ["NAME", "SIZE", "LOOP", "UNDEFINED", "PICK", "ZERO"] {
            let e = m.value(name).unwrap().unwrap_err();
            assert_eq!(e.header, "<test.h>", "{name}");
        }
    }
}

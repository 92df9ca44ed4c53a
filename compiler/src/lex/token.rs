//! The tokens of the language inside probe bodies, predicates and top-level items, lexed with
//! logos. Attach points are not lexed here: their text follows different rules (paths,
//! wildcards, colons) and is scanned by `lex::scan`.

use logos::Logos;

/// Why a piece of text is not a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LexErrorKind {
    #[default]
    UnexpectedChar,
    UnterminatedString,
    UnterminatedComment,
    UnterminatedChar,
    BadEscape(String),
    BadInteger(String),
    /// A `{`, `(`, `[` or `<` body opener with no closer before the end of the script.
    Unclosed(char),
    /// A closer with no opener.
    Unopened(char),
}

#[derive(Logos, Clone, Debug, PartialEq, Eq)]
#[logos(error = LexErrorKind)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip r"//[^\n]*")]
pub enum Tok<'a> {
    /// `/*` starts a block comment; the callback skips to its end.
    #[token("/*", block_comment)]
    BlockComment,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    Ident(&'a str),
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*", |lex| &lex.slice()[1..])]
    Var(&'a str),
    #[regex(r"\$[0-9]+", |lex| lex.slice()[1..].parse::<u32>().ok())]
    Positional(u32),
    #[token("$#")]
    PositionalCount,
    #[regex(r"@[A-Za-z0-9_]*", |lex| &lex.slice()[1..])]
    Map(&'a str),
    /// `@name[`: a map followed directly by its keys. One token, so that `@m[k]` is never
    /// read as indexing into the value of `@m`.
    #[regex(r"@[A-Za-z0-9_]*\[", |lex| { let s = lex.slice(); &s[1..s.len() - 1] })]
    MapKeys(&'a str),

    #[regex(r"[0-9][0-9A-Za-z_]*", integer)]
    Int(u64),
    #[token("\"", string)]
    Str(String),
    #[token("'", char_literal)]
    Char(u64),

    // Keywords.
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("for")]
    For,
    #[token("unroll")]
    Unroll,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("let")]
    Let,
    #[token("config")]
    Config,
    #[token("macro")]
    Macro,
    #[token("import")]
    Import,
    #[token("fn")]
    Fn,
    #[token("struct")]
    Struct,
    #[token("union")]
    Union,
    #[token("enum")]
    Enum,
    #[token("sizeof")]
    Sizeof,
    #[token("offsetof")]
    Offsetof,
    #[token("typeof")]
    Typeof,
    /// `typeof` where a type stands (a cast's parentheses, after `:`, inside `typeof`);
    /// never lexed, the scanner marks it (`lex::mark_type_contexts`).
    TypeofType,
    #[token("true")]
    True,
    #[token("false")]
    False,
    /// The type names bpftrace reserves: integer widths, `bool`, `string`, `buffer`, `inet`,
    /// `void`. (`usym`, `ksym`, `strerror`, ... are types too, but also functions: identifiers.)
    #[regex(
        r"bool|u?int(8|16|32|64)|string|buffer|inet|void",
        |lex| lex.slice()
    )]
    TypeName(&'a str),

    // Punctuation.
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("?")]
    Question,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("->")]
    Arrow,
    #[token("=")]
    Assign,
    #[token("+=")]
    AddAssign,
    #[token("-=")]
    SubAssign,
    #[token("*=")]
    MulAssign,
    #[token("/=")]
    DivAssign,
    #[token("%=")]
    RemAssign,
    #[token("&=")]
    AndAssign,
    #[token("|=")]
    OrAssign,
    #[token("^=")]
    XorAssign,
    #[token("<<=")]
    ShlAssign,
    #[token(">>=")]
    ShrAssign,
    #[token("++")]
    Incr,
    #[token("--")]
    Decr,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("~")]
    Tilde,
    #[token("!")]
    Bang,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,

    // Tokens made by the scanner, never by logos (the attach-point grammar, predicate
    // delimiters, the mission's `< ... >` body delimiters).
    /// One attach point exactly as written, e.g. `uprobe:/bin/bash:read*`.
    AttachPoint(&'a str),
    /// The `/` that opens a predicate.
    PredOpen,
    /// The `/` that closes a predicate (the next thing is the probe body).
    PredClose,
    /// The `<` that opens a probe body written `< stmts; >`.
    AngleOpen,
    /// The `>` that closes such a body.
    AngleClose,
    /// A C typedef name in a cast (`(uint64_t)x`, `(size_t *)p`): an identifier the scanner
    /// found between the parentheses of a cast.
    TypedefName(&'a str),
}

fn block_comment<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> logos::FilterResult<(), LexErrorKind> {
    match lex.remainder().find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            logos::FilterResult::Skip
        }
        None => {
            lex.bump(lex.remainder().len());
            logos::FilterResult::Error(LexErrorKind::UnterminatedComment)
        }
    }
}

/// Integer literals as bpftrace writes them: decimal with `_` separators, `0x`, `0b`, octal
/// with a leading `0`, scientific `1e6`, and duration suffixes, which scale to nanoseconds.
fn integer<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> Result<u64, LexErrorKind> {
    parse_integer(lex.slice())
}

pub fn parse_integer(text: &str) -> Result<u64, LexErrorKind> {
    let bad = || LexErrorKind::BadInteger(text.to_string());
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    if text.ends_with('_') || text.contains("__") {
        return Err(bad());
    }
    let (radix, digits) = if let Some(h) = clean.strip_prefix("0x").or(clean.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = clean.strip_prefix("0b").or(clean.strip_prefix("0B")) {
        (2, b)
    } else if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|b| b.is_ascii_digit())
    {
        (8, &clean[1..])
    } else {
        (10, clean.as_str())
    };
    if radix != 10 {
        let digits = digits.trim_end_matches(['u', 'U', 'l', 'L']);
        return u64::from_str_radix(digits, radix).map_err(|_| bad());
    }
    let split = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let (number, suffix) = digits.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match suffix {
        "" | "u" | "U" | "l" | "L" | "ul" | "UL" | "ll" | "LL" | "ull" | "ULL" => 1,
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        s if s.starts_with(['e', 'E']) => {
            let exp: u32 = s[1..].parse().map_err(|_| bad())?;
            10u64.checked_pow(exp).ok_or_else(bad)?
        }
        _ => return Err(bad()),
    };
    number.checked_mul(scale).ok_or_else(bad)
}

fn string<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> Result<String, LexErrorKind> {
    let rest = lex.remainder();
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return Ok(out);
            }
            '\n' => break,
            '\\' => match unescape(&mut chars) {
                Ok(ch) => out.push(ch),
                Err(e) => {
                    // Point at the string up to and including the bad escape.
                    lex.bump(
                        chars
                            .clone()
                            .next()
                            .map_or(rest.len(), |(j, _)| j.max(i + 2)),
                    );
                    return Err(e);
                }
            },
            c => out.push(c),
        }
    }
    let line_end = rest.find('\n').unwrap_or(rest.len());
    lex.bump(line_end);
    Err(LexErrorKind::UnterminatedString)
}

fn char_literal<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> Result<u64, LexErrorKind> {
    let rest = lex.remainder();
    let mut chars = rest.char_indices();
    let value = match chars.next() {
        Some((_, '\\')) => unescape(&mut chars)?,
        Some((_, c)) if c != '\'' && c != '\n' => c,
        _ => return Err(LexErrorKind::UnterminatedChar),
    };
    match chars.next() {
        Some((i, '\'')) => {
            lex.bump(i + 1);
            Ok(value as u64)
        }
        _ => Err(LexErrorKind::UnterminatedChar),
    }
}

/// Decodes the escape after a backslash: `\n \t \r \\ \" \' \0`, octal `\101`, hex `\x41`.
fn unescape(chars: &mut std::str::CharIndices) -> Result<char, LexErrorKind> {
    let Some((_, c)) = chars.next() else {
        return Err(LexErrorKind::UnterminatedString);
    };
    Ok(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'v' => '\x0b',
        'e' => '\x1b',
        '\\' => '\\',
        '"' => '"',
        '\'' => '\'',
        'x' | 'X' => {
            let mut value = 0u32;
            let mut n = 0;
            let probe = chars.clone();
            for (_, d) in probe {
                match d.to_digit(16) {
                    Some(v) if n < 2 => {
                        value = value * 16 + v;
                        n += 1;
                        chars.next();
                    }
                    _ => break,
                }
            }
            if n == 0 {
                return Err(LexErrorKind::BadEscape("\\x".into()));
            }
            char::from_u32(value).unwrap_or('\0')
        }
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            let mut probe = chars.clone();
            for _ in 0..2 {
                match probe.next().and_then(|(_, d)| d.to_digit(8)) {
                    Some(v) => {
                        value = value * 8 + v;
                        chars.next();
                    }
                    None => break,
                }
            }
            char::from_u32(value & 0xff).unwrap_or('\0')
        }
        other => return Err(LexErrorKind::BadEscape(format!("\\{other}"))),
    })
}

impl Tok<'_> {
    /// How the token reads in a diagnostic ("expected `;`").
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::Var(s) => format!("variable `${s}`"),
            Tok::Positional(n) => format!("positional parameter `${n}`"),
            Tok::Map(s) => format!("map `@{s}`"),
            Tok::MapKeys(s) => format!("map `@{s}[`"),
            Tok::Int(n) => format!("integer `{n}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Char(_) => "a character literal".into(),
            Tok::TypeName(s) | Tok::TypedefName(s) => format!("type `{s}`"),
            Tok::AttachPoint(s) => format!("attach point `{s}`"),
            Tok::PredOpen => "`/` opening a predicate".into(),
            Tok::PredClose => "`/` closing the predicate".into(),
            Tok::AngleOpen => "`<` opening a probe body".into(),
            Tok::AngleClose => "`>` closing the probe body".into(),
            other => format!("`{}`", other.text()),
        }
    }

    /// The fixed text of punctuation and keyword tokens.
    pub fn text(&self) -> &'static str {
        match self {
            Tok::If => "if",
            Tok::Else => "else",
            Tok::While => "while",
            Tok::For => "for",
            Tok::Unroll => "unroll",
            Tok::Break => "break",
            Tok::Continue => "continue",
            Tok::Return => "return",
            Tok::Let => "let",
            Tok::Config => "config",
            Tok::Macro => "macro",
            Tok::Import => "import",
            Tok::Fn => "fn",
            Tok::Struct => "struct",
            Tok::Union => "union",
            Tok::Enum => "enum",
            Tok::Sizeof => "sizeof",
            Tok::Offsetof => "offsetof",
            Tok::Typeof | Tok::TypeofType => "typeof",
            Tok::True => "true",
            Tok::False => "false",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Semi => ";",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Question => "?",
            Tok::Dot => ".",
            Tok::DotDot => "..",
            Tok::Arrow => "->",
            Tok::Assign => "=",
            Tok::AddAssign => "+=",
            Tok::SubAssign => "-=",
            Tok::MulAssign => "*=",
            Tok::DivAssign => "/=",
            Tok::RemAssign => "%=",
            Tok::AndAssign => "&=",
            Tok::OrAssign => "|=",
            Tok::XorAssign => "^=",
            Tok::ShlAssign => "<<=",
            Tok::ShrAssign => ">>=",
            Tok::Incr => "++",
            Tok::Decr => "--",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash | Tok::PredOpen | Tok::PredClose => "/",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Caret => "^",
            Tok::Tilde => "~",
            Tok::Bang => "!",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::Lt | Tok::AngleOpen => "<",
            Tok::Le => "<=",
            Tok::Gt | Tok::AngleClose => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_spelling() {
        assert_eq!(parse_integer("1_000"), Ok(1000));
        assert_eq!(parse_integer("0x1F"), Ok(31));
        assert_eq!(parse_integer("0b101"), Ok(5));
        assert_eq!(parse_integer("0755"), Ok(0o755));
        assert_eq!(parse_integer("1e6"), Ok(1_000_000));
        assert_eq!(parse_integer("5ms"), Ok(5_000_000));
        assert_eq!(parse_integer("2s"), Ok(2_000_000_000));
        assert_eq!(parse_integer("10UL"), Ok(10));
        assert!(parse_integer("12abc").is_err());
        assert!(parse_integer("1__0").is_err());
        assert!(parse_integer("99999999999999999999").is_err());
    }

    #[test]
    fn strings_and_escapes() {
        let toks: Vec<_> = Tok::lexer(r#""a\tb\x41\101\"" 'x' '\n'"#).collect();
        assert_eq!(
            toks,
            vec![
                Ok(Tok::Str("a\tbAA\"".into())),
                Ok(Tok::Char(b'x' as u64)),
                Ok(Tok::Char(b'\n' as u64))
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_unterminated_ones_reported() {
        let toks: Vec<_> = Tok::lexer("a /* x */ b // c\n d").collect();
        assert_eq!(toks.len(), 3);
        let toks: Vec<_> = Tok::lexer("a /* x").collect();
        assert_eq!(toks[1], Err(LexErrorKind::UnterminatedComment));
    }
}

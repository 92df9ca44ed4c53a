//! Support for the tests of scripts that must fail with a diagnostic (`tests/diagnostics.rs`,
//! `tests/bad_input.rs`): each script starts with header comment lines,
//!
//! ```text
//! // expect: TEXT     the exact source text the first error's primary label underlines
//! // message: TEXT    (optional) text the first error's message contains
//! // occurrence: N    (optional) which occurrence of TEXT after the headers it is, when
//!                     TEXT occurs more than once (bad_input only)
//! // args: A B        (optional) positional parameters, after the script
//! // flags: --unsafe  (optional) options, before the script
//! ```
//!
//! and the first diagnostic of `tracebound -f json` is read back from its JSON line.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The `.bt` files of `tests/DIR`, sorted.
pub fn cases(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    cases.sort();
    cases
}

/// The value of a `// KEY: value` header line.
pub fn header<'a>(source: &'a str, key: &str) -> Option<&'a str> {
    source.lines().find_map(|l| {
        l.strip_prefix("// ")
            .and_then(|l| l.strip_prefix(key))
            .and_then(|l| l.strip_prefix(':'))
            .map(|v| v.strip_prefix(' ').unwrap_or(v))
    })
}

/// The words of a header, none when it is absent.
pub fn header_words<'a>(source: &'a str, key: &str) -> Vec<&'a str> {
    header(source, key).map_or(Vec::new(), |v| v.split_whitespace().collect())
}

/// The first JSON diagnostic among `-f json` output lines.
pub fn first_diagnostic(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .find(|l| l.starts_with("{\"type\":\"diagnostic\""))
}

/// The first `"start":N,"end":M` of a JSON diagnostic: its primary span.
pub fn json_span(line: &str) -> Option<(usize, usize)> {
    let number = |key: &str| -> Option<usize> {
        let at = line.find(key)? + key.len();
        line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Some((number("\"start\":")?, number("\"end\":")?))
}

/// The value of the first `"message":"..."` of a JSON diagnostic, unescaped.
pub fn json_message(line: &str) -> Option<String> {
    const KEY: &str = "\"message\":\"";
    let at = line.find(KEY)? + KEY.len();
    let mut out = String::new();
    let mut chars = line[at..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

#[test]
fn reads_headers_and_json_diagnostics() {
    let source = "// expect: $x\n// args: 1  2\nBEGIN { }\n";
    assert_eq!(header(source, "expect"), Some("$x"));
    assert_eq!(header_words(source, "args"), ["1", "2"]);
    assert!(header_words(source, "flags").is_empty());
    let out = "Attaching 1 probe...\n{\"type\":\"diagnostic\",\"severity\":\"error\",\"message\":\"`%q` is \\\"bad\\\"\\n\",\"start\":3,\"end\":9,\"labels\":[{\"start\":3,\"end\":9}]}\n";
    let d = first_diagnostic(out).unwrap();
    assert_eq!(json_span(d), Some((3, 9)));
    assert_eq!(json_message(d).as_deref(), Some("`%q` is \"bad\"\n"));
    assert_eq!(line_of(source, 14), 2);
}

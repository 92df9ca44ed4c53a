//! The architecture's invariants, read from the source (ARCHITECTURE.md, "Invariants"):
//!
//! - at every level of the module tree of compiler/src and runtime/src, the modules under one
//!   parent import each other without a cycle (a module and its own children count as one);
//! - a compiler phase imports only earlier phases and the shared leaf modules (`PHASES`);
//! - no function in compiler/src or runtime/src is over `MAX_FUNCTION_LINES` lines, except
//!   those in `LONG_FUNCTIONS_KEPT`, each with its reason.
//!
//! Imports are read from `use` trees and from paths written inline (`crate::x::y`,
//! `super::x`), in code with comments, strings and `#[cfg(test)]` items blanked out: tests may
//! reach into any phase. Run it alone with `cargo test --test architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module of the compiler may import the modules of lower rank, and the shared leaves
/// (rank 0) may be imported from anywhere but themselves import only other leaves. A data
/// type comes before the phase that builds it (`ast` before `parse`, `ir` before `lower`), so
/// the phase that builds it and every phase after may read it. `lib.rs`, the facade, is no
/// phase. A module missing from this table is a failure: a new module takes its place here.
const PHASES: &[(&str, u32)] = &[
    ("span", 0),
    ("diagnostic", 0),
    ("types", 0),
    ("insn", 0),
    ("program", 0),
    ("lex", 1),
    ("ast", 2),
    ("parse", 3),
    ("macros", 4),
    ("type_of", 4),
    ("program_options", 4),
    ("positional", 4),
    ("config", 4),
    ("machine", 4),
    ("probe", 5),
    ("check", 6),
    ("resolve", 7),
    ("ir", 8),
    ("lower", 9),
    ("codegen", 10),
    ("object", 11),
    ("pipeline", 12),
];

const MAX_FUNCTION_LINES: usize = 120;

/// Functions kept over `MAX_FUNCTION_LINES`: (file under the repository, function, why).
const LONG_FUNCTIONS_KEPT: &[(&str, &str, &str)] = &[
    // One match over the expression kinds, an arm each and each arm short: splitting it
    // would scatter one table across functions without making any arm simpler.
    (
        "compiler/src/ast/print.rs",
        "expr_bare",
        "a printer arm per expression kind",
    ),
    (
        "compiler/src/check/mod.rs",
        "expr_shape",
        "a check arm per expression kind",
    ),
];

#[test]
fn compiler_modules_import_without_cycles() {
    let krate = Crate::read(&root().join("compiler/src"));
    assert_no_cycles(&krate);
}

#[test]
fn runtime_modules_import_without_cycles() {
    let krate = Crate::read(&root().join("runtime/src"));
    assert_no_cycles(&krate);
}

#[test]
fn compiler_phases_import_only_earlier_ones() {
    let krate = Crate::read(&root().join("compiler/src"));
    let rank = |m: &str| PHASES.iter().find(|(name, _)| *name == m).map(|(_, r)| *r);
    let mut wrong = Vec::new();
    for top in krate.modules.keys().filter(|m| m.len() == 1) {
        if rank(&top[0]).is_none() {
            wrong.push(format!(
                "module `{}` is not in PHASES (tests/architecture.rs)",
                top[0]
            ));
        }
    }
    for r in krate.references() {
        let (Some(from), Some(to)) = (r.from.first(), r.to.first()) else {
            continue; // the crate root, the facade
        };
        if from == to {
            continue;
        }
        let (Some(a), Some(b)) = (rank(from), rank(to)) else {
            continue; // reported above
        };
        let allowed = match (a, b) {
            (_, 0) => true,
            (0, _) => false,
            (a, b) => b < a,
        };
        if !allowed {
            wrong.push(format!(
                "{}:{}: `{from}` (rank {a}) imports `{}` (rank {b})",
                r.file, r.line, r.written
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the phase order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn compiler_functions_are_short() {
    assert_functions_short(&root().join("compiler/src"));
}

#[test]
fn runtime_functions_are_short() {
    assert_functions_short(&root().join("runtime/src"));
}

/// The checks above can fail: a cycle, a phase reaching forward and a long function, written
/// into a crate of their own, are each found.
#[test]
fn the_checks_find_what_they_look_for() {
    let dir = std::env::temp_dir().join(format!("tb-architecture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).unwrap();
    let long_body = "    let x = 1;\n".repeat(MAX_FUNCTION_LINES);
    for (file, text) in [
        ("lib.rs", "mod a;\nmod b;\nmod c;\n".to_string()),
        ("a.rs", "use crate::b::thing;\n// use crate::c; (a comment)\n".into()),
        ("b/mod.rs", "mod inner;\n".into()),
        ("b/inner.rs", "pub fn f() { super::super::c::g(); }\n".into()),
        (
            "c.rs",
            format!(
                "pub fn g() {{ let _ = \"crate::a\"; crate::a::h(); }}\nfn long() {{\n{long_body}}}\n\
                 #[cfg(test)]\nmod tests {{ use crate::b; }}\n"
            ),
        ),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let krate = Crate::read(&dir);
    let cycles = krate.cycles();
    let long = krate.long_functions();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("a -> b")
            && cycles[0].contains("b -> c")
            && cycles[0].contains("c -> a"),
        "{}",
        cycles[0]
    );
    let refs: Vec<_> = krate.references().map(|r| r.written).collect();
    assert!(
        !refs.iter().any(|r| r == "crate::c"),
        "comments are not code"
    );
    assert!(
        !refs.iter().any(|r| r == "crate::b"),
        "test code is left out"
    );
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(
        (long[0].1.as_str(), long[0].2),
        ("long", MAX_FUNCTION_LINES + 2)
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn assert_no_cycles(krate: &Crate) {
    let cycles = krate.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles in {}:\n{}",
        krate.dir.display(),
        cycles.join("\n")
    );
}

fn assert_functions_short(dir: &Path) {
    let krate = Crate::read(dir);
    let found = krate.long_functions();
    let stale: Vec<_> = LONG_FUNCTIONS_KEPT
        .iter()
        .filter(|(f, _, _)| root().join(f).starts_with(dir))
        .filter(|(f, n, _)| {
            !found
                .iter()
                .any(|(file, name, _)| root().join(f) == Path::new(file) && name == n)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "kept in LONG_FUNCTIONS_KEPT but no longer over {MAX_FUNCTION_LINES} lines: {stale:?}"
    );
    let long: Vec<String> = found
        .into_iter()
        .filter(|(file, name, _)| {
            !LONG_FUNCTIONS_KEPT
                .iter()
                .any(|(f, n, _)| root().join(f) == Path::new(file) && n == name)
        })
        .map(|(file, name, lines)| format!("{file}: fn {name}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them, or keep one in \
         LONG_FUNCTIONS_KEPT with the reason):\n{}",
        long.join("\n")
    );
}

/// One crate's modules, each with its code (comments, strings and test items blanked).
struct Crate {
    dir: PathBuf,
    modules: BTreeMap<Vec<String>, Source>,
}

struct Source {
    file: String,
    code: String,
}

/// One import: module `from` names something in module `to` (the longest prefix of the path
/// that is a module), as `written`, at `file:line`.
struct Reference {
    from: Vec<String>,
    to: Vec<String>,
    written: String,
    file: String,
    line: usize,
}

impl Crate {
    fn read(dir: &Path) -> Crate {
        let mut files = Vec::new();
        collect_rs(dir, &mut files);
        assert!(!files.is_empty(), "no sources under {}", dir.display());
        let mut modules = BTreeMap::new();
        let mut test_only = BTreeSet::new();
        for path in files {
            let relative = path.strip_prefix(dir).unwrap();
            let mut module: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = module.pop().unwrap();
            let is_root = module.is_empty() && (last == "lib.rs" || last == "main.rs");
            if last != "mod.rs" && !is_root {
                module.push(last.trim_end_matches(".rs").to_string());
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let (code, tests) = without_tests(&code_only(&text));
            for child in tests {
                let mut m = module.clone();
                m.push(child);
                test_only.insert(m);
            }
            let file = path.display().to_string();
            modules.insert(module, Source { file, code });
        }
        modules.retain(|m, _| !test_only.iter().any(|t| m.starts_with(t)));
        Crate {
            dir: dir.to_path_buf(),
            modules,
        }
    }

    fn references(&self) -> impl Iterator<Item = Reference> + '_ {
        self.modules.iter().flat_map(move |(module, source)| {
            paths(&source.code)
                .into_iter()
                .filter_map(move |(at, path)| {
                    let absolute = self.absolute(module, &path)?;
                    let to = (0..=absolute.len())
                        .rev()
                        .map(|n| absolute[..n].to_vec())
                        .find(|m| self.modules.contains_key(m))?;
                    Some(Reference {
                        from: module.clone(),
                        to,
                        written: path.join("::"),
                        file: source.file.clone(),
                        line: source.code[..at].matches('\n').count() + 1,
                    })
                })
        })
    }

    /// A path as written in `module`, from the crate root; `None` for other crates.
    fn absolute(&self, module: &[String], path: &[String]) -> Option<Vec<String>> {
        let mut at = module.to_vec();
        let mut rest = path;
        match rest.first()?.as_str() {
            "crate" => {
                at.clear();
                rest = &rest[1..];
            }
            "self" => rest = &rest[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    at.pop()?;
                    rest = &rest[1..];
                }
            }
            first => {
                let mut child = at.clone();
                child.push(first.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
            }
        }
        at.extend(rest.iter().cloned());
        Some(at)
    }

    /// At every level of the module tree, the import cycles among one parent's children; each
    /// as `a -> b -> a` with the place of one import per step.
    fn cycles(&self) -> Vec<String> {
        // parent -> (child, child) -> an example import
        let mut levels: BTreeMap<Vec<String>, BTreeMap<(String, String), String>> = BTreeMap::new();
        for r in self.references() {
            let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
            if common == r.from.len() || common == r.to.len() {
                continue; // a module and its own ancestors or descendants
            }
            let parent = r.from[..common].to_vec();
            let edge = (r.from[common].clone(), r.to[common].clone());
            let example = format!("{}:{} ({})", r.file, r.line, r.written);
            levels
                .entry(parent)
                .or_default()
                .entry(edge)
                .or_insert(example);
        }
        let mut out = Vec::new();
        for (parent, edges) in &levels {
            for cycle in strongly_connected(edges.keys()) {
                let mut text = format!(
                    "under `{}`: {}",
                    if parent.is_empty() {
                        "crate".to_string()
                    } else {
                        parent.join("::")
                    },
                    cycle.join(", ")
                );
                for edge in cycle_edges(&cycle, edges) {
                    let (a, b) = &edge;
                    text.push_str(&format!("\n    {a} -> {b}: {}", edges[&edge]));
                }
                out.push(text);
            }
        }
        out
    }

    /// Every function over the limit: (file, name, lines from `fn` to its closing brace).
    fn long_functions(&self) -> Vec<(String, String, usize)> {
        let mut out = Vec::new();
        for source in self.modules.values() {
            // Test code is blanked in `code`; functions are measured in all the code.
            let code = code_only(&std::fs::read_to_string(&source.file).unwrap());
            for (name, lines) in function_lengths(&code) {
                if lines > MAX_FUNCTION_LINES {
                    out.push((source.file.clone(), name, lines));
                }
            }
        }
        out
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text with comments and the insides of string and char literals replaced by spaces
/// (newlines kept, so byte offsets and line numbers stay the file's).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let starts_token = i == 0 || !ident(b[i - 1]);
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if starts_token && (b[i] == b'r' || b[i..].starts_with(b"br")) && {
            let r = if b[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[r..].iter().take_while(|&&c| c == b'#').count();
            b.get(r + hashes) == Some(&b'"')
        } {
            let r = if b[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[r..].iter().take_while(|&&c| c == b'#').count();
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = r + hashes + 1;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| body + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            let len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
            if b.get(i + 1) == Some(&b'\\') {
                let end = b[i + 2..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map_or(b.len(), |n| i + 3 + n);
                blank(&mut out, i, end);
                i = end;
            } else if len > 0 && b.get(i + 1 + len) == Some(&b'\'') {
                blank(&mut out, i, i + 2 + len);
                i += 2 + len;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII was replaced")
}

/// The code with every `#[cfg(test)]` item blanked, and the names of the `#[cfg(test)] mod x;`
/// files it declares.
fn without_tests(code: &str) -> (String, Vec<String>) {
    const MARK: &str = "#[cfg(test)]";
    let mut out = code.as_bytes().to_vec();
    let mut children = Vec::new();
    let mut from = 0;
    while let Some(n) = code[from..].find(MARK) {
        let start = from + n;
        let b = code.as_bytes();
        let mut i = start + MARK.len();
        let (mut depth, mut end) = (0i32, code.len());
        while i < b.len() {
            match b[i] {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                b'{' if depth == 0 => {
                    end = matching_brace(code, i).map_or(code.len(), |c| c + 1);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let item = &code[start + MARK.len()..end];
        let words: Vec<&str> = item
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if item.trim_end().ends_with(';') {
            if let Some(at) = words.iter().position(|w| *w == "mod") {
                children.extend(words.get(at + 1).map(|w| w.to_string()));
            }
        }
        for c in &mut out[start..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end;
    }
    (String::from_utf8(out).unwrap(), children)
}

/// The index of the `}` closing the `{` at `open`.
fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code.bytes().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

fn tokens(code: &str) -> Vec<(usize, Token)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let end = b[i..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .map_or(b.len(), |n| i + n);
            out.push((i, Token::Ident(code[i..end].to_string())));
            i = end;
            continue;
        }
        let token = match c {
            b':' if b.get(i + 1) == Some(&b':') => {
                i += 1;
                Token::Path
            }
            b'{' => Token::Open,
            b'}' => Token::Close,
            b',' => Token::Comma,
            b';' => Token::Semi,
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        };
        out.push((i, token));
        i += 1;
    }
    out
}

/// Every path the code names: the leaves of `use` trees, and paths written inline that start
/// at `crate`, `self` or `super`; each with its byte offset.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let after_path = i > 0 && toks[i - 1].1 == Token::Path;
        match &toks[i].1 {
            Token::Ident(w) if w == "use" => {
                let at = toks[i].0;
                i = use_tree(&toks, i + 1, Vec::new(), &mut |p| out.push((at, p)));
            }
            Token::Ident(w) if !after_path && matches!(w.as_str(), "crate" | "self" | "super") => {
                let at = toks[i].0;
                let mut path = vec![w.clone()];
                i += 1;
                while toks.get(i).map(|t| &t.1) == Some(&Token::Path) {
                    match toks.get(i + 1).map(|t| &t.1) {
                        Some(Token::Ident(seg)) => {
                            path.push(seg.clone());
                            i += 2;
                        }
                        _ => break,
                    }
                }
                if path.len() > 1 {
                    out.push((at, path));
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Reads one use tree from `i` (after `use`, or inside braces); calls `leaf` for each full
/// path; returns the index after it (after the `;` at the top).
fn use_tree(
    toks: &[(usize, Token)],
    mut i: usize,
    mut prefix: Vec<String>,
    leaf: &mut impl FnMut(Vec<String>),
) -> usize {
    loop {
        match toks.get(i).map(|t| &t.1) {
            Some(Token::Ident(w)) if w == "as" => {
                i += 2;
            }
            Some(Token::Ident(w)) => {
                prefix.push(w.clone());
                i += 1;
            }
            Some(Token::Path) => i += 1,
            Some(Token::Open) => {
                i += 1;
                loop {
                    i = use_tree(toks, i, prefix.clone(), leaf);
                    match toks.get(i).map(|t| &t.1) {
                        Some(Token::Comma) => i += 1,
                        Some(Token::Close) => {
                            i += 1;
                            break;
                        }
                        _ => return i,
                    }
                    if toks.get(i).map(|t| &t.1) == Some(&Token::Close) {
                        i += 1;
                        break;
                    }
                }
                return finish(toks, i);
            }
            _ => {
                if !prefix.is_empty() {
                    leaf(prefix);
                }
                return finish(toks, i);
            }
        }
    }
}

/// After a use tree: past its `;` when at the top, else where the list goes on.
fn finish(toks: &[(usize, Token)], i: usize) -> usize {
    match toks.get(i).map(|t| &t.1) {
        Some(Token::Semi) => i + 1,
        _ => i,
    }
}

/// Each function of the code with its length in lines, `fn` line to closing brace.
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let toks = tokens(code);
    let line = |at: usize| code[..at].matches('\n').count();
    let mut out = Vec::new();
    for (n, (at, t)) in toks.iter().enumerate() {
        let (Token::Ident(w), Some((_, Token::Ident(name)))) = (t, toks.get(n + 1)) else {
            continue;
        };
        if w != "fn" {
            continue;
        }
        // The body is the first `{` outside the signature's parentheses and brackets; a `;`
        // first means a declaration without one.
        let b = code.as_bytes();
        let mut depth = 0i32;
        let mut i = *at;
        let open = loop {
            match b.get(i) {
                None | Some(b';') if depth == 0 => break None,
                Some(b'(') | Some(b'[') => depth += 1,
                Some(b')') | Some(b']') => depth -= 1,
                Some(b'{') if depth == 0 => break Some(i),
                None => break None,
                _ => {}
            }
            i += 1;
        };
        let Some(close) = open.and_then(|o| matching_brace(code, o)) else {
            continue;
        };
        out.push((name.clone(), line(close) - line(*at) + 1));
    }
    out
}

/// The strongly connected components with more than one member (Tarjan's algorithm), each
/// sorted, in a stable order.
fn strongly_connected<'a>(edges: impl Iterator<Item = &'a (String, String)>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        graph.entry(a).or_default().push(b);
        graph.entry(b).or_default();
    }
    struct State<'g> {
        graph: &'g BTreeMap<&'g str, Vec<&'g str>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &s.graph[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out.sort();
    state.out
}

/// The edges inside one component, to show where each import is.
fn cycle_edges(
    component: &[String],
    edges: &BTreeMap<(String, String), String>,
) -> Vec<(String, String)> {
    edges
        .keys()
        .filter(|(a, b)| component.contains(a) && component.contains(b))
        .cloned()
        .collect()
}

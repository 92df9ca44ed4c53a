//! Imports run one way: no module of runtime/src reaches, through the paths its code names
//! (`use crate::...`, `use super::...`, a child's name, or `crate::a::b` written inline), a
//! module that reaches it back. A `pub use` re-export is a module's public face, not something
//! its code depends on, and is not counted; nor are `#[cfg(test)] mod tests` blocks.
//!
//! Run alone with `cargo test -p tracebound-runtime --test imports_one_way`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path in the crate (`["run", "session"]`); the crate root is empty.
type Module = Vec<String>;

/// Every module of the crate whose root is `src`, with its code (tests and comments left out).
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("reads the source tree") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("reads a source file");
            found.insert(module, code_of(&text));
        }
    }
    found
}

/// The text without its unit-test module, comments and re-exports.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//") && !l.starts_with("pub use"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths `code` names: each `use` tree expanded, and every inline `crate::`/`super::` path.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_word = at == 0 || !is_ident(rest.as_bytes()[at - 1]);
        rest = &rest[at + 4..];
        let Some(end) = rest.find(';').filter(|_| starts_word) else {
            continue;
        };
        let tree: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        expand(&tree, &mut paths);
    }
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let starts_word = at == 0 || !is_ident(rest.as_bytes()[at - 1]);
            let path: String = rest[at..]
                .chars()
                .take_while(|&c| c.is_alphanumeric() || c == '_' || c == ':')
                .collect();
            rest = &rest[at + root.len()..];
            if starts_word {
                paths.push(path);
            }
        }
    }
    paths
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str, out: &mut Vec<String>) {
    let Some(open) = tree.find('{') else {
        out.push(tree.to_string());
        return;
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len().saturating_sub(1).max(open + 1)];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&format!("{prefix}{}", &inner[start..i]), out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        expand(&format!("{prefix}{}", &inner[start..]), out);
    }
}

/// The module `path`, named from inside `from`, refers to: its longest prefix that is a module.
fn target(path: &str, from: &Module, known: &BTreeMap<Module, String>) -> Option<Module> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut absolute: Module = match segments.first().copied() {
        Some("crate") => {
            segments.remove(0);
            Vec::new()
        }
        Some("super") => {
            let mut base = from.clone();
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
            base
        }
        Some("self") => {
            segments.remove(0);
            from.clone()
        }
        Some(first) if known.contains_key(&child(from, first)) => from.clone(),
        _ => return None, // another crate, or a name in scope
    };
    absolute.extend(segments.iter().map(|s| s.to_string()));
    while !absolute.is_empty() {
        if known.contains_key(&absolute) {
            return Some(absolute);
        }
        absolute.pop();
    }
    None // the crate root: every module may name it
}

fn child(parent: &Module, name: &str) -> Module {
    let mut m = parent.clone();
    m.push(name.to_string());
    m
}

/// Which module names which.
fn import_graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(src);
    known
        .iter()
        .map(|(module, code)| {
            let named = named_paths(code)
                .iter()
                .filter_map(|p| target(p, module, &known))
                .filter(|t| t != module)
                .collect();
            (module.clone(), named)
        })
        .collect()
}

/// A cycle in `graph`, as the modules on it, if there is one.
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(m) {
            Some(Mark::Done) => return None,
            Some(Mark::OnPath) => {
                let from = path.iter().position(|p| p == m).unwrap_or(0);
                return Some(path[from..].to_vec());
            }
            None => {}
        }
        marks.insert(m.clone(), Mark::OnPath);
        path.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(m.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut marks, &mut Vec::new()))
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn runtime_modules_import_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(graph.len() > 40, "found only {} modules", graph.len());
    if let Some(cycle) = find_cycle(&graph) {
        let names: Vec<String> = cycle.iter().map(name).collect();
        panic!("an import cycle: {} -> {}", names.join(" -> "), names[0]);
    }
}

#[test]
fn a_cycle_is_found() {
    let dir = std::env::temp_dir().join(format!("tb-imports-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("run")).expect("creates a scratch tree");
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).expect("writes");
    write("lib.rs", "pub mod run;\npub mod output;\n");
    write("output.rs", "pub enum Format { Text }\n");
    write("run/mod.rs", "pub mod events;\npub mod session;\n");
    write(
        "run/session.rs",
        "use crate::output::Format;\npub struct RunError;\nfn f() { crate::run::events::drain(); }\n",
    );
    write(
        "run/events.rs",
        "use crate::run::{session::RunError, other};\npub fn drain() {}\n",
    );
    let graph = import_graph(&dir);
    let cycle = find_cycle(&graph).map(|c| c.iter().map(name).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).expect("removes the scratch tree");
    assert_eq!(
        cycle,
        Some(vec!["run::events".to_string(), "run::session".to_string()])
    );
}

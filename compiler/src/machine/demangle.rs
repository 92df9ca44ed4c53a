//! C++ and Rust symbol names as people write them: `ns::Widget::poke(int)` for
//! `_ZN2ns6Widget4pokeEi`, `core::fmt::write` for `_ZN4core3fmt5write17h…E`. Uprobes may name
//! a function either way, `func` prints the demangled name (as bpftrace does), and `-l` lists
//! it.

/// The full demangled name (C++: with its parameters), or `None` for a plain C name.
pub fn demangle(symbol: &str) -> Option<String> {
    // Rust first: its legacy scheme is also valid C++ mangling, which would keep the hash.
    if let Ok(rust) = rustc_demangle::try_demangle(symbol) {
        return Some(format!("{rust:#}"));
    }
    if !symbol.starts_with("_Z") {
        return None;
    }
    let parsed = cpp_demangle::Symbol::new(symbol).ok()?;
    parsed.demangle().ok()
}

/// The demangled name without its parameter list (`ns::Widget::poke`), what an unquoted uprobe
/// function names: it matches every overload.
pub fn demangled_name(symbol: &str) -> Option<String> {
    let full = demangle(symbol)?;
    Some(strip_parameters(&full).to_string())
}

/// `ns::f(int) const` → `ns::f`; template arguments in the name are kept.
fn strip_parameters(full: &str) -> &str {
    // The parameter list is the last top-level parenthesis group; angle brackets may hold
    // parentheses of their own (`f<(anonymous namespace)::T>(int)`).
    let mut depth_angle = 0i32;
    let mut depth_paren = 0i32;
    let mut start = None;
    for (i, c) in full.char_indices() {
        match c {
            '<' => depth_angle += 1,
            '>' => depth_angle -= 1,
            '(' if depth_angle == 0 => {
                if depth_paren == 0 {
                    start = Some(i);
                }
                depth_paren += 1;
            }
            ')' if depth_angle == 0 => depth_paren -= 1,
            _ => {}
        }
    }
    match start {
        Some(i) if i > 0 => &full[..i],
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpp_and_rust_names() {
        assert_eq!(
            demangle("_ZN2ns6Widget4pokeEi").as_deref(),
            Some("ns::Widget::poke(int)")
        );
        assert_eq!(demangle("_Z7free_fnl").as_deref(), Some("free_fn(long)"));
        assert_eq!(
            demangled_name("_ZN2ns6Widget4pokeEi").as_deref(),
            Some("ns::Widget::poke")
        );
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE").as_deref(),
            Some("core::fmt::write")
        );
        assert_eq!(demangle("malloc"), None);
        assert_eq!(demangle("main"), None);
    }

    #[test]
    fn parameters_are_the_last_top_level_group() {
        assert_eq!(
            strip_parameters("f<(anonymous namespace)::T>(int)"),
            "f<(anonymous namespace)::T>"
        );
        assert_eq!(strip_parameters("ns::f(int) const"), "ns::f");
        assert_eq!(
            strip_parameters("(anonymous namespace)::g()"),
            "(anonymous namespace)::g"
        );
    }
}

use super::*;
use crate::ast::print_program;
use crate::parse::parse;

/// The expanded script, printed, on one line (whitespace runs collapsed).
fn expanded(source: &str) -> String {
    let program = parse(source).unwrap_or_else(|d| panic!("{source}: {}", d.message));
    let program = expand(program).unwrap_or_else(|d| panic!("{source}: {d:?}"));
    print_program(&program)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every error as (message, the text its primary label underlines).
fn errors(source: &str) -> Vec<(String, String)> {
    let program = parse(source).unwrap_or_else(|d| panic!("{source}: {}", d.message));
    match expand(program) {
        Ok(p) => panic!(
            "{source}: expanded without an error:\n{}",
            print_program(&p)
        ),
        Err(diags) => diags
            .into_iter()
            .map(|d| (d.message.clone(), source[d.span().range()].to_string()))
            .collect(),
    }
}

fn only_error(source: &str) -> (String, String) {
    let mut all = errors(source);
    assert_eq!(all.len(), 1, "{source}: {all:?}");
    all.remove(0)
}

#[test]
fn a_variable_parameter_is_the_callers_variable() {
    let out = expanded("macro inc($x) { $x += 1; } BEGIN { $a = 1; inc($a); print($a); }");
    assert!(out.contains("{ $a += 1; }"), "{out}");
    assert!(!out.contains("macro"), "{out}");
}

#[test]
fn the_last_expression_without_a_semicolon_is_the_value() {
    let out = expanded("macro inc($x) { $x += 1; $x } BEGIN { $a = 1; $b = inc($a); }");
    assert!(out.contains("$b = { $a += 1; $a };"), "{out}");
    // Only a value: the expression itself.
    let out = expanded("macro one() { 1 } BEGIN { $b = one() + one; }");
    assert!(out.contains("$b = 1 + 1;"), "{out}");
}

#[test]
fn a_map_parameter_is_the_callers_map() {
    let out = expanded("macro set(@x) { @x[1] = 2; } BEGIN { set(@a); }");
    assert!(out.contains("@a[1] = 2;"), "{out}");
}

#[test]
fn the_bodys_own_variables_are_renamed_apart_per_expansion() {
    let out =
        expanded("macro inc(x) { let $y = x + 1; $y } BEGIN { $y = 2; $z = inc(5); $w = inc(6); }");
    assert!(out.contains("$y = 2;"), "{out}");
    assert!(out.contains("let $$inc_1_y = 5 + 1; $$inc_1_y"), "{out}");
    assert!(out.contains("let $$inc_2_y = 6 + 1; $$inc_2_y"), "{out}");
}

#[test]
fn a_bare_parameter_is_its_argument_evaluated_at_each_use() {
    let out = expanded("macro thrice(x) { x; x; x; } BEGIN { thrice({ printf(\"hi\") }); }");
    assert_eq!(out.matches("printf(\"hi\")").count(), 3, "{out}");
    // A variable passed for a bare name is read, never assigned: it stands in a block.
    let out = expanded("macro id(x) { x } BEGIN { $a = 1; $b = id($a); }");
    assert!(out.contains("$b = { $a };"), "{out}");
}

#[test]
fn macros_call_macros_in_any_order_of_definition() {
    let out =
        expanded("macro add2(x) { x + add1(x) } macro add1(x) { x + 1 } BEGIN { $a = add2(1); }");
    assert!(out.contains("$a = 1 + (1 + 1);"), "{out}");
    let out = expanded(
        "macro second(a, b) { print((a, b)); } macro first(@b, $x) { second(@b, $x); } \
         BEGIN { @d = 5; $y = 1; first(@d, $y); }",
    );
    assert!(out.contains("{ @d }") && out.contains("{ $y }"), "{out}");
}

#[test]
fn a_parameter_hides_a_macro_of_its_name() {
    let out = expanded("macro add() { 2 } macro ident(add) { add } BEGIN { $a = ident(1); }");
    assert!(out.contains("$a = 1;"), "{out}");
}

#[test]
fn definitions_are_chosen_by_the_kinds_and_number_of_arguments() {
    let defs = "macro f($x) { 1 } macro f(@x) { 2 } macro f(x) { 3 } macro f(x, y) { 4 } ";
    let out = expanded(&format!(
        "{defs} BEGIN {{ $v = 0; @m = 0; $a = f($v); $b = f(@m); $c = f(7); $d = f(1, 2); }}"
    ));
    for want in ["$a = 1;", "$b = 2;", "$c = 3;", "$d = 4;"] {
        assert!(out.contains(want), "{want} in {out}");
    }
}

#[test]
fn builtins_keep_their_names_beside_macros_of_other_arities() {
    let out = expanded("macro cpu(x) { x } BEGIN { $a = cpu(5); $b = cpu(); $c = __builtin_cpu; }");
    assert!(out.contains("$a = 5; $b = cpu; $c = cpu;"), "{out}");
    // A macro of the same name and arity wins.
    let out = expanded("macro cpu() { 42 } BEGIN { $a = cpu(); }");
    assert!(out.contains("$a = 42;"), "{out}");
}

#[test]
fn the_wrong_number_of_arguments_is_an_error_at_the_call() {
    let (message, text) = only_error("macro set($x) { $x += 1; $x } BEGIN { $a = 1; set($a, 1); }");
    assert_eq!(
        message,
        "call to set() has arguments that do not match any definition"
    );
    assert_eq!(text, "set($a, 1)");
    let (_, text) = only_error("macro add1($x) { $x } BEGIN { $y = 1; $z = add1; }");
    assert_eq!(text, "add1");
}

#[test]
fn an_argument_of_the_wrong_kind_is_an_error_at_the_call() {
    for source in [
        "macro set($x) { $x += 1; } BEGIN { @a = 1; set(@a); }",
        "macro add1($x) { $x += 1; } BEGIN { add1(1 + 1); }",
        "macro set(@x) { @x[1] = 1; } BEGIN { $a = 0; set($a); }",
    ] {
        let (message, text) = only_error(source);
        assert!(message.starts_with("call to"), "{source}: {message}");
        assert!(
            text.starts_with("set(") || text.starts_with("add1("),
            "{text}"
        );
    }
}

#[test]
fn recursion_is_an_error_naming_the_chain() {
    let (message, text) = only_error(
        "macro add1(x) { x + add3(x) } macro add2(x) { x + add1(x) } \
         macro add3(x) { x + add2(x) } BEGIN { print(add3(1)); }",
    );
    assert_eq!(message, "recursive macro call: add3 > add2 > add1 > add3");
    assert_eq!(text, "add3(x)");
}

#[test]
fn a_map_not_passed_in_is_an_error_at_the_map() {
    let (message, text) = only_error("macro set() { @x[1] = 1; 1 } BEGIN { @x[0] = 0; set(); }");
    assert!(
        message.starts_with("unhygienic access to map: `@x`"),
        "{message}"
    );
    assert_eq!(text, "@x");
}

#[test]
fn malformed_definitions_are_errors_at_the_definition() {
    let cases = [
        (
            "macro set($x, $x) { $x } BEGIN { }",
            "$x",
            "variable for macro",
        ),
        ("macro set(@x, @x) { @x } BEGIN { }", "@x", "map for macro"),
        ("macro set(x, x) { x } BEGIN { }", "x", "name for macro"),
        ("macro test(pid) { } BEGIN { }", "pid", "builtin `pid`"),
        ("macro m(1) { } BEGIN { }", "1", "macro parameters are"),
        (
            "macro s($x) { 1 } macro s($y) { 2 } BEGIN { }",
            "s",
            "redefinition",
        ),
    ];
    for (source, at, message) in cases {
        let errors = errors(source);
        assert!(
            errors
                .iter()
                .any(|(m, t)| t == at && m.starts_with(message)),
            "{source}: {errors:?}"
        );
    }
}

#[test]
fn a_let_of_a_parameter_and_a_call_without_value_are_errors() {
    let (message, text) = only_error("macro set($x) { let $x; $x } BEGIN { $y = 1; set($y); }");
    assert!(
        message.starts_with("variable declaration shadows"),
        "{message}"
    );
    assert_eq!(text, "$x");
    let (message, text) = only_error("macro inc($x) { $x += 1; } BEGIN { $y = 1; $z = inc($y); }");
    assert_eq!(message, "this macro call has no value");
    assert_eq!(text, "inc($y)");
}

#[test]
fn an_unknown_call_is_left_for_check() {
    let out = expanded("macro add3(x) { x + add5(x) } BEGIN { $a = add3(1); }");
    assert!(out.contains("$a = 1 + add5(1);"), "{out}");
}

/// A builtin call copied out of a macro's body knows the calls that expanded it, innermost
/// first; one in a probe's own code knows none.
#[test]
fn builtin_calls_keep_the_calls_that_expanded_them() {
    let source = r#"macro inner(x) { warnf("w %d", x); } macro outer() { inner(2); }
begin { outer(); warnf("own"); }"#;
    let program = expand(parse(source).unwrap()).unwrap();
    let mut calls: Vec<Vec<&str>> = Vec::new();
    for item in &program.items {
        if let Item::Probe(p) = item {
            crate::ast::visit::probe_exprs(p, &mut |e| {
                if matches!(&e.kind, ExprKind::Call { name, .. } if name.name == "warnf") {
                    calls.push(e.expanded_from.iter().map(|s| &source[s.range()]).collect());
                }
            });
        }
    }
    assert_eq!(calls, [vec!["inner(2)", "outer()"], vec![]]);
}

#[test]
fn a_blocks_aggregation_assigned_to_a_map_is_the_assignment_at_its_end() {
    let out = expanded("BEGIN { @a = { let $x = 1; avg($x) }; @b[1] = { { count() } }; }");
    assert!(out.contains("{ let $x = 1; @a = avg($x); }"), "{out}");
    assert!(out.contains("{ @b[1] = count(); }"), "{out}");
    // The key would read the block's own `$k`: left as written, for check to refuse.
    let out = expanded("BEGIN { $k = 2; @c[$k] = { let $k = 1; count() }; }");
    assert!(out.contains("@c[$k] = {"), "{out}");
}

use super::*;
use crate::parse::parse;

/// Every error as (message, the text its primary label underlines); `positional` is how many
/// `$N` arguments were given (each `1`), substituted first as the pipeline does.
fn errors_with(source: &str, positional: Option<usize>) -> Vec<(String, String)> {
    let program = parse(source).unwrap_or_else(|d| panic!("{source}: {}", d.message));
    let values = positional.map(|n| vec!["1".to_string(); n]);
    let diagnostics = match crate::positional::substitute(program, values.as_deref()) {
        Err(diagnostics) => diagnostics,
        Ok((program, _)) => {
            let options = CheckOptions {
                positional: values,
                unsafe_allowed: true,
                environment: Vec::new(),
                program_options: Default::default(),
                probe_filter: None,
                ..Default::default()
            };
            check(&program, &options)
        }
    };
    diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| (d.message.clone(), source[d.span().range()].to_string()))
        .collect()
}

/// Every error of `source` (its `$N` left), as `errors_with` gives them; shared with the
/// checks' own test modules.
pub(super) fn errors(source: &str) -> Vec<(String, String)> {
    errors_with(source, None)
}

/// The text the only error underlines, and its message.
fn only_error(source: &str) -> (String, String) {
    let mut all = errors(source);
    assert_eq!(all.len(), 1, "{source}: {all:?}");
    let (message, text) = all.remove(0);
    (text, message)
}

fn clean(source: &str) {
    assert_eq!(errors(source), [], "{source}");
}

#[test]
fn a_map_read_but_never_assigned_is_an_error_at_the_read() {
    let (text, message) = only_error(
        "tracepoint:a:b { @start[tid] = nsecs; }\n\
         tracepoint:a:c { @lat = hist(nsecs - @strt[tid]); print(@strt); }",
    );
    assert_eq!(text, "@strt[tid]");
    assert_eq!(message, "map `@strt` is read but never assigned");
    // Assigned in a later probe, by `++`, declared, or handed to a macro that may assign it.
    clean("END { print(@x); } BEGIN { @x = 1; }");
    clean("BEGIN { @n++; } END { print(@n); }");
    clean("let @h = hash(10); BEGIN { print(@h); }");
    clean("macro fill(@m) { @m[1] = 1; } BEGIN { fill(@m); print(@m); }");
}

#[test]
fn builtins_are_checked_against_what_the_probe_has() {
    for (source, name) in [
        ("BEGIN { printf(\"%s\\n\", str(args->filename)); }", "args"),
        ("BEGIN { signal(\"KILL\"); }", "signal"),
        ("tracepoint:a:b { @ = arg0; }", "arg0"),
        ("tracepoint:a:b { @ = arg12; }", "arg12"),
        ("interval:s:1 { @ = reg(\"ip\"); }", "reg"),
    ] {
        let (text, message) = only_error(source);
        assert_eq!(text, name, "{source}");
        assert!(
            message.starts_with(&format!("`{name}` is not available in ")),
            "{message}"
        );
    }
    clean("tracepoint:a:b { @ = args->x; signal(9); }");
    clean("uprobe:/bin/sh:main { @ = arg0 + arg12; }");
    clean("profile:hz:99 { @[func] = count(); }");
}

#[test]
fn functions_without_a_value_cannot_be_assigned() {
    assert_eq!(
        only_error("BEGIN { $r = printf(\"hi\\n\"); }"),
        (
            "printf(\"hi\\n\")".to_string(),
            "`printf()` returns no value".to_string()
        )
    );
    assert_eq!(only_error("BEGIN { @done = exit(); }").0, "exit()");
    assert_eq!(only_error("BEGIN { @[exit()] = 1; }").0, "exit()");
    clean("BEGIN { @s = str(0); }");
}

#[test]
fn increments_need_integers() {
    assert_eq!(
        only_error("BEGIN { $s = \"a\"; $s++; }"),
        ("$s".to_string(), "`++` needs an integer".to_string())
    );
    clean("BEGIN { $n = 1; $n++; }");
}

#[test]
fn a_pointer_stepped_or_moved_is_still_a_pointer() {
    for body in [
        "@b += ($c++).b;",
        "@b += (--$c)->b;",
        "@b += ($c + 1).b;",
        "@b += (2 + $c)->b;",
    ] {
        clean(&format!(
            "struct C {{ int a; long b; }} uprobe:/bin/true:main {{ $c = (struct C *)arg0; {body} }}"
        ));
    }
    assert_eq!(
        only_error("BEGIN { $x = pid; @ = ($x + 1).b; }"),
        // From inside the parentheses, as the current release places a postfix form.
        (
            "$x + 1).b".to_string(),
            "an integer has no field `b`".to_string()
        )
    );
}

#[test]
fn fields_and_tuple_elements_need_something_that_has_them() {
    assert_eq!(
        only_error("BEGIN { $x = pid; @ = $x.name; }"),
        (
            "$x.name".to_string(),
            "an integer has no field `name`".to_string()
        )
    );
    assert_eq!(
        only_error("BEGIN { $t = (1, \"a\"); @ = $t.5; }"),
        (
            "$t.5".to_string(),
            "tuple index 5 is out of range".to_string()
        )
    );
    assert_eq!(only_error("BEGIN { $s = comm; @ = $s.0; }").0, "$s.0");
    clean("BEGIN { $t = (1, \"a\"); @ = $t.1; }");
}

#[test]
fn string_parameters_want_strings() {
    assert_eq!(
        only_error("BEGIN { @ = strncmp(pid, \"bash\", 4); }"),
        (
            "pid".to_string(),
            "`strncmp` wants a string here".to_string()
        )
    );
    clean("BEGIN { @ = strncmp(comm, \"bash\", 4); }");
}

#[test]
fn printf_conversions_match_their_arguments() {
    assert_eq!(
        only_error("BEGIN { printf(\"%d\\n\", comm); }"),
        (
            "comm".to_string(),
            "`%d` prints an integer, but this is a string".to_string()
        )
    );
    assert_eq!(
        only_error("BEGIN { printf(\"%-8s|\\n\", pid); }").1,
        "`%s` prints a string, but this is an integer"
    );
    assert_eq!(
        only_error("BEGIN { printf(\"%s %d\\n\", comm, (1, 2)); }").0,
        "(1, 2)"
    );
    clean("BEGIN { printf(\"%s %d %x %s\\n\", comm, pid, $1, str($2)); }");
}

#[test]
fn histogram_bounds_are_checked() {
    for (source, text) in [
        ("BEGIN { @ = hist(1, 9); }", "9"),
        ("BEGIN { @ = lhist(1, 0, 100, 0); }", "0"),
        ("BEGIN { @ = lhist(1, 100, 0, 10); }", "100, 0"),
        ("BEGIN { @ = lhist(1, 0, 10, 20); }", "20"),
        (
            "BEGIN { @ = lhist(1, 0, 100000, 1); }",
            "lhist(1, 0, 100000, 1)",
        ),
    ] {
        assert_eq!(only_error(source).0, text, "{source}");
    }
    clean("BEGIN { @a = hist(1); @b = hist(1, 2); @c = lhist(1, 0, 10, 1); }");
}

#[test]
fn numeric_config_keys_take_numbers() {
    assert_eq!(
        only_error("config = { max_strlen = \"big\" } BEGIN { }"),
        (
            "\"big\"".to_string(),
            "max_strlen: expecting a number, got big".to_string()
        )
    );
    clean("config = { max_strlen = 128; stack_mode = perf } BEGIN { }");
}

#[test]
fn string_literals_must_fit_max_strlen() {
    let long = "x".repeat(64);
    let (text, message) = only_error(&format!(
        "config = {{ max_strlen = 64 }} BEGIN {{ @s = \"{long}\"; }}"
    ));
    assert_eq!(text, format!("\"{long}\""));
    assert_eq!(
        message,
        "this string is 64 bytes long; strings hold at most 63"
    );
    assert_eq!(
        only_error("config = { max_strlen = 8 } BEGIN { @s = \"12345678\"; }").0,
        "\"12345678\""
    );
    clean(&format!(
        "config = {{ max_strlen = 64 }} BEGIN {{ @s = \"{}\"; }}",
        "x".repeat(63)
    ));
    clean(&format!("BEGIN {{ @s = \"{}\"; }}", "x".repeat(1023)));
    // Formatted in user space: never in the kernel.
    clean(&format!(
        "BEGIN {{ printf(\"%s {long}\\n\", \"{long}\"); }}"
    ));
}

#[test]
fn a_builtin_in_capitals_is_not_taken_for_an_enum_constant() {
    assert_eq!(
        only_error("BEGIN { @ = PID; }"),
        ("PID".to_string(), "unknown identifier `PID`".to_string())
    );
    clean("BEGIN { @ = TASK_RUNNING; }");
}

#[test]
fn a_name_in_any_case_may_be_an_included_headers_macro() {
    assert_eq!(
        only_error("BEGIN { @ = __NR_read; }"),
        (
            "__NR_read".to_string(),
            "unknown identifier `__NR_read`".to_string()
        )
    );
    // Only the headers, read by resolve, can say.
    clean("#include <syscall.h>\nBEGIN { @ = __NR_read + SYS_write; }");
}

#[test]
fn an_empty_attach_point_part_underlines_the_attach_point() {
    assert_eq!(
        only_error("kprobe: { @ = count(); }"),
        (
            "kprobe:".to_string(),
            "empty part in `kprobe` probe".to_string()
        )
    );
}

#[test]
fn positional_parameters_in_attach_points_must_be_given() {
    let all = errors_with("interval:ms:$2 { @ = $1; }", Some(1));
    assert_eq!(
        all,
        [(
            "`$2` is not set: only 1 positional argument was given".to_string(),
            "$2".to_string()
        )]
    );
    assert_eq!(errors_with("uprobe:\"/opt/$1\":f { }", Some(0)), []);
}

#[test]
fn a_statement_after_exit_or_return_is_unreachable() {
    let warnings = |source: &str| -> Vec<String> {
        let program = parse(source).unwrap();
        check(&program, &CheckOptions::default())
            .into_iter()
            .filter(|d| !d.is_error())
            .map(|d| source[d.span().range()].to_string())
            .collect()
    };
    assert_eq!(warnings("i:ms:100 { @++; exit(); @++ }"), ["@++"]);
    assert_eq!(
        warnings("BEGIN { if (1) { return; print(1); } exit(); }"),
        ["print(1)"]
    );
    assert!(warnings("BEGIN { @++; exit(); }").is_empty());
}

#[test]
fn debugf_is_held_to_what_bpf_trace_printk_takes() {
    assert!(errors(r#"BEGIN { debugf("%s %d %x", "a", 1, 16); }"#).is_empty());
    let (at, message) = only_error(r#"BEGIN { debugf("%d %d %d %d", 1, 2, 3, 4); }"#);
    assert_eq!(message, "cannot use more than 3 conversion specifiers");
    assert_eq!(at, r#"debugf("%d %d %d %d", 1, 2, 3, 4)"#);
    let (at, message) = only_error(r#"BEGIN { debugf("%c", 65); }"#);
    assert_eq!(message, "Invalid format specifier for `debugf`: c");
    assert_eq!(at, r#""%c""#);
    assert_eq!(errors(r#"BEGIN { debugf("%.2d", 1); }"#).len(), 1);
}

#[test]
fn pton_takes_an_address_literal_only() {
    assert!(errors(r#"BEGIN { $a = pton("10.0.0.1"); $b = pton("fe80::1"); }"#).is_empty());
    let (at, message) = only_error(r#"BEGIN { $a = pton("10.0.0.300"); }"#);
    assert_eq!(
        message,
        "pton() expects a valid IPv4/IPv6 address, got 10.0.0.300"
    );
    assert_eq!(at, r#""10.0.0.300""#);
    let (_, message) = only_error(r#"BEGIN { $a = pton("localhost"); }"#);
    assert_eq!(
        message,
        "pton() expects an string argument of an IPv4/IPv6 address, got localhost"
    );
}

#[test]
fn cgroup_path_refuses_a_hierarchy_filter_at_it() {
    assert!(errors("BEGIN { print(cgroup_path(cgroup)); }").is_empty());
    let (at, message) = only_error(r#"BEGIN { print(cgroup_path(cgroup, "unified")); }"#);
    assert_eq!(
        message,
        "this argument of `cgroup_path` is not supported by tracebound"
    );
    assert_eq!(at, r#""unified""#);
}

/// An iterator's `ctx` is read by its members; a pin, another probe beside it and
/// `comm(pid)` outside the program types that may call kfuncs are refused at their text.
#[test]
fn iterator_probes_are_checked_as_they_run() {
    clean("iter:task { printf(\"%s %d\\n\", ctx.task.comm, ctx->task->pid); }");
    clean("BEGIN { @n = 0; } iter:task_file { @n += ctx.fd; } END { print(@n); }");
    clean("iter:task { @ = comm(pid); }");
    assert_eq!(
        only_error("iter:task { print(ctx); }"),
        (
            "ctx".to_string(),
            "`ctx` of an iter probe is read by its members".to_string()
        )
    );
    assert_eq!(
        only_error("iter:task:list { print(1); }"),
        (
            "list".to_string(),
            "`pin` is not supported by tracebound".to_string()
        )
    );
    assert_eq!(
        only_error("iter:task { print(1); } interval:s:1 { exit(); }"),
        (
            "interval:s:1".to_string(),
            "an iter probe can't be mixed with any other probe".to_string()
        )
    );
    assert_eq!(
        only_error("tracepoint:a:b { @ = comm(pid); }"),
        (
            "comm".to_string(),
            "Syntax comm(PID) is not supported in this probe type yet. Type: tracepoint"
                .to_string()
        )
    );
}

/// A stack's mode and frame count are its type, as in the current release: each has its own
/// stack map, so ids of two cannot share a map (they would print as the first's stacks).
#[test]
fn stacks_of_different_types_do_not_share_a_map() {
    assert_eq!(
        only_error("BEGIN { @[kstack(2)] = count(); } END { @[kstack] = count(); }"),
        (
            "kstack".to_string(),
            "map `@` is keyed by different types".to_string()
        )
    );
    assert_eq!(
        only_error("BEGIN { @[kstack(raw)] = count(); @[kstack(perf)] = count(); }").0,
        "kstack(perf)"
    );
    assert_eq!(
        only_error("BEGIN { @s = ustack(3); @s = ustack(4); }").1,
        "type mismatch for map `@s`"
    );
    // The same type written two ways, or the mode the script's stack_mode makes the default.
    clean("BEGIN { @[kstack(bpftrace, 127)] = count(); @[kstack] = count(); @[kstack(127)] = count(); }");
    clean(
        "config = { stack_mode = perf } BEGIN { @[kstack(perf)] = count(); @[kstack] = count(); }",
    );
}

//! The stdlib table against the real pipeline. Every entry either compiles, in a program of a
//! probe kind that fits it, to an object, or is marked with the reason it cannot; `--check`
//! refuses exactly the marked ones, with that reason at the use.

use tracebound_stdlib::{Builtin, BUILTINS};

use crate::check::CheckOptions;
use crate::diagnostic::Diagnostic;
use crate::lower::LowerOptions;
use crate::machine::fixture::FixtureFacts;
use crate::pipeline::{compile, CompileOptions};

const BINARY: &str = "/usr/bin/tb_fixture";

/// One probe of each context a builtin may need: typed arguments, a raw tracepoint's u64
/// arguments, registers, a return value, none at all, a perf event.
fn probes() -> Vec<String> {
    vec![
        "tracepoint:syscalls:sys_enter_openat".into(),
        "rawtracepoint:sys_enter".into(),
        format!("uprobe:{BINARY}:main"),
        format!("uretprobe:{BINARY}:main"),
        "BEGIN".into(),
        "profile:hz:99".into(),
    ]
}

fn facts() -> FixtureFacts {
    FixtureFacts::bundled()
        .with_kernel_types()
        .with_binary(BINARY, &["main"])
        .with_symbol(None, "jiffies", 0xffff_ffff_8200_0000)
        .with_symbol(Some(BINARY), "main", 0x1139)
        .with_percpu_variable("runqueues", 0x2b900)
        .with_percpu_variable("process_counts", 0x17d70)
}

fn options() -> CompileOptions {
    CompileOptions {
        check: CheckOptions {
            positional: None,
            unsafe_allowed: true,
            environment: Vec::new(),
            program_options: Default::default(),
            probe_filter: None,
            ..Default::default()
        },
        lower: LowerOptions {
            cpid: Some(4242),
            ..LowerOptions::default()
        },
    }
}

/// The statement the entry's test uses.
fn statement(b: &Builtin) -> String {
    match b.example {
        "" => format!("@v = {}", b.name),
        example => example.to_string(),
    }
}

/// Whether a diagnostic is the table's refusal of `b`, at a use of it. `config` is also a
/// keyword (the `config = { ... }` block), so the parser refuses it as a value first: a syntax
/// error at the word itself counts, without the table's reason.
fn is_refusal(d: &Diagnostic, b: &Builtin, source: &str) -> bool {
    let Some(reason) = b.refusal() else {
        return false;
    };
    let at = &source[d.span().range()];
    let at_use = at == b.name || b.aliases.contains(&at);
    let keyword = at_use && d.message.starts_with("expected ") && at == "config";
    let gives_reason =
        d.message.contains(b.name) && d.labels.iter().any(|l| l.primary && l.message == reason);
    d.is_error() && at_use && (keyword || gives_reason)
}

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn every_builtin_compiles_or_is_refused_with_its_reason() {
    let facts = facts();
    let options = options();
    let (mut compiled, mut marked) = (Vec::new(), Vec::new());
    for b in BUILTINS {
        let statement = statement(b);
        assert!(
            statement.contains(b.name),
            "the example of `{}` does not use it: {statement}",
            b.name
        );
        let programs: Vec<String> = probes()
            .iter()
            .map(|p| format!("{p} {{ {statement}; }}"))
            .collect();
        let checked: Vec<Vec<Diagnostic>> = programs
            .iter()
            .map(|p| crate::check_source(p, &options.check).diagnostics)
            .collect();
        match b.refusal() {
            None => {
                for (source, diagnostics) in programs.iter().zip(&checked) {
                    assert!(
                        !diagnostics.iter().any(|d| is_refusal(d, b, source)),
                        "--check refuses `{}`, which compiles",
                        b.name
                    );
                }
                let results: Vec<_> = programs
                    .iter()
                    .map(|p| compile(p, &facts, &options))
                    .collect();
                let Some(index) = results.iter().position(Result::is_ok) else {
                    let why: Vec<String> = programs
                        .iter()
                        .zip(&results)
                        .map(|(p, r)| format!("{p}: {:?}", r.as_ref().err().map(|d| &d[0].message)))
                        .collect();
                    panic!(
                        "`{}` is marked compiled but no probe compiles it:\n{}",
                        b.name,
                        why.join("\n")
                    );
                };
                let object = &results[index].as_ref().expect("found above").object;
                assert!(object.starts_with(b"\x7fELF"), "`{}`: no object", b.name);
                assert!(
                    errors(&checked[index]).is_empty(),
                    "--check refuses {} which compiles: {:?}",
                    programs[index],
                    checked[index]
                );
                compiled.push(b.name);
            }
            Some(reason) => {
                assert!(
                    !reason.is_empty(),
                    "`{}` is refused without a reason",
                    b.name
                );
                for (source, diagnostics) in programs.iter().zip(&checked) {
                    assert!(
                        diagnostics.iter().any(|d| is_refusal(d, b, source)),
                        "--check does not refuse `{}` with its reason in {source}: {diagnostics:?}",
                        b.name
                    );
                    let refused = compile(source, &facts, &options)
                        .expect_err("a refused builtin does not compile");
                    assert!(
                        refused.iter().any(|d| is_refusal(d, b, source)),
                        "compiling {source} does not give the reason: {refused:?}"
                    );
                }
                // Somewhere the refusal is the only complaint: the example is otherwise fine.
                assert!(
                    programs.iter().zip(&checked).any(|(source, diagnostics)| {
                        errors(diagnostics).iter().all(|d| is_refusal(d, b, source))
                    }),
                    "every program using `{}` has other errors: {checked:?}",
                    b.name
                );
                marked.push(b.name);
            }
        }
    }
    eprintln!(
        "{} builtins compile, {} are marked: {}",
        compiled.len(),
        marked.len(),
        marked.join(", ")
    );
    assert_eq!(compiled.len() + marked.len(), BUILTINS.len());
}

/// What `strcontains`, `has_key` and `delete` return is a bool: print() sends it as one (so
/// it prints `true`/`false`), and a map of it holds one.
#[test]
fn truth_values_are_bools_in_print_and_maps() {
    use crate::program::{Action, MapValue, ValueType};
    let source = r#"BEGIN { @k[1] = 1; print(strcontains("ab", "b")); $d = delete(@k, 1); print($d); @h = has_key(@k, 2); }"#;
    let compiled = compile(source, &facts(), &options()).expect("compiles");
    let printed: Vec<&ValueType> = compiled
        .info
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::PrintValue { value } => Some(value),
            _ => None,
        })
        .collect();
    assert_eq!(printed, [&ValueType::Bool, &ValueType::Bool]);
    let h = compiled
        .info
        .maps
        .iter()
        .find(|m| m.name == "h")
        .expect("@h");
    assert_eq!(h.value, MapValue::Plain(ValueType::Bool));
}

/// `debugf` calls bpf_trace_printk (the format and its three values in registers), and
/// `pton` is the address's bytes in network order, an array ntop and casts read.
#[test]
fn debugf_calls_the_kernel_and_pton_is_an_array() {
    use crate::program::ValueType;
    let source = r#"BEGIN { debugf("%s %d", "a", 1); @a = pton("127.0.0.1"); @b = pton("::1"); }"#;
    let compiled = compile(source, &facts(), &options()).expect("compiles");
    assert!(compiled.writes_trace_buffer());
    let byte = Box::new(ValueType::Int {
        size: 1,
        signed: false,
    });
    for (name, len) in [("a", 4), ("b", 16)] {
        let m = compiled
            .info
            .maps
            .iter()
            .find(|m| m.name == name)
            .expect("map");
        assert_eq!(
            m.value,
            crate::program::MapValue::Plain(ValueType::Array {
                elem: byte.clone(),
                len
            })
        );
    }
    let quiet = compile(r#"BEGIN { printf("x\n"); }"#, &facts(), &options()).expect("compiles");
    assert!(!quiet.writes_trace_buffer());
}

/// `percpu_kaddr` is found from the CPU's run queue: the variable's distance from
/// `runqueues` in the per-CPU section, and the members from the task there, resolved when
/// compiling; an unknown variable is the current release's error at the call.
#[test]
fn percpu_kaddr_is_resolved_from_the_run_queue() {
    let source =
        r#"BEGIN { @a = *percpu_kaddr("process_counts", 1); @b = percpu_kaddr("runqueues"); }"#;
    assert!(compile(source, &facts(), &options()).is_ok());
    let missing = compile(
        r#"BEGIN { @a = percpu_kaddr("nope"); }"#,
        &facts(),
        &options(),
    )
    .expect_err("no such variable");
    assert_eq!(
        missing[0].message,
        r#"Could not resolve variable "nope" from BTF"#
    );
}

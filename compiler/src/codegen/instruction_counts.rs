//! The regression guard on code size: the per-event benchmark's scripts
//! (`tests/scripts/bench/per_event/`, the seven shapes of issue 19, the empty program and the
//! stack walk alone),
//! compiled as a default run compiles them (the guard's sampling prologue in), must not
//! grow by a single instruction. The counts are exact: a change that makes them smaller
//! updates them here on purpose, in the same commit; one that makes them larger must say in
//! its commit why that code is worth it.

use crate::machine::fixture::FixtureFacts;
use crate::pipeline::{compile, CompileOptions, LowerOptions};

/// `(name, text of tests/scripts/bench/per_event/NAME.bt, instructions)`.
macro_rules! script {
    ($name:literal, $instructions:expr) => {
        (
            $name,
            include_str!(concat!(
                "../../../tests/scripts/bench/per_event/",
                $name,
                ".bt"
            )),
            $instructions,
        )
    };
}

/// Each script with the instructions of all its programs together (an ld_imm64 is two). What
/// each pass took off is in its commit; before the passes (constants, forwarding, dead stores and values,
/// rematerialization, coalescing) they were 63, 75, 120, 121, 91, 206, 72 and 3.
const SCRIPTS: &[(&str, &str, usize)] = &[
    script!("count", 16),
    script!("keyed_count", 33),
    script!("sum_avg", 66),
    script!("hist", 51),
    script!("lhist", 26),
    script!("latency", 89),
    script!("kstack", 24),
    script!("empty", 2),
    script!("stack_walk", 6),
];

fn facts() -> FixtureFacts {
    FixtureFacts::bundled().with_format(
        "syscalls",
        "sys_exit_getppid",
        include_str!("../../tests/fixtures/tracefs/syscalls/sys_exit_getppid/format"),
    )
}

/// The instructions of every program of `source`, callbacks included.
fn instructions(source: &str) -> usize {
    let options = CompileOptions {
        lower: LowerOptions {
            guard_sampling: true,
            ncpus: 2,
            ..LowerOptions::default()
        },
        ..CompileOptions::default()
    };
    let compiled = compile(source, &facts(), &options).unwrap_or_else(|d| panic!("{d:?}"));
    compiled.probes.iter().map(|p| p.spans.len()).sum()
}

#[test]
fn the_per_event_scripts_do_not_grow() {
    let mut changed = Vec::new();
    for &(name, source, expected) in SCRIPTS {
        let now = instructions(source);
        if now != expected {
            changed.push(format!("{name}: {expected} -> {now}"));
        }
    }
    assert!(
        changed.is_empty(),
        "instruction counts changed ({}). Fewer: update SCRIPTS in \
         compiler/src/codegen/instruction_counts.rs to the new counts in the same commit. \
         More: find what grew (`tracebound -d bpf tests/scripts/bench/per_event/NAME.bt`), \
         and only if it is worth it update the count and say why in the commit.",
        changed.join(", ")
    );
}

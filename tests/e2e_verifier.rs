//! A script that compiles but that the kernel's verifier rejects is reported as a diagnostic
//! at the statement whose instructions were rejected, with exit code 1, and nothing stays
//! loaded. The scripts (`tests/e2e/scripts/unbounded_loop*.bt`) hold a `while` loop whose
//! condition never changes: tracebound's checks let it through, the verifier finds the
//! infinite loop.

mod e2e;

use std::path::Path;
use std::time::Duration;

use e2e::{Finished, ProgramWatch, Tally, Tracer, EXIT_TIMEOUT};

struct Case {
    script: &'static str,
    /// Where the rejected statement starts (1-based line and column).
    line: usize,
    column: usize,
    /// The statement's first line as the diagnostic quotes it.
    statement: &'static str,
}

const CASES: &[Case] = &[
    Case {
        script: "unbounded_loop.bt",
        line: 6,
        column: 2,
        statement: "while ($i > 0) {",
    },
    // The rejected program is not the first one loaded: the diagnostic must use the right
    // probe's instruction-to-source table.
    Case {
        script: "unbounded_loop_second_probe.bt",
        line: 9,
        column: 2,
        statement: "while ($i > 0) { @spins = count(); }",
    },
];

fn script_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/scripts")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

fn run(args: &[&str]) -> Result<Finished, String> {
    let watch = ProgramWatch::start();
    let done = Tracer::spawn(args).finish(EXIT_TIMEOUT)?;
    watch.check_unloaded(Duration::from_secs(3))?;
    Ok(done)
}

fn check(case: &Case) -> Result<(), String> {
    let path = script_path(case.script);
    let done = run(&[&path])?;
    // The current release's form: `FILE:LINE:COL-END: ERROR: ...` and the line itself, or
    // `FILE:LINE-LAST: ...` and every line for a statement over several lines.
    let location = format!("{path}:{}:{}-", case.line, case.column);
    let lines = format!("{path}:{}-", case.line);
    let first = done.stderr.lines().next().unwrap_or_default();
    let quotes_statement = done
        .stderr
        .lines()
        .skip(1)
        .any(|l| l.trim_end().ends_with(case.statement));
    let mut problems = Vec::new();
    if done.code() != Some(1) {
        problems.push(format!("exit status {} (expected 1)", done.status));
    }
    if !first.ends_with(": ERROR: the kernel's BPF verifier rejected this statement") {
        problems.push("stderr does not start with the verifier diagnostic".to_string());
    }
    if !first.starts_with(&location) && !first.starts_with(&lines) {
        problems.push(format!("the diagnostic is not at {location:?}"));
    }
    if !quotes_statement {
        problems.push(format!(
            "the diagnostic does not quote line {} `{}`",
            case.line, case.statement
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n--- stdout:\n{}--- stderr:\n{}",
            problems.join("\n"),
            done.stdout,
            done.stderr
        ))
    }
}

#[test]
fn verifier_rejection_is_a_diagnostic_at_the_statement() {
    let Some(_env) = e2e::setup("verifier_rejection_is_a_diagnostic_at_the_statement") else {
        return;
    };
    let mut tally = Tally::default();
    for case in CASES {
        tally.record(case.script, check(case));
    }
    tally.finish();
}

/// The label says why: the verifier's log says "infinite loop detected at insn N", followed
/// by "cur state: ..." and "old state: ..." lines; the reason must be the former.
#[test]
fn verifier_reason_names_the_infinite_loop() {
    let Some(_env) = e2e::setup("verifier_reason_names_the_infinite_loop") else {
        return;
    };
    let done = run(&[&script_path("unbounded_loop.bt")]).unwrap();
    assert!(
        done.stderr.contains("infinite loop detected"),
        "stderr:\n{}",
        done.stderr
    );
}

/// The diagnostic's note says "run with -v to see the verifier's full log"; with -v the log
/// must be there.
#[test]
fn verbose_shows_the_verifier_log() {
    let Some(_env) = e2e::setup("verbose_shows_the_verifier_log") else {
        return;
    };
    let done = run(&["-v", &script_path("unbounded_loop.bt")]).unwrap();
    assert!(
        done.stderr.contains("processed ") && done.stderr.contains("infinite loop detected"),
        "stderr:\n{}",
        done.stderr
    );
}

//! The bad-input corpus: every `tests/bad_input/*.bt` is wrong in its own way (syntax, types,
//! unknown probes, fields and functions, arities, misused maps, probe-context violations,
//! strings too long, loops the verifier cannot bound, missing binaries and symbols, missing
//! `--unsafe`, ...). Each is run through the whole pipeline, load included (not `--check`), and
//! must end with exit code 1, no panic, a first diagnostic whose primary label underlines the
//! script's `// expect:` text (see `common` for the headers), and no `tb_` BPF program left
//! loaded. Runs are killed after `RUN_TIMEOUT`, so a script that attaches by mistake cannot
//! hang the test. Each script runs with `-f json` and once more in text mode, whose rendering
//! must not panic either.

mod common;
mod e2e;

use std::path::Path;
use std::time::Duration;

use common::{cases, first_diagnostic, header, header_words, json_message, json_span, line_of};
use e2e::{Finished, ProgramWatch, Tracer};

const RUN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the kernel may take to free a program after its last reference goes.
const PATIENCE: Duration = Duration::from_secs(3);

/// Runs `tracebound FLAGS [-f json] SCRIPT ARGS`.
fn run(path: &Path, source: &str, json: bool) -> Result<Finished, String> {
    let mut args: Vec<&str> = header_words(source, "flags");
    if json {
        args.extend(["-f", "json"]);
    }
    args.push(path.to_str().expect("utf-8 path"));
    args.extend(header_words(source, "args"));
    Tracer::spawn(&args).finish(RUN_TIMEOUT)
}

/// Problems common to both runs: the exit code, a panic, probes attached.
fn ended_with_a_diagnostic(mode: &str, done: &Finished, problems: &mut Vec<String>) {
    if done.code() != Some(1) {
        problems.push(format!("{mode}: exit status {}, expected 1", done.status));
    }
    if done.stderr.contains("panicked") {
        problems.push(format!("{mode}: panicked"));
    }
    if done.stderr.contains("Attached") || done.stdout.contains("attached_probes") {
        problems.push(format!("{mode}: attached probes"));
    }
}

fn check(path: &Path) -> Result<(), String> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let expect = header(&source, "expect").ok_or("no `// expect:` header")?;
    if expect.is_empty() {
        return Err("`// expect:` is empty: any empty span would match".into());
    }
    // Where the expected text is: its only occurrence after the headers, or the one
    // `// occurrence: N` names.
    let body_at = source
        .lines()
        .take_while(|l| l.starts_with("// "))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let found: Vec<usize> = source[body_at..]
        .match_indices(expect)
        .map(|(at, _)| body_at + at)
        .collect();
    let expected_at = match header(&source, "occurrence") {
        Some(n) => {
            let n: usize = n.parse().map_err(|_| format!("bad `// occurrence: {n}`"))?;
            *found
                .get(n.wrapping_sub(1))
                .ok_or(format!("{expect:?} does not occur {n} times"))?
        }
        None if found.len() == 1 => found[0],
        None if found.is_empty() => return Err(format!("{expect:?} is not in the script")),
        None => {
            return Err(format!(
                "{expect:?} occurs {} times after the headers: say which with `// occurrence: N`",
                found.len()
            ))
        }
    };

    let watch = ProgramWatch::start();
    let json = run(path, &source, true);
    let text = run(path, &source, false);
    let unloaded = watch.check_unloaded(PATIENCE);
    let (json, text) = (json?, text?);

    let mut problems = Vec::new();
    ended_with_a_diagnostic("json", &json, &mut problems);
    ended_with_a_diagnostic("text", &text, &mut problems);
    if let Err(e) = unloaded {
        problems.push(e);
    }
    match first_diagnostic(&json.stdout) {
        None => problems.push("json: no diagnostic on stdout".into()),
        Some(d) => {
            match json_span(d) {
                Some((start, end)) => {
                    let underlined = source.get(start..end).unwrap_or("<out of range>");
                    if underlined != expect || start != expected_at {
                        problems.push(format!(
                            "points at {underlined:?} (line {}, byte {start}), expected {expect:?} \
                             (line {}, byte {expected_at})",
                            line_of(&source, start),
                            line_of(&source, expected_at)
                        ));
                    }
                }
                None => problems.push(format!("json: no span in {d}")),
            }
            let message = json_message(d).unwrap_or_default();
            if let Some(want) = header(&source, "message") {
                if !message.contains(want) {
                    problems.push(format!("message {message:?} does not contain {want:?}"));
                }
            }
        }
    }
    // Text mode quotes the line it underlines.
    let first_line = expect.lines().next().unwrap_or(expect);
    if !text.stderr.contains("ERROR: ") || !text.stderr.contains(first_line) {
        problems.push("text: stderr is not a diagnostic quoting the expected text".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n--- json stdout:\n{}--- text stderr:\n{}",
            problems.join("\n"),
            json.stdout,
            text.stderr
        ))
    }
}

#[test]
fn every_bad_script_is_a_diagnostic_at_the_right_text() {
    if !e2e::require_bpf("every_bad_script_is_a_diagnostic_at_the_right_text") {
        return;
    }
    let cases = cases("bad_input");
    assert!(cases.len() >= 100, "only {} bad-input scripts", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let name = path.file_name().unwrap().to_string_lossy();
        if let Err(e) = check(path) {
            println!("FAILED {name}: {}", e.lines().next().unwrap_or_default());
            failures.push(format!("=== {name}\n{e}"));
        }
    }
    println!(
        "{} passed, {} failed",
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// `-p` of a process that does not exist: one line naming the pid, exit 1, nothing attached.
/// (No script text to underline, so not one of the corpus's scripts.)
#[test]
fn a_pid_that_does_not_exist_is_refused() {
    if !e2e::require_bpf("a_pid_that_does_not_exist_is_refused") {
        return;
    }
    // The kernel's largest pid_max, 2^22, which no process can have (pids stay below it);
    // larger numbers are refused as out of range before the kernel is asked.
    let pid = "4194304";
    let script = "tracepoint:syscalls:sys_enter_openat { @ = count(); }";
    let done = Tracer::spawn(&["-p", pid, "-e", script])
        .finish(RUN_TIMEOUT)
        .expect("tracebound ends");
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains(&format!("-p {pid}: no such process")),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("Attached"), "{}", done.stderr);
}

//! Golden tests of the diagnostics a user sees from `tracebound --check`.
//!
//! Each `tests/diagnostics/NAME.bt` starts with `// expect: TEXT`, the exact text its first
//! error must underline, and may have `// args: A B` for positional parameters. The test runs
//! the binary, checks exit code 1, compares stderr with `NAME.stderr` byte for byte, and checks
//! the JSON form's primary span against TEXT. `BLESS=1 cargo test --test diagnostics` rewrites
//! the `.stderr` files after a deliberate change (review the diff).

mod common;

use std::path::Path;
use std::process::Command;

use common::{cases, first_diagnostic, header, json_span};

fn run(path: &Path, json: bool) -> (i32, String, String) {
    let source = std::fs::read_to_string(path).expect("read case");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracebound"));
    cmd.current_dir(path.parent().expect("case dir"))
        .arg("--check");
    if json {
        cmd.args(["-f", "json"]);
    }
    cmd.arg(path.file_name().expect("file name"));
    if let Some(args) = header(&source, "args") {
        cmd.args(args.split_whitespace());
    }
    let out = cmd.env("NO_COLOR", "1").output().expect("run tracebound");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diagnostics_match_their_golden_text_and_point_at_the_right_span() {
    let bless = std::env::var_os("BLESS").is_some();
    let cases = cases("diagnostics");
    assert!(cases.len() >= 20, "only {} diagnostic cases", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(path).expect("read case");
        let expect = header(&source, "expect").unwrap_or_else(|| panic!("{name}: no // expect:"));

        let (code, _, stderr) = run(path, false);
        if code != 1 {
            failures.push(format!("{name}: exit code {code}, expected 1\n{stderr}"));
            continue;
        }
        let golden_path = path.with_extension("stderr");
        if bless {
            std::fs::write(&golden_path, &stderr).expect("write golden");
        } else {
            let golden = std::fs::read_to_string(&golden_path).unwrap_or_default();
            if golden != stderr {
                failures.push(format!(
                    "{name}: stderr differs from {}\n--- expected\n{golden}\n--- actual\n{stderr}",
                    golden_path.display()
                ));
            }
        }

        let (_, stdout, _) = run(path, true);
        let first = first_diagnostic(&stdout).unwrap_or_default();
        let (start, end) =
            json_span(first).unwrap_or_else(|| panic!("{name}: no span in {first:?}"));
        let underlined = source.get(start..end).unwrap_or("<out of range>");
        if underlined != expect {
            failures.push(format!(
                "{name}: points at {underlined:?}, expected {expect:?}"
            ));
        }
    }
    println!(
        "{} passed, {} failed",
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

//! `tracebound --check` as a runbook's CI uses it: every construct script passes with one OK
//! line, or is refused only for the builtins its `// check refuses:` header names; the ways of giving a program (`-e`, repeated `-e`, a file, `-`) agree; JSON output and
//! exit codes are stable.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn tracebound(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracebound");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_construct_script_example_and_tool_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts: Vec<_> = ["tests/scripts/constructs", "examples", "tools"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("script dir"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 25);
    let mut failures = Vec::new();
    for script in &scripts {
        let path = script.to_str().expect("utf-8 path");
        let (code, stdout, stderr) = tracebound(&["--check", path], None);
        let text = std::fs::read_to_string(script).expect("read script");
        let result = match refused_header(&text) {
            None if code == 0 && stdout.starts_with(&format!("{path}: OK (")) => Ok(()),
            None => Err(String::new()),
            Some(expected) => only_refused(code, &stderr, &expected),
        };
        if let Err(why) = result {
            failures.push(format!("{path}: exit {code} {why}\n{stdout}{stderr}"));
        }
    }
    println!(
        "{} passed, {} failed",
        scripts.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The builtins a construct script's `// check refuses:` header names: ones the stdlib table
/// marks as not compiled, which `--check` therefore refuses.
fn refused_header(text: &str) -> Option<Vec<String>> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// check refuses: "))?;
    let names = line.split(" (").next().unwrap_or_default();
    Some(names.split_whitespace().map(str::to_string).collect())
}

/// `--check` failed, and only by refusing exactly the `expected` builtins.
fn only_refused(code: i32, stderr: &str, expected: &[String]) -> Result<(), String> {
    let mut refused = Vec::new();
    // `FILE:LINE:COL-END: ERROR: message`, the current release's form.
    for error in stderr
        .lines()
        .filter_map(|l| l.split_once(": ERROR: ").map(|(_, e)| e))
    {
        let name = error
            .strip_prefix('`')
            .and_then(|e| e.strip_suffix("` is not supported by tracebound"))
            .ok_or_else(|| format!("an error other than a refusal: {error}"))?;
        refused.push(name.to_string());
    }
    refused.sort();
    refused.dedup();
    let mut expected = expected.to_vec();
    expected.sort();
    if code != 1 || refused != expected {
        return Err(format!("refused {refused:?}, the header says {expected:?}"));
    }
    Ok(())
}

#[test]
fn program_sources_agree() {
    let program = "BEGIN { printf(\"%d\\n\", $1); exit(); }";
    let (code, out, _) = tracebound(&["--check", "-e", program, "7"], None);
    assert_eq!((code, out.as_str()), (0, "<command line>: OK (1 probes)\n"));

    let (code, out, _) = tracebound(&["--check", "-", "7"], Some(program));
    assert_eq!((code, out.as_str()), (0, "<stdin>: OK (1 probes)\n"));

    // Several -e are joined with newlines: the second may use what the first defines.
    let (code, out, err) = tracebound(
        &[
            "--check",
            "-e",
            "BEGIN { @x = 1; }",
            "-e",
            "END { print(@x); }",
        ],
        None,
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "<command line>: OK (2 probes)\n"),
        "{err}"
    );
}

#[test]
fn json_output_and_exit_codes_are_stable() {
    let (code, out, _) = tracebound(&["--check", "-f", "json", "-e", "BEGIN { exit(); }"], None);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"ok\":true,\"file\":\"<command line>\",\"probes\":1}\n"
    );

    let (code, out, err) = tracebound(
        &["--check", "-f", "json", "-e", "BEGIN { prinft(\"x\"); }"],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.is_empty(), "JSON mode keeps stderr clean: {err}");
    assert!(out.starts_with("{\"type\":\"diagnostic\",\"severity\":\"error\",\"message\":\"unknown function `prinft`\""), "{out}");
    assert!(
        out.contains("\"line\":1,\"column\":9,\"start\":8,\"end\":14"),
        "{out}"
    );

    let (code, _, err) = tracebound(&["--check"], None);
    assert_eq!(code, 1);
    assert_eq!(err, "ERROR: USAGE: filename or -e 'program' required.\n");

    let (code, _, err) = tracebound(&["--check", "/nonexistent/script.bt"], None);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "ERROR: failed to open file '/nonexistent/script.bt': No such file or directory\n"
    );
}

/// The command line as bpftrace's getopt reads it, with the current release's usage, version
/// and pid messages.
#[test]
fn command_line_as_bpftrace_reads_it() {
    let (code, out, err) = tracebound(&["-h"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("USAGE:\n    tracebound [OPTIONS]"), "{out}");
    let (code, out, err) = tracebound(&["-idonotexist"], None);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("ERROR: unexpected argument '-i'"), "{err}");
    assert!(err.contains("USAGE:"), "{err}");
    let (code, _, err) = tracebound(&[], None);
    assert_eq!(code, 1);
    assert!(err.contains("USAGE:"), "{err}");

    for flag in ["-V", "--version"] {
        let (code, out, _) = tracebound(&[flag], None);
        assert_eq!(code, 0);
        assert_eq!(out, format!("tracebound v{}\n", env!("CARGO_PKG_VERSION")));
    }

    for (pid, says) in [
        (
            "a1111",
            "ERROR: Failed to parse pid: invalid integer: a1111\n",
        ),
        (
            "111a1",
            "ERROR: Failed to parse pid: invalid trailing bytes: 111a1\n",
        ),
        ("5000000", "ERROR: Pid out of range: 5000000\n"),
    ] {
        let (code, _, err) = tracebound(&["-p", pid, "-e", "BEGIN { print(1); }"], None);
        assert_eq!((code, err.as_str()), (1, says));
    }

    // bpftrace's preprocessor options are taken as its `#include` is: accepted, no header
    // read (a header's macro the script uses is unknown at its use when it runs).
    let includes = [
        "--include",
        "errno.h",
        "-I",
        "/usr/include",
        "--check",
        "-e",
    ];
    let (code, out, err) = tracebound(&[&includes[..], &["BEGIN { exit(); }"]].concat(), None);
    assert_eq!(
        (code, out.as_str()),
        (0, "<command line>: OK (1 probes)\n"),
        "{err}"
    );

    // Options after the script file are options; after `--`, parameters.
    let dir = std::env::temp_dir().join(format!("tb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("one_param.bt");
    std::fs::write(&script, "BEGIN { printf(\"%d\\n\", $1); exit(); }\n").unwrap();
    let path = script.to_str().unwrap();
    let (code, out, err) = tracebound(&["--check", path, "-f", "json", "42"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("{\"ok\":true"), "{out}");
    // After `--`, `--name=value` is a named option the script must declare with getopt.
    let (code, _, err) = tracebound(&["--check", path, "--", "--name=1"], None);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "ERROR: unexpected program command line options: --name\n\
         HINT: this program declares no options (getopt)\n"
    );
    let program = r#"BEGIN { @ = getopt("depth", 35, "how deep"); }"#;
    let (code, _, err) = tracebound(&["--check", "-e", program, "--", "--depth=x"], None);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "ERROR: program command line option --depth invalid integer (value: x)\n"
        )
    );
    let (code, _, err) = tracebound(&["--check", "-e", program, "--", "--help"], None);
    assert_eq!(
        (code, err.as_str()),
        (1, "HINT: expected program options:\n  --depth: how deep\n")
    );
    let (code, _, err) = tracebound(&["--check", "-e", program, "--", "--depth=7"], None);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn positional_parameters_missing_read_as_the_current_release_reads_them() {
    let program = "BEGIN { printf(\"%s\\n\", str($2)); }";
    // A runbook's CI checks the script without its arguments: nothing to say.
    assert_eq!(tracebound(&["--check", "-e", program], None).0, 0);
    // Given one argument, a missing `$2` reads as "" (0 as a number), as the current release
    // reads it; a missing one in an attach point is still an error.
    let (code, _, err) = tracebound(&["--check", "-e", program, "only-one"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tracebound(&["--check", "-e", "interval:ms:$2 { exit(); }", "1"], None);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn ast_dump_parses_back() {
    let program = "kprobe:f /a - (b - c) == 1/ < @lat = hist(nsecs - @start[tid]); >";
    let (code, printed, err) = tracebound(&["-d", "ast", "-e", program], None);
    assert_eq!(code, 0, "{err}");
    assert!(printed.contains("a - (b - c) == 1"), "{printed}");
    let (code, again, _) = tracebound(&["-d", "ast", "-"], Some(&printed));
    assert_eq!(code, 0);
    assert_eq!(again, printed);
}

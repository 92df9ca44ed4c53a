//! The generated documentation as a user meets it: `tracebound completions bash`, sourced by
//! a real bash, completes `tracebound --bud` to `--budget`; `tracebound man` writes a page that
//! `man ./tracebound.1` renders, naming the flags, the exit codes and the budget.

use std::path::Path;
use std::process::Command;

fn tracebound(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(args)
        .output()
        .expect("running tracebound");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn scratch() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("manual");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[test]
fn bash_completes_a_flag_from_its_prefix() {
    let script = scratch().join("tracebound.bash");
    std::fs::write(&script, tracebound(&["completions", "bash"])).unwrap();
    // What bash does on Tab after `tracebound --bud`: the completion function with the words.
    let complete = format!(
        "source {}; COMP_WORDS=(tracebound --bud); COMP_CWORD=1; COMP_LINE='tracebound --bud'; \
         COMP_POINT=${{#COMP_LINE}}; _tracebound tracebound --bud tracebound; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &complete])
        .output()
        .expect("running bash");
    let replies = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(replies.trim(), "--budget");
}

#[test]
fn man_renders_the_page() {
    let dir = scratch();
    std::fs::write(dir.join("tracebound.1"), tracebound(&["man"])).unwrap();
    let out = Command::new("man")
        .arg("./tracebound.1")
        .current_dir(&dir)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("running man (Debian's man-db; .ci/run installs it)");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for text in [
        "tracebound(1)",
        "--budget <PERCENT>",
        "--flamegraph <FILE.svg>",
        "--percentiles",
        "EXIT STATUS",
        "THE BUDGET",
        "tracebound completions SHELL",
    ] {
        assert!(
            page.contains(text),
            "{text:?} not in the rendered page:\n{page}"
        );
    }
}

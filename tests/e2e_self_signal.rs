//! `self:signal:SIGUSR1` end to end: the probes run once per signal tracebound gets, in the
//! script's order, and `exit()` in one of them ends the run with END and the maps printed.

mod e2e;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::require_bpf;

const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

#[test]
fn each_signal_runs_the_probes_in_order() {
    if !require_bpf("each_signal_runs_the_probes_in_order") {
        return;
    }
    let script = r#"self:signal:SIGUSR1 { @n++; printf("first %d", @n); }
self:signal:SIGUSR1 { printf(" second\n"); if (@n == 3) { exit(); } }
END { printf("end\n"); }"#;
    let mut run = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(["-e", script])
        .env(NOTIFY, "1")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tracebound starts");
    let pid = run.id() as libc::pid_t;
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut line = String::new();
    let started = Instant::now();
    while !line.contains(NOTIFY) {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0
            || started.elapsed() > Duration::from_secs(20)
        {
            let _ = run.kill();
            let mut stderr = String::new();
            run.stderr.take().unwrap().read_to_string(&mut stderr).ok();
            panic!("never attached: {stderr}");
        }
    }
    let mut lines = Vec::new();
    for _ in 0..3 {
        // SAFETY: a signal to the child this test started and still holds.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        line.clear();
        stdout.read_line(&mut line).expect("a line per signal");
        lines.push(line.clone());
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).ok();
    let status = run.wait().expect("tracebound ends");
    assert_eq!(
        lines,
        ["first 1 second\n", "first 2 second\n", "first 3 second\n"]
    );
    assert!(rest.starts_with("end\n"), "{rest}");
    assert!(rest.contains("@n: 3\n"), "{rest}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn only_sigusr1_and_only_signal_triggers() {
    for (script, message) in [
        (
            "self:signal:SIGUSR2 { }",
            "SIGUSR2 is not a supported signal",
        ),
        ("self:timer:SIGUSR1 { }", "timer is not a supported trigger"),
    ] {
        let (code, _, stderr) = e2e::tracebound(&["--check", "-e", script]).unwrap();
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

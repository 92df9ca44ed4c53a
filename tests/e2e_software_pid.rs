//! `software:` probes with `-p`: the perf events count the process's events only, as in the
//! current release, while another busy process runs beside it.

mod e2e;

use std::process::{Child, Command, Stdio};

use e2e::{require_bpf, tracebound};

fn spinner() -> Child {
    Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .stdout(Stdio::null())
        .spawn()
        .expect("sh runs")
}

#[test]
fn cpu_clock_samples_only_the_traced_process() {
    if !require_bpf("cpu_clock_samples_only_the_traced_process") {
        return;
    }
    let mut traced = spinner();
    let mut other = spinner();
    let pid = traced.id().to_string();
    let result = tracebound(&[
        "-e",
        "software:cpu-clock:1000000 { @[pid] = count(); }",
        "-p",
        &pid,
        "--timeout",
        "1",
    ]);
    for child in [&mut traced, &mut other] {
        child.kill().ok();
        child.wait().ok();
    }
    let (code, stdout, stderr) = result.unwrap();
    assert_eq!(code, 0, "{stderr}");
    let keys: Vec<&str> = stdout.lines().filter(|l| l.starts_with("@[")).collect();
    // About 1000 samples a second of its CPU; the other spinner's never.
    assert_eq!(keys.len(), 1, "{stdout}");
    let count: u64 = keys[0]
        .strip_prefix(&format!("@[{pid}]: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(count > 100, "{stdout}");
}

//! The kernel or the world refusing things midway: a map the kernel cannot create, a program
//! refused after others loaded, a uprobe's binary deleted or replaced while attached, the
//! `-p` process exiting while its probes are measured, stdout a closed pipe, and SIGKILL in
//! each phase. Each run must end with a clear message and its exit code, and leave nothing
//! behind: no `tb_` program loaded that no live process holds, and `uprobe_events` as it
//! was.
//!
//! SIGKILL gives the process no chance to clean up. What it leaves is what the kernel frees
//! by itself: every program, map, link and perf event tracebound makes is an fd it owns
//! (uprobes included: they are perf_event_open'd on the uprobe PMU or multi-uprobe links,
//! never written to tracefs `uprobe_events`), so the kernel releases them all when the
//! killed process's fds close. The test checks exactly that: nothing is loaded afterwards
//! and `uprobe_events` did not change.

mod e2e;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{Env, ProgramWatch, Tracer};

/// The registered uprobe events (tracefs).
fn uprobe_events() -> String {
    [
        "/sys/kernel/tracing/uprobe_events",
        "/sys/kernel/debug/tracing/uprobe_events",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default()
}

/// Nothing the run made is left: its programs unloaded (within the kernel's grace period)
/// and `uprobe_events` as before.
fn nothing_left(watch: &ProgramWatch, events_before: &str) -> Result<(), String> {
    watch.check_unloaded(Duration::from_secs(3))?;
    let after = uprobe_events();
    if after != events_before {
        return Err(format!(
            "uprobe_events changed:\n--- before:\n{events_before}--- after:\n{after}"
        ));
    }
    Ok(())
}

fn tracebound() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tracebound"));
    c.env("NO_COLOR", "1").stdin(Stdio::null());
    c
}

fn expect(what: &str, out: &std::process::Output, code: i32, message: &str) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(code) || !stderr.contains(message) {
        return Err(format!(
            "{what}: exit {:?} (expected {code}), stderr should say {message:?}:\n{stderr}",
            out.status.code()
        ));
    }
    if stderr.contains("panicked") {
        return Err(format!("{what}: a panic:\n{stderr}"));
    }
    Ok(())
}

/// A map the kernel cannot create (a per-CPU hash of a billion preallocated entries): a
/// diagnostic, exit 1, nothing loaded.
fn map_creation_fails() -> Result<(), String> {
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let out = tracebound()
        .args([
            "-e",
            "config = { max_map_keys = 1000000000 } BEGIN { @c[1] = count(); exit(); }",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    expect("a map too big", &out, 1, "map")?;
    nothing_left(&watch, &events)
}

/// The second probe's program is refused by the verifier after the first one loaded:
/// exit 1 with the verifier's reason at the statement, and the first one unloaded too.
fn program_refused_after_others() -> Result<(), String> {
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/scripts/unbounded_loop_second_probe.bt");
    let out = tracebound()
        .arg(&script)
        .output()
        .map_err(|e| e.to_string())?;
    expect("a refused second program", &out, 1, "error")?;
    nothing_left(&watch, &events)
}

/// A private copy of the workload, for the cases that delete or replace it.
fn copy_of_workload(env: &Env, name: &str) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let copy = dir.join(name);
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(&env.workload, &copy).map_err(|e| e.to_string())?;
    Ok(copy)
}

/// The uprobe's binary deleted (or replaced by another file at its path) while attached:
/// the probe stays on the old file, whose calls are still counted; Ctrl-C ends the run
/// cleanly and detaches it.
fn uprobe_binary_goes_away(env: &Env, replace: bool) -> Result<(), String> {
    let events = uprobe_events();
    let name = if replace {
        "tb_wl_replaced"
    } else {
        "tb_wl_deleted"
    };
    let binary = copy_of_workload(env, name)?;
    // One process of the old file runs on while the path changes.
    let mut old = Command::new(&binary)
        .args(["z", "400", "e", "1000", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let script = format!(
        "uprobe:{}:tb_emulated {{ @calls = count(); }}",
        binary.display()
    );
    let mut watch = ProgramWatch::start();
    let mut tracer = Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0)?;
    watch.note_running(&tracer)?;
    std::fs::remove_file(&binary).map_err(|e| e.to_string())?;
    if replace {
        std::fs::copy(&env.workload, &binary).map_err(|e| e.to_string())?;
    }
    let _ = old.wait();
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    let calls: u64 = done
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("@calls: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if done.code() != Some(0) || calls == 0 {
        return Err(format!(
            "exit {:?}, {calls} calls counted:\n{}{}",
            done.code(),
            done.stdout,
            done.stderr
        ));
    }
    nothing_left(&watch, &events)
}

/// The `-p` process exits while tracebound is still measuring its uprobes (a uprobe's
/// estimate counts for at least 190 ms): tracebound says so and exits without attaching.
fn pid_exits_during_estimate(env: &Env) -> Result<(), String> {
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let mut target = Command::new(&env.workload)
        .args(["z", "60"])
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = target.id().to_string();
    let script = format!(
        "uprobe:{}:tb_emulated {{ @calls = count(); }}",
        env.workload.display()
    );
    let started = Instant::now();
    let out = tracebound()
        .args(["-p", &pid, "-e", &script])
        .output()
        .map_err(|e| e.to_string())?;
    let _ = target.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || started.elapsed() > Duration::from_secs(20) {
        return Err(format!("a panic or a hang:\n{stderr}"));
    }
    // Either it noticed during the estimate (an error naming the process), or it attached
    // and ended when the process did (exit 0): both are clean; anything else is not.
    match out.status.code() {
        Some(0) if stdout.contains("@calls") || stdout.contains("Attaching") => {}
        Some(1) if stderr.contains(&pid) || stderr.contains("process") => {}
        other => {
            return Err(format!(
                "exit {other:?}:\n--- stdout:\n{stdout}--- stderr:\n{stderr}"
            ))
        }
    }
    nothing_left(&watch, &events)
}

/// stdout is a pipe whose reader has gone (`tracebound ... | head -0`): the first write
/// fails; tracebound stops with a message and exit 1 rather than printing into nothing
/// forever, and detaches everything.
fn stdout_closed_pipe() -> Result<(), String> {
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let mut child = tracebound()
        .args([
            "--budget",
            "50",
            "-e",
            "interval:ms:20 { printf(\"tick %d\\n\", nsecs); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    drop(child.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("still running 20 s after its stdout closed".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    if status.code() != Some(1) || stderr.contains("panicked") || stderr.trim().is_empty() {
        return Err(format!("exit {:?}:\n{stderr}", status.code()));
    }
    nothing_left(&watch, &events)
}

/// SIGKILL while the probes are being measured (no "Attaching" yet), while attached and
/// running, and while printing a large map at the end: the kernel frees what the process
/// held; nothing is left loaded or registered.
fn sigkill(env: &Env, phase: &str) -> Result<(), String> {
    let events = uprobe_events();
    let mut watch = ProgramWatch::start();
    let uprobe = format!(
        "uprobe:{}:tb_emulated {{ @calls = count(); }}",
        env.workload.display()
    );
    let printing = "BEGIN { $i = 0; while ($i < 2000) { @m[$i] = $i; $i++; } } \
                    interval:ms:50 { print(@m); }"
        .to_string();
    let script = match phase {
        "estimate" | "run" => uprobe,
        _ => printing,
    };
    let mut tracer = Tracer::spawn(&["-e", &script]);
    match phase {
        "estimate" => {
            // The uprobe's estimate counts for 190 ms or more after loading.
            std::thread::sleep(Duration::from_millis(120));
            if tracer.stdout_so_far().contains("Attaching") {
                return Err("attached before the kill; the case did not hit the estimate".into());
            }
        }
        _ => {
            tracer.wait_ready(e2e::special_probes(&script))?;
            watch.note_running(&tracer)?;
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    tracer.signal(libc::SIGKILL);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    if done.status.code().is_some() {
        return Err(format!("not killed: {:?}", done.status));
    }
    nothing_left(&watch, &events)
}

#[test]
fn faults_end_cleanly_and_leave_nothing() {
    let Some(env) = e2e::setup("faults_end_cleanly_and_leave_nothing") else {
        return;
    };
    let mut tally = e2e::Tally::default();
    tally.record("map creation fails", map_creation_fails());
    tally.record(
        "program refused after others",
        program_refused_after_others(),
    );
    tally.record(
        "uprobe binary deleted",
        uprobe_binary_goes_away(&env, false),
    );
    tally.record(
        "uprobe binary replaced",
        uprobe_binary_goes_away(&env, true),
    );
    tally.record(
        "-p process exits during the estimate",
        pid_exits_during_estimate(&env),
    );
    tally.record("stdout a closed pipe", stdout_closed_pipe());
    for phase in ["estimate", "run", "print"] {
        tally.record(&format!("SIGKILL during {phase}"), sigkill(&env, phase));
    }
    tally.finish();
}

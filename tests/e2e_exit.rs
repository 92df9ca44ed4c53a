//! Every way a run ends leaves no BPF program loaded: exit(), SIGINT, SIGTERM, SIGHUP, the
//! `-c` command exiting, SIGINT before attaching, SIGINT while records that each run a command
//! keep coming, an attach failure after other probes were attached, SIGKILL, and a panic with
//! everything attached.
//!
//! While a run is attached, the test notes the ids of the programs the binary holds (from
//! `/proc/PID/fdinfo`; they must all be `tb_` programs). Once it has exited, none of them may
//! be loaded, and every `tb_` program loaded since the run began must be held by some live
//! process (another tracebound's); both checked with aya's `loaded_programs()`. Except for
//! SIGKILL, the run must also end as a user expects: END runs, the maps are printed, and the
//! exit code is 0 (1 for the attach failure). `/sys/kernel/tracing/uprobe_events` must read the
//! same before and after every run.

mod e2e;

use std::time::Duration;

use e2e::{Env, Finished, ProgramWatch, Tally, Tracer, EXIT_TIMEOUT};

/// How long the kernel may take to free a program after its last reference goes.
const PATIENCE: Duration = Duration::from_secs(3);

/// A tracepoint, an interval probe and END; with `exit_on_trigger`, the workload's final
/// getpgid() calls exit().
fn script(exit_on_trigger: bool) -> String {
    let mut s = String::from(
        "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_wl\"/ { @calls = count(); }\n\
         interval:ms:100 { @ticks = 1; }\n\
         END { printf(\"END ran\\n\"); }\n",
    );
    if exit_on_trigger {
        s.push_str("tracepoint:syscalls:sys_enter_getpgid /comm == \"tb_wl\"/ { exit(); }\n");
    }
    s
}

/// The kernel's list of uprobe events: a run must leave it as it found it.
fn uprobe_events() -> String {
    std::fs::read_to_string("/sys/kernel/tracing/uprobe_events").unwrap_or_default()
}

/// Runs `tracebound ARGS`, waits until it is attached and notes its programs, runs `during`,
/// waits for it to exit and checks that its programs are gone and `uprobe_events` is
/// unchanged.
fn run_and_check(
    args: &[&str],
    specials: usize,
    during: impl FnOnce(&Tracer) -> Result<(), String>,
) -> Result<Finished, String> {
    let uprobes_before = uprobe_events();
    let mut watch = ProgramWatch::start();
    let mut tracer = Tracer::spawn(args);
    tracer.wait_ready(specials)?;
    watch.note_running(&tracer)?;
    during(&tracer)?;
    let done = tracer.finish(EXIT_TIMEOUT)?;
    watch.check_unloaded(PATIENCE)?;
    let uprobes_after = uprobe_events();
    if uprobes_after != uprobes_before {
        return Err(format!(
            "uprobe_events changed:\n--- before:\n{uprobes_before}--- after:\n{uprobes_after}"
        ));
    }
    Ok(done)
}

/// END ran, the workload's 3 calls were counted and printed, exit code 0.
fn ended_normally(done: &Finished) -> Result<(), String> {
    if done.code() == Some(0)
        && done.stdout.contains("END ran\n")
        && done.stdout.contains("\n@calls: 3\n")
    {
        Ok(())
    } else {
        Err(format!(
            "expected exit 0 with END's output and `@calls: 3`, got {}\n--- stdout:\n{}--- stderr:\n{}",
            done.status, done.stdout, done.stderr
        ))
    }
}

fn exit_function(env: &Env) -> Result<(), String> {
    let script = script(true);
    let done = run_and_check(&["-e", &script], 1, |_| {
        e2e::run_workload(env, &["g", "3", "q"])
    })?;
    ended_normally(&done)
}

fn signal(env: &Env, sig: libc::c_int) -> Result<(), String> {
    let script = script(false);
    let done = run_and_check(&["-e", &script], 1, |tracer| {
        e2e::run_workload(env, &["g", "3"])?;
        tracer.signal(sig);
        Ok(())
    })?;
    ended_normally(&done)
}

/// SIGINT while every context switch runs a `system()` command, each of which makes more:
/// the queue of records never empties, and handling one takes a process start. The run still
/// ends at once (within a second), END runs, and what was left unread is counted as lost.
fn sigint_under_a_stream_of_slow_actions(_env: &Env) -> Result<(), String> {
    let script = "tracepoint:sched:sched_switch { system(\"true\"); }\n\
                  END { printf(\"END ran\\n\"); }\n";
    let mut signalled = None;
    let done = run_and_check(&["--unsafe", "-e", script], 1, |tracer| {
        std::thread::sleep(Duration::from_secs(1));
        tracer.signal(libc::SIGINT);
        signalled = Some(std::time::Instant::now());
        Ok(())
    })?;
    // Until it exited, and its programs were gone (what run_and_check waits for too).
    let took = signalled.map_or(Duration::ZERO, |t| t.elapsed());
    if took > Duration::from_secs(3) {
        return Err(format!("the run took {took:?} to end after SIGINT"));
    }
    let unread = done
        .stderr
        .split("stopped with ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_string);
    let lost_matches = unread
        .as_ref()
        .is_none_or(|n| done.stdout.contains(&format!("Lost {n} events\n")));
    if done.code() != Some(0) || !done.stdout.contains("END ran\n") || !lost_matches {
        return Err(format!(
            "expected exit 0 with END's output and the unread counted, got {}\n--- stdout \
             (last lines):\n{}\n--- stderr:\n{}",
            done.status,
            done.stdout
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            done.stderr
        ));
    }
    Ok(())
}

/// `-c CMD`: the command runs once the probes are attached, and the run ends when it exits.
/// The command must not inherit any BPF file descriptor.
fn child_exit(env: &Env) -> Result<(), String> {
    let script = script(false);
    let command = format!("{} g 3 z 300", env.workload.display());
    let done = run_and_check(&["-c", &command, "-e", &script], 1, |tracer| {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let children = e2e::children_of(tracer.pid());
            if let Some(&child) = children.first() {
                let held = e2e::held_program_ids(child);
                return if held.is_empty() {
                    Ok(())
                } else {
                    Err(format!("the -c command holds BPF programs {held:?}"))
                };
            }
            if std::time::Instant::now() >= deadline {
                return Err("the -c command did not start".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })?;
    ended_normally(&done)
}

/// A probe that cannot attach after two that did: the run fails with exit code 1, naming
/// the probe, and nothing stays loaded. profile:hz above the kernel's
/// perf_event_max_sample_rate is refused by perf_event_open (EINVAL); probes attach in the
/// order of the script, so the tracepoint and the interval probe were attached by then.
fn attach_error(_env: &Env) -> Result<(), String> {
    let max_rate: u64 = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100_000);
    let too_fast = max_rate * 2 + 1;
    let script = format!(
        "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_wl\"/ {{ @calls = count(); }}\n\
         interval:ms:100 {{ @ticks = 1; }}\n\
         profile:hz:{too_fast} {{ @samples = count(); }}\n"
    );
    let watch = ProgramWatch::start();
    // The too-fast profile probe is far over any budget: let it through to fail at attach.
    let tracer = Tracer::spawn(&["--budget", "10000", "-e", &script]);
    let done = tracer.finish(EXIT_TIMEOUT)?;
    watch.check_unloaded(PATIENCE)?;
    let named = format!("profile:hz:{too_fast}");
    if done.code() == Some(1) && !done.stderr.contains("Attached") && done.stderr.contains(&named) {
        Ok(())
    } else {
        Err(format!(
            "expected no \"Attached\", an error naming {named} and exit 1, got {}\n--- stdout:\n{}--- stderr:\n{}",
            done.status, done.stdout, done.stderr
        ))
    }
}

/// A panic with every probe attached (injected with TRACEBOUND_FAULT): the run fails loudly
/// and leaves nothing loaded.
fn panic_after_attach(_env: &Env) -> Result<(), String> {
    let script = script(false);
    let watch = ProgramWatch::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(["-e", &script])
        .env("TRACEBOUND_FAULT", "panic-after-attach")
        .output()
        .map_err(|e| e.to_string())?;
    watch.check_unloaded(PATIENCE)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("panicked") {
        return Err(format!("expected a panic, got {}\n{stderr}", out.status));
    }
    Ok(())
}

/// kill -9 mid-run: the kernel drops everything the process held.
fn sigkill(_env: &Env) -> Result<(), String> {
    let script = script(false);
    let done = run_and_check(&["-e", &script], 1, |tracer| {
        tracer.signal(libc::SIGKILL);
        Ok(())
    })?;
    use std::os::unix::process::ExitStatusExt;
    if done.status.signal() == Some(libc::SIGKILL) {
        Ok(())
    } else {
        Err(format!("expected death by SIGKILL, got {}", done.status))
    }
}

/// SIGINT while the probes' rates are being measured, from a shell that started tracebound in
/// the background (SIGINT ignored until tracebound catches it): the run ends before attaching,
/// with 130, as a shell reports Ctrl-C. Before the handler was installed first thing, such a
/// signal was lost and the run went on for ever.
fn sigint_while_measuring(_env: &Env) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let script = script(false);
    let watch = ProgramWatch::start();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tracebound"));
    command
        // The estimate stops as soon as the verdict is known: hold it for the whole window.
        .args([
            "--budget",
            "50",
            "--estimate-window",
            "3000",
            "--estimate-min",
            "3000",
            "-e",
            &script,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: signal() is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let started = std::time::Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > EXIT_TIMEOUT {
            let _ = child.kill();
            return Err("still running after SIGINT during the estimate".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(130) || String::from_utf8_lossy(&out.stderr).contains("Attached") {
        return Err(format!(
            "expected exit 130 before attaching, got {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    watch.check_unloaded(PATIENCE)
}

#[test]
fn no_program_outlives_any_exit_path() {
    let Some(env) = e2e::setup("no_program_outlives_any_exit_path") else {
        return;
    };
    let mut tally = Tally::default();
    tally.record("exit()", exit_function(&env));
    tally.record("SIGINT", signal(&env, libc::SIGINT));
    tally.record("SIGTERM", signal(&env, libc::SIGTERM));
    tally.record("SIGHUP", signal(&env, libc::SIGHUP));
    tally.record("SIGINT while measuring", sigint_while_measuring(&env));
    tally.record(
        "SIGINT under a stream of slow actions",
        sigint_under_a_stream_of_slow_actions(&env),
    );
    tally.record("-c command exits", child_exit(&env));
    tally.record("attach error after attaching", attach_error(&env));
    tally.record("SIGKILL", sigkill(&env));
    tally.record("panic after attaching", panic_after_attach(&env));
    tally.finish();
}

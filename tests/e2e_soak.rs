//! Soak: one tracebound runs a script of many probe kinds (two syscall tracepoints, a uprobe,
//! profile, interval printing, and a printf per event of one tracepoint) while the workload
//! varies round by round (how many getppid() and getpid() calls, the uprobe's call rate, the
//! pauses between). At the end it checks that
//! - every event is accounted for: the `printf` lines printed plus the events tracebound
//!   reported lost equal the getppid() calls the workload made, and `count()` saw them all;
//! - resident memory is flat after the first minute (or the first third of a shorter run):
//!   its growth from then to the end is under `RSS_SLACK_KIB`, and the slope is printed;
//! - the open fds did not grow;
//! - the guard was quiet (the script is well within the budget it runs with).
//!
//! `cargo test --test e2e_soak` runs it for 60 s (CI). The long run is the same test with the
//! duration in seconds in `TB_SOAK_SECONDS`, e.g. 30 minutes, reniced so that it does not
//! compete with interactive work (it is no timing benchmark):
//!
//! ```text
//! TB_SOAK_SECONDS=1800 nice -n 10 cargo test --release --test e2e_soak -- --nocapture
//! ```
//!
//! Its figures are in docs/soak.md.

mod e2e;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// RSS growth allowed after the warm-up, whatever the duration.
const RSS_SLACK_KIB: u64 = 2048;

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One sample of the tracer's process.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
}

/// Round `i` of the workload: getppid() calls (the printed events), getpid() calls, the
/// uprobe's call rate for one second, and a pause; all vary from round to round.
fn round(i: u64) -> (u64, u64, u64, u64) {
    let mix = i.wrapping_mul(2_654_435_761) % 1000;
    let getppid = 200 + mix * 13;
    let getpid = 1000 + (mix * 37) % 20_000;
    let uprobe_rate = [200, 1000, 3000][(i % 3) as usize];
    let pause_ms = (mix % 4) * 50;
    (getppid, getpid, uprobe_rate, pause_ms)
}

#[test]
fn soak_accounts_for_every_event_with_flat_memory() {
    let Some(env) = e2e::setup("soak_accounts_for_every_event_with_flat_memory") else {
        return;
    };
    let seconds: u64 = std::env::var("TB_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let warm_up = Duration::from_secs(60.min(seconds / 3));
    // A copy of the workload under a name of its own: other test runs on the machine run
    // `tb_wl` too, and their getppid() calls are not this soak's events.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak");
    std::fs::create_dir_all(&dir).expect("target/tmp is writable");
    let binary = dir.join("tb_soak");
    let _ = std::fs::remove_file(&binary);
    std::fs::copy(&env.workload, &binary).expect("copy the workload");
    let workload = binary.display().to_string();
    let script = format!(
        "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_soak\"/ {{ printf(\"p\\n\"); @made = count(); }}\n\
         tracepoint:syscalls:sys_enter_getpid /comm == \"tb_soak\"/ {{ @pids[tid % 4] = count(); }}\n\
         uprobe:{workload}:tb_emulated {{ @up = count(); @arg = hist(arg0); }}\n\
         profile:hz:99 {{ @prof[cpu] = count(); }}\n\
         interval:s:1 {{ printf(\"tick\\n\"); print(@made); }}\n\
         tracepoint:syscalls:sys_enter_getpgid /comm == \"tb_soak\"/ {{ exit(); }}\n"
    );
    let watch = e2e::ProgramWatch::start();
    let mut watch = watch;
    let mut tracer = e2e::Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0).expect("tracebound attaches");
    watch.note_running(&tracer).expect("its programs are ours");
    let pid = tracer.pid();
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut made = 0u64;
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let (getppid, getpid, rate, pause) = round(rounds);
        let status = Command::new(&binary)
            .args([
                "g",
                &getppid.to_string(),
                "i",
                &getpid.to_string(),
                "e",
                &rate.to_string(),
                "1",
                "z",
                &pause.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the workload");
        assert!(status.success(), "the workload failed: {status}");
        made += getppid;
        rounds += 1;
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib: status_kib(pid, "VmRSS:").unwrap_or(0),
            fds: open_fds(pid),
        });
    }
    let status = Command::new(&binary)
        .arg("q")
        .status()
        .expect("the exit trigger");
    assert!(status.success(), "the exit trigger failed: {status}");
    let done = tracer.finish(e2e::EXIT_TIMEOUT).expect("tracebound exits");
    let printed = done.stdout.lines().filter(|l| *l == "p").count() as u64;
    let lost = e2e::lost_events(&done.stdout).unwrap_or(0);
    let counted: u64 = done
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@made: "))
        .next_back()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let guard_actions = done.stderr.lines().filter(|l| l.contains("guard:")).count();
    let at_warm = samples
        .iter()
        .find(|s| s.at >= warm_up)
        .copied()
        .unwrap_or(samples[0]);
    let last = *samples.last().expect("at least one round");
    let minutes = (last.at - at_warm.at).as_secs_f64() / 60.0;
    let growth = last.rss_kib as i64 - at_warm.rss_kib as i64;
    let slope = if minutes > 0.0 {
        growth as f64 / minutes
    } else {
        0.0
    };
    println!(
        "soak: {seconds} s, {rounds} rounds; rss {} KiB at {:.0} s, {} KiB at {:.0} s \
         ({slope:+.1} KiB/min); events made {made}, printed {printed}, lost {lost} \
         (count() {counted}); fds {} -> {}; guard actions {guard_actions}; exit {:?}",
        at_warm.rss_kib,
        at_warm.at.as_secs_f64(),
        last.rss_kib,
        last.at.as_secs_f64(),
        at_warm.fds,
        last.fds,
        done.code(),
    );
    let mut failures = Vec::new();
    if printed + lost != made || counted != made {
        failures.push(format!(
            "events: made {made}, printed {printed} + lost {lost}, count() {counted}"
        ));
    }
    if growth > RSS_SLACK_KIB as i64 {
        failures.push(format!("RSS grew {growth} KiB after the warm-up"));
    }
    if last.fds > at_warm.fds {
        failures.push(format!("open fds grew: {} -> {}", at_warm.fds, last.fds));
    }
    if guard_actions != 0 {
        failures.push(format!("the guard acted:\n{}", done.stderr));
    }
    // Exit 0, or 3 when events were lost (reported as such).
    if !(done.code() == Some(0) || (lost > 0 && done.code() == Some(3))) {
        failures.push(format!("exit {:?}:\n{}", done.code(), done.stderr));
    }
    if let Err(e) = watch.check_unloaded(Duration::from_secs(3)) {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

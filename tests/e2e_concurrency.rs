//! Several tracers on the same tracepoint, uprobe and usdt probe at once: two and five
//! tracebound processes (and, in the ignored `beside_other_uprobe_tracers`, tracebound beside
//! bpftrace 0.17 and an estimate beside attached tracers: known bugs, see there). The target the test builds
//! (`tb_cc`, below) makes an exact number of getppid() calls, of calls of `tb_cc_hit` and of
//! fires of a usdt probe guarded by its semaphore, so every tracer must print exactly those
//! counts; each must exit 0 by itself (its `exit()` on the target's last syscall); while
//! they are all attached, another tracebound's estimate of the same probes must see only
//! the target's hits, not the other tracers' programs; and afterwards the semaphore is down
//! again, `uprobe_events` is as it was and no `tb_` program is left loaded.
//!
//! The cases run one after another in one test: they share the target's comm, which the
//! scripts filter on.

mod e2e;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Calls of each kind the target makes in one case.
const CALLS: u64 = 5000;
const BPFTRACE: &str = "/usr/bin/bpftrace";

const TARGET: &str = r#"
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
unsigned short tb_cc_tick_semaphore __attribute__((section(".probes")));
volatile long sink;
__attribute__((noinline)) long tb_cc_hit(long x) { sink += x; return sink; }
/* Prints the semaphore, waits for a line; then N of each call and getpgid(0) (the tracers'
 * exit trigger); prints the semaphore, waits for a line, prints it once more. */
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    char line[16];
    printf("semaphore %u\n", tb_cc_tick_semaphore); fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 1;
    unsigned traced = tb_cc_tick_semaphore;
    long fired = 0;
    for (long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        tb_cc_hit(i);
        if (tb_cc_tick_semaphore) { fired++; STAP_PROBE1(tb_cc, tick, i); }
    }
    syscall(SYS_getpgid, 0);
    printf("traced %u fired %ld\n", traced, fired); fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 1;
    printf("semaphore %u\n", tb_cc_tick_semaphore); fflush(stdout);
    return 0;
}
"#;

fn build_target() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("concurrency");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let source = dir.join("tb_cc.c");
    std::fs::write(&source, TARGET).map_err(|e| e.to_string())?;
    let binary = dir.join("tb_cc");
    let out = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cc failed (is sys/sdt.h installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(binary)
}

/// The script every tracebound runs: the same three probes the others run, and exit() on
/// the target's last syscall.
fn tracebound_script(target: &Path) -> String {
    let t = target.display();
    format!(
        "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_cc\"/ {{ @tp = count(); }}\n\
         uprobe:{t}:tb_cc_hit {{ @up = count(); @sum = sum(arg0); }}\n\
         usdt:{t}:tb_cc:tick {{ @usdt = count(); }}\n\
         tracepoint:syscalls:sys_enter_getpgid /comm == \"tb_cc\"/ {{ exit(); }}\n"
    )
}

/// What each tracer must print: every call counted once, and the sum of 0..CALLS.
fn expected_maps(with_usdt: bool) -> Vec<String> {
    let mut lines = vec![
        format!("@sum: {}", CALLS * (CALLS - 1) / 2),
        format!("@tp: {CALLS}"),
        format!("@up: {CALLS}"),
    ];
    if with_usdt {
        lines.push(format!("@usdt: {CALLS}"));
    }
    lines
}

/// The target, between its phases.
struct Target {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Target {
    fn start(binary: &Path) -> Result<Target, String> {
        let mut child = Command::new(binary)
            .arg(CALLS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run the target: {e}"))?;
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Ok(Target {
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading the target: {e}"))?;
        if line.is_empty() {
            return Err("the target ended early".into());
        }
        Ok(line.trim_end().to_string())
    }

    fn go(&mut self) -> Result<(), String> {
        self.stdin
            .write_all(b"go\n")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("writing to the target: {e}"))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// bpftrace 0.17 running beside the tracebounds, its output read as it comes.
struct Bpftrace {
    child: Child,
    reader: std::thread::JoinHandle<String>,
    attaching: std::sync::mpsc::Receiver<()>,
}

impl Bpftrace {
    fn spawn(script: &str) -> Result<Bpftrace, String> {
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("concurrency/bpftrace.stderr");
        let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut child = Command::new(BPFTRACE)
            .args(["-e", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {BPFTRACE}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, attaching) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("Attaching") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        Ok(Bpftrace {
            child,
            reader,
            attaching,
        })
    }

    /// After "Attaching", until it holds `n` perf events or links.
    fn wait_ready(&mut self, n: usize) -> Result<(), String> {
        self.attaching
            .recv_timeout(e2e::START_TIMEOUT)
            .map_err(|_| "bpftrace printed no \"Attaching\" line in time".to_string())?;
        let deadline = Instant::now() + e2e::ATTACH_TIMEOUT;
        while attached(self.child.id()) < n {
            if Instant::now() > deadline {
                return Err(format!("bpftrace did not attach {n} probes in time"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(i32, String), String> {
        let deadline = Instant::now() + e2e::EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                let out = self.reader.join().unwrap_or_default();
                return Ok((status.code().unwrap_or(-1), out));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("bpftrace did not exit in time".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The attachments a process holds: BPF links and perf events (tracepoints and usdt
/// probes are perf events, uprobes links, so `e2e::attachments`, the larger of the two,
/// undercounts a script with both).
fn attached(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| {
            let t = t.to_string_lossy();
            t == "anon_inode:bpf_link" || t == "anon_inode:[perf_event]"
        })
        .count()
}

/// Waits until `pid` holds `n` attachments, then a little longer: one attach point may be
/// both a perf event and a link, so the count can reach `n` a few ms early.
fn wait_all_attached(pid: u32, n: usize) -> Result<(), String> {
    let deadline = Instant::now() + e2e::ATTACH_TIMEOUT;
    while attached(pid) < n {
        if Instant::now() > deadline {
            return Err(format!("tracebound did not attach {n} probes in time"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// The registered uprobe events (tracefs), to compare before and after.
fn uprobe_events() -> String {
    [
        "/sys/kernel/tracing/uprobe_events",
        "/sys/kernel/debug/tracing/uprobe_events",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default()
}

fn expect_maps(who: &str, stdout: &str, expected: &[String]) -> Result<(), String> {
    let missing: Vec<&String> = expected
        .iter()
        .filter(|l| !stdout.lines().any(|s| s == l.as_str()))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{who} lacks {missing:?}; it printed:\n{stdout}"))
    }
}

/// `tracebounds` tracebound processes (and bpftrace 0.17 when `bpftrace`) on the same
/// probes of one run of the target.
fn together(target: &Path, tracebounds: usize, bpftrace: bool) -> Result<(), String> {
    let events_before = uprobe_events();
    let watch = e2e::ProgramWatch::start();
    let mut run = Target::start(target)?;
    if run.line()? != "semaphore 0" {
        return Err("the semaphore was up before any tracer ran".into());
    }
    let script = tracebound_script(target);
    let mut tracers = Vec::new();
    let mut watch = watch;
    for _ in 0..tracebounds {
        let mut t = e2e::Tracer::spawn(&["-e", &script]);
        let n = t.attaching()?;
        wait_all_attached(t.pid(), n)?;
        watch.note_running(&t)?;
        tracers.push(t);
    }
    let reference = if bpftrace {
        // bpftrace 0.17 on the same tracepoints and uprobe (its usdt semaphore handling
        // needs `-p`, so it leaves the usdt probe to the tracebounds).
        let t = target.display();
        let mut b = Bpftrace::spawn(&format!(
            "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_cc\"/ {{ @tp = count(); }}\n\
             uprobe:{t}:tb_cc_hit {{ @up = count(); @sum = sum(arg0); }}\n\
             tracepoint:syscalls:sys_enter_getpgid /comm == \"tb_cc\"/ {{ exit(); }}\n"
        ))?;
        b.wait_ready(3)?;
        Some(b)
    } else {
        None
    };
    run.go()?;
    // "traced S fired F": the semaphore was up (S >= 1) and the usdt probe fired every time.
    let report = run.line()?;
    let words: Vec<&str> = report.split(' ').collect();
    let semaphore: u32 = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(0);
    if words.len() != 4 || semaphore == 0 || words[3] != CALLS.to_string() {
        return Err(format!(
            "the usdt probe's semaphore was not up for the whole run: the target said {report:?}"
        ));
    }
    let mut failures = Vec::new();
    for (i, t) in tracers.into_iter().enumerate() {
        match t.finish(e2e::EXIT_TIMEOUT) {
            Ok(done) if done.code() == Some(0) => {
                if let Err(e) = expect_maps(
                    &format!("tracebound {i}"),
                    &done.stdout,
                    &expected_maps(true),
                ) {
                    failures.push(e);
                }
            }
            Ok(done) => failures.push(format!(
                "tracebound {i} exited {:?}:\n{}{}",
                done.code(),
                done.stdout,
                done.stderr
            )),
            Err(e) => failures.push(e),
        }
    }
    if let Some(b) = reference {
        match b.finish() {
            Ok((0, out)) => {
                if let Err(e) = expect_maps("bpftrace 0.17", &out, &expected_maps(false)) {
                    let log =
                        Path::new(env!("CARGO_TARGET_TMPDIR")).join("concurrency/bpftrace.stderr");
                    let stderr = std::fs::read_to_string(log).unwrap_or_default();
                    failures.push(format!("{e}--- its stderr:\n{stderr}"));
                }
            }
            Ok((code, out)) => failures.push(format!("bpftrace exited {code}:\n{out}")),
            Err(e) => failures.push(e),
        }
    }
    // Every tracer is gone: the kernel has lowered the semaphore again.
    run.go()?;
    let after = run.line()?;
    if after != "semaphore 0" {
        failures.push(format!(
            "after every tracer exited, the target reads {after:?}"
        ));
    }
    if let Err(e) = watch.check_unloaded(Duration::from_secs(3)) {
        failures.push(e);
    }
    let events_after = uprobe_events();
    if events_after != events_before {
        failures.push(format!(
            "uprobe_events changed:\n--- before:\n{events_before}--- after:\n{events_after}"
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The first `"rate": X` after `"target": "...NAME"` in a dry run's JSON.
fn point_rate(json: &str, name: &str) -> Option<f64> {
    let at = json.find(&format!("{name}\""))?;
    let rest = &json[at..];
    let rate = rest.split("\"rate\": ").nth(1)?;
    rate.split([',', '}']).next()?.trim().parse().ok()
}

/// While two tracebounds have a uprobe attached, a third one's estimate of the same uprobe
/// sees the workload's calls once each (about 1,000 a second), not once per program the
/// others run on each call.
fn estimate_beside_attached_tracers(env: &e2e::Env) -> Result<(), String> {
    let watch = e2e::ProgramWatch::start();
    let mut watch = watch;
    let script = format!(
        "uprobe:{}:tb_emulated {{ @n = count(); }}",
        env.workload.display()
    );
    let mut tracers = Vec::new();
    for _ in 0..2 {
        let mut t = e2e::Tracer::spawn(&["-e", &script]);
        t.wait_ready(0)?;
        watch.note_running(&t)?;
        tracers.push(t);
    }
    let mut load = Command::new(&env.workload)
        .args(["e", "1000", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the workload: {e}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let dry = e2e::tracebound(&["--dry-run", "-f", "json", "-e", &script]);
    let _ = load.wait();
    let mut failures = Vec::new();
    match dry {
        Ok((0, json, _)) => match point_rate(&json, "tb_emulated") {
            Some(rate) if (500.0..2000.0).contains(&rate) => {}
            other => failures.push(format!(
                "the estimate saw {other:?} calls a second, the workload made 1000:\n{json}"
            )),
        },
        Ok((code, out, err)) => failures.push(format!("dry run exited {code}:\n{out}{err}")),
        Err(e) => failures.push(e),
    }
    for t in tracers {
        t.signal(libc::SIGINT);
        match t.finish(e2e::EXIT_TIMEOUT) {
            Ok(done) if done.code() == Some(0) && done.stdout.contains("@n: ") => {}
            Ok(done) => failures.push(format!(
                "a tracer exited {:?}:\n{}{}",
                done.code(),
                done.stdout,
                done.stderr
            )),
            Err(e) => failures.push(e),
        }
    }
    if let Err(e) = watch.check_unloaded(Duration::from_secs(3)) {
        failures.push(e);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[test]
fn tracers_side_by_side_each_count_exactly() {
    let Some(_env) = e2e::setup("tracers_side_by_side_each_count_exactly") else {
        return;
    };
    let target = build_target().unwrap_or_else(|e| panic!("building the target: {e}"));
    let mut tally = e2e::Tally::default();
    tally.record("two tracebounds", together(&target, 2, false));
    tally.record("five tracebounds", together(&target, 5, false));
    tally.finish();
}

/// Known bugs, found by these cases and not fixed yet (so not in CI): on this kernel (6.18)
/// the estimator's multi-uprobe counter is refused (EINVAL) on a function another tracer
/// (tracebound or bpftrace) already has a uprobe on, and the point is then priced at 0
/// calls a second ("measured": "Unknown", verdict "within"); and bpftrace 0.17 started
/// beside a tracebound counts no uprobe hits. Run with `--ignored` to see both.
#[test]
#[ignore = "known bugs: the uprobe estimate beside another tracer's uprobe, bpftrace 0.17 beside tracebound"]
fn beside_other_uprobe_tracers() {
    let Some(env) = e2e::setup("beside_other_uprobe_tracers") else {
        return;
    };
    let target = build_target().unwrap_or_else(|e| panic!("building the target: {e}"));
    let mut tally = e2e::Tally::default();
    tally.record(
        "an estimate beside two attached tracers",
        estimate_beside_attached_tracers(&env),
    );
    if Path::new(BPFTRACE).exists() {
        tally.record(
            "tracebound beside bpftrace 0.17",
            together(&target, 1, true),
        );
    } else {
        tally.record(
            "tracebound beside bpftrace 0.17",
            Err(format!("{BPFTRACE} is missing")),
        );
    }
    tally.finish();
}

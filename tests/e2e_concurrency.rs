//! Several tracers on the same tracepoint, uprobe and usdt probe at once: two and five
//! tracebound processes, and tracebound beside bpftrace 0.17. The target the test builds
//! (`tb_cc`, below) makes an exact number of getppid() calls, of calls of `tb_cc_hit` and of
//! fires of a usdt probe guarded by its semaphore, so every tracer must print exactly those
//! counts; each must exit 0 by itself (its `exit()` on the target's last syscall); while
//! they are all attached, another tracebound's estimate of the same probes must see only
//! the target's hits, not the other tracers' programs; and afterwards the semaphore is down
//! again, `uprobe_events` is as it was and no `tb_` program is left loaded.
//!
//! The cases run one after another, the two tests too (`ONE_AT_A_TIME`): they share the
//! target's comm, which the scripts filter on, and the workload's `tb_emulated`.

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

/// The tests run one at a time: each one's tracers would count the other's target.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The target, built once per test process (building it again while a case runs it fails
/// with ETXTBSY).
fn target() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(build_target)
        .clone()
        .unwrap_or_else(|e| panic!("building the target: {e}"))
}

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

/// What bpftrace 0.17's BEGIN prints in every script the test gives it: its BEGIN runs once
/// every other probe is attached (strace: the line is written after the last
/// `PERF_EVENT_IOC_SET_BPF`), so the line says the probes are in. Counting its perf event fds
/// does not: it opens one `PERF_COUNT_SW_BPF_OUTPUT` event per CPU for printf before any
/// probe, and attaches uprobes after tracepoints, so on 2 CPUs "3 perf events" came while
/// its uprobe was still being registered, and it missed the target's first calls (4168 of
/// 5000 counted: the test's race, not bpftrace's).
const BPFTRACE_READY: &str = "tb_bpftrace_ready";

/// bpftrace 0.17 running beside the tracebounds, its output read as it comes.
struct Bpftrace {
    child: Child,
    reader: std::thread::JoinHandle<String>,
    ready: std::sync::mpsc::Receiver<()>,
}

impl Bpftrace {
    /// Runs `probes` with a BEGIN probe that prints [`BPFTRACE_READY`].
    fn spawn(probes: &str) -> Result<Bpftrace, String> {
        let script = format!("BEGIN {{ printf(\"{BPFTRACE_READY}\\n\"); }}\n{probes}");
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("concurrency/bpftrace.stderr");
        let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut child = Command::new(BPFTRACE)
            .args(["-e", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {BPFTRACE}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, ready) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == BPFTRACE_READY {
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
            ready,
        })
    }

    /// Until its BEGIN has printed: every probe attached.
    fn wait_ready(&mut self) -> Result<(), String> {
        self.ready.recv_timeout(e2e::START_TIMEOUT).map_err(|_| {
            let _ = self.child.kill();
            format!("bpftrace printed no {BPFTRACE_READY:?} line in time")
        })
    }

    /// Ctrl-C, as a user ends it.
    fn interrupt(&self) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our live child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
    }

    fn stderr() -> String {
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("concurrency/bpftrace.stderr");
        std::fs::read_to_string(log).unwrap_or_default()
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
        b.wait_ready()?;
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
                    failures.push(format!("{e}--- its stderr:\n{}", Bpftrace::stderr()));
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

/// A dry run of `script` while the workload calls `tb_emulated` 1,000 times a second for
/// `seconds`.
fn estimate_under_load(
    env: &e2e::Env,
    script: &str,
    seconds: u32,
) -> Result<(i32, String, String), String> {
    let mut load = Command::new(&env.workload)
        .args(["e", "1000", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the workload: {e}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let dry = e2e::tracebound(&["--dry-run", "-f", "json", "-e", script]);
    let _ = load.wait();
    dry
}

/// The point's `"measured"` after its rate in a dry run's JSON.
fn point_measured<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let at = json.find(&format!("{name}\""))?;
    let rest = json[at..].split("\"measured\": \"").nth(1)?;
    rest.split('"').next()
}

/// While two tracebounds and bpftrace 0.17 have a uprobe attached, a fourth tracer's
/// estimate of the same uprobe counts the workload's calls once each (about 1,000 a second),
/// by its own counter, not once per program the others run on each call, and prices each
/// hit as it would alone (the first instruction read from the file, not the others'
/// breakpoint).
fn estimate_beside_attached_tracers(env: &e2e::Env) -> Result<(), String> {
    let events_before = uprobe_events();
    let mut watch = e2e::ProgramWatch::start();
    let probe = format!(
        "uprobe:{}:tb_emulated {{ @n = count(); }}",
        env.workload.display()
    );
    let alone = estimate_under_load(env, &probe, 1)?;
    let mut tracers = Vec::new();
    for _ in 0..2 {
        let mut t = e2e::Tracer::spawn(&["-e", &probe]);
        t.wait_ready(0)?;
        watch.note_running(&t)?;
        tracers.push(t);
    }
    let mut reference = Bpftrace::spawn(&probe)?;
    reference.wait_ready()?;
    let dry = estimate_under_load(env, &probe, 2);
    let mut failures = Vec::new();
    let per_hit = |json: &str| {
        let at = json.find("tb_emulated\"")?;
        let rest = json[at..].split("\"per_hit_ns\": ").nth(1)?;
        rest.split([',', '}']).next()?.trim().parse::<f64>().ok()
    };
    match dry {
        Ok((_, json, _)) if json.contains("\"type\": \"estimate\"") => {
            match point_rate(&json, "tb_emulated") {
                Some(rate) if (500.0..2000.0).contains(&rate) => {}
                other => failures.push(format!(
                    "the estimate saw {other:?} calls a second, the workload made 1000:\n{json}"
                )),
            }
            if point_measured(&json, "tb_emulated") != Some("UprobeCounter") {
                failures.push(format!(
                    "the point was not counted by the uprobe counter:\n{json}"
                ));
            }
            // The price of a hit is the same alone: it is set by the first instruction
            // (emulated, or single-stepped at about 4 times the cost), read from the file.
            let (beside, alone_ns) = (per_hit(&json), per_hit(&alone.1));
            let near = beside
                .zip(alone_ns)
                .is_some_and(|(b, a)| (b / a - 1.0).abs() < 0.3);
            if !near {
                failures.push(format!(
                    "a hit priced {beside:?} ns beside the tracers, {alone_ns:?} ns alone:\n{json}\n{}",
                    alone.1
                ));
            }
        }
        Ok((code, out, err)) => failures.push(format!("dry run exited {code}:\n{out}{err}")),
        Err(e) => failures.push(e),
    }
    for t in tracers {
        t.signal(libc::SIGINT);
        match t.finish(e2e::EXIT_TIMEOUT) {
            Ok(done) if done.code() == Some(0) && done.stdout.contains("@n: 2000\n") => {}
            Ok(done) => failures.push(format!(
                "a tracebound exited {:?} (it should count 2000 calls):\n{}{}",
                done.code(),
                done.stdout,
                done.stderr
            )),
            Err(e) => failures.push(e),
        }
    }
    reference.interrupt();
    match reference.finish() {
        Ok((0, out)) if out.contains("@n: 2000\n") => {}
        Ok((code, out)) => failures.push(format!(
            "bpftrace 0.17 exited {code} (it should count 2000 calls):\n{out}--- stderr:\n{}",
            Bpftrace::stderr()
        )),
        Err(e) => failures.push(e),
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

#[test]
fn tracers_side_by_side_each_count_exactly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(_env) = e2e::setup("tracers_side_by_side_each_count_exactly") else {
        return;
    };
    let target = target();
    let mut tally = e2e::Tally::default();
    tally.record("two tracebounds", together(&target, 2, false));
    tally.record("five tracebounds", together(&target, 5, false));
    tally.finish();
}

/// Tracebound beside bpftrace 0.17 on the same tracepoints and uprobe, and an estimate
/// made while other tracers hold a uprobe on the function it measures. bpftrace 0.17 is the
/// reference CI installs: without it the test fails, under CI=true or not.
#[test]
fn beside_other_uprobe_tracers() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("beside_other_uprobe_tracers") else {
        return;
    };
    assert!(
        Path::new(BPFTRACE).exists(),
        "{BPFTRACE} (bpftrace 0.17) is missing: apt-get install -y bpftrace"
    );
    let target = target();
    let mut tally = e2e::Tally::default();
    tally.record(
        "an estimate beside two tracebounds and bpftrace 0.17",
        estimate_beside_attached_tracers(&env),
    );
    tally.record(
        "tracebound beside bpftrace 0.17",
        together(&target, 1, true),
    );
    tally.finish();
}

//! USDT probes end to end, with a C program the test builds against sys/sdt.h
//! (systemtap-sdt-dev): exact counts of a probe with two sites, arguments in registers,
//! immediates and memory (with a base, a displacement and an index; signed and unsigned; 1 to
//! 8 bytes), a probe guarded by its semaphore (it fires only while traced, and the semaphore
//! is back to 0 after Ctrl-C), wildcards, `-p` (another process running the same binary is
//! neither counted nor has its semaphore raised), `-l` as bpftrace 0.17 lists, the same counts
//! as bpftrace 0.17 side by side, and an argument spec tracebound cannot read refused at the
//! `argN` that reads it.

mod e2e;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{tracebound, Tally};

/// The probes (provider `tb`): `tick` twice in the source (two sites, the second in
/// `other`, called for odd i), `regs` (registers), `consts` (immediates), `memory` (a struct
/// through a pointer), `indexed` (arrays indexed by a register), `global` (a global, which GCC
/// addresses relative to %rip), `gated` (its semaphore, in `gated.c`).
const MAIN: &str = r#"
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
long gated_loop(long n);
struct rec { long a; int b; short c; signed char d; unsigned long e; };
volatile int vglobal = 42;
__attribute__((noinline)) void sites(long i, struct rec *r, long *vals, unsigned short *shorts) {
    STAP_PROBE(tb, tick);
    STAP_PROBE3(tb, regs, i, (int)(i - 100), (unsigned char)(i + 200));
    STAP_PROBE3(tb, consts, 5, -3, 0x10);
    STAP_PROBE5(tb, memory, r->a, r->b, r->c, r->d, r->e);
    STAP_PROBE2(tb, indexed, vals[i & 3], shorts[i & 3]);
    STAP_PROBE1(tb, global, vglobal);
}
__attribute__((noinline)) void other(long i) { STAP_PROBE1(tb, tick, i); }
int main(int argc, char **argv) {
    long n = argc > 2 ? atol(argv[2]) : 0;
    struct rec r = { -7, -123456, -300, -5, 0xfffffffffffffff0UL };
    long vals[4] = { 1, -2, 3, -4 };
    unsigned short shorts[4] = { 65535, 2, 3, 4 };
    switch (argc > 1 ? argv[1][0] : 'x') {
    case 'r':
        for (long i = 0; i < n; i++) { sites(i, &r, vals, shorts); if (i % 2) other(i); usleep(1000); }
        return 0;
    case 'g':
        printf("opened %ld\n", gated_loop(n));
        return 0;
    }
    return 2;
}
"#;

const GATED: &str = r#"
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <unistd.h>
unsigned short tb_gated_semaphore __attribute__((section(".probes")));
/* Fires only while a tracer holds the semaphore up; says how often that was. */
long gated_loop(long n) {
    long opened = 0;
    for (long i = 0; i < n; i++) {
        if (tb_gated_semaphore) { opened++; STAP_PROBE1(tb, gated, i); }
        usleep(1000);
    }
    return opened;
}
"#;

fn build() -> Result<String, String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("usdt-target");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let main = dir.join("main.c");
    let gated = dir.join("gated.c");
    let binary = dir.join("tb_usdt_target");
    std::fs::write(&main, MAIN).map_err(|e| e.to_string())?;
    std::fs::write(&gated, GATED).map_err(|e| e.to_string())?;
    let out = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&main)
        .arg(&gated)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cc failed (is systemtap-sdt-dev installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(binary.to_str().expect("utf-8 path").to_string())
}

/// Runs the target to completion; its stdout.
fn run_target(binary: &str, mode: &str, n: u32) -> Result<String, String> {
    let out = Command::new(binary)
        .args([mode, &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the target failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn expect_lines(stdout: &str, stderr: &str, needed: &[&str]) -> Result<(), String> {
    for line in needed {
        if !stdout.lines().any(|l| l == *line) {
            return Err(format!("no line `{line}` in\n{stdout}{stderr}"));
        }
    }
    Ok(())
}

/// The script of the counts-and-arguments case, also run by bpftrace.
fn counting_script(binary: &str) -> String {
    format!(
        "usdt:{binary}:tb:tick {{ @ticks = count(); @by_probe[probe] = count(); }}\n\
         usdt:{binary}:tb:regs {{ @r0 = sum(arg0); @r1 = sum(arg1); @r1min = min(arg1); @r2 = sum(arg2); }}\n\
         usdt:{binary}:tb:consts {{ @c[arg0, arg1, arg2] = count(); }}\n\
         usdt:{binary}:tb:memory {{ @m[arg0, arg1, arg2, arg3, arg4] = count(); }}\n\
         usdt:{binary}:tb:indexed {{ @i0 = sum(arg0); @i1 = sum(arg1); }}"
    )
}

/// For i < 40: tick 40 + 20 (odd i), sum(i) = 780, sum(i - 100) = -3220, sum(i + 200) as an
/// unsigned byte = 8780; vals[i & 3] sums to 10 * (1 - 2 + 3 - 4) = -20, shorts[i & 3] (u16)
/// to 10 * (65535 + 2 + 3 + 4) = 655440.
const COUNTED: &[&str] = &[
    "@ticks: 60",
    "@by_probe[usdt:BIN:tb:tick]: 60",
    "@r0: 780",
    "@r1: -3220",
    "@r1min: -100",
    "@r2: 8780",
    "@c[5, -3, 16]: 40",
    "@m[-7, -123456, -300, -5, -16]: 40",
    "@i0: -20",
    "@i1: 655440",
];

fn counted_lines(binary: &str) -> Vec<String> {
    COUNTED.iter().map(|l| l.replace("BIN", binary)).collect()
}

fn counts_and_arguments(binary: &str) -> Result<(), String> {
    let command = format!("{binary} r 40");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &counting_script(binary)])?;
    if code != 0 {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    // Five probes, six sites (tick has two): the current release counts probes.
    if !stderr.contains("Attached 5 probes\n") {
        return Err(format!("not 5 probes:\n{stderr}"));
    }
    let lines = counted_lines(binary);
    let needed: Vec<&str> = lines.iter().map(String::as_str).collect();
    expect_lines(&stdout, &stderr, &needed)
}

/// bpftrace 0.17 runs the same script on the same program: the same lines.
fn same_counts_as_bpftrace(binary: &str) -> Result<(), String> {
    if !std::path::Path::new("/usr/bin/bpftrace").exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err("CI installs bpftrace, the reference".into());
        }
        eprintln!("skipped the bpftrace comparison: no /usr/bin/bpftrace");
        return Ok(());
    }
    let command = format!("{binary} r 40");
    let out = Command::new("/usr/bin/bpftrace")
        .args(["-c", &command, "-e", &counting_script(binary)])
        .output()
        .map_err(|e| format!("bpftrace: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // bpftrace 0.17 prints `sum()` of a usdt argument unsigned, so a negative total shows
    // wrapped around 2^64 (its min, avg, stats and map keys of the same arguments print
    // signed); tracebound prints the signed total. The same bits either way.
    let lines: Vec<String> = counted_lines(binary)
        .into_iter()
        .map(|line| match line.as_str() {
            "@r1: -3220" => format!("@r1: {}", -3220i64 as u64),
            "@i0: -20" => format!("@i0: {}", -20i64 as u64),
            _ => line,
        })
        .collect();
    let needed: Vec<&str> = lines.iter().map(String::as_str).collect();
    expect_lines(&stdout, &stderr, &needed).map_err(|e| format!("bpftrace 0.17: {e}"))
}

/// Wildcards and the two-part form (any provider) count every site.
fn wildcards(binary: &str) -> Result<(), String> {
    let command = format!("{binary} r 10");
    let script = format!(
        "usdt:{binary}:tb:* {{ @[probe] = count(); }} usdt:{binary}:tick {{ @two_part = count(); }}"
    );
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    if code != 0 {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    let mut needed: Vec<String> = ["consts", "memory", "indexed", "global", "regs"]
        .iter()
        .map(|p| format!("@[usdt:{binary}:tb:{p}]: 10"))
        .collect();
    needed.push(format!("@[usdt:{binary}:tb:tick]: 15"));
    needed.push("@two_part: 15".into());
    let needed: Vec<&str> = needed.iter().map(String::as_str).collect();
    expect_lines(&stdout, &stderr, &needed)?;
    if stdout.contains("tb:gated]") {
        return Err(format!("the gated probe fired without its loop:\n{stdout}"));
    }
    Ok(())
}

/// The gated probe fires exactly while traced; untraced, the program never sees its
/// semaphore up, before or after (after Ctrl-C the kernel took it back).
fn semaphore(binary: &str) -> Result<(), String> {
    let before = run_target(binary, "g", 20)?;
    if before != "opened 0\n" {
        return Err(format!("untraced, the semaphore was up: {before}"));
    }
    let script = format!("usdt:{binary}:tb:gated {{ @gated = count(); @sum = sum(arg0); }}");
    let mut tracer = e2e::Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0)?;
    let traced = run_target(binary, "g", 50)?;
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    if traced != "opened 50\n" {
        return Err(format!(
            "traced, the semaphore was not up every time: {traced}"
        ));
    }
    // sum(0..50) = 1225.
    expect_lines(&done.stdout, &done.stderr, &["@gated: 50", "@sum: 1225"])?;
    let after = run_target(binary, "g", 20)?;
    if after != "opened 0\n" {
        return Err(format!("after Ctrl-C, the semaphore stayed up: {after}"));
    }
    Ok(())
}

/// The fds of `pid` that are BPF links and perf events: (links, perf events).
fn links_and_events(pid: u32) -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    let targets: Vec<String> = dir
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect();
    let count = |what: &str| targets.iter().filter(|t| t.as_str() == what).count();
    (
        count("anon_inode:bpf_link"),
        count("anon_inode:[perf_event]"),
    )
}

/// A usdt wildcard (sites with and without a semaphore) and a probe of four sites whose
/// arguments are in registers, constants, memory and indexed memory, attached through one
/// multi-uprobe link per probe (`TRACEBOUND_ATTACH_ONE=1`) and a perf event per site
/// (`TRACEBOUND_ATTACH_EACH=1`): the same output, to the byte, each site's arguments its
/// own; the semaphore raised while attached either way; one link per probe, and no perf
/// event, the first way.
fn one_link_as_each(binary: &str) -> Result<(), String> {
    let script = format!(
        "usdt:{binary}:tb:* {{ @[probe] = count(); }}\n\
         usdt:{binary}:tb:regs, usdt:{binary}:tb:consts, usdt:{binary}:tb:memory, \
         usdt:{binary}:tb:indexed {{ @a[probe, arg0, arg1] = count(); @s[probe] = sum(arg1); }}"
    );
    let mut outputs = Vec::new();
    for (var, links) in [
        ("TRACEBOUND_ATTACH_ONE", (2, 0)),
        ("TRACEBOUND_ATTACH_EACH", (0, 12)),
    ] {
        let mut tracer = e2e::Tracer::spawn_with_env(&["-e", &script], &[(var, "1")]);
        tracer.wait_ready(0)?;
        let held = links_and_events(tracer.pid());
        let sites = run_target(binary, "r", 10)?;
        let gated = run_target(binary, "g", 20)?;
        tracer.signal(libc::SIGINT);
        let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
        if done.code() != Some(0) || !sites.is_empty() || gated != "opened 20\n" {
            return Err(format!(
                "{var}: exit {:?}, the gated loop: {gated}\n{}{}",
                done.code(),
                done.stdout,
                done.stderr
            ));
        }
        if held != links {
            return Err(format!(
                "{var}: held {} links and {} perf events, expected {links:?}",
                held.0, held.1
            ));
        }
        outputs.push(done.stdout);
    }
    let mut needed = [
        format!("@[usdt:{binary}:tb:gated]: 20"),
        format!("@[usdt:{binary}:tb:tick]: 15"),
        format!("@a[usdt:{binary}:tb:regs, 9, -91]: 1"),
        format!("@a[usdt:{binary}:tb:consts, 5, -3]: 10"),
        format!("@a[usdt:{binary}:tb:memory, -7, -123456]: 10"),
        format!("@a[usdt:{binary}:tb:indexed, 1, 65535]: 3"),
        format!("@s[usdt:{binary}:tb:regs]: -955"),
    ];
    needed.sort();
    let needed: Vec<&str> = needed.iter().map(String::as_str).collect();
    expect_lines(&outputs[0], "", &needed)?;
    if outputs[0] != outputs[1] {
        return Err(format!(
            "one link and each differ:\n{}",
            e2e::describe_difference(&outputs[1], &outputs[0])
        ));
    }
    Ok(())
}

/// A target running in the background; killed if the test ends before it does.
struct Running(Option<Child>);

impl Running {
    fn start(binary: &str, mode: &str, n: u32) -> Result<Running, String> {
        Command::new(binary)
            .args([mode, &n.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .map(|c| Running(Some(c)))
            .map_err(|e| e.to_string())
    }

    fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Waits for it to finish; its stdout.
    fn output(mut self) -> Result<String, String> {
        let child = self.0.take().ok_or("already waited for")?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `-p`: two processes of the same binary run the gated loop; only the traced one is counted,
/// and only its semaphore is raised (the other never fires its probe).
fn scoped_to_one_process(binary: &str) -> Result<(), String> {
    let traced = Running::start(binary, "g", 3000)?;
    let other = Running::start(binary, "g", 3000)?;
    std::thread::sleep(Duration::from_millis(200));
    let pid = traced.pid();
    let script = format!("usdt:{binary}:tb:gated {{ @[pid] = count(); }}");
    // The traced loop is a busy one: a budget that does not hang on the machine's load (the
    // slowdown budget itself is e2e_uprobe's).
    let (code, stdout, stderr) = tracebound(&[
        "--budget",
        "50",
        "-p",
        &pid.to_string(),
        "--timeout",
        "1",
        "-e",
        &script,
    ])?;
    if code != 0 {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    let keys: Vec<&str> = stdout.lines().filter(|l| l.starts_with("@[")).collect();
    let only_traced = format!("@[{pid}]: ");
    if keys.len() != 1 || !keys[0].starts_with(&only_traced) {
        return Err(format!(
            "expected only pid {pid} counted:\n{stdout}{stderr}"
        ));
    }
    let traced_out = traced.output()?;
    let other_out = other.output()?;
    let opened = |out: &str| -> Option<u64> { out.trim().strip_prefix("opened ")?.parse().ok() };
    match (opened(&traced_out), opened(&other_out)) {
        (Some(t), Some(0)) if t > 0 => Ok(()),
        _ => Err(format!(
            "semaphores: traced process `{traced_out}`, other process `{other_out}`"
        )),
    }
}

/// `-l` and `-lv` list exactly what bpftrace 0.17 lists for the binary (sorted, each probe
/// once though `tick` has two sites).
fn listing(binary: &str) -> Result<(), String> {
    let pattern = format!("usdt:{binary}:*");
    let (code, ours, stderr) = tracebound(&["-l", &pattern])?;
    let expected: String = [
        "consts", "gated", "global", "indexed", "memory", "regs", "tick",
    ]
    .iter()
    .map(|p| format!("usdt:{binary}:tb:{p}\n"))
    .collect();
    if code != 0 || ours != expected {
        return Err(format!(
            "exit {code}\n{}{stderr}",
            e2e::describe_difference(&expected, &ours)
        ));
    }
    let provider_pattern = format!("usdt:{binary}:tb:g*");
    for args in [
        vec!["-l", pattern.as_str()],
        vec!["-lv", pattern.as_str()],
        vec!["-l", provider_pattern.as_str()],
    ] {
        let (_, ours, _) = tracebound(&args)?;
        if !std::path::Path::new("/usr/bin/bpftrace").exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                return Err("CI installs bpftrace, the reference".into());
            }
            continue;
        }
        let out = Command::new("/usr/bin/bpftrace")
            .args(&args)
            .output()
            .map_err(|e| e.to_string())?;
        let theirs = String::from_utf8_lossy(&out.stdout);
        if ours != theirs {
            return Err(format!(
                "{args:?} differs from bpftrace 0.17:\n{}",
                e2e::describe_difference(&theirs, &ours)
            ));
        }
    }
    Ok(())
}

/// An argument GCC addressed relative to %rip (a global) is refused at the `arg0` that reads
/// it, saying why; an argument the probe does not have likewise. Nothing is attached.
fn unreadable_arguments(binary: &str) -> Result<(), String> {
    for (script, underlined, message) in [
        (
            format!("usdt:{binary}:tb:global {{ @ = sum(arg0); }}"),
            "arg0",
            "its spec `-4@vglobal(%rip)` is not supported",
        ),
        (
            format!("usdt:{binary}:tb:consts {{ @ = sum(arg3); }}"),
            "arg3",
            "has 3 arguments",
        ),
    ] {
        let (code, stdout, stderr) = tracebound(&["-f", "json", "-e", &script])?;
        let diagnostic = stdout
            .lines()
            .find(|l| l.starts_with("{\"type\":\"diagnostic\""))
            .unwrap_or_default();
        let start = script.find(underlined).expect("in the script");
        let span = format!("\"start\":{start},\"end\":{}", start + underlined.len());
        if code != 1
            || !diagnostic.contains(message)
            || !diagnostic.contains(&span)
            || stdout.contains("attached_probes")
        {
            return Err(format!("{script}: exit {code}\n{stdout}{stderr}"));
        }
    }
    Ok(())
}

#[test]
fn usdt_probes_run() {
    if e2e::setup("usdt_probes_run").is_none() {
        return;
    }
    let binary = match build() {
        Ok(b) => b,
        Err(e) => panic!("building the usdt target: {e}"),
    };
    let mut tally = Tally::default();
    tally.record("counts and arguments", counts_and_arguments(&binary));
    tally.record(
        "the same counts as bpftrace 0.17",
        same_counts_as_bpftrace(&binary),
    );
    tally.record("wildcards", wildcards(&binary));
    tally.record("semaphore", semaphore(&binary));
    tally.record("one multi-uprobe link as each", one_link_as_each(&binary));
    tally.record("-p", scoped_to_one_process(&binary));
    tally.record("-l and -lv", listing(&binary));
    tally.record("unreadable arguments", unreadable_arguments(&binary));
    tally.finish();
}

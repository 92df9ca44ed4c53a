//! printf under a stream of events: every event the traced loop made is printed or reported
//! lost, exactly (printed + lost = the loop's own count of its calls), through a one-page
//! ring buffer that must drop most of them and through the default one at a rate it must
//! keep whole. The loop is `benches/printf_overload.sh`'s (`benches/paced_getppid.c`).

mod e2e;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::Tally;

/// The paced getppid() loop, built once.
fn paced_loop() -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/paced_getppid.c");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("printf-loss");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let binary = dir.join(format!("paced_getppid.{}", std::process::id()));
    let out = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(binary)
}

/// What one run saw: the loop's calls, the lines printed, the events reported lost.
struct Counted {
    offered: u64,
    printed: u64,
    lost: u64,
}

/// Starts the loop waiting, attaches `printf` to its getppid() calls (with `config` before
/// the probes), lets it run `rate` calls a second (0: as fast as it can) for `seconds`, then
/// stops tracebound with SIGINT and counts.
fn run(binary: &Path, config: &str, rate: u64, seconds: f64) -> Result<Counted, String> {
    let mut lp = Command::new(binary)
        .args([rate.to_string(), seconds.to_string(), "wait".into()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(lp.stdout.take().expect("stdout")).lines();
    let pid = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("pid ")?.parse::<u32>().ok())
        .ok_or("the loop did not say its pid")?;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("printf-loss");
    let out_path = dir.join(format!("out.{}", std::process::id()));
    let script = format!(
        "{config} BEGIN {{ printf(\"ready\\n\"); }} \
         tracepoint:syscalls:sys_enter_getppid /pid == {pid}/ {{ printf(\"e %d\\n\", tid); }}"
    );
    let mut tb = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(["--no-guard", "-e", &script])
        .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + e2e::START_TIMEOUT;
    while !std::fs::read_to_string(&out_path)
        .unwrap_or_default()
        .starts_with("ready")
    {
        if Instant::now() > deadline || tb.try_wait().map_err(|e| e.to_string())?.is_some() {
            let _ = tb.kill();
            let _ = lp.kill();
            let _ = lp.wait();
            let out = tb.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "never ready: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: signals to the children this test started.
    unsafe { libc::kill(lp.id() as i32, libc::SIGUSR1) };
    let report = lines
        .next()
        .and_then(Result::ok)
        .ok_or("the loop did not report")?;
    lp.wait().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(tb.id() as i32, libc::SIGINT) };
    let finished = tb.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = std::fs::read_to_string(&out_path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&out_path);
    if !finished.status.success() {
        return Err(format!(
            "tracebound: {:?}\n{}",
            finished.status,
            String::from_utf8_lossy(&finished.stderr)
        ));
    }
    let offered = report
        .strip_prefix("offered ")
        .and_then(|r| r.split(' ').next()?.parse().ok())
        .ok_or_else(|| format!("the loop's report: {report}"))?;
    let printed = stdout.lines().filter(|l| l.starts_with("e ")).count() as u64;
    let lost = e2e::lost_events(&stdout).unwrap_or(0);
    println!("{config:?} at {rate}/s: {report}; printed {printed}, lost {lost}");
    Ok(Counted {
        offered,
        printed,
        lost,
    })
}

/// A one-page ring buffer behind a loop as fast as it goes: most events are dropped, and
/// printed + lost is the loop's count, to the event.
fn one_page_drops_and_counts_exactly(binary: &Path) -> Result<(), String> {
    let c = run(binary, "config = { perf_rb_pages = 1 }", 0, 1.0)?;
    if c.printed + c.lost != c.offered || c.lost == 0 || c.printed == 0 || c.offered < 100_000 {
        return Err(format!(
            "offered {}, printed {} + lost {} (should sum to offered, some of each)",
            c.offered, c.printed, c.lost
        ));
    }
    Ok(())
}

/// The default ring buffer at 200,000 events a second: all printed, none lost.
fn default_ring_keeps_a_steady_stream(binary: &Path) -> Result<(), String> {
    let c = run(binary, "", 200_000, 2.0)?;
    if c.printed != c.offered || c.lost != 0 {
        return Err(format!(
            "offered {}, printed {}, lost {} (should print all)",
            c.offered, c.printed, c.lost
        ));
    }
    Ok(())
}

/// The sizes of the ring buffers `pid` holds, from its map fds' fdinfo (`map_type` 27).
fn ring_sizes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|info| {
            info.lines()
                .any(|l| l.split_whitespace().eq(["map_type:", "27"]))
        })
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("max_entries:")?.trim().parse().ok())
        })
        .collect()
}

/// The ring buffer tracebound holds while it runs `config`'s printf on a loop already
/// making a million calls a second when the estimate measures it.
fn ring_size_with(binary: &Path, config: &str) -> Result<u64, String> {
    let mut lp = Command::new(binary)
        .args(["1000000", "20"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let script = format!(
        "{config} tracepoint:syscalls:sys_enter_getppid /pid == {}/ {{ printf(\"e %d\\n\", tid); }}",
        lp.id()
    );
    let mut tracer = e2e::Tracer::spawn(&["--budget", "100", "--no-guard", "-e", &script]);
    let ready = tracer.wait_ready(0);
    let sizes = ring_sizes(tracer.pid());
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(e2e::EXIT_TIMEOUT);
    let _ = lp.kill();
    let _ = lp.wait();
    ready?;
    let done = done?;
    match sizes.as_slice() {
        [size, rest @ ..] if rest.iter().all(|s| s == size) => Ok(*size),
        _ => Err(format!("ring buffers held: {sizes:?}\n{}", done.stderr)),
    }
}

/// Sized from the estimate: a million records a second want more than the default 1 MiB
/// (100 ms of them is 2.4 MB); `perf_rb_pages` given keeps its size.
fn ring_sized_from_the_rate(binary: &Path) -> Result<(), String> {
    let sized = ring_size_with(binary, "")?;
    let given = ring_size_with(binary, "config = { perf_rb_pages = 256 }")?;
    println!("ring buffer at 1M/s: {sized} bytes; with perf_rb_pages = 256: {given}");
    if sized <= 1 << 20 || given != 1 << 20 {
        return Err(format!(
            "sized {sized} bytes (should be over 1 MiB), given 256 pages: {given}"
        ));
    }
    Ok(())
}

#[test]
fn printed_plus_lost_is_offered() {
    if e2e::setup("printed_plus_lost_is_offered").is_none() {
        return;
    }
    let mut tally = Tally::default();
    match paced_loop() {
        Ok(binary) => {
            tally.record("one page", one_page_drops_and_counts_exactly(&binary));
            tally.record("default ring", default_ring_keeps_a_steady_stream(&binary));
            tally.record("sized from the rate", ring_sized_from_the_rate(&binary));
            let _ = std::fs::remove_file(&binary);
        }
        Err(e) => tally.record("build the loop", Err(e)),
    }
    tally.finish();
}

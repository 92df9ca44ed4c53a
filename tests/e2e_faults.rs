//! The kernel or the world refusing things midway: a map the kernel cannot create, a program
//! refused after others loaded, a uprobe's binary deleted or replaced while attached, the
//! `-p` process exiting while its probes are measured, stdout a closed pipe, the ring buffer
//! full for seconds behind a stalled reader, RLIMIT_MEMLOCK at 0, and SIGKILL in each phase
//! (compile, estimate, attach, run, print). Each run must end with a clear message and its
//! exit code, and leave nothing behind: no `tb_` program loaded that no live process holds
//! (links and perf events hold their program, so none of those is left either),
//! `uprobe_events` as it was, and, where a traced process outlives the run, no breakpoint
//! left in its code.
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
    expect("a refused second program", &out, 1, "ERROR:")?;
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

/// The code bytes of `function` of `binary` as process `pid` has them mapped (a uprobe
/// still registered shows as `int3` there), and as the file holds them.
fn code_in_process(pid: u32, binary: &Path, function: &str) -> Result<(u8, u8), String> {
    use std::os::unix::fs::FileExt as _;
    let (offset, file_code) = tracebound_runtime::facts::binary::function_entry(binary, function)
        .ok_or_else(|| format!("no {function} in {}", binary.display()))?;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| e.to_string())?;
    let path = binary.to_string_lossy();
    // "START-END PERMS OFFSET DEV INODE PATH": the mapping of the file that holds the offset.
    let address = maps
        .lines()
        .filter(|l| l.ends_with(path.as_ref()))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (start, end) = f.first()?.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            let at = u64::from_str_radix(f.get(2)?, 16).ok()?;
            (offset >= at && offset < at + (end - start)).then(|| start + offset - at)
        })
        .ok_or_else(|| format!("{function} is not mapped in process {pid}"))?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    mem.read_exact_at(&mut byte, address)
        .map_err(|e| format!("reading process {pid} at {address:#x}: {e}"))?;
    Ok((byte[0], file_code[0]))
}

/// No breakpoint of the run is left in process `pid`: each function's first byte is the
/// file's.
fn no_breakpoints_left(pid: u32, binary: &Path, functions: &[String]) -> Result<(), String> {
    let mut left = Vec::new();
    for f in functions {
        let (mapped, file) = code_in_process(pid, binary, f)?;
        if mapped != file {
            left.push(format!("{f} ({mapped:#04x}, the file has {file:#04x})"));
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "breakpoints left in process {pid} after the run: {}",
            left.join(", ")
        ))
    }
}

/// Functions in a program the test builds: many uprobes (attaching them takes a while), and
/// a process that runs until killed.
const MANY_FUNCTIONS: usize = 200;

fn build_many_functions() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut source = String::from("#include <unistd.h>\n");
    for i in 0..MANY_FUNCTIONS {
        source.push_str(&format!(
            "__attribute__((noinline)) void tb_f{i}(void) {{ __asm__ volatile(\"\"); }}\n"
        ));
    }
    source.push_str("int main(void) { pause(); return 0; }\n");
    let c = dir.join("tb_many.c");
    std::fs::write(&c, source).map_err(|e| e.to_string())?;
    let binary = dir.join("tb_many");
    let partial = dir.join(format!("tb_many.{}", std::process::id()));
    let out = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&partial)
        .arg(&c)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::rename(&partial, &binary).map_err(|e| e.to_string())?;
    Ok(binary)
}

/// A process kept running for a case, killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How many fds of `pid` are BPF objects.
fn bpf_fds(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().starts_with("anon_inode:bpf"))
        .count()
}

/// SIGKILL while compiling (a script of 20,000 statements, over a second to compile here):
/// killed before it made any BPF object, it leaves nothing.
fn sigkill_during_compile() -> Result<(), String> {
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let mut script = String::from("BEGIN {\n");
    for i in 0..20_000 {
        script.push_str(&format!("  @a{}[{i}] = {i} * 3 + {i};\n", i % 50));
    }
    script.push_str("  exit();\n}\n");
    // A file: as one argument it would be over the kernel's 128 KiB limit for one.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("compile_long.bt");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let tracer = Tracer::spawn(&[file.to_str().unwrap_or_default()]);
    std::thread::sleep(Duration::from_millis(150));
    let bpf = bpf_fds(tracer.pid());
    if bpf > 0 || !tracer.stderr_so_far().is_empty() {
        return Err(format!(
            "past compiling before the kill ({bpf} BPF fds); the case did not hit it:\n{}",
            tracer.stderr_so_far()
        ));
    }
    tracer.signal(libc::SIGKILL);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    if done.status.code().is_some() {
        return Err(format!("not killed: {:?}", done.status));
    }
    nothing_left(&watch, &events)
}

/// SIGKILL while a uprobe on a process that runs on is attached: while attached the
/// process's code holds the breakpoint; after the kill, nothing loaded and no breakpoint.
fn sigkill_while_a_uprobe_runs(many: &Path) -> Result<(), String> {
    let events = uprobe_events();
    let mut watch = ProgramWatch::start();
    let target = Running(
        Command::new(many)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let function = vec!["tb_f7".to_string()];
    let script = format!("uprobe:{}:tb_f7 {{ @calls = count(); }}", many.display());
    let mut tracer = Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0)?;
    watch.note_running(&tracer)?;
    let (mapped, file) = code_in_process(target.0.id(), many, "tb_f7")?;
    if mapped != 0xcc || file == 0xcc {
        return Err(format!(
            "while attached the process has {mapped:#04x} at tb_f7 (the file {file:#04x}): \
             the breakpoint check would see nothing"
        ));
    }
    tracer.signal(libc::SIGKILL);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    if done.status.code().is_some() {
        return Err(format!("not killed: {:?}", done.status));
    }
    nothing_left(&watch, &events)?;
    no_breakpoints_left(target.0.id(), many, &function)
}

/// printf on every getppid of a workload making 150,000 of them in 3 seconds while the
/// reader of tracebound's stdout stalls for 3 seconds: the pipe fills, tracebound blocks
/// writing, the ring buffer fills and stays full. Every event is printed or reported lost:
/// printed + lost = the events the kernel counted (`@made`), plus 1 when the exit record was
/// among the dropped (it counts as lost, and the run still ends, by the exit map), and the
/// run ends by itself with its exit code.
fn ring_buffer_full_for_seconds(env: &Env) -> Result<(), String> {
    use std::io::Read as _;
    let events = uprobe_events();
    let mut watch = ProgramWatch::start();
    let script = "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_wl\"/ \
                  { @made = count(); printf(\"e %d\\n\", nsecs); }\n\
                  tracepoint:syscalls:sys_enter_getpgid /comm == \"tb_wl\"/ { exit(); }";
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let log = dir.join("ring.stderr");
    let mut child = tracebound()
        .args(["--budget", "50", "-e", script])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdout = child.stdout.take().expect("stdout");
    let deadline = Instant::now() + e2e::START_TIMEOUT;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Attached")
    {
        if Instant::now() > deadline || child.try_wait().map_err(|e| e.to_string())?.is_some() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "not attached:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let held = e2e::held_program_ids(child.id());
    if held.is_empty() {
        return Err("the running tracebound holds no programs".into());
    }
    watch.note_ids(held);
    let mut load = Command::new(&env.workload)
        .args(["r", "50000", "3", "q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The reader stalls for as long as the workload runs.
    std::thread::sleep(Duration::from_secs(3));
    let mut out = String::new();
    stdout.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let _ = load.wait();
    let status = child.wait().map_err(|e| e.to_string())?;
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let printed = out.lines().filter(|l| l.starts_with("e ")).count() as u64;
    let made: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@made: "))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no @made in the output:\n{stderr}"))?;
    let lost = e2e::lost_events(&out).unwrap_or(0);
    println!("ring buffer full: {made} events made, {printed} printed, {lost} lost");
    if status.code() != Some(0) || stderr.contains("panicked") {
        return Err(format!("exit {:?}:\n{stderr}", status.code()));
    }
    let accounted = printed + lost == made || printed + lost == made + 1;
    if made < 100_000 || !accounted || lost == 0 || printed == 0 {
        return Err(format!(
            "{made} made, {printed} printed + {lost} lost (should be made, or made + the \
             dropped exit record, some of each)\n{stderr}"
        ));
    }
    nothing_left(&watch, &events)
}

/// RLIMIT_MEMLOCK at 0 (soft and hard). Since Linux 5.11 the kernel charges BPF maps and
/// programs to the memory cgroup, not to RLIMIT_MEMLOCK, so there the run is unchanged:
/// exact counts, exit 0. On an older kernel the limit applies: a clear error naming it,
/// exit 1, nothing loaded. (The memcg limit itself is not set here: this machine's memory
/// cgroup belongs to the sandbox that runs it.)
fn memlock_zero() -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let events = uprobe_events();
    let watch = ProgramWatch::start();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let memcg_accounting = version >= (5, 11);
    let mut command = tracebound();
    command.args([
        "-e",
        "BEGIN { $i = 0; while ($i < 100) { @m[$i] = count(); $i++; } printf(\"%d\\n\", 7); exit(); }",
    ]);
    // SAFETY: setrlimit is async-signal-safe; the child only calls it before exec.
    unsafe {
        command.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &zero) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if memcg_accounting {
        let counted = (0..100).all(|i| stdout.contains(&format!("@m[{i}]: 1\n")));
        if out.status.code() != Some(0) || !stdout.starts_with("7\n") || !counted {
            return Err(format!(
                "kernel {}: BPF memory is charged to the memory cgroup, so RLIMIT_MEMLOCK 0 \
                 changes nothing, but: exit {:?}\n{stdout}{}",
                release.trim(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    } else {
        expect(
            "RLIMIT_MEMLOCK 0 on a kernel that counts it",
            &out,
            1,
            "MEMLOCK",
        )?;
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
    tally.record(
        "the ring buffer full for seconds",
        ring_buffer_full_for_seconds(&env),
    );
    tally.record("RLIMIT_MEMLOCK 0", memlock_zero());
    tally.record("SIGKILL during compile", sigkill_during_compile());
    for phase in ["estimate", "run", "print"] {
        tally.record(&format!("SIGKILL during {phase}"), sigkill(&env, phase));
    }
    match build_many_functions() {
        Ok(many) => {
            tally.record(
                "SIGKILL with a uprobe in a live process",
                sigkill_while_a_uprobe_runs(&many),
            );
        }
        Err(e) => tally.record("building tb_many", Err(e)),
    }
    tally.finish();
}

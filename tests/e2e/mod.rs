//! Support for the end-to-end tests (`tests/e2e_*.rs`): they run the `tracebound` binary as
//! root against the real kernel, with a small workload they build themselves (`workload.c`,
//! built with `cc` as `tb_wl`).
//!
//! - [`setup`] decides whether the test can reach BPF. Under `CI=true` a test that cannot
//!   (not root, no bpf(), no `cc`) fails; elsewhere it prints why and skips. [`require_bpf`]
//!   does the same for a test that needs no workload.
//! - [`Tracer`] runs the binary and reads its output while it runs, so that a test starts its
//!   workload only once the probes are attached: after "Attached N probes" (stderr) and after
//!   the process holds as many BPF links (or perf events) as the script has attach points
//!   other than BEGIN and END.
//! - [`ProgramWatch`] finds the BPF programs a run loaded (by id, from `/proc/PID/fdinfo`) and
//!   checks, with aya's `loaded_programs()`, that none of them, and no other `tb_` program
//!   that no live process holds, is left loaded once the run is over.
//! - [`Tally`] prints `N passed, M failed` for a test with many cases.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The comm of the workload, which scripts filter on.
pub const WORKLOAD_COMM: &str = "tb_wl";

/// How long the binary may take to compile, load and attach a script and print "Attached".
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the attachments may take to show once "Attached" is printed.
pub const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the binary may take to exit once the workload has triggered exit().
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a test needs to run: the workload binary.
pub struct Env {
    pub workload: PathBuf,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Returns the environment, or `None` after printing why the test skips. Under `CI=true` a
/// test that cannot run fails instead: CI must never pass by skipping.
pub fn setup(test: &str) -> Option<Env> {
    let ready = check_bpf()
        .and_then(|()| calibrated())
        .and_then(|()| workload());
    decide(test, ready).map(|workload| Env { workload })
}

/// Whether the test can load BPF programs, as `setup` decides it (failing under `CI=true`),
/// for a test that does not run the workload.
pub fn require_bpf(test: &str) -> bool {
    decide(test, check_bpf().and_then(|()| calibrated())).is_some()
}

fn decide<T>(test: &str, ready: Result<T, String>) -> Option<T> {
    match ready {
        Ok(t) => Some(t),
        Err(reason) if in_ci() => {
            panic!("{test}: cannot run under CI=true (end-to-end tests never skip in CI): {reason}")
        }
        Err(reason) => {
            println!("skipping {test}: {reason}");
            None
        }
    }
}

fn check_bpf() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root to load BPF programs".into());
    }
    // One bpf() call: listing programs needs CAP_SYS_ADMIN, like loading them.
    if let Some(Err(e)) = aya::programs::loaded_programs().next() {
        if is_permission_error(&e) {
            return Err(format!("bpf() is not usable here: {e}"));
        }
    }
    Ok(())
}

/// The host's costs are measured once before the tests run scripts: a script needs them
/// before attaching, and measuring then (a few seconds) while a test's workload runs would
/// measure the workload too.
fn calibrated() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        if tracebound_runtime::estimate::calibrate::cache_path().is_some_and(|c| c.is_file()) {
            return Ok(()); // measured before (tracebound re-measures if the host changed)
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracebound"))
            .arg("calibrate")
            .output()
            .map_err(|e| format!("running tracebound calibrate: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tracebound calibrate failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    })
    .clone()
}

fn is_permission_error(e: &aya::programs::ProgramError) -> bool {
    match e {
        aya::programs::ProgramError::SyscallError(s) => matches!(
            s.io_error.raw_os_error(),
            Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::ENOSYS)
        ),
        _ => false,
    }
}

/// Builds `workload.c` once per test process, into Cargo's temporary directory for
/// integration tests (built under a name of its own, then renamed, so that test processes
/// running at once never run a half-written binary).
pub fn workload() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/workload.c");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-workload");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let binary = dir.join(WORKLOAD_COMM);
            let partial = dir.join(format!("{WORKLOAD_COMM}.{}", std::process::id()));
            let out = Command::new("cc")
                .args(["-O1", "-o"])
                .arg(&partial)
                .arg(&source)
                .output()
                .map_err(|e| format!("cannot run cc to build the workload: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cc failed to build {}:\n{}",
                    source.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::fs::rename(&partial, &binary).map_err(|e| format!("{}: {e}", binary.display()))?;
            Ok(binary)
        })
        .clone()
}

/// Builds a test's own C program `source` as `name` in `dir` under Cargo's temporary
/// directory for integration tests (under a name of its own first, then renamed, so that test
/// processes running at once never run a half-written binary).
pub fn build_c(dir: &str, name: &str, source: &str, flags: &[&str]) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Unique to this call: tests of one process build at once.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = format!("{}-{build}", std::process::id());
    let file = dir.join(format!("{name}.{pid}.c"));
    std::fs::write(&file, source).map_err(|e| format!("{}: {e}", file.display()))?;
    let binary = dir.join(name);
    let partial = dir.join(format!("{name}.{pid}"));
    let out = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&partial)
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    let _ = std::fs::remove_file(&file);
    if !out.status.success() {
        return Err(format!(
            "cc failed to build {name}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&partial, &binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}

/// Runs the workload with these operations (see `workload.c`) and waits for it.
/// Runs tracebound to the end: (exit code, stdout, stderr).
pub fn tracebound(args: &[&str]) -> Result<(i32, String, String), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("running tracebound: {e}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

pub fn run_workload(env: &Env, ops: &[&str]) -> Result<(), String> {
    let out = Command::new(&env.workload)
        .args(ops)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run the workload: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "workload `tb_wl {}` failed ({}): {}",
            ops.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A pipe's bytes so far, and whether it reached its end.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    closed: bool,
}

type Shared = Arc<(Mutex<Captured>, Condvar)>;

fn capture(mut pipe: impl Read + Send + 'static) -> (Shared, JoinHandle<()>) {
    let shared: Shared = Arc::default();
    let writer = Arc::clone(&shared);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            let n = pipe.read(&mut chunk).unwrap_or(0);
            let (lock, cond) = &*writer;
            let mut c = lock.lock().unwrap();
            if n == 0 {
                c.closed = true;
            } else {
                c.bytes.extend_from_slice(&chunk[..n]);
            }
            cond.notify_all();
            if n == 0 {
                break;
            }
        }
    });
    (shared, handle)
}

/// How a run ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// The `tracebound` binary running, its output read as it comes.
pub struct Tracer {
    child: Child,
    stdout: Shared,
    stderr: Shared,
    readers: Vec<JoinHandle<()>>,
}

impl Tracer {
    /// Starts `tracebound ARGS` (no colour in diagnostics).
    /// Starts `tracebound ARGS`. Unless the arguments set `--budget`, the run gets a generous
    /// one: tests of other features must not depend on how busy the machine is (a syscall
    /// tracepoint on a machine making a million syscalls a second is over the default
    /// budget); the budget's own tests set it.
    pub fn spawn(args: &[&str]) -> Tracer {
        Self::spawn_with_env(args, &[])
    }

    /// `spawn`, with these variables added to the environment.
    pub fn spawn_with_env(args: &[&str], vars: &[(&str, &str)]) -> Tracer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracebound"));
        if !args.contains(&"--budget") {
            command.args(["--budget", "50"]);
        }
        command.envs(vars.iter().copied());
        let mut child = command
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the tracebound binary");
        let (stdout, out_reader) = capture(child.stdout.take().expect("stdout"));
        let (stderr, err_reader) = capture(child.stderr.take().expect("stderr"));
        Tracer {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.0.lock().unwrap().bytes).into_owned()
    }

    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.0.lock().unwrap().bytes).into_owned()
    }

    /// Waits until the probes are attached: stderr holds a complete "Attached N probe(s)"
    /// line (or stdout its JSON, with `-f json`); returns N.
    pub fn attaching(&mut self) -> Result<usize, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let closed = self.stdout.0.lock().unwrap().closed;
            let found = attached_count(&self.stderr_so_far())
                .or_else(|| attached_count(&self.stdout_so_far()));
            if let Some(n) = found {
                return Ok(n);
            }
            if closed {
                return Err(self.no_attaching("exited before printing \"Attached\""));
            }
            if Instant::now() >= deadline {
                return Err(self.no_attaching("printed no \"Attached\" line in time"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn no_attaching(&mut self, what: &str) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        format!(
            "tracebound {what}\n--- stdout:\n{}--- stderr:\n{}",
            self.stdout_so_far(),
            self.stderr_so_far()
        )
    }

    /// Waits until the process holds at least `links` attachments: BPF link fds, or perf event
    /// fds where programs are attached to perf events without links.
    pub fn wait_attached(&mut self, links: usize) -> Result<(), String> {
        let deadline = Instant::now() + ATTACH_TIMEOUT;
        loop {
            let held = attachments(self.pid());
            if held >= links {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "tracebound exited ({status}) while attaching\n--- stdout:\n{}--- stderr:\n{}",
                    self.stdout_so_far(),
                    self.stderr_so_far()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "tracebound holds {held} attachments after {ATTACH_TIMEOUT:?}, expected {links}"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// "Attached N probes" and N minus `specials` (BEGIN/END) attachments.
    pub fn wait_ready(&mut self, specials: usize) -> Result<usize, String> {
        let n = self.attaching()?;
        self.wait_attached(n.saturating_sub(specials))?;
        Ok(n)
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our live child.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, sig);
        }
    }

    /// Waits for the process to exit by itself. On timeout it is killed and the error holds
    /// what it printed.
    pub fn finish(mut self, timeout: Duration) -> Result<Finished, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    // Ask as a user would first, so that the maps show what it had seen.
                    self.signal(libc::SIGINT);
                    std::thread::sleep(Duration::from_millis(500));
                    let _ = self.child.kill();
                    let done = self.collect();
                    return Err(format!(
                        "tracebound did not exit within {timeout:?} (interrupted)\n--- stdout:\n{}--- stderr:\n{}",
                        done.stdout, done.stderr
                    ));
                }
            }
        }
        Ok(self.collect())
    }

    fn collect(&mut self) -> Finished {
        let status = self.child.wait().expect("wait for tracebound");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Finished {
            status,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // A test that fails half-way must not leave the binary running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// N from a complete "Attached N probe" / "Attached N probes" line (stderr), or from its
/// JSON form `{"type": "attached_probes", "count": N, "data": {"probes": N}}` (`-f json`,
/// stdout).
pub fn attached_count(output: &str) -> Option<usize> {
    const JSON: &str = "{\"type\": \"attached_probes\", \"count\": ";
    for line in output.split_inclusive('\n') {
        if !line.ends_with('\n') {
            return None;
        }
        let n = match line.strip_prefix("Attached ") {
            Some(rest) => rest.split_once(" probe").map(|(n, _)| n),
            None => line
                .strip_prefix(JSON)
                .and_then(|rest| rest.split_once(',').map(|(n, _)| n)),
        };
        if let Some(n) = n.and_then(|n| n.parse().ok()) {
            return Some(n);
        }
    }
    None
}

/// The records a run reported lost: the sum of its "Lost N events" lines, as loss is reported
/// as it happens (one line each time the reader sees new losses, and one at exit); `None`
/// when there is no such line.
pub fn lost_events(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Lost ")?
                .strip_suffix(" events")?
                .parse::<u64>()
                .ok()
        })
        .reduce(|a, b| a + b)
}

/// bpftrace 0.17's stdout as the current release prints it: without the "Attaching N
/// probes..." line, which it moved to stderr as "Attached N probes" (printed once attached).
pub fn without_attaching_line(stdout: &str) -> String {
    let mut lines = stdout.split_inclusive('\n');
    let mut out = String::new();
    let mut dropped = false;
    for line in lines.by_ref() {
        let is_attaching = line.starts_with("Attaching ")
            && (line.ends_with(" probe...\n") || line.ends_with(" probes...\n"));
        if is_attaching && !dropped {
            dropped = true;
            continue;
        }
        out.push_str(line);
    }
    out
}

/// bpftrace 0.17's text output of `script` in the current release's forms (the differences
/// `since_0_17::DIFFERENCES` lists), for comparing with a 0.17 capture.
pub fn current_from_0_17(text: &str, script: &str) -> String {
    tracebound_runtime::output::since_0_17::current_from_0_17(text, &map_forms(script))
}

/// Every map a script names and how its entries print, read from its text: the function
/// assigned to it (`@m[k] = hist(x)`; `count`, `avg`, `stats`, `hist`/`lhist`, anything else
/// prints as a plain value), whether it is ever keyed, whether it is ever `zero()`ed.
pub fn map_forms(script: &str) -> Vec<tracebound_runtime::output::since_0_17::MapForm> {
    use tracebound_runtime::output::since_0_17::{Kind, MapForm};
    let bytes = script.as_bytes();
    let mut forms: Vec<MapForm> = Vec::new();
    let mut i = 0;
    while let Some(at) = script[i..].find('@').map(|n| n + i) {
        let name_end = script[at + 1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(script.len(), |n| n + at + 1);
        let name = &script[at + 1..name_end];
        let mut j = name_end;
        let keyed = bytes.get(j) == Some(&b'[');
        if keyed {
            let mut depth = 0;
            while j < bytes.len() {
                match bytes[j] {
                    b'[' => depth += 1,
                    b']' => depth -= 1,
                    _ => {}
                }
                j += 1;
                if depth == 0 {
                    break;
                }
            }
        }
        let rest = script[j..].trim_start();
        let assigned = rest
            .strip_prefix('=')
            .filter(|r| !r.starts_with('='))
            .map(|r| r.trim_start());
        let function = assigned.and_then(|r| {
            let end = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            r[end..].starts_with('(').then(|| &r[..end])
        });
        let kind = match function {
            Some("count") => Some(Kind::Count),
            Some("avg") => Some(Kind::Avg),
            Some("stats") => Some(Kind::Stats),
            Some("hist" | "lhist") => Some(Kind::Histogram),
            _ if assigned.is_some() || rest.starts_with("++") || rest.starts_with("+=") => {
                Some(Kind::Other)
            }
            _ => None,
        };
        let zeroed = script[..at].trim_end().ends_with("zero(");
        let form = match forms.iter_mut().find(|f| f.name == name) {
            Some(f) => f,
            None => {
                forms.push(MapForm {
                    name: name.to_string(),
                    kind: Kind::Other,
                    keyless: true,
                    zeroed: false,
                });
                forms.last_mut().expect("just pushed")
            }
        };
        if let Some(kind) = kind.filter(|k| *k != Kind::Other) {
            form.kind = kind;
        }
        form.keyless &= !keyed;
        form.zeroed |= zeroed;
        i = name_end.max(at + 1);
    }
    forms
}

/// The number of attach points of a script that are BEGIN or END (they run without being
/// attached). Probe headers in the test scripts start their line.
pub fn special_probes(script: &str) -> usize {
    script
        .lines()
        .filter(|l| {
            let first = l
                .trim_start()
                .split(|c: char| c.is_whitespace() || c == '{' || c == '/' || c == ',')
                .next()
                .unwrap_or("");
            matches!(first, "BEGIN" | "END" | "begin" | "end")
        })
        .count()
}

fn fd_targets(pid: u32) -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let path = e.ok()?.path();
        let target = std::fs::read_link(&path).ok()?;
        Some((path, target.to_string_lossy().into_owned()))
    })
    .collect()
}

fn attachments(pid: u32) -> usize {
    let targets = fd_targets(pid);
    // A wildcard attached as one program (on raw_syscalls:sys_enter/sys_exit, or one
    // multi-uprobe link) holds one link for all its members: once "Attached" is printed and
    // such a link is held, every attach point is in place.
    if targets
        .iter()
        .any(|(path, t)| t == "anon_inode:bpf_link" && is_dispatched_link(path))
    {
        return usize::MAX;
    }
    let links = targets
        .iter()
        .filter(|(_, t)| t == "anon_inode:bpf_link")
        .count();
    let perf = targets
        .iter()
        .filter(|(_, t)| t == "anon_inode:[perf_event]")
        .count();
    links.max(perf)
}

/// Whether a link fd is of a wildcard attached as one program.
fn is_dispatched_link(fd: &Path) -> bool {
    let info = fd.to_string_lossy().replacen("/fd/", "/fdinfo/", 1);
    let Ok(text) = std::fs::read_to_string(info) else {
        return false;
    };
    text.lines().any(|l| {
        let mut words = l.split_whitespace();
        matches!(
            (words.next(), words.next()),
            (Some("tp_name:"), Some("sys_enter" | "sys_exit"))
                | (Some("link_type:"), Some("uprobe_multi"))
        )
    })
}

/// The ids of the BPF programs a process holds (program fds and links), from fdinfo.
pub fn held_program_ids(pid: u32) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    for (path, target) in fd_targets(pid) {
        if !target.starts_with("anon_inode:bpf") {
            continue;
        }
        let info = path.to_string_lossy().replacen(
            &format!("/proc/{pid}/fd/"),
            &format!("/proc/{pid}/fdinfo/"),
            1,
        );
        let Ok(text) = std::fs::read_to_string(info) else {
            continue;
        };
        ids.extend(text.lines().filter_map(|l| {
            l.strip_prefix("prog_id:")
                .and_then(|v| v.trim().parse::<u32>().ok())
        }));
    }
    ids
}

/// The live processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: Vec<u32> = proc
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some(child)
        })
        .collect();
    children.sort();
    children
}

/// Every program id any live process holds.
fn all_held_program_ids() -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return ids;
    };
    for entry in proc.flatten() {
        if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            ids.extend(held_program_ids(pid));
        }
    }
    ids
}

/// The loaded BPF programs whose names start with `tb_`: (id, name).
pub fn loaded_tb_programs() -> Result<Vec<(u32, String)>, String> {
    let mut found = Vec::new();
    for item in aya::programs::loaded_programs() {
        match item {
            Ok(p) => {
                let name = String::from_utf8_lossy(p.name()).into_owned();
                if name.starts_with("tb_") {
                    found.push((p.id(), name));
                }
            }
            // A program unloaded between listing its id and opening it: not there any more.
            Err(e) if !is_permission_error(&e) => {}
            Err(e) => return Err(format!("cannot list loaded BPF programs: {e}")),
        }
    }
    Ok(found)
}

/// No more `tb_` programs than `before` are loaded within 3 s: the kernel frees a program
/// shortly after its last reference goes (a multi-uprobe link's after an RCU grace period).
pub fn nothing_left_loaded(before: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = loaded_tb_programs()?.len();
        if now <= before {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{} tb_ programs still loaded", now - before));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Watches one run for programs left loaded after it ends.
pub struct ProgramWatch {
    before: BTreeSet<u32>,
    ours: BTreeSet<u32>,
}

impl ProgramWatch {
    /// Notes the `tb_` programs loaded before the run (other runs' programs are not ours).
    pub fn start() -> ProgramWatch {
        let before = loaded_tb_programs()
            .expect("list loaded BPF programs")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ProgramWatch {
            before,
            ours: BTreeSet::new(),
        }
    }

    /// Notes the programs the running binary holds; they must all be `tb_` programs.
    pub fn note_running(&mut self, tracer: &Tracer) -> Result<(), String> {
        let held = held_program_ids(tracer.pid());
        if held.is_empty() {
            return Err("the running tracebound holds no BPF programs".into());
        }
        let loaded = loaded_tb_programs()?;
        for id in &held {
            if !loaded.iter().any(|(l, _)| l == id) {
                return Err(format!(
                    "tracebound holds program {id}, which is not a loaded `tb_` program"
                ));
            }
        }
        self.ours.extend(held);
        Ok(())
    }

    /// Notes programs a run holds, found by the caller (`held_program_ids`).
    pub fn note_ids(&mut self, ids: BTreeSet<u32>) {
        self.ours.extend(ids);
    }

    pub fn noted(&self) -> usize {
        self.ours.len()
    }

    /// Checks, for up to `patience` (the kernel frees programs shortly after their last
    /// reference goes), that none of the run's programs is loaded, and that every `tb_`
    /// program loaded since the run started is held by some live process (another run's).
    pub fn check_unloaded(&self, patience: Duration) -> Result<(), String> {
        let deadline = Instant::now() + patience;
        loop {
            let left = self.leftovers()?;
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let list: Vec<String> = left
                    .iter()
                    .map(|(id, name)| format!("{name} (id {id})"))
                    .collect();
                return Err(format!(
                    "BPF programs left loaded after tracebound exited: {}",
                    list.join(", ")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn leftovers(&self) -> Result<Vec<(u32, String)>, String> {
        let loaded = loaded_tb_programs()?;
        let mut left: Vec<(u32, String)> = loaded
            .iter()
            .filter(|(id, _)| self.ours.contains(id))
            .cloned()
            .collect();
        let new: Vec<&(u32, String)> = loaded
            .iter()
            .filter(|(id, _)| !self.before.contains(id) && !self.ours.contains(id))
            .collect();
        if !new.is_empty() {
            let held = all_held_program_ids();
            left.extend(
                new.into_iter()
                    .filter(|(id, _)| !held.contains(id))
                    .cloned(),
            );
        }
        Ok(left)
    }
}

/// Counts a multi-case test's outcomes and prints `N passed, M failed`.
#[derive(Default)]
pub struct Tally {
    passed: usize,
    failures: Vec<String>,
}

impl Tally {
    pub fn record(&mut self, case: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                println!("ok: {case}");
                self.passed += 1;
            }
            Err(e) => {
                println!("FAILED: {case}");
                self.failures.push(format!("=== {case}\n{e}"));
            }
        }
    }

    /// Prints the summary, then fails the test if any case failed.
    pub fn finish(self) {
        println!("{} passed, {} failed", self.passed, self.failures.len());
        assert!(
            self.failures.is_empty(),
            "{} failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// Shows where two outputs first differ, with both in full.
pub fn describe_difference(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let a: Vec<&str> = actual.split_inclusive('\n').collect();
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    format!(
        "stdout differs from line {}:\n  expected: {:?}\n  actual:   {:?}\n--- expected:\n{}--- actual:\n{}",
        at + 1,
        e.get(at).copied().unwrap_or("<end>"),
        a.get(at).copied().unwrap_or("<end>"),
        expected,
        actual
    )
}

/// The sum of the counts in the histogram printed as `@NAME:`; 0 when none was printed, so
/// the caller's check fails with its own context.
pub fn hist_total(stdout: &str, map: &str) -> u64 {
    let Some(start) = stdout
        .find(&format!("{map}: \n"))
        .or_else(|| stdout.find(&format!("{map}:\n")))
    else {
        return 0;
    };
    stdout[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('['))
        .map(|l| {
            // A bucket is `[lo, hi)`, or `[n]` for the single values 0 and 1.
            l.split_once([')', ']'])
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("a histogram line: {l:?}"))
        })
        .sum()
}

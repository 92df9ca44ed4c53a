//! The estimate against the kernel's own count: for a syscall tracepoint, a sched tracepoint,
//! a uprobe and a profile probe, each under a steady workload, the rate `--dry-run` projects
//! is set against how often the kernel then runs the attached program (bpf_stats `run_cnt`,
//! which the running tracer's guard keeps enabled), read over the following second. Each
//! must be within a factor of 2.

mod e2e;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{tracebound, Env, Tally, Tracer};

/// Workload processes, killed on drop.
struct Load(Vec<Child>);

impl Load {
    fn start(env: &Env, runs: &[&[&str]]) -> Result<Load, String> {
        let mut children = Vec::new();
        for args in runs {
            let child = Command::new(&env.workload)
                .args(*args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting the workload: {e}"))?;
            children.push(child);
        }
        // Let it reach its pace.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Load(children))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The first probe's projected rate in the dry run's JSON.
fn projected_rate(script: &str) -> Result<f64, String> {
    let (code, json, stderr) = tracebound(&[
        "--dry-run",
        "-f",
        "json",
        "--budget",
        "10000",
        // The whole window: the comparison is of rates, not of the verdict.
        "--estimate-min",
        "200",
        "-e",
        script,
    ])?;
    let at = json
        .find("\"probes\": [{\"probe\": 0, \"rate\": ")
        .ok_or_else(|| format!("exit {code}\n{json}{stderr}"))?;
    let rest = &json[at + "\"probes\": [{\"probe\": 0, \"rate\": ".len()..];
    rest.split(',')
        .next()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no rate in\n{json}"))
}

/// The total run count of the programs process `pid` holds, as the kernel accounts them.
fn run_count(pid: u32) -> Result<u64, String> {
    let ids = e2e::held_program_ids(pid);
    if ids.is_empty() {
        return Err(format!("process {pid} holds no program"));
    }
    let mut total = 0;
    for info in aya::programs::loaded_programs() {
        let info = info.map_err(|e| e.to_string())?;
        if ids.contains(&info.id()) {
            total += info.run_count();
        }
    }
    Ok(total)
}

/// The rate the kernel runs the script's programs at over a second, once it is attached.
fn measured_rate(script: &str) -> Result<f64, String> {
    let mut tracer = Tracer::spawn(&["--budget", "10000", "--timeout", "3", "-e", script]);
    tracer.wait_ready(0)?;
    let pid = tracer.pid();
    // The guard has enabled the kernel's accounting by now; let a reading or two pass.
    std::thread::sleep(Duration::from_millis(200));
    let (before, t0) = (run_count(pid)?, Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (after, t1) = (run_count(pid)?, Instant::now());
    let done = tracer.finish(Duration::from_secs(10))?;
    if done.code() != Some(0) {
        return Err(format!(
            "exit {:?}\n{}{}",
            done.code(),
            done.stdout,
            done.stderr
        ));
    }
    Ok(after.saturating_sub(before) as f64 / (t1 - t0).as_secs_f64())
}

fn within_2x(name: &str, script: &str) -> Result<(), String> {
    let projected = projected_rate(script)?;
    let measured = measured_rate(script)?;
    let ratio = projected.max(measured) / projected.min(measured).max(1e-9);
    println!("{name}: projected {projected:.0}/s, run_cnt {measured:.0}/s, ratio {ratio:.2}");
    if ratio > 2.0 {
        return Err(format!(
            "projected {projected:.0}/s, the kernel ran it {measured:.0}/s"
        ));
    }
    Ok(())
}

#[test]
fn estimated_rates_match_the_kernels_run_counts() {
    let Some(env) = e2e::setup("estimated_rates_match_the_kernels_run_counts") else {
        return;
    };
    let mut tally = Tally::default();
    let result = Load::start(&env, &[&["r", "20000", "60"]]).and_then(|_load| {
        within_2x(
            "syscall tracepoint",
            "tracepoint:syscalls:sys_enter_getppid { @calls = count(); }",
        )
    });
    tally.record("syscall tracepoint at 20k/s", result);
    // One getppid() a millisecond, sleeping in between: two switches a millisecond at least.
    let result = Load::start(&env, &[&["r", "1000", "60"]]).and_then(|_load| {
        within_2x(
            "sched tracepoint",
            "tracepoint:sched:sched_switch { @switches = count(); }",
        )
    });
    tally.record("sched_switch", result);
    let result = Load::start(&env, &[&["t", "20000", "60"]]).and_then(|_load| {
        within_2x(
            "uprobe",
            &format!(
                "uprobe:{}:one_stepped {{ @calls = count(); }}",
                env.workload.display()
            ),
        )
    });
    tally.record("uprobe at 20k/s", result);
    // A spinner per CPU: profile samples busy CPUs only.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spin: Vec<&[&str]> = (0..cpus).map(|_| &["b", "60"][..]).collect();
    let result = Load::start(&env, &spin)
        .and_then(|_load| within_2x("profile", "profile:hz:99 { @samples = count(); }"));
    tally.record("profile:hz:99 on busy CPUs", result);
    tally.finish();
}

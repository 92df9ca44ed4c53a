//! `tracebound calibrate`: what a probe's mechanisms and a program's operations cost on this
//! host, measured, so that the estimate prices hits with this machine's numbers.
//!
//! Mechanisms are measured as the slowdown of a getppid() loop in this process with a probe
//! attached, against the loop with nothing attached, in interleaved rounds (every setup once
//! per round, so drift hits them alike) with the median of each kept:
//!
//! | setup                                   | each getppid() pays                      |
//! |-----------------------------------------|------------------------------------------|
//! | nothing                                 | the syscall                              |
//! | a tracepoint on another syscall         | + the syscall tracepoint tax             |
//! | `tracepoint:...:sys_enter_getppid {}`   | + tax + tracepoint + an empty program    |
//! | `rawtracepoint:sys_enter {}`            | + tax + raw tracepoint + an empty program|
//! | `profile:hz:N {}` on a busy loop        | samples, priced by the loop's slowdown   |
//!
//! Program operations come from the kernel's own accounting (BPF_ENABLE_STATS): the average
//! run time of a program doing the operation minus that of an empty one. The result is cached
//! per kernel release and CPU model, and measured by itself the first time it is needed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::attach::AttachedScript;
use crate::estimate::CostModel;

/// Calls of getppid() per measurement.
const CALLS: u64 = 100_000;
const ROUNDS: usize = 5;
/// A round whose baseline differs from the median by more than this is measured again.
const NOISY: f64 = 0.25;
/// Stop adding rounds after this long.
const LIMIT: Duration = Duration::from_secs(8);
const PROFILE_HZ: u64 = 4999;

/// What one calibration found, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub syscall_ns: f64,
    pub tracepoint_ns: f64,
    pub syscall_tax_ns: f64,
    pub raw_tracepoint_ns: f64,
    pub perf_sample_ns: f64,
    pub hash_lookup_ns: f64,
    pub hash_update_ns: f64,
    pub ringbuf_output_ns: f64,
    pub took: Duration,
    pub rounds: usize,
}

impl Calibration {
    /// The cost model with this host's numbers (stack ids and instructions keep the defaults).
    pub fn model(&self) -> CostModel {
        let non_negative = |x: f64| x.max(0.0);
        CostModel {
            tracepoint_ns: non_negative(self.tracepoint_ns),
            syscall_tax_ns: non_negative(self.syscall_tax_ns),
            raw_tracepoint_ns: non_negative(self.raw_tracepoint_ns),
            perf_sample_ns: non_negative(self.perf_sample_ns),
            hash_lookup_ns: non_negative(self.hash_lookup_ns),
            hash_update_ns: non_negative(self.hash_update_ns),
            ringbuf_output_ns: non_negative(self.ringbuf_output_ns),
            source: "calibrated on this host".into(),
            ..CostModel::default()
        }
    }

    pub fn table(&self) -> String {
        let rows = [
            ("getppid() itself", self.syscall_ns),
            ("tracepoint hit", self.tracepoint_ns),
            ("syscall tracepoint tax, every syscall", self.syscall_tax_ns),
            ("raw tracepoint hit", self.raw_tracepoint_ns),
            ("cpu-clock sample", self.perf_sample_ns),
            ("program: hash lookup", self.hash_lookup_ns),
            ("program: hash update", self.hash_update_ns),
            ("program: ring buffer record", self.ringbuf_output_ns),
        ];
        let mut out = format!("{:<40} {:>12}\n", "cost", "ns");
        for (name, ns) in rows {
            out.push_str(&format!("{name:<40} {ns:>12.1}\n"));
        }
        out.push_str(&format!(
            "measured in {:.1} s, {} interleaved rounds, medians\n",
            self.took.as_secs_f64(),
            self.rounds
        ));
        out
    }
}

/// The cached calibration for this host, measured (and cached) when there is none.
pub fn cached_or_measure() -> Result<Calibration, String> {
    if let Some(c) = load_cache() {
        return Ok(c);
    }
    let c = measure()?;
    let _ = save(&c);
    Ok(c)
}

/// Measures everything (a few seconds).
pub fn measure() -> Result<Calibration, String> {
    let started = Instant::now();
    let setups: [Option<&str>; 4] = [
        None,
        Some("tracepoint:syscalls:sys_enter_getpgid { }"),
        Some("tracepoint:syscalls:sys_enter_getppid { }"),
        Some("rawtracepoint:sys_enter { }"),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
    let mut rounds = 0;
    while rounds < ROUNDS || (noisy(&samples[0]) && started.elapsed() < LIMIT) {
        for (i, setup) in setups.iter().enumerate() {
            let _attached = setup.map(AttachedScript::start).transpose()?;
            samples[i].push(getppid_ns(CALLS));
        }
        rounds += 1;
        if started.elapsed() > LIMIT {
            break;
        }
    }
    let [base, tax, tp, raw] = [0, 1, 2, 3].map(|i| median(&samples[i]));

    let (hash_lookup_ns, hash_update_ns, ringbuf_output_ns) = program_costs()?;
    let perf_sample_ns = sample_cost()?;
    Ok(Calibration {
        syscall_ns: base,
        syscall_tax_ns: tax - base,
        tracepoint_ns: tp - tax,
        raw_tracepoint_ns: raw - tax,
        perf_sample_ns,
        hash_lookup_ns,
        hash_update_ns,
        ringbuf_output_ns,
        took: started.elapsed(),
        rounds,
    })
}

fn getppid_ns(calls: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// Average program run time for each operation, less an empty program's, from the kernel's
/// accounting while the getppid() loop fires them.
fn program_costs() -> Result<(f64, f64, f64), String> {
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| e.to_string())?;
    let average = |body: &str, calls: u64| -> Result<f64, String> {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let script = AttachedScript::start(&format!(
                "tracepoint:syscalls:sys_enter_getppid {{ {body} }}"
            ))?;
            getppid_ns(calls);
            let program = &script.compiled.probes[0].program;
            let info = script
                .loaded
                .program(program)
                .ok_or("program not loaded")?
                .info()
                .map_err(|e| e.to_string())?;
            runs.push(info.run_time().as_nanos() as f64 / info.run_count().max(1) as f64);
        }
        Ok(median(&runs))
    };
    let empty = average("", CALLS / 2)?;
    let lookup = average("@c = count();", CALLS / 2)? - empty;
    let update = average("@m[tid] = 1;", CALLS / 2)? - empty;
    // Few enough records to fit the ring buffer: a full buffer fails fast and would look cheap.
    let ringbuf = average("printf(\"x\");", 20_000)? - empty;
    Ok((lookup, update, ringbuf))
}

/// A busy loop's slowdown under a high-rate cpu-clock profile, per sample.
fn sample_cost() -> Result<f64, String> {
    let spin = || {
        let start = Instant::now();
        let mut x = 0u64;
        for i in 0..10_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        start.elapsed().as_secs_f64()
    };
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..3 {
        without.push(spin());
        let _profile = AttachedScript::start(&format!("profile:hz:{PROFILE_HZ} {{ }}"))?;
        with.push(spin());
    }
    let (a, b) = (median(&without), median(&with));
    // Samples that landed on this loop's CPU while it ran.
    let samples = b * PROFILE_HZ as f64;
    Ok(((b - a) * 1e9 / samples).max(0.0))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn noisy(v: &[f64]) -> bool {
    let m = median(v);
    v.iter().any(|x| (x - m).abs() > NOISY * m)
}

/// Kernel release and CPU model: a calibration holds for both.
fn host_key() -> (String, String) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    (kernel, cpu)
}

fn cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("tracebound").join("calibration"))
}

/// Caches a calibration for this host.
pub fn save(c: &Calibration) -> std::io::Result<()> {
    let path = cache_path().ok_or_else(|| std::io::Error::other("no cache directory"))?;
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
    let (kernel, cpu) = host_key();
    let text = format!(
        "kernel = {kernel}\ncpu = {cpu}\nsyscall_ns = {}\ntracepoint_ns = {}\nsyscall_tax_ns = {}\n\
         raw_tracepoint_ns = {}\nperf_sample_ns = {}\nhash_lookup_ns = {}\nhash_update_ns = {}\n\
         ringbuf_output_ns = {}\ntook_ms = {}\nrounds = {}\n",
        c.syscall_ns,
        c.tracepoint_ns,
        c.syscall_tax_ns,
        c.raw_tracepoint_ns,
        c.perf_sample_ns,
        c.hash_lookup_ns,
        c.hash_update_ns,
        c.ringbuf_output_ns,
        c.took.as_millis(),
        c.rounds
    );
    // Written whole, then renamed: a concurrent reader sees the old file or the new one.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

fn load_cache() -> Option<Calibration> {
    let text = std::fs::read_to_string(cache_path()?).ok()?;
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            (k == key).then(|| v.to_string())
        })
    };
    let (kernel, cpu) = host_key();
    if field("kernel")? != kernel || field("cpu")? != cpu {
        return None;
    }
    let number = |key: &str| field(key)?.parse::<f64>().ok();
    Some(Calibration {
        syscall_ns: number("syscall_ns")?,
        tracepoint_ns: number("tracepoint_ns")?,
        syscall_tax_ns: number("syscall_tax_ns")?,
        raw_tracepoint_ns: number("raw_tracepoint_ns")?,
        perf_sample_ns: number("perf_sample_ns")?,
        hash_lookup_ns: number("hash_lookup_ns")?,
        hash_update_ns: number("hash_update_ns")?,
        ringbuf_output_ns: number("ringbuf_output_ns")?,
        took: Duration::from_millis(number("took_ms")? as u64),
        rounds: number("rounds")? as usize,
    })
}

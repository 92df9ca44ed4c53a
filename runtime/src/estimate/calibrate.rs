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
//! | a uprobe on a function of this binary   | per call, a `push` first (emulated) or a |
//! |                                         | `mov` first (single-stepped), and a      |
//! |                                         | uretprobe on top                         |
//!
//! and once more with single hits a millisecond apart (cold caches), for probes whose hits
//! are sparse. A cpu-clock sample is timed directly, at 4999 and at 97 Hz: the gap it makes
//! in a thread reading the clock on the sampled CPU.
//!
//! Program operations come from the kernel's own accounting (BPF_ENABLE_STATS): the average
//! run time of a program doing the operation minus that of an empty one. The result is cached
//! per kernel release and CPU model, and measured by itself the first time it is needed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::estimate::CostModel;
use crate::probes::AttachedScript;

// Two functions whose first instructions are the two classes the kernel handles differently
// when a uprobe hits: a push it emulates, a mov it must single-step.
std::arch::global_asm!(
    ".globl tb_calibrate_emulated",
    ".type tb_calibrate_emulated, @function",
    "tb_calibrate_emulated:",
    "push rbp",
    "pop rbp",
    "mov rax, rdi",
    "ret",
    ".size tb_calibrate_emulated, .-tb_calibrate_emulated",
    ".globl tb_calibrate_stepped",
    ".type tb_calibrate_stepped, @function",
    "tb_calibrate_stepped:",
    "mov rax, rdi",
    "ret",
    ".size tb_calibrate_stepped, .-tb_calibrate_stepped",
);

extern "C" {
    fn tb_calibrate_emulated(x: u64) -> u64;
    fn tb_calibrate_stepped(x: u64) -> u64;
}

/// Calls of getppid() per measurement.
const CALLS: u64 = 100_000;
const ROUNDS: usize = 5;
/// A round whose baseline differs from the median by more than this is measured again.
const NOISY: f64 = 0.25;
/// Stop adding rounds after this long: the other measurements take some 5.5 s more, and the
/// whole must stay under 10 s however noisy the machine.
const LIMIT: Duration = Duration::from_millis(2500);

/// What one calibration found, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub syscall_ns: f64,
    pub tracepoint_ns: f64,
    pub syscall_tax_ns: f64,
    pub raw_tracepoint_ns: f64,
    pub perf_sample_ns: f64,
    /// A sample where samples are sparse (97 Hz).
    pub perf_sample_cold_ns: f64,
    pub hash_lookup_ns: f64,
    pub hash_update_ns: f64,
    pub ringbuf_output_ns: f64,
    pub uprobe_emulated_ns: f64,
    pub uprobe_single_step_ns: f64,
    pub uretprobe_extra_ns: f64,
    /// The same mechanisms hit once a millisecond, with cold caches: what a hit costs where
    /// hits are sparse.
    pub tracepoint_cold_ns: f64,
    pub uprobe_emulated_cold_ns: f64,
    pub uprobe_single_step_cold_ns: f64,
    pub took: Duration,
    pub rounds: usize,
}

impl Calibration {
    /// The cost model with this host's numbers (stack ids and instructions keep the defaults,
    /// as does anything a noisy run measured as free: nothing here costs nothing).
    pub fn model(&self) -> CostModel {
        let d = CostModel::default();
        let or = |measured: f64, default: f64| if measured > 0.0 { measured } else { default };
        CostModel {
            tracepoint_ns: or(self.tracepoint_ns, d.tracepoint_ns),
            syscall_tax_ns: or(self.syscall_tax_ns, d.syscall_tax_ns),
            raw_tracepoint_ns: or(self.raw_tracepoint_ns, d.raw_tracepoint_ns),
            perf_sample_ns: or(self.perf_sample_ns, d.perf_sample_ns),
            perf_sample_cold_ns: or(self.perf_sample_cold_ns, d.perf_sample_cold_ns),
            hash_lookup_ns: or(self.hash_lookup_ns, d.hash_lookup_ns),
            hash_update_ns: or(self.hash_update_ns, d.hash_update_ns),
            ringbuf_output_ns: or(self.ringbuf_output_ns, d.ringbuf_output_ns),
            uprobe_emulated_ns: or(self.uprobe_emulated_ns, d.uprobe_emulated_ns),
            uprobe_single_step_ns: or(self.uprobe_single_step_ns, d.uprobe_single_step_ns),
            uretprobe_extra_ns: or(self.uretprobe_extra_ns, d.uretprobe_extra_ns),
            tracepoint_cold_ns: or(self.tracepoint_cold_ns, d.tracepoint_cold_ns),
            uprobe_emulated_cold_ns: or(self.uprobe_emulated_cold_ns, d.uprobe_emulated_cold_ns),
            uprobe_single_step_cold_ns: or(
                self.uprobe_single_step_cold_ns,
                d.uprobe_single_step_cold_ns,
            ),
            source: "calibrated on this host".into(),
            ..d
        }
    }

    pub fn table(&self) -> String {
        let rows = [
            ("getppid() itself", self.syscall_ns),
            ("tracepoint hit", self.tracepoint_ns),
            ("syscall tracepoint tax, every syscall", self.syscall_tax_ns),
            ("raw tracepoint hit", self.raw_tracepoint_ns),
            ("cpu-clock sample, 4999 a second", self.perf_sample_ns),
            ("program: hash lookup", self.hash_lookup_ns),
            ("program: hash update", self.hash_update_ns),
            ("program: ring buffer record", self.ringbuf_output_ns),
            (
                "uprobe hit, first instruction emulated",
                self.uprobe_emulated_ns,
            ),
            (
                "uprobe hit, first instruction single-stepped",
                self.uprobe_single_step_ns,
            ),
            ("uretprobe, on top of its uprobe", self.uretprobe_extra_ns),
            (
                "tracepoint hit, once a millisecond",
                self.tracepoint_cold_ns,
            ),
            (
                "uprobe hit, emulated, once a millisecond",
                self.uprobe_emulated_cold_ns,
            ),
            (
                "uprobe hit, single-stepped, once a millisecond",
                self.uprobe_single_step_cold_ns,
            ),
            ("cpu-clock sample, 97 a second", self.perf_sample_cold_ns),
        ];
        let mut out = format!("{:<46} {:>12}\n", "cost", "ns");
        for (name, ns) in rows {
            out.push_str(&format!("{name:<46} {ns:>12.1}\n"));
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
    let (perf_sample_ns, perf_sample_cold_ns) = sample_costs()?;
    let (uprobe_emulated_ns, uprobe_single_step_ns, uretprobe_extra_ns) = uprobe_costs()?;
    let (tracepoint_cold_ns, uprobe_emulated_cold_ns, uprobe_single_step_cold_ns) = cold_costs()?;
    Ok(Calibration {
        syscall_ns: base,
        syscall_tax_ns: tax - base,
        tracepoint_ns: tp - tax,
        raw_tracepoint_ns: raw - tax,
        perf_sample_ns,
        perf_sample_cold_ns,
        hash_lookup_ns,
        hash_update_ns,
        ringbuf_output_ns,
        uprobe_emulated_ns,
        uprobe_single_step_ns,
        uretprobe_extra_ns,
        tracepoint_cold_ns,
        uprobe_emulated_cold_ns,
        uprobe_single_step_cold_ns,
        took: started.elapsed(),
        rounds,
    })
}

/// The cost per call of a uprobe (and a uretprobe) on this binary's own two functions.
fn uprobe_costs() -> Result<(f64, f64, f64), String> {
    let per_call = |f: unsafe extern "C" fn(u64) -> u64, calls: u64| {
        let start = Instant::now();
        for i in 0..calls {
            // SAFETY: both functions only move their argument to the return register.
            std::hint::black_box(unsafe { f(i) });
        }
        start.elapsed().as_nanos() as f64 / calls as f64
    };
    let exe = own_binary()?;
    let exe = exe.as_str();
    let with = |probe: &str, function: &str, f: unsafe extern "C" fn(u64) -> u64, calls| {
        let _attached = AttachedScript::start(&format!("{probe}:{exe}:{function} {{ }}"))?;
        Ok::<f64, String>(per_call(f, calls))
    };
    let mut emulated = Vec::new();
    let mut stepped = Vec::new();
    let mut returning = Vec::new();
    for _ in 0..3 {
        let base = per_call(tb_calibrate_emulated, 100_000);
        emulated.push(
            with(
                "uprobe",
                "tb_calibrate_emulated",
                tb_calibrate_emulated,
                50_000,
            )? - base,
        );
        returning.push(
            with(
                "uretprobe",
                "tb_calibrate_emulated",
                tb_calibrate_emulated,
                50_000,
            )? - base,
        );
        let base = per_call(tb_calibrate_stepped, 100_000);
        stepped.push(
            with(
                "uprobe",
                "tb_calibrate_stepped",
                tb_calibrate_stepped,
                10_000,
            )? - base,
        );
    }
    let emulated = median(&emulated);
    // A uretprobe traps at the entry too: what it adds is the return's share.
    Ok((emulated, median(&stepped), median(&returning) - emulated))
}

/// Single hits a millisecond apart: a tracepoint (less the syscall it rides on) and the two
/// uprobe classes, each the median of many timed calls with the probe against without. Caches
/// and branch predictors have gone cold between hits, as they have for a probe that fires a
/// few thousand times a second in a busy process.
fn cold_costs() -> Result<(f64, f64, f64), String> {
    const HITS: usize = 60;
    let paced = |call: &dyn Fn()| {
        let mut times = Vec::with_capacity(HITS);
        for _ in 0..HITS {
            std::thread::sleep(Duration::from_millis(1));
            let start = Instant::now();
            call();
            times.push(start.elapsed().as_nanos() as f64);
        }
        median(&times)
    };
    let getppid = || {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    };
    // SAFETY: both functions only move their argument to the return register.
    let emulated = || {
        std::hint::black_box(unsafe { tb_calibrate_emulated(1) });
    };
    let stepped = || {
        std::hint::black_box(unsafe { tb_calibrate_stepped(1) });
    };
    let exe = own_binary()?;
    let exe = exe.as_str();
    // Three interleaved rounds, the median difference.
    let cost = |script: String, call: &dyn Fn()| -> Result<f64, String> {
        let mut differences = Vec::new();
        for _ in 0..3 {
            let without = paced(call);
            let _attached = AttachedScript::start(&script)?;
            differences.push(paced(call) - without);
        }
        Ok(median(&differences).max(0.0))
    };
    let tracepoint = cost("tracepoint:syscalls:sys_enter_getppid { }".into(), &getppid)?;
    let emulated = cost(
        format!("uprobe:{exe}:tb_calibrate_emulated {{ }}"),
        &emulated,
    )?;
    let stepped = cost(format!("uprobe:{exe}:tb_calibrate_stepped {{ }}"), &stepped)?;
    Ok((tracepoint, emulated, stepped))
}

/// This binary's path, where the two calibration functions live.
fn own_binary() -> Result<String, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| e.to_string())?;
    exe.to_str()
        .map(str::to_string)
        .ok_or_else(|| "the binary's path is not UTF-8".to_string())
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
    // A keyed count, a per-CPU hash's lookup: a key-less one is an array the kernel inlines.
    let lookup = average("@c[1] = count();", CALLS / 2)? - empty;
    let update = average("@m[tid] = 1;", CALLS / 2)? - empty;
    // Few enough records to fit the ring buffer: a full buffer fails fast and would look cheap.
    let ringbuf = average("printf(\"x\");", 20_000)? - empty;
    Ok((lookup, update, ringbuf))
}

/// What a cpu-clock sample takes from the CPU it interrupts, measured directly, at 4999 Hz
/// (warm) and at 97 Hz (cold: caches and predictors gone between samples). This thread, pinned
/// to its CPU, reads the clock in a tight loop and notes every gap; the probe notes when each
/// sample on that CPU ran (`nsecs` is the same clock); the gap holding a sample is what it took:
/// interrupt, timer, perf and the program (a hash insert, which errs high by a little). A
/// busy loop's slowdown measures the same only as well as the loop's speed holds still, and
/// on a shared machine it steps by more than the samples cost.
fn sample_costs() -> Result<(f64, f64), String> {
    // SAFETY: sched_getcpu has no preconditions; the affinity calls only read and write the
    // cpu_set_t given, for this thread.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return Err("cannot tell which CPU this thread is on".into());
    }
    let mut before: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    unsafe {
        libc::sched_getaffinity(0, size, &mut before);
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut one);
        libc::sched_setaffinity(0, size, &one);
    }
    let costs = sample_gap(cpu as u32, 4999, Duration::from_millis(250)).and_then(|warm| {
        Ok((
            warm,
            sample_gap(cpu as u32, 97, Duration::from_millis(1100))?,
        ))
    });
    // SAFETY: as above.
    unsafe { libc::sched_setaffinity(0, size, &before) };
    costs
}

/// The median gap holding a sample of `profile:hz:HZ`, spinning on `cpu` for `span`.
fn sample_gap(cpu: u32, hz: u32, span: Duration) -> Result<f64, String> {
    let monotonic_ns = || {
        // SAFETY: clock_gettime only writes the timespec given.
        let mut t: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    };
    // Only samples that interrupted this thread count: on a busy host the spinner is
    // preempted for whole time slices, and a sample landing in another task's slice would
    // be charged the slice (12 ms read as a sample's cost, and every probe refused).
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let script = AttachedScript::start(&format!(
        "profile:hz:{hz} /cpu == {cpu} && tid == {tid}/ {{ @samples[nsecs] = 1; }}"
    ))?;
    // (start, length) of every gap over 500 ns; the loop reads the clock every ~25 ns.
    let mut gaps: Vec<(u64, u64)> = Vec::with_capacity(200_000);
    let mut last = monotonic_ns();
    let end = last + span.as_nanos() as u64;
    while last < end {
        let now = monotonic_ns();
        if now - last > 500 && gaps.len() < gaps.capacity() {
            gaps.push((last, now - last));
        }
        last = now;
    }
    let info = script
        .compiled
        .info
        .maps
        .iter()
        .find(|m| m.name == "samples")
        .ok_or("the samples map is not in the script")?;
    let samples = crate::probes::snapshot::map_bytes(&script.loaded, info)
        .map_err(|e| e.to_string())?
        .entries()
        .map_err(|e| e.to_string())?;
    let held: Vec<f64> = samples
        .iter()
        .filter_map(|(key, _)| {
            let at = u64::from_ne_bytes(key.get(..8)?.try_into().ok()?);
            let i = gaps
                .partition_point(|&(start, _)| start <= at)
                .checked_sub(1)?;
            let (start, length) = gaps[i];
            (at <= start + length).then_some(length as f64)
        })
        .collect();
    if held.len() < 10 {
        return Err(format!(
            "{} of {} samples at {hz} Hz were found in a gap",
            held.len(),
            samples.len()
        ));
    }
    Ok(median(&held))
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

/// Where the calibration is cached: `$XDG_CACHE_HOME`, else `$HOME/.cache`, else the temporary
/// directory (a service without a home must not re-measure on every run).
pub fn cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    Some(base.join("tracebound").join("calibration"))
}

/// Caches a calibration for this host.
pub fn save(c: &Calibration) -> std::io::Result<()> {
    let path = cache_path().ok_or_else(|| std::io::Error::other("no cache directory"))?;
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
    let (kernel, cpu) = host_key();
    let text = format!(
        "kernel = {kernel}\ncpu = {cpu}\nsyscall_ns = {}\ntracepoint_ns = {}\nsyscall_tax_ns = {}\n\
         raw_tracepoint_ns = {}\nperf_sample_ns = {}\nperf_sample_cold_ns = {}\nhash_lookup_ns = {}\nhash_update_ns = {}\n\
         ringbuf_output_ns = {}\nuprobe_emulated_ns = {}\nuprobe_single_step_ns = {}\n\
         uretprobe_extra_ns = {}\ntracepoint_cold_ns = {}\nuprobe_emulated_cold_ns = {}\n\
         uprobe_single_step_cold_ns = {}\ntook_ms = {}\nrounds = {}\n",
        c.syscall_ns,
        c.tracepoint_ns,
        c.syscall_tax_ns,
        c.raw_tracepoint_ns,
        c.perf_sample_ns,
        c.perf_sample_cold_ns,
        c.hash_lookup_ns,
        c.hash_update_ns,
        c.ringbuf_output_ns,
        c.uprobe_emulated_ns,
        c.uprobe_single_step_ns,
        c.uretprobe_extra_ns,
        c.tracepoint_cold_ns,
        c.uprobe_emulated_cold_ns,
        c.uprobe_single_step_cold_ns,
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
        perf_sample_cold_ns: number("perf_sample_cold_ns")?,
        hash_lookup_ns: number("hash_lookup_ns")?,
        hash_update_ns: number("hash_update_ns")?,
        ringbuf_output_ns: number("ringbuf_output_ns")?,
        uprobe_emulated_ns: number("uprobe_emulated_ns")?,
        uprobe_single_step_ns: number("uprobe_single_step_ns")?,
        uretprobe_extra_ns: number("uretprobe_extra_ns")?,
        tracepoint_cold_ns: number("tracepoint_cold_ns")?,
        uprobe_emulated_cold_ns: number("uprobe_emulated_cold_ns")?,
        uprobe_single_step_cold_ns: number("uprobe_single_step_cold_ns")?,
        took: Duration::from_millis(number("took_ms")? as u64),
        rounds: number("rounds")? as usize,
    })
}

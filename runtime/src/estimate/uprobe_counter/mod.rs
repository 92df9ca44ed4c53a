//! Counting uprobes for the estimate: one small program attached to every uprobe attach point
//! of a binary through one multi-uprobe link, counting hits per attach point, per process and
//! per CPU. One link attaches and detaches thousands of functions in milliseconds (a perf
//! counter per function per CPU takes seconds to close), and the per-process counts give each
//! traced process's slowdown.
//!
//! The program (`program.rs`) is assembled by hand (a few dozen instructions) because aya 0.14
//! can neither load a program for `BPF_TRACE_UPROBE_MULTI` nor create that link.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::kernel::sys::{self, MapBytes};
use crate::probes::UprobePoint;

mod program;
use program::program;

/// Distinct (attach point, process) pairs counted; more are seen in the total only.
const MAX_PAIRS: u32 = 16_384;

/// A process's CPU use is judged over at least this many seconds (a process's clock read
/// twice in a millisecond says nothing of its rate); one seen for less is left unjudged.
const MIN_PROCESS_SPAN: f64 = 0.02;

/// Hits per (point index, process id), per possible CPU.
pub type PairCounts = HashMap<(u32, u32), Vec<u64>>;

#[derive(Default)]
struct LinkSites {
    offsets: Vec<u64>,
    ref_ctr_offsets: Vec<u64>,
    cookies: Vec<u64>,
}

/// The counting program, attached; it counts once opened.
pub struct UprobeCounter {
    /// 0 until every link is in place: attaching thousands of sites takes a while, and the
    /// rates are counts over the time all of them were counting.
    gate: OwnedFd,
    /// Per (point, process): hits per CPU.
    pairs: OwnedFd,
    /// Every hit, per CPU: what the cap is checked against.
    total: OwnedFd,
    links: Vec<OwnedFd>,
    /// Points (cookies) the kernel would not probe: their rate is unknown.
    pub refused: Vec<u64>,
    _program: OwnedFd,
}

/// Links the sites `which` of one binary; when the kernel refuses one site the whole link
/// fails, so a refused group is halved until the sites it refuses are found (and left out).
#[allow(clippy::too_many_arguments)]
fn link_all(
    program: &OwnedFd,
    path: &std::ffi::CStr,
    sites: &LinkSites,
    which: &[usize],
    ret: bool,
    pid: Option<u32>,
    links: &mut Vec<OwnedFd>,
    refused: &mut Vec<u64>,
) -> io::Result<()> {
    let pick = |v: &[u64]| which.iter().map(|&i| v[i]).collect::<Vec<u64>>();
    let attempt = sys::link_uprobe_multi(
        program.as_fd(),
        path,
        &pick(&sites.offsets),
        &pick(&sites.ref_ctr_offsets),
        &pick(&sites.cookies),
        ret,
        pid,
    );
    match attempt {
        Ok(link) => links.push(link),
        // A site the kernel cannot probe (ENOTSUPP, EINVAL): find it.
        Err(e) if matches!(e.raw_os_error(), Some(524) | Some(libc::EINVAL)) => {
            if which.len() == 1 {
                refused.push(sites.cookies[which[0]]);
            } else {
                let (a, b) = which.split_at(which.len() / 2);
                link_all(program, path, sites, a, ret, pid, links, refused)?;
                link_all(program, path, sites, b, ret, pid, links, refused)?;
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

impl UprobeCounter {
    /// Attaches to every point (its index in `points` is its cookie); with `pid`, in that
    /// process only.
    pub fn start(points: &[UprobePoint], pid: Option<u32>) -> io::Result<UprobeCounter> {
        // Few pairs are ever used: allocate them as they come (creating them all takes ms).
        let pairs = sys::map_create(
            sys::MAP_TYPE_PERCPU_HASH,
            8,
            8,
            MAX_PAIRS,
            sys::MAP_F_NO_PREALLOC,
            "tb_est_pairs",
        )?;
        let total = sys::map_create(sys::MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 0, "tb_est_total")?;
        let gate = sys::map_create(sys::MAP_TYPE_ARRAY, 4, 4, 1, 0, "tb_est_gate")?;
        let code: Vec<u8> = program(gate.as_raw_fd(), pairs.as_raw_fd(), total.as_raw_fd())
            .iter()
            .flat_map(|i| i.to_bytes())
            .collect();
        let program = sys::prog_load(
            sys::PROG_TYPE_KPROBE,
            sys::ATTACH_TRACE_UPROBE_MULTI,
            &code,
            "tb_est_uprobes",
        )?;
        // One link per binary and direction: offsets and their cookies.
        let mut groups: HashMap<(&str, bool), LinkSites> = HashMap::new();
        for (cookie, p) in points.iter().enumerate() {
            let sites = groups.entry((&p.path, p.ret)).or_default();
            sites.offsets.push(p.offset);
            sites.ref_ctr_offsets.push(p.ref_ctr_offset);
            sites.cookies.push(cookie as u64);
        }
        let mut links = Vec::new();
        let mut refused = Vec::new();
        for ((path, ret), sites) in groups {
            let path = CString::new(path)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
            let all: Vec<usize> = (0..sites.offsets.len()).collect();
            link_all(
                &program,
                &path,
                &sites,
                &all,
                ret,
                pid,
                &mut links,
                &mut refused,
            )?;
        }
        Ok(UprobeCounter {
            gate,
            pairs,
            total,
            links,
            refused,
            _program: program,
        })
    }

    /// Starts counting.
    pub fn open(&self) -> io::Result<()> {
        MapBytes::new(self.gate.as_fd(), 4, 4, None)
            .update(&0u32.to_ne_bytes(), &1u32.to_ne_bytes())
    }

    /// Hits so far, all points, all CPUs.
    pub fn total(&self) -> io::Result<u64> {
        let slots = sys::possible_cpus()?;
        let map = MapBytes::new(self.total.as_fd(), 4, 8, Some(slots));
        Ok(map
            .lookup(&0u32.to_ne_bytes())?
            .map_or(0, |v| per_cpu_values(&v).iter().sum()))
    }

    /// Detaches every breakpoint; the counts stay readable.
    pub fn stop(&mut self) {
        self.links.clear();
    }

    /// Hits per (point index, process id), per possible CPU.
    pub fn counts(&self) -> io::Result<PairCounts> {
        let slots = sys::possible_cpus()?;
        let map = MapBytes::new(self.pairs.as_fd(), 8, 8, Some(slots));
        let mut out = HashMap::new();
        for (key, value) in map.entries()? {
            let word = |at: usize| u32::from_ne_bytes(key[at..at + 4].try_into().unwrap_or([0; 4]));
            out.insert((word(0), word(4)), per_cpu_values(&value));
        }
        Ok(out)
    }

    /// The processes seen so far.
    pub fn processes(&self) -> io::Result<Vec<u32>> {
        let slots = sys::possible_cpus()?;
        let map = MapBytes::new(self.pairs.as_fd(), 8, 8, Some(slots));
        let mut pids: Vec<u32> = map
            .keys()?
            .iter()
            .map(|k| u32::from_ne_bytes(k[4..8].try_into().unwrap_or([0; 4])))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }
}

/// A process's CPU time while its uprobes were counted (breakpoints included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessCpu {
    pub pid: u32,
    /// CPU nanoseconds per second of the time it was watched.
    pub cpu_ns_per_s: f64,
    /// 1 when it was watched while the counting breakpoints were in (their cost is in
    /// `cpu_ns_per_s`), 0 when after they were gone.
    pub counted_share: f64,
}

/// What the counter found.
#[derive(Clone, Debug, Default)]
pub struct Counted {
    pub counts: PairCounts,
    pub hits: u64,
    /// How long the breakpoints were in place.
    pub seconds: f64,
    /// Whether the counter stopped at its cap before the window ended.
    pub capped: bool,
    pub processes: Vec<ProcessCpu>,
    /// Points the kernel would not probe (by index).
    pub refused: Vec<u64>,
}

/// A process's CPU time (ns) and when it was read.
type CpuClock = (u64, Instant);

/// A process's CPU clock when the counter first saw it, when the counts were read, and once
/// the breakpoints were gone.
struct ProcessClock {
    seen: CpuClock,
    counted: Option<CpuClock>,
    removed: Option<CpuClock>,
}

/// When the counts were read (the breakpoints were removed just after), whether the cap
/// stopped them, and the counts and total then.
struct Stopped {
    at: Instant,
    capped: bool,
    counts: PairCounts,
    hits: u64,
}

/// The counter during the window: stops it at its cap, and reads the CPU clock of each
/// process it sees hit (when first seen and when the counting stops), which is what a
/// process's slowdown is judged against.
pub struct UprobeWatch {
    counter: UprobeCounter,
    cap: u64,
    started: Instant,
    stopped: Option<Stopped>,
    clocks: HashMap<u32, ProcessClock>,
}

impl UprobeWatch {
    pub fn new(counter: UprobeCounter, cap: u64) -> io::Result<UprobeWatch> {
        counter.open()?;
        Ok(UprobeWatch {
            counter,
            cap,
            started: Instant::now(),
            stopped: None,
            clocks: HashMap::new(),
        })
    }

    /// Notes new processes, and stops the counter once it has seen `cap` hits.
    pub fn poll(&mut self) -> Result<(), String> {
        if self.stopped.is_some() {
            return Ok(());
        }
        let err = |e: io::Error| format!("counting uprobes: {e}");
        // Not this process: its own calls while estimating are not the script's to judge.
        let me = std::process::id();
        for pid in self.counter.processes().map_err(err)? {
            if pid == me {
                continue;
            }
            if let Some(ns) = sys::process_cpu_ns(pid) {
                self.clocks.entry(pid).or_insert(ProcessClock {
                    seen: (ns, Instant::now()),
                    counted: None,
                    removed: None,
                });
            }
        }
        if self.counter.total().map_err(err)? >= self.cap {
            self.stop(true)?;
        }
        Ok(())
    }

    /// Reads the counts, then removes the breakpoints: removing them takes tens of
    /// milliseconds, during which they still fire, so the counts and their time are taken
    /// first.
    fn stop(&mut self, capped: bool) -> Result<(), String> {
        let err = |e: io::Error| format!("counting uprobes: {e}");
        for (pid, clock) in self.clocks.iter_mut() {
            clock.counted = sys::process_cpu_ns(*pid).map(|ns| (ns, Instant::now()));
        }
        let counts = self.counter.counts().map_err(err)?;
        let hits = self.counter.total().map_err(err)?;
        let at = Instant::now();
        self.counter.stop();
        for (pid, clock) in self.clocks.iter_mut() {
            clock.removed = sys::process_cpu_ns(*pid).map(|ns| (ns, Instant::now()));
        }
        self.stopped = Some(Stopped {
            at,
            capped,
            counts,
            hits,
        });
        Ok(())
    }

    /// Stops the counter (if the cap has not) and reads it.
    pub fn finish(&mut self) -> Result<Counted, String> {
        self.poll()?;
        if self.stopped.is_none() {
            self.stop(false)?;
        }
        let Some(Stopped {
            at: stopped,
            capped,
            counts,
            hits,
        }) = self.stopped.take()
        else {
            unreachable!("stopped above");
        };
        // A process's own CPU is read with the breakpoints gone, so the window is held open
        // until that reading spans MIN_PROCESS_SPAN: taking the breakpoints' calibrated cost
        // off a reading made while they were in is only as good as the calibration, and an
        // overestimated price leaves the process using nothing, so slowed without bound.
        let removed = self
            .clocks
            .values()
            .filter_map(|c| c.removed)
            .map(|(_, t)| t)
            .min();
        if let Some(removed) = removed {
            let span = Duration::from_secs_f64(MIN_PROCESS_SPAN);
            if let Some(rest) = span.checked_sub(removed.elapsed()) {
                std::thread::sleep(rest + Duration::from_millis(1));
            }
        }
        // Each process's CPU without breakpoints, else (it exited meanwhile) while counted,
        // the breakpoints' own cost in it (taken off later, from the rate and price).
        let processes = self
            .clocks
            .iter()
            .filter_map(|(&pid, clock)| {
                let now = sys::process_cpu_ns(pid).map(|ns| (ns, Instant::now()));
                let rate = |(ns0, t0): CpuClock, (ns1, t1): CpuClock| {
                    let seconds = t1.duration_since(t0).as_secs_f64();
                    (seconds >= MIN_PROCESS_SPAN).then(|| ns1.saturating_sub(ns0) as f64 / seconds)
                };
                let clean = clock.removed.zip(now).and_then(|(a, b)| rate(a, b));
                let (cpu_ns_per_s, counted_share) = match clean {
                    Some(ns) => (ns, 0.0),
                    None => (rate(clock.seen, clock.counted?)?, 1.0),
                };
                Some(ProcessCpu {
                    pid,
                    cpu_ns_per_s,
                    counted_share,
                })
            })
            .collect();
        Ok(Counted {
            hits,
            counts,
            seconds: stopped.duration_since(self.started).as_secs_f64().max(1e-6),
            capped,
            processes,
            refused: self.counter.refused.clone(),
        })
    }
}

fn per_cpu_values(value: &[u8]) -> Vec<u64> {
    value
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts this test binary's own function, called a known number of times.
    #[test]
    fn counts_calls_per_process() {
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        let me = std::env::current_exe().unwrap();
        let (offset, _) = crate::facts::binary::function_entry(&me, "tb_uprobe_counter_target")
            .expect("the target is in the symbol table");
        let point = UprobePoint {
            path: me.to_str().unwrap().to_string(),
            offset,
            ret: false,
            ref_ctr_offset: 0,
        };
        let mut counter = UprobeCounter::start(&[point], None).expect("attach");
        // Not counting until opened.
        std::hint::black_box(tb_uprobe_counter_target(1));
        assert_eq!(counter.total().unwrap(), 0);
        counter.open().unwrap();
        for i in 0..1000 {
            std::hint::black_box(tb_uprobe_counter_target(i));
        }
        counter.stop();
        let counts = counter.counts().unwrap();
        let mine = counts
            .get(&(0, std::process::id()))
            .map_or(0, |v| v.iter().sum::<u64>());
        assert_eq!(mine, 1000, "{counts:?}");
        assert_eq!(counter.total().unwrap(), 1000);
    }

    /// While a uprobe is on a function (here the counter's own), the function's first bytes
    /// read as the file holds them, not as the kernel's breakpoint (`int3`, which a private
    /// mapping of the file would show, so that another tracer's uprobe made the function
    /// look unprobeable and its rate unknown).
    #[test]
    fn a_probed_function_reads_as_the_file_holds_it() {
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        let me = std::env::current_exe().unwrap();
        let file = std::fs::read(&me).unwrap();
        let (offset, _) = crate::facts::binary::function_entry(&me, "tb_uprobe_counter_target")
            .expect("the target is in the symbol table");
        let point = UprobePoint {
            path: me.to_str().unwrap().to_string(),
            offset,
            ret: false,
            ref_ctr_offset: 0,
        };
        let _counter = UprobeCounter::start(&[point], None).expect("attach");
        let (_, code) = crate::facts::binary::function_entry(&me, "tb_uprobe_counter_target")
            .expect("the target is in the symbol table");
        let at = offset as usize;
        assert_eq!(code, file[at..at + code.len()], "read under a uprobe");
        assert_ne!(code[0], 0xcc, "the breakpoint, not the function");
    }

    #[inline(never)]
    #[no_mangle]
    extern "C" fn tb_uprobe_counter_target(x: u64) -> u64 {
        std::hint::black_box(x * 3 + 1)
    }
}

//! Fire rates of a script's attach points, measured before anything of the script is
//! attached, per CPU, within a window, each by the cheapest mechanism for its family (each
//! probe kind's `Mechanism::counting` says which):
//!
//! - timers (`interval`, `profile`) from their definition;
//! - syscall tracepoints through one raw tracepoint program on `sys_enter` that counts by
//!   syscall number (one attach and one detach for any number of syscalls; a perf counter per
//!   tracepoint per CPU would take seconds to close for `sys_enter_*`), detached at a cap;
//! - uprobes through one program on a multi-uprobe link per binary, counting per attach point
//!   and per process (which gives each traced process's slowdown), detached at a cap;
//! - other tracepoints through one raw tracepoint program linked to each, counting its runs
//!   per point and CPU up to a cap (`tracepoint_counter`: a perf counter would count the
//!   event's `__perf_count` value, not its hits);
//! - software events by counting-only perf events that stop at a cap.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::Target;

use super::syscall_counter::{SyscallCounter, SyscallCounts, SYSCALL_CAP};
use super::tracepoint_counter::TracepointCounter;
pub use super::uprobe_counter::ProcessCpu;
use super::uprobe_counter::{UprobeCounter, UprobeWatch};
use crate::facts::syscalls::{syscall_number, syscall_numbers};
use crate::kernel::perf_counter::Counter;
use crate::probes::{mechanism_of, Count, Counting, Defined, UprobePoint};

/// Events each perf counter may see per CPU before it stops itself (uprobes: in all, times
/// the CPUs).
pub const COUNTER_CAP: u64 = 2_000;

/// How often the uprobe counter is checked against its cap.
const UPROBE_POLL: Duration = Duration::from_millis(5);
/// When the counts are first looked at for whether the verdict is known; each look waits
/// twice as long as the one before, up to `LAST_LOOK`, so that the estimate's own wake-ups
/// (a sched_switch each way, a few syscalls) stay few in what it counts.
const FIRST_LOOK: Duration = Duration::from_millis(2);
const LAST_LOOK: Duration = Duration::from_millis(64);

/// How an attach point's rate was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    /// From the probe's definition (timers, BEGIN/END).
    Defined,
    /// Counted by a perf counter per CPU (software events).
    PerfCounter,
    /// Counted by the raw tracepoint program linked to each tracepoint.
    TracepointCounter,
    /// Counted by the one raw tracepoint program on `sys_enter`.
    SyscallCounter,
    /// Counted by the program on multi-uprobe links.
    UprobeCounter,
    /// Not measurable here (the estimate treats it as 0 and says so).
    Unknown,
}

/// One attach point's rate.
#[derive(Clone, Debug)]
pub struct FireRate {
    pub target: Target,
    /// Events per second on each online CPU.
    pub per_cpu: Vec<f64>,
    pub measured: Measured,
    /// A counter stopped at its cap: the rate is measured over less than the window.
    pub capped: bool,
    /// For a uprobe: whether the kernel emulates its first instruction (`None`: unknown).
    pub first_emulated: Option<bool>,
    /// For a uprobe: events per second in each process that hit it (pid, rate).
    pub per_process: Vec<(u32, f64)>,
    /// What the count behind the rate covered, where it was counted.
    pub counted: Option<Counted>,
}

/// The hits behind a measured rate: counted from `since_ns` (CLOCK_MONOTONIC) on each online
/// CPU for `seconds` (less than the window where a cap stopped it).
#[derive(Clone, Debug, PartialEq)]
pub struct Counted {
    pub since_ns: u64,
    /// (CPU, hits, seconds).
    pub per_cpu: Vec<(u32, u64, f64)>,
}

impl FireRate {
    pub fn total(&self) -> f64 {
        self.per_cpu.iter().sum()
    }
}

/// Everything the estimate found.
#[derive(Clone, Debug)]
pub struct Rates {
    /// Per probe (in `Compiled::probes` order), per attach point.
    pub probes: Vec<Vec<FireRate>>,
    /// All syscalls per second, per CPU (every syscall pays a tax while a syscall tracepoint
    /// is enabled); `None` when the script has no syscall tracepoint.
    pub all_syscalls: Option<Vec<f64>>,
    /// The CPU time of every process a uprobe fired in, while it was counted.
    pub processes: Vec<ProcessCpu>,
    /// Events the measurement itself saw, by mechanism (what it cost).
    pub hits: Hits,
    /// How long measuring took.
    pub took: Duration,
    /// How long the counters counted, and why they stopped then.
    pub measured: Duration,
    pub stopped: String,
}

/// The counts so far, mid-window: what the verdict is judged on before the window is over.
#[derive(Clone, Debug, Default)]
pub struct Partial {
    /// Per probe (in `Compiled::probes` order), per attach point: its hits and seconds on
    /// each online CPU, or `None` where the rate is not counted (timers, unknown).
    pub points: Vec<Vec<Option<PointCount>>>,
    /// Per probe, per attach point: its rate's definition, where it has one (timers).
    pub defined: Vec<Vec<Option<Defined>>>,
    /// Every syscall, per CPU (the tax), where a syscall tracepoint is counted.
    pub all_syscalls: Option<Vec<(u64, f64)>>,
}

/// One attach point's count so far: (hits, seconds) per online CPU; the rate is hits over
/// seconds times `scale` (a software probe fires once per `period` events).
#[derive(Clone, Debug)]
pub struct PointCount {
    pub per_cpu: Vec<(u64, f64)>,
    pub scale: f64,
}

/// Looks at the counts mid-window; `Some(reason)` stops the measuring there.
pub type Decide<'a> = &'a mut dyn FnMut(&Partial) -> Option<String>;

/// Events the measurement saw, by how it saw them.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// Perf counter events (software events).
    pub perf: u64,
    /// Tracepoint hits the tracepoint counter saw.
    pub tracepoints: u64,
    /// Syscalls the `sys_enter` counter saw (every syscall during its window).
    pub syscalls: u64,
    /// Uprobe hits per attach point: (hits, first instruction emulated, uretprobe).
    pub uprobes: Vec<(u64, Option<bool>, bool)>,
}

impl Hits {
    pub fn total(&self) -> u64 {
        self.perf + self.tracepoints + self.syscalls + self.uprobes.iter().map(|u| u.0).sum::<u64>()
    }
}

/// Measures every attach point of `compiled` for at most `window`; with `pid`, uprobes count
/// in that process only (as they will fire). With `decide`, the counts are looked at every few
/// milliseconds once `min_window` is over, and measuring stops as soon as it says why.
pub fn measure(
    compiled: &Compiled,
    window: Duration,
    min_window: Duration,
    tracefs: &Path,
    pid: Option<u32>,
    mut decide: Option<Decide>,
) -> Result<Rates, String> {
    let started = Instant::now();
    let cpus = crate::kernel::sys::online_cpus().map_err(|e| format!("online CPUs: {e}"))?;
    // Each probe's kind says how each of its attach points is counted.
    let counts: Vec<Vec<Count>> = compiled
        .probes
        .iter()
        .map(|p| mechanism_of(p.kind).counting(&p.targets, tracefs))
        .collect();
    let mut meters = Meters::start(compiled, &counts, cpus, pid)?;
    // A profile probe samples a CPU only while it is busy (an idle CPU's cpu-clock does not
    // run), so its rate is its frequency times each CPU's busy share over the window.
    let has_profile = counts
        .iter()
        .flatten()
        .any(|c| matches!(c.how, Counting::Defined(Defined::BusyCpus { .. })));
    let busy_before = has_profile.then(cpu_times).flatten();
    meters.open()?;
    let loop_started = Instant::now();
    let mut stopped = format!("the whole window ({} ms)", window.as_millis());
    if meters.counts_anything() || has_profile {
        let end = loop_started + window;
        let mut look = FIRST_LOOK;
        while Instant::now() < end {
            let pause = if meters.uprobes.is_some() {
                UPROBE_POLL
            } else {
                look
            };
            look = (look * 2).min(LAST_LOOK);
            std::thread::sleep(pause.min(end.saturating_duration_since(Instant::now())));
            meters.poll()?;
            let Some(decide) = decide.as_mut() else {
                continue;
            };
            if loop_started.elapsed() < min_window {
                continue;
            }
            let partial = meters.partial(loop_started.elapsed().as_secs_f64())?;
            if let Some(reason) = decide(&partial) {
                stopped = reason;
                break;
            }
        }
    }
    let measured = loop_started.elapsed();
    let busy = busy_shares(&meters.cpus, busy_before);
    let (probes, all_syscalls, processes, hits) = meters.finish(&busy, measured)?;
    Ok(Rates {
        probes,
        all_syscalls,
        processes,
        hits,
        took: started.elapsed(),
        measured,
        stopped,
    })
}

/// What `Meters::finish` found: the rates per probe and attach point, all syscalls per CPU,
/// the uprobes' processes, and the hits the measurement saw.
type Finished = (Vec<Vec<FireRate>>, Option<Vec<f64>>, Vec<ProcessCpu>, Hits);

/// Everything that counts during one window, each attach point handed to the counter its
/// kind names: perf counters per CPU, the tracepoint counter, the syscall counter, the
/// uprobe counter. An attach point is `(probe index, target index)`.
struct Meters<'a> {
    compiled: &'a Compiled,
    counts: &'a [Vec<Count>],
    cpus: Vec<u32>,
    numbers: HashMap<String, u64>,
    perf_since: u64,
    perf: HashMap<(usize, usize), Vec<Counter>>,
    syscall_points: Vec<(usize, usize, String)>,
    /// Other tracepoints, counted together; the index is the counter's cookie.
    tracepoint_points: Vec<(usize, usize, &'a str)>,
    /// Uprobe attach points, counted together; the index is the counter's cookie.
    uprobe_points: Vec<(usize, usize, UprobePoint)>,
    tracepoints: Option<TracepointCounter>,
    syscalls: Option<(SyscallCounter, Instant)>,
    /// The syscall counter's counts once it stopped (at its cap, or at the end).
    syscall_counts: Option<SyscallCounts>,
    uprobes: Option<UprobeWatch>,
}

impl<'a> Meters<'a> {
    /// Hands each attach point to its counter and starts them all (the tracepoint counter
    /// counts only once `open`).
    fn start(
        compiled: &'a Compiled,
        counts: &'a [Vec<Count>],
        cpus: Vec<u32>,
        pid: Option<u32>,
    ) -> Result<Meters<'a>, String> {
        let mut m = Meters {
            compiled,
            counts,
            cpus,
            numbers: syscall_numbers(),
            perf_since: super::tracepoint_counter::monotonic_ns(),
            perf: HashMap::new(),
            syscall_points: Vec::new(),
            tracepoint_points: Vec::new(),
            uprobe_points: Vec::new(),
            tracepoints: None,
            syscalls: None,
            syscall_counts: None,
            uprobes: None,
        };
        for (pi, (probe, counts)) in compiled.probes.iter().zip(counts).enumerate() {
            for (ti, (target, count)) in probe.targets.iter().zip(counts).enumerate() {
                match &count.how {
                    Counting::PerfEvent { event, .. } => {
                        let per_cpu = m
                            .cpus
                            .iter()
                            .map(|&cpu| Counter::start(event, -1, cpu as i32, COUNTER_CAP))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| format!("counting {target}: {e}"))?;
                        m.perf.insert((pi, ti), per_cpu);
                    }
                    Counting::Syscall { name } => m.syscall_points.push((pi, ti, name.clone())),
                    Counting::Tracepoint { name } => m.tracepoint_points.push((pi, ti, name)),
                    Counting::Uprobe(point) => m.uprobe_points.push((pi, ti, point.clone())),
                    Counting::Defined(_) | Counting::Unknown => {}
                }
            }
        }
        m.start_shared(pid)?;
        Ok(m)
    }

    /// Starts the counters shared by many attach points.
    fn start_shared(&mut self, pid: Option<u32>) -> Result<(), String> {
        if !self.tracepoint_points.is_empty() {
            let names: Vec<&str> = self.tracepoint_points.iter().map(|p| p.2).collect();
            self.tracepoints = Some(
                TracepointCounter::start(&names, COUNTER_CAP)
                    .map_err(|e| format!("counting tracepoints: {e}"))?,
            );
        }
        if !self.syscall_points.is_empty() {
            let returns = self
                .syscall_points
                .iter()
                .any(|(_, _, name)| name.starts_with("sys_exit_"));
            self.syscalls = Some(SyscallCounter::start(returns)?);
        }
        if !self.uprobe_points.is_empty() {
            let points: Vec<UprobePoint> = self
                .uprobe_points
                .iter()
                .map(|(_, _, p)| p.clone())
                .collect();
            let counter =
                UprobeCounter::start(&points, pid).map_err(|e| format!("counting uprobes: {e}"))?;
            let cap = COUNTER_CAP * self.cpus.len().max(1) as u64;
            let watch =
                UprobeWatch::new(counter, cap).map_err(|e| format!("counting uprobes: {e}"))?;
            self.uprobes = Some(watch);
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), String> {
        if let Some(t) = &mut self.tracepoints {
            t.open().map_err(|e| format!("counting tracepoints: {e}"))?;
        }
        Ok(())
    }

    fn counts_anything(&self) -> bool {
        !self.perf.is_empty()
            || self.tracepoints.is_some()
            || self.syscalls.is_some()
            || self.uprobes.is_some()
    }

    /// Between looks: the uprobe counter checked against its cap, the syscall counter
    /// stopped at its own.
    fn poll(&mut self) -> Result<(), String> {
        if let Some(u) = &mut self.uprobes {
            u.poll()?;
        }
        if let Some((s, _)) = &self.syscalls {
            if s.seen()? >= SYSCALL_CAP * self.cpus.len().max(1) as u64 {
                let (s, started) = self.syscalls.take().expect("checked above");
                self.syscall_counts = Some(s.finish(started, true, &self.cpus)?);
            }
        }
        Ok(())
    }

    /// The counts so far, `elapsed` seconds into the window.
    fn partial(&self, elapsed: f64) -> Result<Partial, String> {
        let mut partial = Partial {
            points: self
                .compiled
                .probes
                .iter()
                .map(|p| vec![None; p.targets.len()])
                .collect(),
            defined: self
                .counts
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|c| match c.how {
                            Counting::Defined(d) => Some(d),
                            _ => None,
                        })
                        .collect()
                })
                .collect(),
            all_syscalls: None,
        };
        for (&(pi, ti), cs) in &self.perf {
            let mut per_cpu = Vec::with_capacity(cs.len());
            for c in cs {
                let r = c.read().map_err(|e| format!("reading a counter: {e}"))?;
                let seconds = if r.capped {
                    r.enabled_ns as f64 / 1e9
                } else {
                    elapsed
                };
                per_cpu.push((r.count, seconds.max(1e-6)));
            }
            let scale = match self.counts[pi][ti].how {
                Counting::PerfEvent { period, .. } => 1.0 / period.max(1) as f64,
                _ => 1.0,
            };
            partial.points[pi][ti] = Some(PointCount { per_cpu, scale });
        }
        if let Some(t) = &self.tracepoints {
            let counted = t
                .peek(&self.cpus)
                .map_err(|e| format!("counting tracepoints: {e}"))?;
            for ((pi, ti, _), count) in self.tracepoint_points.iter().zip(counted) {
                partial.points[*pi][*ti] = count.map(|per_cpu| PointCount {
                    per_cpu: per_cpu.iter().map(|c| (c.hits, c.seconds)).collect(),
                    scale: 1.0,
                });
            }
        }
        self.partial_syscalls(&mut partial)?;
        Ok(partial)
    }

    /// The syscall counter's part of `partial`: every syscall per CPU, and each point's.
    fn partial_syscalls(&self, partial: &mut Partial) -> Result<(), String> {
        let counts = match (&self.syscalls, &self.syscall_counts) {
            (Some((s, started)), _) => s.peek(*started, false, &self.cpus)?,
            (None, Some(done)) => done.clone(),
            (None, None) => return Ok(()),
        };
        let n = self.cpus.len();
        let seconds = counts.seconds;
        let mut total = vec![(0u64, seconds); n];
        for per_cpu in counts.calls.values() {
            for (t, c) in total.iter_mut().zip(per_cpu) {
                t.0 += c;
            }
        }
        partial.all_syscalls = Some(total);
        for (pi, ti, name) in &self.syscall_points {
            let Some(nr) = syscall_number(&self.numbers, name) else {
                continue;
            };
            let counted_by = match &counts.returns {
                Some(returns) if name.starts_with("sys_exit_") => returns,
                _ => &counts.calls,
            };
            let per_cpu = counted_by.get(&nr).cloned().unwrap_or_else(|| vec![0; n]);
            partial.points[*pi][*ti] = Some(PointCount {
                per_cpu: per_cpu.iter().map(|&c| (c, seconds)).collect(),
                scale: 1.0,
            });
        }
        Ok(())
    }

    /// Stops every counter and turns the counts into rates; `busy` is each CPU's busy share
    /// over the window, `measured` how long it was.
    fn finish(mut self, busy: &[f64], measured: Duration) -> Result<Finished, String> {
        if let Some((s, started)) = self.syscalls.take() {
            self.syscall_counts = Some(s.finish(started, false, &self.cpus)?);
        }
        let mut hits = Hits::default();
        let mut probes = self.perf_and_defined_rates(busy, measured, &mut hits)?;
        self.perf.clear();
        self.tracepoint_rates(&mut probes, &mut hits)?;
        let processes = self.uprobe_rates(&mut probes, &mut hits)?;
        let all_syscalls = self.syscall_rates(&mut probes, &mut hits);
        Ok((probes, all_syscalls, processes, hits))
    }

    /// Every attach point's rate from its perf counters or its definition; the points the
    /// shared counters count are filled in after.
    fn perf_and_defined_rates(
        &self,
        busy: &[f64],
        measured: Duration,
        hits: &mut Hits,
    ) -> Result<Vec<Vec<FireRate>>, String> {
        let window_s = measured.as_secs_f64().max(1e-6);
        let mut probes = Vec::new();
        for (pi, (probe, counts)) in self.compiled.probes.iter().zip(self.counts).enumerate() {
            let mut rates = Vec::new();
            for (ti, (target, count)) in probe.targets.iter().zip(counts).enumerate() {
                let mut rate = FireRate {
                    target: target.clone(),
                    per_cpu: Vec::new(),
                    measured: Measured::Unknown,
                    capped: false,
                    first_emulated: count.first_emulated,
                    per_process: Vec::new(),
                    counted: None,
                };
                match self.perf.get(&(pi, ti)) {
                    Some(cs) => self.perf_rate(&mut rate, cs, &count.how, window_s, hits)?,
                    None => {
                        (rate.per_cpu, rate.measured, rate.capped) = defined_rate(&count.how, busy)
                    }
                }
                rates.push(rate);
            }
            probes.push(rates);
        }
        Ok(probes)
    }

    fn perf_rate(
        &self,
        rate: &mut FireRate,
        counters: &[Counter],
        how: &Counting,
        window_s: f64,
        hits: &mut Hits,
    ) -> Result<(), String> {
        let mut spans = Vec::with_capacity(counters.len());
        for (c, &cpu) in counters.iter().zip(&self.cpus) {
            let r = c
                .read()
                .map_err(|e| format!("reading {}: {e}", rate.target))?;
            hits.perf += r.count;
            rate.capped |= r.capped;
            let seconds = if r.capped {
                (r.enabled_ns as f64 / 1e9).max(1e-6)
            } else {
                window_s
            };
            rate.per_cpu.push(r.count as f64 / seconds);
            spans.push((cpu, r.count, seconds));
        }
        rate.counted = Some(Counted {
            since_ns: self.perf_since,
            per_cpu: spans,
        });
        if let Counting::PerfEvent { period, .. } = how {
            // A software probe fires once per `period` events.
            rate.per_cpu
                .iter_mut()
                .for_each(|r| *r /= (*period).max(1) as f64);
        }
        rate.measured = Measured::PerfCounter;
        Ok(())
    }

    fn tracepoint_rates(
        &mut self,
        probes: &mut [Vec<FireRate>],
        hits: &mut Hits,
    ) -> Result<(), String> {
        let Some(t) = self.tracepoints.take() else {
            return Ok(());
        };
        let since_ns = t.opened_ns();
        let counted = t
            .finish(&self.cpus)
            .map_err(|e| format!("counting tracepoints: {e}"))?;
        for ((pi, ti, _), count) in self.tracepoint_points.iter().zip(counted) {
            let rate = &mut probes[*pi][*ti];
            let Some(per_cpu) = count else {
                rate.measured = Measured::Unknown;
                continue;
            };
            rate.per_cpu = per_cpu.iter().map(|c| c.hits as f64 / c.seconds).collect();
            rate.counted = Some(Counted {
                since_ns,
                per_cpu: self
                    .cpus
                    .iter()
                    .zip(&per_cpu)
                    .map(|(&cpu, c)| (cpu, c.hits, c.seconds))
                    .collect(),
            });
            rate.capped = per_cpu.iter().any(|c| c.capped);
            rate.measured = Measured::TracepointCounter;
            hits.tracepoints += per_cpu.iter().map(|c| c.hits).sum::<u64>();
        }
        Ok(())
    }

    /// The uprobe points' rates, per CPU and per process; returns the processes' CPU use.
    fn uprobe_rates(
        &mut self,
        probes: &mut [Vec<FireRate>],
        hits: &mut Hits,
    ) -> Result<Vec<ProcessCpu>, String> {
        let Some(u) = &mut self.uprobes else {
            return Ok(Vec::new());
        };
        let counted = u.finish()?;
        for (cookie, (pi, ti, point)) in self.uprobe_points.iter().enumerate() {
            let rate = &mut probes[*pi][*ti];
            rate.measured = if counted.refused.contains(&(cookie as u64)) {
                Measured::Unknown
            } else {
                Measured::UprobeCounter
            };
            rate.capped = counted.capped;
            rate.per_cpu = vec![0.0; self.cpus.len()];
            for (&(index, pid), per_cpu) in &counted.counts {
                if index as usize != cookie {
                    continue;
                }
                for (r, &cpu) in rate.per_cpu.iter_mut().zip(&self.cpus) {
                    *r += per_cpu.get(cpu as usize).copied().unwrap_or(0) as f64 / counted.seconds;
                }
                let total: u64 = per_cpu.iter().sum();
                rate.per_process.push((pid, total as f64 / counted.seconds));
                hits.uprobes.push((total, rate.first_emulated, point.ret));
            }
        }
        Ok(counted.processes)
    }

    /// The syscall points' rates; returns every syscall's rate per CPU (the tax).
    fn syscall_rates(&self, probes: &mut [Vec<FireRate>], hits: &mut Hits) -> Option<Vec<f64>> {
        let SyscallCounts {
            calls,
            returns,
            since_ns,
            seconds,
            capped,
        } = self.syscall_counts.as_ref()?;
        let n = self.cpus.len();
        let mut total = vec![0.0; n];
        for per_cpu in calls.values() {
            for (t, c) in total.iter_mut().zip(per_cpu) {
                *t += *c as f64 / seconds;
                hits.syscalls += c;
            }
        }
        for (pi, ti, name) in &self.syscall_points {
            let rate = &mut probes[*pi][*ti];
            let Some(nr) = syscall_number(&self.numbers, name) else {
                rate.measured = Measured::Unknown;
                continue;
            };
            let counted_by = match returns {
                Some(returns) if name.starts_with("sys_exit_") => returns,
                _ => calls,
            };
            let per_cpu = counted_by.get(&nr).cloned().unwrap_or_else(|| vec![0; n]);
            rate.per_cpu = per_cpu.iter().map(|&c| c as f64 / seconds).collect();
            rate.counted = Some(Counted {
                since_ns: *since_ns,
                per_cpu: self
                    .cpus
                    .iter()
                    .zip(&per_cpu)
                    .map(|(&cpu, &c)| (cpu, c, *seconds))
                    .collect(),
            });
            rate.measured = Measured::SyscallCounter;
            rate.capped = *capped;
        }
        Some(total)
    }
}

/// Each CPU's busy share between `before` and now (1 where unknown).
fn busy_shares(cpus: &[u32], before: Option<HashMap<u32, (u64, u64)>>) -> Vec<f64> {
    match (before, cpu_times()) {
        (Some(before), Some(after)) => cpus
            .iter()
            .map(|&c| {
                let (b0, t0) = before.get(&c).copied().unwrap_or_default();
                let (b1, t1) = after.get(&c).copied().unwrap_or_default();
                if t1 > t0 {
                    (b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64
                } else {
                    1.0
                }
            })
            .collect(),
        _ => vec![1.0; cpus.len().max(1)],
    }
}

/// Rates known without measuring: BEGIN/END fire once, timers as defined.
/// `busy` is each CPU's busy share (profile samples only busy CPUs).
pub(super) fn defined_rate(how: &Counting, busy: &[f64]) -> (Vec<f64>, Measured, bool) {
    let mut per_cpu = vec![0.0; busy.len()];
    let Counting::Defined(defined) = how else {
        return (per_cpu, Measured::Unknown, false);
    };
    match *defined {
        Defined::Once => {}
        Defined::OneCpu { hz } => per_cpu[0] = hz,
        Defined::BusyCpus { hz } => {
            for (r, b) in per_cpu.iter_mut().zip(busy) {
                *r = hz * b;
            }
        }
    }
    (per_cpu, Measured::Defined, false)
}

/// Each CPU's busy and total time so far (`/proc/stat`, in ticks): everything but idle and
/// iowait is busy.
fn cpu_times() -> Option<HashMap<u32, (u64, u64)>> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        let Ok(cpu) = cpu.parse::<u32>() else {
            continue; // the "cpu" total line
        };
        let ticks: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        out.insert(cpu, (total.saturating_sub(idle), total));
    }
    Some(out)
}

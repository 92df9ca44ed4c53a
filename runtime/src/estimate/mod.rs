//! What a script will cost, before anything of it is attached: (events per second) x (cost per
//! event) for every attach point, plus the tax every syscall pays while a syscall tracepoint is
//! enabled, as a share of the busiest CPU and of the machine; and the budget that refuses a
//! script over it.
//!
//! `rate` measures fire rates, `budget` judges, `clearance` is what a judgment that does not
//! refuse gives and attaching requires, `narrow` finds what `--auto-filter` leaves out,
//! `report` prints the `--dry-run` table; `tracepoint_counter` (one raw tracepoint program, a
//! link per tracepoint), `syscall_counter` (one raw tracepoint) and `uprobe_counter` (one
//! multi-uprobe link per binary) are how `rate` counts, with the kernel's counting perf
//! events (`kernel::perf_counter`). What one hit costs is `crate::cost`, which the probe kinds
//! read as well.

mod assembler;
pub mod budget;
pub mod calibrate;
pub mod clearance;
pub mod dispatch;
pub mod ending;
pub mod narrow;
pub mod rate;
pub mod report;
pub mod ring;
pub mod syscall_counter;
pub mod tracepoint_counter;
pub mod uprobe_counter;

use std::time::Duration;

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::ProviderKind;

pub use crate::cost::CostModel;
pub use budget::{Budget, Verdict};
pub use clearance::Clearance;
use rate::FireRate;

/// One attach point's projection.
#[derive(Clone, Debug)]
pub struct PointCost {
    pub rate: FireRate,
    /// Nanoseconds per hit: mechanism (back-to-back hits; `mechanism_cold_ns` where they are
    /// sparse) plus program.
    pub mechanism_ns: f64,
    pub mechanism_cold_ns: f64,
    pub program_ns: f64,
    /// Why the mechanism costs what it does, where it depends on the point (uprobes).
    pub why: Option<&'static str>,
    /// For a probe that ends the run on every hit: the rate it was measured at. Its `rate`
    /// is then what it can take before the run ends, one hit per CPU at most.
    pub ends_run: Option<f64>,
}

impl PointCost {
    /// Per hit, at the rate of the CPU it fires on most.
    pub fn per_hit_ns(&self) -> f64 {
        let busiest = self.rate.per_cpu.iter().copied().fold(0.0, f64::max);
        self.per_hit_at(busiest)
    }

    /// Per hit at `rate` hits a second on one CPU: the sparser, the colder.
    pub fn per_hit_at(&self, rate: f64) -> f64 {
        let cold = crate::cost::coldness(rate);
        self.mechanism_ns + cold * (self.mechanism_cold_ns - self.mechanism_ns) + self.program_ns
    }

    /// CPU nanoseconds per second it takes on each CPU.
    pub fn per_cpu_ns(&self) -> Vec<f64> {
        self.rate
            .per_cpu
            .iter()
            .map(|&r| r * self.per_hit_at(r))
            .collect()
    }
}

/// One probe (as written) with its attach points.
#[derive(Clone, Debug)]
pub struct ProbeCost {
    /// Index among the script's probes, in source order.
    pub probe_index: usize,
    pub kind: ProviderKind,
    pub points: Vec<PointCost>,
}

impl ProbeCost {
    pub fn rate(&self) -> f64 {
        self.points.iter().map(|p| p.rate.total()).sum()
    }

    /// CPU nanoseconds per second, summed over CPUs.
    pub fn ns_per_s(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.per_cpu_ns().iter().sum::<f64>())
            .sum()
    }
}

/// A process a uprobe fired in while the rates were measured.
#[derive(Clone, Debug)]
pub struct TracedProcess {
    pub pid: u32,
    pub comm: String,
    /// Its own CPU time per second, without the breakpoints.
    pub cpu_ns_per_s: f64,
}

/// What a script's uprobes would cost one process.
#[derive(Clone, Debug)]
pub struct ProcessSlowdown {
    pub pid: u32,
    pub comm: String,
    /// Projected CPU nanoseconds per second the probes take in it.
    pub extra_ns_per_s: f64,
    /// Its own CPU time per second.
    pub cpu_ns_per_s: f64,
}

impl ProcessSlowdown {
    /// How much longer its work would take, in percent of its own CPU time.
    pub fn slowdown_pct(&self) -> f64 {
        if self.extra_ns_per_s <= 0.0 {
            return 0.0;
        }
        self.extra_ns_per_s / self.cpu_ns_per_s.max(1.0) * 100.0
    }
}

/// CPU nanoseconds per second the probes' hits take in process `pid`, each hit at `price`.
fn in_process(probes: &[ProbeCost], pid: u32, price: impl Fn(&PointCost) -> f64) -> f64 {
    probes
        .iter()
        .flat_map(|p| &p.points)
        .map(|point| {
            let rate: f64 = point
                .rate
                .per_process
                .iter()
                .filter(|(p, _)| *p == pid)
                .map(|(_, rate)| rate)
                .sum();
            rate * price(point)
        })
        .sum()
}

/// The processes uprobes fired in, with the CPU time each used while watched less what the
/// counting breakpoints themselves took in it (while they were in: a hot function's counter
/// stops at its cap early in the window).
fn traced_processes(probes: &[ProbeCost], processes: &[rate::ProcessCpu]) -> Vec<TracedProcess> {
    processes
        .iter()
        .map(|cpu| {
            let counting = in_process(probes, cpu.pid, |point| point.mechanism_ns);
            TracedProcess {
                pid: cpu.pid,
                comm: std::fs::read_to_string(format!("/proc/{}/comm", cpu.pid))
                    .map_or_else(|_| "?".to_string(), |c| c.trim().to_string()),
                cpu_ns_per_s: (cpu.cpu_ns_per_s - counting * cpu.counted_share).max(0.0),
            }
        })
        .collect()
}

/// The whole projection.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub probes: Vec<ProbeCost>,
    /// Every process a uprobe fired in while measured.
    pub processes: Vec<TracedProcess>,
    /// The syscall tax: every syscall per second on each CPU, and what it costs per CPU.
    pub syscall_tax: Option<(Vec<f64>, Vec<f64>)>,
    pub cpus: usize,
    /// How long the rates were measured, at most how long, and why it stopped then.
    pub window: Duration,
    pub max_window: Duration,
    pub stopped: String,
    pub model: CostModel,
    /// Events the measurement saw and the time it took.
    pub hits: rate::Hits,
    pub took: Duration,
}

impl Estimate {
    /// Projected CPU nanoseconds per second on each CPU, everything included.
    pub fn per_cpu_ns(&self) -> Vec<f64> {
        let mut total = vec![0.0; self.cpus];
        for probe in &self.probes {
            for point in &probe.points {
                for (t, ns) in total.iter_mut().zip(point.per_cpu_ns()) {
                    *t += ns;
                }
            }
        }
        if let Some((_, tax)) = &self.syscall_tax {
            for (t, ns) in total.iter_mut().zip(tax) {
                *t += ns;
            }
        }
        total
    }

    /// What the uprobes would cost each traced process, the slowest first.
    pub fn slowdowns(&self) -> Vec<ProcessSlowdown> {
        let mut out: Vec<ProcessSlowdown> = self
            .processes
            .iter()
            .map(|p| ProcessSlowdown {
                pid: p.pid,
                comm: p.comm.clone(),
                extra_ns_per_s: in_process(&self.probes, p.pid, PointCost::per_hit_ns),
                cpu_ns_per_s: p.cpu_ns_per_s,
            })
            .collect();
        out.sort_by(|a, b| b.slowdown_pct().total_cmp(&a.slowdown_pct()));
        out
    }

    /// Percent of the whole machine.
    pub fn machine_pct(&self) -> f64 {
        self.per_cpu_ns().iter().sum::<f64>() / (self.cpus.max(1) as f64 * 1e9) * 100.0
    }

    /// Percent of the busiest CPU.
    pub fn busiest_cpu_pct(&self) -> f64 {
        self.per_cpu_ns().iter().copied().fold(0.0, f64::max) / 1e9 * 100.0
    }

    /// What measuring cost: each event it saw at its mechanism's price (the counting
    /// programs themselves are a few instructions).
    pub fn own_cost_ns(&self) -> f64 {
        let m = &self.model;
        let uprobes: f64 = self
            .hits
            .uprobes
            .iter()
            .map(|&(n, emulated, ret)| n as f64 * m.uprobe_ns(emulated, ret).0)
            .sum();
        (self.hits.perf + self.hits.tracepoints) as f64 * m.tracepoint_ns
            + self.hits.syscalls as f64 * m.raw_tracepoint_ns
            + uprobes
    }
}

/// An `--auto-filter` step: uprobes will fire in one process that has not started yet, so
/// their system-wide rates no longer apply (the guard watches the real one). Returns whether
/// the script has uprobes.
pub fn scope_uprobes(estimate: &mut Estimate) -> bool {
    let mut any = false;
    for probe in &mut estimate.probes {
        if crate::probes::mechanism_of(probe.kind).in_process() {
            any = true;
            for point in &mut probe.points {
                point.rate.per_cpu.iter_mut().for_each(|r| *r = 0.0);
                point.rate.per_process.clear();
                point.rate.measured = rate::Measured::Unknown;
            }
        }
    }
    any
}

/// Leaves the narrowing's dropped attach points out of `compiled` (a program left with none
/// is not attached at all).
pub fn apply_narrowing(compiled: &mut Compiled, narrowing: &narrow::Narrowing) {
    for d in &narrowing.dropped {
        for p in compiled
            .probes
            .iter_mut()
            .filter(|p| p.probe_index == d.probe_index)
        {
            p.targets.retain(|t| *t != d.target);
        }
    }
    compiled
        .probes
        .retain(|p| !p.targets.is_empty() || p.kind.runs_once());
}

/// How long the rates are measured: for at most `max`, at least `min`; with a `budget`, no
/// longer than it takes to know the verdict at [`CONFIDENCE`] (uprobes: always `max`, since a
/// traced process's slowdown is judged on its CPU time over the window).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub max: Duration,
    pub min: Duration,
    pub budget: Option<Budget>,
}

/// How sure an early stop is: the chance that any counted rate is beyond the bound it was
/// judged by (for all of them together).
pub const CONFIDENCE: f64 = 0.95;

/// Measures the rates of `compiled`'s attach points and prices them.
/// With `pid` (`-p`), uprobes are measured in that process, where they will fire.
pub fn estimate(
    compiled: &Compiled,
    window: Window,
    model: CostModel,
    pid: Option<u32>,
) -> Result<Estimate, String> {
    let tracefs = crate::kernel::tracefs::ensure_mounted().map_err(|e| e.to_string())?;
    let cpus = crate::kernel::sys::online_cpus().map_or(1, |c| c.len().max(1));
    let ending = ending::ending_probes(compiled);
    let has_uprobes = compiled.probes.iter().any(|p| {
        matches!(
            p.kind,
            ProviderKind::Uprobe | ProviderKind::Uretprobe | ProviderKind::Usdt
        )
    });
    let adaptive = window.budget.filter(|_| !has_uprobes);
    let mut decide = |partial: &rate::Partial| -> Option<String> {
        let budget = adaptive.as_ref()?;
        known(compiled, &ending, &model, cpus, budget, partial)
    };
    let rates = rate::measure(
        compiled,
        window.max,
        window.min,
        &tracefs,
        pid,
        adaptive.is_some().then_some(&mut decide as rate::Decide),
    )?;
    let mut estimate = price(
        compiled,
        &ending,
        rates.probes,
        rates.all_syscalls,
        &model,
        cpus,
    );
    estimate.processes = traced_processes(&estimate.probes, &rates.processes);
    estimate.hits = rates.hits;
    estimate.took = rates.took;
    estimate.window = rates.measured;
    estimate.max_window = window.max;
    estimate.stopped = if has_uprobes && window.budget.is_some() {
        format!(
            "{} (uprobes: a traced process's CPU is measured over the whole window)",
            rates.stopped
        )
    } else {
        rates.stopped
    };
    Ok(estimate)
}

/// The verdict, if the counts so far already decide it: the projection at every rate's
/// upper bound within budget (and under the warning level, or its lower bound over it), or
/// at every rate's lower bound over budget. Bounds are Poisson at [`CONFIDENCE`] for all the
/// counts together.
fn known(
    compiled: &Compiled,
    ending: &[usize],
    model: &CostModel,
    cpus: usize,
    budget: &Budget,
    partial: &rate::Partial,
) -> Option<String> {
    let counts = partial
        .points
        .iter()
        .flatten()
        .flatten()
        .map(|c| c.per_cpu.len())
        .sum::<usize>()
        + partial.all_syscalls.as_ref().map_or(0, Vec::len);
    let z = normal_quantile(1.0 - (1.0 - CONFIDENCE) / counts.max(1) as f64);
    let bound = |upper: bool| -> Estimate {
        // A profile probe samples only busy CPUs: all of them busy at the upper bound.
        let busy = vec![if upper { 1.0 } else { 0.0 }; cpus];
        let rates = compiled
            .probes
            .iter()
            .zip(partial.points.iter().zip(&partial.defined))
            .map(|(probe, (points, defined))| {
                probe
                    .targets
                    .iter()
                    .zip(points.iter().zip(defined))
                    .map(|(target, (count, defined))| {
                        let (per_cpu, measured, _) = match count {
                            Some(c) => (
                                c.per_cpu
                                    .iter()
                                    .map(|&(k, t)| poisson_bound(k, z, upper) / t * c.scale)
                                    .collect(),
                                rate::Measured::TracepointCounter,
                                false,
                            ),
                            None => {
                                let how = defined.map_or(
                                    crate::probes::Counting::Unknown,
                                    crate::probes::Counting::Defined,
                                );
                                rate::defined_rate(&how, &busy)
                            }
                        };
                        rate::FireRate {
                            target: target.clone(),
                            per_cpu,
                            measured,
                            capped: false,
                            first_emulated: None,
                            per_process: Vec::new(),
                            counted: None,
                        }
                    })
                    .collect()
            })
            .collect();
        let all_syscalls = partial.all_syscalls.as_ref().map(|v| {
            v.iter()
                .map(|&(k, t)| poisson_bound(k, z, upper) / t)
                .collect()
        });
        price(compiled, ending, rates, all_syscalls, model, cpus)
    };
    let (high, low) = (bound(true), bound(false));
    let confidence = format!("{:.0}% confidence", CONFIDENCE * 100.0);
    if budget.within(&high) && high.machine_pct() <= budget.warn_pct {
        return Some(format!(
            "known within budget: at most {} of the machine, {} of the busiest CPU at {confidence}",
            budget::percent(high.machine_pct()),
            budget::percent(high.busiest_cpu_pct())
        ));
    }
    if budget.within(&high) && low.machine_pct() > budget.warn_pct {
        return Some(format!(
            "known within budget and over the warning level: {} to {} of the machine at {confidence}",
            budget::percent(low.machine_pct()),
            budget::percent(high.machine_pct())
        ));
    }
    if !budget.within(&low) {
        return Some(format!(
            "known over budget: at least {} of the machine, {} of the busiest CPU at {confidence}",
            budget::percent(low.machine_pct()),
            budget::percent(low.busiest_cpu_pct())
        ));
    }
    None
}

/// The upper (or lower) bound on the mean of a Poisson count `k`, one-sided at the normal
/// quantile `z` (Wilson and Hilferty's approximation; 0 hits: about 3 at 95%).
pub fn poisson_bound(k: u64, z: f64, upper: bool) -> f64 {
    let k = k as f64;
    if upper {
        let n = k + 1.0;
        n * (1.0 - 1.0 / (9.0 * n) + z / (3.0 * n.sqrt())).powi(3)
    } else if k == 0.0 {
        0.0
    } else {
        (k * (1.0 - 1.0 / (9.0 * k) - z / (3.0 * k.sqrt())).powi(3)).max(0.0)
    }
}

/// The standard normal quantile at `p` (0.5 < p < 1), by Abramowitz and Stegun 26.2.23
/// (error under 4.5e-4).
pub fn normal_quantile(p: f64) -> f64 {
    let q = (1.0 - p).clamp(1e-300, 0.5);
    let t = (-2.0 * q.ln()).sqrt();
    t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
        / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
}

/// Prices measured rates: each point's rate times its cost per hit, and the syscall tax.
fn price(
    compiled: &Compiled,
    ending: &[usize],
    rates: Vec<Vec<rate::FireRate>>,
    all_syscalls: Option<Vec<f64>>,
    model: &CostModel,
    cpus: usize,
) -> Estimate {
    let mut probes: Vec<ProbeCost> = Vec::new();
    for (compiled_probe, rates) in compiled.probes.iter().zip(rates) {
        let insns = compiled_probe.code.code.insns.len()
            + compiled_probe
                .code
                .callees_in_link_order()
                .iter()
                .map(|c| c.code.insns.len())
                .sum::<usize>();
        let helpers = tracebound_compiler::ir::hot_helpers(
            &compiled_probe.ir,
            &compiled.info.inlined_lookups(),
        );
        let program_ns = model.program_ns(insns, &helpers);
        let mechanism = crate::probes::mechanism_of(compiled_probe.kind);
        let ends_run = ending.contains(&compiled_probe.probe_index);
        let points = rates
            .into_iter()
            .map(|mut rate| {
                let measured = rate.total();
                if ends_run {
                    // Its first hit ends the run: at most one on each CPU, whatever its rate.
                    rate.per_cpu.iter_mut().for_each(|r| *r = r.min(1.0));
                    rate.per_process
                        .iter_mut()
                        .for_each(|(_, r)| *r = r.min(1.0));
                }
                let price = mechanism.price(model, rate.first_emulated);
                PointCost {
                    mechanism_cold_ns: price.cold_ns,
                    rate,
                    mechanism_ns: price.warm_ns,
                    program_ns,
                    why: price.why,
                    ends_run: ends_run.then_some(measured),
                }
            })
            .collect();
        // Programs split per attach point (`probe` in a wildcard) are one probe as written.
        match probes
            .iter_mut()
            .find(|p| p.probe_index == compiled_probe.probe_index)
        {
            Some(p) => p.points.extend(points),
            None => probes.push(ProbeCost {
                probe_index: compiled_probe.probe_index,
                kind: compiled_probe.kind,
                points,
            }),
        }
    }
    let syscall_tax = all_syscalls.map(|per_cpu| {
        let cost = per_cpu.iter().map(|r| r * model.syscall_tax_ns).collect();
        (per_cpu, cost)
    });
    Estimate {
        probes,
        processes: Vec::new(),
        syscall_tax,
        cpus,
        window: Duration::ZERO,
        max_window: Duration::ZERO,
        stopped: String::new(),
        model: model.clone(),
        hits: rate::Hits::default(),
        took: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_bounds_match_the_exact_ones() {
        let z = normal_quantile(0.95);
        assert!((z - 1.645).abs() < 1e-3, "{z}");
        assert!((normal_quantile(0.975) - 1.960).abs() < 1e-3);
        // Exact one-sided 95% limits: 0 → 3.00, 1 → 4.74, 10 → 17.0 (upper); 10 → 5.43 (lower).
        for (k, exact) in [(0, 3.00), (1, 4.74), (10, 16.96), (100, 117.6)] {
            let u = poisson_bound(k, z, true);
            assert!(
                (u - exact).abs() / exact < 0.02,
                "upper({k}) = {u}, not {exact}"
            );
        }
        for (k, exact) in [(10, 5.43), (100, 84.1)] {
            let l = poisson_bound(k, z, false);
            assert!(
                (l - exact).abs() / exact < 0.02,
                "lower({k}) = {l}, not {exact}"
            );
        }
        assert_eq!(poisson_bound(0, z, false), 0.0);
    }
}

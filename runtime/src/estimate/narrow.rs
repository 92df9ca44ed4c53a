//! `--auto-filter`: the least lossy narrowing that brings a script under budget, one step at a
//! time on the costliest probe, each step named before anything is attached:
//!
//! - a probe whose program costs more than reaching it, and whose output sampling does not
//!   change once scaled (`sample::samplable`), runs its program for 1 hit in N (N doubling);
//!   its maps print scaled by N and marked sampled;
//! - otherwise, or when no N can bring the script under, the hottest member of a wildcard
//!   expansion is left out, never a probe's last attach point, and sampling is sized again
//!   for what remains.

use std::collections::BTreeMap;

use super::{Budget, Estimate};
use tracebound_compiler::probe::Target;

/// The most a probe is sampled: beyond it the counts are mostly noise.
pub const MAX_SAMPLING: u32 = 1024;

/// One attach point left out.
#[derive(Clone, Debug)]
pub struct Dropped {
    pub probe_index: usize,
    pub target: Target,
    pub rate: f64,
    /// Its share of the machine before it was left out.
    pub machine_pct: f64,
}

/// The steps, and the estimate once they are taken.
#[derive(Clone, Debug)]
pub struct Narrowing {
    pub dropped: Vec<Dropped>,
    /// Probe index → N: the probe runs its program for 1 hit in N.
    pub sampled: BTreeMap<usize, u32>,
    pub after: Estimate,
}

/// `None` when no narrowing brings the script under `budget`. `samplable` holds the probes
/// (by index) that may be sampled.
///
/// Sampling is tried only while it can still fit: when even every probe it helps at
/// `MAX_SAMPLING` leaves the script over (reaching the hits costs too much), a member is left
/// out instead and the sampling starts over for what remains, so that no probe is thinned
/// 1 in 1024 for nothing.
pub fn narrow(estimate: &Estimate, budget: &Budget, samplable: &[usize]) -> Option<Narrowing> {
    let mut after = estimate.clone();
    let mut dropped = Vec::new();
    let mut sampled: BTreeMap<usize, u32> = BTreeMap::new();
    // The random draw that decides, and the branch on it.
    let draw_ns = estimate.model.helper_ns + 3.0 * estimate.model.instruction_ns;
    let helps = |pi: usize| {
        let original = &estimate.probes[pi];
        let first = original.points.first();
        samplable.contains(&original.probe_index)
            && first.map_or(0.0, |p| p.program_ns) > first.map_or(0.0, |p| p.mechanism_ns)
    };
    while !budget.within(&after) {
        let (pi, probe) = after
            .probes
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.ns_per_s().total_cmp(&b.1.ns_per_s()))?;
        let n = sampled.get(&probe.probe_index).copied().unwrap_or(1);
        if helps(pi)
            && n < MAX_SAMPLING
            && sampling_can_fit(estimate, &after, budget, &helps, draw_ns)
        {
            sampled.insert(probe.probe_index, n * 2);
            sample_at(estimate, &mut after, pi, n * 2, draw_ns);
            continue;
        }
        drop_hottest_member(&mut after, &mut dropped)?;
        for (pi, probe) in estimate.probes.iter().enumerate() {
            if sampled.remove(&probe.probe_index).is_some() {
                sample_at(estimate, &mut after, pi, 1, draw_ns);
            }
        }
    }
    Some(Narrowing {
        dropped,
        sampled,
        after,
    })
}

/// Probe `pi` of `after` running its program 1 hit in `n` (every hit at 1), each point's
/// cost from what `estimate` measured for it.
fn sample_at(estimate: &Estimate, after: &mut Estimate, pi: usize, n: u32, draw_ns: f64) {
    let original = &estimate.probes[pi];
    for point in after.probes[pi].points.iter_mut() {
        if let Some(before) = original
            .points
            .iter()
            .find(|b| b.rate.target == point.rate.target)
        {
            point.program_ns = match n {
                1 => before.program_ns,
                n => draw_ns + before.program_ns / f64::from(n),
            };
        }
    }
}

/// Whether `after`, with every probe sampling helps at `MAX_SAMPLING`, is within budget.
fn sampling_can_fit(
    estimate: &Estimate,
    after: &Estimate,
    budget: &Budget,
    helps: &dyn Fn(usize) -> bool,
    draw_ns: f64,
) -> bool {
    let mut floor = after.clone();
    for pi in (0..floor.probes.len()).filter(|&pi| helps(pi)) {
        sample_at(estimate, &mut floor, pi, MAX_SAMPLING, draw_ns);
    }
    budget.within(&floor)
}

/// Leaves out the costliest attach point of a probe that has more than one; `None` when there
/// is none left to gain from.
fn drop_hottest_member(after: &mut Estimate, dropped: &mut Vec<Dropped>) -> Option<()> {
    let machine_ns = after.cpus.max(1) as f64 * 1e9;
    let (pi, ti, ns) = after
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.points.len() > 1)
        .flat_map(|(pi, p)| {
            p.points
                .iter()
                .enumerate()
                .map(move |(ti, point)| (pi, ti, point.per_cpu_ns().iter().sum::<f64>()))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))?;
    if ns <= 0.0 {
        return None; // nothing left to gain
    }
    let point = after.probes[pi].points.remove(ti);
    dropped.push(Dropped {
        probe_index: after.probes[pi].probe_index,
        target: point.rate.target.clone(),
        rate: point.rate.total(),
        machine_pct: ns / machine_ns * 100.0,
    });
    // The syscall tax goes with the last syscall tracepoint.
    let any_syscall = after.probes.iter().any(|p| {
        p.points
            .iter()
            .any(|pt| matches!(&pt.rate.target, Target::Tracepoint { category, .. } if category == "syscalls"))
    });
    if !any_syscall {
        after.syscall_tax = None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::rate::{FireRate, Measured};
    use crate::estimate::{CostModel, PointCost, ProbeCost};
    use std::time::Duration;
    use tracebound_compiler::probe::ProviderKind;

    fn point(event: &str, rate: f64) -> PointCost {
        PointCost {
            rate: FireRate {
                target: Target::Tracepoint {
                    category: "a".into(),
                    event: event.into(),
                },
                per_cpu: vec![rate],
                measured: Measured::PerfCounter,
                capped: false,
                first_emulated: None,
                per_process: Vec::new(),
                counted: None,
            },
            mechanism_ns: 100.0,
            mechanism_cold_ns: 100.0,
            program_ns: 0.0,
            why: None,
            ends_run: None,
        }
    }

    fn estimate(probes: Vec<Vec<PointCost>>) -> Estimate {
        Estimate {
            probes: probes
                .into_iter()
                .enumerate()
                .map(|(i, points)| ProbeCost {
                    probe_index: i,
                    kind: ProviderKind::Tracepoint,
                    points,
                })
                .collect(),
            processes: Vec::new(),
            syscall_tax: None,
            cpus: 1,
            window: Duration::from_millis(200),
            max_window: Duration::from_millis(200),
            stopped: String::new(),
            model: CostModel::default(),
            hits: Default::default(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn drops_the_hottest_wildcard_members_first_and_no_more() {
        // 100 ns a hit on one CPU: 1M/s is 10%, 100K/s is 1%.
        let e = estimate(vec![vec![
            point("hot", 1_000_000.0),
            point("warm", 100_000.0),
            point("cold", 10.0),
        ]]);
        let n = narrow(&e, &Budget::default(), &[]).expect("can narrow");
        let names: Vec<String> = n.dropped.iter().map(|d| d.target.to_string()).collect();
        assert_eq!(names, ["tracepoint:a:hot"]);
        assert!(n.after.machine_pct() <= 3.0);
    }

    #[test]
    fn a_program_that_costs_most_of_each_hit_is_sampled() {
        // 100 ns to reach, 1900 ns of program, 100K/s on one CPU: 20%.
        let mut p = point("b", 100_000.0);
        p.program_ns = 1_900.0;
        let e = estimate(vec![vec![p]]);
        let n = narrow(&e, &Budget::default(), &[0]).expect("can sample");
        assert!(n.dropped.is_empty());
        // 100 + ~20 + 1900/N must fit 3% of 1e9 ns at 100K/s: 300 ns a hit, so N = 16.
        assert_eq!(n.sampled.get(&0), Some(&16), "{:?}", n.sampled);
        assert!(n.after.machine_pct() <= 3.0);
        // Not samplable: nothing to do for a single attach point.
        assert!(narrow(&e, &Budget::default(), &[]).is_none());
    }

    #[test]
    fn sampling_that_cannot_fit_gives_way_to_leaving_a_member_out() {
        // Reaching `hot` alone is 10% (1M/s at 100 ns): no N saves it, so it is left out,
        // and `cold` runs every hit rather than 1 in 1024.
        let mut hot = point("hot", 1_000_000.0);
        hot.program_ns = 400.0;
        let mut cold = point("cold", 10.0);
        cold.program_ns = 400.0;
        let e = estimate(vec![vec![hot, cold]]);
        let n = narrow(&e, &Budget::default(), &[0]).expect("can narrow");
        let names: Vec<String> = n.dropped.iter().map(|d| d.target.to_string()).collect();
        assert_eq!(names, ["tracepoint:a:hot"]);
        assert!(n.sampled.is_empty(), "{:?}", n.sampled);
        assert_eq!(n.after.probes[0].points[0].program_ns, 400.0);
    }

    #[test]
    fn a_single_hot_probe_cannot_be_narrowed() {
        let e = estimate(vec![vec![point("hot", 1_000_000.0)]]);
        assert!(narrow(&e, &Budget::default(), &[]).is_none());
    }
}

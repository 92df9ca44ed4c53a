//! `--auto-filter`: the least lossy narrowing that brings a script under budget. For now one
//! kind of step: leave out the hottest members of wildcard expansions, one at a time, hottest
//! first, never a probe's last attach point. Each step is named before anything is attached;
//! the meaning of what remains is unchanged.

use super::{Budget, Estimate};

/// One attach point left out.
#[derive(Clone, Debug)]
pub struct Dropped {
    pub probe_index: usize,
    pub target: String,
    pub rate: f64,
    /// Its share of the machine before it was left out.
    pub machine_pct: f64,
}

/// The steps, and the estimate once they are taken.
#[derive(Clone, Debug)]
pub struct Narrowing {
    pub dropped: Vec<Dropped>,
    pub after: Estimate,
}

/// `None` when leaving out wildcard members cannot bring the script under `budget`.
pub fn narrow(estimate: &Estimate, budget: &Budget) -> Option<Narrowing> {
    let mut after = estimate.clone();
    let mut dropped = Vec::new();
    while !budget.within(&after) {
        // The costliest attach point of a probe that has more than one.
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
                .any(|pt| pt.rate.target.starts_with("tracepoint:syscalls:"))
        });
        if !any_syscall {
            after.syscall_tax = None;
        }
    }
    Some(Narrowing { dropped, after })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::rate::{FireRate, Measured};
    use crate::estimate::{CostModel, PointCost, ProbeCost};
    use std::time::Duration;
    use tracebound_compiler::provider::ProviderKind;

    fn point(target: &str, rate: f64) -> PointCost {
        PointCost {
            rate: FireRate {
                target: target.into(),
                per_cpu: vec![rate],
                measured: Measured::PerfCounter,
                capped: false,
                first_emulated: None,
                per_process: Vec::new(),
            },
            mechanism_ns: 100.0,
            program_ns: 0.0,
            why: None,
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
            model: CostModel::default(),
            hits: Default::default(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn drops_the_hottest_wildcard_members_first_and_no_more() {
        // 100 ns a hit on one CPU: 1M/s is 10%, 100K/s is 1%.
        let e = estimate(vec![vec![
            point("tracepoint:a:hot", 1_000_000.0),
            point("tracepoint:a:warm", 100_000.0),
            point("tracepoint:a:cold", 10.0),
        ]]);
        let n = narrow(&e, &Budget::default()).expect("can narrow");
        let names: Vec<&str> = n.dropped.iter().map(|d| d.target.as_str()).collect();
        assert_eq!(names, ["tracepoint:a:hot"]);
        assert!(n.after.machine_pct() <= 3.0);
    }

    #[test]
    fn a_single_hot_probe_cannot_be_narrowed() {
        let e = estimate(vec![vec![point("tracepoint:a:hot", 1_000_000.0)]]);
        assert!(narrow(&e, &Budget::default()).is_none());
    }
}

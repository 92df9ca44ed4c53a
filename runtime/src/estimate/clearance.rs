//! What lets a script attach. As naga's validator hands its back ends an analysis they require
//! as input, the budget hands the run a `Clearance`: it can only be had from a judgment of an
//! estimate that the budget does not refuse, and it names the attach points that estimate
//! priced. Attaching takes it and refuses any point it does not name, so nothing is attached
//! that was not measured, costed and found within budget.

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::Target;

use super::{Budget, Estimate, Verdict};

/// The attach points an estimate priced and the budget cleared. Only [`Clearance::grant`]
/// makes one.
#[derive(Debug)]
pub struct Clearance {
    /// (probe index in source order, attach point).
    points: Vec<(usize, Target)>,
}

impl Clearance {
    /// The clearance to attach what `estimate` priced, unless `budget` refuses it: the
    /// judgment is [`Budget::judge`]'s, of the same estimate and program.
    pub fn grant(budget: &Budget, estimate: &Estimate, compiled: &Compiled) -> Option<Clearance> {
        if let Verdict::Refuse(_) = budget.judge(estimate, compiled) {
            return None;
        }
        let points = estimate
            .probes
            .iter()
            .flat_map(|p| {
                p.points
                    .iter()
                    .map(|pt| (p.probe_index, pt.rate.target.clone()))
            })
            .collect();
        Some(Clearance { points })
    }

    /// The first attach point of `compiled` that this clearance does not name, if any.
    pub fn uncosted<'c>(&self, compiled: &'c Compiled) -> Option<&'c Target> {
        compiled.probes.iter().find_map(|p| {
            p.targets.iter().find(|t| {
                !self
                    .points
                    .iter()
                    .any(|(index, point)| *index == p.probe_index && point == *t)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use tracebound_compiler::machine::fixture::FixtureFacts;
    use tracebound_compiler::pipeline::{compile, CompileOptions};

    use super::*;
    use crate::estimate::rate::{FireRate, Hits, Measured};
    use crate::estimate::{CostModel, PointCost, ProbeCost};

    fn compiled(script: &str) -> Compiled {
        compile(script, &FixtureFacts::bundled(), &CompileOptions::default()).expect("compiles")
    }

    /// An estimate of `compiled` with every attach point firing `rate` times a second on one
    /// CPU, at 1 us a hit.
    fn estimate(compiled: &Compiled, rate: f64) -> Estimate {
        let mut probes: Vec<ProbeCost> = Vec::new();
        for p in compiled.probes.iter().filter(|p| !p.targets.is_empty()) {
            let points = p
                .targets
                .iter()
                .map(|t| PointCost {
                    rate: FireRate {
                        target: t.clone(),
                        per_cpu: vec![rate],
                        per_process: Vec::new(),
                        measured: Measured::PerfCounter,
                        first_emulated: None,
                        capped: false,
                        counted: None,
                    },
                    mechanism_ns: 1000.0,
                    mechanism_cold_ns: 1000.0,
                    program_ns: 0.0,
                    why: None,
                    ends_run: None,
                })
                .collect();
            probes.push(ProbeCost {
                probe_index: p.probe_index,
                kind: p.kind,
                points,
            });
        }
        Estimate {
            probes,
            processes: Vec::new(),
            syscall_tax: None,
            cpus: 1,
            window: std::time::Duration::from_millis(200),
            max_window: std::time::Duration::from_millis(200),
            stopped: String::new(),
            model: CostModel::default(),
            hits: Hits::default(),
            took: std::time::Duration::ZERO,
        }
    }

    const SCRIPT: &str =
        "tracepoint:sched:sched_switch, tracepoint:sched:sched_wakeup { @ = count(); }";

    #[test]
    fn a_script_within_budget_is_cleared_for_what_was_priced() {
        let compiled = compiled(SCRIPT);
        let estimate = estimate(&compiled, 10.0);
        let clearance = Clearance::grant(&Budget::default(), &estimate, &compiled)
            .expect("10 hits/s at 1 us is within 3%");
        assert_eq!(clearance.uncosted(&compiled), None);
    }

    #[test]
    fn a_refused_script_gets_no_clearance() {
        let compiled = compiled(SCRIPT);
        // 1M hits/s at 1 us: a whole CPU.
        let estimate = estimate(&compiled, 1e6);
        assert!(Clearance::grant(&Budget::default(), &estimate, &compiled).is_none());
    }

    #[test]
    fn an_attach_point_the_estimate_did_not_price_is_named() {
        let compiled = compiled(SCRIPT);
        let mut estimate = estimate(&compiled, 10.0);
        let left_out = estimate.probes[0].points.pop().expect("two points");
        let clearance = Clearance::grant(&Budget::default(), &estimate, &compiled).expect("within");
        assert_eq!(clearance.uncosted(&compiled), Some(&left_out.rate.target));
    }
}

//! The overhead budget: what share of production a tracer may take. Over it, the run is
//! refused before anything is attached, with a diagnostic at the probe that costs most:
//! its measured rate, its per-hit cost and why, the projection, and what would fix it.

use tracebound_compiler::ast::Item;
use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::span::Span;

use super::{Estimate, ProbeCost, ProcessSlowdown};

/// Limits in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Of the whole machine.
    pub machine_pct: f64,
    /// Of any one CPU.
    pub cpu_pct: f64,
    /// Slowdown of any one traced process (uprobes), in percent of its own CPU time.
    pub process_pct: f64,
    /// Above this share of the machine the run goes ahead with a warning.
    pub warn_pct: f64,
}

impl Default for Budget {
    /// What a production engineer accepts without thinking twice: a few percent at most.
    fn default() -> Self {
        Budget {
            machine_pct: 3.0,
            cpu_pct: 10.0,
            process_pct: 5.0,
            warn_pct: 1.0,
        }
    }
}

impl Budget {
    /// A budget of `pct` of the machine; any one CPU may take 10/3 of that and a traced
    /// process may slow by 5/3 of it, the ratios of the defaults (3%, 10%, 5%), so that a
    /// stricter budget is stricter on every limit and a looser one looser on every limit.
    pub fn of_machine(pct: f64) -> Budget {
        let default = Budget::default();
        let scaled = |limit: f64| pct * limit / default.machine_pct;
        Budget {
            machine_pct: pct,
            cpu_pct: scaled(default.cpu_pct),
            process_pct: scaled(default.process_pct),
            warn_pct: default.warn_pct.min(pct),
        }
    }

    /// The traced process slowed most beyond the limit, if any. A process is judged only
    /// where the probes would take at least [`PROCESS_FLOOR_NS`] of its CPU a second: below
    /// that a percentage of a nearly idle process's CPU time is noise, not a slowdown.
    pub fn slowed_process(&self, estimate: &Estimate) -> Option<ProcessSlowdown> {
        estimate
            .slowdowns()
            .into_iter()
            .find(|p| p.extra_ns_per_s >= PROCESS_FLOOR_NS && p.slowdown_pct() > self.process_pct)
    }

    /// Whether `estimate` is within every limit.
    pub fn within(&self, estimate: &Estimate) -> bool {
        estimate.machine_pct() <= self.machine_pct
            && estimate.busiest_cpu_pct() <= self.cpu_pct
            && self.slowed_process(estimate).is_none()
    }
}

/// 1 ms of CPU a second (0.1% of a CPU).
pub const PROCESS_FLOOR_NS: f64 = 1e6;

#[derive(Clone, Debug)]
pub enum Verdict {
    Within,
    /// Over the warning threshold, within the budget.
    Warn(Diagnostic),
    /// Over budget: the diagnostic is at the costliest probe.
    Refuse(Diagnostic),
}

impl Budget {
    pub fn judge(&self, estimate: &Estimate, compiled: &Compiled) -> Verdict {
        let machine = estimate.machine_pct();
        let cpu = estimate.busiest_cpu_pct();
        let slowed = self.slowed_process(estimate);
        let over = machine > self.machine_pct || cpu > self.cpu_pct;
        if !over && slowed.is_none() && machine <= self.warn_pct {
            return Verdict::Within;
        }
        let Some(costliest) = estimate
            .probes
            .iter()
            .max_by(|a, b| a.ns_per_s().total_cmp(&b.ns_per_s()))
        else {
            return Verdict::Within;
        };
        let projection = format!(
            "{} of the machine, {} of the busiest CPU",
            percent(machine),
            percent(cpu)
        );
        let span = probe_span(compiled, costliest.probe_index);
        let label = format!(
            "{} events/s x {} per hit",
            quantity(costliest.rate()),
            nanos(costliest.points.first().map_or(0.0, |p| p.per_hit_ns()))
        );
        let mut d = if let (false, Some(p)) = (over, &slowed) {
            Diagnostic::error(
                format!(
                    "this script would slow {} (pid {}) by {}: its uprobes would take {} of CPU \
                     a second where it uses {}; the budget is {}",
                    p.comm,
                    p.pid,
                    slowdown(p.slowdown_pct()),
                    nanos(p.extra_ns_per_s),
                    nanos(p.cpu_ns_per_s),
                    percent(self.process_pct)
                ),
                span,
                label,
            )
        } else if over {
            Diagnostic::error(
                format!(
                    "this script would take {projection}; the budget is {} and {}",
                    percent(self.machine_pct),
                    percent(self.cpu_pct)
                ),
                span,
                label,
            )
        } else {
            Diagnostic::warning(format!("this script will take {projection}"), span, label)
        };
        d = d.with_note(why(costliest, estimate));
        if let Some((rate, cost)) = &estimate.syscall_tax {
            d = d.with_note(format!(
                "while a syscall tracepoint is enabled every syscall pays {}: {} syscalls/s, {} of the machine",
                nanos(estimate.model.syscall_tax_ns),
                quantity(rate.iter().sum()),
                percent(cost.iter().sum::<f64>() / (estimate.cpus as f64 * 1e9) * 100.0)
            ));
        }
        if let (true, Some(p)) = (over, &slowed) {
            d = d.with_note(format!(
                "it would also slow {} (pid {}) by {}",
                p.comm,
                p.pid,
                slowdown(p.slowdown_pct())
            ));
        }
        if over || slowed.is_some() {
            // A predicate does not help: the probe still fires, and the mechanism is most of
            // the cost.
            let is_uprobe = crate::probes::mechanism_of(costliest.kind).in_process();
            let stepped = costliest
                .points
                .iter()
                .any(|p| p.rate.first_emulated == Some(false));
            d = d.with_help(if !over && stepped {
                "probe a function this process calls less often, or one whose first \
                 instruction the kernel emulates (a traced process pays the breakpoint in \
                 full), or raise the limit with --budget PERCENT"
            } else if !over {
                "probe a function this process calls less often (a traced process pays the \
                 breakpoint in full), or raise the limit with --budget PERCENT"
            } else if is_uprobe {
                "trace one process with -p PID (the breakpoint then stays out of the others), \
                 narrow the wildcard, or raise the limit with --budget PERCENT"
            } else if costliest.points.len() > 1 {
                "narrow the wildcard to the events you need (a predicate does not lower the \
                 cost: the probe still fires), or raise the limit with --budget PERCENT"
            } else {
                "trace a less frequent event (a predicate does not lower the cost: the probe \
                 still fires), or raise the limit with --budget PERCENT"
            });
            Verdict::Refuse(d)
        } else {
            Verdict::Warn(d)
        }
    }
}

/// The per-hit cost broken down, and the hottest attach points of a wildcard.
fn why(probe: &ProbeCost, estimate: &Estimate) -> String {
    let first = &probe.points[0];
    let reach = match first.why {
        Some(why) => format!("{} to reach the program ({why})", nanos(first.mechanism_ns)),
        None => format!("{} to reach the program", nanos(first.mechanism_ns)),
    };
    let mut text = format!(
        "per hit: {reach} + {} in it ({})",
        nanos(first.program_ns),
        estimate.model.source
    );
    if probe.points.len() > 1 {
        let mut hottest: Vec<_> = probe.points.iter().collect();
        hottest.sort_by(|a, b| b.rate.total().total_cmp(&a.rate.total()));
        let names: Vec<String> = hottest
            .iter()
            .take(5)
            .map(|p| {
                format!(
                    "{} {}/s",
                    p.rate.target.member_name(),
                    quantity(p.rate.total())
                )
            })
            .collect();
        text.push_str(&format!(
            "; {} attach points, hottest: {}",
            probe.points.len(),
            names.join(", ")
        ));
    }
    text
}

/// The text of the probe's attach points, where diagnostics point.
pub fn probe_span(compiled: &Compiled, index: usize) -> Span {
    compiled
        .ast
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(p),
            _ => None,
        })
        .nth(index)
        .map(
            |p| match (p.attach_points.first(), p.attach_points.last()) {
                (Some(a), Some(b)) => Span::new(a.span.start as usize, b.span.end as usize),
                _ => p.span,
            },
        )
        .unwrap_or_default()
}

/// A slowdown in percent; beyond 1000% (a process that would mostly wait on breakpoints)
/// the figure says no more than that.
pub fn slowdown(p: f64) -> String {
    if p > 1000.0 {
        ">1000%".into()
    } else {
        percent(p)
    }
}

pub fn percent(p: f64) -> String {
    if p < 0.01 && p > 0.0 {
        "<0.01%".into()
    } else {
        format!("{p:.2}%")
    }
}

/// 1234567 → "1.2M".
pub fn quantity(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.1}G", n / 1e9),
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}K", n / 1e3),
        n if n >= 10.0 => format!("{n:.0}"),
        n => format!("{n:.1}"),
    }
}

pub fn nanos(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1000.0 {
        format!("{:.1} us", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::rate::{FireRate, Measured};
    use crate::estimate::{CostModel, PointCost};
    use std::time::Duration;
    use tracebound_compiler::probe::{ProviderKind, Target};

    /// One tracepoint taking `cpu_pct` of CPU 0 on a machine of `cpus` CPUs (100 ns a hit).
    fn one_cpu_at(cpu_pct: f64, cpus: usize) -> Estimate {
        let mut per_cpu = vec![0.0; cpus];
        per_cpu[0] = cpu_pct / 100.0 * 1e9 / 100.0;
        Estimate {
            probes: vec![ProbeCost {
                probe_index: 0,
                kind: ProviderKind::Tracepoint,
                points: vec![PointCost {
                    rate: FireRate {
                        target: Target::Tracepoint {
                            category: "a".into(),
                            event: "b".into(),
                        },
                        per_cpu,
                        measured: Measured::TracepointCounter,
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
                }],
            }],
            processes: Vec::new(),
            syscall_tax: None,
            cpus,
            window: Duration::from_millis(200),
            max_window: Duration::from_millis(200),
            stopped: String::new(),
            model: CostModel::default(),
            hits: Default::default(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn a_budget_scales_every_limit() {
        let strict = Budget::of_machine(1.0);
        assert!((strict.cpu_pct - 10.0 / 3.0).abs() < 1e-9, "{strict:?}");
        assert!((strict.process_pct - 5.0 / 3.0).abs() < 1e-9, "{strict:?}");
        let loose = Budget::of_machine(20.0);
        assert!((loose.cpu_pct - 200.0 / 3.0).abs() < 1e-9, "{loose:?}");
        assert!((loose.process_pct - 100.0 / 3.0).abs() < 1e-9, "{loose:?}");
        assert_eq!(Budget::of_machine(3.0), Budget::default());
        // Stricter is never looser anywhere.
        for (a, b) in [(0.5, 1.0), (1.0, 3.0), (3.0, 20.0)] {
            let (a, b) = (Budget::of_machine(a), Budget::of_machine(b));
            assert!(a.machine_pct < b.machine_pct && a.cpu_pct < b.cpu_pct);
            assert!(a.process_pct < b.process_pct && a.warn_pct <= b.warn_pct);
        }
    }

    #[test]
    fn five_percent_of_one_cpu_is_refused_at_1_and_accepted_at_20() {
        // Eight CPUs: 5% of one is 0.625% of the machine, under a 1% machine limit, so only
        // the per-CPU limit (3.33% at --budget 1) can refuse it.
        let e = one_cpu_at(5.0, 8);
        assert!((e.busiest_cpu_pct() - 5.0).abs() < 1e-6);
        assert!(e.machine_pct() < 1.0);
        assert!(!Budget::of_machine(1.0).within(&e));
        assert!(Budget::of_machine(20.0).within(&e));
        // The defaults (10% of a CPU) take it too.
        assert!(Budget::default().within(&e));
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(quantity(2_345_678.0), "2.3M");
        assert_eq!(quantity(12_345.0), "12.3K");
        assert_eq!(quantity(99.0), "99");
        assert_eq!(quantity(0.5), "0.5");
        assert_eq!(nanos(150.0), "150 ns");
        assert_eq!(nanos(15_000.0), "15.0 us");
        assert_eq!(nanos(6_462_100.0), "6.5 ms");
        assert_eq!(percent(2.5), "2.50%");
        assert_eq!(percent(0.001), "<0.01%");
        assert_eq!(slowdown(25.5), "25.50%");
        assert_eq!(slowdown(4.6e10), ">1000%");
    }
}

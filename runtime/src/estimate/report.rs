//! `--dry-run`: the estimate as a table (or JSON), one row per probe and, for wildcards, its
//! hottest attach points; nothing is attached.

use std::fmt::Write as _;

use super::budget::{nanos, percent, quantity, slowdown, PROCESS_FLOOR_NS};
use super::rate::Measured;
use super::{Budget, Estimate, ProbeCost, Verdict};
use tracebound_compiler::pipeline::Compiled;

/// Attach points listed under a wildcard probe (the rest are summed).
const LISTED: usize = 10;

/// The table; `source` is the script's text (the probes are shown as written).
pub fn text(
    estimate: &Estimate,
    compiled: &Compiled,
    source: &str,
    budget: &Budget,
    verdict: &Verdict,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<44} {:>7} {:>9} {:>10} {:>8}",
        "probe", "matches", "events/s", "per hit", "CPU"
    );
    for probe in &estimate.probes {
        probe_rows(&mut out, probe, estimate, compiled, source);
    }
    if let Some((rate, cost)) = &estimate.syscall_tax {
        let _ = writeln!(
            out,
            "{:<52} {:>9} {:>10} {:>8}",
            "syscall tax (every syscall, any task)",
            quantity(rate.iter().sum()),
            nanos(estimate.model.syscall_tax_ns),
            percent(cost.iter().sum::<f64>() / (estimate.cpus as f64 * 1e9) * 100.0)
        );
    }
    slowdown_rows(&mut out, estimate);
    let verdict_word = match verdict {
        Verdict::Within => "within budget",
        Verdict::Warn(_) => "within budget (warning)",
        Verdict::Refuse(_) => "OVER BUDGET: would be refused",
    };
    let _ = writeln!(
        out,
        "total: {} of the machine, {} of the busiest CPU (budget {} / {}, {} slowdown of a \
         traced process): {verdict_word}",
        percent(estimate.machine_pct()),
        percent(estimate.busiest_cpu_pct()),
        percent(budget.machine_pct),
        percent(budget.cpu_pct),
        percent(budget.process_pct)
    );
    let _ = writeln!(
        out,
        "estimate: counted {:.1} ms of at most {} ms: {}; {} events seen (about {} of CPU), \
         took {} ms; costs: {}",
        estimate.window.as_secs_f64() * 1e3,
        estimate.max_window.as_millis(),
        estimate.stopped,
        estimate.hits.total(),
        nanos(estimate.own_cost_ns()),
        estimate.took.as_millis(),
        estimate.model.source
    );
    out
}

/// A probe's row, and under a wildcard its hottest attach points.
fn probe_rows(
    out: &mut String,
    probe: &ProbeCost,
    estimate: &Estimate,
    compiled: &Compiled,
    source: &str,
) {
    let span = super::budget::probe_span(compiled, probe.probe_index);
    let name = source.get(span.range()).unwrap_or("?");
    let per_hit = probe.points.first().map_or(0.0, |p| p.per_hit_ns());
    let _ = writeln!(
        out,
        "{:<44} {:>7} {:>9} {:>10} {:>8}",
        clip(name, 44),
        probe.points.len(),
        quantity(probe.rate()),
        nanos(per_hit),
        percent(probe.ns_per_s() / (estimate.cpus as f64 * 1e9) * 100.0)
    );
    if probe.points.len() > 1 {
        let mut hottest: Vec<_> = probe.points.iter().collect();
        hottest.sort_by(|a, b| b.rate.total().total_cmp(&a.rate.total()));
        for p in hottest.iter().take(LISTED).filter(|p| p.rate.total() > 0.0) {
            let _ = writeln!(
                out,
                "  {:<50} {:>9}",
                clip(&p.rate.target.to_string(), 50),
                quantity(p.rate.total())
            );
        }
    }
    let walk: Option<u64> = probe
        .points
        .iter()
        .map(|p| crate::probes::mechanism_of(probe.kind).objects_per_walk(&p.rate.target))
        .sum();
    if let Some(objects) = walk {
        let _ = writeln!(
            out,
            "  (runs once per object when its iterator is read, not per event: one walk of about \
             {objects} objects here, about {} of CPU, once)",
            nanos(objects as f64 * per_hit)
        );
    }
    if let Some(fires) = probe
        .points
        .iter()
        .map(|p| p.ends_run)
        .try_fold(0.0, |sum, r| r.map(|r| sum + r))
    {
        let _ = writeln!(
            out,
            "  (ends the run on its first hit: priced as one hit per CPU at most; it fires {}/s)",
            quantity(fires)
        );
    }
    if probe
        .points
        .iter()
        .any(|p| p.rate.measured == Measured::Unknown)
    {
        let _ = writeln!(
            out,
            "  (some attach points could not be measured: counted as 0)"
        );
    }
}

/// The traced processes whose slowdown the budget judges.
fn slowdown_rows(out: &mut String, estimate: &Estimate) {
    // Processes whose slowdown the budget judges (the probes take at least
    // PROCESS_FLOOR_NS of their CPU a second); the rest are counted.
    let (judged, below): (Vec<_>, Vec<_>) = estimate
        .slowdowns()
        .into_iter()
        .partition(|p| p.extra_ns_per_s >= PROCESS_FLOOR_NS);
    for p in judged.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "{:<52} {:>9} {:>10} {:>8}",
            clip(&format!("slows {} (pid {}) by", p.comm, p.pid), 52),
            "",
            nanos(p.extra_ns_per_s),
            slowdown(p.slowdown_pct())
        );
    }
    let more = judged.len().saturating_sub(LISTED) + below.len();
    if more > 0 {
        let _ = writeln!(
            out,
            "  ({more} more traced processes, each below 1 ms of CPU a second)"
        );
    }
}

pub fn json(estimate: &Estimate, budget: &Budget, verdict: &Verdict) -> String {
    let mut probes = Vec::new();
    for probe in &estimate.probes {
        let points: Vec<String> = probe
            .points
            .iter()
            .map(|p| {
                // The hits behind the rate, where they were counted: (cpu, hits, seconds)
                // from `since_ns` (CLOCK_MONOTONIC), for checking against another count.
                let counted = p.rate.counted.as_ref().map_or(String::new(), |c| {
                    let cpus: Vec<String> = c
                        .per_cpu
                        .iter()
                        .map(|(cpu, hits, seconds)| format!("[{cpu}, {hits}, {seconds:.6}]"))
                        .collect();
                    format!(
                        ", \"since_ns\": {}, \"counted\": [{}]",
                        c.since_ns,
                        cpus.join(", ")
                    )
                });
                let ends_run = p
                    .ends_run
                    .map_or(String::new(), |r| format!(", \"ends_run\": true, \"fires\": {r:.1}"));
                // An iterator runs once per object when read: how many one walk visits.
                let walk = crate::probes::mechanism_of(probe.kind)
                    .objects_per_walk(&p.rate.target)
                    .map_or(String::new(), |n| format!(", \"objects_per_walk\": {n}"));
                format!(
                    "{{\"target\": {}, \"rate\": {:.1}, \"per_hit_ns\": {:.1}, \"measured\": \"{:?}\"{ends_run}{walk}{counted}}}",
                    tracebound_compiler::diagnostic::json_string(&p.rate.target.to_string()),
                    p.rate.total(),
                    p.per_hit_ns(),
                    p.rate.measured
                )
            })
            .collect();
        probes.push(format!(
            "{{\"probe\": {}, \"rate\": {:.1}, \"machine_pct\": {:.4}, \"points\": [{}]}}",
            probe.probe_index,
            probe.rate(),
            probe.ns_per_s() / (estimate.cpus as f64 * 1e9) * 100.0,
            points.join(", ")
        ));
    }
    let processes: Vec<String> = estimate
        .slowdowns()
        .iter()
        .map(|p| {
            format!(
                "{{\"pid\": {}, \"comm\": {}, \"extra_ns_per_s\": {:.0}, \"cpu_ns_per_s\": {:.0}, \
                 \"slowdown_pct\": {:.4}, \"judged\": {}}}",
                p.pid,
                tracebound_compiler::diagnostic::json_string(&p.comm),
                p.extra_ns_per_s,
                p.cpu_ns_per_s,
                p.slowdown_pct(),
                p.extra_ns_per_s >= PROCESS_FLOOR_NS
            )
        })
        .collect();
    let verdict = match verdict {
        Verdict::Within => "within",
        Verdict::Warn(_) => "warn",
        Verdict::Refuse(_) => "refuse",
    };
    format!(
        "{{\"type\": \"estimate\", \"data\": {{\"machine_pct\": {:.4}, \"busiest_cpu_pct\": {:.4}, \
         \"budget\": {{\"machine_pct\": {}, \"cpu_pct\": {}, \"process_pct\": {}}}, \
         \"verdict\": \"{verdict}\", \"window_ms\": {:.1}, \"max_window_ms\": {}, \
         \"stopped\": {}, \"events_seen\": {}, \
         \"own_cost_ns\": {:.0}, \"took_ms\": {}, \"probes\": [{}], \"processes\": [{}]}}}}\n",
        estimate.machine_pct(),
        estimate.busiest_cpu_pct(),
        budget.machine_pct,
        budget.cpu_pct,
        budget.process_pct,
        estimate.window.as_secs_f64() * 1e3,
        estimate.max_window.as_millis(),
        tracebound_compiler::diagnostic::json_string(&estimate.stopped),
        estimate.hits.total(),
        estimate.own_cost_ns(),
        estimate.took.as_millis(),
        probes.join(", "),
        processes.join(", ")
    )
}

fn clip(s: &str, width: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= width {
        one_line
    } else {
        let mut t: String = one_line.chars().take(width - 3).collect();
        t.push_str("...");
        t
    }
}

//! Whether a wildcard's members attach as one program (`probe::Dispatch`) or each on its own,
//! priced from the estimate with the calibrated costs. One program on `sys_enter` runs for
//! every syscall of every task, members or not, at a raw tracepoint's price plus its search;
//! attached each, only the members' hits pay, at a tracepoint's price. A multi-uprobe link
//! hits the same breakpoints as uprobes attached each; its program adds the cookie and the
//! search. Where the two are within [`TIE`] of each other the one program wins: it attaches
//! and detaches in one step where members attached each are closed one by one, which the
//! kernel serialises (seconds for hundreds of them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tracebound_compiler::probe::Dispatch;

use super::budget::percent;
use super::Estimate;

/// How much dearer (a share) the one program may be and still be chosen.
pub const TIE: f64 = 0.05;

/// The choice for one probe.
#[derive(Clone, Debug)]
pub struct Choice {
    pub probe_index: usize,
    pub dispatch: Dispatch,
    pub members: usize,
    /// Projected CPU nanoseconds per second, all CPUs: as one program, and attached each.
    pub one_ns: f64,
    pub each_ns: f64,
    /// One program whatever the prices (`TRACEBOUND_ATTACH_ONE=1`, to compare the two ways).
    pub forced: bool,
}

impl Choice {
    pub fn one(&self) -> bool {
        self.forced || self.one_ns <= self.each_ns * (1.0 + TIE)
    }
}

/// Instructions the search over `members` keys runs: a test per level and the last few.
fn search_insns(members: usize) -> f64 {
    (members.max(1) as f64).log2().ceil() + 3.0
}

/// The choice for each probe `candidates` says can be one program (`forced`: one program
/// for each, whatever the prices).
pub fn choose(
    estimate: &Estimate,
    candidates: &BTreeMap<usize, Dispatch>,
    forced: bool,
) -> Vec<Choice> {
    let m = &estimate.model;
    let mut out = Vec::new();
    for (&probe_index, dispatch) in candidates {
        let Some(probe) = estimate
            .probes
            .iter()
            .find(|p| p.probe_index == probe_index)
        else {
            continue;
        };
        let members = probe.points.len();
        let each_ns = probe.ns_per_s();
        let search_ns = search_insns(members) * m.instruction_ns;
        let one_ns = match dispatch {
            Dispatch::Syscall { .. } => {
                // Every syscall reaches it; the members' hits then run their bodies, after the
                // check for a 32-bit syscall (a helper call and a load).
                let all: f64 = estimate
                    .syscall_tax
                    .as_ref()
                    .map_or(0.0, |(rates, _)| rates.iter().sum());
                let reach = all * (m.raw_tracepoint_ns + search_ns);
                let bodies: f64 = probe
                    .points
                    .iter()
                    .map(|p| p.rate.total() * (p.program_ns + m.helper_ns + 2.0 * m.instruction_ns))
                    .sum();
                reach + bodies
            }
            Dispatch::Cookie { .. } => {
                let extra: f64 = probe
                    .points
                    .iter()
                    .map(|p| p.rate.total() * (m.helper_ns + search_ns))
                    .sum();
                each_ns + extra
            }
        };
        out.push(Choice {
            probe_index,
            dispatch: dispatch.clone(),
            members,
            one_ns,
            each_ns,
            forced,
        });
    }
    out
}

/// `--dry-run`'s lines saying how each wildcard attaches; `shown(probe_index)` is the probe
/// as written, and `refused` the probes that cannot be one program, with why.
pub fn text(
    choices: &[Choice],
    refused: &[(usize, String)],
    cpus: usize,
    shown: impl Fn(usize) -> String,
) -> String {
    let mut out = String::new();
    let share = |ns: f64| percent(ns / (cpus.max(1) as f64 * 1e9) * 100.0);
    for c in choices {
        let mut one = format!("one program on {}", c.dispatch.hook());
        if c.forced {
            one.push_str(" (forced by TRACEBOUND_ATTACH_ONE=1)");
        }
        let (chosen, other) = if c.one() {
            (one.clone(), "attached each".to_string())
        } else {
            ("attached each".to_string(), one.clone())
        };
        let (chosen_ns, other_ns) = if c.one() {
            (c.one_ns, c.each_ns)
        } else {
            (c.each_ns, c.one_ns)
        };
        let _ = writeln!(
            out,
            "attach: {} ({} attach points): {chosen}, {} of the machine; {other}: {}",
            shown(c.probe_index),
            c.members,
            share(chosen_ns),
            share(other_ns)
        );
    }
    for (index, why) in refused {
        let _ = writeln!(out, "attach: {}: attached each ({why})", shown(*index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_grows_with_the_log_of_the_members() {
        assert_eq!(search_insns(2), 4.0);
        assert_eq!(search_insns(360), 12.0);
    }

    #[test]
    fn the_one_program_wins_a_tie() {
        let c = |one_ns, each_ns| Choice {
            probe_index: 0,
            dispatch: Dispatch::Cookie { ret: false },
            members: 2,
            one_ns,
            each_ns,
            forced: false,
        };
        assert!(c(104.0, 100.0).one());
        assert!(!c(106.0, 100.0).one());
        assert!(c(10.0, 100.0).one());
        let forced = Choice {
            forced: true,
            ..c(1000.0, 100.0)
        };
        assert!(forced.one());
    }
}

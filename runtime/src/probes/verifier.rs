//! Reading the kernel verifier's log: which instruction it rejected and why, so the rejection
//! can be shown at the statement that produced that instruction.
//!
//! When the verifier gives up on a loop (it saw the same state come round again, or it walked
//! its limit of a million instructions), the instruction it stopped at says little: the
//! rejection is shown at the loop instead, found from the program's backward jumps.

use tracebound_compiler::insn::Insn;

/// A rejection as a user should see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The instruction to show it at (its span is the statement's), when the log says; for
    /// a loop, the loop's first.
    pub insn: Option<usize>,
    /// What went wrong, in the verifier's words or, for loops, ours.
    pub reason: String,
    /// The fix, for the common causes.
    pub help: Option<&'static str>,
}

const LOOP_HELP: &str = "the verifier walks every iteration: bound the loop by a small constant \
     it can see, e.g. `while ($i < 100) { ...; $i++; }`, or use `unroll(N) { ... }` or \
     `for ($i : 0..N) { ... }` with a small N";

/// Reads the log of a program (`insns`, as loaded) the verifier rejected.
pub fn rejection(log: &str, insns: &[Insn]) -> Rejection {
    let reason = reason(log);
    let at = failing_instruction(log);
    let loops = loops(insns);
    let gave_up = gave_up_on_complexity(&reason);
    let infinite = reason.contains("infinite loop detected");
    if gave_up || infinite {
        let found = match innermost(&loops, at) {
            Some(l) => Some((l, false)),
            None => outermost(&loops).map(|l| (l, has_inner(&loops, l))),
        };
        // The loop's first instruction starts its condition, whose span is the statement's.
        if let Some((&(head, _), nested)) = found {
            let this = if nested {
                "this loop (or one inside it)"
            } else {
                "this loop"
            };
            let reason = if infinite {
                format!(
                    "infinite loop detected: the verifier saw {this} come back to the same state"
                )
            } else {
                let walked =
                    processed(log).map_or(String::new(), |n| format!(" after {n} instructions"));
                format!("the verifier cannot bound {this}: it gave up{walked}")
            };
            return Rejection {
                insn: Some(head),
                reason,
                help: Some(LOOP_HELP),
            };
        }
    }
    Rejection {
        insn: at,
        help: explain(&reason),
        reason,
    }
}

/// Whether a rejection, logged with statistics only (the cheap first try), should be loaded
/// again with the verifier's instruction-by-instruction log, to find where it happened and
/// to show with `-v`: yes, unless the verifier gave up on complexity. That full log of a
/// program that walked a million instructions is gigabytes and takes the kernel minutes, and
/// the loop to blame is found without it.
pub fn needs_instruction_trail(log: &str) -> bool {
    !gave_up_on_complexity(&reason(log))
}

/// The verifier walked its limit of instructions or states.
fn gave_up_on_complexity(reason: &str) -> bool {
    reason.contains("BPF program is too large") || reason.contains("too complex")
}

/// `processed N insns`, or the `Processed N insn` of the too-large message.
fn processed(log: &str) -> Option<u64> {
    log.lines().find_map(|l| {
        let rest = l
            .strip_prefix("processed ")
            .or_else(|| l.split_once("Processed ").map(|(_, r)| r))?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Loops as (first instruction, the backward jump that closes it), from the code: the jump
/// targets an instruction before itself.
fn loops(insns: &[Insn]) -> Vec<(usize, usize)> {
    insns
        .iter()
        .enumerate()
        .filter(|(_, insn)| insn.is_jump() && insn.off < 0)
        .filter_map(|(i, insn)| {
            let target = i as i64 + 1 + i64::from(insn.off);
            (target >= 0).then_some((target as usize, i))
        })
        .collect()
}

/// The smallest loop holding instruction `at`.
fn innermost(loops: &[(usize, usize)], at: Option<usize>) -> Option<&(usize, usize)> {
    let at = at?;
    loops
        .iter()
        .filter(|(head, jump)| (*head..=*jump).contains(&at))
        .min_by_key(|(head, jump)| jump - head)
}

/// Whether another loop lies inside `outer`.
fn has_inner(loops: &[(usize, usize)], outer: &(usize, usize)) -> bool {
    loops
        .iter()
        .any(|l| l != outer && outer.0 <= l.0 && l.1 <= outer.1)
}

/// The first loop that no other loop holds.
fn outermost(loops: &[(usize, usize)]) -> Option<&(usize, usize)> {
    loops
        .iter()
        .filter(|(h, j)| {
            !loops
                .iter()
                .any(|(h2, j2)| h2 <= h && j <= j2 && (h2, j2) != (h, j))
        })
        .min_by_key(|(head, _)| *head)
}

/// The instruction the verifier was at when it gave up: the one its reason names (`infinite
/// loop detected at insn 5`), else the last `N: (..)` line walked, else any `insn N` the log
/// names (unreachable code, bad jumps).
pub fn failing_instruction(log: &str) -> Option<usize> {
    insn_named_in(&reason(log))
        .or_else(|| walked(log))
        .or_else(|| log.lines().rev().find_map(insn_named_in))
}

/// The N of the last `insn N` in a line, as a word: not the `max_states_per_insn 4` of the
/// statistics line.
fn insn_named_in(line: &str) -> Option<usize> {
    line.match_indices("insn ")
        .filter(|(at, _)| {
            *at == 0
                || !line.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && line.as_bytes()[at - 1] != b'_'
        })
        .filter_map(|(at, m)| {
            let digits: String = line[at + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .last()
}

fn walked(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|l| {
        let (n, rest) = l.split_once(": ")?;
        (rest.starts_with('(') && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse().ok())
            .flatten()
    })
}

/// The verifier's reason: the last line that is not an instruction dump or a summary.
pub fn reason(log: &str) -> String {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                // State dumps printed after the reason (loops, pruning).
                && !l.starts_with("old state:")
                && !l.starts_with("cur state:")
                && !l.contains(": (")
                && !l.starts_with(';')
        })
        .unwrap_or("the program was rejected")
        .to_string()
}

/// The common causes in words, with the fix a user can make.
pub fn explain(reason: &str) -> Option<&'static str> {
    if reason.contains("back-edge")
        || reason.contains("infinite loop")
        || reason.contains("too complex")
    {
        Some(LOOP_HELP)
    } else if reason.contains("invalid mem access") || reason.contains("invalid indirect read") {
        Some("this reads memory the program may not touch directly: read it with `str()` or through a cast pointer")
    } else if reason.contains("stack") && reason.contains("too large") {
        Some("the probe uses more than 512 bytes of stack: use fewer or shorter strings and tuples")
    } else if reason.contains("program is too large") || reason.contains("BPF program is too large")
    {
        Some("the probe's program is too large: split the work across probes")
    } else if reason.contains("unknown func") || reason.contains("helper call is not allowed") {
        Some("this function is not allowed in this probe type")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::insn::Reg;

    const LOG: &str = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (bf) r6 = r1                       ; R1=ctx() R6_w=ctx()\n1: (b7) r1 = 0\n2: (79) r2 = *(u64 *)(r1 +8)\nR1 invalid mem access 'scalar'\nprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    /// What a statistics-only log says when the verifier walks its limit.
    const TOO_LARGE: &str = "BPF program is too large. Processed 1000001 insn\nverification time 374522 usec\nstack depth 24\nprocessed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 17863 peak_states 17863 mark_read 0\n";

    const INFINITE: &str = "infinite loop detected at insn 5\ncur state: R6=1 R10=fp0\nold state: R6=P1 R10=fp0\nverification time 57 usec\nstack depth 16\nprocessed 66 insns (limit 1000000) max_states_per_insn 1 total_states 5 peak_states 5 mark_read 0\n";

    fn mov() -> Insn {
        Insn::mov64_imm(Reg::R0, 0)
    }

    /// `len` instructions with a backward jump at `jump` to `head` for each loop given.
    fn program(len: usize, loops: &[(usize, usize)]) -> Vec<Insn> {
        let mut insns = vec![mov(); len];
        for &(head, jump) in loops {
            insns[jump] = Insn::ja((head as i64 - jump as i64 - 1) as i16);
        }
        insns[len - 1] = Insn::exit();
        insns
    }

    #[test]
    fn finds_instructions_named_in_the_reason() {
        assert_eq!(failing_instruction("unreachable insn 39\n"), Some(39));
        assert_eq!(
            failing_instruction("jump out of range from insn 3 to 9\n"),
            Some(3)
        );
        assert_eq!(failing_instruction(INFINITE), Some(5));
    }

    #[test]
    fn the_statistics_line_names_no_instruction() {
        assert_eq!(failing_instruction(TOO_LARGE), None);
        assert!(!needs_instruction_trail(TOO_LARGE));
        assert!(!needs_instruction_trail(
            "The sequence of 8193 jumps is too complex.\nprocessed 188434 insns\n"
        ));
        assert!(needs_instruction_trail(INFINITE));
        assert!(needs_instruction_trail(
            "R1 invalid mem access 'scalar'\nprocessed 3 insns (limit 1000000) max_states_per_insn 0\n"
        ));
    }

    #[test]
    fn finds_the_instruction_and_the_reason() {
        assert_eq!(failing_instruction(LOG), Some(2));
        assert_eq!(reason(LOG), "R1 invalid mem access 'scalar'");
        assert!(explain(&reason(LOG)).unwrap().contains("str()"));
        let r = rejection(LOG, &program(4, &[]));
        assert_eq!(r.insn, Some(2));
        assert_eq!(r.reason, "R1 invalid mem access 'scalar'");
    }

    #[test]
    fn a_program_walked_to_the_limit_is_blamed_on_its_loop() {
        // A loop from 3 to its backward jump at 15, inside a program of 45.
        let r = rejection(TOO_LARGE, &program(45, &[(3, 15)]));
        assert_eq!(r.insn, Some(3));
        assert_eq!(
            r.reason,
            "the verifier cannot bound this loop: it gave up after 1000001 instructions"
        );
        assert_eq!(r.help, Some(LOOP_HELP));
        // Without a loop it is the program's size.
        let r = rejection(TOO_LARGE, &program(45, &[]));
        assert_eq!(r.insn, None);
        assert!(r.help.unwrap().contains("split the work"));
    }

    #[test]
    fn nested_and_separate_loops() {
        // An inner loop 6..=10 in an outer 2..=14, and a later loop 20..=25.
        let insns = program(30, &[(6, 10), (2, 14), (20, 25)]);
        // Where the verifier stopped picks the innermost loop holding it.
        let infinite = INFINITE.replace("insn 5", "insn 8");
        assert_eq!(rejection(&infinite, &insns).insn, Some(6));
        let infinite = INFINITE.replace("insn 5", "insn 22");
        assert_eq!(rejection(&infinite, &insns).insn, Some(20));
        // Not knowing where, the first outermost loop, saying it may be one inside.
        let r = rejection(TOO_LARGE, &insns);
        assert_eq!(r.insn, Some(2));
        assert!(r
            .reason
            .starts_with("the verifier cannot bound this loop (or one inside it)"));
    }

    #[test]
    fn an_infinite_loop_is_shown_at_the_loop() {
        let r = rejection(INFINITE, &program(20, &[(3, 15)]));
        assert_eq!(r.insn, Some(3));
        assert!(
            r.reason.starts_with("infinite loop detected: "),
            "{}",
            r.reason
        );
    }
}

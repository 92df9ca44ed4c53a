//! Reading the kernel verifier's log: which instruction it rejected and why, so the rejection
//! can be shown at the statement that produced that instruction.

/// The instruction the verifier was at when it gave up: the last `N: (..)` line of the log,
/// or the `insn N` it names when it stopped before walking any (unreachable code, bad jumps).
pub fn failing_instruction(log: &str) -> Option<usize> {
    walked(log).or_else(|| {
        let at = log.rfind("insn ")? + "insn ".len();
        let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
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
        Some("the verifier could not prove a loop ends: bound it, e.g. `while ($i < 100)` with `$i++` inside, or use `unroll`")
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

    const LOG: &str = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (bf) r6 = r1                       ; R1=ctx() R6_w=ctx()\n1: (b7) r1 = 0\n2: (79) r2 = *(u64 *)(r1 +8)\nR1 invalid mem access 'scalar'\nprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    #[test]
    fn finds_instructions_named_in_the_reason() {
        assert_eq!(failing_instruction("unreachable insn 39\n"), Some(39));
        assert_eq!(
            failing_instruction("jump out of range from insn 3 to 9\n"),
            Some(3)
        );
    }

    #[test]
    fn finds_the_instruction_and_the_reason() {
        assert_eq!(failing_instruction(LOG), Some(2));
        assert_eq!(reason(LOG), "R1 invalid mem access 'scalar'");
        assert!(explain(&reason(LOG)).unwrap().contains("str()"));
    }
}

//! `for ($i : from..to)`: how many counts a literal range has, and the refusal of one longer
//! than a loop runs (`bpf_loop` runs at most `BPF_MAX_LOOPS` and fails past it).

use super::fold::fold;
use crate::ast::Expr;
use crate::diagnostic::Diagnostic;

/// The most counts a loop runs: the kernel's `BPF_MAX_LOOPS`.
pub(crate) const MOST_COUNTS: i64 = 1 << 23;

/// `to - from` when both are integer literals (or operators on them) an int64 holds.
pub(crate) fn literal_counts(from: &Expr, to: &Expr) -> Option<i64> {
    let literal = |e: &Expr| match fold(e)? {
        Ok(v) if v.signed() => Some(v.bits() as i64),
        _ => None,
    };
    Some(literal(to)?.saturating_sub(literal(from)?))
}

/// A literal range past what a loop runs.
pub(crate) fn too_many_counts(from: &Expr, to: &Expr) -> Option<Diagnostic> {
    let counts = literal_counts(from, to)?;
    (counts > MOST_COUNTS).then(|| {
        Diagnostic::error(
            format!("this range has {counts} counts; a loop runs at most {MOST_COUNTS}"),
            from.span.to(to.span),
            "too many counts",
        )
        .with_help("split the work over several events, or narrow the range")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::ExprKind;
    use crate::span::Span;

    fn int(n: u64) -> Expr {
        Expr::new(ExprKind::Int(n), Span::new(0, 1))
    }

    #[test]
    fn literal_ranges_are_counted_and_long_ones_refused() {
        assert_eq!(literal_counts(&int(2), &int(10)), Some(8));
        assert_eq!(literal_counts(&int(10), &int(2)), Some(-8));
        assert!(too_many_counts(&int(0), &int(1 << 23)).is_none());
        assert!(too_many_counts(&int(0), &int((1 << 23) + 1)).is_some());
        // Beyond an int64 it is not a signed literal: left to run time.
        assert_eq!(literal_counts(&int(0), &int(u64::MAX)), None);
    }
}

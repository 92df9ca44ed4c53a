//! Operators whose operands are all integer literals, computed when compiling as the current
//! release computes them (its literal folding, docs/integers.md "Overflow"): exact arithmetic
//! on int64 and uint64 literals, `>>` of a negative literal arithmetic and `/`, `%` of one
//! truncating toward zero as C does (`-1 >> 3` is -1, `-7 / 2` is -3), and a refusal where
//! the result does not fit or is undefined (overflow, a division by zero, a shift by 64 or
//! more, or by a negative amount). The checker reports the refusals (so `--check` does);
//! lowering emits the folded value as a constant, so no such operator runs in the kernel.

use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::span::Span;

/// A folded integer literal: the current release's `Integer` (0 to 2^64 - 1; beyond
/// 2^63 - 1 it is a uint64) or `NegativeInteger` (an int64 below 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Literal {
    NonNegative(u64),
    Negative(i64),
}

impl Literal {
    /// Its 64 bits, as the kernel holds it.
    pub(crate) fn bits(self) -> u64 {
        match self {
            Literal::NonNegative(v) => v,
            Literal::Negative(v) => v as u64,
        }
    }

    /// Whether it is a signed value: every negative one and the non-negative ones an int64
    /// holds (those are flexible, taking another operand's signedness).
    pub(crate) fn signed(self) -> bool {
        match self {
            Literal::NonNegative(v) => v <= i64::MAX as u64,
            Literal::Negative(_) => true,
        }
    }

    fn of(v: i128) -> Option<Literal> {
        if v < 0 {
            i64::try_from(v).ok().map(Literal::Negative)
        } else {
            u64::try_from(v).ok().map(Literal::NonNegative)
        }
    }
}

/// Why an operator on literals is refused, at the operator's expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoldError {
    pub span: Span,
    pub message: String,
}

const FLOW: &str = "unable to fold literals due to overflow or underflow";

/// The value of `e` when it is an integer literal or an arithmetic operator (`-`, `~`,
/// `+ - * / % & | ^ << >>`) on such values; `None` when it is not (a comparison, `!`, `&&`
/// and `||` give 0 or 1 at run time exactly as folding would). `Err` is the innermost
/// operator refused.
pub(crate) fn fold(e: &Expr) -> Option<Result<Literal, FoldError>> {
    match &e.kind {
        ExprKind::Int(n) => Some(Ok(Literal::NonNegative(*n))),
        ExprKind::Unary { op, expr } => {
            let inner = fold(expr)?;
            Some(inner.and_then(|v| unary(*op, v, e.span)).transpose()?)
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (fold(lhs), fold(rhs));
            // A refusal inside either side is reported, even when this operator folds to
            // nothing (a comparison of literals).
            for side in [&a, &b] {
                if let Some(Err(err)) = side {
                    return Some(Err(err.clone()));
                }
            }
            let (Some(Ok(a)), Some(Ok(b))) = (a, b) else {
                return None;
            };
            binary(*op, a, b, e.span)
        }
        _ => None,
    }
}

/// The first refusal among the operators on literals inside `e` (for the checker).
pub(crate) fn refusal(e: &Expr) -> Option<FoldError> {
    match fold(e) {
        Some(Err(err)) => Some(err),
        _ => None,
    }
}

fn unary(op: UnaryOp, v: Literal, span: Span) -> Result<Option<Literal>, FoldError> {
    Ok(match (op, v) {
        (UnaryOp::Neg, Literal::NonNegative(n)) if n > 1u64 << 63 => {
            return Err(FoldError {
                span,
                message: "negative value will underflow".into(),
            })
        }
        (UnaryOp::Neg, Literal::NonNegative(n)) => Literal::of(-(n as i128)),
        (UnaryOp::Neg, Literal::Negative(n)) => Literal::of(-(n as i128)),
        (UnaryOp::BitNot, v) => Some(Literal::NonNegative(!v.bits())),
        (UnaryOp::Plus, v) => Some(v),
        _ => None,
    })
}

/// Both operands in one mode, as the current release marshals them: both non-negative as
/// uint64, otherwise as int64 (a uint64 beyond int64 beside a negative one cannot be).
enum Pair {
    Unsigned(u64, u64),
    Signed(i64, i64),
}

fn binary(op: BinaryOp, a: Literal, b: Literal, span: Span) -> Option<Result<Literal, FoldError>> {
    use BinaryOp::*;
    let refused = |message: &str| {
        Some(Err(FoldError {
            span,
            message: message.into(),
        }))
    };
    let pair = match (a, b) {
        (Literal::NonNegative(x), Literal::NonNegative(y)) => Pair::Unsigned(x, y),
        (Literal::Negative(x), Literal::Negative(y)) => Pair::Signed(x, y),
        (Literal::NonNegative(x), Literal::Negative(y)) => match i64::try_from(x) {
            Ok(x) => Pair::Signed(x, y),
            Err(_) => return refused(FLOW),
        },
        (Literal::Negative(x), Literal::NonNegative(y)) => match i64::try_from(y) {
            Ok(y) => Pair::Signed(x, y),
            Err(_) => return refused(FLOW),
        },
    };
    if matches!(op, Lt | Le | Gt | Ge | Eq | Ne | And | Or) {
        return None;
    }
    let result = match pair {
        Pair::Unsigned(x, y) => unsigned(op, x, y),
        Pair::Signed(x, y) => signed(op, x, y),
    };
    Some(result.ok_or(FoldError {
        span,
        message: FLOW.into(),
    }))
}

fn unsigned(op: BinaryOp, x: u64, y: u64) -> Option<Literal> {
    use BinaryOp::*;
    let (wx, wy) = (x as i128, y as i128);
    match op {
        Add => Literal::of(wx + wy),
        // Below zero it must be an int64.
        Sub => Literal::of(wx - wy),
        Mul => x.checked_mul(y).map(Literal::NonNegative),
        Div => x.checked_div(y).map(Literal::NonNegative),
        Rem => x.checked_rem(y).map(Literal::NonNegative),
        BitAnd => Some(Literal::NonNegative(x & y)),
        BitOr => Some(Literal::NonNegative(x | y)),
        BitXor => Some(Literal::NonNegative(x ^ y)),
        Shl => (y < 64).then(|| Literal::NonNegative(x << y)),
        Shr => (y < 64).then(|| Literal::NonNegative(x >> y)),
        _ => None,
    }
}

fn signed(op: BinaryOp, x: i64, y: i64) -> Option<Literal> {
    use BinaryOp::*;
    let (wx, wy) = (x as i128, y as i128);
    let int64 = |v: i128| i64::try_from(v).ok().and_then(|v| Literal::of(v as i128));
    match op {
        Add => int64(wx + wy),
        Sub => int64(wx - wy),
        // Two negative factors make a uint64 product; otherwise it must be an int64.
        Mul if x < 0 && y < 0 => Literal::of(wx * wy).filter(|_| wx * wy <= u64::MAX as i128),
        Mul => int64(wx * wy),
        // C's division and remainder: toward zero, the remainder with the dividend's sign.
        Div if y != 0 => Literal::of(wx / wy),
        Rem if y != 0 => Literal::of(wx % wy),
        Div | Rem => None,
        BitAnd => Literal::of((x & y) as i128),
        BitOr => Literal::of((x | y) as i128),
        BitXor => Literal::of((x ^ y) as i128),
        Shl => (0..64)
            .contains(&y)
            .then(|| Literal::of((x << y) as i128))?,
        Shr => (0..64)
            .contains(&y)
            .then(|| Literal::of((x >> y) as i128))?,
        _ => None,
    }
}

/// An index that is a non-negative integer literal, or operators on literals folding to one.
pub(crate) fn constant_index(index: &Expr) -> Option<u32> {
    let n = match (&index.kind, fold(index)) {
        (ExprKind::Int(n), _) => *n,
        (_, Some(Ok(Literal::NonNegative(n)))) => n,
        _ => return None,
    };
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Item, StmtKind};
    use crate::parse::parse;

    /// Folds the expression `text` as written in `BEGIN { $x = text; }`.
    fn folded(text: &str) -> Option<Result<Literal, String>> {
        let program = parse(&format!("BEGIN {{ $x = {text}; }}")).expect("parses");
        let Item::Probe(probe) = &program.items[0] else {
            panic!("a probe")
        };
        let StmtKind::Assign { value, .. } = &probe.body.stmts[0].kind else {
            panic!("an assignment")
        };
        fold(value).map(|r| r.map_err(|e| e.message))
    }

    fn value(text: &str) -> Literal {
        folded(text).expect("folds").expect("is not refused")
    }

    fn refused(text: &str) -> String {
        folded(text).expect("folds").expect_err("is refused")
    }

    #[test]
    fn negative_literals_shift_and_divide_as_c_does() {
        assert_eq!(value("-1 >> 3"), Literal::Negative(-1));
        assert_eq!(value("-7 / 2"), Literal::Negative(-3));
        assert_eq!(value("-7 % 2"), Literal::Negative(-1));
        assert_eq!(value("-1 << 63"), Literal::Negative(i64::MIN));
        assert_eq!(value("16 >> 2"), Literal::NonNegative(4));
    }

    #[test]
    fn results_beyond_int64_are_uint64_and_overflow_is_refused() {
        assert_eq!(value("1 << 63"), Literal::NonNegative(1 << 63));
        assert!(!value("1 << 63").signed());
        assert_eq!(
            value("9223372036854775807 + 1"),
            Literal::NonNegative(1 << 63)
        );
        assert_eq!(value("-2 * -3"), Literal::NonNegative(6));
        assert_eq!(value("3 - 5"), Literal::Negative(-2));
        assert_eq!(value("~0"), Literal::NonNegative(u64::MAX));
        assert_eq!(refused("18446744073709551615 + 1"), FLOW);
        assert_eq!(refused("-9223372036854775807 - 2"), FLOW);
        assert_eq!(refused("18446744073709551615 + -1"), FLOW);
        assert_eq!(refused("4294967296 * 4294967296"), FLOW);
    }

    #[test]
    fn undefined_operations_are_refused() {
        assert_eq!(refused("1 / 0"), FLOW);
        assert_eq!(refused("5 % 0"), FLOW);
        assert_eq!(refused("1 << 64"), FLOW);
        assert_eq!(refused("1 >> -1"), FLOW);
        assert_eq!(
            refused("-9223372036854775809"),
            "negative value will underflow"
        );
        // Inside a larger expression the innermost refusal is the one reported.
        assert_eq!(refused("(1 / 0) < 3"), FLOW);
    }

    #[test]
    fn only_literals_fold() {
        assert_eq!(folded("$y >> 3"), None);
        assert_eq!(folded("(uint8)1 + 2"), None);
        assert_eq!(folded("1 < 2"), None);
    }
}

//! What each histogram bucket index means, as ranges and as bpftrace 0.17's labels. The
//! indices are the ones `compiler::program::{log2_bucket, linear_bucket}` produce, so a label
//! here and a bucket there must agree (tests below check every log2 index both ways).
//!
//! bpftrace writes the bounds of the two histogram kinds differently:
//! - `hist`: powers of two with a binary suffix, `[1K, 2K)`, `[512, 1K)`, `[1G, 2G)`;
//! - `lhist`: a number with `M` if it is a multiple of 2^20, else `K` if a multiple of 1024,
//!   else plain: `[1K, 1536)`, `[1536, 2K)`, `[0, 1024M)` (never `G`), `[1000, 2000)`.

use super::OutputError;

/// log2 buckets: negative, [0], [1], then [2^k, 2^(k+1)) for k = 0..63.
pub const LOG2_BUCKETS: u64 = 65;

/// The values a bucket holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Everything below the bound: `(..., b)`.
    Below(i128),
    /// Exactly one value: `[v]`.
    Exact(i128),
    /// `[lo, hi)`.
    Span(i128, i128),
    /// The bound and everything above: `[b, ...)`.
    AtLeast(i128),
}

impl Range {
    /// The inclusive (min, max) bpftrace's JSON output gives; `None` for an open side.
    pub fn json_bounds(self) -> (Option<i128>, Option<i128>) {
        match self {
            Range::Below(b) => (None, Some(b - 1)),
            Range::Exact(v) => (Some(v), Some(v)),
            Range::Span(lo, hi) => (Some(lo), Some(hi - 1)),
            Range::AtLeast(b) => (Some(b), None),
        }
    }
}

/// The most steps bpftrace 0.17 accepts in an lhist ("too many buckets, must be <= 1000").
pub const MAX_LINEAR_STEPS: i128 = 1000;

/// The number of buckets of `lhist(x, min, max, step)`: below min, (max - min) / step
/// steps, and max or above (values past the last whole step land there too). Parameters
/// bpftrace would refuse are an error here too, so that a bad map description cannot make
/// the printer allocate a bucket array of any size.
pub fn linear_buckets(min: i64, max: i64, step: i64) -> Result<u64, OutputError> {
    let steps = (max as i128 - min as i128) / (step as i128).max(1);
    if step <= 0 || max <= min || !(1..=MAX_LINEAR_STEPS).contains(&steps) {
        return Err(OutputError::BadLhist { min, max, step });
    }
    Ok(2 + steps as u64)
}

pub fn log2_range(index: u64) -> Result<Range, OutputError> {
    match index {
        0 => Ok(Range::Below(0)),
        1 => Ok(Range::Exact(0)),
        2 => Ok(Range::Exact(1)),
        k if k < LOG2_BUCKETS => Ok(Range::Span(1i128 << (k - 2), 1i128 << (k - 1))),
        _ => Err(OutputError::BadBucket {
            index,
            buckets: LOG2_BUCKETS,
        }),
    }
}

pub fn linear_range(index: u64, min: i64, max: i64, step: i64) -> Result<Range, OutputError> {
    let buckets = linear_buckets(min, max, step)?;
    let (min, max, step) = (min as i128, max as i128, step as i128);
    match index {
        0 => Ok(Range::Below(min)),
        i if i + 1 < buckets => {
            let lo = min + (i as i128 - 1) * step;
            Ok(Range::Span(lo, lo + step))
        }
        i if i + 1 == buckets => Ok(Range::AtLeast(max)),
        _ => Err(OutputError::BadBucket { index, buckets }),
    }
}

/// A `hist` bucket's label.
pub fn log2_label(index: u64) -> Result<String, OutputError> {
    label(log2_range(index)?, log2_number)
}

/// An `lhist` bucket's label.
pub fn linear_label(index: u64, min: i64, max: i64, step: i64) -> Result<String, OutputError> {
    label(linear_range(index, min, max, step)?, linear_number)
}

fn label(range: Range, number: fn(i128) -> String) -> Result<String, OutputError> {
    Ok(match range {
        Range::Below(b) => format!("(..., {})", number(b)),
        Range::Exact(v) => format!("[{}]", number(v)),
        Range::Span(lo, hi) => format!("[{}, {})", number(lo), number(hi)),
        Range::AtLeast(b) => format!("[{}, ...)", number(b)),
    })
}

/// `hist` bounds: the largest binary unit that divides the number evenly, up to E (2^60).
fn log2_number(n: i128) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    for (i, unit) in UNITS.iter().enumerate().rev() {
        let scale = 1i128 << (10 * (i + 1));
        if n >= scale && n % scale == 0 {
            return format!("{}{unit}", n / scale);
        }
    }
    n.to_string()
}

/// `lhist` bounds: M for multiples of 2^20, K for multiples of 1024, nothing for 0.
fn linear_number(n: i128) -> String {
    if n != 0 && n % (1 << 20) == 0 {
        format!("{}M", n >> 20)
    } else if n != 0 && n % 1024 == 0 {
        format!("{}K", n >> 10)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::program::{linear_bucket, log2_bucket};

    #[test]
    fn log2_labels() {
        let labels: Vec<String> = (0..13).map(|i| log2_label(i).unwrap()).collect();
        assert_eq!(
            labels,
            [
                "(..., 0)",
                "[0]",
                "[1]",
                "[2, 4)",
                "[4, 8)",
                "[8, 16)",
                "[16, 32)",
                "[32, 64)",
                "[64, 128)",
                "[128, 256)",
                "[256, 512)",
                "[512, 1K)",
                "[1K, 2K)"
            ]
        );
        assert_eq!(log2_label(22).unwrap(), "[1M, 2M)");
        assert_eq!(log2_label(32).unwrap(), "[1G, 2G)");
        assert_eq!(log2_label(33).unwrap(), "[2G, 4G)");
        assert_eq!(log2_label(42).unwrap(), "[1T, 2T)");
        assert_eq!(log2_label(64).unwrap(), "[4E, 8E)");
        assert!(log2_label(65).is_err());
    }

    #[test]
    fn log2_ranges_agree_with_the_bucket_function() {
        for index in 0..LOG2_BUCKETS {
            let samples: Vec<i64> = match log2_range(index).unwrap() {
                Range::Below(_) => vec![-1, i64::MIN],
                Range::Exact(v) => vec![v as i64],
                Range::Span(lo, hi) => vec![lo as i64, (hi - 1) as i64],
                Range::AtLeast(_) => unreachable!(),
            };
            for s in samples {
                assert_eq!(log2_bucket(s), index, "value {s}");
            }
        }
    }

    #[test]
    fn linear_labels() {
        let l = |i| linear_label(i, 0, 100, 10).unwrap();
        assert_eq!(l(0), "(..., 0)");
        assert_eq!(l(1), "[0, 10)");
        assert_eq!(l(10), "[90, 100)");
        assert_eq!(l(11), "[100, ...)");
        assert!(linear_label(12, 0, 100, 10).is_err());
        // Units only for exact multiples, and never beyond M.
        assert_eq!(linear_label(1, 1024, 4096, 512).unwrap(), "[1K, 1536)");
        assert_eq!(linear_label(2, 1024, 4096, 512).unwrap(), "[1536, 2K)");
        assert_eq!(linear_label(1, 0, 1 << 31, 1 << 30).unwrap(), "[0, 1024M)");
        assert_eq!(
            linear_label(1, 1024, 3 << 20, 1 << 20).unwrap(),
            "[1K, 1025K)"
        );
        // A range that is not a whole number of steps: the last bucket starts at max.
        assert_eq!(linear_label(3, 0, 10, 3).unwrap(), "[6, 9)");
        assert_eq!(linear_label(4, 0, 10, 3).unwrap(), "[10, ...)");
        assert!(linear_label(0, 0, 10, 0).is_err());
        assert!(linear_label(0, 0, 5, 10).is_err());
        assert!(linear_buckets(0, 1000, 1).is_ok());
        assert!(linear_buckets(0, 1001, 1).is_err());
        assert!(linear_buckets(i64::MIN, i64::MAX, 1).is_err());
    }

    #[test]
    fn linear_ranges_agree_with_the_bucket_function() {
        for (min, max, step) in [(0, 100, 10), (0, 10, 3), (5, 6, 1), (100, 200, 25)] {
            let n = linear_buckets(min, max, step).unwrap();
            for v in min - 3..max + 3 {
                let index = linear_bucket(v, min, max, step);
                assert!(index < n);
                let inside = match linear_range(index, min, max, step).unwrap() {
                    Range::Below(b) => (v as i128) < b,
                    Range::Span(lo, hi) => (lo..hi).contains(&(v as i128)),
                    // bpftrace folds a trailing partial step into the last bucket.
                    Range::AtLeast(_) => v >= min + (n as i64 - 2) * step,
                    Range::Exact(_) => false,
                };
                assert!(inside, "lhist({v}, {min}, {max}, {step}) -> {index}");
            }
        }
    }

    #[test]
    fn json_bounds() {
        assert_eq!(log2_range(0).unwrap().json_bounds(), (None, Some(-1)));
        assert_eq!(log2_range(1).unwrap().json_bounds(), (Some(0), Some(0)));
        assert_eq!(log2_range(4).unwrap().json_bounds(), (Some(4), Some(7)));
        assert_eq!(
            linear_range(0, 10, 30, 10).unwrap().json_bounds(),
            (None, Some(9))
        );
        assert_eq!(
            linear_range(3, 10, 30, 10).unwrap().json_bounds(),
            (Some(30), None)
        );
    }
}

//! What each histogram bucket index means, as ranges and as bpftrace 0.17's labels. The
//! indices are the ones `compiler::program::{log2_bucket, linear_bucket}` produce, so a label
//! here and a bucket there must agree (tests below check every log2 index both ways).
//!
//! bpftrace writes the bounds of the two histogram kinds differently:
//! - `hist`: powers of two with a binary suffix, `[1K, 2K)`, `[512, 1K)`, `[1G, 2G)`; with
//!   sub-buckets (`hist(x, k)`) a bound is scaled by the unit of its bucket's width, so
//!   `[1280, 1536)` and `[1024K, 1280K)` (k = 2) but `[4K, 5K)`;
//! - `lhist`: a number with `M` if it is a multiple of 2^20, else `K` if a multiple of 1024,
//!   else plain: `[1K, 1536)`, `[1536, 2K)`, `[0, 1024M)` (never `G`), `[1000, 2000)`.

use super::OutputError;

pub use tracebound_compiler::program::log2_buckets;

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

pub use tracebound_compiler::program::MAX_LINEAR_STEPS;

/// `program::linear_buckets`, with parameters bpftrace would refuse an error here too, so
/// that a bad map description cannot make the printer allocate a bucket array of any size.
pub fn linear_buckets(min: i64, max: i64, step: i64) -> Result<u64, OutputError> {
    tracebound_compiler::program::linear_buckets(min, max, step).ok_or(OutputError::BadLhist {
        min,
        max,
        step,
    })
}

/// The values of bucket `index` of `hist(x, k)` (see `log2_bucket`).
pub fn log2_range(index: u64, k: u32) -> Result<Range, OutputError> {
    let buckets = log2_buckets(k);
    if index >= buckets {
        return Err(OutputError::BadBucket { index, buckets });
    }
    Ok(match log2_start(index, k) {
        None => Range::Below(0),
        Some((lo, 0)) => Range::Exact(lo),
        Some((lo, width)) => Range::Span(lo, lo + (1i128 << width)),
    })
}

/// Where bucket `index` (> 0) starts and the log2 of its width; `None` for the negative one.
fn log2_start(index: u64, k: u32) -> Option<(i128, u32)> {
    let n = 1u64 << k;
    let g = index.checked_sub(1)?;
    if g < n {
        return Some((i128::from(g), 0));
    }
    let q = g - n;
    let width = (q / n) as u32;
    let sub = q % n;
    Some((i128::from(n + sub) << width, width))
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

/// A `hist` bucket's label. A bound is written in the binary unit of the width of the bucket
/// it starts (the upper bound: of the next bucket), as bpftrace does.
pub fn log2_label(index: u64, k: u32) -> Result<String, OutputError> {
    let number = |at: u64| match log2_start(at, k) {
        Some((value, width)) => log2_number(value, width),
        None => "0".to_string(),
    };
    Ok(match log2_range(index, k)? {
        Range::Below(_) => "(..., 0)".to_string(),
        Range::Exact(_) => format!("[{}]", number(index)),
        _ => format!("[{}, {})", number(index), number(index + 1)),
    })
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

/// A `hist` bound in the unit 1024^(width / 10), up to E (2^60).
fn log2_number(n: i128, width: u32) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let unit = (width / 10).min(6) as usize;
    format!("{}{}", n >> (10 * unit), UNITS[unit])
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
    use tracebound_compiler::program::{linear_bucket, log2_bucket, MAX_HIST_K};

    #[test]
    fn log2_labels() {
        let labels: Vec<String> = (0..13).map(|i| log2_label(i, 0).unwrap()).collect();
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
        assert_eq!(log2_label(22, 0).unwrap(), "[1M, 2M)");
        assert_eq!(log2_label(32, 0).unwrap(), "[1G, 2G)");
        assert_eq!(log2_label(33, 0).unwrap(), "[2G, 4G)");
        assert_eq!(log2_label(42, 0).unwrap(), "[1T, 2T)");
        assert_eq!(log2_label(64, 0).unwrap(), "[4E, 8E)");
        assert!(log2_label(65, 0).is_err());
    }

    #[test]
    fn log2_labels_with_sub_buckets() {
        let l = |value: i64, k: u32| log2_label(log2_bucket(value, k), k).unwrap();
        assert_eq!(l(7, 2), "[7]");
        assert_eq!(l(8, 2), "[8, 10)");
        assert_eq!(l(14, 2), "[14, 16)");
        assert_eq!(l(16, 2), "[16, 20)");
        assert_eq!(l(1023, 2), "[896, 1024)");
        assert_eq!(l(1280, 2), "[1280, 1536)");
        assert_eq!(l(4096, 2), "[4K, 5K)");
        assert_eq!(l(1 << 20, 2), "[1024K, 1280K)");
        assert_eq!(l(-1, 3), "(..., 0)");
        assert_eq!(l(1023, 0), "[512, 1K)");
    }

    #[test]
    fn log2_ranges_agree_with_the_bucket_function() {
        for (k, index) in (0..=MAX_HIST_K).flat_map(|k| (0..log2_buckets(k)).map(move |i| (k, i))) {
            let samples: Vec<i64> = match log2_range(index, k).unwrap() {
                Range::Below(_) => vec![-1, i64::MIN],
                Range::Exact(v) => vec![v as i64],
                Range::Span(lo, hi) => vec![lo as i64, (hi - 1) as i64],
                Range::AtLeast(_) => unreachable!(),
            };
            for s in samples {
                assert_eq!(log2_bucket(s, k), index, "value {s}, k {k}");
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
        assert_eq!(log2_range(0, 0).unwrap().json_bounds(), (None, Some(-1)));
        assert_eq!(log2_range(1, 0).unwrap().json_bounds(), (Some(0), Some(0)));
        assert_eq!(log2_range(4, 0).unwrap().json_bounds(), (Some(4), Some(7)));
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

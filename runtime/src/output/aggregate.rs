//! Merging the per-CPU slots of one map entry into one value, per `MapValue` as
//! `compiler::program` documents it: counts and sums add up; min and max take the extreme among
//! the slots that were set; avg and stats merge field-wise. Aggregations are per-CPU so that
//! probes never contend on a lock; this is where the CPUs' shares meet.

use std::cmp::Ordering;
use std::fmt;

use tracebound_compiler::program::{MapValue, TseriesAgg};

use super::value::{decode, read_u64, Value};
use super::OutputError;

/// An aggregated integer with the signedness of the values aggregated (the current
/// release's `sum_t` and `usum_t`): `sum((uint64)x)` of values above 2^63 prints unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Number {
    Signed(i64),
    Unsigned(u64),
}

impl Number {
    /// The 64 bits a slot holds, read as `signed` says.
    pub fn from_bits(bits: u64, signed: bool) -> Number {
        if signed {
            Number::Signed(bits as i64)
        } else {
            Number::Unsigned(bits)
        }
    }

    fn bits(self) -> u64 {
        match self {
            Number::Signed(v) => v as u64,
            Number::Unsigned(v) => v,
        }
    }

    /// The value divided by `div` (`print(@m, 0, div)`), truncating toward zero, as text.
    pub fn divided(self, div: u64) -> String {
        match self {
            Number::Signed(v) => (v as i128 / div.max(1) as i128).to_string(),
            Number::Unsigned(v) => (v / div.max(1)).to_string(),
        }
    }

    /// Wrapping sum of two values of one aggregation, as the kernel's sums wrap.
    fn plus(self, other: Number) -> Number {
        Number::from_bits(
            self.bits().wrapping_add(other.bits()),
            matches!(self, Number::Signed(_)),
        )
    }

    /// Wrapping product, as the kernel's sums wrap.
    fn times(self, n: u64) -> Number {
        match self {
            Number::Signed(v) => Number::Signed(v.wrapping_mul(n as i64)),
            Number::Unsigned(v) => Number::Unsigned(v.wrapping_mul(n)),
        }
    }

    /// The value as a float, for exporters that carry floats.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Signed(v) => v as f64,
            Number::Unsigned(v) => v as f64,
        }
    }

    /// Orders two values of one aggregation (both of one signedness).
    fn order(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Signed(a), Number::Signed(b)) => a.cmp(&b),
            (a, b) => a.bits().cmp(&b.bits()),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Signed(v) => write!(f, "{v}"),
            Number::Unsigned(v) => write!(f, "{v}"),
        }
    }
}

/// One map entry's value after merging the CPUs' slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merged {
    Plain(Value),
    Count(u64),
    Sum(Number),
    /// `None` when no CPU ever set it (bpftrace shows no entry then).
    Min(Option<Number>),
    Max(Option<Number>),
    Avg {
        sum: Number,
        count: u64,
    },
    Stats {
        sum: Number,
        count: u64,
        min: Option<Number>,
        max: Option<Number>,
    },
    /// One hist/lhist bucket: how many values fell in it, and their sum.
    Bucket {
        count: u64,
        sum: i64,
    },
    /// One tseries slot: its latest epoch (0 when no CPU ever wrote it) and the value of
    /// that interval, the CPUs' shares combined.
    Interval {
        epoch: u64,
        value: Number,
    },
}

impl Merged {
    /// Whether the entry holds a value bpftrace would print: a min/max that no CPU set is
    /// absent, not zero (bpftrace 0.17 creates no entry until a value is stored).
    pub fn is_present(&self) -> bool {
        !matches!(self, Merged::Min(None) | Merged::Max(None))
    }
}

impl Merged {
    /// The value of a map whose probes ran for 1 hit in `n`: what counts events (count, sum,
    /// a bucket, a stats count and total) times `n`; avg, min and max stay as sampled.
    pub fn scaled(self, n: u64) -> Merged {
        if n <= 1 {
            return self;
        }
        self.multiplied(n)
    }

    /// What `scaled` scales, times `k` (wrapping: a factor below zero is its two's
    /// complement, which is how a carried-over difference between two N is kept).
    pub fn multiplied(self, k: u64) -> Merged {
        match self {
            Merged::Count(c) => Merged::Count(c.wrapping_mul(k)),
            Merged::Sum(s) => Merged::Sum(s.times(k)),
            Merged::Bucket { count, sum } => Merged::Bucket {
                count: count.wrapping_mul(k),
                sum: sum.wrapping_mul(k as i64),
            },
            Merged::Stats {
                sum,
                count,
                min,
                max,
            } => Merged::Stats {
                sum: sum.times(k),
                count: count.wrapping_mul(k),
                min,
                max,
            },
            other => other,
        }
    }

    /// `self` plus what `other` carries of the fields `scaled` scales (the rest are `self`'s):
    /// a value counted partly at one N and partly at another.
    pub fn plus(self, other: &Merged) -> Merged {
        match (self, other) {
            (Merged::Count(a), Merged::Count(b)) => Merged::Count(a.wrapping_add(*b)),
            (Merged::Sum(a), Merged::Sum(b)) => Merged::Sum(a.plus(*b)),
            (Merged::Bucket { count, sum }, Merged::Bucket { count: c, sum: s }) => {
                Merged::Bucket {
                    count: count.wrapping_add(*c),
                    sum: sum.wrapping_add(*s),
                }
            }
            (
                Merged::Stats {
                    sum,
                    count,
                    min,
                    max,
                },
                Merged::Stats {
                    sum: s, count: c, ..
                },
            ) => Merged::Stats {
                sum: sum.plus(*s),
                count: count.wrapping_add(*c),
                min,
                max,
            },
            (this, _) => this,
        }
    }
}

/// `sum / count`, truncating toward zero, 0 for no samples: how bpftrace prints avg and stats
/// (unsigned division for unsigned values, as the current release's `uavg_t`).
pub fn average(sum: Number, count: u64) -> Number {
    if count == 0 {
        return Number::from_bits(0, matches!(sum, Number::Signed(_)));
    }
    match sum {
        // i128 so that neither a count above i64::MAX nor i64::MIN / -1 can overflow.
        Number::Signed(s) => Number::Signed((s as i128 / count as i128) as i64),
        Number::Unsigned(s) => Number::Unsigned(s / count),
    }
}

/// Merges one entry's slots: one slot per CPU for aggregations, exactly one for a plain value.
pub fn merge(kind: &MapValue, slots: &[&[u8]]) -> Result<Merged, OutputError> {
    let need = kind.size() as usize;
    if let Some(short) = slots.iter().find(|s| s.len() < need) {
        return Err(OutputError::Short {
            what: "per-CPU slot",
            need,
            got: short.len(),
        });
    }
    let signed = kind.signed();
    let number = |bits: u64| Number::from_bits(bits, signed);
    Ok(match kind {
        MapValue::Plain(ty) => match slots {
            [one] => Merged::Plain(decode(ty, one)?),
            _ => return Err(OutputError::SlotCount(slots.len())),
        },
        MapValue::Count => Merged::Count(sum_u64(slots, 0)?),
        MapValue::Hist { .. } | MapValue::Lhist { .. } => Merged::Bucket {
            count: sum_u64(slots, 0)?,
            sum: sum_u64(slots, 8)? as i64,
        },
        MapValue::Sum { .. } => Merged::Sum(number(sum_u64(slots, 0)?)),
        MapValue::Min { .. } => Merged::Min(extreme(slots, 0, 8, signed, Ordering::Less)?),
        MapValue::Max { .. } => Merged::Max(extreme(slots, 0, 8, signed, Ordering::Greater)?),
        MapValue::Avg { .. } => Merged::Avg {
            sum: number(sum_u64(slots, 0)?),
            count: sum_u64(slots, 8)?,
        },
        MapValue::Stats { .. } => Merged::Stats {
            sum: number(sum_u64(slots, 0)?),
            count: sum_u64(slots, 8)?,
            min: extreme(slots, 16, 32, signed, Ordering::Less)?,
            max: extreme(slots, 24, 32, signed, Ordering::Greater)?,
        },
        MapValue::Tseries { agg, .. } => interval(slots, *agg, signed)?,
    })
}

/// A tseries slot's CPUs: those that wrote its latest epoch, combined as `agg` says (an
/// epoch of 0 is a slot never written).
fn interval(slots: &[&[u8]], agg: TseriesAgg, signed: bool) -> Result<Merged, OutputError> {
    let mut read = Vec::with_capacity(slots.len());
    for s in slots {
        read.push((read_u64(s, 16)?, read_u64(s, 0)?, read_u64(s, 8)?));
    }
    let epoch = read.iter().map(|(e, ..)| *e).max().unwrap_or(0);
    let latest: Vec<(u64, u64)> = read
        .iter()
        .filter(|(e, ..)| *e == epoch && epoch != 0)
        .map(|(_, v, m)| (*v, *m))
        .collect();
    let value = agg.combine(&latest, signed).unwrap_or(0);
    Ok(Merged::Interval {
        epoch,
        value: Number::from_bits(value, signed),
    })
}

/// Wrapping sum of the u64 at `offset` of every slot (i64 sums wrap the same way in two's
/// complement, so one function serves both).
fn sum_u64(slots: &[&[u8]], offset: usize) -> Result<u64, OutputError> {
    slots
        .iter()
        .try_fold(0u64, |acc, s| Ok(acc.wrapping_add(read_u64(s, offset)?)))
}

/// The least (`wanted` Less) or greatest (Greater) value at `value_at` among slots whose u64
/// at `set_at` is nonzero, compared as `signed` says; `None` when no slot is set.
fn extreme(
    slots: &[&[u8]],
    value_at: usize,
    set_at: usize,
    signed: bool,
    wanted: Ordering,
) -> Result<Option<Number>, OutputError> {
    let mut best: Option<Number> = None;
    for s in slots {
        if read_u64(s, set_at)? != 0 {
            let v = Number::from_bits(read_u64(s, value_at)?, signed);
            if best.is_none_or(|b| v.order(b) == wanted) {
                best = Some(v);
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::program::ValueType;

    fn slot(fields: &[u64]) -> Vec<u8> {
        fields.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn run(kind: MapValue, slots: &[Vec<u8>]) -> Result<Merged, OutputError> {
        let refs: Vec<&[u8]> = slots.iter().map(Vec::as_slice).collect();
        merge(&kind, &refs)
    }

    #[test]
    fn a_value_counted_at_two_rates_keeps_each_factor() {
        // 100 counted at every hit, then N = 8: 30 more hits seen stand for 240.
        let at_switch = Merged::Count(100);
        let carried = Merged::Count(0).plus(&at_switch.clone().multiplied(1u64.wrapping_sub(8)));
        assert_eq!(
            Merged::Count(130).scaled(8).plus(&carried),
            Merged::Count(340)
        );
        let stats = Merged::Stats {
            sum: Number::Signed(50),
            count: 10,
            min: Some(Number::Signed(1)),
            max: Some(Number::Signed(9)),
        };
        let carried = stats.clone().multiplied(2u64.wrapping_sub(4));
        assert_eq!(
            stats.scaled(4).plus(&carried),
            Merged::Stats {
                sum: Number::Signed(100),
                count: 20,
                min: Some(Number::Signed(1)),
                max: Some(Number::Signed(9))
            }
        );
        // What sampling does not scale carries nothing.
        let avg = Merged::Avg {
            sum: Number::Signed(7),
            count: 2,
        };
        assert_eq!(avg.clone().plus(&avg.clone().multiplied(5)), avg);
    }

    #[test]
    fn sampled_values_scale_what_counts_events() {
        assert_eq!(Merged::Count(3).scaled(8), Merged::Count(24));
        assert_eq!(
            Merged::Sum(Number::Signed(-2)).scaled(4),
            Merged::Sum(Number::Signed(-8))
        );
        assert_eq!(
            Merged::Bucket { count: 5, sum: 7 }.scaled(2),
            Merged::Bucket { count: 10, sum: 14 }
        );
        let avg = Merged::Avg {
            sum: Number::Signed(10),
            count: 2,
        };
        assert_eq!(avg.clone().scaled(8), avg);
        assert_eq!(
            Merged::Max(Some(Number::Signed(7))).scaled(8),
            Merged::Max(Some(Number::Signed(7)))
        );
    }

    #[test]
    fn counts_and_sums_add_up() {
        assert_eq!(
            run(MapValue::Count, &[slot(&[2]), slot(&[3])]).unwrap(),
            Merged::Count(5)
        );
        let neg = (-7i64) as u64;
        assert_eq!(
            run(MapValue::Sum { signed: true }, &[slot(&[neg]), slot(&[3])]).unwrap(),
            Merged::Sum(Number::Signed(-4))
        );
        assert_eq!(
            run(MapValue::Hist { k: 0 }, &[slot(&[1, 5]), slot(&[0, 0])]).unwrap(),
            Merged::Bucket { count: 1, sum: 5 }
        );
    }

    #[test]
    fn min_and_max_ignore_unset_slots() {
        let unset_zero = slot(&[0, 0]);
        let five = slot(&[5, 1]);
        let minus = slot(&[(-3i64) as u64, 1]);
        assert_eq!(
            run(
                MapValue::Min { signed: true },
                &[unset_zero.clone(), five.clone()]
            )
            .unwrap(),
            Merged::Min(Some(Number::Signed(5)))
        );
        assert_eq!(
            run(
                MapValue::Max { signed: true },
                &[unset_zero.clone(), minus.clone()]
            )
            .unwrap(),
            Merged::Max(Some(Number::Signed(-3)))
        );
        assert_eq!(
            run(MapValue::Min { signed: true }, &[five, minus]).unwrap(),
            Merged::Min(Some(Number::Signed(-3)))
        );
        let none = run(MapValue::Max { signed: true }, &[unset_zero]).unwrap();
        assert_eq!(none, Merged::Max(None));
        assert!(!none.is_present());
    }

    #[test]
    fn avg_and_stats_merge_field_wise() {
        assert_eq!(
            run(
                MapValue::Avg { signed: true },
                &[slot(&[10, 2]), slot(&[5, 1])]
            )
            .unwrap(),
            Merged::Avg {
                sum: Number::Signed(15),
                count: 3
            }
        );
        let a = slot(&[(-10i64) as u64, 2, (-6i64) as u64, (-4i64) as u64, 1]);
        let b = slot(&[9, 1, 9, 9, 1]);
        let unset = slot(&[0, 0, 0, 0, 0]);
        assert_eq!(
            run(MapValue::Stats { signed: true }, &[a, unset, b]).unwrap(),
            Merged::Stats {
                sum: Number::Signed(-1),
                count: 3,
                min: Some(Number::Signed(-6)),
                max: Some(Number::Signed(9))
            }
        );
    }

    #[test]
    fn average_truncates_toward_zero() {
        let s = Number::Signed;
        assert_eq!(average(s(-15), 2), s(-7));
        assert_eq!(average(s(15), 2), s(7));
        assert_eq!(average(s(5), 0), s(0));
        assert_eq!(average(s(i64::MIN), 1), s(i64::MIN));
        // Unsigned values divide unsigned (the current release's uavg_t).
        assert_eq!(
            average(Number::Unsigned(u64::MAX - 1), 2),
            Number::Unsigned(u64::MAX / 2)
        );
    }

    #[test]
    fn unsigned_aggregations_merge_and_print_unsigned() {
        let big = 1u64 << 63;
        let sum = run(MapValue::Sum { signed: false }, &[slot(&[big]), slot(&[5])]).unwrap();
        assert_eq!(sum, Merged::Sum(Number::Unsigned(big + 5)));
        let (small, large) = (slot(&[3, 1]), slot(&[big + 5, 1]));
        let max = run(
            MapValue::Max { signed: false },
            &[small.clone(), large.clone()],
        );
        assert_eq!(max.unwrap(), Merged::Max(Some(Number::Unsigned(big + 5))));
        let min = run(
            MapValue::Min { signed: false },
            &[large.clone(), small.clone()],
        );
        assert_eq!(min.unwrap(), Merged::Min(Some(Number::Unsigned(3))));
        // The same bits merged as signed values: the large one is negative.
        let min = run(MapValue::Min { signed: true }, &[large, small]).unwrap();
        assert_eq!(min, Merged::Min(Some(Number::Signed((big + 5) as i64))));
        assert_eq!(
            Number::Unsigned(u64::MAX).divided(1),
            "18446744073709551615"
        );
        assert_eq!(Number::Signed(-7).divided(2), "-3");
    }

    #[test]
    fn plain_values_take_exactly_one_slot() {
        let ty = ValueType::Int {
            size: 4,
            signed: true,
        };
        let kind = MapValue::Plain(ty);
        assert_eq!(
            run(kind.clone(), &[(-2i32).to_le_bytes().to_vec()]).unwrap(),
            Merged::Plain(Value::Int(-2))
        );
        assert!(run(kind.clone(), &[]).is_err());
        assert!(run(kind, &[vec![0; 4], vec![0; 4]]).is_err());
    }

    #[test]
    fn short_slots_are_errors() {
        assert!(run(MapValue::Stats { signed: true }, &[slot(&[1, 2, 3])]).is_err());
        assert!(run(MapValue::Count, &[vec![1, 2]]).is_err());
    }
}

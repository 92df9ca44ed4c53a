//! Merging the per-CPU slots of one map entry into one value, per `MapValue` as
//! `compiler::program` documents it: counts and sums add up; min and max take the extreme among
//! the slots that were set; avg and stats merge field-wise. Aggregations are per-CPU so that
//! probes never contend on a lock; this is where the CPUs' shares meet.

use tracebound_compiler::program::MapValue;

use super::value::{decode, read_i64, read_u64, Value};
use super::OutputError;

/// One map entry's value after merging the CPUs' slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merged {
    Plain(Value),
    Count(u64),
    Sum(i64),
    /// `None` when no CPU ever set it (bpftrace shows no entry then).
    Min(Option<i64>),
    Max(Option<i64>),
    Avg {
        sum: i64,
        count: u64,
    },
    Stats {
        sum: i64,
        count: u64,
        min: Option<i64>,
        max: Option<i64>,
    },
    /// One hist/lhist bucket: how many values fell in it, and their sum.
    Bucket {
        count: u64,
        sum: i64,
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
        let times = |v: i64| v.wrapping_mul(k as i64);
        match self {
            Merged::Count(c) => Merged::Count(c.wrapping_mul(k)),
            Merged::Sum(s) => Merged::Sum(times(s)),
            Merged::Bucket { count, sum } => Merged::Bucket {
                count: count.wrapping_mul(k),
                sum: times(sum),
            },
            Merged::Stats {
                sum,
                count,
                min,
                max,
            } => Merged::Stats {
                sum: times(sum),
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
            (Merged::Sum(a), Merged::Sum(b)) => Merged::Sum(a.wrapping_add(*b)),
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
                sum: sum.wrapping_add(*s),
                count: count.wrapping_add(*c),
                min,
                max,
            },
            (this, _) => this,
        }
    }
}

/// `sum / count`, truncating toward zero, 0 for no samples: how bpftrace prints avg and stats.
pub fn average(sum: i64, count: u64) -> i64 {
    if count == 0 {
        0
    } else {
        // i128 so that neither a count above i64::MAX nor i64::MIN / -1 can overflow.
        (sum as i128 / count as i128) as i64
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
        MapValue::Sum => Merged::Sum(sum_u64(slots, 0)? as i64),
        MapValue::Min => Merged::Min(extreme(slots, 0, 8, i64::min)?),
        MapValue::Max => Merged::Max(extreme(slots, 0, 8, i64::max)?),
        MapValue::Avg => Merged::Avg {
            sum: sum_u64(slots, 0)? as i64,
            count: sum_u64(slots, 8)?,
        },
        MapValue::Stats => Merged::Stats {
            sum: sum_u64(slots, 0)? as i64,
            count: sum_u64(slots, 8)?,
            min: extreme(slots, 16, 32, i64::min)?,
            max: extreme(slots, 24, 32, i64::max)?,
        },
    })
}

/// Wrapping sum of the u64 at `offset` of every slot (i64 sums wrap the same way in two's
/// complement, so one function serves both).
fn sum_u64(slots: &[&[u8]], offset: usize) -> Result<u64, OutputError> {
    slots
        .iter()
        .try_fold(0u64, |acc, s| Ok(acc.wrapping_add(read_u64(s, offset)?)))
}

/// The min or max (`pick`) of the i64 at `value_at` among slots whose u64 at `set_at` is
/// nonzero; `None` when no slot is set.
fn extreme(
    slots: &[&[u8]],
    value_at: usize,
    set_at: usize,
    pick: fn(i64, i64) -> i64,
) -> Result<Option<i64>, OutputError> {
    let mut best = None;
    for s in slots {
        if read_u64(s, set_at)? != 0 {
            let v = read_i64(s, value_at)?;
            best = Some(best.map_or(v, |b| pick(b, v)));
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
            sum: 50,
            count: 10,
            min: Some(1),
            max: Some(9),
        };
        let carried = stats.clone().multiplied(2u64.wrapping_sub(4));
        assert_eq!(
            stats.scaled(4).plus(&carried),
            Merged::Stats {
                sum: 100,
                count: 20,
                min: Some(1),
                max: Some(9)
            }
        );
        // What sampling does not scale carries nothing.
        let avg = Merged::Avg { sum: 7, count: 2 };
        assert_eq!(avg.clone().plus(&avg.clone().multiplied(5)), avg);
    }

    #[test]
    fn sampled_values_scale_what_counts_events() {
        assert_eq!(Merged::Count(3).scaled(8), Merged::Count(24));
        assert_eq!(Merged::Sum(-2).scaled(4), Merged::Sum(-8));
        assert_eq!(
            Merged::Bucket { count: 5, sum: 7 }.scaled(2),
            Merged::Bucket { count: 10, sum: 14 }
        );
        let avg = Merged::Avg { sum: 10, count: 2 };
        assert_eq!(avg.clone().scaled(8), avg);
        assert_eq!(Merged::Max(Some(7)).scaled(8), Merged::Max(Some(7)));
    }

    #[test]
    fn counts_and_sums_add_up() {
        assert_eq!(
            run(MapValue::Count, &[slot(&[2]), slot(&[3])]).unwrap(),
            Merged::Count(5)
        );
        let neg = (-7i64) as u64;
        assert_eq!(
            run(MapValue::Sum, &[slot(&[neg]), slot(&[3])]).unwrap(),
            Merged::Sum(-4)
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
            run(MapValue::Min, &[unset_zero.clone(), five.clone()]).unwrap(),
            Merged::Min(Some(5))
        );
        assert_eq!(
            run(MapValue::Max, &[unset_zero.clone(), minus.clone()]).unwrap(),
            Merged::Max(Some(-3))
        );
        assert_eq!(
            run(MapValue::Min, &[five, minus]).unwrap(),
            Merged::Min(Some(-3))
        );
        let none = run(MapValue::Max, &[unset_zero]).unwrap();
        assert_eq!(none, Merged::Max(None));
        assert!(!none.is_present());
    }

    #[test]
    fn avg_and_stats_merge_field_wise() {
        assert_eq!(
            run(MapValue::Avg, &[slot(&[10, 2]), slot(&[5, 1])]).unwrap(),
            Merged::Avg { sum: 15, count: 3 }
        );
        let a = slot(&[(-10i64) as u64, 2, (-6i64) as u64, (-4i64) as u64, 1]);
        let b = slot(&[9, 1, 9, 9, 1]);
        let unset = slot(&[0, 0, 0, 0, 0]);
        assert_eq!(
            run(MapValue::Stats, &[a, unset, b]).unwrap(),
            Merged::Stats {
                sum: -1,
                count: 3,
                min: Some(-6),
                max: Some(9)
            }
        );
    }

    #[test]
    fn average_truncates_toward_zero() {
        assert_eq!(average(-15, 2), -7);
        assert_eq!(average(15, 2), 7);
        assert_eq!(average(5, 0), 0);
        assert_eq!(average(i64::MIN, 1), i64::MIN);
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
        assert!(run(MapValue::Stats, &[slot(&[1, 2, 3])]).is_err());
        assert!(run(MapValue::Count, &[vec![1, 2]]).is_err());
    }
}

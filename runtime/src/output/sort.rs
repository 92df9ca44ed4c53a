//! The order bpftrace 0.17 prints a map's entries in, and which of them `print(@m, top)`
//! keeps. Found by experiment:
//! - count, sum, min, max and plain integer values: by value, ascending (signed unless the
//!   type is unsigned). bpftrace leaves equal values in the kernel's hash order, which is
//!   random per run; we break ties by key so that output is reproducible.
//! - avg and stats: by the average, ascending; ties by the key's bytes (memcmp, so an int key
//!   256 (00 01 ..) comes before 1 (01 00 ..)).
//! - hist and lhist: by the total count of the key's buckets, ascending; ties by key bytes.
//! - plain values that are not integers (strings, tuples): by key, field by field, integers
//!   compared as unsigned (so -1 comes last) and strings bytewise.
//! - `top` keeps the last `top` entries of that order (the largest); stats maps ignore it.

use std::cmp::Ordering;

use tracebound_compiler::program::MapValue;

use super::aggregate::{average, Merged, Number};
use super::entry::{Entry, EntryValue, MapData};
use super::value::Value;

/// Maps in the order bpftrace prints them at exit: by name, bytewise.
pub fn by_name(maps: &[MapData]) -> Vec<&MapData> {
    let mut sorted: Vec<&MapData> = maps.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted
}

pub fn sort_entries(kind: &MapValue, entries: &mut [Entry]) {
    match kind {
        // Already in the current release's order: by the latest interval each key has.
        MapValue::Tseries { .. } => {}
        MapValue::Hist { .. }
        | MapValue::Lhist { .. }
        | MapValue::Avg { .. }
        | MapValue::Stats { .. } => {
            entries.sort_by(|a, b| {
                rank(&a.value)
                    .cmp(&rank(&b.value))
                    .then_with(|| a.key.bytes.cmp(&b.key.bytes))
            });
        }
        _ => entries.sort_by(|a, b| {
            rank(&a.value)
                .cmp(&rank(&b.value))
                .then_with(|| cmp_fields(&a.key.fields, &b.key.fields))
        }),
    }
}

/// The entries `print(@m, top)` shows: all for `top` 0 and for stats maps.
pub fn top<'a>(kind: &MapValue, entries: &'a [Entry], top: u64) -> &'a [Entry] {
    if top == 0 || matches!(kind, MapValue::Stats { .. }) {
        return entries;
    }
    let keep = usize::try_from(top)
        .unwrap_or(usize::MAX)
        .min(entries.len());
    &entries[entries.len() - keep..]
}

/// What an entry sorts by. Values of one map always have the same variant; `Unranked` sorts
/// by key alone.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Signed(i64),
    Unsigned(u64),
    Unranked,
}

impl Rank {
    fn of(n: Number) -> Rank {
        match n {
            Number::Signed(v) => Rank::Signed(v),
            Number::Unsigned(v) => Rank::Unsigned(v),
        }
    }
}

fn rank(value: &EntryValue) -> Rank {
    match value {
        EntryValue::Buckets { counts, .. } => {
            Rank::Unsigned(counts.iter().fold(0u64, |a, c| a.wrapping_add(*c)))
        }
        EntryValue::Series(_) => Rank::Unranked,
        EntryValue::One(m) => match m {
            Merged::Count(c) | Merged::Bucket { count: c, .. } => Rank::Unsigned(*c),
            Merged::Interval { .. } => Rank::Unranked,
            Merged::Sum(v) | Merged::Min(Some(v)) | Merged::Max(Some(v)) => Rank::of(*v),
            Merged::Avg { sum, count } | Merged::Stats { sum, count, .. } => {
                Rank::of(average(*sum, *count))
            }
            Merged::Plain(Value::Int(v)) => Rank::Signed(*v),
            Merged::Plain(Value::UInt(v)) => Rank::Unsigned(*v),
            Merged::Plain(Value::Bool(b)) => Rank::Unsigned(u64::from(*b)),
            Merged::Plain(Value::Enum { number, .. }) => match **number {
                Value::Int(v) => Rank::Signed(v),
                ref other => Rank::Unsigned(other.as_u64_bits().unwrap_or(0)),
            },
            Merged::Min(None) | Merged::Max(None) | Merged::Plain(_) => Rank::Unranked,
        },
    }
}

fn cmp_fields(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| cmp_value(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

fn cmp_value(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::Array(x), Value::Array(y)) => cmp_fields(x, y),
        _ => match (a.as_u64_bits(), b.as_u64_bits()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::entry::Key;

    fn entry(fields: Vec<Value>, bytes: Vec<u8>, value: EntryValue) -> Entry {
        Entry {
            key: Key { fields, bytes },
            value,
        }
    }

    fn keys(entries: &[Entry]) -> Vec<Vec<Value>> {
        entries.iter().map(|e| e.key.fields.clone()).collect()
    }

    #[test]
    fn counts_sort_by_value_then_key() {
        let mut e = vec![
            entry(
                vec![Value::Int(3)],
                vec![],
                EntryValue::One(Merged::Count(2)),
            ),
            entry(
                vec![Value::Int(2)],
                vec![],
                EntryValue::One(Merged::Count(1)),
            ),
            entry(
                vec![Value::Int(1)],
                vec![],
                EntryValue::One(Merged::Count(2)),
            ),
        ];
        sort_entries(&MapValue::Count, &mut e);
        assert_eq!(
            keys(&e),
            vec![
                vec![Value::Int(2)],
                vec![Value::Int(1)],
                vec![Value::Int(3)]
            ]
        );
        assert_eq!(
            keys(top(&MapValue::Count, &e, 1)),
            vec![vec![Value::Int(3)]]
        );
        assert_eq!(top(&MapValue::Count, &e, 9).len(), 3);
        assert_eq!(top(&MapValue::Stats { signed: true }, &e, 1).len(), 3);
    }

    #[test]
    fn strings_sort_by_key_with_unsigned_ints() {
        let s = |t: &str| EntryValue::One(Merged::Plain(Value::Str(t.into())));
        let mut e = vec![
            entry(vec![Value::Int(-1)], vec![], s("a")),
            entry(vec![Value::Int(256)], vec![], s("b")),
            entry(vec![Value::Int(1)], vec![], s("c")),
        ];
        sort_entries(
            &MapValue::Plain(tracebound_compiler::program::ValueType::Bool),
            &mut e,
        );
        assert_eq!(
            keys(&e),
            vec![
                vec![Value::Int(1)],
                vec![Value::Int(256)],
                vec![Value::Int(-1)]
            ]
        );
    }

    #[test]
    fn histogram_ties_sort_by_key_bytes() {
        let b = |v: i64| v.to_le_bytes().to_vec();
        let h = || EntryValue::Buckets {
            counts: vec![0, 1],
            sum: 1,
        };
        let mut e = vec![
            entry(vec![Value::Int(1)], b(1), h()),
            entry(vec![Value::Int(-1)], b(-1), h()),
            entry(vec![Value::Int(256)], b(256), h()),
            entry(
                vec![Value::Int(9)],
                b(9),
                EntryValue::Buckets {
                    counts: vec![0, 0],
                    sum: 0,
                },
            ),
        ];
        sort_entries(&MapValue::Hist { k: 0 }, &mut e);
        let order: Vec<i64> = e
            .iter()
            .map(|e| match e.key.fields[0] {
                Value::Int(i) => i,
                _ => 0,
            })
            .collect();
        assert_eq!(order, vec![9, 256, 1, -1]);
    }
}

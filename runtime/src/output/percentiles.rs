//! Percentiles of `hist()` and `lhist()` maps (`--percentiles`): per key the count, p50, p90,
//! p99, p99.9 and max, read from the buckets, with the error the bucket layout allows stated
//! beside them; keyed maps as a table sorted by p99, the slowest key first.
//!
//! A percentile q is the value of rank ⌈q·count⌉ (1-based, the nearest-rank definition); the
//! walk over the buckets finds the bucket holding that rank exactly, so the only error is
//! where in its bucket the value lies. The value shown is the bucket's middle: for `hist(x,
//! k)` a bucket `[lo, hi)` of width 2^w starts at lo ≥ 2^(k+w), so the middle is within
//! 2^-(k+1) of any value in it, relative (50% for `hist(x)`, 1.6% for `hist(x, 5)`; the
//! values below 2^k have buckets of their own and are exact). For `lhist` the middle is within
//! step/2 of it, absolute. A rank in an open bucket (below 0, below lhist's min, at or over its
//! max) has no bound: it shows as `<0`, `<min` or `>=max`. max is the rank-`count` value, with
//! the same bound.
//!
//! The walk is done here and not by an HDR histogram library: the buckets are already the
//! log-linear (HDR-style) layout, and feeding their middles into another histogram would
//! only add a second rounding to the bound stated.

use tracebound_compiler::program::MapValue;

use super::buckets::{linear_range, log2_range, Range};
use super::entry::{EntryValue, MapData};
use super::json::write_string;
use super::text::write_value;
use super::{OutputError, Symbolize};

/// The quantiles shown, with their column names; the last is max.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.50, "p50"),
    (0.90, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (1.0, "max"),
];

/// A percentile read from the buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estimate {
    /// The middle of the bucket holding the rank.
    Value(i128),
    /// In the bucket of everything below this bound.
    Below(i128),
    /// In the bucket of this bound and everything above.
    AtLeast(i128),
}

impl Estimate {
    fn text(self) -> String {
        match self {
            Estimate::Value(v) => v.to_string(),
            Estimate::Below(b) => format!("<{b}"),
            Estimate::AtLeast(b) => format!(">={b}"),
        }
    }

    /// For sorting by p99: an open bucket sorts at its bound, past it above.
    fn order(self) -> (i128, i8) {
        match self {
            Estimate::Value(v) => (v, 0),
            Estimate::Below(b) => (b, -1),
            Estimate::AtLeast(b) => (b, 1),
        }
    }
}

/// One key's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub key: Vec<u8>,
    pub count: u64,
    /// One per `QUANTILES`; empty when the histogram is empty.
    pub values: Vec<Estimate>,
}

/// The bound on every shown value's error that `kind`'s buckets give, in words.
pub fn error_bound(kind: &MapValue) -> Option<String> {
    match kind {
        MapValue::Hist { k } => {
            let pct = 100.0 / f64::from(1u32 << (k + 1));
            Some(format!(
                "each value within {pct}% of the exact one (hist buckets, k = {k}; exact below {})",
                1u64 << k
            ))
        }
        MapValue::Lhist { step, .. } => Some(format!(
            "each value within {} of the exact one (lhist step {step})",
            step / 2
        )),
        _ => None,
    }
}

/// The rows of a histogram map, sorted by p99 (highest first), ties by key text.
pub fn rows(map: &MapData, symbols: &dyn Symbolize) -> Result<Vec<Row>, OutputError> {
    let mut rows = Vec::new();
    for entry in &map.entries {
        let EntryValue::Buckets { counts, .. } = &entry.value else {
            continue;
        };
        let mut key = Vec::new();
        for (i, field) in entry.key.fields.iter().enumerate() {
            if i > 0 {
                key.extend_from_slice(b", ");
            }
            write_value(&mut key, field, symbols, true);
        }
        let count: u64 = counts.iter().sum();
        let values = QUANTILES
            .iter()
            .map(|(q, _)| quantile(&map.kind, counts, count, *q))
            .collect::<Result<Option<Vec<_>>, _>>()?
            .unwrap_or_default();
        rows.push(Row { key, count, values });
    }
    let p99 = |r: &Row| r.values.get(2).map(|e| e.order());
    rows.sort_by(|a, b| p99(b).cmp(&p99(a)).then_with(|| a.key.cmp(&b.key)));
    Ok(rows)
}

/// The nearest-rank `q` quantile of `counts` (`total` of them); `None` when empty.
fn quantile(
    kind: &MapValue,
    counts: &[u64],
    total: u64,
    q: f64,
) -> Result<Option<Estimate>, OutputError> {
    if total == 0 {
        return Ok(None);
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (index, &c) in counts.iter().enumerate() {
        seen = seen.saturating_add(c);
        if seen >= rank {
            let range = match *kind {
                MapValue::Hist { k } => log2_range(index as u64, k)?,
                MapValue::Lhist { min, max, step } => linear_range(index as u64, min, max, step)?,
                _ => return Ok(None),
            };
            return Ok(Some(match range {
                Range::Exact(v) => Estimate::Value(v),
                Range::Span(lo, hi) => Estimate::Value(lo + (hi - 1 - lo) / 2),
                Range::Below(b) => Estimate::Below(b),
                Range::AtLeast(b) => Estimate::AtLeast(b),
            }));
        }
    }
    Ok(None)
}

/// The text table: a header naming the map and the bound, then a row per key (no key column
/// for a map without keys), columns right-aligned.
pub fn percentiles_text(
    out: &mut Vec<u8>,
    map: &MapData,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let rows = rows(map, symbols)?;
    let bound = error_bound(&map.kind).unwrap_or_default();
    out.extend_from_slice(format!("@{}: percentiles, {bound}\n", map.name).as_bytes());
    let keyed = map.entries.iter().any(|e| !e.key.fields.is_empty());
    let key_width = rows.iter().map(|r| r.key.len()).max().unwrap_or(0).max(3);
    let mut cells: Vec<Vec<String>> = vec![std::iter::once("count".to_string())
        .chain(QUANTILES.iter().map(|(_, name)| name.to_string()))
        .collect()];
    for row in &rows {
        let mut line = vec![row.count.to_string()];
        line.extend(row.values.iter().map(|e| e.text()));
        line.resize(QUANTILES.len() + 1, "-".into());
        cells.push(line);
    }
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(0) + 2;
    for (i, line) in cells.iter().enumerate() {
        if keyed {
            let key = if i == 0 {
                b"key".as_slice()
            } else {
                &rows[i - 1].key
            };
            out.extend_from_slice(key);
            out.extend(std::iter::repeat_n(b' ', key_width - key.len()));
        }
        for cell in line {
            out.extend_from_slice(format!("{cell:>width$}").as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    Ok(())
}

/// One JSON line: `{"type": "percentiles", "data": {"@name": {"bound": "...", "rows":
/// [{"key": "...", "count": N, "p50": V, ...}]}}}`; a value in an open bucket is a string
/// (`"<0"`, `">=100"`), every other a number.
pub fn percentiles_json(
    out: &mut Vec<u8>,
    map: &MapData,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let rows = rows(map, symbols)?;
    out.extend_from_slice(b"{\"type\": \"percentiles\", \"data\": {");
    write_string(out, format!("@{}", map.name).as_bytes());
    out.extend_from_slice(b": {\"bound\": ");
    write_string(out, error_bound(&map.kind).unwrap_or_default().as_bytes());
    out.extend_from_slice(b", \"rows\": [");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"key\": ");
        write_string(out, &row.key);
        out.extend_from_slice(format!(", \"count\": {}", row.count).as_bytes());
        for ((_, name), value) in QUANTILES.iter().zip(&row.values) {
            out.extend_from_slice(format!(", \"{name}\": ").as_bytes());
            match value {
                Estimate::Value(v) => out.extend_from_slice(v.to_string().as_bytes()),
                open => write_string(out, open.text().as_bytes()),
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}}\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::buckets::log2_buckets;
    use crate::output::entry::{Entry, Key};
    use crate::output::value::Value;
    use crate::output::NoSymbols;
    use tracebound_compiler::program::log2_bucket;

    fn hist_of(k: u32, keyed: &[(&str, Vec<i64>)]) -> MapData {
        let entries = keyed
            .iter()
            .map(|(key, values)| {
                let mut counts = vec![0u64; log2_buckets(k) as usize];
                for &v in values {
                    counts[log2_bucket(v, k) as usize] += 1;
                }
                Entry {
                    key: Key {
                        fields: if key.is_empty() {
                            vec![]
                        } else {
                            vec![Value::Str(key.as_bytes().to_vec())]
                        },
                        bytes: Vec::new(),
                    },
                    value: EntryValue::Buckets { counts, sum: 0 },
                }
            })
            .collect();
        MapData {
            name: "lat".into(),
            kind: MapValue::Hist { k },
            entries,
            keyless: false,
            sampled: 1,
            sampled_by: crate::output::entry::Sampler::AutoFilter,
        }
    }

    fn exact(sorted: &[i64], q: f64) -> i64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn every_percentile_is_within_the_stated_bound() {
        // A spread of values across many powers of two, some repeated.
        let mut values: Vec<i64> = (0..5000).map(|i| (i * i * 37 + 11) % 9_000_000).collect();
        values.sort();
        for k in 0..=5u32 {
            let map = hist_of(k, &[("", values.clone())]);
            let row = &rows(&map, &NoSymbols).unwrap()[0];
            assert_eq!(row.count, 5000);
            let bound = 1.0 / f64::from(1u32 << (k + 1));
            for ((q, name), estimate) in QUANTILES.iter().zip(&row.values) {
                let truth = exact(&values, *q) as f64;
                let Estimate::Value(shown) = estimate else {
                    panic!("{name} in an open bucket")
                };
                let err = (*shown as f64 - truth).abs() / truth.max(1.0);
                assert!(
                    err <= bound,
                    "k={k} {name}: {shown} vs {truth} ({err} > {bound})"
                );
            }
        }
    }

    #[test]
    fn keyed_tables_put_the_slowest_p99_first() {
        let map = hist_of(
            3,
            &[
                ("fast", vec![10; 100]),
                (
                    "slow",
                    (0..100).map(|i| if i < 98 { 10 } else { 5000 }).collect(),
                ),
                ("mid", vec![300; 10]),
            ],
        );
        let order: Vec<_> = rows(&map, &NoSymbols)
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.key).unwrap())
            .collect();
        assert_eq!(order, ["slow", "mid", "fast"]);
        let mut text = Vec::new();
        percentiles_text(&mut text, &map, &NoSymbols).unwrap();
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "@lat: percentiles, each value within 6.25% of the exact one (hist buckets, k = 3; exact below 8)"
        );
        assert!(lines[1].starts_with("key ") && lines[1].ends_with("max"));
        assert!(lines[2].starts_with("slow") && lines[2].contains("100"));
        let mut json = Vec::new();
        percentiles_json(&mut json, &map, &NoSymbols).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.starts_with("{\"type\": \"percentiles\", \"data\": {\"@lat\": {\"bound\": "));
        assert!(json.contains("{\"key\": \"fast\", \"count\": 100, \"p50\": 10, \"p90\": 10"));
    }

    #[test]
    fn open_buckets_are_shown_as_their_bound() {
        let map = hist_of(0, &[("", vec![-5, -5, 1])]);
        let row = &rows(&map, &NoSymbols).unwrap()[0];
        assert_eq!(row.values[0], Estimate::Below(0));
        assert_eq!(row.values[4], Estimate::Value(1));
        let empty = hist_of(0, &[("", vec![])]);
        let mut text = Vec::new();
        percentiles_text(&mut text, &empty, &NoSymbols).unwrap();
        assert!(String::from_utf8(text).unwrap().contains("0      -"));
    }
}

//! A map as printed: its entries decoded, merged across CPUs, histogram buckets gathered under
//! their key, and put in bpftrace's printing order. The runtime reads `(key bytes, per-CPU
//! value slots)` pairs from the kernel and hands them here; tests build the same pairs.

use std::collections::HashMap;

use tracebound_compiler::program::{MapInfo, MapValue, ValueType};

use super::aggregate::{merge, Merged, Number};
use super::buckets::{linear_buckets, log2_buckets};
use super::entry::{Entry, EntryValue, Key, MapData, Sampler};
use super::value::{decode, encode, Value};
use super::{sort, tseries, OutputError};

/// How a map's values are brought back to what every hit would have counted: its probes
/// run 1 hit in `n` now, and `carried` holds, per key as stored, what to add to the value
/// scaled by `n` so that what was counted at an earlier N keeps that N.
#[derive(Clone, Copy, Debug)]
pub struct Scaling<'a> {
    pub n: u32,
    pub by: Sampler,
    pub carried: Option<&'a HashMap<Vec<u8>, Merged>>,
}

impl Scaling<'_> {
    /// As compiled: `--auto-filter`'s N, or 1.
    pub fn of(info: &MapInfo) -> Scaling<'static> {
        Scaling {
            n: info.sampled.max(1),
            by: Sampler::AutoFilter,
            carried: None,
        }
    }
}

impl MapData {
    /// Builds a map from its raw entries: each a key and its value slots (one per CPU for an
    /// aggregation, one for a plain value).
    pub fn from_raw<K, V>(
        info: &MapInfo,
        raw: impl IntoIterator<Item = (K, Vec<V>)>,
    ) -> Result<MapData, OutputError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        MapData::from_raw_scaled(info, raw, Scaling::of(info))
    }

    /// `from_raw`, the values scaled as `scaling` says.
    pub fn from_raw_scaled<K, V>(
        info: &MapInfo,
        raw: impl IntoIterator<Item = (K, Vec<V>)>,
        scaling: Scaling,
    ) -> Result<MapData, OutputError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let bucketed = info.value.keyed_by_bucket();
        let key_types = if bucketed {
            match info.key.split_last() {
                // A u64 bucket in a hash's key, a u32 index in an array's.
                Some((ValueType::Int { size: 8 | 4, .. }, rest)) => rest,
                _ => return Err(OutputError::NoBucketField),
            }
        } else {
            &info.key[..]
        };
        let key_tuple = ValueType::Tuple(key_types.to_vec());
        let full_tuple = ValueType::Tuple(info.key.clone());
        let buckets = match info.value {
            MapValue::Hist { k } => log2_buckets(k),
            MapValue::Lhist { min, max, step } => linear_buckets(min, max, step)?,
            _ => 0,
        };

        let mut entries: Vec<Entry> = Vec::new();
        // Where each key's histogram already is in `entries`.
        let mut hist_at: HashMap<Vec<Value>, usize> = HashMap::new();
        // Each key's time series, as (epoch, value) per stored slot.
        let mut series: Vec<KeySeries> = Vec::new();
        for (key_bytes, slots) in raw {
            let slots: Vec<&[u8]> = slots.iter().map(AsRef::as_ref).collect();
            let mut merged = merge(&info.value, &slots)?.scaled(u64::from(scaling.n));
            if let Some(carried) = scaling.carried.and_then(|c| c.get(key_bytes.as_ref())) {
                merged = merged.plus(carried);
            }
            if !merged.is_present() {
                continue;
            }
            // A map without keys still has a BPF key; its bytes mean nothing.
            let mut fields = if info.key.is_empty() {
                Vec::new()
            } else {
                match decode(&full_tuple, key_bytes.as_ref())? {
                    Value::Tuple(fields) => fields,
                    other => unreachable!("a tuple decodes to a tuple, got {other:?}"),
                }
            };
            if !bucketed {
                entries.push(Entry {
                    key: key_of(&key_tuple, fields)?,
                    value: EntryValue::One(merged),
                });
                continue;
            }
            let index = match fields.pop() {
                Some(Value::Int(i)) => i as u64,
                Some(Value::UInt(i)) => i,
                _ => return Err(OutputError::NoBucketField),
            };
            if let Merged::Interval { epoch, value } = merged {
                match series.iter_mut().find(|(k, _)| *k == fields) {
                    Some((_, points)) => points.push((epoch, value)),
                    None => series.push((fields, vec![(epoch, value)])),
                }
                let _ = index;
                continue;
            }
            if index >= buckets {
                return Err(OutputError::BadBucket { index, buckets });
            }
            let (count, sum) = match merged {
                Merged::Bucket { count, sum } => (count, sum),
                other => unreachable!("a histogram merges to buckets, got {other:?}"),
            };
            let at = match hist_at.get(&fields) {
                Some(&at) => at,
                None => {
                    hist_at.insert(fields.clone(), entries.len());
                    entries.push(Entry {
                        key: key_of(&key_tuple, fields)?,
                        value: EntryValue::Buckets {
                            counts: vec![0; buckets as usize],
                            sum: 0,
                        },
                    });
                    entries.len() - 1
                }
            };
            if let EntryValue::Buckets { counts, sum: total } = &mut entries[at].value {
                counts[index as usize] = counts[index as usize].wrapping_add(count);
                *total = total.wrapping_add(sum);
            }
        }
        if let MapValue::Tseries {
            interval_ns,
            intervals,
            ..
        } = info.value
        {
            entries = series_entries(&key_tuple, series, interval_ns, intervals)?;
        }
        sort::sort_entries(&info.value, &mut entries);
        Ok(MapData {
            name: info.name.clone(),
            kind: info.value.clone(),
            entries,
            keyless: info.key.is_empty(),
            sampled: scaling.n,
            sampled_by: scaling.by,
        })
    }
}

/// One key's fields and its time series' (epoch, value) per stored slot.
type KeySeries = (Vec<Value>, Vec<(u64, Number)>);

/// A tseries map's entries, from the least to the most recently updated key (ties by key).
fn series_entries(
    key_tuple: &ValueType,
    mut series: Vec<KeySeries>,
    interval_ns: u64,
    intervals: u64,
) -> Result<Vec<Entry>, OutputError> {
    let mut keyed = Vec::with_capacity(series.len());
    for (fields, points) in series.drain(..) {
        keyed.push((key_of(key_tuple, fields)?, points));
    }
    keyed.sort_by(|(a, pa), (b, pb)| {
        tseries::latest(pa)
            .cmp(&tseries::latest(pb))
            .then_with(|| a.bytes.cmp(&b.bytes))
    });
    let points: Vec<Vec<(u64, Number)>> = keyed.iter().map(|(_, p)| p.clone()).collect();
    let rows = tseries::rows(&points, interval_ns, intervals);
    Ok(keyed
        .into_iter()
        .zip(rows)
        .map(|((key, _), rows)| Entry {
            key,
            value: EntryValue::Series(rows),
        })
        .collect())
}

fn key_of(key_tuple: &ValueType, fields: Vec<Value>) -> Result<Key, OutputError> {
    let tuple = Value::Tuple(fields);
    let bytes = encode(key_tuple, &tuple)?;
    let Value::Tuple(fields) = tuple else {
        unreachable!()
    };
    Ok(Key { fields, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const U64: ValueType = ValueType::Int {
        size: 8,
        signed: false,
    };
    const I64: ValueType = ValueType::Int {
        size: 8,
        signed: true,
    };

    fn info(key: Vec<ValueType>, value: MapValue) -> MapInfo {
        MapInfo {
            name: "m".into(),
            bpf_name: "tb_m0".into(),
            key,
            value,
            sampled: 1,
            declared_size: None,
            zero_is_unset: false,
            failed_stack_index: None,
        }
    }

    fn u64s(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn histogram_buckets_gather_under_their_key() {
        let info = info(vec![I64, U64], MapValue::Hist { k: 0 });
        let raw = vec![
            (u64s(&[7, 3]), vec![u64s(&[1, 2]), u64s(&[2, 6])]),
            (u64s(&[7, 1]), vec![u64s(&[1, 0]), u64s(&[0, 0])]),
            (u64s(&[9, 1]), vec![u64s(&[5, 0]), u64s(&[0, 0])]),
        ];
        let map = MapData::from_raw(&info, raw).unwrap();
        assert_eq!(map.entries.len(), 2);
        // Sorted by total: key 7 (4) before key 9 (5).
        assert_eq!(map.entries[0].key.fields, vec![Value::Int(7)]);
        let EntryValue::Buckets { counts: b, sum } = &map.entries[0].value else {
            panic!()
        };
        assert_eq!((b.len(), b[1], b[3], *sum), (65, 1, 3, 8));
    }

    #[test]
    fn keyless_maps_ignore_key_bytes() {
        let info = info(vec![], MapValue::Count);
        let map = MapData::from_raw(&info, vec![(vec![0u8; 4], vec![u64s(&[3])])]).unwrap();
        assert_eq!(map.entries[0].key.fields, vec![]);
        assert_eq!(map.entries[0].value, EntryValue::One(Merged::Count(3)));
    }

    #[test]
    fn an_empty_map_has_no_entries_and_knows_whether_it_has_keys() {
        let raw = Vec::<(Vec<u8>, Vec<Vec<u8>>)>::new();
        let map = MapData::from_raw(&info(vec![], MapValue::Count), raw.clone()).unwrap();
        assert!(map.entries.is_empty() && map.keyless);
        let keyed = MapData::from_raw(&info(vec![I64], MapValue::Count), raw).unwrap();
        assert!(keyed.entries.is_empty() && !keyed.keyless);
    }

    #[test]
    fn unset_min_max_entries_are_absent() {
        let info = info(vec![I64], MapValue::Max { signed: true });
        let raw = vec![
            (u64s(&[1]), vec![u64s(&[0, 0]), u64s(&[0, 0])]),
            (u64s(&[2]), vec![u64s(&[4, 1]), u64s(&[0, 0])]),
        ];
        let map = MapData::from_raw(&info, raw).unwrap();
        assert_eq!(map.entries.len(), 1);
    }

    #[test]
    fn malformed_maps_are_errors() {
        let no_bucket = info(vec![], MapValue::Hist { k: 0 });
        assert_eq!(
            MapData::from_raw(&no_bucket, Vec::<(Vec<u8>, Vec<Vec<u8>>)>::new()),
            Err(OutputError::NoBucketField)
        );
        let hist = info(vec![U64], MapValue::Hist { k: 0 });
        let out_of_range = vec![(u64s(&[65]), vec![u64s(&[1])])];
        assert!(MapData::from_raw(&hist, out_of_range).is_err());
        let short_key = vec![(vec![1u8], vec![u64s(&[1])])];
        assert!(MapData::from_raw(&hist, short_key).is_err());
        let lhist = info(
            vec![U64],
            MapValue::Lhist {
                min: 0,
                max: 10,
                step: 0,
            },
        );
        assert!(MapData::from_raw(&lhist, Vec::<(Vec<u8>, Vec<Vec<u8>>)>::new()).is_err());
    }
}

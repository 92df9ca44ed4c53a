//! A map as printed, as values: its entries (key and value) in bpftrace's printing order.
//! `map` builds them from the kernel's bytes, `sort` orders them, `text` and `json` print them.

use tracebound_compiler::program::MapValue;

use super::aggregate::Merged;
use super::value::Value;

/// An entry's key: the decoded fields (empty for a map without keys; without the bucket for a
/// histogram) and their canonical bytes, zero-padded, which bpftrace orders some maps by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub fields: Vec<Value>,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryValue {
    /// Every kind but the histograms.
    One(Merged),
    /// hist / lhist: the count of every bucket, indexed as `log2_bucket` / `linear_bucket`,
    /// and the sum of every value recorded.
    Buckets { counts: Vec<u64>, sum: i64 },
    /// tseries: the intervals printed, in order (`tseries::rows`).
    Series(Vec<super::tseries::Row>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Key,
    pub value: EntryValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapData {
    /// Without the `@`.
    pub name: String,
    pub kind: MapValue,
    /// In the order bpftrace prints them.
    pub entries: Vec<Entry>,
    /// Written without keys (`@m = count()`): `print(@m)` shows its zero value while it has
    /// no entry.
    pub keyless: bool,
    /// 1, or N when the map's probes ran 1 hit in N (values already scaled by N).
    pub sampled: u32,
    /// Who thinned them, when `sampled` is over 1.
    pub sampled_by: Sampler,
}

/// What made a map's probes run 1 hit in N, as its output says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// From the start, chosen before attaching.
    AutoFilter,
    /// The runtime guard, this far into the run: what was counted before is not scaled.
    Guard { since_ms: u64 },
}

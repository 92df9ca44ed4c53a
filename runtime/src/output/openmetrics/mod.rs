//! The Prometheus text exposition (version 0.0.4) and OpenMetrics 1.0 of a script's maps and of
//! tracebound's own figures, for `--metrics`. Pure: maps as `output::map` merged them (per-CPU
//! slots summed, exactly the numbers the text output prints) in, text out.
//!
//! Each map is one metric family named `tracebound_map_<name>` (`tracebound_map` for `@`),
//! its key fields labels (`names` picks them), and every series carries the fleet labels
//! (host and `--metrics-label`):
//!
//! | aggregation   | family                                                          |
//! |---------------|-----------------------------------------------------------------|
//! | count         | counter (`_total`)                                              |
//! | sum, min, max | gauge (a sum of signed values can fall)                         |
//! | avg           | gauge: sum / count truncated, as printed                        |
//! | stats         | summary without quantiles (`_count`, `_sum`) and gauges `_min`, |
//! |               | `_max`, `_avg`                                                  |
//! | hist, lhist   | histogram: every bucket, cumulative, `le` its largest integer,  |
//! |               | `+Inf`, `_count`, `_sum` (each bucket's value keeps the sum of  |
//! |               | what fell in it beside its count)                               |
//! | plain integer | gauge                                                           |
//! | plain other   | gauge 1 with the value as the label `value`                     |
//!
//! The two formats differ only where they must: a counter's TYPE line names `x_total` in the
//! text format and `x` in OpenMetrics, and OpenMetrics ends with `# EOF`.

pub mod names;

use std::fmt::Write as _;

use tracebound_compiler::program::MapValue;

use super::aggregate::{average, Merged};
use super::buckets::{linear_range, log2_range, Range};
use super::entry::{Entry, EntryValue, MapData};
use super::text::write_value;
use super::{NoSymbols, OutputError, Value};

/// Which exposition the scraper asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `text/plain; version=0.0.4`, what Prometheus reads without asking.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Flavor {
    /// The flavor an HTTP `Accept` header prefers: OpenMetrics when it is acceptable with a
    /// quality at least that of the text format (Prometheus 2.x asks for it first), else the
    /// text format.
    pub fn from_accept(accept: Option<&str>) -> Flavor {
        let Some(accept) = accept else {
            return Flavor::Prometheus;
        };
        let mut openmetrics: Option<f64> = None;
        let mut text: f64 = 0.0;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut quality = 1.0;
            let mut version = None;
            for p in parts {
                if let Some(q) = p.strip_prefix("q=") {
                    quality = q.parse().unwrap_or(0.0);
                } else if let Some(v) = p.strip_prefix("version=") {
                    version = Some(v.to_string());
                }
            }
            match media.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    openmetrics = Some(openmetrics.map_or(quality, |o: f64| o.max(quality)));
                }
                "text/plain" | "*/*" | "text/*" => text = text.max(quality),
                _ => {}
            }
        }
        match openmetrics {
            Some(q) if q > 0.0 && q >= text => Flavor::OpenMetrics,
            _ => Flavor::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Flavor::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Flavor::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A map as exported: its data, the metric family's name and its key fields' label names.
pub struct MapFamily<'a> {
    pub data: &'a MapData,
    pub metric: &'a str,
    /// One per key field, in order.
    pub key_labels: &'a [String],
}

/// Label pairs every series carries: host and the user's `--metrics-label`s.
pub type FleetLabels = [(String, String)];

/// The samples of a `count()` map. A counter without keys is exposed at 0 before its first
/// event (or after a clear): a scrape sees the series from the start, as Prometheus counters
/// expect.
fn counter_samples(
    out: &mut String,
    map: &MapData,
    name: &str,
    labels_of: &dyn Fn(&[Value]) -> String,
) {
    if map.keyless && map.entries.is_empty() {
        sample(out, name, &labels_of(&[]), 0);
    }
    for e in &map.entries {
        if let EntryValue::One(Merged::Count(c)) = &e.value {
            sample(out, name, &labels_of(&e.key.fields), *c);
        }
    }
}

/// Appends one map's families.
pub fn write_map(
    out: &mut String,
    family: &MapFamily,
    fleet: &FleetLabels,
    flavor: Flavor,
) -> Result<(), OutputError> {
    let map = family.data;
    let base = family.metric;
    let what = aggregation_name(&map.kind);
    let sampled = if map.sampled > 1 {
        format!(
            " (sampled 1 in {}, counts scaled by {})",
            map.sampled, map.sampled
        )
    } else {
        String::new()
    };
    let help = format!("@{}: {what}{sampled}", map.name);
    let labels = SeriesLabels::new(family.key_labels, fleet);
    let labels_of = |key: &[Value]| -> String { labels.of(key) };
    match &map.kind {
        MapValue::Count => {
            header(out, flavor, base, "counter", &help);
            counter_samples(out, map, &format!("{base}_total"), &labels_of);
        }
        MapValue::Sum { .. }
        | MapValue::Min { .. }
        | MapValue::Max { .. }
        | MapValue::Avg { .. } => {
            header(out, flavor, base, "gauge", &help);
            for e in &map.entries {
                let value = match &e.value {
                    EntryValue::One(Merged::Sum(v)) => *v,
                    EntryValue::One(Merged::Min(Some(v)) | Merged::Max(Some(v))) => *v,
                    EntryValue::One(Merged::Avg { sum, count }) => average(*sum, *count),
                    _ => continue,
                };
                sample(out, base, &labels_of(&e.key.fields), value);
            }
        }
        MapValue::Stats { .. } => write_stats(out, family, &labels, flavor, &help),
        MapValue::Hist { .. } | MapValue::Lhist { .. } => {
            header(out, flavor, base, "histogram", &help);
            let bucket = format!("{base}_bucket");
            let count_name = format!("{base}_count");
            let sum_name = format!("{base}_sum");
            // The bounds are the same for every key: written once.
            let bounds: Vec<Option<String>> = match map.entries.first() {
                Some(Entry {
                    value: EntryValue::Buckets { counts, .. },
                    ..
                }) => (0..counts.len() as u64)
                    .map(|index| {
                        Ok(match bucket_range(&map.kind, index)? {
                            Range::Below(b) => Some((b - 1).to_string()),
                            Range::Exact(v) => Some(v.to_string()),
                            Range::Span(_, hi) => Some((hi - 1).to_string()),
                            Range::AtLeast(_) => None, // the +Inf bucket below
                        })
                    })
                    .collect::<Result<_, OutputError>>()?,
                _ => Vec::new(),
            };
            for e in &map.entries {
                let EntryValue::Buckets { counts, sum } = &e.value else {
                    continue;
                };
                let labels = labels_of(&e.key.fields);
                let mut cumulative: u64 = 0;
                for (count, le) in counts.iter().zip(&bounds) {
                    cumulative = cumulative.wrapping_add(*count);
                    if let Some(le) = le {
                        sample(out, &bucket, &with_label(&labels, "le", le), cumulative);
                    }
                }
                sample(out, &bucket, &with_label(&labels, "le", "+Inf"), cumulative);
                sample(out, &count_name, &labels, cumulative);
                sample(out, &sum_name, &labels, *sum);
            }
        }
        // A gauge per key of the latest interval: the scrape itself is the time series.
        MapValue::Tseries { .. } => {
            header(out, flavor, base, "gauge", &help);
            for e in &map.entries {
                let EntryValue::Series(rows) = &e.value else {
                    continue;
                };
                if let Some((_, Some(v))) = rows.last() {
                    sample(out, base, &labels_of(&e.key.fields), v);
                }
            }
        }
        MapValue::Plain(_) => {
            header(out, flavor, base, "gauge", &help);
            for e in &map.entries {
                let EntryValue::One(Merged::Plain(v)) = &e.value else {
                    continue;
                };
                let labels = labels_of(&e.key.fields);
                match v {
                    Value::Int(i) => sample(out, base, &labels, *i),
                    Value::UInt(u) => sample(out, base, &labels, *u),
                    Value::Bool(b) => sample(out, base, &labels, u8::from(*b)),
                    other => {
                        let text = label_text(other);
                        sample(out, base, &with_label(&labels, "value", &text), 1)
                    }
                }
            }
        }
    }
    Ok(())
}

/// The label sets of one map's series: its key labels, then the fleet's (escaped once).
struct SeriesLabels<'a> {
    names: &'a [String],
    /// `k="v",...` of the fleet labels.
    fleet: String,
}

impl<'a> SeriesLabels<'a> {
    fn new(names: &'a [String], fleet: &FleetLabels) -> Self {
        let mut text = String::new();
        for (i, (k, v)) in fleet.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_pair(&mut text, k, v);
        }
        SeriesLabels { names, fleet: text }
    }

    /// `{k="v",...}` for a key; `""` when there are no labels at all.
    fn of(&self, key: &[Value]) -> String {
        if self.names.is_empty() && self.fleet.is_empty() {
            return String::new();
        }
        let mut out = String::with_capacity(32 + self.fleet.len());
        out.push('{');
        for (i, (name, value)) in self.names.iter().zip(key).enumerate() {
            if i > 0 {
                out.push(',');
            }
            match value {
                // Most keys are numbers or plain text: no detour through the text output.
                Value::Int(v) => {
                    let _ = write!(out, "{name}=\"{v}\"");
                }
                Value::UInt(v) => {
                    let _ = write!(out, "{name}=\"{v}\"");
                }
                Value::Str(bytes) => push_pair(&mut out, name, &String::from_utf8_lossy(bytes)),
                other => push_pair(&mut out, name, &label_text(other)),
            }
        }
        if !self.fleet.is_empty() {
            if !self.names.is_empty() {
                out.push(',');
            }
            out.push_str(&self.fleet);
        }
        out.push('}');
        out
    }
}

fn push_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

/// stats: count and sum as a summary (so `rate(x_sum) / rate(x_count)` is the mean over any
/// window), min, max and the printed average as gauges of their own.
fn write_stats(
    out: &mut String,
    family: &MapFamily,
    labels: &SeriesLabels,
    flavor: Flavor,
    help: &str,
) {
    let map = family.data;
    let base = family.metric;
    let parts = || {
        map.entries.iter().filter_map(|e| match &e.value {
            EntryValue::One(Merged::Stats {
                sum,
                count,
                min,
                max,
            }) => Some((labels.of(&e.key.fields), *sum, *count, *min, *max)),
            _ => None,
        })
    };
    header(out, flavor, base, "summary", help);
    for (labels, sum, count, _, _) in parts() {
        sample(out, &format!("{base}_count"), &labels, count);
        sample(out, &format!("{base}_sum"), &labels, sum);
    }
    for (suffix, what) in [
        ("min", "least value"),
        ("max", "greatest value"),
        ("avg", "average, truncated"),
    ] {
        let name = format!("{base}_{suffix}");
        header(
            out,
            flavor,
            &name,
            "gauge",
            &format!("@{}: stats() {what}", map.name),
        );
        for (labels, sum, count, min, max) in parts() {
            let value = match suffix {
                "min" => min,
                "max" => max,
                _ => Some(average(sum, count)),
            };
            if let Some(v) = value {
                sample(out, &name, &labels, v);
            }
        }
    }
}

fn bucket_range(kind: &MapValue, index: u64) -> Result<Range, OutputError> {
    match *kind {
        MapValue::Hist { k } => log2_range(index, k),
        MapValue::Lhist { min, max, step } => linear_range(index, min, max, step),
        _ => unreachable!("only histograms have buckets"),
    }
}

fn aggregation_name(kind: &MapValue) -> String {
    match kind {
        MapValue::Plain(_) => "value".into(),
        MapValue::Count => "count()".into(),
        MapValue::Sum { .. } => "sum()".into(),
        MapValue::Min { .. } => "min()".into(),
        MapValue::Max { .. } => "max()".into(),
        MapValue::Avg { .. } => "avg()".into(),
        MapValue::Stats { .. } => "stats() count and sum".into(),
        MapValue::Hist { k: 0 } => "hist()".into(),
        MapValue::Hist { k } => format!("hist(x, {k})"),
        MapValue::Lhist { min, max, step } => format!("lhist(x, {min}, {max}, {step})"),
        MapValue::Tseries { .. } => "tseries() latest interval".into(),
    }
}

/// `# HELP` and `# TYPE` of a family. A counter's TYPE names the family: `x_total` in the
/// text format (whose samples are named as its TYPE line), `x` in OpenMetrics.
fn header(out: &mut String, flavor: Flavor, family: &str, kind: &str, help: &str) {
    let family = match (flavor, kind) {
        (Flavor::Prometheus, "counter") => format!("{family}_total"),
        _ => family.to_string(),
    };
    let _ = writeln!(out, "# HELP {family} {}", escape_help(help, flavor));
    let _ = writeln!(out, "# TYPE {family} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// A float as both formats write one.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust writes the shortest text that reads back as the same f64, never an exponent.
        format!("{v}")
    }
}

/// `{k="v",...}` with the values escaped; `""` for none.
pub fn label_set(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_pair(&mut out, k, v);
    }
    out.push('}');
    out
}

/// A label set with one more label at the end (`le`, `value`).
fn with_label(labels: &str, name: &str, value: &str) -> String {
    let pair = format!("{name}=\"{}\"", escape_label(value));
    match labels.strip_suffix('}') {
        Some(open) => format!("{open},{pair}}}"),
        None => format!("{{{pair}}}"),
    }
}

/// A key field as the text output prints it; bytes that are not UTF-8 (label values must be)
/// become U+FFFD.
fn label_text(v: &Value) -> String {
    let mut bytes = Vec::new();
    // Stacks and symbols never get here (`names` leaves their maps out), so no symbolizer.
    write_value(&mut bytes, v, &NoSymbols, true);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Label values: backslash, double quote and line feed escaped, as both formats require.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    push_escaped(&mut out, v);
    out
}

fn push_escaped(out: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: backslash and line feed escaped; OpenMetrics escapes `"` too, which the text
/// format's parser would refuse as an unknown escape.
fn escape_help(v: &str, flavor: Flavor) -> String {
    match flavor {
        Flavor::OpenMetrics => escape_label(v),
        Flavor::Prometheus => v.replace('\\', "\\\\").replace('\n', "\\n"),
    }
}

/// tracebound's own figures for one probe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeFigures {
    /// The attach points as written.
    pub probe: String,
    /// Its index among the script's probes, so that two probes written alike stay apart.
    pub index: usize,
    /// Projected share of the machine's CPU (0..1) and events a second, before attaching
    /// (after `--auto-filter`'s narrowing).
    pub projected_ratio: f64,
    pub projected_rate: f64,
    /// Runs of its programs, as the kernel counted them (0 without the kernel's accounting).
    pub hits: u64,
    /// CPU seconds measured: the kernel's run time of its programs plus each hit priced at
    /// the mechanism's calibrated cost (what the guard measures).
    pub cpu_seconds: f64,
    /// `cpu_seconds` over the time since attaching, as a share of the machine (0..1).
    pub measured_ratio: f64,
    /// 1, or N when its program runs 1 hit in N (`--auto-filter`).
    pub sampling: u32,
    /// The guard detached it.
    pub detached: bool,
}

/// tracebound's own figures: what tracing costs this node and what it could not keep.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub probes: Vec<ProbeFigures>,
    /// Whether the kernel accounts program run time (BPF_ENABLE_STATS); without it the
    /// measured figures are left out rather than shown as zero.
    pub measured: bool,
    /// Records dropped because the ring buffer was full.
    pub lost_events: u64,
    /// Per map (name without `@`): updates refused because the map was full.
    pub map_full: Vec<(String, u64)>,
    /// The budget, as a share of the machine (0..1).
    pub budget_ratio: f64,
    /// Seconds since the probes were attached.
    pub attached_seconds: f64,
    /// How long this scrape took to read the maps, in seconds, and how many keys it read.
    pub read_seconds: f64,
    pub keys_read: u64,
}

/// Appends tracebound's own families (all named `tracebound_...`, never `tracebound_map_...`).
pub fn write_figures(out: &mut String, figures: &Figures, fleet: &FleetLabels, flavor: Flavor) {
    probe_families(out, figures, fleet, flavor);
    run_families(out, figures, fleet, flavor);
}

/// The families with a sample per probe.
fn probe_families(out: &mut String, figures: &Figures, fleet: &FleetLabels, flavor: Flavor) {
    let per_probe = |out: &mut String,
                     name: &str,
                     kind: &str,
                     help: &str,
                     value: &dyn Fn(&ProbeFigures) -> String| {
        header(out, flavor, name, kind, help);
        let sample_name = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_string()
        };
        for p in &figures.probes {
            let labels = fleet_set(
                fleet,
                &[
                    ("probe", p.probe.clone()),
                    ("probe_index", p.index.to_string()),
                ],
            );
            sample(out, &sample_name, &labels, value(p));
        }
    };
    per_probe(
        out,
        "tracebound_probe_projected_overhead_ratio",
        "gauge",
        "CPU share of the machine the probe was projected to take before attaching",
        &|p| float(p.projected_ratio),
    );
    per_probe(
        out,
        "tracebound_probe_projected_events_per_second",
        "gauge",
        "events a second the probe was measured to fire at before attaching",
        &|p| float(p.projected_rate),
    );
    if figures.measured {
        per_probe(
            out,
            "tracebound_probe_hits",
            "counter",
            "runs of the probe's programs, as the kernel counted them",
            &|p| p.hits.to_string(),
        );
        per_probe(
            out,
            "tracebound_probe_cpu_seconds",
            "counter",
            "CPU time the probe took: its programs' run time plus each hit's calibrated \
             mechanism cost",
            &|p| float(p.cpu_seconds),
        );
        per_probe(
            out,
            "tracebound_probe_measured_overhead_ratio",
            "gauge",
            "CPU share of the machine the probe took since attaching, measured",
            &|p| float(p.measured_ratio),
        );
    }
    per_probe(
        out,
        "tracebound_probe_sampling_factor",
        "gauge",
        "N when the probe's program runs for 1 hit in N (--auto-filter), else 1",
        &|p| p.sampling.to_string(),
    );
    per_probe(
        out,
        "tracebound_probe_detached",
        "gauge",
        "1 when the overhead guard detached the probe",
        &|p| u8::from(p.detached).to_string(),
    );
}

/// The families with one sample for the run.
fn run_families(out: &mut String, figures: &Figures, fleet: &FleetLabels, flavor: Flavor) {
    let fleet_only = || fleet_set(fleet, &[]);
    let simple = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
        header(out, flavor, name, kind, help);
        let sample_name = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_string()
        };
        sample(out, &sample_name, &fleet_only(), value);
    };
    simple(
        out,
        "tracebound_guard_detaches",
        "counter",
        "probes the overhead guard detached",
        figures
            .probes
            .iter()
            .filter(|p| p.detached)
            .count()
            .to_string(),
    );
    simple(
        out,
        "tracebound_lost_events",
        "counter",
        "records dropped because the ring buffer was full",
        figures.lost_events.to_string(),
    );
    header(
        out,
        flavor,
        "tracebound_map_full_drops",
        "counter",
        "updates a full map refused (raise config max_map_keys)",
    );
    let drops = "tracebound_map_full_drops_total";
    for (map, n) in &figures.map_full {
        sample(
            out,
            drops,
            &fleet_set(fleet, &[("map", format!("@{map}"))]),
            n,
        );
    }
    simple(
        out,
        "tracebound_budget_ratio",
        "gauge",
        "the overhead budget, as a share of the machine",
        float(figures.budget_ratio),
    );
    simple(
        out,
        "tracebound_attached_seconds",
        "gauge",
        "seconds since the probes were attached",
        float(figures.attached_seconds),
    );
    simple(
        out,
        "tracebound_scrape_read_seconds",
        "gauge",
        "time this scrape took to read and format the maps",
        float(figures.read_seconds),
    );
    simple(
        out,
        "tracebound_scrape_keys",
        "gauge",
        "map keys this scrape read",
        figures.keys_read.to_string(),
    );
}

/// The end of an exposition.
pub fn finish(out: &mut String, flavor: Flavor) {
    if flavor == Flavor::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

fn fleet_set(fleet: &FleetLabels, first: &[(&str, String)]) -> String {
    let mut pairs: Vec<(&str, String)> = first.to_vec();
    pairs.extend(fleet.iter().map(|(k, v)| (k.as_str(), v.clone())));
    label_set(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::program::{MapInfo, ValueType};

    const U64: ValueType = ValueType::Int {
        size: 8,
        signed: false,
    };
    const STR8: ValueType = ValueType::str(8);

    fn info(name: &str, key: Vec<ValueType>, value: MapValue) -> MapInfo {
        MapInfo {
            name: name.into(),
            bpf_name: format!("tb_{name}"),
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

    fn str8(s: &[u8]) -> Vec<u8> {
        let mut b = s.to_vec();
        b.resize(8, 0);
        b
    }

    fn fleet() -> Vec<(String, String)> {
        vec![
            ("host".into(), "node-1".into()),
            ("team".into(), "pay\"ments".into()),
        ]
    }

    fn render(
        info: &MapInfo,
        raw: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
        labels: &[&str],
        f: Flavor,
    ) -> String {
        let data = MapData::from_raw(info, raw).unwrap();
        let key_labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        let metric = format!("tracebound_map_{}", info.name);
        let family = MapFamily {
            data: &data,
            metric: &metric,
            key_labels: &key_labels,
        };
        let mut out = String::new();
        write_map(&mut out, &family, &fleet(), f).unwrap();
        finish(&mut out, f);
        out
    }

    #[test]
    fn a_count_map_is_a_counter_with_escaped_labels() {
        let m = info("opens", vec![STR8, U64], MapValue::Count);
        let mut key = str8(b"a\"b\\c\nd");
        key.extend(u64s(&[42]));
        let raw = vec![
            (key, vec![u64s(&[2]), u64s(&[3])]),
            (
                [str8(b"sh"), u64s(&[7])].concat(),
                vec![u64s(&[1]), u64s(&[0])],
            ),
        ];
        let text = render(&m, raw.clone(), &["comm", "pid"], Flavor::Prometheus);
        assert_eq!(
            text,
            "# HELP tracebound_map_opens_total @opens: count()\n\
             # TYPE tracebound_map_opens_total counter\n\
             tracebound_map_opens_total{comm=\"sh\",pid=\"7\",host=\"node-1\",team=\"pay\\\"ments\"} 1\n\
             tracebound_map_opens_total{comm=\"a\\\"b\\\\c\\nd\",pid=\"42\",host=\"node-1\",team=\"pay\\\"ments\"} 5\n"
        );
        // OpenMetrics: the family is named without `_total`, and the text ends with # EOF.
        let om = render(&m, raw, &["comm", "pid"], Flavor::OpenMetrics);
        assert!(om.starts_with(
            "# HELP tracebound_map_opens @opens: count()\n# TYPE tracebound_map_opens counter\n"
        ));
        assert!(om.ends_with("} 5\n# EOF\n"), "{om}");
    }

    #[test]
    fn an_lhist_is_a_cumulative_histogram() {
        let m = info(
            "lat",
            vec![U64],
            MapValue::Lhist {
                min: 0,
                max: 30,
                step: 10,
            },
        );
        // Buckets: 0 (..., 0), 1 [0, 10), 2 [10, 20), 3 [20, 30), 4 [30, ...).
        let raw = vec![
            (u64s(&[1]), vec![u64s(&[3, 12]), u64s(&[1, 5])]),
            (u64s(&[3]), vec![u64s(&[0, 0]), u64s(&[2, 50])]),
            (u64s(&[4]), vec![u64s(&[1, 40]), u64s(&[0, 0])]),
        ];
        let text = render(&m, raw, &[], Flavor::Prometheus);
        let l = "host=\"node-1\",team=\"pay\\\"ments\"";
        assert_eq!(
            text,
            format!(
                "# HELP tracebound_map_lat @lat: lhist(x, 0, 30, 10)\n\
                 # TYPE tracebound_map_lat histogram\n\
                 tracebound_map_lat_bucket{{{l},le=\"-1\"}} 0\n\
                 tracebound_map_lat_bucket{{{l},le=\"9\"}} 4\n\
                 tracebound_map_lat_bucket{{{l},le=\"19\"}} 4\n\
                 tracebound_map_lat_bucket{{{l},le=\"29\"}} 6\n\
                 tracebound_map_lat_bucket{{{l},le=\"+Inf\"}} 7\n\
                 tracebound_map_lat_count{{{l}}} 7\n\
                 tracebound_map_lat_sum{{{l}}} 107\n"
            )
        );
    }

    #[test]
    fn a_hist_has_every_log2_bucket_by_its_largest_integer() {
        let m = info("h", vec![STR8, U64], MapValue::Hist { k: 0 });
        // Bucket 0 is negatives, 1 holds 0, 2 holds 1, 3 holds [2, 4), ... 64 [2^62, 2^63).
        let raw = vec![
            ([str8(b"x"), u64s(&[3])].concat(), vec![u64s(&[5, 12])]),
            ([str8(b"x"), u64s(&[11])].concat(), vec![u64s(&[1, 600])]),
        ];
        let text = render(&m, raw, &["comm"], Flavor::OpenMetrics);
        let buckets: Vec<&str> = text.lines().filter(|l| l.contains("_bucket")).collect();
        assert_eq!(buckets.len(), 65 + 1);
        let head = "tracebound_map_h_bucket{comm=\"x\",host=\"node-1\",team=\"pay\\\"ments\",le=";
        assert_eq!(buckets[0], format!("{head}\"-1\"}} 0"));
        assert_eq!(buckets[2], format!("{head}\"1\"}} 0"));
        assert_eq!(buckets[3], format!("{head}\"3\"}} 5"));
        assert_eq!(buckets[10], format!("{head}\"511\"}} 5"));
        assert_eq!(buckets[11], format!("{head}\"1023\"}} 6"));
        assert_eq!(buckets[64], format!("{head}\"9223372036854775807\"}} 6"));
        assert_eq!(buckets[65], format!("{head}\"+Inf\"}} 6"));
        assert!(text.contains("tracebound_map_h_count{comm=\"x\","));
        assert!(text.contains("tracebound_map_h_sum{comm=\"x\","));
        assert!(text.ends_with("} 612\n# EOF\n"));
    }

    #[test]
    fn stats_are_a_summary_and_gauges_and_other_kinds_gauges() {
        let m = info("s", vec![], MapValue::Stats { signed: true });
        let neg = |v: i64| v as u64;
        let raw = vec![(
            u64s(&[0]),
            vec![
                u64s(&[10, 2, 3, 7, 1]),
                u64s(&[neg(-4), 1, neg(-4), neg(-4), 1]),
            ],
        )];
        let text = render(&m, raw, &[], Flavor::Prometheus);
        let l = "{host=\"node-1\",team=\"pay\\\"ments\"}";
        assert_eq!(
            text,
            format!(
                "# HELP tracebound_map_s @s: stats() count and sum\n\
                 # TYPE tracebound_map_s summary\n\
                 tracebound_map_s_count{l} 3\n\
                 tracebound_map_s_sum{l} 6\n\
                 # HELP tracebound_map_s_min @s: stats() least value\n\
                 # TYPE tracebound_map_s_min gauge\n\
                 tracebound_map_s_min{l} -4\n\
                 # HELP tracebound_map_s_max @s: stats() greatest value\n\
                 # TYPE tracebound_map_s_max gauge\n\
                 tracebound_map_s_max{l} 7\n\
                 # HELP tracebound_map_s_avg @s: stats() average, truncated\n\
                 # TYPE tracebound_map_s_avg gauge\n\
                 tracebound_map_s_avg{l} 2\n"
            )
        );
        let avg = info("a", vec![U64], MapValue::Avg { signed: true });
        let raw = vec![(u64s(&[1]), vec![u64s(&[neg(-15), 2]), u64s(&[0, 0])])];
        let text = render(&avg, raw, &["cpu"], Flavor::Prometheus);
        assert!(text.contains("# TYPE tracebound_map_a gauge\n"));
        assert!(text
            .ends_with("tracebound_map_a{cpu=\"1\",host=\"node-1\",team=\"pay\\\"ments\"} -7\n"));
        let plain = info("who", vec![U64], MapValue::Plain(STR8));
        let raw = vec![(u64s(&[9]), vec![str8(b"bash")])];
        let text = render(&plain, raw, &["pid"], Flavor::Prometheus);
        assert!(text.ends_with(
            "tracebound_map_who{pid=\"9\",host=\"node-1\",team=\"pay\\\"ments\",value=\"bash\"} 1\n"
        ));
    }

    #[test]
    fn sampled_maps_say_so() {
        let mut m = info("c", vec![], MapValue::Count);
        m.sampled = 4;
        let text = render(
            &m,
            vec![(u64s(&[0]), vec![u64s(&[3])])],
            &[],
            Flavor::Prometheus,
        );
        assert!(text.starts_with(
            "# HELP tracebound_map_c_total @c: count() (sampled 1 in 4, counts scaled by 4)\n"
        ));
        assert!(text.ends_with("} 12\n"));
    }

    #[test]
    fn figures_are_families_of_their_own() {
        let figures = Figures {
            probes: vec![ProbeFigures {
                probe: "tracepoint:syscalls:sys_enter_write".into(),
                index: 0,
                projected_ratio: 0.0125,
                projected_rate: 1000.0,
                hits: 900,
                cpu_seconds: 0.5,
                measured_ratio: 0.01,
                sampling: 1,
                detached: false,
            }],
            measured: true,
            lost_events: 3,
            map_full: vec![("m".into(), 2)],
            budget_ratio: 0.03,
            attached_seconds: 50.0,
            read_seconds: 0.001,
            keys_read: 10,
        };
        let mut out = String::new();
        write_figures(&mut out, &figures, &fleet()[..1], Flavor::Prometheus);
        let p = "{probe=\"tracepoint:syscalls:sys_enter_write\",probe_index=\"0\",host=\"node-1\"}";
        for line in [
            format!("tracebound_probe_projected_overhead_ratio{p} 0.0125"),
            format!("tracebound_probe_projected_events_per_second{p} 1000"),
            format!("tracebound_probe_hits_total{p} 900"),
            format!("tracebound_probe_cpu_seconds_total{p} 0.5"),
            format!("tracebound_probe_measured_overhead_ratio{p} 0.01"),
            format!("tracebound_probe_sampling_factor{p} 1"),
            format!("tracebound_probe_detached{p} 0"),
            "# TYPE tracebound_lost_events_total counter".to_string(),
            "tracebound_lost_events_total{host=\"node-1\"} 3".to_string(),
            "tracebound_map_full_drops_total{map=\"@m\",host=\"node-1\"} 2".to_string(),
            "tracebound_guard_detaches_total{host=\"node-1\"} 0".to_string(),
            "tracebound_budget_ratio{host=\"node-1\"} 0.03".to_string(),
        ] {
            assert!(out.lines().any(|l| l == line), "no `{line}` in:\n{out}");
        }
        // Without the kernel's accounting, no measured figures rather than zeros.
        let unmeasured = Figures {
            measured: false,
            ..figures
        };
        let mut out = String::new();
        write_figures(&mut out, &unmeasured, &[], Flavor::OpenMetrics);
        assert!(!out.contains("tracebound_probe_hits") && !out.contains("measured_overhead"));
        assert!(out.contains("# TYPE tracebound_lost_events counter\n"));
    }

    #[test]
    fn accept_headers_choose_the_flavor() {
        let prometheus_2_42 = "application/openmetrics-text;version=1.0.0,application/\
                               openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;\
                               q=0.5,*/*;q=0.1";
        assert_eq!(
            Flavor::from_accept(Some(prometheus_2_42)),
            Flavor::OpenMetrics
        );
        assert_eq!(Flavor::from_accept(None), Flavor::Prometheus);
        assert_eq!(Flavor::from_accept(Some("*/*")), Flavor::Prometheus);
        assert_eq!(
            Flavor::from_accept(Some("text/plain;version=0.0.4")),
            Flavor::Prometheus
        );
        assert_eq!(
            Flavor::from_accept(Some("application/openmetrics-text;version=0.0.1")),
            Flavor::Prometheus
        );
        assert_eq!(
            Flavor::from_accept(Some("application/openmetrics-text; q=0.2, text/plain")),
            Flavor::Prometheus
        );
    }

    #[test]
    fn help_is_escaped_as_each_format_wants() {
        let help = "a \\ b\n\"c\"";
        assert_eq!(escape_help(help, Flavor::Prometheus), "a \\\\ b\\n\"c\"");
        assert_eq!(
            escape_help(help, Flavor::OpenMetrics),
            "a \\\\ b\\n\\\"c\\\""
        );
    }

    #[test]
    fn floats_read_back() {
        assert_eq!(float(0.5), "0.5");
        assert_eq!(float(1e-7), "0.0000001");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
    }
}

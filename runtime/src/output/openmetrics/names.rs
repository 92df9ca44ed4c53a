//! What a script's maps are called as metrics: each map's family name, and a label name for
//! each key field, taken from the script where it names the field (`@[comm, $dev] = count()`
//! → `comm`, `dev`; `str(args.filename)` → `filename`) and `key0`, `key1`, ... otherwise.
//! Decided once, before anything is attached, so that a clash is an error then and the names
//! never change between scrapes.

use std::collections::{BTreeMap, HashSet};

use tracebound_compiler::ast::{self, Expr, ExprKind, Item, Program};
use tracebound_compiler::program::{MapInfo, MapValue, ValueType};

/// Label names a key field may not take: the histogram's and summary's own, and the label a
/// plain value that is not a number is exported under.
const RESERVED: [&str; 3] = ["le", "quantile", "value"];

/// One map as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMap {
    /// Index into `ProgramInfo::maps`.
    pub map: usize,
    pub metric: String,
    /// One label name per key field (the bucket of a histogram excluded).
    pub key_labels: Vec<String>,
}

/// Every map of the script that can be exported, and those that cannot, with why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricNames {
    pub maps: Vec<MetricMap>,
    /// (map name without `@`, why it is left out).
    pub left_out: Vec<(String, &'static str)>,
}

/// Names the maps. `fleet` holds the label names every series carries (host and the user's),
/// which key labels must not take. Two maps whose series names would clash are an error.
pub fn metric_names(
    program: &Program,
    maps: &[MapInfo],
    fleet: &[&str],
) -> Result<MetricNames, String> {
    let written = names_in_script(program);
    let mut out = MetricNames::default();
    let mut samples: BTreeMap<String, String> = BTreeMap::new();
    for (index, info) in maps.iter().enumerate() {
        if let Some(why) = unexportable(info) {
            out.left_out.push((info.name.clone(), why));
            continue;
        }
        let metric = if info.name.is_empty() {
            "tracebound_map".to_string()
        } else {
            format!("tracebound_map_{}", info.name)
        };
        for name in sample_names(&metric, &info.value) {
            if let Some(other) = samples.insert(name.clone(), info.name.clone()) {
                return Err(format!(
                    "maps @{other} and @{} would both be exported as `{name}`; rename one",
                    info.name
                ));
            }
        }
        let fields = key_field_count(info);
        let from_script = written.get(&info.name);
        let mut taken: HashSet<String> = fleet.iter().map(|s| s.to_string()).collect();
        taken.extend(RESERVED.iter().map(|s| s.to_string()));
        let mut key_labels = Vec::with_capacity(fields);
        for i in 0..fields {
            let named = from_script
                .and_then(|positions| positions.get(i))
                .and_then(|n| n.clone())
                .filter(|n| !taken.contains(n));
            let mut label = named.unwrap_or_else(|| format!("key{i}"));
            while taken.contains(&label) {
                label.push('_');
            }
            taken.insert(label.clone());
            key_labels.push(label);
        }
        out.maps.push(MetricMap {
            map: index,
            metric,
            key_labels,
        });
    }
    Ok(out)
}

/// Whether a label name is one both formats accept (`[a-zA-Z_][a-zA-Z0-9_]*`, and not `__`
/// first, which Prometheus keeps for itself).
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Stacks and symbols are named by the symbolizer of the run's output, which another thread
/// owns: a map holding one is printed at exit as always, not exported.
fn unexportable(info: &MapInfo) -> Option<&'static str> {
    fn symbolic(t: &ValueType) -> bool {
        match t {
            ValueType::Stack { .. } | ValueType::Sym { .. } => true,
            ValueType::Tuple(fields) => fields.iter().any(symbolic),
            _ => false,
        }
    }
    if info.key.iter().any(symbolic) {
        return Some("its key holds a stack or a symbol (kstack, ustack, ksym, usym)");
    }
    match &info.value {
        MapValue::Plain(t) if symbolic(t) => {
            Some("its value is a stack or a symbol (kstack, ustack, ksym, usym)")
        }
        _ => None,
    }
}

fn key_field_count(info: &MapInfo) -> usize {
    match info.value {
        MapValue::Hist { .. } | MapValue::Lhist { .. } => info.key.len().saturating_sub(1),
        _ => info.key.len(),
    }
}

/// The sample names a map's families write (see the table in `openmetrics`).
fn sample_names(metric: &str, value: &MapValue) -> Vec<String> {
    let with = |suffixes: &[&str]| suffixes.iter().map(|s| format!("{metric}{s}")).collect();
    match value {
        MapValue::Count => with(&["_total"]),
        MapValue::Stats { .. } => with(&["_count", "_sum", "_min", "_max", "_avg"]),
        MapValue::Hist { .. } | MapValue::Lhist { .. } => with(&["_bucket", "_count", "_sum"]),
        _ => with(&[""]),
    }
}

/// Per map name: per key position, the name every keyed use of the map in the script agrees
/// on (`None` where a use gives none, or two uses disagree).
fn names_in_script(program: &Program) -> BTreeMap<String, Vec<Option<String>>> {
    // Per map, per position: the names seen (None = a use without a name).
    let mut seen: BTreeMap<String, Vec<HashSet<Option<String>>>> = BTreeMap::new();
    for item in &program.items {
        let Item::Probe(probe) = item else { continue };
        ast::visit::probe_exprs(probe, &mut |e: &Expr| {
            let ExprKind::Map { name, keys } = &e.kind else {
                return;
            };
            if keys.is_empty() {
                return;
            }
            let positions = seen.entry(name.name.clone()).or_default();
            if positions.len() < keys.len() {
                positions.resize_with(keys.len(), HashSet::new);
            }
            for (i, key) in keys.iter().enumerate() {
                positions[i].insert(field_name(key));
            }
        });
    }
    seen.into_iter()
        .map(|(map, positions)| {
            let names = positions
                .into_iter()
                .map(|names| {
                    let mut named = names.into_iter().flatten();
                    match (named.next(), named.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                })
                .collect();
            (map, names)
        })
        .collect()
}

/// The name a key expression gives its field: a builtin (`comm`), a variable (`$dev` →
/// `dev`), a field (`args.fd` → `fd`), through casts and conversions (`str(x)`: x's name).
fn field_name(e: &Expr) -> Option<String> {
    let name = match &e.kind {
        ExprKind::Ident(n) | ExprKind::Var(n) => n.clone(),
        ExprKind::Field { field, .. } => field.name.clone(),
        ExprKind::Cast { expr, .. } => return field_name(expr),
        ExprKind::Call { name, args } => match args.last() {
            Some(last) => return field_name(last).or_else(|| Some(name.name.clone())),
            None => name.name.clone(),
        },
        _ => return None,
    };
    valid_label_name(&name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const U64: ValueType = ValueType::Int {
        size: 8,
        signed: false,
    };

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

    fn names(script: &str, maps: &[MapInfo], fleet: &[&str]) -> Result<MetricNames, String> {
        let program = tracebound_compiler::parse::parse(script).expect("parses");
        metric_names(&program, maps, fleet)
    }

    fn labels(script: &str, map: MapInfo) -> Vec<String> {
        names(script, &[map], &["host"]).unwrap().maps[0]
            .key_labels
            .clone()
    }

    #[test]
    fn keys_are_named_as_the_script_names_them() {
        let s = "tracepoint:syscalls:sys_enter_openat { @opens[comm, $x, str(args.filename), \
                 (uint32)args->flags] = count(); }";
        let m = info("opens", vec![U64; 4], MapValue::Count);
        assert_eq!(labels(s, m), ["comm", "x", "filename", "flags"]);
    }

    #[test]
    fn unnamed_or_disagreeing_keys_are_numbered() {
        let s = "BEGIN { @m[1, pid, comm] = 1; } END { @m[2 + 1, tid, comm] = 2; }";
        let m = info("m", vec![U64; 3], MapValue::Plain(U64));
        assert_eq!(labels(s, m), ["key0", "key1", "comm"]);
    }

    #[test]
    fn a_use_without_a_name_does_not_unname_a_key() {
        let s = "BEGIN { @start[tid] = nsecs; } END { delete(@start[0]); }";
        let m = info("start", vec![U64], MapValue::Plain(U64));
        assert_eq!(labels(s, m), ["tid"]);
    }

    #[test]
    fn histogram_buckets_are_not_a_label() {
        let s = "BEGIN { @lat[comm] = hist(5); }";
        let m = info("lat", vec![U64, U64], MapValue::Hist { k: 0 });
        assert_eq!(labels(s, m), ["comm"]);
    }

    #[test]
    fn labels_never_clash_with_fleet_or_reserved_ones() {
        let s = "BEGIN { @m[$host, $le, $key1] = count(); }";
        let m = info("m", vec![U64; 3], MapValue::Count);
        // host and le are taken: key0, key1; then $key1 finds key1 taken: key2.
        assert_eq!(labels(s, m), ["key0", "key1", "key2"]);
        let late = "BEGIN { @l[$key1, 5] = count(); }";
        let m = info("l", vec![U64; 2], MapValue::Count);
        assert_eq!(labels(late, m), ["key1", "key1_"]);
        let dup = "BEGIN { @d[$a, $a] = count(); }";
        let m = info("d", vec![U64; 2], MapValue::Count);
        assert_eq!(labels(dup, m), ["a", "key1"]);
    }

    #[test]
    fn map_names_become_families_and_clashes_are_errors() {
        let maps = [
            info("", vec![], MapValue::Count),
            info("lat", vec![U64], MapValue::Hist { k: 0 }),
        ];
        let n = names("BEGIN { @ = count(); @lat = hist(1); }", &maps, &[]).unwrap();
        let metrics: Vec<&str> = n.maps.iter().map(|m| m.metric.as_str()).collect();
        assert_eq!(metrics, ["tracebound_map", "tracebound_map_lat"]);
        let clash = [
            info("a", vec![], MapValue::Stats { signed: true }),
            info("a_count", vec![], MapValue::Sum { signed: true }),
        ];
        let err = names("BEGIN { @a = stats(1); @a_count = sum(1); }", &clash, &[]).unwrap_err();
        assert!(err.contains("@a and @a_count"), "{err}");
    }

    #[test]
    fn stacks_and_symbols_are_left_out_with_why() {
        let stack = ValueType::Stack {
            user: false,
            mode: Default::default(),
            limit: 127,
        };
        let maps = [
            info("s", vec![stack], MapValue::Count),
            info("n", vec![U64], MapValue::Count),
        ];
        let n = names("BEGIN { @n[1] = count(); }", &maps, &[]).unwrap();
        assert_eq!(n.maps.len(), 1);
        assert_eq!(n.maps[0].map, 1);
        assert_eq!(n.left_out[0].0, "s");
    }

    #[test]
    fn label_names_follow_the_format() {
        assert!(valid_label_name("comm") && valid_label_name("_x1"));
        assert!(!valid_label_name("1x") && !valid_label_name("a-b") && !valid_label_name(""));
        assert!(!valid_label_name("__name__"));
    }
}

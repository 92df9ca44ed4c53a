//! bpftrace 0.17's `-f json` output: one JSON object per line. Found by experiment:
//! - `{"type": "printf", "data": "..."}`, `{"type": "value", "data": 5}` for `print(value)`,
//!   `{"type": "attached_probes", "count": 1, "data": {"probes": 1}}` (the current release's).
//! - maps: `{"type": "map", "data": {"@c": 1}}`, keyed `{"@k": {"1": 1, "2": 2}}` with the key
//!   fields' text joined by "," (`"1,a"`); avg and stats have type "stats", stats values are
//!   `{"count": 1, "average": 5, "total": 5}`; hist and lhist have type "hist" and a list of
//!   `{"min": 4, "max": 7, "count": 1}` from the first non-empty bucket to the last (the
//!   open-ended buckets have only "max" or only "min").
//! - Entries in the same order as text output; `print`'s top and div as in text.
//! - A map without entries prints nothing at all; a zeroed histogram prints `[]`.
//! - Separators are ", " and ": " in objects, but tuples are `[1,"a"]` with none.
//! - Strings escape `"` `\` and newline, tab, carriage return by name, other bytes below 0x20
//!   as `\u00XX`; bytes from 0x80 are escaped as their sign-extended value, `\uffffffc3` (a
//!   quirk of bpftrace's, kept for byte-for-byte output); DEL and '/' stay raw.
//! - At exit the same two newlines as in text mode come first.

use tracebound_compiler::program::MapValue;

use super::aggregate::{average, Merged};
use super::buckets::{linear_range, log2_range, Range};
use super::entry::{Entry, EntryValue, MapData, Sampler};
use super::text::write_value;
use super::value::Value;
use super::{sort, tseries};
use super::{OutputError, Symbolize, EXIT_PREAMBLE};

pub fn attached_json(out: &mut Vec<u8>, probes: usize) {
    // The current release gives the count twice, beside `data` and in it.
    let line = format!(
        "{{\"type\": \"attached_probes\", \"count\": {probes}, \"data\": {{\"probes\": {probes}}}}}\n"
    );
    out.extend_from_slice(line.as_bytes());
}

/// Dropped records, as bpftrace's `lost_events` message.
pub fn lost_events_json(out: &mut Vec<u8>, lost: u64) {
    let line = format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {lost}}}}}\n");
    out.extend_from_slice(line.as_bytes());
}

/// `-k`'s warning of a failed helper, as the current release writes it: the message, the
/// helper, its return code, and where in the script (1-based line and column).
pub fn helper_error_json(out: &mut Vec<u8>, message: &str, helper: &str, retcode: i64, at: Place) {
    out.extend_from_slice(b"{\"type\": \"helper_error\", \"msg\": ");
    write_string(out, message.as_bytes());
    out.extend_from_slice(b", \"helper\": ");
    write_string(out, helper.as_bytes());
    out.extend_from_slice(format!(", \"retcode\": {retcode}, \"filename\": ").as_bytes());
    write_string(out, at.file.as_bytes());
    out.extend_from_slice(format!(", \"line\": {}, \"col\": {}}}\n", at.line, at.col).as_bytes());
}

/// Where in a script a message points: its name, 1-based line and column.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub file: &'a str,
    pub line: usize,
    pub col: usize,
}

/// A printf record's formatted text.
pub fn printf_json(out: &mut Vec<u8>, text: &[u8]) {
    text_json(out, "printf", text);
}

/// Text an action printed, as the current release types it: `printf`, `time`, `cat`,
/// `syscall` (what `system()` ran printed), `join`.
pub fn text_json(out: &mut Vec<u8>, kind: &str, text: &[u8]) {
    out.extend_from_slice(b"{\"type\": \"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\", \"data\": ");
    write_string(out, text);
    out.extend_from_slice(b"}\n");
}

/// `print(value)` of a non-map value.
pub fn print_value_json(out: &mut Vec<u8>, value: &Value, symbols: &dyn Symbolize) {
    out.extend_from_slice(b"{\"type\": \"value\", \"data\": ");
    write_json_value(out, value, symbols);
    out.extend_from_slice(b"}\n");
}

/// `print(@map, top, div)`.
pub fn map_json(
    out: &mut Vec<u8>,
    map: &MapData,
    top: u64,
    div: u64,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    if map.entries.is_empty() && !(map.keyless && map.kind == MapValue::Count) {
        return Ok(());
    }
    if map.entries.is_empty() {
        // A count() map without keys shows 0 while it has no entry (never counted, or
        // cleared), as it did before the text output followed the current release.
        let zero = MapData {
            entries: vec![Entry {
                key: super::entry::Key {
                    fields: Vec::new(),
                    bytes: Vec::new(),
                },
                value: EntryValue::One(super::aggregate::Merged::Count(0)),
            }],
            ..map.clone()
        };
        return map_json(out, &zero, top, div, symbols);
    }
    let div = div.max(1);
    let kind = match map.kind {
        MapValue::Hist { .. } | MapValue::Lhist { .. } => "hist",
        MapValue::Avg { .. } | MapValue::Stats { .. } => "stats",
        MapValue::Tseries { .. } => "tseries",
        _ => "map",
    };
    out.extend_from_slice(format!("{{\"type\": \"{kind}\", ").as_bytes());
    if map.sampled > 1 {
        out.extend_from_slice(format!("\"sampled\": {}, ", map.sampled).as_bytes());
        if let Sampler::Guard { since_ms } = map.sampled_by {
            out.extend_from_slice(
                format!("\"sampled_by\": \"guard\", \"sampled_from_ms\": {since_ms}, ").as_bytes(),
            );
        }
    }
    out.extend_from_slice(b"\"data\": {");
    write_string(out, format!("@{}", map.name).as_bytes());
    out.extend_from_slice(b": ");
    let shown = sort::top(&map.kind, &map.entries, top);
    let keyless = map.entries.iter().all(|e| e.key.fields.is_empty());
    if keyless {
        for entry in shown {
            write_entry_value(out, map, entry, div, symbols)?;
        }
    } else {
        out.push(b'{');
        for (i, entry) in shown.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let mut key = Vec::new();
            for (j, field) in entry.key.fields.iter().enumerate() {
                if j > 0 {
                    key.push(b',');
                }
                write_value(&mut key, field, symbols, true);
            }
            write_string(out, &key);
            out.extend_from_slice(b": ");
            write_entry_value(out, map, entry, div, symbols)?;
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"}}\n");
    Ok(())
}

/// At exit: the preamble, then every map by name.
pub fn exit_json(
    out: &mut Vec<u8>,
    maps: &[MapData],
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    out.extend_from_slice(EXIT_PREAMBLE);
    for map in super::sort::by_name(maps) {
        map_json(out, map, 0, 0, symbols)?;
    }
    Ok(())
}

fn write_entry_value(
    out: &mut Vec<u8>,
    map: &MapData,
    entry: &Entry,
    div: u64,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let signed = |v: i64| (v as i128 / div as i128).to_string();
    let text = match &entry.value {
        EntryValue::Buckets { counts, .. } => return write_buckets(out, &map.kind, counts, div),
        EntryValue::Series(rows) => {
            // Intervals without a value are left out, as the current release does.
            let points: Vec<String> = rows
                .iter()
                .filter_map(|(start, v)| {
                    let v = (*v)?;
                    Some(format!(
                        "{{\"interval_start\": \"{}\", \"value\": {v}}}",
                        tseries::timestamp(*start)
                    ))
                })
                .collect();
            format!("[{}]", points.join(", "))
        }
        EntryValue::One(m) => match m {
            Merged::Count(c) | Merged::Bucket { count: c, .. } => (c / div).to_string(),
            Merged::Sum(v)
            | Merged::Min(Some(v))
            | Merged::Max(Some(v))
            | Merged::Interval { value: v, .. } => v.divided(div),
            Merged::Min(None) | Merged::Max(None) => "null".into(),
            Merged::Avg { sum, count } => average(*sum, *count).divided(div),
            Merged::Stats { sum, count, .. } => format!(
                "{{\"count\": {count}, \"average\": {}, \"total\": {sum}}}",
                average(*sum, *count)
            ),
            Merged::Plain(Value::Int(v)) => signed(*v),
            Merged::Plain(Value::UInt(v)) => (v / div).to_string(),
            Merged::Plain(other) => {
                write_json_value(out, other, symbols);
                return Ok(());
            }
        },
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn write_buckets(
    out: &mut Vec<u8>,
    kind: &MapValue,
    counts: &[u64],
    div: u64,
) -> Result<(), OutputError> {
    out.push(b'[');
    if let (Some(first), Some(last)) = (
        counts.iter().position(|&c| c != 0),
        counts.iter().rposition(|&c| c != 0),
    ) {
        for (i, &count) in counts.iter().enumerate().take(last + 1).skip(first) {
            if i > first {
                out.extend_from_slice(b", ");
            }
            let range: Range = match *kind {
                MapValue::Lhist { min, max, step } => linear_range(i as u64, min, max, step)?,
                MapValue::Hist { k } => log2_range(i as u64, k)?,
                _ => return Err(OutputError::NoBucketField),
            };
            let mut fields = Vec::new();
            let (min, max) = range.json_bounds();
            if let Some(min) = min {
                fields.push(format!("\"min\": {min}"));
            }
            if let Some(max) = max {
                fields.push(format!("\"max\": {max}"));
            }
            fields.push(format!("\"count\": {}", count / div));
            out.extend_from_slice(format!("{{{}}}", fields.join(", ")).as_bytes());
        }
    }
    out.push(b']');
    Ok(())
}

/// A value as JSON: numbers, strings, tuples as arrays without spaces. Stacks and symbols
/// become the string bpftrace's text output would show.
pub fn write_json_value(out: &mut Vec<u8>, value: &Value, symbols: &dyn Symbolize) {
    match value {
        Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::UInt(v) | Value::Pointer(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Str(s) => write_string(out, s),
        Value::Tuple(fields) | Value::Array(fields) => {
            out.push(b'[');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_value(out, f, symbols);
            }
            out.push(b']');
        }
        // An object of the fields, as the current release writes a struct: with the
        // spaces of its other objects, where tuples have none.
        Value::Struct(fields) => {
            out.push(b'{');
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_string(out, name.as_bytes());
                out.extend_from_slice(b": ");
                write_json_value(out, v, symbols);
            }
            out.push(b'}');
        }
        Value::Time { .. }
        | Value::Inet { .. }
        | Value::Mac(_)
        | Value::Buf(_)
        | Value::Named { .. } => write_string(out, &value.formatted_text().unwrap_or_default()),
        // JSON keeps an enum's number, as the current release writes it (unsigned), for
        // the programs that read it; a key is text, and names it.
        Value::Enum { number, .. } => {
            out.extend(number.as_u64_bits().unwrap_or(0).to_string().into_bytes())
        }
        Value::Stack { .. } | Value::Sym { .. } => {
            let mut text = Vec::new();
            write_value(&mut text, value, symbols, false);
            write_string(out, &text);
        }
    }
}

/// A JSON string with bpftrace 0.17's escaping (see the module comment).
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\r' => out.extend_from_slice(b"\\r"),
            // A signed char below 0x20: controls, and every byte from 0x80.
            _ if (b as i8) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", b as i8 as i32).as_bytes())
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        write_string(&mut out, b"a\"b\\c\td\x01e\x7f/\r\x08\xc3\xa9");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\td\\u0001e\x7f/\\r\\u0008\\uffffffc3\\uffffffa9\""
        );
    }
    #[test]
    fn an_enum_is_its_number_as_a_value() {
        let e = |n: i64| Value::Enum {
            number: Box::new(Value::Int(n)),
            name: Some("FOO".to_string()),
        };
        let mut out = Vec::new();
        write_json_value(
            &mut out,
            &Value::Tuple(vec![e(333), e(-1)]),
            &super::super::NoSymbols,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[333,18446744073709551615]"
        );
    }

    /// The runtime suite's `none type`: a union's float member is `null`.
    #[test]
    fn a_float_member_is_null() {
        let n = Value::Struct(vec![("i".into(), Value::Int(5)), ("f".into(), Value::Null)]);
        let foo = Value::Struct(vec![("m".into(), Value::Int(2)), ("n".into(), n)]);
        let mut out = Vec::new();
        write_json_value(&mut out, &foo, &super::super::NoSymbols);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"m": 2, "n": {"i": 5, "f": null}}"#
        );
    }
}

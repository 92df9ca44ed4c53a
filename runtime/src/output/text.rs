//! The current bpftrace release's text output: maps (at exit and for `print(@m, top, div)`),
//! `print(value)`. Where it differs from 0.17's, which the golden tests captured, the
//! difference is one entry of `since_0_17::DIFFERENCES` (docs/compat.md).
//! - An entry is `@name[k1, k2]: value`; no brackets without keys. Strings print raw,
//!   tuples as `(1, a)`, stacks as one frame per line (indented 4 in a key, 8 in a value).
//! - count, sum, min, max, avg and plain maps: one line per entry, nothing after the map.
//! - stats: `@s: { .count = 2, .average = 7, .total = 15 }` lines (a record). `print`'s top
//!   and div do not apply to stats (they do to avg).
//! - hist / lhist: per entry `@h[k]:`, one line per bucket from the first non-empty bucket
//!   to the last, and an empty line. A bucket line is the label left-aligned in 16 columns,
//!   the count right-aligned in 8, ` |`, a bar of `@` scaled so the largest bucket fills 52
//!   columns (count * 52 / max, truncated), padded to 52, then `|`. Longer labels push the
//!   count right. `div` divides the printed counts but not the bars. A histogram whose
//!   buckets are all zero prints only its header and the empty line.
//! - A map without entries prints nothing, except that `print(@m)` of a map without keys
//!   prints its zero value (`@m: 0`, a stats map's zero record); a histogram prints nothing.
//! - At exit, after END: two newlines (`EXIT_PREAMBLE`), then every map, by name.

use super::aggregate::{average, Merged, Number};
use super::buckets::{linear_label, log2_label};
use super::entry::{Entry, EntryValue, Key, MapData, Sampler};
use super::value::{decode, Value};
use super::{sort, tseries};
use super::{Frame, OutputError, Symbolize, EXIT_PREAMBLE};
use std::rc::Rc;
use tracebound_compiler::program::MapValue;
use tracebound_compiler::program::StackMode;

/// Columns of the widest histogram bar.
const BAR_WIDTH: u64 = 52;

/// Appends what `print(@map, top, div)` prints (top 0 = all, div 0 = 1).
pub fn map_text(
    out: &mut Vec<u8>,
    map: &MapData,
    top: u64,
    div: u64,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let div = div.max(1);
    let shown = sort::top(&map.kind, &map.entries, top);
    if map.sampled > 1 {
        // Never a silent change of meaning: the values are estimates from 1 hit in N.
        let by = match map.sampled_by {
            Sampler::AutoFilter => "--auto-filter".to_string(),
            Sampler::Guard { since_ms } => {
                format!("by the guard from {:.1} s", since_ms as f64 / 1000.0)
            }
        };
        out.extend_from_slice(
            format!(
                "# @{}: sampled 1 in {} ({by}), counts scaled by {}\n",
                map.name, map.sampled, map.sampled
            )
            .as_bytes(),
        );
    }
    for entry in shown {
        write_entry(out, map, entry, div, symbols)?;
    }
    Ok(())
}

/// What `print(@m)` prints: the map as at exit, but a map without keys and without an entry
/// (never assigned, or cleared) shows its zero value, as the current release prints it.
pub fn print_map_text(
    out: &mut Vec<u8>,
    map: &MapData,
    top: u64,
    div: u64,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let zero = Number::Signed(0);
    let zero = match &map.kind {
        // A plain value's zero is its all-zero bytes (0, "", a tuple of those).
        MapValue::Plain(ty) => decode(ty, &vec![0u8; ty.size() as usize])
            .ok()
            .map(Merged::Plain),
        MapValue::Count => Some(Merged::Count(0)),
        MapValue::Sum { .. } => Some(Merged::Sum(zero)),
        MapValue::Min { .. } => Some(Merged::Min(Some(zero))),
        MapValue::Max { .. } => Some(Merged::Max(Some(zero))),
        MapValue::Avg { .. } => Some(Merged::Avg {
            sum: zero,
            count: 0,
        }),
        MapValue::Stats { .. } => Some(Merged::Stats {
            sum: zero,
            count: 0,
            min: None,
            max: None,
        }),
        _ => None,
    };
    match zero {
        Some(zero) if map.keyless && map.entries.is_empty() => {
            let filled = MapData {
                entries: vec![Entry {
                    key: Key {
                        fields: Vec::new(),
                        bytes: Vec::new(),
                    },
                    value: EntryValue::One(zero),
                }],
                ..map.clone()
            };
            map_text(out, &filled, top, div, symbols)
        }
        _ => map_text(out, map, top, div, symbols),
    }
}

/// Appends what bpftrace prints when the program ends, after END's own output: the
/// preamble, then every map in name order.
pub fn exit_text(
    out: &mut Vec<u8>,
    maps: &[MapData],
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    out.extend_from_slice(EXIT_PREAMBLE);
    for map in sort::by_name(maps) {
        map_text(out, map, 0, 0, symbols)?;
    }
    Ok(())
}

/// Appends what `print(value)` prints for a non-map value: the value and a newline.
pub fn print_value_text(out: &mut Vec<u8>, value: &Value, symbols: &dyn Symbolize) {
    write_value(out, value, symbols, false);
    out.push(b'\n');
}

/// Appends a value as bpftrace shows it in a map entry or `print`. `in_key` matters for
/// stacks only (bpftrace indents their frames 4 columns in a key, 8 elsewhere).
pub fn write_value(out: &mut Vec<u8>, value: &Value, symbols: &dyn Symbolize, in_key: bool) {
    match value {
        Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::UInt(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Str(s) => out.extend_from_slice(s),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Tuple(fields) => {
            out.push(b'(');
            write_list(out, fields, symbols, in_key);
            out.push(b')');
        }
        // The current release prints arrays without spaces: `[1,2,3,4]`.
        Value::Array(elems) => {
            out.push(b'[');
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, e, symbols, in_key);
            }
            out.push(b']');
        }
        Value::Stack {
            user,
            id,
            mode,
            limit,
        } => {
            let indent = if in_key { 4 } else { 8 };
            let frames = symbols.frames(*user, *mode, *limit, *id);
            out.extend(stack_text(&frames, *mode, *user, indent));
        }
        Value::Sym { user, addr, pid } => {
            out.extend_from_slice(symbol_text(symbols, *user, *addr, *pid).as_bytes())
        }
        Value::Pointer(p) => out.extend_from_slice(format!("{p:#x}").as_bytes()),
        // The current release's text for a value of no type (a float member).
        Value::Null => out.extend_from_slice(b"null"),
        // As the current release prints a struct: `{ .a = 1, .b = 2 }`, `{}` when empty.
        Value::Struct(fields) if fields.is_empty() => out.extend_from_slice(b"{}"),
        Value::Struct(fields) => {
            out.extend_from_slice(b"{ ");
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.push(b'.');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b" = ");
                write_value(out, v, symbols, in_key);
            }
            out.extend_from_slice(b" }");
        }
        Value::Time { .. }
        | Value::Inet { .. }
        | Value::Mac(_)
        | Value::Buf(_)
        | Value::Named { .. }
        | Value::Enum { .. } => out.extend(value.formatted_text().unwrap_or_default()),
    }
}

/// A stack as bpftrace 0.17 prints it: a newline, then one frame a line. In bpftrace mode
/// each frame is indented (4 columns in a map key, 8 elsewhere) and reads `function+offset`
/// (decimal), or the address as `0x...` when unknown. In perf mode a frame is a tab, the
/// address in hex, the same name, and for a user frame the module in parentheses
/// (`[unknown]` when unknown). Raw mode (newer bpftrace's) prints the address only, flush left.
pub fn stack_text(frames: &[Frame], mode: StackMode, user: bool, indent: usize) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut out = String::from("\n");
    let name = |out: &mut String, f: &Frame| match &f.symbol {
        Some((function, offset)) => write!(out, "{function}+{offset}"),
        None => write!(out, "{:#x}", f.addr),
    };
    let source = |out: &mut String, source: &Option<Rc<str>>| match source {
        Some(at) => write!(out, "@{at}"),
        None => Ok(()),
    };
    for f in frames {
        // Inlined calls first, innermost first, each on a line of its own (the current
        // release's `[inlined] name@file:line`, perf's `addr name (inlined)`).
        for i in f.inlined.iter() {
            let _ = match mode {
                StackMode::Bpftrace => {
                    out.extend(std::iter::repeat_n(' ', indent));
                    let _ = write!(out, "[inlined] {}", i.name);
                    source(&mut out, &i.source)
                }
                StackMode::Perf => write!(out, "\t{:x} {} (inlined)", f.addr, i.name),
                StackMode::Raw | StackMode::BuildId => continue,
            };
            out.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = match mode {
            StackMode::Bpftrace => {
                out.extend(std::iter::repeat_n(' ', indent));
                let _ = name(&mut out, f);
                source(&mut out, &f.source)
            }
            StackMode::Perf => {
                let _ = write!(out, "\t{:x} ", f.addr);
                let _ = name(&mut out, f);
                match (user, &f.symbol, &f.module) {
                    (false, ..) => Ok(()),
                    (true, Some(_), Some(m)) => write!(out, " ({m})"),
                    (true, ..) => write!(out, " ([unknown])"),
                }
            }
            // Flush left, as the current release prints raw frames (0.17 indented them).
            StackMode::Raw => write!(out, "{:x}", f.addr),
            // `<build id> 0x<offset>`, or the bare address where the kernel found no build id.
            StackMode::BuildId => match &f.build_id {
                Some(id) => write!(out, "{id} {:#04x}", f.addr),
                None => write!(out, "{:x}", f.addr),
            },
        };
        out.push('\n');
    }
    out.into_bytes()
}

/// `ksym(addr)`, `usym(addr)` as bpftrace 0.17 prints them: the function's name without an
/// offset, or the address as C++ prints a pointer (`0x...`, and `0` for null).
pub fn symbol_text(symbols: &dyn Symbolize, user: bool, addr: u64, pid: u32) -> String {
    match symbols.symbol(user, addr, pid) {
        Some(name) => name.to_string(),
        None if addr == 0 => "0".into(),
        None => format!("{addr:#x}"),
    }
}

fn write_list(out: &mut Vec<u8>, values: &[Value], symbols: &dyn Symbolize, in_key: bool) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_value(out, v, symbols, in_key);
    }
}

fn write_entry(
    out: &mut Vec<u8>,
    map: &MapData,
    entry: &Entry,
    div: u64,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    out.push(b'@');
    out.extend_from_slice(map.name.as_bytes());
    if !entry.key.fields.is_empty() {
        out.push(b'[');
        write_list(out, &entry.key.fields, symbols, true);
        out.push(b']');
    }
    match &entry.value {
        // The current release's header has no space after the colon (0.17's had one).
        EntryValue::Buckets { counts, .. } => {
            out.extend_from_slice(b":\n");
            match map.kind {
                MapValue::Lhist { min, max, step } => {
                    bucket_lines(out, counts, div, |i| linear_label(i, min, max, step))?
                }
                MapValue::Hist { k } => bucket_lines(out, counts, div, |i| log2_label(i, k))?,
                _ => return Err(OutputError::NoBucketField),
            }
            out.push(b'\n');
        }
        EntryValue::One(merged) => {
            out.extend_from_slice(b": ");
            write_merged(out, merged, div, symbols);
            out.push(b'\n');
        }
        EntryValue::Series(rows) => {
            out.extend_from_slice(b":\n");
            out.extend_from_slice(tseries::graph(rows).as_bytes());
            out.push(b'\n');
        }
    }
    Ok(())
}

fn write_merged(out: &mut Vec<u8>, merged: &Merged, div: u64, symbols: &dyn Symbolize) {
    let signed = |v: i64| (v as i128 / div as i128).to_string();
    let text = match merged {
        Merged::Count(c) | Merged::Bucket { count: c, .. } => (c / div).to_string(),
        Merged::Sum(v)
        | Merged::Min(Some(v))
        | Merged::Max(Some(v))
        | Merged::Interval { value: v, .. } => v.divided(div),
        Merged::Min(None) | Merged::Max(None) => String::new(),
        Merged::Avg { sum, count } => average(*sum, *count).divided(div),
        Merged::Stats { sum, count, .. } => {
            format!(
                "{{ .count = {count}, .average = {}, .total = {sum} }}",
                average(*sum, *count)
            )
        }
        Merged::Plain(Value::Int(v)) => signed(*v),
        Merged::Plain(Value::UInt(v)) => (v / div).to_string(),
        Merged::Plain(other) => return write_value(out, other, symbols, false),
    };
    out.extend_from_slice(text.as_bytes());
}

fn bucket_lines(
    out: &mut Vec<u8>,
    counts: &[u64],
    div: u64,
    label: impl Fn(u64) -> Result<String, OutputError>,
) -> Result<(), OutputError> {
    let (Some(first), Some(last)) = (
        counts.iter().position(|&c| c != 0),
        counts.iter().rposition(|&c| c != 0),
    ) else {
        return Ok(());
    };
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    for (i, &count) in counts.iter().enumerate().take(last + 1).skip(first) {
        let bar = (count as u128 * BAR_WIDTH as u128 / max as u128) as usize;
        let line = format!(
            "{:<16}{:>8} |{}{}|\n",
            label(i as u64)?,
            count / div,
            "@".repeat(bar),
            " ".repeat(BAR_WIDTH as usize - bar)
        );
        out.extend_from_slice(line.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::entry::Key;
    use crate::output::NoSymbols;

    #[test]
    fn structs_print_as_the_current_release_prints_them() {
        let text = |v: &Value| {
            let mut out = Vec::new();
            write_value(&mut out, v, &NoSymbols, false);
            String::from_utf8(out).unwrap()
        };
        let inner = Value::Struct(vec![("m".into(), Value::Array(vec![Value::Int(2)]))]);
        let outer = Value::Struct(vec![
            ("y".into(), inner),
            (
                "e".into(),
                Value::Enum {
                    number: Box::new(Value::UInt(1)),
                    name: Some("ONE".into()),
                },
            ),
            ("p".into(), Value::Pointer(0xffff_8880_0000_1000)),
        ]);
        assert_eq!(
            text(&outer),
            "{ .y = { .m = [2] }, .e = ONE, .p = 0xffff888000001000 }"
        );
        assert_eq!(text(&Value::Struct(Vec::new())), "{}");
        // A float member has no value in the current release: `null`, in arrays too.
        let floats = Value::Struct(vec![
            ("f".into(), Value::Null),
            ("a".into(), Value::Array(vec![Value::Null, Value::Null])),
        ]);
        assert_eq!(text(&floats), "{ .f = null, .a = [null,null] }");
    }

    fn hist(counts: &[(usize, u64)]) -> MapData {
        let mut b = vec![0; 65];
        for &(i, c) in counts {
            b[i] = c;
        }
        MapData {
            name: "h".into(),
            kind: MapValue::Hist { k: 0 },
            entries: vec![Entry {
                key: Key {
                    fields: vec![],
                    bytes: vec![],
                },
                value: EntryValue::Buckets { counts: b, sum: 0 },
            }],
            keyless: true,
            sampled: 1,
            sampled_by: Sampler::AutoFilter,
        }
    }

    fn text(map: &MapData, top: u64, div: u64) -> String {
        let mut out = Vec::new();
        map_text(&mut out, map, top, div, &NoSymbols).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_sampled_map_says_who_sampled_it_and_from_when() {
        let mut h = hist(&[(5, 8)]);
        h.sampled = 8;
        assert!(text(&h, 0, 0)
            .starts_with("# @h: sampled 1 in 8 (--auto-filter), counts scaled by 8\n"));
        h.sampled_by = Sampler::Guard { since_ms: 2340 };
        assert!(text(&h, 0, 0)
            .starts_with("# @h: sampled 1 in 8 (by the guard from 2.3 s), counts scaled by 8\n"));
    }

    #[test]
    fn bars_scale_to_the_largest_bucket_with_integer_math() {
        // 15 * 52 / 26 is exactly 30; a floating-point 15 / 26 * 52 gives 29.
        let t = text(&hist(&[(3, 26), (4, 15)]), 0, 0);
        let bars: Vec<usize> = t
            .lines()
            .filter(|l| l.ends_with('|'))
            .map(|l| l.matches('@').count())
            .collect();
        assert_eq!(bars, vec![52, 30]);
    }

    #[test]
    fn div_divides_counts_but_not_bars() {
        let t = text(&hist(&[(5, 1), (6, 3)]), 0, 2);
        assert_eq!(
            t,
            "@h:\n\
             [8, 16)                0 |@@@@@@@@@@@@@@@@@                                   |\n\
             [16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
        );
    }

    #[test]
    fn zeroed_and_empty_histograms() {
        assert_eq!(text(&hist(&[]), 0, 0), "@h:\n\n");
        let mut empty = hist(&[]);
        empty.entries.clear();
        assert_eq!(text(&empty, 0, 0), "");
        empty.kind = MapValue::Stats { signed: true };
        assert_eq!(text(&empty, 0, 0), "");
    }

    /// The current release's `print(@m)` of a map without keys that has no entry: its zero
    /// value (tests/runtime/call `print_empty_scalar_map`, `print_empty_scalar_stats_map`);
    /// nothing for a histogram, and nothing for any of them at exit.
    #[test]
    fn print_shows_an_empty_map_without_keys_as_its_zero() {
        let printed = |kind: MapValue, keyless: bool| {
            let mut map = hist(&[]);
            map.entries.clear();
            map.kind = kind;
            map.keyless = keyless;
            let mut out = Vec::new();
            print_map_text(&mut out, &map, 0, 0, &NoSymbols).unwrap();
            let mut at_exit = Vec::new();
            exit_text(&mut at_exit, std::slice::from_ref(&map), &NoSymbols).unwrap();
            assert_eq!(at_exit, EXIT_PREAMBLE);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(printed(MapValue::Count, true), "@h: 0\n");
        assert_eq!(printed(MapValue::Sum { signed: true }, true), "@h: 0\n");
        assert_eq!(printed(MapValue::Avg { signed: true }, true), "@h: 0\n");
        assert_eq!(
            printed(MapValue::Stats { signed: true }, true),
            "@h: { .count = 0, .average = 0, .total = 0 }\n"
        );
        let int = tracebound_compiler::program::ValueType::Int {
            size: 8,
            signed: true,
        };
        assert_eq!(printed(MapValue::Plain(int), true), "@h: 0\n");
        assert_eq!(printed(MapValue::Count, false), "");
        assert_eq!(printed(MapValue::Hist { k: 0 }, true), "");
    }

    #[test]
    fn stacks_indent_by_place() {
        struct Frames;
        impl Symbolize for Frames {
            fn frames(&self, _: bool, _: StackMode, _: u32, _: u64) -> Vec<Frame> {
                vec![
                    Frame {
                        addr: 0x10,
                        symbol: Some(("f".into(), 1)),
                        module: None,
                        ..Frame::default()
                    },
                    Frame {
                        addr: 0x20,
                        symbol: Some(("g".into(), 2)),
                        module: None,
                        ..Frame::default()
                    },
                ]
            }
            fn symbol(&self, _: bool, _: u64, _: u32) -> Option<std::rc::Rc<str>> {
                Some("sym".into())
            }
        }
        let stack = Value::Stack {
            user: false,
            id: 1,
            mode: StackMode::Bpftrace,
            limit: 127,
        };
        let mut key = Vec::new();
        write_value(&mut key, &stack, &Frames, true);
        assert_eq!(key, b"\n    f+1\n    g+2\n");
        let mut val = Vec::new();
        print_value_text(&mut val, &stack, &Frames);
        assert_eq!(val, b"\n        f+1\n        g+2\n\n");
        let mut sym = Vec::new();
        write_value(
            &mut sym,
            &Value::Sym {
                user: true,
                addr: 0x10,
                pid: 1,
            },
            &NoSymbols,
            true,
        );
        assert_eq!(sym, b"0x10");
        assert_eq!(symbol_text(&NoSymbols, false, 0, 0), "0");
        assert_eq!(symbol_text(&Frames, false, 0, 0), "sym");
    }

    /// With debug info, as the current release prints a frame with two inlined calls: each
    /// inlined function on a line of its own, innermost first, then the function's own.
    #[test]
    fn inlined_calls_and_source_lines_print_before_their_frame() {
        let inlined = |name: &str, line| super::super::InlinedFrame {
            name: name.into(),
            source: Some(format!("/src/p.c:{line}").into()),
        };
        let frame = Frame {
            addr: 0x401136,
            symbol: Some(("mywrapper".into(), 6)),
            module: Some("/bin/p".into()),
            source: Some("/src/p.c:24".into()),
            inlined: Rc::from([inlined("myclock", 15), inlined("mywrapper_inlined", 19)]),
            build_id: None,
        };
        let text =
            |mode| String::from_utf8(stack_text(std::slice::from_ref(&frame), mode, true, 4));
        assert_eq!(
            text(StackMode::Bpftrace).unwrap(),
            "\n    [inlined] myclock@/src/p.c:15\n    [inlined] mywrapper_inlined@/src/p.c:19\n    \
             mywrapper+6@/src/p.c:24\n"
        );
        assert_eq!(
            text(StackMode::Perf).unwrap(),
            "\n\t401136 myclock (inlined)\n\t401136 mywrapper_inlined (inlined)\n\t401136 \
             mywrapper+6 (/bin/p)\n"
        );
        assert_eq!(text(StackMode::Raw).unwrap(), "\n401136\n");
    }

    /// Frames as bpftrace 0.17 printed them here (`print(kstack(perf, 2))`,
    /// `@p[ustack(perf)]`, and a process that had exited).
    #[test]
    fn stack_modes_lay_out_frames_as_bpftrace() {
        let known = |addr, name: &str, off, module: Option<&str>| Frame {
            addr,
            symbol: Some((name.into(), off)),
            module: module.map(Into::into),
            ..Frame::default()
        };
        let kernel = [
            known(0xffffffff814b096d, "perf_syscall_enter", 397, None),
            known(0xffffffff81415b70, "syscall_trace_enter", 384, None),
        ];
        assert_eq!(
            String::from_utf8(stack_text(&kernel, StackMode::Perf, false, 8)).unwrap(),
            "\n\tffffffff814b096d perf_syscall_enter+397\n\tffffffff81415b70 syscall_trace_enter+384\n"
        );
        assert_eq!(
            String::from_utf8(stack_text(&kernel, StackMode::Bpftrace, false, 4)).unwrap(),
            "\n    perf_syscall_enter+397\n    syscall_trace_enter+384\n"
        );
        let user = [
            known(0x558a0ff63159, "inner", 0, Some("/tmp/stk/t_fp")),
            Frame {
                addr: 0x7fa97913e4f7,
                symbol: None,
                module: Some("/usr/lib/x86_64-linux-gnu/libc.so.6".into()),
                ..Frame::default()
            },
        ];
        assert_eq!(
            String::from_utf8(stack_text(&user, StackMode::Perf, true, 8)).unwrap(),
            "\n\t558a0ff63159 inner+0 (/tmp/stk/t_fp)\n\t7fa97913e4f7 0x7fa97913e4f7 ([unknown])\n"
        );
        assert_eq!(
            String::from_utf8(stack_text(&user, StackMode::Bpftrace, true, 8)).unwrap(),
            "\n        inner+0\n        0x7fa97913e4f7\n"
        );
        assert_eq!(
            String::from_utf8(stack_text(&user, StackMode::Raw, true, 4)).unwrap(),
            "\n558a0ff63159\n7fa97913e4f7\n"
        );
    }
}

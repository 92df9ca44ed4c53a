//! Golden tests: each rebuilds in memory what a bpftrace script in `testdata/` leaves in its
//! maps and ring buffer, and checks that this module prints exactly what bpftrace 0.17
//! printed for it (`testdata/NAME.txt`, made by `testdata/capture.sh`; its first line names
//! the command). Map updates go through `Sim`, which writes the per-CPU byte layouts of
//! `compiler::program` the way the generated BPF code would, alternating between two CPUs so
//! that every golden also exercises the merging of slots. printf and print arguments go
//! through a ring-buffer record's bytes.

use std::collections::BTreeMap;

use tracebound_compiler::program::{linear_bucket, log2_bucket, MapInfo, MapValue, ValueType};

use super::json::{attached_json, exit_json, map_json, print_value_json, printf_json};
use super::printf::printf;
use super::since_0_17::{current_from_0_17, current_json_from_0_17, Kind, MapForm};
use super::text::{exit_text, print_map_text, print_value_text};
use super::value::{decode, encode, read_i64, read_u64, Value};
use super::{MapData, NoSymbols};

const I64: ValueType = ValueType::Int {
    size: 8,
    signed: true,
};
const U64: ValueType = ValueType::Int {
    size: 8,
    signed: false,
};
const STR: ValueType = ValueType::str(16);
const CPUS: usize = 2;

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn uint(v: u64) -> Value {
    Value::UInt(v)
}

fn s(text: &str) -> Value {
    Value::Str(text.as_bytes().to_vec())
}

fn tuple(values: Vec<Value>) -> Value {
    Value::Tuple(values)
}

/// One BPF map, updated as the generated code would update it.
struct Sim {
    info: MapInfo,
    next_cpu: usize,
    entries: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    keyless: bool,
    /// `zero(@m)` was called (for `since_0_17`).
    zeroed: bool,
}

impl Sim {
    fn new(name: &str, key: &[ValueType], value: MapValue) -> Sim {
        let keyless = key.is_empty();
        let mut key = key.to_vec();
        if matches!(value, MapValue::Hist { .. } | MapValue::Lhist { .. }) {
            key.push(U64);
        }
        Sim {
            info: MapInfo {
                name: name.into(),
                bpf_name: format!("tb_{name}"),
                key,
                value,
                sampled: 1,
                declared_size: None,
                zero_is_unset: false,
                failed_stack_index: None,
            },
            next_cpu: 0,
            entries: BTreeMap::new(),
            keyless,
            zeroed: false,
        }
    }

    /// How its entries print, for reading 0.17's text of it.
    fn form(&self) -> MapForm {
        MapForm {
            name: self.info.name.clone(),
            kind: match self.info.value {
                MapValue::Count => Kind::Count,
                MapValue::Avg { .. } => Kind::Avg,
                MapValue::Stats { .. } => Kind::Stats,
                MapValue::Hist { .. } | MapValue::Lhist { .. } => Kind::Histogram,
                _ => Kind::Other,
            },
            keyless: self.keyless,
            zeroed: self.zeroed,
        }
    }

    fn key_bytes(&self, key: &[Value]) -> Vec<u8> {
        if self.info.key.is_empty() {
            // A map without keys still has a BPF key; its content is irrelevant.
            return vec![0; 8];
        }
        encode(
            &ValueType::Tuple(self.info.key.clone()),
            &tuple(key.to_vec()),
        )
        .unwrap()
    }

    /// The slot of `key` on the CPU the next update runs on.
    fn slot(&mut self, key: &[Value]) -> &mut Vec<u8> {
        let bytes = self.key_bytes(key);
        let slots = match self.info.value {
            MapValue::Plain(_) => 1,
            _ => CPUS,
        };
        let size = self.info.value.size() as usize;
        let cpu = self.next_cpu % slots;
        self.next_cpu += 1;
        &mut self
            .entries
            .entry(bytes)
            .or_insert_with(|| vec![vec![0; size]; slots])[cpu]
    }

    fn add(&mut self, key: &[Value], offset: usize, delta: i64) {
        bump(self.slot(key), offset, delta);
    }

    fn count(&mut self, key: &[Value]) {
        self.add(key, 0, 1);
    }

    fn sum(&mut self, key: &[Value], v: i64) {
        self.add(key, 0, v);
    }

    fn min(&mut self, key: &[Value], v: i64) {
        extreme(self.slot(key), 0, 8, v, |new, old| new < old);
    }

    fn max(&mut self, key: &[Value], v: i64) {
        extreme(self.slot(key), 0, 8, v, |new, old| new > old);
    }

    fn avg(&mut self, key: &[Value], v: i64) {
        let slot = self.slot(key);
        bump(slot, 0, v);
        bump(slot, 8, 1);
    }

    fn stats(&mut self, key: &[Value], v: i64) {
        let slot = self.slot(key);
        bump(slot, 0, v);
        bump(slot, 8, 1);
        let set = read_u64(slot, 32).unwrap() != 0;
        if !set || v < read_i64(slot, 16).unwrap() {
            put(slot, 16, v);
        }
        if !set || v > read_i64(slot, 24).unwrap() {
            put(slot, 24, v);
        }
        put(slot, 32, 1);
    }

    fn hist(&mut self, key: &[Value], v: i64) {
        let bucket = match self.info.value {
            MapValue::Lhist { min, max, step } => linear_bucket(v, min, max, step),
            MapValue::Hist { k } => log2_bucket(v, k),
            _ => unreachable!("only histograms have buckets"),
        };
        let mut key = key.to_vec();
        key.push(uint(bucket));
        let slot = self.slot(&key);
        bump(slot, 0, 1);
        bump(slot, 8, v);
    }

    fn set(&mut self, key: &[Value], v: Value) {
        let MapValue::Plain(ty) = &self.info.value else {
            panic!("set on an aggregation")
        };
        let bytes = encode(ty, &v).unwrap();
        *self.slot(key) = bytes;
    }

    fn delete(&mut self, key: &[Value]) {
        let bytes = self.key_bytes(key);
        self.entries.remove(&bytes);
    }

    fn clear(&mut self) {
        self.entries.clear();
    }

    fn zero(&mut self) {
        self.zeroed = true;
        for slots in self.entries.values_mut() {
            for slot in slots {
                slot.fill(0);
            }
        }
    }

    fn data(&self) -> MapData {
        MapData::from_raw(&self.info, self.entries.clone()).unwrap()
    }
}

fn bump(slot: &mut [u8], offset: usize, delta: i64) {
    let v = read_i64(slot, offset).unwrap().wrapping_add(delta);
    put(slot, offset, v);
}

fn put(slot: &mut [u8], offset: usize, v: i64) {
    slot[offset..offset + 8].copy_from_slice(&v.to_le_bytes());
}

fn extreme(slot: &mut [u8], at: usize, set_at: usize, v: i64, better: fn(i64, i64) -> bool) {
    if read_u64(slot, set_at).unwrap() == 0 || better(v, read_i64(slot, at).unwrap()) {
        put(slot, at, v);
        put(slot, set_at, 1);
    }
}

/// Arguments as the runtime gets them: encoded after an 8-byte action index in a ring-buffer
/// record, then decoded by the action's argument types.
fn via_ring(args: &[(ValueType, Value)]) -> Vec<Value> {
    let types: Vec<ValueType> = args.iter().map(|(t, _)| t.clone()).collect();
    let values: Vec<Value> = args.iter().map(|(_, v)| v.clone()).collect();
    let ty = ValueType::Tuple(types);
    let mut record = 7u64.to_le_bytes().to_vec();
    record.extend(encode(&ty, &tuple(values)).unwrap());
    match decode(&ty, &record[8..]).unwrap() {
        Value::Tuple(v) => v,
        _ => unreachable!(),
    }
}

/// Integer literal arguments (bpftrace types them int64).
fn ints(values: &[i64]) -> Vec<Value> {
    via_ring(&values.iter().map(|v| (I64, int(*v))).collect::<Vec<_>>())
}

fn pf(out: &mut Vec<u8>, format: &str, args: &[Value]) {
    printf(out, format.as_bytes(), args, &NoSymbols, &[]).unwrap();
}

fn print_map(out: &mut Vec<u8>, map: &Sim, top: u64, div: u64) {
    print_map_text(out, &map.data(), top, div, &NoSymbols).unwrap();
}

fn exit(out: &mut Vec<u8>, maps: &[&Sim]) {
    let data: Vec<MapData> = maps.iter().map(|m| m.data()).collect();
    exit_text(out, &data, &NoSymbols).unwrap();
}

fn exit_j(out: &mut Vec<u8>, maps: &[&Sim]) {
    let data: Vec<MapData> = maps.iter().map(|m| m.data()).collect();
    exit_json(out, &data, &NoSymbols).unwrap();
}

/// The stdout bpftrace printed for `testdata/NAME.bt`, without the header line and without
/// 0.17's "Attaching N probes..." line, which the current release (and tracebound) print on
/// stderr as "Attached N probes" once attached.
macro_rules! golden {
    ($name:literal) => {
        expected($name, include_bytes!(concat!("testdata/", $name, ".txt")))
    };
}

fn expected(name: &str, file: &'static [u8]) -> &'static [u8] {
    let newline = file.iter().position(|&b| b == b'\n').unwrap();
    let header = String::from_utf8_lossy(&file[..newline]);
    assert!(
        header.starts_with("# bpftrace 0.17.0: bpftrace ")
            && header.ends_with(&format!("testdata/{name}.bt")),
        "{name}.txt must start with the command that made it, got {header:?}"
    );
    let output = &file[newline + 1..];
    let first = output.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
    let line = String::from_utf8_lossy(&output[..first]);
    match line.strip_prefix("Attaching ") {
        Some(rest) if rest.ends_with(" probe...\n") || rest.ends_with(" probes...\n") => {
            &output[first..]
        }
        _ => output,
    }
}

/// `check` against 0.17's text rewritten in the current release's forms
/// (`since_0_17::DIFFERENCES`) for the maps the script has.
fn check_current(ours: &[u8], bpftrace_0_17: &[u8], maps: &[&Sim]) {
    let forms: Vec<MapForm> = maps.iter().map(|m| m.form()).collect();
    let text = String::from_utf8(bpftrace_0_17.to_vec()).expect("captures are UTF-8");
    check(ours, current_from_0_17(&text, &forms).as_bytes());
}

fn check(ours: &[u8], bpftrace: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(bpftrace)
    );
    assert_eq!(ours, bpftrace);
}

#[test]
fn counts() {
    let mut c = Sim::new("c", &[], MapValue::Count);
    let mut k = Sim::new("k", &[I64], MapValue::Count);
    let mut sm = Sim::new("s", &[I64], MapValue::Sum { signed: true });
    let mut big = Sim::new("big", &[], MapValue::Sum { signed: true });
    let mut mn = Sim::new("mn", &[I64], MapValue::Min { signed: true });
    let mut mx = Sim::new("mx", &[I64], MapValue::Max { signed: true });
    let mut anon = Sim::new("", &[], MapValue::Count);
    let mut upper = Sim::new("Upper", &[], MapValue::Count);
    let mut a_b = Sim::new("a_b", &[], MapValue::Count);
    let mut ab = Sim::new("ab", &[], MapValue::Count);
    for _ in 0..3 {
        c.count(&[]);
    }
    for (key, times) in [(10, 1), (3, 4), (-2, 2), (256, 3)] {
        for _ in 0..times {
            k.count(&[int(key)]);
        }
    }
    for (key, v) in [(1, -10), (2, 25), (3, -30), (3, 1), (4, 0)] {
        sm.sum(&[int(key)], v);
    }
    big.sum(&[], -123456789012);
    big.sum(&[], -1);
    for (key, v) in [(1, 5), (1, -7), (2, 3), (3, 100)] {
        mn.min(&[int(key)], v);
    }
    for (key, v) in [(1, 5), (1, 50), (2, 7), (3, 0)] {
        mx.max(&[int(key)], v);
    }
    for m in [&mut anon, &mut upper, &mut a_b, &mut ab] {
        m.count(&[]);
    }
    let mut out = Vec::new();
    exit(
        &mut out,
        &[&c, &k, &sm, &big, &mn, &mx, &anon, &upper, &a_b, &ab],
    );
    check(&out, golden!("counts"));
}

#[test]
fn keys() {
    let mut st = Sim::new("str", &[STR], MapValue::Count);
    let mut t = Sim::new("t", &[I64, STR], MapValue::Plain(I64));
    let mut name = Sim::new("name", &[I64], MapValue::Plain(STR));
    let mut sk = Sim::new("sk", &[STR], MapValue::Plain(STR));
    let mut tk = Sim::new("tk", &[STR, I64], MapValue::Plain(STR));
    let tv_ty = ValueType::Tuple(vec![I64, STR, I64]);
    let mut tv = Sim::new("tv", &[I64], MapValue::Plain(tv_ty));
    let u8_ty = ValueType::Int {
        size: 1,
        signed: false,
    };
    let i8_ty = ValueType::Int {
        size: 1,
        signed: true,
    };
    let mut small = Sim::new("small", &[u8_ty, i8_ty], MapValue::Plain(I64));
    for (key, times) in [("beta", 2), ("alpha", 1), ("gamma", 3)] {
        for _ in 0..times {
            st.count(&[s(key)]);
        }
    }
    t.set(&[int(1), s("a")], int(5));
    t.set(&[int(2), s("b")], int(-3));
    t.set(&[int(1), s("b")], int(40));
    for (key, v) in [(1, "one"), (256, "two56"), (-1, "minus"), (2, "two")] {
        name.set(&[int(key)], s(v));
    }
    for (key, v) in [("b", "x"), ("ab", "y"), ("a", "z"), ("B", "w")] {
        sk.set(&[s(key)], s(v));
    }
    for (k1, k2, v) in [
        ("a", 256, "1"),
        ("a", 1, "2"),
        ("b", 0, "3"),
        ("a", -1, "4"),
    ] {
        tk.set(&[s(k1), int(k2)], s(v));
    }
    tv.set(&[int(1)], tuple(vec![int(1), s("x"), int(-2)]));
    tv.set(&[int(3)], tuple(vec![int(7), s("yy"), int(9)]));
    tv.set(&[int(2)], tuple(vec![int(0), s(""), int(0)]));
    small.set(&[uint(200), int(-3)], int(1));
    small.set(&[uint(7), int(5)], int(2));
    let mut out = Vec::new();
    exit(&mut out, &[&st, &t, &name, &sk, &tk, &tv, &small]);
    check(&out, golden!("keys"));
}

#[test]
fn hist() {
    let mut h = Sim::new("h", &[], MapValue::Hist { k: 0 });
    let mut n = Sim::new("n", &[], MapValue::Hist { k: 0 });
    let mut one = Sim::new("one", &[], MapValue::Hist { k: 0 });
    let mut gap = Sim::new("gap", &[], MapValue::Hist { k: 0 });
    for i in 0..100 {
        h.hist(&[], i);
    }
    for v in [-1, -100, 1] {
        n.hist(&[], v);
    }
    one.hist(&[], 5);
    for v in [0, 0, 0, 1000] {
        gap.hist(&[], v);
    }
    let mut out = Vec::new();
    exit(&mut out, &[&h, &n, &one, &gap]);
    check_current(&out, golden!("hist"), &[&h, &n, &one, &gap]);
}

#[test]
fn hist_units() {
    let mut h = Sim::new("h", &[], MapValue::Hist { k: 0 });
    let mut k = Sim::new("k", &[], MapValue::Hist { k: 0 });
    for v in [
        1000, 1023, 1024, 5000, 1048576, 3000000, 3000000, 1073741824, 2147483647,
    ] {
        h.hist(&[], v);
    }
    for v in [512, 1024, 1024, 2047, 2048] {
        k.hist(&[], v);
    }
    let mut out = Vec::new();
    exit(&mut out, &[&h, &k]);
    check_current(&out, golden!("hist_units"), &[&h, &k]);
}

#[test]
fn hist_keyed() {
    let mut h = Sim::new("h", &[I64], MapValue::Hist { k: 0 });
    let mut st = Sim::new("s", &[STR], MapValue::Hist { k: 0 });
    let mut t = Sim::new("t", &[I64, STR], MapValue::Hist { k: 0 });
    let lhist = MapValue::Lhist {
        min: 0,
        max: 100,
        step: 10,
    };
    let mut l = Sim::new("l", &[I64], lhist);
    for (key, v) in [
        (1, 1),
        (1, 2),
        (1, 4),
        (1, 8),
        (2, 1),
        (2, 1),
        (2, 1),
        (256, 100),
        (-1, 100),
        (3, 7),
    ] {
        h.hist(&[int(key)], v);
    }
    for key in ["b", "ab", "a", "a"] {
        st.hist(&[s(key)], 10);
    }
    for (k1, k2) in [(2, "x"), (1, "y"), (1, "x")] {
        t.hist(&[int(k1), s(k2)], 1);
    }
    l.hist(&[int(5)], 15);
    l.hist(&[int(5)], 25);
    l.hist(&[int(6)], 200);
    let mut out = Vec::new();
    exit(&mut out, &[&h, &st, &t, &l]);
    check_current(&out, golden!("hist_keyed"), &[&h, &st, &t, &l]);
}

#[test]
fn lhist() {
    let lh = |min, max, step| MapValue::Lhist { min, max, step };
    let mut l = Sim::new("l", &[], lh(0, 100, 10));
    let mut m = Sim::new("m", &[], lh(0, 100, 10));
    let mut k = Sim::new("k", &[], lh(1024, 4096, 512));
    let mut w = Sim::new("w", &[], lh(0, 2000000, 100000));
    let mut r = Sim::new("r", &[], lh(0, 10, 3));
    let mut mb = Sim::new("mb", &[], lh(0, 4194304, 1048576));
    for i in (-5..130).step_by(7) {
        l.hist(&[], i);
    }
    for v in [55, 15] {
        m.hist(&[], v);
    }
    for v in [1024, 1536, 9999, 5] {
        k.hist(&[], v);
    }
    for v in [999999, 3145728] {
        w.hist(&[], v);
    }
    for v in [5, 9, 10, 12] {
        r.hist(&[], v);
    }
    for v in [0, 9999999] {
        mb.hist(&[], v);
    }
    let mut out = Vec::new();
    exit(&mut out, &[&l, &m, &k, &w, &r, &mb]);
    check_current(&out, golden!("lhist"), &[&l, &m, &k, &w, &r, &mb]);
}

#[test]
fn stats_avg() {
    let mut st = Sim::new("s", &[], MapValue::Stats { signed: true });
    let mut sk = Sim::new("sk", &[I64], MapValue::Stats { signed: true });
    let mut a = Sim::new("a", &[], MapValue::Avg { signed: true });
    let mut ak = Sim::new("ak", &[I64], MapValue::Avg { signed: true });
    st.stats(&[], 5);
    st.stats(&[], 10);
    for (key, v) in [
        (1, 100),
        (2, 1),
        (2, 1),
        (2, 200),
        (3, -50),
        (3, -60),
        (3, -60),
        (3, -60),
        (4, 1000000),
    ] {
        sk.stats(&[int(key)], v);
    }
    a.avg(&[], 7);
    a.avg(&[], 8);
    for (key, v) in [
        (1, 100),
        (2, 1),
        (2, 1),
        (2, 2),
        (3, 50),
        (3, 60),
        (4, -7),
        (4, -8),
    ] {
        ak.avg(&[int(key)], v);
    }
    let mut out = Vec::new();
    exit(&mut out, &[&st, &sk, &a, &ak]);
    check_current(&out, golden!("stats_avg"), &[&st, &sk, &a, &ak]);
}

#[test]
fn print_maps() {
    let mut c = Sim::new("c", &[I64], MapValue::Count);
    let mut h = Sim::new("h", &[], MapValue::Hist { k: 0 });
    let mut k = Sim::new("k", &[I64], MapValue::Hist { k: 0 });
    let mut st = Sim::new("s", &[I64], MapValue::Stats { signed: true });
    let mut a = Sim::new("a", &[I64], MapValue::Avg { signed: true });
    let mut n = Sim::new("n", &[I64], MapValue::Sum { signed: true });
    let mut out = Vec::new();
    for (key, times) in [(1, 1), (2, 2), (3, 5)] {
        for _ in 0..times {
            c.count(&[int(key)]);
        }
    }
    print_map(&mut out, &c, 0, 0);
    pf(&mut out, "--\n", &[]);
    print_map(&mut out, &c, 2, 0);
    pf(&mut out, "--\n", &[]);
    print_map(&mut out, &c, 0, 2);
    pf(&mut out, "--\n", &[]);
    print_map(&mut out, &c, 1, 3);
    pf(&mut out, "--\n", &[]);
    for v in [10, 20, 20, 20, 100] {
        h.hist(&[], v);
    }
    print_map(&mut out, &h, 0, 2);
    for (key, v) in [(1, 1), (2, 1), (2, 2), (3, 1), (3, 1), (3, 1)] {
        k.hist(&[int(key)], v);
    }
    print_map(&mut out, &k, 2, 0);
    pf(&mut out, "--\n", &[]);
    for (key, v) in [(1, 10), (2, 20), (3, 30), (4, 1), (4, 1), (4, 1), (4, 1)] {
        st.stats(&[int(key)], v);
    }
    print_map(&mut out, &st, 1, 10);
    pf(&mut out, "--\n", &[]);
    for (key, v) in [(1, 10), (2, 20), (3, 5)] {
        a.avg(&[int(key)], v);
    }
    print_map(&mut out, &a, 2, 3);
    pf(&mut out, "--\n", &[]);
    n.sum(&[int(1)], -5);
    n.sum(&[int(2)], 7);
    print_map(&mut out, &n, 0, 2);
    for m in [&mut c, &mut h, &mut k, &mut st, &mut a] {
        m.clear();
    }
    exit(&mut out, &[&c, &h, &k, &st, &a, &n]);
    check_current(&out, golden!("print_maps"), &[&c, &h, &k, &st, &a, &n]);
}

#[test]
fn print_values() {
    let mut out = Vec::new();
    let u32_ty = ValueType::Int {
        size: 4,
        signed: false,
    };
    let i8_ty = ValueType::Int {
        size: 1,
        signed: true,
    };
    let nested = ValueType::Tuple(vec![ValueType::Tuple(vec![I64, I64]), STR]);
    let values = via_ring(&[
        (I64, int(5)),
        (I64, int(-3)),
        (STR, s("abc")),
        (
            ValueType::Tuple(vec![I64, STR, I64]),
            tuple(vec![int(1), s("a"), int(-2)]),
        ),
        (nested, tuple(vec![tuple(vec![int(1), int(2)]), s("z")])),
        (u32_ty, uint(7)),
        (U64, uint(u64::MAX)),
        (i8_ty, int(-128)),
    ]);
    for v in &values {
        print_value_text(&mut out, v, &NoSymbols);
    }
    let mut m = Sim::new("m", &[], MapValue::Plain(I64));
    let mut n = Sim::new("n", &[I64, STR], MapValue::Plain(I64));
    let pair = ValueType::Tuple(vec![I64, STR]);
    let mut o = Sim::new("o", &[STR], MapValue::Plain(pair));
    m.set(&[], int(3));
    print_map(&mut out, &m, 0, 0);
    n.set(&[int(1), s("a")], int(4));
    print_map(&mut out, &n, 0, 0);
    o.set(&[s("k")], tuple(vec![int(1), s("v")]));
    print_map(&mut out, &o, 0, 0);
    exit(&mut out, &[&m, &n, &o]);
    check(&out, golden!("print_values"));
}

#[test]
fn plain_values() {
    let ity = |size, signed| ValueType::Int { size, signed };
    let mut maps = Vec::new();
    for (name, ty, v) in [
        ("u64", ity(8, false), uint(u64::MAX)),
        ("u32", ity(4, false), uint(u32::MAX as u64)),
        ("i32", ity(4, true), int(-1)),
        ("u8", ity(1, false), uint(255)),
        ("i16", ity(2, true), int(-300)),
        ("min", I64, int(-9223372036854775807)),
    ] {
        let mut m = Sim::new(name, &[], MapValue::Plain(ty));
        m.set(&[], v);
        maps.push(m);
    }
    let mut p = Sim::new("p", &[I64], MapValue::Plain(I64));
    for (key, v) in [(1, -5), (2, 3), (3, -100), (4, 1000)] {
        p.set(&[int(key)], int(v));
    }
    let mut u = Sim::new("u", &[I64], MapValue::Plain(ity(1, false)));
    u.set(&[int(1)], uint(200));
    u.set(&[int(2)], uint(7));
    let mut v = Sim::new("v", &[I64], MapValue::Plain(ity(1, true)));
    v.set(&[int(1)], int(-1));
    v.set(&[int(2)], int(5));
    let mut q = Sim::new("q", &[STR], MapValue::Plain(STR));
    for (key, val) in [("a", "zeta"), ("b", "alpha"), ("c", "mid")] {
        q.set(&[s(key)], s(val));
    }
    let tu_ty = ValueType::Tuple(vec![I64, ValueType::Tuple(vec![I64, STR]), STR]);
    let mut tu = Sim::new("tu", &[], MapValue::Plain(tu_ty));
    tu.set(
        &[],
        tuple(vec![int(1), tuple(vec![int(2), s("x")]), s("y")]),
    );
    let mut uu = Sim::new("uu", &[I64], MapValue::Plain(U64));
    for (key, val) in [(1, u64::MAX), (2, 5), (3, 1 << 63)] {
        uu.set(&[int(key)], uint(val));
    }
    let mut k8 = Sim::new("k8", &[ity(1, false)], MapValue::Plain(STR));
    k8.set(&[uint(200)], s("a"));
    k8.set(&[uint(7)], s("b"));
    let mut j8 = Sim::new("j8", &[ity(1, true)], MapValue::Plain(STR));
    j8.set(&[int(-1)], s("x"));
    j8.set(&[int(5)], s("y"));
    maps.extend([p, u, v, q, tu, uu, k8, j8]);
    let mut out = Vec::new();
    exit(&mut out, &maps.iter().collect::<Vec<_>>());
    check(&out, golden!("plain_values"));
}

#[test]
fn empty() {
    let lh = MapValue::Lhist {
        min: 0,
        max: 10,
        step: 1,
    };
    let mut b = Sim::new("b", &[I64], MapValue::Count);
    let mut c = Sim::new("c", &[I64], MapValue::Hist { k: 0 });
    let mut d = Sim::new("d", &[I64], MapValue::Stats { signed: true });
    let mut e = Sim::new("e", &[], MapValue::Plain(I64));
    let mut f = Sim::new("f", &[I64], MapValue::Avg { signed: true });
    let mut g = Sim::new("g", &[I64], lh.clone());
    let mut zh = Sim::new("zh", &[], MapValue::Hist { k: 0 });
    let mut zl = Sim::new("zl", &[], lh);
    let mut zs = Sim::new("zs", &[], MapValue::Stats { signed: true });
    let mut za = Sim::new("za", &[I64], MapValue::Avg { signed: true });
    let mut zc = Sim::new("zc", &[I64], MapValue::Count);
    let mut kc = Sim::new("kc", &[], MapValue::Count);
    let mut ks = Sim::new("ks", &[], MapValue::Sum { signed: true });
    let mut km = Sim::new("km", &[], MapValue::Max { signed: true });
    b.count(&[int(1)]);
    b.delete(&[int(1)]);
    c.hist(&[int(1)], 1);
    c.clear();
    d.stats(&[int(1)], 1);
    d.clear();
    e.set(&[], int(1));
    f.avg(&[int(1)], 1);
    f.clear();
    g.hist(&[int(1)], 1);
    g.clear();
    zh.hist(&[], 1);
    zh.zero();
    zl.hist(&[], 1);
    zl.zero();
    zs.stats(&[], 1);
    zs.zero();
    za.avg(&[int(1)], 1);
    za.zero();
    zc.count(&[int(1)]);
    zc.zero();
    kc.count(&[]);
    kc.clear();
    ks.sum(&[], 1);
    ks.clear();
    km.max(&[], 1);
    km.clear();
    let mut out = Vec::new();
    exit(
        &mut out,
        &[
            &b, &c, &d, &e, &f, &g, &zh, &zl, &zs, &za, &zc, &kc, &ks, &km,
        ],
    );
    check_current(
        &out,
        golden!("empty"),
        &[
            &b, &c, &d, &e, &f, &g, &zh, &zl, &zs, &za, &zc, &kc, &ks, &km,
        ],
    );
}

#[test]
fn printf_ints() {
    let ity = |size, signed| ValueType::Int { size, signed };
    let mut out = Vec::new();
    pf(
        &mut out,
        "[%d][%u][%x][%X][%o]\n",
        &ints(&[-5, -5, 255, 255, 8]),
    );
    pf(
        &mut out,
        "[%5d][%-5d][%05d][%.3d][%8.3d][%-8.3d][%-05d]\n",
        &ints(&[42; 7]),
    );
    pf(&mut out, "[%x][%X][%u][%o][%d]\n", &ints(&[-1; 5]));
    pf(
        &mut out,
        "[%ld][%lu][%lld][%llu][%lx][%llx]\n",
        &ints(&[-1; 6]),
    );
    pf(
        &mut out,
        "[%hd][%hhd][%hu][%hhu][%hhx][%hX]\n",
        &ints(&[70000, 300, 70000, 300, 300, 70000]),
    );
    pf(
        &mut out,
        "[%jd][%zu][%td][%zx][%lo]\n",
        &ints(&[-7, -7, -7, 4096, 4096]),
    );
    let casts = via_ring(&[
        (ity(1, true), int(-1)),
        (ity(4, false), uint(u32::MAX as u64)),
        (ity(4, true), int(-1)),
        (ity(1, false), uint(255)),
        (ity(2, true), int(-2)),
    ]);
    pf(&mut out, "[%lu][%ld][%lu][%ld][%lx]\n", &casts);
    pf(&mut out, "[%d][%u][%ld][%lu]\n", &ints(&[4294967297; 4]));
    pf(
        &mut out,
        "[%.0d][%5.0d][%.0x][%.3d][%.3d][%08.3d][%-08d][%00d]\n",
        &ints(&[0, 0, 0, -5, 5, 5, -5, 7]),
    );
    let wide = via_ring(&[
        (I64, int(65)),
        (U64, uint(u64::MAX)),
        (I64, int(-9223372036854775807)),
        (I64, int(255)),
    ]);
    pf(&mut out, "[%020d][%-20lu][%.20ld][%20.15lx]\n", &wide);
    pf(&mut out, "[%d][%ld]\n", &ints(&[i64::MIN, i64::MIN]));
    exit(&mut out, &[]);
    check(&out, golden!("printf_ints"));
}

#[test]
fn printf_misc() {
    let strs = |v: &[&str]| via_ring(&v.iter().map(|t| (STR, s(t))).collect::<Vec<_>>());
    let mut out = Vec::new();
    pf(
        &mut out,
        "[%s][%5s][%-5s][%.2s][%5.1s][%s][%05s]\n",
        &strs(&["str", "ab", "ab", "abc", "xyz", "", "ab"]),
    );
    pf(
        &mut out,
        "[%c][%5c][%-3c][%c%c][%c]\n",
        &ints(&[65, 65, 65, 104, 105, 321]),
    );
    pf(
        &mut out,
        "[%p][%8p][%-8p|][%08p][%-20p|][%.3p][%lp]\n",
        &ints(&[0, 0, 0, 65, 65, 65, 4096]),
    );
    pf(&mut out, "a%%b %d\n", &ints(&[1]));
    pf(&mut out, "[%d|%%|%d]%%\n", &ints(&[1, 2]));
    pf(&mut out, "%%d\n", &ints(&[5]));
    pf(&mut out, "%%%d%%\n", &ints(&[5]));
    pf(&mut out, "[%e][%q][%5][%-][%]\n", &[]);
    pf(&mut out, "no newline", &[]);
    pf(&mut out, "|tab\there|\n", &[]);
    let mixed = via_ring(&[(STR, s("x")), (I64, int(1)), (STR, s("y")), (I64, int(-2))]);
    pf(&mut out, "%s=%d, %s=%d\n", &mixed);
    exit(&mut out, &[]);
    check(&out, golden!("printf_misc"));
}

#[test]
fn json_maps() {
    let lh = |min, max, step| MapValue::Lhist { min, max, step };
    let mut c = Sim::new("c", &[], MapValue::Count);
    let mut k = Sim::new("k", &[I64], MapValue::Count);
    let mut t = Sim::new("t", &[I64, STR], MapValue::Plain(I64));
    let mut st = Sim::new("s", &[STR], MapValue::Plain(STR));
    let mut h = Sim::new("h", &[], MapValue::Hist { k: 0 });
    let mut hk = Sim::new("hk", &[I64], MapValue::Hist { k: 0 });
    let mut h01 = Sim::new("h01", &[], MapValue::Hist { k: 0 });
    let mut l = Sim::new("l", &[], lh(0, 100, 10));
    let mut lu = Sim::new("lu", &[], lh(10, 30, 10));
    let mut stt = Sim::new("st", &[], MapValue::Stats { signed: true });
    let mut sk = Sim::new("sk", &[I64], MapValue::Stats { signed: true });
    let mut a = Sim::new("a", &[], MapValue::Avg { signed: true });
    let mut ak = Sim::new("ak", &[I64], MapValue::Avg { signed: true });
    let mut mn = Sim::new("mn", &[], MapValue::Min { signed: true });
    let i8_ty = ValueType::Int {
        size: 1,
        signed: true,
    };
    let tu_ty = ValueType::Tuple(vec![I64, ValueType::Tuple(vec![I64, STR]), U64, I64]);
    let mut tu = Sim::new("tu", &[], MapValue::Plain(tu_ty));
    let mut u = Sim::new("u", &[U64, STR, i8_ty], MapValue::Plain(U64));
    let mut e = Sim::new("e", &[I64], MapValue::Count);
    let mut z = Sim::new("z", &[], MapValue::Hist { k: 0 });
    c.count(&[]);
    k.count(&[int(1)]);
    k.count(&[int(2)]);
    k.count(&[int(2)]);
    t.set(&[int(1), s("a")], int(3));
    st.set(&[s("x")], s("str\"q\\\n\t/"));
    h.hist(&[], 5);
    h.hist(&[], 100);
    hk.hist(&[int(1)], 3);
    hk.hist(&[int(2)], -1);
    hk.hist(&[int(2)], 0);
    for v in [0, 1, 2, -5, 1024] {
        h01.hist(&[], v);
    }
    l.hist(&[], 15);
    l.hist(&[], 150);
    lu.hist(&[], 3);
    lu.hist(&[], 35);
    stt.stats(&[], 5);
    sk.stats(&[int(1)], 7);
    sk.stats(&[int(2)], -9);
    sk.stats(&[int(2)], -4);
    a.avg(&[], 3);
    ak.avg(&[int(2)], 8);
    ak.avg(&[int(1)], -8);
    mn.min(&[], 3);
    tu.set(
        &[],
        tuple(vec![
            int(1),
            tuple(vec![int(2), s("x")]),
            uint(u64::MAX),
            int(-4),
        ]),
    );
    u.set(&[uint(1), s("b"), int(-3)], uint(u64::MAX));
    e.count(&[int(1)]);
    e.delete(&[int(1)]);
    z.hist(&[], 1);
    z.zero();
    let mut out = Vec::new();
    attached_json(&mut out, 1);
    exit_j(
        &mut out,
        &[
            &c, &k, &t, &st, &h, &hk, &h01, &l, &lu, &stt, &sk, &a, &ak, &mn, &tu, &u, &e, &z,
        ],
    );
    check(
        &out,
        current_json_from_0_17(&String::from_utf8_lossy(golden!("json_maps"))).as_bytes(),
    );
}

#[test]
fn json_misc() {
    let mut out = Vec::new();
    attached_json(&mut out, 1);
    let pj = |out: &mut Vec<u8>, format: &[u8], args: &[Value]| {
        let mut text = Vec::new();
        printf(&mut text, format, args, &NoSymbols, &[]).unwrap();
        printf_json(out, &text);
    };
    pj(&mut out, b"hi %d\n", &ints(&[5]));
    pj(&mut out, b"raw\n", &[]);
    pj(&mut out, b"a\"b\\c\td\x01e\x7ff/g\rh\n", &[]);
    pj(
        &mut out,
        b"%s|\n",
        &via_ring(&[(STR, Value::Str(b"x\xc3\xa9y".to_vec()))]),
    );
    let u8_ty = ValueType::Int {
        size: 1,
        signed: false,
    };
    for v in via_ring(&[
        (I64, int(5)),
        (STR, s("s")),
        (
            ValueType::Tuple(vec![I64, STR]),
            tuple(vec![int(1), s("b")]),
        ),
        (u8_ty, uint(200)),
    ]) {
        print_value_json(&mut out, &v, &NoSymbols);
    }
    let mut c = Sim::new("c", &[I64], MapValue::Count);
    for (key, times) in [(1, 1), (2, 2), (3, 3)] {
        for _ in 0..times {
            c.count(&[int(key)]);
        }
    }
    map_json(&mut out, &c.data(), 2, 2, &NoSymbols).unwrap();
    let mut st = Sim::new("s", &[I64], MapValue::Stats { signed: true });
    for (key, v) in [(1, 10), (2, 20), (3, 30)] {
        st.stats(&[int(key)], v);
    }
    map_json(&mut out, &st.data(), 1, 10, &NoSymbols).unwrap();
    let mut a = Sim::new("a", &[I64], MapValue::Avg { signed: true });
    a.avg(&[int(1)], 10);
    a.avg(&[int(2)], 20);
    map_json(&mut out, &a.data(), 1, 10, &NoSymbols).unwrap();
    let mut h = Sim::new("h", &[I64], MapValue::Hist { k: 0 });
    for (key, v) in [(1, 1), (2, 1), (2, 2)] {
        h.hist(&[int(key)], v);
    }
    map_json(&mut out, &h.data(), 1, 2, &NoSymbols).unwrap();
    let mut e = Sim::new("e", &[I64], MapValue::Count);
    e.count(&[int(1)]);
    e.clear();
    map_json(&mut out, &e.data(), 0, 0, &NoSymbols).unwrap();
    st.clear();
    a.clear();
    h.clear();
    exit_j(&mut out, &[&c, &st, &a, &h, &e]);
    check(
        &out,
        current_json_from_0_17(&String::from_utf8_lossy(golden!("json_misc"))).as_bytes(),
    );
}

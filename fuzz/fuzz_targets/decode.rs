//! The user-space decoders of kernel bytes: ring-buffer record payloads and map entries, for
//! arbitrary layouts and arbitrary bytes. Malformed bytes must give an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracebound_compiler::program::{
    EnumNames, MapInfo, MapValue, Names, StackMode, StructField, StructLayout, ValueType,
};
use tracebound_runtime::output::{self, MapData, NoSymbols};

/// A value type from a few bytes of input.
fn value_type(bytes: &mut impl Iterator<Item = u8>, depth: u32) -> ValueType {
    match bytes.next().unwrap_or(0) % 14 {
        0 => ValueType::Int {
            size: [1, 2, 4, 8][bytes.next().unwrap_or(0) as usize % 4],
            signed: bytes.next().unwrap_or(0) & 1 == 1,
        },
        1 => ValueType::Str {
            len: u32::from(bytes.next().unwrap_or(0)),
            // A string `str()` read carries the flag byte that says it was cut.
            cut_trailer: (bytes.next().unwrap_or(0) & 1 == 1).then(|| "..".to_string()),
        },
        2 if depth < 3 => {
            let n = bytes.next().unwrap_or(0) % 4;
            ValueType::Tuple((0..n).map(|_| value_type(bytes, depth + 1)).collect())
        }
        3 => ValueType::Bool,
        4 => ValueType::Inet,
        5 => ValueType::MacAddr,
        6 => ValueType::Buf {
            len: u32::from(bytes.next().unwrap_or(0)),
        },
        7 => ValueType::Timestamp {
            format: "%H:%M:%S.%f %%f".into(),
        },
        8 => ValueType::Stack {
            user: bytes.next().unwrap_or(0) & 1 == 1,
            mode: [StackMode::Bpftrace, StackMode::Perf, StackMode::Raw]
                [bytes.next().unwrap_or(0) as usize % 3],
            limit: u32::from(bytes.next().unwrap_or(0)),
        },
        9 => ValueType::Sym {
            user: bytes.next().unwrap_or(0) & 1 == 1,
        },
        10 => ValueType::Named(
            [Names::Errno, Names::Syscall, Names::Signal, Names::User]
                [bytes.next().unwrap_or(0) as usize % 4],
        ),
        11 => ValueType::Enum(EnumNames {
            name: "e".into(),
            size: [1, 2, 4, 8][bytes.next().unwrap_or(0) as usize % 4],
            signed: bytes.next().unwrap_or(0) & 1 == 1,
            values: vec![("A".into(), 0), ("B".into(), -1)],
        }),
        // Any layout, well formed or not: fields past the end, bitfields of any shape.
        12 if depth < 3 => {
            let size = u32::from(bytes.next().unwrap_or(0) % 64);
            let n = bytes.next().unwrap_or(0) % 4;
            let fields = (0..n)
                .map(|i| StructField {
                    name: format!("f{i}"),
                    offset: u32::from(bytes.next().unwrap_or(0) % 72),
                    bitfield: match bytes.next().unwrap_or(0) {
                        b if b & 1 == 1 => Some((u32::from(b >> 1) % 8, u32::from(b >> 4) * 5)),
                        _ => None,
                    },
                    ty: value_type(bytes, depth + 1),
                })
                .collect();
            ValueType::Struct(StructLayout {
                size,
                align: 1,
                fields,
            })
        }
        _ => ValueType::Int {
            size: 8,
            signed: false,
        },
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (shape, payload) = data.split_at(data.len().min(16));
    let mut shape_bytes = shape.iter().copied();
    let ty = value_type(&mut shape_bytes, 0);
    if let Ok(value) = output::value::decode(&ty, payload) {
        let mut out = Vec::new();
        output::text::print_value_text(&mut out, &value, &NoSymbols);
        let _ = output::printf::printf(
            &mut out,
            b"%d %s %x %c\n",
            &[value.clone(), value.clone(), value.clone(), value],
            &NoSymbols,
            &[],
        );
    }
    let kinds = [
        MapValue::Count,
        MapValue::Sum { signed: true },
        MapValue::Min { signed: true },
        MapValue::Avg { signed: true },
        MapValue::Stats { signed: true },
        MapValue::Sum { signed: false },
        MapValue::Max { signed: false },
        MapValue::Stats { signed: false },
        MapValue::Hist { k: 0 },
        MapValue::Hist { k: 3 },
        MapValue::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
        MapValue::Plain(ty.clone()),
    ];
    let kind = kinds[shape[0] as usize % kinds.len()].clone();
    let mut key = vec![ty];
    if matches!(kind, MapValue::Hist { .. } | MapValue::Lhist { .. }) {
        key.push(ValueType::Int {
            size: 8,
            signed: false,
        });
    }
    let info = MapInfo {
        name: "m".into(),
        bpf_name: "tb_m0".into(),
        key,
        value: kind,
        sampled: 1,
        declared_size: None,
        // Only user-space reads of the kernel's bytes tell absent from zero; decoding does not.
        zero_is_unset: false,
        failed_stack_index: None,
    };
    let entries: Vec<(Vec<u8>, Vec<Vec<u8>>)> = payload
        .chunks(24)
        .map(|c| {
            (
                c[..c.len().min(12)].to_vec(),
                vec![c.to_vec(), c.iter().rev().copied().collect()],
            )
        })
        .collect();
    if let Ok(map) = MapData::from_raw(&info, entries) {
        let mut out = Vec::new();
        let _ = output::text::map_text(&mut out, &map, 0, 0, &NoSymbols);
        let _ = output::json::map_json(&mut out, &map, 0, 0, &NoSymbols);
    }
});

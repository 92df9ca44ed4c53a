//! The little BTF an object with callbacks must carry. The verifier accepts a callback
//! (`bpf_for_each_map_elem`) only when the program's `func_info` names a BTF function for
//! every subprogram, the callback's with static linkage; nothing else needs types. So `.BTF`
//! holds `long`, `void *`, two prototypes and one FUNC per program and callback, and `.BTF.ext`
//! the `func_info` records that place them (offsets in bytes within their ELF section, as
//! `Documentation/bpf/btf.rst` specifies for objects; the loader converts them).

use super::elf::StringTable;

const MAGIC: u16 = 0xeb9f;
const VERSION: u8 = 1;
const HEADER_LEN: u32 = 24;
/// `.BTF.ext` header: magic, version, flags, hdr_len, then func_info and line_info
/// offset/length pairs.
const EXT_HEADER_LEN: u32 = 24;
const FUNC_INFO_REC_SIZE: u32 = 8;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const INT_SIGNED: u32 = 1;
const LINKAGE_STATIC: u32 = 0;
const LINKAGE_GLOBAL: u32 = 1;

const LONG: u32 = 1;
const VOID_PTR: u32 = 2;
/// `long (void *ctx)`: a program.
const PROGRAM_PROTO: u32 = 3;
/// `long (void *map, void *key, void *value, void *ctx)`: a map-iteration callback.
const CALLBACK_PROTO: u32 = 4;
const FIRST_FUNC: u32 = 5;

/// A function to describe: its symbol name, its ELF section and its byte offset there.
pub struct FuncPlace<'a> {
    pub name: &'a str,
    pub section: &'a str,
    pub offset: u64,
    /// A program (global, `long (void *)`) or a callback (static, four pointer arguments).
    pub is_program: bool,
}

/// `.BTF` and `.BTF.ext` for these functions.
pub fn sections(funcs: &[FuncPlace]) -> (Vec<u8>, Vec<u8>) {
    let mut strings = StringTable::new();
    let mut types = Vec::new();
    let mut put = |words: &[u32]| types.extend(words.iter().flat_map(|w| w.to_le_bytes()));

    put(&[
        strings.add("long"),
        KIND_INT << 24,
        8,
        (INT_SIGNED << 24) | 64,
    ]);
    put(&[0, KIND_PTR << 24, 0]);
    let ctx = strings.add("ctx");
    put(&[0, (KIND_FUNC_PROTO << 24) | 1, LONG, ctx, VOID_PTR]);
    put(&[0, (KIND_FUNC_PROTO << 24) | 4, LONG]);
    for name in ["map", "key", "value", "ctx"] {
        put(&[strings.add(name), VOID_PTR]);
    }
    for f in funcs {
        let (linkage, proto) = if f.is_program {
            (LINKAGE_GLOBAL, PROGRAM_PROTO)
        } else {
            (LINKAGE_STATIC, CALLBACK_PROTO)
        };
        put(&[strings.add(f.name), (KIND_FUNC << 24) | linkage, proto]);
    }

    // func_info, grouped by section in first-seen order.
    let mut by_section: Vec<(&str, Vec<(u64, u32)>)> = Vec::new();
    for (i, f) in funcs.iter().enumerate() {
        let record = (f.offset, FIRST_FUNC + i as u32);
        match by_section.iter_mut().find(|(s, _)| *s == f.section) {
            Some((_, records)) => records.push(record),
            None => by_section.push((f.section, vec![record])),
        }
    }
    let mut func_info = FUNC_INFO_REC_SIZE.to_le_bytes().to_vec();
    for (section, records) in &by_section {
        func_info.extend(strings.add(section).to_le_bytes());
        func_info.extend((records.len() as u32).to_le_bytes());
        for &(offset, type_id) in records {
            func_info.extend((offset as u32).to_le_bytes());
            func_info.extend(type_id.to_le_bytes());
        }
    }

    let strings = strings.into_bytes();
    let mut btf = header(MAGIC, HEADER_LEN);
    for word in [
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        btf.extend(word.to_le_bytes());
    }
    btf.extend(types);
    btf.extend(strings);

    let mut ext = header(MAGIC, EXT_HEADER_LEN);
    // func_info right after the header; no line_info.
    for word in [0, func_info.len() as u32, func_info.len() as u32, 0] {
        ext.extend(word.to_le_bytes());
    }
    ext.extend(func_info);
    (btf, ext)
}

fn header(magic: u16, len: u32) -> Vec<u8> {
    let mut out = magic.to_le_bytes().to_vec();
    out.extend([VERSION, 0]);
    out.extend(len.to_le_bytes());
    out
}

//! A reader of BTF, the kernel's own description of its types (/sys/kernel/btf/vmlinux).
//! It indexes the type section once (where each record starts, and the names of the kinds a
//! script names: structs, unions, enums, typedefs, functions, enumerators) and decodes a type
//! only when asked, into the compiler's `KType` with modifiers and typedefs looked through.
//!
//! Layout (the kernel's include/uapi/linux/btf.h): a header (magic 0xeb9f, version, flags,
//! header length, then offset and length of the type and string sections, relative to the
//! header's end); type records of 12 bytes (name offset, info = kind << 24 | kind_flag << 31 |
//! vlen, size or type) each followed by kind-specific data; NUL-terminated strings.

use std::collections::HashMap;

use tracebound_compiler::types::{
    Enum, FuncProto, KType, Member, NameSpace, Param, Record, TypeId,
};

const MAGIC: u16 = 0xeb9f;

mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// Why a blob is not BTF we can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("no BTF magic")]
    BadMagic,
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("type {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
    #[error("type {0} does not exist")]
    NoSuchType(u32),
    #[error("a chain of typedefs and modifiers loops at type {0}")]
    Loop(u32),
}

/// One parsed BTF blob: the bytes, where each type's record starts, and names.
pub struct Btf {
    types: Vec<u8>,
    strings: Vec<u8>,
    /// `offsets[id - 1]` is where type `id`'s record starts in `types`.
    offsets: Vec<u32>,
    names: HashMap<(NameSpace, String), u32>,
    functions: HashMap<String, u32>,
    enumerators: HashMap<String, i64>,
    /// Every VAR's id by name, and the ids the per-CPU section (`.data..percpu`) lists.
    variables: HashMap<String, u32>,
    percpu: HashMap<u32, u32>,
}

/// The fixed part of a type record.
#[derive(Clone, Copy)]
struct Header {
    name_off: u32,
    kind: u32,
    kind_flag: bool,
    vlen: usize,
    size_or_type: u32,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The section of the kernel's per-CPU variables.
const PERCPU_SECTION: &str = ".data..percpu";

impl Btf {
    /// Parses a blob; the kernel writes it in the machine's byte order (little-endian here).
    pub fn parse(blob: &[u8]) -> Result<Btf, BtfError> {
        if blob.get(..2) != Some(&MAGIC.to_le_bytes()) {
            return Err(BtfError::BadMagic);
        }
        let word = |at| u32_at(blob, at).ok_or(BtfError::Truncated("header"));
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (word(4)?, word(8)?, word(12)?, word(16)?, word(20)?);
        let section = |off: u32, len: u32, what| {
            let start = hdr_len as usize + off as usize;
            blob.get(start..start + len as usize)
                .ok_or(BtfError::Truncated(what))
        };
        let types = section(type_off, type_len, "type section")?.to_vec();
        let strings = section(str_off, str_len, "string section")?.to_vec();
        let mut btf = Btf {
            types,
            strings,
            offsets: Vec::new(),
            names: HashMap::new(),
            functions: HashMap::new(),
            enumerators: HashMap::new(),
            variables: HashMap::new(),
            percpu: Default::default(),
        };
        btf.index()?;
        Ok(btf)
    }

    /// Walks every record once: its start, and the names scripts look types up by.
    fn index(&mut self) -> Result<(), BtfError> {
        let mut at = 0usize;
        let mut id = 1u32;
        while at < self.types.len() {
            let h = self.header_at(at)?;
            let extra = match h.kind {
                kind::INT | kind::VAR | kind::DECL_TAG => 4,
                kind::ARRAY => 12,
                kind::STRUCT | kind::UNION => 12 * h.vlen,
                kind::ENUM => 8 * h.vlen,
                kind::ENUM64 => 12 * h.vlen,
                kind::FUNC_PROTO => 8 * h.vlen,
                kind::DATASEC => 12 * h.vlen,
                kind::PTR
                | kind::FWD
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::FLOAT
                | kind::TYPE_TAG => 0,
                other => return Err(BtfError::UnknownKind { id, kind: other }),
            };
            let name = self.string(h.name_off).to_string();
            let space = match h.kind {
                kind::STRUCT => Some(NameSpace::Struct),
                kind::UNION => Some(NameSpace::Union),
                kind::ENUM | kind::ENUM64 => Some(NameSpace::Enum),
                kind::TYPEDEF => Some(NameSpace::Typedef),
                _ => None,
            };
            if let (Some(space), false) = (space, name.is_empty()) {
                // The first definition wins, as a C compiler would see one of them.
                self.names.entry((space, name.clone())).or_insert(id);
            }
            if h.kind == kind::FUNC && !name.is_empty() {
                self.functions.entry(name.clone()).or_insert(id);
            }
            if h.kind == kind::VAR && !name.is_empty() {
                self.variables.entry(name.clone()).or_insert(id);
            }
            if h.kind == kind::DATASEC && name == PERCPU_SECTION {
                for i in 0..h.vlen {
                    self.percpu
                        .insert(self.extra(at, 3 * i), self.extra(at, 3 * i + 1));
                }
            }
            if matches!(h.kind, kind::ENUM | kind::ENUM64) {
                for (n, v) in self.enum_values(at, h) {
                    self.enumerators.entry(n).or_insert(v);
                }
            }
            self.offsets.push(at as u32);
            at += 12 + extra;
            if at > self.types.len() {
                return Err(BtfError::Truncated("type record"));
            }
            id += 1;
        }
        Ok(())
    }

    fn header_at(&self, at: usize) -> Result<Header, BtfError> {
        let word = |o| u32_at(&self.types, at + o).ok_or(BtfError::Truncated("type record"));
        let info = word(4)?;
        Ok(Header {
            name_off: word(0)?,
            kind: (info >> 24) & 0x1f,
            kind_flag: info >> 31 == 1,
            vlen: (info & 0xffff) as usize,
            size_or_type: word(8)?,
        })
    }

    /// The string at `offset` in the string section ("" when out of range or not UTF-8).
    fn string(&self, offset: u32) -> &str {
        let rest = self.strings.get(offset as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or_default()
    }

    /// The u32 at `index` words after a record's fixed part.
    fn extra(&self, at: usize, index: usize) -> u32 {
        u32_at(&self.types, at + 12 + 4 * index).unwrap_or(0)
    }

    fn enum_values(&self, at: usize, h: Header) -> Vec<(String, i64)> {
        (0..h.vlen)
            .map(|i| {
                if h.kind == kind::ENUM64 {
                    let lo = self.extra(at, 3 * i + 1) as u64;
                    let hi = self.extra(at, 3 * i + 2) as u64;
                    (
                        self.string(self.extra(at, 3 * i)).to_string(),
                        (hi << 32 | lo) as i64,
                    )
                } else {
                    let raw = self.extra(at, 2 * i + 1);
                    // kind_flag says the values are signed.
                    let v = if h.kind_flag {
                        raw as i32 as i64
                    } else {
                        raw as i64
                    };
                    (self.string(self.extra(at, 2 * i)).to_string(), v)
                }
            })
            .collect()
    }

    /// The offset in the per-CPU section of the kernel variable `name` (a VAR the
    /// `.data..percpu` section lists).
    pub fn percpu_variable(&self, name: &str) -> Option<u32> {
        self.percpu.get(self.variables.get(name)?).copied()
    }

    /// How many types there are (ids run from 1 to this).
    pub fn len(&self) -> u32 {
        self.offsets.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    fn record(&self, id: u32) -> Result<(usize, Header), BtfError> {
        let at = *self
            .offsets
            .get((id as usize).wrapping_sub(1))
            .ok_or(BtfError::NoSuchType(id))? as usize;
        Ok((at, self.header_at(at)?))
    }

    /// Follows typedefs, `const`, `volatile`, `restrict` and type tags to the type that
    /// says what the bytes are.
    pub fn strip(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..64 {
            if id == 0 {
                return Ok(0);
            }
            let (_, h) = self.record(id)?;
            match h.kind {
                kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::TYPE_TAG
                | kind::DECL_TAG => id = h.size_or_type,
                _ => return Ok(id),
            }
        }
        Err(BtfError::Loop(id))
    }

    /// The name of the typedef `id` is, through `const`/`volatile`/`restrict` and type
    /// tags: what C source spells a member's type as (`pid_t`, `spinlock_t`).
    pub fn typedef_name(&self, mut id: u32) -> Option<String> {
        for _ in 0..64 {
            if id == 0 {
                return None;
            }
            let (_, h) = self.record(id).ok()?;
            match h.kind {
                kind::TYPEDEF => return Some(self.string(h.name_off).to_string()),
                kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = h.size_or_type
                }
                _ => return None,
            }
        }
        None
    }

    /// Type `id` decoded, with modifiers and typedefs looked through.
    pub fn get(&self, id: u32) -> Result<KType, BtfError> {
        let id = self.strip(id)?;
        if id == 0 {
            return Ok(KType::Void);
        }
        let (at, h) = self.record(id)?;
        let name = self.string(h.name_off).to_string();
        Ok(match h.kind {
            kind::INT => {
                let encoding = self.extra(at, 0) >> 24;
                KType::Int {
                    name,
                    size: h.size_or_type,
                    signed: encoding & 1 != 0,
                    char: encoding & 2 != 0 || h.size_or_type == 1,
                }
            }
            kind::FLOAT => KType::Float {
                size: h.size_or_type,
            },
            kind::PTR => KType::Pointer {
                to: TypeId(h.size_or_type),
            },
            kind::ARRAY => KType::Array {
                elem: TypeId(self.extra(at, 0)),
                len: self.extra(at, 2),
            },
            kind::STRUCT | kind::UNION => KType::Record(Record {
                name,
                union: h.kind == kind::UNION,
                size: h.size_or_type,
                members: (0..h.vlen)
                    .map(|i| {
                        let offset = self.extra(at, 3 * i + 2);
                        // With kind_flag the offset word packs the bitfield's width on top.
                        let (bit_offset, bitfield) = if h.kind_flag {
                            let width = offset >> 24;
                            (offset & 0xff_ffff, (width != 0).then_some(width))
                        } else {
                            (offset, None)
                        };
                        Member {
                            name: self.string(self.extra(at, 3 * i)).to_string(),
                            ty: TypeId(self.extra(at, 3 * i + 1)),
                            bit_offset,
                            bitfield,
                        }
                    })
                    .collect(),
            }),
            kind::ENUM | kind::ENUM64 => KType::Enum(Enum {
                name,
                size: h.size_or_type,
                signed: h.kind_flag,
                values: self.enum_values(at, h),
            }),
            kind::FWD => KType::Forward {
                name,
                union: h.kind_flag,
            },
            kind::FUNC_PROTO => KType::FuncProto(self.proto(at, h)),
            // A function, a variable or a data section is not a value's type: say what it
            // points at (a function's prototype).
            kind::FUNC => return self.get(h.size_or_type),
            _ => KType::Void,
        })
    }

    fn proto(&self, at: usize, h: Header) -> FuncProto {
        FuncProto {
            params: (0..h.vlen)
                .map(|i| Param {
                    name: self.string(self.extra(at, 2 * i)).to_string(),
                    ty: TypeId(self.extra(at, 2 * i + 1)),
                })
                .collect(),
            ret: TypeId(h.size_or_type),
        }
    }

    /// The id of a named struct, union, enum or typedef.
    pub fn by_name(&self, space: NameSpace, name: &str) -> Option<u32> {
        self.names.get(&(space, name.to_string())).copied()
    }

    /// Every name in one namespace, sorted.
    pub fn names(&self, space: NameSpace) -> Vec<String> {
        let mut all: Vec<String> = self
            .names
            .keys()
            .filter(|(s, _)| *s == space)
            .map(|(_, n)| n.clone())
            .collect();
        all.sort();
        all
    }

    /// A kernel function's prototype.
    pub fn function(&self, name: &str) -> Option<FuncProto> {
        let id = *self.functions.get(name)?;
        match self.get(id).ok()? {
            KType::FuncProto(p) => Some(p),
            _ => None,
        }
    }

    /// The BTF id of a kernel function (what a fentry program names as its target).
    pub fn function_id(&self, name: &str) -> Option<u32> {
        self.functions.get(name).copied()
    }

    /// Every function BTF describes, sorted.
    pub fn function_names(&self) -> Vec<String> {
        let mut all: Vec<String> = self.functions.keys().cloned().collect();
        all.sort();
        all
    }

    /// The value of an enumerator (`TASK_RUNNING`), from whichever enum defines it first.
    pub fn enumerator(&self, name: &str) -> Option<i64> {
        self.enumerators.get(name).copied()
    }

    /// The `NAME`s of the `btf_trace_NAME` typedefs: the kernel makes one per tracepoint.
    pub fn raw_tracepoints(&self) -> Vec<String> {
        self.names
            .keys()
            .filter(|(s, _)| *s == NameSpace::Typedef)
            .filter_map(|(_, n)| n.strip_prefix("btf_trace_"))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests;

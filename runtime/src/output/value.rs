//! Bytes ↔ values, per the layouts in `compiler::program`: little-endian integers of 1, 2, 4
//! or 8 bytes, NUL-padded string buffers, tuples laid out as C structs, one-byte booleans and
//! 8-byte stack ids / addresses. Decoding checks every length: bytes come from the kernel or a
//! ring buffer, and a short or malformed record must become an error, never a panic.

use tracebound_compiler::program::{Names, StackMode, ValueType};

use super::OutputError;

/// A decoded value. Integers keep their signedness (it decides how they print and sort);
/// narrower integers are widened, sign-extended when signed, as bpftrace does before printing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    UInt(u64),
    /// The text of a string buffer: the bytes before the first NUL. Not necessarily UTF-8:
    /// output is byte-for-byte.
    Str(Vec<u8>),
    Tuple(Vec<Value>),
    Bool(bool),
    /// A stack id (for a user stack, with the pid in the high 32 bits), resolved to frames
    /// at print time from the stack map of its kind and frame limit.
    Stack {
        user: bool,
        id: u64,
        mode: StackMode,
        limit: u32,
    },
    /// An address printed as a symbol; a user one belongs to process `pid`.
    Sym {
        user: bool,
        addr: u64,
        pid: u32,
    },
    /// `strftime(format, nsecs)`: formatted when printed (see `formatted::strftime_text`).
    Time {
        format: String,
        nsecs: u64,
    },
    /// `ntop`: an address family and 16 address bytes (IPv4 uses the first 4).
    Inet {
        family: u64,
        addr: [u8; 16],
    },
    /// `macaddr`: 6 bytes.
    Mac([u8; 6]),
    /// `buf`: raw bytes, printed with `%r` escapes.
    Buf(Vec<u8>),
    /// A fixed array's elements, printed `[1,2,3]`.
    Array(Vec<Value>),
    /// A number printed as what it names (`strerror`, `username`).
    Named {
        names: Names,
        n: i64,
    },
    /// An enum's value: its enumerator's name, if it has one, and the number.
    Enum {
        number: Box<Value>,
        name: Option<String>,
    },
    /// A C struct's fields by name, printed `{ .a = 1, .b = 2 }`.
    Struct(Vec<(String, Value)>),
    /// A struct's pointer member, printed `0x...`.
    Pointer(u64),
    /// A struct's floating-point member, which the current release reads as no value (its
    /// `none` type): printed `null`.
    Null,
}

impl Value {
    /// The 64-bit pattern C's printf would receive for this value: signed integers are
    /// sign-extended, unsigned ones zero-extended. `None` for non-integers.
    pub fn as_u64_bits(&self) -> Option<u64> {
        match self {
            Value::Int(v) => Some(*v as u64),
            Value::UInt(v) => Some(*v),
            Value::Bool(b) => Some(u64::from(*b)),
            Value::Stack { id, .. } => Some(*id),
            Value::Sym { addr, .. } => Some(*addr),
            Value::Enum { number, .. } => number.as_u64_bits(),
            Value::Pointer(p) => Some(*p),
            Value::Struct(_)
            | Value::Null
            | Value::Str(_)
            | Value::Tuple(_)
            | Value::Array(_)
            | Value::Time { .. }
            | Value::Inet { .. }
            | Value::Mac(_)
            | Value::Named { .. }
            | Value::Buf(_) => None,
        }
    }

    /// The text bpftrace prints for a value user space formats (`strftime`, `ntop`,
    /// `macaddr`, `buf`), wherever it appears: `%s`, a map key or value, `print`.
    pub fn formatted_text(&self) -> Option<Vec<u8>> {
        use super::formatted;
        Some(match self {
            Value::Time { format, nsecs } => formatted::strftime_text(format, *nsecs),
            Value::Inet { family, addr } => formatted::inet_text(*family, addr),
            Value::Mac(bytes) => formatted::mac_text(bytes),
            Value::Buf(bytes) => formatted::buf_text(bytes, formatted::BufStyle::Escaped),
            Value::Named { names, n } => super::names::text(*names, *n),
            Value::Enum { number, name } => match (name, &**number) {
                (Some(name), _) => name.clone().into_bytes(),
                (None, Value::Int(v)) => v.to_string().into_bytes(),
                (None, other) => other.as_u64_bits().unwrap_or(0).to_string().into_bytes(),
            },
            _ => return None,
        })
    }
}

/// Decodes `bytes` as a value of type `ty`. Extra trailing bytes are allowed (per-CPU values
/// are padded to 8 bytes by the kernel); missing ones are an error.
pub fn decode(ty: &ValueType, bytes: &[u8]) -> Result<Value, OutputError> {
    let need = ty.size() as usize;
    if bytes.len() < need {
        return Err(OutputError::Short {
            what: "value",
            need,
            got: bytes.len(),
        });
    }
    match ty {
        ValueType::Int { size, signed } => {
            let raw = read_uint(bytes, *size)?;
            Ok(if *signed {
                Value::Int(sign_extend(raw, *size))
            } else {
                Value::UInt(raw)
            })
        }
        ValueType::Str { len, cut_trailer } => Ok(Value::Str(decode_string(
            bytes,
            *len as usize,
            cut_trailer.as_deref(),
        ))),
        ValueType::Tuple(fields) => {
            let offsets = ValueType::field_offsets(fields);
            let values = fields
                .iter()
                .zip(offsets)
                .map(|(f, at)| decode(f, &bytes[at as usize..]))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Tuple(values))
        }
        ValueType::Stack { user, mode, limit } => Ok(Value::Stack {
            user: *user,
            id: read_uint(bytes, 8)?,
            mode: *mode,
            limit: *limit,
        }),
        ValueType::Sym { user } => Ok(Value::Sym {
            user: *user,
            addr: read_uint(bytes, 8)?,
            pid: if *user {
                read_uint(&bytes[8..], 8)? as u32
            } else {
                0
            },
        }),
        ValueType::Bool => Ok(Value::Bool(bytes[0] != 0)),
        ValueType::Timestamp { format } => Ok(Value::Time {
            format: format.clone(),
            nsecs: read_uint(bytes, 8)?,
        }),
        ValueType::Inet => {
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&bytes[8..24]);
            Ok(Value::Inet {
                family: read_uint(bytes, 8)?,
                addr,
            })
        }
        ValueType::MacAddr => {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&bytes[..6]);
            Ok(Value::Mac(mac))
        }
        ValueType::Buf { len } => Ok(Value::Buf(bytes[..*len as usize].to_vec())),
        ValueType::Named(names) => Ok(Value::Named {
            names: *names,
            n: read_i64(bytes, 0)?,
        }),
        ValueType::Array { elem, len } => {
            let step = elem.size() as usize;
            (0..*len as usize)
                .map(|i| decode(elem, &bytes[i * step..]))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ValueType::Enum(names) => {
            let raw = read_uint(bytes, names.size)?;
            Ok(Value::Enum {
                number: Box::new(if names.signed {
                    Value::Int(sign_extend(raw, names.size))
                } else {
                    Value::UInt(raw)
                }),
                name: names.name_of(raw).map(str::to_string),
            })
        }
        ValueType::Pointer => Ok(Value::Pointer(read_uint(bytes, 8)?)),
        ValueType::Float { .. } => Ok(Value::Null),
        ValueType::Struct(layout) => layout
            .fields
            .iter()
            .map(|f| {
                // A layout the compiler made; still, a field past the end is an error.
                let at = bytes
                    .get(f.offset as usize..need)
                    .ok_or(OutputError::Short {
                        what: "struct field",
                        need: f.offset as usize + f.ty.size() as usize,
                        got: need,
                    })?;
                let value = match f.bitfield {
                    None => decode(&f.ty, at)?,
                    Some((shift, width)) => {
                        decode(&f.ty, &bitfield_bytes(at, shift, width, &f.ty))?
                    }
                };
                Ok((f.name.clone(), value))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Struct),
    }
}

/// A string's text up to its NUL; the flag byte after its `len` bytes is the kernel's word
/// that `str()` cut it, marked with `trailer` when there is one.
fn decode_string(bytes: &[u8], len: usize, trailer: Option<&str>) -> Vec<u8> {
    let buf = &bytes[..len];
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let mut text = buf[..end].to_vec();
    if let Some(trailer) = trailer.filter(|_| bytes[len] != 0) {
        text.extend_from_slice(trailer.as_bytes());
    }
    text
}

/// A bitfield's bits, `width` of them `shift` bits into `at`, as the little-endian bytes of
/// an integer of `ty`'s size: zero-extended whatever the type, as the current release reads
/// bitfields.
fn bitfield_bytes(at: &[u8], shift: u32, width: u32, ty: &ValueType) -> Vec<u8> {
    // 16 bytes: a packed bitfield may start inside one byte and end 8 bytes on.
    let mut word = [0u8; 16];
    let n = at.len().min(16);
    word[..n].copy_from_slice(&at[..n]);
    let width = width.clamp(1, 64);
    let field = (u128::from_le_bytes(word) >> shift) as u64;
    let bits = (field << (64 - width)) >> (64 - width);
    bits.to_le_bytes()[..ty.size().min(8) as usize].to_vec()
}

/// Encodes a value in the layout of `ty`, padding with zeros. The inverse of `decode`; used to
/// get canonical key bytes (bpftrace orders some maps by their key bytes) and by tests.
pub fn encode(ty: &ValueType, value: &Value) -> Result<Vec<u8>, OutputError> {
    let mut out = vec![0u8; ty.size() as usize];
    encode_into(ty, value, &mut out)?;
    Ok(out)
}

fn encode_into(ty: &ValueType, value: &Value, out: &mut [u8]) -> Result<(), OutputError> {
    let mismatch = || OutputError::TypeMismatch {
        expected: format!("{ty:?}"),
        got: format!("{value:?}"),
    };
    match (ty, value) {
        (ValueType::Int { size, .. }, v) => {
            let bits = v.as_u64_bits().ok_or_else(mismatch)?;
            let n = int_width(*size)?;
            out[..n].copy_from_slice(&bits.to_le_bytes()[..n]);
        }
        (ValueType::Str { len, .. }, Value::Str(s)) => {
            // Truncated to the buffer, as the kernel side would store it.
            let n = s.len().min(*len as usize);
            out[..n].copy_from_slice(&s[..n]);
        }
        (ValueType::Tuple(fields), Value::Tuple(values)) if fields.len() == values.len() => {
            for ((f, v), at) in fields
                .iter()
                .zip(values)
                .zip(ValueType::field_offsets(fields))
            {
                encode_into(f, v, &mut out[at as usize..])?;
            }
        }
        (ValueType::Stack { .. }, Value::Stack { id: bits, .. })
        | (ValueType::Sym { user: false }, Value::Sym { addr: bits, .. }) => {
            out[..8].copy_from_slice(&bits.to_le_bytes());
        }
        (ValueType::Sym { user: true }, Value::Sym { addr, pid, .. }) => {
            out[..8].copy_from_slice(&addr.to_le_bytes());
            out[8..16].copy_from_slice(&u64::from(*pid).to_le_bytes());
        }
        (ValueType::Bool, Value::Bool(b)) => out[0] = u8::from(*b),
        (ValueType::Timestamp { .. }, Value::Time { nsecs, .. }) => {
            out[..8].copy_from_slice(&nsecs.to_le_bytes());
        }
        (ValueType::Inet, Value::Inet { family, addr }) => {
            out[..8].copy_from_slice(&family.to_le_bytes());
            out[8..24].copy_from_slice(addr);
        }
        (ValueType::MacAddr, Value::Mac(mac)) => out[..6].copy_from_slice(mac),
        (ValueType::Named(_), Value::Named { n, .. }) => out[..8].copy_from_slice(&n.to_le_bytes()),
        (ValueType::Buf { len }, Value::Buf(bytes)) => {
            let n = bytes.len().min(*len as usize);
            out[..n].copy_from_slice(&bytes[..n]);
        }
        (ValueType::Array { elem, len }, Value::Array(values)) if values.len() == *len as usize => {
            let step = elem.size() as usize;
            for (i, v) in values.iter().enumerate() {
                encode_into(elem, v, &mut out[i * step..])?;
            }
        }
        (ValueType::Pointer, Value::Pointer(p)) => out[..8].copy_from_slice(&p.to_le_bytes()),
        // Its bytes were never read: zeros stand for them.
        (ValueType::Float { size }, Value::Null) => out[..*size as usize].fill(0),
        (ValueType::Enum(names), Value::Enum { number, .. }) => {
            let bits = number.as_u64_bits().ok_or_else(mismatch)?;
            let n = int_width(names.size)?;
            out[..n].copy_from_slice(&bits.to_le_bytes()[..n]);
        }
        // Bitfields are not encoded back (nothing reads struct keys but to print them).
        (ValueType::Struct(layout), Value::Struct(values))
            if values.len() == layout.fields.len()
                && layout.fields.iter().all(|f| f.bitfield.is_none()) =>
        {
            for (f, (_, v)) in layout.fields.iter().zip(values) {
                encode_into(&f.ty, v, &mut out[f.offset as usize..])?;
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// Reads a little-endian unsigned integer of `size` bytes (1, 2, 4 or 8).
pub fn read_uint(bytes: &[u8], size: u32) -> Result<u64, OutputError> {
    let n = int_width(size)?;
    let src = bytes.get(..n).ok_or(OutputError::Short {
        what: "integer",
        need: n,
        got: bytes.len(),
    })?;
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(src);
    Ok(u64::from_le_bytes(buf))
}

/// Reads a little-endian i64 at `offset`.
pub fn read_i64(bytes: &[u8], offset: usize) -> Result<i64, OutputError> {
    Ok(read_uint(bytes.get(offset..).unwrap_or(&[]), 8)? as i64)
}

/// Reads a little-endian u64 at `offset`.
pub fn read_u64(bytes: &[u8], offset: usize) -> Result<u64, OutputError> {
    read_uint(bytes.get(offset..).unwrap_or(&[]), 8)
}

fn int_width(size: u32) -> Result<usize, OutputError> {
    match size {
        1 | 2 | 4 | 8 => Ok(size as usize),
        _ => Err(OutputError::BadIntSize(size)),
    }
}

fn sign_extend(raw: u64, size: u32) -> i64 {
    let shift = 64 - 8 * size;
    ((raw << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::program::{EnumNames, StructField, StructLayout};

    fn int(size: u32, signed: bool) -> ValueType {
        ValueType::Int { size, signed }
    }

    fn color(size: u32) -> ValueType {
        ValueType::Enum(EnumNames {
            name: "color".into(),
            size,
            signed: false,
            values: vec![("RED".into(), 0), ("BLUE".into(), 6)],
        })
    }

    #[test]
    fn a_string_str_cut_prints_its_trailer_and_only_then() {
        let ty = ValueType::Str {
            len: 4,
            cut_trailer: Some("..".to_string()),
        };
        assert_eq!(ty.size(), 5);
        assert_eq!(
            decode(&ty, b"abc\0\x01").unwrap(),
            Value::Str(b"abc..".to_vec())
        );
        assert_eq!(
            decode(&ty, b"abc\0\0").unwrap(),
            Value::Str(b"abc".to_vec())
        );
        // The flag byte is part of the value: without it the value is short.
        assert!(decode(&ty, b"abc\0").is_err());
        // A plain string of the same bytes is never marked.
        assert_eq!(
            decode(&ValueType::str(4), b"abc\0\x01").unwrap(),
            Value::Str(b"abc".to_vec())
        );
    }

    #[test]
    fn enums_decode_to_their_names_or_numbers() {
        let text = |n: u64| {
            decode(&color(8), &n.to_le_bytes())
                .unwrap()
                .formatted_text()
                .map(|t| String::from_utf8(t).unwrap())
        };
        assert_eq!(text(6).as_deref(), Some("BLUE"));
        assert_eq!(text(42).as_deref(), Some("42"));
        let v = decode(&color(4), &[6, 0, 0, 0]).unwrap();
        assert_eq!(v.as_u64_bits(), Some(6));
        assert_eq!(encode(&color(4), &v).unwrap(), [6, 0, 0, 0]);
    }

    #[test]
    fn structs_decode_field_by_field_with_bitfields_zero_extended() {
        // { short a:4 (signed), b:8; char tag[2]; enum color e (4 bytes) } in 8 bytes.
        let field = |name: &str, offset, bitfield, ty| StructField {
            name: name.into(),
            offset,
            bitfield,
            ty,
        };
        let ty = ValueType::Struct(StructLayout {
            size: 8,
            align: 4,
            fields: vec![
                field("a", 0, Some((0, 4)), int(2, true)),
                field("b", 0, Some((4, 8)), int(2, true)),
                field("tag", 2, None, ValueType::str(2)),
                field("e", 4, None, color(4)),
            ],
        });
        let bytes = [0xdf, 0x0d, b'h', b'i', 6, 0, 0, 0];
        let Value::Struct(fields) = decode(&ty, &bytes).unwrap() else {
            panic!("not a struct")
        };
        assert_eq!(fields[0], ("a".to_string(), Value::Int(15)));
        assert_eq!(fields[1], ("b".to_string(), Value::Int(0xdd)));
        assert_eq!(fields[2], ("tag".to_string(), Value::Str(b"hi".to_vec())));
        assert!(matches!(&fields[3].1, Value::Enum { name: Some(n), .. } if n == "BLUE"));
        assert!(decode(&ty, &bytes[..7]).is_err());
    }

    #[test]
    fn a_float_member_keeps_its_place_and_decodes_to_null() {
        // { float f; int after; }: `after` is read from byte 4, whatever the float holds.
        let ty = ValueType::Struct(StructLayout {
            size: 8,
            align: 4,
            fields: vec![
                StructField {
                    name: "f".into(),
                    offset: 0,
                    bitfield: None,
                    ty: ValueType::Float { size: 4 },
                },
                StructField {
                    name: "after".into(),
                    offset: 4,
                    bitfield: None,
                    ty: int(4, true),
                },
            ],
        });
        let mut bytes = 1.5f32.to_le_bytes().to_vec();
        bytes.extend(7i32.to_le_bytes());
        let v = decode(&ty, &bytes).unwrap();
        assert_eq!(
            v,
            Value::Struct(vec![
                ("f".into(), Value::Null),
                ("after".into(), Value::Int(7))
            ])
        );
        // Encoded back (a map key), the bytes never read are zeros.
        assert_eq!(encode(&ty, &v).unwrap(), [0, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn integers_of_each_size_and_sign() {
        assert_eq!(decode(&int(1, true), &[0xff]).unwrap(), Value::Int(-1));
        assert_eq!(decode(&int(1, false), &[0xff]).unwrap(), Value::UInt(255));
        assert_eq!(
            decode(&int(2, true), &(-300i16).to_le_bytes()).unwrap(),
            Value::Int(-300)
        );
        assert_eq!(
            decode(&int(4, false), &u32::MAX.to_le_bytes()).unwrap(),
            Value::UInt(u32::MAX as u64)
        );
        assert_eq!(
            decode(&int(8, true), &i64::MIN.to_le_bytes()).unwrap(),
            Value::Int(i64::MIN)
        );
    }

    #[test]
    fn strings_end_at_the_first_nul() {
        let ty = ValueType::str(8);
        assert_eq!(
            decode(&ty, b"ab\0cd\0\0\0").unwrap(),
            Value::Str(b"ab".to_vec())
        );
        assert_eq!(
            decode(&ty, b"abcdefgh").unwrap(),
            Value::Str(b"abcdefgh".to_vec())
        );
    }

    #[test]
    fn tuples_round_trip_with_c_layout() {
        let ty = ValueType::Tuple(vec![
            int(4, false),
            ValueType::str(3),
            int(8, true),
            ValueType::Bool,
        ]);
        let v = Value::Tuple(vec![
            Value::UInt(7),
            Value::Str(b"xy".to_vec()),
            Value::Int(-2),
            Value::Bool(true),
        ]);
        let bytes = encode(&ty, &v).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[4..7], b"xy\0");
        assert_eq!(&bytes[8..16], &(-2i64).to_le_bytes());
        assert_eq!(decode(&ty, &bytes).unwrap(), v);
    }

    #[test]
    fn arrays_round_trip_element_by_element() {
        let ty = ValueType::Array {
            elem: Box::new(int(2, true)),
            len: 3,
        };
        let bytes = [1, 0, 0xff, 0xff, 7, 0];
        let v = decode(&ty, &bytes).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![Value::Int(1), Value::Int(-1), Value::Int(7)])
        );
        assert_eq!(encode(&ty, &v).unwrap(), bytes);
        assert!(decode(&ty, &bytes[..5]).is_err());
    }

    #[test]
    fn short_or_malformed_input_is_an_error() {
        assert!(decode(&int(8, true), &[1, 2, 3]).is_err());
        assert!(decode(&int(3, true), &[1, 2, 3]).is_err());
        assert!(decode(&ValueType::str(4), b"ab").is_err());
        let t = ValueType::Tuple(vec![int(8, true), int(8, true)]);
        assert!(decode(&t, &[0; 15]).is_err());
        assert!(decode(&ValueType::Bool, &[]).is_err());
        assert!(encode(&int(8, true), &Value::Str(vec![])).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap sweep in lieu of a fuzzer: every prefix of a noisy buffer, several types.
        let noise: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        let types = [
            int(1, true),
            int(8, false),
            ValueType::str(16),
            ValueType::Tuple(vec![ValueType::str(5), int(2, true), int(8, false)]),
            ValueType::Tuple(vec![ValueType::Tuple(vec![int(1, true), int(8, true)])]),
            ValueType::Stack {
                user: true,
                mode: StackMode::Perf,
                limit: 3,
            },
            ValueType::Sym { user: true },
            ValueType::Bool,
        ];
        for ty in &types {
            for n in 0..noise.len() {
                let _ = decode(ty, &noise[..n]);
            }
        }
    }
}

//! `printf` as bpftrace 0.17 does it in user space. Found by experiment:
//! - With no arguments the format is printed as it is: `printf("a%%b")` prints `a%%b`.
//! - Otherwise bpftrace finds its specifiers, `%` `-`? width? (`.` precision)? then
//!   `c` or `s`, or a length (hh h l ll j z t) and one of `d u x X o p`. `%+d`, `%#x`,
//!   `%ls`, `%.d` are not specifiers to it (the checker refuses formats with them). `%i`
//!   is one here, as in the current release (0.17 refused it when the event arrived).
//! - The format is cut after each specifier; each piece goes with its argument to C's
//!   snprintf (so `%%` in a piece is `%`, see `cformat`), and the text after the last
//!   specifier is printed as it is (`printf("%d%%", 1)` prints `1%%`).
//! - Integers reach C as 64-bit values, sign-extended when their type is signed; the
//!   length modifier then decides the width C reads: `%x` of -1 is `ffffffff`, `%lx` is
//!   `ffffffffffffffff`, `%hhd` of 300 is 44, `%ld` of `(uint32)-1` is 4294967295 and `%lu`
//!   of `(int8)-1` is 18446744073709551615.

use tracebound_compiler::program::format_specifiers as specifiers;
use tracebound_compiler::program::{record_fields, ValueType};

use tracebound_compiler::machine::print_flags::flags_text;

use super::cformat::{format_piece, CArg};
use super::formatted::{buf_text, BufStyle};
use super::text::{stack_text, symbol_text};
use super::value::Value;
use super::{OutputError, Symbolize};

/// Appends what `printf(format, args...)` prints; `gfp_flags` names the flags a `%gr`
/// prints (`ProgramInfo::gfp_flags`).
pub fn printf(
    out: &mut Vec<u8>,
    format: &[u8],
    args: &[Value],
    symbols: &dyn Symbolize,
    gfp_flags: &[(u64, String)],
) -> Result<(), OutputError> {
    let specs = specifiers(format);
    if args.is_empty() && specs.is_empty() {
        out.extend_from_slice(format);
        return Ok(());
    }
    if specs.len() != args.len() {
        return Err(OutputError::PrintfArity {
            specifiers: specs.len(),
            args: args.len(),
        });
    }
    let mut from = 0;
    for (spec, arg) in specs.iter().zip(args) {
        let piece = &format[from..spec.span.end];
        // Text stands in for values %s prints as text: stacks and symbols.
        let text: Vec<u8>;
        let mut piece = piece.to_vec();
        let c_arg = match arg {
            Value::Str(s) => CArg::Str(s),
            Value::Buf(bytes) if spec.conversion == b'r' => {
                // C knows no `%r`: the piece goes to it as `%s` with the rendered bytes.
                let style = match format[spec.span.end - 1] {
                    b'x' => BufStyle::AllEscaped,
                    b'h' => BufStyle::Hex,
                    _ => BufStyle::Escaped,
                };
                let suffix = if style == BufStyle::Escaped { 1 } else { 2 };
                piece.truncate(piece.len() - suffix);
                piece.push(b's');
                text = buf_text(bytes, style);
                CArg::Str(&text)
            }
            // C knows no `%gr` either: `%s` of the flags' names.
            _ if spec.conversion == b'g' => {
                let Some(bits) = arg.as_u64_bits() else {
                    return Err(OutputError::PrintfArg {
                        conversion: 'g',
                        got: "no integer".into(),
                    });
                };
                piece.truncate(piece.len() - 2);
                piece.push(b's');
                text = flags_text(bits, gfp_flags).into_bytes();
                CArg::Str(&text)
            }
            Value::Time { .. }
            | Value::Inet { .. }
            | Value::Mac(_)
            | Value::Buf(_)
            | Value::Named { .. }
            | Value::Enum { .. }
                if spec.conversion == b's' =>
            {
                text = arg.formatted_text().unwrap_or_default();
                CArg::Str(&text)
            }
            Value::Stack {
                user,
                id,
                mode,
                limit,
            } if spec.conversion == b's' => {
                let frames = symbols.frames(*user, *mode, *limit, *id);
                text = stack_text(&frames, *mode, *user, 8);
                CArg::Str(&text)
            }
            Value::Sym { user, addr, pid } if spec.conversion == b's' => {
                text = symbol_text(symbols, *user, *addr, *pid).into_bytes();
                CArg::Str(&text)
            }
            Value::Tuple(_) => {
                return Err(OutputError::PrintfArg {
                    conversion: spec.conversion as char,
                    got: "a tuple".into(),
                })
            }
            Value::Array(_) => {
                return Err(OutputError::PrintfArg {
                    conversion: spec.conversion as char,
                    got: "an array".into(),
                })
            }
            Value::Struct(_) => {
                return Err(OutputError::PrintfArg {
                    conversion: spec.conversion as char,
                    got: "a struct".into(),
                })
            }
            other => CArg::Int(other.as_u64_bits().unwrap_or(0)),
        };
        format_piece(out, &piece, Some(c_arg))?;
        from = spec.span.end;
    }
    out.extend_from_slice(&format[from..]);
    Ok(())
}

/// A printf whose arguments are all integers and strings, cut at its specifiers once, so
/// that each record prints straight from its bytes: nothing decoded into values, nothing
/// allocated. What it prints is what `printf` prints for the decoded record.
#[derive(Clone, Debug)]
pub struct PrintfPlan {
    format: Vec<u8>,
    /// Per argument: where its piece of the format ends, and how to read it from the record.
    args: Vec<(usize, Field)>,
    /// What a string `str()` cut prints after it (`str_trunc_trailer`).
    trailer: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
enum Field {
    /// An integer of the record's 8 bytes at this offset, sign-extended when signed (all
    /// are 8 bytes in a record: `record_fields`).
    Int { at: usize },
    /// A string buffer of `len` bytes at this offset, read up to its first NUL; when `cut`
    /// the byte after it says whether `str()` cut it (then the plan's trailer follows).
    Str { at: usize, len: usize, cut: bool },
}

impl PrintfPlan {
    /// The plan for `printf(format, ...)` with arguments of `types` as the program sends them,
    /// or None when an argument is of a kind only `printf` formats, or the format and the
    /// arguments do not pair up (then `printf` reports the error).
    pub fn new(format: &[u8], types: &[ValueType]) -> Option<PrintfPlan> {
        let specs = specifiers(format);
        let stored = record_fields(types);
        if specs.len() != stored.len() || stored.is_empty() {
            return None;
        }
        let offsets = ValueType::field_offsets(&stored);
        let mut args = Vec::with_capacity(stored.len());
        let mut trailer = Vec::new();
        for ((spec, ty), at) in specs.iter().zip(&stored).zip(offsets) {
            let at = at as usize;
            if spec.conversion == b'g' {
                // Flags printed by name: `printf` names them.
                return None;
            }
            let field = match ty {
                ValueType::Int { size: 8, .. } => Field::Int { at },
                ValueType::Str { len, cut_trailer } => {
                    if let Some(t) = cut_trailer {
                        trailer = t.as_bytes().to_vec();
                    }
                    Field::Str {
                        at,
                        len: *len as usize,
                        cut: cut_trailer.is_some(),
                    }
                }
                _ => return None,
            };
            args.push((spec.span.end, field));
        }
        Some(PrintfPlan {
            format: format.to_vec(),
            args,
            trailer,
        })
    }

    /// Appends what the record's `payload` (the bytes after the action id) prints.
    pub fn print(&self, out: &mut Vec<u8>, payload: &[u8]) -> Result<(), OutputError> {
        let short = |need: usize| OutputError::Short {
            what: "printf record",
            need,
            got: payload.len(),
        };
        let mut from = 0;
        // Only a cut string is copied, to have its trailer after it.
        let mut cut_text = Vec::new();
        for &(end, field) in &self.args {
            let arg = match field {
                Field::Int { at } => {
                    let bytes = payload.get(at..at + 8).ok_or_else(|| short(at + 8))?;
                    CArg::Int(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
                }
                Field::Str { at, len, cut } => {
                    let whole = len + usize::from(cut);
                    let bytes = payload
                        .get(at..at + whole)
                        .ok_or_else(|| short(at + whole))?;
                    let text = bytes[..len].iter().position(|&b| b == 0).unwrap_or(len);
                    if cut && bytes[len] != 0 {
                        cut_text.clear();
                        cut_text.extend_from_slice(&bytes[..text]);
                        cut_text.extend_from_slice(&self.trailer);
                        CArg::Str(&cut_text)
                    } else {
                        CArg::Str(&bytes[..text])
                    }
                }
            };
            format_piece(out, &self.format[from..end], Some(arg))?;
            from = end;
        }
        out.extend_from_slice(&self.format[from..]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::NoSymbols;

    fn convs(format: &str) -> String {
        specifiers(format.as_bytes())
            .iter()
            .map(|s| s.conversion as char)
            .collect()
    }

    fn run(format: &str, args: &[Value]) -> String {
        let mut out = Vec::new();
        printf(&mut out, format.as_bytes(), args, &NoSymbols, &[]).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn which_specifiers_bpftrace_recognises() {
        assert_eq!(convs("%d %u %x %X %o %c %s %p"), "duxXocsp");
        assert_eq!(convs("%e %f %+d % d %#x %*d %.d %5.d %--5d %0-5d"), "");
        // `%i` as the current release takes it (0.17 did not): an integer, as `%d`.
        assert_eq!(convs("%i %li %hhi"), "iii");
        assert_eq!(
            convs("%ld %lu %lld %hhd %hu %jd %zu %td %lp %hhX"),
            "duddudud".to_owned() + "pX"
        );
        assert_eq!(convs("%lc %ls %hhc %llld %Lu %qd"), "");
        assert_eq!(convs("%-05d %00d %.0d %5.2c %-20p %.3s"), "dddcps");
        // `%%` is not skipped: the `%d` inside `%%d` counts.
        assert_eq!(convs("%%d %%%d %%"), "dd");
    }

    #[test]
    fn pieces_and_trailing_text() {
        assert_eq!(run("a%%b\n", &[]), "a%%b\n");
        assert_eq!(
            run("[%d|%%|%d]%%\n", &[Value::Int(1), Value::Int(2)]),
            "[1|%|2]%%\n"
        );
        assert_eq!(run("%%d\n", &[Value::Int(5)]), "%d\n");
        assert_eq!(
            run(
                "%d %s %x",
                &[Value::Int(-1), Value::Str(b"two".to_vec()), Value::Int(-1)]
            ),
            "-1 two ffffffff"
        );
        assert_eq!(run("%lu", &[Value::Int(-1)]), "18446744073709551615");
        assert_eq!(run("%ld", &[Value::UInt(u32::MAX as u64)]), "4294967295");
    }

    #[test]
    fn a_plan_prints_the_trailer_of_a_cut_string() {
        let types = [
            ValueType::Str {
                len: 4,
                cut_trailer: Some("_x".to_string()),
            },
            ValueType::Str {
                len: 4,
                cut_trailer: Some("_x".to_string()),
            },
        ];
        let plan = PrintfPlan::new(b"[%s][%6s]\n", &types).unwrap();
        let mut out = Vec::new();
        plan.print(&mut out, b"abc\0\x01ab\0\0\0").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[abc_x][    ab]\n");
    }

    /// The plan prints exactly what `printf` prints for the decoded record.
    #[test]
    fn a_plan_prints_what_printf_prints() {
        use crate::output::value::{decode, encode};
        let types = [
            ValueType::Int {
                size: 4,
                signed: true,
            },
            ValueType::str(8),
            ValueType::Int {
                size: 8,
                signed: false,
            },
        ];
        let tuple = ValueType::Tuple(record_fields(&types));
        let values = Value::Tuple(vec![
            Value::Int(-7),
            Value::Str(b"abc".to_vec()),
            Value::UInt(u64::MAX),
        ]);
        let payload = encode(&tuple, &values).unwrap();
        for format in ["%d %s %lu\n", "[%-5d|%8s|%x]%%", "%hhd%.2s%lx"] {
            let plan = PrintfPlan::new(format.as_bytes(), &types).unwrap();
            let mut planned = Vec::new();
            plan.print(&mut planned, &payload).unwrap();
            let Ok(Value::Tuple(args)) = decode(&tuple, &payload) else {
                panic!("decodes")
            };
            let mut printed = Vec::new();
            printf(&mut printed, format.as_bytes(), &args, &NoSymbols, &[]).unwrap();
            assert_eq!(planned, printed, "{format}");
        }
        // Only integers and strings, in the number the format asks for.
        assert!(PrintfPlan::new(b"%d %d", &types[..1]).is_none());
        assert!(PrintfPlan::new(b"x\n", &[]).is_none());
        assert!(PrintfPlan::new(b"%s", &[ValueType::MacAddr]).is_none());
        // A record too short is an error, not a panic.
        let plan = PrintfPlan::new(b"%d", &types[..1]).unwrap();
        assert!(plan.print(&mut Vec::new(), &[0; 4]).is_err());
    }

    #[test]
    fn mismatches_are_errors() {
        let mut out = Vec::new();
        assert!(printf(&mut out, b"%d %d", &[Value::Int(1)], &NoSymbols, &[]).is_err());
        assert!(printf(&mut out, b"%d", &[], &NoSymbols, &[]).is_err());
        assert!(printf(&mut out, b"%s", &[Value::Int(1)], &NoSymbols, &[]).is_err());
        assert!(printf(&mut out, b"%d", &[Value::Tuple(vec![])], &NoSymbols, &[]).is_err());
    }

    #[test]
    fn buffers_and_formatted_values() {
        let b = Value::Buf(b"ab\x01".to_vec());
        assert_eq!(
            run("[%r][%rx][%rh]\n", &[b.clone(), b.clone(), b]),
            "[ab\\x01][\\x61\\x62\\x01][61 62 01]\n"
        );
        let mac = Value::Mac([0xaa, 0xbb, 0xcc, 0, 1, 2]);
        assert_eq!(run("%s|", &[mac]), "AA:BB:CC:00:01:02|");
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[192, 168, 0, 10]);
        assert_eq!(
            run("%s", &[Value::Inet { family: 2, addr }]),
            "192.168.0.10"
        );
    }
}

//! C's printf, for one piece of a bpftrace format string and at most one argument.
//!
//! bpftrace 0.17 cuts a printf format into pieces that each end with one of the specifiers
//! it recognises, and hands each piece with its argument to the C library's snprintf (see
//! `printf`). So whatever else is in a piece is interpreted by C: `%%` becomes `%`, and a
//! specifier bpftrace did not recognise (`%+d`, `%i`, `%#x`) is a real conversion to C that
//! takes the piece's argument. This module reproduces glibc's output for the integer, char,
//! string and pointer conversions, with every flag, width and precision. Conversions beyond
//! the one argument read garbage in C; here they print as 0 (or `(null)`), and floating
//! point conversions, which bpftrace never feeds, print their text unchanged.

use super::OutputError;

/// A printf argument as C receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CArg<'a> {
    /// An integer widened to 64 bits (sign- or zero-extended by its own type).
    Int(u64),
    /// A string's bytes (without the NUL).
    Str(&'a [u8]),
}

/// Appends glibc's rendering of `piece` given `arg` as its only argument.
pub fn format_piece(
    out: &mut Vec<u8>,
    piece: &[u8],
    arg: Option<CArg<'_>>,
) -> Result<(), OutputError> {
    let mut args = arg.into_iter();
    let mut i = 0;
    while i < piece.len() {
        if piece[i] != b'%' {
            let next = piece[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(piece.len(), |p| i + p);
            out.extend_from_slice(&piece[i..next]);
            i = next;
            continue;
        }
        let Some((spec, len)) = parse_spec(&piece[i..], &mut args) else {
            // A `%` with no conversion before the end: glibc prints nothing for it.
            return Ok(());
        };
        match spec.conversion {
            b'%' => out.push(b'%'),
            b'd' | b'i' | b'o' | b'u' | b'x' | b'X' | b'c' | b'C' | b'p' => {
                let bits = match args.next() {
                    Some(CArg::Int(bits)) => bits,
                    None => 0,
                    Some(CArg::Str(_)) => return Err(arg_error(spec.conversion, "a string")),
                };
                render_int(out, &spec, bits);
            }
            b's' | b'S' => {
                let text: &[u8] = match args.next() {
                    Some(CArg::Str(s)) => s,
                    None => b"(null)",
                    Some(CArg::Int(_)) => return Err(arg_error(spec.conversion, "an integer")),
                };
                let text = match spec.precision {
                    Some(p) => &text[..text.len().min(p)],
                    None => text,
                };
                pad(out, &spec, b"", text, false);
            }
            // `%n` stores, printing nothing.
            b'n' => {
                args.next();
            }
            _ => out.extend_from_slice(&piece[i..i + len]),
        }
        i += len;
    }
    Ok(())
}

fn arg_error(conversion: u8, got: &str) -> OutputError {
    OutputError::PrintfArg {
        conversion: conversion as char,
        got: got.into(),
    }
}

#[derive(Debug, Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    /// Bits the length modifier gives integer conversions: hh 8, h 16, none 32, l/ll/j/z/t 64.
    bits: u32,
    conversion: u8,
}

/// Parses the conversion specification at the start of `s` (which starts with `%`); `*`
/// widths and precisions take arguments as C does. Returns it and its length in bytes.
fn parse_spec<'a>(s: &[u8], args: &mut impl Iterator<Item = CArg<'a>>) -> Option<(Spec, usize)> {
    let mut spec = Spec {
        bits: 32,
        ..Spec::default()
    };
    let mut i = 1;
    while let Some(&c) = s.get(i) {
        match c {
            b'-' => spec.left = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            b'0' => spec.zero = true,
            // Grouping: the C locale has no thousands separator.
            b'\'' | b'I' => {}
            _ => break,
        }
        i += 1;
    }
    if s.get(i) == Some(&b'*') {
        let w = star(args);
        spec.left |= w < 0;
        spec.width = w.unsigned_abs() as usize;
        i += 1;
    } else {
        (spec.width, i) = digits(s, i);
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if s.get(i) == Some(&b'*') {
            let p = star(args);
            // A negative precision is taken as if it were omitted.
            spec.precision = usize::try_from(p).ok();
            i += 1;
        } else {
            let (p, next) = digits(s, i);
            spec.precision = Some(p);
            i = next;
        }
    }
    for (modifier, bits) in [
        (&b"hh"[..], 8),
        (b"h", 16),
        (b"ll", 64),
        (b"l", 64),
        (b"q", 64),
        (b"L", 64),
        (b"j", 64),
        (b"z", 64),
        (b"Z", 64),
        (b"t", 64),
    ] {
        if s[i..].starts_with(modifier) {
            spec.bits = bits;
            i += modifier.len();
            break;
        }
    }
    spec.conversion = *s.get(i)?;
    Some((spec, i + 1))
}

fn digits(s: &[u8], mut i: usize) -> (usize, usize) {
    let mut n = 0usize;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
        i += 1;
    }
    (n, i)
}

/// A `*` width or precision: the next argument as a C int.
fn star<'a>(args: &mut impl Iterator<Item = CArg<'a>>) -> i64 {
    match args.next() {
        Some(CArg::Int(bits)) => bits as u32 as i32 as i64,
        _ => 0,
    }
}

fn render_int(out: &mut Vec<u8>, spec: &Spec, bits: u64) {
    let conv = spec.conversion;
    if conv == b'c' || conv == b'C' {
        pad(out, spec, b"", &[bits as u8], false);
        return;
    }
    if conv == b'p' {
        if bits == 0 {
            // glibc prints a null pointer as "(nil)", ignoring precision and the 0 flag.
            let plain = Spec {
                left: spec.left,
                width: spec.width,
                ..Spec::default()
            };
            pad(out, &plain, b"", b"(nil)", false);
            return;
        }
        let sign = sign_prefix(spec, false);
        let digits = with_precision(format!("{bits:x}").into_bytes(), spec.precision);
        pad(out, spec, &[sign, b"0x".to_vec()].concat(), &digits, true);
        return;
    }
    let mask = if spec.bits == 64 {
        u64::MAX
    } else {
        (1u64 << spec.bits) - 1
    };
    let unsigned = bits & mask;
    let (negative, magnitude) = if conv == b'd' || conv == b'i' {
        let shift = 64 - spec.bits;
        let signed = ((unsigned << shift) as i64) >> shift;
        (signed < 0, signed.unsigned_abs())
    } else {
        (false, unsigned)
    };
    let raw = match conv {
        b'o' => format!("{magnitude:o}"),
        b'x' => format!("{magnitude:x}"),
        b'X' => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    let mut digits = with_precision(raw.into_bytes(), spec.precision);
    let mut prefix: Vec<u8> = Vec::new();
    match conv {
        b'd' | b'i' => prefix.extend(sign_prefix(spec, negative)),
        b'o' if spec.alt && digits.first() != Some(&b'0') => digits.insert(0, b'0'),
        b'x' if spec.alt && magnitude != 0 => prefix.extend(b"0x"),
        b'X' if spec.alt && magnitude != 0 => prefix.extend(b"0X"),
        _ => {}
    }
    pad(out, spec, &prefix, &digits, true);
}

fn sign_prefix(spec: &Spec, negative: bool) -> Vec<u8> {
    if negative {
        b"-".to_vec()
    } else if spec.plus {
        b"+".to_vec()
    } else if spec.space {
        b" ".to_vec()
    } else {
        Vec::new()
    }
}

/// At least `precision` digits; a precision of 0 prints the value 0 as no digits at all.
fn with_precision(digits: Vec<u8>, precision: Option<usize>) -> Vec<u8> {
    match precision {
        Some(0) if digits == b"0" => Vec::new(),
        Some(p) if p > digits.len() => {
            let mut padded = vec![b'0'; p - digits.len()];
            padded.extend(digits);
            padded
        }
        _ => digits,
    }
}

/// Pads `prefix` + `body` to the width: spaces on the right with `-`, else zeros between
/// prefix and body with `0` (numbers only, and not when a precision is given), else spaces
/// on the left.
fn pad(out: &mut Vec<u8>, spec: &Spec, prefix: &[u8], body: &[u8], numeric: bool) {
    let fill = spec.width.saturating_sub(prefix.len() + body.len());
    if spec.left {
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        out.resize(out.len() + fill, b' ');
    } else if numeric && spec.zero && spec.precision.is_none() {
        out.extend_from_slice(prefix);
        out.resize(out.len() + fill, b'0');
        out.extend_from_slice(body);
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{c_char, c_int, CString};

    extern "C" {
        fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, ...) -> c_int;
    }

    /// glibc's own rendering, for differential testing.
    fn libc_int(fmt: &str, arg: u64) -> Vec<u8> {
        let fmt = CString::new(fmt).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: the buffer's size is passed; every format used here takes one integer
        // argument, and a u64 is passed the way C passes any integer up to 64 bits.
        let n = unsafe { snprintf(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), arg) };
        buf.truncate(n as usize);
        buf
    }

    fn libc_str(fmt: &str, arg: &[u8]) -> Vec<u8> {
        let fmt = CString::new(fmt).unwrap();
        let arg = CString::new(arg).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: as above, with one string argument.
        let n = unsafe {
            snprintf(
                buf.as_mut_ptr().cast(),
                buf.len(),
                fmt.as_ptr(),
                arg.as_ptr(),
            )
        };
        buf.truncate(n as usize);
        buf
    }

    fn ours(fmt: &str, arg: CArg<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        format_piece(&mut out, fmt.as_bytes(), Some(arg)).unwrap();
        out
    }

    #[test]
    fn integers_match_glibc() {
        let flags = [
            "", "-", "0", "+", " ", "#", "-0", "+0", "#0", "-#", " 0", "+-",
        ];
        let widths = ["", "1", "5", "12", "25"];
        let precisions = ["", ".0", ".1", ".3", ".8", ".22"];
        let lengths = ["", "hh", "h", "l", "ll", "j", "z", "t"];
        let values: [u64; 12] = [
            0,
            1,
            7,
            65,
            255,
            300,
            70000,
            u32::MAX as u64,
            1 << 40,
            u64::MAX,
            i64::MIN as u64,
            (-12345i64) as u64,
        ];
        let mut checked = 0;
        for conv in ["d", "i", "u", "o", "x", "X", "c", "p"] {
            for f in flags {
                for w in widths {
                    for p in precisions {
                        for l in lengths {
                            // glibc's %c with a precision or length is not worth mimicking.
                            if conv == "c" && (!p.is_empty() || !l.is_empty()) {
                                continue;
                            }
                            let fmt = format!("[%{f}{w}{p}{l}{conv}]");
                            for v in values {
                                if conv == "c" && v as u8 == 0 {
                                    continue; // a NUL would end the C string
                                }
                                assert_eq!(
                                    String::from_utf8_lossy(&ours(&fmt, CArg::Int(v))),
                                    String::from_utf8_lossy(&libc_int(&fmt, v)),
                                    "{fmt} with {v}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn strings_match_glibc() {
        for f in ["", "-", "0", "-0"] {
            for w in ["", "1", "4", "10"] {
                for p in ["", ".", ".0", ".2", ".9"] {
                    let fmt = format!("<%{f}{w}{p}s>");
                    for s in [&b""[..], b"ab", b"hello world"] {
                        assert_eq!(
                            ours(&fmt, CArg::Str(s)),
                            libc_str(&fmt, s),
                            "{fmt} with {s:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pieces_are_interpreted_as_c_does() {
        let one = |piece: &str, arg| ours(piece, arg);
        // `%%` collapses; a conversion bpftrace did not count still takes the argument.
        assert_eq!(one("%%d", CArg::Int(5)), b"%d");
        assert_eq!(one("%%%d", CArg::Int(5)), b"%5");
        assert_eq!(one("[%i][%d", CArg::Int(7)), b"[7][0");
        // Unknown conversions print as written; a trailing lone `%` prints nothing.
        assert_eq!(one("[%y][%5][%d", CArg::Int(1)), b"[%y][%5][1");
        assert_eq!(one("[%d%", CArg::Int(1)), b"[1");
        assert_eq!(one("%5%%d", CArg::Int(1)), b"%1");
        assert_eq!(one("%*d", CArg::Int(3)), b"  0");
        assert!(format_piece(&mut Vec::new(), b"%d", Some(CArg::Str(b"x"))).is_err());
        assert!(format_piece(&mut Vec::new(), b"%s", Some(CArg::Int(1))).is_err());
    }
}

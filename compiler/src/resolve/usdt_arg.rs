//! USDT argument specs: the operand text `sys/sdt.h` has the assembler write into each
//! probe's note, one per argument, separated by spaces (`-4@%eax 8@-16(%rbp) 4@$5`). Each is
//! `[-]SIZE@OPERAND`: the size in bytes, negative for a signed value, then an x86-64 AT&T
//! operand the compiler chose for the argument: a register, an immediate, or memory at
//! `[DISP](%BASE[,%INDEX[,SCALE]])`. Decoding turns one into where to read the value from;
//! `lower::usdt` turns that into loads from the probe's registers and the traced process's
//! memory. What cannot be read from a uprobe's registers (an SSE register, a symbol relative
//! to `%rip`, a segment) is an error that says why.

use std::fmt;

/// Where one argument's value is and how wide it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtArg {
    /// 1, 2, 4 or 8 bytes.
    pub size: u32,
    /// Whether the value is sign-extended to 64 bits (a negative size in the spec).
    pub signed: bool,
    pub location: ArgLocation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgLocation {
    /// In a register: read `size` bytes at this byte offset of `struct pt_regs` (the low
    /// bytes of the register; `%ah`-style registers one byte further).
    Register { pt_regs_offset: i32 },
    /// An immediate.
    Constant(i64),
    /// In the traced process's memory at `base + displacement + index * scale`.
    Memory {
        base_pt_regs_offset: i32,
        displacement: i64,
        /// The index register's pt_regs offset and the scale (1, 2, 4 or 8).
        index: Option<(i32, u32)>,
    },
}

/// Why a spec cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgSpecError(pub String);

impl fmt::Display for ArgSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error<T>(reason: impl Into<String>) -> Result<T, ArgSpecError> {
    Err(ArgSpecError(reason.into()))
}

/// The specs of a probe's arguments, in order (a probe without arguments has none).
pub fn split(args: &str) -> Vec<&str> {
    args.split_whitespace().collect()
}

/// Decodes one spec, e.g. `-8@-16(%rbp)`.
pub fn decode(spec: &str) -> Result<UsdtArg, ArgSpecError> {
    let Some((size_text, operand)) = spec.split_once('@') else {
        return error("it has no `SIZE@` prefix (an sdt.h older than version 3)");
    };
    let (signed, digits) = match size_text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, size_text),
    };
    let size = match digits {
        "1" => 1,
        "2" => 2,
        "4" => 4,
        "8" => 8,
        other if other.ends_with('f') => {
            return error("it is a floating-point value, which lives in an SSE register")
        }
        _ => return error(format!("`{size_text}` is not a size of 1, 2, 4 or 8 bytes")),
    };
    if operand.contains(':') {
        return error("it is relative to a segment register (thread-local storage)");
    }
    let location = if let Some(name) = operand.strip_prefix('%') {
        let (offset, _) = register(name)?;
        ArgLocation::Register {
            pt_regs_offset: offset,
        }
    } else if let Some(value) = operand.strip_prefix('$') {
        let Some(value) = integer(value) else {
            return error(format!(
                "`{value}` is not a number (a symbol's address is not known before it runs)"
            ));
        };
        ArgLocation::Constant(value)
    } else {
        memory(operand)?
    };
    // A register narrower than the size would read its neighbour's bytes.
    if let (ArgLocation::Register { .. }, Some(name)) = (&location, operand.strip_prefix('%')) {
        let (_, width) = register(name)?;
        if width < size {
            return error(format!(
                "`%{name}` holds {width} bytes, fewer than the {size} the spec reads"
            ));
        }
    }
    Ok(UsdtArg {
        size,
        signed,
        location,
    })
}

/// `[DISP](%BASE[,%INDEX[,SCALE]])`.
fn memory(operand: &str) -> Result<ArgLocation, ArgSpecError> {
    let Some((disp, rest)) = operand.split_once('(') else {
        return error(format!(
            "`{operand}` is not a register, a constant or memory"
        ));
    };
    let Some(inside) = rest.strip_suffix(')') else {
        return error(format!("`{operand}` has no closing `)`"));
    };
    let displacement = if disp.is_empty() {
        0
    } else {
        match integer(disp) {
            Some(d) => d,
            None if inside == "%rip" => {
                return error(format!(
                    "it is the address of the symbol `{disp}` relative to %rip, which \
                     tracebound cannot resolve yet"
                ))
            }
            None => return error(format!("`{disp}` is not a displacement")),
        }
    };
    let mut parts = inside.split(',');
    let base = parts.next().unwrap_or_default();
    let index = parts.next();
    let scale = parts.next();
    if parts.next().is_some() {
        return error(format!("`{operand}` has too many parts"));
    }
    let base_pt_regs_offset = match base.strip_prefix('%') {
        Some("rip") => return error("it is relative to %rip, which depends on the instruction"),
        Some(name) => register(name)?.0,
        None => return error(format!("`{operand}` has no base register")),
    };
    let index = match index {
        None => None,
        Some(index) => {
            let Some(name) = index.strip_prefix('%') else {
                return error(format!("`{index}` is not an index register"));
            };
            let scale = match scale.unwrap_or("1") {
                "1" => 1,
                "2" => 2,
                "4" => 4,
                "8" => 8,
                other => return error(format!("`{other}` is not a scale of 1, 2, 4 or 8")),
            };
            Some((register(name)?.0, scale))
        }
    };
    Ok(ArgLocation::Memory {
        base_pt_regs_offset,
        displacement,
        index,
    })
}

/// A decimal or `0x` hexadecimal integer, possibly negative.
fn integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u64>().ok()?
        }
        None => return None,
    };
    // Two's complement either way: `$0xffffffffffffffff` is -1 as 8 bytes.
    Some(if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    })
}

/// Offsets of x86-64's `struct pt_regs` fields, in its declaration order.
const PT_REGS: [(&str, i32); 17] = [
    ("r15", 0),
    ("r14", 8),
    ("r13", 16),
    ("r12", 24),
    ("bp", 32),
    ("bx", 40),
    ("r11", 48),
    ("r10", 56),
    ("r9", 64),
    ("r8", 72),
    ("ax", 80),
    ("cx", 88),
    ("dx", 96),
    ("si", 104),
    ("di", 112),
    ("ip", 128),
    ("sp", 152),
];

/// A general-purpose register by any of its AT&T names: the byte offset to read it at in
/// `struct pt_regs` and how many bytes the name covers.
fn register(name: &str) -> Result<(i32, u32), ArgSpecError> {
    let slot = |family: &str| {
        PT_REGS
            .iter()
            .find(|(n, _)| *n == family)
            .map(|&(_, offset)| offset)
    };
    // r8..r15 with their d, w, b suffixes.
    if let Some(rest) = name.strip_prefix('r') {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            let width = match &rest[digits.len()..] {
                "" => 8,
                "d" => 4,
                "w" => 2,
                "b" => 1,
                _ => return unknown_register(name),
            };
            return match slot(&format!("r{digits}")) {
                Some(offset) => Ok((offset, width)),
                None => unknown_register(name),
            };
        }
    }
    // The legacy registers: rax eax ax al ah, rsi esi si sil, ...
    let (family, width, high) = match name {
        "rax" | "rbx" | "rcx" | "rdx" | "rsi" | "rdi" | "rbp" | "rsp" => (&name[1..], 8, false),
        "eax" | "ebx" | "ecx" | "edx" | "esi" | "edi" | "ebp" | "esp" => (&name[1..], 4, false),
        "ax" | "bx" | "cx" | "dx" | "si" | "di" | "bp" | "sp" => (name, 2, false),
        "al" | "bl" | "cl" | "dl" => (&name[..1], 1, false),
        "ah" | "bh" | "ch" | "dh" => (&name[..1], 1, true),
        "sil" | "dil" | "bpl" | "spl" => (&name[..2], 1, false),
        "rip" => ("ip", 8, false),
        _ if name.starts_with("xmm") || name.starts_with("ymm") || name.starts_with("st") => {
            return error(format!(
                "`%{name}` is a floating-point or vector register, which a uprobe cannot read"
            ))
        }
        _ => return unknown_register(name),
    };
    let family = match family {
        // `al` → `ax`'s slot, `bl` → `bx`'s, ...
        "a" | "b" | "c" | "d" => format!("{family}x"),
        other => other.to_string(),
    };
    match slot(&family) {
        Some(offset) => Ok((offset + i32::from(high), width)),
        None => unknown_register(name),
    }
}

fn unknown_register<T>(name: &str) -> Result<T, ArgSpecError> {
    error(format!(
        "`%{name}` is not an x86-64 general-purpose register"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(offset: i32) -> ArgLocation {
        ArgLocation::Register {
            pt_regs_offset: offset,
        }
    }

    fn arg(size: u32, signed: bool, location: ArgLocation) -> UsdtArg {
        UsdtArg {
            size,
            signed,
            location,
        }
    }

    /// The forms GCC emits through sys/sdt.h on x86-64.
    #[test]
    fn decodes_what_gcc_emits() {
        assert_eq!(decode("-8@%rdi"), Ok(arg(8, true, reg(112))));
        assert_eq!(decode("-4@%eax"), Ok(arg(4, true, reg(80))));
        assert_eq!(decode("1@%dl"), Ok(arg(1, false, reg(96))));
        assert_eq!(decode("1@%ah"), Ok(arg(1, false, reg(81))));
        assert_eq!(decode("2@%r9w"), Ok(arg(2, false, reg(64))));
        assert_eq!(decode("4@%r12d"), Ok(arg(4, false, reg(24))));
        assert_eq!(decode("1@%sil"), Ok(arg(1, false, reg(104))));
        assert_eq!(
            decode("-4@$-3"),
            Ok(arg(4, true, ArgLocation::Constant(-3)))
        );
        assert_eq!(
            decode("8@$0x10"),
            Ok(arg(8, false, ArgLocation::Constant(16)))
        );
        assert_eq!(
            decode("-8@(%rsi)"),
            Ok(arg(
                8,
                true,
                ArgLocation::Memory {
                    base_pt_regs_offset: 104,
                    displacement: 0,
                    index: None
                }
            ))
        );
        assert_eq!(
            decode("-4@-20(%rbp)"),
            Ok(arg(
                4,
                true,
                ArgLocation::Memory {
                    base_pt_regs_offset: 32,
                    displacement: -20,
                    index: None
                }
            ))
        );
        assert_eq!(
            decode("8@8(%rax,%rdx,8)"),
            Ok(arg(
                8,
                false,
                ArgLocation::Memory {
                    base_pt_regs_offset: 80,
                    displacement: 8,
                    index: Some((96, 8))
                }
            ))
        );
        assert_eq!(
            decode("2@(%rbx,%rcx)"),
            Ok(arg(
                2,
                false,
                ArgLocation::Memory {
                    base_pt_regs_offset: 40,
                    displacement: 0,
                    index: Some((88, 1))
                }
            ))
        );
        assert_eq!(split("-8@%rdi  8@%rsi\n"), ["-8@%rdi", "8@%rsi"]);
        assert!(split("").is_empty());
    }

    /// Forms a uprobe cannot read, each refused with its reason.
    #[test]
    fn refuses_what_cannot_be_read() {
        let why = |spec: &str| decode(spec).unwrap_err().0;
        assert!(why("-4@vglobal(%rip)").contains("symbol `vglobal`"));
        assert!(why("8@16(%rip)").contains("%rip"));
        assert!(why("8@%xmm0").contains("floating-point or vector"));
        assert!(why("8f@%xmm1").contains("floating-point"));
        assert!(why("%eax").contains("no `SIZE@`"));
        assert!(why("3@%eax").contains("not a size"));
        assert!(why("8@%eax").contains("holds 4 bytes"));
        assert!(why("8@%fs:16").contains("segment"));
        assert!(why("4@%zz").contains("not an x86-64"));
        assert!(why("4@%r16").contains("not an x86-64"));
        assert!(why("4@$sym").contains("not a number"));
        assert!(why("8@8(%rax,%rdx,3)").contains("scale"));
        assert!(why("8@8(%rax").contains("closing"));
        assert!(why("8@").contains("not a register"));
    }
}

//! The length of an x86-64 instruction, enough to tell whether a uprobe offset
//! (`uprobe:BIN:func+OFFSET`, or an address) falls on an instruction boundary. A breakpoint in
//! the middle of an instruction corrupts the traced process, so an offset is only accepted
//! where decoding the function from its entry lands exactly on it.
//!
//! Only lengths are decoded: prefixes, REX, VEX and EVEX, the opcode maps, ModRM, SIB,
//! displacement and immediate. Opcodes invalid in 64-bit mode give `None`.

/// The legacy prefixes.
fn is_prefix(b: u8) -> bool {
    matches!(
        b,
        0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0x66 | 0x67
    )
}

/// Opcode maps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Map {
    One,
    TwoByte,
    ThreeByte38,
    ThreeByte3a,
    /// EVEX maps 5 and 6 (FP16): ModRM, no immediate.
    Evex56,
}

/// An immediate's size.
#[derive(Clone, Copy)]
enum Imm {
    None,
    Byte,
    Word,
    /// 4 bytes, or 2 with the operand-size prefix.
    Z,
    /// `enter`: a word and a byte.
    WordByte,
}

/// The length of the instruction at the start of `code`, or `None` when it is not a valid
/// 64-bit instruction or `code` ends inside it.
pub fn instruction_length(code: &[u8]) -> Option<usize> {
    let mut i = 0;
    let (mut operand16, mut address32) = (false, false);
    while is_prefix(*code.get(i)?) {
        operand16 |= code[i] == 0x66;
        address32 |= code[i] == 0x67;
        i += 1;
        if i > 14 {
            return None;
        }
    }
    let mut rex_w = false;
    if (0x40..=0x4f).contains(code.get(i)?) {
        rex_w = code[i] & 0x08 != 0;
        i += 1;
    }
    let first = *code.get(i)?;
    // VEX (two- and three-byte) and EVEX: ModRM always follows the opcode.
    let (map, opcode) = match first {
        0xc5 => {
            let opcode = *code.get(i + 2)?;
            i += 3;
            (Map::TwoByte, opcode)
        }
        0xc4 => {
            let map = vex_map(code.get(i + 1)? & 0x1f)?;
            let opcode = *code.get(i + 3)?;
            i += 4;
            (map, opcode)
        }
        0x62 => {
            let map = match code.get(i + 1)? & 0x07 {
                1 => Map::TwoByte,
                2 => Map::ThreeByte38,
                3 => Map::ThreeByte3a,
                5 | 6 => Map::Evex56,
                _ => return None,
            };
            let opcode = *code.get(i + 4)?;
            i += 5;
            (map, opcode)
        }
        0x0f => match *code.get(i + 1)? {
            0x38 => {
                let opcode = *code.get(i + 2)?;
                i += 3;
                (Map::ThreeByte38, opcode)
            }
            0x3a => {
                let opcode = *code.get(i + 2)?;
                i += 3;
                (Map::ThreeByte3a, opcode)
            }
            opcode => {
                i += 2;
                (Map::TwoByte, opcode)
            }
        },
        opcode => {
            i += 1;
            (Map::One, opcode)
        }
    };
    let vex = matches!(first, 0xc4 | 0xc5 | 0x62);
    let (modrm, imm) = match map {
        Map::One => one_byte(opcode, code.get(i).copied(), rex_w, address32)?,
        // vzeroupper / vzeroall: no operands at all
        Map::TwoByte if vex && opcode == 0x77 => (false, Imm::None),
        Map::TwoByte if vex => (true, vex_two_byte_imm(opcode)),
        Map::TwoByte => two_byte(opcode)?,
        Map::ThreeByte38 | Map::Evex56 => (true, Imm::None),
        Map::ThreeByte3a => (true, Imm::Byte),
    };
    // A moffs or imm64 form, sized by `one_byte` as an exact byte count.
    if let Some(extra) = fixed_tail(map, opcode, rex_w, address32) {
        return (i + extra <= code.len()).then_some(i + extra);
    }
    if modrm {
        i += modrm_length(&code[i..])?;
    }
    i += match imm {
        Imm::None => 0,
        Imm::Byte => 1,
        Imm::Word => 2,
        Imm::Z if operand16 => 2,
        Imm::Z => 4,
        Imm::WordByte => 3,
    };
    (i <= code.len()).then_some(i)
}

fn vex_map(m: u8) -> Option<Map> {
    match m {
        1 => Some(Map::TwoByte),
        2 => Some(Map::ThreeByte38),
        3 => Some(Map::ThreeByte3a),
        _ => None,
    }
}

/// Bytes after the opcode of instructions without ModRM whose operand is not a usual
/// immediate: `mov` to/from a 64-bit absolute address, and `mov r64, imm64`.
fn fixed_tail(map: Map, opcode: u8, rex_w: bool, address32: bool) -> Option<usize> {
    match (map, opcode) {
        (Map::One, 0xa0..=0xa3) => Some(if address32 { 4 } else { 8 }),
        (Map::One, 0xb8..=0xbf) if rex_w => Some(8),
        _ => None,
    }
}

/// ModRM presence and immediate of a one-byte opcode; `None` for opcodes invalid in 64-bit
/// mode. `next` is the byte after the opcode (ModRM, whose reg field picks `test`'s form).
fn one_byte(opcode: u8, next: Option<u8>, _rex_w: bool, _address32: bool) -> Option<(bool, Imm)> {
    let reg = next.map(|m| (m >> 3) & 7);
    Some(match opcode {
        0x00..=0x3f => match opcode & 0x07 {
            0..=3 => (true, Imm::None),
            4 => (false, Imm::Byte),
            5 => (false, Imm::Z),
            // push/pop of segment registers, daa/das/aaa/aas: invalid in 64-bit mode
            _ => return None,
        },
        0x50..=0x5f => (false, Imm::None),
        0x63 => (true, Imm::None),
        0x68 => (false, Imm::Z),
        0x69 => (true, Imm::Z),
        0x6a => (false, Imm::Byte),
        0x6b => (true, Imm::Byte),
        0x6c..=0x6f => (false, Imm::None),
        0x70..=0x7f => (false, Imm::Byte),
        0x80 | 0x83 => (true, Imm::Byte),
        0x81 => (true, Imm::Z),
        0x84..=0x8f => (true, Imm::None),
        0x90..=0x99 | 0x9b..=0x9f => (false, Imm::None),
        0xa4..=0xa7 | 0xaa..=0xaf => (false, Imm::None),
        0xa8 => (false, Imm::Byte),
        0xa9 => (false, Imm::Z),
        0xa0..=0xa3 => (false, Imm::None), // fixed_tail
        0xb0..=0xb7 => (false, Imm::Byte),
        0xb8..=0xbf => (false, Imm::Z), // imm64 with REX.W: fixed_tail
        0xc0 | 0xc1 => (true, Imm::Byte),
        0xc2 | 0xca => (false, Imm::Word),
        0xc3 | 0xc9 | 0xcb | 0xcc | 0xcf => (false, Imm::None),
        0xc6 => (true, Imm::Byte),
        0xc7 => (true, Imm::Z),
        0xc8 => (false, Imm::WordByte),
        0xcd => (false, Imm::Byte),
        0xd0..=0xd3 => (true, Imm::None),
        0xd7 => (false, Imm::None),
        0xd8..=0xdf => (true, Imm::None),
        0xe0..=0xe7 => (false, Imm::Byte),
        0xe8 | 0xe9 => (false, Imm::Z),
        0xeb => (false, Imm::Byte),
        0xec..=0xef | 0xf1 | 0xf4 | 0xf5 | 0xf8..=0xfd => (false, Imm::None),
        // test r/m, imm (reg 0 and 1) has an immediate; not, neg, mul, div do not
        0xf6 => (true, if reg? <= 1 { Imm::Byte } else { Imm::None }),
        0xf7 => (true, if reg? <= 1 { Imm::Z } else { Imm::None }),
        0xfe | 0xff => (true, Imm::None),
        // 0x60-0x62 (0x62 is EVEX), 0x9a, 0xce, 0xd4-0xd6, 0xea: invalid in 64-bit mode
        _ => return None,
    })
}

/// ModRM presence and immediate of a `0F xx` opcode.
fn two_byte(opcode: u8) -> Option<(bool, Imm)> {
    Some(match opcode {
        0x00..=0x03 | 0x0d | 0x10..=0x2f => (true, Imm::None),
        0x05..=0x09 | 0x0b | 0x0e => (false, Imm::None),
        0x0f => (true, Imm::Byte), // 3DNow!: the immediate is the operation
        0x30..=0x37 => (false, Imm::None),
        0x40..=0x6f => (true, Imm::None),
        0x70..=0x73 => (true, Imm::Byte),
        0x74..=0x76 | 0x78 | 0x79 | 0x7c..=0x7f => (true, Imm::None),
        0x77 => (false, Imm::None),
        0x80..=0x8f => (false, Imm::Z),
        0x90..=0x9f => (true, Imm::None),
        0xa0..=0xa2 | 0xa8..=0xaa => (false, Imm::None),
        0xa3 | 0xa5 | 0xab | 0xad..=0xaf => (true, Imm::None),
        0xa4 | 0xac | 0xba | 0xc2 | 0xc4..=0xc6 => (true, Imm::Byte),
        0xb0..=0xb9 | 0xbb..=0xbf | 0xc0 | 0xc1 | 0xc3 | 0xc7 => (true, Imm::None),
        0xc8..=0xcf => (false, Imm::None),
        0xd0..=0xff => (true, Imm::None),
        _ => return None,
    })
}

/// The immediate of a VEX/EVEX instruction in the `0F` map.
fn vex_two_byte_imm(opcode: u8) -> Imm {
    match opcode {
        0x70..=0x73 | 0xc2 | 0xc4..=0xc6 => Imm::Byte,
        _ => Imm::None,
    }
}

/// ModRM, SIB and displacement, from the ModRM byte on (64-bit and 32-bit addressing share
/// the layout).
fn modrm_length(code: &[u8]) -> Option<usize> {
    let modrm = *code.first()?;
    let (mode, rm) = (modrm >> 6, modrm & 7);
    if mode == 3 {
        return Some(1);
    }
    let mut n = 1;
    let mut base = rm;
    if rm == 4 {
        base = code.get(1)? & 7;
        n += 1;
    }
    n += match mode {
        0 if rm == 5 => 4,   // rip-relative
        0 if base == 5 => 4, // SIB without base
        0 => 0,
        1 => 1,
        _ => 4,
    };
    Some(n)
}

/// Whether `offset` is where an instruction starts, decoding `code` (a function) from its
/// first byte.
pub fn is_boundary(code: &[u8], offset: usize) -> bool {
    let mut at = 0;
    while at < offset {
        match instruction_length(&code[at..]) {
            Some(n) => at += n,
            None => return false,
        }
    }
    at == offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_common_instructions() {
        for (bytes, len) in [
            (&[0x55][..], 1),                            // push %rbp
            (&[0x48, 0x89, 0xe5], 3),                    // mov %rsp,%rbp
            (&[0x48, 0x83, 0xec, 0x18], 4),              // sub $0x18,%rsp
            (&[0xf3, 0x0f, 0x1e, 0xfa], 4),              // endbr64
            (&[0xe8, 0, 0, 0, 0], 5),                    // call rel32
            (&[0x48, 0x8d, 0x44, 0x7f, 0x01], 5),        // lea 0x1(%rdi,%rdi,2),%rax
            (&[0x48, 0x8b, 0x15, 8, 0x2e, 0, 0], 7),     // mov 0x2e08(%rip),%rdx
            (&[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10), // movabs $imm64,%rax
            (&[0x66, 0x0f, 0x1f, 0x44, 0, 0], 6),        // nopw 0x0(%rax,%rax,1)
            (&[0xf0, 0xff, 0x0f], 3),                    // lock decl (%rdi)
            (&[0xc5, 0xf9, 0x6f, 0x07], 4),              // vmovdqa (%rdi),%xmm0
            (&[0xc4, 0xe3, 0x79, 0x0f, 0xc1, 0x08], 6),  // vpalignr $8,...
            (&[0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x07], 6),  // vmovdqa32 (%rdi),%zmm0
            (&[0xf6, 0x47, 0x08, 0x01], 4),              // testb $1,0x8(%rdi)
            (&[0xf7, 0xd8], 2),                          // neg %eax
            (&[0x66, 0xc7, 0x07, 1, 0], 5),              // movw $1,(%rdi)
            (&[0x0f, 0x84, 0, 0, 0, 0], 6),              // je rel32
        ] {
            assert_eq!(instruction_length(bytes), Some(len), "{bytes:02x?}");
        }
        assert_eq!(instruction_length(&[0x06]), None); // push %es: invalid in 64-bit mode
        assert_eq!(instruction_length(&[0x48, 0x89]), None); // cut short
    }

    #[test]
    fn boundaries_inside_a_function() {
        // push %rbp; mov %rsp,%rbp; push %rbx
        let code = [0x55, 0x48, 0x89, 0xe5, 0x53];
        assert!(is_boundary(&code, 0));
        assert!(is_boundary(&code, 1));
        assert!(!is_boundary(&code, 2));
        assert!(is_boundary(&code, 4));
    }

    /// Every instruction boundary objdump finds in the C library's functions and in this test
    /// binary's (gcc's and LLVM's code), found again.
    #[test]
    fn agrees_with_objdump() {
        let libc = crate::facts::binary::find("libc").expect("the C library");
        let me = std::env::current_exe().unwrap();
        for (path, at_least) in [(libc, 100_000), (me, 100_000)] {
            let Some(checked) = compare_with_objdump(&path) else {
                return;
            };
            assert!(
                checked > at_least,
                "{}: only {checked} checked",
                path.display()
            );
        }
    }

    /// Instructions checked, or `None` when objdump is missing outside CI.
    fn compare_with_objdump(path: &std::path::Path) -> Option<usize> {
        use object::{Object as _, ObjectSection as _};
        let out = match std::process::Command::new("objdump")
            .args(["-d", "--no-show-raw-insn", "-j", ".text"])
            .arg(path)
            .output()
        {
            Ok(out) => out,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("objdump not available ({e}); skipped outside CI");
                return None;
            }
            Err(e) => panic!("objdump (binutils) is needed under CI: {e}"),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let bytes = std::fs::read(path).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let section = file.section_by_name(".text").unwrap();
        let (file_offset, _) = section.file_range().unwrap();
        // objdump's addresses are virtual: bytes are at address - this.
        let delta = section.address() - file_offset;
        let mut starts: Vec<u64> = Vec::new();
        let mut checked = 0;
        let mut mismatches = Vec::new();
        let mut flush = |starts: &mut Vec<u64>| {
            for pair in starts.windows(2) {
                let (a, b) = ((pair[0] - delta) as usize, (pair[1] - delta) as usize);
                checked += 1;
                if instruction_length(&bytes[a..]) != Some(b - a) && mismatches.len() < 10 {
                    mismatches.push(format!("{a:x}: {:02x?}", &bytes[a..b.min(a + 15)]));
                }
            }
            starts.clear();
        };
        for line in text.lines() {
            if line.ends_with(">:") || line.contains("(bad)") || line.trim().is_empty() {
                flush(&mut starts);
                continue;
            }
            let Some((addr, _)) = line.trim_start().split_once(':') else {
                continue;
            };
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                starts.push(a);
            }
        }
        flush(&mut starts);
        assert!(
            mismatches.is_empty(),
            "{}: of {checked}: {mismatches:#?}",
            path.display()
        );
        Some(checked)
    }
}

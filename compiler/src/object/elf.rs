//! The few pieces of ELF64 (little-endian, relocatable) that a BPF object needs: header,
//! section headers, symbols and `Elf64_Rel` entries, encoded by hand. Numbers are the gABI's
//! (and `R_BPF_64_64` the kernel's `Documentation/bpf/llvm_reloc.rst`).

/// `EM_BPF`.
pub const EM_BPF: u16 = 247;
/// `ET_REL`: a relocatable object, as clang emits for BPF and as aya expects.
pub const ET_REL: u16 = 1;

pub const SHT_PROGBITS: u32 = 1;
pub const SHT_SYMTAB: u32 = 2;
pub const SHT_STRTAB: u32 = 3;
pub const SHT_NOBITS: u32 = 8;
pub const SHT_REL: u32 = 9;

pub const SHF_WRITE: u64 = 0x1;
pub const SHF_ALLOC: u64 = 0x2;
pub const SHF_EXECINSTR: u64 = 0x4;
/// `sh_info` holds a section index (set on relocation sections).
pub const SHF_INFO_LINK: u64 = 0x40;

pub const STB_GLOBAL: u8 = 1;
pub const STT_OBJECT: u8 = 1;
pub const STT_FUNC: u8 = 2;

/// A 64-bit absolute relocation on an `ld_imm64`: the loader writes the map there.
pub const R_BPF_64_64: u32 = 1;

pub const EHDR_SIZE: usize = 64;
pub const SHDR_SIZE: usize = 64;
pub const SYM_SIZE: usize = 24;
pub const REL_SIZE: usize = 16;

/// One section header's fields (`Elf64_Shdr`), less the name and file placement, which the
/// writer fills in.
#[derive(Clone, Debug, Default)]
pub struct SectionHeader {
    pub name: u32,
    pub sh_type: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub align: u64,
    pub entsize: u64,
}

impl SectionHeader {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend(self.name.to_le_bytes());
        out.extend(self.sh_type.to_le_bytes());
        out.extend(self.flags.to_le_bytes());
        out.extend(0u64.to_le_bytes()); // sh_addr: nothing is placed in a relocatable object
        out.extend(self.offset.to_le_bytes());
        out.extend(self.size.to_le_bytes());
        out.extend(self.link.to_le_bytes());
        out.extend(self.info.to_le_bytes());
        out.extend(self.align.to_le_bytes());
        out.extend(self.entsize.to_le_bytes());
    }
}

/// The file header of a little-endian ELF64 BPF relocatable object.
pub fn write_header(out: &mut Vec<u8>, shoff: u64, shnum: u16, shstrndx: u16) {
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE, padding.
    out.extend([0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    out.extend([0u8; 8]);
    out.extend(ET_REL.to_le_bytes());
    out.extend(EM_BPF.to_le_bytes());
    out.extend(1u32.to_le_bytes()); // e_version
    out.extend(0u64.to_le_bytes()); // e_entry
    out.extend(0u64.to_le_bytes()); // e_phoff: no program headers
    out.extend(shoff.to_le_bytes());
    out.extend(0u32.to_le_bytes()); // e_flags
    out.extend((EHDR_SIZE as u16).to_le_bytes());
    out.extend(0u16.to_le_bytes()); // e_phentsize
    out.extend(0u16.to_le_bytes()); // e_phnum
    out.extend((SHDR_SIZE as u16).to_le_bytes());
    out.extend(shnum.to_le_bytes());
    out.extend(shstrndx.to_le_bytes());
}

/// One `Elf64_Sym`.
pub fn write_symbol(
    out: &mut Vec<u8>,
    name: u32,
    bind: u8,
    kind: u8,
    shndx: u16,
    value: u64,
    size: u64,
) {
    out.extend(name.to_le_bytes());
    out.push((bind << 4) | kind);
    out.push(0); // st_other: STV_DEFAULT
    out.extend(shndx.to_le_bytes());
    out.extend(value.to_le_bytes());
    out.extend(size.to_le_bytes());
}

/// One `Elf64_Rel` (BPF objects use REL, not RELA: the addend lives in the instruction).
pub fn write_rel(out: &mut Vec<u8>, offset: u64, symbol: u32, kind: u32) {
    out.extend(offset.to_le_bytes());
    out.extend(((u64::from(symbol) << 32) | u64::from(kind)).to_le_bytes());
}

/// A string table: NUL-separated names, offset 0 being the empty name. Names are shared.
#[derive(Debug)]
pub struct StringTable {
    bytes: Vec<u8>,
    offsets: std::collections::HashMap<String, u32>,
}

impl StringTable {
    pub fn new() -> StringTable {
        StringTable {
            bytes: vec![0],
            offsets: std::collections::HashMap::new(),
        }
    }

    pub fn add(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&at) = self.offsets.get(name) {
            return at;
        }
        let at = self.bytes.len() as u32;
        self.bytes.extend(name.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(name.to_string(), at);
        at
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

//! The object writer: programs, maps and map relocations in, an ELF64 little-endian relocatable
//! BPF object out, in the plain form aya's loader accepts without BTF.
//!
//! Layout (section indices are fixed so that symbols and relocations can name them):
//!
//! | index | section            | contents                                                  |
//! |-------|--------------------|-----------------------------------------------------------|
//! | 0     | (null)             |                                                           |
//! | 1     | `.strtab`          | section names and symbol names (one table for both)       |
//! | 2     | `.symtab`          | null symbol, one GLOBAL OBJECT per map, one GLOBAL FUNC per program |
//! | 3     | `license`          | the license, NUL-terminated (the kernel gates GPL-only helpers on it) |
//! | 4     | `maps`             | one 20-byte legacy `struct bpf_map_def` per map (omitted when there are no maps) |
//! | then  | `<program section>`| one section per program, its instructions, FUNC symbol at 0 |
//! |       | `.rel<section>`    | right after its program when it loads maps or callbacks: `R_BPF_64_64` on each `ld_imm64`, against the map's or the callback's symbol |
//! | then  | `.text`, `.rel.text` | callbacks, when there are any: one FUNC symbol each |
//! |       | `.BTF`, `.BTF.ext` | with callbacks only: the `func_info` the verifier needs for them (see `btf`) |
//! | then  | `.bss`             | the guard's sampling masks, when there are any (`SHT_NOBITS`: zeroes); one GLOBAL OBJECT symbol, `tb_globals`, after the functions' |
//! | last  | `.bss.tb_counts`   | the loss counters, when there are any (zeroes); one GLOBAL OBJECT symbol, `tb_counts`, after `tb_globals` |
//!
//! Why this shape, from aya-obj 0.3 (aya 0.14):
//! - A section is a program section when it is executable and its name parses as a program
//!   kind (`tracepoint/...`, `raw_tracepoint/...`, `perf_event`, `uprobe/...`, ...); every
//!   FUNC symbol in it is a program named after the symbol, its code `st_value..+st_size`.
//!   One section per program keeps relocation offsets equal to instruction offsets.
//! - Every symbol in `maps` is a map: its name is the map's name, its bytes `st_value..+st_size`
//!   are the definition. So the writer emits no section symbol there (an empty one would be read
//!   as a map with a 0-byte definition and rejected), and leaves the section out when there are
//!   no maps (a `maps` section without symbols is an error).
//! - The definition is the five fields every legacy loader agrees on (type, key size, value
//!   size, max entries, flags); aya fills its own extras (id, pinning) with zero: not pinned.
//! - A function in `.text` is linked into each program that references it: the loader appends
//!   it after the program and turns the `ld_imm64` into a `BPF_PSEUDO_FUNC` offset.
//! - A map load is found through the relocation's symbol; the loader writes the map's fd into
//!   the `ld_imm64` and sets its source to `BPF_PSEUDO_MAP_FD`, so the immediate written here
//!   does not matter.
//! - A load of the global data (`Insn::ld_global`) is relocated against `tb_globals` or
//!   `tb_counts`: aya makes each section whose name starts `.bss` a one-entry array map named
//!   after the section, writes its fd into the first immediate
//!   and the offset (the first immediate as written here) into the second, and sets the source
//!   to `BPF_PSEUDO_MAP_VALUE`: the program holds the value's address, no lookup.

mod btf;
mod elf;

use crate::insn::{DataSection, Insn};
use crate::program::COUNTERS_MAP as COUNTERS_SECTION;
use elf::{SectionHeader, StringTable};

/// Everything one object holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectSpec {
    /// The license string ("GPL" lets programs call GPL-only helpers).
    pub license: String,
    pub maps: Vec<MapSpec>,
    pub programs: Vec<ProgramSpec>,
    /// Callbacks, all in `.text`.
    pub functions: Vec<FunctionSpec>,
    /// Bytes of the guard's masks (`.bss`); 0: none.
    pub globals: u32,
    /// Bytes of the loss counters (`.bss.tb_counts`); 0: none.
    pub counters: u32,
}

/// A map definition (legacy `struct bpf_map_def`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map's symbol name, e.g. `tb_m0` (the kernel keeps 15 characters).
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub flags: u32,
}

/// One program: a global function in its own section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The program's symbol name, `tb_...`.
    pub name: String,
    /// The section name, which tells the loader the program type, e.g.
    /// `tracepoint/syscalls/sys_enter_openat`, `raw_tracepoint/sys_enter`, `perf_event`.
    pub section: String,
    pub insns: Vec<Insn>,
    /// `(index of the first slot of an ld_imm64, index into ObjectSpec::maps)`.
    pub map_relocations: Vec<(usize, usize)>,
    /// `(index of the first slot of an ld_imm64, index into ObjectSpec::functions)`.
    pub func_relocations: Vec<(usize, usize)>,
    /// Indexes of the first slots of the ld_imm64s of the global data, and which section.
    pub global_relocations: Vec<(usize, DataSection)>,
}

/// A callback: a static function in `.text` that programs reference by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The symbol name, `tb_...`.
    pub name: String,
    pub insns: Vec<Insn>,
    pub map_relocations: Vec<(usize, usize)>,
    pub func_relocations: Vec<(usize, usize)>,
    pub global_relocations: Vec<(usize, DataSection)>,
}

/// BPF instructions are 8 bytes each.
const INSN_SIZE: u64 = 8;
/// The legacy map definition: five u32 fields.
const MAP_DEF_SIZE: u64 = 20;

const STRTAB_INDEX: u32 = 1;
const SYMTAB_INDEX: u32 = 2;
const LICENSE_INDEX: u32 = 3;
const MAPS_INDEX: u32 = 4;

/// A section about to be laid out: its header (less name offset and placement) and bytes.
struct Section {
    name: String,
    header: SectionHeader,
    data: Vec<u8>,
}

impl Section {
    fn new(name: &str, sh_type: u32, flags: u64, align: u64, data: Vec<u8>) -> Section {
        Section {
            name: name.to_string(),
            header: SectionHeader {
                sh_type,
                flags,
                align,
                ..SectionHeader::default()
            },
            data,
        }
    }
}

/// Writes the object. The spec must be well formed — unique names, every relocation on the
/// first slot of an `ld_imm64` and naming an existing map — as the code generator guarantees;
/// anything else is a compiler bug and panics.
pub fn write_object(spec: &ObjectSpec) -> Vec<u8> {
    check_spec(spec);
    let code = code_sections(spec);
    let (code_indices, after_code) = code_section_indices(spec, &code);
    let globals_index = after_code + if spec.functions.is_empty() { 0 } else { 2 };
    let mut strings = StringTable::new();
    let mut sections = vec![
        symbol_table(spec, &code, &code_indices, globals_index, &mut strings),
        license_section(spec),
    ];
    sections.extend(maps_section(spec));
    for (section, &index) in code.iter().zip(&code_indices) {
        sections.extend(code_and_relocations(spec, section, index));
    }
    if !spec.functions.is_empty() {
        sections.extend(btf_sections(spec, &code));
    }
    for (name, size) in [(".bss", spec.globals), (COUNTERS_SECTION, spec.counters)] {
        if size > 0 {
            let mut bss = Section::new(
                name,
                elf::SHT_NOBITS,
                elf::SHF_ALLOC | elf::SHF_WRITE,
                8,
                Vec::new(),
            );
            bss.header.size = size as u64;
            sections.push(bss);
        }
    }
    lay_out(sections, strings)
}

/// Code sections: one per program, then `.text` with every callback.
fn code_sections(spec: &ObjectSpec) -> Vec<CodeSection> {
    let mut code = Vec::new();
    for p in &spec.programs {
        code.push(CodeSection {
            name: p.section.clone(),
            insns: p.insns.clone(),
            functions: vec![(p.name.clone(), 0, p.insns.len())],
            relocations: relocations(
                0,
                &p.map_relocations,
                &p.func_relocations,
                &p.global_relocations,
            ),
        });
    }
    if !spec.functions.is_empty() {
        let mut text = CodeSection {
            name: ".text".into(),
            insns: Vec::new(),
            functions: Vec::new(),
            relocations: Vec::new(),
        };
        for f in &spec.functions {
            let at = text.insns.len();
            text.functions.push((f.name.clone(), at, f.insns.len()));
            text.relocations.extend(relocations(
                at,
                &f.map_relocations,
                &f.func_relocations,
                &f.global_relocations,
            ));
            text.insns.extend(&f.insns);
        }
        code.push(text);
    }
    code
}

/// Each code section's index, known before any is written: symbols and relocation sections
/// refer to them. A section with relocations is followed by its `.rel` section. Then the
/// index after them.
fn code_section_indices(spec: &ObjectSpec, code: &[CodeSection]) -> (Vec<u32>, u32) {
    let first_code_index = if spec.maps.is_empty() {
        MAPS_INDEX
    } else {
        MAPS_INDEX + 1
    };
    let mut code_indices = Vec::with_capacity(code.len());
    let mut next = first_code_index;
    for section in code {
        code_indices.push(next);
        next += if section.relocations.is_empty() { 1 } else { 2 };
    }
    (code_indices, next)
}

/// The symbol of map `map`, of callback `f` (after the null symbol, maps and programs).
fn map_symbol(map: usize) -> u32 {
    1 + map as u32
}

fn function_symbol(spec: &ObjectSpec, f: usize) -> u32 {
    1 + (spec.maps.len() + spec.programs.len() + f) as u32
}

/// The symbol of a global data section: the masks' after every function's, then the
/// counters'.
fn data_symbol(spec: &ObjectSpec, section: DataSection) -> u32 {
    let first = 1 + (spec.maps.len() + spec.programs.len() + spec.functions.len()) as u32;
    match section {
        DataSection::Masks => first,
        DataSection::Counters => first + u32::from(spec.globals > 0),
    }
}

/// Symbols: null, maps, then functions (programs, then callbacks), then the global data's;
/// all global, so `sh_info` (first non-local) is 1.
fn symbol_table(
    spec: &ObjectSpec,
    code: &[CodeSection],
    code_indices: &[u32],
    globals_index: u32,
    strings: &mut StringTable,
) -> Section {
    let mut symtab = vec![0u8; elf::SYM_SIZE];
    for (i, map) in spec.maps.iter().enumerate() {
        elf::write_symbol(
            &mut symtab,
            strings.add(&map.name),
            elf::STB_GLOBAL,
            elf::STT_OBJECT,
            MAPS_INDEX as u16,
            i as u64 * MAP_DEF_SIZE,
            MAP_DEF_SIZE,
        );
    }
    for (section, &index) in code.iter().zip(code_indices) {
        for (name, at, len) in &section.functions {
            elf::write_symbol(
                &mut symtab,
                strings.add(name),
                elf::STB_GLOBAL,
                elf::STT_FUNC,
                index as u16,
                *at as u64 * INSN_SIZE,
                *len as u64 * INSN_SIZE,
            );
        }
    }
    let data = [("tb_globals", spec.globals), ("tb_counts", spec.counters)];
    let present = data.into_iter().filter(|(_, size)| *size > 0);
    for (index, (name, size)) in (globals_index..).zip(present) {
        elf::write_symbol(
            &mut symtab,
            strings.add(name),
            elf::STB_GLOBAL,
            elf::STT_OBJECT,
            index as u16,
            0,
            size as u64,
        );
    }
    let mut symtab_section = Section::new(".symtab", elf::SHT_SYMTAB, 0, 8, symtab);
    symtab_section.header.link = STRTAB_INDEX;
    symtab_section.header.info = 1;
    symtab_section.header.entsize = elf::SYM_SIZE as u64;
    symtab_section
}

fn license_section(spec: &ObjectSpec) -> Section {
    let mut license = spec.license.as_bytes().to_vec();
    license.push(0);
    Section::new(
        "license",
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
        1,
        license,
    )
}

/// The legacy `maps` section: one `bpf_map_def` per map; none without maps.
fn maps_section(spec: &ObjectSpec) -> Option<Section> {
    if spec.maps.is_empty() {
        return None;
    }
    let mut defs = Vec::with_capacity(spec.maps.len() * MAP_DEF_SIZE as usize);
    for map in &spec.maps {
        for field in [
            map.map_type,
            map.key_size,
            map.value_size,
            map.max_entries,
            map.flags,
        ] {
            defs.extend(field.to_le_bytes());
        }
    }
    Some(Section::new(
        "maps",
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_WRITE,
        4,
        defs,
    ))
}

/// A code section, and its `.rel` section when it has relocations.
fn code_and_relocations(spec: &ObjectSpec, section: &CodeSection, index: u32) -> Vec<Section> {
    let bytes = section.insns.iter().flat_map(|i| i.to_bytes()).collect();
    let mut out = vec![Section::new(
        &section.name,
        elf::SHT_PROGBITS,
        elf::SHF_ALLOC | elf::SHF_EXECINSTR,
        8,
        bytes,
    )];
    if section.relocations.is_empty() {
        return out;
    }
    let mut rels = Vec::with_capacity(section.relocations.len() * elf::REL_SIZE);
    for &(insn, target) in &section.relocations {
        let symbol = match target {
            Target::Map(m) => map_symbol(m),
            Target::Function(f) => function_symbol(spec, f),
            Target::Data(section) => data_symbol(spec, section),
        };
        elf::write_rel(&mut rels, insn as u64 * INSN_SIZE, symbol, elf::R_BPF_64_64);
    }
    let mut rel = Section::new(
        &format!(".rel{}", section.name),
        elf::SHT_REL,
        elf::SHF_INFO_LINK,
        8,
        rels,
    );
    rel.header.link = SYMTAB_INDEX;
    rel.header.info = index;
    rel.header.entsize = elf::REL_SIZE as u64;
    out.push(rel);
    out
}

/// `.BTF` and `.BTF.ext` with every function's func_info, which the verifier demands once a
/// program has a callback.
fn btf_sections(spec: &ObjectSpec, code: &[CodeSection]) -> [Section; 2] {
    let places: Vec<btf::FuncPlace> = code
        .iter()
        .enumerate()
        .flat_map(|(n, section)| {
            section
                .functions
                .iter()
                .map(move |(name, at, _)| btf::FuncPlace {
                    name,
                    section: &section.name,
                    offset: *at as u64 * INSN_SIZE,
                    is_program: n < spec.programs.len(),
                })
        })
        .collect();
    let (types, ext) = btf::sections(&places);
    [
        Section::new(".BTF", elf::SHT_PROGBITS, 0, 4, types),
        Section::new(".BTF.ext", elf::SHT_PROGBITS, 0, 4, ext),
    ]
}

/// The file: header, the string table at index 1 (complete only once every section and
/// symbol has a name), section contents (each aligned), then the section header table.
fn lay_out(mut sections: Vec<Section>, mut strings: StringTable) -> Vec<u8> {
    let mut headers = vec![SectionHeader::default()];
    let strtab_name = strings.add(".strtab");
    for section in &mut sections {
        section.header.name = strings.add(&section.name);
    }
    let mut strtab = Section::new(".strtab", elf::SHT_STRTAB, 0, 1, strings.into_bytes());
    strtab.header.name = strtab_name;
    sections.insert(0, strtab);
    debug_assert_eq!(sections[SYMTAB_INDEX as usize - 1].name, ".symtab");
    debug_assert_eq!(sections[LICENSE_INDEX as usize - 1].name, "license");

    // Header, section contents (each aligned), then the section header table.
    let mut body = vec![0u8; elf::EHDR_SIZE];
    for mut section in sections {
        pad_to(&mut body, section.header.align as usize);
        section.header.offset = body.len() as u64;
        if section.header.sh_type != elf::SHT_NOBITS {
            section.header.size = section.data.len() as u64;
        }
        body.extend(&section.data);
        headers.push(section.header);
    }
    pad_to(&mut body, 8);
    let shoff = body.len() as u64;
    for header in &headers {
        header.write(&mut body);
    }
    let mut file_header = Vec::with_capacity(elf::EHDR_SIZE);
    elf::write_header(
        &mut file_header,
        shoff,
        headers.len() as u16,
        STRTAB_INDEX as u16,
    );
    body[..elf::EHDR_SIZE].copy_from_slice(&file_header);
    body
}

/// A section of code: its functions as (symbol, first instruction, length) and its
/// relocations as (instruction, what the `ld_imm64` loads).
struct CodeSection {
    name: String,
    insns: Vec<Insn>,
    functions: Vec<(String, usize, usize)>,
    relocations: Vec<(usize, Target)>,
}

#[derive(Clone, Copy)]
enum Target {
    Map(usize),
    Function(usize),
    Data(DataSection),
}

/// One function's relocations, shifted to where it starts in its section.
fn relocations(
    at: usize,
    maps: &[(usize, usize)],
    functions: &[(usize, usize)],
    globals: &[(usize, DataSection)],
) -> Vec<(usize, Target)> {
    let maps = maps.iter().map(|&(i, m)| (at + i, Target::Map(m)));
    let functions = functions
        .iter()
        .map(|&(i, f)| (at + i, Target::Function(f)));
    let globals = globals.iter().map(|&(i, d)| (at + i, Target::Data(d)));
    maps.chain(functions).chain(globals).collect()
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    out.resize(out.len().next_multiple_of(align.max(1)), 0);
}

/// The invariants the code generator keeps; a violation would load as a wrong program (a
/// relocation landing mid-instruction, two programs under one name), so it stops here.
fn check_spec(spec: &ObjectSpec) {
    assert!(
        !spec.license.is_empty() && !spec.license.contains('\0'),
        "license must be a non-empty C string"
    );
    let mut names = std::collections::HashSet::new();
    for map in &spec.maps {
        assert!(names.insert(&map.name), "duplicate map name {}", map.name);
    }
    let mut names = std::collections::HashSet::new();
    for program in &spec.programs {
        assert!(
            names.insert(&program.name),
            "duplicate program name {}",
            program.name
        );
        assert!(
            !program.insns.is_empty(),
            "program {} is empty",
            program.name
        );
        for &(insn, map) in &program.map_relocations {
            assert!(
                map < spec.maps.len(),
                "{}: relocation names map {map} of {}",
                program.name,
                spec.maps.len()
            );
            assert!(
                program.insns.get(insn).is_some_and(|i| i.is_wide())
                    && insn + 1 < program.insns.len(),
                "{}: relocation at {insn} is not on an ld_imm64",
                program.name
            );
        }
    }
    let globals = spec
        .programs
        .iter()
        .map(|p| (&p.name, &p.insns, &p.global_relocations))
        .chain(
            spec.functions
                .iter()
                .map(|f| (&f.name, &f.insns, &f.global_relocations)),
        );
    for (name, insns, relocations) in globals {
        for &(insn, section) in relocations {
            let size = match section {
                DataSection::Masks => spec.globals,
                DataSection::Counters => spec.counters,
            };
            assert!(size > 0, "{name}: loads global data, none declared");
            assert!(
                insns.get(insn).is_some_and(|i| i.is_wide()) && insn + 1 < insns.len(),
                "{name}: relocation at {insn} is not on an ld_imm64"
            );
        }
    }
    let all_code = spec
        .programs
        .iter()
        .map(|p| (&p.name, &p.insns, &p.func_relocations))
        .chain(
            spec.functions
                .iter()
                .map(|f| (&f.name, &f.insns, &f.func_relocations)),
        );
    for (name, insns, func_relocations) in all_code {
        for &(insn, f) in func_relocations {
            assert!(
                f < spec.functions.len(),
                "{name}: relocation names function {f} of {}",
                spec.functions.len()
            );
            assert!(
                insns.get(insn).is_some_and(|i| i.is_wide()) && insn + 1 < insns.len(),
                "{name}: relocation at {insn} is not on an ld_imm64"
            );
        }
    }
    for f in &spec.functions {
        assert!(names.insert(&f.name), "duplicate function name {}", f.name);
        assert!(!f.insns.is_empty(), "function {} is empty", f.name);
        for &(insn, map) in &f.map_relocations {
            assert!(
                map < spec.maps.len() && f.insns.get(insn).is_some_and(|i| i.is_wide()),
                "{}: bad map relocation at {insn}",
                f.name
            );
        }
    }
    // Section indices must stay below SHN_LORESERVE (0xff00): at most two sections per
    // program plus the seven fixed ones.
    assert!(
        spec.programs.len() * 2 + 7 < 0xff00,
        "too many programs for one object"
    );
}

#[cfg(test)]
mod tests;

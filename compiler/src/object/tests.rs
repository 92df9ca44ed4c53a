//! The writer's output read back by the parser aya itself uses (aya-obj) and by the `object`
//! crate, so a layout mistake shows up here rather than as a load failure on a kernel.

use super::*;
use crate::insn::{Cond, Helper, Reg, Size};
use crate::program::COUNTERS_MAP;
use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

const PERCPU_ARRAY: u32 = 6;
const HASH: u32 = 1;

/// `lookup(map 0, key 0); if found, *value += 1` — a map load at instruction 0.
fn counter() -> Vec<Insn> {
    let mut insns = Insn::ld_map(Reg::R1).to_vec();
    insns.extend([
        Insn::store_imm(Size::W, Reg::FP, -4, 0),
        Insn::mov64_reg(Reg::R2, Reg::FP),
        Insn::alu64_imm(crate::insn::Alu::Add, Reg::R2, -4),
        Insn::call(Helper::MapLookupElem),
        Insn::jmp_imm(Cond::Eq, Reg::R0, 0, 3),
        Insn::load(Size::DW, Reg::R1, Reg::R0, 0),
        Insn::alu64_imm(crate::insn::Alu::Add, Reg::R1, 1),
        Insn::store(Size::DW, Reg::R0, 0, Reg::R1),
        Insn::mov64_imm(Reg::R0, 0),
        Insn::exit(),
    ]);
    insns
}

fn two_map_loads() -> Vec<Insn> {
    let mut insns = vec![Insn::mov64_imm(Reg::R6, 1)];
    insns.extend(Insn::ld_map(Reg::R1));
    insns.extend(Insn::ld_imm64(Reg::R3, 7));
    insns.extend(Insn::ld_map(Reg::R2));
    insns.extend([Insn::mov64_imm(Reg::R0, 0), Insn::exit()]);
    insns
}

fn spec() -> ObjectSpec {
    ObjectSpec {
        functions: vec![],
        globals: 0,
        counters: 0,
        license: "GPL".to_string(),
        maps: vec![
            MapSpec {
                name: "tb_m0".to_string(),
                map_type: PERCPU_ARRAY,
                key_size: 4,
                value_size: 8,
                max_entries: 1,
                flags: 0,
            },
            MapSpec {
                name: "tb_m1".to_string(),
                map_type: HASH,
                key_size: 16,
                value_size: 24,
                max_entries: 4096,
                flags: 1,
            },
        ],
        programs: vec![
            ProgramSpec {
                name: "tb_tp0".to_string(),
                section: "tracepoint/syscalls/sys_enter_openat".to_string(),
                insns: counter(),
                map_relocations: vec![(0, 0)],
                func_relocations: vec![],
                global_relocations: vec![],
            },
            ProgramSpec {
                name: "tb_raw1".to_string(),
                section: "raw_tracepoint/sys_enter".to_string(),
                insns: two_map_loads(),
                map_relocations: vec![(1, 1), (5, 0)],
                func_relocations: vec![],
                global_relocations: vec![],
            },
            ProgramSpec {
                name: "tb_prof2".to_string(),
                section: "perf_event".to_string(),
                insns: vec![Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
                map_relocations: vec![],
                func_relocations: vec![],
                global_relocations: vec![],
            },
        ],
    }
}

fn insn_bytes(insns: &[Insn]) -> Vec<[u8; 8]> {
    insns.iter().map(|i| i.to_bytes()).collect()
}

fn aya_insn_bytes(insns: &[aya_obj::generated::bpf_insn]) -> Vec<[u8; 8]> {
    insns
        .iter()
        .map(|i| {
            Insn {
                code: i.code,
                dst: i.dst_reg(),
                src: i.src_reg(),
                off: i.off,
                imm: i.imm,
            }
            .to_bytes()
        })
        .collect()
}

#[test]
fn aya_finds_programs_with_their_types_and_code() {
    let spec = spec();
    let obj = aya_obj::Object::parse(&write_object(&spec)).expect("aya parses the object");
    assert_eq!(obj.license.to_str().unwrap(), "GPL");
    assert_eq!(obj.programs.len(), 3);
    let kind = |name: &str| format!("{:?}", obj.programs[name].section);
    assert_eq!(kind("tb_tp0"), "TracePoint");
    assert_eq!(kind("tb_raw1"), "RawTracePoint");
    assert_eq!(kind("tb_prof2"), "PerfEvent");
    for program in &spec.programs {
        let function = &obj.functions[&obj.programs[&program.name].function_key()];
        assert_eq!(function.name, program.name);
        assert_eq!(
            aya_insn_bytes(&function.instructions),
            insn_bytes(&program.insns)
        );
    }
}

#[test]
fn aya_finds_maps_with_their_definitions() {
    let spec = spec();
    let obj = aya_obj::Object::parse(&write_object(&spec)).unwrap();
    assert_eq!(obj.maps.len(), 2);
    for map in &spec.maps {
        let parsed = &obj.maps[&map.name];
        assert_eq!(parsed.map_type(), map.map_type);
        assert_eq!(parsed.key_size(), map.key_size);
        assert_eq!(parsed.value_size(), map.value_size);
        assert_eq!(parsed.max_entries(), map.max_entries);
        assert_eq!(parsed.map_flags(), map.flags);
        assert_eq!(parsed.pinning(), aya_obj::maps::PinningType::None);
    }
}

#[test]
fn aya_relocates_each_map_load_to_its_map() {
    // Hand aya made-up descriptors and check it patches exactly the relocated ld_imm64s.
    let mut obj = aya_obj::Object::parse(&write_object(&spec())).unwrap();
    let maps = obj.maps.clone();
    let fd = |name: &str| if name == "tb_m0" { 100 } else { 101 };
    obj.relocate_maps(
        maps.iter()
            .map(|(name, map)| (name.as_str(), fd(name), map)),
        &Default::default(),
    )
    .expect("relocations resolve");
    let code = |name: &str| {
        obj.functions[&obj.programs[name].function_key()]
            .instructions
            .clone()
    };
    let tp = code("tb_tp0");
    assert_eq!((tp[0].src_reg(), tp[0].imm), (1, 100));
    let raw = code("tb_raw1");
    assert_eq!((raw[1].src_reg(), raw[1].imm), (1, 101));
    assert_eq!(
        (raw[3].src_reg(), raw[3].imm),
        (0, 7),
        "plain ld_imm64 untouched"
    );
    assert_eq!((raw[5].src_reg(), raw[5].imm), (1, 100));
}

#[test]
fn aya_turns_a_global_data_load_into_the_address_of_its_byte() {
    // The guard's sampling masks and the loss counters: two sections aya makes a one-entry
    // array of each, loaded by address.
    let mut spec = spec();
    spec.globals = 16;
    spec.counters = 24;
    let mut code = Insn::ld_global(Reg::R1, 8).to_vec();
    code.extend(Insn::ld_map(Reg::R2));
    code.extend(Insn::ld_global(Reg::R3, 16));
    code.extend([Insn::mov64_imm(Reg::R0, 0), Insn::exit()]);
    spec.programs[2].insns = code;
    spec.programs[2].global_relocations = vec![(0, DataSection::Masks), (4, DataSection::Counters)];
    spec.programs[2].map_relocations = vec![(2, 1)];
    let mut obj = aya_obj::Object::parse(&write_object(&spec)).unwrap();
    for (name, size) in [(".bss", 16), (COUNTERS_MAP, 24)] {
        let bss = &obj.maps[name];
        assert_eq!(
            (bss.map_type(), bss.value_size(), bss.max_entries()),
            (2, size, 1),
            "{name}"
        );
    }
    let maps = obj.maps.clone();
    let fd = |name: &str| match name {
        ".bss" => 102,
        COUNTERS_MAP => 103,
        "tb_m0" => 100,
        _ => 101,
    };
    obj.relocate_maps(
        maps.iter()
            .map(|(name, map)| (name.as_str(), fd(name), map)),
        &Default::default(),
    )
    .expect("relocations resolve");
    let prof = &obj.functions[&obj.programs["tb_prof2"].function_key()].instructions;
    assert_eq!((prof[0].src_reg(), prof[0].imm, prof[1].imm), (2, 102, 8));
    assert_eq!((prof[2].src_reg(), prof[2].imm), (1, 101));
    assert_eq!((prof[4].src_reg(), prof[4].imm, prof[5].imm), (2, 103, 16));
}

#[test]
fn elf_layout_is_a_bpf_relocatable_object() {
    let bytes = write_object(&spec());
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Bpf);
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    assert!(file.is_little_endian() && file.is_64());

    let symbols: Vec<_> = file.symbols().collect();
    let symbol = |name: &str| symbols.iter().find(|s| s.name() == Ok(name)).unwrap();
    for map in ["tb_m0", "tb_m1"] {
        let s = symbol(map);
        assert!(s.is_global());
        assert_eq!(s.kind(), object::SymbolKind::Data);
        assert_eq!(s.size(), 20);
    }
    for program in ["tb_tp0", "tb_raw1", "tb_prof2"] {
        let s = symbol(program);
        assert!(s.is_global());
        assert_eq!(s.kind(), object::SymbolKind::Text);
        assert_eq!(s.address(), 0);
    }

    let raw = file.section_by_name("raw_tracepoint/sys_enter").unwrap();
    let relocations: Vec<_> = raw
        .relocations()
        .map(|(offset, r)| {
            let object::RelocationTarget::Symbol(index) = r.target() else {
                panic!("relocation against a symbol expected");
            };
            let target = file.symbol_by_index(index).unwrap();
            (offset, target.name().unwrap().to_string(), r.flags())
        })
        .collect();
    let r_bpf_64_64 = object::RelocationFlags::Elf { r_type: 1 };
    assert_eq!(
        relocations,
        vec![
            (8, "tb_m1".to_string(), r_bpf_64_64),
            (40, "tb_m0".to_string(), r_bpf_64_64),
        ]
    );
    assert_eq!(
        file.section_by_name("license").unwrap().data().unwrap(),
        b"GPL\0"
    );
    assert_eq!(file.section_by_name("maps").unwrap().size(), 40);
    assert_eq!(
        file.section_by_name("perf_event")
            .unwrap()
            .relocations()
            .count(),
        0
    );
}

#[test]
fn an_object_without_maps_has_no_maps_section() {
    let mut spec = spec();
    spec.maps.clear();
    spec.programs.retain(|p| p.map_relocations.is_empty());
    let bytes = write_object(&spec);
    let file = object::File::parse(&*bytes).unwrap();
    assert!(file.section_by_name("maps").is_none());
    let obj = aya_obj::Object::parse(&bytes).unwrap();
    assert!(obj.maps.is_empty());
    assert_eq!(obj.programs.len(), 1);
}

#[test]
fn two_probes_on_one_tracepoint_are_two_programs() {
    let mut spec = spec();
    let mut second = spec.programs[0].clone();
    second.name = "tb_tp3".to_string();
    second.map_relocations = vec![(0, 1)];
    spec.programs.push(second);
    let mut obj = aya_obj::Object::parse(&write_object(&spec)).unwrap();
    assert_eq!(obj.programs.len(), 4);
    let maps = obj.maps.clone();
    obj.relocate_maps(
        maps.iter()
            .map(|(name, map)| (name.as_str(), if name == "tb_m0" { 5 } else { 6 }, map)),
        &Default::default(),
    )
    .unwrap();
    let first_imm =
        |name: &str| obj.functions[&obj.programs[name].function_key()].instructions[0].imm;
    assert_eq!(first_imm("tb_tp0"), 5);
    assert_eq!(first_imm("tb_tp3"), 6);
}

#[test]
#[should_panic(expected = "not on an ld_imm64")]
fn a_relocation_off_an_ld_imm64_is_a_compiler_bug() {
    let mut spec = spec();
    spec.programs[0].map_relocations = vec![(2, 0)];
    write_object(&spec);
}

#[test]
#[should_panic(expected = "duplicate program name")]
fn duplicate_program_names_are_a_compiler_bug() {
    let mut spec = spec();
    spec.programs[1].name = "tb_tp0".to_string();
    write_object(&spec);
}

#[test]
fn aya_links_a_callback_after_its_program_with_func_info() {
    // A program that takes a callback's address, and the callback in `.text`.
    let mut main = Insn::ld_func(Reg::R2).to_vec();
    main.extend([Insn::mov64_imm(Reg::R0, 0), Insn::exit()]);
    let callback = vec![Insn::mov64_imm(Reg::R0, 1), Insn::exit()];
    let spec = ObjectSpec {
        license: "GPL".to_string(),
        maps: vec![],
        globals: 0,
        counters: 0,
        programs: vec![ProgramSpec {
            name: "tb_raw0".to_string(),
            section: "raw_tracepoint/sys_enter".to_string(),
            insns: main.clone(),
            map_relocations: vec![],
            func_relocations: vec![(0, 0)],
            global_relocations: vec![],
        }],
        functions: vec![FunctionSpec {
            name: "tb_raw0_cb0".to_string(),
            insns: callback.clone(),
            map_relocations: vec![],
            func_relocations: vec![],
            global_relocations: vec![],
        }],
    };
    let bytes = write_object(&spec);
    let file = object::File::parse(&*bytes).unwrap();
    let text = file.section_by_name(".text").expect(".text").index().0;
    assert!(file.section_by_name(".BTF").is_some());
    assert!(file.section_by_name(".BTF.ext").is_some());

    let mut obj = aya_obj::Object::parse(&bytes).expect("aya parses the object");
    obj.relocate_calls(&[text].into_iter().collect())
        .expect("the callback links");
    let function = &obj.functions[&obj.programs["tb_raw0"].function_key()];
    let mut linked = main.clone();
    linked.extend(&callback);
    assert_eq!(function.instructions.len(), linked.len());
    // The ld_imm64 now points at the callback: BPF_PSEUDO_FUNC, offset from the next slot.
    let first = function.instructions[0];
    assert_eq!(first.src_reg(), crate::insn::PSEUDO_FUNC);
    assert_eq!(first.imm as usize, main.len() - 1);
    assert_eq!(
        aya_insn_bytes(&function.instructions[main.len()..]),
        insn_bytes(&callback)
    );
    // One func_info per subprogram, the verifier's requirement for callbacks.
    let offsets: Vec<u32> = function
        .func_info
        .func_info
        .iter()
        .map(|f| f.insn_off)
        .collect();
    assert_eq!(offsets, [0, main.len() as u32]);
}

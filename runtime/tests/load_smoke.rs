//! The object writer and the loader against the real kernel: a program built with the
//! compiler's encoder counts this thread's getppid() calls in a per-CPU array; the count read
//! back must be exact, a verifier rejection must come back with its log, and nothing may stay
//! loaded afterwards.
//!
//! Needs root. With CI=true a machine where BPF is unreachable fails these tests; elsewhere
//! they skip with the reason printed.

use std::io::Write as _;
use std::time::{Duration, Instant};

use aya::maps::PerCpuArray;
use aya::programs::{loaded_programs, TracePoint};
use tracebound_compiler::insn::{Alu, Cond, DataSection, Helper, Insn, Reg, Size};
use tracebound_compiler::object::{write_object, MapSpec, ObjectSpec, ProgramSpec};
use tracebound_runtime::probes::load::{load, LoadError};

const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;

/// Whether to run: as root yes; otherwise skip, unless CI promised a machine with BPF.
fn bpf_reachable(test: &str) -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let reason = "not root, so BPF is unreachable";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {reason}, and CI=true requires it"
    );
    // Straight to stderr: the harness captures `eprintln!`, and a skip should be seen.
    let _ = writeln!(std::io::stderr(), "skipping {test}: {reason}");
    false
}

fn counter_map() -> MapSpec {
    MapSpec {
        name: "tb_m0".to_string(),
        map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
    }
}

/// `if (tid == TID) { (*lookup(tb_m0, 0))++ }`: counting only the calling thread makes the
/// expected count exact whatever else runs on the machine.
fn count_calls_from(tid: u32) -> (Vec<Insn>, usize) {
    let mut insns = vec![
        Insn::call(Helper::GetCurrentPidTgid),
        // The thread id is the low half.
        Insn::alu64_imm(Alu::Lsh, Reg::R0, 32),
        Insn::alu64_imm(Alu::Rsh, Reg::R0, 32),
        Insn::jmp_imm(Cond::Ne, Reg::R0, tid as i32, 10), // → out
        Insn::store_imm(Size::W, Reg::FP, -4, 0),
    ];
    let map_load = insns.len();
    insns.extend(Insn::ld_map(Reg::R1));
    insns.extend([
        Insn::mov64_reg(Reg::R2, Reg::FP),
        Insn::alu64_imm(Alu::Add, Reg::R2, -4),
        Insn::call(Helper::MapLookupElem),
        Insn::jmp_imm(Cond::Eq, Reg::R0, 0, 3), // → out
        Insn::load(Size::DW, Reg::R1, Reg::R0, 0),
        Insn::alu64_imm(Alu::Add, Reg::R1, 1),
        Insn::store(Size::DW, Reg::R0, 0, Reg::R1),
        // out:
        Insn::mov64_imm(Reg::R0, 0),
        Insn::exit(),
    ]);
    assert_eq!(insns.len(), 16, "jump offsets above assume this length");
    (insns, map_load)
}

fn object_with(name: &str, insns: Vec<Insn>, map_load: usize) -> Vec<u8> {
    write_object(&ObjectSpec {
        functions: vec![],
        globals: 0,
        counters: 0,
        license: "GPL".to_string(),
        maps: vec![counter_map()],
        programs: vec![ProgramSpec {
            name: name.to_string(),
            section: "tracepoint/syscalls/sys_enter_getppid".to_string(),
            insns,
            map_relocations: vec![(map_load, 0)],
            func_relocations: vec![],
            global_relocations: vec![],
        }],
    })
}

fn loaded_program_named(name: &str) -> bool {
    loaded_programs()
        .filter_map(Result::ok)
        .any(|p| p.name_as_str() == Some(name))
}

fn gettid() -> u32 {
    unsafe { libc::gettid() as u32 }
}

#[test]
fn counts_getppid_calls_in_a_per_cpu_map_and_unloads() {
    if !bpf_reachable("counts_getppid_calls_in_a_per_cpu_map_and_unloads") {
        return;
    }
    let (insns, map_load) = count_calls_from(gettid());
    let object = object_with("tb_smoke", insns, map_load);

    let mut loaded = load(&object, &[]).unwrap_or_else(|e| panic!("load failed: {e}\n{e:?}"));
    let tracepoint: &mut TracePoint = loaded
        .program_mut("tb_smoke")
        .expect("program tb_smoke in the object")
        .try_into()
        .expect("a tracepoint program");
    tracepoint
        .attach("syscalls", "sys_enter_getppid")
        .expect("attach to syscalls:sys_enter_getppid");
    assert!(
        loaded_program_named("tb_smoke"),
        "the kernel lists tb_smoke while it is loaded"
    );

    for _ in 0..1000 {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }

    let counts: PerCpuArray<_, u64> =
        PerCpuArray::try_from(loaded.map("tb_m0").expect("map tb_m0")).expect("a per-CPU array");
    let total: u64 = counts.get(&0, 0).expect("slot 0").iter().sum();
    assert_eq!(total, 1000, "one count per getppid() from this thread");

    drop(loaded);
    // Closing the descriptors frees the program; give the kernel a moment in case the last
    // reference (the perf event's) is released asynchronously.
    let deadline = Instant::now() + Duration::from_secs(2);
    while loaded_program_named("tb_smoke") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !loaded_program_named("tb_smoke"),
        "tb_smoke still loaded after everything was dropped"
    );
}

#[test]
fn a_verifier_rejection_keeps_the_program_name_and_log() {
    if !bpf_reachable("a_verifier_rejection_keeps_the_program_name_and_log") {
        return;
    }
    // Stores past the end of the 8-byte value. (Dropping the null check would not do: this
    // kernel knows an array lookup with a constant in-range key cannot fail.)
    let (mut insns, map_load) = count_calls_from(gettid());
    insns[13] = Insn::store(Size::DW, Reg::R0, 8, Reg::R1);
    let object = object_with("tb_bad", insns, map_load);

    match load(&object, &[]) {
        Err(LoadError::Program {
            name, verifier_log, ..
        }) => {
            assert_eq!(name, "tb_bad");
            assert!(
                verifier_log.contains("invalid access to map value"),
                "the log says why:\n{verifier_log}"
            );
        }
        Err(other) => panic!("expected a verifier rejection, got {other}"),
        Ok(_) => panic!("the verifier accepted a store out of bounds"),
    }
    assert!(!loaded_program_named("tb_bad"));
}

#[test]
fn loads_every_kind_of_program_it_is_given_without_attaching() {
    if !bpf_reachable("loads_every_kind_of_program_it_is_given_without_attaching") {
        return;
    }
    let exit_zero = vec![Insn::mov64_imm(Reg::R0, 0), Insn::exit()];
    let program = |name: &str, section: &str| ProgramSpec {
        name: name.to_string(),
        section: section.to_string(),
        insns: exit_zero.clone(),
        map_relocations: vec![],
        func_relocations: vec![],
        global_relocations: vec![],
    };
    let object = write_object(&ObjectSpec {
        functions: vec![],
        globals: 0,
        counters: 0,
        license: "GPL".to_string(),
        maps: vec![],
        programs: vec![
            program("tb_kinds_raw", "raw_tracepoint/sys_enter"),
            // The attach target after `tp_btf/` is looked up in the kernel's BTF at load.
            program("tb_kinds_btf", "tp_btf/sched_switch"),
            program("tb_kinds_perf", "perf_event"),
        ],
    });
    let loaded = load(&object, &[]).unwrap_or_else(|e| panic!("load failed: {e}\n{e:?}"));
    let mut names: Vec<_> = loaded.programs().map(|(name, _)| name).collect();
    names.sort();
    assert_eq!(names, ["tb_kinds_btf", "tb_kinds_perf", "tb_kinds_raw"]);
    for name in names {
        assert!(loaded_program_named(name), "{name} is in the kernel");
    }
}

/// The guard's sampling masks live in the object's global data (`.bss`), which the program
/// reads through an address the loader writes (`BPF_PSEUDO_MAP_VALUE`): the verifier accepts
/// it, and what `set_sampling` writes for a slot is what the program reads at `8 * slot`,
/// untouched by a write to another slot.
#[test]
fn a_program_reads_the_sampling_mask_user_space_wrote_into_the_global_data() {
    if !bpf_reachable("a_program_reads_the_sampling_mask_user_space_wrote_into_the_global_data") {
        return;
    }
    // `if (tid == TID) { *lookup(tb_m0, 0) = *(u64 *)(globals + 8) }`
    let mut insns = vec![
        Insn::call(Helper::GetCurrentPidTgid),
        Insn::alu64_imm(Alu::Lsh, Reg::R0, 32),
        Insn::alu64_imm(Alu::Rsh, Reg::R0, 32),
        Insn::jmp_imm(Cond::Ne, Reg::R0, gettid() as i32, 11), // → out
    ];
    let global_load = insns.len();
    insns.extend(Insn::ld_global(Reg::R6, 8));
    insns.extend([
        Insn::load(Size::DW, Reg::R6, Reg::R6, 0),
        Insn::store_imm(Size::W, Reg::FP, -4, 0),
    ]);
    let map_load = insns.len();
    insns.extend(Insn::ld_map(Reg::R1));
    insns.extend([
        Insn::mov64_reg(Reg::R2, Reg::FP),
        Insn::alu64_imm(Alu::Add, Reg::R2, -4),
        Insn::call(Helper::MapLookupElem),
        Insn::jmp_imm(Cond::Eq, Reg::R0, 0, 1), // → out
        Insn::store(Size::DW, Reg::R0, 0, Reg::R6),
        // out:
        Insn::mov64_imm(Reg::R0, 0),
        Insn::exit(),
    ]);
    assert_eq!(insns.len(), 17, "jump offsets above assume this length");
    let object = write_object(&ObjectSpec {
        functions: vec![],
        globals: 16,
        counters: 0,
        license: "GPL".to_string(),
        maps: vec![counter_map()],
        programs: vec![ProgramSpec {
            name: "tb_globals".to_string(),
            section: "tracepoint/syscalls/sys_enter_getppid".to_string(),
            insns,
            map_relocations: vec![(map_load, 0)],
            func_relocations: vec![],
            global_relocations: vec![(global_load, DataSection::Masks)],
        }],
    });
    let mut loaded = load(&object, &[]).unwrap_or_else(|e| panic!("load failed: {e}\n{e:?}"));
    loaded.set_sampling(1, 8, &[]).expect("slot 1: 1 in 8");
    loaded.set_sampling(0, 4, &[]).expect("slot 0: 1 in 4");
    let tracepoint: &mut TracePoint = loaded
        .program_mut("tb_globals")
        .expect("program tb_globals in the object")
        .try_into()
        .expect("a tracepoint program");
    tracepoint
        .attach("syscalls", "sys_enter_getppid")
        .expect("attach to syscalls:sys_enter_getppid");
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() };
    let read: PerCpuArray<_, u64> =
        PerCpuArray::try_from(loaded.map("tb_m0").expect("map tb_m0")).expect("a per-CPU array");
    let values = read.get(&0, 0).expect("slot 0");
    assert_eq!(
        values.iter().copied().max(),
        Some(7),
        "the mask of 1 in 8 at byte 8: {values:?}"
    );
}

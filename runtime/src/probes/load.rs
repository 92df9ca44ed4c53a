//! Loading: an object from `compiler::object` into the kernel with aya. Maps are created and
//! every program goes through the verifier here; nothing is attached yet (that waits for the
//! estimator's verdict).
//!
//! A verifier rejection comes back as [`LoadError::Program`] with the program's name and the
//! kernel's log untouched: the log numbers instructions as the compiler emitted them, so the
//! caller maps it back to the script through the instruction→span table.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use aya::maps::{Map, MapError};
use aya::programs::{Program, ProgramError};
use aya::{Btf, BtfError, Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};
use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

use tracebound_compiler::probe::dispatch::{MULTI_UPROBE_SECTION, MULTI_URETPROBE_SECTION};
use tracebound_compiler::program::{SampledCopy, COUNTERS_MAP, GUARD_SAMPLING_MAP};

use crate::probes::loader::loader_without_kernel_btf;
use crate::probes::verifier;

/// An object's maps and programs, loaded. Dropping it detaches whatever was attached and
/// closes every descriptor, which is what unloads the programs and frees the maps.
#[derive(Debug)]
pub struct Loaded {
    /// Perf events and links attached by hand (usdt sites with semaphores, multi-uprobe
    /// links), by program name. Declared first so that they close before the programs:
    /// detach, then unload.
    perf_links: HashMap<String, Vec<OwnedFd>>,
    /// Programs loaded by hand, by name: those for multi-uprobe links, which aya 0.14 cannot
    /// load with that expected attach type (aya holds them unloaded).
    by_hand: HashMap<String, OwnedFd>,
    ebpf: Ebpf,
    /// The object's program sections, for loading a deferred program later.
    sections: Vec<(String, String)>,
}

impl Loaded {
    /// A program by its symbol name (`tb_...`).
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.ebpf.program(name)
    }

    /// A program by name, to attach it (`TryInto<&mut TracePoint>` and friends).
    pub fn program_mut(&mut self, name: &str) -> Option<&mut Program> {
        self.ebpf.program_mut(name)
    }

    /// Detaches a program's every attachment and unloads it (the overhead guard's last
    /// resort); the rest of the run goes on.
    pub fn detach(&mut self, name: &str) -> Result<(), ProgramError> {
        self.perf_links.remove(name);
        if self.by_hand.remove(name).is_some() {
            return Ok(());
        }
        match self.ebpf.program_mut(name) {
            Some(Program::TracePoint(p)) => p.unload(),
            Some(Program::RawTracePoint(p)) => p.unload(),
            Some(Program::PerfEvent(p)) => p.unload(),
            Some(Program::UProbe(p)) => p.unload(),
            _ => Ok(()),
        }
    }

    /// Writes `value` at `key` of map `name`, as bytes (a dispatched probe's member texts).
    pub fn write_map(&self, name: &str, key: &[u8], value: &[u8]) -> io::Result<()> {
        let map = self
            .ebpf
            .map(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no map {name}")))?;
        crate::kernel::sys::MapBytes::new(map_fd(map), key.len() as u32, value.len() as u32, None)
            .update(key, value)
    }

    /// A program's fd, whoever loaded it.
    pub fn program_fd(&self, name: &str) -> Option<BorrowedFd<'_>> {
        if let Some(fd) = self.by_hand.get(name) {
            return Some(fd.as_fd());
        }
        self.ebpf.program(name)?.fd().ok().map(|fd| fd.as_fd())
    }

    /// A program loaded by hand (`MULTI_UPROBE_SECTION`), to link it.
    pub fn program_by_hand(&self, name: &str) -> Option<BorrowedFd<'_>> {
        self.by_hand.get(name).map(|fd| fd.as_fd())
    }

    /// Keeps a perf event that runs program `name` attached until `detach(name)` or the end.
    pub fn keep_perf_link(&mut self, name: &str, event: OwnedFd) {
        self.perf_links
            .entry(name.to_string())
            .or_default()
            .push(event);
    }

    /// The links and perf events attached by hand that run program `name`.
    pub fn links_of(&self, name: &str) -> &[OwnedFd] {
        self.perf_links.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn programs(&self) -> impl Iterator<Item = (&str, &Program)> {
        self.ebpf.programs()
    }

    /// A map by its symbol name (`tb_m0`, ...), to read it (`TryFrom<&Map>` for the typed
    /// views, e.g. `PerCpuArray`).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.ebpf.map(name)
    }

    pub fn map_mut(&mut self, name: &str) -> Option<&mut Map> {
        self.ebpf.map_mut(name)
    }

    /// Takes a map out, for a reader that must own it (the ring buffer's event loop).
    pub fn take_map(&mut self, name: &str) -> Option<Map> {
        self.ebpf.take_map(name)
    }

    pub fn maps(&self) -> impl Iterator<Item = (&str, &Map)> {
        self.ebpf.maps()
    }

    /// Makes the probe at `slot` of the sampling masks run its programs for 1 hit in `n` (a
    /// power of two) from its next hit on: the mask its sampled copies and dispatched members
    /// read, then its own programs' tail calls pointed at their copies (`copies`, loaded the
    /// first time), or emptied again for `n` = 1.
    pub fn set_sampling(
        &mut self,
        slot: u32,
        n: u32,
        copies: &[SampledCopy],
    ) -> Result<(), LoadError> {
        let map_error = |name: &str, e: MapError| LoadError::Map {
            name: name.to_string(),
            error: io::Error::other(e),
        };
        self.write_mask(slot, n)
            .map_err(|e| map_error(GUARD_SAMPLING_MAP, e))?;
        for c in copies {
            let fd = match n {
                0 | 1 => None,
                _ => Some(self.load_deferred(&c.copy)?.as_raw_fd() as u32),
            };
            let array = self.map(&c.array).map(map_fd);
            let array = array.ok_or_else(|| LoadError::Object("no program array".into()))?;
            let slots = crate::kernel::sys::MapBytes::new(array, 4, 4, None);
            let key = c.index.to_ne_bytes();
            match fd {
                Some(fd) => slots.update(&key, &fd.to_ne_bytes()),
                None => slots.delete(&key),
            }
            .map_err(|error| LoadError::Map {
                name: c.array.clone(),
                error,
            })?;
        }
        Ok(())
    }

    /// A program `load` deferred, loaded now if it was not yet. Only aya's: a sampled copy is
    /// never a dispatched program, so never one loaded by hand.
    fn load_deferred(&mut self, name: &str) -> Result<BorrowedFd<'_>, LoadError> {
        if self.program_fd(name).is_none() {
            let no_program = || LoadError::Object(format!("no program {name}").into());
            let section = (self.sections.iter())
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(no_program)?;
            let program = self.ebpf.program_mut(name).ok_or_else(no_program)?;
            load_program(program, name, &section, &mut None)?;
        }
        Ok(self.program_fd(name).expect("loaded above"))
    }

    /// The mask half of `set_sampling`. The masks are the object's global data, one array
    /// entry, rewritten whole: only user space writes it.
    fn write_mask(&mut self, slot: u32, n: u32) -> Result<(), MapError> {
        let map = self
            .ebpf
            .map(GUARD_SAMPLING_MAP)
            .ok_or_else(|| MapError::InvalidName {
                name: GUARD_SAMPLING_MAP.into(),
            })?;
        let Map::Array(data) = map else {
            return Err(MapError::InvalidName {
                name: GUARD_SAMPLING_MAP.into(),
            });
        };
        let masks =
            crate::kernel::sys::MapBytes::new(map_fd(map), 4, data.info()?.value_size(), None);
        let key = 0u32.to_ne_bytes();
        let io = |io_error| {
            MapError::SyscallError(aya::sys::SyscallError {
                call: "bpf_map_update_elem",
                io_error,
            })
        };
        let mut value = masks.lookup(&key).map_err(io)?.unwrap_or_default();
        let at = 8 * slot as usize;
        let mask = u64::from(n.max(1).next_power_of_two() - 1);
        let max_entries = (value.len() / 8) as u32;
        value
            .get_mut(at..at + 8)
            .ok_or(MapError::OutOfBounds {
                index: slot,
                max_entries,
            })?
            .copy_from_slice(&mask.to_ne_bytes());
        masks.update(&key, &value).map_err(io)
    }
}

/// Why an object did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The object itself is wrong (ELF, parse or relocation): a compiler bug, never the
    /// user's.
    #[error("malformed BPF object: {0}")]
    Object(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The kernel would not create a map (size limits, memlock, unsupported type).
    #[error("cannot create map `{name}`: {error}")]
    Map {
        name: String,
        #[source]
        error: io::Error,
    },

    /// The kernel refused a program (`BPF_PROG_LOAD` failed); `verifier_log` is the kernel's
    /// text as it wrote it, possibly empty when the failure came before verification.
    #[error("the kernel rejected program `{name}`: {error}")]
    Program {
        name: String,
        #[source]
        error: io::Error,
        verifier_log: String,
    },

    /// A program could not be prepared for loading (its BTF attach target was not found, ...).
    #[error("cannot load program `{name}`: {error}")]
    ProgramSetup {
        name: String,
        #[source]
        error: ProgramError,
    },

    /// The section names a program kind this loader does not handle.
    #[error("program `{name}` in section `{section}` is of a kind tracebound does not load")]
    UnsupportedProgram { name: String, section: String },

    /// A program attached through kernel types (tp_btf, fentry, fexit, iter) needs the
    /// kernel's BTF, and it could not be read.
    #[error("reading the kernel's BTF (/sys/kernel/btf/vmlinux): {0}")]
    KernelBtf(#[source] BtfError),

    /// Tracepoint programs need tracefs, and it could not be mounted.
    #[error("tracefs: {0}")]
    Tracefs(#[source] io::Error),
}

/// Creates the object's maps and loads each of its programs into the kernel, in the order
/// the object lists them (the script's order), so the first error is the first probe's.
///
/// The verifier is asked for its statistics only: its instruction-by-instruction log of a
/// program that walks its limit of a million instructions is gigabytes, which aya asks for
/// again and again in bigger buffers (half a minute here). A rejection for any other reason
/// is loaded once more with the full log, which says where it happened.
///
/// The programs named in `deferred` (the sampled copies) are left for `Loaded::set_sampling`
/// to load if it is ever asked to.
pub fn load(object: &[u8], deferred: &[&str]) -> Result<Loaded, LoadError> {
    match load_with(object, VerifierLogLevel::STATS, deferred) {
        Err(LoadError::Program { verifier_log, .. })
            if verifier::needs_instruction_trail(&verifier_log) =>
        {
            load_with(object, VerifierLogLevel::default(), deferred)
        }
        other => other,
    }
}

thread_local! {
    /// One loader for the process. The object never has BTF relocations, so the loader has
    /// no kernel BTF (it would only be used for CO-RE; programs that attach through BTF get
    /// it below), and is made without reading it (`loader.rs`).
    static LOADER: std::cell::RefCell<EbpfLoader<'static>> =
        std::cell::RefCell::new(loader_without_kernel_btf());
}

fn load_with(
    object: &[u8],
    log_level: VerifierLogLevel,
    deferred: &[&str],
) -> Result<Loaded, LoadError> {
    let words = aligned_copy(object);
    let object = as_bytes(&words, object.len());
    let sections = program_sections(object)?;

    let mut ebpf = LOADER
        .with_borrow_mut(|loader| loader.verifier_log_level(log_level).load(object))
        .map_err(|error| match error {
            EbpfError::MapError(MapError::CreateError { name, io_error }) => LoadError::Map {
                name,
                error: io_error,
            },
            other => LoadError::Object(Box::new(other)),
        })?;

    if ebpf
        .programs()
        .any(|(_, p)| matches!(p, Program::TracePoint(_)))
    {
        crate::kernel::tracefs::ensure_mounted().map_err(LoadError::Tracefs)?;
    }

    let mut kernel_btf: Option<Btf> = None;
    let mut by_hand = HashMap::new();
    for (name, section) in &sections {
        if deferred.contains(&name.as_str()) {
            continue;
        }
        if section == MULTI_UPROBE_SECTION || section == MULTI_URETPROBE_SECTION {
            let trail = log_level.bits() != VerifierLogLevel::STATS.bits();
            by_hand.insert(name.clone(), load_by_hand(object, name, &ebpf, trail)?);
            continue;
        }
        let Some(program) = ebpf.program_mut(name) else {
            continue; // a function symbol aya did not take as a program: nothing to load
        };
        load_program(program, name, section, &mut kernel_btf)?;
    }
    Ok(Loaded {
        perf_links: HashMap::new(),
        by_hand,
        ebpf,
        sections,
    })
}

/// Loads one program aya holds, as its kind is loaded.
fn load_program(
    program: &mut Program,
    name: &str,
    section: &str,
    kernel_btf: &mut Option<Btf>,
) -> Result<(), LoadError> {
    // What follows the kind in the section name: the BTF name a tp_btf/fentry/fexit/iter
    // program attaches to.
    let target = section.split_once('/').map_or("", |(_, t)| t);
    let result = match program {
        Program::TracePoint(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        Program::PerfEvent(p) => p.load(),
        Program::KProbe(p) => p.load(),
        Program::UProbe(p) => p.load(),
        Program::BtfTracePoint(p) => p.load(target, read_kernel_btf(kernel_btf)?),
        Program::FEntry(p) => p.load(target, read_kernel_btf(kernel_btf)?),
        Program::FExit(p) => p.load(target, read_kernel_btf(kernel_btf)?),
        Program::Iter(p) => p.load(target, read_kernel_btf(kernel_btf)?),
        // `bench:` programs: only ever test-run.
        Program::Xdp(p) => p.load(),
        _ => {
            return Err(LoadError::UnsupportedProgram {
                name: name.to_string(),
                section: section.to_string(),
            })
        }
    };
    result.map_err(|error| program_error(name, error))
}

/// Loads program `name` of the object for a multi-uprobe link, as aya would load it otherwise:
/// its section's instructions with each map reference relocated to the fd of the map aya
/// created, under the object's license.
fn load_by_hand(object: &[u8], name: &str, ebpf: &Ebpf, trail: bool) -> Result<OwnedFd, LoadError> {
    use object::RelocationTarget;
    let malformed = |e: &dyn std::fmt::Display| LoadError::Object(e.to_string().into());
    let file = object::File::parse(object).map_err(|e| malformed(&e))?;
    let symbol = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n == name))
        .ok_or_else(|| malformed(&format!("no symbol {name}")))?;
    let index = symbol
        .section_index()
        .ok_or_else(|| malformed(&format!("{name} has no section")))?;
    let section = file.section_by_index(index).map_err(|e| malformed(&e))?;
    let mut code = section.data().map_err(|e| malformed(&e))?.to_vec();
    for (offset, relocation) in section.relocations() {
        let RelocationTarget::Symbol(target) = relocation.target() else {
            continue;
        };
        let symbol = file.symbol_by_index(target).map_err(|e| malformed(&e))?;
        // A symbol in the global data (`.bss`, `.bss.tb_counts`) stands for the map aya made
        // of that section, named after it.
        let data_section = symbol
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
            .and_then(|s| s.name().ok())
            .filter(|name| [GUARD_SAMPLING_MAP, COUNTERS_MAP].contains(name));
        let in_globals = data_section.is_some();
        let map = match data_section {
            Some(section) => section,
            None => symbol.name().map_err(|e| malformed(&e))?,
        };
        let fd = ebpf
            .map(map)
            .map(|m| map_fd(m).as_raw_fd())
            .ok_or_else(|| malformed(&format!("{name} refers to {map}, which is not a map")))?;
        let at = offset as usize;
        if at + 16 > code.len() {
            return Err(malformed(&format!(
                "a relocation of {name} is past its end"
            )));
        }
        // ld_imm64 of a map: BPF_PSEUDO_MAP_FD in the source register, the fd as immediate.
        // Of the global data: BPF_PSEUDO_MAP_VALUE, the fd, and the offset (the immediate
        // as compiled, plus the symbol's place) in the second half.
        if in_globals {
            let offset = i32::from_le_bytes(code[at + 4..at + 8].try_into().expect("4 bytes"))
                + symbol.address() as i32;
            code[at + 1] = (code[at + 1] & 0x0f) | (2 << 4);
            code[at + 12..at + 16].copy_from_slice(&offset.to_le_bytes());
        } else {
            code[at + 1] = (code[at + 1] & 0x0f) | (1 << 4);
        }
        code[at + 4..at + 8].copy_from_slice(&fd.to_le_bytes());
    }
    let license = file
        .section_by_name("license")
        .and_then(|s| s.data().ok())
        .map(|d| d.split(|&b| b == 0).next().unwrap_or(d).to_vec())
        .unwrap_or_else(|| b"GPL".to_vec());
    let license = CString::new(license).map_err(|e| malformed(&e))?;
    crate::kernel::sys::prog_load_licensed(
        crate::kernel::sys::PROG_TYPE_KPROBE,
        crate::kernel::sys::ATTACH_TRACE_UPROBE_MULTI,
        &code,
        name,
        &license,
        trail,
    )
    .map_err(|refused| LoadError::Program {
        name: name.to_string(),
        error: refused.error,
        verifier_log: refused.log,
    })
}

/// The fd of a map aya created.
fn map_fd(map: &Map) -> BorrowedFd<'_> {
    use Map::*;
    let data = match map {
        Array(d)
        | ArrayOfMaps(d)
        | BloomFilter(d)
        | CgroupArray(d)
        | CgroupStorage(d)
        | CgrpStorage(d)
        | CpuMap(d)
        | DevMap(d)
        | DevMapHash(d)
        | HashMap(d)
        | HashOfMaps(d)
        | InodeStorage(d)
        | LpmTrie(d)
        | LruHashMap(d)
        | PerCpuArray(d)
        | PerCpuCgroupStorage(d)
        | PerCpuHashMap(d)
        | PerCpuLruHashMap(d)
        | PerfEventArray(d)
        | ProgramArray(d)
        | Queue(d)
        | ReusePortSockArray(d)
        | RingBuf(d)
        | SockHash(d)
        | SockMap(d)
        | SkStorage(d)
        | Stack(d)
        | StackTraceMap(d)
        | Unsupported(d)
        | XskMap(d) => d,
    };
    data.fd().as_fd()
}

/// The kernel's BTF, read once per load and only if a program needs it (it is megabytes).
fn read_kernel_btf(cache: &mut Option<Btf>) -> Result<&Btf, LoadError> {
    if cache.is_none() {
        *cache = Some(Btf::from_sys_fs().map_err(LoadError::KernelBtf)?);
    }
    Ok(cache.as_ref().expect("just read"))
}

fn program_error(name: &str, error: ProgramError) -> LoadError {
    match error {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => LoadError::Program {
            name: name.to_string(),
            error: io_error,
            verifier_log: verifier_log.to_string(),
        },
        error => LoadError::ProgramSetup {
            name: name.to_string(),
            error,
        },
    }
}

/// `(program name, section name)` in symbol order. aya keeps only the program kind parsed
/// from the section name, not the attach target that follows it, nor the order.
fn program_sections(object: &[u8]) -> Result<Vec<(String, String)>, LoadError> {
    let malformed = |e: object::Error| LoadError::Object(Box::new(e));
    let file = object::File::parse(object).map_err(malformed)?;
    let mut sections = Vec::new();
    for symbol in file.symbols() {
        if symbol.kind() != object::SymbolKind::Text {
            continue;
        }
        let (Ok(name), Some(index)) = (symbol.name(), symbol.section_index()) else {
            continue;
        };
        let section = file.section_by_index(index).map_err(malformed)?;
        let section = section.name().map_err(malformed)?;
        sections.push((name.to_string(), section.to_string()));
    }
    Ok(sections)
}

/// The ELF readers (ours and aya's) cast headers in place and so need the bytes 8-aligned,
/// which a caller's slice need not be (a sub-slice of a larger buffer): the object is copied
/// into u64 words. It is a few kilobytes.
fn aligned_copy(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_ne_bytes(word)
        })
        .collect()
}

fn as_bytes(words: &[u64], len: usize) -> &[u8] {
    assert!(len <= words.len() * 8);
    // SAFETY: the words are initialised memory of at least `len` bytes, any byte is a valid
    // u8, and the slice borrows `words` for its lifetime.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::insn::{Insn, Reg};
    use tracebound_compiler::object::{write_object, ObjectSpec, ProgramSpec};

    #[test]
    fn reads_program_sections_in_object_order() {
        let program = |name: &str, section: &str| ProgramSpec {
            name: name.to_string(),
            section: section.to_string(),
            insns: vec![Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
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
                program("tb_z", "tp_btf/sched_switch"),
                program("tb_a", "perf_event"),
            ],
        });
        let sections = program_sections(&object).unwrap();
        let pairs: Vec<_> = sections
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("tb_z", "tp_btf/sched_switch"), ("tb_a", "perf_event")]
        );
    }

    #[test]
    fn copies_a_misaligned_object_into_aligned_words() {
        let bytes: Vec<u8> = (0u8..=20).collect();
        let misaligned = &bytes[1..];
        let words = aligned_copy(misaligned);
        let copy = as_bytes(&words, misaligned.len());
        assert_eq!(copy, misaligned);
        assert_eq!(copy.as_ptr().align_offset(8), 0);
    }

    /// A guard-sampled probe's sampled copy is in the object but loaded only when the probe
    /// is first sampled; its slot in the program array then holds it, and is empty again at
    /// 1 in 1.
    #[test]
    fn a_sampled_copy_loads_when_the_probe_is_first_sampled() {
        use tracebound_compiler::pipeline::{compile, CompileOptions, LowerOptions};
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        let options = CompileOptions {
            lower: LowerOptions {
                guard_sampling: true,
                ..LowerOptions::default()
            },
            ..CompileOptions::default()
        };
        let source = "tracepoint:syscalls:sys_enter_getppid { @c = count(); }";
        let compiled = compile(source, &crate::facts::LiveFacts::new(), &options)
            .unwrap_or_else(|d| panic!("{d:?}"));
        let g = &compiled.info.guard_sampled[0];
        let [copy] = g.copies.as_slice() else {
            panic!("one copy: {g:?}");
        };
        let mut loaded = load(&compiled.object, &compiled.info.sampled_copies()).unwrap();
        assert!(loaded.program_fd(&copy.program).is_some());
        assert!(
            loaded.program_fd(&copy.copy).is_none(),
            "loaded before sampling"
        );
        let slot = |loaded: &Loaded| {
            let array = map_fd(loaded.map(&copy.array).expect("the program array"));
            let slots = crate::kernel::sys::MapBytes::new(array, 4, 4, None);
            slots.lookup(&copy.index.to_ne_bytes()).expect("a lookup")
        };
        assert_eq!(slot(&loaded), None);
        loaded.set_sampling(g.slot, 4, &g.copies).unwrap();
        assert!(
            loaded.program_fd(&copy.copy).is_some(),
            "loaded once sampled"
        );
        assert!(slot(&loaded).is_some(), "the copy in its slot");
        loaded.set_sampling(g.slot, 1, &g.copies).unwrap();
        assert_eq!(slot(&loaded), None, "emptied at 1 in 1");
    }

    #[test]
    fn a_malformed_object_is_an_object_error() {
        assert!(matches!(
            load(b"not an ELF file", &[]),
            Err(LoadError::Object(_))
        ));
    }
}

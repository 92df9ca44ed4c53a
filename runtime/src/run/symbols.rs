//! Symbolization: stack ids read back from the stack-trace maps, kernel addresses named
//! through /proc/kallsyms, user addresses through the ELF files the process had mapped.
//!
//! A user address only means something in its process, and the process may have exited by
//! the time the maps print (a short command, or anything under Ctrl-C). So a process's
//! memory map is noted the first time it records a user address (the program announces it
//! through the ring buffer), and every file it maps is opened then and kept open: afterwards
//! an address becomes (file, file offset), which blazesym's ELF source names from the file
//! alone (`Input::FileOffset`), whether or not the process still runs and even if the file
//! was deleted or replaced. A process never noted is read at printing time while it lives
//! (`-p`), and re-read once when an address falls outside what was noted (a library loaded
//! later).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::rc::Rc;

use blazesym::symbolize::source::{Elf, Kernel, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::MaybeDefault;
use tracebound_compiler::program::{stack_frame_size, stack_map_name, StackMode};

use crate::kernel::sys::MapBytes;
use crate::output::{Frame, InlinedFrame, Symbolize};

/// A function's name and the offset of an address into it.
type Located = (Rc<str>, u64);

/// What a user address is: its function, and with `show_debug_info` its source line and the
/// functions inlined there.
#[derive(Clone, Debug, Default)]
struct UserSymbol {
    located: Option<Located>,
    source: Option<Rc<str>>,
    inlined: Rc<[InlinedFrame]>,
}

/// One file-backed region of a process's memory map.
#[derive(Clone, Debug)]
struct Region {
    start: u64,
    end: u64,
    /// The file offset mapped at `start`.
    offset: u64,
    /// Index into `State::files`.
    file: usize,
}

/// A file some process mapped, kept open so that it can be read after the process is gone.
struct ProcessFile {
    /// The name the memory map gave it (the module perf mode prints).
    name: Rc<str>,
    _file: File,
    /// How blazesym reaches the open file: `/proc/self/fd/N`.
    path: PathBuf,
}

/// What a process's memory map was read from: its executable and where its code starts.
/// An exec changes it (another file, or the same one placed elsewhere); a new thread name
/// does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ExecIdentity {
    device: u64,
    inode: u64,
    start_code: u64,
}

impl ExecIdentity {
    fn of(pid: u32) -> Option<ExecIdentity> {
        use std::os::unix::fs::MetadataExt;
        let exe = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(ExecIdentity {
            device: exe.dev(),
            inode: exe.ino(),
            start_code: start_code(&stat)?,
        })
    }
}

/// Field 26 of /proc/PID/stat (`startcode`); the comm before it may hold spaces and
/// parentheses, so fields are counted after its closing one.
fn start_code(stat: &str) -> Option<u64> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(26 - 3)?.parse().ok()
}

/// A process's memory map as last read.
struct Process {
    identity: Option<ExecIdentity>,
    regions: Vec<Region>,
}

#[derive(Default)]
struct State {
    processes: HashMap<u32, Process>,
    /// Processes read again at printing time, so that a missing address re-reads at most once.
    refreshed: HashSet<u32>,
    files: Vec<ProcessFile>,
    /// Files by (device, inode), as the memory map names them.
    file_index: HashMap<(String, u64), usize>,
    kernel: HashMap<u64, Option<Located>>,
    /// (file, file offset) → the symbol there.
    user: HashMap<(usize, u64), UserSymbol>,
    /// (pid, address) → the frame, for the many stacks that share frames.
    frames: HashMap<(u32, u64), Frame>,
}

/// The runtime's `Symbolize`: owns the script's stack-trace maps.
pub struct Symbols {
    stack_maps: HashMap<String, aya::maps::MapData>,
    symbolizer: Symbolizer,
    /// Reads source lines and inlined calls from DWARF (`show_debug_info`), when asked.
    debug_info: Option<Symbolizer>,
    state: RefCell<State>,
}

impl Symbols {
    /// `stack_maps`: the script's stack-trace maps by name (see `stack_map_name`);
    /// `debug_info`: whether user frames carry source lines and inlined calls.
    pub fn new(stack_maps: HashMap<String, aya::maps::MapData>, debug_info: bool) -> Symbols {
        let builder = || Symbolizer::builder().enable_demangling(true);
        Symbols {
            stack_maps,
            symbolizer: builder()
                .enable_code_info(false)
                .enable_inlined_fns(false)
                .build(),
            debug_info: debug_info.then(|| {
                builder()
                    .enable_code_info(true)
                    .enable_inlined_fns(true)
                    .build()
            }),
            state: RefCell::new(State::default()),
        }
    }

    /// Notes the memory map of a process that recorded user addresses. The kernel announces
    /// a process again when its comm changes, as an exec changes it: the map is read again
    /// when the process is no longer the executable it was read from (a `-c` child is
    /// announced first while still a copy of tracebound). A process already gone keeps
    /// what was read (or stays unknown: its addresses print as addresses).
    pub fn note_process(&self, pid: u32) {
        let mut state = self.state.borrow_mut();
        let identity = ExecIdentity::of(pid);
        if let Some(known) = state.processes.get(&pid) {
            if identity.is_none() || known.identity == identity {
                return;
            }
        }
        if let Some(regions) = read_process(&mut state, pid) {
            state.processes.insert(pid, Process { identity, regions });
        }
    }

    /// The frames of a stack in the stack map, innermost first, each `frame_size` bytes.
    fn stack_value(&self, user: bool, mode: StackMode, limit: u32, id: u32) -> Vec<u8> {
        let Some(map) = self.stack_maps.get(&stack_map_name(user, mode, limit)) else {
            return Vec::new();
        };
        let bytes = MapBytes::new(map.fd().as_fd(), 4, stack_frame_size(mode) * limit, None);
        bytes
            .lookup(&id.to_le_bytes())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// The addresses of a stack in the stack map, innermost first.
    fn addresses(&self, user: bool, mode: StackMode, limit: u32, id: u32) -> Vec<u64> {
        self.stack_value(user, mode, limit, id)
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunks")))
            .take_while(|&a| a != 0)
            .collect()
    }

    /// A stack of build ids as the kernel recorded it (`struct bpf_stack_build_id`: status,
    /// the 20-byte build id, the file offset or, without a build id, the address).
    fn build_id_frames(&self, limit: u32, id: u32) -> Vec<Frame> {
        const VALID: i32 = 1;
        const ADDRESS_ONLY: i32 = 2;
        let value = self.stack_value(true, StackMode::BuildId, limit, id);
        let mut frames = Vec::new();
        for record in value.chunks_exact(32) {
            let status = i32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
            let addr = u64::from_le_bytes(record[24..32].try_into().expect("8 bytes"));
            let build_id = match status {
                VALID => Some(record[4..24].iter().map(|b| format!("{b:02x}")).collect()),
                ADDRESS_ONLY => None,
                // BPF_STACK_BUILD_ID_EMPTY: the stack ended.
                _ => break,
            };
            frames.push(Frame {
                addr,
                build_id: build_id.map(|h: String| Rc::from(h.as_str())),
                ..Frame::default()
            });
        }
        frames
    }

    fn kernel_symbol(&self, addr: u64) -> Option<Located> {
        if let Some(known) = self.state.borrow().kernel.get(&addr) {
            return known.clone();
        }
        let source = Source::Kernel(Kernel {
            kallsyms: MaybeDefault::Default,
            // kallsyms names every function the stacks reach; a vmlinux image would only be
            // searched for, and parsed, at length.
            vmlinux: MaybeDefault::None,
            debug_syms: false,
            ..Kernel::default()
        });
        let found = match self
            .symbolizer
            .symbolize_single(&source, Input::AbsAddr(addr))
        {
            Ok(Symbolized::Sym(sym)) => Some((Rc::from(sym.name.as_ref()), sym.offset as u64)),
            _ => None,
        };
        self.state.borrow_mut().kernel.insert(addr, found.clone());
        found
    }

    /// The symbol at a user address of process `pid`, and the name of the file it is in.
    fn user_symbol(&self, pid: u32, addr: u64) -> (UserSymbol, Option<Rc<str>>) {
        let Some((file, offset)) = self.locate(pid, addr) else {
            return (UserSymbol::default(), None);
        };
        let (cached, path, name) = {
            let state = self.state.borrow();
            let f = &state.files[file];
            (
                state.user.get(&(file, offset)).cloned(),
                f.path.clone(),
                f.name.clone(),
            )
        };
        if let Some(known) = cached {
            return (known, Some(name));
        }
        let mut found = UserSymbol {
            located: self.function_at(&path, offset),
            ..UserSymbol::default()
        };
        if let (Some(debug), Some(_)) = (&self.debug_info, &found.located) {
            (found.source, found.inlined) = source_lines(debug, &path, offset);
        }
        self.state
            .borrow_mut()
            .user
            .insert((file, offset), found.clone());
        (found, Some(name))
    }

    /// The function at `offset` of the ELF file at `path`, and the offset into it.
    fn function_at(&self, path: &std::path::Path, offset: u64) -> Option<Located> {
        // ELF symbols first, as bpftrace names frames (DWARF may name the same code by an
        // internal alias, `__GI_getppid` for `getppid`). Then the symbol table of the separate
        // debug file found by build id (distributions strip local functions such as libc's
        // `__libc_start_call_main` into it), which costs no DWARF decompression; then DWARF,
        // in the file or found by its debug link.
        let mut elf = Elf::new(path);
        elf.debug_syms = false;
        let mut result = self
            .symbolizer
            .symbolize_single(&Source::Elf(elf.clone()), Input::FileOffset(offset));
        if !matches!(result, Ok(Symbolized::Sym(_))) {
            if let Some((debug_file, vaddr)) = separate_debug_file(path, offset) {
                let mut debug = Elf::new(debug_file);
                debug.debug_syms = false;
                result = self
                    .symbolizer
                    .symbolize_single(&Source::Elf(debug), Input::VirtOffset(vaddr));
            }
        }
        if !matches!(result, Ok(Symbolized::Sym(_))) {
            elf.debug_syms = true;
            result = self
                .symbolizer
                .symbolize_single(&Source::Elf(elf), Input::FileOffset(offset));
        }
        match result {
            Ok(Symbolized::Sym(sym)) => Some((Rc::from(sym.name.as_ref()), sym.offset as u64)),
            _ => None,
        }
    }

    /// The file and file offset behind a user address.
    fn locate(&self, pid: u32, addr: u64) -> Option<(usize, u64)> {
        let mut state = self.state.borrow_mut();
        if let Some(found) = find_region(state.processes.get(&pid).map(|p| &p.regions), addr) {
            return Some(found);
        }
        // Not noted yet (the process was never announced, or mapped the file later): read
        // the process now if it still runs, once per process.
        if !state.refreshed.insert(pid) {
            return None;
        }
        let identity = ExecIdentity::of(pid);
        let regions = read_process(&mut state, pid)?;
        let found = find_region(Some(&regions), addr);
        state.processes.insert(pid, Process { identity, regions });
        found
    }
}

/// From the DWARF of the file at `path` (none: nothing): the source line of `offset` in its
/// function and the functions inlined there, innermost first. blazesym reports the inlined
/// calls outermost first, the function's line being that of the first call, each inlined
/// function's the line of the next call in it, and the innermost's the address's own.
fn source_lines(
    debug: &Symbolizer,
    path: &std::path::Path,
    offset: u64,
) -> (Option<Rc<str>>, Rc<[InlinedFrame]>) {
    let line = |code: Option<&blazesym::symbolize::CodeInfo>| -> Option<Rc<str>> {
        let code = code?;
        let at = code.to_path();
        Some(match code.line {
            Some(n) => format!("{}:{n}", at.display()).into(),
            None => at.display().to_string().into(),
        })
    };
    let mut elf = Elf::new(path);
    elf.debug_syms = true;
    let Ok(Symbolized::Sym(sym)) =
        debug.symbolize_single(&Source::Elf(elf), Input::FileOffset(offset))
    else {
        return (None, Rc::from([]));
    };
    let inlined: Vec<InlinedFrame> = sym
        .inlined
        .iter()
        .rev()
        .map(|i| InlinedFrame {
            name: Rc::from(i.name.as_ref()),
            source: line(i.code_info.as_ref()),
        })
        .collect();
    (line(sym.code_info.as_deref()), Rc::from(inlined))
}

/// Where the debug symbols of the ELF file at `path` live apart from it
/// (`/usr/lib/debug/.build-id/xx/rest.debug`, by its build id), and the virtual address of
/// file offset `offset` (the debug file's own file offsets mean nothing).
fn separate_debug_file(path: &std::path::Path, offset: u64) -> Option<(PathBuf, u64)> {
    use object::{Object, ObjectSegment};
    let bytes = crate::facts::mapped::MappedFile::open(path).ok()?;
    let file = object::File::parse(&*bytes).ok()?;
    let id = file.build_id().ok()??;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let debug = PathBuf::from(format!(
        "/usr/lib/debug/.build-id/{}/{}.debug",
        hex.get(..2)?,
        hex.get(2..)?
    ));
    let vaddr = file.segments().find_map(|seg| {
        let (start, size) = seg.file_range();
        (offset >= start && offset < start + size).then(|| seg.address() + (offset - start))
    })?;
    debug.is_file().then_some((debug, vaddr))
}

fn find_region(regions: Option<&Vec<Region>>, addr: u64) -> Option<(usize, u64)> {
    regions?
        .iter()
        .find(|r| r.start <= addr && addr < r.end)
        .map(|r| (r.file, addr - r.start + r.offset))
}

/// Reads /proc/PID/maps and opens every file mapped there not open yet.
fn read_process(state: &mut State, pid: u32) -> Option<Vec<Region>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut regions = Vec::new();
    for line in text.lines() {
        let Some(entry) = parse_maps_line(line) else {
            continue;
        };
        let key = (entry.device.to_string(), entry.inode);
        let file = match state.file_index.get(&key) {
            Some(&i) => i,
            None => {
                // The map_files entry reaches the very file mapped (also when deleted or
                // in another mount namespace); the name is the fallback.
                let opened = File::open(format!(
                    "/proc/{pid}/map_files/{:x}-{:x}",
                    entry.start, entry.end
                ))
                .or_else(|_| File::open(entry.path));
                let Ok(opened) = opened else { continue };
                let path = PathBuf::from(format!("/proc/self/fd/{}", opened.as_raw_fd()));
                state.files.push(ProcessFile {
                    name: entry.path.into(),
                    _file: opened,
                    path,
                });
                state.file_index.insert(key, state.files.len() - 1);
                state.files.len() - 1
            }
        };
        regions.push(Region {
            start: entry.start,
            end: entry.end,
            offset: entry.offset,
            file,
        });
    }
    Some(regions)
}

/// One line of /proc/PID/maps that maps a file.
#[derive(Debug, PartialEq, Eq)]
struct MapsEntry<'a> {
    start: u64,
    end: u64,
    offset: u64,
    device: &'a str,
    inode: u64,
    path: &'a str,
}

/// `start-end perms offset dev inode path`; `None` for anonymous and special regions
/// (`[stack]`, `[vdso]`, ...), which no file describes.
fn parse_maps_line(line: &str) -> Option<MapsEntry<'_>> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let _perms = fields.next()?;
    let offset = fields.next()?;
    let device = fields.next()?;
    let inode: u64 = fields.next()?.parse().ok()?;
    // The path is the rest of the line (it may hold spaces), after the padding.
    let rest = line.splitn(6, |c: char| c.is_ascii_whitespace()).nth(5)?;
    let path = rest.trim_start();
    if inode == 0 || !path.starts_with('/') {
        return None;
    }
    Some(MapsEntry {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        device,
        inode,
        path,
    })
}

impl Symbolize for Symbols {
    fn frames(&self, user: bool, mode: StackMode, limit: u32, id: u64) -> Vec<Frame> {
        // A kernel id is the helper's return value; a user one holds it in the low 32 bits
        // and the pid in the high 32. A negative id means the kernel recorded no stack.
        let (stack_id, pid) = if user {
            (id as u32, (id >> 32) as u32)
        } else {
            (id as u32, 0)
        };
        if (stack_id as i32) < 0 || (!user && (id as i64) < 0) {
            return Vec::new();
        }
        if user && mode == StackMode::BuildId {
            return self.build_id_frames(limit, stack_id);
        }
        self.addresses(user, mode, limit, stack_id)
            .into_iter()
            .map(|addr| {
                if !user {
                    return Frame {
                        addr,
                        symbol: self.kernel_symbol(addr),
                        ..Frame::default()
                    };
                }
                if let Some(known) = self.state.borrow().frames.get(&(pid, addr)) {
                    return known.clone();
                }
                let (found, module) = self.user_symbol(pid, addr);
                let frame = Frame {
                    addr,
                    symbol: found.located,
                    module,
                    source: found.source,
                    inlined: found.inlined,
                    build_id: None,
                };
                self.state
                    .borrow_mut()
                    .frames
                    .insert((pid, addr), frame.clone());
                frame
            })
            .collect()
    }

    fn symbol(&self, user: bool, addr: u64, pid: u32) -> Option<Rc<str>> {
        let found = if user {
            self.user_symbol(pid, addr).0.located
        } else {
            self.kernel_symbol(addr)
        };
        found.map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let line = "7f1c2a400000-7f1c2a428000 r--p 00028000 fd:01 1835023                    /usr/lib/x86_64-linux-gnu/libc.so.6";
        assert_eq!(
            parse_maps_line(line),
            Some(MapsEntry {
                start: 0x7f1c2a400000,
                end: 0x7f1c2a428000,
                offset: 0x28000,
                device: "fd:01",
                inode: 1835023,
                path: "/usr/lib/x86_64-linux-gnu/libc.so.6",
            })
        );
        let spaced = "55d0c0a00000-55d0c0a01000 r-xp 00001000 08:01 42 /tmp/a dir/prog (deleted)";
        assert_eq!(
            parse_maps_line(spaced).map(|e| e.path),
            Some("/tmp/a dir/prog (deleted)")
        );
        assert_eq!(
            parse_maps_line("7ffd1a5f2000-7ffd1a5f4000 r-xp 00000000 00:00 0 [vdso]"),
            None
        );
        assert_eq!(
            parse_maps_line("55d0c2a1b000-55d0c2a3c000 rw-p 00000000 00:00 0 "),
            None
        );
        assert_eq!(parse_maps_line("garbage"), None);
    }

    /// This test's own functions, named through its own memory map as a traced process's
    /// would be: an address inside a function resolves to it with the right offset.
    #[test]
    fn names_a_function_of_this_process() {
        #[inline(never)]
        fn marker_function_for_symbols_test() -> u64 {
            std::hint::black_box(7)
        }
        let addr = marker_function_for_symbols_test as *const () as usize as u64;
        assert_eq!(marker_function_for_symbols_test(), 7);
        let symbols = Symbols::new(HashMap::new(), false);
        symbols.note_process(std::process::id());
        let (found, module) = symbols.user_symbol(std::process::id(), addr + 1);
        let (name, offset) = found.located.expect("the test binary has a symbol table");
        assert!(name.contains("marker_function_for_symbols_test"), "{name}");
        assert_eq!(offset, 1);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(module.as_deref(), exe.to_str());
        // Nothing is mapped at 0.
        let (nothing, module) = symbols.user_symbol(std::process::id(), 0);
        assert_eq!((nothing.located, module), (None, None));
    }

    #[test]
    fn start_code_counts_fields_after_the_comm() {
        let fields: Vec<String> = (3..=30).map(|n| (n * 100).to_string()).collect();
        let stat = format!("4242 (a (weird) name) {}", fields.join(" "));
        assert_eq!(start_code(&stat), Some(2600));
        assert_eq!(start_code("4242 (short) 1 2"), None);
    }

    /// A `-c` child is first announced while it is still a copy of this process; once it has
    /// exec'd, noting it again reads the new program's memory map.
    #[test]
    fn reads_a_process_again_after_it_execs() {
        let mut child = crate::run::child::Child::spawn_held("sleep 100").unwrap();
        let symbols = Symbols::new(HashMap::new(), false);
        symbols.note_process(child.pid);
        let pid = child.pid;
        let before = ExecIdentity::of(pid).expect("the held child runs");
        let names = |symbols: &Symbols| -> Vec<String> {
            let state = symbols.state.borrow();
            state.processes[&pid]
                .regions
                .iter()
                .map(|r| state.files[r.file].name.to_string())
                .collect()
        };
        let own = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(names(&symbols)
            .iter()
            .any(|n| std::path::Path::new(n) == own));
        child.release();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while ExecIdentity::of(pid) == Some(before) {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exec'd"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        symbols.note_process(pid);
        let after = names(&symbols);
        assert!(after.iter().any(|n| n.ends_with("/sleep")), "{after:?}");
        assert!(
            !after.iter().any(|n| std::path::Path::new(n) == own),
            "{after:?}"
        );
    }
}

//! The ELF files uprobes name: found as a shell finds a command (`$PATH`) or as the dynamic
//! loader finds a library (`/etc/ld.so.cache`, then the standard library directories), or
//! stored in a zip archive (`ARCHIVE!/ENTRY`), and the functions they define, from `.symtab`
//! and `.dynsym`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use object::{Object as _, ObjectSymbol as _};
use tracebound_compiler::machine::facts::{library_file_matches, FactError};
use tracebound_compiler::machine::glob::Glob;

use crate::facts::mapped::MappedFile;
use crate::facts::zip;

/// A binary named `ARCHIVE!/ENTRY`: the archive's path and the entry's name. The name is
/// split at the first `!/` after which the part before it is a regular file (entry names
/// hold `/`s: `app.apk!/lib/x86_64/libfoo.so`); a name that is itself a file is never split.
pub fn archive_member(name: &str) -> Option<(&str, &str)> {
    if !name.contains("!/") || Path::new(name).exists() {
        return None;
    }
    name.match_indices("!/")
        .map(|(at, _)| (&name[..at], &name[at + 2..]))
        .find(|(archive, _)| Path::new(archive).is_file())
}

/// The file the kernel attaches a uprobe on `binary` to: the archive, for an entry of one.
pub fn attached_file(binary: &str) -> &str {
    archive_member(binary).map_or(binary, |(archive, _)| archive)
}

/// The bytes a uprobe's binary names, mapped read-only: a whole file, or an entry stored
/// uncompressed in a zip archive, whose bytes are the archive's own from the entry's data
/// offset on (which is what lets the kernel probe it through the archive's inode).
pub struct BinaryImage {
    mapped: MappedFile,
    range: Range<usize>,
}

impl BinaryImage {
    pub fn open(path: &Path) -> Result<BinaryImage, FactError> {
        let Some((archive, entry)) = path.to_str().and_then(archive_member) else {
            let mapped = MappedFile::open(path).map_err(|e| io_error(path, &e))?;
            let range = 0..mapped.len();
            return Ok(BinaryImage { mapped, range });
        };
        let archive_path = Path::new(archive);
        let mapped = MappedFile::open(archive_path).map_err(|e| io_error(archive_path, &e))?;
        let unreadable = |reason: String| FactError::Malformed {
            what: archive.to_string(),
            reason,
        };
        let entries = zip::entries(&mapped).map_err(|why| {
            unreadable(format!("`{archive}` is not a readable zip archive: {why}"))
        })?;
        let found =
            entries
                .iter()
                .find(|e| e.name == entry)
                .ok_or_else(|| FactError::NotFound {
                    what: format!("entry {entry} of {archive}"),
                })?;
        if !found.stored() {
            let how = match found.encrypted {
                true => "encrypted".to_string(),
                false => format!("compressed ({})", found.method_name()),
            };
            return Err(unreadable(format!(
                "`{entry}` is {how} in the archive; a uprobe needs it stored uncompressed \
                 (`zip -0`), since the kernel probes the archive file's own bytes"
            )));
        }
        let range = found.data(&mapped).map_err(|why| {
            unreadable(format!("`{archive}` is not a readable zip archive: {why}"))
        })?;
        Ok(BinaryImage { mapped, range })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.mapped[self.range.clone()]
    }

    /// Where its bytes start in the file the kernel attaches to (`attached_file`).
    pub fn base(&self) -> u64 {
        self.range.start as u64
    }

    /// Its bytes read as an ELF file.
    pub fn elf(&self, path: &Path) -> Result<object::File<'_>, FactError> {
        object::File::parse(self.bytes()).map_err(|e| FactError::Malformed {
            what: path.display().to_string(),
            reason: format!("not a readable ELF file ({e})"),
        })
    }
}

/// The file `name` stands for: a path as written (it must be an ELF file), or, for a bare
/// name, a command in `$PATH` or a library (`libc`, `libssl.so.3`).
pub fn find(name: &str) -> Result<PathBuf, FactError> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        check_elf(&path)?;
        return Ok(path);
    }
    let found = command_in_path(name).or_else(|| find_library(name));
    let path = found.ok_or_else(|| FactError::binary_not_found(name))?;
    check_elf(&path)?;
    Ok(path)
}

/// The ELF files a path pattern names (`./testprogs/uprobe*`): wildcards in its last part
/// only, matched against the files of that directory; sorted.
pub fn files_matching(pattern: &str) -> Vec<String> {
    if let Some((archive, entry)) = archive_member(pattern) {
        return entries_matching(archive, entry);
    }
    let (dir, file) = pattern.rsplit_once('/').unwrap_or((".", pattern));
    let glob = Glob::new(file);
    let Ok(entries) = fs::read_dir(if dir.is_empty() { "/" } else { dir }) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| glob.matches(name))
        .map(|name| format!("{dir}/{name}"))
        .filter(|path| check_elf(Path::new(path)).is_ok())
        .collect();
    found.sort();
    found
}

/// The ELF files stored uncompressed in zip `archive` whose entry names `pattern` matches
/// (`app.apk!/lib/*/libfoo.so`), as `ARCHIVE!/ENTRY`; sorted.
fn entries_matching(archive: &str, pattern: &str) -> Vec<String> {
    let glob = Glob::new(pattern);
    let Ok(mapped) = MappedFile::open(Path::new(archive)) else {
        return Vec::new();
    };
    let mut found: Vec<String> = zip::entries(&mapped)
        .unwrap_or_default()
        .iter()
        .filter(|e| e.stored() && glob.matches(&e.name))
        .filter(|e| {
            e.data(&mapped)
                .is_ok_and(|r| mapped[r].starts_with(b"\x7fELF"))
        })
        .map(|e| format!("{archive}!/{}", e.name))
        .collect();
    found.sort();
    found
}

/// The executable and libraries process `pid` maps whose path or file name `pattern`
/// matches, sorted; a path that is not in tracebound's mount namespace is given through the
/// process's root (`/proc/PID/root/...`).
pub fn binaries_of(pid: u32, pattern: &str) -> Result<Vec<String>, FactError> {
    let maps_path = format!("/proc/{pid}/maps");
    let maps = fs::read_to_string(&maps_path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => FactError::NotFound {
            what: format!("process {pid}"),
        },
        _ => io_error(Path::new(&maps_path), &e),
    })?;
    let glob = Glob::new(pattern);
    let mut found: Vec<String> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/'))
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or(path);
            glob.matches(path) || glob.matches(name)
        })
        .map(|path| match Path::new(path).exists() {
            true => path.to_string(),
            false => format!("/proc/{pid}/root{path}"),
        })
        .filter(|path| check_elf(Path::new(path)).is_ok())
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// The names of the functions `path` defines, sorted, without duplicates.
pub fn function_symbols(path: &Path) -> Result<Vec<String>, FactError> {
    let image = BinaryImage::open(path)?;
    let file = image.elf(path)?;
    let mut names: Vec<String> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && s.is_definition())
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The value the ELF file at `path` gives symbol `name` (any kind: functions and data).
pub fn symbol_address(path: &Path, name: &str) -> Result<u64, FactError> {
    defined_symbol(path, name, |s| s.address())
}

/// Whether the ELF file `path` is ET_DYN (a PIE or a shared library).
pub fn position_independent(path: &Path) -> Result<bool, FactError> {
    let image = BinaryImage::open(path)?;
    let file = image.elf(path)?;
    Ok(file.kind() == object::ObjectKind::Dynamic)
}

/// The size of symbol `name` in the ELF file `path`'s symbol tables.
pub fn symbol_size(path: &Path, name: &str) -> Result<u64, FactError> {
    defined_symbol(path, name, |s| s.size())
}

fn defined_symbol(
    path: &Path,
    name: &str,
    what: impl Fn(&object::Symbol) -> u64,
) -> Result<u64, FactError> {
    let image = BinaryImage::open(path)?;
    let file = image.elf(path)?;
    file.symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.is_definition() && s.name() == Ok(name))
        .map(|s| what(&s))
        .ok_or_else(|| FactError::NotFound {
            what: format!("symbol {name} in {}", path.display()),
        })
}

/// Where function `name` starts in the file `path` (its offset in `attached_file(path)`,
/// what the kernel's uprobe interface takes) and its first bytes.
pub fn function_entry(path: &Path, name: &str) -> Option<(u64, Vec<u8>)> {
    function_entries(path, &[name]).remove(name)
}

/// `function_entry` for many functions of one file, which is read and parsed once (a
/// wildcard over a library names thousands). A name may carry an offset (`main+12`, as
/// resolution writes a uprobe inside a function): the offset and bytes are there.
pub fn function_entries(path: &Path, names: &[&str]) -> HashMap<String, (u64, Vec<u8>)> {
    let mut out = HashMap::new();
    let Ok(image) = BinaryImage::open(path) else {
        return out;
    };
    let Ok(file) = image.elf(path) else {
        return out;
    };
    let bytes = image.bytes();
    // Base name → the names asked for with their offsets.
    let mut wanted: HashMap<&str, Vec<(&str, u64)>> = HashMap::new();
    for &name in names {
        let (base, at) = match name.split_once('+') {
            Some((base, at)) => (base, at.parse().unwrap_or(0)),
            None => (name, 0),
        };
        wanted.entry(base).or_default().push((name, at));
    }
    for symbol in file.symbols().chain(file.dynamic_symbols()) {
        let Ok(name) = symbol.name() else { continue };
        if symbol.kind() != object::SymbolKind::Text || !symbol.is_definition() {
            continue;
        }
        let Some(asked) = wanted.remove(name) else {
            continue;
        };
        let Some(offset) = file_offset(&file, symbol.address()) else {
            continue;
        };
        for (full, at) in asked {
            let at = (offset + at) as usize;
            let first = bytes
                .get(at..(at + 16).min(bytes.len()))
                .unwrap_or_default()
                .to_vec();
            out.insert(full.to_string(), (image.base() + at as u64, first));
        }
    }
    out
}

/// Where the code at virtual `address` is in the ELF file: through the loadable segment
/// that maps it.
fn file_offset(file: &object::File, address: u64) -> Option<u64> {
    use object::ObjectSegment as _;
    file.segments().find_map(|seg| {
        let (offset, size) = seg.file_range();
        (address >= seg.address() && address < seg.address() + size)
            .then(|| address - seg.address() + offset)
    })
}

/// `uprobe:BIN:function+offset` (or, without a function, the address `offset`): the function
/// and offset, checked to be inside the function and on an instruction boundary.
pub fn uprobe_site(
    path: &Path,
    function: Option<&str>,
    offset: u64,
) -> Result<(String, u64), String> {
    let image = BinaryImage::open(path).map_err(|e| e.to_string())?;
    let file = image.elf(path).map_err(|e| e.to_string())?;
    let bytes = image.bytes();
    let functions: Vec<(&str, u64, u64)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && s.is_definition() && s.size() > 0)
        .filter_map(|s| Some((s.name().ok()?, s.address(), s.size())))
        .collect();
    let (name, start, size, at) = match function {
        Some(f) => {
            let &(name, start, size) = functions
                .iter()
                .find(|(n, ..)| *n == f)
                .ok_or_else(|| format!("no function `{f}` with a size in the symbol table"))?;
            (name, start, size, offset)
        }
        None => {
            let &(name, start, size) = functions
                .iter()
                .find(|&&(_, start, size)| offset >= start && offset < start + size)
                .ok_or_else(|| format!("no function holds the address {offset:#x}"))?;
            (name, start, size, offset - start)
        }
    };
    if at >= size {
        // The current release's words.
        return Err(format!(
            "Offset outside the function bounds ('{name}' size is {size})"
        ));
    }
    let file_offset = file_offset(&file, start)
        .ok_or_else(|| format!("`{name}` is not in the file's loaded segments"))?;
    let code = bytes
        .get(file_offset as usize..(file_offset + size) as usize)
        .ok_or("the function's code is past the end of the file")?;
    if !crate::facts::x86::is_boundary(code, at as usize) {
        let mut starts = Vec::new();
        let mut i = 0;
        while let Some(n) = crate::facts::x86::instruction_length(&code[i..]) {
            starts.push(i);
            i += n;
            if i > at as usize {
                break;
            }
        }
        let before = starts.last().copied().unwrap_or(0);
        return Err(format!(
            "{name}+{at} is inside the instruction at {name}+{before} (next one at {name}+{i}); \
             a breakpoint there would corrupt the process"
        ));
    }
    Ok((name.to_string(), at))
}

/// Where the code `offset` bytes into a binary without symbols (a flat binary, probed under
/// `--unsafe`) is in `attached_file(path)`, and its first bytes.
pub fn code_at(path: &Path, offset: u64) -> Option<(u64, Vec<u8>)> {
    let image = BinaryImage::open(path).ok()?;
    let at = usize::try_from(offset).ok()?;
    let first = image.bytes().get(at..)?;
    Some((image.base() + offset, first[..first.len().min(16)].to_vec()))
}

/// Whether the kernel can emulate a uprobe's displaced first instruction (x86-64) instead of
/// single-stepping it, which costs about 20 times more: pushes, nops, calls and jumps are
/// emulated.
pub fn first_instruction_emulated(code: &[u8]) -> bool {
    match code {
        // push %reg, push %r8-r15
        [0x50..=0x57, ..] | [0x41, 0x50..=0x57, ..] => true,
        // nop, and the long nops compilers pad with
        [0x90, ..] | [0x0f, 0x1f, ..] | [0x66, 0x0f, 0x1f, ..] | [0x66, 0x90, ..] => true,
        // call, jmp rel32, jmp rel8
        [0xe8, ..] | [0xe9, ..] | [0xeb, ..] => true,
        _ => false,
    }
}

/// Whether the kernel will place a uprobe on this first instruction (x86-64) at all: it
/// refuses a lock prefix, segment-override prefixes, and instructions it cannot execute out of
/// line (int3, int, iret, hlt, in/out, cli/sti). The kernel's own decoder has the last word;
/// this spares the estimate a refused link for the common cases (`pthread_spin_lock` starts
/// with `lock decl`).
pub fn first_instruction_probeable(code: &[u8]) -> bool {
    !matches!(
        code.first(),
        Some(
            0xf0
            | 0x26
            | 0x2e
            | 0x36
            | 0x3e
            | 0xcc..=0xcf
            | 0xf4
            | 0xe4..=0xe7
            | 0xec..=0xef
            | 0xfa
            | 0xfb,
        )
    )
}

/// A regular file, or an entry stored in a zip archive, that starts with the ELF magic.
fn check_elf(path: &Path) -> Result<(), FactError> {
    if path.to_str().and_then(archive_member).is_some() {
        return match BinaryImage::open(path)?.bytes().starts_with(b"\x7fELF") {
            true => Ok(()),
            false => Err(not_elf(path)),
        };
    }
    let what = || path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(FactError::Malformed {
            what: what(),
            reason: "it is a directory".into(),
        });
    }
    let mut magic = [0u8; 4];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Ok(()) if magic == *b"\x7fELF" => Ok(()),
        Ok(()) => Err(not_elf(path)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(not_elf(path)),
        Err(e) => Err(io_error(path, &e)),
    }
}

fn not_elf(path: &Path) -> FactError {
    FactError::NotElf {
        path: path.display().to_string(),
    }
}

fn io_error(path: &Path, e: &io::Error) -> FactError {
    match e.kind() {
        io::ErrorKind::NotFound => FactError::binary_not_found(&path.display().to_string()),
        _ => FactError::Unavailable {
            reason: format!("cannot read {}: {e}", path.display()),
        },
    }
}

/// An executable file called `name` in a directory of `$PATH`.
fn command_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A library the dynamic loader would find for `name` (`libc` → `libc.so.6`, see
/// `library_file_matches`). The loader's cache first, then the
/// directories it searches by default.
fn find_library(name: &str) -> Option<PathBuf> {
    let cached = fs::read("/etc/ld.so.cache")
        .ok()
        .map(|bytes| ld_so_cache(&bytes))
        .unwrap_or_default();
    let mut matching = cached
        .iter()
        .filter(|(file, _)| library_file_matches(file, name));
    if let Some((_, path)) = matching
        .clone()
        .find(|(file, _)| file == name)
        .or_else(|| matching.next())
    {
        return Some(PathBuf::from(path));
    }
    library_dirs().into_iter().find_map(|dir| {
        let mut files: Vec<String> = fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|f| library_file_matches(f, name))
            .collect();
        files.sort();
        files.first().map(|f| dir.join(f))
    })
}

/// Where the loader looks when the cache does not say: the directories of
/// `/etc/ld.so.conf` (and the files it includes), then the standard ones.
fn library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    let arch = std::env::consts::ARCH;
    for dir in [
        format!("/lib/{arch}-linux-gnu"),
        format!("/usr/lib/{arch}-linux-gnu"),
        "/lib64".to_string(),
        "/usr/lib64".to_string(),
        "/lib".to_string(),
        "/usr/lib".to_string(),
    ] {
        dirs.push(PathBuf::from(dir));
    }
    dirs
}

/// Directory lines of an ld.so.conf file; `include DIR/*.conf` lines are followed (to a
/// depth of 4, as a guard against include loops).
fn read_ld_so_conf(path: &Path, dirs: &mut Vec<PathBuf>, depth: usize) {
    let Ok(text) = fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(pattern) = line.strip_prefix("include") {
            if depth < 4 {
                for file in conf_includes(pattern.trim()) {
                    read_ld_so_conf(&file, dirs, depth + 1);
                }
            }
        } else if line.starts_with('/') {
            dirs.push(PathBuf::from(line));
        }
    }
}

/// The files an include pattern names: a path, or `DIR/PREFIX*SUFFIX` (the only wildcard
/// ld.so.conf files use in practice), in name order.
fn conf_includes(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let (Some(dir), Some(file)) = (path.parent(), path.file_name().and_then(|f| f.to_str())) else {
        return Vec::new();
    };
    let Some((prefix, suffix)) = file.split_once('*') else {
        return vec![path.to_path_buf()];
    };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

const CACHE_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// The new format's header: magic, library count, string table size, flags and padding,
/// extension offset, three unused words.
const CACHE_HEADER: usize = 48;
/// One entry: flags, key (the file name), value (the path), OS version, hwcap.
const CACHE_ENTRY: usize = 24;

/// The `(file name, path)` entries of `/etc/ld.so.cache` (glibc's "new" format, alone or
/// after an old-format part) built for this machine's architecture. String offsets count
/// from the new-format header.
fn ld_so_cache(bytes: &[u8]) -> Vec<(String, String)> {
    let Some(base) = bytes
        .windows(CACHE_MAGIC.len())
        .position(|w| w == CACHE_MAGIC)
    else {
        return Vec::new();
    };
    let cache = &bytes[base..];
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(cache.get(at..at + 4)?.try_into().ok()?))
    };
    let string_at = |at: u32| -> Option<String> {
        let rest = cache.get(at as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        String::from_utf8(rest[..end].to_vec()).ok()
    };
    let count = u32_at(CACHE_MAGIC.len()).unwrap_or(0) as usize;
    (0..count)
        .filter_map(|i| {
            let at = CACHE_HEADER + i * CACHE_ENTRY;
            let flags = u32_at(at)?;
            if !arch_matches(flags) {
                return None;
            }
            Some((string_at(u32_at(at + 4)?)?, string_at(u32_at(at + 8)?)?))
        })
        .collect()
}

/// The cache's architecture bits (glibc's FLAG_REQUIRED_MASK) for the libraries this
/// machine's processes load; other architectures take any entry.
fn arch_matches(flags: u32) -> bool {
    let required = flags & 0xff00;
    match std::env::consts::ARCH {
        "x86_64" => required == 0x0300,
        "aarch64" => required == 0x0a00,
        _ => true,
    }
}

#[cfg(test)]
mod entry_tests {
    use super::*;

    #[test]
    fn first_instructions_by_class() {
        assert!(first_instruction_emulated(&[0x55, 0x48, 0x89, 0xe5]));
        assert!(first_instruction_emulated(&[0x41, 0x57]));
        assert!(first_instruction_emulated(&[0x0f, 0x1f, 0x44, 0x00, 0x00]));
        assert!(!first_instruction_emulated(&[0x48, 0x89, 0xe5])); // mov %rsp,%rbp
        assert!(!first_instruction_emulated(&[0x48, 0x8d, 0x05])); // lea
        assert!(!first_instruction_emulated(&[]));
        assert!(!first_instruction_probeable(&[0xf0, 0xff, 0x0f])); // lock decl (%rdi)
        assert!(first_instruction_probeable(&[0x48, 0x8d, 0x05]));
    }

    #[test]
    fn the_entry_of_a_function_in_this_test_binary() {
        let me = std::env::current_exe().unwrap();
        let (offset, first) = function_entry(&me, "main").expect("main is in the symbol table");
        assert!(offset > 0);
        assert!(!first.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache in glibc's new format with these (flags, file name, path) entries.
    fn cache(entries: &[(u32, &str, &str)]) -> Vec<u8> {
        let strings_at = CACHE_HEADER + entries.len() * CACHE_ENTRY;
        let mut strings = Vec::new();
        let mut table = Vec::new();
        for (flags, key, value) in entries {
            let key_at = strings_at + strings.len();
            strings.extend_from_slice(key.as_bytes());
            strings.push(0);
            let value_at = strings_at + strings.len();
            strings.extend_from_slice(value.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_ne_bytes());
            table.extend_from_slice(&(key_at as u32).to_ne_bytes());
            table.extend_from_slice(&(value_at as u32).to_ne_bytes());
            table.extend_from_slice(&[0u8; 12]);
        }
        let mut out = CACHE_MAGIC.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_ne_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_ne_bytes());
        out.resize(CACHE_HEADER, 0);
        out.extend(table);
        out.extend(strings);
        out
    }

    fn native_flags() -> u32 {
        match std::env::consts::ARCH {
            "aarch64" => 0x0a03,
            _ => 0x0303,
        }
    }

    #[test]
    fn reads_the_loader_cache_for_this_architecture() {
        let other = if native_flags() == 0x0303 {
            0x0a03
        } else {
            0x0303
        };
        let bytes = cache(&[
            (native_flags(), "libz.so.1", "/lib/libz.so.1"),
            (other, "libc.so.6", "/other/libc.so.6"),
            (native_flags(), "libc.so.6", "/lib/libc.so.6"),
        ]);
        let entries = ld_so_cache(&bytes);
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("libz.so.1", "/lib/libz.so.1"),
                ("libc.so.6", "/lib/libc.so.6")
            ]
        );
        // After an old-format part, offsets count from the new header.
        let mut compat = b"ld.so-1.7.0\0\0\0\0\0".to_vec();
        compat.extend(&bytes);
        assert_eq!(ld_so_cache(&compat), entries);
        assert!(ld_so_cache(b"not a cache").is_empty());
        assert!(ld_so_cache(&bytes[..CACHE_HEADER + 10]).is_empty());
    }

    #[test]
    fn paths_must_be_elf_files() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(find(exe.to_str().unwrap()).unwrap(), exe);
        assert_eq!(
            find("/nonexistent/bin"),
            Err(FactError::binary_not_found("/nonexistent/bin"))
        );
        assert!(
            matches!(find("/"), Err(FactError::Malformed { reason, .. }) if reason == "it is a directory")
        );
        let text = std::env::temp_dir().join(format!("tracebound-not-elf-{}", std::process::id()));
        fs::write(&text, "#!/bin/sh\n").unwrap();
        let result = find(text.to_str().unwrap());
        fs::remove_file(&text).unwrap();
        assert!(
            matches!(result, Err(FactError::NotElf { .. })),
            "{result:?}"
        );
        assert_eq!(
            find("no-such-command-or-library-xyz"),
            Err(FactError::binary_not_found(
                "no-such-command-or-library-xyz"
            ))
        );
    }

    /// An ELF stored in a zip archive is read from the archive's bytes, and its functions are
    /// at their place in the archive; entries that cannot be probed say why.
    #[test]
    fn elf_files_stored_in_a_zip_archive() {
        let libc = find("libc").unwrap();
        let elf = fs::read(&libc).unwrap();
        let bytes = crate::facts::zip::tests::archive(
            &[
                ("lib/libc.so.6", 0, &elf),
                ("packed.so", 8, b"\x7fELF, deflated"),
                ("notes.txt", 0, b"not code"),
            ],
            b"",
        );
        let zip = std::env::temp_dir().join(format!("tracebound-zip-{}.zip", std::process::id()));
        fs::write(&zip, &bytes).unwrap();
        let zip_name = zip.to_str().unwrap().to_string();
        let member = format!("{zip_name}!/lib/libc.so.6");
        let entry = |name: &str| find(&format!("{zip_name}!/{name}"));
        let found = entry("lib/libc.so.6");
        let symbols = function_symbols(Path::new(&member));
        let in_zip = function_entry(Path::new(&member), "malloc");
        let matching = files_matching(&format!("{zip_name}!/*"));
        let (packed, notes, missing) = (entry("packed.so"), entry("notes.txt"), entry("nope"));
        let attached = attached_file(&member).to_string();
        fs::remove_file(&zip).unwrap();

        assert_eq!(found.unwrap(), PathBuf::from(&member));
        assert_eq!(attached, zip_name);
        assert_eq!(symbols.unwrap(), function_symbols(&libc).unwrap());
        let (plain, first) = function_entry(&libc, "malloc").unwrap();
        let (offset, first_in_zip) = in_zip.unwrap();
        assert_eq!(first_in_zip, first);
        assert_eq!(&bytes[offset as usize..][..first.len()], &first[..]);
        assert!(offset > plain, "{offset} is past the local header");
        assert_eq!(matching, [member]);
        assert!(
            matches!(&packed, Err(FactError::Malformed { reason, .. })
                if reason.contains("compressed (deflate)") && reason.contains("zip -0")),
            "{packed:?}"
        );
        assert!(matches!(notes, Err(FactError::NotElf { .. })), "{notes:?}");
        assert!(
            matches!(missing, Err(FactError::NotFound { .. })),
            "{missing:?}"
        );
    }

    /// A file with no symbols is read at the offset given.
    #[test]
    fn code_at_an_offset_of_a_flat_file() {
        let path = std::env::temp_dir().join(format!("tracebound-flat-{}", std::process::id()));
        fs::write(&path, [0x31, 0xc0, 0xc3]).unwrap();
        let (at_start, past_end) = (code_at(&path, 1), code_at(&path, 4));
        let whole = find(path.to_str().unwrap());
        fs::remove_file(&path).unwrap();
        assert_eq!(at_start, Some((1, vec![0xc0, 0xc3])));
        assert_eq!(past_end, None);
        assert!(matches!(whole, Err(FactError::NotElf { .. })), "{whole:?}");
    }

    #[test]
    fn bare_names_are_commands_or_libraries() {
        let sh = find("sh").unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        // Every Linux test machine has a C library the loader can find.
        let libc = find("libc").unwrap();
        let file = libc.file_name().unwrap().to_str().unwrap();
        assert!(file.starts_with("libc.so"), "{libc:?}");
    }

    #[test]
    fn lists_the_functions_a_binary_defines() {
        let exe = std::env::current_exe().unwrap();
        let names = function_symbols(&exe).unwrap();
        assert!(names.iter().any(|n| n == "main"), "no main in {exe:?}");
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        let libc = find("libc").unwrap();
        let names = function_symbols(&libc).unwrap();
        assert!(names.iter().any(|n| n == "malloc"), "no malloc in {libc:?}");
    }
}

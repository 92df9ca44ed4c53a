//! `LiveFacts`: the compiler's `MachineFacts` answered from this machine's tracefs
//! (`/sys/kernel/tracing/events`, or `/sys/kernel/debug/tracing/events` on older setups), the
//! kernel's BTF (`/sys/kernel/btf`, for raw tracepoints) and, for uprobes, its files
//! (`binary`). tracefs is found, and mounted at `/sys/kernel/tracing`
//! when missing, on first use, so constructing a `LiveFacts` never fails and never needs root.

pub mod binary;
pub mod headers;
pub mod mapped;
pub mod syscalls;
pub mod usdt_notes;
pub mod x86;
pub mod zip;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tracebound_compiler::machine::facts::{FactError, MachineFacts, UsdtSite};
use tracebound_compiler::machine::tracepoint_format::{self, TracepointFormat};

use tracebound_compiler::types::{FuncProto, KType, NameSpace, TypeId};

use crate::kernel::btf::Btf;
use crate::kernel::tracefs;

/// Machine facts read from the live kernel.
#[derive(Default)]
pub struct LiveFacts {
    /// The tracefs `events/` directory, or why there is none; settled once.
    events: OnceLock<Result<PathBuf, FactError>>,
    /// The kernel's BTF, read and indexed on first use (about 5 MB, tens of milliseconds).
    btf: OnceLock<Result<Btf, FactError>>,
    /// `-p`: wildcard binaries expand among what this process maps, and a path that is not
    /// in tracebound's mount namespace is looked for in the process's (`/proc/PID/root`).
    process: Option<u32>,
}

impl std::fmt::Debug for LiveFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFacts")
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl LiveFacts {
    /// Facts about this machine; tracefs is located (or mounted) when first needed.
    pub fn new() -> LiveFacts {
        LiveFacts::default()
    }

    /// The facts of this machine as the `-p` process sees them.
    pub fn of_process(pid: Option<u32>) -> LiveFacts {
        LiveFacts {
            process: pid,
            ..LiveFacts::default()
        }
    }

    /// Facts read from a given `events/` directory instead: another mount point, or a copy
    /// of one.
    pub fn with_events_dir(dir: impl Into<PathBuf>) -> LiveFacts {
        LiveFacts {
            events: OnceLock::from(Ok(dir.into())),
            ..LiveFacts::default()
        }
    }

    /// The kernel's BTF (vmlinux; this kernel's modules carry none of their own here).
    pub fn btf(&self) -> Result<&Btf, FactError> {
        self.btf
            .get_or_init(|| {
                let path = Path::new(BTF_DIR).join("vmlinux");
                let bytes = fs::read(&path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => tracebound_compiler::machine::facts::no_btf(),
                    _ => unreadable(&path, &e),
                })?;
                Btf::parse(&bytes).map_err(|e| FactError::Malformed {
                    what: path.display().to_string(),
                    reason: e.to_string(),
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn events_dir(&self) -> Result<&Path, FactError> {
        self.events
            .get_or_init(locate_events_dir)
            .as_deref()
            .map_err(Clone::clone)
    }
}

fn locate_events_dir() -> Result<PathBuf, FactError> {
    match tracefs::ensure_mounted() {
        Ok(dir) => Ok(dir.join("events")),
        Err(e) => {
            let advice = if e.kind() == io::ErrorKind::PermissionDenied {
                "run as root, or have root run `mount -t tracefs tracefs /sys/kernel/tracing`"
            } else {
                "mount it with `mount -t tracefs tracefs /sys/kernel/tracing`"
            };
            Err(FactError::Unavailable {
                reason: format!(
                    "tracefs is not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing \
                     and mounting it failed ({e}): {advice}"
                ),
            })
        }
    }
}

impl MachineFacts for LiveFacts {
    /// Every `events/<category>/<event>/` directory that has an `enable` file, sorted. The
    /// `enable` test leaves out ftrace's own events (`ftrace:function`, ...): they have format
    /// files but cannot be enabled or attached to, and neither `available_events` nor
    /// `bpftrace -l` lists them.
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
        let events = self.events_dir()?;
        let mut all = Vec::new();
        for category in subdirectories(events)? {
            let category_dir = events.join(&category);
            for event in subdirectories(&category_dir)? {
                if category_dir.join(&event).join("enable").exists() {
                    all.push((category.clone(), event));
                }
            }
        }
        all.sort();
        Ok(all)
    }

    fn tracepoint_format(
        &self,
        category: &str,
        event: &str,
    ) -> Result<TracepointFormat, FactError> {
        let not_found = || FactError::tracepoint_not_found(category, event);
        // The names come from the user's script: keep them to one path component each.
        if !is_plain_name(category) || !is_plain_name(event) {
            return Err(not_found());
        }
        let dir = self.events_dir()?.join(category).join(event);
        let path = dir.join("format");
        let text = fs::read_to_string(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => not_found(),
            _ => unreadable(&path, &e),
        })?;
        // Same rule as the listing: a format without `enable` is one of ftrace's own events.
        if !dir.join("enable").exists() {
            return Err(not_found());
        }
        tracepoint_format::parse(&text).map_err(|e| FactError::Malformed {
            what: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The `btf_trace_NAME` type names in the kernel's BTF and its modules'
    /// (`/sys/kernel/btf/*`): the kernel makes one for every tracepoint, those without a
    /// trace event in tracefs included.
    fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
        let dir = Path::new(BTF_DIR);
        let vmlinux = dir.join("vmlinux");
        if !vmlinux.exists() {
            return Err(FactError::Unavailable {
                reason: format!("the kernel has no BTF ({} is missing)", vmlinux.display()),
            });
        }
        let entries = fs::read_dir(dir).map_err(|e| unreadable(dir, &e))?;
        let mut all = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| unreadable(dir, &e))?.path();
            let bytes = fs::read(&path).map_err(|e| unreadable(&path, &e))?;
            all.extend(
                raw_tracepoints_in_btf(&bytes).map_err(|reason| FactError::Malformed {
                    what: path.display().to_string(),
                    reason,
                })?,
            );
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    fn binary_path(&self, name: &str) -> Result<String, FactError> {
        let found = binary::find(name);
        match (&found, self.process) {
            (Err(FactError::NotFound { .. }), Some(pid)) if name.starts_with('/') => {
                let theirs = format!("/proc/{pid}/root{name}");
                binary::find(&theirs).map(|_| theirs)
            }
            _ => found.map(|p| p.display().to_string()),
        }
    }

    fn binaries_matching(&self, pattern: &str) -> Result<Vec<String>, FactError> {
        match (pattern.contains('/'), self.process) {
            (true, _) => Ok(binary::files_matching(pattern)),
            (false, Some(pid)) => binary::binaries_of(pid, pattern),
            (false, None) => Err(FactError::Unavailable {
                reason: format!(
                    "the binary `{pattern}` names those a process maps: give its pid with -p"
                ),
            }),
        }
    }

    fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError> {
        binary::function_symbols(Path::new(path))
    }

    fn usdt_sites(&self, path: &str) -> Result<Vec<UsdtSite>, FactError> {
        usdt_notes::read_sites(path)
    }

    fn header_macros(&self, header: &str, dirs: &[PathBuf]) -> Result<String, FactError> {
        headers::header_macros(header, dirs)
    }

    fn uprobe_site(
        &self,
        path: &str,
        function: Option<&str>,
        offset: u64,
    ) -> Result<(String, u64), String> {
        binary::uprobe_site(Path::new(path), function, offset)
    }

    fn kernel_type_named(&self, space: NameSpace, name: &str) -> Result<TypeId, FactError> {
        self.btf()?
            .by_name(space, name)
            .map(TypeId)
            .ok_or_else(|| FactError::NotFound {
                what: format!("{} {name}", space.keyword()),
            })
    }

    fn kernel_type(&self, id: TypeId) -> Result<KType, FactError> {
        self.btf()?.get(id.0).map_err(|e| FactError::Malformed {
            what: format!("{BTF_DIR}/vmlinux"),
            reason: e.to_string(),
        })
    }

    fn kernel_typedef_name(&self, id: TypeId) -> Option<String> {
        self.btf().ok()?.typedef_name(id.0)
    }

    fn kernel_type_names(&self, space: NameSpace) -> Result<Vec<String>, FactError> {
        Ok(self.btf()?.names(space))
    }

    fn kernel_function(&self, name: &str) -> Result<FuncProto, FactError> {
        self.btf()?
            .function(name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("kernel function {name}"),
            })
    }

    fn kernel_function_id(&self, name: &str) -> Result<u32, FactError> {
        self.btf()?
            .function_id(name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("kernel function {name}"),
            })
    }

    fn kernel_functions(&self) -> Result<Vec<String>, FactError> {
        Ok(self.btf()?.function_names())
    }

    fn kernel_enumerator(&self, name: &str) -> Result<i64, FactError> {
        self.btf()?
            .enumerator(name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("enumerator {name}"),
            })
    }
    fn symbol_size(&self, binary: &str, name: &str) -> Result<u64, FactError> {
        binary::symbol_size(Path::new(binary), name)
    }
    fn position_independent(&self, binary: &str) -> Result<bool, FactError> {
        binary::position_independent(Path::new(binary))
    }
    fn percpu_variable(&self, name: &str) -> Result<u32, FactError> {
        self.btf()?
            .percpu_variable(name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("per-CPU variable {name} in the kernel's BTF"),
            })
    }
    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        match binary {
            Some(path) => binary::symbol_address(Path::new(path), name),
            None => kernel_symbol_address(name),
        }
    }
}

/// A kernel symbol's address from /proc/kallsyms (`ADDRESS TYPE NAME [MODULE]` lines).
fn kernel_symbol_address(name: &str) -> Result<u64, FactError> {
    let path = Path::new("/proc/kallsyms");
    let text = fs::read_to_string(path).map_err(|e| unreadable(path, &e))?;
    text.lines()
        .find_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let address = fields.next()?;
            let _kind = fields.next()?;
            (fields.next()? == name).then(|| u64::from_str_radix(address, 16).ok())?
        })
        .ok_or_else(|| FactError::NotFound {
            what: format!("kernel symbol {name}"),
        })
}

/// Where the kernel shows its BTF and its modules'.
const BTF_DIR: &str = "/sys/kernel/btf";

/// The NAMEs of the `btf_trace_NAME` strings of a BTF blob's string section. The header
/// (after magic, version and flags: header length, type offset and length, string offset
/// and length) says where that is; module BTF has the same layout.
fn raw_tracepoints_in_btf(btf: &[u8]) -> Result<Vec<String>, String> {
    const MAGIC: u16 = 0xeb9f;
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(btf.get(at..at + 4)?.try_into().ok()?))
    };
    let magic = btf.get(..2).map(|m| u16::from_ne_bytes([m[0], m[1]]));
    if magic != Some(MAGIC) {
        return Err("no BTF magic".into());
    }
    let (Some(header), Some(str_off), Some(str_len)) = (u32_at(4), u32_at(16), u32_at(20)) else {
        return Err("truncated header".into());
    };
    let start = header as usize + str_off as usize;
    let strings = btf
        .get(start..start + str_len as usize)
        .ok_or("the string section is past the end")?;
    Ok(strings
        .split(|&b| b == 0)
        .filter_map(|s| s.strip_prefix(b"btf_trace_"))
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Names of the directories in `dir` (tracefs names are ASCII; anything else is skipped).
fn subdirectories(dir: &Path) -> Result<Vec<String>, FactError> {
    let entries = fs::read_dir(dir).map_err(|e| unreadable(dir, &e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(dir, &e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Ok(name)) = (is_dir, entry.file_name().into_string()) {
            names.push(name);
        }
    }
    Ok(names)
}

fn unreadable(path: &Path, e: &io::Error) -> FactError {
    let advice = if e.kind() == io::ErrorKind::PermissionDenied {
        ": run as root"
    } else {
        ""
    };
    FactError::Unavailable {
        reason: format!("cannot read {}: {e}{advice}", path.display()),
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use tracebound_compiler::machine::expand::expand_tracepoints;
    use tracebound_compiler::machine::tracepoint_format::{field_type, FieldType};

    fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    /// The live facts, or `None` (test skipped, with the reason printed) when tracefs cannot
    /// be reached. Under `CI=true` that is a failure: CI runs as root, where it must work.
    fn live() -> Option<LiveFacts> {
        let facts = LiveFacts::new();
        match facts.events_dir() {
            Ok(_) => Some(facts),
            Err(e) if in_ci() => panic!("CI=true and tracefs is unreachable: {e}"),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    #[test]
    fn lists_syscall_tracepoints_but_not_ftrace_internals() {
        let Some(facts) = live() else { return };
        let all = facts.tracepoints().unwrap();
        let has = |c: &str, e: &str| all.iter().any(|(ac, ae)| ac == c && ae == e);
        assert!(has("syscalls", "sys_enter_openat"));
        assert!(has("sched", "sched_switch"));
        assert!(!has("ftrace", "function"));
        assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    }

    #[test]
    fn sys_enter_openat_format() {
        let Some(facts) = live() else { return };
        let format = facts
            .tracepoint_format("syscalls", "sys_enter_openat")
            .unwrap();
        // The id agrees with the kernel's own `id` file.
        let id_file = facts
            .events_dir()
            .unwrap()
            .join("syscalls/sys_enter_openat/id");
        let id: u32 = fs::read_to_string(id_file).unwrap().trim().parse().unwrap();
        assert_eq!(format.id, id);
        // A syscall record: 8 bytes of common fields, `int __syscall_nr` padded to 8, then one
        // 8-byte slot per argument: dfd at 16, filename at 24.
        let filename = format.field("filename").unwrap();
        assert_eq!((filename.offset, filename.size), (24, 8));
        assert_eq!(filename.c_type, "const char *");
        assert_eq!(
            field_type(filename),
            FieldType::Pointer {
                pointee: "const char".into()
            }
        );
        assert_eq!(format.field("dfd").unwrap().offset, 16);
    }

    /// A BTF blob with only a string section holding these strings.
    fn btf_with_strings(strings: &[&str]) -> Vec<u8> {
        let mut section = vec![0u8];
        for s in strings {
            section.extend_from_slice(s.as_bytes());
            section.push(0);
        }
        let mut btf = Vec::new();
        btf.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        btf.extend_from_slice(&[1, 0]); // version, flags
        for word in [24u32, 0, 0, 0, section.len() as u32] {
            btf.extend_from_slice(&word.to_ne_bytes());
        }
        btf.extend(section);
        btf
    }

    #[test]
    fn raw_tracepoints_are_the_btf_trace_types() {
        let btf = btf_with_strings(&[
            "int",
            "btf_trace_sched_switch",
            "btf_trace_",
            "task_struct",
            "btf_trace_pelt_cfs_tp",
        ]);
        assert_eq!(
            raw_tracepoints_in_btf(&btf).unwrap(),
            ["sched_switch", "pelt_cfs_tp"]
        );
        assert!(raw_tracepoints_in_btf(b"not btf at all").is_err());
        assert!(raw_tracepoints_in_btf(&btf[..30]).is_err());
    }

    #[test]
    fn lists_this_kernels_raw_tracepoints() {
        if !Path::new(BTF_DIR).join("vmlinux").exists() {
            assert!(!in_ci(), "CI machines have BTF");
            eprintln!("skipped: no {BTF_DIR}/vmlinux");
            return;
        }
        let all = LiveFacts::new().raw_tracepoints().unwrap();
        assert!(all.iter().any(|t| t == "sched_switch"));
        assert!(all.iter().any(|t| t == "sys_enter"));
        assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    }

    #[test]
    fn unknown_and_unsafe_names_are_not_found() {
        let Some(facts) = live() else { return };
        for (c, e) in [
            ("syscalls", "sys_enter_no_such_call"),
            ("no_such_category", "x"),
            ("..", "syscalls"),
            ("syscalls/../sched", "sched_switch"),
            ("", "sched_switch"),
            ("ftrace", "function"),
        ] {
            assert_eq!(
                facts.tracepoint_format(c, e),
                Err(FactError::tracepoint_not_found(c, e)),
                "{c}:{e}"
            );
        }
    }

    /// Every format file under events/ (ftrace's own included) parses, and every field of an
    /// attachable tracepoint gets a type, except flexible arrays.
    #[test]
    fn every_format_on_this_machine_parses() {
        let Some(facts) = live() else { return };
        let events = facts.events_dir().unwrap();
        let mut failures = Vec::new();
        let mut untyped = Vec::new();
        let mut count = 0;
        for category in subdirectories(events).unwrap() {
            for event in subdirectories(&events.join(&category)).unwrap() {
                let path = events.join(&category).join(&event).join("format");
                let Ok(text) = fs::read_to_string(&path) else {
                    continue;
                };
                count += 1;
                match tracepoint_format::parse(&text) {
                    Err(e) => failures.push(format!("{}: {e}", path.display())),
                    Ok(format) => {
                        for field in format.args() {
                            if let FieldType::Unsupported { reason } = field_type(field) {
                                untyped.push(format!("{category}:{event}: {reason}"));
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "{count} format files parsed; fields without a type: {}",
            untyped.len()
        );
        assert!(count > 100, "only {count} format files");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let unexpected: Vec<_> = untyped
            .iter()
            .filter(|u| !u.starts_with("ftrace:") && !u.contains("flexible array"))
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:#?}");
    }

    /// Expansion lists exactly what `bpftrace -l` lists, in the same order.
    #[test]
    fn expansion_matches_bpftrace_listing() {
        let Some(facts) = live() else { return };
        if !Path::new("/usr/bin/bpftrace").exists() {
            assert!(!in_ci(), "CI installs bpftrace, the reference");
            eprintln!("skipped: no /usr/bin/bpftrace");
            return;
        }
        for (category, event) in [
            ("syscalls", "sys_enter_open*"),
            ("*", "sched_sw*"),
            ("fib*", "*"),
            ("irq*", "*"),
            ("*", "*"),
        ] {
            let ours: Vec<String> = expand_tracepoints(&facts, category, event)
                .unwrap()
                .into_iter()
                .map(|(c, e)| format!("tracepoint:{c}:{e}"))
                .collect();
            let out = Command::new("/usr/bin/bpftrace")
                .arg("-l")
                .arg(format!("tracepoint:{category}:{event}"))
                .output()
                .unwrap();
            let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("tracepoint:"))
                .map(str::to_string)
                .collect();
            assert!(!theirs.is_empty(), "{category}:{event}");
            assert_eq!(ours, theirs, "{category}:{event}");
        }
    }

    /// A throwaway events/ tree, removed on drop.
    struct FakeEvents(PathBuf);

    impl FakeEvents {
        fn new(test: &str) -> FakeEvents {
            let dir = std::env::temp_dir()
                .join(format!("tracebound-facts-{test}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            FakeEvents(dir)
        }

        fn event(&self, category: &str, event: &str, format: &str, enable: bool) {
            let dir = self.0.join(category).join(event);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("format"), format).unwrap();
            if enable {
                fs::write(dir.join("enable"), "0\n").unwrap();
            }
        }
    }

    impl Drop for FakeEvents {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const TINY: &str = "name: b\nID: 42\nformat:\n\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n";

    #[test]
    fn reads_a_given_events_directory() {
        let fake = FakeEvents::new("given");
        fake.event("cat", "b", TINY, true);
        fake.event("cat", "a", TINY, true);
        fake.event("ftrace", "function", TINY, false);
        fake.event("bad", "format", "name: x\n", true);
        fs::write(fake.0.join("header_page"), "").unwrap();
        let facts = LiveFacts::with_events_dir(&fake.0);
        assert_eq!(
            facts.tracepoints().unwrap(),
            [
                ("bad".to_string(), "format".to_string()),
                ("cat".to_string(), "a".to_string()),
                ("cat".to_string(), "b".to_string()),
            ]
        );
        assert_eq!(facts.tracepoint_format("cat", "a").unwrap().id, 42);
        assert_eq!(
            facts.tracepoint_format("ftrace", "function"),
            Err(FactError::tracepoint_not_found("ftrace", "function"))
        );
        assert!(matches!(
            facts.tracepoint_format("bad", "format"),
            Err(FactError::Malformed { .. })
        ));
    }

    #[test]
    fn a_missing_events_directory_is_unavailable() {
        let fake = FakeEvents::new("missing");
        let facts = LiveFacts::with_events_dir(fake.0.join("nowhere"));
        assert!(matches!(
            facts.tracepoints(),
            Err(FactError::Unavailable { .. })
        ));
    }
}

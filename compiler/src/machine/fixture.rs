//! `FixtureFacts`: machine facts from in-memory texts, for compiler tests and anything else
//! that must not look at the machine. `FixtureFacts::bundled()` serves real format files
//! copied from a 6.18 kernel (`compiler/tests/fixtures/tracefs/`); binaries and their
//! function symbols are added with `with_binary`.

use std::collections::BTreeMap;

use super::facts::{library_file_matches, FactError, MachineFacts, UsdtSite};
use super::tracepoint_format::{self, TracepointFormat};
use crate::types::fixture::FixtureTypes;
use crate::types::{FuncProto, KType, NameSpace, TypeId};

/// Tracepoint formats keyed by (category, event), parsed when asked for, so that a test can
/// also hold a malformed one and see the error.
#[derive(Clone, Debug, Default)]
pub struct FixtureFacts {
    formats: BTreeMap<(String, String), String>,
    /// Raw tracepoints beyond the events of `formats` (each of which has one).
    raw_tracepoints: Vec<String>,
    /// ELF files by path, with the functions they define.
    binaries: BTreeMap<String, Vec<String>>,
    /// USDT sites by binary path (a binary without an entry has none).
    usdt: BTreeMap<String, Vec<UsdtSite>>,
    /// Kernel types (BTF); `None` is a machine without BTF.
    kernel: Option<FixtureTypes>,
    /// Symbol addresses by (binary, or "" for the kernel; name).
    symbols: BTreeMap<(String, String), u64>,
    /// Symbol sizes by (binary, name), where not the default 4.
    sizes: BTreeMap<(String, String), u64>,
    /// Regular files that are not ELF (flat binaries).
    flat_files: Vec<String>,
    /// Per-CPU variables' BTF ids by name.
    percpu: BTreeMap<String, u32>,
    /// When set, every question fails with `FactError::Unavailable` carrying this reason: a
    /// machine without tracefs.
    unavailable: Option<String>,
}

/// `(category, event, text of compiler/tests/fixtures/tracefs/<category>/<event>/format)`.
macro_rules! bundled {
    ($category:literal, $event:literal) => {
        (
            $category,
            $event,
            include_str!(concat!(
                "../../tests/fixtures/tracefs/",
                $category,
                "/",
                $event,
                "/format"
            )),
        )
    };
}

/// (category, event, format text) of the bundled fixtures.
const BUNDLED: &[(&str, &str, &str)] = &[
    bundled!("syscalls", "sys_enter_openat"),
    bundled!("syscalls", "sys_exit_openat"),
    bundled!("syscalls", "sys_enter_read"),
    bundled!("syscalls", "sys_exit_read"),
    bundled!("syscalls", "sys_enter_getppid"),
    bundled!("syscalls", "sys_enter_execve"),
    bundled!("sched", "sched_switch"),
    bundled!("sched", "sched_process_exec"),
    bundled!("sched", "sched_wakeup"),
    bundled!("raw_syscalls", "sys_enter"),
    bundled!("irq", "irq_handler_entry"),
    bundled!("tcp", "tcp_retransmit_synack"),
    bundled!("ipi", "ipi_send_cpumask"),
    bundled!("percpu", "percpu_free_percpu"),
    bundled!("sock", "sock_exceed_buf_limit"),
];

impl FixtureFacts {
    /// No tracepoints at all.
    pub fn new() -> FixtureFacts {
        FixtureFacts::default()
    }

    /// The real formats under `compiler/tests/fixtures/tracefs/`.
    pub fn bundled() -> FixtureFacts {
        BUNDLED
            .iter()
            .fold(FixtureFacts::new(), |facts, (c, e, text)| {
                facts.with_format(c, e, text)
            })
    }

    /// From `"category:event"` → format text pairs.
    ///
    /// # Panics
    /// When a key has no `:`: fixtures are written by hand, so that is a bug in the test.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> FixtureFacts {
        texts
            .into_iter()
            .fold(FixtureFacts::new(), |facts, (key, text)| {
                let (c, e) = key
                    .split_once(':')
                    .unwrap_or_else(|| panic!("fixture key `{key}` is not `category:event`"));
                facts.with_format(c, e, text)
            })
    }

    /// Adds (or replaces) one tracepoint.
    pub fn with_format(mut self, category: &str, event: &str, text: &str) -> FixtureFacts {
        self.formats
            .insert((category.to_string(), event.to_string()), text.to_string());
        self
    }

    /// Adds a raw tracepoint that has no trace event (a "bare" tracepoint).
    pub fn with_raw_tracepoint(mut self, name: &str) -> FixtureFacts {
        self.raw_tracepoints.push(name.to_string());
        self
    }

    /// Kernel types: the hand-written `FixtureTypes::bundled()` set.
    pub fn with_kernel_types(mut self) -> FixtureFacts {
        self.kernel = Some(FixtureTypes::bundled().with_iterator_contexts());
        self
    }

    fn kernel(&self) -> Result<&FixtureTypes, FactError> {
        self.check_available()?;
        self.kernel.as_ref().ok_or_else(super::facts::no_btf)
    }

    /// Adds (or replaces) an ELF binary or library and the functions it defines.
    pub fn with_binary(mut self, path: &str, functions: &[&str]) -> FixtureFacts {
        self.binaries.insert(
            path.to_string(),
            functions.iter().map(|f| f.to_string()).collect(),
        );
        self
    }

    /// Gives symbol `name` of `binary` a size other than the default 4 (a label's 0).
    pub fn with_symbol_size(mut self, binary: &str, name: &str, size: u64) -> FixtureFacts {
        self.sizes
            .insert((binary.to_string(), name.to_string()), size);
        self
    }

    /// Adds a regular file that is not ELF (a flat binary), found by its path.
    pub fn with_flat_file(mut self, path: &str) -> FixtureFacts {
        self.flat_files.push(path.to_string());
        self
    }

    /// Adds a USDT site to the binary at `site.path` (which `with_binary` must also add).
    pub fn with_usdt_site(mut self, site: UsdtSite) -> FixtureFacts {
        self.usdt.entry(site.path.clone()).or_default().push(site);
        self
    }

    /// Adds a symbol's address: a kernel one (`binary` None) or one in a binary.
    pub fn with_symbol(mut self, binary: Option<&str>, name: &str, address: u64) -> FixtureFacts {
        self.symbols.insert(
            (binary.unwrap_or_default().to_string(), name.to_string()),
            address,
        );
        self
    }

    /// A per-CPU kernel variable with this BTF id (`percpu_kaddr`).
    pub fn with_percpu_variable(mut self, name: &str, btf_id: u32) -> FixtureFacts {
        self.percpu.insert(name.to_string(), btf_id);
        self
    }

    /// A machine where tracepoints cannot be read at all.
    pub fn unavailable(reason: &str) -> FixtureFacts {
        FixtureFacts {
            unavailable: Some(reason.to_string()),
            ..FixtureFacts::default()
        }
    }

    fn check_available(&self) -> Result<(), FactError> {
        match &self.unavailable {
            Some(reason) => Err(FactError::Unavailable {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl MachineFacts for FixtureFacts {
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
        self.check_available()?;
        Ok(self.formats.keys().cloned().collect())
    }

    fn tracepoint_format(
        &self,
        category: &str,
        event: &str,
    ) -> Result<TracepointFormat, FactError> {
        self.check_available()?;
        let text = self
            .formats
            .get(&(category.to_string(), event.to_string()))
            .ok_or_else(|| FactError::tracepoint_not_found(category, event))?;
        tracepoint_format::parse(text).map_err(|e| FactError::Malformed {
            what: format!("the format of tracepoint {category}:{event}"),
            reason: e.to_string(),
        })
    }

    /// The event of every tracepoint format, and those added.
    fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
        self.check_available()?;
        let mut all: Vec<String> = self
            .formats
            .keys()
            .map(|(_, event)| event.clone())
            .chain(self.raw_tracepoints.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// A path is taken as written; a bare name matches a binary of that file name, or a
    /// library as `library_file_matches` says (`libc` → `.../libc.so.6`).
    fn binary_path(&self, name: &str) -> Result<String, FactError> {
        self.check_available()?;
        if self.flat_files.iter().any(|f| f == name) {
            return Err(FactError::NotElf { path: name.into() });
        }
        let found = if name.contains('/') {
            self.binaries.contains_key(name).then(|| name.to_string())
        } else {
            self.binaries.keys().find_map(|path| {
                let file = path.rsplit('/').next().unwrap_or(path);
                library_file_matches(file, name).then(|| path.clone())
            })
        };
        found.ok_or_else(|| FactError::binary_not_found(name))
    }

    fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError> {
        self.check_available()?;
        self.binaries
            .get(path)
            .cloned()
            .ok_or_else(|| FactError::binary_not_found(path))
    }

    fn usdt_sites(&self, path: &str) -> Result<Vec<UsdtSite>, FactError> {
        self.check_available()?;
        if !self.binaries.contains_key(path) {
            return Err(FactError::binary_not_found(path));
        }
        Ok(self.usdt.get(path).cloned().unwrap_or_default())
    }

    fn kernel_type_named(&self, space: NameSpace, name: &str) -> Result<TypeId, FactError> {
        self.kernel()?
            .named(space, name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("{} {name}", space.keyword()),
            })
    }

    fn kernel_type(&self, id: TypeId) -> Result<KType, FactError> {
        self.kernel()?.get(id).ok_or_else(|| FactError::NotFound {
            what: format!("type {}", id.0),
        })
    }

    fn kernel_type_names(&self, space: NameSpace) -> Result<Vec<String>, FactError> {
        Ok(self.kernel()?.names_in(space))
    }

    /// Ids past the fixture's types, one per function in name order.
    fn kernel_function_id(&self, name: &str) -> Result<u32, FactError> {
        let kernel = self.kernel()?;
        let at = kernel
            .functions
            .keys()
            .position(|f| f == name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("kernel function {name}"),
            })?;
        Ok(10_000 + at as u32)
    }
    fn kernel_function(&self, name: &str) -> Result<FuncProto, FactError> {
        self.kernel()?
            .functions
            .get(name)
            .cloned()
            .ok_or_else(|| FactError::NotFound {
                what: format!("kernel function {name}"),
            })
    }

    fn kernel_functions(&self) -> Result<Vec<String>, FactError> {
        Ok(self.kernel()?.functions.keys().cloned().collect())
    }

    fn kernel_enumerator(&self, name: &str) -> Result<i64, FactError> {
        self.kernel()?
            .enumerator(name)
            .ok_or_else(|| FactError::NotFound {
                what: format!("enumerator {name}"),
            })
    }

    fn percpu_variable(&self, name: &str) -> Result<u32, FactError> {
        self.percpu
            .get(name)
            .copied()
            .ok_or_else(|| FactError::NotFound {
                what: format!("per-CPU variable {name}"),
            })
    }

    fn position_independent(&self, binary: &str) -> Result<bool, FactError> {
        let _ = binary;
        Ok(false)
    }

    fn symbol_size(&self, binary: &str, name: &str) -> Result<u64, FactError> {
        // Every fixture symbol is a 4-byte object unless given a size.
        let key = (binary.to_string(), name.to_string());
        if let Some(&size) = self.sizes.get(&key) {
            return Ok(size);
        }
        self.symbol_address(Some(binary), name).map(|_| 4)
    }

    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        self.symbols
            .get(&(binary.unwrap_or_default().to_string(), name.to_string()))
            .copied()
            .ok_or_else(|| FactError::NotFound {
                what: format!("symbol {name}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::expand::expand_tracepoints;

    #[test]
    fn bundled_formats_all_parse() {
        let facts = FixtureFacts::bundled();
        let all = facts.tracepoints().unwrap();
        assert_eq!(all.len(), BUNDLED.len());
        for (c, e) in &all {
            let format = facts.tracepoint_format(c, e).unwrap();
            assert!(format.args().count() > 0, "{c}:{e}");
        }
    }

    #[test]
    fn serves_formats_by_name() {
        let facts = FixtureFacts::bundled();
        let openat = facts
            .tracepoint_format("syscalls", "sys_enter_openat")
            .unwrap();
        assert_eq!(openat.field("filename").unwrap().offset, 24);
        assert_eq!(
            facts.tracepoint_format("syscalls", "sys_enter_opnat"),
            Err(FactError::NotFound {
                what: "tracepoint syscalls:sys_enter_opnat".into()
            })
        );
    }

    #[test]
    fn expands_wildcards_over_the_bundle() {
        let got = expand_tracepoints(&FixtureFacts::bundled(), "syscalls", "sys_*_openat").unwrap();
        assert_eq!(
            got,
            [
                ("syscalls".to_string(), "sys_enter_openat".to_string()),
                ("syscalls".to_string(), "sys_exit_openat".to_string()),
            ]
        );
    }

    #[test]
    fn serves_binaries_by_path_and_libraries_by_name() {
        let facts = FixtureFacts::new()
            .with_binary("/bin/bash", &["main", "readline"])
            .with_binary("/lib/x86_64-linux-gnu/libc.so.6", &["malloc"]);
        assert_eq!(facts.binary_path("/bin/bash").unwrap(), "/bin/bash");
        assert_eq!(facts.binary_path("bash").unwrap(), "/bin/bash");
        assert_eq!(
            facts.binary_path("libc").unwrap(),
            "/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(
            facts.binary_path("/bin/bsh"),
            Err(FactError::binary_not_found("/bin/bsh"))
        );
        assert!(facts.binary_path("lib").is_err());
        assert_eq!(
            facts.function_symbols("/bin/bash").unwrap(),
            ["main", "readline"]
        );
    }

    #[test]
    fn malformed_and_unavailable() {
        let facts = FixtureFacts::from_texts([("a:b", "name: b\nformat:\n")]);
        let err = facts.tracepoint_format("a", "b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot understand the format of tracepoint a:b: line 1: no `ID:` line"
        );
        let facts = FixtureFacts::unavailable("tracefs is not mounted");
        assert!(matches!(
            facts.tracepoints(),
            Err(FactError::Unavailable { .. })
        ));
        assert!(matches!(
            facts.tracepoint_format("sched", "sched_switch"),
            Err(FactError::Unavailable { .. })
        ));
    }
}

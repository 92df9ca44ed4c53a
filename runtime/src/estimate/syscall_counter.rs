//! Counting syscalls for the estimate: one raw tracepoint program on `sys_enter` counts every
//! syscall by number, per CPU, for any number of syscall tracepoints (a perf counter per
//! tracepoint per CPU would take seconds to close for `sys_enter_*`), and is detached at a cap.

use std::collections::HashMap;
use std::time::Instant;

use crate::probes::AttachedScript;

/// One raw tracepoint program on `sys_enter` counting syscalls by number, per CPU. It is a
/// tracebound script, compiled and loaded like any other.
pub struct SyscallCounter(AttachedScript);

/// Syscalls the `sys_enter` counter may see per CPU before it is detached. It sees every
/// syscall of every task, so at a million a second its cost would be the window's; at the cap
/// it stops, and the rates come from the time it ran.
pub const SYSCALL_CAP: u64 = 20_000;

const SYSCALL_COUNTER: &str =
    "rawtracepoint:sys_enter { @calls[arg1] = count(); @seen = count(); }";

/// What the syscall counter saw: calls per syscall number per online CPU, over `seconds`.
pub struct SyscallCounts {
    pub calls: HashMap<u64, Vec<u64>>,
    pub seconds: f64,
    pub capped: bool,
}

impl SyscallCounter {
    pub fn start() -> Result<(SyscallCounter, Instant), String> {
        let counter = AttachedScript::start(SYSCALL_COUNTER).map(SyscallCounter)?;
        Ok((counter, Instant::now()))
    }

    fn map(&self, name: &str) -> Result<crate::kernel::sys::MapEntries, String> {
        let info = self
            .0
            .compiled
            .info
            .maps
            .iter()
            .find(|m| m.name == name)
            .ok_or("the syscall counter has no such map")?;
        let bytes =
            crate::kernel::snapshot::map_bytes(&self.0.loaded, info).map_err(|e| e.to_string())?;
        bytes.entries().map_err(|e| e.to_string())
    }

    /// Syscalls seen so far, every CPU.
    pub fn seen(&self) -> Result<u64, String> {
        Ok(self
            .map("seen")?
            .iter()
            .flat_map(|(_, v)| v.chunks(8))
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .sum())
    }

    /// Reads the counts, then detaches (so the time they cover ends at the reading).
    pub fn finish(
        mut self,
        started: Instant,
        capped: bool,
        cpus: &[u32],
    ) -> Result<SyscallCounts, String> {
        let calls = self.read(cpus)?;
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        for p in &self.0.compiled.probes {
            let _ = self.0.loaded.detach(&p.program);
        }
        Ok(SyscallCounts {
            calls,
            seconds,
            capped,
        })
    }

    /// Calls per syscall number, per online CPU.
    fn read(&self, cpus: &[u32]) -> Result<HashMap<u64, Vec<u64>>, String> {
        let mut out = HashMap::new();
        for (key, value) in self.map("calls")? {
            let nr = u64::from_ne_bytes(key[..8].try_into().map_err(|_| "short key")?);
            // Value slots are per possible CPU; keep the online ones.
            let slots: Vec<u64> = value
                .chunks(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            let per_cpu = cpus
                .iter()
                .map(|&c| slots.get(c as usize).copied().unwrap_or(0))
                .collect();
            out.insert(nr, per_cpu);
        }
        Ok(out)
    }
}

/// Syscall numbers by name, from the C library's headers (`__NR_openat 257`).
pub fn syscall_numbers() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for path in [
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
        "/usr/include/asm/unistd_64.h",
    ] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(nr)) = (words.next(), words.next()) else {
                continue;
            };
            if let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse()) {
                out.insert(name.to_string(), nr);
            }
        }
        break;
    }
    // Tracepoint names that differ from the syscall's.
    for (tracepoint, call) in [
        ("newfstat", "fstat"),
        ("newstat", "stat"),
        ("newlstat", "lstat"),
        ("newuname", "uname"),
        ("newfstatat", "newfstatat"),
    ] {
        if let Some(&nr) = out.get(call) {
            out.entry(tracepoint.to_string()).or_insert(nr);
        }
    }
    out
}

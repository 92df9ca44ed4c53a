//! Counting syscalls for the estimate: one raw tracepoint program on `sys_enter` counts every
//! syscall by number, per CPU, for any number of syscall tracepoints (a perf counter per
//! tracepoint per CPU would take seconds to close for `sys_enter_*`), and is detached at a cap.
//! Where the script has `sys_exit_*` tracepoints a second one on `sys_exit` counts returns by
//! number: they are not the calls (`exit` never returns, `clone` returns twice).

use std::collections::HashMap;
use std::time::Instant;

use crate::probes::attach::AttachedScript;

/// One raw tracepoint program on `sys_enter` counting syscalls by number, per CPU. It is a
/// tracebound script, compiled and loaded like any other.
pub struct SyscallCounter {
    script: AttachedScript,
    /// When it started counting (CLOCK_MONOTONIC ns).
    since_ns: u64,
}

/// Syscalls the `sys_enter` counter may see per CPU before it is detached. It sees every
/// syscall of every task, so at a million a second its cost would be the window's; at the cap
/// it stops, and the rates come from the time it ran.
pub const SYSCALL_CAP: u64 = 20_000;

const SYSCALL_COUNTER: &str =
    "rawtracepoint:sys_enter { @calls[arg1] = count(); @seen = count(); }";
/// A return's number is in the registers the syscall left (`orig_ax`).
const RETURN_COUNTER: &str = "rawtracepoint:sys_exit { \
     @returns[((struct pt_regs *)arg0)->orig_ax] = count(); @seen = count(); }";

/// What the syscall counter saw: calls (and returns) per syscall number per online CPU, over
/// `seconds`.
#[derive(Clone, Debug)]
pub struct SyscallCounts {
    pub calls: HashMap<u64, Vec<u64>>,
    /// `None` when returns were not counted.
    pub returns: Option<HashMap<u64, Vec<u64>>>,
    pub since_ns: u64,
    pub seconds: f64,
    pub capped: bool,
}

impl SyscallCounter {
    /// Counts calls, and with `returns` returns too.
    pub fn start(returns: bool) -> Result<(SyscallCounter, Instant), String> {
        let script = if returns {
            AttachedScript::start(&format!("{SYSCALL_COUNTER}\n{RETURN_COUNTER}"))?
        } else {
            AttachedScript::start(SYSCALL_COUNTER)?
        };
        let counter = SyscallCounter {
            script,
            since_ns: super::tracepoint_counter::monotonic_ns(),
        };
        Ok((counter, Instant::now()))
    }

    fn map(&self, name: &str) -> Result<crate::kernel::sys::MapEntries, String> {
        let info = self
            .script
            .compiled
            .info
            .maps
            .iter()
            .find(|m| m.name == name)
            .ok_or("the syscall counter has no such map")?;
        let bytes = crate::kernel::snapshot::map_bytes(&self.script.loaded, info)
            .map_err(|e| e.to_string())?;
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
        let counts = self.peek(started, capped, cpus)?;
        for p in &self.script.compiled.probes {
            let _ = self.script.loaded.detach(&p.program);
        }
        Ok(counts)
    }

    /// The counts so far; counting goes on.
    pub fn peek(
        &self,
        started: Instant,
        capped: bool,
        cpus: &[u32],
    ) -> Result<SyscallCounts, String> {
        let calls = self.read("calls", cpus)?;
        let has_returns = self
            .script
            .compiled
            .info
            .maps
            .iter()
            .any(|m| m.name == "returns");
        let returns = if has_returns {
            Some(self.read("returns", cpus)?)
        } else {
            None
        };
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        Ok(SyscallCounts {
            calls,
            returns,
            since_ns: self.since_ns,
            seconds,
            capped,
        })
    }

    /// Counts per syscall number in map `name`, per online CPU.
    fn read(&self, name: &str, cpus: &[u32]) -> Result<HashMap<u64, Vec<u64>>, String> {
        let mut out = HashMap::new();
        for (key, value) in self.map(name)? {
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

/// Syscall numbers by name, from the C library's headers (`__NR_openat 257`). Headers older
/// than the kernel lack its newest syscalls: their tracepoints are counted another way.
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
        ("sendfile64", "sendfile"),
    ] {
        if let Some(&nr) = out.get(call) {
            out.entry(tracepoint.to_string()).or_insert(nr);
        }
    }
    out
}

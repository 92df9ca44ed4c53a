//! Counting syscalls for the estimate: one raw tracepoint program on `sys_enter` counts every
//! syscall by number, per CPU, for any number of syscall tracepoints (a perf counter per
//! tracepoint per CPU would take seconds to close for `sys_enter_*`), and is detached at a cap.
//! Where the script has `sys_exit_*` tracepoints a second one on `sys_exit` counts returns by
//! number: they are not the calls (`exit` never returns, `clone` returns twice).

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use tracebound_compiler::insn::{Alu, Helper, Insn, Reg, Size};

use super::assembler::{map_fd, Assembler};
use crate::kernel::sys::{self, MapBytes};

/// Raw tracepoint programs on `sys_enter` (and `sys_exit`) counting syscalls by number, per
/// CPU, assembled by hand: compiling a script for them would read the kernel's BTF, tens of
/// milliseconds of every start.
pub struct SyscallCounter {
    calls: OwnedFd,
    returns: Option<OwnedFd>,
    seen: OwnedFd,
    links: Vec<OwnedFd>,
    _programs: Vec<OwnedFd>,
    /// When it started counting (CLOCK_MONOTONIC ns).
    since_ns: u64,
}

/// Syscalls the `sys_enter` counter may see per CPU before it is detached. It sees every
/// syscall of every task, so at a million a second its cost would be the window's; at the cap
/// it stops, and the rates come from the time it ran.
pub const SYSCALL_CAP: u64 = 20_000;

/// Distinct syscall numbers counted (x86-64 has fewer than 500).
const MAX_SYSCALLS: u32 = 1024;

/// `offsetof(struct pt_regs, orig_ax)` on x86-64 (the uapi layout: the 16th word).
const ORIG_AX: i32 = 15 * 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Insert,
    Out,
}

/// One counting program. The syscall's number: `sys_enter`'s second argument, or for
/// `sys_exit` the `orig_ax` of the registers that are its first. Key at fp-8.
///
/// ```text
/// key = ctx->args[1]  (or: probe_read_kernel(&key, 8, ctx->args[0] + ORIG_AX))
/// seen[0] += 1;
/// if (v = counts[key]) *v += 1; else counts[key] = 1;
/// ```
fn program(returns: bool, counts_fd: i32, seen_fd: i32) -> Vec<Insn> {
    let mut p = Assembler::<Label>::default();
    p.op(Insn::mov64_reg(Reg::R6, Reg::R1));
    if returns {
        p.op(Insn::mov64_reg(Reg::R1, Reg::FP));
        p.op(Insn::alu64_imm(Alu::Add, Reg::R1, -8));
        p.op(Insn::mov64_imm(Reg::R2, 8));
        p.op(Insn::load(Size::DW, Reg::R3, Reg::R6, 0));
        p.op(Insn::alu64_imm(Alu::Add, Reg::R3, ORIG_AX));
        p.op(Insn::call(Helper::ProbeReadKernel));
    } else {
        p.op(Insn::load(Size::DW, Reg::R1, Reg::R6, 8));
        p.op(Insn::store(Size::DW, Reg::FP, -8, Reg::R1));
    }
    p.op(Insn::store_imm(Size::W, Reg::FP, -12, 0));
    p.lookup(seen_fd, -12);
    p.jump_if_zero(Reg::R0, Label::Out);
    p.increment_at_r0();
    p.lookup(counts_fd, -8);
    p.jump_if_zero(Reg::R0, Label::Insert);
    p.increment_at_r0();
    p.jump(Label::Out);
    p.label(Label::Insert);
    p.op(Insn::store_imm(Size::DW, Reg::FP, -24, 1));
    p.ops(map_fd(Reg::R1, counts_fd));
    p.op(Insn::mov64_reg(Reg::R2, Reg::FP));
    p.op(Insn::alu64_imm(Alu::Add, Reg::R2, -8));
    p.op(Insn::mov64_reg(Reg::R3, Reg::FP));
    p.op(Insn::alu64_imm(Alu::Add, Reg::R3, -24));
    p.op(Insn::mov64_imm(Reg::R4, 0));
    p.op(Insn::call(Helper::MapUpdateElem));
    p.label(Label::Out);
    p.op(Insn::mov64_imm(Reg::R0, 0));
    p.op(Insn::exit());
    p.finish()
}

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
        Self::attach(returns)
            .map(|c| (c, Instant::now()))
            .map_err(|e| format!("counting syscalls: {e}"))
    }

    fn attach(returns: bool) -> io::Result<SyscallCounter> {
        let counts = |name| sys::map_create(sys::MAP_TYPE_PERCPU_HASH, 8, 8, MAX_SYSCALLS, 0, name);
        let calls = counts("tb_est_calls")?;
        let returned = if returns {
            Some(counts("tb_est_returns")?)
        } else {
            None
        };
        let seen = sys::map_create(sys::MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 0, "tb_est_seen")?;
        let mut links = Vec::new();
        let mut programs = Vec::new();
        let mut points: Vec<(&CStr, &OwnedFd, bool)> = vec![(c"sys_enter", &calls, false)];
        if let Some(r) = &returned {
            points.push((c"sys_exit", r, true));
        }
        for (tracepoint, map, ret) in points {
            let code: Vec<u8> = program(ret, map.as_raw_fd(), seen.as_raw_fd())
                .iter()
                .flat_map(|i| i.to_bytes())
                .collect();
            let prog = sys::prog_load(sys::PROG_TYPE_RAW_TRACEPOINT, 0, &code, "tb_est_syscalls")?;
            links.push(sys::raw_tracepoint_open(prog.as_fd(), tracepoint, 0)?);
            programs.push(prog);
        }
        Ok(SyscallCounter {
            calls,
            returns: returned,
            seen,
            links,
            _programs: programs,
            since_ns: super::tracepoint_counter::monotonic_ns(),
        })
    }

    /// Syscalls (and returns) seen so far, every CPU.
    pub fn seen(&self) -> Result<u64, String> {
        let slots = sys::possible_cpus().map_err(|e| e.to_string())?;
        let map = MapBytes::new(self.seen.as_fd(), 4, 8, Some(slots));
        Ok(map
            .lookup(&0u32.to_ne_bytes())
            .map_err(|e| e.to_string())?
            .map_or(0, |v| {
                v.chunks(8)
                    .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                    .sum()
            }))
    }

    /// Reads the counts, then detaches (so the time they cover ends at the reading).
    pub fn finish(
        mut self,
        started: Instant,
        capped: bool,
        cpus: &[u32],
    ) -> Result<SyscallCounts, String> {
        let counts = self.peek(started, capped, cpus)?;
        self.links.clear();
        Ok(counts)
    }

    /// The counts so far; counting goes on.
    pub fn peek(
        &self,
        started: Instant,
        capped: bool,
        cpus: &[u32],
    ) -> Result<SyscallCounts, String> {
        let calls = read(&self.calls, cpus)?;
        let returns = match &self.returns {
            Some(map) => Some(read(map, cpus)?),
            None => None,
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
}

/// Counts per syscall number in `map`, per online CPU.
fn read(map: &OwnedFd, cpus: &[u32]) -> Result<HashMap<u64, Vec<u64>>, String> {
    let slots = sys::possible_cpus().map_err(|e| e.to_string())?;
    let entries = MapBytes::new(map.as_fd(), 8, 8, Some(slots))
        .entries()
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for (key, value) in entries {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counting_programs_jumps_land_on_instructions() {
        crate::estimate::assembler::assert_jumps_land(&program(false, 3, 4));
        crate::estimate::assembler::assert_jumps_land(&program(true, 3, 4));
    }

    #[test]
    fn counts_this_threads_getppid_calls() {
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        let cpus = sys::online_cpus().unwrap();
        let (counter, started) = SyscallCounter::start(true).expect("attach");
        for _ in 0..1000 {
            // SAFETY: getppid has no preconditions.
            unsafe { libc::getppid() };
        }
        let counts = counter.finish(started, false, &cpus).unwrap();
        let nr = libc::SYS_getppid as u64;
        let calls: u64 = counts.calls.get(&nr).map_or(0, |v| v.iter().sum());
        let returns: u64 = counts
            .returns
            .unwrap()
            .get(&nr)
            .map_or(0, |v| v.iter().sum());
        // Other processes may call getppid too; this thread's 1000 are there.
        assert!(
            calls >= 1000 && returns >= 1000,
            "{calls} calls, {returns} returns"
        );
    }
}

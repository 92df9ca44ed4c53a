//! Counting tracepoint hits for the estimate: one raw tracepoint program attached to every
//! tracepoint of a script, each link carrying its attach point's index as cookie, counting
//! runs per point and per CPU. A run of the program is a hit, whatever the event declares: a
//! perf counter on a tracepoint adds the event's `__perf_count(...)` value per hit instead of 1
//! (`sched_stat_runtime` adds nanoseconds of runtime, the `sched_stat_*` family their delay),
//! and tracefs does not say which events do, so no tracepoint is counted by perf.
//!
//! Each point stops counting on a CPU at a cap and notes when (the rate is then its cap over
//! the time it took); raw tracepoint links close without waiting for a grace period (a perf
//! event on a tracepoint waits for one on close, under a global mutex), so the 2,000-odd
//! tracepoints of `tracepoint:*:*` attach and detach in a fraction of a second.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use tracebound_compiler::insn::{Alu, Cond, Helper, Insn, Reg, Size};

use super::assembler::Assembler;
use crate::kernel::sys::{self, MapBytes};

/// One attach point's count on one CPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuCount {
    pub hits: u64,
    /// Seconds it counted: the whole window, or until it reached the cap.
    pub seconds: f64,
    pub capped: bool,
}

/// The counting program, attached to every tracepoint it could be; it counts once opened.
pub struct TracepointCounter {
    /// 0 until every link is in place and after the window: the rates are counts over the
    /// time all of them were counting.
    gate: OwnedFd,
    /// Per point, per CPU: (hits, monotonic ns when the cap was reached or 0).
    slots: OwnedFd,
    links: Vec<OwnedFd>,
    /// Per point: whether it has a link (the kernel may have no tracepoint of that name).
    counted: Vec<bool>,
    opened_ns: u64,
    _program: OwnedFd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Out,
}

/// The counting program. Keys on the stack: fp-4 (index 0), fp-8 (the point).
///
/// ```text
/// if (!gate[0]) return 0;
/// slot = slots[bpf_get_attach_cookie(ctx)];
/// if (slot->hits >= CAP) return 0;
/// slot->hits += 1;
/// if (slot->hits == CAP) slot->capped_ns = bpf_ktime_get_ns();
/// return 0;
/// ```
fn program(gate_fd: i32, slots_fd: i32, cap: i32) -> Vec<Insn> {
    let mut p = Assembler::<Label>::default();
    p.op(Insn::mov64_reg(Reg::R6, Reg::R1));
    p.op(Insn::store_imm(Size::W, Reg::FP, -4, 0));
    p.lookup(gate_fd, -4);
    p.jump_if_zero(Reg::R0, Label::Out);
    p.op(Insn::load(Size::W, Reg::R1, Reg::R0, 0));
    p.jump_if_zero(Reg::R1, Label::Out);
    p.op(Insn::mov64_reg(Reg::R1, Reg::R6));
    p.op(Insn::call(Helper::GetAttachCookie));
    p.op(Insn::store(Size::W, Reg::FP, -8, Reg::R0));
    p.lookup(slots_fd, -8);
    p.jump_if_zero(Reg::R0, Label::Out);
    p.op(Insn::mov64_reg(Reg::R7, Reg::R0));
    p.op(Insn::load(Size::DW, Reg::R1, Reg::R7, 0));
    p.jump_if(Cond::Ge, Reg::R1, cap, Label::Out);
    p.op(Insn::alu64_imm(Alu::Add, Reg::R1, 1));
    p.op(Insn::store(Size::DW, Reg::R7, 0, Reg::R1));
    p.jump_if(Cond::Ne, Reg::R1, cap, Label::Out);
    p.op(Insn::call(Helper::KtimeGetNs));
    p.op(Insn::store(Size::DW, Reg::R7, 8, Reg::R0));
    p.label(Label::Out);
    p.op(Insn::mov64_imm(Reg::R0, 0));
    p.op(Insn::exit());
    p.finish()
}

/// CLOCK_MONOTONIC, the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime only writes the timespec given.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

impl TracepointCounter {
    /// Attaches to every tracepoint in `names` (its index is its cookie), each counting up to
    /// `cap` hits per CPU.
    pub fn start(names: &[&str], cap: u64) -> io::Result<TracepointCounter> {
        let points = names.len().max(1);
        let slots = sys::map_create(
            sys::MAP_TYPE_PERCPU_ARRAY,
            4,
            16,
            points as u32,
            0,
            "tb_est_tp",
        )?;
        let gate = sys::map_create(sys::MAP_TYPE_ARRAY, 4, 4, 1, 0, "tb_est_tp_gate")?;
        let cap = i32::try_from(cap).unwrap_or(i32::MAX);
        let code: Vec<u8> = program(gate.as_raw_fd(), slots.as_raw_fd(), cap)
            .iter()
            .flat_map(|i| i.to_bytes())
            .collect();
        let program = sys::prog_load(sys::PROG_TYPE_RAW_TRACEPOINT, 0, &code, "tb_est_tp")?;
        let mut links = Vec::with_capacity(names.len());
        let mut counted = Vec::with_capacity(names.len());
        for (cookie, name) in names.iter().enumerate() {
            let name = CString::new(*name)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))?;
            match sys::raw_tracepoint_open(program.as_fd(), &name, cookie as u64) {
                Ok(link) => {
                    links.push(link);
                    counted.push(true);
                }
                // An event that is not a kernel tracepoint of that name.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => counted.push(false),
                Err(e) => return Err(e),
            }
        }
        Ok(TracepointCounter {
            gate,
            slots,
            links,
            counted,
            opened_ns: 0,
            _program: program,
        })
    }

    /// Starts counting.
    pub fn open(&mut self) -> io::Result<()> {
        self.set_gate(1)?;
        self.opened_ns = monotonic_ns();
        Ok(())
    }

    /// When counting started (CLOCK_MONOTONIC ns).
    pub fn opened_ns(&self) -> u64 {
        self.opened_ns
    }

    fn set_gate(&self, value: u32) -> io::Result<()> {
        MapBytes::new(self.gate.as_fd(), 4, 4, None)
            .update(&0u32.to_ne_bytes(), &value.to_ne_bytes())
    }

    /// Each point's count so far per online CPU (`None` for a point the kernel has no
    /// tracepoint for); counting goes on.
    pub fn peek(&self, cpus: &[u32]) -> io::Result<Vec<Option<Vec<CpuCount>>>> {
        self.read(cpus, monotonic_ns())
    }

    /// Stops counting, detaches, and returns each point's count per online CPU (`None` for a
    /// point the kernel has no tracepoint for).
    pub fn finish(mut self, cpus: &[u32]) -> io::Result<Vec<Option<Vec<CpuCount>>>> {
        let closed_ns = monotonic_ns();
        self.set_gate(0)?;
        self.links.clear();
        self.read(cpus, closed_ns)
    }

    /// The counts, for a window that ends at `end_ns`.
    fn read(&self, cpus: &[u32], end_ns: u64) -> io::Result<Vec<Option<Vec<CpuCount>>>> {
        let slots = sys::possible_cpus()?;
        let map = MapBytes::new(self.slots.as_fd(), 4, 16, Some(slots));
        let window = end_ns.saturating_sub(self.opened_ns) as f64 / 1e9;
        let mut out = Vec::with_capacity(self.counted.len());
        for (i, &counted) in self.counted.iter().enumerate() {
            if !counted {
                out.push(None);
                continue;
            }
            let value = map.lookup(&(i as u32).to_ne_bytes())?.unwrap_or_default();
            let per_cpu = cpus
                .iter()
                .map(|&cpu| {
                    let at = cpu as usize * 16;
                    let word = |o: usize| {
                        value
                            .get(at + o..at + o + 8)
                            .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
                    };
                    let (hits, capped_ns) = (word(0), word(8));
                    let capped = capped_ns != 0;
                    let seconds = if capped {
                        (capped_ns.saturating_sub(self.opened_ns) as f64 / 1e9).max(1e-6)
                    } else {
                        window.max(1e-6)
                    };
                    CpuCount {
                        hits,
                        seconds,
                        capped,
                    }
                })
                .collect();
            out.push(Some(per_cpu));
        }
        Ok(out)
    }
}

//! Stacks and symbols: `kstack`/`ustack` (in any mode, limited to N frames) as ids from
//! `bpf_get_stackid` into a stack-trace map, `ksym`/`usym` as addresses user space names.
//! A user stack or address also carries the process id, and the first time a process shows
//! up the program tells user space (a cold path), which notes the process's memory map while
//! it still runs.

use std::collections::HashSet;

use super::assignments::Assignments;
use super::bpf_map::{BpfMap, MapKind, BPF_F_STACK_BUILD_ID};
use super::Lowering;
use super::INT;
use super::{ProbeLowerer, Val};
use crate::ast::visit::Visitor;
use crate::ast::{Expr, ExprKind, Probe};
use crate::config::stack_mode_named;
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper};
use crate::ir::{Addr, Inst, Operand, VReg};
use crate::program::{
    stack_frame_size, stack_map_name, Action, StackMode, ValueType, DEFAULT_STACK_FRAMES,
    MAX_STACK_FRAMES,
};
use crate::span::Span;

/// `bpf_get_stackid` flag: walk the user stack instead of the kernel one.
const BPF_F_USER_STACK: i32 = 1 << 8;
/// `bpf_get_stack` flag: a user stack's frames as build ids and offsets.
const BPF_F_USER_BUILD_ID: i32 = 1 << 11;
/// `bpf_map_update_elem` flag: only insert a new key.
const BPF_NOEXIST: i32 = 1;
/// Processes remembered as already announced to user space. An LRU map never refuses a new
/// one; a process evicted and seen again is announced again, which user space ignores.
const USER_PROCESS_ENTRIES: u32 = 16384;
/// The announced-process key: the pid (8 bytes) and the comm (16).
const USER_PROCESS_KEY: u32 = 24;
/// The most memory one stack-trace map may preallocate.
const STACK_MAP_BYTES: u32 = 256 << 20;

/// The entries of a stack-trace map of stacks of `value_size` bytes. Stack ids are hashes
/// into this many buckets and a colliding stack is not recorded, so leave room beyond the keys
/// the script's maps can hold; the kernel preallocates every bucket, so at most
/// STACK_MAP_BYTES of them.
pub(super) fn stack_map_entries(max_map_keys: u32, value_size: u32) -> u32 {
    let by_memory = STACK_MAP_BYTES / value_size.max(8);
    max_map_keys.saturating_mul(2).min(by_memory)
}

/// The ids `bpf_get_stackid` hands out for a map of `entries`: the kernel rounds the buckets
/// up to a power of two, and an id is a bucket, so they are `0..stack_ids(entries)`.
pub(super) fn stack_ids(entries: u32) -> u32 {
    entries.max(1).next_power_of_two()
}

/// The type of `kstack`/`ustack` with these arguments: `()`, `(N)`, `(mode)`, `(mode, N)`.
/// `default_mode` is the script's `stack_mode`.
pub(crate) fn stack_type(
    user: bool,
    args: &[Expr],
    default_mode: StackMode,
) -> Result<ValueType, Diagnostic> {
    let name = if user { "ustack" } else { "kstack" };
    let mut mode = default_mode;
    let mut limit = DEFAULT_STACK_FRAMES;
    let (mode_arg, limit_arg) = match args {
        [] => (None, None),
        [one] if matches!(one.kind, ExprKind::Int(_)) => (None, Some(one)),
        [one] => (Some(one), None),
        [m, n] => (Some(m), Some(n)),
        [_, _, extra, ..] => {
            return Err(Diagnostic::error(
                format!("`{name}` takes a mode and a frame count at most"),
                extra.span,
                "one argument too many",
            ))
        }
    };
    if let Some(m) = mode_arg {
        mode = match &m.kind {
            ExprKind::Ident(word) => match stack_mode_named(word) {
                Some(mode) => mode,
                None if word == "build_id" && user => StackMode::BuildId,
                None if word == "build_id" => {
                    return Err(Diagnostic::error(
                        "'build_id' stack mode can only be used for ustack",
                        m.span,
                        "a kernel stack has no build ids",
                    )
                    .with_help("use bpftrace, perf or raw"))
                }
                None => {
                    return Err(Diagnostic::error(
                        format!("`{word}` is not a stack mode"),
                        m.span,
                        "not a mode",
                    )
                    .with_help("the modes are bpftrace, perf, raw and build_id"))
                }
            },
            _ => {
                return Err(Diagnostic::error(
                    format!("the first argument of `{name}` is a mode or a frame count"),
                    m.span,
                    "not a mode",
                ))
            }
        };
    }
    if let Some(n) = limit_arg {
        limit = match n.kind {
            ExprKind::Int(v) if (1..=u64::from(MAX_STACK_FRAMES)).contains(&v) => v as u32,
            _ => {
                return Err(Diagnostic::error(
                    format!(
                        "the frame count of `{name}` must be a number from 1 to {MAX_STACK_FRAMES}"
                    ),
                    n.span,
                    "out of range",
                ))
            }
        };
    }
    Ok(ValueType::Stack { user, mode, limit })
}

/// `kstack(...)`/`ustack(...)` as written: whether it is the user stack, and its arguments.
pub(super) fn stack_call(e: &Expr) -> Option<(bool, &[Expr])> {
    let (name, args): (&str, &[Expr]) = match &e.kind {
        ExprKind::Ident(name) => (name, &[]),
        ExprKind::Call { name, args } => (&name.name, args),
        _ => return None,
    };
    match name {
        "kstack" => Some((false, args)),
        "ustack" => Some((true, args)),
        _ => None,
    }
}

/// The variables of a probe whose every value is a stack taken by this run of the probe
/// (`$s = ustack(3)`), not one read from a map: the stack of such a variable is the one the
/// program would walk again now, so `len($s)` may count its frames by walking.
pub(super) fn fresh_stack_vars(probe: &Probe) -> HashSet<String> {
    let mut found = Assignments::default();
    found.probe(probe);
    let mut fresh: HashSet<String> = HashSet::new();
    let mut other: HashSet<String> = HashSet::new();
    for (name, value) in found.0 {
        if value.is_some_and(|v| stack_call(v).is_some()) {
            fresh.insert(name);
        } else {
            other.insert(name);
        }
    }
    fresh.retain(|name| !other.contains(name));
    fresh
}

impl ProbeLowerer<'_, '_> {
    /// `len(kstack)`, `len($s)` of a stack variable: the number of frames, or `None` when
    /// the argument is no stack. The kernel keeps a stack id's frames where no program can
    /// read them, so the count comes from walking the same stack again into a buffer
    /// (`bpf_get_stack`), the same walk within the same run of the program.
    pub fn stack_len(&mut self, e: &Expr) -> Option<Lowering<Val>> {
        let (ty, id) = if let Some((user, args)) = stack_call(e) {
            match stack_type(user, args, self.shared.options.stack_mode) {
                Ok(ty) => (ty, None),
                Err(d) => return Some(Err(d)),
            }
        } else if let ExprKind::Var(name) = &e.kind {
            let var = self.vars.get(name)?;
            if !matches!(var.ty, ValueType::Stack { .. }) {
                return None;
            }
            if !self.fresh_stacks.contains(name) {
                return Some(Err(Diagnostic::error(
                    "`len` counts the frames of a stack this probe takes, not one read from a map",
                    e.span,
                    "assigned a stack from elsewhere",
                )
                .with_help("count the frames where the stack is taken: `len(ustack)`")));
            }
            let (slot, ty) = (var.slot, var.ty.clone());
            (ty, Some(self.load_u64(Addr::Slot(slot, 0))))
        } else {
            return None;
        };
        Some(self.count_frames(&ty, id))
    }

    /// The frames of a stack of type `ty` walked now; 0 where `id` (the stack value as
    /// stored) says the kernel recorded none, as printing it shows none.
    fn count_frames(&mut self, ty: &ValueType, id: Option<VReg>) -> Lowering<Val> {
        let &ValueType::Stack { user, mode, limit } = ty else {
            unreachable!("count_frames takes a stack")
        };
        if !user && self.syscall.is_some() {
            let span = self.span;
            return Err(self.not_dispatched("`kstack`", span));
        }
        let frame = stack_frame_size(mode);
        let size = frame * limit;
        let buf = self.f.new_slot(size);
        let addr = self.slot_addr(buf, 0);
        let mut flags = if user { BPF_F_USER_STACK } else { 0 };
        if user && mode == StackMode::BuildId {
            flags |= BPF_F_USER_BUILD_ID;
        }
        let bytes = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::GetStack,
            args: vec![
                Operand::Reg(self.ctx),
                Operand::Reg(addr),
                Operand::Imm(size as i32),
                Operand::Imm(flags),
            ],
            ret: Some(bytes),
        });
        let frames = self.f.new_vreg();
        self.emit(Inst::Const(frames, 0));
        let done = self.new_label();
        // A failed walk (negative) counts none.
        self.emit(Inst::Branch {
            cond: Cond::Slt,
            a: bytes,
            b: Operand::Imm(0),
            then: done,
        });
        if let Some(id) = id {
            // The id is the value's low 32 bits, negative when nothing was recorded.
            let shifted = self.alu(Alu::Lsh, id, Operand::Imm(32));
            let low = self.alu(Alu::Arsh, shifted, Operand::Imm(32));
            self.emit(Inst::Branch {
                cond: Cond::Slt,
                a: low,
                b: Operand::Imm(0),
                then: done,
            });
        }
        // A frame is 8 or 32 bytes.
        let counted = self.alu(Alu::Rsh, bytes, Operand::Imm(frame.trailing_zeros() as i32));
        self.emit(Inst::Mov(frames, counted));
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: frames,
            signed: true,
        })
    }

    /// `kstack`, `ustack`, with their arguments.
    pub fn stack(&mut self, user: bool, args: &[Expr]) -> Lowering<Val> {
        let (id, ty) = self.stack_id(user, args)?;
        let value = if user {
            let pid = self.current_pid();
            // The id's low 32 bits (a failure, negative, stays recognisable as >= 2^31).
            let shifted = self.alu(Alu::Lsh, id, Operand::Imm(32));
            let low = self.alu(Alu::Rsh, shifted, Operand::Imm(32));
            let high = self.alu(Alu::Lsh, pid, Operand::Imm(32));
            let packed = self.alu(Alu::Or, low, Operand::Reg(high));
            self.announce_process(pid);
            packed
        } else {
            id
        };
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(value));
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        })
    }

    /// The id `bpf_get_stackid` returns for `kstack`/`ustack` with these arguments (negative
    /// when the kernel recorded no stack), with the stack's type.
    pub fn stack_id(&mut self, user: bool, args: &[Expr]) -> Lowering<(VReg, ValueType)> {
        if !user && self.syscall.is_some() {
            // From the raw tracepoint the kernel stack has other frames on top.
            let span = self.span;
            return Err(self.not_dispatched("`kstack`", span));
        }
        let ty = stack_type(user, args, self.shared.options.stack_mode)?;
        let ValueType::Stack { limit, mode, .. } = ty else {
            unreachable!("stack_type returns a stack")
        };
        let map = self.shared.stack_map(user, mode, limit);
        let m = self.f.new_vreg();
        self.emit(Inst::MapRef(m, map));
        let flags = if user { BPF_F_USER_STACK } else { 0 };
        let id = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::GetStackid,
            args: vec![Operand::Reg(self.ctx), Operand::Reg(m), Operand::Imm(flags)],
            ret: Some(id),
        });
        Ok((id, ty))
    }

    /// `ksym(addr)`, `usym(addr)`: the address (and for a user one, the process) in memory,
    /// typed so that user space prints the symbol.
    pub fn symbol(&mut self, user: bool, args: &[Expr], span: Span) -> Lowering<Val> {
        let [arg] = args else {
            return Err(Diagnostic::error(
                format!("`{}` takes one address", if user { "usym" } else { "ksym" }),
                span,
                "here",
            ));
        };
        let (addr, _) = self.int(arg)?;
        let ty = ValueType::Sym { user };
        let slot = self.f.new_slot(ty.size());
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(addr));
        if user {
            let pid = self.current_pid();
            self.store_u64(Addr::Slot(slot, 8), Operand::Reg(pid));
            self.announce_process(pid);
        }
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        })
    }

    /// The process, as tracebound's `/proc` numbers it (where its maps are read).
    fn current_pid(&mut self) -> VReg {
        let r = self.pid_tgid(false);
        self.alu(Alu::Rsh, r, Operand::Imm(32))
    }

    /// Sends the pid to user space the first time this process records a user address, and
    /// again after it execs: the key is the pid with the comm, which exec changes, so that
    /// user space re-reads a memory map the exec replaced. The usual path is one map lookup.
    fn announce_process(&mut self, pid: VReg) {
        let map = self.shared.user_process_map();
        let key = self.f.new_slot(USER_PROCESS_KEY);
        self.store_u64(Addr::Slot(key, 0), Operand::Reg(pid));
        // bpf_get_current_comm writes all 16 bytes (zero-padded).
        let comm = self.slot_addr(key, 8);
        self.emit(Inst::Call {
            helper: Helper::GetCurrentComm,
            args: vec![Operand::Reg(comm), Operand::Imm(16)],
            ret: None,
        });
        let found = self.lookup(map, key);
        let known = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: found,
            b: Operand::Imm(0),
            then: known,
        });
        self.emit(Inst::ColdStart);
        let value = self.f.new_slot(8);
        self.store_u64(Addr::Slot(value, 0), Operand::Imm(1));
        let inserted = self.update_elem(map, key, value, BPF_NOEXIST);
        // Another CPU announced it first (-EEXIST): nothing to send.
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: inserted,
            b: Operand::Imm(0),
            then: known,
        });
        let pid_value = Val::Int {
            reg: pid,
            signed: false,
        };
        self.send(Action::UserProcess, &[INT], &[pid_value]);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(known));
    }
}

impl super::Shared<'_> {
    /// The index of the stack-trace map for this kind and frame limit, declared on first use.
    pub fn stack_map(&mut self, user: bool, mode: StackMode, limit: u32) -> usize {
        let name = stack_map_name(user, mode, limit);
        let build_ids = user && mode == StackMode::BuildId;
        self.extra_map(name, || BpfMap {
            name: String::new(),
            kind: MapKind::StackTrace,
            key_size: 4,
            value_size: stack_frame_size(mode) * limit,
            max_entries: 0,
            flags: if build_ids { BPF_F_STACK_BUILD_ID } else { 0 },
        })
    }

    /// A dispatched probe's map of its members' texts (`ProgramInfo::member_texts`).
    pub fn texts_map(&mut self, name: &str, value_size: u32, entries: u32) -> usize {
        self.extra_map(name.into(), || BpfMap {
            name: String::new(),
            kind: MapKind::Array,
            key_size: 4,
            value_size,
            max_entries: entries,
            flags: 0,
        })
    }

    /// The map of processes already announced to user space.
    pub fn user_process_map(&mut self) -> usize {
        self.extra_map("tb_uprocs".into(), || BpfMap {
            name: String::new(),
            kind: MapKind::LruHash,
            key_size: USER_PROCESS_KEY,
            value_size: 8,
            max_entries: USER_PROCESS_ENTRIES,
            flags: 0,
        })
    }

    fn extra_map(&mut self, name: String, make: impl FnOnce() -> BpfMap) -> usize {
        if let Some(i) = self.extra_maps.iter().position(|m| m.name == name) {
            return self.extra_base + i;
        }
        let mut map = make();
        map.name = name;
        if map.kind == MapKind::StackTrace {
            map.max_entries = stack_map_entries(self.options.max_map_keys, map.value_size);
        }
        self.extra_maps.push(map);
        self.extra_base + self.extra_maps.len() - 1
    }
}

//! A probe whose members share one program (`probe::Dispatch`): the key the kernel hands the
//! program (a syscall's number, a multi-uprobe link's cookie) is searched for among the
//! members' keys, and each member's body follows as its own program would have it (its
//! `probe`, its predicate). Members whose bodies are the same text with nothing of the attach
//! point in them share one body. Syscall members read `args` from the raw tracepoint's
//! registers where the syscall tracepoint reads its record, the same words at the same moment.

use super::{builtins, Lowering, ProbeLowerer, Shared, Val};
use crate::ast::{self, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper, Size};
use crate::ir::{self, Addr, Function, Inst, Operand, Slot, VReg};
use crate::probe::dispatch::TS_COMPAT;
use crate::probe::Dispatch;
use crate::program::ValueType;
use crate::resolve::ResolvedProbe;

/// `offsetof(struct pt_regs, orig_ax)` on x86-64: a syscall's number.
const PT_REGS_ORIG_AX: i32 = 120;
/// The registers copied for a `sys_enter` member's `args`: `r10` (56) up to `orig_ax`.
const REGS_COPIED_FROM: i32 = 56;
const REGS_COPIED: i32 = 72;
/// Where each syscall argument (di, si, dx, r10, r8, r9) is in that copy.
const SYSCALL_ARGS_IN_COPY: [i32; 6] = [56, 48, 40, 0, 16, 8];

/// Where a syscall member's `args` fields are, instead of a tracepoint record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SyscallFields {
    exit: bool,
    /// The syscall's number (`__syscall_nr`), 8 bytes.
    nr: Slot,
    /// `sys_enter`: the registers the arguments are in, copied (`None` when `args` is unread).
    regs: Option<Slot>,
}

impl SyscallFields {
    /// The place of the tracepoint record's field at `offset`: `__syscall_nr` at 8, the
    /// arguments from 16 (`sys_enter`), `ret` at 16 (`sys_exit`: the raw tracepoint's second
    /// argument). The common fields have no place.
    pub fn field(&self, ctx: VReg, offset: i32) -> Option<Addr> {
        match (offset, self.exit, self.regs) {
            (8, ..) => Some(Addr::Slot(self.nr, 0)),
            (16, true, _) => Some(Addr::Ptr(ctx, 8)),
            (o, false, Some(regs)) if o >= 16 && o % 8 == 0 && (o - 16) / 8 < 6 => Some(
                Addr::Slot(regs, SYSCALL_ARGS_IN_COPY[((o - 16) / 8) as usize]),
            ),
            _ => None,
        }
    }
}

/// The dispatching program of `resolved`'s members.
pub(crate) fn lower_dispatched(
    shared: &mut Shared,
    probe: &ast::Probe,
    resolved: &ResolvedProbe,
    index: usize,
    name: String,
    dispatch: &Dispatch,
) -> Result<Function, Diagnostic> {
    let keys = dispatch.keys(resolved.targets.len());
    if keys.len() != resolved.targets.len() {
        return Err(Diagnostic::error(
            "one program for this probe needs a key for each attach point",
            probe.span,
            "not dispatched",
        ));
    }
    // One body per member when each site has its own arguments and the body reads them,
    // else one for all (which reads its member's `probe` and `func` from a map by the key).
    let per_member =
        resolved.kind.context().program_per_target && builtins::reads_numbered_args(probe);
    let groups: Vec<(Vec<u64>, ResolvedProbe)> = if per_member {
        resolved
            .targets
            .iter()
            .zip(&keys)
            .map(|(t, &k)| {
                let member = ResolvedProbe {
                    targets: vec![t.clone()],
                    ..resolved.clone()
                };
                (vec![k], member)
            })
            .collect()
    } else {
        vec![(keys.clone(), resolved.clone())]
    };
    let mut l = ProbeLowerer {
        dispatched: true,
        ..ProbeLowerer::new(shared, name, probe.span, resolved, index)
    };
    let (ctx, miss) = (l.ctx, l.exit_label);
    l.emit(Inst::Arg(ctx, 0));
    let (key, nr) = l.dispatch_key(dispatch);
    let mut entries: Vec<(u64, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, (keys, _))| keys.iter().map(move |&k| (k, g)))
        .collect();
    entries.sort_by_key(|&(k, _)| k);
    if entries.windows(2).any(|w| w[0].0 == w[1].0) || entries.iter().any(|e| e.0 > i32::MAX as u64)
    {
        return Err(Diagnostic::error(
            "two attach points of this probe share a key",
            probe.span,
            "not dispatched",
        ));
    }
    // The texts' key slot, before the members' frame: a member's slots never alias it.
    let key_slot = (groups.len() == 1).then(|| l.f.new_slot(8));
    let plan = Members {
        groups: &groups,
        dispatch,
        probe,
        index,
        reads_args: mentions_args(probe),
        frame: l.f.slots.len(),
        nr,
    };
    if let Some(key_slot) = key_slot {
        // One body: every key jumps to it, and reads its member's texts from a map by the key.
        let texts = builtins::reads_attach_point(probe).then(|| l.member_texts(resolved, &keys));
        let body = l.new_label();
        let found: Vec<(u64, ir::Label)> = entries.iter().map(|&(k, _)| (k, body)).collect();
        l.store_u64(Addr::Slot(key_slot, 0), Operand::Reg(key));
        l.search(key, &found, miss);
        l.emit(Inst::Label(body));
        if let Some((map, layout)) = texts {
            let ptr = l.lookup(map, key_slot);
            l.jump_if_zero(ptr, miss);
            l.texts = Some(TextsAt { ptr, ..layout });
        }
        plan.lower(&mut l, 0)?;
    } else {
        // Each body at its leaf of the search, so that no jump crosses more than half the
        // program (a jump reaches 32767 instructions).
        plan.search_lowering(&mut l, key, &entries)?;
    }
    l.f.reuse_slots_from = None;
    l.span = probe.span;
    l.emit(Inst::Label(miss));
    l.emit(Inst::Return(Operand::Imm(0)));
    l.f.remove_unreachable();
    if !l.f.callbacks.is_empty() {
        return Err(Diagnostic::error(
            "a probe with map loops is not run as one program",
            probe.span,
            "not dispatched",
        ));
    }
    Ok(l.f)
}

/// Where a member's `probe` and `func` texts are: in the texts map's value at `ptr`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextsAt {
    ptr: VReg,
    probe_len: u32,
    func_len: u32,
}

impl TextsAt {
    pub fn probe(&self) -> Val {
        Val::Mem {
            addr: Addr::Ptr(self.ptr, 0),
            ty: ValueType::str(self.probe_len),
        }
    }

    pub fn function(&self) -> Val {
        Val::Mem {
            addr: Addr::Ptr(self.ptr, self.probe_len.next_multiple_of(8) as i32),
            ty: ValueType::str(self.func_len),
        }
    }
}

/// What every member's body is lowered from.
struct Members<'a> {
    groups: &'a [(Vec<u64>, ResolvedProbe)],
    dispatch: &'a Dispatch,
    probe: &'a ast::Probe,
    index: usize,
    reads_args: bool,
    /// The slots before the members': each member starts its frame there.
    frame: usize,
    nr: Option<Slot>,
}

impl<'a> Members<'a> {
    /// Group `g`'s body, ending in its own return.
    fn lower(&self, l: &mut ProbeLowerer<'a, '_>, g: usize) -> Lowering<()> {
        // Members never meet on a path: each starts from the same frame.
        l.f.reuse_slots_from = Some(self.frame);
        l.vars.clear();
        l.declared.clear();
        l.int_widths.clear();
        l.loop_labels.clear();
        l.probe = &self.groups[g].1;
        l.exit_label = l.new_label();
        if let Dispatch::Syscall {
            exit,
            compat_status_at,
            ..
        } = self.dispatch
        {
            let skip = l.exit_label;
            l.skip_compat_syscall(*compat_status_at, skip);
            let regs = (!exit && self.reads_args).then(|| l.copy_syscall_registers());
            l.syscall = Some(SyscallFields {
                exit: *exit,
                nr: self.nr.expect("a syscall dispatch has its number"),
                regs,
            });
        }
        l.member_body(self.probe, self.index)
    }

    /// A binary search over `entries` (sorted, one key a group) with each group's body where
    /// its key is found; a key not found returns.
    fn search_lowering(
        &self,
        l: &mut ProbeLowerer<'a, '_>,
        key: VReg,
        entries: &[(u64, usize)],
    ) -> Lowering<()> {
        if entries.len() <= 2 {
            for &(k, g) in entries {
                let next = l.new_label();
                l.emit(Inst::Branch {
                    cond: Cond::Ne,
                    a: key,
                    b: Operand::Imm(k as i32),
                    then: next,
                });
                self.lower(l, g)?;
                l.emit(Inst::Label(next));
            }
            l.emit(Inst::Return(Operand::Imm(0)));
            return Ok(());
        }
        let (low, high) = entries.split_at(entries.len() / 2);
        let upper = l.new_label();
        l.emit(Inst::Branch {
            cond: Cond::Ge,
            a: key,
            b: Operand::Imm(high[0].0 as i32),
            then: upper,
        });
        self.search_lowering(l, key, low)?;
        l.emit(Inst::Label(upper));
        self.search_lowering(l, key, high)
    }
}

/// Whether the probe reads `args` anywhere.
fn mentions_args(probe: &ast::Probe) -> bool {
    let mut found = false;
    ast::visit::probe_exprs(probe, &mut |e| {
        found |= matches!(&e.kind, ExprKind::Ident(n) if n == "args");
    });
    found
}

impl ProbeLowerer<'_, '_> {
    /// Declares the array map of the members' `probe` and `func` texts at their keys and
    /// records what the runtime writes into it; returns the map and the layout of a value.
    fn member_texts(&mut self, resolved: &ResolvedProbe, keys: &[u64]) -> (usize, TextsAt) {
        let longest = |text: &dyn Fn(&crate::probe::Target) -> String| {
            resolved
                .targets
                .iter()
                .map(|t| text(t).len() as u32 + 1)
                .max()
                .unwrap_or(1)
        };
        let probe_len = longest(&|t| t.to_string());
        let func_len = longest(&|t| t.function_name().unwrap_or_default());
        let value_size = probe_len.next_multiple_of(8) + func_len.next_multiple_of(8);
        let name = format!("tb_texts_{}", self.index);
        let max_key = keys.iter().copied().max().unwrap_or(0) as u32;
        let map = self.shared.texts_map(&name, value_size, max_key + 1);
        let entries = resolved
            .targets
            .iter()
            .zip(keys)
            .map(|(t, &k)| {
                let mut value = t.to_string().into_bytes();
                value.resize(probe_len.next_multiple_of(8) as usize, 0);
                value.extend(t.function_name().unwrap_or_default().into_bytes());
                value.resize(value_size as usize, 0);
                (k as u32, value)
            })
            .collect();
        self.shared.member_texts.push(crate::program::MemberTexts {
            map: name,
            value_size,
            entries,
        });
        let layout = TextsAt {
            ptr: VReg(0),
            probe_len,
            func_len,
        };
        (map, layout)
    }

    /// The key the kernel hands the program, and for syscalls the slot holding the number.
    fn dispatch_key(&mut self, dispatch: &Dispatch) -> (VReg, Option<Slot>) {
        match dispatch {
            Dispatch::Syscall { exit: false, .. } => {
                // sys_enter(struct pt_regs *regs, long id)
                let nr = self.f.new_slot(8);
                let key = self.load_u64(Addr::Ptr(self.ctx, 8));
                self.store_u64(Addr::Slot(nr, 0), Operand::Reg(key));
                (key, Some(nr))
            }
            Dispatch::Syscall { exit: true, .. } => {
                // sys_exit(struct pt_regs *regs, long ret): the number is regs->orig_ax.
                let nr = self.f.new_slot(8);
                let regs = self.load_u64(Addr::Ptr(self.ctx, 0));
                let at = self.alu(Alu::Add, regs, Operand::Imm(PT_REGS_ORIG_AX));
                let dst = self.slot_addr(nr, 0);
                self.emit(Inst::Call {
                    helper: Helper::ProbeReadKernel,
                    args: vec![Operand::Reg(dst), Operand::Imm(8), Operand::Reg(at)],
                    ret: None,
                });
                (self.load_u64(Addr::Slot(nr, 0)), Some(nr))
            }
            Dispatch::Cookie { .. } => {
                let key = self.helper_int(Helper::GetAttachCookie, vec![Operand::Reg(self.ctx)]);
                (key, None)
            }
        }
    }

    /// Jumps to the label of `key` among `entries` (sorted by key), or to `miss`: a binary
    /// search, a few comparisons whatever the number of members.
    fn search(&mut self, key: VReg, entries: &[(u64, ir::Label)], miss: ir::Label) {
        if entries.len() <= 3 {
            for &(k, label) in entries {
                self.emit(Inst::Branch {
                    cond: Cond::Eq,
                    a: key,
                    b: Operand::Imm(k as i32),
                    then: label,
                });
            }
            self.emit(Inst::Jump(miss));
            return;
        }
        let (low, high) = entries.split_at(entries.len() / 2);
        let upper = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Ge,
            a: key,
            b: Operand::Imm(high[0].0 as i32),
            then: upper,
        });
        self.search(key, low, miss);
        self.emit(Inst::Label(upper));
        self.search(key, high, miss);
    }

    /// A 32-bit syscall (`TS_COMPAT` in the task's `thread_info.status`) goes to `miss`, as
    /// the syscall tracepoints leave it out.
    fn skip_compat_syscall(&mut self, status_at: u32, miss: ir::Label) {
        // The task as a BTF pointer: its field is read directly, without a probe read.
        let task = self.helper_int(Helper::GetCurrentTaskBtf, Vec::new());
        let status = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: status,
            addr: Addr::Ptr(task, status_at as i32),
            size: Size::W,
            signed: false,
        });
        let compat = self.alu(Alu::And, status, Operand::Imm(TS_COMPAT));
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: compat,
            b: Operand::Imm(0),
            then: miss,
        });
    }

    /// `sys_enter`'s registers, where the syscall's arguments are, copied to the stack.
    fn copy_syscall_registers(&mut self) -> Slot {
        let regs = self.load_u64(Addr::Ptr(self.ctx, 0));
        let from = self.alu(Alu::Add, regs, Operand::Imm(REGS_COPIED_FROM));
        let slot = self.f.new_slot(REGS_COPIED as u32);
        let dst = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper: Helper::ProbeReadKernel,
            args: vec![
                Operand::Reg(dst),
                Operand::Imm(REGS_COPIED),
                Operand::Reg(from),
            ],
            ret: None,
        });
        slot
    }

    /// What a dispatched probe cannot do as one program, refused so that the runtime attaches
    /// it member by member instead.
    pub(super) fn not_dispatched(&self, what: &str, span: crate::span::Span) -> Diagnostic {
        Diagnostic::error(
            format!("{what} is not run as one program for a wildcard"),
            span,
            "not dispatched",
        )
    }
}

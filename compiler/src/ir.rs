//! The small IR between the typed tree and BPF: one function per probe, a linear list of
//! instructions over virtual registers (64-bit integers or pointers) and stack slots, with
//! labels for control flow. Every instruction carries the span of the statement it came from,
//! which the code generator turns into the instruction→span table.

use crate::insn::{Alu, Cond, DataSection, Helper, Size};
use crate::span::Span;

/// A virtual register: a 64-bit value (an integer or a pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(pub u32);

/// A stack slot: `size` bytes in the probe's frame, 8-byte aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// An operand: a register or a 32-bit immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Reg(VReg),
    Imm(i32),
}

/// Where memory is: a stack slot plus offset, or a pointer register plus offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr {
    Slot(Slot, i32),
    Ptr(VReg, i32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `dst = value` (any 64-bit constant).
    Const(VReg, u64),
    Mov(VReg, VReg),
    /// `dst = a op b`.
    Alu {
        op: Alu,
        dst: VReg,
        a: VReg,
        b: Operand,
    },
    Neg(VReg, VReg),
    /// `dst = *(size *)addr`, then sign-extended to 64 bits when `signed`.
    Load {
        dst: VReg,
        addr: Addr,
        size: Size,
        signed: bool,
    },
    /// `*(size *)addr = value`.
    Store {
        addr: Addr,
        value: Operand,
        size: Size,
    },
    /// `dst = the address of a stack slot (+ offset)`.
    SlotAddr(VReg, Slot, i32),
    /// `dst = the map` (an ld_imm64 with a relocation).
    MapRef(VReg, usize),
    /// `dst = the address of byte `offset` of one of the object's global data sections (one
    /// array entry each: an ld_imm64 the loader turns into that map value's address, never
    /// null).
    GlobalAddr(VReg, DataSection, u32),
    /// `*(u64 *)addr += value`, atomically: a counter every CPU adds to.
    AtomicAdd {
        addr: Addr,
        value: VReg,
    },
    /// The function's `n`-th argument (`r1 + n` at entry: the context pointer for a probe's
    /// program, `(map, key, value, context)` for a map-iteration callback); only at the
    /// start of a function.
    Arg(VReg, u8),
    /// `dst = the address of the function's n-th callback` (an ld_imm64 the loader turns into
    /// a `BPF_PSEUDO_FUNC` reference).
    FuncRef(VReg, usize),
    /// Calls a helper with up to five arguments; the result, if wanted, goes to `ret`.
    Call {
        helper: Helper,
        args: Vec<Operand>,
        ret: Option<VReg>,
    },
    Jump(Label),
    /// `if a cond b goto then; else fall through to the next instruction`.
    Branch {
        cond: Cond,
        a: VReg,
        b: Operand,
        then: Label,
    },
    Label(Label),
    /// Returns `value` from the program.
    Return(Operand),
    /// Loop boundaries, so the allocator keeps values used in a loop alive for all of it.
    LoopStart,
    LoopEnd,
    /// Code that runs rarely (a map key's first insert, a full ring buffer or map): the cost
    /// model leaves its helper calls out of a probe's per-hit price. No code of its own.
    ColdStart,
    ColdEnd,
}

impl Inst {
    /// Registers this instruction reads.
    pub fn uses(&self) -> Vec<VReg> {
        let op = |o: &Operand| match o {
            Operand::Reg(r) => Some(*r),
            Operand::Imm(_) => None,
        };
        let addr = |a: &Addr| match a {
            Addr::Ptr(r, _) => Some(*r),
            Addr::Slot(..) => None,
        };
        match self {
            Inst::Mov(_, s) | Inst::Neg(_, s) => vec![*s],
            Inst::Alu { a, b, .. } => [Some(*a), op(b)].into_iter().flatten().collect(),
            Inst::Load { addr: a, .. } => addr(a).into_iter().collect(),
            Inst::Store { addr: a, value, .. } => {
                [addr(a), op(value)].into_iter().flatten().collect()
            }
            Inst::AtomicAdd { addr: a, value } => addr(a).into_iter().chain([*value]).collect(),
            Inst::Call { args, .. } => args.iter().filter_map(op).collect(),
            Inst::Branch { a, b, .. } => [Some(*a), op(b)].into_iter().flatten().collect(),
            Inst::Return(v) => op(v).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The register this instruction writes.
    pub fn def(&self) -> Option<VReg> {
        match self {
            Inst::Const(d, _)
            | Inst::Mov(d, _)
            | Inst::Neg(d, _)
            | Inst::SlotAddr(d, ..)
            | Inst::MapRef(d, _)
            | Inst::GlobalAddr(d, ..)
            | Inst::Arg(d, _)
            | Inst::FuncRef(d, _) => Some(*d),
            Inst::Alu { dst, .. } | Inst::Load { dst, .. } => Some(*dst),
            Inst::Call { ret, .. } => *ret,
            _ => None,
        }
    }
}

/// One probe's code.
#[derive(Clone, Debug, Default)]
pub struct Function {
    /// The BPF program's name (`tb_...`).
    pub name: String,
    pub insts: Vec<(Inst, Span)>,
    /// Sizes of the stack slots, indexed by `Slot`.
    pub slots: Vec<u32>,
    /// Slots whose values the verifier must track (integer scratch variables: a loop's
    /// bound is proved from them, and it cannot see into a map): they move to the scratch
    /// map only after every other slot.
    pub tracked: Vec<Slot>,
    /// Slots that never move to the scratch map (a loop callback's record: its helper takes
    /// it only on the stack); where they do not fit, the function does not fit.
    pub stack_only: Vec<Slot>,
    pub vregs: u32,
    pub labels: u32,
    /// Functions the kernel calls back from a helper (`bpf_for_each_map_elem`, `bpf_loop`),
    /// each lowered like a probe's body; `Inst::FuncRef(_, n)` names the n-th.
    pub callbacks: Vec<Function>,
    /// While set, `new_slot` hands out the existing slots from this index on again (grown to
    /// the size asked) before adding any: code on paths that never meet (the members of a
    /// dispatched probe) shares one frame.
    pub reuse_slots_from: Option<usize>,
}

impl Function {
    /// A function of these instructions for the passes' tests: named `t`, its registers
    /// counted from what the instructions name, slots of `slots` bytes.
    #[cfg(test)]
    pub fn of(insts: Vec<Inst>, slots: &[u32]) -> Function {
        let vregs = (insts.iter())
            .flat_map(|i| i.uses().into_iter().chain(i.def()))
            .map(|v| v.0 + 1)
            .max()
            .unwrap_or(0);
        Function {
            name: "t".into(),
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            slots: slots.to_vec(),
            vregs,
            labels: 1,
            ..Function::default()
        }
    }

    pub fn new_vreg(&mut self) -> VReg {
        self.vregs += 1;
        VReg(self.vregs - 1)
    }

    pub fn new_slot(&mut self, size: u32) -> Slot {
        let size = size.next_multiple_of(8);
        if let Some(at) = self.reuse_slots_from {
            // Past the existing slots it keeps counting, so that a slot added here is not
            // handed out again to the same member.
            self.reuse_slots_from = Some(at + 1);
            if at < self.slots.len() {
                self.slots[at] = self.slots[at].max(size);
                return Slot(at as u32);
            }
        }
        self.slots.push(size);
        Slot(self.slots.len() as u32 - 1)
    }

    pub fn new_label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Drops instructions no path reaches (after a `goto` or a return, up to the next label
    /// reachable code jumps to). The verifier refuses programs with unreachable instructions,
    /// and `return`, `break` or `exit()` inside a branch leaves some behind; the code after
    /// one may jump to labels of its own, which stay unreachable with it.
    pub fn remove_unreachable(&mut self) {
        let mut targets: std::collections::HashSet<Label> = std::collections::HashSet::new();
        // Labels reached grow with each pass (a loop's jump back comes after its label).
        loop {
            let before = targets.len();
            self.walk_reachable(&targets.clone(), &mut |inst| {
                if let Inst::Jump(l) | Inst::Branch { then: l, .. } = inst {
                    targets.insert(*l);
                }
            });
            if targets.len() == before {
                break;
            }
        }
        let mut reachable = true;
        self.insts.retain(|(inst, _)| {
            match inst {
                Inst::Label(l) if targets.contains(l) => reachable = true,
                // Loop markers carry no code; keep them so intervals stay right.
                Inst::LoopStart | Inst::LoopEnd => return true,
                _ => {}
            }
            let kept = reachable;
            if matches!(inst, Inst::Jump(_) | Inst::Return(_)) {
                reachable = false;
            }
            kept
        });
    }

    /// Calls `f` on each instruction reached when the labels in `targets` are the ones
    /// jumped to.
    fn walk_reachable(
        &self,
        targets: &std::collections::HashSet<Label>,
        f: &mut impl FnMut(&Inst),
    ) {
        let mut reachable = true;
        for (inst, _) in &self.insts {
            if let Inst::Label(l) = inst {
                if targets.contains(l) {
                    reachable = true;
                }
            }
            if reachable {
                f(inst);
            }
            if matches!(inst, Inst::Jump(_) | Inst::Return(_)) {
                reachable = false;
            }
        }
    }
}

/// The helpers a run of the function calls on its usual path: every call site outside cold
/// regions, its callbacks' included (each counted once), but a lookup in one of the maps
/// `inlined` (`ProgramInfo::inlined_lookups`), which the kernel turns into instructions.
pub fn hot_helpers(f: &Function, inlined: &std::collections::HashSet<usize>) -> Vec<Helper> {
    let map_of: std::collections::HashMap<VReg, usize> = (f.insts.iter())
        .filter_map(|(i, _)| match i {
            Inst::MapRef(v, m) => Some((*v, *m)),
            _ => None,
        })
        .collect();
    let is_inlined = |args: &[Operand]| match args.first() {
        Some(Operand::Reg(v)) => map_of.get(v).is_some_and(|m| inlined.contains(m)),
        _ => false,
    };
    let mut depth = 0u32;
    let mut out = Vec::new();
    for (inst, _) in &f.insts {
        match inst {
            Inst::ColdStart => depth += 1,
            Inst::ColdEnd => depth = depth.saturating_sub(1),
            Inst::Call {
                helper: Helper::MapLookupElem,
                args,
                ..
            } if is_inlined(args) => {}
            Inst::Call { helper, .. } if depth == 0 => out.push(*helper),
            _ => {}
        }
    }
    for callback in &f.callbacks {
        out.extend(hot_helpers(callback, inlined));
    }
    out
}

/// Renders a function for `-d ir`.
pub fn print_function(f: &Function) -> String {
    let mut out = format!("fn {}:\n", f.name);
    for (i, s) in f.slots.iter().enumerate() {
        out.push_str(&format!("  slot{i}: {s} bytes\n"));
    }
    for (inst, _) in &f.insts {
        let text = match inst {
            Inst::Label(l) => format!("L{}:", l.0),
            other => format!("    {}", describe(other)),
        };
        out.push_str(&text);
        out.push('\n');
    }
    for (n, callback) in f.callbacks.iter().enumerate() {
        out.push_str(&format!("callback{n} of "));
        out.push_str(&print_function(callback));
    }
    out
}

fn describe(inst: &Inst) -> String {
    let op = |o: &Operand| match o {
        Operand::Reg(r) => format!("v{}", r.0),
        Operand::Imm(i) => i.to_string(),
    };
    let addr = |a: &Addr| match a {
        Addr::Slot(s, o) => format!("slot{}{:+}", s.0, o),
        Addr::Ptr(r, o) => format!("v{}{:+}", r.0, o),
    };
    match inst {
        Inst::Const(d, v) => format!("v{} = {v}", d.0),
        Inst::Mov(d, s) => format!("v{} = v{}", d.0, s.0),
        Inst::Alu { op: o, dst, a, b } => format!("v{} = v{} {:?} {}", dst.0, a.0, o, op(b)),
        Inst::Neg(d, s) => format!("v{} = -v{}", d.0, s.0),
        Inst::Load {
            dst,
            addr: a,
            size,
            signed,
        } => {
            format!(
                "v{} = load.{:?}{} [{}]",
                dst.0,
                size,
                if *signed { "s" } else { "" },
                addr(a)
            )
        }
        Inst::Store {
            addr: a,
            value,
            size,
        } => format!("store.{:?} [{}] = {}", size, addr(a), op(value)),
        Inst::SlotAddr(d, s, o) => format!("v{} = &slot{}{:+}", d.0, s.0, o),
        Inst::MapRef(d, m) => format!("v{} = map#{m}", d.0),
        Inst::GlobalAddr(d, section, off) => format!("v{} = &{section:?}+{off}", d.0),
        Inst::AtomicAdd { addr: a, value } => format!("lock [{}] += v{}", addr(a), value.0),
        Inst::Arg(d, n) => format!("v{} = arg{n}", d.0),
        Inst::FuncRef(d, n) => format!("v{} = &callback{n}", d.0),
        Inst::Call { helper, args, ret } => {
            let args: Vec<String> = args.iter().map(op).collect();
            match ret {
                Some(r) => format!("v{} = call {:?}({})", r.0, helper, args.join(", ")),
                None => format!("call {:?}({})", helper, args.join(", ")),
            }
        }
        Inst::Jump(l) => format!("goto L{}", l.0),
        Inst::Branch { cond, a, b, then } => {
            format!("if v{} {:?} {} goto L{}", a.0, cond, op(b), then.0)
        }
        Inst::Label(l) => format!("L{}:", l.0),
        Inst::Return(v) => format!("return {}", op(v)),
        Inst::LoopStart => "loop {".into(),
        Inst::LoopEnd => "} loop".into(),
        Inst::ColdStart => "cold {".into(),
        Inst::ColdEnd => "} cold".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_sharing_the_frame_never_gets_one_slot_twice() {
        let mut f = Function::default();
        let before = f.new_slot(8);
        f.reuse_slots_from = Some(1);
        let first: Vec<Slot> = (0..3).map(|_| f.new_slot(16)).collect();
        // The next member starts again from the same frame, past `before`.
        f.reuse_slots_from = Some(1);
        let second: Vec<Slot> = (0..4).map(|_| f.new_slot(8)).collect();
        f.reuse_slots_from = None;
        let after = f.new_slot(8);
        assert_eq!(before, Slot(0));
        assert_eq!(first, vec![Slot(1), Slot(2), Slot(3)]);
        assert_eq!(second, vec![Slot(1), Slot(2), Slot(3), Slot(4)]);
        assert_eq!(after, Slot(5));
        assert_eq!(f.slots, vec![8, 16, 16, 16, 8, 8]);
    }
}

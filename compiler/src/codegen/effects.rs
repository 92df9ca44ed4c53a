//! What the IR passes need to know about an instruction beyond the registers it reads and
//! writes (`Inst::uses`, `Inst::def`), in one place so that the passes agree: which
//! instructions touch nothing but registers (no memory, no helper, no control flow), which
//! ones have their result as their only effect, and which registers are defined once (and by
//! what). `forward` and `dead_stores` scan past the register-only ones, `dead_values` removes
//! unread results, `fold`, `dead_stores` and `remat` read single definitions.

use std::collections::HashMap;

use crate::ir::{Inst, VReg};
use crate::span::Span;

/// Whether the instruction reads and writes registers only: nothing in memory, no helper,
/// no jump or label.
pub fn registers_only(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::Const(..)
            | Inst::Mov(..)
            | Inst::Alu { .. }
            | Inst::Neg(..)
            | Inst::SlotAddr(..)
            | Inst::MapRef(..)
            | Inst::GlobalAddr(..)
            | Inst::Arg(..)
            | Inst::FuncRef(..)
            | Inst::ColdStart
            | Inst::ColdEnd
    )
}

/// Whether the register the instruction writes is its only effect, so that it may go when
/// nothing reads that register: a load too, but not a callback's reference (a callback must
/// stay referenced).
pub fn only_a_result(inst: &Inst) -> bool {
    inst.def().is_some()
        && (matches!(inst, Inst::Load { .. })
            || (registers_only(inst) && !matches!(inst, Inst::FuncRef(..))))
}

/// The registers defined exactly once, each with what `pick` makes of its one definition,
/// leaving out those `pick` says nothing about.
pub fn defined_once<T>(
    insts: &[(Inst, Span)],
    pick: impl Fn(&Inst) -> Option<T>,
) -> HashMap<VReg, T> {
    let mut defs: HashMap<VReg, (u32, Option<T>)> = HashMap::new();
    for (inst, _) in insts {
        if let Some(d) = inst.def() {
            let e = defs.entry(d).or_insert((0, None));
            e.0 += 1;
            e.1 = pick(inst);
        }
    }
    defs.into_iter()
        .filter_map(|(v, (count, picked))| (count == 1).then_some((v, picked?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Size;
    use crate::ir::{Addr, Operand, Slot};

    #[test]
    fn loads_are_results_but_not_register_only_and_callbacks_stay() {
        let load = Inst::Load {
            dst: VReg(1),
            addr: Addr::Slot(Slot(0), 0),
            size: Size::DW,
            signed: false,
        };
        assert!(only_a_result(&load) && !registers_only(&load));
        assert!(registers_only(&Inst::FuncRef(VReg(2), 0)));
        assert!(!only_a_result(&Inst::FuncRef(VReg(2), 0)));
        assert!(registers_only(&Inst::ColdStart) && !only_a_result(&Inst::ColdStart));
        let store = Inst::Store {
            addr: Addr::Slot(Slot(0), 0),
            value: Operand::Imm(0),
            size: Size::DW,
        };
        assert!(!registers_only(&store) && !only_a_result(&store));
    }

    #[test]
    fn a_register_defined_twice_is_not_defined_once() {
        let insts: Vec<(Inst, Span)> = [
            Inst::Const(VReg(0), 1),
            Inst::Const(VReg(1), 2),
            Inst::Mov(VReg(1), VReg(0)),
        ]
        .into_iter()
        .map(|i| (i, Span::default()))
        .collect();
        let constants = defined_once(&insts, |i| match i {
            Inst::Const(_, c) => Some(*c),
            _ => None,
        });
        assert_eq!(constants, HashMap::from([(VReg(0), 1)]));
    }
}

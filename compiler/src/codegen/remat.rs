//! Rematerialization, before register allocation: a value that is as cheap to compute again
//! as to move (a constant, a map's address, a stack slot's address), defined once and read
//! once, as a helper's argument, is computed straight into that argument's register where the
//! call reads it. It then needs no register of its own between the two, and the move into
//! r1-r5 is gone: `r6 = map ll; r7 = r10; r7 += -8; r1 = r6; r2 = r7` becomes
//! `r1 = map ll; r2 = r10; r2 += -8`. Each of these values is the same wherever it is
//! computed, so moving its computation is always exact.

use std::collections::{HashMap, HashSet};

use super::effects::defined_once;
use crate::ir::{Function, Inst, Operand, VReg};

/// The values `emit` computes at their call instead of where they are defined, each with the
/// instruction that defines it.
pub fn rematerialized(f: &Function) -> HashMap<VReg, Inst> {
    let defs = defined_once(&f.insts, |i| {
        matches!(
            i,
            Inst::Const(..) | Inst::MapRef(..) | Inst::SlotAddr(..) | Inst::GlobalAddr(..)
        )
        .then(|| i.clone())
    });
    let once = read_once_by_a_call(f);
    defs.into_iter().filter(|(v, _)| once.contains(v)).collect()
}

/// The registers read exactly once, as a helper's argument.
pub fn read_once_by_a_call(f: &Function) -> HashSet<VReg> {
    let mut uses: HashMap<VReg, usize> = HashMap::new();
    let mut call_args: HashMap<VReg, usize> = HashMap::new();
    for (inst, _) in &f.insts {
        for u in inst.uses() {
            *uses.entry(u).or_default() += 1;
        }
        if let Inst::Call { args, .. } = inst {
            for a in args {
                if let Operand::Reg(v) = a {
                    *call_args.entry(*v).or_default() += 1;
                }
            }
        }
    }
    (uses.into_iter())
        .filter(|(v, n)| *n == 1 && call_args.get(v) == Some(&1))
        .map(|(v, _)| v)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Helper;
    use crate::ir::{Addr, Slot};

    fn function(insts: Vec<Inst>) -> Function {
        Function::of(insts, &[8])
    }

    fn call(args: &[VReg], ret: VReg) -> Inst {
        Inst::Call {
            helper: Helper::MapLookupElem,
            args: args.iter().map(|v| Operand::Reg(*v)).collect(),
            ret: Some(ret),
        }
    }

    #[test]
    fn a_map_and_a_key_address_read_once_by_a_call_are_computed_there() {
        let (map, key, ret) = (VReg(0), VReg(1), VReg(2));
        let f = function(vec![
            Inst::MapRef(map, 3),
            Inst::SlotAddr(key, Slot(0), 0),
            call(&[map, key], ret),
            Inst::Return(Operand::Reg(ret)),
        ]);
        let r = rematerialized(&f);
        assert_eq!(r.len(), 2);
        assert_eq!(r[&map], Inst::MapRef(map, 3));
        assert_eq!(r[&key], Inst::SlotAddr(key, Slot(0), 0));
    }

    #[test]
    fn values_read_twice_or_elsewhere_or_computed_from_others_keep_their_register() {
        let (map, key, ret, loaded, sum) = (VReg(0), VReg(1), VReg(2), VReg(3), VReg(4));
        let f = function(vec![
            // Read by two calls.
            Inst::MapRef(map, 3),
            // Read by a store, not a call.
            Inst::SlotAddr(key, Slot(0), 0),
            Inst::Store {
                addr: Addr::Ptr(key, 0),
                value: Operand::Imm(1),
                size: crate::insn::Size::DW,
            },
            call(&[map], ret),
            // A load's value depends on memory: never moved.
            Inst::Load {
                dst: loaded,
                addr: Addr::Slot(Slot(0), 0),
                size: crate::insn::Size::DW,
                signed: false,
            },
            Inst::Alu {
                op: crate::insn::Alu::Add,
                dst: sum,
                a: loaded,
                b: Operand::Imm(1),
            },
            call(&[map, sum], ret),
            Inst::Return(Operand::Reg(ret)),
        ]);
        assert!(rematerialized(&f).is_empty());
    }

    #[test]
    fn a_value_defined_twice_keeps_its_register() {
        let (v, ret) = (VReg(0), VReg(1));
        let f = function(vec![
            Inst::Const(v, 1),
            Inst::Const(v, 2),
            call(&[v], ret),
            Inst::Return(Operand::Imm(0)),
        ]);
        assert!(rematerialized(&f).is_empty());
    }
}

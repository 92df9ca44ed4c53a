//! Dead store elimination on the IR: a store to a stack slot that a later store to the same
//! bytes overwrites before anything could read them goes. Lowering zeroes a key's slot before
//! it writes the key (`*(r10 -8) = 0; ...; *(r10 -8) = r7`), so that padding is never
//! uninitialised; where the key fills its bytes the zeroing is dead. Only straight-line code
//! between the two stores is looked at, and anything that may read the slot keeps the first
//! one: a load from it, a load through a pointer, a helper given a register (it may be a
//! pointer to the slot), a label, a jump, a loop.

use std::collections::HashSet;

use crate::ir::{Addr, Function, Inst, Operand, Slot};

/// `f` without the stores that are overwritten before they are read, and without the stores
/// to slots nothing reads at all (no load from them, their address never taken).
pub fn without_dead_stores(f: &Function) -> Function {
    let mut out = f.clone();
    let read: HashSet<Slot> = f
        .insts
        .iter()
        .filter_map(|(i, _)| match i {
            Inst::Load {
                addr: Addr::Slot(s, _),
                ..
            }
            | Inst::SlotAddr(_, s, _) => Some(*s),
            _ => None,
        })
        .collect();
    let dead: Vec<bool> = (0..f.insts.len())
        .map(|i| match f.insts[i].0 {
            Inst::Store {
                addr: Addr::Slot(s, _),
                ..
            } if !read.contains(&s) => true,
            _ => overwritten_unread(&f.insts, i),
        })
        .collect();
    let mut index = 0;
    out.insts.retain(|_| {
        index += 1;
        !dead[index - 1]
    });
    out
}

fn overwritten_unread(insts: &[(Inst, crate::span::Span)], at: usize) -> bool {
    let Inst::Store {
        addr: Addr::Slot(slot, off),
        size,
        ..
    } = insts[at].0
    else {
        return false;
    };
    let (start, end) = (off, off + size.bytes() as i32);
    for (inst, _) in &insts[at + 1..] {
        match inst {
            Inst::Store {
                addr: Addr::Slot(s, o),
                size: z,
                ..
            } if *s == slot && *o <= start && *o + z.bytes() as i32 >= end => return true,
            Inst::Store { .. } => {}
            Inst::Load {
                addr: Addr::Slot(s, _),
                ..
            } if *s != slot => {}
            Inst::Call { args, .. } if args.iter().all(|a| matches!(a, Operand::Imm(_))) => {}
            Inst::Const(..)
            | Inst::Mov(..)
            | Inst::Alu { .. }
            | Inst::Neg(..)
            | Inst::SlotAddr(..)
            | Inst::MapRef(..)
            | Inst::Arg(..)
            | Inst::FuncRef(..)
            | Inst::ColdStart
            | Inst::ColdEnd => {}
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Helper, Size};
    use crate::ir::VReg;
    use crate::span::Span;

    fn function(insts: Vec<Inst>) -> Function {
        Function {
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            slots: vec![8, 8],
            ..Function::default()
        }
    }

    fn store(slot: u32, off: i32, size: Size, value: Operand) -> Inst {
        Inst::Store {
            addr: Addr::Slot(Slot(slot), off),
            value,
            size,
        }
    }

    fn call(args: Vec<Operand>) -> Inst {
        Inst::Call {
            helper: Helper::GetCurrentPidTgid,
            args,
            ret: Some(VReg(0)),
        }
    }

    fn read(slot: u32) -> Inst {
        Inst::SlotAddr(VReg(7), Slot(slot), 0)
    }

    #[test]
    fn stores_to_a_slot_nothing_reads_go() {
        let f = function(vec![
            store(0, 0, Size::DW, Operand::Imm(0)),
            store(1, 0, Size::DW, Operand::Imm(1)),
            read(1),
        ]);
        let out = without_dead_stores(&f);
        assert_eq!(out.insts.len(), 2);
        assert_eq!(out.insts[0].0, store(1, 0, Size::DW, Operand::Imm(1)));
    }

    #[test]
    fn a_zeroed_key_written_whole_after_a_call_without_pointers_loses_its_zeroing() {
        let f = function(vec![
            store(0, 0, Size::DW, Operand::Imm(0)),
            call(vec![]),
            store(1, 0, Size::DW, Operand::Imm(5)),
            store(0, 0, Size::DW, Operand::Reg(VReg(0))),
            read(0),
            read(1),
        ]);
        let out = without_dead_stores(&f);
        assert_eq!(out.insts.len(), 5);
        assert_eq!(out.insts[0].0, call(vec![]));
    }

    #[test]
    fn stores_that_may_be_read_or_are_overwritten_in_part_stay() {
        let cases = [
            // Read back first.
            Inst::Load {
                dst: VReg(1),
                addr: Addr::Slot(Slot(0), 0),
                size: Size::W,
                signed: false,
            },
            // A helper given a register may read through it.
            call(vec![Operand::Reg(VReg(3))]),
            // Control flow ends the straight line the scan looks at.
            Inst::Label(crate::ir::Label(0)),
        ];
        for between in cases {
            let f = function(vec![
                store(0, 0, Size::DW, Operand::Imm(0)),
                between.clone(),
                store(0, 0, Size::DW, Operand::Imm(1)),
                read(0),
            ]);
            assert_eq!(without_dead_stores(&f).insts.len(), 4, "{between:?}");
        }
        // Only half of the bytes are written again.
        let f = function(vec![
            store(0, 0, Size::DW, Operand::Imm(0)),
            store(0, 0, Size::W, Operand::Imm(1)),
            read(0),
        ]);
        assert_eq!(without_dead_stores(&f).insts.len(), 3);
    }
}

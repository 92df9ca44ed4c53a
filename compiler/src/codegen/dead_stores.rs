//! Dead store elimination on the IR: a store to a stack slot that a later store to the same
//! bytes overwrites before anything could read them goes. Lowering zeroes a key's slot before
//! it writes the key (`*(r10 -8) = 0; ...; *(r10 -8) = r7`), so that padding is never
//! uninitialised; where the key fills its bytes the zeroing is dead. Only straight-line code
//! between the two stores is looked at, and anything that may read the slot keeps the first
//! one: a load from it, a load through a pointer, a helper given a register that may point
//! into it (any register but the address of another slot), a label, a branch, a loop.

use std::collections::{HashMap, HashSet};

use super::effects::{defined_once, registers_only};
use crate::insn::Helper;
use crate::ir::{Addr, Function, Inst, Operand, Slot, VReg};

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
    let addresses = Addresses::of(&f.insts);
    let dead: Vec<bool> = (0..f.insts.len())
        .map(|i| match f.insts[i].0 {
            Inst::Store {
                addr: Addr::Slot(s, _),
                ..
            } if !read.contains(&s) => true,
            _ => overwritten_unread(&f.insts, &addresses, i),
        })
        .collect();
    let mut index = 0;
    out.insts.retain(|_| {
        index += 1;
        !dead[index - 1]
    });
    out
}

fn overwritten_unread(
    insts: &[(Inst, crate::span::Span)],
    addresses: &Addresses,
    at: usize,
) -> bool {
    let may_point_into = |a: &Operand, slot: Slot| match a {
        Operand::Imm(_) => false,
        Operand::Reg(v) => {
            !addresses.elsewhere.contains(v)
                && addresses.slots.get(v).is_none_or(|(s, _)| *s == slot)
        }
    };
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
            // A helper that writes the whole of its buffer, reading none of it, overwrites
            // the stored bytes when its buffer covers them.
            Inst::Call { helper, args, .. }
                if writes_whole_buffer(*helper)
                    && matches!(args.as_slice(), [Operand::Reg(p), Operand::Imm(n), ..]
                    if addresses.slots.get(p).is_some_and(|&(s, o)| {
                        s == slot && o <= start && o + n >= end
                    }))
                    && args[2..].iter().all(|a| !may_point_into(a, slot)) =>
            {
                return true
            }
            Inst::Call { args, .. } if args.iter().all(|a| !may_point_into(a, slot)) => {}
            i if registers_only(i) => {}
            _ => return false,
        }
    }
    false
}

/// What the registers given to helpers may point at.
struct Addresses {
    /// Registers defined once, by the address of a slot: which slot, at which offset. A
    /// helper given such a register reaches that slot only (lowering sizes every helper's
    /// buffer to its slot).
    slots: HashMap<VReg, (Slot, i32)>,
    /// Registers defined once by what is never in the frame: the context, a map, the global
    /// data, a callback.
    elsewhere: HashSet<VReg>,
}

impl Addresses {
    fn of(insts: &[(Inst, crate::span::Span)]) -> Addresses {
        Addresses {
            slots: defined_once(insts, |i| match i {
                Inst::SlotAddr(_, s, off) => Some((*s, *off)),
                _ => None,
            }),
            elsewhere: defined_once(insts, |i| {
                matches!(
                    i,
                    Inst::Arg(..) | Inst::MapRef(..) | Inst::GlobalAddr(..) | Inst::FuncRef(..)
                )
                .then_some(())
            })
            .into_keys()
            .collect(),
        }
    }
}

/// Helpers `(buffer, size, ...)` that write all `size` bytes of the buffer whatever happens
/// and read none: the task's name (padded with zeros) and the plain reads (zeros on a fault).
/// Not the string reads, which stop at the terminator.
fn writes_whole_buffer(helper: Helper) -> bool {
    matches!(
        helper,
        Helper::GetCurrentComm
            | Helper::ProbeRead
            | Helper::ProbeReadKernel
            | Helper::ProbeReadUser
    )
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
    fn a_helper_writing_another_slot_does_not_keep_the_zeroing() {
        let f = function(vec![
            store(0, 0, Size::DW, Operand::Imm(0)),
            Inst::SlotAddr(VReg(4), Slot(1), 0),
            call(vec![Operand::Reg(VReg(4)), Operand::Imm(8)]),
            store(0, 0, Size::DW, Operand::Reg(VReg(0))),
            read(0),
        ]);
        let out = without_dead_stores(&f);
        assert_eq!(out.insts.len(), 4);
        assert_eq!(out.insts[0].0, Inst::SlotAddr(VReg(4), Slot(1), 0));
    }

    #[test]
    fn a_helper_that_fills_the_slot_or_is_given_only_the_context_overwrites_the_zeroing() {
        let comm = |off: i32, size: i32| {
            vec![
                store(0, 0, Size::DW, Operand::Imm(0)),
                store(0, 8, Size::DW, Operand::Imm(0)),
                Inst::SlotAddr(VReg(4), Slot(0), off),
                Inst::Call {
                    helper: Helper::GetCurrentComm,
                    args: vec![Operand::Reg(VReg(4)), Operand::Imm(size)],
                    ret: None,
                },
                read(0),
            ]
        };
        assert_eq!(without_dead_stores(&function(comm(0, 16))).insts.len(), 3);
        // Half the slot written: the other half's zeroing stays.
        assert_eq!(without_dead_stores(&function(comm(0, 8))).insts.len(), 4);
        assert_eq!(without_dead_stores(&function(comm(8, 8))).insts.len(), 4);
        // The context is not in the frame.
        let f = function(vec![
            Inst::Arg(VReg(1), 0),
            store(0, 0, Size::DW, Operand::Imm(0)),
            call(vec![Operand::Reg(VReg(1))]),
            store(0, 0, Size::DW, Operand::Reg(VReg(0))),
            read(0),
        ]);
        assert_eq!(without_dead_stores(&f).insts.len(), 4);
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

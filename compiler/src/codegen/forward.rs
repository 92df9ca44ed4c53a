//! Store-to-load forwarding on the IR: a load of the 8 bytes a store just wrote to a stack
//! slot, with nothing between them that could change those bytes, becomes a move of the
//! stored value (`*(r10 -24) = r8; r8 = *(r10 -24)` becomes `r8 = r8`, which coalescing
//! removes). A slot nothing else reads then loses the store too (`dead_stores`). The scan goes
//! back from the load along the one path that reaches it (through branches not taken, never
//! past a label, where other paths join); anything that may write the slot ends it: a store to
//! it or through a pointer, a helper given a register, a loop. 8 bytes only: a narrower
//! load zero- or sign-extends what it reads, which the register does not.

use super::effects::registers_only;
use crate::insn::Size;
use crate::ir::{Addr, Function, Inst, Operand};

/// `f` with loads of just-stored values read from the stored register instead.
pub fn forwarded(f: &Function) -> Function {
    let mut out = f.clone();
    for at in 0..out.insts.len() {
        let Inst::Load {
            dst,
            addr: Addr::Slot(slot, off),
            size: Size::DW,
            ..
        } = out.insts[at].0
        else {
            continue;
        };
        for back in (0..at).rev() {
            match &out.insts[back].0 {
                Inst::Store {
                    addr: Addr::Slot(s, o),
                    value,
                    size,
                } if *s == slot => {
                    if *o == off && *size == Size::DW {
                        out.insts[at].0 = match *value {
                            // The stored register must still hold the value: it is
                            // rewritten nowhere between (checked below), or this stays a load.
                            Operand::Reg(v) if !written_between(&out.insts, back, at, v) => {
                                Inst::Mov(dst, v)
                            }
                            Operand::Imm(i) => Inst::Const(dst, i as i64 as u64),
                            Operand::Reg(_) => break,
                        };
                    }
                    break;
                }
                Inst::Store {
                    addr: Addr::Slot(..),
                    ..
                }
                | Inst::Load { .. }
                // Falling through a branch keeps to the one path from the store.
                | Inst::Branch { .. } => {}
                i if registers_only(i) => {}
                Inst::Call { args, .. } if args.iter().all(|a| matches!(a, Operand::Imm(_))) => {}
                _ => break,
            }
        }
    }
    out
}

fn written_between(
    insts: &[(Inst, crate::span::Span)],
    from: usize,
    to: usize,
    v: crate::ir::VReg,
) -> bool {
    insts[from + 1..to].iter().any(|(i, _)| i.def() == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Helper;
    use crate::ir::{Slot, VReg};
    use crate::span::Span;

    fn function(insts: Vec<Inst>) -> Function {
        Function {
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            slots: vec![8, 8],
            ..Function::default()
        }
    }

    fn store(slot: u32, value: Operand, size: Size) -> Inst {
        Inst::Store {
            addr: Addr::Slot(Slot(slot), 0),
            value,
            size,
        }
    }

    fn load(dst: u32, slot: u32, size: Size) -> Inst {
        Inst::Load {
            dst: VReg(dst),
            addr: Addr::Slot(Slot(slot), 0),
            size,
            signed: false,
        }
    }

    #[test]
    fn a_load_of_what_was_just_stored_is_a_move() {
        let f = function(vec![
            store(0, Operand::Reg(VReg(1)), Size::DW),
            store(1, Operand::Imm(3), Size::DW),
            Inst::Call {
                helper: Helper::GetCurrentPidTgid,
                args: vec![],
                ret: Some(VReg(5)),
            },
            Inst::Branch {
                cond: crate::insn::Cond::Eq,
                a: VReg(5),
                b: Operand::Imm(0),
                then: crate::ir::Label(0),
            },
            load(2, 0, Size::DW),
            load(3, 1, Size::DW),
        ]);
        let out = forwarded(&f);
        assert_eq!(out.insts[4].0, Inst::Mov(VReg(2), VReg(1)));
        assert_eq!(out.insts[5].0, Inst::Const(VReg(3), 3));
    }

    #[test]
    fn loads_stay_where_the_bytes_or_the_register_may_have_changed() {
        let cases = vec![
            // A narrower load zero-extends.
            vec![
                store(0, Operand::Reg(VReg(1)), Size::DW),
                load(2, 0, Size::W),
            ],
            // The register is written again in between.
            vec![
                store(0, Operand::Reg(VReg(1)), Size::DW),
                Inst::Const(VReg(1), 9),
                load(2, 0, Size::DW),
            ],
            // A helper may write through the pointer it is given.
            vec![
                store(0, Operand::Reg(VReg(1)), Size::DW),
                Inst::Call {
                    helper: Helper::ProbeRead,
                    args: vec![Operand::Reg(VReg(4))],
                    ret: None,
                },
                load(2, 0, Size::DW),
            ],
            // Another path joins between them.
            vec![
                store(0, Operand::Reg(VReg(1)), Size::DW),
                Inst::Label(crate::ir::Label(0)),
                load(2, 0, Size::DW),
            ],
            // Only part of the bytes were stored.
            vec![
                store(0, Operand::Reg(VReg(1)), Size::W),
                load(2, 0, Size::DW),
            ],
        ];
        for insts in cases {
            let f = function(insts);
            assert_eq!(forwarded(&f).insts, f.insts);
        }
    }
}

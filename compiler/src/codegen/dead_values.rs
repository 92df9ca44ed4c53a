//! Dead value elimination, on the IR before registers are allocated: an instruction whose only
//! effect is its result (a constant, a move, arithmetic, an address, a load, the context
//! argument) goes when nothing reads that result, repeated until nothing more goes; a call
//! whose result nothing reads stays, without its result. Lowering
//! keeps the context pointer of every probe (`v0 = arg0`) whether or not it reads it, and an
//! unused one costs a register move at the program's start.

use std::collections::HashSet;

use super::effects::only_a_result;
use crate::ir::{Function, Inst, VReg};

/// `f` without the instructions whose results are never read.
pub fn without_dead_values(f: &Function) -> Function {
    let mut out = f.clone();
    loop {
        let read: HashSet<VReg> = out.insts.iter().flat_map(|(i, _)| i.uses()).collect();
        let before = out.insts.len();
        out.insts.retain(|(inst, _)| {
            !(only_a_result(inst) && inst.def().is_some_and(|d| !read.contains(&d)))
        });
        // A call stays, but a result nothing reads need not be moved out of r0.
        for (inst, _) in &mut out.insts {
            if let Inst::Call { ret, .. } = inst {
                if ret.is_some_and(|r| !read.contains(&r)) {
                    *ret = None;
                }
            }
        }
        if out.insts.len() == before {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Alu, Helper};
    use crate::ir::Operand;
    use crate::span::Span;

    fn function(insts: Vec<Inst>) -> Function {
        Function {
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            ..Function::default()
        }
    }

    #[test]
    fn unread_results_go_and_so_do_the_values_only_they_read() {
        let f = function(vec![
            Inst::Arg(VReg(0), 0),
            Inst::Const(VReg(1), 5),
            Inst::Alu {
                op: Alu::Add,
                dst: VReg(2),
                a: VReg(1),
                b: Operand::Imm(1),
            },
            Inst::Const(VReg(3), 7),
            Inst::Return(Operand::Reg(VReg(3))),
        ]);
        let out = without_dead_values(&f);
        let left: Vec<_> = out.insts.iter().map(|(i, _)| i.clone()).collect();
        assert_eq!(
            left,
            vec![Inst::Const(VReg(3), 7), Inst::Return(Operand::Reg(VReg(3)))]
        );
    }

    #[test]
    fn calls_stay_even_when_their_result_is_unread() {
        let f = function(vec![
            Inst::Const(VReg(0), 1),
            Inst::Call {
                helper: Helper::GetPrandomU32,
                args: vec![Operand::Reg(VReg(0))],
                ret: Some(VReg(1)),
            },
            Inst::Return(Operand::Imm(0)),
        ]);
        let out = without_dead_values(&f);
        assert_eq!(out.insts.len(), 3);
        assert!(matches!(out.insts[1].0, Inst::Call { ret: None, .. }));
    }
}

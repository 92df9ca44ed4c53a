//! Constant folding on the IR, before dead values go: a register that holds one constant
//! throughout (defined once, by a constant that fits an instruction's 32-bit immediate) is
//! read as that immediate (`r7 = 65536; if r8 < r7` becomes `if r8 < 65536`); arithmetic on
//! two known constants becomes their result; and an operation with an immediate that leaves
//! its operand as it is (`+ 0`, `- 0`, `| 0`, `^ 0`, shifts by 0, `* 1`, `/ 1`) becomes a
//! move, which coalescing then removes, while `& 0` and `* 0` become the constant 0. BPF's
//! ALU64 sign-extends a 32-bit immediate to 64 bits, which is what the register held, so each
//! rewrite computes the same 64-bit value.

use std::collections::HashMap;

use super::effects::defined_once;
use crate::insn::Alu;
use crate::ir::{Function, Inst, Operand, VReg};

/// `f` with constants folded, again while a fold makes another constant.
pub fn folded(f: &Function) -> Function {
    let mut out = f.clone();
    loop {
        let next = folded_once(&out);
        if next.insts == out.insts {
            return out;
        }
        out = next;
    }
}

fn folded_once(f: &Function) -> Function {
    let mut out = f.clone();
    let constants = constants(&out);
    let imm = |o: &mut Operand| {
        if let Operand::Reg(v) = o {
            if let Some(i) = constants.get(v).and_then(|&c| i32::try_from(c as i64).ok()) {
                *o = Operand::Imm(i);
            }
        }
    };
    for (inst, _) in out.insts.iter_mut() {
        match inst {
            Inst::Alu { b, .. } | Inst::Branch { b, .. } => imm(b),
            Inst::Store { value, .. } => imm(value),
            Inst::Return(v) => imm(v),
            _ => {}
        }
        if let Inst::Alu { op, dst, a, b } = *inst {
            if let Some(simpler) = simplified(op, dst, a, b, constants.get(&a).copied()) {
                *inst = simpler;
            }
        }
    }
    out
}

/// Registers defined exactly once, by a constant: their value.
fn constants(f: &Function) -> HashMap<VReg, u64> {
    defined_once(&f.insts, |i| match i {
        Inst::Const(_, value) => Some(*value),
        _ => None,
    })
}

/// What `dst = a op b` comes to when `b` is an immediate, with `a`'s value if it is known.
fn simplified(op: Alu, dst: VReg, a: VReg, b: Operand, a_value: Option<u64>) -> Option<Inst> {
    let Operand::Imm(imm) = b else {
        return None;
    };
    let b = imm as i64 as u64;
    if let Some(a) = a_value {
        let value = match op {
            Alu::Add => Some(a.wrapping_add(b)),
            Alu::Sub => Some(a.wrapping_sub(b)),
            Alu::Mul => Some(a.wrapping_mul(b)),
            Alu::And => Some(a & b),
            Alu::Or => Some(a | b),
            Alu::Xor => Some(a ^ b),
            Alu::Lsh if b < 64 => Some(a << b),
            Alu::Rsh if b < 64 => Some(a >> b),
            Alu::Arsh if b < 64 => Some(((a as i64) >> b) as u64),
            _ => None,
        };
        if let Some(value) = value {
            return Some(Inst::Const(dst, value));
        }
    }
    match (op, b) {
        (Alu::Add | Alu::Sub | Alu::Or | Alu::Xor | Alu::Lsh | Alu::Rsh | Alu::Arsh, 0)
        | (Alu::Mul | Alu::Div, 1) => Some(Inst::Mov(dst, a)),
        (Alu::And | Alu::Mul, 0) => Some(Inst::Const(dst, 0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Cond;
    use crate::ir::Label;
    use crate::span::Span;

    fn function(insts: Vec<Inst>) -> Function {
        Function {
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            ..Function::default()
        }
    }

    fn insts(f: &Function) -> Vec<Inst> {
        f.insts.iter().map(|(i, _)| i.clone()).collect()
    }

    fn alu(op: Alu, dst: u32, a: u32, b: Operand) -> Inst {
        Inst::Alu {
            op,
            dst: VReg(dst),
            a: VReg(a),
            b,
        }
    }

    #[test]
    fn a_register_holding_one_constant_is_read_as_an_immediate() {
        let f = function(vec![
            Inst::Const(VReg(0), 65536),
            Inst::Load {
                dst: VReg(1),
                addr: crate::ir::Addr::Slot(crate::ir::Slot(0), 0),
                size: crate::insn::Size::DW,
                signed: false,
            },
            Inst::Branch {
                cond: Cond::Lt,
                a: VReg(1),
                b: Operand::Reg(VReg(0)),
                then: Label(0),
            },
            Inst::Label(Label(0)),
            Inst::Return(Operand::Reg(VReg(0))),
        ]);
        let out = insts(&folded(&f));
        assert!(matches!(
            out[2],
            Inst::Branch {
                b: Operand::Imm(65536),
                ..
            }
        ));
        assert_eq!(out[4], Inst::Return(Operand::Imm(65536)));
    }

    #[test]
    fn constants_too_wide_or_defined_twice_stay_registers() {
        let f = function(vec![
            Inst::Const(VReg(0), 1 << 32),
            Inst::Const(VReg(1), 1),
            Inst::Const(VReg(1), 2),
            alu(Alu::Add, 2, 1, Operand::Reg(VReg(0))),
            alu(Alu::Add, 3, 2, Operand::Reg(VReg(1))),
            Inst::Return(Operand::Reg(VReg(3))),
        ]);
        assert_eq!(insts(&folded(&f)), insts(&f));
    }

    #[test]
    fn arithmetic_on_constants_and_identities_fold() {
        let f = function(vec![
            Inst::Const(VReg(0), 6),
            alu(Alu::Mul, 1, 0, Operand::Imm(7)),
            alu(Alu::Sub, 2, 9, Operand::Imm(0)),
            alu(Alu::And, 3, 9, Operand::Imm(0)),
            alu(Alu::Lsh, 4, 9, Operand::Imm(0)),
            alu(Alu::Add, 5, 9, Operand::Imm(-1)),
            alu(Alu::Rsh, 6, 0, Operand::Imm(1)),
        ]);
        let out = insts(&folded(&f));
        assert_eq!(out[1], Inst::Const(VReg(1), 42));
        assert_eq!(out[2], Inst::Mov(VReg(2), VReg(9)));
        assert_eq!(out[3], Inst::Const(VReg(3), 0));
        assert_eq!(out[4], Inst::Mov(VReg(4), VReg(9)));
        assert_eq!(out[5], alu(Alu::Add, 5, 9, Operand::Imm(-1)));
        assert_eq!(out[6], Inst::Const(VReg(6), 3));
    }

    #[test]
    fn a_folded_constant_folds_what_reads_it() {
        // (x >> y) & 0 is 0, so z + that is z.
        let f = function(vec![
            alu(Alu::Rsh, 1, 8, Operand::Reg(VReg(9))),
            alu(Alu::And, 2, 1, Operand::Imm(0)),
            alu(Alu::Add, 3, 7, Operand::Reg(VReg(2))),
            Inst::Return(Operand::Reg(VReg(3))),
        ]);
        let out = insts(&folded(&f));
        assert_eq!(out[1], Inst::Const(VReg(2), 0));
        assert_eq!(out[2], Inst::Mov(VReg(3), VReg(7)));
    }

    #[test]
    fn a_negative_immediate_is_the_sign_extended_constant() {
        let f = function(vec![
            Inst::Const(VReg(0), u64::MAX),
            alu(Alu::Add, 1, 0, Operand::Imm(2)),
            alu(Alu::Add, 2, 9, Operand::Reg(VReg(0))),
        ]);
        let out = insts(&folded(&f));
        assert_eq!(out[1], Inst::Const(VReg(1), 1));
        assert_eq!(out[2], alu(Alu::Add, 2, 9, Operand::Imm(-1)));
    }
}

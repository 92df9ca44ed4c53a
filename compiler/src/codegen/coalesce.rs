//! Copy coalescing hints for the register allocator: where an instruction computes a value
//! from an operand that dies there (`v2 = v1 + 1`, `v2 = v1`, `v2 = -v1`, `v2 = *(v1 + 8)`),
//! the result may take the operand's register. The emitter computes a result by moving the
//! operand into the result's register first (`r7 = r6; r7 += 1`); in one register the move
//! is gone (`r6 += 1`). Each of these instructions reads its operand before it writes its
//! result, so sharing the register there is exact.

use std::collections::HashMap;

use crate::ir::{Addr, Function, Inst, VReg};

/// For a result defined at instruction `at` from `operand`: `result -> (operand, at)`.
pub fn hints(f: &Function) -> HashMap<VReg, (VReg, usize)> {
    let mut out = HashMap::new();
    for (at, (inst, _)) in f.insts.iter().enumerate() {
        let pair = match inst {
            Inst::Alu { dst, a, .. } => Some((*dst, *a)),
            Inst::Mov(d, s) | Inst::Neg(d, s) => Some((*d, *s)),
            Inst::Load {
                dst,
                addr: Addr::Ptr(base, _),
                ..
            } => Some((*dst, *base)),
            _ => None,
        };
        if let Some((result, operand)) = pair {
            if result != operand {
                out.entry(result).or_insert((operand, at));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Alu, Size};
    use crate::ir::Operand;
    use crate::span::Span;

    #[test]
    fn results_are_hinted_to_their_first_operand() {
        let insts = vec![
            Inst::Const(VReg(0), 1),
            Inst::Alu {
                op: Alu::Add,
                dst: VReg(1),
                a: VReg(0),
                b: Operand::Imm(1),
            },
            Inst::Load {
                dst: VReg(2),
                addr: Addr::Ptr(VReg(1), 8),
                size: Size::DW,
                signed: false,
            },
            Inst::Mov(VReg(3), VReg(2)),
            Inst::Load {
                dst: VReg(4),
                addr: Addr::Slot(crate::ir::Slot(0), 0),
                size: Size::DW,
                signed: false,
            },
            Inst::Return(Operand::Reg(VReg(3))),
        ];
        let f = Function {
            insts: insts.into_iter().map(|i| (i, Span::default())).collect(),
            ..Function::default()
        };
        let h = hints(&f);
        assert_eq!(h[&VReg(1)], (VReg(0), 1));
        assert_eq!(h[&VReg(2)], (VReg(1), 2));
        assert_eq!(h[&VReg(3)], (VReg(2), 3));
        assert!(
            !h.contains_key(&VReg(4)),
            "a load from a slot reads no register"
        );
        assert!(!h.contains_key(&VReg(0)));
    }
}

//! One stack slot's address computed once for the calls that read it, before
//! rematerialization: lowering computes a slot's address afresh for each helper that is given
//! it (a map key's for its lookup, its update and the helper that fills it), and `remat` then
//! computes each into its argument register, two instructions a call (`r2 = r10; r2 += -16`).
//! When three or more calls read the same address, computing it once into a register that
//! survives calls costs two instructions and a move a call (`r6 = r10; r6 += -16; r1 = r6;
//! r2 = r6; r2 = r6`). Even spilled it costs no more. The address is the same wherever it is
//! computed, so sharing the first computation is exact where that one runs before every
//! other: in the function's straight-line opening, before any branch or label.

use std::collections::HashMap;

use super::effects::defined_once;
use super::remat::read_once_by_a_call;
use crate::ir::{Function, Inst, Operand, Slot, VReg};

/// Calls reading one address before sharing it pays.
const SHARED_FROM: usize = 3;

/// `f` with the slot addresses that `SHARED_FROM` or more calls read each computed once.
pub fn slot_addresses_shared(f: &Function) -> Function {
    let opening = (f.insts.iter())
        .position(|(i, _)| {
            matches!(
                i,
                Inst::Branch { .. }
                    | Inst::Jump(_)
                    | Inst::Label(_)
                    | Inst::LoopStart
                    | Inst::Return(_)
            )
        })
        .unwrap_or(f.insts.len());
    let addresses = defined_once(&f.insts, |i| match i {
        Inst::SlotAddr(_, slot, offset) => Some((*slot, *offset)),
        _ => None,
    });
    // Each address read once, by a call: what `remat` would compute at that call.
    let once = read_once_by_a_call(f);
    let mut by_address: HashMap<(Slot, i32), Vec<(usize, VReg)>> = HashMap::new();
    for (at, (inst, _)) in f.insts.iter().enumerate() {
        if let Some(v) = inst.def() {
            if addresses.contains_key(&v) && once.contains(&v) {
                by_address.entry(addresses[&v]).or_default().push((at, v));
            }
        }
    }
    let mut shared: HashMap<VReg, VReg> = HashMap::new();
    for defs in by_address.values() {
        let (first_at, first) = defs[0];
        if defs.len() >= SHARED_FROM && first_at < opening {
            for &(_, v) in &defs[1..] {
                shared.insert(v, first);
            }
        }
    }
    if shared.is_empty() {
        return f.clone();
    }
    let mut out = f.clone();
    out.insts
        .retain(|(i, _)| !i.def().is_some_and(|d| shared.contains_key(&d)));
    for (inst, _) in &mut out.insts {
        if let Inst::Call { args, .. } = inst {
            for a in args {
                if let Operand::Reg(v) = a {
                    if let Some(&first) = shared.get(v) {
                        *v = first;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Helper;

    /// The function of these runs of instructions, each closed by nothing but the next.
    fn function(runs: &[&[Inst]]) -> Function {
        Function::of(runs.concat(), &[16])
    }

    /// `v = &slot0 + offset`, then a call given `v`.
    fn given(v: VReg, offset: i32) -> [Inst; 2] {
        [
            Inst::SlotAddr(v, Slot(0), offset),
            Inst::Call {
                helper: Helper::GetCurrentComm,
                args: vec![Operand::Reg(v), Operand::Imm(16)],
                ret: None,
            },
        ]
    }

    const LABEL: Inst = Inst::Label(crate::ir::Label(0));
    const RETURN: Inst = Inst::Return(Operand::Imm(0));

    fn addresses(f: &Function) -> usize {
        (f.insts.iter())
            .filter(|(i, _)| matches!(i, Inst::SlotAddr(..)))
            .count()
    }

    #[test]
    fn an_address_three_calls_read_is_computed_once_in_the_opening() {
        let (a, b, c) = (VReg(0), VReg(1), VReg(2));
        let f = function(&[
            &given(a, 0),
            &given(b, 0),
            &[LABEL],
            &given(c, 0),
            &[RETURN],
        ]);
        let out = slot_addresses_shared(&f);
        assert_eq!(addresses(&out), 1);
        let args: Vec<Operand> = (out.insts.iter())
            .filter_map(|(i, _)| match i {
                Inst::Call { args, .. } => Some(args[0]),
                _ => None,
            })
            .collect();
        assert_eq!(args, [Operand::Reg(a); 3]);
    }

    #[test]
    fn two_reads_an_address_after_a_branch_or_other_offsets_stay_as_they_are() {
        let (a, b, c, d) = (VReg(0), VReg(1), VReg(2), VReg(3));
        let unchanged = |f: Function| assert_eq!(slot_addresses_shared(&f).insts, f.insts);
        unchanged(function(&[&given(a, 0), &given(b, 0), &[RETURN]]));
        // The first computation after a label: not on every path to the others.
        unchanged(function(&[
            &[LABEL],
            &given(a, 0),
            &given(b, 0),
            &given(c, 0),
            &[RETURN],
        ]));
        unchanged(function(&[
            &given(a, 0),
            &given(b, 8),
            &given(c, 0),
            &given(d, 8),
            &[RETURN],
        ]));
    }
}

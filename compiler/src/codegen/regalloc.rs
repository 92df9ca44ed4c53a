//! Linear-scan register allocation. Virtual registers live across helper calls in r6-r9,
//! which survive them; a value that no call comes between its definition and its last use
//! (a map lookup's pointer, a draw's low bits) may also take r0, r4 or r5, which only a call
//! writes: a helper's result then stays where the helper left it, with no move. When every
//! register a value may take is in use, the interval that ends last is spilled to an 8-byte
//! stack slot (reused once that interval has ended). r1-r3 stay free for the emitter's
//! scratch, and the function's arguments are read from r1-r5 before anything else, so they
//! take r6-r9 (the emitter may call a helper right after reading them). A result takes the
//! register of an operand that dies where it is computed (`coalesce`).

use std::collections::HashMap;

use super::coalesce;
use crate::insn::Reg;
use crate::ir::{Function, Inst, VReg};

/// Where a virtual register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Reg(Reg),
    /// The n-th spill slot.
    Spill(u32),
}

pub struct Allocation {
    pub locations: HashMap<VReg, Location>,
    pub spill_slots: u32,
}

const ALLOCATABLE: [Reg; 4] = [Reg::R6, Reg::R7, Reg::R8, Reg::R9];
/// What a call overwrites and the emitter leaves alone: for values no call comes between.
const BETWEEN_CALLS: [Reg; 3] = [Reg::R0, Reg::R4, Reg::R5];

#[derive(Clone, Copy, Debug)]
struct Interval {
    vreg: VReg,
    start: usize,
    end: usize,
    /// Whether the value must survive a call (one after its definition, up to and including
    /// its last use: a call's arguments are moved into r1-r5 one by one) or is an argument.
    across_calls: bool,
}

/// Allocates every virtual register but those `emit` computes where they are read
/// (`remat`), which need none.
pub fn allocate(f: &Function, remat: &HashMap<VReg, Inst>) -> Allocation {
    allocate_with(f, &ALLOCATABLE, &BETWEEN_CALLS, remat)
}

fn allocate_with(
    f: &Function,
    registers: &[Reg],
    between_calls: &[Reg],
    remat: &HashMap<VReg, Inst>,
) -> Allocation {
    let mut intervals = live_intervals(f);
    intervals.retain(|i| !remat.contains_key(&i.vreg));
    let hints = coalesce::hints(f);
    intervals.sort_by_key(|i| (i.start, i.vreg));
    let call_results: std::collections::HashSet<VReg> = f
        .insts
        .iter()
        .filter_map(|(i, _)| match i {
            Inst::Call { ret, .. } => *ret,
            _ => None,
        })
        .collect();
    let mut locations = HashMap::new();
    let mut free: Vec<Reg> = registers.iter().rev().copied().collect();
    let mut free_between: Vec<Reg> = between_calls.iter().rev().copied().collect();
    let fits = |r: Reg, i: &Interval| !i.across_calls || registers.contains(&r);
    let mut active: Vec<Interval> = Vec::new();
    // The last instruction each spill slot's values live to: a slot is reused by an
    // interval that starts after that, so long programs need no more slots than values
    // spilled at once. (A spilled victim lives in its slot from its own start, which may
    // be long before the current interval's.)
    let mut slot_ends: Vec<usize> = Vec::new();
    let mut spill_to = |interval: Interval| -> u32 {
        match slot_ends.iter().position(|&end| end < interval.start) {
            Some(i) => {
                slot_ends[i] = interval.end;
                i as u32
            }
            None => {
                slot_ends.push(interval.end);
                slot_ends.len() as u32 - 1
            }
        }
    };
    for current in intervals {
        // Intervals are inclusive: one that ends where this one starts is still live, so a
        // result never shares a register with an operand of the same instruction.
        active.retain(|a| {
            if a.end < current.start {
                if let Some(Location::Reg(r)) = locations.get(&a.vreg) {
                    if registers.contains(r) {
                        free.push(*r);
                    } else {
                        free_between.push(*r);
                    }
                }
                false
            } else {
                true
            }
        });
        // A result takes the register of the operand that dies where it is computed.
        let shared = hints.get(&current.vreg).and_then(|&(operand, at)| {
            let i = active
                .iter()
                .position(|a| a.vreg == operand && a.end == at && current.start == at)?;
            match locations.get(&operand) {
                Some(Location::Reg(r)) if fits(*r, &current) => Some((i, *r)),
                _ => None,
            }
        });
        if let Some((i, reg)) = shared {
            active.remove(i);
            locations.insert(current.vreg, Location::Reg(reg));
            active.push(current);
            continue;
        }
        // A helper's result takes r0 when it can, where the helper left it.
        let between = if current.across_calls {
            None
        } else if let Some(at) = (call_results.contains(&current.vreg))
            .then(|| free_between.iter().position(|&r| r == Reg::R0))
            .flatten()
        {
            Some(free_between.remove(at))
        } else {
            free_between.pop()
        };
        if let Some(reg) = between.or_else(|| free.pop()) {
            locations.insert(current.vreg, Location::Reg(reg));
            active.push(current);
            continue;
        }
        // Spill whichever of the active intervals (in a register this one may take) and this
        // one ends last.
        let victim = active
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(locations.get(&a.vreg), Some(Location::Reg(r)) if fits(*r, &current)))
            .max_by_key(|(_, a)| a.end)
            .map(|(i, a)| (i, *a));
        if let Some((victim_index, victim)) = victim.filter(|(_, v)| v.end > current.end) {
            let reg = locations[&victim.vreg];
            locations.insert(victim.vreg, Location::Spill(spill_to(victim)));
            locations.insert(current.vreg, reg);
            active.remove(victim_index);
            active.push(current);
        } else {
            locations.insert(current.vreg, Location::Spill(spill_to(current)));
        }
    }
    let spill_slots = slot_ends.len() as u32;
    Allocation {
        locations,
        spill_slots,
    }
}

/// First definition to last use of every register, stretched over whole loops for registers
/// defined before a loop and used inside it (their value must survive every iteration).
fn live_intervals(f: &Function) -> Vec<Interval> {
    let mut range: HashMap<VReg, (usize, usize)> = HashMap::new();
    let mut loops = Vec::new();
    let mut open = Vec::new();
    for (i, (inst, _)) in f.insts.iter().enumerate() {
        match inst {
            Inst::LoopStart => open.push(i),
            Inst::LoopEnd => {
                if let Some(start) = open.pop() {
                    loops.push((start, i));
                }
            }
            _ => {}
        }
        for v in inst.uses().into_iter().chain(inst.def()) {
            let e = range.entry(v).or_insert((i, i));
            e.0 = e.0.min(i);
            e.1 = e.1.max(i);
        }
    }
    // Inner loops first, so that stretching for an inner loop is seen by the outer one.
    loops.sort_by_key(|(s, e)| e - s);
    for &(start, end) in &loops {
        for r in range.values_mut() {
            if r.0 < start && r.1 > start && r.1 < end {
                r.1 = end;
            }
        }
    }
    let calls: Vec<usize> = f
        .insts
        .iter()
        .enumerate()
        .filter(|(_, (i, _))| matches!(i, Inst::Call { .. }))
        .map(|(at, _)| at)
        .collect();
    let last_argument = f
        .insts
        .iter()
        .rposition(|(i, _)| matches!(i, Inst::Arg(..)));
    range
        .into_iter()
        .map(|(vreg, (start, end))| Interval {
            vreg,
            start,
            end,
            across_calls: last_argument.is_some_and(|a| start <= a)
                || calls.iter().any(|&c| c > start && c <= end),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Operand;

    fn function(insts: Vec<Inst>) -> Function {
        Function::of(insts, &[])
    }

    #[test]
    fn spill_slots_are_reused_after_a_spilled_value_dies() {
        // Twice: two values live at once with one register; the second pair reuses the
        // first pair's spill slot.
        let insts = vec![
            Inst::Const(VReg(0), 1),
            Inst::Const(VReg(1), 2),
            Inst::Return(Operand::Reg(VReg(1))),
            Inst::Return(Operand::Reg(VReg(0))),
            Inst::Const(VReg(2), 3),
            Inst::Const(VReg(3), 4),
            Inst::Return(Operand::Reg(VReg(3))),
            Inst::Return(Operand::Reg(VReg(2))),
        ];
        let a = allocate_with(&function(insts), &[Reg::R6], &[], &HashMap::new());
        assert_eq!(a.spill_slots, 1);
    }

    #[test]
    fn a_spilled_victim_never_shares_a_slot_with_a_value_it_overlaps() {
        // Two registers. v2 is spilled at once (v0 and v1 hold both, ending sooner) and lives
        // to 7; v3 starts at 5 in a register and is evicted at 8 for v5, so it lives in a
        // slot from 5: it cannot take v2's, although v2 has ended by 8.
        let r = |v| Operand::Reg(VReg(v));
        let insts = vec![
            Inst::Const(VReg(0), 0),
            Inst::Const(VReg(1), 1),
            Inst::Const(VReg(2), 2),
            Inst::Return(r(0)),
            Inst::Return(r(1)),
            Inst::Const(VReg(3), 3),
            Inst::Const(VReg(4), 4),
            Inst::Return(r(2)),
            Inst::Const(VReg(5), 5),
            Inst::Return(r(5)),
            Inst::Return(r(4)),
            Inst::Return(r(3)),
        ];
        let a = allocate_with(&function(insts), &[Reg::R6, Reg::R7], &[], &HashMap::new());
        let (v2, v3) = (a.locations[&VReg(2)], a.locations[&VReg(3)]);
        assert!(matches!(v2, Location::Spill(_)), "{v2:?}");
        assert!(matches!(v3, Location::Spill(_)), "{v3:?}");
        assert_ne!(v2, v3);
    }

    #[test]
    fn overlapping_values_get_distinct_registers_and_excess_spills() {
        // Six values all alive at the end: four registers, two spills.
        let mut insts: Vec<Inst> = (0..6).map(|i| Inst::Const(VReg(i), i as u64)).collect();
        for i in 0..6 {
            insts.push(Inst::Return(Operand::Reg(VReg(i))));
        }
        let a = allocate_with(&function(insts), &ALLOCATABLE, &[], &HashMap::new());
        assert_eq!(a.spill_slots, 2);
        let regs: Vec<_> = a
            .locations
            .values()
            .filter(|l| matches!(l, Location::Reg(_)))
            .collect();
        assert_eq!(regs.len(), 4);
        let mut unique = regs.clone();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn registers_are_reused_after_a_value_dies() {
        let insts = vec![
            Inst::Const(VReg(0), 1),
            Inst::Return(Operand::Reg(VReg(0))),
            Inst::Const(VReg(1), 2),
            Inst::Return(Operand::Reg(VReg(1))),
        ];
        let a = allocate_with(&function(insts), &[Reg::R6], &[], &HashMap::new());
        assert_eq!(a.spill_slots, 0);
        assert_eq!(a.locations[&VReg(0)], a.locations[&VReg(1)]);
    }

    #[test]
    fn values_used_in_a_loop_live_through_it() {
        let insts = vec![
            Inst::Const(VReg(0), 1),
            Inst::LoopStart,
            Inst::Return(Operand::Reg(VReg(0))),
            Inst::Const(VReg(1), 2),
            Inst::Return(Operand::Reg(VReg(1))),
            Inst::LoopEnd,
        ];
        // With one register, v0 overlaps v1 only because it lives through the loop; it ends
        // last, so it is the one spilled.
        let a = allocate_with(&function(insts), &[Reg::R6], &[], &HashMap::new());
        assert_eq!(a.spill_slots, 1);
        assert_eq!(a.locations[&VReg(0)], Location::Spill(0));
        assert_eq!(a.locations[&VReg(1)], Location::Reg(Reg::R6));
    }

    #[test]
    fn a_value_no_call_comes_between_stays_where_a_call_left_it() {
        let call = |ret| Inst::Call {
            helper: crate::insn::Helper::GetPrandomU32,
            args: vec![],
            ret: Some(VReg(ret)),
        };
        let insts = vec![
            Inst::Arg(VReg(0), 0),
            call(1),
            Inst::Alu {
                op: crate::insn::Alu::And,
                dst: VReg(2),
                a: VReg(1),
                b: Operand::Imm(1),
            },
            // v0 lives across this call, v2 does not.
            call(3),
            Inst::Return(Operand::Reg(VReg(0))),
            Inst::Return(Operand::Reg(VReg(2))),
        ];
        let f = function(insts);
        let a = allocate(&f, &HashMap::new());
        assert_eq!(a.locations[&VReg(0)], Location::Reg(Reg::R6), "an argument");
        assert_eq!(a.locations[&VReg(1)], Location::Reg(Reg::R0));
        assert!(matches!(a.locations[&VReg(2)], Location::Reg(r) if ALLOCATABLE.contains(&r)));
    }

    #[test]
    fn a_later_call_result_takes_r0_again_once_it_is_free() {
        let call = |ret| Inst::Call {
            helper: crate::insn::Helper::GetPrandomU32,
            args: vec![],
            ret: Some(VReg(ret)),
        };
        let load = |dst, from| Inst::Load {
            dst: VReg(dst),
            addr: crate::ir::Addr::Ptr(VReg(from), 0),
            size: crate::insn::Size::DW,
            signed: false,
        };
        let insts = vec![
            call(1),
            // v2 takes another register between calls while v1 is still live; both end.
            load(2, 1),
            Inst::Return(Operand::Reg(VReg(2))),
            call(3),
            Inst::Return(Operand::Reg(VReg(3))),
        ];
        let a = allocate(&function(insts), &HashMap::new());
        assert_eq!(a.locations[&VReg(1)], Location::Reg(Reg::R0));
        assert_eq!(a.locations[&VReg(3)], Location::Reg(Reg::R0));
    }
}

//! The counting program, assembled by hand: a gate, the key (attach point cookie, process),
//! a per-CPU total and a per-CPU count per key.

use tracebound_compiler::insn::{Alu, Helper, Insn, Reg, Size};

use crate::estimate::assembler::{map_fd, Assembler};

/// The counting program. Key on the stack at fp-8: (cookie as u32, tgid as u32).
///
/// ```text
/// if (!gate[0]) return 0;          // counting starts when every link is in place
/// key.point = bpf_get_attach_cookie(ctx); key.pid = bpf_get_current_pid_tgid() >> 32;
/// total[0] += 1;
/// if (v = pairs[key]) *v += 1; else pairs[key] = 1;
/// return 0;
/// ```
pub fn program(gate_fd: i32, pairs_fd: i32, total_fd: i32) -> Vec<Insn> {
    let mut p = Assembler::<Label>::default();
    p.op(Insn::mov64_reg(Reg::R6, Reg::R1));
    // if (!gate[0]) return 0
    p.op(Insn::store_imm(Size::W, Reg::FP, -12, 0));
    p.lookup(gate_fd, -12);
    p.jump_if_zero(Reg::R0, Label::Out);
    p.op(Insn::load(Size::W, Reg::R1, Reg::R0, 0));
    p.jump_if_zero(Reg::R1, Label::Out);
    // the key
    p.op(Insn::mov64_reg(Reg::R1, Reg::R6));
    p.op(Insn::call(Helper::GetAttachCookie));
    p.op(Insn::store(Size::W, Reg::FP, -8, Reg::R0));
    p.op(Insn::call(Helper::GetCurrentPidTgid));
    p.op(Insn::alu64_imm(Alu::Rsh, Reg::R0, 32));
    p.op(Insn::store(Size::W, Reg::FP, -4, Reg::R0));
    // total[0] += 1 (fp-12 still holds index 0)
    p.lookup(total_fd, -12);
    p.jump_if_zero(Reg::R0, Label::Pairs);
    p.increment_at_r0();
    // pairs[key] += 1, or inserted as 1
    p.label(Label::Pairs);
    p.lookup(pairs_fd, -8);
    p.jump_if_zero(Reg::R0, Label::Insert);
    p.increment_at_r0();
    p.jump(Label::Out);
    p.label(Label::Insert);
    p.op(Insn::store_imm(Size::DW, Reg::FP, -24, 1));
    p.ops(map_fd(Reg::R1, pairs_fd));
    p.op(Insn::mov64_reg(Reg::R2, Reg::FP));
    p.op(Insn::alu64_imm(Alu::Add, Reg::R2, -8));
    p.op(Insn::mov64_reg(Reg::R3, Reg::FP));
    p.op(Insn::alu64_imm(Alu::Add, Reg::R3, -24));
    p.op(Insn::mov64_imm(Reg::R4, 0));
    p.op(Insn::call(Helper::MapUpdateElem));
    p.label(Label::Out);
    p.op(Insn::mov64_imm(Reg::R0, 0));
    p.op(Insn::exit());
    p.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Pairs,
    Insert,
    Out,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counting_program_jumps_land_on_instructions() {
        crate::estimate::assembler::assert_jumps_land(&program(3, 4, 5));
    }
}

//! The counting program, assembled by hand: a gate, the key (attach point cookie, process),
//! a per-CPU total and a per-CPU count per key.

use tracebound_compiler::insn::{Alu, Cond, Helper, Insn, Reg, Size};

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
    let mut p = Assembler::default();
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

fn map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
    let mut ld = Insn::ld_map(dst);
    ld[0].imm = fd;
    ld
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Pairs,
    Insert,
    Out,
}

/// Instructions with forward jumps to labels, resolved at the end.
#[derive(Default)]
struct Assembler {
    insns: Vec<Insn>,
    labels: Vec<(Label, usize)>,
    /// (instruction index, label) of each jump to fix.
    jumps: Vec<(usize, Label)>,
}

impl Assembler {
    fn op(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    fn ops(&mut self, insns: [Insn; 2]) {
        self.insns.extend(insns);
    }

    fn label(&mut self, label: Label) {
        self.labels.push((label, self.insns.len()));
    }

    fn jump_if_zero(&mut self, reg: Reg, to: Label) {
        self.jumps.push((self.insns.len(), to));
        self.op(Insn::jmp_imm(Cond::Eq, reg, 0, 0));
    }

    fn jump(&mut self, to: Label) {
        self.jumps.push((self.insns.len(), to));
        self.op(Insn::ja(0));
    }

    /// `r0 = map[*(fp + key_at)]`
    fn lookup(&mut self, fd: i32, key_at: i32) {
        self.ops(map_fd(Reg::R1, fd));
        self.op(Insn::mov64_reg(Reg::R2, Reg::FP));
        self.op(Insn::alu64_imm(Alu::Add, Reg::R2, key_at));
        self.op(Insn::call(Helper::MapLookupElem));
    }

    /// `*(u64 *)r0 += 1`
    fn increment_at_r0(&mut self) {
        self.op(Insn::load(Size::DW, Reg::R1, Reg::R0, 0));
        self.op(Insn::alu64_imm(Alu::Add, Reg::R1, 1));
        self.op(Insn::store(Size::DW, Reg::R0, 0, Reg::R1));
    }

    fn finish(mut self) -> Vec<Insn> {
        for &(at, to) in &self.jumps {
            let target = self
                .labels
                .iter()
                .find(|(l, _)| *l == to)
                .map(|&(_, i)| i)
                .expect("every label is placed");
            self.insns[at].off = (target as i64 - at as i64 - 1) as i16;
        }
        self.insns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counting_program_jumps_land_on_instructions() {
        let p = program(3, 4, 5);
        // Every jump's target is inside the program and not the second half of an ld_imm64.
        let mut second_halves = Vec::new();
        for (i, insn) in p.iter().enumerate() {
            if insn.is_wide() {
                second_halves.push(i + 1);
            }
        }
        for (i, insn) in p.iter().enumerate() {
            if insn.is_jump() {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!(to >= 0 && (to as usize) < p.len(), "jump at {i} to {to}");
                assert!(
                    !second_halves.contains(&(to as usize)),
                    "jump at {i} to {to}"
                );
            }
        }
    }
}

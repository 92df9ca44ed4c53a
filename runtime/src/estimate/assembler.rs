//! A few dozen BPF instructions written by hand, with forward jumps to labels resolved at the
//! end: how the estimate's counting programs are built (aya 0.14 can load neither of them).

use tracebound_compiler::insn::{Alu, Cond, Helper, Insn, Reg, Size};

/// Instructions with forward jumps to labels of type `L`, resolved by [`Assembler::finish`].
pub struct Assembler<L> {
    insns: Vec<Insn>,
    labels: Vec<(L, usize)>,
    /// (instruction index, label) of each jump to fix.
    jumps: Vec<(usize, L)>,
}

impl<L> Default for Assembler<L> {
    fn default() -> Self {
        Assembler {
            insns: Vec::new(),
            labels: Vec::new(),
            jumps: Vec::new(),
        }
    }
}

/// `dst = map` for the map whose fd is `fd`.
pub fn map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
    let mut ld = Insn::ld_map(dst);
    ld[0].imm = fd;
    ld
}

impl<L: Copy + PartialEq + std::fmt::Debug> Assembler<L> {
    pub fn op(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    pub fn ops(&mut self, insns: [Insn; 2]) {
        self.insns.extend(insns);
    }

    pub fn label(&mut self, label: L) {
        self.labels.push((label, self.insns.len()));
    }

    pub fn jump_if_zero(&mut self, reg: Reg, to: L) {
        self.jump_if(Cond::Eq, reg, 0, to);
    }

    /// `if (reg COND imm) goto to`
    pub fn jump_if(&mut self, cond: Cond, reg: Reg, imm: i32, to: L) {
        self.jumps.push((self.insns.len(), to));
        self.op(Insn::jmp_imm(cond, reg, imm, 0));
    }

    pub fn jump(&mut self, to: L) {
        self.jumps.push((self.insns.len(), to));
        self.op(Insn::ja(0));
    }

    /// `r0 = map[*(fp + key_at)]`
    pub fn lookup(&mut self, fd: i32, key_at: i32) {
        self.ops(map_fd(Reg::R1, fd));
        self.op(Insn::mov64_reg(Reg::R2, Reg::FP));
        self.op(Insn::alu64_imm(Alu::Add, Reg::R2, key_at));
        self.op(Insn::call(Helper::MapLookupElem));
    }

    /// `*(u64 *)r0 += 1`
    pub fn increment_at_r0(&mut self) {
        self.op(Insn::load(Size::DW, Reg::R1, Reg::R0, 0));
        self.op(Insn::alu64_imm(Alu::Add, Reg::R1, 1));
        self.op(Insn::store(Size::DW, Reg::R0, 0, Reg::R1));
    }

    pub fn finish(mut self) -> Vec<Insn> {
        for &(at, to) in &self.jumps {
            let target = self
                .labels
                .iter()
                .find(|(l, _)| *l == to)
                .map(|&(_, i)| i)
                .unwrap_or_else(|| panic!("label {to:?} is never placed"));
            self.insns[at].off = (target as i64 - at as i64 - 1) as i16;
        }
        self.insns
    }
}

/// Every jump of `program` lands inside it, and never on the second half of an `ld_imm64`.
#[cfg(test)]
pub fn assert_jumps_land(program: &[Insn]) {
    let second_halves: Vec<usize> = program
        .iter()
        .enumerate()
        .filter(|(_, insn)| insn.is_wide())
        .map(|(i, _)| i + 1)
        .collect();
    for (i, insn) in program.iter().enumerate() {
        if insn.is_jump() {
            let to = i as i64 + 1 + i64::from(insn.off);
            assert!(
                to >= 0 && (to as usize) < program.len(),
                "jump at {i} to {to}"
            );
            assert!(
                !second_halves.contains(&(to as usize)),
                "jump at {i} to {to}"
            );
        }
    }
}

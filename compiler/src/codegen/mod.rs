//! Code generation: the BPF instruction set (`insn`), and (to come) IR to instructions with a
//! register allocator and an instruction→span table.

pub mod insn;

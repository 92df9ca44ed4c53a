//! Code generation: IR functions to BPF instructions (the instruction set is `crate::insn`).
//! `regalloc` assigns virtual registers to machine registers or spill slots, `emit` writes the
//! instructions with the instruction→span table, `program` fits a probe's function and its
//! callbacks into one call chain's stack.

pub mod emit;
pub mod program;
pub mod regalloc;

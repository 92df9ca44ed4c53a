//! Code generation: IR functions to BPF instructions (the instruction set is `crate::insn`).
//! `dead_values` drops IR instructions whose results nothing reads, `remat` picks the values computed where a call reads them, `regalloc` assigns the other
//! virtual registers to machine registers or spill slots, `emit` writes the
//! instructions with the instruction→span table, `program` fits a probe's function and its
//! callbacks into one call chain's stack.

mod coalesce;
mod dead_values;
pub mod emit;
pub mod program;
pub mod regalloc;
mod remat;

#[cfg(test)]
mod instruction_counts;

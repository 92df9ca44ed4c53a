//! Code generation: IR functions to BPF instructions (the instruction set is `crate::insn`).
//! `emit` runs the IR passes first, each a function from an IR function to a smaller one:
//! `fold` (constants), `forward` (a load of what was just stored), `dead_stores` (stores
//! overwritten or never read), `dead_values` (results nothing reads), which share `effects` (what an instruction does
//! besides its registers), and `slot_addresses` (a stack slot's address computed once for
//! the calls that read it). Then `remat` picks the values computed where a call reads them,
//! `regalloc` assigns the other virtual registers to machine registers or spill slots (a
//! result sharing the register of an operand that dies there, `coalesce`), `emit` writes the
//! instructions with the instruction→span table, and `program` fits a probe's function and
//! its callbacks into one call chain's stack. `instruction_counts` (a test) holds the code
//! size of the per-event benchmark's scripts to what the passes reach.

mod coalesce;
mod dead_stores;
mod dead_values;
mod effects;
pub mod emit;
mod fold;
mod forward;
pub mod program;
pub mod regalloc;
mod remat;
mod slot_addresses;

#[cfg(test)]
mod instruction_counts;

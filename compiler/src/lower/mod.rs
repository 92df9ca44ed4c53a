//! Lowering: the checked tree to the IR, one function per probe, plus the `ProgramInfo` the
//! runtime needs (maps, ring-buffer actions).

pub mod ir;

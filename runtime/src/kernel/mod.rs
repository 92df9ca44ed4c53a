//! Interfaces to the kernel: the bpf() syscall's map and test-run commands (`sys`), map
//! snapshots for printing (`snapshot`), tracefs (`tracefs`, mounted when missing), what this
//! kernel can attach (`capability`), and a reader of its BTF (`btf`).

pub mod btf;
pub mod capability;
pub mod snapshot;
pub mod sys;
pub mod tracefs;

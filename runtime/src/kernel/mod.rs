//! Interfaces to the kernel: the bpf() syscall's map and test-run commands (`sys`), tracefs
//! (`tracefs`, mounted when missing) and a reader of its BTF (`btf`). The lowest layer of the
//! runtime: it imports nothing else of it.

pub mod btf;
pub mod sys;
pub mod tracefs;

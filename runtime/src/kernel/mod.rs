//! Interfaces to the kernel: the bpf() syscall's map and test-run commands (`sys`), tracefs
//! (`tracefs`, mounted when missing), counting perf events (`perf_counter`), the ring buffer's batched reader (`ring`) and a reader of its BTF (`btf`). The lowest layer of the
//! runtime: it imports nothing else of it.

pub mod btf;
pub mod perf_counter;
pub mod ring;
pub mod sys;
pub mod tracefs;

//! tracebound's compiler: script text in; diagnostics, a checked program and (later) a BPF
//! object out. It is pure: it never makes a syscall. What it needs to know about the machine
//! comes through a trait, so `--check` runs without root and tests use fixtures.

pub mod diagnostic;
pub mod lex;
pub mod span;

pub use diagnostic::{Diagnostic, Severity};
pub use span::Span;

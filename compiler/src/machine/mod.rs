//! What the compiler knows of the machine, and the pure matching over it: the `MachineFacts`
//! trait through which every fact arrives (tracepoint formats, BTF types, ELF symbols, usdt
//! sites), the parsed tracepoint format, C type names resolved against BTF (`ctype`), and the
//! name matching that expands attach points (`glob`, `expand`, `demangle`). It sits below
//! `probe`, `check` and `resolve`, which all read it, and imports none of them.

pub mod ctype;
pub mod demangle;
pub mod expand;
pub mod facts;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixture;
pub mod glob;
pub mod header_macros;
pub mod print_flags;
pub mod script_types;
pub mod tracepoint_format;

//! Resolution: expands attach points into the concrete probes they name (wildcards matched
//! against what the machine has) and types what each probe exposes from machine facts
//! (tracepoint formats, BTF types, ELF symbols). Every fact comes
//! through the `facts::MachineFacts` trait, so this stays pure: the runtime supplies the live
//! implementation, tests supply `fixture::FixtureFacts`.

pub mod ctype;
pub mod demangle;
pub mod expand;
pub mod facts;
pub mod fixture;
pub mod glob;
pub mod kernel_types;
pub mod probes;
pub mod symbols;
pub mod tracepoint_format;
pub mod usdt_arg;

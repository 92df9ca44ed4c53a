//! Resolution: expands attach points into the concrete probes they name (wildcards matched
//! against what the machine has) and types what each probe exposes from machine facts
//! (tracepoint formats now; BTF, ELF symbols and kernel features later). Every fact comes
//! through the `facts::MachineFacts` trait, so this stays pure: the runtime supplies the live
//! implementation, tests supply `fixture::FixtureFacts`.

pub mod expand;
pub mod facts;
pub mod fixture;
pub mod glob;
pub mod probes;
pub mod symbols;
pub mod tracepoint_format;

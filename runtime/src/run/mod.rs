//! The run once everything is attached: the session (BEGIN, the event loop, the ways a run
//! ends, END, printing the maps), each ring-buffer record (`events`), the overhead guard
//! (`guard`), the `-c` child (`child`) and stack/address symbolization (`symbols`).

pub mod child;
pub mod error;
pub mod events;
pub mod guard;
pub mod session;
pub mod symbols;

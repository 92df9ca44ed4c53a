//! tracebound's runtime: everything that touches the kernel — the live machine-facts provider,
//! loading with aya, rate estimation and calibration, attaching, the ring-buffer event loop,
//! the overhead guard, symbolization and output.

pub mod attach;
pub mod binary;
pub mod btf;
pub mod calibrate;
pub mod capability;
pub mod child;
pub mod estimate;
pub mod events;
pub mod facts;
pub mod guard;
pub mod list;
pub mod load;
pub mod mapped;
pub mod output;
pub mod session;
pub mod snapshot;
pub mod symbols;
pub mod sys;
pub mod tracefs;
pub mod usdt;
pub mod verifier;
pub mod x86;

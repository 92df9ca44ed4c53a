//! tracebound's runtime: everything that touches the kernel — the live machine-facts provider,
//! loading with aya, rate estimation and calibration, attaching, the ring-buffer event loop,
//! the overhead guard, symbolization and output. Not built yet; the compiler and `--check`
//! stand on their own until it is.

pub mod facts;
pub mod load;
pub mod tracefs;

//! tracebound's runtime: everything that touches the kernel — the live machine-facts provider,
//! loading with aya, rate estimation and calibration, attaching, the ring-buffer event loop,
//! the overhead guard, symbolization and output.

pub mod load;
pub mod tracefs;

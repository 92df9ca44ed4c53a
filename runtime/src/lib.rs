//! tracebound's runtime: everything that touches the kernel, grouped by what each part is.
//!
//! - `kernel`: interfaces to the kernel (bpf() map commands, tracefs, counting perf events,
//!   BTF).
//! - `facts`: the compiler's `MachineFacts` answered from this machine (tracefs formats, BTF,
//!   the ELF files uprobes name).
//! - `cost`: what one hit of a probe costs on this machine (`CostModel`, calibrated).
//! - `probes`: loading programs and attaching them (uprobes, usdt, tracepoints, ...).
//! - `estimate`: each probe's rate and cost before attaching, the budget, calibration.
//! - `run`: the run, one entry point (`run::run`): prepare (compile, load), the verdict
//!   (estimate, budget, `--auto-filter`), the session (attach, events, guard, output).
//! - `output`: pure formatting of what the kernel recorded, as bpftrace prints it.
//! - `list`: the `-l` command.
//! - `info`: the `--info` command: what this build and kernel support.

pub mod cost;
pub mod estimate;
pub mod facts;
pub mod info;
pub mod kernel;
pub mod list;
pub mod output;
pub mod probes;
pub mod run;

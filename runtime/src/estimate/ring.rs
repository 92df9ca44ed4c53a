//! The ring buffer's size from the estimate: room for `HELD` of the records the probes are
//! projected to send at their measured rates, so that a reader held up that long (a busy
//! machine, a slow output) drops nothing. The default (`perf_rb_pages`' 256 pages) is the
//! least; `perf_rb_pages` given in the script or the environment wins over both.

use std::time::Duration;

use tracebound_compiler::insn::Helper;
use tracebound_compiler::ir::{Function, Inst, Operand};
use tracebound_compiler::pipeline::Compiled;

use super::Estimate;

/// How long the buffer holds the projected stream of records.
pub const HELD: Duration = Duration::from_millis(100);
/// The most pages the estimate asks for (64 MiB).
pub const MOST_PAGES: u32 = 16_384;
const PAGE: f64 = 4096.0;
/// The kernel's header before each record.
const RECORD_HEADER: u64 = 8;

/// The pages (a power of two) that hold `HELD` of the records `compiled` is projected to
/// send at the rates of `estimate`, at least 1 and at most `MOST_PAGES`.
pub fn pages_for(estimate: &Estimate, compiled: &Compiled) -> u32 {
    let bytes_per_s: f64 = estimate
        .probes
        .iter()
        .map(|p| p.rate() * bytes_per_hit(compiled, p.probe_index))
        .sum();
    let pages = (bytes_per_s * HELD.as_secs_f64() / PAGE).ceil().max(1.0);
    let pages = (pages.min(f64::from(MOST_PAGES)) as u32).next_power_of_two();
    pages.min(MOST_PAGES)
}

/// The ring-buffer bytes one hit of the script's probe `probe_index` sends: every record
/// its program reserves (a dispatched program's divided among its members, but at least its
/// largest record), the most of its programs'.
fn bytes_per_hit(compiled: &Compiled, probe_index: usize) -> f64 {
    compiled
        .probes
        .iter()
        .filter(|p| p.probe_index == probe_index)
        .map(|p| {
            let sizes = reserved(&p.ir);
            let members = if p.dispatch.is_some() {
                p.targets.len().max(1) as u64
            } else {
                1
            };
            let largest = sizes.iter().copied().max().unwrap_or(0);
            (sizes.iter().sum::<u64>() / members).max(largest) as f64
        })
        .fold(0.0, f64::max)
}

/// The size of each record `f` (and its callbacks) reserves, header included.
fn reserved(f: &Function) -> Vec<u64> {
    let mut sizes: Vec<u64> = f
        .insts
        .iter()
        .filter_map(|(inst, _)| match inst {
            Inst::Call {
                helper: Helper::RingbufReserve,
                args,
                ..
            } => match args.get(1) {
                Some(Operand::Imm(size)) => {
                    Some((*size as u64 + RECORD_HEADER).next_multiple_of(8))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    for callback in &f.callbacks {
        sizes.extend(reserved(callback));
    }
    sizes
}

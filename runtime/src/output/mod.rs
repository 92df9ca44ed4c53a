//! Output: turning the bytes the kernel side produced (map entries, ring-buffer records) into
//! exactly the text the current bpftrace release prints (where it differs from 0.17's, the
//! difference is one entry of `since_0_17::DIFFERENCES`), or its `-f json` lines. Pure: no kernel access, no
//! I/O; every function appends bytes to a `Vec<u8>` (byte-for-byte, since strings from the
//! kernel need not be UTF-8) or returns an error value for malformed input.
//!
//! The path of a map from the kernel to the screen:
//! `value` (decode keys and slots) → `aggregate` (merge per-CPU slots) → `map` (group
//! histogram buckets by key, skip absent entries) → `sort` (bpftrace's printing order) →
//! `text` / `json` / `folded` (stack-keyed maps as flame graph input; `flamegraph` draws the
//! SVG) / `percentiles` (histograms as percentile tables), chosen per map by `render`;
//! `entry` holds the map as printed (`MapData`, `Entry`) that they share.
//! `printf` (bpftrace's format splitting) and `cformat` (C printf semantics for each piece)
//! serve `printf` records; `buckets` holds the histogram ranges and labels;
//! `formatted` renders `strftime`, `ntop`, `macaddr` and `buf` values (timestamps read the
//! clocks for the wall-clock offset, the one exception to purity).
//!
//! The bpftrace behaviours reproduced here were found by running bpftrace 0.17 (see the
//! golden tests and `testdata/`), not by reading its source.

pub mod aggregate;
pub mod bench;
pub mod buckets;
pub mod cformat;
pub mod cgroup_path;
pub mod entry;
pub mod flamegraph;
pub mod folded;
pub mod formatted;
pub mod json;
pub mod map;
pub mod names;
pub mod openmetrics;
pub mod percentiles;
pub mod printf;
pub mod render;
pub mod since_0_17;
pub mod sort;
pub mod text;
pub mod tseries;
pub mod value;

#[cfg(test)]
mod golden;

pub use aggregate::Merged;
pub use entry::{Entry, EntryValue, MapData};
pub use value::Value;

use std::rc::Rc;
use tracebound_compiler::program::StackMode;

/// The form a run's output takes: bpftrace's text, or its `-f json` lines, or `-f folded`:
/// maps keyed by a stack as folded stacks (`folded`), everything else as text, without the
/// "Attaching" line and the exit preamble, so that the output feeds a flame graph tool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
    Folded,
}

/// Why some bytes could not be turned into output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("{what} too short: need {need} bytes, got {got}")]
    Short {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("integer of {0} bytes (expected 1, 2, 4 or 8)")]
    BadIntSize(u32),
    #[error("value {got} does not fit type {expected}")]
    TypeMismatch { expected: String, got: String },
    #[error("a plain map value has exactly one slot, got {0}")]
    SlotCount(usize),
    #[error("histogram bucket {index} out of range ({buckets} buckets)")]
    BadBucket { index: u64, buckets: u64 },
    #[error("lhist(min {min}, max {max}, step {step}): not 1 to 1000 whole steps")]
    BadLhist { min: i64, max: i64, step: i64 },
    #[error("a histogram map's key must end with a u64 bucket index")]
    NoBucketField,
    #[error("printf: format has {specifiers} specifiers but {args} arguments were given")]
    PrintfArity { specifiers: usize, args: usize },
    #[error("printf: %{conversion} cannot print {got}")]
    PrintfArg { conversion: char, got: String },
}

/// One frame of a stack: its address, and what symbolization found for it. Names are shared
/// (`Rc<str>`): the same function recurs in thousands of frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub addr: u64,
    /// The function containing the address and the offset into it.
    pub symbol: Option<(Rc<str>, u64)>,
    /// The file the address is in (user frames), as the process's memory map names it.
    pub module: Option<Rc<str>>,
    /// `path/file.c:line` of the address in `symbol`'s function, from the file's debug info
    /// (`show_debug_info`); for a frame with inlined calls, the line of the outermost call.
    pub source: Option<Rc<str>>,
    /// The functions inlined at the address, innermost first, each with its own line.
    pub inlined: Rc<[InlinedFrame]>,
    /// In a stack of build ids, the frame's file as its build id in hex; `addr` is then the
    /// offset into that file. `None` where the kernel found no build id (`addr` is the
    /// address).
    pub build_id: Option<Rc<str>>,
}

/// A function the compiler inlined where a frame's address is: its name and where in it the
/// address (or the next inlined call) is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinedFrame {
    pub name: Rc<str>,
    pub source: Option<Rc<str>>,
}

/// Resolves stack ids and addresses; the runtime implements it with blazesym. This layer
/// only lays the results out (`text::stack_text`, `text::symbol_text`).
pub trait Symbolize {
    /// The frames of a stack (a `Value::Stack`'s id, in the stack map of its kind, mode and
    /// frame limit), innermost first; empty when the stack is unknown.
    fn frames(&self, user: bool, mode: StackMode, limit: u32, id: u64) -> Vec<Frame>;
    /// The function containing an address (a user one in process `pid`), if known.
    fn symbol(&self, user: bool, addr: u64, pid: u32) -> Option<Rc<str>>;
}

/// No symbols: addresses print in hex, as bpftrace does when it cannot resolve them, and
/// stacks are empty.
pub struct NoSymbols;

impl Symbolize for NoSymbols {
    fn frames(&self, _user: bool, _mode: StackMode, _limit: u32, _id: u64) -> Vec<Frame> {
        Vec::new()
    }
    fn symbol(&self, _user: bool, _addr: u64, _pid: u32) -> Option<Rc<str>> {
        None
    }
}

/// What the current release prints once the probes are attached (on stderr, in text mode;
/// 0.17 printed "Attaching N probes..." on stdout before attaching).
pub fn attached_text(out: &mut Vec<u8>, probes: usize) {
    let plural = if probes == 1 { "" } else { "s" };
    out.extend_from_slice(format!("Attached {probes} probe{plural}\n").as_bytes());
}

/// The environment variable that asks for a line of its own name on stdout once every probe
/// is attached (bpftrace's runtime tests wait for it).
pub const NOTIFY_ATTACHED: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

/// Records the kernel dropped because the ring buffer was full, as bpftrace reports lost
/// events.
pub fn lost_events_text(out: &mut Vec<u8>, lost: u64) {
    out.extend_from_slice(format!("Lost {lost} events\n").as_bytes());
}

/// What bpftrace prints when the program ends (exit(), Ctrl-C), after END probes ran and
/// before the remaining maps: two newlines, in text and JSON mode alike, maps or not.
pub const EXIT_PREAMBLE: &[u8] = b"\n\n";

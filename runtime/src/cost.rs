//! What one hit of a probe costs: the mechanism (how the kernel gets to the program) plus the
//! program (its instructions and, mostly, its helper calls).
//!
//! The numbers are the ones measured on this project's reference machine (the overhead issue
//! records them); `tracebound calibrate` is to replace them with this host's.

use tracebound_compiler::insn::Helper;

/// Per-hit costs in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct CostModel {
    pub tracepoint_ns: f64,
    /// Paid by every syscall of every task while any syscall tracepoint is enabled.
    pub syscall_tax_ns: f64,
    pub raw_tracepoint_ns: f64,
    /// A timer or software-event sample (hrtimer interrupt, no hardware counters here).
    pub perf_sample_ns: f64,
    /// A uprobe hit whose first instruction the kernel emulates (push, nop, call, jmp).
    pub uprobe_emulated_ns: f64,
    /// A uprobe hit whose first instruction must be single-stepped (mov, lea, ...).
    pub uprobe_single_step_ns: f64,
    /// What a uretprobe adds to its function's entry trap.
    pub uretprobe_extra_ns: f64,
    /// The same hits when they come about once a millisecond on a CPU: caches and branch
    /// predictors cold, each hit dearer (measured: about twice, on this project's machines).
    pub tracepoint_cold_ns: f64,
    pub uprobe_emulated_cold_ns: f64,
    pub uprobe_single_step_cold_ns: f64,
    pub perf_sample_cold_ns: f64,
    /// One BPF instruction, on average.
    pub instruction_ns: f64,
    pub hash_update_ns: f64,
    pub hash_lookup_ns: f64,
    pub ringbuf_output_ns: f64,
    pub stack_id_ns: f64,
    pub probe_read_ns: f64,
    /// Any other helper.
    pub helper_ns: f64,
    /// Where the numbers come from, for the report.
    pub source: String,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            tracepoint_ns: 150.0,
            syscall_tax_ns: 50.0,
            raw_tracepoint_ns: 90.0,
            perf_sample_ns: 15_000.0,
            uprobe_emulated_ns: 550.0,
            uprobe_single_step_ns: 11_500.0,
            uretprobe_extra_ns: 300.0,
            tracepoint_cold_ns: 300.0,
            uprobe_emulated_cold_ns: 1_100.0,
            uprobe_single_step_cold_ns: 23_000.0,
            perf_sample_cold_ns: 20_000.0,
            instruction_ns: 0.5,
            hash_update_ns: 45.0,
            hash_lookup_ns: 25.0,
            ringbuf_output_ns: 40.0,
            stack_id_ns: 1_400.0,
            probe_read_ns: 50.0,
            helper_ns: 15.0,
            source: "reference-machine defaults (not calibrated on this host)".into(),
        }
    }
}

impl CostModel {
    /// A uprobe's mechanism cost by the class of its first instruction (`None`: unknown, priced
    /// as the dearer class), and why.
    pub fn uprobe_ns(&self, first_emulated: Option<bool>, ret: bool) -> (f64, &'static str) {
        let (ns, why) = match first_emulated {
            Some(true) => (self.uprobe_emulated_ns, "first instruction emulated"),
            Some(false) => (
                self.uprobe_single_step_ns,
                "single-stepped first instruction",
            ),
            None => (self.uprobe_single_step_ns, "first instruction unknown"),
        };
        (ns + if ret { self.uretprobe_extra_ns } else { 0.0 }, why)
    }

    /// A uprobe's mechanism cost when hits are sparse, by the class of its first instruction
    /// (`None`: unknown, priced as the dearer class).
    pub fn uprobe_cold_ns(&self, first_emulated: Option<bool>, ret: bool) -> f64 {
        let extra = if ret { self.uretprobe_extra_ns } else { 0.0 };
        extra
            + match first_emulated {
                Some(true) => self.uprobe_emulated_cold_ns,
                _ => self.uprobe_single_step_cold_ns,
            }
    }

    /// A program's cost per run: every instruction once (a straight-line upper bound for
    /// branches, a lower bound for loops) and every helper call on its usual path once (the
    /// compiler marks a map key's first insert and a full buffer as cold).
    pub fn program_ns(&self, insns: usize, helpers: &[Helper]) -> f64 {
        let mut ns = insns as f64 * self.instruction_ns;
        for helper in helpers {
            ns += match helper {
                Helper::MapUpdateElem => self.hash_update_ns,
                Helper::MapLookupElem | Helper::MapDeleteElem => self.hash_lookup_ns,
                Helper::RingbufReserve | Helper::RingbufOutput => self.ringbuf_output_ns,
                // The walk is the cost, whether it is kept in a stack map or copied out.
                Helper::GetStackid | Helper::GetStack => self.stack_id_ns,
                Helper::ProbeRead
                | Helper::ProbeReadStr
                | Helper::ProbeReadUser
                | Helper::ProbeReadKernel
                | Helper::ProbeReadUserStr
                | Helper::ProbeReadKernelStr => self.probe_read_ns,
                // Into an empty slot of the sampled copies (`program::GuardSampled`): a
                // jump the kernel patched, among the instructions counted above.
                Helper::TailCall => 0.0,
                _ => self.helper_ns,
            };
        }
        ns
    }
}

/// The share of hits that find the mechanism cold at `rate` hits a second on one CPU. Caches
/// go cold while a CPU does other work between bursts of hits; bursts come at most about once
/// a millisecond (the scheduler tick, timer granularity), so at most a thousand hits a second
/// are cold, the first of each burst, and the rest are warm.
pub fn coldness(rate: f64) -> f64 {
    if rate <= 1_000.0 {
        1.0
    } else {
        1_000.0 / rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_hits_are_cold() {
        assert_eq!(coldness(500.0), 1.0);
        assert_eq!(coldness(1_000.0), 1.0);
        assert!((coldness(10_000.0) - 0.1).abs() < 1e-9);
        assert!((coldness(1e6) - 0.001).abs() < 1e-9);
    }

    #[test]
    fn helper_calls_dominate_a_program() {
        let model = CostModel::default();
        assert_eq!(model.program_ns(2, &[]), 1.0);
        assert_eq!(
            model.program_ns(4, &[Helper::MapLookupElem, Helper::MapUpdateElem]),
            2.0 + 25.0 + 45.0
        );
    }

    #[test]
    fn a_count_pays_its_lookup_not_its_first_insert() {
        use tracebound_compiler::ir::hot_helpers;
        use tracebound_compiler::machine::fixture::FixtureFacts;
        use tracebound_compiler::pipeline::{compile, CompileOptions};
        let helpers = |script: &str| {
            let compiled = compile(script, &FixtureFacts::bundled(), &CompileOptions::default())
                .expect("compiles");
            hot_helpers(&compiled.probes[0].ir, &compiled.info.inlined_lookups())
        };
        let keyed = helpers("tracepoint:syscalls:sys_enter_openat { @c[tid] = count(); }");
        assert!(keyed.contains(&Helper::MapLookupElem), "{keyed:?}");
        assert!(!keyed.contains(&Helper::MapUpdateElem), "{keyed:?}");
        // A key-less count's array lookup is inlined by the kernel: no call to price.
        let array = helpers("tracepoint:syscalls:sys_enter_openat { @c = count(); }");
        assert!(!array.contains(&Helper::MapLookupElem), "{array:?}");
    }
}

//! `hardware:cache-misses:1000000`: a hardware counter's overflow samples. Checked, not run
//! yet (this machine has no hardware counters).

use super::{software::check_event, ProbeKind, Provider, ProviderKind};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::parse::attach::Part;

pub struct Hardware;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Hardware,
    name: "hardware",
    aliases: &["h"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::REGS,
    usage: "hardware:event[:count]",
};

/// Hardware events, with bpftrace's short names.
pub const HARDWARE_EVENTS: &[&str] = &[
    "cpu-cycles",
    "cycles",
    "instructions",
    "cache-references",
    "cache-misses",
    "branch-instructions",
    "branches",
    "branch-misses",
    "bus-cycles",
    "frontend-stalls",
    "backend-stalls",
    "ref-cycles",
];

impl ProbeKind for Hardware {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn check(&self, args: &[Part], _ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        check_event(&PROVIDER, args, HARDWARE_EVENTS, diags);
    }

    /// As the current release lists it: the event without its count.
    fn listed(&self, args: &[&str]) -> String {
        format!("{}:{}:", PROVIDER.name, args.first().unwrap_or(&""))
    }

    fn section(&self, _program: &str) -> String {
        "perf_event".to_string()
    }

    fn program_word(&self) -> &'static str {
        "hw"
    }
}

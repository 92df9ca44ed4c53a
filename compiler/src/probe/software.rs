//! `software:faults:100`: a software perf event's overflow samples, on every CPU. The kernel's
//! software events, with bpftrace's short names, are listed here and nowhere else: the check,
//! the resolver, attaching, counting and `-l` all read this table.

use super::{has_positional, not_supported, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::lex::parse_integer;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

pub struct Software;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Software,
    name: "software",
    aliases: &["s"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::REGS,
    usage: "software:event[:count]",
};

/// One software event of `perf_event_open(2)`.
#[derive(Debug, PartialEq, Eq)]
pub struct SoftwareEvent {
    pub name: &'static str,
    /// bpftrace's short names for it.
    pub aliases: &'static [&'static str],
    /// `perf_event_attr.config` under `PERF_TYPE_SOFTWARE` (`PERF_COUNT_SW_*`).
    pub config: u64,
    /// bpftrace's sample period when the attach point names none.
    pub default_period: u64,
}

/// Every software event, in the order `-l` lists them (each name, then its short names).
pub static SOFTWARE_EVENTS: &[SoftwareEvent] = &[
    event("cpu-clock", &["cpu"], 0, 1_000_000),
    event("task-clock", &[], 1, 1_000_000),
    event("page-faults", &["faults"], 2, 100),
    event("context-switches", &["cs"], 3, 1000),
    event("cpu-migrations", &[], 4, 1000),
    event("minor-faults", &[], 5, 100),
    event("major-faults", &[], 6, 100),
    event("alignment-faults", &[], 7, 1),
    event("emulation-faults", &[], 8, 1),
    event("dummy", &[], 9, 1),
    event("bpf-output", &[], 10, 1),
];

const fn event(
    name: &'static str,
    aliases: &'static [&'static str],
    config: u64,
    default_period: u64,
) -> SoftwareEvent {
    SoftwareEvent {
        name,
        aliases,
        config,
        default_period,
    }
}

impl SoftwareEvent {
    /// The event `name` (or a short name) stands for.
    pub fn named(name: &str) -> Option<&'static SoftwareEvent> {
        SOFTWARE_EVENTS
            .iter()
            .find(|e| e.name == name || e.aliases.contains(&name))
    }

    /// The CPU clock, which the timer probes sample.
    pub fn cpu_clock() -> &'static SoftwareEvent {
        &SOFTWARE_EVENTS[0]
    }
}

/// Every name and short name, in table order.
pub fn event_names() -> Vec<&'static str> {
    SOFTWARE_EVENTS
        .iter()
        .flat_map(|e| std::iter::once(e.name).chain(e.aliases.iter().copied()))
        .collect()
}

/// A software event attach point: the event, and its sample period, with both as written
/// (which is how `probe` names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftwareTarget {
    pub event: &'static SoftwareEvent,
    /// The event's name as written (a short name stays short).
    pub written: &'static str,
    /// Samples every this many events.
    pub period: u64,
    /// The period part as written, when there is one (it may be empty).
    pub period_text: Option<String>,
}

impl std::fmt::Display for SoftwareTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.written)?;
        match &self.period_text {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

impl ProbeKind for Software {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn check(&self, args: &[Part], _ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        check_event(&PROVIDER, args, &event_names(), diags);
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let name = &parts[1];
        // A wildcard or a positional parameter would need expanding first.
        if has_positional(parts) || name.has_wildcard() {
            return Err(not_supported(&PROVIDER, ap));
        }
        let (written, event) = event_names()
            .into_iter()
            .find(|n| *n == name.text)
            .and_then(|n| Some((n, SoftwareEvent::named(n)?)))
            .ok_or_else(|| {
                Diagnostic::error(
                    format!("unknown software event `{}`", name.text),
                    name.span,
                    "not an event the kernel offers",
                )
            })?;
        let period_text = parts.get(2).map(|p| p.text.clone());
        let period = match period_text.as_deref() {
            Some(p) if !p.is_empty() => parse_integer(p).map_err(|_| {
                Diagnostic::error(
                    format!("invalid sample period `{p}`"),
                    parts[2].span,
                    "expected a number",
                )
            })?,
            _ => event.default_period,
        };
        Ok(Resolution {
            targets: vec![Target::Software(SoftwareTarget {
                event,
                written,
                period,
                period_text,
            })],
            args: Vec::new(),
            ..Default::default()
        })
    }

    fn section(&self, _program: &str) -> String {
        "perf_event".to_string()
    }

    fn program_word(&self) -> &'static str {
        "sw"
    }
}

/// `EVENT[:COUNT]` of a software or hardware probe: a known event (or a wildcard), and a
/// number when a count is given.
pub(super) fn check_event(
    provider: &Provider,
    args: &[Part],
    events: &[&str],
    diags: &mut Vec<Diagnostic>,
) {
    let event = &args[0];
    if !event.has_wildcard() && !events.contains(&event.text.as_str()) {
        let mut d = Diagnostic::error(
            format!("unknown {} event `{}`", provider.name, event.text),
            event.span,
            "not an event the kernel offers",
        );
        d = match nearest(&event.text, events.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(format!("{} events: {}", provider.name, events.join(", "))),
        };
        diags.push(d);
    }
    if let Some(count) = args.get(1).filter(|c| !c.text.is_empty()) {
        if parse_integer(&count.text).is_err() {
            diags.push(Diagnostic::error(
                format!("invalid sample period `{}`", count.text),
                count.span,
                "expected a number",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are bpftrace's, in its order; every one stands for an event.
    #[test]
    fn every_name_is_an_event() {
        assert_eq!(
            event_names(),
            [
                "cpu-clock",
                "cpu",
                "task-clock",
                "page-faults",
                "faults",
                "context-switches",
                "cs",
                "cpu-migrations",
                "minor-faults",
                "major-faults",
                "alignment-faults",
                "emulation-faults",
                "dummy",
                "bpf-output",
            ]
        );
        for name in event_names() {
            assert!(SoftwareEvent::named(name).is_some(), "{name}");
        }
        assert_eq!(SoftwareEvent::named("faults").map(|e| e.config), Some(2));
        assert_eq!(SoftwareEvent::cpu_clock().name, "cpu-clock");
    }
}

//! `interval:ms:100`, `interval:1s`: a timer on one CPU; its program sees nothing of what it
//! interrupted.

use super::{period, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

pub struct Interval;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Interval,
    name: "interval",
    aliases: &["i"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "interval:s:1, interval:ms:100 or interval:1s",
};

impl ProbeKind for Interval {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn check(&self, args: &[Part], ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        period::check(&PROVIDER, args, ap, diags);
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let period = period::resolve(&PROVIDER, parts, ap)?;
        Ok(Resolution {
            targets: vec![Target::Interval(period)],
            args: Vec::new(),
            ..Default::default()
        })
    }

    fn section(&self, _program: &str) -> String {
        "perf_event".to_string()
    }

    fn program_word(&self) -> &'static str {
        "interval"
    }
}

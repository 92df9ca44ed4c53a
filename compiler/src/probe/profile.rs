//! `profile:hz:99`, `profile:ms:10`: a timer sampling every CPU; its program sees the
//! registers of what it interrupted.

use super::{period, Context, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

pub struct Profile;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Profile,
    name: "profile",
    aliases: &["p"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::REGS,
    usage: "profile:hz:99, profile:ms:10 or profile:10ms",
};

impl ProbeKind for Profile {
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
            targets: vec![Target::Profile(period)],
            args: Vec::new(),
            ..Default::default()
        })
    }

    /// A perf event's context starts with the interrupted task's `struct pt_regs`.
    fn context(&self) -> Context {
        Context {
            registers: true,
            ..Context::EMPTY
        }
    }

    fn section(&self, _program: &str) -> String {
        "perf_event".to_string()
    }

    fn program_word(&self) -> &'static str {
        "profile"
    }
}

//! `self:signal:SIGUSR1`: a probe that fires when tracebound itself gets the signal. Checked,
//! not run yet.

use super::{ProbeKind, Provider, ProviderKind};

pub struct SelfSignal;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::SelfSignal,
    name: "self",
    aliases: &[],
    parts: (2, 2),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "self:signal:SIGUSR1",
};

impl ProbeKind for SelfSignal {
    fn type_name(&self) -> &'static str {
        "special"
    }

    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn program_word(&self) -> &'static str {
        "self"
    }
}

//! `iter:task`: a BPF iterator over kernel objects. Checked, not run yet.

use super::{Context, ProbeKind, Provider, ProviderKind};

pub struct Iter;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Iter,
    name: "iter",
    aliases: &["it"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::ARGS,
    usage: "iter:name[:pin]",
};

impl ProbeKind for Iter {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn context(&self) -> Context {
        Context {
            typed_ctx: true,
            ..Context::EMPTY
        }
    }

    fn program_word(&self) -> &'static str {
        "iter"
    }
}

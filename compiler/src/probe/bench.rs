//! `bench:NAME`: a micro benchmark. Attached to nothing; under `--bench` (`--mode bench`) the
//! runtime runs each one's program (an XDP program) repeatedly through BPF_PROG_TEST_RUN, after BEGIN and in
//! the script's order, and reports the average time of a run; otherwise it never runs, as
//! in the current release.

use super::{ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

pub struct Bench;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Bench,
    name: "bench",
    aliases: &[],
    parts: (1, 1),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "bench:NAME",
};

impl ProbeKind for Bench {
    fn type_name(&self) -> &'static str {
        "benchmark"
    }

    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    fn resolve(
        &self,
        parts: &[Part],
        _ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        Ok(Resolution {
            targets: vec![Target::Bench {
                name: parts[1].text.clone(),
            }],
            args: Vec::new(),
            ..Default::default()
        })
    }

    /// An XDP program: the kernel repeats XDP test runs and times them (it refuses to
    /// repeat a raw tracepoint program's); the program reads nothing of its context.
    /// (aya reads `xdp/...` as an attach type, so the section is `xdp` alone.)
    fn section(&self, _program: &str) -> String {
        "xdp".to_string()
    }

    fn program_word(&self) -> &'static str {
        "bench"
    }

    /// Attached to nothing and never fired by the kernel: a run waits for none.
    fn runs_once(&self) -> bool {
        true
    }
}

//! `self:signal:SIGUSR1`: a probe that fires when tracebound itself gets the signal. Like
//! BEGIN and END it is attached to nothing: the runtime runs its program (through
//! BPF_PROG_TEST_RUN) each time the signal arrives. SIGUSR1 is the one signal the current
//! release offers.

use super::{ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

pub struct SelfSignal;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::SelfSignal,
    name: "self",
    aliases: &[],
    parts: (2, 2),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "self:signal:SIGUSR1",
};

/// The signals a `self:signal` probe may name.
pub const SIGNALS: &[&str] = &["SIGUSR1"];

impl ProbeKind for SelfSignal {
    fn type_name(&self) -> &'static str {
        "special"
    }

    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    /// The current release's words: `foo is not a supported trigger`, `SIGUSR2 is not a
    /// supported signal`.
    fn check(&self, args: &[Part], _ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        let [trigger, signal] = args else { return };
        if trigger.text != "signal" {
            diags.push(
                Diagnostic::error(
                    format!("{} is not a supported trigger", trigger.text),
                    trigger.span,
                    "not a trigger",
                )
                .with_help("write it as `self:signal:SIGUSR1`"),
            );
        } else if !SIGNALS.contains(&signal.text.as_str()) {
            diags.push(
                Diagnostic::error(
                    format!("{} is not a supported signal", signal.text),
                    signal.span,
                    "not a supported signal",
                )
                .with_help(format!("the signals are {}", SIGNALS.join(", "))),
            );
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        _ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        Ok(Resolution {
            targets: vec![Target::SelfSignal {
                signal: parts[2].text.clone(),
            }],
            args: Vec::new(),
            ..Default::default()
        })
    }

    /// BPF_PROG_TEST_RUN runs raw tracepoint programs.
    fn section(&self, program: &str) -> String {
        format!("raw_tracepoint/{program}")
    }

    fn program_word(&self) -> &'static str {
        "self"
    }
}

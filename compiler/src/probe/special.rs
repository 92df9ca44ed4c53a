//! `BEGIN` and `END`: programs attached to nothing, run once through BPF_PROG_TEST_RUN when
//! the run starts and ends.

use super::{ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::parse::attach::Part;
use crate::resolve::facts::MachineFacts;

pub struct Begin;
pub struct End;

static BEGIN: Provider = Provider {
    kind: ProviderKind::Begin,
    name: "BEGIN",
    aliases: &["begin"],
    parts: (0, 0),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "BEGIN",
};

static END: Provider = Provider {
    kind: ProviderKind::End,
    name: "END",
    aliases: &["end"],
    parts: (0, 0),
    contexts: tracebound_stdlib::Contexts::SPECIAL,
    usage: "END",
};

/// BPF_PROG_TEST_RUN runs raw tracepoint programs.
fn section(program: &str) -> String {
    format!("raw_tracepoint/{program}")
}

impl ProbeKind for Begin {
    fn provider(&self) -> &'static Provider {
        &BEGIN
    }

    fn check(&self, _args: &[Part], _ap: &AttachPoint, _diags: &mut Vec<Diagnostic>) {}

    fn resolve(
        &self,
        _parts: &[Part],
        _ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        Ok(Resolution {
            targets: vec![Target::Begin],
            args: Vec::new(),
        })
    }

    fn section(&self, program: &str) -> String {
        section(program)
    }

    fn program_word(&self) -> &'static str {
        "begin"
    }

    fn runs_once(&self) -> bool {
        true
    }
}

impl ProbeKind for End {
    fn provider(&self) -> &'static Provider {
        &END
    }

    fn check(&self, _args: &[Part], _ap: &AttachPoint, _diags: &mut Vec<Diagnostic>) {}

    fn resolve(
        &self,
        _parts: &[Part],
        _ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        Ok(Resolution {
            targets: vec![Target::End],
            args: Vec::new(),
        })
    }

    fn section(&self, program: &str) -> String {
        section(program)
    }

    fn program_word(&self) -> &'static str {
        "end"
    }

    fn runs_once(&self) -> bool {
        true
    }
}

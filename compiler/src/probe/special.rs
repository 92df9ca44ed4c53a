//! `BEGIN` and `END`: programs attached to nothing, run once through BPF_PROG_TEST_RUN when
//! the run starts and ends.

use super::{ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

/// `BEGIN` (`end: false`) or `END` (`end: true`): the same kind apart from its name.
pub struct Special {
    pub end: bool,
}

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

impl ProbeKind for Special {
    fn type_name(&self) -> &'static str {
        "special"
    }

    fn provider(&self) -> &'static Provider {
        if self.end {
            &END
        } else {
            &BEGIN
        }
    }

    fn check(&self, _args: &[Part], _ap: &AttachPoint, _diags: &mut Vec<Diagnostic>) {}

    fn resolve(
        &self,
        _parts: &[Part],
        _ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        Ok(Resolution {
            targets: vec![if self.end { Target::End } else { Target::Begin }],
            args: Vec::new(),
            ..Default::default()
        })
    }

    /// BPF_PROG_TEST_RUN runs raw tracepoint programs.
    fn section(&self, program: &str) -> String {
        format!("raw_tracepoint/{program}")
    }

    fn program_word(&self) -> &'static str {
        if self.end {
            "end"
        } else {
            "begin"
        }
    }

    fn runs_once(&self) -> bool {
        true
    }
}

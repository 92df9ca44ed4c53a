//! `watchpoint:ADDRESS:LENGTH:MODE` and `asyncwatchpoint:...`: hardware breakpoints on a
//! memory address. Checked, not run yet (this machine has no hardware breakpoints for BPF).

use super::{ProbeKind, Provider, ProviderKind};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::lex::parse_integer;
use crate::parse::attach::Part;

pub struct Watchpoint {
    pub asynchronous: bool,
}

static WATCHPOINT: Provider = Provider {
    kind: ProviderKind::Watchpoint,
    name: "watchpoint",
    aliases: &["w"],
    parts: (3, 3),
    contexts: tracebound_stdlib::Contexts::REGS,
    usage: "watchpoint:address:length:mode",
};

static ASYNC_WATCHPOINT: Provider = Provider {
    kind: ProviderKind::AsyncWatchpoint,
    name: "asyncwatchpoint",
    aliases: &["aw"],
    parts: (3, 3),
    contexts: tracebound_stdlib::Contexts::REGS,
    usage: "asyncwatchpoint:address:length:mode",
};

impl ProbeKind for Watchpoint {
    fn type_name(&self) -> &'static str {
        "watchpoint"
    }

    fn provider(&self) -> &'static Provider {
        if self.asynchronous {
            &ASYNC_WATCHPOINT
        } else {
            &WATCHPOINT
        }
    }

    /// A number, a length of 1, 2, 4 or 8 bytes, and some of `r`, `w` and `x` once each.
    fn check(&self, args: &[Part], _ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        let [address, length, mode] = args else {
            return;
        };
        if parse_integer(&address.text).is_err() {
            diags.push(Diagnostic::error(
                format!("invalid watchpoint address `{}`", address.text),
                address.span,
                "expected a number",
            ));
        }
        if !matches!(parse_integer(&length.text), Ok(1 | 2 | 4 | 8)) {
            diags.push(Diagnostic::error(
                format!("invalid watchpoint length `{}`", length.text),
                length.span,
                "expected 1, 2, 4 or 8",
            ));
        }
        let valid_mode = !mode.text.is_empty()
            && mode.text.chars().all(|c| "rwx".contains(c))
            && mode.text.chars().count()
                == mode
                    .text
                    .chars()
                    .collect::<std::collections::HashSet<_>>()
                    .len();
        if !valid_mode {
            diags.push(Diagnostic::error(
                format!("invalid watchpoint mode `{}`", mode.text),
                mode.span,
                "expected some of r, w and x",
            ));
        }
    }

    fn program_word(&self) -> &'static str {
        "watch"
    }
}

//! `watchpoint:ADDRESS:LENGTH:MODE`: a hardware breakpoint on a memory address (read, write
//! or execute), in the `-p`/`-c` process for a user address, on every CPU for a kernel one.
//! `asyncwatchpoint:...` (bpftrace's watchpoints set from inside a function probe) is checked,
//! not run.

use std::fmt;

use super::{Context, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::lex::parse_integer;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;

/// One watched place: what `watchpoint:0x10000000:8:rw` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchSite {
    pub address: u64,
    /// 1, 2, 4 or 8 bytes.
    pub length: u8,
    pub access: WatchAccess,
}

/// What touching the watched bytes fires the probe: reads, writes, both, or executing them
/// (execution goes alone; the kernel refuses a kind the CPU cannot watch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchAccess {
    Read,
    Write,
    ReadWrite,
    Execute,
}

impl WatchAccess {
    /// Some of `r`, `w`, `x`, each once; execution goes alone.
    fn parse(mode: &str) -> Option<WatchAccess> {
        let mut seen = [false; 3];
        for c in mode.chars() {
            let i = "rwx".find(c)?;
            if std::mem::replace(&mut seen[i], true) {
                return None;
            }
        }
        match seen {
            [true, false, false] => Some(WatchAccess::Read),
            [false, true, false] => Some(WatchAccess::Write),
            [true, true, false] => Some(WatchAccess::ReadWrite),
            [false, false, true] => Some(WatchAccess::Execute),
            _ => None,
        }
    }

    fn letters(self) -> &'static str {
        match self {
            WatchAccess::Read => "r",
            WatchAccess::Write => "w",
            WatchAccess::ReadWrite => "rw",
            WatchAccess::Execute => "x",
        }
    }
}

impl WatchSite {
    /// A kernel address (the upper half of x86-64's address space), watched on every CPU.
    pub fn in_kernel(&self) -> bool {
        self.address >= 0xffff_8000_0000_0000
    }
}

impl fmt::Display for WatchSite {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "0x{:x}:{}:{}",
            self.address,
            self.length,
            self.access.letters()
        )
    }
}

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
        if WatchAccess::parse(&mode.text).is_none() {
            diags.push(Diagnostic::error(
                format!("invalid watchpoint mode `{}`", mode.text),
                mode.span,
                "expected r, w, rw or x (execution cannot be watched with reads or writes)",
            ));
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        _facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let (address, length, access) = match parts {
            [_, a, l, m] if !self.asynchronous => (
                parse_integer(&a.text).ok(),
                parse_integer(&l.text).ok(),
                WatchAccess::parse(&m.text),
            ),
            _ => return Err(super::not_supported(self.provider(), ap)),
        };
        // `check` has said what is wrong with each part.
        let (Some(address), Some(length @ (1 | 2 | 4 | 8)), Some(access)) =
            (address, length, access)
        else {
            return Err(Diagnostic::error(
                "invalid watchpoint",
                ap.span,
                "expected watchpoint:address:length:mode",
            ));
        };
        Ok(Resolution {
            targets: vec![Target::Watchpoint(WatchSite {
                address,
                length: length as u8,
                access,
            })],
            args: Vec::new(),
            ..Default::default()
        })
    }

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
        "watch"
    }
}

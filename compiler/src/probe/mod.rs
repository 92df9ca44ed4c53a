//! Probe kinds, one module each, every one an implementation of `ProbeKind`: its names and
//! the spellings bpftrace accepts, the shape of its attach point checked without a kernel,
//! its attach point resolved against the machine (wildcards expanded) into typed `Target`s,
//! what its program's context holds (`args`, `argN`, `retval`, registers), and the object
//! section that tells the loader its program type. The runtime's half of each kind
//! (attaching, counting its rate, pricing its mechanism, listing it) is
//! `tracebound_runtime::probes`.
//!
//! Nothing outside these modules asks which kind a probe is: it asks the kind.

mod args;
mod bench;
pub mod dispatch;
mod fentry;
mod hardware;
mod interval;
mod iter;
mod kprobe;
mod period;
mod profile;
mod rawtracepoint;
mod signal;
pub mod software;
mod special;
mod target;
mod tracepoint;
mod uprobe;
mod usdt;
mod watchpoint;

use std::collections::HashMap;

use tracebound_stdlib::Contexts;

use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::CType;
use crate::machine::facts::{FactError, MachineFacts};
use crate::parse::attach::Part;

pub use args::{merge_fields, ArgAccess, ArgField};
pub use dispatch::Dispatch;
pub use fentry::FEXIT_RETVAL;
pub use hardware::HARDWARE_EVENTS;
pub use period::{rate, Period, Rate, RATE_UNITS};
pub use software::{SoftwareEvent, SoftwareTarget, SOFTWARE_EVENTS};
pub use target::{FunctionSite, Target};
pub use watchpoint::{WatchAccess, WatchSite};

/// Which kind a probe is: its identity, which every kind's hooks hang off (`probe()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Begin,
    End,
    SelfSignal,
    Bench,
    Kprobe,
    Kretprobe,
    Uprobe,
    Uretprobe,
    Usdt,
    Tracepoint,
    RawTracepoint,
    Profile,
    Interval,
    Software,
    Hardware,
    Watchpoint,
    AsyncWatchpoint,
    Fentry,
    Fexit,
    Iter,
}

/// A kind's names, as the parser, `-l` and diagnostics see them.
#[derive(Debug)]
pub struct Provider {
    pub kind: ProviderKind,
    /// The name `-l` prints and diagnostics use.
    pub name: &'static str,
    /// Other accepted spellings, matched exactly (`U` is usdt, `u` is uprobe).
    pub aliases: &'static [&'static str],
    /// How many parts may follow the provider: `min..=max`.
    pub parts: (usize, usize),
    /// What the probe's program can read (`retval`, `args`, registers).
    pub contexts: Contexts,
    /// The shape of the parts, for diagnostics.
    pub usage: &'static str,
}

/// What a probe kind's attach point resolves to: its targets, and the fields of `args`
/// (the same for every target).
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    pub targets: Vec<Target>,
    pub args: Vec<ArgField>,
    /// Why these targets could not be checked to be safe to attach (a uprobe whose place in
    /// its function cannot be verified): each the error a run without `--unsafe` gives.
    pub unsafe_only: Vec<Diagnostic>,
}

/// Where a probe's `argN` come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSource {
    /// The probe has none.
    None,
    /// Saved registers (`struct pt_regs`), by the x86-64 calling convention.
    Registers,
    /// The context is the arguments, an array of u64 (raw tracepoints), typed from BTF when
    /// the kernel has it.
    RawArgs,
    /// The usdt site's argument specs.
    UsdtSite,
}

/// Where a probe's `retval` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetvalSource {
    None,
    /// `ax` in the saved registers.
    Register,
    /// The entry of `args` after the parameters (fexit).
    ArgsEntry,
}

/// What a probe's program finds in its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub args: ArgSource,
    pub retval: RetvalSource,
    /// `reg()` reads a `struct pt_regs`.
    pub registers: bool,
    /// Pointers it reads point into a traced process (`uaddr` names its binary's symbols).
    pub user_memory: bool,
    /// `func` names the probed function.
    pub function: bool,
    /// Each attach point gets a program of its own (a usdt site has its own argument specs).
    pub program_per_target: bool,
    /// Its `ctx` is a typed structure (an iterator's), which tracebound does not compile;
    /// elsewhere `ctx` is the program's context pointer.
    pub typed_ctx: bool,
    /// Its records (printf, print, exit, ...) go to the seq file its reader reads, an
    /// iterator's, rather than the ring buffer, in the order it writes them
    /// (`program::SEQ_RECORD_LENGTH` frames them).
    pub seq_output: bool,
    /// Its program type (tracing) may call the kernel's kfuncs: `comm(pid)` looks the task
    /// up with `bpf_task_from_pid`.
    pub kfuncs: bool,
}

impl Context {
    /// A context with nothing in it (BEGIN, interval).
    pub const EMPTY: Context = Context {
        args: ArgSource::None,
        retval: RetvalSource::None,
        registers: false,
        user_memory: false,
        function: false,
        program_per_target: false,
        typed_ctx: false,
        seq_output: false,
        kfuncs: false,
    };
}

/// One probe kind's compile-time hooks.
pub trait ProbeKind: Sync {
    fn provider(&self) -> &'static Provider;

    /// What `probetype` says of it: bpftrace's name of the kind, its provider's name but for
    /// the special probes.
    fn type_name(&self) -> &'static str {
        self.provider().name
    }

    /// The current release's words for an attach point this machine lacks, from the parts
    /// after the provider: `No matches for tracepoint syscalls:nonsense`.
    fn no_matches(&self, rest: &[&str]) -> String {
        format!("No matches for {} {}", self.provider().name, rest.join(":"))
    }

    /// What `-l` of a program prints for an attach point of a kind resolve gives no targets
    /// (`iter:task`, `self:signal:SIGUSR1`), from the parts after the provider as written.
    fn listed(&self, args: &[&str]) -> String {
        std::iter::once(self.provider().name)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Whether `n` parts after the provider are a shape this kind takes (`args` are those
    /// parts, for kinds that take a shortcut such as `tracepoint:sys_enter_*`).
    fn parts_fit(&self, args: &[Part]) -> bool {
        let (min, max) = self.provider().parts;
        (min..=max).contains(&args.len())
    }

    /// The parts after the provider checked without a kernel (units, event names, numbers).
    /// By default only that none is empty.
    fn check(&self, args: &[Part], ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        // An empty part has nothing to underline: show the whole attach point.
        if args.iter().any(|p| p.text.is_empty() && !p.quoted) {
            let provider = self.provider();
            diags.push(
                Diagnostic::error(
                    format!("empty part in `{}` probe", provider.name),
                    ap.span,
                    "a part of this is missing",
                )
                .with_help(format!("write it as `{}`", provider.usage)),
            );
        }
    }

    /// The attach point against the machine: what it names, wildcards expanded. `parts` are
    /// all of them, the provider first.
    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let _ = (parts, facts);
        Err(not_supported(self.provider(), ap))
    }

    /// The kernel types of `args` members, for `args->file->f_flags` (from BTF).
    fn kernel_arg_types(
        &self,
        targets: &[Target],
        facts: &dyn MachineFacts,
    ) -> HashMap<String, CType> {
        let _ = (targets, facts);
        HashMap::new()
    }

    /// What its program's context holds.
    fn context(&self) -> Context {
        Context::EMPTY
    }

    /// The object section, which tells the loader the program type.
    fn section(&self, program: &str) -> String {
        format!("tracebound/{program}")
    }

    /// The object section of a program serving `targets` (an iterator's names it: `iter/task`).
    fn section_for(&self, program: &str, targets: &[Target]) -> String {
        let _ = targets;
        self.section(program)
    }

    /// Its word in program names (`tb_tp_0`).
    fn program_word(&self) -> &'static str;

    /// Runs once, attached to nothing (BEGIN, END; `bench`, which only `--bench` runs).
    fn runs_once(&self) -> bool {
        false
    }
}

/// Every kind, in the order lookups and `-l` visit them.
static KINDS: &[&dyn ProbeKind] = &[
    &special::Special { end: false },
    &special::Special { end: true },
    &signal::SelfSignal,
    &bench::Bench,
    &kprobe::Kprobe { ret: false },
    &kprobe::Kprobe { ret: true },
    &uprobe::Uprobe { ret: false },
    &uprobe::Uprobe { ret: true },
    &usdt::Usdt,
    &tracepoint::Tracepoint,
    &rawtracepoint::RawTracepoint,
    &profile::Profile,
    &interval::Interval,
    &software::Software,
    &hardware::Hardware,
    &watchpoint::Watchpoint {
        asynchronous: false,
    },
    &watchpoint::Watchpoint { asynchronous: true },
    &fentry::Fentry { ret: false },
    &fentry::Fentry { ret: true },
    &iter::Iter,
];

impl ProviderKind {
    /// The kind's hooks.
    pub fn probe(self) -> &'static dyn ProbeKind {
        *KINDS
            .iter()
            .find(|k| k.provider().kind == self)
            .expect("every ProviderKind has its module in KINDS")
    }

    pub fn provider(self) -> &'static Provider {
        self.probe().provider()
    }

    /// The name `-l` prints and diagnostics use.
    pub fn name(self) -> &'static str {
        self.provider().name
    }

    pub fn context(self) -> Context {
        self.probe().context()
    }

    /// BEGIN and END run once, attached to nothing.
    pub fn runs_once(self) -> bool {
        self.probe().runs_once()
    }
}

/// Every provider, in table order.
pub fn providers() -> impl Iterator<Item = &'static Provider> {
    KINDS.iter().map(|k| k.provider())
}

/// Finds a provider: exact spellings first (so `U` and `u` differ), then any case.
pub fn lookup(name: &str) -> Option<&'static Provider> {
    let exact = providers().find(|p| p.name == name || p.aliases.contains(&name));
    exact.or_else(|| {
        providers().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || (p
                    .aliases
                    .iter()
                    .any(|a| a.len() > 2 && a.eq_ignore_ascii_case(name)))
        })
    })
}

/// Every spelling, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    providers().flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
}

/// A kind the runtime cannot run yet (or a form of its attach point it cannot).
pub(crate) fn not_supported(provider: &Provider, ap: &AttachPoint) -> Diagnostic {
    Diagnostic::error(
        format!("{} probes are not supported by the runtime yet", provider.name),
        ap.span,
        "cannot run this probe yet",
    )
    .with_note("`--check` accepts it; BEGIN, END, tracepoint, rawtracepoint, interval, profile, software, uprobe, usdt, watchpoint and iter probes run")
}

/// A machine fact that could not be read, at the attach point.
pub(crate) fn fact_error(e: FactError, ap: &AttachPoint) -> Diagnostic {
    Diagnostic::error(
        format!("cannot resolve `{}`: {e}", ap.text),
        ap.span,
        "here",
    )
}

/// Whether any part is filled in from a positional parameter (`$1`), which attach points
/// do not substitute yet.
pub(crate) fn has_positional(parts: &[Part]) -> bool {
    parts.iter().any(|p| !p.quoted && p.text.contains('$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table holds each kind once, so `probe()` finds the module of every kind.
    #[test]
    fn every_kind_has_one_module() {
        let all = [
            ProviderKind::Begin,
            ProviderKind::End,
            ProviderKind::SelfSignal,
            ProviderKind::Bench,
            ProviderKind::Kprobe,
            ProviderKind::Kretprobe,
            ProviderKind::Uprobe,
            ProviderKind::Uretprobe,
            ProviderKind::Usdt,
            ProviderKind::Tracepoint,
            ProviderKind::RawTracepoint,
            ProviderKind::Profile,
            ProviderKind::Interval,
            ProviderKind::Software,
            ProviderKind::Hardware,
            ProviderKind::Watchpoint,
            ProviderKind::AsyncWatchpoint,
            ProviderKind::Fentry,
            ProviderKind::Fexit,
            ProviderKind::Iter,
        ];
        assert_eq!(KINDS.len(), all.len());
        for kind in all {
            assert_eq!(
                KINDS.iter().filter(|k| k.provider().kind == kind).count(),
                1
            );
            assert_eq!(kind.probe().provider().kind, kind);
        }
    }

    #[test]
    fn lookups_take_every_spelling() {
        assert_eq!(lookup("U").map(|p| p.kind), Some(ProviderKind::Usdt));
        assert_eq!(lookup("u").map(|p| p.kind), Some(ProviderKind::Uprobe));
        assert_eq!(lookup("kfunc").map(|p| p.kind), Some(ProviderKind::Fentry));
        assert_eq!(lookup("KFUNC").map(|p| p.kind), Some(ProviderKind::Fentry));
        assert_eq!(lookup("begin").map(|p| p.kind), Some(ProviderKind::Begin));
        assert!(lookup("nosuch").is_none());
    }
}

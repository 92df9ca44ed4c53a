//! Putting programs into the kernel: loading the object with aya and explaining verifier
//! rejections (`load`, `verifier`), reading the loaded object's maps (`snapshot`), what this
//! kernel can attach (`capability`), attaching each probe by its kind (`attach` has the plan),
//! and, one module per probe kind, the kernel mechanism each kind fires through, behind the
//! `Mechanism` trait (`mechanism`): whether this kernel can attach it, attaching it, how its
//! rate is counted before it is attached, what a hit costs, and listing what the machine
//! offers of it for `-l`. The compiler's half of each kind is `tracebound_compiler::probe`.
//!
//! Imports run one way: this module finds each kind's module; the kinds use `mechanism` and
//! `attach`, never this module.

pub mod attach;
pub mod capability;
mod fentry;
mod hardware;
mod interval;
pub(crate) mod iter;
mod kprobe;
pub mod load;
mod loader;
mod mechanism;
mod perf_event;
mod profile;
mod rawtracepoint;
pub mod snapshot;
mod software;
mod special;
mod tracepoint;
mod uprobe;
pub mod usdt;
pub mod verifier;
mod watchpoint;

use tracebound_compiler::ast::Item;
use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::pipeline::{compile, CompileOptions, Compiled};
use tracebound_compiler::probe::ProviderKind;

pub use mechanism::{
    io_error, Count, Counting, Defined, ListQuery, Mechanism, Price, Unattachable, UprobePoint,
};

use crate::facts::LiveFacts;
use crate::probes::attach::{fail, AttachError, AttachPlan};
use crate::probes::load::Loaded;

/// The kinds the compiler checks but does not resolve (async watchpoints, iterators, `self`):
/// nothing of theirs reaches the kernel.
struct NotAttached(ProviderKind);

impl Mechanism for NotAttached {
    fn attach(&self, _loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        Err(fail(
            plan.first(),
            format!("attaching {} probes is not built yet", self.0.name()),
        ))
    }
}

/// A kind's mechanism.
pub fn mechanism_of(kind: ProviderKind) -> &'static dyn Mechanism {
    match kind {
        ProviderKind::Begin
        | ProviderKind::End
        | ProviderKind::SelfSignal
        | ProviderKind::Bench => &special::Special,
        ProviderKind::Tracepoint => &tracepoint::Tracepoint,
        ProviderKind::RawTracepoint => &rawtracepoint::RawTracepoint,
        ProviderKind::Interval => &interval::Interval,
        ProviderKind::Profile => &profile::Profile,
        ProviderKind::Software => &software::Software,
        ProviderKind::Hardware => &hardware::Hardware,
        ProviderKind::Uprobe => &uprobe::Uprobe { ret: false },
        ProviderKind::Uretprobe => &uprobe::Uprobe { ret: true },
        ProviderKind::Usdt => &usdt::Usdt,
        ProviderKind::Kprobe => &kprobe::Kprobe { ret: false },
        ProviderKind::Kretprobe => &kprobe::Kprobe { ret: true },
        ProviderKind::Fentry => &fentry::Fentry { ret: false },
        ProviderKind::Fexit => &fentry::Fentry { ret: true },
        ProviderKind::Watchpoint => &watchpoint::Watchpoint,
        ProviderKind::AsyncWatchpoint => &NotAttached(ProviderKind::AsyncWatchpoint),
        ProviderKind::Iter => &iter::Iter,
    }
}

/// The kinds `-l` lists, in the order it lists them.
pub const LISTED: &[ProviderKind] = &[
    ProviderKind::Tracepoint,
    ProviderKind::Uprobe,
    ProviderKind::Uretprobe,
    ProviderKind::Usdt,
    ProviderKind::Software,
    ProviderKind::Hardware,
    ProviderKind::Kprobe,
    ProviderKind::Kretprobe,
    ProviderKind::Fentry,
    ProviderKind::Fexit,
    ProviderKind::RawTracepoint,
    ProviderKind::Interval,
    ProviderKind::Profile,
    ProviderKind::Iter,
];

/// The first probe of `compiled` that this kernel cannot attach, as a diagnostic at it,
/// naming what is missing and a probe that works.
pub fn check_attachable(compiled: &Compiled, facts: &LiveFacts) -> Result<(), Diagnostic> {
    let spans: Vec<_> = compiled
        .ast
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(p.attach_points.first().map_or(p.span, |a| a.span)),
            _ => None,
        })
        .collect();
    for probe in &compiled.probes {
        let Some(why) = mechanism_of(probe.kind).unattachable(probe, facts) else {
            continue;
        };
        let span = spans.get(probe.probe_index).copied().unwrap_or_default();
        return Err(match why.lacking {
            None => Diagnostic::error(
                format!(
                    "{} probes are not attached by the runtime yet",
                    probe.kind.name()
                ),
                span,
                "compiled and verified against BTF, but not attached",
            ),
            Some(missing) => Diagnostic::error(
                format!(
                    "cannot attach `{}`: {missing}",
                    probe
                        .targets
                        .first()
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                ),
                span,
                "this kernel cannot attach this probe type",
            ),
        }
        .with_help(why.help));
    }
    Ok(())
}

/// Attaches every target of `plan` by its kind; returns how many attach points were
/// attached. BEGIN and END are not attached: they run once through BPF_PROG_TEST_RUN.
pub fn attach(loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
    mechanism_of(plan.kind).attach(loaded, plan)
}

/// A small script of tracebound's own, compiled, loaded and attached: how the estimate counts
/// syscalls and how calibration measures costs. Dropping it detaches everything.
pub struct AttachedScript {
    pub loaded: Loaded,
    pub compiled: tracebound_compiler::pipeline::Compiled,
}

impl AttachedScript {
    pub fn start(source: &str) -> Result<AttachedScript, String> {
        let compiled = compile(
            source,
            &crate::facts::LiveFacts::new(),
            &CompileOptions::default(),
        )
        .map_err(|d| format!("`{source}` does not compile: {}", d[0].message))?;
        let mut loaded =
            crate::probes::load::load(&compiled.object, &compiled.info.sampled_copies())
                .map_err(|e| format!("loading `{source}`: {e}"))?;
        for p in &compiled.probes {
            let plan = AttachPlan {
                program: p.program.clone(),
                kind: p.kind,
                targets: p.targets.clone(),
                pid: None,
                process: None,
                traced: None,
                dispatch: p.dispatch.clone(),
            };
            attach(&mut loaded, &plan).map_err(|e| e.to_string())?;
        }
        Ok(AttachedScript { loaded, compiled })
    }
}

//! The runtime half of a probe kind, `Mechanism`: what the kernel mechanism a kind fires
//! through needs from the runtime (whether this kernel can attach it, attaching it, how its
//! rate is counted before attaching, what a hit costs, listing it for `-l`), and the values
//! those hooks answer in.

use std::io::Write;
use std::path::Path;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::pipeline::CompiledProbe;
use tracebound_compiler::probe::{Dispatch, ProviderKind, Target};

use crate::cost::CostModel;
use crate::facts::LiveFacts;
use crate::kernel::perf_counter::EventSpec;
use crate::probes::attach::{AttachError, AttachPlan};
use crate::probes::load::Loaded;

/// Why a probe will not be attached here.
pub struct Unattachable {
    /// What the kernel lacks (kprobes, trampolines); `None` when the kernel would attach it
    /// but the runtime does not attach this kind yet.
    pub lacking: Option<String>,
    /// A probe that works here instead.
    pub help: String,
}

/// How an attach point's rate is found before anything of the script is attached.
#[derive(Clone, Debug)]
pub enum Counting {
    /// From its definition.
    Defined(Defined),
    /// A counting-only perf event on each CPU; the probe fires once per `period` events.
    PerfEvent { event: EventSpec, period: u64 },
    /// The one raw tracepoint program on `sys_enter` (and `sys_exit`), counting this syscall.
    Syscall { name: String },
    /// The raw tracepoint program linked to each tracepoint, counting its runs: a hit is a
    /// run, whatever the event's `__perf_count` (which a perf counter would add up instead).
    Tracepoint { name: String },
    /// The program on multi-uprobe links.
    Uprobe(UprobePoint),
    /// Not measurable here (the estimate treats it as 0 and says so).
    Unknown,
}

/// One attach point to count: the binary, the probed instruction's file offset, whether it is
/// a uretprobe, and the file offset of the semaphore the kernel raises while it is attached
/// (usdt sites that have one; 0 for none).
#[derive(Clone, Debug)]
pub struct UprobePoint {
    pub path: String,
    pub offset: u64,
    pub ret: bool,
    pub ref_ctr_offset: u64,
}

/// Rates known without measuring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Defined {
    /// Runs once, or when the user signals tracebound, not per event (BEGIN, END,
    /// `self:signal`).
    Once,
    /// `hz` on one CPU.
    OneCpu { hz: f64 },
    /// `hz` on every CPU while it is busy (a CPU clock does not run on an idle CPU).
    BusyCpus { hz: f64 },
}

/// How one attach point is counted, and (uprobes) whether the kernel emulates the first
/// instruction it breaks on (`None`: unknown).
#[derive(Clone, Debug)]
pub struct Count {
    pub how: Counting,
    pub first_emulated: Option<bool>,
}

impl Count {
    pub fn unknown() -> Count {
        Count {
            how: Counting::Unknown,
            first_emulated: None,
        }
    }

    /// A point whose program runs once (BEGIN/END, an iterator's walk), one per target.
    pub fn once_each(targets: &[Target]) -> Vec<Count> {
        targets
            .iter()
            .map(|_| Count {
                how: Counting::Defined(Defined::Once),
                first_emulated: None,
            })
            .collect()
    }
}

/// What reaching a probe's program costs per hit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// When hits come close together.
    pub warm_ns: f64,
    /// When they are sparse (caches cold); never below `warm_ns`.
    pub cold_ns: f64,
    /// What decided it, when the kind has classes (a uprobe's first instruction).
    pub why: Option<&'static str>,
}

impl Price {
    /// `warm` ns a hit, `cold` when sparse (at least `warm`).
    pub fn new(warm: f64, cold: f64) -> Price {
        Price {
            warm_ns: warm,
            cold_ns: cold.max(warm),
            why: None,
        }
    }
}

/// What `-l PATTERN` asks of each kind: the provider part of the pattern (`*` when it names
/// none) and the rest.
pub struct ListQuery<'a> {
    pub provider: &'a str,
    pub rest: &'a str,
    pub verbose: bool,
}

/// One probe kind's runtime hooks.
pub trait Mechanism: Sync {
    /// Whether this kernel can attach the probe, asked before anything is loaded.
    fn unattachable(&self, probe: &CompiledProbe, facts: &LiveFacts) -> Option<Unattachable> {
        let _ = (probe, facts);
        None
    }

    /// Whether the kernel runs the programs attached to one point latest first (uprobes,
    /// usdt, kprobes, fentry), so that probes of the script's order are attached in reverse
    /// to run in the script's order, as the current release attaches them.
    fn runs_latest_first(&self) -> bool {
        false
    }

    /// Attaches every target of `plan`; returns how many attach points were attached.
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError>;

    /// How a probe's targets can share one program (`Dispatch`), or why they cannot.
    fn dispatch(&self, targets: &[Target], facts: &LiveFacts) -> Result<Dispatch, String> {
        let _ = (targets, facts);
        Err("this probe type attaches each attach point".into())
    }

    /// How each of a probe's targets is counted before attaching (same order).
    fn counting(&self, targets: &[Target], tracefs: &Path) -> Vec<Count> {
        let _ = tracefs;
        targets.iter().map(|_| Count::unknown()).collect()
    }

    /// The mechanism's cost per hit.
    fn price(&self, model: &CostModel, first_emulated: Option<bool>) -> Price {
        let _ = (model, first_emulated);
        Price::new(0.0, 0.0)
    }

    /// Whether the kernel emulates the first instruction `target` breaks on, read from the
    /// binary (for the guard, which has no estimate to ask).
    fn first_emulated(&self, target: &Target) -> Option<bool> {
        let _ = target;
        None
    }

    /// For a probe that runs once per object of one walk when it is read (an iterator),
    /// not per event: about how many objects a walk of `target` visits on this machine now.
    /// `None` for every kind that fires per event.
    fn objects_per_walk(&self, target: &Target) -> Option<u64> {
        let _ = target;
        None
    }

    /// Fires inside a traced process, which pays for each hit itself (uprobes, usdt).
    fn in_process(&self) -> bool {
        false
    }

    /// Prints what the machine offers of this kind that matches `query`; returns how many.
    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        let _ = (query, facts, out);
        Ok(0)
    }
}

/// Whether the provider part of a `-l` pattern matches the kind's name or one of its
/// spellings.
pub fn wants(kind: ProviderKind, query: &ListQuery) -> bool {
    let p = kind.provider();
    let glob = Glob::new(query.provider);
    glob.matches(p.name) || p.aliases.iter().any(|a| glob.matches(a))
}

/// Whether the provider part of a `-l` pattern is this kind by one of its spellings: listing
/// what there are tens of thousands of (kernel functions) needs the kind named.
pub fn named(kind: ProviderKind, query: &ListQuery) -> bool {
    query.provider != "*"
        && tracebound_compiler::probe::lookup(query.provider).is_some_and(|p| p.kind == kind)
}

/// Whether the provider part of a `-l` pattern is exactly one of the kind's spellings.
pub fn spelled(kind: ProviderKind, query: &ListQuery) -> bool {
    let p = kind.provider();
    query.provider == p.name || p.aliases.contains(&query.provider)
}

/// The binaries a `-l` pattern of a uprobe-like kind names, and the rest of it after the
/// binary: `uprobe:BINARY:FUNCTION` (a wildcard binary expanded, a quoted one not), `*:./path:FUNCTION` (any
/// provider, a path), or `uprobe:FUNCTION` in the `-p` process's binaries. `None`: the
/// pattern names no binary of this kind.
pub fn listed_binaries<'q>(
    kind: ProviderKind,
    query: &ListQuery<'q>,
    facts: &dyn MachineFacts,
) -> Result<Option<(Vec<String>, &'q str)>, FactError> {
    if !wants(kind, query) {
        return Ok(None);
    }
    let named = spelled(kind, query);
    // A quoted binary (`"app.apk!/lib/libx.so"`) is taken as written, as in a script.
    let quoted = query
        .rest
        .strip_prefix('"')
        .and_then(|r| r.split_once("\":"))
        .map(|(binary, rest)| (binary, rest, true));
    let split = quoted.or_else(|| {
        let (binary, rest) = query.rest.split_once(':')?;
        Some((binary, rest, false))
    });
    match split {
        Some((binary, rest, quoted)) if named || binary.contains('/') => {
            let paths = if !quoted && binary.contains(['*', '[']) {
                facts.binaries_matching(binary)?
            } else {
                vec![facts.binary_path(binary)?]
            };
            Ok(Some((paths, rest)))
        }
        // No binary: those of the -p process, when there is one.
        None if named => Ok(facts.binaries_matching("*").ok().map(|p| (p, query.rest))),
        _ => Ok(None),
    }
}

pub fn io_error(e: std::io::Error) -> FactError {
    FactError::Unavailable {
        reason: e.to_string(),
    }
}

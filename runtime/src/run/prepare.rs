//! The run's first step, before anything is measured: the processes it follows, the script
//! compiled for this machine, checked against what this kernel can attach, and loaded (the
//! verifier runs here, so a script it rejects fails before anything is spent measuring it).

use std::collections::BTreeMap;

use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::lower::{LowerOptions, PidNamespace};
use tracebound_compiler::pipeline::{compile, CompileOptions, Compiled};
use tracebound_compiler::probe::{Dispatch, ProviderKind, Target};

use crate::facts::LiveFacts;
use crate::probes::check_attachable;
use crate::probes::load::{load, LoadError, Loaded};
use crate::probes::verifier;
use crate::run::child::{process_exists, Child};
use crate::run::error::RunError;
use crate::run::request::{Goal, RunOutcome, RunRequest};

/// A script compiled for this machine, and what it was compiled with.
pub struct Prepared {
    /// Each attach point attached on its own: what the estimate prices.
    pub compiled: Compiled,
    /// The options it was compiled with, to compile it again (`--auto-filter`'s sampling).
    pub options: CompileOptions,
    /// `-c`: forked and held before exec until the probes are attached; killed when dropped.
    pub child: Option<Child>,
    /// The script compiled again with its wildcards as one program each, where their kinds
    /// allow it: what is loaded first, and attached if the estimate says it costs less.
    pub dispatched: Option<Dispatched>,
    /// Wildcards that cannot be one program, and why.
    pub not_dispatched: Vec<(usize, String)>,
    /// `-p`: the process the script's binaries were resolved in (wildcard binaries, its
    /// mount namespace), for compiling it again with the same facts.
    pub process: Option<u32>,
}

/// The script with some probes' attach points sharing one program.
pub struct Dispatched {
    pub compiled: Compiled,
    pub dispatch: BTreeMap<usize, Dispatch>,
}

impl Prepared {
    /// The facts the script was compiled against.
    pub fn facts(&self) -> LiveFacts {
        LiveFacts::of_process(self.process)
    }

    /// What is loaded before measuring: the one-program form where there is one.
    pub fn to_load(&self) -> &Compiled {
        self.dispatched
            .as_ref()
            .map_or(&self.compiled, |d| &d.compiled)
    }
}

/// With this set to 1 in the environment every attach point is attached on its own: for
/// comparing the two ways (the tests, the benchmarks).
pub const ATTACH_EACH: &str = "TRACEBOUND_ATTACH_EACH";

/// With this set to 1 every wildcard that can be one program is, whatever the estimate says
/// each way costs: the other side of the comparison, where the choice must not depend on how
/// busy the machine is.
pub const ATTACH_ONE: &str = "TRACEBOUND_ATTACH_ONE";

/// Whether `ATTACH_ONE` is set.
pub fn attach_one_forced() -> bool {
    std::env::var_os(ATTACH_ONE).is_some_and(|v| v == "1")
}

/// Compiles the script with each wildcard whose kind allows it as one program, the probes
/// one at a time so that one that cannot be (a feature the one program cannot do exactly)
/// is attached each and the others still are not.
fn dispatch(
    source: &str,
    compiled: &Compiled,
    options: &CompileOptions,
    facts: &LiveFacts,
) -> (Option<Dispatched>, Vec<(usize, String)>) {
    if std::env::var_os(ATTACH_EACH).is_some_and(|v| v == "1") {
        return (None, Vec::new());
    }
    let mut targets: BTreeMap<usize, (ProviderKind, Vec<Target>)> = BTreeMap::new();
    for p in &compiled.probes {
        let entry = targets
            .entry(p.probe_index)
            .or_insert_with(|| (p.kind, Vec::new()));
        entry.1.extend(p.targets.iter().cloned());
    }
    let mut accepted: Option<Dispatched> = None;
    let mut refused = Vec::new();
    for (index, (kind, targets)) in targets.into_iter().filter(|(_, (_, t))| t.len() > 1) {
        let dispatch = match crate::probes::mechanism_of(kind).dispatch(&targets, facts) {
            Ok(d) => d,
            Err(why) => {
                refused.push((index, why));
                continue;
            }
        };
        let mut with = accepted
            .as_ref()
            .map(|d| d.dispatch.clone())
            .unwrap_or_default();
        with.insert(index, dispatch);
        let mut trial = options.clone();
        trial.lower.dispatch = with.clone();
        match compile(source, facts, &trial) {
            Ok(c) => {
                accepted = Some(Dispatched {
                    compiled: c,
                    dispatch: with,
                })
            }
            Err(d) => refused.push((
                index,
                d.first().map_or_else(String::new, |d| d.message.clone()),
            )),
        }
    }
    (accepted, refused)
}

/// Forks the `-c` child, compiles the script and, unless the run only wants the compiled
/// program, checks that this kernel can attach it.
pub fn prepare(source: &str, request: &RunRequest) -> Result<Prepared, RunOutcome> {
    if let Some(pid) = request.pid {
        if !process_exists(pid) {
            return Err(RunOutcome::failed(format!("-p {pid}: no such process")));
        }
    }
    // The child is forked first so that `cpid` is a constant in the program; it stays held
    // before exec until the probes are attached, and is killed if anything fails before then.
    let child = match request.command.as_deref().map(Child::spawn_held) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return Err(RunOutcome::failed(format!("-c: {e}"))),
        None => None,
    };
    let options = CompileOptions {
        check: request.check.clone(),
        lower: LowerOptions {
            positional: request.positional.clone(),
            cpid: child.as_ref().map(|c| c.pid),
            start_ns: monotonic_ns(),
            tai_offset_ns: tai_offset_ns(),
            clock_map: request.clock_map.clone(),
            ncpus: crate::kernel::sys::possible_cpus().unwrap_or(1) as u32,
            pid_namespace: crate::kernel::sys::own_pid_namespace()
                .map(|(dev, ino)| PidNamespace { dev, ino }),
            // The guard thins such probes while they run, rather than detach them.
            guard_sampling: request.guard,
            helper_errors: request.helper_errors,
            ..LowerOptions::default()
        },
    };
    let facts = LiveFacts::of_process(request.pid);
    let compiled = compile(source, &facts, &options).map_err(RunOutcome::diagnosed)?;
    let (dispatched, not_dispatched) = if request.goal != Goal::Compile {
        check_attachable(&compiled, &facts).map_err(|d| RunOutcome::diagnosed(vec![d]))?;
        dispatch(source, &compiled, &options, &facts)
    } else {
        (None, Vec::new())
    };
    Ok(Prepared {
        compiled,
        options,
        child,
        dispatched,
        not_dispatched,
        process: request.pid,
    })
}

/// `--flamegraph` and `-f folded` need a map keyed by a stack and weighed by `count()` or
/// `sum()`; without one the run is refused before anything is loaded, not ended with an
/// empty picture.
pub fn stacks_to_fold(compiled: &Compiled, request: &RunRequest) -> Option<RunOutcome> {
    let asked = match (&request.flamegraph, request.format) {
        (Some(_), _) => "--flamegraph",
        (None, crate::output::Format::Folded) => "-f folded",
        _ => return None,
    };
    if compiled
        .info
        .maps
        .iter()
        .any(crate::output::folded::foldable)
    {
        return None;
    }
    Some(RunOutcome::failed(format!(
        "{asked}: no map in the script is keyed by a stack and counted: write one such as \
         `@[ustack] = count()`, `@[kstack, comm] = count()` or `@[kstack] = sum(...)`"
    )))
}

/// Loads the script's programs without attaching anything; a verifier rejection is a
/// diagnostic at the statement.
pub fn load_script(compiled: &Compiled) -> Result<Loaded, RunError> {
    let mut loaded = load(&compiled.object, &compiled.info.sampled_copies())
        .map_err(|e| verifier_diagnostic(compiled, e))?;
    if compiled.writes_trace_buffer() {
        // Not fatal: the buffer is still readable at /sys/kernel/tracing/trace_pipe.
        if let Err(e) = crate::kernel::tracefs::ensure_debugfs_tracing() {
            eprintln!("WARNING: debugf: {e}; read the output at /sys/kernel/tracing/trace_pipe");
        }
    }
    // A wildcard attached as one program reads its members' `probe` and `func` from a map.
    for texts in &compiled.info.member_texts {
        for (key, value) in &texts.entries {
            loaded
                .write_map(&texts.map, &key.to_ne_bytes(), value)
                .map_err(|e| RunError::Other(format!("writing {}: {e}", texts.map)))?;
        }
    }
    // A probe `--auto-filter` sampled and the guard may thin reads its N from the guard's map.
    for g in &compiled.info.guard_sampled {
        let n = g
            .maps
            .iter()
            .map(|&m| compiled.info.maps[m].sampled)
            .max()
            .unwrap_or(1);
        if n > 1 {
            loaded
                .set_sampling(g.slot, n, &g.copies)
                .map_err(|e| RunError::Other(format!("setting the sampling of a probe: {e}")))?;
        }
    }
    Ok(loaded)
}

/// A verifier rejection shown at the statement whose instruction was rejected.
fn verifier_diagnostic(compiled: &Compiled, e: LoadError) -> RunError {
    let LoadError::Program {
        name, verifier_log, ..
    } = &e
    else {
        return RunError::Load(e);
    };
    let Some(probe) = (compiled.probes.iter().chain(&compiled.copies)).find(|p| &p.program == name)
    else {
        return RunError::Load(e);
    };
    // The program as loaded: the probe's function, then its callbacks in link order.
    let insns: Vec<_> = std::iter::once(&probe.code)
        .chain(probe.code.callees_in_link_order())
        .flat_map(|f| f.code.insns.iter().copied())
        .collect();
    let rejection = verifier::rejection(verifier_log, &insns);
    let span = rejection
        .insn
        .and_then(|i| probe.spans.get(i).copied())
        .unwrap_or_default();
    let mut d = Diagnostic::error(
        "the kernel's BPF verifier rejected this statement",
        span,
        rejection.reason,
    )
    .with_note("run with -v to see the verifier's full log");
    if let Some(help) = rejection.help {
        d = d.with_help(help);
    }
    RunError::Rejected {
        diagnostic: Box::new(d),
        log: verifier_log.clone(),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `nsecs` reads in the kernel.
fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_TAI less CLOCK_BOOTTIME, read back to back: what the software TAI clock
/// (`nsecs(sw_tai)`, `tseries`) adds to the boot clock the kernel reads.
fn tai_offset_ns() -> u64 {
    let boot = clock_ns(libc::CLOCK_BOOTTIME);
    clock_ns(libc::CLOCK_TAI).wrapping_sub(boot)
}

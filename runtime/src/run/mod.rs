//! The run, from a script's text to its last line of output, in the order the code runs:
//!
//! 1. `prepare`: fork the `-c` child (held before exec), compile for this machine, check what
//!    this kernel can attach, load (the verifier runs here);
//! 2. `verdict`: measure each attach point's rate, price it, judge it against the budget and
//!    narrow it with `--auto-filter` (compiling and loading again to sample); what it gives is
//!    the `Clearance` attaching requires;
//! 3. `session`: attach, BEGIN, the event loop over the ring buffer (`events`), the overhead
//!    guard (`guard`), the `--metrics` endpoint (`metrics`, bound before step 1), END, the
//!    maps (`symbols` names stacks and addresses).
//!
//! `request` holds what the binary asks and how a run ends, `error` how a step fails, `stop`
//! the signals that end a run, `child` the processes it follows. Imports run one way: this
//! module uses the steps, the steps use `request`, `error` and `stop`, never this module.

pub mod child;
pub mod error;
pub mod events;
pub mod guard;
pub mod metrics;
pub mod prepare;
pub mod request;
pub mod sampling;
pub mod session;
pub mod stop;
pub mod symbols;
pub mod verdict;

pub use request::{Goal, RunOutcome, RunRequest};

use crate::run::events::ScriptPlace;
use crate::run::session::RunOptions;

/// Runs `source` as `request` asks: compiles it, loads it, costs it, judges it against the
/// budget (narrowing it with `--auto-filter`), attaches what the budget cleared and runs it
/// until it ends. Every probe is detached on every way out.
pub fn run(source: &str, mut request: RunRequest) -> RunOutcome {
    // First thing: a signal that comes while the script is compiled, loaded or measured must
    // not be lost.
    stop::catch_stop_signals();
    // Bound before anything else, so that a port in use fails before anything is attached.
    let listening = match request.metrics.take().filter(|_| request.goal == Goal::Run) {
        Some((addr, labels)) => match metrics::listen(addr, labels) {
            Ok(l) => Some(l),
            Err(e) => return RunOutcome::failed(e.to_string()),
        },
        None => None,
    };
    let prepared = match prepare::prepare(source, &request) {
        Ok(p) => p,
        Err(ended) => return ended,
    };
    if let Some(refused) = prepare::stacks_to_fold(&prepared.compiled, &request) {
        return refused;
    }
    // Attach points left out (`missing_probes = warn`), said before anything is loaded.
    for warning in &prepared.compiled.warnings {
        (request.warn)(warning);
    }
    if request.goal == Goal::Compile {
        return RunOutcome::Compiled(Box::new(prepared.compiled));
    }
    let mut prepared = prepared;
    let loaded = match prepare::load_script(prepared.to_load()) {
        Ok(loaded) => loaded,
        // The one-program form refused: the script as attached each is loaded (and its own
        // rejection, if it has one, reported).
        Err(e) if prepared.dispatched.is_some() => {
            let why = format!("the one program did not load: {e}");
            let dispatched = prepared.dispatched.take().map(|d| d.dispatch);
            prepared.not_dispatched.extend(
                dispatched
                    .into_iter()
                    .flatten()
                    .map(|(i, _)| (i, why.clone())),
            );
            match prepare::load_script(&prepared.compiled) {
                Ok(loaded) => loaded,
                Err(e) => return e.into(),
            }
        }
        Err(e) => return e.into(),
    };
    let cleared = match verdict::judge(source, prepared, loaded, &mut request) {
        Ok(c) => c,
        Err(ended) => return ended,
    };
    let mut out: Box<dyn std::io::Write> = match &request.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => return RunOutcome::failed(format!("{}: {e}", path.display())),
        },
        None => Box::new(std::io::stdout().lock()),
    };
    let options = RunOptions {
        format: request.format,
        // The command line wins over the script's `config = { max_duration = ... }`.
        timeout: request.timeout.or(cleared.compiled.limits.max_duration),
        child: cleared.child,
        watch_pid: request.pid,
        uprobe_pid: cleared.uprobe_pid,
        quiet: request.quiet,
        metrics: listening.map(|l| l.costed(&cleared.estimate, &cleared.budget)),
        guard: request.guard.then_some((cleared.budget, cleared.model)),
        percentiles: request.percentiles,
        flamegraph: request.flamegraph.clone(),
        script: ScriptPlace {
            name: request.script_name.clone(),
            source: source.to_string(),
            warnings: !request.no_warnings,
        },
        bench: request.bench,
    };
    let ran = session::run(
        &cleared.compiled,
        cleared.loaded,
        &cleared.clearance,
        options,
        &mut out,
    );
    match ran {
        Ok(code) => RunOutcome::Exited(code),
        Err(e) => e.into(),
    }
}

//! The run's second step, with the script loaded and nothing attached: measure what it will
//! cost, judge that against the budget and, with `--auto-filter`, narrow it until it fits
//! (uprobes kept to the `-c` command, probes sampled 1 in N and compiled again, the hottest
//! members of wildcards left out), each step named. What comes out is a [`Clearance`] for
//! exactly the attach points that were costed, which attaching requires.

use std::time::Duration;

use tracebound_compiler::lower;
use tracebound_compiler::pipeline::{compile, Compiled};

use crate::estimate::{self, Budget, Clearance, CostModel, Estimate, Verdict};
use crate::output::Format;
use crate::probes::load::Loaded;
use crate::run::child::Child;
use crate::run::prepare::{attach_one_forced, load_script, Prepared};
use crate::run::request::{Goal, RunOutcome, RunRequest};
use crate::run::stop::stopped_before_attaching;

/// A script costed and cleared to attach.
pub struct Cleared {
    /// The program as it will attach (narrowed, or compiled again, by `--auto-filter`).
    pub compiled: Compiled,
    pub loaded: Loaded,
    pub clearance: Clearance,
    pub child: Option<Child>,
    /// The limits and the costs the guard holds the running script to.
    pub budget: Budget,
    pub model: CostModel,
    /// Where uprobes fire: the `-p` process, or (an `--auto-filter` step) the `-c` command.
    pub uprobe_pid: Option<u32>,
    /// What the cleared script was projected to cost (`--metrics` shows it).
    pub estimate: Estimate,
}

/// The script measured as loaded, and what the budget says.
struct Judged {
    estimate: Estimate,
    verdict: Verdict,
    uprobe_pid: Option<u32>,
}

/// What the budget says about the loaded script, narrowed with `--auto-filter`. A dry run
/// prints the estimate here; it and a refused script end the run.
pub fn judge(
    source: &str,
    mut prepared: Prepared,
    mut loaded: Loaded,
    request: &mut RunRequest,
) -> Result<Cleared, RunOutcome> {
    // The command line wins over the script's `config = { budget = ... }`.
    let budget = request
        .budget_pct
        .or(prepared.compiled.limits.budget_pct)
        .map_or_else(Budget::default, Budget::of_machine);
    let model = cost_model(&prepared.compiled);
    let estimate = measure(&prepared.compiled, request, model.clone(), budget)?;
    let verdict = budget.judge(&estimate, &prepared.compiled);
    let mut judged = Judged {
        estimate,
        verdict,
        uprobe_pid: request.pid,
    };
    if request.auto_filter {
        scope_uprobes_to_child(&budget, &mut judged, &prepared);
        if matches!(judged.verdict, Verdict::Refuse(_)) {
            // Narrowing compiles, loads and leaves out members of the script as attached each.
            if let Some(d) = prepared.dispatched.take() {
                let why = "--auto-filter narrows the script".to_string();
                prepared
                    .not_dispatched
                    .extend(d.dispatch.into_keys().map(|i| (i, why.clone())));
                drop(loaded);
                loaded = load_script(&prepared.compiled)?;
            }
            loaded = narrow(source, &budget, &mut judged, &mut prepared, loaded)?;
        }
    }
    let Judged {
        estimate,
        verdict,
        uprobe_pid,
    } = judged;
    let choices = prepared.dispatched.as_ref().map_or_else(Vec::new, |d| {
        estimate::dispatch::choose(&estimate, &d.dispatch, attach_one_forced())
    });
    let dry_run = request.goal == Goal::DryRun;
    if dry_run {
        print_estimate(
            request.format,
            &estimate,
            &prepared.compiled,
            source,
            &budget,
            &verdict,
        );
        if request.format == Format::Text {
            let shown = |i: usize| {
                let span = estimate::budget::probe_span(&prepared.compiled, i);
                source.get(span.range()).unwrap_or("?").to_string()
            };
            print!(
                "{}",
                estimate::dispatch::text(&choices, &prepared.not_dispatched, estimate.cpus, shown)
            );
        }
    }
    match verdict {
        Verdict::Refuse(d) => return Err(RunOutcome::OverBudget(Box::new(d))),
        Verdict::Warn(d) if !dry_run => (request.warn)(&d),
        _ => {}
    }
    if dry_run {
        return Err(RunOutcome::Exited(0));
    }
    let loaded = settle_attachment(source, &mut prepared, loaded, &choices)?;
    let loaded = size_ring(
        source,
        &mut prepared,
        loaded,
        &estimate,
        request.auto_filter,
    )?;
    let Some(clearance) = Clearance::grant(&budget, &estimate, &prepared.compiled) else {
        return Err(RunOutcome::failed(
            "the budget refused on a second reading a script it had passed".into(),
        ));
    };
    Ok(Cleared {
        compiled: prepared.compiled,
        loaded,
        clearance,
        child: prepared.child,
        budget,
        model,
        uprobe_pid,
        estimate,
    })
}

/// The script as it will attach: each probe the estimate says is cheaper as one program in
/// that form, the others attached each (compiled and loaded again when that is not what was
/// loaded).
fn settle_attachment(
    source: &str,
    prepared: &mut Prepared,
    loaded: Loaded,
    choices: &[estimate::dispatch::Choice],
) -> Result<Loaded, RunOutcome> {
    let Some(dispatched) = prepared.dispatched.take() else {
        return Ok(loaded);
    };
    let one: std::collections::BTreeMap<_, _> = choices
        .iter()
        .filter(|c| c.one())
        .map(|c| (c.probe_index, c.dispatch.clone()))
        .collect();
    if one == dispatched.dispatch {
        prepared.compiled = dispatched.compiled;
        return Ok(loaded);
    }
    drop(loaded);
    if !one.is_empty() {
        let mut options = prepared.options.clone();
        options.lower.dispatch = one;
        prepared.compiled =
            compile(source, &prepared.facts(), &options).map_err(RunOutcome::diagnosed)?;
    }
    Ok(load_script(&prepared.compiled)?)
}

/// The script with a ring buffer that holds what the estimate projects its probes send
/// (`estimate::ring`), compiled and loaded again when that is more than it has; unless the
/// script or the environment gave `perf_rb_pages`, or `--auto-filter` is on (its narrowed
/// program is not compiled again).
fn size_ring(
    source: &str,
    prepared: &mut Prepared,
    loaded: Loaded,
    estimate: &Estimate,
    auto_filter: bool,
) -> Result<Loaded, RunOutcome> {
    let limits = &prepared.compiled.limits;
    if limits.perf_rb_pages_given || auto_filter {
        return Ok(loaded);
    }
    let pages = estimate::ring::pages_for(estimate, &prepared.compiled);
    if pages
        <= limits
            .perf_rb_pages
            .max(prepared.options.lower.ringbuf_pages)
    {
        return Ok(loaded);
    }
    let mut options = prepared.options.clone();
    options.lower.ringbuf_pages = pages;
    options.lower.dispatch = prepared
        .compiled
        .probes
        .iter()
        .filter_map(|p| Some((p.probe_index, p.dispatch.clone()?)))
        .collect();
    drop(loaded);
    prepared.compiled =
        compile(source, &prepared.facts(), &options).map_err(RunOutcome::diagnosed)?;
    prepared.options = options;
    Ok(load_script(&prepared.compiled)?)
}

/// Each attach point's rate over the estimate window (or until the verdict is known), priced; with `-p`, uprobes are measured
/// in that process, where they will fire.
fn measure(
    compiled: &Compiled,
    request: &RunRequest,
    model: CostModel,
    budget: Budget,
) -> Result<Estimate, RunOutcome> {
    let max = request.estimate_window.max(Duration::from_millis(1));
    let window = estimate::Window {
        max,
        min: request.estimate_min.min(max),
        // `--auto-filter` narrows by the rates themselves: it needs the whole window.
        budget: (!request.auto_filter).then_some(budget),
    };
    let estimate = estimate::estimate(compiled, window, model, request.pid)
        .map_err(|e| RunOutcome::failed(format!("measuring the probes' rates: {e}")))?;
    if let Some(code) = stopped_before_attaching() {
        return Err(RunOutcome::Stopped(code));
    }
    Ok(estimate)
}

/// This host's costs: cached, or measured now the first time a script needs them (a script
/// of BEGIN and END only does not).
fn cost_model(compiled: &Compiled) -> CostModel {
    let fires = compiled.probes.iter().any(|p| !p.kind.runs_once());
    if !fires {
        return CostModel::default();
    }
    match estimate::calibrate::cached_or_measure() {
        Ok(c) => c.model(),
        Err(e) => {
            eprintln!("tracebound: calibration failed ({e}); pricing with reference-machine costs");
            CostModel::default()
        }
    }
}

/// The first `--auto-filter` step, for a script refused with `-c` and no `-p`: its uprobes
/// fire in the command only.
fn scope_uprobes_to_child(budget: &Budget, judged: &mut Judged, prepared: &Prepared) {
    let child_pid = prepared.child.as_ref().map(|c| c.pid);
    if let (Verdict::Refuse(_), Some(pid)) = (&judged.verdict, child_pid) {
        if judged.uprobe_pid.is_none() && estimate::scope_uprobes(&mut judged.estimate) {
            eprintln!(
                "auto-filter: uprobes fire in the -c command only (pid {pid}); it has not run \
                 yet, so its rate is unknown: the guard watches it"
            );
            judged.uprobe_pid = Some(pid);
            judged.verdict = budget.judge(&judged.estimate, &prepared.compiled);
        }
    }
}

/// The rest of `--auto-filter`, for a script still refused: sample probes 1 in N (compiled
/// and loaded again with the draw) and leave out the hottest members of wildcards, each step
/// named, or say that nothing brings it under budget.
fn narrow(
    source: &str,
    budget: &Budget,
    judged: &mut Judged,
    prepared: &mut Prepared,
    mut loaded: Loaded,
) -> Result<Loaded, RunOutcome> {
    let samplable = lower::sample::samplable(&prepared.compiled.ast);
    let indexes: Vec<usize> = samplable.keys().copied().collect();
    let Some(narrowing) = estimate::narrow::narrow(&judged.estimate, budget, &indexes) else {
        if let Verdict::Refuse(d) = &mut judged.verdict {
            *d = d.clone().with_note(
                "--auto-filter: neither leaving out members of wildcards nor sampling brings this \
                 under budget",
            );
        }
        return Ok(loaded);
    };
    for (&index, &n) in &narrowing.sampled {
        let span = estimate::budget::probe_span(&prepared.compiled, index);
        eprintln!(
            "auto-filter: sampling `{}` 1 hit in {n} (its program costs more than \
             reaching it); @{} print multiplied by {n} and marked sampled",
            source.get(span.range()).unwrap_or("?"),
            samplable[&index].join(", @")
        );
    }
    for d in &narrowing.dropped {
        eprintln!(
            "auto-filter: leaving out {} ({} events/s, {} of the machine)",
            d.target,
            estimate::budget::quantity(d.rate),
            estimate::budget::percent(d.machine_pct)
        );
    }
    eprintln!(
        "auto-filter: {} attach point(s) left out, {} probe(s) sampled; projected {} of \
         the machine, {} of the busiest CPU",
        narrowing.dropped.len(),
        narrowing.sampled.len(),
        estimate::budget::percent(narrowing.after.machine_pct()),
        estimate::budget::percent(narrowing.after.busiest_cpu_pct())
    );
    if !narrowing.sampled.is_empty() {
        // The sampled probes need their programs compiled again, with the draw.
        let mut sampled_options = prepared.options.clone();
        sampled_options.lower.sample = narrowing.sampled.clone();
        prepared.compiled =
            compile(source, &prepared.facts(), &sampled_options).map_err(RunOutcome::diagnosed)?;
        drop(loaded);
        loaded = load_script(&prepared.compiled)?;
    }
    estimate::apply_narrowing(&mut prepared.compiled, &narrowing);
    judged.verdict = budget.judge(&narrowing.after, &prepared.compiled);
    judged.estimate = narrowing.after;
    Ok(loaded)
}

/// `--dry-run`'s table (or its JSON).
fn print_estimate(
    format: Format,
    estimate: &Estimate,
    compiled: &Compiled,
    source: &str,
    budget: &Budget,
    verdict: &Verdict,
) {
    match format {
        Format::Json => print!("{}", estimate::report::json(estimate, budget, verdict)),
        Format::Text | Format::Folded => print!(
            "{}",
            estimate::report::text(estimate, compiled, source, budget, verdict)
        ),
    }
}

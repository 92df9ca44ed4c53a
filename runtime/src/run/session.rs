//! The run's last step: attach what the budget cleared, BEGIN, the event loop over the ring
//! buffer (records are handled in `events`, the overhead in `guard`), and on exit() / Ctrl-C /
//! SIGTERM / SIGHUP / the followed process's exit / the timeout: END, the maps, detach.
//! Everything is owned by one `Loaded`, so every path out of `run` — success, error, signal,
//! panic unwinding — drops it and detaches every probe.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::ProviderKind;

use crate::estimate::{Budget, Clearance, CostModel};
use crate::kernel::ring::RingReader;
use crate::kernel::sys;
use crate::output::bench::{bench_json, bench_text};
use crate::output::flamegraph::{flamegraph_svg, Weight};
use crate::output::render::Presentation;
use crate::output::{self, Format};
use crate::probes::attach::AttachPlan;
use crate::probes::load::Loaded;
use crate::run::child::{process_exists, Child};
use crate::run::error::RunError;
use crate::run::events::{
    drain, handle_frames, EventState, ExitFlag, Losses, PrintfPlans, ScriptPlace,
};
use crate::run::guard::Guard;
use crate::run::metrics::{Endpoint, Metrics};
use crate::run::sampling::GuardSampling;
use crate::run::stop::{
    catch_user_signal, stop_requested, stopped_before_attaching, take_user_signals,
};
use crate::run::symbols::Symbols;

#[derive(Default)]
pub struct RunOptions {
    pub format: Format,
    /// Stop after this long, as if Ctrl-C was pressed.
    pub timeout: Option<Duration>,
    /// `-c`: released once the probes are attached; the run ends when it exits.
    pub child: Option<Child>,
    /// `-p`: the run ends when this process exits.
    pub watch_pid: Option<u32>,
    /// Uprobes fire in this process only (`-p`, or the `-c` command when `--auto-filter`
    /// scoped them there).
    pub uprobe_pid: Option<u32>,
    /// `-q`: no "Attached N probes" line.
    pub quiet: bool,
    /// The budget the runtime guard holds the running script to, and the costs it prices
    /// hits with; `None`: no guard.
    pub guard: Option<(Budget, CostModel)>,
    /// `--metrics`: the bound endpoint, served from before attaching to the end of the run.
    pub metrics: Option<Metrics>,
    /// `--percentiles`: histograms print as percentile tables.
    pub percentiles: bool,
    /// `--flamegraph FILE`: the stack-keyed maps drawn as an SVG at exit.
    pub flamegraph: Option<std::path::PathBuf>,
    /// Where `errorf`/`warnf` say they come from.
    pub script: ScriptPlace,
    /// `--bench`: the `bench:` probes run after BEGIN, and the run ends after them.
    pub bench: bool,
}

/// How often the event loop reads the loss counters and the exit flag.
const COUNTERS_EVERY: Duration = Duration::from_millis(100);

/// The run's readers of what the kernel side records.
struct Running {
    ring: RingReader,
    state: EventState,
    lost: Losses,
    exit_flag: ExitFlag,
    /// `--metrics`, serving until the run is over.
    metrics: Option<Endpoint>,
}

/// Attaches a loaded script (only what `clearance` names) and runs it until exit(), a signal,
/// the followed process's exit or the timeout; returns the process exit code.
pub fn run(
    compiled: &Compiled,
    mut loaded: Loaded,
    clearance: &Clearance,
    mut options: RunOptions,
    out: &mut dyn Write,
) -> Result<i32, RunError> {
    if let Some(code) = stopped_before_attaching() {
        return Ok(code.into());
    }
    let ring = ring_reader(
        &loaded
            .take_map(&compiled.ringbuf)
            .ok_or_else(|| RunError::Other("the ring buffer is not in the object".into()))?,
    )?;
    let metrics = match options.metrics.take() {
        Some(m) => Some(
            m.serve(&loaded, compiled)
                .map_err(|e| RunError::Other(e.to_string()))?,
        ),
        None => None,
    };
    // BEGIN runs before the other probes are attached, as in the current release, so that
    // what it sets up (`@start = nsecs`) is there before any of them fires.
    run_special(&loaded, compiled, ProviderKind::Begin)?;
    let processes = Processes {
        uprobes: options.uprobe_pid,
        watched: options.watch_pid.or(options.child.as_ref().map(|c| c.pid)),
        traced: options.watch_pid,
    };
    attach_all(&mut loaded, compiled, clearance, processes)?;
    if compiled
        .probes
        .iter()
        .any(|p| p.kind == ProviderKind::SelfSignal)
    {
        catch_user_signal();
    }
    announce(compiled, &options, out)?;
    // Fault injection for the exit-path tests: a panic with everything attached must leave
    // nothing behind (unwinding drops `loaded`; an abort would close its fds all the same).
    if std::env::var_os("TRACEBOUND_FAULT").is_some_and(|f| f == "panic-after-attach") {
        panic!("TRACEBOUND_FAULT=panic-after-attach");
    }
    let mut running = Running {
        ring,
        state: EventState {
            exit_code: None,
            how: Presentation {
                format: options.format,
                percentiles: options.percentiles,
            },
            symbols: Symbols::new(
                take_stack_maps(&mut loaded),
                compiled.limits.show_debug_info,
            ),
            sampling: GuardSampling::new(),
            script: std::mem::take(&mut options.script),
            printf: PrintfPlans::new(&compiled.info.actions),
            stop: Default::default(),
        },
        lost: Losses::new(&mut loaded, compiled, compiled.limits.max_map_keys)?,
        exit_flag: ExitFlag::new(&mut loaded, compiled)?,
        metrics,
    };
    begin(&mut running, &loaded, compiled, &mut options, out)?;
    if options.bench {
        benchmark(&mut running, &loaded, compiled, options.format, out)?;
    }
    // A script of BEGIN and END only has nothing to wait for: it ends after BEGIN, as in the
    // current release (a `-c` command still runs to its end); a benchmark run ends after
    // its benchmarks.
    let walks = compiled.probes.iter().any(|p| p.kind == ProviderKind::Iter);
    let waits = (compiled.probes.iter().any(|p| !p.kind.runs_once()) || options.child.is_some())
        && !options.bench
        && !walks;
    if walks {
        walk_iterators(&mut running, &loaded, compiled, out)?;
    } else if waits {
        watch(&mut running, &mut loaded, compiled, &mut options, out)?;
    }
    let code = end(&mut running, &loaded, compiled, options.format, out)?;
    let maps = print_maps(&running.state, &loaded, compiled, out)?;
    if let Some(path) = &options.flamegraph {
        write_flamegraph(path, &maps, &running.state.symbols)?;
    }
    drop(loaded);
    Ok(code)
}

/// Once every probe is attached, as the current release says it: "Attached N probes" on
/// stderr (its JSON on the output), unless `-q`; then, when the environment has
/// `__BPFTRACE_NOTIFY_PROBES_ATTACHED`, that name on a line of stdout whatever `-o` and `-q`
/// say (bpftrace's test suite waits for it before starting its workload).
fn announce(
    compiled: &Compiled,
    options: &RunOptions,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    // A probe's attach points by name: a USDT probe with several sites counts once, as the
    // current release counts it.
    // (A probe's sites may be programs of their own.)
    let attach_points = compiled
        .probes
        .iter()
        .flat_map(|p| p.targets.iter().map(|t| (p.probe_index, t.to_string())))
        .collect::<std::collections::HashSet<_>>()
        .len();
    let mut text = Vec::new();
    match options.format {
        _ if options.quiet => {}
        // On stderr, so that folded output carries nothing but the stacks.
        Format::Text | Format::Folded => {
            output::attached_text(&mut text, attach_points);
            let mut stderr = std::io::stderr().lock();
            stderr.write_all(&text)?;
            stderr.flush()?;
        }
        Format::Json => {
            output::json::attached_json(&mut text, attach_points);
            out.write_all(&text)?;
        }
    }
    out.flush()?;
    if std::env::var_os(output::NOTIFY_ATTACHED).is_some() {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", output::NOTIFY_ATTACHED)?;
        stdout.flush()?;
    }
    Ok(())
}

/// The processes probes are confined to.
struct Processes {
    /// Uprobes fire in this one only (`RunOptions::uprobe_pid`).
    uprobes: Option<u32>,
    /// A watchpoint's user address is in this one's memory (`-p`, else `-c`).
    watched: Option<u32>,
    /// `-p`: software events are this one's.
    traced: Option<u32>,
}

/// Attaches every probe, after checking that the budget cleared each of its attach points.
fn attach_all(
    loaded: &mut Loaded,
    compiled: &Compiled,
    clearance: &Clearance,
    processes: Processes,
) -> Result<(), RunError> {
    if let Some(point) = clearance.uncosted(compiled) {
        return Err(RunError::Other(format!(
            "{point} was not costed: nothing is attached that the budget has not cleared"
        )));
    }
    // Probes the kernel runs in the order attached first, in the script's order; then the
    // others in reverse, since the kernel runs them latest first.
    let latest_first = |p: &&tracebound_compiler::pipeline::CompiledProbe| {
        crate::probes::mechanism_of(p.kind).runs_latest_first()
    };
    let in_order = compiled.probes.iter().filter(|p| !latest_first(p));
    let reversed = compiled.probes.iter().rev().filter(latest_first);
    for p in in_order.chain(reversed) {
        let plan = AttachPlan {
            program: p.program.clone(),
            kind: p.kind,
            targets: p.targets.clone(),
            pid: processes.uprobes,
            process: processes.watched,
            traced: processes.traced,
            dispatch: p.dispatch.clone(),
        };
        crate::probes::attach(loaded, &plan).map_err(RunError::Attach)?;
    }
    Ok(())
}

/// What BEGIN recorded, and then the `-c` command let go.
fn begin(
    running: &mut Running,
    loaded: &Loaded,
    compiled: &Compiled,
    options: &mut RunOptions,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
    running.lost.report(options.format, out)?;
    if running.state.exit_code.is_none() {
        running.state.exit_code = running.exit_flag.raised()?;
    }
    if let Some(child) = &mut options.child {
        child.release();
    }
    Ok(())
}

/// The event loop, with the guard: until exit(), a signal, the followed process's exit or
/// the timeout.
fn watch(
    running: &mut Running,
    loaded: &mut Loaded,
    compiled: &Compiled,
    options: &mut RunOptions,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let may_sample = running.metrics.is_none();
    let mut guard = options
        .guard
        .take()
        .and_then(|(budget, model)| Guard::start(loaded, compiled, budget, &model, may_sample));
    let deadline = options.timeout.map(|t| std::time::Instant::now() + t);
    let mut counters_read = std::time::Instant::now();
    let ring_fd = running.ring.as_raw_fd();
    let mut pace = Pace::new();
    let mut nap = None;
    while running.state.exit_code.is_none() && !stop_requested() {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
        // The followed process is gone: take its last events, then end.
        let child_done = options.child.as_mut().is_some_and(Child::has_exited);
        let pid_done = options.watch_pid.is_some_and(|p| !process_exists(p));
        if child_done || pid_done {
            drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
            break;
        }
        // Under a stream of records the loop naps instead of waiting to be woken: records
        // gather meanwhile (the kernel wakes a reader only once it has caught up, so each
        // wakeup costs the traced code), and the next drain takes them as one batch.
        match nap {
            Some(nap) => std::thread::sleep(nap),
            None => {
                let mut fds = libc::pollfd {
                    fd: ring_fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                unsafe { libc::poll(&mut fds, 1, 100) };
            }
        }
        // Each SIGUSR1 runs the `self:signal:SIGUSR1` probes once, in the script's order.
        for _ in 0..take_user_signals() {
            run_special(loaded, compiled, ProviderKind::SelfSignal)?;
        }
        let from = running.ring.position();
        let handled = drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
        nap = pace.nap(handled, running.ring.position() - from, running.ring.size());
        // The kernel's counters, at most every poll interval: under a stream of events the
        // loop turns far more often, and each read is a syscall per map.
        if counters_read.elapsed() >= COUNTERS_EVERY {
            counters_read = std::time::Instant::now();
            running.lost.report(options.format, out)?;
            if running.state.exit_code.is_none() {
                running.state.exit_code = running.exit_flag.raised()?;
            }
        }
        if let Some(guard) = &mut guard {
            guard.check(
                loaded,
                compiled,
                &mut running.state.sampling,
                options.format,
                out,
            )?;
            if let Some(endpoint) = &running.metrics {
                guard.detached().for_each(|p| endpoint.note_detached(p));
            }
        }
    }
    Ok(())
}

/// An iter probe's run: one walk of its iterator read to the end, what its program wrote
/// for each object handled as it arrives, as the current release runs it.
fn walk_iterators(
    running: &mut Running,
    loaded: &Loaded,
    compiled: &Compiled,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    use std::io::Read;
    for p in compiled
        .probes
        .iter()
        .filter(|p| p.kind == ProviderKind::Iter)
    {
        for target in &p.targets {
            let walk_error =
                |e: std::io::Error| RunError::Other(format!("cannot walk {target}: {e}"));
            let mut walk =
                crate::probes::iter::open_walk(loaded, &p.program).map_err(walk_error)?;
            let mut stream = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while !stop_requested() {
                let n = walk.read(&mut buf).map_err(walk_error)?;
                if n == 0 {
                    break;
                }
                stream.extend_from_slice(&buf[..n]);
                handle_frames(&mut stream, loaded, compiled, &mut running.state, out)?;
            }
            // The probe's records all went to the seq file; the ring buffer holds what
            // BEGIN left unread, if anything.
            drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
        }
    }
    if running.state.exit_code.is_none() {
        running.state.exit_code = running.exit_flag.raised()?;
    }
    Ok(())
}

/// END, after the other probes stop counting (bpftrace detaches them first), and what it
/// recorded; returns the run's exit code.
fn end(
    running: &mut Running,
    loaded: &Loaded,
    compiled: &Compiled,
    format: Format,
    out: &mut dyn Write,
) -> Result<i32, RunError> {
    let code = running.state.exit_code.unwrap_or(0);
    running.state.exit_code = None;
    if stop_requested() {
        // What the probes queued before they were detached, within the stop's grace; the
        // rest is counted, never handled (a Ctrl-C ends the run now).
        drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
        let unread = running
            .ring
            .batch(usize::MAX, |_| Ok::<_, RunError>(true))?;
        if unread > 0 {
            eprintln!("WARNING: the run was stopped with {unread} events not yet printed");
            let mut text = Vec::new();
            match format {
                Format::Text | Format::Folded => output::lost_events_text(&mut text, unread as u64),
                Format::Json => output::json::lost_events_json(&mut text, unread as u64),
            }
            out.write_all(&text)?;
        }
    }
    running.state.stop.ending = true;
    run_special(loaded, compiled, ProviderKind::End)?;
    drain(&mut running.ring, loaded, compiled, &mut running.state, out)?;
    running.lost.report(format, out)?;
    Ok(code)
}

/// Every map, as bpftrace prints them at exit (or as `--percentiles`, `-f folded` ask; none
/// with `print_maps_on_exit = 0`); the maps as read, for the flame graph.
fn print_maps(
    state: &EventState,
    loaded: &Loaded,
    compiled: &Compiled,
    out: &mut dyn Write,
) -> Result<Vec<output::MapData>, RunError> {
    let maps = (0..compiled.info.maps.len())
        .filter(|_| compiled.limits.print_maps_on_exit)
        .map(|map| state.sampling.snapshot(loaded, compiled, map))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Other(e.to_string()))?;
    let mut text = Vec::new();
    output::render::exit_maps(&mut text, &maps, state.how, &state.symbols)
        .map_err(|e| RunError::Other(e.to_string()))?;
    out.write_all(&text)?;
    out.flush()?;
    Ok(maps)
}

/// `--flamegraph FILE`: the maps keyed by a stack, drawn as one SVG (several side by side
/// under their names). The run checked before loading that the script has such a map.
fn write_flamegraph(
    path: &std::path::Path,
    maps: &[output::MapData],
    symbols: &Symbols,
) -> Result<(), RunError> {
    let stacks: Vec<&output::MapData> = output::sort::by_name(maps)
        .into_iter()
        .filter(|m| output::render::stack_keyed(m))
        .collect();
    let folded = output::folded::folded_text(&stacks, symbols);
    let names: Vec<String> = stacks.iter().map(|m| format!("@{}", m.name)).collect();
    let weight = match stacks.first().map(|m| &m.kind) {
        Some(tracebound_compiler::program::MapValue::Count) => Weight::Samples,
        _ => Weight::Total,
    };
    let title = format!("tracebound {}", names.join(" "));
    let svg = flamegraph_svg(&folded, title.trim_end(), weight).map_err(RunError::Other)?;
    std::fs::write(path, svg)
        .map_err(|e| RunError::Other(format!("--flamegraph {}: {e}", path.display())))
}

/// The script's stack-trace maps, by name, for the symbolizer to read stacks from.
fn take_stack_maps(loaded: &mut Loaded) -> std::collections::HashMap<String, aya::maps::MapData> {
    let names: Vec<String> = loaded
        .maps()
        .filter(|(_, m)| matches!(m, aya::maps::Map::StackTraceMap(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    names
        .into_iter()
        .filter_map(|name| match loaded.take_map(&name)? {
            aya::maps::Map::StackTraceMap(data) => Some((name, data)),
            _ => None,
        })
        .collect()
}

/// The batched reader of the script's ring buffer.
fn ring_reader(map: &aya::maps::Map) -> Result<RingReader, RunError> {
    let aya::maps::Map::RingBuf(data) = map else {
        return Err(RunError::Other(
            "the ring buffer is not a ring buffer map".into(),
        ));
    };
    let size = data
        .info()
        .map_err(|e| RunError::Other(format!("the ring buffer's size: {e}")))?
        .max_entries();
    let fd = std::os::fd::AsFd::as_fd(data.fd()).try_clone_to_owned()?;
    RingReader::new(fd, size).map_err(|e| RunError::Other(format!("mapping the ring buffer: {e}")))
}

/// How long the event loop naps after a drain that found records: long enough for the next
/// drain to be a batch, short enough that the buffer stays under a quarter full at the rate
/// records came in (at most `Pace::LONGEST`, the delay a printf line may see).
struct Pace {
    last: std::time::Instant,
}

impl Pace {
    const LONGEST: Duration = Duration::from_millis(2);

    fn new() -> Pace {
        Pace {
            last: std::time::Instant::now(),
        }
    }

    /// After a drain of `records` (`bytes` of the buffer's `size`): the nap, or None to wait
    /// until the kernel wakes the loop.
    fn nap(&mut self, records: usize, bytes: u64, size: u64) -> Option<Duration> {
        let now = std::time::Instant::now();
        let since = now.duration_since(self.last);
        self.last = now;
        if records == 0 {
            return None;
        }
        let rate = bytes as f64 / since.as_secs_f64().max(1e-6);
        let quarter = Duration::from_secs_f64(size as f64 / 4.0 / rate.max(1.0));
        Some(quarter.min(Self::LONGEST))
    }
}

/// Runs the BEGIN (or END) programs once.
/// `--bench`: each `bench:` probe in the script's order, test-run in batches that grow until
/// a batch takes at least a millisecond (as the current release times them), its average
/// time per run reported; what it printed is drained after each batch, unseen.
fn benchmark(
    running: &mut Running,
    loaded: &Loaded,
    compiled: &Compiled,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let benches: Vec<_> = compiled
        .probes
        .iter()
        .filter(|p| p.kind == ProviderKind::Bench)
        .collect();
    let names: Vec<String> = benches
        .iter()
        .flat_map(|p| p.targets.iter().map(|t| t.member_name()))
        .collect();
    for (index, p) in benches.iter().enumerate() {
        let program = loaded
            .program(&p.program)
            .ok_or_else(|| RunError::Other(format!("{} is not loaded", p.program)))?;
        let fd = program.fd().map_err(|e| RunError::Other(e.to_string()))?;
        let mut iterations: u64 = 1;
        let average = loop {
            let (_, average) =
                sys::test_run_repeated(std::os::fd::AsFd::as_fd(fd), iterations as u32)?;
            // What a benchmark prints is not shown, as in the current release: it would
            // print once a run, thousands of times, between the table's rows.
            drain(
                &mut running.ring,
                loaded,
                compiled,
                &mut running.state,
                &mut std::io::sink(),
            )?;
            let total = u64::from(average) * iterations;
            let grow = match total {
                t if t < 1_000 => 1_000,
                t if t < 10_000 => 100,
                t if t < 100_000 => 10,
                t if t < 1_000_000 => 2,
                _ => break average,
            };
            // The kernel counts repeats in 32 bits.
            if iterations * grow > u64::from(u32::MAX) {
                break average;
            }
            iterations *= grow;
        };
        let mut text = Vec::new();
        match format {
            Format::Json => bench_json(&mut text, &names[index], average.into(), iterations),
            _ => bench_text(&mut text, &names, index, average.into(), iterations),
        }
        out.write_all(&text)?;
    }
    Ok(())
}

fn run_special(loaded: &Loaded, compiled: &Compiled, kind: ProviderKind) -> Result<(), RunError> {
    for p in compiled.probes.iter().filter(|p| p.kind == kind) {
        let program = loaded
            .program(&p.program)
            .ok_or_else(|| RunError::Other(format!("{} is not loaded", p.program)))?;
        let fd = program.fd().map_err(|e| RunError::Other(e.to_string()))?;
        sys::test_run(std::os::fd::AsFd::as_fd(fd))?;
    }
    Ok(())
}

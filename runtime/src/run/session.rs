//! Running a compiled script: load, attach, BEGIN, the event loop over the ring buffer (records
//! are handled in `events`), and on
//! exit() / Ctrl-C / SIGTERM / SIGHUP: END, the maps, detach. Everything is owned by one
//! `Loaded`, so every path out of `run` — success, error, signal, panic unwinding — drops it and
//! detaches every probe.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use aya::maps::RingBuf;
use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::provider::ProviderKind;

use crate::estimate::{Budget, CostModel};
use crate::kernel::snapshot::snapshot;
use crate::output::{self, Format};
use crate::probes::attach::{attach, AttachPlan};
use crate::probes::load::{load, LoadError, Loaded};
use crate::run::child::{process_exists, Child};
use crate::run::error::RunError;
use crate::run::events::{drain, EventState, ExitFlag, Losses};
use crate::run::guard::Guard;
use crate::run::symbols::Symbols;
use crate::{kernel::sys, probes::verifier};

/// How often the event loop reads the loss counters and the exit flag.
const COUNTERS_EVERY: Duration = Duration::from_millis(100);

/// The signal (SIGINT, SIGTERM or SIGHUP) that asked the run to end, 0 while none has: the
/// loop ends as if `exit()` had run.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    STOP.store(signal, Ordering::SeqCst);
}

/// Catches SIGINT, SIGTERM and SIGHUP from now on. Called first thing: a signal that comes
/// while the script is compiled, loaded or measured must not be lost. (A shell starts a
/// background command with SIGINT ignored, so a `kill -INT` before the handler is in would
/// vanish, and the run would go on for ever.)
pub fn catch_stop_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The exit code of a run stopped by a signal before anything was attached (128 + the
/// signal, as a shell reports a process the signal ended), if one came.
pub fn stopped_before_attaching() -> Option<u8> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(128 + signal as u8),
    }
}

fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst) != 0
}

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
    /// `-q`: no "Attaching N probes..." line.
    pub quiet: bool,
    /// The budget the runtime guard holds the running script to, and the costs it prices
    /// hits with; `None`: no guard.
    pub guard: Option<(Budget, CostModel)>,
}

/// Loads the script's programs (the verifier runs here; a rejection is a diagnostic at the
/// statement) without attaching anything, so that a script that cannot load fails before
/// anything else is spent on it.
pub fn load_script(compiled: &Compiled) -> Result<Loaded, RunError> {
    load(&compiled.object).map_err(|e| verifier_diagnostic(compiled, e))
}

/// Runs a loaded script until exit() or a signal; returns the process exit code.
pub fn run(
    compiled: &Compiled,
    mut loaded: Loaded,
    mut options: RunOptions,
    out: &mut dyn Write,
) -> Result<i32, RunError> {
    catch_stop_signals();
    if let Some(code) = stopped_before_attaching() {
        return Ok(code.into());
    }
    let ring = loaded
        .take_map(&compiled.ringbuf)
        .ok_or_else(|| RunError::Other("the ring buffer is not in the object".into()))?;
    let mut ring = RingBuf::try_from(ring).map_err(|e| RunError::Other(e.to_string()))?;

    let attach_points: usize = compiled.probes.iter().map(|p| p.targets.len()).sum();
    let mut text = Vec::new();
    match options.format {
        _ if options.quiet => {}
        Format::Text => output::attaching_text(&mut text, attach_points),
        Format::Json => output::json::attached_json(&mut text, attach_points),
    }
    out.write_all(&text)?;
    out.flush()?;

    for p in &compiled.probes {
        let plan = AttachPlan {
            program: p.program.clone(),
            kind: p.kind,
            targets: p.targets.clone(),
            pid: options.uprobe_pid,
            usdt: p.usdt.clone(),
        };
        attach(&mut loaded, &plan).map_err(RunError::Attach)?;
    }
    // Fault injection for the exit-path tests: a panic with everything attached must leave
    // nothing behind (unwinding drops `loaded`; an abort would close its fds all the same).
    if std::env::var_os("TRACEBOUND_FAULT").is_some_and(|f| f == "panic-after-attach") {
        panic!("TRACEBOUND_FAULT=panic-after-attach");
    }

    let mut state = EventState {
        exit_code: None,
        format: options.format,
        symbols: Symbols::new(take_stack_maps(&mut loaded)),
    };
    let mut lost = Losses::new(&mut loaded, compiled, compiled.limits.max_map_keys)?;
    let exit_flag = ExitFlag::new(&mut loaded, compiled)?;
    run_special(&loaded, compiled, ProviderKind::Begin)?;
    drain(&mut ring, &loaded, compiled, &mut state, out)?;
    lost.report(options.format, out)?;
    if state.exit_code.is_none() {
        state.exit_code = exit_flag.raised()?;
    }
    if let Some(child) = &mut options.child {
        child.release();
    }

    let mut guard = options
        .guard
        .take()
        .and_then(|(budget, model)| Guard::start(&loaded, compiled, budget, &model));
    let deadline = options.timeout.map(|t| std::time::Instant::now() + t);
    let mut counters_read = std::time::Instant::now();
    while state.exit_code.is_none() && !stop_requested() {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            break;
        }
        // The followed process is gone: take its last events, then end.
        let child_done = options.child.as_mut().is_some_and(Child::has_exited);
        let pid_done = options.watch_pid.is_some_and(|p| !process_exists(p));
        if child_done || pid_done {
            drain(&mut ring, &loaded, compiled, &mut state, out)?;
            break;
        }
        let mut fds = libc::pollfd {
            fd: ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut fds, 1, 100) };
        drain(&mut ring, &loaded, compiled, &mut state, out)?;
        // The kernel's counters, at most every poll interval: under a stream of events the
        // loop turns far more often, and each read is a syscall per map.
        if counters_read.elapsed() >= COUNTERS_EVERY {
            counters_read = std::time::Instant::now();
            lost.report(options.format, out)?;
            if state.exit_code.is_none() {
                state.exit_code = exit_flag.raised()?;
            }
        }
        if let Some(guard) = &mut guard {
            guard.check(&mut loaded, options.format, out)?;
        }
    }
    drop(guard);

    // END runs after the other probes stop counting (bpftrace detaches them first).
    let code = state.exit_code.unwrap_or(0);
    state.exit_code = None;
    run_special(&loaded, compiled, ProviderKind::End)?;
    drain(&mut ring, &loaded, compiled, &mut state, out)?;
    lost.report(options.format, out)?;
    drop((lost, exit_flag));

    let maps = compiled
        .info
        .maps
        .iter()
        .map(|info| snapshot(&loaded, info))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Other(e.to_string()))?;
    let mut text = Vec::new();
    let result = match options.format {
        Format::Text => output::text::exit_text(&mut text, &maps, &state.symbols),
        Format::Json => output::json::exit_json(&mut text, &maps, &state.symbols),
    };
    result.map_err(|e| RunError::Other(e.to_string()))?;
    out.write_all(&text)?;
    out.flush()?;
    drop(loaded);
    Ok(code)
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

/// Runs the BEGIN (or END) programs once.
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

/// A verifier rejection shown at the statement whose instruction was rejected.
fn verifier_diagnostic(compiled: &Compiled, e: LoadError) -> RunError {
    let LoadError::Program {
        name, verifier_log, ..
    } = &e
    else {
        return RunError::Load(e);
    };
    let Some(probe) = compiled.probes.iter().find(|p| &p.program == name) else {
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

//! The `tracebound` command: parse the command line, then hand the script to the compiler and
//! the runtime. Exit codes are stable, for runbook CI: 0 success (or the code given to
//! `exit()`), 1 a diagnostic in the script, a usage error or a runtime error.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use tracebound_compiler::lower::LowerOptions;
use tracebound_compiler::pipeline::{compile, CompileOptions};
use tracebound_compiler::{codegen, diagnostic, lower, CheckOptions};
use tracebound_runtime::estimate::{self, Budget, CostModel, Verdict};
use tracebound_runtime::facts::LiveFacts;
use tracebound_runtime::run::error::RunError;
use tracebound_runtime::run::session::{self, RunOptions};

/// The exit code of a run refused because its projected overhead is over budget.
const OVER_BUDGET: u8 = 3;

/// A bpftrace-compatible tracer that costs every probe before attaching it.
#[derive(Parser, Debug)]
#[command(
    name = "tracebound",
    version,
    after_help = "Examples:\n  tracebound -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'\n  tracebound -c '/bin/ls /tmp' -e 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[str(args->filename)] = count(); }'\n  tracebound -lv 'tracepoint:sched:sched_switch'\n  tracebound --check runbook.bt\n  tracebound --dry-run -e 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }'\n  tracebound -p 1234 -e 'uprobe:/usr/sbin/nginx:ngx_http_process_request { @[comm] = count(); }'\n  tracebound -l 'usdt:libstdc++:*'\n  tracebound -e 'usdt:libstdc++:libstdcxx:throw { @throws[comm] = count(); }'\n  tracebound -c ./app -e 'uprobe:./app:handler { @[ustack] = count(); }'\n  tracebound -e 'profile:hz:99 { @[kstack(perf, 5)] = count(); }'\n  tracebound -d ast -e 'BEGIN { printf(\"hi\\n\"); }'\n\nCommands:\n  tracebound calibrate    measure this host's per-hit costs for the overhead estimate and cache them\n\nExit codes: 0 (or exit(N)), 1 for a diagnostic or runtime error, 3 when the projected overhead is over budget, 128+signal when stopped before anything was attached."
)]
struct Cli {
    /// Program text (may be repeated; the parts are joined with newlines).
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Vec<String>,

    /// Measure how often each probe would fire and what that would cost, print the table and
    /// exit without attaching anything (exit code 3 when the script is over budget).
    #[arg(long = "dry-run")]
    dry_run: bool,

    /// The overhead budget as a percentage of the whole machine (default 3, or the script's
    /// `config = { budget = ... }`); any one CPU may take 10/3 of that (10% by default) and a
    /// process with uprobes may be slowed by 5/3 of it (5%). A script projected over it is
    /// refused with exit code 3.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    budget: Option<f64>,

    /// Over budget, narrow the script until the projection fits instead of refusing it, each
    /// step named before attaching: sample a probe whose program costs most of each hit 1 in
    /// N (its maps print scaled by N and marked), leave out the hottest members of wildcards,
    /// and with -c, keep uprobes to the command.
    #[arg(long = "auto-filter")]
    auto_filter: bool,

    /// Do not watch the running script's measured overhead (by default a probe that stays
    /// over budget for 2 seconds is detached, and the rest runs on).
    #[arg(long = "no-guard")]
    no_guard: bool,

    /// How long to count each probe's events before attaching, in milliseconds.
    #[arg(long = "estimate-window", value_name = "MS", default_value_t = 200)]
    estimate_window: u64,

    /// Check the script without a kernel: syntax, names, arities and types that do not depend
    /// on the machine. Needs no root. Prints one line and exits 0 when the script is fine.
    #[arg(long)]
    check: bool,

    /// List probes matching the pattern given as the argument (all when none), e.g.
    /// `-l 'tracepoint:syscalls:sys_enter_open*'`; with -v, each tracepoint's fields. A
    /// binary's functions with `-l 'uprobe:BIN:*'`, its USDT probes with `-l 'usdt:BIN:*'`,
    /// or those of every file a process has mapped with `-l 'usdt:*' -p PID`.
    #[arg(short = 'l')]
    list: bool,

    /// Allow destructive functions: system, signal, override.
    #[arg(long = "unsafe")]
    unsafe_allowed: bool,

    /// Print a compiler stage and exit: `ast` (the parsed tree, as script text), `ir` (the
    /// intermediate code of each probe), `bpf` (the BPF instructions of each probe).
    #[arg(short = 'd', value_name = "STAGE")]
    debug: Option<DebugStage>,

    /// Write the compiled ELF object to FILE and exit without loading it.
    #[arg(long = "emit-elf", value_name = "FILE")]
    emit_elf: Option<std::path::PathBuf>,

    /// Verbose: show the kernel verifier's full log when it rejects a program; with -l, list
    /// tracepoint fields.
    #[arg(short = 'v')]
    verbose: bool,

    /// Run CMD (split on white space, no shell) once the probes are attached, and exit when it
    /// exits. `cpid` is its pid.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,

    /// Exit when process PID exits; uprobes and usdt probes fire in that process only.
    #[arg(short = 'p', value_name = "PID")]
    pid: Option<u32>,

    /// Write the output to FILE instead of standard output.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,

    /// Quiet: do not print "Attaching N probes...".
    #[arg(short = 'q')]
    quiet: bool,

    /// Output buffering: `line`, `full` or `none`. Output is written after each batch of
    /// events, so all three behave as `line` does.
    #[arg(short = 'B', value_name = "MODE")]
    buffering: Option<String>,

    /// Stop after this many seconds, as if Ctrl-C was pressed (maps are printed). Overrides
    /// the script's `config = { max_duration = ... }`.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Option<std::time::Duration>,

    /// Output format of diagnostics and results.
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    format: Format,

    /// Script file (`-` for standard input) followed by positional parameters `$1`, `$2`, ...
    /// With `-e`, every argument is a positional parameter.
    #[arg(value_name = "FILE | ARGS", trailing_var_arg = true)]
    args: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DebugStage {
    Ast,
    Ir,
    Bpf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    // `tracebound calibrate`: a command of its own, not a script named "calibrate".
    if std::env::args().nth(1).as_deref() == Some("calibrate") && std::env::args().len() == 2 {
        return calibrate();
    }
    let cli = Cli::parse();
    if cli.list {
        // `tracebound -l | head` ends quietly when head has read enough, as ls or grep do;
        // nothing is attached while listing.
        // SAFETY: restoring the default action of a signal has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        let pattern = cli.args.first().map(String::as_str);
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let facts = LiveFacts::new();
        // `-l PATTERN -p PID` (bpftrace's getopt takes options after the pattern; here the
        // pattern starts the trailing arguments).
        let pid = cli.pid.or_else(|| {
            cli.args
                .windows(2)
                .find(|w| w[0] == "-p")
                .and_then(|w| w[1].parse().ok())
        });
        // With -p, USDT probes are those of the files the process has mapped.
        let in_process = pid
            .filter(|_| pattern.is_none_or(|p| matches!(p.split(':').next(), Some("usdt" | "U"))));
        let listed = match in_process {
            Some(pid) => {
                tracebound_runtime::list::list_usdt_in_process(pid, pattern, &facts, &mut out)
            }
            None => tracebound_runtime::list::list(pattern, cli.verbose, &facts, &mut out),
        };
        return match listed {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tracebound: -l: {e}");
                ExitCode::from(1)
            }
        };
    }
    let (name, source, positional) = match read_script(&cli) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("tracebound: {message}");
            return ExitCode::from(1);
        }
    };

    if let Some(DebugStage::Ast) = cli.debug {
        return match tracebound_compiler::parse::parse(&source) {
            Ok(program) => {
                print!("{}", tracebound_compiler::ast::print_program(&program));
                ExitCode::SUCCESS
            }
            Err(d) => report(&cli, &name, &source, &[d]),
        };
    }

    let options = CheckOptions {
        positional_count: (!positional.is_empty() || !cli.check).then_some(positional.len()),
        unsafe_allowed: cli.unsafe_allowed,
    };
    let result = tracebound_compiler::check_source(&source, &options);
    let failed = result.diagnostics.iter().any(|d| d.is_error());
    let code = report(&cli, &name, &source, &result.diagnostics);
    if failed {
        return code;
    }
    if cli.check {
        if cli.format == Format::Json {
            println!(
                "{{\"ok\":true,\"file\":{},\"probes\":{}}}",
                json_string(&name),
                result.probe_count
            );
        } else {
            println!("{name}: OK ({} probes)", result.probe_count);
        }
        return ExitCode::SUCCESS;
    }
    run(&cli, &name, &source, options, positional)
}

/// Compiles the script for this machine and runs it (or prints a stage, or writes the object).
fn run(
    cli: &Cli,
    name: &str,
    source: &str,
    check: CheckOptions,
    positional: Vec<String>,
) -> ExitCode {
    session::catch_stop_signals();
    if let Some(mode) = cli.buffering.as_deref() {
        if !matches!(mode, "line" | "full" | "none") {
            eprintln!("tracebound: -B takes line, full or none, not {mode:?}");
            return ExitCode::from(1);
        }
    }
    if let Some(pid) = cli.pid {
        if !tracebound_runtime::run::child::process_exists(pid) {
            eprintln!("tracebound: -p {pid}: no such process");
            return ExitCode::from(1);
        }
    }
    // The child is forked first so that `cpid` is a constant in the program; it stays held
    // before exec until the probes are attached, and is killed if anything fails before then.
    let child = match cli
        .command
        .as_deref()
        .map(tracebound_runtime::run::child::Child::spawn_held)
    {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            eprintln!("tracebound: -c: {e}");
            return ExitCode::from(1);
        }
        None => None,
    };
    let options = CompileOptions {
        check,
        lower: LowerOptions {
            positional,
            cpid: child.as_ref().map(|c| c.pid),
            start_ns: monotonic_ns(),
            ncpus: tracebound_runtime::kernel::sys::possible_cpus().unwrap_or(1) as u32,
            ..LowerOptions::default()
        },
    };
    let facts = LiveFacts::new();
    let mut compiled = match compile(source, &facts, &options) {
        Ok(c) => c,
        Err(diags) => return report(cli, name, source, &diags),
    };
    if cli.debug.is_none() && cli.emit_elf.is_none() {
        if let Err(d) = tracebound_runtime::kernel::capability::check_attachable(&compiled, &facts)
        {
            return report(cli, name, source, &[d]);
        }
    }
    match cli.debug {
        Some(DebugStage::Ir) => {
            for p in &compiled.probes {
                print!("{}", lower::ir::print_function(&p.ir));
            }
            return ExitCode::SUCCESS;
        }
        Some(DebugStage::Bpf) => {
            for p in &compiled.probes {
                println!("{} ({}):", p.program, p.targets.join(", "));
                print!("{}", codegen::insn::disassemble(&p.code.code.insns));
                for callback in p.code.callees_in_link_order() {
                    println!("callback:");
                    print!("{}", codegen::insn::disassemble(&callback.code.insns));
                }
            }
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if let Some(path) = &cli.emit_elf {
        return match std::fs::write(path, &compiled.object) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tracebound: {}: {e}", path.display());
                ExitCode::from(1)
            }
        };
    }
    // Load first: a script the verifier rejects fails before anything is measured.
    let mut loaded = match session::load_script(&compiled) {
        Ok(loaded) => loaded,
        Err(e) => return run_failed(cli, name, source, e),
    };
    // What the script will cost, before anything of it is attached.
    // The command line wins over the script's `config = { budget = ... }`.
    let budget = cli
        .budget
        .or(compiled.limits.budget_pct)
        .map_or_else(Budget::default, Budget::of_machine);
    let window = std::time::Duration::from_millis(cli.estimate_window.max(1));
    let model = cost_model(&compiled);
    let mut estimate = match estimate::estimate(&compiled, window, model.clone(), cli.pid) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tracebound: measuring the probes' rates: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(code) = session::stopped_before_attaching() {
        return ExitCode::from(code);
    }
    let mut verdict = budget.judge(&estimate, &compiled);
    // Where uprobes may fire: the -p process, or (an --auto-filter step) the -c command.
    let mut uprobe_pid = cli.pid;
    let child_pid = child.as_ref().map(|c| c.pid);
    if let (true, Verdict::Refuse(_), Some(pid)) = (cli.auto_filter, &verdict, child_pid) {
        if uprobe_pid.is_none() && estimate::scope_uprobes(&mut estimate) {
            eprintln!(
                "auto-filter: uprobes fire in the -c command only (pid {pid}); it has not run \
                 yet, so its rate is unknown: the guard watches it"
            );
            uprobe_pid = Some(pid);
            verdict = budget.judge(&estimate, &compiled);
        }
    }
    if cli.auto_filter && matches!(verdict, Verdict::Refuse(_)) {
        let samplable = lower::sample::samplable(&compiled.ast);
        let indexes: Vec<usize> = samplable.keys().copied().collect();
        if let Some(narrowing) = estimate::narrow::narrow(&estimate, &budget, &indexes) {
            for (&index, &n) in &narrowing.sampled {
                let span = estimate::budget::probe_span(&compiled, index);
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
                let mut sampled_options = options.clone();
                sampled_options.lower.sample = narrowing.sampled.clone();
                compiled = match compile(source, &LiveFacts::new(), &sampled_options) {
                    Ok(c) => c,
                    Err(diags) => return report(cli, name, source, &diags),
                };
                drop(loaded);
                loaded = match session::load_script(&compiled) {
                    Ok(loaded) => loaded,
                    Err(e) => return run_failed(cli, name, source, e),
                };
            }
            estimate::apply_narrowing(&mut compiled, &narrowing);
            verdict = budget.judge(&narrowing.after, &compiled);
            estimate = narrowing.after;
        } else if let Verdict::Refuse(d) = verdict {
            verdict = Verdict::Refuse(d.with_note(
                "--auto-filter: neither leaving out members of wildcards nor sampling brings this \
                 under budget",
            ));
        }
    }
    if cli.dry_run {
        if cli.format == Format::Json {
            print!("{}", estimate::report::json(&estimate, &budget, &verdict));
        } else {
            print!(
                "{}",
                estimate::report::text(&estimate, &compiled, source, &budget, &verdict)
            );
        }
    }
    match verdict {
        Verdict::Refuse(d) => {
            report(cli, name, source, &[d]);
            return ExitCode::from(OVER_BUDGET);
        }
        Verdict::Warn(d) if !cli.dry_run => {
            report(cli, name, source, &[d]);
        }
        _ => {}
    }
    if cli.dry_run {
        return ExitCode::SUCCESS;
    }
    let run_options = RunOptions {
        format: if cli.format == Format::Json {
            tracebound_runtime::output::Format::Json
        } else {
            tracebound_runtime::output::Format::Text
        },
        // The command line wins over the script's `config = { max_duration = ... }`.
        timeout: cli.timeout.or(compiled.limits.max_duration),
        child,
        watch_pid: cli.pid,
        uprobe_pid,
        quiet: cli.quiet,
        guard: (!cli.no_guard).then_some((budget, model)),
    };
    let mut out: Box<dyn std::io::Write> = match &cli.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("tracebound: {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    match session::run(&compiled, loaded, run_options, &mut out) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => run_failed(cli, name, source, e),
    }
}

/// A run that failed: a verifier rejection as a diagnostic at the statement (the raw log with
/// -v), anything else as one line.
fn run_failed(cli: &Cli, name: &str, source: &str, e: RunError) -> ExitCode {
    match e {
        RunError::Rejected { diagnostic, log } => {
            if cli.verbose {
                eprintln!("{log}");
            }
            report(cli, name, source, &[*diagnostic])
        }
        e => {
            eprintln!("tracebound: {e}");
            if let RunError::Load(tracebound_runtime::probes::load::LoadError::Program {
                verifier_log,
                ..
            }) = &e
            {
                if cli.verbose {
                    eprintln!("{verifier_log}");
                }
            }
            ExitCode::from(1)
        }
    }
}

/// Prints diagnostics (text to stderr, or JSON lines to stdout) and returns the exit code.
fn report(cli: &Cli, name: &str, source: &str, diagnostics: &[diagnostic::Diagnostic]) -> ExitCode {
    if diagnostics.is_empty() {
        return ExitCode::SUCCESS;
    }
    if cli.format == Format::Json {
        for d in diagnostics {
            println!("{}", diagnostic::to_json(name, source, d));
        }
    } else {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!("{}", diagnostic::render(name, source, diagnostics, color));
    }
    if diagnostics.iter().any(|d| d.is_error()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Returns (display name, text, positional parameters).
fn read_script(cli: &Cli) -> Result<(String, String, Vec<String>), String> {
    if !cli.program.is_empty() {
        return Ok((
            "<command line>".to_string(),
            cli.program.join("\n"),
            cli.args.clone(),
        ));
    }
    let Some((file, rest)) = cli.args.split_first() else {
        return Err(
            "no program given: use -e 'PROGRAM', a script file, or - for standard input".into(),
        );
    };
    let text = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading standard input: {e}"))?;
        s
    } else {
        warn_if_others_can_write(file);
        std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?
    };
    let name = if file == "-" {
        "<stdin>".to_string()
    } else {
        file.clone()
    };
    Ok((name, text, rest.to_vec()))
}

/// A runbook script that other users can change runs as root with whatever they put in it:
/// say so before running it.
fn warn_if_others_can_write(file: &str) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        eprintln!(
            "warning: {file} can be changed by other users (mode {:03o}); it runs with your \
             privileges: check it, or `chmod go-w {file}`",
            mode & 0o777
        );
    }
}

fn json_string(s: &str) -> String {
    diagnostic::json_string(s)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `nsecs` reads in the kernel.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `--timeout`: positive seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

/// `tracebound calibrate`: measure this host's costs, cache them, print the table.
fn calibrate() -> ExitCode {
    match tracebound_runtime::estimate::calibrate::measure() {
        Ok(c) => {
            if let Err(e) = tracebound_runtime::estimate::calibrate::save(&c) {
                eprintln!("tracebound: could not cache the calibration: {e}");
            }
            print!("{}", c.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tracebound: calibration failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// This host's costs: cached, or measured now the first time a script needs them (a script
/// of BEGIN and END only does not).
fn cost_model(compiled: &tracebound_compiler::pipeline::Compiled) -> CostModel {
    use tracebound_compiler::provider::ProviderKind;
    let fires = compiled
        .probes
        .iter()
        .any(|p| !matches!(p.kind, ProviderKind::Begin | ProviderKind::End));
    if !fires {
        return CostModel::default();
    }
    match tracebound_runtime::estimate::calibrate::cached_or_measure() {
        Ok(c) => c.model(),
        Err(e) => {
            eprintln!("tracebound: calibration failed ({e}); pricing with reference-machine costs");
            CostModel::default()
        }
    }
}

/// `--budget`: a percentage, with or without `%`.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim_end_matches('%');
    match number.parse::<f64>() {
        // Projections are demand, which can pass 100% (the traced work then slows down).
        Ok(p) if p > 0.0 && p <= 10_000.0 => Ok(p),
        _ => Err(format!(
            "`{text}` is not a positive percentage (up to 10000)"
        )),
    }
}

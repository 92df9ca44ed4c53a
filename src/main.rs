//! The `tracebound` command: parse the command line, read the script, hand it to the compiler
//! (`--check`, `-d ast`) or the runtime (a run, `-l`, `calibrate`), and report what comes back.
//! Exit codes are stable, for runbook CI: 0 success (or the code given to `exit()`), 1 a
//! diagnostic in the script, a usage error or a runtime error, 3 over budget, 128+signal when
//! stopped before anything was attached.

mod cli;
mod manual;
mod program_options;
mod script;
mod tools;

use std::io::IsTerminal;
use std::process::ExitCode;

use tracebound_compiler::{diagnostic, insn, ir, CheckOptions};
use tracebound_runtime::facts::LiveFacts;
use tracebound_runtime::run::{self, RunOutcome};

use cli::{Cli, DebugStage, Format};

/// The exit code of a run refused because its projected overhead is over budget.
const OVER_BUDGET: u8 = 3;

fn main() -> ExitCode {
    // `tracebound calibrate`: a command of its own, not a script named "calibrate".
    if std::env::args().nth(1).as_deref() == Some("calibrate") && std::env::args().len() == 2 {
        return calibrate();
    }
    if let Some(code) = manual::documentation() {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    // `tracebound tools ...`: a command only as the first argument (src/tools/mod.rs says why).
    if args.get(1).map(String::as_str) == Some("tools") {
        return tools_command(&args[2..]);
    }
    run_command_line(args, None)
}

/// `tracebound tools ...`: the listing, a tool's help or script, or the tool run as the
/// command line it stands for.
fn tools_command(args: &[String]) -> ExitCode {
    match tools::command(args) {
        Ok(tools::ToolsCommand::List) => tools::list(),
        Ok(tools::ToolsCommand::Help(name)) => {
            print!(
                "{}",
                tools::find(name).map(|t| t.help()).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(tools::ToolsCommand::Script(script)) => {
            print!("{script}");
            ExitCode::SUCCESS
        }
        Ok(tools::ToolsCommand::Run { argv, name }) => run_command_line(argv, Some(name)),
        Err(message) => fail(&message),
    }
}

/// A command line of options and a script; `script_name` names the script in diagnostics
/// when it is not the file or `-e` (a built-in tool's `tools/NAME.bt`).
fn run_command_line(args: Vec<String>, script_name: Option<String>) -> ExitCode {
    let cli = match cli::parse_command_line(args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.version {
        println!("tracebound v{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if cli.info {
        print!(
            "{}",
            tracebound_runtime::info::report(env!("CARGO_PKG_VERSION"))
        );
        return ExitCode::SUCCESS;
    }
    if cli.warnings > 0 && cli.no_warnings {
        eprintln!("ERROR: USAGE: -k, --warnings conflicts with --no-warnings");
        return ExitCode::from(1);
    }
    if cli.warnings > 1 {
        // The current release refuses -kk; 0.17's runbooks still pass it.
        eprintln!(
            "WARNING: -kk has been deprecated: a single -k gives runtime warnings for errors \
             in map lookups and probe reads"
        );
    }
    if cli.command.is_some() && cli.pid.is_some() {
        eprintln!("ERROR: USAGE: Cannot use both -c and -p.");
        eprint!("{}", cli::usage());
        return ExitCode::from(1);
    }
    let pid = match cli.pid.as_deref().map(cli::parse_pid).transpose() {
        Ok(pid) => pid,
        Err(message) => return fail(&message),
    };
    if cli.list {
        return list(&cli, pid);
    }
    let (name, source, positional) = match script::read_script(&cli) {
        Ok((name, source, positional)) => (script_name.unwrap_or(name), source, positional),
        Err(message) => return fail(&message),
    };
    // After the script, `--name[=value]` is one of its named options (`getopt`), anything
    // else a positional parameter.
    let (named, positional): (Vec<String>, Vec<String>) =
        positional.into_iter().partition(|p| p.starts_with("--"));
    let program_options = match named.is_empty() {
        true => Default::default(),
        // A script that does not parse declares nothing: its diagnostics come below.
        false => match program_options::read(
            &named,
            &tracebound_compiler::declared_options(&source).unwrap_or_default(),
        ) {
            program_options::NamedOptions::Values(values) => values,
            // As the current release: the list, and no run (exit code 1).
            program_options::NamedOptions::Help(text) => {
                eprint!("{text}");
                return ExitCode::from(1);
            }
            program_options::NamedOptions::Error(message) => {
                eprintln!("{message}");
                return ExitCode::from(1);
            }
        },
    };
    let report = |diagnostics: &[diagnostic::Diagnostic]| {
        let shown: Vec<diagnostic::Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.is_error() || !cli.no_warnings)
            .cloned()
            .collect();
        report(&cli, &name, &source, &shown)
    };
    if let Some(DebugStage::Ast) = cli.debug {
        return match tracebound_compiler::parse::parse(&source) {
            Ok(program) => {
                print!("{}", tracebound_compiler::ast::print_program(&program));
                ExitCode::SUCCESS
            }
            Err(d) => report(&[d]),
        };
    }
    // `BPFTRACE_*` settings override the script's config block, as in bpftrace.
    let environment = match tracebound_compiler::configuration_from_environment(std::env::vars()) {
        Ok(environment) => environment,
        Err(message) => return fail(&message),
    };
    let check = CheckOptions {
        positional: (!positional.is_empty() || !cli.check).then(|| positional.clone()),
        unsafe_allowed: cli.unsafe_allowed,
        environment,
        program_options,
        probe_filter: cli.probe_filter.clone(),
        includes: cli.includes.clone(),
        include_dirs: cli.include_dirs.clone(),
    };
    let result = tracebound_compiler::check_source(&source, &check);
    let code = report(&result.diagnostics);
    if result.diagnostics.iter().any(|d| d.is_error()) {
        return code;
    }
    if cli.check {
        match cli.format {
            Format::Json => println!(
                "{{\"ok\":true,\"file\":{},\"probes\":{}}}",
                diagnostic::json_string(&name),
                result.probe_count
            ),
            Format::Text | Format::Folded => println!("{name}: OK ({} probes)", result.probe_count),
        }
        return ExitCode::SUCCESS;
    }
    if let Some(mode) = cli.buffering.as_deref() {
        if !matches!(mode, "line" | "full" | "none") {
            return fail(&format!("-B takes line, full or none, not {mode:?}"));
        }
    }
    let mut warn = |d: &diagnostic::Diagnostic| {
        report(std::slice::from_ref(d));
    };
    let request = cli.run_request(check, positional, pid, &mut warn);
    match run::run(&source, request) {
        RunOutcome::Exited(code) => ExitCode::from(code.clamp(0, 255) as u8),
        RunOutcome::Stopped(code) => ExitCode::from(code),
        RunOutcome::Compiled(compiled) => print_compiled(&cli, &compiled),
        RunOutcome::OverBudget(d) => {
            report(&[*d]);
            ExitCode::from(OVER_BUDGET)
        }
        // A verifier rejection: the raw log (with -v) before the diagnostic at the statement.
        RunOutcome::Diagnosed {
            diagnostics,
            verifier_log,
        } => {
            if let Some(log) = verifier_log.filter(|_| cli.verbose) {
                eprintln!("{log}");
            }
            report(&diagnostics)
        }
        RunOutcome::Failed {
            message,
            verifier_log,
        } => {
            eprintln!("tracebound: {message}");
            if let Some(log) = verifier_log.filter(|_| cli.verbose) {
                eprintln!("{log}");
            }
            ExitCode::from(1)
        }
    }
}

/// `-d ir`, `-d bpf` or `--emit-elf`: the program compiled for this machine.
fn print_compiled(cli: &Cli, compiled: &tracebound_compiler::pipeline::Compiled) -> ExitCode {
    if let Some(path) = cli.emit_elf.as_ref().filter(|_| cli.debug.is_none()) {
        return match std::fs::write(path, &compiled.object) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("{}: {e}", path.display())),
        };
    }
    let copies = compiled.copies.iter().map(|c| (c, true));
    for (p, copy) in compiled.probes.iter().map(|p| (p, false)).chain(copies) {
        if cli.debug == Some(DebugStage::Ir) {
            print!("{}", ir::print_function(&p.ir));
            continue;
        }
        let targets: Vec<String> = p.targets.iter().map(|t| t.to_string()).collect();
        let what = if copy {
            "; its sampled copy, run only while the guard samples"
        } else {
            ""
        };
        println!("{} ({}{what}):", p.program, targets.join(", "));
        let code = &p.code.code;
        print!(
            "{}",
            insn::disassemble_with_maps(&code.insns, &code.map_relocations)
        );
        for callback in p.code.callees_in_link_order() {
            println!("callback:");
            let code = &callback.code;
            print!(
                "{}",
                insn::disassemble_with_maps(&code.insns, &code.map_relocations)
            );
        }
    }
    ExitCode::SUCCESS
}

/// `-l [PATTERN]`: the probes this machine offers.
fn list(cli: &Cli, pid: Option<u32>) -> ExitCode {
    // `tracebound -l | head` ends quietly when head has read enough, as ls or grep do;
    // nothing is attached while listing.
    // SAFETY: restoring the default action of a signal has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let facts = LiveFacts::of_process(pid);
    // `-l -e PROGRAM` or `-l FILE`: the probes of that program, as it resolves here.
    let file = cli
        .args
        .first()
        .filter(|f| std::path::Path::new(f).is_file());
    if !cli.program.is_empty() || file.is_some() {
        return list_program(cli, &facts);
    }
    let pattern = cli.args.first().map(String::as_str);
    // As the current release: a pattern that looks like a file name is still a pattern.
    if let Some(p) = pattern.filter(|p| p.contains('.') && !p.contains([':', '*'])) {
        eprintln!(
            "WARNING: It appears that '{p}' is a filename but the file does not exist. \
             Treating '{p}' as a search pattern."
        );
    }
    let mut out = std::io::stdout().lock();
    // With -p, USDT probes are those of the files the process has mapped.
    let in_process =
        pid.filter(|_| pattern.is_none_or(|p| matches!(p.split(':').next(), Some("usdt" | "U"))));
    let listed = match in_process {
        // A process's probes: the functions of what it maps, then its USDT probes.
        Some(pid) if pattern.is_none() => {
            tracebound_runtime::list::list(Some("uprobe:*"), cli.verbose, &facts, &mut out)
                .and_then(|_| {
                    tracebound_runtime::list::list_usdt_in_process(pid, None, &facts, &mut out)
                })
        }
        Some(pid) => tracebound_runtime::list::list_usdt_in_process(pid, pattern, &facts, &mut out),
        None => tracebound_runtime::list::list(pattern, cli.verbose, &facts, &mut out),
    };
    match listed {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("-l: {e}")),
    }
}

/// `-l` of a program: each attach point it names, wildcards expanded on this machine.
fn list_program(cli: &Cli, facts: &LiveFacts) -> ExitCode {
    let (name, source, positional) = match script::read_script(cli) {
        Ok(script) => script,
        Err(message) => return fail(&message),
    };
    let options = CheckOptions {
        positional: Some(positional),
        unsafe_allowed: cli.unsafe_allowed,
        ..Default::default()
    };
    match tracebound_compiler::pipeline::attach_points(&source, facts, &options) {
        Ok(points) => {
            for point in points {
                println!("{point}");
            }
            ExitCode::SUCCESS
        }
        Err(diagnostics) => report(cli, &name, &source, &diagnostics),
    }
}

/// `tracebound calibrate`: measure this host's costs, cache them, print the table.
fn calibrate() -> ExitCode {
    use tracebound_runtime::estimate::calibrate;
    match calibrate::measure() {
        Ok(c) => {
            if let Err(e) = calibrate::save(&c) {
                eprintln!("tracebound: could not cache the calibration: {e}");
            }
            print!("{}", c.table());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("calibration failed: {e}")),
    }
}

/// One line on stderr, as the current release prints an error (`ERROR: ...`), exit code 1.
fn fail(message: &str) -> ExitCode {
    eprintln!("ERROR: {message}");
    ExitCode::from(1)
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
        // The current release's name for a script from `-e` or standard input.
        let shown = match name {
            "<command line>" | "<stdin>" => "stdin",
            file => file,
        };
        eprint!("{}", diagnostic::render(shown, source, diagnostics, color));
    }
    if diagnostics.iter().any(|d| d.is_error()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

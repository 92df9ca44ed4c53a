//! The command line: what `tracebound` accepts, and its `--help`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::CheckOptions;
use tracebound_runtime::output;
use tracebound_runtime::run::{metrics, Goal, RunRequest};

/// A bpftrace-compatible tracer that costs every probe before attaching it.
#[derive(Parser, Debug)]
#[command(
    name = "tracebound",
    disable_version_flag = true,
    // bpftrace's heading, which scripts and its test suite look for.
    help_template = "{about-with-newline}\nUSAGE:\n    {usage}\n\n{all-args}{after-help}",
    after_help = after_help()
)]
pub struct Cli {
    /// Program text (may be repeated; the parts are joined with newlines).
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Vec<String>,

    /// Print the version ("tracebound vX.Y.Z") and exit.
    #[arg(short = 'V', long)]
    pub version: bool,

    /// Print what this build and this kernel support (bpftrace's --info layout: kernel
    /// helpers, features and probe types, each asked of the kernel) and exit.
    #[arg(long)]
    pub info: bool,

    /// Attach only the probes whose names (as `probe` gives them, `interval:ms:200`) the
    /// regular expression REGEX matches somewhere; BEGIN and END always run.
    #[arg(long = "probe-filter", value_name = "REGEX")]
    pub probe_filter: Option<String>,

    /// Do not print warnings (diagnostics of severity warning, at compile time and while
    /// running).
    #[arg(long = "no-warnings")]
    pub no_warnings: bool,

    /// Warn while running where a memory read (`str()`, a pointer's field) fails or a map
    /// read finds no value (both read as zero), at the expression, with the helper and its
    /// error code (JSON: `helper_error`). `-kk`, 0.17's every-helper level, is read as `-k`.
    #[arg(short = 'k', long = "warnings", action = clap::ArgAction::Count)]
    pub warnings: u8,

    /// Measure how often each probe would fire and what that would cost, print the table and
    /// exit without attaching anything (exit code 3 when the script is over budget).
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// The overhead budget as a percentage of the whole machine (default 3, or the script's
    /// `config = { budget = ... }`); any one CPU may take 10/3 of that (10% by default) and a
    /// process with uprobes may be slowed by 5/3 of it (5%). A script projected over it is
    /// refused with exit code 3.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub budget: Option<f64>,

    /// Over budget, narrow the script until the projection fits instead of refusing it, each
    /// step named before attaching: sample a probe whose program costs most of each hit 1 in
    /// N (its maps print scaled by N and marked), leave out the hottest members of wildcards,
    /// and with -c, keep uprobes to the command.
    #[arg(long = "auto-filter")]
    pub auto_filter: bool,

    /// Do not watch the running script's measured overhead (by default a probe that stays
    /// over budget for 2 seconds is sampled 1 in N where --auto-filter could sample it, else
    /// detached, and the rest runs on).
    #[arg(long = "no-guard")]
    pub no_guard: bool,

    /// The longest to count each probe's events before attaching, in milliseconds. Counting
    /// stops as soon as the counts show the script within (or over) budget at 95% confidence;
    /// the dry run says how long it counted and why.
    #[arg(long = "estimate-window", value_name = "MS", default_value_t = 200)]
    pub estimate_window: u64,

    /// The shortest to count each probe's events before attaching, in milliseconds.
    #[arg(long = "estimate-min", value_name = "MS", default_value_t = 0)]
    pub estimate_min: u64,

    /// Check the script without a kernel: syntax, names, arities and types that do not depend
    /// on the machine. Needs no root. Prints one line and exits 0 when the script is fine.
    #[arg(long)]
    pub check: bool,

    /// List probes matching the pattern given as the argument (all when none), e.g.
    /// `-l 'tracepoint:syscalls:sys_enter_open*'`; with -v, each tracepoint's fields. A
    /// binary's functions with `-l 'uprobe:BIN:*'`, its USDT probes with `-l 'usdt:BIN:*'`,
    /// or those of every file a process has mapped with `-l 'usdt:*' -p PID`.
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// `--mode bench`: run the script's `bench:` probes (as `--bench`); the one mode of the
    /// current release's `--mode` that tracebound has.
    #[arg(long = "mode", value_name = "MODE", value_parser = ["bench"])]
    pub mode: Option<String>,

    /// Run every `bench:NAME` probe (after BEGIN, before END) and print its average time per
    /// run; without it `bench:` probes never run.
    #[arg(long = "bench")]
    pub bench: bool,

    /// Add DIR to the search path for C headers. An included header gives the script its
    /// integer macros (`EPERM`, `AF_INET`), read with the C preprocessor (`cpp`) when the
    /// script names one; types come from the kernel's BTF and the script's definitions.
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<std::path::PathBuf>,

    /// Include FILE before the script, as `#include <FILE>` at its top would (see -I).
    #[arg(long = "include", value_name = "FILE")]
    pub includes: Vec<String>,

    /// Allow destructive functions: system, signal, override.
    #[arg(long = "unsafe")]
    pub unsafe_allowed: bool,

    /// Print a compiler stage and exit: `ast` (the parsed tree, as script text), `ir` (the
    /// intermediate code of each probe), `bpf` (the BPF instructions of each probe, then of
    /// each sampled copy the guard loads when it samples a probe).
    #[arg(short = 'd', value_name = "STAGE")]
    pub debug: Option<DebugStage>,

    /// Write the compiled ELF object to FILE and exit without loading it.
    #[arg(long = "emit-elf", value_name = "FILE")]
    pub emit_elf: Option<std::path::PathBuf>,

    /// Verbose: show the kernel verifier's full log when it rejects a program; with -l, list
    /// tracepoint fields.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Run CMD (split on white space, no shell) once the probes are attached, and exit when it
    /// exits. `cpid` is its pid.
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    pub command: Option<String>,

    /// Exit when process PID exits; uprobes and usdt probes fire in that process only.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,

    /// Write the output to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Quiet: do not print "Attached N probes".
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Output buffering: `line`, `full` or `none`. Output is written after each batch of
    /// events, so all three behave as `line` does.
    #[arg(short = 'B', value_name = "MODE")]
    pub buffering: Option<String>,

    /// Stop after this many seconds, as if Ctrl-C was pressed (maps are printed). Overrides
    /// the script's `config = { max_duration = ... }`.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<std::time::Duration>,

    /// While the script runs, serve every map and tracebound's own overhead figures as
    /// Prometheus/OpenMetrics text at http://ADDR:PORT/metrics (PORT alone listens on
    /// 127.0.0.1 only; give an address, e.g. 0.0.0.0:9464, to be scraped from elsewhere).
    #[arg(long, value_name = "ADDR:PORT", value_parser = metrics::parse_address)]
    pub metrics: Option<std::net::SocketAddr>,

    /// A label every --metrics series carries, e.g. `team=payments` (repeatable); `host` (this
    /// host's name) is always there unless given.
    #[arg(long = "metrics-label", value_name = "NAME=VALUE", value_parser = metrics::parse_label, requires = "metrics")]
    pub metrics_label: Vec<(String, String)>,

    /// Output format of diagnostics and results: `text` (bpftrace's), `json` (one object a
    /// line, as bpftrace's -f json), or `folded`: maps keyed by a stack (`@[ustack] =
    /// count()`, `@[kstack, ustack, comm] = count()`, `@[kstack] = sum(...)`) as folded stacks,
    /// one `root;...;leaf COUNT` line per path, the input of flamegraph.pl, inferno and
    /// speedscope; kernel frames end in `_[k]`; other output stays text, with no "Attaching"
    /// line.
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// At exit, write the maps keyed by a stack as an interactive SVG flame graph to FILE
    /// (search, click to zoom; kernel frames orange, user frames red and yellow); open it in
    /// a browser. Several such maps stand side by side under their names.
    #[arg(long, value_name = "FILE.svg")]
    pub flamegraph: Option<std::path::PathBuf>,

    /// Print hist() and lhist() maps as percentiles instead of buckets: count, p50, p90, p99,
    /// p99.9 and max per key, sorted by p99 (the slowest key first), with the error the
    /// buckets allow (hist(x, k): within 2^-(k+1) of the exact value, so use hist(x, 5) for
    /// 1.6%; lhist: within step/2). Applies at exit and to every print(@m).
    #[arg(long)]
    pub percentiles: bool,

    /// Script file (`-` for standard input) followed by positional parameters `$1`, `$2`, ...
    /// With `-e`, every argument is a positional parameter. Options may follow the script
    /// (`tracebound script.bt -p PID 42`: `-p` is the option, `42` is `$1`); after `--` every
    /// argument is a parameter.
    #[arg(value_name = "FILE | ARGS")]
    pub args: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DebugStage {
    Ast,
    Ir,
    Bpf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Folded,
}

/// The `--help` text after the options: examples, the commands, the built-in tools (from
/// their table), the exit codes.
fn after_help() -> String {
    format!(
        "{EXAMPLES}\n\nCommands:\n{COMMANDS}\n\nTools (tracebound tools NAME; each also runs as tracebound tools/NAME.bt):\n  {}\n\nExit codes:{EXIT_CODES}",
        crate::tools::summary_lines().join("\n  ")
    )
}

const EXAMPLES: &str = "Examples:\n  tracebound -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'\n  tracebound -c '/bin/ls /tmp' -e 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[str(args->filename)] = count(); }'\n  tracebound -lv 'tracepoint:sched:sched_switch'\n  tracebound --check runbook.bt\n  tracebound --dry-run -e 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }'\n  tracebound -p 1234 -e 'uprobe:/usr/sbin/nginx:ngx_http_process_request { @[comm] = count(); }'\n  tracebound -l 'usdt:libstdc++:*'\n  tracebound -e 'usdt:libstdc++:libstdcxx:throw { @throws[comm] = count(); }'\n  tracebound -c ./app -e 'uprobe:./app:handler { @[ustack] = count(); }'\n  tracebound -e 'profile:hz:99 { @[kstack(perf, 5)] = count(); }'\n  tracebound -d ast -e 'BEGIN { printf(\"hi\\n\"); }'\n  tracebound --metrics 9464 --metrics-label team=payments runbook.bt";

const COMMANDS: &str = "  tracebound calibrate            measure this host's per-hit costs for the overhead estimate and cache them\n  tracebound completions SHELL    print the shell completion script (bash, zsh, fish, elvish, powershell)\n  tracebound man                  print the man page, tracebound(1)\n  tracebound tools                list the built-in tools with what each would cost here now\n  tracebound tools NAME [OPTS]    run one (NAME --help: its options; --script: its script)";

const EXIT_CODES: &str = " 0 (or exit(N)), 1 for a diagnostic, a runtime error or a command line that does not parse, 3 when the projected overhead is over budget, 128+signal when stopped before anything was attached.";

impl Cli {
    /// What the command line asks of a run; `warn` shows a warning the run goes ahead with;
    /// `pid` is `-p`'s, checked.
    pub fn run_request<'a>(
        &self,
        check: CheckOptions,
        positional: Vec<String>,
        pid: Option<u32>,
        warn: &'a mut dyn FnMut(&Diagnostic),
    ) -> RunRequest<'a> {
        RunRequest {
            goal: match (self.debug, &self.emit_elf) {
                (Some(_), _) | (None, Some(_)) => Goal::Compile,
                _ if self.dry_run => Goal::DryRun,
                _ => Goal::Run,
            },
            check,
            positional,
            budget_pct: self.budget,
            auto_filter: self.auto_filter,
            guard: !self.no_guard,
            estimate_window: Duration::from_millis(self.estimate_window),
            estimate_min: Duration::from_millis(self.estimate_min),
            command: self.command.clone(),
            pid,
            output: self.output.clone(),
            quiet: self.quiet,
            timeout: self.timeout,
            format: match self.format {
                Format::Text => output::Format::Text,
                Format::Json => output::Format::Json,
                Format::Folded => output::Format::Folded,
            },
            percentiles: self.percentiles,
            flamegraph: self.flamegraph.clone(),
            metrics: self.metrics.map(|addr| (addr, self.metrics_label.clone())),
            // The current release's name for a script given with `-e` or on stdin.
            script_name: match self.args.first() {
                Some(file) if self.program.is_empty() && file != "-" => file.clone(),
                _ => "stdin".to_string(),
            },
            no_warnings: self.no_warnings,
            helper_errors: self.warnings > 0,
            bench: self.bench || self.mode.as_deref() == Some("bench"),
            clock_map: std::env::var("BPFTRACE_DUMMY_TS_MAP").ok(),
            warn,
        }
    }
}

/// `-p PID`, checked as the current release checks it, with its messages: an unsigned
/// integer (decimal, or hex after `0x`; `_` separators allowed) no larger than the nominal
/// pid maximum of 64-bit systems, 2^22.
pub fn parse_pid(text: &str) -> Result<u32, String> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    let (digits, radix) = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        Some(hex) => (hex.to_string(), 16),
        None => (digits, 10),
    };
    let valid = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if valid == 0 {
        return Err(format!("Failed to parse pid: invalid integer: {text}"));
    }
    if valid < digits.len() {
        return Err(format!(
            "Failed to parse pid: invalid trailing bytes: {text}"
        ));
    }
    let pid = u64::from_str_radix(&digits, radix).map_err(|_| {
        format!(
            "Failed to parse pid: overflow error, maximum value is {}: {text}",
            u64::MAX
        )
    })?;
    if pid > 0x40_0000 {
        return Err(format!("Pid out of range: {pid}"));
    }
    Ok(pid as u32)
}

/// `-f`: one of the formats, refused in the current release's words.
fn parse_format(text: &str) -> Result<Format, String> {
    Format::from_str(text, false).map_err(|_| format!("Invalid output format \"{text}\""))
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

/// The command line, read as bpftrace's getopt reads it (options anywhere before `--`). `-h`
/// prints the usage on stdout; a bad option, or no argument at all, an error and the usage on
/// stderr (exit 1).
pub(crate) fn parse_command_line(args: Vec<String>) -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    if args.len() == 1 {
        eprint!("{}", usage());
        return Err(ExitCode::from(1));
    }
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            print!("{}", usage());
            Err(ExitCode::SUCCESS)
        }
        // A format bpftrace does not have: its line alone.
        Err(e) if is_bad_format(&e) => {
            if let Some(words) = std::error::Error::source(&e) {
                eprintln!("ERROR: {words}");
            }
            Err(ExitCode::from(1))
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("ERROR: {}", first.strip_prefix("error: ").unwrap_or(first));
            eprint!("\n{}", usage());
            Err(ExitCode::from(1))
        }
    }
}

fn is_bad_format(e: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    e.kind() == ErrorKind::ValueValidation
        && matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::String(a)) if a.starts_with("-f"))
}

/// The usage text (`-h`), with bpftrace's `USAGE:` heading.
pub(crate) fn usage() -> String {
    use clap::CommandFactory;
    Cli::command().render_long_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::{parse_pid, Cli};
    use clap::Parser;

    #[test]
    fn pids_are_checked_with_the_current_release_messages() {
        assert_eq!(parse_pid("1234"), Ok(1234));
        assert_eq!(parse_pid("0x10"), Ok(16));
        assert_eq!(parse_pid("1_000"), Ok(1000));
        let error = |text| parse_pid(text).unwrap_err();
        assert_eq!(
            error("a1111"),
            "Failed to parse pid: invalid integer: a1111"
        );
        assert_eq!(
            error("not_a_pid"),
            "Failed to parse pid: invalid integer: not_a_pid"
        );
        assert_eq!(
            error("111a1"),
            "Failed to parse pid: invalid trailing bytes: 111a1"
        );
        assert_eq!(error("5000000"), "Pid out of range: 5000000");
        assert!(error("99999999999999999999999").contains("overflow error"));
    }

    #[test]
    fn options_after_the_script_file_are_options() {
        let cli = Cli::try_parse_from(["tracebound", "script.bt", "-p", "7", "42"]).unwrap();
        assert_eq!(cli.pid.as_deref(), Some("7"));
        assert_eq!(cli.args, ["script.bt", "42"]);
        let cli = Cli::try_parse_from(["tracebound", "script.bt", "--", "-p", "7"]).unwrap();
        assert_eq!(cli.pid, None);
        assert_eq!(cli.args, ["script.bt", "-p", "7"]);
        let cli = Cli::try_parse_from(["tracebound", "-e", "BEGIN {}", "1", "-q", "2"]).unwrap();
        assert!(cli.quiet);
        assert_eq!(cli.args, ["1", "2"]);
    }

    #[test]
    fn help_has_the_usage_heading_bpftrace_prints() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("USAGE:\n    tracebound [OPTIONS]"), "{help}");
    }
}

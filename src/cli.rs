//! The command line: what `tracebound` accepts, and its `--help`.

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
    version,
    after_help = "Examples:\n  tracebound -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'\n  tracebound -c '/bin/ls /tmp' -e 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[str(args->filename)] = count(); }'\n  tracebound -lv 'tracepoint:sched:sched_switch'\n  tracebound --check runbook.bt\n  tracebound --dry-run -e 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }'\n  tracebound -p 1234 -e 'uprobe:/usr/sbin/nginx:ngx_http_process_request { @[comm] = count(); }'\n  tracebound -l 'usdt:libstdc++:*'\n  tracebound -e 'usdt:libstdc++:libstdcxx:throw { @throws[comm] = count(); }'\n  tracebound -c ./app -e 'uprobe:./app:handler { @[ustack] = count(); }'\n  tracebound -e 'profile:hz:99 { @[kstack(perf, 5)] = count(); }'\n  tracebound -d ast -e 'BEGIN { printf(\"hi\\n\"); }'\n  tracebound --metrics 9464 --metrics-label team=payments runbook.bt\n\nCommands:\n  tracebound calibrate            measure this host's per-hit costs for the overhead estimate and cache them\n  tracebound completions SHELL    print the shell completion script (bash, zsh, fish, elvish, powershell)\n  tracebound man                  print the man page, tracebound(1)\n\nExit codes: 0 (or exit(N)), 1 for a diagnostic or runtime error, 2 for a command line that does not parse, 3 when the projected overhead is over budget, 128+signal when stopped before anything was attached."
)]
pub struct Cli {
    /// Program text (may be repeated; the parts are joined with newlines).
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Vec<String>,

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
    #[arg(short = 'l')]
    pub list: bool,

    /// Allow destructive functions: system, signal, override.
    #[arg(long = "unsafe")]
    pub unsafe_allowed: bool,

    /// Print a compiler stage and exit: `ast` (the parsed tree, as script text), `ir` (the
    /// intermediate code of each probe), `bpf` (the BPF instructions of each probe).
    #[arg(short = 'd', value_name = "STAGE")]
    pub debug: Option<DebugStage>,

    /// Write the compiled ELF object to FILE and exit without loading it.
    #[arg(long = "emit-elf", value_name = "FILE")]
    pub emit_elf: Option<std::path::PathBuf>,

    /// Verbose: show the kernel verifier's full log when it rejects a program; with -l, list
    /// tracepoint fields.
    #[arg(short = 'v')]
    pub verbose: bool,

    /// Run CMD (split on white space, no shell) once the probes are attached, and exit when it
    /// exits. `cpid` is its pid.
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Exit when process PID exits; uprobes and usdt probes fire in that process only.
    #[arg(short = 'p', value_name = "PID")]
    pub pid: Option<u32>,

    /// Write the output to FILE instead of standard output.
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Quiet: do not print "Attaching N probes...".
    #[arg(short = 'q')]
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
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
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
    /// With `-e`, every argument is a positional parameter.
    #[arg(value_name = "FILE | ARGS", trailing_var_arg = true)]
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

impl Cli {
    /// What the command line asks of a run; `warn` shows a warning the run goes ahead with.
    pub fn run_request<'a>(
        &self,
        check: CheckOptions,
        positional: Vec<String>,
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
            pid: self.pid,
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
            warn,
        }
    }
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

//! What the binary asks of a run (the command line's choices, parsed) and how the run ends,
//! as values: the binary reports them, the run never prints a diagnostic itself.

use std::path::PathBuf;
use std::time::Duration;

use tracebound_compiler::diagnostic::Diagnostic;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::CheckOptions;

use crate::output::Format;
use crate::probes::load::LoadError;
use crate::run::error::RunError;

/// How far the run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Compile for this machine and hand the program back (`-d ir`, `-d bpf`, `--emit-elf`):
    /// nothing is loaded.
    Compile,
    /// `--dry-run`: load, measure, judge, print the estimate; attach nothing.
    DryRun,
    /// Everything: load, measure, judge, attach, run until the script ends.
    Run,
}

/// A run as the command line asked for it.
pub struct RunRequest<'a> {
    pub goal: Goal,
    /// As `--check` was given them (positional count, `--unsafe`).
    pub check: CheckOptions,
    /// `$1`, `$2`, ...
    pub positional: Vec<String>,
    /// `--budget`, percent of the machine; wins over the script's `config = { budget }`.
    pub budget_pct: Option<f64>,
    /// `--auto-filter`: narrow a script over budget instead of refusing it.
    pub auto_filter: bool,
    /// Watch the running script's measured overhead (off with `--no-guard`).
    pub guard: bool,
    /// `--estimate-window`: the longest each probe's events are counted before attaching
    /// (counting stops earlier once the verdict is known).
    pub estimate_window: Duration,
    /// `--estimate-min`: the shortest.
    pub estimate_min: Duration,
    /// `-c CMD`.
    pub command: Option<String>,
    /// `-p PID`.
    pub pid: Option<u32>,
    /// `-o FILE`, instead of standard output.
    pub output: Option<PathBuf>,
    /// `-q`.
    pub quiet: bool,
    /// `--timeout`; wins over the script's `config = { max_duration }`.
    pub timeout: Option<Duration>,
    pub format: Format,
    /// `--percentiles`: hist/lhist maps print as percentile tables (at exit and `print`).
    pub percentiles: bool,
    /// `--flamegraph FILE`: the maps keyed by a stack written as an SVG flame graph at exit.
    pub flamegraph: Option<PathBuf>,
    /// `--metrics ADDR:PORT` and the `--metrics-label`s.
    pub metrics: Option<(std::net::SocketAddr, Vec<(String, String)>)>,
    /// The script's name in `errorf`/`warnf` messages (`stdin` for `-e`, else its file).
    pub script_name: String,
    /// `--no-warnings`: `warnf` prints nothing.
    pub no_warnings: bool,
    /// `-k`: failed memory reads and map reads that find nothing warn while running
    /// (`LowerOptions::helper_errors`).
    pub helper_errors: bool,
    /// `--bench`: run the `bench:` probes and report their times.
    pub bench: bool,
    /// `BPFTRACE_DUMMY_TS_MAP`: the scalar map `tseries` reads as its clock (the current
    /// release's hook for its tests).
    pub clock_map: Option<String>,
    /// Where a warning the run goes ahead with is shown, as it arises (the budget's "this
    /// script will take ..."): the binary renders it at the script's text.
    pub warn: &'a mut dyn FnMut(&Diagnostic),
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// The script ran to its end (the code `exit()` gave, or 0), or a dry run found it within
    /// budget (0).
    Exited(i32),
    /// `Goal::Compile`: the program, for the binary to print or write.
    Compiled(Box<Compiled>),
    /// A signal came before anything was attached: 128 + the signal.
    Stopped(u8),
    /// The script cannot run here as written: diagnostics at its text (the compiler's, the
    /// kernel's capabilities, the verifier's, whose own log comes along for -v).
    Diagnosed {
        diagnostics: Vec<Diagnostic>,
        verifier_log: Option<String>,
    },
    /// Projected over budget: the refusal, at the costliest probe.
    OverBudget(Box<Diagnostic>),
    /// Anything else: one line (and, for a program the kernel would not load, its log).
    Failed {
        message: String,
        verifier_log: Option<String>,
    },
}

impl RunOutcome {
    pub fn failed(message: String) -> RunOutcome {
        RunOutcome::Failed {
            message,
            verifier_log: None,
        }
    }

    pub fn diagnosed(diagnostics: Vec<Diagnostic>) -> RunOutcome {
        RunOutcome::Diagnosed {
            diagnostics,
            verifier_log: None,
        }
    }
}

impl From<RunError> for RunOutcome {
    fn from(e: RunError) -> RunOutcome {
        match e {
            RunError::Rejected { diagnostic, log } => RunOutcome::Diagnosed {
                diagnostics: vec![*diagnostic],
                verifier_log: Some(log),
            },
            e => RunOutcome::Failed {
                message: e.to_string(),
                verifier_log: match &e {
                    RunError::Load(LoadError::Program { verifier_log, .. }) => {
                        Some(verifier_log.clone())
                    }
                    _ => None,
                },
            },
        }
    }
}

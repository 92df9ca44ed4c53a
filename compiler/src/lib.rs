//! tracebound's compiler: script text in; diagnostics, a checked program and a BPF object out.
//! It is pure: it never makes a syscall. What it needs to know about the machine comes through
//! a trait (`machine::facts::MachineFacts`), so `--check` runs without root and tests use
//! fixtures.
//!
//! The pipeline, one module each, in the order `pipeline::compile` runs it: `lex` → `parse`
//! (→ `ast`) → `macros` → `type_of` → `program_options` → `positional` → `check` → `resolve` (→ `resolve::ResolvedProgram`) → `lower` (→ `ir`) →
//! `codegen` (→ `insn`) → `object`. Imports run one way, in the order ARCHITECTURE.md's table
//! gives (a data type such as `ast` or `ir` before the phase that builds it), which
//! tests/architecture.rs checks; what the runtime, the binary and the fuzz targets use is
//! public, the rest `pub(crate)`.

pub mod ast;
pub(crate) mod check;
pub(crate) mod codegen;
pub(crate) mod config;
pub mod diagnostic;
pub mod insn;
pub mod ir;
pub mod lex;
pub mod lower;
pub mod machine;
pub(crate) mod macros;
pub mod object;
pub mod parse;
pub mod pipeline;
pub mod positional;
pub mod probe;
pub mod program;
pub mod program_options;
pub mod resolve;
pub mod span;
pub(crate) mod type_of;
pub mod types;

pub use check::CheckOptions;
pub use config::{Limits, MissingProbes};

/// The configuration the environment sets (`BPFTRACE_MAX_STRLEN=...` and every other key
/// of the current release, as `BPFTRACE_` and the key in capitals), for
/// `CheckOptions::environment`; or why a value cannot be used (`BPFTRACE_KEY: ...`).
pub fn configuration_from_environment(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let environment = config::environment(vars);
    match config::environment_errors(&environment).into_iter().next() {
        Some(error) => Err(error),
        None => Ok(environment),
    }
}
pub use diagnostic::{Diagnostic, Severity};
pub use span::Span;

/// What `--check` reports.
pub struct CheckResult {
    /// Parse errors or check diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many probes the script declares (0 when it did not parse).
    pub probe_count: usize,
}

/// The named options a script declares with `getopt`, for the command line to read its
/// `-- --name=value` arguments against.
pub fn declared_options(
    source: &str,
) -> Result<Vec<program_options::ProgramOption>, Vec<Diagnostic>> {
    let program = macros::expand(parse::parse(source).map_err(|d| vec![d])?)?;
    program_options::declared(&program)
}

/// Parses and checks a script without any machine facts.
pub fn check_source(source: &str, options: &CheckOptions) -> CheckResult {
    match parse::parse(source)
        .map_err(|d| vec![d])
        .and_then(macros::expand)
        .and_then(type_of::eliminate)
        .and_then(|program| config::substitute_record(program, &options.environment))
        .and_then(|program| program_options::substitute(program, &options.program_options))
        .and_then(|program| positional::substitute(program, options.positional.as_deref()))
    {
        Err(diagnostics) => CheckResult {
            diagnostics,
            probe_count: 0,
        },
        Ok((program, mut diagnostics)) => {
            let probe_count = program
                .items
                .iter()
                .filter(|i| matches!(i, ast::Item::Probe(_)))
                .count();
            diagnostics.extend(check::check(&program, options));
            CheckResult {
                diagnostics,
                probe_count,
            }
        }
    }
}

//! The script's `config = { ... }` block and the `BPFTRACE_*` environment: the limits a run
//! works within. Every key of the current release is read here: honoured (it changes what the
//! run does, as it does in bpftrace), accepted where nothing tracebound does depends on it (the
//! table says why), or refused with a diagnostic at the key or the value. Messages are the
//! current release's (`KEY: not a known configuration option`). An environment variable
//! `BPFTRACE_KEY` overrides the block, as in bpftrace.

use std::time::Duration;

use crate::ast::visit::{walk_expr_mut, VisitorMut};
use crate::ast::{Config, Expr, ExprKind, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::program::StackMode;
use crate::span::Span;

/// What to do about an attach point that does not exist on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingProbes {
    /// Leave it out without a word.
    Ignore,
    /// Leave it out with a warning.
    Warn,
    /// Refuse the script (the default).
    Error,
}

/// The limits, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Characters `str()` keeps of a string (`comm` stays 16).
    pub max_strlen: u32,
    /// What a string `str()` cut at `max_strlen` prints after it (`str_trunc_trailer`);
    /// empty: nothing, and nothing marks the cut.
    pub str_trunc_trailer: String,
    /// Entries per map; a full map refuses new keys and the runtime says so.
    pub max_map_keys: u32,
    /// The ring buffer's size in 4 KiB pages (a power of two).
    pub perf_rb_pages: u32,
    /// Whether the script's `config` or the environment set `perf_rb_pages`: the runtime
    /// sizes the ring buffer from the estimate only when neither did.
    pub perf_rb_pages_given: bool,
    /// Attach points a script may expand to (wildcards count each match).
    pub max_probes: u32,
    /// BPF programs a script may load.
    pub max_bpf_progs: u32,
    /// End the run cleanly, printing the maps, after this long.
    pub max_duration: Option<Duration>,
    /// The overhead budget, percent of the machine (`--budget` wins).
    pub budget_pct: Option<f64>,
    /// How `kstack`/`ustack` print when they do not name a mode.
    pub stack_mode: StackMode,
    /// Whether the maps print when the run ends.
    pub print_maps_on_exit: bool,
    /// Whether user stack frames print their source lines and inlined calls, where the
    /// binary has debug info (the current release's default with blazesym).
    pub show_debug_info: bool,
    /// The most bytes `cat()` prints of a file.
    pub max_cat_bytes: u64,
    /// The license the object declares (the kernel gates GPL-only helpers on it).
    pub license: String,
    /// What an attach point that does not exist here does.
    pub missing_probes: MissingProbes,
}

impl Default for Limits {
    fn default() -> Self {
        // The current release's defaults, so that a script that runs there runs here and
        // prints the same: 0.17 had 512 probes and programs, and strings of 64 bytes.
        Limits {
            max_strlen: 1024,
            str_trunc_trailer: "..".to_string(),
            max_map_keys: 4096,
            perf_rb_pages: 256,
            perf_rb_pages_given: false,
            max_probes: 1024,
            max_bpf_progs: 1024,
            max_duration: None,
            budget_pct: None,
            stack_mode: StackMode::Bpftrace,
            print_maps_on_exit: true,
            show_debug_info: true,
            max_cat_bytes: 10240,
            license: "GPL".into(),
            missing_probes: MissingProbes::Error,
        }
    }
}

/// A configuration value: bpftrace reads a block's numbers as numbers and everything else
/// (strings, words, the environment) as text.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Text(String),
}

/// What a key is, for the reader.
enum Key {
    /// A key of the current release, or one of tracebound's own (`max_duration`, `budget`).
    Known(&'static str),
    /// Renamed by the current release: read as the new name, with a warning.
    Renamed(&'static str),
    /// Still parsed but without effect in the current release (or gone since 0.17).
    Deprecated,
    /// bpftrace reads it from the environment only.
    EnvironmentOnly,
    Unknown,
}

/// The keys of the current release (and tracebound's own), read by `apply`.
pub const KEYS: &[&str] = &[
    "cache_user_symbols",
    "cpp_demangle",
    "lazy_symbolication",
    "license",
    "log_size",
    "max_bpf_progs",
    "max_cat_bytes",
    "max_map_keys",
    "max_probes",
    "max_strlen",
    "on_stack_limit",
    "perf_rb_pages",
    "stack_mode",
    "str_trunc_trailer",
    "missing_probes",
    "print_maps_on_exit",
    "use_blazesym",
    "show_debug_info",
    "unstable_import_statement",
    "unstable_tseries",
    "unstable_typeinfo",
    "unstable_dw_ustack",
    "max_duration",
    "budget",
];

/// The keys of `KEYS` that only tracebound's `config` block sets: bpftrace's environment
/// (`BPFTRACE_` and the key in capitals) sets every other.
const SCRIPT_ONLY_KEYS: &[&str] = &["max_duration", "budget"];

/// The licenses the kernel counts as GPL-compatible, as the current release names them, in
/// the order its message lists them.
const LICENSES: &[&str] = &[
    "Dual MIT/GPL",
    "Dual BSD/GPL",
    "Dual MPL/GPL",
    "GPL and additional rights",
    "GPL v2",
    "GPL",
];

fn key_of(lowered: &str) -> Key {
    let key = lowered.strip_prefix("bpftrace_").unwrap_or(lowered);
    if let Some(k) = KEYS.iter().find(|k| **k == key) {
        return Key::Known(k);
    }
    match key {
        "strlen" => Key::Renamed("max_strlen"),
        "no_cpp_demangle" => Key::Renamed("cpp_demangle"),
        "cat_bytes_max" => Key::Renamed("max_cat_bytes"),
        "map_keys_max" => Key::Renamed("max_map_keys"),
        "symbol_source"
        | "max_type_res_iterations"
        | "unstable_addr"
        | "unstable_import"
        | "unstable_macro"
        | "unstable_map_decl"
        | "max_ast_nodes" => Key::Deprecated,
        "btf" | "kernel_build" | "kernel_source" | "vmlinux" => Key::EnvironmentOnly,
        _ => Key::Unknown,
    }
}

/// The `BPFTRACE_*` variables among `vars` that set a configuration key, as (key, value),
/// in the order given.
pub fn environment(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.into_iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix("BPFTRACE_")?.to_ascii_lowercase();
            let known = KEYS.contains(&key.as_str()) && !SCRIPT_ONLY_KEYS.contains(&key.as_str());
            known.then_some((key, value))
        })
        .collect()
}

/// Why the environment's settings (from `environment`) cannot be used, one line each, as
/// the current release words it (`KEY: ...`).
pub fn environment_errors(environment: &[(String, String)]) -> Vec<String> {
    let mut limits = Limits::default();
    environment
        .iter()
        .filter_map(|(key, value)| {
            apply(&mut limits, key, &Value::Text(value.clone()))
                .err()
                .map(|e| format!("BPFTRACE_{}: {e}", key.to_ascii_uppercase()))
        })
        .collect()
}

/// Reads the config block (if any) over the defaults, then the environment over it; the
/// diagnostics are warnings (renamed or deprecated keys) and errors.
pub fn read(program: &Program, environment: &[(String, String)]) -> (Limits, Vec<Diagnostic>) {
    let mut limits = Limits::default();
    let mut diags = Vec::new();
    for item in &program.items {
        if let Item::Config(config) = item {
            read_block(config, &mut limits, &mut diags);
        }
    }
    for (key, value) in environment {
        if let Err(e) = apply(&mut limits, key, &Value::Text(value.clone())) {
            diags.push(Diagnostic::error(
                format!("BPFTRACE_{}: {e}", key.to_ascii_uppercase()),
                Span::default(),
                "set in the environment",
            ));
        }
    }
    (limits, diags)
}

/// The limits, or the errors that refuse the block (warnings are `read`'s to report).
pub fn limits(
    program: &Program,
    environment: &[(String, String)],
) -> Result<Limits, Vec<Diagnostic>> {
    let (limits, diags) = read(program, environment);
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if errors.is_empty() {
        Ok(limits)
    } else {
        Err(errors)
    }
}

fn read_block(config: &Config, limits: &mut Limits, diags: &mut Vec<Diagnostic>) {
    for entry in &config.entries {
        let name = &entry.key.name;
        let lowered = name.to_ascii_lowercase();
        let key = match key_of(&lowered) {
            Key::Known(key) => key,
            Key::Renamed(new) => {
                diags.push(Diagnostic::warning(
                    format!("{name} has been renamed, please use {new}"),
                    entry.key.span,
                    "an old name",
                ));
                new
            }
            Key::Deprecated => {
                diags.push(Diagnostic::warning(
                    format!("{name} is deprecated and has no effect"),
                    entry.key.span,
                    "no effect",
                ));
                continue;
            }
            Key::EnvironmentOnly => {
                diags.push(Diagnostic::error(
                    format!("{name}: can only be set as an environment variable"),
                    entry.key.span,
                    "not a script setting",
                ));
                continue;
            }
            Key::Unknown => {
                let mut d = Diagnostic::error(
                    format!("{name}: not a known configuration option"),
                    entry.span,
                    "not a configuration setting",
                );
                let bare = lowered.strip_prefix("bpftrace_").unwrap_or(&lowered);
                if let Some(s) = crate::diagnostic::nearest(bare, KEYS.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                diags.push(d);
                continue;
            }
        };
        let value = match &entry.value.kind {
            ExprKind::Int(n) => Value::Int(*n),
            ExprKind::Bool(b) => Value::Int(u64::from(*b)),
            ExprKind::Str(s) | ExprKind::Ident(s) => Value::Text(s.clone()),
            _ => {
                diags.push(Diagnostic::error(
                    "config values are constants",
                    entry.value.span,
                    "expected a number, a string, a word or true/false",
                ));
                continue;
            }
        };
        if let Err(e) = apply(limits, key, &value) {
            // The current release names the key in every message but the license's.
            let message = match key {
                "license" => e,
                _ => format!("{key}: {e}"),
            };
            diags.push(Diagnostic::error(message, entry.value.span, "here"));
        }
    }
}

/// Sets one key (its current name, lower case) from a value; the error is the current
/// release's text after `KEY: `, or why tracebound refuses the value.
fn apply(limits: &mut Limits, key: &str, value: &Value) -> Result<(), String> {
    match key {
        "max_strlen" => limits.max_strlen = number(value, 1, 1 << 16)? as u32,
        "max_map_keys" => limits.max_map_keys = number(value, 1, 1 << 24)? as u32,
        "perf_rb_pages" => {
            let n = number(value, 1, 1 << 16)?;
            if !n.is_power_of_two() {
                return Err("perf_rb_pages must be a power of two".into());
            }
            limits.perf_rb_pages = n as u32;
            limits.perf_rb_pages_given = true;
        }
        "max_probes" => limits.max_probes = number(value, 1, 1 << 20)? as u32,
        "max_bpf_progs" => limits.max_bpf_progs = number(value, 1, 1 << 20)? as u32,
        "max_cat_bytes" => limits.max_cat_bytes = number(value, 0, u64::MAX)?,
        "print_maps_on_exit" => limits.print_maps_on_exit = boolean(value)?,
        "license" => limits.license = license(value)?,
        "missing_probes" => limits.missing_probes = missing_probes(value)?,
        "stack_mode" => limits.stack_mode = stack_mode(value)?,
        "max_duration" => limits.max_duration = Some(duration(value)?),
        "budget" => limits.budget_pct = Some(percent(value)?),
        // Sizes of bpftrace's own buffers and stack use: tracebound sizes its verifier log
        // and decides what lives on the BPF stack itself, and no output depends on either.
        "log_size" | "on_stack_limit" => {
            number(value, 0, u64::MAX)?;
        }
        // When and how bpftrace reads user symbols: tracebound notes a process's mappings
        // when it first shows up and names addresses from them, which names the same
        // functions whichever of these is set.
        "lazy_symbolication" | "use_blazesym" => {
            boolean(value)?;
        }
        "cache_user_symbols" => cache_user_symbols(value)?,
        // Gates of features tracebound refuses at their use whatever the gate says.
        "unstable_import_statement"
        | "unstable_tseries"
        | "unstable_typeinfo"
        | "unstable_dw_ustack" => unstable(value)?,
        "cpp_demangle" => {
            if !boolean(value)? {
                return Err(
                    "not supported yet: mangled names (tracebound always demangles)".into(),
                );
            }
        }
        "show_debug_info" => limits.show_debug_info = boolean(value)?,
        "str_trunc_trailer" => {
            limits.str_trunc_trailer = match value {
                Value::Int(n) => n.to_string(),
                Value::Text(s) => s.clone(),
            }
        }
        _ => return Err("not a known configuration option".into()),
    }
    Ok(())
}

fn number(value: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match value {
        Value::Int(n) => *n,
        Value::Text(s) => {
            let digits: String = s.chars().filter(|&c| c != '_').collect();
            digits
                .parse::<u64>()
                .map_err(|_| format!("expecting a number, got {s}"))?
        }
    };
    if n < min || n > max {
        return Err(format!("expected a number from {min} to {max}"));
    }
    Ok(n)
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Int(n) => Ok(*n != 0),
        Value::Text(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err("Invalid bool value: valid values are true, false, 1 or 0.".into()),
        },
    }
}

fn license(value: &Value) -> Result<String, String> {
    let text = match value {
        Value::Int(n) => n.to_string(),
        Value::Text(s) => s.clone(),
    };
    if LICENSES.contains(&text.as_str()) {
        return Ok(text);
    }
    Err(format!(
        "Invalid value for license. Found: {text}. Valid values: {}. Read more about BPF \
         programs and licensing: \
         https://docs.kernel.org/bpf/bpf_licensing.html#using-bpf-programs-in-the-linux-kernel",
        LICENSES.join(", ")
    ))
}

fn missing_probes(value: &Value) -> Result<MissingProbes, String> {
    let bad = || "Invalid value for missing_probes: valid values are ignore, warn, and error.";
    match value {
        Value::Text(s) => match s.to_ascii_lowercase().as_str() {
            "ignore" => Ok(MissingProbes::Ignore),
            "warn" => Ok(MissingProbes::Warn),
            "error" => Ok(MissingProbes::Error),
            _ => Err(bad().into()),
        },
        Value::Int(_) => Err(bad().into()),
    }
}

fn cache_user_symbols(value: &Value) -> Result<(), String> {
    let ok = match value {
        Value::Int(_) => true,
        Value::Text(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "1" | "0" | "per_pid" | "per_program" | "none"
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(
            "Invalid value for cache_user_symbols: valid values are PER_PID, PER_PROGRAM, and NONE."
                .into(),
        )
    }
}

fn unstable(value: &Value) -> Result<(), String> {
    match value {
        Value::Int(_) => Ok(()),
        Value::Text(s) => match s.to_ascii_lowercase().as_str() {
            "enable" | "warn" | "error" => Ok(()),
            _ if boolean(value).is_ok() => Ok(()),
            _ => Err(
                "Invalid value for unstable config: valid values are enable, warn, and error."
                    .into(),
            ),
        },
    }
}

/// A stack mode by name, as `kstack(perf)` writes it.
pub fn stack_mode_named(name: &str) -> Option<StackMode> {
    match name {
        "bpftrace" => Some(StackMode::Bpftrace),
        "perf" => Some(StackMode::Perf),
        "raw" => Some(StackMode::Raw),
        _ => None,
    }
}

fn stack_mode(value: &Value) -> Result<StackMode, String> {
    match value {
        Value::Text(name) => stack_mode_named(name),
        Value::Int(_) => None,
    }
    .ok_or_else(|| "stack_mode is one of bpftrace, perf or raw".into())
}

/// A percentage of the machine: a number, or a string such as "2.5%".
fn percent(value: &Value) -> Result<f64, String> {
    let p = match value {
        Value::Int(n) => Some(*n as f64),
        Value::Text(s) => s.trim_end_matches('%').parse::<f64>().ok(),
    };
    match p {
        Some(p) if p > 0.0 && p <= 10_000.0 => Ok(p),
        _ => Err("budget is a percentage of the machine, e.g. 3 or \"2.5%\"".into()),
    }
}

/// Seconds as a number, or a string with a unit: "500ms", "30s", "5m", "1h".
fn duration(value: &Value) -> Result<Duration, String> {
    let bad =
        || "max_duration is seconds, or a string such as \"500ms\", \"30s\", \"5m\"".to_string();
    let d = match value {
        Value::Int(n) => Duration::from_secs(*n),
        Value::Text(s) => {
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let n: u64 = s[..split].parse().map_err(|_| bad())?;
            match &s[split..] {
                "ms" => Duration::from_millis(n),
                "" | "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3600),
                _ => return Err(bad()),
            }
        }
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

/// The `config` record (`config().max_strlen`, `__builtin_config.stack_mode`): each field
/// read becomes the constant the configuration holds for this run, the block's value over
/// the defaults and the environment's over both, as in the current release. A key whose
/// value tracebound does not keep (it accepts it and nothing it does depends on it), or the
/// record used whole, is refused at the text rather than answered with a guess.
pub fn substitute_record(
    mut program: Program,
    environment: &[(String, String)],
) -> Result<Program, Vec<Diagnostic>> {
    // A block check refuses leaves the defaults for its keys; check reports the errors.
    let (limits, _) = read(&program, environment);
    let mut pass = RecordFields {
        limits: &limits,
        diags: Vec::new(),
    };
    for item in &mut program.items {
        match item {
            Item::Probe(p) => pass.probe(p),
            Item::Function(f) => pass.block(&mut f.body),
            _ => {}
        }
    }
    if pass.diags.is_empty() {
        Ok(program)
    } else {
        Err(pass.diags)
    }
}

/// `config()` (the current release's stdlib macro) or `__builtin_config`, both `config`
/// once macros are expanded (`config` alone is the block's keyword).
fn is_config_record(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call { name, args } => name.name == "config" && args.is_empty(),
        ExprKind::Ident(n) => n == "config" || n == "__builtin_config",
        _ => false,
    }
}

/// The value of `key` for this run as a literal, or why it cannot be given.
fn record_field(limits: &Limits, key: &str) -> Result<ExprKind, &'static str> {
    let stack_mode = match limits.stack_mode {
        StackMode::Bpftrace => "bpftrace",
        StackMode::Perf => "perf",
        StackMode::Raw => "raw",
        StackMode::BuildId => "build_id",
    };
    let missing = match limits.missing_probes {
        MissingProbes::Ignore => "ignore",
        MissingProbes::Warn => "warn",
        MissingProbes::Error => "error",
    };
    Ok(match key {
        "max_strlen" => ExprKind::Int(limits.max_strlen.into()),
        "max_map_keys" => ExprKind::Int(limits.max_map_keys.into()),
        "max_probes" => ExprKind::Int(limits.max_probes.into()),
        "max_bpf_progs" => ExprKind::Int(limits.max_bpf_progs.into()),
        "max_cat_bytes" => ExprKind::Int(limits.max_cat_bytes),
        "perf_rb_pages" if limits.perf_rb_pages_given => ExprKind::Int(limits.perf_rb_pages.into()),
        "perf_rb_pages" => {
            return Err("the ring buffer is sized from the estimate when the run starts")
        }
        "print_maps_on_exit" => ExprKind::Bool(limits.print_maps_on_exit),
        "show_debug_info" => ExprKind::Bool(limits.show_debug_info),
        "license" => ExprKind::Str(limits.license.clone()),
        "missing_probes" => ExprKind::Str(missing.into()),
        "stack_mode" => ExprKind::Str(stack_mode.into()),
        // The only value tracebound accepts for it (`apply` refuses the other).
        "cpp_demangle" => ExprKind::Bool(true),
        k if KEYS.contains(&k) => {
            return Err("tracebound accepts this key but keeps no value for it")
        }
        _ => return Err("not a known configuration option"),
    })
}

struct RecordFields<'l> {
    limits: &'l Limits,
    diags: Vec<Diagnostic>,
}

impl VisitorMut for RecordFields<'_> {
    fn expr(&mut self, e: &mut Expr) {
        if let ExprKind::Field { expr, field, .. } = &e.kind {
            if is_config_record(expr) {
                match record_field(self.limits, &field.name) {
                    Ok(kind) => e.kind = kind,
                    Err(why) => self.diags.push(Diagnostic::error(
                        format!("config has no field `{}` tracebound can read", field.name),
                        field.span,
                        why,
                    )),
                }
                return;
            }
        }
        if is_config_record(e) {
            let reason = tracebound_stdlib::lookup("config")
                .and_then(|b| b.refusal())
                .unwrap_or("the configuration record as a whole");
            self.diags.push(Diagnostic::error(
                "`config` is not supported by tracebound",
                e.span,
                reason,
            ));
            return;
        }
        walk_expr_mut(self, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn record(src: &str, env: &[(&str, &str)]) -> Result<String, Vec<Diagnostic>> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let program = crate::macros::expand(parse(src).unwrap())?;
        substitute_record(program, &env).map(|p| crate::ast::print_program(&p))
    }

    #[test]
    fn config_record_fields_are_this_runs_values() {
        let out = record(
            "config = { max_strlen = 100; stack_mode = perf } BEGIN { \
             printf(\"%d %s %d %d\", config().max_strlen, config().stack_mode, \
             config().cpp_demangle, __builtin_config.max_map_keys); }",
            &[("max_map_keys", "77")],
        )
        .unwrap();
        assert!(out.contains("100, \"perf\", true, 77"), "{out}");
    }

    #[test]
    fn config_record_refuses_what_it_cannot_answer() {
        for src in [
            "BEGIN { $x = config().log_size; }",
            "BEGIN { $x = config().no_such_key; }",
            "BEGIN { $x = config(); }",
            "BEGIN { $x = config().perf_rb_pages; }",
        ] {
            let diags = record(src, &[]).unwrap_err();
            assert_eq!(diags.len(), 1, "{src}");
        }
    }

    fn of(config: &str) -> Result<Limits, Vec<Diagnostic>> {
        limits(
            &parse(&format!("config = {{ {config} }} BEGIN {{ }}")).unwrap(),
            &[],
        )
    }

    /// The first diagnostic's message and the text it points at.
    fn first(config: &str) -> (String, String) {
        let source = format!("config = {{ {config} }} BEGIN {{ }}");
        let (_, d) = read(&parse(&source).unwrap(), &[]);
        let d = d.first().expect("a diagnostic");
        (d.message.clone(), source[d.span().range()].to_string())
    }

    #[test]
    fn every_key_of_the_current_release_is_read_or_refused_at_the_key() {
        let l = of("print_maps_on_exit = 0; max_cat_bytes = 5; license = \"Dual BSD/GPL\"; \
                    missing_probes = \"warn\"; log_size = 100; on_stack_limit = 8; \
                    lazy_symbolication = 0; cache_user_symbols = PER_PROGRAM; use_blazesym = 1; \
                    cpp_demangle = 1; show_debug_info = 0; unstable_tseries = enable; \
                    unstable_import_statement = warn; unstable_typeinfo = 0; unstable_dw_ustack = 1")
            .unwrap();
        assert!(!l.print_maps_on_exit);
        assert_eq!(l.max_cat_bytes, 5);
        assert_eq!(l.license, "Dual BSD/GPL");
        assert_eq!(l.missing_probes, MissingProbes::Warn);
        assert_eq!(
            first("bad_config=raw"),
            (
                "bad_config: not a known configuration option".into(),
                // The whole setting, as the current release underlines it.
                "bad_config=raw".into()
            )
        );
        assert_eq!(
            first("missing_probes = 1").0,
            "missing_probes: Invalid value for missing_probes: valid values are ignore, warn, and error."
        );
        assert!(first("license = \"MIT\"").0.starts_with(
            "Invalid value for license. Found: MIT. Valid values: Dual MIT/GPL, Dual BSD/GPL,"
        ));
        assert_eq!(
            first("btf = 1"),
            (
                "btf: can only be set as an environment variable".into(),
                "btf".into()
            )
        );
        assert_eq!(first("cpp_demangle = 0").1, "0");
        assert_eq!(
            first("max_strlen = \"big\"").0,
            "max_strlen: expecting a number, got big"
        );
    }

    #[test]
    fn renamed_and_deprecated_keys_warn() {
        let source = "config = { strlen = 100; max_type_res_iterations = 3 } BEGIN { }";
        let (l, d) = read(&parse(source).unwrap(), &[]);
        assert_eq!(l.max_strlen, 100);
        assert!(d.iter().all(|d| !d.is_error()));
        assert_eq!(
            d[0].message,
            "strlen has been renamed, please use max_strlen"
        );
        assert_eq!(
            d[1].message,
            "max_type_res_iterations is deprecated and has no effect"
        );
    }

    #[test]
    fn the_environment_overrides_the_block() {
        let env = environment([
            ("BPFTRACE_STACK_MODE".to_string(), "raw".to_string()),
            ("BPFTRACE_MAX_STRLEN".to_string(), "200".to_string()),
            ("BPFTRACE_COLOR".to_string(), "never".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        assert_eq!(env.len(), 2, "{env:?}");
        let program = parse("config = { stack_mode = perf; max_strlen = 100 } BEGIN { }").unwrap();
        let l = limits(&program, &env).unwrap();
        assert_eq!((l.stack_mode, l.max_strlen), (StackMode::Raw, 200));
        let bad = environment([("BPFTRACE_MAX_STRLEN".to_string(), "lots".to_string())]);
        assert_eq!(
            environment_errors(&bad),
            ["BPFTRACE_MAX_STRLEN: expecting a number, got lots"]
        );
    }

    #[test]
    fn the_truncation_trailer_is_any_text_or_none() {
        assert_eq!(Limits::default().str_trunc_trailer, "..");
        assert_eq!(
            of("str_trunc_trailer = \"_xxx\"")
                .unwrap()
                .str_trunc_trailer,
            "_xxx"
        );
        assert_eq!(
            of("str_trunc_trailer = \"\"").unwrap().str_trunc_trailer,
            ""
        );
        let env = environment([("BPFTRACE_STR_TRUNC_TRAILER".to_string(), "~".to_string())]);
        let program = parse("config = { str_trunc_trailer = \"...\" } BEGIN { }").unwrap();
        assert_eq!(limits(&program, &env).unwrap().str_trunc_trailer, "~");
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(of("").unwrap(), Limits::default());
        let l = of("max_strlen = 128; max_map_keys = 10; perf_rb_pages = 4; max_duration = \"5m\"")
            .unwrap();
        assert_eq!(
            (l.max_strlen, l.max_map_keys, l.perf_rb_pages),
            (128, 10, 4)
        );
        assert_eq!(l.max_duration, Some(Duration::from_secs(300)));
        assert_eq!(
            of("max_duration = 2").unwrap().max_duration,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn out_of_range_values_point_at_the_value() {
        let source = "config = { perf_rb_pages = 3 } BEGIN { }";
        let d = limits(&parse(source).unwrap(), &[]).unwrap_err();
        assert_eq!(&source[d[0].span().range()], "3");
        assert!(of("max_strlen = 0").is_err());
        assert!(of("max_duration = \"5 parsecs\"").is_err());
    }
}

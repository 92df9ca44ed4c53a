//! The script's `config = { ... }` block: the limits a run works within, each with a default a
//! production engineer can live with and a diagnostic at the value when it is out of range.
//! (`check` already refused unknown keys and non-constant values.)

use std::time::Duration;

use crate::ast::{Expr, ExprKind, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::program::StackMode;

/// The limits, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Bytes kept of a string (`str()`, `comm` stays 16).
    pub max_strlen: u32,
    /// Entries per map; a full map refuses new keys and the runtime says so.
    pub max_map_keys: u32,
    /// The ring buffer's size in 4 KiB pages (a power of two).
    pub perf_rb_pages: u32,
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
}

impl Default for Limits {
    fn default() -> Self {
        // bpftrace's defaults, so that a script that runs there runs here.
        Limits {
            max_strlen: 64,
            max_map_keys: 4096,
            perf_rb_pages: 256,
            max_probes: 512,
            max_bpf_progs: 512,
            max_duration: None,
            budget_pct: None,
            stack_mode: StackMode::Bpftrace,
        }
    }
}

/// Reads the config block (if any) over the defaults.
pub fn limits(program: &Program) -> Result<Limits, Vec<Diagnostic>> {
    let mut limits = Limits::default();
    let mut diags = Vec::new();
    let entries = program.items.iter().flat_map(|item| match item {
        Item::Config(c) => c.entries.as_slice(),
        _ => &[],
    });
    for entry in entries {
        let key = entry.key.name.to_ascii_lowercase();
        let key = key.strip_prefix("bpftrace_").unwrap_or(&key);
        let value = &entry.value;
        let result = match key {
            "max_strlen" => number(value, 1, 1024).map(|n| limits.max_strlen = n),
            "max_map_keys" => number(value, 1, 1 << 24).map(|n| limits.max_map_keys = n),
            "perf_rb_pages" => number(value, 1, 1 << 16).and_then(|n| {
                if n.is_power_of_two() {
                    limits.perf_rb_pages = n;
                    Ok(())
                } else {
                    Err(Diagnostic::error(
                        "perf_rb_pages must be a power of two",
                        value.span,
                        "not a power of two",
                    ))
                }
            }),
            "max_probes" => number(value, 1, 1 << 20).map(|n| limits.max_probes = n),
            "max_bpf_progs" => number(value, 1, 1 << 20).map(|n| limits.max_bpf_progs = n),
            "max_duration" => duration(value).map(|d| limits.max_duration = Some(d)),
            "budget" => percent(value).map(|p| limits.budget_pct = Some(p)),
            "stack_mode" => stack_mode(value).map(|m| limits.stack_mode = m),
            // Keys bpftrace has that change nothing here.
            _ => Ok(()),
        };
        if let Err(d) = result {
            diags.push(d);
        }
    }
    if diags.is_empty() {
        Ok(limits)
    } else {
        Err(diags)
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

fn stack_mode(value: &Expr) -> Result<StackMode, Diagnostic> {
    let named = match &value.kind {
        ExprKind::Ident(name) | ExprKind::Str(name) => stack_mode_named(name),
        _ => None,
    };
    named.ok_or_else(|| {
        Diagnostic::error(
            "stack_mode is one of bpftrace, perf or raw",
            value.span,
            "not a stack mode tracebound prints",
        )
    })
}

fn number(value: &Expr, min: u32, max: u32) -> Result<u32, Diagnostic> {
    match value.kind {
        ExprKind::Int(n) if n >= u64::from(min) && n <= u64::from(max) => Ok(n as u32),
        _ => Err(Diagnostic::error(
            format!("expected a number from {min} to {max}"),
            value.span,
            "out of range",
        )),
    }
}

/// A percentage of the machine: a number, or a string such as "2.5%".
fn percent(value: &Expr) -> Result<f64, Diagnostic> {
    let p = match &value.kind {
        ExprKind::Int(n) => Some(*n as f64),
        ExprKind::Str(s) => s.trim_end_matches('%').parse::<f64>().ok(),
        _ => None,
    };
    match p {
        Some(p) if p > 0.0 && p <= 10_000.0 => Ok(p),
        _ => Err(Diagnostic::error(
            "budget is a percentage of the machine, e.g. 3 or \"2.5%\"",
            value.span,
            "not a percentage",
        )),
    }
}

/// Seconds as a number, or a string with a unit: "500ms", "30s", "5m", "1h".
fn duration(value: &Expr) -> Result<Duration, Diagnostic> {
    let bad = || {
        Diagnostic::error(
            "max_duration is seconds, or a string such as \"500ms\", \"30s\", \"5m\"",
            value.span,
            "not a duration",
        )
    };
    let d = match &value.kind {
        ExprKind::Int(n) => Duration::from_secs(*n),
        ExprKind::Str(s) => {
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
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn of(config: &str) -> Result<Limits, Vec<Diagnostic>> {
        limits(&parse(&format!("config = {{ {config} }} BEGIN {{ }}")).unwrap())
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
        let d = limits(&parse(source).unwrap()).unwrap_err();
        assert_eq!(&source[d[0].span().range()], "3");
        assert!(of("max_strlen = 0").is_err());
        assert!(of("max_duration = \"5 parsecs\"").is_err());
    }
}

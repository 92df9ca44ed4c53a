//! Attach points checked without a kernel: the provider exists, the number of parts fits, and
//! parts that are fixed words or numbers (units, event names, watch modes) are valid. Whether a
//! tracepoint or a function exists is a machine fact, checked by the resolver.

use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::lex::parse_integer;
use crate::parse::attach::{split, Part};
use crate::provider::{self, Provider, ProviderKind, HARDWARE_EVENTS, RATE_UNITS, SOFTWARE_EVENTS};
use crate::span::Span;

/// Checks one attach point; returns its provider when it is known.
pub fn check_attach_point(
    ap: &AttachPoint,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'static Provider> {
    let parts = split(&ap.text, ap.span);
    let head = &parts[0];
    if head.has_wildcard() {
        return None; // `t*point:...` expands to providers; the resolver does that.
    }
    let Some(provider) = provider::lookup(&head.text) else {
        let mut d = Diagnostic::error(
            format!("unknown probe type `{}`", head.text),
            head.span,
            "not a probe type",
        );
        d = match nearest(&head.text, provider::all_names()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(
                "probe types: BEGIN, END, tracepoint, rawtracepoint, kprobe, kretprobe, uprobe, \
                 uretprobe, usdt, profile, interval, software, hardware, watchpoint, fentry, fexit, iter",
            ),
        };
        diags.push(d);
        return None;
    };
    let args = &parts[1..];
    let (min, max) = provider.parts;
    let wildcard_shortcut =
        provider.kind == ProviderKind::Tracepoint && args.len() == 1 && args[0].has_wildcard();
    let count_ok = (min..=max).contains(&args.len())
        && !(provider.kind == ProviderKind::Tracepoint && args.len() == 1 && !wildcard_shortcut);
    if !count_ok {
        diags.push(
            Diagnostic::error(
                format!("malformed `{}` probe", provider.name),
                ap.span,
                format!("expected {}", provider.usage),
            )
            .with_help(format!("write it as `{}`", provider.usage)),
        );
        return Some(provider);
    }
    // Parts with `$1` are filled in from the command line; check them once substituted.
    if args.iter().any(|p| !p.quoted && p.text.contains('$')) {
        return Some(provider);
    }
    match provider.kind {
        ProviderKind::Profile | ProviderKind::Interval => check_rate(provider, args, ap, diags),
        ProviderKind::Software => check_event(provider, args, SOFTWARE_EVENTS, diags),
        ProviderKind::Hardware => check_event(provider, args, HARDWARE_EVENTS, diags),
        ProviderKind::Watchpoint | ProviderKind::AsyncWatchpoint => check_watchpoint(args, diags),
        ProviderKind::Begin | ProviderKind::End => {}
        _ => {
            // An empty part has nothing to underline: show the whole attach point.
            if args.iter().any(|p| p.text.is_empty() && !p.quoted) {
                diags.push(
                    Diagnostic::error(
                        format!("empty part in `{}` probe", provider.name),
                        ap.span,
                        "a part of this is missing",
                    )
                    .with_help(format!("write it as `{}`", provider.usage)),
                );
            }
        }
    }
    Some(provider)
}

/// The positional parameters (`$1`) written in an attach point, outside quotes, with their
/// spans: `interval:s:$1` must have its `$1` given like any other.
pub fn positionals(ap: &AttachPoint) -> Vec<(u32, Span)> {
    let mut found = Vec::new();
    let bytes = ap.text.as_bytes();
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_quotes = !in_quotes,
            b'$' if !in_quotes => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if let Ok(n) = ap.text[i + 1..i + 1 + digits].parse() {
                    let start = ap.span.start as usize + i;
                    found.push((n, Span::new(start, start + 1 + digits)));
                }
                i += digits;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn check_rate(provider: &Provider, args: &[Part], ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
    let (unit, count) = match args {
        [count] => (None, count),
        [unit, count] => (Some(unit), count),
        _ => return,
    };
    if let Some(unit) = unit {
        if provider::rate(Some(&unit.text), 1).is_none() {
            let mut d = Diagnostic::error(
                format!("unknown {} unit `{}`", provider.name, unit.text),
                unit.span,
                "expected hz, s, ms or us",
            );
            if let Some(s) = nearest(&unit.text, RATE_UNITS.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
            return;
        }
    }
    match parse_integer(&count.text) {
        Ok(0) => diags.push(Diagnostic::error(
            format!("`{}` needs a non-zero rate", provider.name),
            count.span,
            "zero",
        )),
        Ok(_) => {}
        Err(_) => diags.push(
            Diagnostic::error(
                format!("invalid {} rate `{}`", provider.name, count.text),
                if count.text.is_empty() {
                    ap.span
                } else {
                    count.span
                },
                "expected a number",
            )
            .with_help(format!("write it as `{}`", provider.usage)),
        ),
    }
}

fn check_event(provider: &Provider, args: &[Part], events: &[&str], diags: &mut Vec<Diagnostic>) {
    let event = &args[0];
    if !event.has_wildcard() && !events.contains(&event.text.as_str()) {
        let mut d = Diagnostic::error(
            format!("unknown {} event `{}`", provider.name, event.text),
            event.span,
            "not an event the kernel offers",
        );
        d = match nearest(&event.text, events.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(format!("{} events: {}", provider.name, events.join(", "))),
        };
        diags.push(d);
    }
    if let Some(count) = args.get(1).filter(|c| !c.text.is_empty()) {
        if parse_integer(&count.text).is_err() {
            diags.push(Diagnostic::error(
                format!("invalid sample period `{}`", count.text),
                count.span,
                "expected a number",
            ));
        }
    }
}

fn check_watchpoint(args: &[Part], diags: &mut Vec<Diagnostic>) {
    let [address, length, mode] = args else {
        return;
    };
    if parse_integer(&address.text).is_err() {
        diags.push(Diagnostic::error(
            format!("invalid watchpoint address `{}`", address.text),
            address.span,
            "expected a number",
        ));
    }
    if !matches!(parse_integer(&length.text), Ok(1 | 2 | 4 | 8)) {
        diags.push(Diagnostic::error(
            format!("invalid watchpoint length `{}`", length.text),
            length.span,
            "expected 1, 2, 4 or 8",
        ));
    }
    let valid_mode = !mode.text.is_empty()
        && mode.text.chars().all(|c| "rwx".contains(c))
        && mode.text.chars().count()
            == mode
                .text
                .chars()
                .collect::<std::collections::HashSet<_>>()
                .len();
    if !valid_mode {
        diags.push(Diagnostic::error(
            format!("invalid watchpoint mode `{}`", mode.text),
            mode.span,
            "expected some of r, w and x",
        ));
    }
}

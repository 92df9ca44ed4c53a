//! Attach points checked without a kernel: the provider exists, the number of parts fits, and
//! parts that are fixed words or numbers (units, event names, watch modes) are valid, as each
//! probe kind (`crate::probe`) checks them. Whether a tracepoint or a function exists is a
//! machine fact, checked by the resolver.

use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::parse::attach::split;
use crate::probe::{self, Provider};
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
    let Some(provider) = probe::lookup(&head.text) else {
        let mut d = Diagnostic::error(
            format!("unknown probe type `{}`", head.text),
            head.span,
            "not a probe type",
        );
        d = match nearest(&head.text, probe::all_names()) {
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
    let kind = provider.kind.probe();
    if !kind.parts_fit(args) {
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
    kind.check(args, ap, diags);
    Some(provider)
}

/// An iterator is read once, to its end, and the run is over: the current release runs an
/// iter probe alone (BEGIN and END around it), not beside another probe or iterator.
pub fn iterator_runs_alone(program: &crate::ast::Program, diags: &mut Vec<Diagnostic>) {
    use crate::probe::ProviderKind;
    let kinds: Vec<(ProviderKind, Span)> = program
        .items
        .iter()
        .filter_map(|i| match i {
            crate::ast::Item::Probe(p) => Some(p),
            _ => None,
        })
        .flat_map(|p| &p.attach_points)
        .filter_map(|ap| {
            let parts = split(&ap.text, ap.span);
            probe::lookup(&parts[0].text).map(|p| (p.kind, ap.span))
        })
        .filter(|(k, _)| !matches!(k, ProviderKind::Begin | ProviderKind::End))
        .collect();
    let Some(&(_, iter)) = kinds.iter().find(|(k, _)| *k == ProviderKind::Iter) else {
        return;
    };
    if let Some(&(other, span)) = kinds.iter().find(|(_, s)| *s != iter) {
        diags.push(
            Diagnostic::error(
                "an iter probe can't be mixed with any other probe",
                span,
                format!("`{}` probe beside the iterator", other.name()),
            )
            .with_label(iter, "the iterator")
            .with_help("run the iterator in a script of its own (BEGIN and END may stay)"),
        );
    }
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

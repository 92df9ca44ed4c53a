//! Probes resolved against the machine: each attach point expanded (tracepoint wildcards),
//! named canonically (`tracepoint:syscalls:sys_enter_read`, `interval:ms:100`), and, for
//! tracepoints, `args` typed from the format file. What cannot be resolved is a diagnostic at
//! the attach point.

use super::expand::expand_tracepoints;
use super::facts::{FactError, MachineFacts};
use super::tracepoint_format::{field_type, FieldType};
use crate::ast::{AttachPoint, Item, Program};
use crate::diagnostic::{nearest, Diagnostic};
use crate::lower::{ArgAccess, ArgField, ResolvedProbe};
use crate::parse::attach::split;
use crate::provider::{self, ProviderKind};

/// One `ResolvedProbe` per probe item, in order.
pub fn resolve_probes(
    program: &Program,
    facts: &dyn MachineFacts,
) -> Result<Vec<ResolvedProbe>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for item in &program.items {
        let Item::Probe(probe) = item else { continue };
        let mut resolved: Option<ResolvedProbe> = None;
        for ap in &probe.attach_points {
            match resolve_attach_point(ap, facts) {
                Ok(r) => match &mut resolved {
                    None => resolved = Some(r),
                    Some(first) if first.kind == r.kind => first.targets.extend(r.targets),
                    Some(first) => diags.push(
                        Diagnostic::error(
                            "one probe mixes probe types",
                            ap.span,
                            format!("this is {:?}, the first was {:?}", r.kind, first.kind),
                        )
                        .with_help("give each probe type its own body"),
                    ),
                },
                Err(d) => diags.push(d),
            }
        }
        if let Some(r) = resolved {
            out.push(r);
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

fn resolve_attach_point(
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<ResolvedProbe, Diagnostic> {
    let parts = split(&ap.text, ap.span);
    let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
    let Some(p) = provider::lookup(texts[0]) else {
        return Err(Diagnostic::error(
            format!("unknown probe type `{}`", texts[0]),
            parts[0].span,
            "not a probe type",
        ));
    };
    let simple = |target: String| ResolvedProbe {
        kind: p.kind,
        targets: vec![target],
        args: Vec::new(),
    };
    match p.kind {
        ProviderKind::Begin => Ok(simple("BEGIN".into())),
        ProviderKind::End => Ok(simple("END".into())),
        ProviderKind::Interval | ProviderKind::Profile | ProviderKind::Software => {
            Ok(simple(format!("{}:{}", p.name, texts[1..].join(":"))))
        }
        ProviderKind::RawTracepoint => Ok(simple(format!("rawtracepoint:{}", texts[texts.len() - 1]))),
        ProviderKind::Tracepoint => {
            let (category, event) = match texts.as_slice() {
                [_, event] => ("*", *event),
                [_, category, event] => (*category, *event),
                _ => return Err(Diagnostic::error("malformed tracepoint", ap.span, "expected tracepoint:category:event")),
            };
            let matches = expand_tracepoints(facts, category, event).map_err(|e| fact_error(e, ap))?;
            if matches.is_empty() {
                return Err(Diagnostic::error(
                    format!("no tracepoint matches `{category}:{event}`"),
                    ap.span,
                    "matches nothing on this machine",
                )
                .with_help("list them with `tracebound -l 'tracepoint:*'`"));
            }
            let (cat, ev) = &matches[0];
            let format = facts.tracepoint_format(cat, ev).map_err(|e| match e {
                FactError::NotFound { .. } => unknown_tracepoint(facts, cat, ev, ap),
                other => fact_error(other, ap),
            })?;
            let args = format
                .fields
                .iter()
                .filter(|f| !f.common)
                .filter_map(|f| {
                    let access = match field_type(f) {
                        FieldType::Int { size, signed } => ArgAccess::Int { size, signed },
                        FieldType::Pointer { .. } => ArgAccess::Int { size: 8, signed: false },
                        FieldType::Str { len } => ArgAccess::CharArray { len },
                        FieldType::DataLoc { .. } => ArgAccess::DataLoc,
                        FieldType::Array { .. } | FieldType::Unsupported { .. } => return None,
                    };
                    Some(ArgField { name: f.name.clone(), offset: f.offset, access })
                })
                .collect();
            Ok(ResolvedProbe {
                kind: p.kind,
                targets: matches.iter().map(|(c, e)| format!("tracepoint:{c}:{e}")).collect(),
                args,
            })
        }
        other => Err(Diagnostic::error(
            format!("{} probes are not supported by the runtime yet", provider_name(other)),
            ap.span,
            "cannot run this probe yet",
        )
        .with_note("`--check` accepts it; BEGIN, END, tracepoint, rawtracepoint, interval, profile and software probes run")),
    }
}

fn provider_name(kind: ProviderKind) -> &'static str {
    provider::PROVIDERS
        .iter()
        .find(|p| p.kind == kind)
        .map_or("these", |p| p.name)
}

fn unknown_tracepoint(
    facts: &dyn MachineFacts,
    cat: &str,
    ev: &str,
    ap: &AttachPoint,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        format!("unknown tracepoint `{cat}:{ev}`"),
        ap.span,
        "no such tracepoint",
    );
    if let Ok(all) = facts.tracepoints() {
        let names: Vec<String> = all.iter().map(|(c, e)| format!("{c}:{e}")).collect();
        if let Some(s) = nearest(&format!("{cat}:{ev}"), names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `tracepoint:{s}`?"));
        }
    }
    d
}

fn fact_error(e: FactError, ap: &AttachPoint) -> Diagnostic {
    Diagnostic::error(
        format!("cannot resolve `{}`: {e}", ap.text),
        ap.span,
        "here",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::resolve::fixture::FixtureFacts;

    #[test]
    fn tracepoints_expand_and_type_their_args() {
        let program =
            parse("t:syscalls:sys_enter_openat { } BEGIN { } interval:ms:10 { }").unwrap();
        let probes = resolve_probes(&program, &FixtureFacts::bundled()).unwrap();
        assert_eq!(probes[0].targets, ["tracepoint:syscalls:sys_enter_openat"]);
        let filename = probes[0]
            .args
            .iter()
            .find(|a| a.name == "filename")
            .unwrap();
        assert_eq!(
            filename.access,
            ArgAccess::Int {
                size: 8,
                signed: false
            }
        );
        assert_eq!(probes[1].targets, ["BEGIN"]);
        assert_eq!(probes[2].targets, ["interval:ms:10"]);
    }

    #[test]
    fn unknown_tracepoints_suggest_the_nearest() {
        let program = parse("tracepoint:syscalls:sys_enter_opnat { }").unwrap();
        let err = resolve_probes(&program, &FixtureFacts::bundled()).unwrap_err();
        assert_eq!(
            err[0].help.as_deref(),
            Some("did you mean `tracepoint:syscalls:sys_enter_openat`?")
        );
    }
}

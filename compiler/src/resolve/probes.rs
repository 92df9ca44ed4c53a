//! Probes resolved against the machine: each attach point expanded (tracepoint wildcards),
//! named canonically (`tracepoint:syscalls:sys_enter_read`, `interval:ms:100`), and, for
//! tracepoints, `args` typed from the format file; a uprobe's binary must exist and define the
//! function. What cannot be resolved is a diagnostic at the attach point, or at the part of it
//! that is wrong.

use super::demangle;
use super::expand::expand_tracepoints;
use super::facts::{FactError, MachineFacts};
use super::glob::{has_wildcard, Glob};
use super::tracepoint_format::{field_type, FieldType};
use crate::ast::{AttachPoint, Item, Program};
use crate::diagnostic::{nearest, Diagnostic};
use crate::lower::{ArgAccess, ArgField, ResolvedProbe};
use crate::parse::attach::{split, Part};
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
        usdt: Vec::new(),
        kernel: Default::default(),
    };
    match p.kind {
        ProviderKind::Begin => Ok(simple("BEGIN".into())),
        ProviderKind::End => Ok(simple("END".into())),
        ProviderKind::Interval | ProviderKind::Profile | ProviderKind::Software => {
            Ok(simple(format!("{}:{}", p.name, texts[1..].join(":"))))
        }
        ProviderKind::RawTracepoint => raw_tracepoint(&parts, ap, facts),
        ProviderKind::Tracepoint => {
            let (category, event) = match texts.as_slice() {
                [_, event] => ("*", *event),
                [_, category, event] => (*category, *event),
                _ => {
                    return Err(Diagnostic::error(
                        "malformed tracepoint",
                        ap.span,
                        "expected tracepoint:category:event",
                    ))
                }
            };
            let matches =
                expand_tracepoints(facts, category, event).map_err(|e| fact_error(e, ap))?;
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
                        FieldType::Pointer { .. } => ArgAccess::Int {
                            size: 8,
                            signed: false,
                        },
                        FieldType::Str { len } => ArgAccess::CharArray { len },
                        FieldType::DataLoc { .. } => ArgAccess::DataLoc,
                        FieldType::Array { .. } | FieldType::Unsupported { .. } => return None,
                    };
                    Some(ArgField {
                        name: f.name.clone(),
                        offset: f.offset,
                        access,
                    })
                })
                .collect();
            Ok(ResolvedProbe {
                kind: p.kind,
                targets: matches
                    .iter()
                    .map(|(c, e)| format!("tracepoint:{c}:{e}"))
                    .collect(),
                args,
                usdt: Vec::new(),
                kernel: Default::default(),
            })
        }
        ProviderKind::Uprobe | ProviderKind::Uretprobe => {
            match check_uprobe_target(&parts, ap, facts, p.kind == ProviderKind::Uretprobe)? {
                Some((path, functions)) => Ok(ResolvedProbe {
                    kind: p.kind,
                    targets: functions
                        .iter()
                        .map(|f| format!("{}:{path}:{f}", provider_name(p.kind)))
                        .collect(),
                    args: Vec::new(),
                    usdt: Vec::new(),
                    kernel: Default::default(),
                }),
                // Forms not checked here (`uprobe:FUNCTION`, C++ names) do not run yet either.
                None => Err(not_supported(p.kind, ap)),
            }
        }
        ProviderKind::Usdt => usdt(&parts, ap, facts),
        ProviderKind::Kprobe
        | ProviderKind::Kretprobe
        | ProviderKind::Fentry
        | ProviderKind::Fexit => kernel_function_probe(p.kind, &parts, ap, facts),
        other => Err(not_supported(other, ap)),
    }
}

/// `usdt:BINARY:[PROVIDER:]NAME`: the binary's `.note.stapsdt` sites whose provider and name
/// match (either may be a wildcard; no provider means any), sorted by provider and name as
/// `-l` lists them, each site its own target (a probe written twice in the source, or
/// inlined, has several sites, each with its own argument specs).
fn usdt(
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<ResolvedProbe, Diagnostic> {
    let (binary, provider, name) = match parts {
        [_, binary, name] => (binary, None, name),
        [_, binary, provider, name] => (binary, Some(provider), name),
        _ => {
            return Err(Diagnostic::error(
                "a usdt probe needs its binary",
                ap.span,
                "expected usdt:BINARY:[PROVIDER:]NAME",
            )
            .with_help("name the executable or library that defines the probe"))
        }
    };
    if parts.iter().any(|p| !p.quoted && p.text.contains('$')) {
        return Err(not_supported(ProviderKind::Usdt, ap));
    }
    let path = facts
        .binary_path(&binary.text)
        .map_err(|e| binary_error(e, binary, ap))?;
    let sites = facts
        .usdt_sites(&path)
        .map_err(|e| binary_error(e, binary, ap))?;
    let shown = shown_binary(&path, &binary.text);
    if sites.is_empty() {
        return Err(Diagnostic::error(
            format!("{shown} has no USDT probes"),
            binary.span,
            "no .note.stapsdt notes in this file",
        )
        .with_help("USDT probes come from sys/sdt.h's STAP_PROBE macros (or DTRACE_PROBE)"));
    }
    let matcher = |part: &Part| {
        let glob = Glob::new(&part.text);
        let literal = part.quoted || !has_wildcard(&part.text);
        let text = part.text.clone();
        move |s: &str| if literal { s == text } else { glob.matches(s) }
    };
    let provider_matches = provider.map(matcher);
    let name_matches = matcher(name);
    let mut matched: Vec<&crate::resolve::facts::UsdtSite> = sites
        .iter()
        .filter(|s| provider_matches.as_ref().is_none_or(|m| m(&s.provider)))
        .filter(|s| name_matches(&s.name))
        .collect();
    if matched.is_empty() {
        let wanted = match provider {
            Some(p) => format!("{}:{}", p.text, name.text),
            None => name.text.clone(),
        };
        let span = match provider {
            Some(p) if !sites.iter().any(|s| matcher(p)(&s.provider)) => p.span,
            _ => name.span,
        };
        let mut d = Diagnostic::error(
            format!("{shown} has no USDT probe `{wanted}`"),
            span,
            "no such probe",
        );
        let known: Vec<String> = sites
            .iter()
            .map(|s| match provider {
                Some(_) => format!("{}:{}", s.provider, s.name),
                None => s.name.clone(),
            })
            .collect();
        d = match nearest(&wanted, known.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("list them with `tracebound -l 'usdt:{path}:*'`")),
        };
        return Err(d);
    }
    // Stable: the sites of one probe stay in note order.
    matched.sort_by(|a, b| (&a.provider, &a.name).cmp(&(&b.provider, &b.name)));
    Ok(ResolvedProbe {
        kind: ProviderKind::Usdt,
        targets: matched
            .iter()
            .map(|s| format!("usdt:{}:{}:{}", s.path, s.provider, s.name))
            .collect(),
        args: Vec::new(),
        usdt: matched.into_iter().cloned().collect(),
        kernel: Default::default(),
    })
}

/// `kprobe:[module:]FUNCTION` and `fentry:[module:]FUNCTION` (and their return forms): the
/// function must be one the kernel's BTF describes (a wildcard expands to those); fentry's
/// `args` are its parameters, typed. Without BTF the name is taken as written.
fn kernel_function_probe(
    kind: ProviderKind,
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<ResolvedProbe, Diagnostic> {
    let part = &parts[parts.len() - 1];
    let name = part.text.as_str();
    let provider = provider_name(kind);
    if name.contains('+') || parts.iter().any(|p| !p.quoted && p.text.contains('$')) {
        return Err(not_supported(kind, ap));
    }
    let all = match facts.kernel_functions() {
        Ok(all) => all,
        Err(FactError::Unavailable { .. }) => {
            return Ok(ResolvedProbe {
                kind,
                targets: vec![format!("{provider}:{name}")],
                args: Vec::new(),
                usdt: Vec::new(),
                kernel: Default::default(),
            })
        }
        Err(e) => return Err(fact_error(e, ap)),
    };
    let functions: Vec<String> = if has_wildcard(name) && !part.quoted {
        let glob = Glob::new(name);
        all.iter().filter(|f| glob.matches(f)).cloned().collect()
    } else if all.iter().any(|f| f == name) {
        vec![name.to_string()]
    } else {
        let mut d = Diagnostic::error(
            format!("the kernel has no function `{name}`"),
            part.span,
            "not in the kernel's BTF",
        );
        if let Some(s) = nearest(name, all.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        return Err(d);
    };
    if functions.is_empty() {
        return Err(Diagnostic::error(
            format!("no kernel function matches `{name}`"),
            part.span,
            "matches nothing in the kernel's BTF",
        ));
    }
    // fentry/fexit see the arguments as an array of u64, one per parameter, then (fexit) the
    // return value; typed args need one function.
    let mut args = Vec::new();
    if matches!(kind, ProviderKind::Fentry | ProviderKind::Fexit) && functions.len() == 1 {
        let proto = facts
            .kernel_function(&functions[0])
            .map_err(|e| fact_error(e, ap))?;
        for (i, param) in proto.params.iter().enumerate() {
            args.push(ArgField {
                name: param.name.clone(),
                offset: 8 * i as u32,
                access: ArgAccess::Int {
                    size: 8,
                    signed: true,
                },
            });
        }
        if kind == ProviderKind::Fexit {
            args.push(ArgField {
                name: FEXIT_RETVAL.into(),
                offset: 8 * proto.params.len() as u32,
                access: ArgAccess::Int {
                    size: 8,
                    signed: true,
                },
            });
        }
    }
    Ok(ResolvedProbe {
        kind,
        targets: functions
            .iter()
            .map(|f| format!("{provider}:{f}"))
            .collect(),
        args,
        usdt: Vec::new(),
        kernel: Default::default(),
    })
}

/// The `args` entry of a fexit probe that holds the return value, for `retval` (a name no C
/// parameter can have).
pub const FEXIT_RETVAL: &str = "$retval";

/// The kernel types of a fentry/fexit probe's parameters, by name, for `args->file->f_flags`.
pub fn kernel_arg_types(
    probe: &ResolvedProbe,
    facts: &dyn MachineFacts,
) -> std::collections::HashMap<String, crate::types::kernel::CType> {
    let mut out = std::collections::HashMap::new();
    if probe.kind == ProviderKind::RawTracepoint && probe.targets.len() == 1 {
        // A raw tracepoint's arguments are its `btf_trace_NAME` prototype's, after the
        // `void *__data` every one starts with; BTF leaves them unnamed, so they are typed as
        // the probe's arg0, arg1, ... (`arg0->comm` in `sched_process_exec`).
        let name = probe.targets[0].rsplit(':').next().unwrap_or_default();
        let proto = facts
            .kernel_type_named(
                crate::types::NameSpace::Typedef,
                &format!("btf_trace_{name}"),
            )
            .and_then(|id| facts.kernel_type(id))
            .and_then(|t| match t {
                crate::types::KType::Pointer { to } => facts.kernel_type(to),
                other => Ok(other),
            });
        if let Ok(crate::types::KType::FuncProto(proto)) = proto {
            for (i, p) in proto.params.iter().skip(1).enumerate() {
                out.insert(
                    format!("arg{i}"),
                    crate::types::kernel::CType::kernel(p.ty, false),
                );
            }
        }
        return out;
    }
    if !matches!(probe.kind, ProviderKind::Fentry | ProviderKind::Fexit) || probe.targets.len() != 1
    {
        return out;
    }
    let function = probe.targets[0].rsplit(':').next().unwrap_or_default();
    if let Ok(proto) = facts.kernel_function(function) {
        for p in proto.params {
            out.insert(p.name, crate::types::kernel::CType::kernel(p.ty, false));
        }
    }
    out
}

/// `rawtracepoint:[module:]NAME`: the kernel must have it; a wildcard expands to those it
/// has. A kernel without BTF cannot say, and the name is taken as written.
fn raw_tracepoint(
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<ResolvedProbe, Diagnostic> {
    let part = &parts[parts.len() - 1];
    let name = part.text.as_str();
    let probe = |targets: Vec<String>| ResolvedProbe {
        kind: ProviderKind::RawTracepoint,
        targets,
        args: Vec::new(),
        usdt: Vec::new(),
        kernel: Default::default(),
    };
    let all = match facts.raw_tracepoints() {
        Ok(all) => all,
        Err(FactError::Unavailable { .. }) => {
            return Ok(probe(vec![format!("rawtracepoint:{name}")]))
        }
        Err(e) => return Err(fact_error(e, ap)),
    };
    if has_wildcard(name) && !part.quoted {
        let glob = Glob::new(name);
        let targets: Vec<String> = all
            .iter()
            .filter(|t| glob.matches(t))
            .map(|t| format!("rawtracepoint:{t}"))
            .collect();
        if targets.is_empty() {
            return Err(Diagnostic::error(
                format!("no raw tracepoint matches `{name}`"),
                part.span,
                "matches nothing on this machine",
            ));
        }
        return Ok(probe(targets));
    }
    if all.iter().any(|t| t == name) {
        return Ok(probe(vec![format!("rawtracepoint:{name}")]));
    }
    let mut d = Diagnostic::error(
        format!("unknown raw tracepoint `{name}`"),
        part.span,
        "the kernel has no such tracepoint",
    );
    if let Some(s) = nearest(name, all.iter().map(String::as_str)) {
        d = d.with_help(format!("did you mean `{s}`?"));
    }
    Err(d)
}

fn not_supported(kind: ProviderKind, ap: &AttachPoint) -> Diagnostic {
    Diagnostic::error(
        format!("{} probes are not supported by the runtime yet", provider_name(kind)),
        ap.span,
        "cannot run this probe yet",
    )
    .with_note("`--check` accepts it; BEGIN, END, tracepoint, rawtracepoint, interval, profile, software, uprobe and usdt probes run")
}

/// `uprobe:BINARY:FUNCTION`: the binary exists and is an ELF file, and defines the function
/// (or, for a wildcard, at least one function matching it). `FUNCTION+OFFSET` and an address
/// (`uprobe:BIN:0x4010a0`) must fall on an instruction boundary inside a function; they
/// resolve to `function+offset` (decimal, as bpftrace names them). Forms this cannot check
/// pass: `uprobe:FUNCTION` (the binary of `-p`), `uprobe:BIN:cpp:NAME` (demangled names), and
/// parts filled in from positional parameters.
/// Returns the binary's path and the functions the attach point names (a wildcard's matches,
/// sorted), or `None` for a form it cannot check.
fn check_uprobe_target(
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
    ret: bool,
) -> Result<Option<(String, Vec<String>)>, Diagnostic> {
    let (binary, function) = match parts {
        [_, binary, function] => (binary, Some(function)),
        [_, binary, _language, _] => (binary, None),
        _ => return Ok(None),
    };
    if parts.iter().any(|p| !p.quoted && p.text.contains('$')) {
        return Ok(None);
    }
    let path = facts
        .binary_path(&binary.text)
        .map_err(|e| binary_error(e, binary, ap))?;
    let Some(function) = function else {
        return Ok(None);
    };
    // `func+0x10` probes inside `func`; a number is an address.
    // A quoted name is a C++ signature (`"ns::f(int)"`, `"operator+(int)"`), never an offset.
    let (name, offset) = match function.text.split_once('+') {
        Some((name, offset)) if !function.quoted => (name, Some(offset)),
        _ => (function.text.as_str(), None),
    };
    let number = |text: &str| {
        let parsed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => text.parse().ok(),
        };
        parsed.ok_or_else(|| {
            Diagnostic::error(
                format!("`{text}` is not an offset or address"),
                function.span,
                "expected a number (decimal or 0x hex)",
            )
        })
    };
    let inside = |f: Option<&str>, at: u64| -> Result<String, Diagnostic> {
        if ret {
            return Err(Diagnostic::error(
                "a uretprobe takes no offset or address",
                function.span,
                "it fires where the function returns",
            )
            .with_help(format!(
                "probe the function: `uretprobe:{}:{}`",
                binary.text, name
            )));
        }
        let (f, at) = facts.uprobe_site(&path, f, at).map_err(|why| {
            Diagnostic::error(
                format!("cannot put a uprobe at `{}`", function.text),
                function.span,
                why,
            )
        })?;
        Ok(if at == 0 { f } else { format!("{f}+{at}") })
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) && offset.is_none() {
        let site = inside(None, number(name)?)?;
        return Ok(Some((path, vec![site])));
    }
    if name.is_empty() {
        return Ok(None);
    }
    let offset = offset.map(number).transpose()?;
    let symbols = facts
        .function_symbols(&path)
        .map_err(|e| binary_error(e, binary, ap))?;
    let shown = shown_binary(&path, &binary.text);
    if has_wildcard(name) && !function.quoted {
        let glob = Glob::new(name);
        let mut matches: Vec<String> = symbols
            .iter()
            .filter(|s| glob.matches(s))
            .cloned()
            .collect();
        if matches.is_empty() {
            return Err(Diagnostic::error(
                format!("no function in {shown} matches `{name}`"),
                function.span,
                "matches nothing",
            )
            .with_help(format!(
                "list its functions with `nm -D --defined-only {path}`"
            )));
        }
        if offset.is_some() {
            return Err(Diagnostic::error(
                "an offset needs one function, not a wildcard",
                function.span,
                "offset into which function?",
            ));
        }
        matches.sort();
        matches.dedup();
        return Ok(Some((path, matches)));
    } else if !symbols.iter().any(|s| s == name) {
        // A C++ or Rust function by its demangled name: with its parameters (quoted), one
        // overload; without, every overload, as in bpftrace.
        let with_parameters = name.contains('(');
        let mut matches: Vec<String> = symbols
            .iter()
            .filter(|s| {
                let demangled = if with_parameters {
                    demangle::demangle(s)
                } else {
                    demangle::demangled_name(s)
                };
                demangled.as_deref() == Some(name)
            })
            .cloned()
            .collect();
        if !matches.is_empty() && offset.is_none() {
            matches.sort();
            matches.dedup();
            return Ok(Some((path, matches)));
        }
        let mut d = Diagnostic::error(
            format!("{shown} has no function `{name}`"),
            function.span,
            "no such function",
        );
        d = match nearest(name, symbols.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(
                "only functions in the symbol tables can be probed by name; a stripped binary \
                 keeps only its exported ones",
            ),
        };
        return Err(d);
    }
    let site = match offset {
        Some(at) => inside(Some(name), at)?,
        None => name.to_string(),
    };
    Ok(Some((path, vec![site])))
}

/// A binary as diagnostics name it: as written, and where it was found when that differs
/// (`` `libc` (/lib/x86_64-linux-gnu/libc.so.6) ``).
fn shown_binary(path: &str, written: &str) -> String {
    if path == written {
        format!("`{path}`")
    } else {
        format!("`{written}` ({path})")
    }
}

/// Why a uprobe's binary cannot be used, at the binary part.
fn binary_error(e: FactError, binary: &Part, ap: &AttachPoint) -> Diagnostic {
    let name = &binary.text;
    match e {
        FactError::NotFound { .. } if name.contains('/') => Diagnostic::error(
            format!("`{name}` does not exist"),
            binary.span,
            "no such file",
        )
        .with_help("give the path of an executable or a shared library"),
        FactError::NotFound { .. } => Diagnostic::error(
            format!("no executable or library named `{name}`"),
            binary.span,
            "not found in $PATH or the dynamic loader's libraries",
        )
        .with_help(format!(
            "give its full path, as in `uprobe:/path/to/{name}:function`"
        )),
        FactError::Malformed { reason, .. } => Diagnostic::error(
            format!("cannot probe `{name}`: {reason}"),
            binary.span,
            "not an ELF executable or library",
        ),
        other => fact_error(other, ap),
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
    use crate::resolve::facts::UsdtSite;
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

    fn uprobe_error(source: &str) -> (String, String, Option<String>) {
        let facts = FixtureFacts::new()
            .with_binary("/bin/bash", &["main", "readline", "rl_getc"])
            .with_binary("/lib/x86_64-linux-gnu/libc.so.6", &["malloc", "free"]);
        let program = parse(source).unwrap();
        let d = resolve_probes(&program, &facts).unwrap_err().remove(0);
        let text = source[d.span().range()].to_string();
        (text, d.message, d.help)
    }

    #[test]
    fn uprobes_need_an_existing_binary_and_function() {
        let (text, message, _) = uprobe_error("uprobe:/nonexistent/bin:foo { }");
        assert_eq!(text, "/nonexistent/bin");
        assert_eq!(message, "`/nonexistent/bin` does not exist");
        let (text, message, _) = uprobe_error("uretprobe:libnosuch:malloc { }");
        assert_eq!(text, "libnosuch");
        assert_eq!(message, "no executable or library named `libnosuch`");
        let (text, message, help) = uprobe_error("uprobe:/bin/bash:readlin { }");
        assert_eq!(text, "readlin");
        assert_eq!(message, "`/bin/bash` has no function `readlin`");
        assert_eq!(help.as_deref(), Some("did you mean `readline`?"));
        let (text, message, _) = uprobe_error("uprobe:libc:mallocc { }");
        assert_eq!(text, "mallocc");
        assert_eq!(
            message,
            "`libc` (/lib/x86_64-linux-gnu/libc.so.6) has no function `mallocc`"
        );
        let (text, message, _) = uprobe_error("uprobe:/bin/bash:zz_* { }");
        assert_eq!(text, "zz_*");
        assert_eq!(message, "no function in `/bin/bash` matches `zz_*`");
    }

    /// `uprobe:BIN:FUNCTION` resolves to the binary's path and each function a wildcard
    /// matches, in the canonical form `probe` prints; forms not checked yet are refused.
    #[test]
    fn uprobes_resolve_to_path_and_functions() {
        let facts = FixtureFacts::new().with_binary("/bin/bash", &["main", "readline", "rl_getc"]);
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes = resolve("uprobe:/bin/bash:readline { } uretprobe:bash:rl_* { }").unwrap();
        assert_eq!(probes[0].targets, ["uprobe:/bin/bash:readline"]);
        assert_eq!(probes[1].targets, ["uretprobe:/bin/bash:rl_getc"]);
        let (_, message, _) = uprobe_error("uprobe:readline { }");
        assert!(
            message.ends_with("not supported by the runtime yet"),
            "{message}"
        );
    }

    /// Offsets and addresses: checked by the machine (instruction boundaries), never on a
    /// uretprobe or a wildcard, and numbers only.
    #[test]
    fn uprobe_offsets_are_checked() {
        for (source, text, message) in [
            (
                "uretprobe:/bin/bash:readline+4 { }",
                "readline+4",
                "a uretprobe takes no offset or address",
            ),
            (
                "uprobe:/bin/bash:rl_*+4 { }",
                "rl_*+4",
                "an offset needs one function, not a wildcard",
            ),
            (
                "uprobe:/bin/bash:readline+x { }",
                "readline+x",
                "`x` is not an offset or address",
            ),
            // The fixture cannot decode instructions: the machine has the last word.
            (
                "uprobe:/bin/bash:readline+4 { }",
                "readline+4",
                "cannot put a uprobe at `readline+4`",
            ),
            (
                "uprobe:/bin/bash:0x4010 { }",
                "0x4010",
                "cannot put a uprobe at `0x4010`",
            ),
        ] {
            let (t, m, _) = uprobe_error(source);
            assert_eq!((t.as_str(), m.as_str()), (text, message), "{source}");
        }
    }

    fn usdt_facts() -> FixtureFacts {
        let site = |provider: &str, name: &str, offset: u64, args: &str| UsdtSite {
            path: "/usr/bin/app".into(),
            provider: provider.into(),
            name: name.into(),
            offset,
            semaphore: None,
            args: args.into(),
        };
        FixtureFacts::new()
            .with_binary("/usr/bin/app", &["main"])
            .with_binary("/bin/plain", &["main"])
            .with_usdt_site(site("app", "tick", 0x1000, "-8@%rdi"))
            .with_usdt_site(site("app", "request", 0x1010, "-4@%eax 8@-16(%rbp)"))
            .with_usdt_site(site("app", "tick", 0x1020, "-4@$1"))
            .with_usdt_site(site("lib", "tick", 0x1030, ""))
    }

    /// Each site is a target, sorted by provider and name (a probe's sites in note order);
    /// no provider means any provider.
    #[test]
    fn usdt_probes_resolve_to_their_sites() {
        let facts = usdt_facts();
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes =
            resolve("usdt:/usr/bin/app:app:tick { } usdt:app:* { } usdt:app:tick { }").unwrap();
        assert_eq!(probes[0].targets, ["usdt:/usr/bin/app:app:tick"; 2]);
        let offsets: Vec<u64> = probes[0].usdt.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [0x1000, 0x1020]);
        assert_eq!(
            probes[1].targets,
            [
                "usdt:/usr/bin/app:app:request",
                "usdt:/usr/bin/app:app:tick",
                "usdt:/usr/bin/app:app:tick",
                "usdt:/usr/bin/app:lib:tick",
            ]
        );
        assert_eq!(probes[2].targets.len(), 3);
        assert_eq!(probes[2].usdt.len(), 3);
    }

    #[test]
    fn unknown_usdt_probes_point_at_the_part_that_is_wrong() {
        let facts = usdt_facts();
        let error = |source: &str| {
            let d = resolve_probes(&parse(source).unwrap(), &facts)
                .unwrap_err()
                .remove(0);
            (source[d.span().range()].to_string(), d.message, d.help)
        };
        let (text, message, help) = error("usdt:/usr/bin/app:app:tock { }");
        assert_eq!(text, "tock");
        assert_eq!(message, "`/usr/bin/app` has no USDT probe `app:tock`");
        assert_eq!(help.as_deref(), Some("did you mean `app:tick`?"));
        let (text, _, _) = error("usdt:/usr/bin/app:nosuch:tick { }");
        assert_eq!(text, "nosuch");
        let (text, message, _) = error("usdt:/bin/plain:x:y { }");
        assert_eq!(text, "/bin/plain");
        assert_eq!(message, "`/bin/plain` has no USDT probes");
        let (text, _, _) = error("usdt:/nonexistent:x:y { }");
        assert_eq!(text, "/nonexistent");
        let (text, message, _) = error("usdt:tick { }");
        assert_eq!(text, "usdt:tick");
        assert_eq!(message, "a usdt probe needs its binary");
    }

    #[test]
    fn raw_tracepoints_must_exist_and_wildcards_expand() {
        let facts = FixtureFacts::bundled().with_raw_tracepoint("sched_update_nr_running_tp");
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes =
            resolve("rawtracepoint:sched_switch { } rawtracepoint:sched_update_nr_running_tp { }")
                .unwrap();
        assert_eq!(probes[0].targets, ["rawtracepoint:sched_switch"]);
        assert_eq!(
            probes[1].targets,
            ["rawtracepoint:sched_update_nr_running_tp"]
        );
        let probes = resolve("rawtracepoint:sched_w* { }").unwrap();
        assert_eq!(probes[0].targets, ["rawtracepoint:sched_wakeup"]);
        let source = "rawtracepoint:sched_swich { }";
        let d = resolve(source).unwrap_err().remove(0);
        assert_eq!(&source[d.span().range()], "sched_swich");
        assert_eq!(d.help.as_deref(), Some("did you mean `sched_switch`?"));
        assert!(resolve("rawtracepoint:zz_* { }").is_err());
        // A kernel without BTF cannot say: the name is taken as written.
        let program = parse("rawtracepoint:anything { }").unwrap();
        let probes = resolve_probes(&program, &FixtureFacts::unavailable("no BTF")).unwrap();
        assert_eq!(probes[0].targets, ["rawtracepoint:anything"]);
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

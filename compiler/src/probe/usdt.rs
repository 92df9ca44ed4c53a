//! `usdt:BINARY:[PROVIDER:]NAME`: a statically defined probe (sys/sdt.h's `STAP_PROBE`) in
//! an executable or library, attached as a uprobe on its `nop`; its `argN` are read as the
//! site's argument specs say, so every site gets a program of its own.

use super::uprobe::{binary_error, each_binary, shown_binary};
use super::{
    has_positional, not_supported, ArgSource, Context, ProbeKind, Provider, ProviderKind,
    Resolution, Target,
};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::machine::facts::{MachineFacts, UsdtSite};
use crate::machine::glob::{has_wildcard, Glob};
use crate::parse::attach::Part;
use tracebound_stdlib::Contexts;

pub struct Usdt;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Usdt,
    name: "usdt",
    aliases: &["U"],
    parts: (1, 3),
    contexts: Contexts::REGS.union(Contexts::ARGS),
    usage: "usdt:binary:[provider:]probe",
};

impl ProbeKind for Usdt {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    /// An empty binary is every one the `-p` process maps, an empty provider any provider;
    /// the probe's name must be there.
    fn check(&self, args: &[Part], ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        if args
            .last()
            .is_some_and(|name| name.text.is_empty() && !name.quoted)
        {
            diags.push(
                Diagnostic::error("a usdt probe needs its name", ap.span, "no probe name")
                    .with_help(format!("write it as `{}`", PROVIDER.usage)),
            );
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        if has_positional(parts) {
            return Err(not_supported(&PROVIDER, ap));
        }
        let each = each_binary(parts, 1, ap, facts)?;
        let several = each.len() > 1;
        let mut targets = Vec::new();
        let mut missing = None;
        for parts in each {
            match resolve_sites(&parts, ap, facts) {
                Ok(sites) => targets.extend(sites.into_iter().map(Target::Usdt)),
                // One binary of a wildcard without the probe is not an error while another
                // has it.
                Err(d) if several && d.missing_probe => {
                    missing.get_or_insert(d);
                }
                Err(d) => return Err(d),
            }
        }
        match missing {
            Some(d) if targets.is_empty() => Err(d),
            _ => Ok(Resolution {
                targets,
                args: Vec::new(),
                ..Default::default()
            }),
        }
    }

    fn context(&self) -> Context {
        Context {
            args: ArgSource::UsdtSite,
            user_memory: true,
            program_per_target: true,
            ..Context::EMPTY
        }
    }

    /// A usdt site is a uprobe on its `nop`.
    fn section(&self, program: &str) -> String {
        format!("uprobe/{program}")
    }

    fn program_word(&self) -> &'static str {
        "usdt"
    }
}

/// `usdt:BINARY:[PROVIDER:]NAME`: the binary's `.note.stapsdt` sites whose provider and name
/// match (either may be a wildcard; no provider means any), sorted by provider and name as
/// `-l` lists them, each site its own target (a probe written twice in the source, or
/// inlined, has several sites, each with its own argument specs).
fn resolve_sites(
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<Vec<UsdtSite>, Diagnostic> {
    let (binary, provider, name) = match parts {
        [_, binary, name] => (binary, None, name),
        [_, binary, provider, name] if provider.text.is_empty() && !provider.quoted => {
            (binary, None, name)
        }
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
        .with_help("USDT probes come from sys/sdt.h's STAP_PROBE macros (or DTRACE_PROBE)")
        .of_missing_probe());
    }
    let matcher = |part: &Part| {
        let glob = Glob::new(&part.text);
        let literal = part.quoted || !has_wildcard(&part.text);
        let text = part.text.clone();
        move |s: &str| if literal { s == text } else { glob.matches(s) }
    };
    let provider_matches = provider.map(matcher);
    let name_matches = matcher(name);
    let mut matched: Vec<&UsdtSite> = sites
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
        return Err(d.of_missing_probe());
    }
    // Stable: the sites of one probe stay in note order.
    matched.sort_by(|a, b| (&a.provider, &a.name).cmp(&(&b.provider, &b.name)));
    Ok(matched.into_iter().cloned().collect())
}

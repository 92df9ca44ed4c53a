//! `rawtracepoint:[module:]NAME`: a tracepoint's raw arguments, an array of u64 (`argN`),
//! typed from its `btf_trace_NAME` prototype when the kernel has BTF.

use std::collections::HashMap;

use super::args::{ArgAccess, ArgField};
use super::{
    fact_error, ArgSource, Context, ProbeKind, Provider, ProviderKind, Resolution, Target,
};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::machine::ctype::CType;
use crate::machine::facts::{FactError, MachineFacts};
use crate::machine::glob::{has_wildcard, Glob};
use crate::parse::attach::Part;
use crate::types::{KType, NameSpace};

pub struct RawTracepoint;

/// The kernel's function behind a tracepoint that has its own (`__bpf_trace_NAME`; one of a
/// class of events is the class's): BTF names its parameters, which `btf_trace_NAME`'s
/// prototype leaves unnamed.
const NAMED_PREFIX: &str = "__bpf_trace_";

/// `args.NAME` of a raw tracepoint: each parameter of its `__bpf_trace_NAME` function after
/// the `void *__data` every one starts with, a u64 of the context each, as `argN` reads them.
fn named_args(event: &str, facts: &dyn MachineFacts) -> Vec<ArgField> {
    let Ok(proto) = facts.kernel_function(&format!("{NAMED_PREFIX}{event}")) else {
        return Vec::new();
    };
    proto
        .params
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, param)| ArgField {
            name: param.name.clone(),
            offset: 8 * i as u32,
            access: ArgAccess::Int {
                size: 8,
                signed: true,
            },
        })
        .collect()
}

static PROVIDER: Provider = Provider {
    kind: ProviderKind::RawTracepoint,
    name: "rawtracepoint",
    aliases: &["rt"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::ARGS.union(tracebound_stdlib::Contexts::REGS),
    usage: "rawtracepoint:[module:]event",
};

impl ProbeKind for RawTracepoint {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    /// The kernel must have it; a wildcard expands to those it has. A kernel without BTF
    /// cannot say, and the name is taken as written.
    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let part = &parts[parts.len() - 1];
        let name = part.text.as_str();
        // Only vmlinux's BTF is read: its raw tracepoints are the ones there are.
        if let [_, module, _] = parts {
            if !Glob::new(&module.text).matches("vmlinux") {
                return Err(Diagnostic::error(
                    format!("no module `{}` with raw tracepoints", module.text),
                    module.span,
                    "not a module tracebound finds raw tracepoints in",
                )
                .with_help("tracebound reads raw tracepoints from vmlinux's BTF (`rawtracepoint:vmlinux:NAME`)")
                .of_missing_probe());
            }
        }
        let probe = |events: Vec<String>| Resolution {
            args: match events.as_slice() {
                [event] => named_args(event, facts),
                _ => Vec::new(),
            },
            targets: events
                .into_iter()
                .map(|event| Target::RawTracepoint { event })
                .collect(),
            ..Default::default()
        };
        let all = match facts.raw_tracepoints() {
            Ok(all) => all,
            Err(FactError::Unavailable { .. }) => return Ok(probe(vec![name.to_string()])),
            Err(e) => return Err(fact_error(e, ap)),
        };
        if has_wildcard(name) && !part.quoted {
            let glob = Glob::new(name);
            let events: Vec<String> = all.iter().filter(|t| glob.matches(t)).cloned().collect();
            if events.is_empty() {
                return Err(Diagnostic::error(
                    format!("no raw tracepoint matches `{name}`"),
                    part.span,
                    "matches nothing on this machine",
                )
                .of_missing_probe());
            }
            return Ok(probe(events));
        }
        if all.iter().any(|t| t == name) {
            return Ok(probe(vec![name.to_string()]));
        }
        let mut d = Diagnostic::error(
            format!("unknown raw tracepoint `{name}`"),
            part.span,
            "the kernel has no such tracepoint",
        );
        if let Some(s) = nearest(name, all.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        Err(d.of_missing_probe())
    }

    /// Its arguments are its `btf_trace_NAME` prototype's, after the `void *__data` every one
    /// starts with; that prototype leaves them unnamed, so they are typed as the probe's
    /// arg0, arg1, ... (`arg0->comm` in `sched_process_exec`), and by name (`args.action`)
    /// where the tracepoint's `__bpf_trace_NAME` function names them. One tracepoint only:
    /// a wildcard's differ.
    fn kernel_arg_types(
        &self,
        targets: &[Target],
        facts: &dyn MachineFacts,
    ) -> HashMap<String, CType> {
        let mut out = HashMap::new();
        let [Target::RawTracepoint { event }] = targets else {
            return out;
        };
        let proto = facts
            .kernel_type_named(NameSpace::Typedef, &format!("btf_trace_{event}"))
            .and_then(|id| facts.kernel_type(id))
            .and_then(|t| match t {
                KType::Pointer { to } => facts.kernel_type(to),
                other => Ok(other),
            });
        if let Ok(KType::FuncProto(proto)) = proto {
            for (i, p) in proto.params.iter().skip(1).enumerate() {
                out.insert(format!("arg{i}"), CType::kernel(p.ty, false));
            }
        }
        if let Ok(proto) = facts.kernel_function(&format!("{NAMED_PREFIX}{event}")) {
            for p in proto.params.into_iter().skip(1) {
                out.insert(p.name, CType::kernel(p.ty, false));
            }
        }
        out
    }

    /// The current release's words when nothing matches a name without its module (it is
    /// looked up as `*:NAME`).
    fn no_matches(&self, rest: &[&str]) -> String {
        match rest {
            [_] => "Probe has no valid attach points".to_string(),
            _ => format!("No matches for {} {}", PROVIDER.name, rest.join(":")),
        }
    }

    fn context(&self) -> Context {
        Context {
            args: ArgSource::RawArgs,
            ..Context::EMPTY
        }
    }

    fn section(&self, program: &str) -> String {
        format!("raw_tracepoint/{program}")
    }

    fn program_word(&self) -> &'static str {
        "rawtp"
    }
}

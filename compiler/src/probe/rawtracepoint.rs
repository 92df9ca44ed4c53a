//! `rawtracepoint:[module:]NAME`: a tracepoint's raw arguments, an array of u64 (`argN`),
//! typed from its `btf_trace_NAME` prototype when the kernel has BTF.

use std::collections::HashMap;

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
        let probe = |events: Vec<String>| Resolution {
            targets: events
                .into_iter()
                .map(|event| Target::RawTracepoint { event })
                .collect(),
            args: Vec::new(),
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
    /// starts with; BTF leaves them unnamed, so they are typed as the probe's arg0, arg1, ...
    /// (`arg0->comm` in `sched_process_exec`). One tracepoint only: a wildcard's differ.
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
        out
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

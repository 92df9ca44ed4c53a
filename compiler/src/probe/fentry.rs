//! `fentry:[module:]FUNCTION` (`kfunc:`) and `fexit:` (`kretfunc:`): a kernel function's
//! entry or return through a BPF trampoline; `args` are its parameters typed from BTF, and
//! fexit's `retval` the entry after them. Compiled here; attached where the kernel accepts
//! trampolines.

use std::collections::HashMap;

use super::args::{ArgAccess, ArgField};
use super::kprobe::kernel_functions;
use super::{
    fact_error, Context, ProbeKind, Provider, ProviderKind, Resolution, RetvalSource, Target,
};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::CType;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;
use tracebound_stdlib::Contexts;

pub struct Fentry {
    pub ret: bool,
}

static FENTRY: Provider = Provider {
    kind: ProviderKind::Fentry,
    name: "fentry",
    aliases: &["f", "kfunc"],
    parts: (1, 3),
    contexts: Contexts::ARGS,
    usage: "fentry:[module:]function",
};

static FEXIT: Provider = Provider {
    kind: ProviderKind::Fexit,
    name: "fexit",
    aliases: &["fr", "kretfunc"],
    parts: (1, 3),
    contexts: Contexts::ARGS.union(Contexts::RETURN),
    usage: "fexit:[module:]function",
};

/// The `args` entry of a fexit probe that holds the return value, for `retval` (a name no C
/// parameter can have).
pub const FEXIT_RETVAL: &str = "$retval";

impl ProbeKind for Fentry {
    fn provider(&self) -> &'static Provider {
        if self.ret {
            &FEXIT
        } else {
            &FENTRY
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let (functions, described) = kernel_functions(self.provider(), parts, ap, facts)?;
        // The program sees the arguments as an array of u64, one per parameter, then (fexit)
        // the return value; typed args need one function.
        let mut args = Vec::new();
        if let ([function], true) = (functions.as_slice(), described) {
            let proto = facts
                .kernel_function(function)
                .map_err(|e| fact_error(e, ap))?;
            let int = ArgAccess::Int {
                size: 8,
                signed: true,
            };
            for (i, param) in proto.params.iter().enumerate() {
                args.push(ArgField {
                    name: param.name.clone(),
                    offset: 8 * i as u32,
                    access: int.clone(),
                });
            }
            if self.ret {
                args.push(ArgField {
                    name: FEXIT_RETVAL.into(),
                    offset: 8 * proto.params.len() as u32,
                    access: int,
                });
            }
        }
        let target = |f: String| match self.ret {
            false => Target::Fentry(f),
            true => Target::Fexit(f),
        };
        Ok(Resolution {
            targets: functions.into_iter().map(target).collect(),
            args,
            ..Default::default()
        })
    }

    /// The kernel types of the parameters, by name, for `args->file->f_flags`.
    fn kernel_arg_types(
        &self,
        targets: &[Target],
        facts: &dyn MachineFacts,
    ) -> HashMap<String, CType> {
        let mut out = HashMap::new();
        let [Target::Fentry(function) | Target::Fexit(function)] = targets else {
            return out;
        };
        if let Ok(proto) = facts.kernel_function(function) {
            for p in proto.params {
                out.insert(p.name, CType::kernel(p.ty, false));
            }
        }
        out
    }

    fn context(&self) -> Context {
        Context {
            retval: if self.ret {
                RetvalSource::ArgsEntry
            } else {
                RetvalSource::None
            },
            function: true,
            ..Context::EMPTY
        }
    }

    fn section(&self, program: &str) -> String {
        match self.ret {
            false => format!("fentry/{program}"),
            true => format!("fexit/{program}"),
        }
    }

    fn program_word(&self) -> &'static str {
        self.provider().name
    }
}

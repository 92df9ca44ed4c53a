//! `kprobe:[module:]FUNCTION` and `kretprobe:`: a kernel function's entry or return, seen
//! through the saved registers. Compiled here; attached where the kernel has kprobes.

use super::{
    fact_error, has_positional, not_supported, ArgSource, Context, ProbeKind, Provider,
    ProviderKind, Resolution, RetvalSource, Target,
};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::machine::facts::{FactError, MachineFacts};
use crate::machine::glob::{has_wildcard, Glob};
use crate::parse::attach::Part;
use tracebound_stdlib::Contexts;

pub struct Kprobe {
    pub ret: bool,
}

static KPROBE: Provider = Provider {
    kind: ProviderKind::Kprobe,
    name: "kprobe",
    aliases: &["k"],
    parts: (1, 2),
    contexts: Contexts::REGS,
    usage: "kprobe:[module:]function[+offset]",
};

static KRETPROBE: Provider = Provider {
    kind: ProviderKind::Kretprobe,
    name: "kretprobe",
    aliases: &["kr"],
    parts: (1, 2),
    contexts: Contexts::REGS.union(Contexts::RETURN),
    usage: "kretprobe:[module:]function",
};

impl ProbeKind for Kprobe {
    fn provider(&self) -> &'static Provider {
        if self.ret {
            &KRETPROBE
        } else {
            &KPROBE
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let (functions, _) = kernel_functions(self.provider(), parts, ap, facts)?;
        let target = |f: String| match self.ret {
            false => Target::Kprobe(f),
            true => Target::Kretprobe(f),
        };
        Ok(Resolution {
            targets: functions.into_iter().map(target).collect(),
            args: Vec::new(),
            ..Default::default()
        })
    }

    fn context(&self) -> Context {
        Context {
            args: ArgSource::Registers,
            retval: if self.ret {
                RetvalSource::Register
            } else {
                RetvalSource::None
            },
            registers: true,
            function: true,
            ..Context::EMPTY
        }
    }

    fn section(&self, program: &str) -> String {
        match self.ret {
            false => format!("kprobe/{program}"),
            true => format!("kretprobe/{program}"),
        }
    }

    fn program_word(&self) -> &'static str {
        self.provider().name
    }
}

/// The kernel functions the attach point's last part names: one the kernel's BTF describes,
/// or those a wildcard matches there, and `true`. Without BTF the name is taken as written,
/// and `false`.
pub(super) fn kernel_functions(
    provider: &Provider,
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<(Vec<String>, bool), Diagnostic> {
    let part = &parts[parts.len() - 1];
    let name = part.text.as_str();
    if name.contains('+') || has_positional(parts) {
        return Err(not_supported(provider, ap));
    }
    let all = match facts.kernel_functions() {
        Ok(all) => all,
        Err(FactError::Unavailable { .. }) => return Ok((vec![name.to_string()], false)),
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
    Ok((functions, true))
}

//! `fentry` and `fexit`: compiled and verified against BTF, not attached by the runtime yet,
//! and refused up front when the kernel will not load a BPF trampoline program on the
//! function (lockdown), with a probe that works instead. Listed from the kernel's BTF, with
//! `-v` each parameter (and fexit's return value) typed.

use std::io::Write;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::pipeline::CompiledProbe;
use tracebound_compiler::probe::ProviderKind;

use super::attach::{fail, AttachError, AttachPlan};
use super::kprobe::{alternative, function_of, list_functions};
use super::mechanism::{ListQuery, Mechanism, Unattachable};
use crate::facts::LiveFacts;
use crate::probes::capability::trampoline_refused;
use crate::probes::load::Loaded;

pub struct Fentry {
    pub ret: bool,
}

impl Fentry {
    fn kind(&self) -> ProviderKind {
        if self.ret {
            ProviderKind::Fexit
        } else {
            ProviderKind::Fentry
        }
    }
}

impl Mechanism for Fentry {
    fn runs_latest_first(&self) -> bool {
        true
    }

    fn unattachable(&self, probe: &CompiledProbe, facts: &LiveFacts) -> Option<Unattachable> {
        let function = function_of(probe);
        Some(Unattachable {
            lacking: trampoline_refused(self.ret, function, facts),
            help: alternative(function),
        })
    }

    fn attach(&self, _loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        Err(fail(
            plan.first(),
            format!("attaching {:?} probes is not built yet", self.kind()),
        ))
    }

    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        list_functions(self.kind(), query, facts, out, |f, declare| {
            let proto = facts.kernel_function(f)?;
            let mut lines: Vec<String> = proto
                .params
                .iter()
                .map(|p| declare(p.ty, &p.name))
                .collect();
            if self.ret {
                lines.push(declare(proto.ret, "retval"));
            }
            Ok(lines)
        })
    }
}

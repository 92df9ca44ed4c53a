//! `rawtracepoint`: aya attaches the program to the tracepoint by name. Its rate is not
//! counted yet (the estimate says so). Listed from the kernel's BTF, with `-v` each argument
//! typed from its `btf_trace_NAME` prototype.

use std::io::Write;

use aya::programs::RawTracePoint;
use tracebound_compiler::machine::ctype::{CType, KernelTypes};
use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::{ProviderKind, Target};
use tracebound_compiler::types::{KType, NameSpace};

use super::attach::{describe, fail, program, AttachError, AttachPlan};
use super::mechanism::{io_error, wants, ListQuery, Mechanism, Price};
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct RawTracepoint;

impl Mechanism for RawTracepoint {
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        let rtp: &mut RawTracePoint = program(loaded, plan)?;
        for target in &plan.targets {
            let Target::RawTracepoint { event } = target else {
                return Err(fail(target, "not a raw tracepoint"));
            };
            rtp.attach(event).map_err(|e| fail(target, describe(&e)))?;
        }
        Ok(plan.targets.len())
    }

    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.raw_tracepoint_ns, model.raw_tracepoint_ns)
    }

    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        // A few thousand: listed with the rest, as the current release lists them.
        if !wants(ProviderKind::RawTracepoint, query) {
            return Ok(0);
        }
        let glob = Glob::new(query.rest.rsplit(':').next().unwrap_or("*"));
        let types = KernelTypes::new(facts);
        let mut names = facts.raw_tracepoints()?;
        names.sort();
        names.dedup();
        let mut count = 0;
        for name in names.iter().filter(|n| glob.matches(n)) {
            writeln!(out, "{}:{name}", ProviderKind::RawTracepoint.name()).map_err(io_error)?;
            count += 1;
            if !query.verbose {
                continue;
            }
            let proto = facts
                .kernel_type_named(NameSpace::Typedef, &format!("btf_trace_{name}"))
                .and_then(|id| facts.kernel_type(id))
                .and_then(|t| match t {
                    KType::Pointer { to } => facts.kernel_type(to),
                    other => Ok(other),
                });
            // BTF leaves these parameters unnamed: they are the probe's arg0, arg1, ...
            // after the `void *__data` every one starts with.
            if let Ok(KType::FuncProto(proto)) = proto {
                for (i, p) in proto.params.iter().skip(1).enumerate() {
                    let c = types.describe(&CType::kernel(p.ty, false));
                    writeln!(out, "    {c} arg{i}").map_err(io_error)?;
                }
            }
        }
        Ok(count)
    }
}

//! `watchpoint`: a hardware breakpoint perf event with the program as its overflow handler,
//! firing on every hit. A user address is watched in the `-p`/`-c` process: one event on each
//! of its threads, inherited by the threads they start (the `-c` command is held before exec,
//! so its event is there from the first instruction). A kernel address is watched on every
//! CPU. Its rate cannot be counted without setting the breakpoint, so the estimate says it is
//! unknown and the guard watches it.

use aya::programs::perf_event::{
    BreakpointConfig, PerfBreakpointLength, PerfBreakpointType, PerfEventConfig, PerfEventScope,
    SamplePolicy,
};
use aya::programs::PerfEvent;
use tracebound_compiler::probe::{Target, WatchAccess, WatchSite};

use super::attach::{describe, fail, program, AttachError, AttachPlan};
use super::mechanism::{Mechanism, Price};
use super::perf_event::every_cpu;
use crate::cost::CostModel;
use crate::probes::load::Loaded;

pub struct Watchpoint;

impl Mechanism for Watchpoint {
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        let pe: &mut PerfEvent = program(loaded, plan)?;
        for target in &plan.targets {
            let Target::Watchpoint(site) = target else {
                return Err(fail(target, "not a watchpoint"));
            };
            let scopes = scopes(site, plan.process).map_err(|why| fail(target, why))?;
            for scope in scopes {
                pe.attach(config(site), scope, SamplePolicy::Period(1), true)
                    .map_err(|e| fail(target, describe(&e)))?;
            }
        }
        Ok(plan.targets.len())
    }

    /// A hit is a debug exception taken through perf's overflow path, as a sampled software
    /// event's is.
    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.perf_sample_ns, model.perf_sample_cold_ns)
    }
}

fn config(site: &WatchSite) -> PerfEventConfig {
    let length = match site.length {
        1 => PerfBreakpointLength::Len1,
        2 => PerfBreakpointLength::Len2,
        4 => PerfBreakpointLength::Len4,
        _ => PerfBreakpointLength::Len8,
    };
    let data = |r#type| BreakpointConfig::Data {
        r#type,
        address: site.address,
        length,
    };
    PerfEventConfig::Breakpoint(match site.access {
        WatchAccess::Read => data(PerfBreakpointType::Read),
        WatchAccess::Write => data(PerfBreakpointType::Write),
        WatchAccess::ReadWrite => data(PerfBreakpointType::ReadWrite),
        WatchAccess::Execute => BreakpointConfig::Instruction {
            address: site.address,
        },
    })
}

/// Where the breakpoint is set: every CPU for a kernel address, each thread of `process` for
/// a user one.
fn scopes(site: &WatchSite, process: Option<u32>) -> Result<Vec<PerfEventScope>, String> {
    if site.in_kernel() {
        return Ok(every_cpu()
            .into_iter()
            .map(|cpu| PerfEventScope::AllProcessesOneCpu { cpu })
            .collect());
    }
    let Some(pid) = process else {
        return Err(format!(
            "0x{:x} is a user address: say whose with -p PID or -c COMMAND",
            site.address
        ));
    };
    let threads = threads_of(pid).map_err(|e| format!("reading the threads of pid {pid}: {e}"))?;
    Ok(threads
        .into_iter()
        .map(|tid| PerfEventScope::OneProcess {
            pid: tid,
            cpu: None,
        })
        .collect())
}

/// The threads of `pid` now (`/proc/PID/task`).
fn threads_of(pid: u32) -> std::io::Result<Vec<u32>> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(address: u64) -> WatchSite {
        WatchSite {
            address,
            length: 8,
            access: WatchAccess::Write,
        }
    }

    /// A user address needs a process, and is set on each of its threads; a kernel address
    /// on every CPU, whatever the process.
    #[test]
    fn a_watchpoint_is_set_where_its_address_lives() {
        let why = scopes(&site(0x1000_0000), None).unwrap_err();
        assert!(why.contains("-p PID or -c COMMAND"), "{why}");
        let me = std::process::id();
        let set = scopes(&site(0x1000_0000), Some(me)).unwrap();
        assert_eq!(set.len(), threads_of(me).unwrap().len());
        assert!(set
            .iter()
            .all(|s| matches!(s, PerfEventScope::OneProcess { cpu: None, .. })));
        let kernel = scopes(&site(0xffff_ffff_8100_0000), Some(me)).unwrap();
        assert_eq!(kernel.len(), every_cpu().len());
    }
}

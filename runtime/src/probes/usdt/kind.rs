//! `usdt` as a probe kind: each site is a uprobe on its `nop` (which the kernel emulates),
//! opened by hand with its semaphore (`attach`), or, for a probe of several sites, all of
//! them on one multi-uprobe link per binary with their semaphores; its rate is counted by the program on
//! multi-uprobe links with the semaphore raised, as attaching will raise it. Listed for a
//! named binary (or, with `-p`, every file the process maps).

use std::io::Write;
use std::os::fd::AsFd as _;
use std::path::Path;

use aya::programs::UProbe;
use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::{Dispatch, ProviderKind, Target};

use crate::cost::CostModel;
use crate::facts::LiveFacts;
use crate::probes::attach::{describe, fail, program, AttachError, AttachPlan};
use crate::probes::load::Loaded;
use crate::probes::mechanism::{
    io_error, listed_binaries, Count, Counting, ListQuery, Mechanism, Price,
};
use crate::probes::uprobe::{link_multi, MultiLinkSet};
use crate::probes::UprobePoint;

pub struct Usdt;

/// Attaches the program loaded by hand for `plan` with one multi-uprobe link per binary:
/// each site at its file offset with its semaphore as its `ref_ctr_offset` (the kernel raises
/// it while the link exists, as for a site's own perf event) and its index as its cookie (the
/// program dispatches on it to the site's own arguments).
fn attach_multi(loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
    let mut sets: Vec<MultiLinkSet> = Vec::new();
    for (cookie, target) in plan.targets.iter().enumerate() {
        let Target::Usdt(site) = target else {
            return Err(fail(target, "not a usdt site"));
        };
        let set = match sets.iter_mut().position(|s| s.binary == site.path) {
            Some(i) => &mut sets[i],
            None => {
                sets.push(MultiLinkSet {
                    binary: &site.path,
                    offsets: Vec::new(),
                    ref_ctr_offsets: Vec::new(),
                    cookies: Vec::new(),
                });
                sets.last_mut().expect("just pushed")
            }
        };
        set.offsets.push(site.offset);
        set.ref_ctr_offsets.push(site.semaphore.unwrap_or(0));
        set.cookies.push(cookie as u64);
    }
    link_multi(loaded, plan, &sets, false)
}

impl Mechanism for Usdt {
    /// Two or more sites: one program on a multi-uprobe link per binary, dispatching on the
    /// cookie to each site's body (its arguments are its own: `program_per_target`).
    fn dispatch(&self, targets: &[Target], _facts: &LiveFacts) -> Result<Dispatch, String> {
        if targets.len() < 2 {
            return Err("one site".into());
        }
        if let Some(t) = targets.iter().find(|t| !matches!(t, Target::Usdt(_))) {
            return Err(format!("{t} is not a usdt site"));
        }
        Ok(Dispatch::Cookie { ret: false })
    }

    fn runs_latest_first(&self) -> bool {
        true
    }

    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        if let Some(Dispatch::Cookie { .. }) = plan.dispatch {
            return attach_multi(loaded, plan);
        }
        let up: &mut UProbe = program(loaded, plan)?;
        let first = plan.first();
        let fd = up
            .fd()
            .map_err(|e| fail(first, describe(&e)))?
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| fail(first, e))?;
        for target in &plan.targets {
            let Target::Usdt(site) = target else {
                return Err(fail(target, "not a usdt site"));
            };
            let event = super::attach::attach_site(fd.as_fd(), site, plan.pid)
                .map_err(|e| fail(target, e))?;
            loaded.keep_perf_link(&plan.program, event);
        }
        Ok(plan.targets.len())
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .map(|t| match t {
                Target::Usdt(site) => Count {
                    how: Counting::Uprobe(UprobePoint {
                        path: site.path.clone(),
                        offset: site.offset,
                        ret: false,
                        ref_ctr_offset: site.semaphore.unwrap_or(0),
                    }),
                    first_emulated: Some(true),
                },
                _ => Count::unknown(),
            })
            .collect()
    }

    /// A site is sdt.h's `nop`, which the kernel emulates.
    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        let (warm, why) = model.uprobe_ns(Some(true), false);
        Price {
            why: Some(why),
            ..Price::new(warm, model.uprobe_cold_ns(Some(true), false))
        }
    }

    fn first_emulated(&self, _target: &Target) -> Option<bool> {
        Some(true)
    }

    fn in_process(&self) -> bool {
        true
    }

    /// `usdt:BINARY:[PROVIDER:]NAME` for a named binary.
    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        let Some((paths, probe)) = listed_binaries(ProviderKind::Usdt, query, facts)? else {
            return Ok(0);
        };
        // Of a wildcard's files, those without notes list nothing.
        let paths: Vec<String> = paths
            .into_iter()
            .filter(|p| facts.usdt_sites(p).is_ok())
            .collect();
        list_sites(&paths, probe, facts, out)
    }
}

/// The USDT probes of `paths` whose `[PROVIDER:]NAME` matches `probe` (`*` for all), once
/// each (a probe may have several sites), sorted, as bpftrace lists them.
pub fn list_sites(
    paths: &[String],
    probe: &str,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let (provider, name) = match probe.split_once(':') {
        Some((provider, name)) => (Glob::new(provider), Glob::new(name)),
        None => (Glob::new("*"), Glob::new(probe)),
    };
    let mut lines = std::collections::BTreeSet::new();
    for path in paths {
        for site in facts.usdt_sites(path)? {
            if provider.matches(&site.provider) && name.matches(&site.name) {
                lines.insert(format!("usdt:{path}:{}:{}", site.provider, site.name));
            }
        }
    }
    for line in &lines {
        writeln!(out, "{line}").map_err(io_error)?;
    }
    Ok(lines.len())
}

//! `uprobe` and `uretprobe`: aya attaches the program at each function's file offset, read
//! once per binary (aya would read and parse the whole file again for every target, and a
//! wildcard over libc names hundreds). A hit is a breakpoint in the traced process, priced by
//! whether the kernel emulates the instruction it replaces or single-steps it; the rate is
//! counted by the program on multi-uprobe links. Listed for a named binary.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Write;
use std::path::Path;

use aya::programs::uprobe::{UProbeAttachLocation, UProbeScope};
use aya::programs::UProbe;
use tracebound_compiler::machine::demangle::demangle;
use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::{Dispatch, FunctionSite, ProviderKind, Target};

use super::attach::{describe, fail, program, AttachError, AttachPlan};
use super::mechanism::{io_error, listed_binaries, Count, Counting, ListQuery, Mechanism, Price};
use crate::cost::CostModel;
use crate::facts::{binary, LiveFacts};
use crate::kernel::sys;
use crate::probes::load::Loaded;
use crate::probes::UprobePoint;

pub struct Uprobe {
    pub ret: bool,
}

/// The function site of a uprobe or uretprobe target.
fn site(target: &Target) -> Option<&FunctionSite> {
    match target {
        Target::Uprobe(site) | Target::Uretprobe(site) => Some(site),
        _ => None,
    }
}

/// A function at its entry, the only place whose first instruction is read.
fn function_at_entry(site: &FunctionSite) -> Option<&str> {
    site.function.as_deref().filter(|_| site.offset == 0)
}

/// Each target's place (its offset in the file the kernel attaches to,
/// `binary::attached_file`, and its first instruction) where it is known: a function's
/// entry the binary's symbol tables have, each binary read once, or an offset into a file
/// without symbols. A target at an offset into its function has none (the instruction there
/// is not read).
fn entries(targets: &[Target]) -> Vec<Option<(u64, Vec<u8>)>> {
    let mut by_path: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in targets.iter().filter_map(site) {
        if let Some(function) = function_at_entry(s) {
            by_path.entry(&s.binary).or_default().push(function);
        }
    }
    let found: HashMap<&str, HashMap<String, (u64, Vec<u8>)>> = by_path
        .into_iter()
        .map(|(path, functions)| (path, binary::function_entries(Path::new(path), &functions)))
        .collect();
    targets
        .iter()
        .map(|t| {
            let s = site(t)?;
            match (&s.function, function_at_entry(s)) {
                (None, _) => binary::code_at(Path::new(&s.binary), s.offset),
                (Some(_), Some(function)) => found.get(s.binary.as_str())?.get(function).cloned(),
                (Some(_), None) => None,
            }
        })
        .collect()
}

/// Attaches the program loaded by hand for `plan` with one multi-uprobe link per binary, each
/// target's cookie its index (the program dispatches on it).
fn attach_multi(loaded: &mut Loaded, plan: &AttachPlan, ret: bool) -> Result<usize, AttachError> {
    let mut by_binary: Vec<(&str, Vec<u64>, Vec<u64>)> = Vec::new();
    for (cookie, (target, entry)) in plan.targets.iter().zip(entries(&plan.targets)).enumerate() {
        let (Some(site), Some((offset, _))) = (site(target), entry) else {
            return Err(fail(target, "not at a function entry in the symbol tables"));
        };
        match by_binary.iter_mut().find(|(b, ..)| *b == site.binary) {
            Some((_, offsets, cookies)) => {
                offsets.push(offset);
                cookies.push(cookie as u64);
            }
            None => by_binary.push((&site.binary, vec![offset], vec![cookie as u64])),
        }
    }
    let sets: Vec<MultiLinkSet> = by_binary
        .into_iter()
        .map(|(binary, offsets, cookies)| MultiLinkSet {
            binary,
            ref_ctr_offsets: vec![0; offsets.len()],
            offsets,
            cookies,
        })
        .collect();
    link_multi(loaded, plan, &sets, ret)
}

/// The points of one binary that one multi-uprobe link attaches: file offsets, each with its
/// semaphore's file offset (0: none) and its cookie.
pub(crate) struct MultiLinkSet<'a> {
    pub binary: &'a str,
    pub offsets: Vec<u64>,
    pub ref_ctr_offsets: Vec<u64>,
    pub cookies: Vec<u64>,
}

/// Links the program loaded by hand for `plan` with one multi-uprobe link per set, and keeps
/// the links in `loaded` once all of them are made (a failure closes those already made).
pub(crate) fn link_multi(
    loaded: &mut Loaded,
    plan: &AttachPlan,
    sets: &[MultiLinkSet],
    ret: bool,
) -> Result<usize, AttachError> {
    let mut links = Vec::new();
    for set in sets {
        let program = loaded.program_by_hand(&plan.program).ok_or_else(|| {
            fail(
                plan.first(),
                format!(
                    "program {} was not loaded for a multi-uprobe link",
                    plan.program
                ),
            )
        })?;
        let path =
            CString::new(binary::attached_file(set.binary)).map_err(|e| fail(plan.first(), e))?;
        let link = sys::link_uprobe_multi(
            program,
            &path,
            &set.offsets,
            &set.ref_ctr_offsets,
            &set.cookies,
            ret,
            plan.pid,
        )
        .map_err(|e| {
            fail(
                plan.first(),
                format!("a multi-uprobe link on {}: {e}", set.binary),
            )
        })?;
        links.push(link);
    }
    for link in links {
        loaded.keep_perf_link(&plan.program, link);
    }
    Ok(plan.targets.len())
}

impl Mechanism for Uprobe {
    fn runs_latest_first(&self) -> bool {
        true
    }

    /// Every target at a function's entry as the symbol tables give it: one program on a
    /// multi-uprobe link per binary, dispatching on the cookie.
    fn dispatch(&self, targets: &[Target], _facts: &LiveFacts) -> Result<Dispatch, String> {
        if targets.len() < 2 {
            return Err("one function".into());
        }
        if let Some((t, _)) = targets
            .iter()
            .zip(entries(targets))
            .find(|(_, e)| e.is_none())
        {
            return Err(format!(
                "{t} is not at a function entry in the symbol tables"
            ));
        }
        Ok(Dispatch::Cookie { ret: self.ret })
    }

    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        if let Some(Dispatch::Cookie { ret }) = plan.dispatch {
            return attach_multi(loaded, plan, ret);
        }
        let up: &mut UProbe = program(loaded, plan)?;
        let scope = match plan.pid.and_then(std::num::NonZeroU32::new) {
            Some(pid) => UProbeScope::OneProcess(pid),
            None => UProbeScope::AllProcesses,
        };
        for (target, entry) in plan.targets.iter().zip(entries(&plan.targets)) {
            let site = site(target).ok_or_else(|| fail(target, "not a uprobe"))?;
            let location = match (entry, site.function.as_deref(), site.offset) {
                (Some((offset, _)), ..) => UProbeAttachLocation::AbsoluteOffset(offset),
                (None, None, _) => {
                    return Err(fail(target, "the offset is past the end of the file"))
                }
                // Not in the symbol tables read here (aya also looks in debug links).
                (None, Some(function), 0) => UProbeAttachLocation::Symbol(function),
                // Inside the function (resolution checked the offset), found here so that an
                // ELF stored in an archive is probed where it lies in the archive.
                (None, Some(function), at) => {
                    match binary::function_entry(
                        Path::new(&site.binary),
                        &format!("{function}+{at}"),
                    ) {
                        Some((offset, _)) => UProbeAttachLocation::AbsoluteOffset(offset),
                        None => UProbeAttachLocation::SymbolOffset(function, at),
                    }
                }
            };
            up.attach(location, binary::attached_file(&site.binary), scope)
                .map_err(|e| fail(target, describe(&e)))?;
        }
        Ok(plan.targets.len())
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .zip(entries(targets))
            .map(|(target, entry)| {
                // A function the kernel will not probe stays unmeasured (attaching it fails).
                match (site(target), entry) {
                    (Some(site), Some((offset, code)))
                        if binary::first_instruction_probeable(&code) =>
                    {
                        Count {
                            how: Counting::Uprobe(UprobePoint {
                                path: binary::attached_file(&site.binary).to_string(),
                                offset,
                                ret: self.ret,
                                ref_ctr_offset: 0,
                            }),
                            first_emulated: Some(binary::first_instruction_emulated(&code)),
                        }
                    }
                    _ => Count::unknown(),
                }
            })
            .collect()
    }

    fn price(&self, model: &CostModel, first_emulated: Option<bool>) -> Price {
        let (warm, why) = model.uprobe_ns(first_emulated, self.ret);
        Price {
            why: Some(why),
            ..Price::new(warm, model.uprobe_cold_ns(first_emulated, self.ret))
        }
    }

    fn first_emulated(&self, target: &Target) -> Option<bool> {
        let (_, code) = entries(std::slice::from_ref(target)).pop()??;
        Some(binary::first_instruction_emulated(&code))
    }

    fn in_process(&self) -> bool {
        true
    }

    /// Only for a named binary (`uprobe:BINARY:PATTERN`): every file on the machine is not a
    /// list. C++ and Rust functions are listed by their demangled signature, quoted so that
    /// the line is an attach point as it stands; the pattern may match either name.
    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        let kind = if self.ret {
            ProviderKind::Uretprobe
        } else {
            ProviderKind::Uprobe
        };
        let Some((paths, function)) = listed_binaries(kind, query, facts)? else {
            return Ok(0);
        };
        let provider = kind.name();
        let glob = Glob::new(function.trim_matches('"'));
        let mut count = 0;
        for path in paths {
            for name in facts.function_symbols(&path)? {
                let demangled = demangle(&name);
                if !glob.matches(&name) && !demangled.as_ref().is_some_and(|d| glob.matches(d)) {
                    continue;
                }
                match demangled {
                    Some(d) => writeln!(out, "{provider}:{path}:\"{d}\"").map_err(io_error)?,
                    None => writeln!(out, "{provider}:{path}:{name}").map_err(io_error)?,
                }
                count += 1;
            }
        }
        Ok(count)
    }
}

//! `tracepoint`: aya attaches the program to `category:event`. Syscall tracepoints are
//! counted by the one `sys_enter` counter (a perf counter per tracepoint per CPU would take
//! seconds to close for `sys_enter_*`), others by the tracepoint counter's raw tracepoint
//! program (a perf counter adds an event's `__perf_count` value, not 1, per hit). Listed from tracefs, with `-v` each field as its format declares it.

use std::io::Write;
use std::path::Path;

use aya::programs::{RawTracePoint, TracePoint};
use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::probe::{Dispatch, ProviderKind, Target};
use tracebound_compiler::types::{KType, NameSpace, TypeId};

use super::attach::{describe, fail, program, AttachError, AttachPlan};
use super::mechanism::{io_error, wants, Count, Counting, ListQuery, Mechanism, Price};
use crate::cost::CostModel;
use crate::facts::syscalls::{syscall_number, syscall_numbers};
use crate::facts::LiveFacts;
use crate::kernel::perf_counter::{tracepoint_id, EventSpec, TYPE_TRACEPOINT};
use crate::probes::load::Loaded;

pub struct Tracepoint;

/// The offset in `task_struct` of `thread_info.status`, from the kernel's BTF.
fn compat_status_offset(facts: &LiveFacts) -> Option<u32> {
    let member = |record: &str, name: &str| -> Option<(u32, TypeId)> {
        let id = facts.kernel_type_named(NameSpace::Struct, record).ok()?;
        let KType::Record(r) = facts.kernel_type(id).ok()? else {
            return None;
        };
        let m = r.members.into_iter().find(|m| m.name == name)?;
        Some((m.bit_offset / 8, m.ty))
    };
    let (info_at, _) = member("task_struct", "thread_info")?;
    let (status_at, _) = member("thread_info", "status")?;
    Some(info_at + status_at)
}

impl Mechanism for Tracepoint {
    /// Syscall tracepoints, all `sys_enter_*` or all `sys_exit_*`, each with a known number:
    /// one raw tracepoint program on `sys_enter` (`sys_exit`) dispatching on the number.
    fn dispatch(&self, targets: &[Target], facts: &LiveFacts) -> Result<Dispatch, String> {
        let known = syscall_numbers();
        let mut exit = None;
        let mut numbers = Vec::new();
        for target in targets {
            let Target::Tracepoint { category, event } = target else {
                return Err(format!("{target} is not a tracepoint"));
            };
            let this_exit = match event {
                e if category == "syscalls" && e.starts_with("sys_enter_") => false,
                e if category == "syscalls" && e.starts_with("sys_exit_") => true,
                _ => return Err(format!("{target} is not a syscall tracepoint")),
            };
            if *exit.get_or_insert(this_exit) != this_exit {
                return Err("the probe has both sys_enter_ and sys_exit_ tracepoints".into());
            }
            numbers.push(
                syscall_number(&known, event)
                    .ok_or_else(|| format!("no syscall number is known for {target}"))?,
            );
        }
        if targets.len() < 2 {
            return Err("one tracepoint".into());
        }
        let compat_status_at = compat_status_offset(facts)
            .ok_or("the kernel's BTF has no task_struct thread_info.status")?;
        Ok(Dispatch::Syscall {
            exit: exit.unwrap_or(false),
            numbers,
            compat_status_at,
        })
    }

    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        if let Some(Dispatch::Syscall { exit, .. }) = &plan.dispatch {
            let rtp: &mut RawTracePoint = program(loaded, plan)?;
            let hook = if *exit { "sys_exit" } else { "sys_enter" };
            rtp.attach(hook)
                .map_err(|e| fail(plan.first(), describe(&e)))?;
            return Ok(plan.targets.len());
        }
        let tp: &mut TracePoint = program(loaded, plan)?;
        for target in &plan.targets {
            let Target::Tracepoint { category, event } = target else {
                return Err(fail(target, "not a tracepoint"));
            };
            tp.attach(category, event)
                .map_err(|e| fail(target, describe(&e)))?;
        }
        Ok(plan.targets.len())
    }

    fn counting(&self, targets: &[Target], tracefs: &Path) -> Vec<Count> {
        let numbers = syscall_numbers();
        targets
            .iter()
            .map(|t| {
                let Target::Tracepoint { category, event } = t else {
                    return Count::unknown();
                };
                let how = if category != "syscalls" {
                    Counting::Tracepoint {
                        name: event.clone(),
                    }
                } else if syscall_number(&numbers, event).is_some() {
                    Counting::Syscall {
                        name: event.clone(),
                    }
                } else {
                    // A syscall no number is known for: a perf counter, which a syscall event
                    // adds 1 to per hit.
                    match tracepoint_id(tracefs, category, event) {
                        Ok(id) => Counting::PerfEvent {
                            event: EventSpec {
                                kind: TYPE_TRACEPOINT,
                                config: id,
                            },
                            period: 1,
                        },
                        Err(_) => Counting::Unknown,
                    }
                };
                Count {
                    how,
                    first_emulated: None,
                }
            })
            .collect()
    }

    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.tracepoint_ns, model.tracepoint_cold_ns)
    }

    /// `tracepoint:cat:event`, `tracepoint:event` (any category), or a bare `event`.
    fn list(
        &self,
        query: &ListQuery,
        facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        if !wants(ProviderKind::Tracepoint, query) {
            return Ok(0);
        }
        let rest = query.rest;
        let (cat, event) = rest.split_once(':').unwrap_or(("*", rest));
        let (cat, event) = (Glob::new(cat), Glob::new(event));
        let mut all = facts.tracepoints()?;
        // bpftrace lists them ordered by the joined name.
        all.sort_by(|a, b| format!("{}:{}", a.0, a.1).cmp(&format!("{}:{}", b.0, b.1)));
        let mut count = 0;
        for (c, e) in all
            .iter()
            .filter(|(c, e)| cat.matches(c) && event.matches(e))
        {
            writeln!(out, "tracepoint:{c}:{e}").map_err(io_error)?;
            count += 1;
            if query.verbose {
                let format = facts.tracepoint_format(c, e)?;
                for field in format.fields.iter().filter(|f| !f.common) {
                    writeln!(out, "    {}", field.declaration).map_err(io_error)?;
                }
            }
        }
        Ok(count)
    }
}

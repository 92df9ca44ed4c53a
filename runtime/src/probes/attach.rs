//! Attaching loaded programs to their probes: one function per probe family. Every attachment
//! is a file descriptor owned by the loaded object, so dropping it (on exit, on error, or the
//! kernel closing our descriptors after SIGKILL) detaches everything; nothing is left behind
//! in tracefs or the kernel.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::UProbeAttachLocation;
use aya::programs::uprobe::UProbeScope;
use aya::programs::{PerfEvent, Program, RawTracePoint, TracePoint, UProbe};
use std::os::fd::AsFd as _;

use tracebound_compiler::provider::{self, ProviderKind, Rate};
use tracebound_compiler::resolve::facts::UsdtSite;

use crate::probes::load::Loaded;

/// What to attach one program to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPlan {
    /// The program's name in the object (`tb_...`).
    pub program: String,
    pub kind: ProviderKind,
    /// Canonical attach points (`tracepoint:syscalls:sys_enter_read`, `interval:ms:100`).
    pub targets: Vec<String>,
    /// `-p`: uprobes fire in this process only (the breakpoint stays out of the others).
    pub pid: Option<u32>,
    /// For usdt: the site of each target (same order as `targets`).
    pub usdt: Vec<UsdtSite>,
}

#[derive(Debug)]
pub struct AttachError {
    /// The attach point that failed.
    pub target: String,
    pub reason: String,
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "cannot attach {}: {}", self.target, self.reason)
    }
}

fn fail(target: &str, reason: impl fmt::Display) -> AttachError {
    AttachError {
        target: target.to_string(),
        reason: reason.to_string(),
    }
}

/// Attaches every target of `plan`; returns how many attach points were attached.
/// BEGIN and END are not attached: they run once through BPF_PROG_TEST_RUN.
pub fn attach(loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
    let first = plan.targets.first().map(String::as_str).unwrap_or("");
    let program = loaded.program_mut(&plan.program).ok_or_else(|| {
        fail(
            first,
            format!("program {} is not in the object", plan.program),
        )
    })?;
    match plan.kind {
        ProviderKind::Begin | ProviderKind::End => Ok(0),
        ProviderKind::Tracepoint => {
            let tp: &mut TracePoint = program.try_into().map_err(|e| fail(first, e))?;
            for target in &plan.targets {
                let (category, event) =
                    tracepoint_parts(target).ok_or_else(|| fail(target, "not category:event"))?;
                tp.attach(category, event)
                    .map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::RawTracepoint => {
            let rtp: &mut RawTracePoint = program.try_into().map_err(|e| fail(first, e))?;
            for target in &plan.targets {
                let name = target.rsplit(':').next().unwrap_or(target);
                rtp.attach(name).map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::Interval | ProviderKind::Profile | ProviderKind::Software => {
            let pe: &mut PerfEvent = match program {
                Program::PerfEvent(p) => p,
                _ => return Err(fail(first, "not a perf event program")),
            };
            let mut attached = 0;
            for target in &plan.targets {
                let timer = Timer::parse(plan.kind, target)
                    .ok_or_else(|| fail(target, "cannot read its rate"))?;
                // An interval fires on one CPU; a profile or software event samples every CPU.
                let cpus: Vec<u32> = if plan.kind == ProviderKind::Interval {
                    vec![0]
                } else {
                    crate::kernel::sys::online_cpus()
                        .ok()
                        .filter(|c| !c.is_empty())
                        .unwrap_or_else(|| vec![0])
                };
                for cpu in cpus {
                    pe.attach(
                        PerfEventConfig::Software(timer.event),
                        PerfEventScope::AllProcessesOneCpu { cpu },
                        timer.policy,
                        false,
                    )
                    .map_err(|e| fail(target, describe(&e)))?;
                }
                attached += 1;
            }
            Ok(attached)
        }
        ProviderKind::Uprobe | ProviderKind::Uretprobe => {
            let up: &mut UProbe = program.try_into().map_err(|e| fail(first, e))?;
            let scope = match plan.pid.and_then(std::num::NonZeroU32::new) {
                Some(pid) => UProbeScope::OneProcess(pid),
                None => UProbeScope::AllProcesses,
            };
            // File offsets from one read of each binary: aya would read and parse the whole
            // file again for every target (a wildcard over libc names hundreds).
            let mut offsets: HashMap<&str, HashMap<String, (u64, Vec<u8>)>> = HashMap::new();
            for target in &plan.targets {
                let (path, function) = uprobe_parts(target)
                    .ok_or_else(|| fail(target, "not uprobe:BINARY:FUNCTION"))?;
                if !offsets.contains_key(path) {
                    let functions: Vec<&str> = plan
                        .targets
                        .iter()
                        .filter_map(|t| uprobe_parts(t))
                        .filter(|(p, _)| *p == path)
                        .map(|(_, f)| f)
                        .collect();
                    let entries =
                        crate::facts::binary::function_entries(Path::new(path), &functions);
                    offsets.insert(path, entries);
                }
                let location = match offsets[path].get(function) {
                    Some(&(offset, _)) => UProbeAttachLocation::AbsoluteOffset(offset),
                    // Not in the symbol tables read here (aya also looks in debug links).
                    // `main+12`: inside the function (resolution checked the offset).
                    None => match function.split_once('+') {
                        Some((name, at)) => UProbeAttachLocation::SymbolOffset(
                            name,
                            at.parse().map_err(|_| fail(target, "bad offset"))?,
                        ),
                        None => UProbeAttachLocation::Symbol(function),
                    },
                };
                up.attach(location, path, scope)
                    .map_err(|e| fail(target, describe(&e)))?;
            }
            Ok(plan.targets.len())
        }
        ProviderKind::Usdt => {
            let up: &mut UProbe = program.try_into().map_err(|e| fail(first, e))?;
            let fd = up
                .fd()
                .map_err(|e| fail(first, describe(&e)))?
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| fail(first, e))?;
            if plan.usdt.len() != plan.targets.len() {
                return Err(fail(first, "the plan has no site for each target"));
            }
            for (target, site) in plan.targets.iter().zip(&plan.usdt) {
                let event = crate::probes::usdt::attach::attach_site(fd.as_fd(), site, plan.pid)
                    .map_err(|e| fail(target, e))?;
                loaded.keep_perf_link(&plan.program, event);
            }
            Ok(plan.targets.len())
        }
        other => Err(fail(
            first,
            format!("attaching {other:?} probes is not built yet"),
        )),
    }
}

/// A small script of tracebound's own, compiled, loaded and attached: how the estimate counts
/// syscalls and how calibration measures costs. Dropping it detaches everything.
pub struct AttachedScript {
    pub loaded: Loaded,
    pub compiled: tracebound_compiler::pipeline::Compiled,
}

impl AttachedScript {
    pub fn start(source: &str) -> Result<AttachedScript, String> {
        use tracebound_compiler::pipeline::{compile, CompileOptions};
        let compiled = compile(
            source,
            &crate::facts::LiveFacts::new(),
            &CompileOptions::default(),
        )
        .map_err(|d| format!("`{source}` does not compile: {}", d[0].message))?;
        let mut loaded = crate::probes::load::load(&compiled.object)
            .map_err(|e| format!("loading `{source}`: {e}"))?;
        for p in &compiled.probes {
            let plan = AttachPlan {
                program: p.program.clone(),
                kind: p.kind,
                targets: p.targets.clone(),
                pid: None,
                usdt: p.usdt.clone(),
            };
            attach(&mut loaded, &plan).map_err(|e| e.to_string())?;
        }
        Ok(AttachedScript { loaded, compiled })
    }
}

/// `tracepoint:category:event` → (category, event).
pub fn tracepoint_parts(target: &str) -> Option<(&str, &str)> {
    let mut parts = target.splitn(3, ':');
    let _provider = parts.next()?;
    Some((parts.next()?, parts.next()?))
}

/// `uprobe:/path/to/binary:function` → (path, function).
pub fn uprobe_parts(target: &str) -> Option<(&str, &str)> {
    let (rest, function) = target.rsplit_once(':')?;
    Some((
        rest.split_once(':').map_or(rest, |(_, path)| path),
        function,
    ))
}

/// A software perf event and how often it fires.
pub struct Timer {
    pub event: SoftwareEvent,
    pub policy: SamplePolicy,
}

impl Timer {
    /// `interval:ms:100`, `interval:1s`, `profile:hz:99`, `software:faults:100`.
    pub fn parse(kind: ProviderKind, target: &str) -> Option<Timer> {
        let parts: Vec<&str> = target.split(':').skip(1).collect();
        if kind == ProviderKind::Software {
            let event = match parts.first().copied()? {
                "cpu-clock" | "cpu" => SoftwareEvent::CpuClock,
                "task-clock" => SoftwareEvent::TaskClock,
                "page-faults" | "faults" => SoftwareEvent::PageFaults,
                "context-switches" | "cs" => SoftwareEvent::ContextSwitches,
                "cpu-migrations" => SoftwareEvent::CpuMigrations,
                "minor-faults" => SoftwareEvent::PageFaultsMin,
                "major-faults" => SoftwareEvent::PageFaultsMaj,
                "alignment-faults" => SoftwareEvent::AlignmentFaults,
                "emulation-faults" => SoftwareEvent::EmulationFaults,
                "dummy" => SoftwareEvent::Dummy,
                "bpf-output" => SoftwareEvent::BpfOutput,
                _ => return None,
            };
            let period = match parts.get(1) {
                Some(p) if !p.is_empty() => tracebound_compiler::lex::parse_integer(p).ok()?,
                _ => default_software_period(event),
            };
            return Some(Timer {
                event,
                policy: SamplePolicy::Period(period),
            });
        }
        let (unit, count) = match parts.as_slice() {
            [unit, n] => (Some(*unit), *n),
            [n] => (None, *n),
            _ => return None,
        };
        let count = tracebound_compiler::lex::parse_integer(count).ok()?;
        let policy = match provider::rate(unit, count)? {
            Rate::Hz(hz) => SamplePolicy::Frequency(hz),
            Rate::PeriodNs(ns) => SamplePolicy::Period(ns),
        };
        Some(Timer {
            event: SoftwareEvent::CpuClock,
            policy,
        })
    }
}

/// bpftrace's default sample periods for software events.
fn default_software_period(event: SoftwareEvent) -> u64 {
    match event {
        SoftwareEvent::CpuClock | SoftwareEvent::TaskClock => 1_000_000,
        SoftwareEvent::PageFaults | SoftwareEvent::PageFaultsMin | SoftwareEvent::PageFaultsMaj => {
            100
        }
        SoftwareEvent::ContextSwitches | SoftwareEvent::CpuMigrations => 1000,
        _ => 1,
    }
}

/// The innermost cause of an aya error, which is where the kernel's errno is.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_read_every_spelling() {
        let period = |t: &Timer| match t.policy {
            SamplePolicy::Period(p) => p,
            SamplePolicy::Frequency(f) => f + 1_000_000_000_000,
        };
        let t = |k, s| Timer::parse(k, s).map(|t| period(&t));
        assert_eq!(
            t(ProviderKind::Interval, "interval:ms:100"),
            Some(100_000_000)
        );
        assert_eq!(
            t(ProviderKind::Interval, "interval:s:1"),
            Some(1_000_000_000)
        );
        assert_eq!(
            t(ProviderKind::Interval, "interval:1s"),
            Some(1_000_000_000)
        );
        assert_eq!(
            t(ProviderKind::Profile, "profile:hz:99"),
            Some(1_000_000_000_099)
        );
        assert_eq!(t(ProviderKind::Software, "software:faults:10"), Some(10));
        assert_eq!(t(ProviderKind::Interval, "interval:parsecs:1"), None);
        assert_eq!(
            tracepoint_parts("tracepoint:syscalls:sys_enter_read"),
            Some(("syscalls", "sys_enter_read"))
        );
    }
}

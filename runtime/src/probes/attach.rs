//! What attaching a program to its probes takes (`AttachPlan`) and how it fails, with what
//! every kind's attaching shares. Every attachment is a file descriptor owned by the loaded
//! object, so dropping it (on exit, on error, or the kernel closing our descriptors after
//! SIGKILL) detaches everything; nothing is left behind in tracefs or the kernel.

use std::fmt;

use aya::programs::Program;
use tracebound_compiler::probe::{Dispatch, ProviderKind, Target};

use crate::probes::load::Loaded;

/// What to attach one program to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPlan {
    /// The program's name in the object (`tb_...`).
    pub program: String,
    pub kind: ProviderKind,
    /// What it attaches to (`tracepoint:syscalls:sys_enter_read`, `interval:ms:100`).
    pub targets: Vec<Target>,
    /// `-p`: uprobes fire in this process only (the breakpoint stays out of the others).
    pub pid: Option<u32>,
    /// `-p`, else the `-c` command: the process whose memory a watchpoint's user address is
    /// in.
    pub process: Option<u32>,
    /// `-p`: the process software events are counted in (all of them without it).
    pub traced: Option<u32>,
    /// How the targets share the one program, when they do (`CompiledProbe::dispatch`).
    pub dispatch: Option<Dispatch>,
}

impl AttachPlan {
    /// The first target, which errors about the program as a whole name.
    pub fn first(&self) -> &dyn fmt::Display {
        match self.targets.first() {
            Some(t) => t,
            None => &"",
        }
    }
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

pub(crate) fn fail(target: &dyn fmt::Display, reason: impl fmt::Display) -> AttachError {
    AttachError {
        target: target.to_string(),
        reason: reason.to_string(),
    }
}

/// The plan's program, as its kind's program type.
pub(crate) fn program<'l, P>(
    loaded: &'l mut Loaded,
    plan: &AttachPlan,
) -> Result<&'l mut P, AttachError>
where
    &'l mut P: TryFrom<&'l mut Program>,
    <&'l mut P as TryFrom<&'l mut Program>>::Error: fmt::Display,
{
    let program = loaded.program_mut(&plan.program).ok_or_else(|| {
        fail(
            plan.first(),
            format!("program {} is not in the object", plan.program),
        )
    })?;
    program.try_into().map_err(|e| fail(plan.first(), e))
}

/// The innermost cause of an aya error, which is where the kernel's errno is.
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

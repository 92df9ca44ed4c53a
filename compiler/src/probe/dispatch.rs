//! One program for all of a probe's attach points: the kernel runs it at one hook for every
//! member, and it picks the member (its `args`, its `probe`, its predicate) by a key the
//! kernel hands it. A wildcard then attaches and detaches as one link instead of one perf
//! event per member, whose closes the kernel serialises. The runtime decides when a probe is
//! attached this way (from the estimate) and says how (`LowerOptions::dispatch`); lowering
//! writes each member's body after a search over the keys (`lower::dispatch`).

/// How a probe's members share one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Syscall tracepoints as one raw tracepoint program on `sys_enter` (`exit`: `sys_exit`),
    /// choosing the member by the syscall's number (`numbers[i]` is the i-th target's). The
    /// syscall tracepoints ignore 32-bit syscalls, and so does it: `compat_status_at` is the
    /// offset in `task_struct` of `thread_info.status`, whose `TS_COMPAT` bit marks one.
    Syscall {
        exit: bool,
        numbers: Vec<u64>,
        compat_status_at: u32,
    },
    /// Uprobes (uretprobes with `ret`) on one multi-uprobe link, choosing the member by the
    /// link's cookie: the i-th target's is i.
    Cookie { ret: bool },
}

/// The section of a program the runtime loads itself for a multi-uprobe link (aya 0.14 cannot
/// load one with that expected attach type): aya reads it as a uprobe and leaves it unloaded.
pub const MULTI_UPROBE_SECTION: &str = "uprobe/tb_multi";
pub const MULTI_URETPROBE_SECTION: &str = "uretprobe/tb_multi";

/// `TS_COMPAT` in `thread_info.status` (x86-64): the task is in a 32-bit syscall.
pub const TS_COMPAT: i32 = 0x0002;

impl Dispatch {
    /// The object section of the one program: its program type for the loader.
    pub fn section(&self) -> String {
        match self {
            Dispatch::Syscall { exit: false, .. } => "raw_tracepoint/sys_enter".into(),
            Dispatch::Syscall { exit: true, .. } => "raw_tracepoint/sys_exit".into(),
            Dispatch::Cookie { ret: false } => MULTI_UPROBE_SECTION.into(),
            Dispatch::Cookie { ret: true } => MULTI_URETPROBE_SECTION.into(),
        }
    }

    /// Each member's key, in target order.
    pub fn keys(&self, members: usize) -> Vec<u64> {
        match self {
            Dispatch::Syscall { numbers, .. } => numbers.clone(),
            Dispatch::Cookie { .. } => (0..members as u64).collect(),
        }
    }

    /// Where the one program is attached, for people (`--dry-run`).
    pub fn hook(&self) -> &'static str {
        match self {
            Dispatch::Syscall { exit: false, .. } => "raw_syscalls:sys_enter",
            Dispatch::Syscall { exit: true, .. } => "raw_syscalls:sys_exit",
            Dispatch::Cookie { .. } => "one multi-uprobe link",
        }
    }
}

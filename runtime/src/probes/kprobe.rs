//! `kprobe` and `kretprobe`: compiled and verified, not attached by the runtime yet, and
//! refused up front on a kernel without kprobes (CONFIG_KPROBES), with a probe that works
//! instead. Listed from the kernel's BTF.

use std::io::Write;

use tracebound_compiler::machine::ctype::{CType, KernelTypes};
use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::pipeline::CompiledProbe;
use tracebound_compiler::probe::ProviderKind;
use tracebound_compiler::types::TypeId;

use super::attach::{fail, AttachError, AttachPlan};
use super::mechanism::{io_error, named, ListQuery, Mechanism, Unattachable};
use crate::facts::LiveFacts;
use crate::probes::capability::has_kprobes;
use crate::probes::load::Loaded;

pub struct Kprobe {
    pub ret: bool,
}

impl Kprobe {
    fn kind(&self) -> ProviderKind {
        if self.ret {
            ProviderKind::Kretprobe
        } else {
            ProviderKind::Kprobe
        }
    }
}

impl Mechanism for Kprobe {
    fn runs_latest_first(&self) -> bool {
        true
    }

    fn unattachable(&self, probe: &CompiledProbe, _facts: &LiveFacts) -> Option<Unattachable> {
        let lacking = (!has_kprobes()).then(|| {
            "this kernel has no kprobes (built without CONFIG_KPROBES: no kprobe PMU in \
             /sys/bus/event_source/devices and no kprobe_events in tracefs)"
                .to_string()
        });
        Some(Unattachable {
            lacking,
            help: alternative(function_of(probe)),
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
        // Kprobes read registers: no typed arguments to show.
        list_functions(self.kind(), query, facts, out, |_, _| Ok(Vec::new()))
    }
}

/// A kernel type and a name, declared as C declares them (`struct file * file`).
pub(super) type Declare<'a> = dyn Fn(TypeId, &str) -> String + 'a;

/// The function a kernel-function probe names (its first target's).
pub(super) fn function_of(probe: &CompiledProbe) -> &str {
    probe
        .targets
        .first()
        .and_then(|t| t.function())
        .unwrap_or_default()
}

/// Every kernel function BTF describes that matches, as `PROVIDER:function` in the user's
/// spelling of the provider (`kfunc:` lists as `kfunc:`), when the pattern names this kind;
/// with `-v`, the lines `declarations` gives each (a C type and a name).
pub(super) fn list_functions(
    kind: ProviderKind,
    query: &ListQuery,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
    declarations: impl Fn(&str, &Declare) -> Result<Vec<String>, FactError>,
) -> Result<usize, FactError> {
    if !named(kind, query) {
        return Ok(0);
    }
    let glob = Glob::new(query.rest.rsplit(':').next().unwrap_or("*"));
    let types = KernelTypes::new(facts);
    let declare = |ty: TypeId, name: &str| {
        let c = types.describe(&CType::kernel(ty, false));
        if name.is_empty() {
            c
        } else {
            format!("{c} {name}")
        }
    };
    let mut count = 0;
    for f in facts.kernel_functions()?.iter().filter(|f| glob.matches(f)) {
        writeln!(out, "{}:{f}", query.provider).map_err(io_error)?;
        count += 1;
        if query.verbose {
            for line in declarations(f, &declare)? {
                writeln!(out, "    {line}").map_err(io_error)?;
            }
        }
    }
    Ok(count)
}

/// A probe that works here in place of one on kernel function `function`.
pub(super) fn alternative(function: &str) -> String {
    let syscall = [
        "__x64_sys_",
        "__ia32_sys_",
        "__se_sys_",
        "__do_sys_",
        "sys_",
        "ksys_",
    ]
    .iter()
    .find_map(|p| function.strip_prefix(p));
    match syscall {
        Some(name) => format!(
            "use the syscall's tracepoints: `tracepoint:syscalls:sys_enter_{name}` and \
             `tracepoint:syscalls:sys_exit_{name}`"
        ),
        None => format!(
            "use a tracepoint or raw tracepoint near `{function}` (list them with \
             `tracebound -l 'tracepoint:*'` and `tracebound -l 'rawtracepoint:*'`), or a \
             uprobe on the user-space caller"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_functions_point_at_their_tracepoints() {
        assert!(alternative("__x64_sys_getppid").contains("sys_enter_getppid"));
        assert!(alternative("ksys_read").contains("sys_exit_read"));
        assert!(alternative("vfs_read").contains("rawtracepoint"));
    }
}

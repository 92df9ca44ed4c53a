//! The addresses `kaddr("name")` and `uaddr("name")` stand for, looked up once at compile
//! time as in bpftrace: a kernel symbol, or a symbol of the binary the probe's uprobe names.

use std::collections::HashMap;

use super::ResolvedProbe;
use crate::ast::{visit, Expr, ExprKind, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::machine::facts::{FactError, MachineFacts};
use crate::types::{KType, NameSpace};
use tracebound_stdlib::{Lowering, Support};

/// Addresses by (binary path, or "" for the kernel; symbol name); and, for `percpu_kaddr`,
/// by ([`PERCPU_VARIABLE`], name) how far a per-CPU variable lies past `runqueues` (a
/// wrapping difference), and by ([`PERCPU_VARIABLE`], [`PERCPU_ROUTE`][i]) the offsets of the
/// members that lead from a task to each CPU's `runqueues`.
pub type SymbolAddresses = HashMap<(String, String), u64>;

/// The second half of the key of a binary's load bias figures for `uaddr`: 1 when the
/// binary is position-independent, 0 when its symbols' values are the process's addresses.
pub const POSITION_INDEPENDENT: &str = "[pie]";

/// The second half of the key of a uprobe site's symbol-table address (its function's value
/// plus the offset), from which a hit's instruction pointer gives the load bias.
pub fn site_key(function: &str, offset: u64) -> String {
    format!("[site] {function}+{offset}")
}

/// The first half of the key of a per-CPU variable's figures: no binary path is this.
pub const PERCPU_VARIABLE: &str = "[percpu]";

/// Without CONFIG_KALLSYMS_ALL neither the verifier (BPF_PSEUDO_BTF_ID) nor /proc/kallsyms
/// knows where per-CPU variables are, but every task reaches each CPU's run queue, itself a
/// per-CPU variable: `task->sched_task_group->cfs_rq[cpu]->rq` is `&per_cpu(runqueues,
/// cpu)`, and a variable's copy on that CPU lies as far from it as their offsets in the
/// per-CPU section (BTF's `.data..percpu`) say. These are the members, in that order.
pub const PERCPU_ROUTE: [(&str, &str); 3] = [
    ("task_struct", "sched_task_group"),
    ("task_group", "cfs_rq"),
    ("cfs_rq", "rq"),
];

/// The first half of the keys of what `comm(pid)` calls: the BTF ids of the kfuncs below,
/// and the byte offset of `task_struct.comm` ([`TASK_COMM`]).
pub const KFUNC: &str = "[kfunc]";
pub const KFUNC_TASK_FROM_PID: &str = "bpf_task_from_pid";
pub const KFUNC_TASK_RELEASE: &str = "bpf_task_release";
pub const TASK_COMM: &str = "task_struct.comm";

/// The figures `comm(pid)` needs, into `out`.
fn kfunc_figures(facts: &dyn MachineFacts, out: &mut SymbolAddresses) -> Result<(), FactError> {
    let key = |k: &str| (KFUNC.to_string(), k.to_string());
    for f in [KFUNC_TASK_FROM_PID, KFUNC_TASK_RELEASE] {
        out.insert(key(f), u64::from(facts.kernel_function_id(f)?));
    }
    let id = facts.kernel_type_named(NameSpace::Struct, "task_struct")?;
    let comm = match facts.kernel_type(id)? {
        KType::Record(r) => r.members.into_iter().find(|m| m.name == "comm"),
        _ => None,
    };
    let comm = comm.ok_or_else(|| FactError::NotFound {
        what: "struct task_struct's member comm".into(),
    })?;
    out.insert(key(TASK_COMM), u64::from(comm.bit_offset / 8));
    Ok(())
}

/// The per-CPU variable every other is found from.
const ANCHOR: &str = "runqueues";

/// The figures `percpu_kaddr(name)` needs, into `out`.
fn percpu_figures(
    facts: &dyn MachineFacts,
    name: &str,
    out: &mut SymbolAddresses,
) -> Result<(), FactError> {
    let key = |k: &str| (PERCPU_VARIABLE.to_string(), k.to_string());
    let offset = facts.percpu_variable(name)?;
    let anchor = facts.percpu_variable(ANCHOR)?;
    out.insert(
        key(name),
        i64::from(offset).wrapping_sub(i64::from(anchor)) as u64,
    );
    for (record, member) in PERCPU_ROUTE {
        let id = facts.kernel_type_named(NameSpace::Struct, record)?;
        let found = match facts.kernel_type(id)? {
            KType::Record(r) => r.members.into_iter().find(|m| m.name == member),
            _ => None,
        };
        let m = found.ok_or_else(|| FactError::NotFound {
            what: format!(
                "struct {record}'s member {member} (percpu_kaddr needs CONFIG_FAIR_GROUP_SCHED)"
            ),
        })?;
        out.insert(
            key(&format!("{record}.{member}")),
            u64::from(m.bit_offset / 8),
        );
    }
    Ok(())
}

/// What `uaddr` in this probe needs to turn a symbol's value into the process's address: for
/// a position-independent binary, the address its one uprobe site has in the symbol table,
/// so that the hit's instruction pointer minus it is the load bias. A return probe, a usdt
/// probe or several sites of such a binary give no instruction pointer known to be at one
/// place: refused at the call rather than read at the wrong address.
fn load_bias_figures(
    facts: &dyn MachineFacts,
    resolved: &ResolvedProbe,
    binary: &str,
    at: crate::span::Span,
    out: &mut SymbolAddresses,
) -> Result<(), Diagnostic> {
    let fact =
        |err: FactError| Diagnostic::error("cannot read the probe's binary", at, err.to_string());
    let pie = facts.position_independent(binary).map_err(fact)?;
    out.insert(
        (binary.to_string(), POSITION_INDEPENDENT.to_string()),
        u64::from(pie),
    );
    if !pie {
        return Ok(());
    }
    // A site with no function is in a file with no symbols, which `position_independent`
    // has already refused.
    let (function, offset) =
        match resolved.targets.as_slice() {
            [crate::probe::Target::Uprobe(crate::probe::FunctionSite {
                function: Some(function),
                offset,
                ..
            })] => (function, *offset),
            _ => return Err(Diagnostic::error(
                "`uaddr` of a position-independent binary is supported in a uprobe of one site",
                at,
                "not supported yet here",
            )
            .with_note(
                "the load address is read from where the uprobe hit; a uretprobe, a usdt probe \
                 or a wildcard gives no one place",
            )),
        };
    let address = facts.symbol_address(Some(binary), function).map_err(fact)?;
    out.insert(
        (binary.to_string(), site_key(function, offset)),
        address + offset,
    );
    Ok(())
}

/// Every `kaddr`/`uaddr` of the script, resolved; a missing symbol is a diagnostic at its
/// name. `probes` has one entry per probe item, in order.
pub fn symbol_addresses(
    program: &Program,
    probes: &[ResolvedProbe],
    facts: &dyn MachineFacts,
) -> Result<SymbolAddresses, Vec<Diagnostic>> {
    let mut out = SymbolAddresses::new();
    let mut diags = Vec::new();
    let items = program.items.iter().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    });
    for (probe, resolved) in items.zip(probes) {
        visit::probe_exprs(probe, &mut |e: &Expr| {
            let ExprKind::Call { name, args } = &e.kind else {
                return;
            };
            // The builtins whose lowering is a symbol's address, resolved here.
            let lowering = tracebound_stdlib::lookup(&name.name).map(|b| b.support);
            if matches!(lowering, Some(Support::Lowered(Lowering::Comm, _))) && !args.is_empty() {
                if let Err(err) = kfunc_figures(facts, &mut out) {
                    diags.push(Diagnostic::error(
                        "`comm(pid)` needs the kfunc bpf_task_from_pid",
                        e.span,
                        err.to_string(),
                    ));
                }
                return;
            }
            let Some(arg) = args.first() else { return };
            let ExprKind::Str(symbol) = &arg.kind else {
                return;
            };
            let user = match lowering {
                Some(Support::Lowered(Lowering::Address { user }, _)) => user,
                Some(Support::Lowered(Lowering::PerCpuAddress, _)) => {
                    match percpu_figures(facts, symbol, &mut out) {
                        Ok(()) => {}
                        // The current release's words.
                        Err(err) => diags.push(Diagnostic::error(
                            format!("Could not resolve variable \"{symbol}\" from BTF"),
                            e.span,
                            err.to_string(),
                        )),
                    }
                    return;
                }
                _ => return,
            };
            let binary = if user {
                let is_uprobe = resolved.kind.context().user_memory;
                match resolved.targets.first().and_then(|t| t.binary()) {
                    Some(b) if is_uprobe => Some(b.to_string()),
                    _ => {
                        diags.push(
                            Diagnostic::error(
                                "`uaddr` names a symbol of the probe's binary",
                                e.span,
                                "this probe has no binary",
                            )
                            .with_help("use it in a uprobe, uretprobe or usdt probe"),
                        );
                        return;
                    }
                }
            } else {
                None
            };
            if let Some(path) = &binary {
                if let Err(d) = load_bias_figures(facts, resolved, path, e.span, &mut out) {
                    diags.push(d);
                    return;
                }
            }
            match facts.symbol_address(binary.as_deref(), symbol) {
                Ok(address) => {
                    out.insert((binary.unwrap_or_default(), symbol.clone()), address);
                }
                // The current release's words for kaddr, at the whole call.
                Err(err) if binary.is_none() => diags.push(Diagnostic::error(
                    format!("Failed to resolve kernel symbol: {symbol}"),
                    e.span,
                    err.to_string(),
                )),
                Err(err) => diags.push(Diagnostic::error(
                    format!("cannot resolve symbol `{symbol}`"),
                    arg.span,
                    err.to_string(),
                )),
            }
        });
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::fixture::FixtureFacts;

    #[test]
    fn resolves_kernel_and_binary_symbols() {
        let facts = FixtureFacts::new()
            .with_binary("/bin/app", &["main"])
            .with_symbol(None, "do_syscall_64", 0xffffffff81000000)
            .with_symbol(Some("/bin/app"), "counter", 0x4030);
        let program = crate::parse::parse(
            "uprobe:/bin/app:main { @[kaddr(\"do_syscall_64\"), uaddr(\"counter\")] = count(); }",
        )
        .unwrap();
        let probes = crate::resolve::probes::resolve_probes(&program, &facts).unwrap();
        let found = symbol_addresses(&program, &probes, &facts).unwrap();
        assert_eq!(
            found.get(&(String::new(), "do_syscall_64".into())),
            Some(&0xffffffff81000000)
        );
        assert_eq!(
            found.get(&("/bin/app".into(), "counter".into())),
            Some(&0x4030)
        );
        let missing = crate::parse::parse("uprobe:/bin/app:main { @ = uaddr(\"nope\"); }").unwrap();
        let diags = symbol_addresses(&missing, &probes, &facts).unwrap_err();
        assert!(diags[0].message.contains("nope"));
    }
}

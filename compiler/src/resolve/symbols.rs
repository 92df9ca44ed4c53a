//! The addresses `kaddr("name")` and `uaddr("name")` stand for, looked up once at compile
//! time as in bpftrace: a kernel symbol, or a symbol of the binary the probe's uprobe names.

use std::collections::HashMap;

use super::ResolvedProbe;
use crate::ast::{visit, Expr, ExprKind, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::machine::facts::MachineFacts;
use tracebound_stdlib::{Lowering, Support};

/// Addresses by (binary path, or "" for the kernel; symbol name).
pub type SymbolAddresses = HashMap<(String, String), u64>;

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
            let user = match tracebound_stdlib::lookup(&name.name).map(|b| b.support) {
                Some(Support::Lowered(Lowering::Address { user }, _)) => user,
                _ => return,
            };
            let Some(arg) = args.first() else { return };
            let ExprKind::Str(symbol) = &arg.kind else {
                return;
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

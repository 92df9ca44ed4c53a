//! `iter:NAME` (`it:`): a BPF iterator over kernel objects (`task`, `task_file`,
//! `task_vma`, ...). Its program runs once per object the kernel walks when the iterator is
//! read, not per event; its `ctx` is the kernel's `struct bpf_iter__NAME`, whose members
//! (`ctx.task`, `ctx.fd`, `ctx.file`, `ctx.vma`, `ctx.meta`) are read from the context as
//! `args` fields are, and typed from BTF so that `ctx.task.comm` reads kernel memory.

use std::collections::HashMap;

use super::args::{ArgAccess, ArgField};
use super::{fact_error, Context, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::CType;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::Part;
use crate::types::{KType, NameSpace, TypeId};

pub struct Iter;

/// The context struct of iterator `NAME` is `struct bpf_iter__NAME`.
pub const CONTEXT_PREFIX: &str = "bpf_iter__";

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Iter,
    name: "iter",
    aliases: &["it"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::ARGS,
    usage: "iter:name[:pin]",
};

/// One member of an iterator's context: its name, byte offset and BTF type, the members of
/// the anonymous unions `__bpf_md_ptr` wraps each pointer in reached as C reaches them.
struct ContextMember {
    name: String,
    offset: u32,
    ty: TypeId,
}

fn context_members(
    facts: &dyn MachineFacts,
    id: TypeId,
    base: u32,
    out: &mut Vec<ContextMember>,
) -> Result<(), crate::machine::facts::FactError> {
    let KType::Record(record) = facts.kernel_type(id)? else {
        return Ok(());
    };
    for m in record.members {
        let offset = base + m.bit_offset / 8;
        if m.name.is_empty() {
            context_members(facts, m.ty, offset, out)?;
        } else {
            out.push(ContextMember {
                name: m.name,
                offset,
                ty: m.ty,
            });
        }
    }
    Ok(())
}

/// The context struct of `target`, if the kernel's BTF has it.
fn context_of(iterator: &str, facts: &dyn MachineFacts) -> Option<TypeId> {
    facts
        .kernel_type_named(NameSpace::Struct, &format!("{CONTEXT_PREFIX}{iterator}"))
        .ok()
}

impl ProbeKind for Iter {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    /// `iter:task:PIN` is refused: a pinned iterator is read by anyone, after tracebound has
    /// gone, and what tracebound's program writes is its records, formatted in user space,
    /// not the text the current release's `bpf_seq_printf` leaves there.
    fn check(&self, args: &[Part], ap: &AttachPoint, diags: &mut Vec<Diagnostic>) {
        if args.iter().any(|p| p.text.is_empty() && !p.quoted) {
            diags.push(
                Diagnostic::error(
                    "empty part in `iter` probe",
                    ap.span,
                    "a part of this is missing",
                )
                .with_help(format!("write it as `{}`", PROVIDER.usage)),
            );
        } else if let [_, pin] = args {
            diags.push(
                // The words of the builtins' refusals.
                Diagnostic::error("`pin` is not supported by tracebound", pin.span, "a pin file")
                .with_note("tracebound's iterator program writes records only a running tracebound formats, not text another reader of the pinned file could read")
                .with_help(format!("leave the pin out (`iter:{}`): tracebound reads the iterator itself and prints what it writes", args[0].text)),
            );
        }
    }

    /// The current release's words for an iterator the kernel lacks.
    fn no_matches(&self, rest: &[&str]) -> String {
        format!(
            "iter {} not available for your kernel version.",
            rest.first().copied().unwrap_or("")
        )
    }

    /// The kernel's BTF must define the iterator's context; its members are the fields of
    /// `ctx`, each read from the context (an integer, or a pointer as a u64).
    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let name = &parts[1];
        if name.text.contains('*') || name.text.contains('?') {
            return Err(Diagnostic::error(
                "iter probes take no wildcards",
                name.span,
                "one iterator's name",
            )
            .with_help("`tracebound -l 'iter:*'` lists the iterators this kernel has"));
        }
        let Some(context) = context_of(&name.text, facts) else {
            return Ok(Resolution::default());
        };
        let mut members = Vec::new();
        context_members(facts, context, 0, &mut members).map_err(|e| fact_error(e, ap))?;
        let mut args = Vec::new();
        for m in members {
            let (size, signed) = match facts.kernel_type(m.ty).map_err(|e| fact_error(e, ap))? {
                KType::Int { size, signed, .. } => (size, signed),
                KType::Pointer { .. } => (8, false),
                // Nothing else is in an iterator's context; a member that were would be
                // refused where it is read.
                _ => continue,
            };
            args.push(ArgField {
                name: m.name,
                offset: m.offset,
                access: ArgAccess::Int { size, signed },
            });
        }
        Ok(Resolution {
            targets: vec![Target::Iter {
                iterator: name.text.clone(),
            }],
            args,
            ..Default::default()
        })
    }

    /// The kernel types of the context's members, for `ctx.task.comm`.
    fn kernel_arg_types(
        &self,
        targets: &[Target],
        facts: &dyn MachineFacts,
    ) -> HashMap<String, CType> {
        let mut out = HashMap::new();
        let [Target::Iter { iterator, .. }] = targets else {
            return out;
        };
        let mut members = Vec::new();
        if let Some(context) = context_of(iterator, facts) {
            if context_members(facts, context, 0, &mut members).is_ok() {
                for m in members {
                    out.insert(m.name, CType::kernel(m.ty, false));
                }
            }
        }
        out
    }

    fn context(&self) -> Context {
        Context {
            typed_ctx: true,
            seq_output: true,
            kfuncs: true,
            ..Context::EMPTY
        }
    }

    /// `iter/NAME`: the loader attaches the program to the kernel's `bpf_iter_NAME`.
    fn section_for(&self, program: &str, targets: &[Target]) -> String {
        match targets {
            [Target::Iter { iterator, .. }] => format!("iter/{iterator}"),
            _ => self.section(program),
        }
    }

    fn program_word(&self) -> &'static str {
        "iter"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::fixture::FixtureFacts;

    fn resolve(text: &str) -> Result<Resolution, Diagnostic> {
        let facts = FixtureFacts::default().with_kernel_types();
        let ap = AttachPoint {
            text: text.into(),
            span: crate::span::Span::new(0, text.len()),
        };
        let parts = crate::parse::attach::split(text, ap.span);
        Iter.resolve(&parts, &ap, &facts)
    }

    /// `ctx`'s fields are the context's members, the anonymous unions looked through, at
    /// their offsets.
    #[test]
    fn the_context_members_are_the_fields_of_ctx() {
        let r = resolve("iter:task_file").unwrap();
        assert_eq!(
            r.targets,
            vec![Target::Iter {
                iterator: "task_file".into(),
            }]
        );
        let fields: Vec<(&str, u32, &ArgAccess)> = r
            .args
            .iter()
            .map(|a| (a.name.as_str(), a.offset, &a.access))
            .collect();
        let ptr = ArgAccess::Int {
            size: 8,
            signed: false,
        };
        let fd = ArgAccess::Int {
            size: 4,
            signed: false,
        };
        assert_eq!(
            fields,
            vec![
                ("meta", 0, &ptr),
                ("task", 8, &ptr),
                ("fd", 16, &fd),
                ("file", 24, &ptr)
            ]
        );
    }

    #[test]
    fn an_unknown_iterator_names_nothing() {
        assert!(resolve("iter:nosuch").unwrap().targets.is_empty());
        assert!(resolve("iter:task*").is_err());
    }

    /// The whole pipeline: `iter/task`, the context member null-checked where it is read,
    /// the record written to the seq file and never to the ring buffer, and `comm(pid)`
    /// calling the two kfuncs by their BTF ids.
    #[test]
    fn an_iterator_compiles_to_seq_writes_and_kfunc_calls() {
        use crate::insn::Helper;
        use crate::ir::Inst;
        use crate::machine::facts::MachineFacts;
        use crate::pipeline::{compile, CompileOptions};
        let facts = FixtureFacts::bundled().with_kernel_types();
        let source = r#"iter:task { printf("%s %s\n", ctx.task.comm, comm(ctx.task.pid)); }"#;
        let compiled = compile(source, &facts, &CompileOptions::default()).expect("compiles");
        let [probe] = compiled.probes.as_slice() else {
            panic!("one program");
        };
        assert_eq!(
            probe
                .kind
                .probe()
                .section_for(&probe.program, &probe.targets),
            "iter/task"
        );
        let calls: Vec<Helper> = probe
            .ir
            .insts
            .iter()
            .filter_map(|(i, _)| match i {
                Inst::Call { helper, .. } => Some(*helper),
                _ => None,
            })
            .collect();
        assert!(calls.contains(&Helper::SeqWrite), "{calls:?}");
        assert!(!calls.contains(&Helper::RingbufReserve), "{calls:?}");
        // A load of `ctx.task` is followed at once by its zero check.
        let loads_then_checks = probe.ir.insts.windows(2).any(|w| {
            matches!(
                (&w[0].0, &w[1].0),
                (
                    Inst::Load { dst, addr: crate::ir::Addr::Ptr(_, 8), .. },
                    Inst::Branch { a, cond: crate::insn::Cond::Eq, b: crate::ir::Operand::Imm(0), .. }
                ) if dst == a
            )
        });
        assert!(loads_then_checks, "no zero check after reading ctx.task");
        let kfuncs: Vec<i32> = probe
            .code
            .code
            .insns
            .iter()
            .filter(|i| i.code == 0x85 && i.src == 2)
            .map(|i| i.imm)
            .collect();
        let id = |f: &str| facts.kernel_function_id(f).unwrap() as i32;
        assert_eq!(
            kfuncs,
            vec![id("bpf_task_from_pid"), id("bpf_task_release")]
        );
    }
}

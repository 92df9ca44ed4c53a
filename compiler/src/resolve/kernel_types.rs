//! Kernel types for each probe's expressions: every member access, deref and index on a
//! BTF-typed value (`curtask`, a cast to `struct X *`, a fentry argument, a variable holding
//! one), every `sizeof`/`offsetof` and kernel enumerator, turned into a `KernelAccess` that
//! lowering follows, written into the expression it describes (`Expr::kernel`). Unknown types
//! and members are diagnostics here, at the name.

use std::collections::HashMap;

use super::ResolvedProbe;
use crate::ast::visit::{self, VisitorMut};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::{CType, KernelTypes, TypeEnv, View};
use crate::machine::facts::MachineFacts;
use crate::span::Span;
use crate::types::{KernelAccess, KernelValue};

/// Types the kernel-typed expressions of each probe item; `probes` has one entry per probe
/// item, in order.
pub fn type_probes(
    program: &mut Program,
    probes: &[ResolvedProbe],
    arg_types: &[HashMap<String, CType>],
    facts: &dyn MachineFacts,
) -> Result<(), Vec<Diagnostic>> {
    let kt = KernelTypes::new(facts);
    let mut diags = Vec::new();
    let items = program.items.iter_mut().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    });
    for (index, (probe, resolved)) in items.zip(probes).enumerate() {
        let mut typer = Typer {
            kt: &kt,
            env: TypeEnv {
                vars: HashMap::new(),
                args: arg_types.get(index).cloned().unwrap_or_default(),
                user: resolved.kind.context().user_memory,
            },
            diags: Vec::new(),
        };
        typer.probe(probe);
        diags.extend(typer.diags);
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

struct Typer<'k, 'f> {
    kt: &'k KernelTypes<'f>,
    env: TypeEnv,
    diags: Vec<Diagnostic>,
}

impl VisitorMut for Typer<'_, '_> {
    /// Statements in order, so that a variable's kernel type is known where it is read.
    fn stmt(&mut self, s: &mut Stmt) {
        match &mut s.kind {
            StmtKind::Assign {
                target,
                op: None,
                value,
            } => {
                self.expr(value);
                self.expr(target);
                if let ExprKind::Var(v) = &target.kind {
                    self.note_var(v, value);
                }
            }
            StmtKind::Let {
                var,
                value: Some(value),
                ..
            } => {
                self.expr(value);
                self.note_var(&var.name, value);
            }
            _ => visit::walk_stmt_mut(self, s),
        }
    }

    /// The access of one expression, when it has one, written into it; then those inside.
    fn expr(&mut self, e: &mut Expr) {
        match self.access(e) {
            Ok(access) => e.kernel = access.map(Box::new),
            Err(d) => self.fail(d),
        }
        visit::walk_expr_mut(self, e);
    }
}

impl Typer<'_, '_> {
    fn note_var(&mut self, var: &str, value: &Expr) {
        match self.kt.type_of(value, &self.env) {
            Ok(Some(t)) if matches!(self.kt.view(&t, value.span), Ok(View::Pointer { .. })) => {
                self.env.vars.insert(var.to_string(), t);
            }
            _ => {
                self.env.vars.remove(var);
            }
        }
    }

    fn fail(&mut self, d: Diagnostic) {
        if !self.diags.iter().any(|x| x.span() == d.span()) {
            self.diags.push(d);
        }
    }

    fn access(&self, e: &Expr) -> Result<Option<KernelAccess>, Diagnostic> {
        let kt = self.kt;
        let typed = |x: &Expr| kt.type_of(x, &self.env);
        Ok(Some(match &e.kind {
            ExprKind::Field { expr, field, .. } if !is_args(expr) => {
                let Some(base) = typed(expr)? else {
                    return Ok(None);
                };
                let through_pointer = matches!(kt.view(&base, expr.span)?, View::Pointer { .. });
                let (record, record_type) = kt.record_of(&base, expr.span)?;
                let m = kt.field(&record, &record_type, field)?;
                let t = CType::kernel(m.ty, base.user);
                let (offset, bitfield) = match m.bitfield {
                    None => (m.bit_offset / 8, None),
                    Some(width) => {
                        let offset = m.bit_offset / 8;
                        (offset, Some((m.bit_offset % 8, width)))
                    }
                };
                KernelAccess::Member {
                    offset,
                    bitfield,
                    through_pointer,
                    value: self.value(&t, e.span)?,
                    user: base.user,
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                expr,
            } => match typed(expr)? {
                Some(base) => match kt.view(&base, expr.span)? {
                    View::Pointer { to } => KernelAccess::Deref {
                        value: self.value(&to, e.span)?,
                        user: base.user,
                    },
                    _ => return Ok(None),
                },
                None => return Ok(None),
            },
            ExprKind::Index { expr, .. } => match typed(expr)? {
                Some(base) => {
                    let (elem, through_pointer) = match kt.view(&base, expr.span)? {
                        View::Pointer { to } => (to, true),
                        View::Array { elem, .. } => (elem, false),
                        _ => return Ok(None),
                    };
                    KernelAccess::Index {
                        elem_size: kt.size(&elem, e.span)?,
                        through_pointer,
                        value: self.value(&elem, e.span)?,
                        user: base.user,
                    }
                }
                None => return Ok(None),
            },
            ExprKind::SizeofType(ty) => match kt.type_name(ty, false)? {
                Some(t) => KernelAccess::Const(kt.size(&t, ty.span)? as u64),
                None => return Ok(builtin_size(ty).map(KernelAccess::Const)),
            },
            ExprKind::SizeofExpr(inner) => match typed(inner)? {
                Some(t) => KernelAccess::Const(kt.size(&t, inner.span)? as u64),
                None => return Ok(None),
            },
            ExprKind::Offsetof { ty, field } => match kt.type_name(ty, false)? {
                Some(t) => KernelAccess::Const(kt.offset_of(&t, field, e.span)?),
                None => return Ok(None),
            },
            ExprKind::OffsetofExpr { expr, field } => match typed(expr)? {
                Some(t) => KernelAccess::Const(kt.offset_of(&t, field, e.span)?),
                None => return Ok(None),
            },
            // ALL_CAPS names the checker let through may be the kernel's enumerators.
            ExprKind::Ident(name) if is_constant_name(name) => {
                match kt.facts.kernel_enumerator(name) {
                    Ok(v) => KernelAccess::Const(v as u64),
                    Err(_) => return Ok(None),
                }
            }
            _ => return Ok(None),
        }))
    }

    fn value(&self, t: &CType, span: Span) -> Result<KernelValue, Diagnostic> {
        Ok(match self.kt.view(t, span)? {
            View::Int { size, signed } => KernelValue::Int { size, signed },
            View::Pointer { .. } => KernelValue::Pointer,
            View::CharArray { len } => KernelValue::Str { len },
            View::Array { .. } | View::Record(_) | View::Other(_) => KernelValue::Aggregate {
                what: self.kt.describe(t),
            },
        })
    }
}

/// `sizeof(uint32)` and friends.
fn builtin_size(ty: &TypeName) -> Option<u64> {
    if ty.pointers > 0 {
        return Some(8);
    }
    let TypeBase::Builtin(name) = &ty.base else {
        return None;
    };
    let bits: u64 = name
        .trim_start_matches('u')
        .trim_start_matches("int")
        .parse()
        .ok()?;
    let n = ty.array.map_or(1, |a| match a {
        ArraySize::Fixed(n) => n,
        ArraySize::Inferred => 1,
    });
    Some(bits / 8 * n)
}

fn is_constant_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "args")
}

#[cfg(test)]
mod tests {
    use crate::ast::visit;
    use crate::machine::fixture::FixtureFacts;
    use crate::pipeline::{compile, CompileOptions};
    use crate::types::{KernelAccess, KernelValue};

    fn compile_with_types(source: &str) -> Result<(), (String, String)> {
        let facts = FixtureFacts::bundled().with_kernel_types();
        compile(source, &facts, &CompileOptions::default())
            .map(|_| ())
            .map_err(|d| {
                (
                    source[d[0].span().range()].to_string(),
                    d[0].message.clone(),
                )
            })
    }

    #[test]
    fn member_chains_compile() {
        for source in [
            "t:syscalls:sys_enter_getppid { @[((struct task_struct *)curtask)->real_parent->pid] = count(); }",
            "BEGIN { $t = (struct task_struct *)curtask; printf(\"%s %d\\n\", $t->comm, $t->mm->map_count); }",
            "BEGIN { @ = curtask->in_execve + curtask->b + curtask->vals[1] + curtask.tasks.next->prev; }",
            "BEGIN { @ = sizeof(struct task_struct) + offsetof(struct task_struct, comm) + PIDTYPE_TGID; }",
            "BEGIN { @ = (*curtask).pid_kind; @s = sizeof(uint32); }",
            // `+=` lowers as `$x + value` at the value's span: keyed by span, the sum was
            // taken for the member read itself and refused.
            "BEGIN { $x = 1; $x += curtask->pid; @ = $x; }",
            // `c ?: b` holds `c` twice; each copy is typed.
            "BEGIN { @ = curtask->pid ?: 1; }",
        ] {
            compile_with_types(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        }
    }

    #[test]
    fn whole_structs_and_unknown_names_are_diagnostics() {
        assert_eq!(
            compile_with_types("BEGIN { print(*curtask); }").unwrap_err(),
            (
                "*curtask".into(),
                "a whole struct task_struct cannot be used as a value".into()
            )
        );
        assert_eq!(
            compile_with_types("BEGIN { print(curtask->mm->nope); }").unwrap_err(),
            ("nope".into(), "struct mm_struct has no field `nope`".into())
        );
    }

    #[test]
    fn bitfields_and_anonymous_members_have_their_offsets() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program =
            crate::parse::parse("BEGIN { @a = curtask->in_execve; @b = curtask->b; }").unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let mut accesses = Vec::new();
        let crate::ast::Item::Probe(probe) = &resolved.ast.items[0] else {
            panic!("not a probe")
        };
        visit::probe_exprs(probe, &mut |e| {
            accesses.extend(e.kernel.as_deref().cloned())
        });
        accesses.sort_by_key(|a| format!("{a:?}"));
        assert_eq!(
            accesses,
            [
                KernelAccess::Member {
                    offset: 48,
                    bitfield: None,
                    through_pointer: true,
                    value: KernelValue::Int {
                        size: 4,
                        signed: false
                    },
                    user: false,
                },
                KernelAccess::Member {
                    offset: 52,
                    bitfield: Some((1, 1)),
                    through_pointer: true,
                    value: KernelValue::Int {
                        size: 4,
                        signed: false
                    },
                    user: false,
                },
            ]
        );
    }
}

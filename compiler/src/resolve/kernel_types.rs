//! Kernel types for each probe's expressions: every member access, deref and index on a
//! BTF-typed value (`curtask`, a cast to `struct X *`, a fentry argument, a variable holding
//! one), every `sizeof`/`offsetof` and kernel enumerator, turned into a `KernelAccess` that
//! lowering follows, written into the expression it describes (`Expr::kernel`). Unknown types
//! and members are diagnostics here, at the name.

use std::collections::{HashMap, HashSet};

use super::ResolvedProbe;
use crate::ast::visit::{self, VisitorMut};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::{CType, KernelTypes, TypeEnv, View};
use crate::machine::facts::MachineFacts;
use crate::program::ValueType;
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
    // A map's pointer type holds across probes, as a map's value type does.
    let mut maps = HashMap::new();
    let mut untyped_maps = HashSet::new();
    let items = program.items.iter_mut().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    });
    for (index, (probe, resolved)) in items.zip(probes).enumerate() {
        let mut typer = Typer {
            kt: &kt,
            env: TypeEnv {
                vars: HashMap::new(),
                maps: std::mem::take(&mut maps),
                args: arg_types.get(index).cloned().unwrap_or_default(),
                user: resolved.kind.context().user_memory,
            },
            untyped_maps: std::mem::take(&mut untyped_maps),
            diags: Vec::new(),
        };
        typer.probe(probe);
        maps = typer.env.maps;
        untyped_maps = typer.untyped_maps;
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
    /// Maps assigned something other than one pointer type: never typed again.
    untyped_maps: HashSet<String>,
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
                match &target.kind {
                    ExprKind::Var(v) => self.note_var(v, value),
                    ExprKind::Map { name, .. } => self.note_map(&name.name, value),
                    _ => {}
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

    /// A map keeps a pointer type while every assignment seen gives it the same one.
    fn note_map(&mut self, map: &str, value: &Expr) {
        let typed = match self.kt.type_of(value, &self.env) {
            Ok(Some(t)) if matches!(self.kt.view(&t, value.span), Ok(View::Pointer { .. })) => {
                Some(t)
            }
            _ => None,
        };
        match (typed, self.env.maps.get(map)) {
            (Some(t), None) if !self.untyped_maps.contains(map) => {
                self.env.maps.insert(map.to_string(), t);
            }
            (Some(t), Some(known)) if *known == t => {}
            _ => {
                self.env.maps.remove(map);
                self.untyped_maps.insert(map.to_string());
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
            ExprKind::Index { expr, index } => match typed(expr)? {
                Some(base) => {
                    let (elem, through_pointer, len) = match kt.view(&base, expr.span)? {
                        View::Pointer { to } => (to, true, None),
                        View::Array { elem, len, .. } => (elem, false, (len > 0).then_some(len)),
                        _ => return Ok(None),
                    };
                    if let (Some(len), ExprKind::Int(i)) = (len, &index.kind) {
                        if *i >= u64::from(len) {
                            return Err(out_of_bounds(*i, len, index.span));
                        }
                    }
                    KernelAccess::Index {
                        elem_size: kt.size(&elem, e.span)?,
                        through_pointer,
                        len,
                        value: self.value(&elem, e.span)?,
                        user: base.user,
                    }
                }
                None => return Ok(None),
            },
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub),
                lhs,
                rhs,
            } => {
                let (pointer, pointer_rhs) = match (typed(lhs)?, typed(rhs)?) {
                    (Some(p), None) => (p, false),
                    (None, Some(p)) if *op == BinaryOp::Add => (p, true),
                    _ => return Ok(None),
                };
                let View::Pointer { to } = kt.view(&pointer, e.span)? else {
                    return Ok(None);
                };
                // `void *` moves by bytes, as GNU C does.
                let elem_size = match kt.view(&to, e.span)? {
                    View::Other(_) => 1,
                    _ => kt.size(&to, e.span)?,
                };
                KernelAccess::PointerStep {
                    elem_size,
                    pointer_rhs,
                    back: *op == BinaryOp::Sub,
                }
            }
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
            View::Array { .. } => match self.array_type(t, span)? {
                Some(array) => KernelValue::Array(array),
                None => KernelValue::Aggregate {
                    what: self.kt.describe(t),
                },
            },
            View::Record(_) | View::Other(_) => KernelValue::Aggregate {
                what: self.kt.describe(t),
            },
        })
    }

    /// An array of integers, pointers or such arrays as the script holds it; `None` for
    /// arrays of anything else.
    fn array_type(&self, t: &CType, span: Span) -> Result<Option<ValueType>, Diagnostic> {
        Ok(match self.kt.view(t, span)? {
            View::Int { size, signed } => Some(ValueType::Int { size, signed }),
            View::Pointer { .. } => Some(ValueType::Int {
                size: 8,
                signed: false,
            }),
            View::Array { elem, len, .. } if len > 0 => {
                self.array_type(&elem, span)?.map(|elem| ValueType::Array {
                    elem: Box::new(elem),
                    len,
                })
            }
            _ => None,
        })
    }
}

/// bpftrace's words for a constant index past an array's end.
pub(crate) fn out_of_bounds(index: u64, len: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the index {index} is out of bounds for array of size {len}"),
        span,
        "out of bounds",
    )
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
    fn script_structs_with_arrays_compile() {
        for source in [
            // Element reads with constant, variable and nested indexes; whole arrays into
            // maps, map keys, tuples and variables; arrays of pointers; a flexible member.
            "struct A { int x[4]; int y[2][2]; int *z[4]; } BEGIN { $a = (struct A *)0; \
             $i = (uint64)1; @x = $a.x[0] + $a.x[$i] + $a.y[1][0] + *$a.z[1]; @w = $a.x; \
             @k[$a.y] = 1; @t = (1, $a.x); $v = $a.x; @e = $v[$i] + $v[2]; @q = $a.x == $v; }",
            "struct D { int x; int y[0]; } BEGIN { @y = ((struct D *)0).y[3]; }",
            // Typed pointers of the script's integers, stepped in elements, kept in maps.
            "BEGIN { @p = *((uint16 *)0 + 1); $q = (int32 *)8; @m[0] = $q; @v = @m[0][2] + $q[1]; }",
        ] {
            compile_with_types(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        }
    }

    #[test]
    fn constant_indexes_past_the_end_are_errors_at_the_index() {
        let bounds = "the index 5 is out of bounds for array of size 4";
        assert_eq!(
            compile_with_types("struct A { int x[4]; } BEGIN { @ = ((struct A *)0).x[5]; }")
                .unwrap_err(),
            ("5".into(), bounds.into())
        );
        assert_eq!(
            compile_with_types(
                "struct A { int x[4]; } BEGIN { $v = ((struct A *)0).x; @ = $v[5]; }"
            )
            .unwrap_err(),
            ("5".into(), bounds.into())
        );
        assert_eq!(
            compile_with_types("struct A { nope x; } BEGIN { @ = 1; }")
                .unwrap_err()
                .1,
            "unknown type `nope`"
        );
    }

    #[test]
    fn pointer_steps_scale_by_the_element_size() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program = crate::parse::parse("BEGIN { @a = *((uint32 *)0 + 3); }").unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let crate::ast::Item::Probe(probe) = &resolved.ast.items[0] else {
            panic!("not a probe")
        };
        let mut accesses = Vec::new();
        visit::probe_exprs(probe, &mut |e| {
            accesses.extend(e.kernel.as_deref().cloned())
        });
        assert!(accesses.contains(&KernelAccess::PointerStep {
            elem_size: 4,
            pointer_rhs: false,
            back: false
        }));
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

//! Builtins over integers: `bswap`, and the widths of integers it needs: registers hold
//! every integer as 64 bits, so the width is the one the script gives (a literal is an
//! int64, a sized cast, a tracepoint field or a kernel-typed member its own width, a
//! variable the one width every assignment to it has).

use std::collections::HashMap;

use super::super::assignments::Assignments;
use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use super::is_args;
use crate::ast::visit::Visitor;
use crate::ast::{BinaryOp, Expr, ExprKind, Probe, TypeBase, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::insn::Alu;
use crate::ir::{Inst, Operand};
use crate::probe::ArgAccess;
use crate::span::Span;
use crate::types::{KernelAccess, KernelValue};

impl ProbeLowerer<'_, '_> {
    /// `bswap(n)`: the bytes of `n` in reverse order, as an unsigned integer of `n`'s width
    /// (bpftrace's docs/stdlib.md; an 8-bit one is unchanged). Registers hold every integer
    /// as 64 bits, so the width must be one the script states: a sized cast, a tracepoint
    /// field or a kernel-typed member. Anything else is refused rather than swapped as 64
    /// bits, which would be a different program.
    pub(super) fn bswap(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [n] = args else {
            return Err(Diagnostic::error("`bswap` takes one integer", span, "here"));
        };
        let Some(width) = self.integer_width(n) else {
            return Err(Diagnostic::error(
                "`bswap` needs to know how wide this integer is",
                n.span,
                "width not known here",
            )
            .with_help("cast it to the width meant, e.g. `bswap((uint16)$port)`"));
        };
        let (x, _) = self.int(n)?;
        let swapped = self.const_reg(0);
        for i in 0..width as i32 {
            let shifted = self.alu(Alu::Rsh, x, Operand::Imm(8 * i));
            let byte = self.alu(Alu::And, shifted, Operand::Imm(0xff));
            let placed = self.alu(Alu::Lsh, byte, Operand::Imm(8 * (width as i32 - 1 - i)));
            self.emit(Inst::Alu {
                op: Alu::Or,
                dst: swapped,
                a: swapped,
                b: Operand::Reg(placed),
            });
        }
        Ok(Val::Int {
            reg: swapped,
            signed: false,
        })
    }

    /// The width in bytes of an integer expression, where the script or the kernel's types
    /// give it.
    fn integer_width(&self, e: &Expr) -> Option<u32> {
        match self.width_in(e, &self.int_widths) {
            Width::Known(w) => Some(w),
            Width::Free | Width::Unknown => None,
        }
    }

    /// `e`'s width, with the variables' widths as far as they are known (`vars`).
    fn width_in(&self, e: &Expr, vars: &HashMap<String, u32>) -> Width {
        match &e.kind {
            _ if e.kernel.is_some() => Width::from(self.stated_width(e)),
            ExprKind::Int(_) => Width::Known(8),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } if matches!(expr.kind, ExprKind::Int(_)) => Width::Known(8),
            ExprKind::Var(name) => match self.declared.get(name) {
                Some(ty) => Width::from(cast_width(&ty.base, ty.pointers, ty.array.is_some())),
                None => vars.get(name).map_or(Width::Free, |w| Width::Known(*w)),
            },
            ExprKind::Call { name, args } if name.name == "bswap" && args.len() == 1 => {
                self.width_in(&args[0], vars)
            }
            // An arithmetic result is as wide as its wider operand.
            ExprKind::Binary { op, lhs, rhs } if arithmetic(*op) => {
                match (self.width_in(lhs, vars), self.width_in(rhs, vars)) {
                    (Width::Known(a), Width::Known(b)) => Width::Known(a.max(b)),
                    (Width::Unknown, _) | (_, Width::Unknown) => Width::Unknown,
                    (Width::Free, w) | (w, Width::Free) => w,
                }
            }
            _ => Width::from(self.stated_width(e)),
        }
    }

    /// The integer variables of a probe of which every assignment has one known width, by
    /// name: what `bswap($x)` swaps. A variable bound by `for`, assigned with an operator
    /// (`+=`) or given values of two widths has none.
    pub(in crate::lower) fn infer_int_widths(&mut self, probe: &Probe) {
        let mut found = Assignments::default();
        found.probe(probe);
        let mut widths: HashMap<String, u32> = HashMap::new();
        // Optimistic: a variable not known yet constrains nothing, so `$x = bswap($x)` keeps
        // the width of `$x`'s other assignments. Each round only removes or fixes widths.
        for _ in 0..=found.0.len() {
            let mut next: HashMap<String, Width> = HashMap::new();
            for (name, value) in &found.0 {
                let w = value.map_or(Width::Unknown, |v| self.width_in(v, &widths));
                let merged = match (next.get(name.as_str()).copied(), w) {
                    (None | Some(Width::Free), w) => w,
                    (Some(Width::Unknown), _) | (_, Width::Unknown) => Width::Unknown,
                    (Some(old), Width::Free) => old,
                    (Some(Width::Known(a)), Width::Known(b)) if a == b => Width::Known(a),
                    (Some(_), Width::Known(_)) => Width::Unknown,
                };
                next.insert(name.clone(), merged);
            }
            let fixed: HashMap<String, u32> = next
                .into_iter()
                .filter_map(|(n, w)| match w {
                    Width::Known(w) => Some((n, w)),
                    Width::Free | Width::Unknown => None,
                })
                .collect();
            if fixed == widths {
                break;
            }
            widths = fixed;
        }
        self.int_widths = widths;
    }

    /// The width a cast, a tracepoint field or a kernel-typed member states.
    fn stated_width(&self, e: &Expr) -> Option<u32> {
        if let Some(access) = e.kernel.as_deref() {
            return match access {
                KernelAccess::Member { value, .. }
                | KernelAccess::Deref { value, .. }
                | KernelAccess::Index { value, .. } => match value {
                    KernelValue::Int { size, .. } => Some(*size),
                    _ => None,
                },
                KernelAccess::Const(_)
                | KernelAccess::Signed(_)
                | KernelAccess::Enumerator(..)
                | KernelAccess::EnumCast(_)
                | KernelAccess::PointerStep { .. } => None,
            };
        }
        match &e.kind {
            ExprKind::Cast { ty, .. } => cast_width(&ty.base, ty.pointers, ty.array.is_some()),
            ExprKind::Field { expr, field, .. } if is_args(expr) => self
                .probe
                .args
                .iter()
                .find(|a| a.name == field.name)
                .and_then(|a| match a.access {
                    ArgAccess::Int { size, .. } => Some(size),
                    _ => None,
                }),
            _ => None,
        }
    }
}

/// What an expression says of its integer width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    Known(u32),
    /// Nothing yet: a variable whose width is still being inferred.
    Free,
    /// Not a width the script states.
    Unknown,
}

impl From<Option<u32>> for Width {
    fn from(w: Option<u32>) -> Width {
        w.map_or(Width::Unknown, Width::Known)
    }
}

/// The width of a sized integer type (`uint16`: 2).
fn cast_width(base: &TypeBase, pointers: u32, array: bool) -> Option<u32> {
    match (base, pointers, array) {
        (TypeBase::Builtin(name), 0, false) => name
            .trim_start_matches('u')
            .strip_prefix("int")
            .and_then(|bits| bits.parse::<u32>().ok())
            .map(|bits| bits / 8),
        _ => None,
    }
}

fn arithmetic(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Add | Sub | Mul | Div | Rem | BitAnd | BitOr | BitXor)
}

#[cfg(test)]
mod tests {
    use crate::machine::fixture::FixtureFacts;
    use crate::pipeline::{compile, CompileOptions};

    fn compile_error(source: &str) -> Option<(String, String)> {
        let facts = FixtureFacts::bundled().with_kernel_types();
        compile(source, &facts, &CompileOptions::default())
            .err()
            .map(|d| {
                (
                    d[0].message.clone(),
                    source[d[0].span().range()].to_string(),
                )
            })
    }

    #[test]
    fn bswap_takes_integers_of_a_known_width() {
        for source in [
            "BEGIN { @ = bswap((uint16)0x1234) + bswap((int32)1) + bswap((uint64)1); }",
            "BEGIN { @ = bswap((uint8)0xab); }",
            "t:syscalls:sys_enter_openat { @[bswap(args.flags)] = count(); }",
            "BEGIN { @ = bswap(curtask->pid); }",
            "BEGIN { @ = bswap(1) + bswap(0x12340000 + (uint64)0x5678) + bswap(bswap(0x1234)); }",
            "BEGIN { $x = 1; @ = bswap($x); }",
            "BEGIN { $p = (uint16)nsecs; $p = bswap($p); @ = $p; }",
        ] {
            assert_eq!(compile_error(source), None, "{source}");
        }
    }

    #[test]
    fn bswap_of_an_integer_of_unknown_width_is_refused_at_it() {
        for (source, at) in [
            (
                "BEGIN { $x = (uint16)1; if (pid) { $x = (uint32)2; } @ = bswap($x); }",
                "$x",
            ),
            ("BEGIN { $x = 1; $x += 1; @ = bswap($x); }", "$x"),
            ("t:syscalls:sys_enter_openat { @ = bswap(pid); }", "pid"),
        ] {
            let (message, text) = compile_error(source).expect("refused");
            assert_eq!(message, "`bswap` needs to know how wide this integer is");
            assert_eq!(text, at, "{source}");
        }
    }
}

//! Builtins over integers: `bswap`.

use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use super::is_args;
use crate::ast::{Expr, ExprKind, TypeBase};
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
        if let Some(access) = e.kernel.as_deref() {
            return match access {
                KernelAccess::Member { value, .. }
                | KernelAccess::Deref { value, .. }
                | KernelAccess::Index { value, .. } => match value {
                    KernelValue::Int { size, .. } => Some(*size),
                    _ => None,
                },
                KernelAccess::Const(_) => None,
            };
        }
        match &e.kind {
            ExprKind::Cast { ty, .. } => match (&ty.base, ty.pointers, ty.array) {
                (TypeBase::Builtin(name), 0, None) => name
                    .trim_start_matches('u')
                    .strip_prefix("int")
                    .and_then(|bits| bits.parse::<u32>().ok())
                    .map(|bits| bits / 8),
                _ => None,
            },
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
        ] {
            assert_eq!(compile_error(source), None, "{source}");
        }
    }

    #[test]
    fn bswap_of_an_integer_of_unknown_width_is_refused_at_it() {
        for (source, at) in [
            ("BEGIN { $x = 1; @ = bswap($x); }", "$x"),
            ("BEGIN { @ = bswap(1); }", "1"),
            ("t:syscalls:sys_enter_openat { @ = bswap(pid); }", "pid"),
        ] {
            let (message, text) = compile_error(source).expect("refused");
            assert_eq!(message, "`bswap` needs to know how wide this integer is");
            assert_eq!(text, at, "{source}");
        }
    }
}

//! Builtins over strings: `str` (reading one), `strncmp`, `strcontains`, `strlen`.

use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper, Size};
use crate::ir::{Addr, Inst, Operand};
use crate::program::ValueType;
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `str(p [, n])`: a NUL-terminated string read through a pointer (a string value is
    /// already one).
    pub(super) fn str_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let Some(first) = args.first() else {
            return Err(Diagnostic::error(
                "`str` needs an argument",
                span,
                "missing argument",
            ));
        };
        let v = self.expr(first)?;
        let limit = self.shared.options.max_strlen;
        // The bytes to read, terminating NUL included: `n` characters, at most max_strlen.
        let (len, read) = match args.get(1) {
            None => (limit, Operand::Imm(limit as i32)),
            Some(Expr {
                kind: ExprKind::Int(n),
                ..
            }) => {
                let len = (n.saturating_add(1)).min(u64::from(limit)) as u32;
                (len, Operand::Imm(len as i32))
            }
            Some(n) => {
                // Known only when the probe fires: clamp it so the verifier sees the read
                // fits the buffer (a negative length reads nothing).
                let (n, _) = self.int(n)?;
                let size = self.alu(Alu::Add, n, Operand::Imm(1));
                let fits = self.new_label();
                self.emit(Inst::Branch {
                    cond: Cond::Le,
                    a: size,
                    b: Operand::Imm(limit as i32),
                    then: fits,
                });
                self.emit(Inst::Const(size, u64::from(limit)));
                self.emit(Inst::Label(fits));
                (limit, Operand::Reg(size))
            }
        };
        match v {
            Val::Mem { .. } => Ok(v),
            Val::Int { reg, .. } => {
                let slot = self.f.new_slot(len);
                self.zero(Addr::Slot(slot, 0), len);
                let dst = self.slot_addr(slot, 0);
                // A pointer marked with `uptr`/`kptr` is read from that space; any other
                // with the helper that reads either (by the address, on this architecture).
                let helper = match &first.kind {
                    ExprKind::Call { name, .. } if name.name == "uptr" => Helper::ProbeReadUserStr,
                    ExprKind::Call { name, .. } if name.name == "kptr" => {
                        Helper::ProbeReadKernelStr
                    }
                    _ => Helper::ProbeReadStr,
                };
                self.emit(Inst::Call {
                    helper,
                    args: vec![Operand::Reg(dst), read, Operand::Reg(reg)],
                    ret: None,
                });
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty: ValueType::Str { len },
                })
            }
            Val::Void => Err(Diagnostic::error(
                "`str` needs a value",
                first.span,
                "this returns nothing",
            )),
        }
    }

    /// `strncmp(a, b, n)`: bpftrace's is 0 when the first `n` bytes match, 1 otherwise.
    pub(super) fn strncmp(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [a, b, n] = args else {
            return Err(Diagnostic::error(
                "`strncmp` takes two strings and a length",
                span,
                "here",
            ));
        };
        let ExprKind::Int(n) = n.kind else {
            return Err(Diagnostic::error(
                "the length of `strncmp` must be a literal",
                n.span,
                "not a literal",
            ));
        };
        let (Val::Mem { addr: x, ty: tx }, Val::Mem { addr: y, ty: ty_y }) =
            (self.expr(a)?, self.expr(b)?)
        else {
            return Err(Diagnostic::error(
                "`strncmp` compares strings",
                span,
                "not strings",
            ));
        };
        let len = (n as u32).min(tx.size()).min(ty_y.size());
        let r = self.f.new_vreg();
        let differ = self.f.new_label();
        let done = self.f.new_label();
        self.compare_strings(x, y, len, differ);
        self.emit(Inst::Const(r, 0));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(differ));
        self.emit(Inst::Const(r, 1));
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: r,
            signed: false,
        })
    }

    /// `strcontains(haystack, needle)`.
    pub(super) fn strcontains(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [haystack, needle] = args else {
            return Err(Diagnostic::error(
                "`strcontains` takes two strings",
                span,
                "here",
            ));
        };
        let (h, h_len) = self.string_operand(haystack)?;
        let (n, n_len) = self.string_operand(needle)?;
        let r = self.contains_string(h, h_len, n, n_len);
        Ok(Val::Int {
            reg: r,
            signed: false,
        })
    }

    /// `strlen(s)`: the bytes of a string value before its first NUL, at most its capacity
    /// (a string that fills its buffer has no NUL). Unrolled over the capacity, as string
    /// comparison is: at most `max_strlen` steps of three instructions. A pointer is not read
    /// implicitly: `strlen(str(p))` says how much to read.
    pub(super) fn strlen(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [s] = args else {
            return Err(Diagnostic::error("`strlen` takes one string", span, "here"));
        };
        let (addr, capacity) = match self.expr(s)? {
            Val::Mem {
                addr,
                ty: ValueType::Str { len },
            } => (addr, len),
            Val::Int { .. } => {
                return Err(Diagnostic::error(
                    "`strlen` needs a string, not a pointer",
                    s.span,
                    "an integer or pointer",
                )
                .with_help("read the string first: `strlen(str(p))`"))
            }
            _ => {
                return Err(Diagnostic::error(
                    "`strlen` needs a string",
                    s.span,
                    "not a string",
                ))
            }
        };
        let n = self.const_reg(0);
        let done = self.new_label();
        for i in 0..capacity as i32 {
            let byte = self.f.new_vreg();
            let at = match addr {
                Addr::Slot(slot, o) => Addr::Slot(slot, o + i),
                Addr::Ptr(p, o) => Addr::Ptr(p, o + i),
            };
            self.emit(Inst::Load {
                dst: byte,
                addr: at,
                size: Size::B,
                signed: false,
            });
            self.jump_if_zero(byte, done);
            self.emit(Inst::Alu {
                op: Alu::Add,
                dst: n,
                a: n,
                b: Operand::Imm(1),
            });
        }
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: n,
            signed: false,
        })
    }

    /// A string argument's address and buffer length.
    pub(super) fn string_operand(&mut self, e: &Expr) -> Lowering<(Addr, u32)> {
        match self.expr(e)? {
            Val::Mem {
                addr,
                ty: ValueType::Str { len },
            } => Ok((addr, len)),
            _ => Err(Diagnostic::error(
                "expected a string",
                e.span,
                "not a string",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::machine::fixture::FixtureFacts;
    use crate::pipeline::{compile, CompileOptions};

    fn compile_error(source: &str) -> Option<(String, String)> {
        compile(source, &FixtureFacts::bundled(), &CompileOptions::default())
            .err()
            .map(|d| {
                (
                    d[0].message.clone(),
                    source[d[0].span().range()].to_string(),
                )
            })
    }

    #[test]
    fn strlen_takes_string_values_of_any_capacity() {
        for source in [
            "BEGIN { printf(\"%d\\n\", strlen(\"hello\")); }",
            "BEGIN { $s = \"\"; @ = strlen($s); }",
            "t:syscalls:sys_enter_openat { @[strlen(str(args.filename))] = count(); }",
            "t:syscalls:sys_enter_openat { @ = strlen(str(args.filename, 3)) + strlen(comm); }",
            "t:sched:sched_switch { @ = strlen(args.prev_comm); }",
            "config = { max_strlen = 1024 } t:syscalls:sys_enter_openat { @ = strlen(str(args.filename)); }",
        ] {
            assert_eq!(compile_error(source), None, "{source}");
        }
    }

    #[test]
    fn strlen_of_a_pointer_says_to_read_it_first() {
        let (message, at) =
            compile_error("t:syscalls:sys_enter_openat { @ = strlen(args.filename); }")
                .expect("refused");
        assert_eq!(message, "`strlen` needs a string, not a pointer");
        assert_eq!(at, "args.filename");
    }
}

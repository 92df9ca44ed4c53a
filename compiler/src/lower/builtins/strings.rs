//! Builtins over strings: `str` (reading one), `strncmp`, `strcontains`, `strlen`.

use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper, Size};
use crate::ir::{Addr, Inst, Operand};
use crate::program::ValueType;
use crate::span::Span;

use super::super::LowerOptions;

/// The string `str(p [, n])` makes, as the current release types it: a literal `n` of at
/// most `max_strlen` is `n` bytes, `n - 1` characters and the NUL, never marked; otherwise
/// (no `n`, a bigger one, or one known only at run time) `max_strlen` characters and the
/// NUL, with the flag byte that says whether the read cut it, unless the trailer that would
/// show the cut is empty.
pub(crate) fn str_read_type(n: Option<&Expr>, options: &LowerOptions) -> ValueType {
    let max = options.max_strlen;
    match n.map(|n| &n.kind) {
        Some(ExprKind::Int(n)) if *n <= u64::from(max) => ValueType::str((*n as u32).max(1)),
        _ => ValueType::Str {
            len: max + 1,
            cut_trailer: (!options.str_trunc_trailer.is_empty())
                .then(|| options.str_trunc_trailer.clone()),
        },
    }
}

impl ProbeLowerer<'_, '_> {
    /// `str(p [, n])`: a NUL-terminated string read through a pointer (a string value is
    /// already one), typed as `str_read_type` says. A read at `max_strlen` asks for one byte
    /// more than it keeps, so that the read's return value says exactly whether the string
    /// went on: it did when the read filled its whole size.
    pub(super) fn str_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let Some(first) = args.first() else {
            return Err(Diagnostic::error(
                "`str` needs an argument",
                span,
                "missing argument",
            ));
        };
        let v = self.expr(first)?;
        let ty = str_read_type(args.get(1), self.shared.options);
        // The whole buffer, the cut flag included: the read at max_strlen fills it all.
        let size = ty.size();
        let read = match args.get(1) {
            Some(Expr {
                kind: ExprKind::Int(n),
                ..
            }) if *n <= u64::from(self.shared.options.max_strlen) => Operand::Imm(*n as i32),
            None
            | Some(Expr {
                kind: ExprKind::Int(_),
                ..
            }) => Operand::Imm(size as i32),
            Some(n) => {
                // Known only when the probe fires: up to max_strlen it is the read's size;
                // above (unsigned, as the current release compares it) the read is the one at
                // max_strlen, which sees the cut. Either way the verifier sees it fits.
                let (n, _) = self.int(n)?;
                let fits = self.new_label();
                let read = self.f.new_vreg();
                self.emit(Inst::Mov(read, n));
                self.emit(Inst::Branch {
                    cond: Cond::Le,
                    a: read,
                    b: Operand::Imm(self.shared.options.max_strlen as i32),
                    then: fits,
                });
                self.emit(Inst::Const(read, u64::from(size)));
                self.emit(Inst::Label(fits));
                Operand::Reg(read)
            }
        };
        match v {
            Val::Mem { .. } => Ok(v),
            Val::Int { reg, .. } => {
                let slot = self.f.new_slot(size);
                self.zero(Addr::Slot(slot, 0), size);
                let dst = self.slot_addr(slot, 0);
                let copied = self.f.new_vreg();
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
                    ret: Some(copied),
                });
                if let ValueType::Str {
                    len,
                    cut_trailer: Some(_),
                } = ty
                {
                    self.mark_cut(slot, len, copied);
                }
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty,
                })
            }
            Val::Void => Err(Diagnostic::error(
                "`str` needs a value",
                first.span,
                "this returns nothing",
            )),
        }
    }

    /// After a read of `len + 1` bytes into a string of `len` (`max_strlen` characters and
    /// the NUL) and its flag byte: when the read filled them all (`copied`, the NUL counted,
    /// is `len + 1`) the string went on past `max_strlen`; it keeps `max_strlen` characters
    /// and the flag says it was cut. Otherwise the flag stays the 0 the buffer was zeroed to.
    fn mark_cut(&mut self, slot: crate::ir::Slot, len: u32, copied: crate::ir::VReg) {
        let whole = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: copied,
            b: Operand::Imm(len as i32 + 1),
            then: whole,
        });
        self.emit(Inst::Store {
            addr: Addr::Slot(slot, len as i32 - 1),
            value: Operand::Imm(0),
            size: Size::B,
        });
        self.emit(Inst::Store {
            addr: Addr::Slot(slot, len as i32),
            value: Operand::Imm(1),
            size: Size::B,
        });
        self.emit(Inst::Label(whole));
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
        let h = self.string_operand(haystack)?;
        let n = self.string_operand(needle)?;
        let r = self.contains_string(h, n, span)?;
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
                ty: ValueType::Str { len, .. },
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
                ty: ValueType::Str { len, .. },
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
    fn str_keeps_max_strlen_characters_and_marks_the_cut_unless_given_a_length() {
        use super::str_read_type;
        use crate::ast::{Expr, ExprKind};
        use crate::lower::LowerOptions;
        use crate::program::ValueType;
        use crate::span::Span;
        let options = LowerOptions {
            max_strlen: 8,
            ..LowerOptions::default()
        };
        let int = |n| Expr::new(ExprKind::Int(n), Span::default());
        let marked = ValueType::Str {
            len: 9,
            cut_trailer: Some("..".to_string()),
        };
        // No length, one above max_strlen, one known at run time: 8 characters, the NUL and
        // the flag byte.
        assert_eq!(str_read_type(None, &options), marked);
        assert_eq!(marked.size(), 10);
        assert_eq!(str_read_type(Some(&int(9)), &options), marked);
        let computed = Expr::new(ExprKind::Var("$n".to_string()), Span::default());
        assert_eq!(str_read_type(Some(&computed), &options), marked);
        // A literal length up to max_strlen: that many bytes, its NUL included, no flag.
        assert_eq!(str_read_type(Some(&int(5)), &options), ValueType::str(5));
        assert_eq!(str_read_type(Some(&int(8)), &options), ValueType::str(8));
        // An empty trailer would show nothing: nothing is marked.
        let bare = LowerOptions {
            str_trunc_trailer: String::new(),
            ..options
        };
        assert_eq!(str_read_type(None, &bare), ValueType::str(9));
    }

    #[test]
    fn str_reads_one_byte_more_than_it_keeps_and_tests_the_count() {
        let source =
            "config = { max_strlen = 8 } t:syscalls:sys_enter_openat { @ = str(args.filename); }";
        let compiled = compile(source, &FixtureFacts::bundled(), &CompileOptions::default())
            .expect("compiles");
        let ir = crate::ir::print_function(&compiled.probes[0].ir);
        // The read asks for 10 bytes (8 characters, the NUL and the one byte that says the
        // string went on); when it filled them all the 9th byte becomes the NUL and the
        // flag byte 1.
        let read = ir
            .lines()
            .position(|l| l.contains("call ProbeReadStr(") && l.contains(", 10, "))
            .unwrap_or_else(|| panic!("no read of 10 bytes in\n{ir}"));
        let after: Vec<&str> = ir.lines().skip(read + 1).take(3).map(str::trim).collect();
        assert!(after[0].ends_with("Ne 10 goto L1"), "{ir}");
        assert_eq!(
            &after[1..],
            ["store.B [slot0+8] = 0", "store.B [slot0+9] = 1"],
            "{ir}"
        );
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

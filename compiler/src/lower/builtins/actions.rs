//! Builtins that act rather than compute: user-space actions sent through the ring buffer
//! (`printf`, `cat`, `system`, `join`, `exit`, `time`, `print`, `clear`, `zero`), a signal,
//! and map deletion.

use tracebound_stdlib::Lowering as By;

use super::super::Lowering;
use super::super::SIGNED;
use super::super::{map_parts, ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Helper};
use crate::ir::{Addr, Inst, Operand};
use crate::program::{Action, ValueType};
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `printf`, `cat`, `system`, `errorf`, `warnf`: a format user space applies to the
    /// values sent with it; `at`, the call and the macro calls that expanded it.
    pub(super) fn formatted_action(
        &mut self,
        name: &str,
        lowering: By,
        args: &[Expr],
        at: (Span, &[Span]),
    ) -> Lowering<()> {
        let (span, expanded_from) = at;
        let format = self
            .format_string(
                args.first()
                    .ok_or_else(|| Diagnostic::error("missing format", span, "here"))?,
                name,
            )?
            .to_string();
        let values = args[1..]
            .iter()
            .map(|a| self.expr(a))
            .collect::<Lowering<Vec<Val>>>()?;
        let types: Vec<ValueType> = values.iter().map(Val::ty).collect();
        let args = types.clone();
        let action = match lowering {
            By::Message { error } => Action::Message {
                error,
                at: span,
                expanded_from: expanded_from.to_vec(),
                format,
                args,
            },
            By::Cat => Action::Cat { format, args },
            By::System => Action::System { format, args },
            _ => Action::Printf { format, args },
        };
        self.send(action, &types, &values);
        Ok(())
    }

    /// `assert(cond, msg)`: when `cond` is false, `errorf("assert failed: %s", msg)` at the
    /// call (the current release's message, placed at the user's text rather than in its
    /// stdlib's macro) and `exit(1)`.
    pub(super) fn assert(&mut self, args: &[Expr], at: (Span, &[Span])) -> Lowering<()> {
        let (span, expanded_from) = at;
        let [cond, message] = args else {
            return Err(Diagnostic::error(
                "`assert` takes a condition and a message",
                span,
                "here",
            ));
        };
        let (holds, _) = self.int(cond)?;
        let passed = self.new_label();
        self.emit(Inst::Branch {
            cond: crate::insn::Cond::Ne,
            a: holds,
            b: Operand::Imm(0),
            then: passed,
        });
        let message = self.expr(message)?;
        let types = [message.ty()];
        let action = Action::Message {
            error: true,
            at: span,
            expanded_from: expanded_from.to_vec(),
            format: "assert failed: %s".into(),
            args: types.to_vec(),
        };
        self.send(action, &types, &[message]);
        self.exit(&[Expr::new(ExprKind::Int(1), span)])?;
        self.emit(Inst::Label(passed));
        Ok(())
    }

    /// `debugf(format, values...)`: bpf_trace_printk with the format on the stack, an
    /// integer passed as itself and a string as the address of its bytes, as the kernel's
    /// `%s` reads them. The checker holds the format to the kernel's rules.
    pub(super) fn trace_printk(&mut self, args: &[Expr], span: Span) -> Lowering<()> {
        let (Some(format), values) = (args.first(), args.get(1..).unwrap_or_default()) else {
            return Err(Diagnostic::error("missing format", span, "here"));
        };
        let format = self.format_string(format, "debugf")?.to_string();
        if values.len() > 3 {
            return Err(Diagnostic::error(
                "cannot use more than 3 conversion specifiers",
                span,
                "bpf_trace_printk takes three values",
            ));
        }
        let Val::Mem { addr, ty } = self.string_literal(&format) else {
            return Err(self.unsupported("this `debugf` format", span));
        };
        let mut operands = vec![
            Operand::Reg(self.address_of(addr)),
            Operand::Imm(ty.size() as i32),
        ];
        for value in values {
            let operand = match self.expr(value)? {
                Val::Int { reg, .. } => reg,
                Val::Mem {
                    addr,
                    ty: ValueType::Str { .. },
                } => self.address_of(addr),
                _ => return Err(self.unsupported("this value in `debugf`", value.span)),
            };
            operands.push(Operand::Reg(operand));
        }
        self.emit(Inst::Call {
            helper: Helper::TracePrintk,
            args: operands,
            ret: None,
        });
        Ok(())
    }

    /// `signal(sig)`: bpf_send_signal with a number, or a name known when compiling.
    pub(super) fn signal(&mut self, args: &[Expr], span: Span) -> Lowering<()> {
        let arg = args
            .first()
            .ok_or_else(|| Diagnostic::error("`signal` needs a signal", span, "here"))?;
        let number = match &arg.kind {
            ExprKind::Int(n) => *n as i32,
            ExprKind::Str(s) => signal_number(s).ok_or_else(|| {
                Diagnostic::error(
                    format!("unknown signal `{s}`"),
                    arg.span,
                    "not a signal name",
                )
                .with_help("write a name such as \"SIGKILL\" or a number")
            })?,
            _ => return Err(self.unsupported("`signal` with a computed signal", arg.span)),
        };
        self.emit(Inst::Call {
            helper: Helper::SendSignal,
            args: vec![Operand::Imm(number)],
            ret: None,
        });
        Ok(())
    }

    /// `exit([code])`: the exit record, the exit flag raised, and the probe ended.
    pub(super) fn exit(&mut self, args: &[Expr]) -> Lowering<()> {
        let code = match args.first() {
            Some(a) => self.expr(a)?,
            None => Val::Int {
                reg: self.const_reg(0),
                signed: true,
            },
        };
        // Also raise the exit flag: a full ring buffer may drop the record.
        if let Val::Int { reg, .. } = &code {
            let low = self.alu(Alu::Lsh, *reg, Operand::Imm(32));
            let low = self.alu(Alu::Rsh, low, Operand::Imm(32));
            let set = self.const_reg(1 << 32);
            let flag = self.alu(Alu::Or, low, Operand::Reg(set));
            let key = self.f.new_slot(8);
            self.store_u64(Addr::Slot(key, 0), Operand::Imm(0));
            let exit_flag = self.shared.exit_flag;
            let slot = self.lookup(exit_flag, key);
            let done = self.new_label();
            self.jump_if_zero(slot, done);
            self.store_u64(Addr::Ptr(slot, 0), Operand::Reg(flag));
            self.emit(Inst::Label(done));
        }
        self.send(Action::Exit, &[SIGNED], &[code]);
        // The rest of the probe does not run: exit() exits immediately, as in the current
        // release (`@++; if (@) { exit(); } @++` leaves 1).
        let end = self.exit_label;
        self.emit(Inst::Jump(end));
        Ok(())
    }

    /// `time([format])`: user space prints the wall-clock time.
    pub(super) fn time(&mut self, args: &[Expr]) -> Lowering<()> {
        let format = match args.first() {
            Some(a) => self.format_string(a, "time")?.to_string(),
            None => "%H:%M:%S\n".to_string(),
        };
        self.send(Action::Time { format }, &[], &[]);
        Ok(())
    }

    /// `print(@m [, top, div])` (user space reads the map), or `print(value)`.
    pub(super) fn print(&mut self, args: &[Expr], span: Span) -> Lowering<()> {
        let first = args
            .first()
            .ok_or_else(|| Diagnostic::error("`print` needs an argument", span, "here"))?;
        match map_parts(first) {
            Some((m, [])) => {
                let map = self.shared.maps.lookup(&m.name).ok_or_else(|| {
                    Diagnostic::error("unknown map", first.span, "never assigned")
                })?;
                let int_arg = |i: usize| match args.get(i).map(|a| &a.kind) {
                    Some(ExprKind::Int(n)) => *n,
                    _ => 0,
                };
                let action = Action::PrintMap {
                    map,
                    top: int_arg(1),
                    div: int_arg(2),
                };
                self.send(action, &[], &[]);
            }
            _ => {
                let v = self.expr(first)?;
                // A pointer or a bool rides in a register as an integer; it prints as itself.
                let ty = match (&v, self.type_of(first)) {
                    (Val::Int { .. }, t @ (ValueType::Pointer | ValueType::Bool)) => t,
                    _ => v.ty(),
                };
                self.send(Action::PrintValue { value: ty.clone() }, &[ty], &[v]);
            }
        }
        Ok(())
    }

    /// `clear(@m)`, `zero(@m)`: user space empties or zeroes the map.
    pub(super) fn clear(&mut self, zero: bool, args: &[Expr], span: Span) -> Lowering<()> {
        let map = self.whole_map(args.first(), span)?;
        self.send(Action::Clear { map, zero }, &[], &[]);
        Ok(())
    }

    /// `delete(@m[k])`, `delete(@m, k)`: bpf_map_delete_elem; true when the key was there.
    pub(super) fn delete(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let first = args
            .first()
            .ok_or_else(|| Diagnostic::error("`delete` needs a map", span, "here"))?;
        let (m, keys) = map_parts(first)
            .ok_or_else(|| Diagnostic::error("`delete` needs a map", first.span, "not a map"))?;
        let map = self
            .shared
            .maps
            .lookup(&m.name)
            .ok_or_else(|| Diagnostic::error("unknown map", first.span, "never assigned"))?;
        let keys: Vec<Expr> = if keys.is_empty() {
            args[1..].to_vec()
        } else {
            keys.to_vec()
        };
        let key = self.build_key(map, &keys, None)?;
        let r = self.f.new_vreg();
        self.emit(Inst::MapRef(r, map));
        let k = self.slot_addr(key, 0);
        let ret = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::MapDeleteElem,
            args: vec![Operand::Reg(r), Operand::Reg(k)],
            ret: Some(ret),
        });
        // The helper returns 0 or a negative errno: the sign bit, flipped, without a branch,
        // so that a `delete` whose value nothing reads costs nothing more.
        let negative = self.alu(Alu::Rsh, ret, Operand::Imm(63));
        Ok(Val::Int {
            reg: self.alu(Alu::Xor, negative, Operand::Imm(1)),
            signed: false,
        })
    }

    /// `join(argv [, delimiter])`: up to `JOIN_ARGS` strings read from a user-space array of
    /// pointers, written straight into the ring-buffer record (they would not fit the stack).
    pub(super) fn join(&mut self, args: &[Expr], span: Span) -> Lowering<()> {
        const JOIN_ARGS: u32 = 16;
        const JOIN_ARG_SIZE: u32 = 1024;
        let first = args
            .first()
            .ok_or_else(|| Diagnostic::error("`join` needs an array", span, "here"))?;
        let delimiter = match args.get(1) {
            Some(d) => self.format_string(d, "join")?.to_string(),
            None => " ".to_string(),
        };
        let (argv, _) = self.int(first)?;
        let id = self.shared.action(Action::Join {
            delimiter,
            max_args: JOIN_ARGS,
            arg_size: JOIN_ARG_SIZE,
        });
        let size = 16 + JOIN_ARGS * JOIN_ARG_SIZE;
        let rec = self.reserve_record(id, size);
        let done = self.new_label();
        self.store_u64(Addr::Ptr(rec.at, 8), Operand::Imm(0));
        let pointer = self.f.new_slot(8);
        for i in 0..JOIN_ARGS as i32 {
            let at = self.slot_addr(pointer, 0);
            let src = self.f.new_vreg();
            self.emit(Inst::Alu {
                op: Alu::Add,
                dst: src,
                a: argv,
                b: Operand::Imm(8 * i),
            });
            self.store_u64(Addr::Slot(pointer, 0), Operand::Imm(0));
            self.emit(Inst::Call {
                helper: Helper::ProbeReadUser,
                args: vec![Operand::Reg(at), Operand::Imm(8), Operand::Reg(src)],
                ret: None,
            });
            let p = self.load_u64(Addr::Slot(pointer, 0));
            self.jump_if_zero(p, done);
            let dst = self.address_of(Addr::Ptr(rec.at, 16 + i * JOIN_ARG_SIZE as i32));
            self.emit(Inst::Call {
                helper: Helper::ProbeReadUserStr,
                args: vec![
                    Operand::Reg(dst),
                    Operand::Imm(JOIN_ARG_SIZE as i32),
                    Operand::Reg(p),
                ],
                ret: None,
            });
            self.store_u64(Addr::Ptr(rec.at, 8), Operand::Imm(i + 1));
        }
        self.emit(Inst::Label(done));
        self.submit_record(rec);
        Ok(())
    }
}

/// Signal numbers by name (x86-64 Linux), with or without the `SIG` prefix.
fn signal_number(name: &str) -> Option<i32> {
    let name = name.strip_prefix("SIG").unwrap_or(name);
    const NAMES: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as i32 + 1)
}

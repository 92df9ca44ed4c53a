//! Expressions to IR. Integers end in registers; strings and tuples in stack slots.
//! Anything the code generator cannot do yet is a diagnostic at the expression, never a
//! silently wrong program.

use super::ir::{Addr, Inst, Label, Operand, VReg};
use super::maps::{is_args, static_type, INT, SIGNED};
use super::{literal_string, map_parts, ArgAccess, ProbeLowerer, Val};
use crate::ast::*;
use crate::codegen::insn::{Alu, Cond, Helper, Size};
use crate::diagnostic::Diagnostic;
use crate::program::{MapValue, ValueType};
use crate::provider::ProviderKind;
use crate::span::Span;

pub(crate) type Lowering<T> = Result<T, Diagnostic>;

/// Offsets in x86-64's `struct pt_regs` of the registers holding the first six integer
/// arguments (di, si, dx, cx, r8, r9) and of the return value (ax).
const PT_REGS_ARGS: [i32; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_AX: i32 = 80;

impl ProbeLowerer<'_, '_> {
    pub fn unsupported(&self, what: &str, span: Span) -> Diagnostic {
        Diagnostic::error(
            format!("{what} is not supported by the code generator yet"),
            span,
            "not compiled yet",
        )
        .with_note("`--check` accepts it; running it needs a later tracebound")
    }

    /// Lowers an expression whose value must be an integer.
    pub fn int(&mut self, e: &Expr) -> Lowering<(VReg, bool)> {
        match self.expr(e)? {
            Val::Int { reg, signed } => Ok((reg, signed)),
            Val::Mem { .. } => Err(Diagnostic::error(
                "expected an integer",
                e.span,
                "this is a string or a tuple",
            )),
            Val::Void => Err(Diagnostic::error(
                "expected a value",
                e.span,
                "this returns nothing",
            )),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> Lowering<Val> {
        if let Some(access) = self.probe.kernel.get(&e.span).cloned() {
            return self.kernel_value(e, &access);
        }
        match &e.kind {
            ExprKind::Int(n) => Ok(Val::Int {
                reg: self.const_reg(*n),
                signed: true,
            }),
            ExprKind::Bool(b) => Ok(Val::Int {
                reg: self.const_reg(*b as u64),
                signed: false,
            }),
            ExprKind::Str(s) => Ok(self.string_literal(s)),
            ExprKind::Ident(name) => self.builtin(name, e.span),
            ExprKind::Var(name) => match self.vars.get(name).cloned() {
                Some(v) => Ok(self.load_value(Addr::Slot(v.slot, 0), &v.ty)),
                None => Err(Diagnostic::error(
                    format!("variable `${name}` is used before it is assigned"),
                    e.span,
                    "no value yet",
                )),
            },
            ExprKind::Positional(n) => {
                let text = self
                    .shared
                    .options
                    .positional
                    .get(*n as usize - 1)
                    .cloned()
                    .unwrap_or_default();
                Ok(match text.parse::<i64>() {
                    Ok(v) => Val::Int {
                        reg: self.const_reg(v as u64),
                        signed: true,
                    },
                    Err(_) if text.is_empty() => Val::Int {
                        reg: self.const_reg(0),
                        signed: true,
                    },
                    Err(_) => self.string_literal(&text),
                })
            }
            ExprKind::PositionalCount => {
                let n = self.shared.options.positional.len() as u64;
                Ok(Val::Int {
                    reg: self.const_reg(n),
                    signed: true,
                })
            }
            ExprKind::Map { name, keys } => self.map_read(name, keys, e.span),
            ExprKind::Call { name, args } => self.call(name, args, e.span),
            ExprKind::Unary { op, expr } => self.unary(*op, expr, e.span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => self.ternary(cond, then, otherwise, e),
            ExprKind::Update {
                target,
                increment,
                prefix,
            } => self.increment(target, *increment, *prefix, e.span),
            ExprKind::Cast { ty, expr } => self.cast(ty, expr),
            ExprKind::Field { expr, field, .. } if is_args(expr) => self.tracepoint_arg(field),
            ExprKind::Tuple(items) => {
                let ty = self.type_of(e);
                let slot = self.f.new_slot(ty.size());
                let ValueType::Tuple(fields) = &ty else {
                    unreachable!("a tuple expression has a tuple type")
                };
                let offsets = ValueType::field_offsets(fields);
                self.zero(Addr::Slot(slot, 0), ty.size());
                for ((item, field), at) in items.iter().zip(fields).zip(offsets) {
                    let v = self.expr(item)?;
                    self.store_value(Addr::Slot(slot, at as i32), field, &v);
                }
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty,
                })
            }
            ExprKind::TupleIndex { expr, index } => match self.expr(expr)? {
                Val::Mem {
                    addr,
                    ty: ValueType::Tuple(fields),
                } if (*index as usize) < fields.len() => {
                    let at = ValueType::field_offsets(&fields)[*index as usize] as i32;
                    let field_addr = match addr {
                        Addr::Slot(s, o) => Addr::Slot(s, o + at),
                        Addr::Ptr(p, o) => Addr::Ptr(p, o + at),
                    };
                    Ok(self.load_value(field_addr, &fields[*index as usize]))
                }
                _ => Err(Diagnostic::error(
                    format!("no element {index} here"),
                    e.span,
                    "not a tuple with that many elements",
                )),
            },
            ExprKind::Block { block, value } => {
                self.block(block)?;
                self.expr(value)
            }
            ExprKind::Field { .. } => Err(self.unsupported("field access on kernel types", e.span)),
            ExprKind::Index { .. } => Err(self.unsupported("indexing", e.span)),
            ExprKind::SizeofType(_) | ExprKind::SizeofExpr(_) => {
                Err(self.unsupported("sizeof", e.span))
            }
            ExprKind::Offsetof { .. } | ExprKind::OffsetofExpr { .. } => {
                Err(self.unsupported("offsetof", e.span))
            }
            ExprKind::IfElse { .. } => Err(self.unsupported("if expressions", e.span)),
        }
    }

    pub fn type_of(&self, e: &Expr) -> ValueType {
        let vars = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.ty.clone()))
            .collect();
        static_type(e, &vars, self.probe, self.shared.options, &self.shared.maps)
    }

    /// A string literal, NUL-terminated, in a slot of its own.
    pub fn string_literal(&mut self, s: &str) -> Val {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        let len = bytes.len() as u32;
        let slot = self.f.new_slot(len);
        bytes.resize(len.next_multiple_of(8) as usize, 0);
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunks"));
            let r = self.const_reg(word);
            self.store_u64(Addr::Slot(slot, i as i32 * 8), Operand::Reg(r));
        }
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::Str { len },
        }
    }

    pub(super) fn helper_int(&mut self, helper: Helper, args: Vec<Operand>) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::Call {
            helper,
            args,
            ret: Some(r),
        });
        r
    }

    pub(super) fn alu(&mut self, op: Alu, a: VReg, b: Operand) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::Alu { op, dst: r, a, b });
        r
    }

    fn builtin(&mut self, name: &str, span: Span) -> Lowering<Val> {
        let unsigned = |reg| Val::Int { reg, signed: false };
        Ok(match name {
            "pid" | "tid" => {
                let r = self.helper_int(Helper::GetCurrentPidTgid, Vec::new());
                unsigned(if name == "pid" {
                    self.alu(Alu::Rsh, r, Operand::Imm(32))
                } else {
                    self.mask32(r)
                })
            }
            "uid" | "gid" => {
                let r = self.helper_int(Helper::GetCurrentUidGid, Vec::new());
                unsigned(if name == "gid" {
                    self.alu(Alu::Rsh, r, Operand::Imm(32))
                } else {
                    self.mask32(r)
                })
            }
            "nsecs" => unsigned(self.helper_int(Helper::KtimeGetNs, Vec::new())),
            "ncpus" => unsigned(self.const_reg(self.shared.options.ncpus as u64)),
            "cpu" => unsigned(self.helper_int(Helper::GetSmpProcessorId, Vec::new())),
            "rand" => unsigned(self.helper_int(Helper::GetPrandomU32, Vec::new())),
            "cgroup" => unsigned(self.helper_int(Helper::GetCurrentCgroupId, Vec::new())),
            "curtask" => unsigned(self.helper_int(Helper::GetCurrentTask, Vec::new())),
            "jiffies" => unsigned(self.helper_int(Helper::Jiffies64, Vec::new())),
            "numaid" => unsigned(self.helper_int(Helper::GetNumaNodeId, Vec::new())),
            "kstack" | "ustack" => return self.stack(name == "ustack", &[]),
            "comm" => {
                let slot = self.f.new_slot(16);
                self.zero(Addr::Slot(slot, 0), 16);
                let p = self.slot_addr(slot, 0);
                self.emit(Inst::Call {
                    helper: Helper::GetCurrentComm,
                    args: vec![Operand::Reg(p), Operand::Imm(16)],
                    ret: None,
                });
                Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty: ValueType::Str { len: 16 },
                }
            }
            "elapsed" => {
                let now = self.helper_int(Helper::KtimeGetNs, Vec::new());
                let start = self.const_reg(self.shared.options.start_ns);
                unsigned(self.alu(Alu::Sub, now, Operand::Reg(start)))
            }
            "cpid" => match self.shared.options.cpid {
                Some(pid) => unsigned(self.const_reg(pid as u64)),
                None => {
                    return Err(Diagnostic::error(
                        "`cpid` needs a child: run with -c CMD",
                        span,
                        "no child",
                    ))
                }
            },
            name if name.starts_with("arg") && name[3..].parse::<u32>().is_ok() => {
                let n: usize = name[3..].parse().unwrap_or(0);
                match self.probe.kind {
                    // A raw tracepoint's context is its arguments, an array of u64.
                    ProviderKind::RawTracepoint => {
                        unsigned(self.load_u64(Addr::Ptr(self.ctx, 8 * n as i32)))
                    }
                    // A uprobe's context is the registers; the x86-64 calling convention
                    // passes the first six integer arguments in them.
                    ProviderKind::Uprobe
                    | ProviderKind::Uretprobe
                    | ProviderKind::Kprobe
                    | ProviderKind::Kretprobe
                        if n < PT_REGS_ARGS.len() =>
                    {
                        let r = self.load_u64(Addr::Ptr(self.ctx, PT_REGS_ARGS[n]));
                        Val::Int {
                            reg: r,
                            signed: true,
                        }
                    }
                    ProviderKind::Usdt => self.usdt_arg(n, span)?,
                    _ => {
                        return Err(self.unsupported(&format!("`{name}` in this probe type"), span))
                    }
                }
            }
            "retval" if self.probe.kind == ProviderKind::Fexit => {
                let Some(ret) = self
                    .probe
                    .args
                    .iter()
                    .find(|a| a.name == crate::resolve::probes::FEXIT_RETVAL)
                else {
                    return Err(self.unsupported("`retval` in a wildcard fexit probe", span));
                };
                let r = self.load_u64(Addr::Ptr(self.ctx, ret.offset as i32));
                Val::Int {
                    reg: r,
                    signed: true,
                }
            }
            "retval"
                if matches!(
                    self.probe.kind,
                    ProviderKind::Uretprobe | ProviderKind::Kretprobe
                ) =>
            {
                let r = self.load_u64(Addr::Ptr(self.ctx, PT_REGS_AX));
                Val::Int {
                    reg: r,
                    signed: true,
                }
            }
            "probe" => {
                let text = self.probe.targets.first().cloned().unwrap_or_default();
                self.string_literal(&text)
            }
            "func"
                if matches!(
                    self.probe.kind,
                    ProviderKind::Uprobe
                        | ProviderKind::Uretprobe
                        | ProviderKind::Kprobe
                        | ProviderKind::Kretprobe
                        | ProviderKind::Fentry
                        | ProviderKind::Fexit
                ) =>
            {
                // The function, without an offset into it, demangled as bpftrace prints it.
                let target = self.probe.targets.first().cloned().unwrap_or_default();
                let function = crate::resolve::demangle::function_of_target(&target);
                self.string_literal(&function)
            }
            _ => return Err(self.unsupported(&format!("the builtin `{name}`"), span)),
        })
    }

    /// `reg("ip")`: a register saved in the probe's `struct pt_regs` (the context of a
    /// uprobe or kprobe, and the first member of a perf event's).
    fn register(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let name = args.first().and_then(literal_string).unwrap_or_default();
        let Some(at) = pt_regs_offset(name) else {
            return Err(Diagnostic::error(
                format!("`{name}` is not a register of x86-64's pt_regs"),
                args.first().map_or(span, |a| a.span),
                "unknown register",
            )
            .with_help(
                "registers are named as in pt_regs: ip, sp, bp, ax, bx, cx, dx, si, di, r8 .. r15",
            ));
        };
        if !matches!(
            self.probe.kind,
            ProviderKind::Uprobe
                | ProviderKind::Uretprobe
                | ProviderKind::Kprobe
                | ProviderKind::Kretprobe
                | ProviderKind::Profile
        ) {
            return Err(self.unsupported("`reg()` in this probe type", span));
        }
        Ok(Val::Int {
            reg: self.load_u64(Addr::Ptr(self.ctx, at)),
            signed: false,
        })
    }

    fn mask32(&mut self, r: VReg) -> VReg {
        let shifted = self.alu(Alu::Lsh, r, Operand::Imm(32));
        self.alu(Alu::Rsh, shifted, Operand::Imm(32))
    }

    fn tracepoint_arg(&mut self, field: &Ident) -> Lowering<Val> {
        let Some(arg) = self
            .probe
            .args
            .iter()
            .find(|a| a.name == field.name)
            .cloned()
        else {
            let known: Vec<&str> = self.probe.args.iter().map(|a| a.name.as_str()).collect();
            let mut d = Diagnostic::error(
                format!("this tracepoint has no field `{}`", field.name),
                field.span,
                "unknown field",
            );
            if let Some(s) = crate::diagnostic::nearest(&field.name, known.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            } else if !known.is_empty() {
                d = d.with_note(format!("fields: {}", known.join(", ")));
            }
            return Err(d);
        };
        let offset = arg.offset as i32;
        match arg.access {
            ArgAccess::Int { size, signed } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Ptr(self.ctx, offset),
                    size: Size::from_bytes(size).unwrap_or(Size::DW),
                    signed,
                });
                Ok(Val::Int { reg: r, signed })
            }
            ArgAccess::CharArray { len } => {
                let src = self.address_of(Addr::Ptr(self.ctx, offset));
                Ok(self.read_char_array(Helper::ProbeReadKernel, src, len))
            }
            ArgAccess::DataLoc => {
                let loc = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: loc,
                    addr: Addr::Ptr(self.ctx, offset),
                    size: Size::W,
                    signed: false,
                });
                let at = self.alu(Alu::And, loc, Operand::Imm(0xffff));
                let address = self.alu(Alu::Add, at, Operand::Reg(self.ctx));
                Ok(Val::Int {
                    reg: address,
                    signed: false,
                })
            }
        }
    }

    fn map_read(&mut self, name: &Ident, keys: &[Expr], span: Span) -> Lowering<Val> {
        let Some(map) = self.shared.maps.lookup(&name.name) else {
            return Err(Diagnostic::error("unknown map", span, "never assigned"));
        };
        let value = self.shared.maps.value(map);
        let key = self.build_key(map, keys, None)?;
        let found = self.lookup(map, key);
        let ty = match &value {
            MapValue::Plain(ty) => ty.clone(),
            MapValue::Count | MapValue::Hist { .. } | MapValue::Lhist { .. } => INT,
            _ => SIGNED,
        };
        let done = self.f.new_label();
        let missing = self.f.new_label();
        self.jump_if_zero(found, missing);
        match &ty {
            ValueType::Int { signed, .. } => {
                let r = self.load_u64(Addr::Ptr(found, 0));
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(missing));
                self.emit(Inst::Const(r, 0));
                self.emit(Inst::Label(done));
                Ok(Val::Int {
                    reg: r,
                    signed: *signed,
                })
            }
            ty => {
                let slot = self.f.new_slot(ty.size());
                self.copy(Addr::Slot(slot, 0), Addr::Ptr(found, 0), ty.size());
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(missing));
                self.zero(Addr::Slot(slot, 0), ty.size());
                self.emit(Inst::Label(done));
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty: ty.clone(),
                })
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr, span: Span) -> Lowering<Val> {
        if op == UnaryOp::AddrOf {
            return Err(self.unsupported("`&`", span));
        }
        let (v, signed) = self.int(inner)?;
        let r = self.f.new_vreg();
        match op {
            UnaryOp::Neg => self.emit(Inst::Neg(r, v)),
            UnaryOp::Plus => self.emit(Inst::Mov(r, v)),
            UnaryOp::BitNot => self.emit(Inst::Alu {
                op: Alu::Xor,
                dst: r,
                a: v,
                b: Operand::Imm(-1),
            }),
            UnaryOp::Not => return Ok(self.flag(Cond::Eq, v, Operand::Imm(0))),
            UnaryOp::Deref => {
                let slot = self.f.new_slot(8);
                let dst = self.slot_addr(slot, 0);
                self.emit(Inst::Call {
                    helper: Helper::ProbeReadKernel,
                    args: vec![Operand::Reg(dst), Operand::Imm(8), Operand::Reg(v)],
                    ret: None,
                });
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Slot(slot, 0),
                    size: Size::DW,
                    signed: false,
                });
            }
            UnaryOp::AddrOf => unreachable!("refused above"),
        }
        Ok(Val::Int {
            reg: r,
            signed: signed || op == UnaryOp::Neg,
        })
    }

    /// 1 if `a cond b`, else 0.
    fn flag(&mut self, cond: Cond, a: VReg, b: Operand) -> Val {
        let r = self.f.new_vreg();
        let yes = self.f.new_label();
        let done = self.f.new_label();
        self.emit(Inst::Branch {
            cond,
            a,
            b,
            then: yes,
        });
        self.emit(Inst::Const(r, 0));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(yes));
        self.emit(Inst::Const(r, 1));
        self.emit(Inst::Label(done));
        Val::Int {
            reg: r,
            signed: false,
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Lowering<Val> {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            return self.logical(op, lhs, rhs);
        }
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne)
            && matches!(self.type_of(lhs), ValueType::Str { .. })
        {
            return self.string_equality(op == BinaryOp::Eq, lhs, rhs);
        }
        let (a, sa) = self.int(lhs)?;
        let (b, sb) = self.int(rhs)?;
        let signed = sa && sb;
        let compare = |c: Cond, s: Cond| if signed { s } else { c };
        let cond = match op {
            BinaryOp::Eq => Some(Cond::Eq),
            BinaryOp::Ne => Some(Cond::Ne),
            BinaryOp::Lt => Some(compare(Cond::Lt, Cond::Slt)),
            BinaryOp::Le => Some(compare(Cond::Le, Cond::Sle)),
            BinaryOp::Gt => Some(compare(Cond::Gt, Cond::Sgt)),
            BinaryOp::Ge => Some(compare(Cond::Ge, Cond::Sge)),
            _ => None,
        };
        if let Some(c) = cond {
            return Ok(self.flag(c, a, Operand::Reg(b)));
        }
        let alu = arithmetic(op, sa).expect("comparisons and logic are handled above");
        Ok(Val::Int {
            reg: self.alu(alu, a, Operand::Reg(b)),
            signed: sa || sb,
        })
    }

    fn logical(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Lowering<Val> {
        let r = self.f.new_vreg();
        let short = self.f.new_label();
        let done = self.f.new_label();
        // `a && b` is 0 as soon as a is 0; `a || b` is 1 as soon as a is not 0.
        let (stop_cond, stop_value) = if op == BinaryOp::And {
            (Cond::Eq, 0)
        } else {
            (Cond::Ne, 1)
        };
        let (a, _) = self.int(lhs)?;
        self.emit(Inst::Branch {
            cond: stop_cond,
            a,
            b: Operand::Imm(0),
            then: short,
        });
        let (b, _) = self.int(rhs)?;
        self.emit(Inst::Branch {
            cond: stop_cond,
            a: b,
            b: Operand::Imm(0),
            then: short,
        });
        self.emit(Inst::Const(r, 1 - stop_value));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(short));
        self.emit(Inst::Const(r, stop_value));
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: r,
            signed: false,
        })
    }

    fn string_equality(&mut self, equal: bool, lhs: &Expr, rhs: &Expr) -> Lowering<Val> {
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        let (Val::Mem { addr: x, ty: tx }, Val::Mem { addr: y, ty: ty_y }) = (&a, &b) else {
            return Err(Diagnostic::error(
                "cannot compare a string with a number",
                lhs.span.to(rhs.span),
                "mismatched comparison",
            ));
        };
        let len = tx.size().min(ty_y.size());
        let r = self.f.new_vreg();
        let differ = self.f.new_label();
        let done = self.f.new_label();
        self.compare_strings(*x, *y, len, differ);
        self.emit(Inst::Const(r, equal as u64));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(differ));
        self.emit(Inst::Const(r, !equal as u64));
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: r,
            signed: false,
        })
    }

    fn ternary(
        &mut self,
        cond: &Expr,
        then: &Expr,
        otherwise: &Expr,
        whole: &Expr,
    ) -> Lowering<Val> {
        let ty = self.type_of(whole);
        let (c, _) = self.int(cond)?;
        let other = self.f.new_label();
        let done = self.f.new_label();
        self.jump_if_zero(c, other);
        match ty {
            ValueType::Int { .. } | ValueType::Bool => {
                let r = self.f.new_vreg();
                let (a, sa) = self.int(then)?;
                self.emit(Inst::Mov(r, a));
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(other));
                let (b, sb) = self.int(otherwise)?;
                self.emit(Inst::Mov(r, b));
                self.emit(Inst::Label(done));
                Ok(Val::Int {
                    reg: r,
                    signed: sa || sb,
                })
            }
            ty => {
                let slot = self.f.new_slot(ty.size());
                let a = self.expr(then)?;
                self.store_value(Addr::Slot(slot, 0), &ty, &a);
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(other));
                let b = self.expr(otherwise)?;
                self.store_value(Addr::Slot(slot, 0), &ty, &b);
                self.emit(Inst::Label(done));
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty,
                })
            }
        }
    }

    fn cast(&mut self, ty: &TypeName, inner: &Expr) -> Lowering<Val> {
        let (v, _) = self.int(inner)?;
        match (&ty.base, ty.pointers, ty.array) {
            (TypeBase::Builtin(name), 0, None) => {
                let signed = name.starts_with("int");
                let bits = name
                    .trim_start_matches('u')
                    .trim_start_matches("int")
                    .parse::<i32>()
                    .unwrap_or(64);
                if bits >= 64 {
                    return Ok(Val::Int { reg: v, signed });
                }
                let up = self.alu(Alu::Lsh, v, Operand::Imm(64 - bits));
                let shift = if signed { Alu::Arsh } else { Alu::Rsh };
                Ok(Val::Int {
                    reg: self.alu(shift, up, Operand::Imm(64 - bits)),
                    signed,
                })
            }
            (_, p, None) if p > 0 => Ok(Val::Int {
                reg: v,
                signed: false,
            }),
            _ => Err(self.unsupported("this cast", ty.span)),
        }
    }

    fn increment(
        &mut self,
        target: &Expr,
        increment: bool,
        prefix: bool,
        span: Span,
    ) -> Lowering<Val> {
        let delta = if increment { 1 } else { -1 };
        match &target.kind {
            ExprKind::Var(name) => {
                let Some(var) = self.vars.get(name).cloned() else {
                    return Err(Diagnostic::error(
                        format!("variable `${name}` is used before it is assigned"),
                        target.span,
                        "no value yet",
                    ));
                };
                let old = self.load_u64(Addr::Slot(var.slot, 0));
                let new = self.alu(Alu::Add, old, Operand::Imm(delta));
                self.store_u64(Addr::Slot(var.slot, 0), Operand::Reg(new));
                Ok(Val::Int {
                    reg: if prefix { new } else { old },
                    signed: true,
                })
            }
            ExprKind::Map { name, keys } => {
                let one = self.const_reg(delta as u64);
                let new = self.map_compound(name, keys, Alu::Add, one, span)?;
                let reg = if prefix {
                    new
                } else {
                    self.alu(Alu::Sub, new, Operand::Imm(delta))
                };
                Ok(Val::Int { reg, signed: true })
            }
            _ => Err(Diagnostic::error(
                "`++` and `--` need a variable or a map",
                target.span,
                "not assignable",
            )),
        }
    }

    /// A call used for its value (or a statement-level call such as printf).
    fn call(&mut self, name: &Ident, args: &[Expr], span: Span) -> Lowering<Val> {
        match name.name.as_str() {
            "str" => self.str_call(args, span),
            "strftime" => self.strftime_call(args, span),
            "ntop" => self.ntop_call(args, span),
            "macaddr" => self.macaddr_call(args, span),
            "buf" => self.buf_call(args, span),
            "kstack" | "ustack" => self.stack(name.name == "ustack", args),
            "ksym" | "usym" => self.symbol(name.name == "usym", args, span),
            "reg" => self.register(args, span),
            "kaddr" | "uaddr" => {
                let binary = match name.name.as_str() {
                    "uaddr" => self
                        .probe
                        .targets
                        .first()
                        .and_then(|t| crate::resolve::symbols::uprobe_binary(t))
                        .unwrap_or_default(),
                    _ => "",
                };
                let symbol = args.first().and_then(literal_string).unwrap_or_default();
                let key = (binary.to_string(), symbol.to_string());
                let Some(&address) = self.shared.options.symbol_addresses.get(&key) else {
                    return Err(Diagnostic::error(
                        format!("symbol `{symbol}` was not resolved"),
                        span,
                        "unknown symbol",
                    ));
                };
                Ok(Val::Int {
                    reg: self.const_reg(address),
                    signed: false,
                })
            }
            "has_key" => {
                let (map, keys) = match args {
                    [m, rest @ ..] => match map_parts(m) {
                        Some((name, [])) => (name, rest.to_vec()),
                        _ => {
                            return Err(Diagnostic::error(
                                "`has_key` needs a map",
                                m.span,
                                "not a map",
                            ))
                        }
                    },
                    [] => return Err(Diagnostic::error("`has_key` needs a map", span, "here")),
                };
                let id =
                    self.shared.maps.lookup(&map.name).ok_or_else(|| {
                        Diagnostic::error("unknown map", map.span, "never assigned")
                    })?;
                let key = self.build_key(id, &keys, None)?;
                let found = self.lookup(id, key);
                Ok(self.flag(Cond::Ne, found, Operand::Imm(0)))
            }
            "strcontains" => {
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
            "len" => {
                let [m] = args else {
                    return Err(Diagnostic::error("`len` takes one map", span, "here"));
                };
                let n = self.map_len(m)?;
                Ok(Val::Int {
                    reg: n,
                    signed: true,
                })
            }
            "strncmp" => {
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
                // bpftrace's strncmp is 0 when the strings match, 1 otherwise.
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
            "pid" | "tid" | "uid" | "gid" | "nsecs" | "cpu" | "comm" | "rand" | "cgroup"
            | "curtask" | "ncpus" | "elapsed"
                if args.is_empty() =>
            {
                self.builtin(&name.name, span)
            }
            // `nsecs(boot)`: the clock by name.
            "nsecs" => {
                let helper = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Ident(clock)) => match clock.as_str() {
                        "monotonic" => Helper::KtimeGetNs,
                        "boot" => Helper::KtimeGetBootNs,
                        "tai" => Helper::KtimeGetTaiNs,
                        _ => return Err(self.unsupported(&format!("the clock `{clock}`"), span)),
                    },
                    _ => return Err(self.unsupported("this `nsecs` argument", span)),
                };
                Ok(Val::Int {
                    reg: self.helper_int(helper, Vec::new()),
                    signed: false,
                })
            }
            _ => {
                self.action_call(name, args, span)?;
                Ok(Val::Void)
            }
        }
    }

    fn str_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
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
                self.emit(Inst::Call {
                    helper: Helper::ProbeReadStr,
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

    /// The label-free form of `literal_string`, for format strings.
    /// A string argument's address and buffer length.
    fn string_operand(&mut self, e: &Expr) -> Lowering<(Addr, u32)> {
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

    pub fn format_string<'e>(&self, e: &'e Expr, what: &str) -> Lowering<&'e str> {
        literal_string(e).ok_or_else(|| {
            Diagnostic::error(
                format!("the format of `{what}` must be a string literal"),
                e.span,
                "not a literal",
            )
        })
    }

    pub fn new_label(&mut self) -> Label {
        self.f.new_label()
    }
}

/// The ALU operation of an arithmetic operator (`>>` is arithmetic on signed values).
/// The offset of a register in x86-64's `struct pt_regs`.
fn pt_regs_offset(name: &str) -> Option<i32> {
    const ORDER: [&str; 21] = [
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
        "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    ];
    ORDER.iter().position(|r| *r == name).map(|i| i as i32 * 8)
}

pub(crate) fn arithmetic(op: BinaryOp, signed: bool) -> Option<Alu> {
    Some(match op {
        BinaryOp::Add => Alu::Add,
        BinaryOp::Sub => Alu::Sub,
        BinaryOp::Mul => Alu::Mul,
        BinaryOp::Div => Alu::Div,
        BinaryOp::Rem => Alu::Mod,
        BinaryOp::BitAnd => Alu::And,
        BinaryOp::BitOr => Alu::Or,
        BinaryOp::BitXor => Alu::Xor,
        BinaryOp::Shl => Alu::Lsh,
        BinaryOp::Shr if signed => Alu::Arsh,
        BinaryOp::Shr => Alu::Rsh,
        _ => return None,
    })
}

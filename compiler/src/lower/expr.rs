//! Expressions to IR. Integers end in registers; strings and tuples in stack slots.
//! Anything the code generator cannot do yet is a diagnostic at the expression, never a
//! silently wrong program.

use super::builtins::{is_args, Use};
use super::maps::{int_cast_bits, static_type};
use super::{literal_string, Lowering, ProbeLowerer, Val};
use super::{INT, SIGNED};
use crate::ast::*;
use crate::check::fold::{constant_index, fold, Literal};
use crate::check::var_pointers::{self, PointsTo};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper, Size};
use crate::ir::{Addr, Inst, Label, Operand, Slot, VReg};
use crate::probe::ArgAccess;
use crate::program::{MapValue, ValueType};
use crate::span::Span;

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
            // An enum's value is its integer to every operator (which makes it a plain one).
            Val::Mem {
                addr,
                ty: ValueType::Enum(names),
            } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr,
                    size: Size::from_bytes(names.size).unwrap_or(Size::DW),
                    signed: names.signed,
                });
                Ok((r, names.signed))
            }
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

    /// An operator on literals, computed now as the current release folds it (the checker
    /// refused those it cannot fold).
    fn folded(&mut self, e: &Expr) -> Option<Val> {
        let (ExprKind::Unary { .. } | ExprKind::Binary { .. }, Some(Ok(lit))) = (&e.kind, fold(e))
        else {
            return None;
        };
        Some(Val::Int {
            reg: self.const_reg(lit.bits()),
            signed: lit.signed(),
        })
    }

    pub fn expr(&mut self, e: &Expr) -> Lowering<Val> {
        let outer = std::mem::replace(&mut self.expr_span, e.span);
        let value = self.lower_expr(e);
        self.expr_span = outer;
        value
    }

    fn lower_expr(&mut self, e: &Expr) -> Lowering<Val> {
        if let Some(access) = e.kernel.as_deref() {
            return self.kernel_value(e, access);
        }
        if let Some(folded) = self.folded(e) {
            return Ok(folded);
        }
        match &e.kind {
            // Beyond the largest int64 a literal is a uint64.
            ExprKind::Int(n) => Ok(Val::Int {
                reg: self.const_reg(*n),
                signed: *n <= i64::MAX as u64,
            }),
            ExprKind::Bool(b) => Ok(Val::Int {
                reg: self.const_reg(*b as u64),
                signed: false,
            }),
            ExprKind::Str(s) => Ok(self.string_literal(s)),
            ExprKind::Ident(name) => self.builtin(name, Use::Bare, e.span, &e.expanded_from),
            ExprKind::Var(name) => match self.vars.get(name).cloned() {
                Some(v) => Ok(self.load_value(Addr::Slot(v.slot, 0), &v.ty)),
                None => Err(Diagnostic::error(
                    format!("variable `${name}` is used before it is assigned"),
                    e.span,
                    "no value yet",
                )),
            },
            ExprKind::Positional(n) => Ok(self.positional(*n)),
            ExprKind::PositionalCount => {
                let n = self.shared.options.positional.len() as u64;
                Ok(Val::Int {
                    reg: self.const_reg(n),
                    signed: true,
                })
            }
            ExprKind::Map { name, keys } => self.map_read(name, keys, e.span),
            ExprKind::Call { name, args } => {
                self.builtin(&name.name, Use::Called(args), e.span, &e.expanded_from)
            }
            ExprKind::Unary { op, expr } => self.unary(*op, expr, e.span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, e.span),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            }
            | ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => self.ternary(cond, then, otherwise, e),
            ExprKind::Update {
                target,
                increment,
                prefix,
            } => self.increment(target, if *increment { 1 } else { -1 }, *prefix, e.span),
            ExprKind::Cast { ty, expr } => self.cast(ty, expr),
            ExprKind::Field { expr, field, .. } if is_args(expr) => self.tracepoint_arg(field),
            ExprKind::Tuple(items) => self.tuple(items, e),
            ExprKind::TupleIndex { expr, index } => self.tuple_element(expr, *index, e.span),
            ExprKind::Block { block, value } => {
                self.block(block)?;
                self.expr(value)
            }
            ExprKind::Field { expr, field, .. } => self.struct_field(expr, field, e.span),
            ExprKind::Index { expr, index }
                if matches!(self.type_of(expr), ValueType::Str { .. }) =>
            {
                self.string_index(expr, index)
            }
            // `$t[1 + 1]` of a tuple is `$t.2`: the index a constant, as bpftrace requires.
            ExprKind::Index { expr, index }
                if matches!(self.type_of(expr), ValueType::Tuple(_)) =>
            {
                match constant_index(index) {
                    Some(n) => self.expr(&Expr::new(
                        ExprKind::TupleIndex {
                            expr: expr.clone(),
                            index: n,
                        },
                        e.span,
                    )),
                    None => Err(Diagnostic::error(
                        "a tuple's index must be a constant",
                        index.span,
                        "not known when compiling",
                    )
                    .with_help("write a number, or an expression of numbers (`$t[1 + 1]`)")),
                }
            }
            ExprKind::Index { expr, index } => self.array_index(expr, index, e.span),
            ExprKind::SizeofType(_) | ExprKind::SizeofExpr(_) => {
                Err(self.unsupported("sizeof", e.span))
            }
            ExprKind::Offsetof { .. } | ExprKind::OffsetofExpr { .. } => {
                Err(self.unsupported("offsetof", e.span))
            }
            ExprKind::Record(fields) => self.record(fields, e),
            ExprKind::Typeof(_) => Err(self.unsupported("typeof", e.span)),
        }
    }

    /// `$N`: the command line's argument, a number or a string as it reads (missing: 0).
    fn positional(&mut self, n: u32) -> Val {
        let text = self
            .shared
            .options
            .positional
            .get(n as usize - 1)
            .cloned()
            .unwrap_or_default();
        match text.parse::<i64>() {
            Ok(v) => Val::Int {
                reg: self.const_reg(v as u64),
                signed: true,
            },
            Err(_) if text.is_empty() => Val::Int {
                reg: self.const_reg(0),
                signed: true,
            },
            Err(_) => self.string_literal(&text),
        }
    }

    /// `$t.N`: the tuple's element N, read where its layout puts it.
    fn tuple_element(&mut self, tuple: &Expr, index: u32, span: Span) -> Lowering<Val> {
        match self.expr(tuple)? {
            Val::Mem {
                addr,
                ty: ValueType::Tuple(fields),
            } if (index as usize) < fields.len() => {
                let at = ValueType::field_offsets(&fields)[index as usize] as i32;
                let field_addr = match addr {
                    Addr::Slot(s, o) => Addr::Slot(s, o + at),
                    Addr::Ptr(p, o) => Addr::Ptr(p, o + at),
                };
                Ok(self.load_value(field_addr, &fields[index as usize]))
            }
            _ => Err(Diagnostic::error(
                format!("no element {index} here"),
                span,
                "not a tuple with that many elements",
            )),
        }
    }

    /// A tuple built in a slot of its own, its padding zeroed (it may become a map key).
    /// A record: each field evaluated in the order written, stored where its name lies.
    fn record(&mut self, fields: &[(Ident, Expr)], e: &Expr) -> Lowering<Val> {
        let ty = self.type_of(e);
        let ValueType::Struct(layout) = &ty else {
            unreachable!("a record expression has a struct type")
        };
        let slot = self.f.new_slot(ty.size());
        self.zero(Addr::Slot(slot, 0), ty.size());
        for ((_, value), field) in fields.iter().zip(&layout.fields) {
            let v = self.expr(value)?;
            self.store_value(Addr::Slot(slot, field.offset as i32), &field.ty, &v);
        }
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        })
    }

    fn tuple(&mut self, items: &[Expr], e: &Expr) -> Lowering<Val> {
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

    pub fn type_of(&self, e: &Expr) -> ValueType {
        // An integer variable's slot holds 8 bytes; the pre-pass knows the width of what it
        // holds (`$x = (uint8)...` is one byte), which `-` and `~` compute in.
        let vars = self
            .vars
            .iter()
            .map(|(k, v)| {
                let ty = match (&v.ty, self.shared.maps.var_type(self.index, k)) {
                    (ValueType::Int { .. }, Some(t @ ValueType::Int { .. })) => t.clone(),
                    _ => v.ty.clone(),
                };
                (k.clone(), ty)
            })
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
            ty: ValueType::str(len),
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
        let at = match self.syscall {
            None => Addr::Ptr(self.ctx, offset),
            Some(fields) => match (&arg.access, fields.field(self.ctx, offset)) {
                (ArgAccess::Int { .. }, Some(at)) => at,
                _ => {
                    return Err(
                        self.not_dispatched(&format!("the field `{}`", field.name), field.span)
                    )
                }
            },
        };
        match arg.access {
            ArgAccess::Int { size, signed } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: at,
                    size: Size::from_bytes(size).unwrap_or(Size::DW),
                    signed,
                });
                // The kernel runs an iterator's program once more at the end of its walk with
                // no object (`ctx.task` NULL): as in the current release, a member of the
                // context that reads as zero ends the program there.
                if self.probe.kind.context().typed_ctx {
                    let exit = self.exit_label;
                    self.jump_if_zero(r, exit);
                }
                Ok(Val::Int { reg: r, signed })
            }
            ArgAccess::Enum { names } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Ptr(self.ctx, offset),
                    size: Size::from_bytes(names.size).unwrap_or(Size::DW),
                    signed: names.signed,
                });
                Ok(self.enum_value(r, &names))
            }
            ArgAccess::CharArray { len } => {
                let src = self.address_of(Addr::Ptr(self.ctx, offset));
                Ok(self.read_char_array(Helper::ProbeReadKernel, src, len))
            }
            ArgAccess::IntArray {
                elem_size,
                signed,
                len,
            } => {
                let ty = ValueType::Array {
                    elem: Box::new(ValueType::Int {
                        size: elem_size,
                        signed,
                    }),
                    len,
                };
                let src = self.address_of(Addr::Ptr(self.ctx, offset));
                let size = ty.size();
                Ok(self.read_to_slot(Helper::ProbeReadKernel, src, ty, size))
            }
            ArgAccess::Uneven { why } => Err(Diagnostic::error(
                format!(
                    "`args.{}` is not the same in every attach point of this probe",
                    field.name
                ),
                field.span,
                "differs between attach points",
            )
            .with_note(why)
            .with_help("give each tracepoint its own probe")),
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

    /// `@m[k]`: this CPU's value (0 when the key has none), or the value read already
    /// (`known_reads`).
    pub(super) fn map_read(&mut self, name: &Ident, keys: &[Expr], span: Span) -> Lowering<Val> {
        let Some(map) = self.shared.maps.lookup(&name.name) else {
            return Err(Diagnostic::error("unknown map", span, "never assigned"));
        };
        let key = super::known_reads::key_text(keys);
        // A copy either way, so that no use of the value can change the one kept.
        if let Some((kept, signed)) = key.as_ref().and_then(|k| self.known.get(map, k)) {
            let reg = self.f.new_vreg();
            self.emit(Inst::Mov(reg, kept));
            return Ok(Val::Int { reg, signed });
        }
        let val = self.map_lookup_value(map, keys)?;
        if let (Some(key), Val::Int { reg, signed }) = (key, &val) {
            if self.known.noting && matches!(self.shared.maps.value(map), MapValue::Plain(_)) {
                let kept = self.f.new_vreg();
                self.emit(Inst::Mov(kept, *reg));
                self.known.note(map, key, kept, *signed);
            }
        }
        Ok(val)
    }

    fn map_lookup_value(&mut self, map: usize, keys: &[Expr]) -> Lowering<Val> {
        let value = self.shared.maps.value(map);
        let key = self.build_key(map, keys, None)?;
        if matches!(
            value,
            MapValue::Count
                | MapValue::Sum { .. }
                | MapValue::Min { .. }
                | MapValue::Max { .. }
                | MapValue::Avg { .. }
        ) {
            return Ok(self.aggregate_read(map, &value, key));
        }
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
            ValueType::Int { .. } | ValueType::Pointer => {
                let signed = matches!(ty, ValueType::Int { signed: true, .. });
                let r = self.load_u64(Addr::Ptr(found, 0));
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(missing));
                self.lookup_missed();
                self.emit(Inst::Const(r, 0));
                self.emit(Inst::Label(done));
                Ok(Val::Int { reg: r, signed })
            }
            ValueType::Bool => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Ptr(found, 0),
                    size: Size::B,
                    signed: false,
                });
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(missing));
                self.lookup_missed();
                self.emit(Inst::Const(r, 0));
                self.emit(Inst::Label(done));
                Ok(Val::Int {
                    reg: r,
                    signed: false,
                })
            }
            ty => {
                let slot = self.f.new_slot(ty.size());
                self.copy(Addr::Slot(slot, 0), Addr::Ptr(found, 0), ty.size());
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(missing));
                self.lookup_missed();
                self.zero(Addr::Slot(slot, 0), ty.size());
                self.emit(Inst::Label(done));
                Ok(Val::Mem {
                    addr: Addr::Slot(slot, 0),
                    ty: ty.clone(),
                })
            }
        }
    }

    /// An aggregation read in the kernel (`if (@n == 4)`), as the current release reads it:
    /// every CPU's value at the key merged (a key no CPU has reads 0), and an `avg` its total
    /// over its count, divided as signed when it is signed (the magnitude divided, the sign
    /// put back: BPF has no signed division).
    fn aggregate_read(&mut self, map: usize, kind: &MapValue, key: Slot) -> Val {
        let merged = self.f.new_slot(16);
        self.merge_cpus(map, kind, Addr::Slot(key, 0), Addr::Slot(merged, 0));
        let total = self.load_u64(Addr::Slot(merged, 0));
        let signed = !matches!(kind, MapValue::Count) && kind.signed();
        let MapValue::Avg { .. } = kind else {
            return Val::Int { reg: total, signed };
        };
        let count = self.load_u64(Addr::Slot(merged, 8));
        if !signed {
            let avg = self.alu(Alu::Div, total, Operand::Reg(count));
            return Val::Int {
                reg: avg,
                signed: false,
            };
        }
        let result = self.f.new_slot(8);
        let negative = self.f.new_label();
        let done = self.f.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Slt,
            a: total,
            b: Operand::Imm(0),
            then: negative,
        });
        let avg = self.alu(Alu::Div, total, Operand::Reg(count));
        self.store_u64(Addr::Slot(result, 0), Operand::Reg(avg));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(negative));
        let magnitude = self.f.new_vreg();
        self.emit(Inst::Neg(magnitude, total));
        let quotient = self.alu(Alu::Div, magnitude, Operand::Reg(count));
        let back = self.f.new_vreg();
        self.emit(Inst::Neg(back, quotient));
        self.store_u64(Addr::Slot(result, 0), Operand::Reg(back));
        self.emit(Inst::Label(done));
        Val::Int {
            reg: self.load_u64(Addr::Slot(result, 0)),
            signed: true,
        }
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr, span: Span) -> Lowering<Val> {
        if op == UnaryOp::AddrOf {
            // `&$x`: where the variable lives (`*(struct foo *)&$x` reads its bytes as one).
            return match &inner.kind {
                ExprKind::Var(name) => match self.vars.get(name) {
                    Some(var) => {
                        let slot = var.slot;
                        Ok(Val::Int {
                            reg: self.slot_addr(slot, 0),
                            signed: false,
                        })
                    }
                    None => Err(Diagnostic::error(
                        format!("`${name}` has no value here to take the address of"),
                        inner.span,
                        "assign it first",
                    )),
                },
                _ => match self.typed_address_of(inner) {
                    Some(address) => address,
                    None => Err(self.unsupported(
                        "`&` of anything but a variable or a member, `*p` or `p[i]` of typed memory",
                        span,
                    )),
                },
            };
        }
        // `*$p` of a variable that only ever holds `&$x` is `$x` too; through one that may
        // hold several addresses only an integer can be read (8 bytes, as below).
        if let (UnaryOp::Deref, ExprKind::Var(p)) = (op, &inner.kind) {
            match self.var_pointers.get(p) {
                Some(PointsTo::One(x)) if self.vars.contains_key(x) => {
                    let x = Expr::new(ExprKind::Var(x.clone()), inner.span);
                    return self.expr(&x);
                }
                _ => {
                    let vars = &self.vars;
                    let not_int = |x: &str| {
                        (vars.get(x)).is_some_and(|v| !matches!(v.ty, ValueType::Int { .. }))
                    };
                    if let Some(d) = var_pointers::refused(&self.var_pointers, p, not_int, span) {
                        return Err(d);
                    }
                }
            }
        }
        // `*&$x` is `$x`, whatever it holds (a tuple, a string).
        if let (
            UnaryOp::Deref,
            ExprKind::Unary {
                op: UnaryOp::AddrOf,
                expr: var,
            },
        ) = (op, &inner.kind)
        {
            if matches!(var.kind, ExprKind::Var(_)) {
                return self.expr(var);
            }
        }
        let width = match self.type_of(inner) {
            ValueType::Int { size, .. } => size * 8,
            _ => 64,
        };
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
        // `-` and `~` compute in their operand's width and keep its signedness:
        // `-(uint32)2` is 4294967294, `-(int8)-128` is -128 (docs/integers.md).
        let r = if matches!(op, UnaryOp::Neg | UnaryOp::BitNot) && width < 64 {
            self.narrow(r, width, signed)
        } else {
            r
        };
        Ok(Val::Int { reg: r, signed })
    }

    /// `v` cut to its low `bits` and extended back to 64 by `signed`.
    pub(super) fn narrow(&mut self, v: VReg, bits: u32, signed: bool) -> VReg {
        let up = self.alu(Alu::Lsh, v, Operand::Imm(64 - bits as i32));
        let shift = if signed { Alu::Arsh } else { Alu::Rsh };
        self.alu(shift, up, Operand::Imm(64 - bits as i32))
    }

    /// 1 if `a cond b`, else 0.
    pub(super) fn flag(&mut self, cond: Cond, a: VReg, b: Operand) -> Val {
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
            signed: true,
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, span: Span) -> Lowering<Val> {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            return self.logical(op, lhs, rhs);
        }
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne)
            && matches!(self.type_of(lhs), ValueType::Str { .. })
        {
            return self.string_equality(op == BinaryOp::Eq, lhs, rhs);
        }
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne)
            && matches!(self.type_of(lhs), ValueType::Array { .. })
        {
            return self.array_equality(op == BinaryOp::Eq, lhs, rhs);
        }
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne)
            && matches!(self.type_of(lhs), ValueType::Buf { .. })
        {
            return self.buf_equality(op == BinaryOp::Eq, lhs, rhs);
        }
        let (a, sa) = self.int(lhs)?;
        let (b, sb) = self.int(rhs)?;
        // Signed when either side is, as in the current release, where a non-negative
        // literal takes the other side's signedness: `(uint64)$x < 5` compares unsigned,
        // `(uint8)$x < -1` signed (docs/integers.md).
        let signed = super::maps::signed_operands(lhs, sa, rhs, sb);
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
        let alu = arithmetic(op).expect("comparisons and logic are handled above");
        // A divisor known not to be zero needs neither the test nor the warning.
        let nonzero = matches!(fold(rhs), Some(Ok(lit)) if lit.bits() != 0);
        let reg = if matches!(alu, Alu::Div | Alu::Mod) && !nonzero {
            self.divide(alu, a, b, span)
        } else {
            self.alu(alu, a, Operand::Reg(b))
        };
        Ok(Val::Int {
            reg,
            signed: op == BinaryOp::Sub || signed,
        })
    }

    /// `a / b` or `a % b` (the operator's text at `span`), unsigned as in bpftrace. By zero
    /// both are 1, as the current bpftrace release defines them (docs/integers.md), not the
    /// BPF instruction's 0 and `a`, and each time its warning goes to user space.
    pub(super) fn divide(&mut self, alu: Alu, a: VReg, b: VReg, span: Span) -> VReg {
        let r = self.f.new_vreg();
        let by_zero = self.f.new_label();
        let done = self.f.new_label();
        self.jump_if_zero(b, by_zero);
        self.emit(Inst::Alu {
            op: alu,
            dst: r,
            a,
            b: Operand::Reg(b),
        });
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(by_zero));
        self.emit(Inst::ColdStart);
        self.send(divide_by_zero_warning(span), &[], &[]);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Const(r, 1));
        self.emit(Inst::Label(done));
        r
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
            signed: true,
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
        let (x, y) = (*x, *y);
        Ok(self.equality(equal, |l, differ| l.compare_strings(x, y, len, differ)))
    }

    /// The result of `==` (`equal`) or `!=` over two values that `compare` walks, branching
    /// to the label it is given at the first difference: 1 or 0, unsigned.
    pub(super) fn equality(
        &mut self,
        equal: bool,
        compare: impl FnOnce(&mut Self, crate::ir::Label),
    ) -> Val {
        let r = self.f.new_vreg();
        let differ = self.f.new_label();
        let done = self.f.new_label();
        compare(self, differ);
        self.emit(Inst::Const(r, equal as u64));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(differ));
        self.emit(Inst::Const(r, !equal as u64));
        self.emit(Inst::Label(done));
        Val::Int {
            reg: r,
            signed: false,
        }
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
            ValueType::Int { .. } | ValueType::Bool | ValueType::Pointer => {
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
        match (&ty.base, ty.pointers, ty.array) {
            (TypeBase::Builtin(name), 0, None) if name == "bool" => return self.bool_cast(inner),
            (TypeBase::Builtin(name), 0, None) if name == "string" => {
                return match self.expr(inner)? {
                    v @ Val::Mem {
                        ty: ValueType::Str { .. },
                        ..
                    } => Ok(v),
                    _ => Err(Diagnostic::error(
                        "cannot cast this value to `string`",
                        ty.span,
                        "not a string",
                    )),
                };
            }
            (TypeBase::Builtin(name), 0, None)
                if matches!(name.as_str(), "buffer" | "inet" | "void") =>
            {
                return Err(Diagnostic::error(
                    format!("cannot cast this value to `{name}`"),
                    ty.span,
                    "not a cast bpftrace allows",
                ));
            }
            (TypeBase::Builtin(_), 0, Some(_)) => return self.array_cast(ty, inner),
            (TypeBase::Builtin(name), 0, None)
                if matches!(self.type_of(inner), ValueType::Array { .. }) =>
            {
                let array = self.expr(inner)?;
                let size = int_cast_bits(name) / 8;
                return self.array_to_int(array, size, name.starts_with("int"), ty.span);
            }
            _ => {}
        }
        // A negative literal is the smallest signed type that holds it (`-1` is an `int8`),
        // and an integer becomes a pointer zero-extended from its width, as the current
        // release's `inttoptr` does: `(uint8*)-1` is 0xff.
        if let (p, None, Some(Ok(Literal::Negative(n)))) = (ty.pointers, ty.array, fold(inner)) {
            if p > 0 {
                let bits = negative_literal_bits(n);
                let value = if bits >= 64 {
                    n as u64
                } else {
                    n as u64 & ((1u64 << bits) - 1)
                };
                return Ok(Val::Int {
                    reg: self.const_reg(value),
                    signed: false,
                });
            }
        }
        let (v, _) = self.int(inner)?;
        match (&ty.base, ty.pointers, ty.array) {
            (TypeBase::Builtin(name), 0, None) => {
                let signed = name.starts_with("int");
                let bits = int_cast_bits(name);
                if bits >= 64 {
                    return Ok(Val::Int { reg: v, signed });
                }
                Ok(Val::Int {
                    reg: self.narrow(v, bits, signed),
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

    /// `(bool)x`: whether an integer or pointer is not zero, or a string not empty.
    fn bool_cast(&mut self, inner: &Expr) -> Lowering<Val> {
        let v = match self.expr(inner)? {
            Val::Int { reg, .. } => reg,
            Val::Mem {
                addr,
                ty: ValueType::Str { .. },
            } => {
                let first = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: first,
                    addr,
                    size: Size::B,
                    signed: false,
                });
                first
            }
            _ => {
                return Err(Diagnostic::error(
                    "cannot cast this value to `bool`",
                    inner.span,
                    "not an integer, pointer or string",
                ))
            }
        };
        Ok(match self.flag(Cond::Ne, v, Operand::Imm(0)) {
            Val::Int { reg, .. } => Val::Int { reg, signed: false },
            other => other,
        })
    }

    /// `x++`, `--x`...: `delta` is the step (a pointer's moves by its element's size).
    pub(super) fn increment(
        &mut self,
        target: &Expr,
        delta: i64,
        prefix: bool,
        span: Span,
    ) -> Lowering<Val> {
        let delta = i32::try_from(delta)
            .map_err(|_| Diagnostic::error("this pointer's step is too large", span, "here"))?;
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

/// The ALU operation of an arithmetic operator. `>>` is a logical shift whatever the
/// signedness, as in bpftrace (0.17 and the current release alike): `-1 >> 60` is 15.
/// bpftrace's run-time warning for `/` or `%` by zero, at the operation.
pub(super) fn divide_by_zero_warning(span: Span) -> crate::program::Action {
    crate::program::Action::RuntimeWarning {
        message: "Divide or modulo by 0 detected. This can lead to unexpected results. 1 is \
                  being used as the result."
            .into(),
        span,
    }
}

pub(crate) fn arithmetic(op: BinaryOp) -> Option<Alu> {
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
        BinaryOp::Shr => Alu::Rsh,
        _ => return None,
    })
}

/// The width of the smallest signed type holding a negative literal (`-128`: 8 bits).
fn negative_literal_bits(n: i64) -> u32 {
    [8u32, 16, 32]
        .into_iter()
        .find(|&b| n >= -(1i64 << (b - 1)))
        .unwrap_or(64)
}

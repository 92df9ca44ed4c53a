//! Reading kernel-typed memory: member chains (`a->b.c`), `*p` and `p[i]` become an address
//! computed from the innermost pointer plus constant offsets, then one
//! bpf_probe_read_kernel (or _user) of the bytes the value needs. The layouts come from
//! `Expr::kernel`, which the resolver filled in from BTF.

use super::Lowering;
use super::{ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper, Size};
use crate::ir::{Addr, Inst, Operand, VReg};
use crate::program::{EnumNames, ValueType};
use crate::types::{KernelAccess, KernelValue};

/// An address in kernel or user memory: a register plus a constant offset.
struct Place {
    base: VReg,
    offset: i32,
}

impl ProbeLowerer<'_, '_> {
    /// The value of an expression the resolver typed from BTF.
    pub(super) fn kernel_value(&mut self, e: &Expr, access: &KernelAccess) -> Lowering<Val> {
        let (value, user) = match access {
            KernelAccess::Const(v) => {
                return Ok(Val::Int {
                    reg: self.const_reg(*v),
                    signed: false,
                })
            }
            KernelAccess::Signed(v) => {
                return Ok(Val::Int {
                    reg: self.const_reg(*v as u64),
                    signed: true,
                })
            }
            KernelAccess::PointerStep {
                elem_size,
                pointer_rhs,
                back,
            } => return self.pointer_step(e, *elem_size, *pointer_rhs, *back),
            KernelAccess::Enumerator(v, names) => {
                let r = self.const_reg(*v as u64);
                return Ok(self.enum_value(r, names));
            }
            KernelAccess::EnumCast(names) => {
                let ExprKind::Cast { expr, .. } = &e.kind else {
                    unreachable!("resolve marks only casts as enum casts")
                };
                let (r, _) = self.int(expr)?;
                return Ok(self.enum_value(r, names));
            }
            KernelAccess::Member { value, user, .. }
            | KernelAccess::Deref { value, user }
            | KernelAccess::Index { value, user, .. } => (value.clone(), *user),
        };
        let place = self.place(e)?;
        let read = if user {
            Helper::ProbeReadUser
        } else {
            Helper::ProbeReadKernel
        };
        match value {
            KernelValue::Int { size, signed } => {
                let bitfield = match access {
                    KernelAccess::Member { bitfield, .. } => *bitfield,
                    _ => None,
                };
                // A bitfield is read in the smallest load that covers it.
                let bytes = match bitfield {
                    Some((shift, width)) => [1, 2, 4, 8]
                        .into_iter()
                        .find(|b| b * 8 >= shift + width)
                        .unwrap_or(8),
                    None => size,
                };
                let r = self.read_int(&place, bytes, signed && bitfield.is_none(), read)?;
                // Zero-extended whatever its type, as the current release reads bitfields
                // (`short b:8` holding 217 reads 217).
                let r = match bitfield {
                    Some((shift, width)) => {
                        let up = self.alu(Alu::Lsh, r, Operand::Imm((64 - shift - width) as i32));
                        self.alu(Alu::Rsh, up, Operand::Imm((64 - width) as i32))
                    }
                    None => r,
                };
                Ok(Val::Int { reg: r, signed })
            }
            KernelValue::Pointer => Ok(Val::Int {
                reg: self.read_int(&place, 8, false, read)?,
                // bpftrace 0.17 prints a pointer's value as a signed number.
                signed: true,
            }),
            KernelValue::Str { len } => {
                let src = self.place_address(&place);
                Ok(self.read_char_array(read, src, len))
            }
            KernelValue::Array(ty) | KernelValue::Struct(ty) => {
                let src = self.place_address(&place);
                Ok(self.read_to_slot(read, src, ty.clone(), ty.size().max(8)))
            }
            KernelValue::Enum(names) => {
                let bitfield = match access {
                    KernelAccess::Member { bitfield, .. } => *bitfield,
                    _ => None,
                };
                if bitfield.is_some() {
                    return Err(self.unsupported("an enum bitfield", e.span));
                }
                let r = self.read_int(&place, names.size, names.signed, read)?;
                Ok(self.enum_value(r, &names))
            }
            KernelValue::Float { what } => Err(crate::machine::ctype::float_read(&what, e.span)),
            KernelValue::Aggregate { what } => Err(Diagnostic::error(
                format!("a whole {what} cannot be used as a value"),
                e.span,
                "read one of its members instead",
            )
            .with_note(
                "structs of up to 1024 bytes are copied whole, when every member is an \
                 integer, enum, pointer, string, array or such a struct",
            )),
        }
    }

    /// An enum's value in a slot of its own, 8 bytes wide, printed by `names`.
    pub(super) fn enum_value(&mut self, value: VReg, names: &EnumNames) -> Val {
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(value));
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::Enum(names.held()),
        }
    }

    /// `&e` of a kernel-typed member, deref or index: its address, computed as its read would
    /// compute it, and nothing read. `None` when `e` is not such a place.
    pub(super) fn typed_address_of(&mut self, e: &Expr) -> Option<Lowering<Val>> {
        if !matches!(
            e.kernel.as_deref(),
            Some(
                KernelAccess::Member { .. }
                    | KernelAccess::Deref { .. }
                    | KernelAccess::Index { .. }
            )
        ) {
            return None;
        }
        Some(self.place(e).map(|place| Val::Int {
            reg: self.place_address(&place),
            // A pointer's value, printed as bpftrace 0.17 prints pointers (see `read_int`'s).
            signed: true,
        }))
    }

    /// Where a kernel-typed member, deref or index expression lives.
    fn place(&mut self, e: &Expr) -> Lowering<Place> {
        match (&e.kind, e.kernel.as_deref().cloned()) {
            (
                ExprKind::Field { expr, .. },
                Some(KernelAccess::Member {
                    offset,
                    through_pointer,
                    ..
                }),
            ) => {
                let base = self.base(expr, through_pointer)?;
                Ok(Place {
                    base: base.base,
                    offset: base.offset + offset as i32,
                })
            }
            (
                ExprKind::Unary {
                    op: UnaryOp::Deref,
                    expr,
                },
                Some(KernelAccess::Deref { .. }),
            ) => self.base(expr, true),
            (
                ExprKind::Index { expr, index },
                Some(KernelAccess::Index {
                    elem_size,
                    through_pointer,
                    len,
                    ..
                }),
            ) => {
                let base = self.base(expr, through_pointer)?;
                if let ExprKind::Int(i) = index.kind {
                    return Ok(Place {
                        base: base.base,
                        offset: base.offset + (i as i32).wrapping_mul(elem_size as i32),
                    });
                }
                let (i, _) = self.int(index)?;
                if let Some(len) = len {
                    // As bpftrace: a warning at the index, and the read goes ahead.
                    self.warn_if_out_of_bounds(i, len, e.span);
                }
                let scaled = self.alu(Alu::Mul, i, Operand::Imm(elem_size as i32));
                let at = self.alu(Alu::Add, scaled, Operand::Reg(base.base));
                Ok(Place {
                    base: at,
                    offset: base.offset,
                })
            }
            _ => Err(Diagnostic::error(
                "this has no address in memory",
                e.span,
                "not a member, `*p` or `p[i]`",
            )),
        }
    }

    /// bpftrace's run-time warning when an index that is not a constant is past the end.
    pub(super) fn warn_if_out_of_bounds(&mut self, index: VReg, len: u32, span: crate::span::Span) {
        let inside = self.f.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Lt,
            a: index,
            b: Operand::Imm(len as i32),
            then: inside,
        });
        self.send(super::array::out_of_bounds_warning(span), &[], &[]);
        self.emit(Inst::Label(inside));
    }

    /// `p + n`, `n + p`, `p - n`: the pointer moved by `n` elements; `p++`, `p--`: by one.
    fn pointer_step(
        &mut self,
        e: &Expr,
        elem_size: u32,
        pointer_rhs: bool,
        back: bool,
    ) -> Lowering<Val> {
        let (lhs, rhs) = match &e.kind {
            ExprKind::Binary { lhs, rhs, .. } => (lhs, rhs),
            ExprKind::Update {
                target,
                increment,
                prefix,
            } => {
                let step = elem_size as i64;
                return self.increment(
                    target,
                    if *increment { step } else { -step },
                    *prefix,
                    e.span,
                );
            }
            _ => unreachable!("resolve steps pointers only in `+`, `-`, `++` and `--`"),
        };
        let (a, _) = self.int(lhs)?;
        let (b, _) = self.int(rhs)?;
        let (pointer, count) = if pointer_rhs { (b, a) } else { (a, b) };
        let scaled = self.alu(Alu::Mul, count, Operand::Imm(elem_size as i32));
        let op = if back { Alu::Sub } else { Alu::Add };
        Ok(Val::Int {
            reg: self.alu(op, pointer, Operand::Reg(scaled)),
            signed: true,
        })
    }

    /// The address `.`/`->`/`[]` start from: a pointer's value, or the place of a struct or
    /// array that is itself a member.
    fn base(&mut self, e: &Expr, through_pointer: bool) -> Lowering<Place> {
        if through_pointer {
            let (reg, _) = self.int(e)?;
            Ok(Place {
                base: reg,
                offset: 0,
            })
        } else {
            self.place(e)
        }
    }

    fn place_address(&mut self, place: &Place) -> VReg {
        if place.offset == 0 {
            place.base
        } else {
            self.alu(Alu::Add, place.base, Operand::Imm(place.offset))
        }
    }

    /// `bytes` (1, 2, 4 or 8) read from `place`, widened to 64 bits.
    fn read_int(
        &mut self,
        place: &Place,
        bytes: u32,
        signed: bool,
        read: Helper,
    ) -> Lowering<VReg> {
        let slot = self.f.new_slot(8);
        let dst = self.slot_addr(slot, 0);
        let src = self.place_address(place);
        self.emit(Inst::Call {
            helper: read,
            args: vec![
                Operand::Reg(dst),
                Operand::Imm(bytes as i32),
                Operand::Reg(src),
            ],
            ret: None,
        });
        let r = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: r,
            addr: Addr::Slot(slot, 0),
            size: Size::from_bytes(bytes).unwrap_or(Size::DW),
            signed,
        });
        Ok(r)
    }
}

//! Arrays the script holds in memory (a tracepoint's `__u8 daddr[4]`, a struct's `int x[4]`
//! copied whole, a map's array value): reading one element, its index checked against the
//! length at compile time when it is a constant and at run time otherwise.

use super::memory::offset;
use super::{Lowering, ProbeLowerer, Val};
use crate::ast::{ArraySize, Expr, ExprKind, TypeName};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond};
use crate::ir::{Addr, Inst, Operand};
use crate::program::{Action, ValueType};
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `a[i]` of an array value: a constant index checked against the length now, another
    /// at run time (bpftrace's warning, then element 0, since a program may not read past
    /// the value it holds).
    pub(super) fn array_index(&mut self, array: &Expr, index: &Expr, span: Span) -> Lowering<Val> {
        let Val::Mem {
            addr,
            ty: ValueType::Array { elem, len },
        } = self.expr(array)?
        else {
            return Err(self.unsupported("indexing this value", span));
        };
        if let ExprKind::Int(i) = index.kind {
            if i >= u64::from(len) {
                return Err(crate::resolve::kernel_types::out_of_bounds(
                    i, len, index.span,
                ));
            }
            let at = offset(addr, (i as u32 * elem.size()) as i32);
            return Ok(self.load_value(at, &elem));
        }
        let (i, _) = self.int(index)?;
        let i = self.alu(Alu::Add, i, Operand::Imm(0));
        let inside = self.f.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Lt,
            a: i,
            b: Operand::Imm(len as i32),
            then: inside,
        });
        self.send(out_of_bounds_warning(span), &[], &[]);
        self.emit(Inst::Const(i, 0));
        self.emit(Inst::Label(inside));
        let scaled = self.alu(Alu::Mul, i, Operand::Imm(elem.size() as i32));
        let base = self.address_of(addr);
        let at = self.alu(Alu::Add, base, Operand::Reg(scaled));
        Ok(self.load_value(Addr::Ptr(at, 0), &elem))
    }

    /// `a == b` / `a != b` of two arrays of one type: element by element.
    pub(super) fn array_equality(&mut self, equal: bool, lhs: &Expr, rhs: &Expr) -> Lowering<Val> {
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        let (Val::Mem { addr: x, ty: tx }, Val::Mem { addr: y, ty: ty_y }) = (&a, &b) else {
            return Err(Diagnostic::error(
                "cannot compare an array with a number",
                lhs.span.to(rhs.span),
                "mismatched comparison",
            ));
        };
        let ValueType::Array { elem, len } = tx else {
            unreachable!("array_equality is called for arrays")
        };
        if tx != ty_y || !matches!(**elem, ValueType::Int { .. } | ValueType::Bool) {
            return Err(Diagnostic::error(
                "only arrays of one integer type and length compare",
                lhs.span.to(rhs.span),
                "different array types",
            ));
        }
        let step = elem.size() as i32;
        let (x, y, len, elem) = (*x, *y, *len, elem.clone());
        Ok(self.equality(equal, |l, differ| {
            for i in 0..len as i32 {
                let Val::Int { reg: p, .. } = l.load_value(offset(x, i * step), &elem) else {
                    unreachable!("integer elements load into registers")
                };
                let Val::Int { reg: q, .. } = l.load_value(offset(y, i * step), &elem) else {
                    unreachable!("integer elements load into registers")
                };
                l.emit(Inst::Branch {
                    cond: Cond::Ne,
                    a: p,
                    b: Operand::Reg(q),
                    then: differ,
                });
            }
        }))
    }

    /// `(int8[8])x`, `(bool[2])(uint16)1`, `(int8[])"abc"`: the bytes of an integer (little
    /// endian, as this machine stores it) or of a string, seen as an array.
    pub(super) fn array_cast(&mut self, ty: &TypeName, inner: &Expr) -> Lowering<Val> {
        let from = self.type_of(inner);
        let Some(to) = array_cast_type(ty, &from) else {
            return Err(Diagnostic::error(
                "cannot cast this value to that array",
                ty.span,
                "sizes or element types do not fit",
            )
            .with_help("an integer fits an array of at most its size, a string one of its size"));
        };
        let size = to.size();
        let slot = self.f.new_slot(size.max(8));
        match self.expr(inner)? {
            Val::Int { reg, .. } => self.store_u64(Addr::Slot(slot, 0), Operand::Reg(reg)),
            Val::Mem { addr, ty } if ty.size() == size => {
                self.copy(Addr::Slot(slot, 0), addr, size)
            }
            _ => {
                return Err(Diagnostic::error(
                    "cannot cast this value to an array",
                    inner.span,
                    "not an integer or a string of the array's size",
                ))
            }
        }
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: to,
        })
    }

    /// `(uint32)a` of an integer array of 4 bytes: its bytes as one integer.
    pub(super) fn array_to_int(
        &mut self,
        array: Val,
        size: u32,
        signed: bool,
        span: Span,
    ) -> Lowering<Val> {
        match array {
            Val::Mem { addr, ty } if ty.size() == size => {
                Ok(self.load_value(addr, &ValueType::Int { size, signed }))
            }
            _ => Err(Diagnostic::error(
                format!("an array casts only to an integer of its size ({size} bytes here)"),
                span,
                "sizes differ",
            )),
        }
    }
}

/// bpftrace's run-time warning for an index past an array's end, at the access.
pub(super) fn out_of_bounds_warning(span: Span) -> Action {
    Action::RuntimeWarning {
        message: "Array access out of bounds. This can lead to unexpected results.".into(),
        span,
    }
}

/// The element type a cast names: `int8`..`uint64`, or `bool`.
fn cast_element(name: &str) -> Option<ValueType> {
    if name == "bool" {
        return Some(ValueType::Bool);
    }
    let signed = name.starts_with("int");
    let bits: u32 = name
        .trim_start_matches('u')
        .strip_prefix("int")?
        .parse()
        .ok()?;
    matches!(bits, 8 | 16 | 32 | 64).then_some(ValueType::Int {
        size: bits / 8,
        signed,
    })
}

/// The array type `(T[N])x` or `(T[])x` gives a value of type `from`, as the current release
/// allows it: an integer into at most its size (`(int8[8])1`), a string into exactly its size.
pub(super) fn array_cast_type(ty: &TypeName, from: &ValueType) -> Option<ValueType> {
    let crate::ast::TypeBase::Builtin(name) = &ty.base else {
        return None;
    };
    if ty.pointers > 0 {
        return None;
    }
    let elem = cast_element(name)?;
    let (from_size, integer) = match from {
        ValueType::Int { size, .. } => (*size, true),
        ValueType::Bool => (1, true),
        ValueType::Str { len, .. } => (*len, false),
        _ => return None,
    };
    let len = match ty.array? {
        ArraySize::Fixed(n) => u32::try_from(n).ok()?,
        ArraySize::Inferred if from_size % elem.size() == 0 => from_size / elem.size(),
        ArraySize::Inferred => return None,
    };
    let size = elem.size().checked_mul(len)?;
    let fits = if integer {
        size == from_size || (size <= 8 && size > from_size)
    } else {
        size == from_size
    };
    (fits && len > 0).then(|| ValueType::Array {
        elem: Box::new(elem),
        len,
    })
}

//! C structs the script holds whole (`$s = *(struct Foo *)arg0`, a map's struct value, an
//! element of an array of structs): reading one field from the bytes, a bitfield shifted and
//! masked out as the kernel-typed read does it.

use super::memory::offset;
use super::{Lowering, ProbeLowerer, Val};
use crate::ast::{Expr, Ident};
use crate::diagnostic::{nearest, Diagnostic};
use crate::insn::{Alu, Size};
use crate::ir::{Inst, Operand};
use crate::program::{StructField, ValueType};
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `s.field` of a struct value.
    pub(super) fn struct_field(&mut self, base: &Expr, field: &Ident, span: Span) -> Lowering<Val> {
        let Val::Mem {
            addr,
            ty: ValueType::Struct(layout),
        } = self.expr(base)?
        else {
            return Err(self.unsupported("field access on this value", span));
        };
        let Some(f) = layout.fields.iter().find(|f| f.name == field.name) else {
            let mut d = Diagnostic::error(
                format!("this struct has no field `{}`", field.name),
                field.span,
                "unknown field",
            );
            if let Some(s) = nearest(&field.name, layout.fields.iter().map(|f| f.name.as_str())) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            return Err(d);
        };
        let at = offset(addr, f.offset as i32);
        match f.bitfield {
            None => Ok(self.load_value(at, &f.ty)),
            Some((shift, width)) => Ok(self.bitfield(at, f, shift, width)),
        }
    }

    /// A bitfield `width` bits wide, `shift` bits into the bytes at `at`: the smallest load
    /// that covers it, shifted up to drop the bits above and down to drop those below. Zero-
    /// extended whatever its type, as the current release reads bitfields.
    fn bitfield(&mut self, at: crate::ir::Addr, f: &StructField, shift: u32, width: u32) -> Val {
        let signed = matches!(f.ty, ValueType::Int { signed: true, .. });
        let bytes = [1, 2, 4, 8]
            .into_iter()
            .find(|b| b * 8 >= shift + width)
            .unwrap_or(8);
        let r = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: r,
            addr: at,
            size: Size::from_bytes(bytes).unwrap_or(Size::DW),
            signed: false,
        });
        let up = self.alu(Alu::Lsh, r, Operand::Imm((64 - shift - width) as i32));
        let v = self.alu(Alu::Rsh, up, Operand::Imm((64 - width) as i32));
        match &f.ty {
            ValueType::Enum(names) => self.enum_value(v, names),
            _ => Val::Int { reg: v, signed },
        }
    }
}

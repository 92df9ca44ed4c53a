//! Builtins whose value is known when compiling and only needs a place in memory: `pton`'s
//! address bytes.

use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::check::address::address_bytes;
use crate::diagnostic::Diagnostic;
use crate::ir::{Addr, Operand};
use crate::program::ValueType;
use crate::span::Span;

/// The type of `pton(text)`: `uint8[4]` or `uint8[16]`, by the address the text holds.
pub(super) fn address_type(args: &[Expr]) -> Option<ValueType> {
    let ExprKind::Str(text) = &args.first()?.kind else {
        return None;
    };
    let len = address_bytes(text)?.len() as u32;
    Some(ValueType::Array {
        elem: Box::new(ValueType::Int {
            size: 1,
            signed: false,
        }),
        len,
    })
}

impl ProbeLowerer<'_, '_> {
    /// `pton("127.0.0.1")`: the address's bytes, in network order, stored in a slot.
    pub(super) fn pton_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let bytes = match args.first().map(|a| &a.kind) {
            Some(ExprKind::Str(text)) => address_bytes(text),
            _ => None,
        }
        .ok_or_else(|| {
            Diagnostic::error(
                "pton() expects a valid IPv4/IPv6 address",
                span,
                "not an address",
            )
        })?;
        let ty = address_type(args).ok_or_else(|| self.unsupported("this `pton`", span))?;
        let slot = self.f.new_slot(bytes.len() as u32);
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let word = u32::from_le_bytes(chunk.try_into().expect("4-byte chunks"));
            self.emit(crate::ir::Inst::Store {
                addr: Addr::Slot(slot, i as i32 * 4),
                value: Operand::Imm(word as i32),
                size: crate::insn::Size::W,
            });
        }
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        })
    }
}

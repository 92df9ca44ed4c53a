//! Builtins that ask a map a question in the probe: `has_key`, `len` (of a stack too).

use super::super::Lowering;
use super::super::{map_parts, ProbeLowerer, Val};
use crate::ast::Expr;
use crate::diagnostic::Diagnostic;
use crate::insn::Cond;
use crate::ir::Operand;
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `has_key(@m, k...)`: whether the lookup finds the key.
    pub(super) fn has_key(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
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
        let id = self
            .shared
            .maps
            .lookup(&map.name)
            .ok_or_else(|| Diagnostic::error("unknown map", map.span, "never assigned"))?;
        let key = self.build_key(id, &keys, None)?;
        let found = self.lookup(id, key);
        Ok(self.flag(Cond::Ne, found, Operand::Imm(0)))
    }

    /// `len(@m)`: its number of entries; `len(kstack)`, `len($s)`: a stack's frames.
    pub(super) fn len(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [m] = args else {
            return Err(Diagnostic::error("`len` takes one map", span, "here"));
        };
        if let Some(frames) = self.stack_len(m) {
            return frames;
        }
        let n = self.map_len(m)?;
        Ok(Val::Int {
            reg: n,
            signed: true,
        })
    }
}

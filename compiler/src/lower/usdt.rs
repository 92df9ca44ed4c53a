//! A usdt probe's `argN`: the site's argument spec (`resolve::usdt_arg`) turned into a load
//! from the probe's registers (`struct pt_regs`, the uprobe context), a constant, or a read of
//! the traced process's memory. Each value is extended to 64 bits by its size and sign, and is
//! a signed integer, as in bpftrace.

use super::Lowering;
use super::{ProbeLowerer, Val};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Helper, Size};
use crate::ir::{Addr, Inst, Operand};
use crate::probe::Target;
use crate::resolve::usdt_arg::{self, ArgLocation};
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `argN` of this program's usdt site (usdt probes get one program per site).
    pub(super) fn usdt_arg(&mut self, n: usize, span: Span) -> Lowering<Val> {
        let Some(Target::Usdt(site)) = self.probe.targets.first() else {
            return Err(self.unsupported("`argN` of a usdt probe without its site", span));
        };
        let target = Target::Usdt(site.clone());
        let specs = usdt_arg::split(&site.args);
        let Some(spec) = specs.get(n) else {
            let count = match specs.len() {
                0 => "no arguments".to_string(),
                1 => "1 argument".to_string(),
                k => format!("{k} arguments"),
            };
            return Err(Diagnostic::error(
                format!("`arg{n}` does not exist: {target} has {count}"),
                span,
                "no such argument",
            ));
        };
        let arg = usdt_arg::decode(spec).map_err(|why| {
            Diagnostic::error(
                format!("cannot read `arg{n}` of {target}: its spec `{spec}` is not supported"),
                span,
                "this argument",
            )
            .with_note(format!("`{spec}`: {why}"))
        })?;
        let size = Size::from_bytes(arg.size).unwrap_or(Size::DW);
        let reg = match arg.location {
            ArgLocation::Register { pt_regs_offset } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Ptr(self.ctx, pt_regs_offset),
                    size,
                    signed: arg.signed,
                });
                r
            }
            ArgLocation::Constant(value) => self.const_reg(extend(value, arg.size, arg.signed)),
            ArgLocation::Memory {
                base_pt_regs_offset,
                displacement,
                index,
            } => {
                let base = self.load_u64(Addr::Ptr(self.ctx, base_pt_regs_offset));
                let offset = self.const_reg(displacement as u64);
                let mut address = self.alu(Alu::Add, base, Operand::Reg(offset));
                if let Some((index_offset, scale)) = index {
                    let index = self.load_u64(Addr::Ptr(self.ctx, index_offset));
                    let scaled =
                        self.alu(Alu::Lsh, index, Operand::Imm(scale.trailing_zeros() as i32));
                    address = self.alu(Alu::Add, address, Operand::Reg(scaled));
                }
                // A failed read leaves the zeroed slot: the argument reads as 0.
                let slot = self.f.new_slot(8);
                self.zero(Addr::Slot(slot, 0), 8);
                let dst = self.slot_addr(slot, 0);
                self.emit(Inst::Call {
                    helper: Helper::ProbeReadUser,
                    args: vec![
                        Operand::Reg(dst),
                        Operand::Imm(arg.size as i32),
                        Operand::Reg(address),
                    ],
                    ret: None,
                });
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Slot(slot, 0),
                    size,
                    signed: arg.signed,
                });
                r
            }
        };
        Ok(Val::Int { reg, signed: true })
    }
}

/// A constant as `size` bytes, sign- or zero-extended to 64 bits.
fn extend(value: i64, size: u32, signed: bool) -> u64 {
    let bits = 8 * size.min(8);
    if bits == 64 {
        return value as u64;
    }
    let shift = 64 - bits;
    if signed {
        ((value << shift) >> shift) as u64
    } else {
        ((value as u64) << shift) >> shift
    }
}

#[cfg(test)]
mod tests {
    use super::extend;

    #[test]
    fn constants_take_their_size_and_sign() {
        assert_eq!(extend(-3, 4, true) as i64, -3);
        assert_eq!(extend(-3, 4, false), 0xffff_fffd);
        assert_eq!(extend(200, 1, false), 200);
        assert_eq!(extend(200, 1, true) as i64, -56);
        assert_eq!(extend(0x1_0000_0005, 4, true), 5);
        assert_eq!(extend(-16, 8, false) as i64, -16);
    }
}

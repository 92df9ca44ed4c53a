//! Calls whose values the kernel side only collects and user space formats: `strftime`,
//! `ntop`, `macaddr` and `buf` (and `==` of two bufs). Each builds its value (layout in `program::ValueType`) in a
//! stack slot of its own and returns it as memory.

use super::buf_len;
use super::memory::offset;
use super::Lowering;
use super::{ProbeLowerer, Val};
use crate::ast::Expr;
use crate::diagnostic::Diagnostic;
use crate::insn::{Cond, Helper};
use crate::ir::{Addr, Inst, Operand, VReg};
use crate::program::ValueType;
use crate::span::Span;

/// Linux's address family numbers, which is what bpftrace's `ntop` takes.
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

impl ProbeLowerer<'_, '_> {
    /// `strftime(format, nsecs)`: only the nanoseconds are recorded.
    pub(super) fn strftime_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [format, nsecs] = args else {
            return Err(Diagnostic::error(
                "`strftime` takes a format and a timestamp",
                span,
                "here",
            ));
        };
        let format = self.format_string(format, "strftime")?.to_string();
        let (reg, _) = self.int(nsecs)?;
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(reg));
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::Timestamp { format },
        })
    }

    /// `ntop([af,] addr)`: an integer address is stored as its 8 little-endian bytes (so
    /// `ntop(0x0100007f)` is 127.0.0.1, and `ntop(10, 1)` is `100::` as in bpftrace); a byte
    /// array is copied. Without `af`, integers and 4-byte arrays are IPv4, 16-byte arrays IPv6.
    pub(super) fn ntop_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let (family, addr) = match args {
            [addr] => (None, addr),
            [family, addr] => (Some(family), addr),
            _ => {
                return Err(Diagnostic::error(
                    "`ntop` takes an optional address family and an address",
                    span,
                    "here",
                ))
            }
        };
        let family = match family {
            Some(f) => Some(self.int(f)?.0),
            None => None,
        };
        let slot = self.f.new_slot(ValueType::Inet.size());
        self.zero(Addr::Slot(slot, 0), ValueType::Inet.size());
        let default_family = match self.expr(addr)? {
            Val::Int { reg, .. } => {
                self.store_u64(Addr::Slot(slot, 8), Operand::Reg(reg));
                AF_INET
            }
            Val::Mem { addr: src, ty } if matches!(ty.size(), 4 | 16) => {
                self.copy(Addr::Slot(slot, 8), src, ty.size());
                if ty.size() == 4 {
                    AF_INET
                } else {
                    AF_INET6
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    "`ntop` needs an integer or a 4- or 16-byte array",
                    addr.span,
                    "not an address",
                ))
            }
        };
        let family: VReg = match family {
            Some(r) => r,
            None => self.const_reg(default_family),
        };
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(family));
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::Inet,
        })
    }

    /// `macaddr(addr)`: 6 bytes, read through a pointer or copied from a 6-byte array.
    pub(super) fn macaddr_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let [addr] = args else {
            return Err(Diagnostic::error(
                "`macaddr` takes one address",
                span,
                "here",
            ));
        };
        let v = self.expr(addr)?;
        self.read_bytes(v, 6, ValueType::MacAddr, addr.span, "macaddr")
    }

    /// `buf(p, n)` with a literal `n`: `n` bytes read through a pointer (or copied from
    /// memory the script already holds, NUL-padded).
    /// `$a == $b` of two `buf` values: equal when their lengths and every byte are (a NUL
    /// is a byte like any other); of different lengths never equal.
    pub(super) fn buf_equality(&mut self, equal: bool, lhs: &Expr, rhs: &Expr) -> Lowering<Val> {
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        let (
            Val::Mem {
                addr: x,
                ty: ValueType::Buf { len },
            },
            Val::Mem {
                addr: y,
                ty: ValueType::Buf { len: other },
            },
        ) = (a, b)
        else {
            return Err(Diagnostic::error(
                "a `buf` compares only with another `buf`",
                lhs.span.to(rhs.span),
                "mismatched comparison",
            ));
        };
        Ok(self.equality(equal, |l, differ| {
            if len != other {
                l.emit(Inst::Jump(differ));
                return;
            }
            for i in 0..len as i32 {
                let p = l.load_u8(offset(x, i));
                let q = l.load_u8(offset(y, i));
                l.emit(Inst::Branch {
                    cond: Cond::Ne,
                    a: p,
                    b: Operand::Reg(q),
                    then: differ,
                });
            }
        }))
    }

    pub(super) fn buf_call(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let Some(first) = args.first() else {
            return Err(Diagnostic::error(
                "`buf` needs an address",
                span,
                "missing argument",
            ));
        };
        let v = self.expr(first)?;
        let len = match (buf_len(args.get(1), self.shared.options.max_strlen), &v) {
            (Some(len), _) => len,
            // `buf(s.arr)`: the whole array the script holds.
            (
                None,
                Val::Mem {
                    ty: ty @ ValueType::Array { .. },
                    ..
                },
            ) if args.len() == 1 => ty.size(),
            _ => return Err(self.unsupported("`buf` without a literal length", span)),
        };
        self.read_bytes(v, len, ValueType::Buf { len }, first.span, "buf")
    }

    /// `len` bytes from `v` into a fresh slot typed `ty`: through a pointer with
    /// bpf_probe_read (user or kernel memory alike on this architecture; the kernel zeroes
    /// the destination when the read fails, which bpftrace prints as zeros), or copied from
    /// memory.
    fn read_bytes(
        &mut self,
        v: Val,
        len: u32,
        ty: ValueType,
        at: Span,
        what: &str,
    ) -> Lowering<Val> {
        // At least one byte: a zero-sized stack slot cannot be addressed.
        let slot = self.f.new_slot(len.max(1));
        self.zero(Addr::Slot(slot, 0), len.max(1));
        match v {
            Val::Int { reg, .. } if len > 0 => {
                let dst = self.slot_addr(slot, 0);
                self.emit(Inst::Call {
                    helper: Helper::ProbeRead,
                    args: vec![
                        Operand::Reg(dst),
                        Operand::Imm(len as i32),
                        Operand::Reg(reg),
                    ],
                    ret: None,
                });
            }
            Val::Int { .. } => {}
            // A buffer takes memory of any size (cut or NUL-padded); others exactly `len`.
            Val::Mem { addr, ty: src }
                if matches!(ty, ValueType::Buf { .. }) || src.size() == len =>
            {
                self.copy(Addr::Slot(slot, 0), addr, src.size().min(len));
            }
            Val::Mem { .. } => {
                return Err(Diagnostic::error(
                    format!("{what}() argument must be {len} bytes in size"),
                    at,
                    "wrong size",
                ))
            }
            Val::Void => {
                return Err(Diagnostic::error(
                    format!("`{what}` needs a value"),
                    at,
                    "this returns nothing",
                ))
            }
        }
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        })
    }
}

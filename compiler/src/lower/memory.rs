//! Byte-level work the BPF code does on strings and tuples: zeroing a buffer, copying one
//! into another (truncating or NUL-padding), comparing two strings, reading a char array from
//! kernel or user memory, and one character of a string. All sizes are known when compiling,
//! so the loops are unrolled (searching one string in another is `search`).

use super::{Lowering, ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::Alu;
use crate::insn::{Cond, Helper, Size};
use crate::ir::{Addr, Inst, Label, Operand, VReg};
use crate::program::{EnumNames, ValueType};

pub(super) fn offset(addr: Addr, by: i32) -> Addr {
    match addr {
        Addr::Slot(s, o) => Addr::Slot(s, o + by),
        Addr::Ptr(p, o) => Addr::Ptr(p, o + by),
    }
}

/// The offset an address adds to its (8-byte aligned) base: a slot or a pointer to a map value
/// or ring-buffer record.
fn base_offset(addr: Addr) -> i32 {
    match addr {
        Addr::Slot(_, o) | Addr::Ptr(_, o) => o,
    }
}

/// The widest access that fits `remaining` bytes and is aligned at every one of `offsets`
/// (the verifier refuses misaligned stack access).
fn chunk(remaining: u32, offsets: &[i32]) -> Size {
    for size in [Size::DW, Size::W, Size::H] {
        let n = size.bytes();
        if remaining >= n && offsets.iter().all(|o| o.rem_euclid(n as i32) == 0) {
            return size;
        }
    }
    Size::B
}

impl ProbeLowerer<'_, '_> {
    /// Writes `len` zero bytes at `addr`.
    pub fn zero(&mut self, addr: Addr, len: u32) {
        let mut at = 0;
        while at < len {
            let size = chunk(len - at, &[base_offset(addr) + at as i32]);
            self.emit(Inst::Store {
                addr: offset(addr, at as i32),
                value: Operand::Imm(0),
                size,
            });
            at += size.bytes();
        }
    }

    /// Copies `len` bytes from `src` to `dst`.
    /// Reads `len` bytes at address `src` with a probe-read `helper` into a fresh slot, as a
    /// `char[len]` string value (a tracepoint's char array, a kernel struct's `comm`).
    pub fn read_char_array(&mut self, helper: Helper, src: VReg, len: u32) -> Val {
        let slot = self.f.new_slot(len);
        let dst = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper,
            args: vec![
                Operand::Reg(dst),
                Operand::Imm(len as i32),
                Operand::Reg(src),
            ],
            ret: None,
        });
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::str(len),
        }
    }

    pub fn copy(&mut self, dst: Addr, src: Addr, len: u32) {
        let mut at = 0;
        while at < len {
            let size = chunk(
                len - at,
                &[base_offset(dst) + at as i32, base_offset(src) + at as i32],
            );
            let r = self.f.new_vreg();
            self.emit(Inst::Load {
                dst: r,
                addr: offset(src, at as i32),
                size,
                signed: false,
            });
            self.emit(Inst::Store {
                addr: offset(dst, at as i32),
                value: Operand::Reg(r),
                size,
            });
            at += size.bytes();
        }
    }

    /// Stores a value of type `ty` at `dst`, converting as needed: integers as 8 bytes,
    /// strings truncated or NUL-padded to the destination length, tuples field by field.
    pub fn store_value(&mut self, dst: Addr, ty: &ValueType, value: &Val) {
        match (ty, value) {
            (ValueType::Int { size, .. }, Val::Int { reg, .. }) => {
                let size = Size::from_bytes(*size).unwrap_or(Size::DW);
                self.emit(Inst::Store {
                    addr: dst,
                    value: Operand::Reg(*reg),
                    size,
                });
            }
            (ValueType::Pointer, Val::Int { reg, .. }) => self.emit(Inst::Store {
                addr: dst,
                value: Operand::Reg(*reg),
                size: Size::DW,
            }),
            (ValueType::Bool, Val::Int { reg, .. }) => self.emit(Inst::Store {
                addr: dst,
                value: Operand::Reg(*reg),
                size: Size::B,
            }),
            (ValueType::Str { len, cut_trailer }, Val::Mem { addr, ty: src_ty }) => {
                self.store_string(dst, *len, cut_trailer.is_some(), *addr, src_ty)
            }
            (
                ValueType::Tuple(fields),
                Val::Mem {
                    addr,
                    ty: ValueType::Tuple(src_fields),
                },
            ) => {
                let dst_offsets = ValueType::field_offsets(fields);
                let src_offsets = ValueType::field_offsets(src_fields);
                for (i, field) in fields.iter().enumerate() {
                    let src_ty = src_fields.get(i).cloned().unwrap_or(field.clone());
                    let src_at = offset(*addr, src_offsets.get(i).copied().unwrap_or(0) as i32);
                    let v = self.load_value(src_at, &src_ty);
                    self.store_value(offset(dst, dst_offsets[i] as i32), field, &v);
                }
            }
            // A record into a record of the same fields in another order (the first
            // assignment decides a variable's order): field by field, by name.
            (
                ValueType::Struct(dst_layout),
                Val::Mem {
                    addr,
                    ty: ValueType::Struct(src_layout),
                },
            ) if dst_layout != src_layout => {
                for f in &dst_layout.fields {
                    match src_layout.fields.iter().find(|s| s.name == f.name) {
                        Some(s) if s.bitfield.is_none() && f.bitfield.is_none() => {
                            let v = self.load_value(offset(*addr, s.offset as i32), &s.ty);
                            self.store_value(offset(dst, f.offset as i32), &f.ty, &v);
                        }
                        _ => self.zero(offset(dst, f.offset as i32), f.ty.size()),
                    }
                }
            }
            // An enum's integer into another width or a plain integer's place: converted.
            (ValueType::Enum(EnumNames { size, .. }), Val::Int { reg, .. }) => {
                self.emit(Inst::Store {
                    addr: dst,
                    value: Operand::Reg(*reg),
                    size: Size::from_bytes(*size).unwrap_or(Size::DW),
                });
            }
            (
                ValueType::Enum(EnumNames { size, .. }) | ValueType::Int { size, .. },
                Val::Mem {
                    addr,
                    ty: ValueType::Enum(src),
                },
            ) if ty != &ValueType::Enum(src.clone()) => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr: *addr,
                    size: Size::from_bytes(src.size).unwrap_or(Size::DW),
                    signed: src.signed,
                });
                self.emit(Inst::Store {
                    addr: dst,
                    value: Operand::Reg(r),
                    size: Size::from_bytes(*size).unwrap_or(Size::DW),
                });
            }
            // strftime, ntop, macaddr and buf values are plain bytes of a fixed layout.
            (ty, Val::Mem { addr, ty: src_ty }) if ty == src_ty => self.copy(dst, *addr, ty.size()),
            // Mismatched shapes were refused by the checker; store zeros rather than garbage.
            (ty, _) => self.zero(dst, ty.size()),
        }
    }

    /// A string of `len` bytes at `dst` from one at `addr` (of type `src_ty`), cut or padded
    /// to fit; with `marked`, the flag byte after it says whether `str()`'s read was cut.
    fn store_string(&mut self, dst: Addr, len: u32, marked: bool, addr: Addr, src_ty: &ValueType) {
        let (src_len, src_cut) = match src_ty {
            ValueType::Str {
                len, cut_trailer, ..
            } => (*len, cut_trailer.is_some()),
            other => (other.size(), false),
        };
        // Whether the read cut the string travels with it; a string that never
        // went through `str()` was not cut.
        if marked {
            if src_cut {
                let flag = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: flag,
                    addr: offset(addr, src_len as i32),
                    size: Size::B,
                    signed: false,
                });
                self.emit(Inst::Store {
                    addr: offset(dst, len as i32),
                    value: Operand::Reg(flag),
                    size: Size::B,
                });
            } else {
                self.emit(Inst::Store {
                    addr: offset(dst, len as i32),
                    value: Operand::Imm(0),
                    size: Size::B,
                });
            }
        }
        let n = src_len.min(len);
        self.copy(dst, addr, n);
        if n < len {
            self.zero(offset(dst, n as i32), len - n);
        }
        // A truncated string still ends in NUL.
        if src_len > len && len > 0 {
            self.emit(Inst::Store {
                addr: offset(dst, len as i32 - 1),
                value: Operand::Imm(0),
                size: Size::B,
            });
        }
    }

    /// A value of type `ty` stored at `addr`: integers are loaded, the rest stay in memory.
    pub fn load_value(&mut self, addr: Addr, ty: &ValueType) -> Val {
        match ty {
            ValueType::Int { size, signed } => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr,
                    size: Size::from_bytes(*size).unwrap_or(Size::DW),
                    signed: *signed,
                });
                Val::Int {
                    reg: r,
                    signed: *signed,
                }
            }
            ValueType::Pointer => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr,
                    size: Size::DW,
                    signed: false,
                });
                Val::Int {
                    reg: r,
                    signed: false,
                }
            }
            ValueType::Bool => {
                let r = self.f.new_vreg();
                self.emit(Inst::Load {
                    dst: r,
                    addr,
                    size: Size::B,
                    signed: false,
                });
                Val::Int {
                    reg: r,
                    signed: false,
                }
            }
            ty => Val::Mem {
                addr,
                ty: ty.clone(),
            },
        }
    }

    /// Jumps to `differ` unless the strings at `a` and `b` are equal up to their first NUL
    /// (or `len` bytes).
    pub fn compare_strings(&mut self, a: Addr, b: Addr, len: u32, differ: Label) {
        let equal = self.f.new_label();
        for i in 0..len as i32 {
            let x = self.f.new_vreg();
            let y = self.f.new_vreg();
            self.emit(Inst::Load {
                dst: x,
                addr: offset(a, i),
                size: Size::B,
                signed: false,
            });
            self.emit(Inst::Load {
                dst: y,
                addr: offset(b, i),
                size: Size::B,
                signed: false,
            });
            self.emit(Inst::Branch {
                cond: Cond::Ne,
                a: x,
                b: Operand::Reg(y),
                then: differ,
            });
            self.jump_if_zero(x, equal);
        }
        self.emit(Inst::Label(equal));
    }
}

impl ProbeLowerer<'_, '_> {
    /// `s[i]` of a string with a constant index inside its buffer: the character, an int8
    /// as in the current release (`"/"[0]` is 47).
    pub(super) fn string_index(&mut self, string: &Expr, index: &Expr) -> Lowering<Val> {
        let Val::Mem {
            addr,
            ty: ValueType::Str { len, .. },
        } = self.expr(string)?
        else {
            return Err(self.unsupported("indexing this value", string.span));
        };
        let char = ValueType::Int {
            size: 1,
            signed: true,
        };
        let ExprKind::Int(i) = index.kind else {
            // As in the current release the index is not checked: the byte at that distance
            // from the string's start, whatever holds it, read by the helper the verifier
            // lets reach any address (0 where nothing is mapped).
            let (i, _) = self.int(index)?;
            let base = self.address_of(addr);
            let at = self.alu(Alu::Add, base, Operand::Reg(i));
            let byte = self.read_to_slot(Helper::ProbeReadKernel, at, char.clone(), 8);
            return Ok(match byte {
                Val::Mem { addr, .. } => self.load_value(addr, &char),
                other => other,
            });
        };
        if i >= u64::from(len) {
            return Err(Diagnostic::error(
                format!("the index {i} is out of bounds for a string of {len} bytes"),
                index.span,
                "out of bounds",
            ));
        }
        Ok(self.load_value(offset(addr, i as i32), &char))
    }
}

//! Searching one string in another (`strcontains`): for each start in the haystack, the
//! needle compared byte by byte. The verifier walks a bounded loop once per iteration, so two
//! nested loops cost it the product of the two lengths. Up to `INLINE_STEPS` they are inline
//! loops; past it (two strings of the current release's 1024 bytes are a million steps) the
//! starts are the counts of a `bpf_loop`, whose callback the verifier checks once: the
//! needle's loop inside it costs the needle's length.
//!
//! The callback's record, on the probe's stack:
//!
//! | offset | contents                                  |
//! |--------|-------------------------------------------|
//! | 0      | the haystack's address                    |
//! | 8      | the needle's address                      |
//! | 16     | set to 1 when the needle is found         |

use super::{Lowering, ProbeLowerer};
use crate::insn::{Alu, Cond, Size};
use crate::ir::{Addr, Function, Inst, Label, Operand, Slot, VReg};
use crate::span::Span;

/// The most (start, needle byte) steps searched by inline loops: two strings of 64 bytes,
/// 0.17's `max_strlen`.
const INLINE_STEPS: u64 = 64 * 64;

const HAYSTACK_AT: i32 = 0;
const NEEDLE_AT: i32 = 8;
const FOUND_AT: i32 = 16;

/// The two strings: each an address and the size of its buffer.
#[derive(Clone, Copy)]
struct Strings {
    haystack: VReg,
    haystack_len: u32,
    needle: VReg,
    needle_len: u32,
}

/// Where the comparison at one start goes.
struct Outcomes {
    /// The needle ended (its NUL or its buffer) matching.
    found: Label,
    /// A byte differs: try the next start.
    differ: Label,
    /// The rest of the haystack is shorter than the needle: no later start matches.
    exhausted: Label,
}

impl ProbeLowerer<'_, '_> {
    /// 1 when the string at `needle` (up to `needle_len` bytes or its NUL) occurs in the
    /// string at `haystack` (up to `haystack_len` bytes or its NUL), else 0; an empty needle
    /// occurs everywhere. `span` is the call's, for a diagnostic.
    pub fn contains_string(
        &mut self,
        (haystack, haystack_len): (Addr, u32),
        (needle, needle_len): (Addr, u32),
        span: Span,
    ) -> Lowering<VReg> {
        let strings = Strings {
            haystack: self.address_of(haystack),
            haystack_len,
            needle: self.address_of(needle),
            needle_len,
        };
        if u64::from(haystack_len) * u64::from(needle_len) <= INLINE_STEPS {
            return Ok(self.search_inline(strings));
        }
        if self.dispatched {
            // The program is loaded by hand for a multi-uprobe link, without callbacks.
            return Err(self.not_dispatched("a search in a long string", span));
        }
        Ok(self.search_by_calls(strings))
    }

    fn search_inline(&mut self, s: Strings) -> VReg {
        let [found_slot, i_slot] = [8, 8].map(|size| self.f.new_slot(size));
        self.store_u64(Addr::Slot(found_slot, 0), Operand::Imm(0));
        self.store_u64(Addr::Slot(i_slot, 0), Operand::Imm(0));
        let [outer, next, found, done] = [(); 4].map(|_| self.f.new_label());

        self.emit(Inst::LoopStart);
        self.emit(Inst::Label(outer));
        let i = self.load_u64(Addr::Slot(i_slot, 0));
        self.branch(Cond::Ge, i, Operand::Imm(s.haystack_len as i32), done);
        let outcomes = Outcomes {
            found,
            differ: next,
            exhausted: done,
        };
        self.match_at(s, Addr::Slot(i_slot, 0), &outcomes);
        self.emit(Inst::Label(next));
        let i = self.load_u64(Addr::Slot(i_slot, 0));
        let hb = self.byte_at(s.haystack, i);
        self.jump_if_zero(hb, done);
        self.increment_u64(Addr::Slot(i_slot, 0));
        self.emit(Inst::Jump(outer));
        self.emit(Inst::LoopEnd);
        self.emit(Inst::Label(found));
        self.store_u64(Addr::Slot(found_slot, 0), Operand::Imm(1));
        self.emit(Inst::Label(done));
        self.load_u64(Addr::Slot(found_slot, 0))
    }

    /// `bpf_loop(haystack_len, callback, record)`: the callback compares the needle at its
    /// count and stops the loop when it is found or the haystack ends.
    fn search_by_calls(&mut self, s: Strings) -> VReg {
        let record = self.callback_record(24);
        self.store_u64(Addr::Slot(record, HAYSTACK_AT), Operand::Reg(s.haystack));
        self.store_u64(Addr::Slot(record, NEEDLE_AT), Operand::Reg(s.needle));
        self.store_u64(Addr::Slot(record, FOUND_AT), Operand::Imm(0));
        let callback = self.search_callback(s.haystack_len, s.needle_len);
        self.call_loop(Operand::Imm(s.haystack_len as i32), callback, record);
        self.load_u64(Addr::Slot(record, FOUND_AT))
    }

    /// The callback for one start (the count `bpf_loop` passes): 0 to go on, 1 to stop.
    fn search_callback(&mut self, haystack_len: u32, needle_len: u32) -> usize {
        let index = self.f.callbacks.len();
        let name = format!("{}_cb{index}", self.f.name);
        let (span, probe, probe_index) = (self.span, self.probe, self.index);
        let mut l = ProbeLowerer::new(&mut *self.shared, name, span, probe, probe_index);
        let [count, record] = [l.f.new_vreg(), l.f.new_vreg()];
        l.emit(Inst::Arg(count, 0));
        l.emit(Inst::Arg(record, 1));
        let s = Strings {
            haystack: l.load_u64(Addr::Ptr(record, HAYSTACK_AT)),
            haystack_len,
            needle: l.load_u64(Addr::Ptr(record, NEEDLE_AT)),
            needle_len,
        };
        let [stop, found] = [(); 2].map(|_| l.f.new_label());
        // The verifier knows nothing of the count: bound it before it indexes the haystack.
        l.branch(Cond::Ge, count, Operand::Imm(haystack_len as i32), stop);
        let start: Slot = l.f.new_slot(8);
        l.f.tracked.push(start);
        l.store_u64(Addr::Slot(start, 0), Operand::Reg(count));
        let differ = l.f.new_label();
        l.match_at(
            s,
            Addr::Slot(start, 0),
            &Outcomes {
                found,
                differ,
                exhausted: stop,
            },
        );
        // A start at the haystack's NUL was its last.
        l.emit(Inst::Label(differ));
        let i = l.load_u64(Addr::Slot(start, 0));
        let hb = l.byte_at(s.haystack, i);
        l.jump_if_zero(hb, stop);
        l.emit(Inst::Return(Operand::Imm(0)));
        l.emit(Inst::Label(found));
        l.store_u64(Addr::Ptr(record, FOUND_AT), Operand::Imm(1));
        l.emit(Inst::Label(stop));
        l.emit(Inst::Return(Operand::Imm(1)));
        l.f.remove_unreachable();
        let f: Function = l.f;
        self.f.callbacks.push(f);
        index
    }

    /// The needle compared with the haystack from the start in `start` (a slot, so that the
    /// verifier tracks it through the loop), byte by byte up to the needle's NUL or buffer.
    fn match_at(&mut self, s: Strings, start: Addr, to: &Outcomes) {
        let j_slot = self.f.new_slot(8);
        self.f.tracked.push(j_slot);
        self.store_u64(Addr::Slot(j_slot, 0), Operand::Imm(0));
        let inner = self.f.new_label();
        self.emit(Inst::LoopStart);
        self.emit(Inst::Label(inner));
        let j = self.load_u64(Addr::Slot(j_slot, 0));
        self.branch(Cond::Ge, j, Operand::Imm(s.needle_len as i32), to.found);
        let nb = self.byte_at(s.needle, j);
        self.jump_if_zero(nb, to.found);
        let i = self.load_u64(start);
        let ij = self.alu(Alu::Add, i, Operand::Reg(j));
        self.branch(
            Cond::Ge,
            ij,
            Operand::Imm(s.haystack_len as i32),
            to.exhausted,
        );
        let hb = self.byte_at(s.haystack, ij);
        self.branch(Cond::Ne, hb, Operand::Reg(nb), to.differ);
        self.increment_u64(Addr::Slot(j_slot, 0));
        self.emit(Inst::Jump(inner));
        self.emit(Inst::LoopEnd);
    }

    /// The byte at `base + index`.
    fn byte_at(&mut self, base: VReg, index: VReg) -> VReg {
        let p = self.alu(Alu::Add, base, Operand::Reg(index));
        let b = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: b,
            addr: Addr::Ptr(p, 0),
            size: Size::B,
            signed: false,
        });
        b
    }

    fn branch(&mut self, cond: Cond, a: VReg, b: Operand, then: Label) {
        self.emit(Inst::Branch { cond, a, b, then });
    }
}

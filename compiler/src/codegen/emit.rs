//! IR to BPF instructions. Operands are brought into scratch registers (r0-r5) from wherever
//! the allocator put them; jumps are fixed up once every label's position is known; every
//! instruction records the span of the statement it came from, so a verifier rejection at
//! instruction N can be shown at the user's text.

use std::collections::{HashMap, HashSet};

use super::dead_stores::without_dead_stores;
use super::dead_values::without_dead_values;
use super::fold::folded;
use super::forward::forwarded;
use super::regalloc::{allocate, Location};
use super::remat::rematerialized;
use super::slot_addresses::slot_addresses_shared;
use crate::insn::{Alu, Cond, DataSection, Helper, Insn, Reg, Size};
use crate::ir::{Addr, Function, Inst, Label, Operand, Slot, VReg};
use crate::span::Span;

/// The BPF stack limit.
pub const STACK_LIMIT: u32 = 512;

/// A function as instructions, with the relocations and spans the object and the loader need.
#[derive(Clone, Debug, Default)]
pub struct Emitted {
    pub insns: Vec<Insn>,
    /// (instruction index of an ld_imm64, map index).
    pub map_relocations: Vec<(usize, usize)>,
    /// (instruction index of an ld_imm64, index of the function's callback).
    pub func_relocations: Vec<(usize, usize)>,
    /// Instruction indexes of the ld_imm64s of the global data (`Inst::GlobalAddr`), with
    /// the section each loads from.
    pub global_relocations: Vec<(usize, DataSection)>,
    /// The span of each instruction (both halves of an ld_imm64 share one).
    pub spans: Vec<Span>,
    pub stack_size: u32,
    /// Bytes of the per-CPU scratch map this function uses for slots that did not fit the
    /// stack (0: none).
    pub scratch_size: u32,
}

/// Where a stack slot ended up.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// At this offset from r10.
    Stack(i32),
    /// At this offset in the per-CPU scratch map's value.
    Scratch(i32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The frame needs more than 512 bytes; the span is the statement whose slot overflowed.
    StackTooLarge {
        needed: u32,
        span: Span,
    },
    JumpTooFar,
}

const SCRATCH_A: Reg = Reg::R1;
const SCRATCH_B: Reg = Reg::R2;
const SCRATCH_ADDR: Reg = Reg::R3;

/// The map that holds slots which do not fit the stack: its index and how a program finds
/// its CPU's part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScratchMap {
    pub index: usize,
    /// A per-CPU array's one entry holds at most 32 KiB; above that the map is a plain
    /// array of one entry per possible CPU, looked up by the CPU the program runs on.
    pub by_cpu: bool,
}

/// How much memory one function may take.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// The array that holds slots which do not fit the stack, if any.
    pub scratch_map: Option<ScratchMap>,
    /// Stack bytes this function may use: 512 for a program, what the caller left for a
    /// callback (the verifier limits the frames of a call chain together).
    pub stack_limit: u32,
    /// Where this function's part of the scratch value starts (a callback's must not overlap
    /// its caller's, which stays live during the call).
    pub scratch_base: u32,
}

/// Emits a probe's function with the whole stack. When its slots and spills need more than
/// 512 bytes and `scratch_map` names a per-CPU array, the largest slots move into that map's
/// value. The pipeline emits through `program::emit_program` (a function with its
/// callbacks); tests emit one function.
#[cfg(test)]
pub fn emit(f: &Function, scratch_map: Option<usize>) -> Result<Emitted, EmitError> {
    emit_in(
        f,
        Frame {
            scratch_map: scratch_map.map(|index| ScratchMap {
                index,
                by_cpu: false,
            }),
            stack_limit: STACK_LIMIT,
            scratch_base: 0,
        },
    )
}

/// Emits a function within `frame`. Callbacks are not included: each is emitted on its own.
pub fn emit_in(f: &Function, frame: Frame) -> Result<Emitted, EmitError> {
    let Frame {
        scratch_map,
        stack_limit,
        scratch_base,
    } = frame;
    let f = &slot_addresses_shared(&without_dead_values(&without_dead_stores(&forwarded(
        &folded(f),
    ))));
    let remat = rematerialized(f);
    let alloc = allocate(f, &remat);
    let spill_bytes = alloc.spill_slots * 8;
    let slot_bytes: u32 = f.slots.iter().sum();
    // Largest slots first into scratch until the rest fits with the scratch pointer's spot;
    // the verifier's tracked slots last, the stack-only ones never.
    let mut in_scratch = vec![false; f.slots.len()];
    let mut on_stack = slot_bytes;
    if slot_bytes + spill_bytes > stack_limit && scratch_map.is_some() {
        let mut by_size: Vec<usize> = (0..f.slots.len())
            .filter(|&i| !f.stack_only.iter().any(|s| s.0 as usize == i))
            .collect();
        let tracked = |i: usize| f.tracked.iter().any(|s| s.0 as usize == i);
        by_size.sort_by_key(|&i| (tracked(i), std::cmp::Reverse(f.slots[i])));
        for i in by_size {
            if on_stack + spill_bytes + 8 <= stack_limit {
                break;
            }
            in_scratch[i] = true;
            on_stack -= f.slots[i];
        }
    }
    let mut places = Vec::with_capacity(f.slots.len());
    let (mut used, mut scratch_used) = (0u32, scratch_base);
    for (size, scratch) in f.slots.iter().zip(&in_scratch) {
        if *scratch {
            places.push(Place::Scratch(scratch_used as i32));
            scratch_used += size;
        } else {
            used += size;
            places.push(Place::Stack(-(used as i32)));
        }
    }
    let spill_base = used;
    used += spill_bytes;
    let scratch_spot = if scratch_used > scratch_base {
        used += 8;
        Some(-(used as i32) as i16)
    } else {
        None
    };
    if used > stack_limit {
        let span = f
            .insts
            .iter()
            .map(|(_, s)| *s)
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        return Err(EmitError::StackTooLarge { needed: used, span });
    }
    let mut e = Emitter {
        out: Emitted {
            stack_size: used,
            scratch_size: scratch_used - scratch_base,
            ..Emitted::default()
        },
        locations: &alloc.locations,
        remat: &remat,
        places,
        spill_base,
        scratch: scratch_spot.zip(scratch_map),
        labels: HashMap::new(),
        fixups: Vec::new(),
        span: Span::default(),
        arguments_in_place: Vec::new(),
        passed_through: match scratch_spot {
            None => passed_through(f, &remat),
            Some(_) => HashSet::new(), // the scratch lookup comes first, clobbering r1-r5
        },
    };
    let mut prologue_done = false;
    for (inst, span) in &f.insts {
        e.span = *span;
        // The scratch lookup clobbers r1-r5: it comes once the arguments are saved.
        if !prologue_done && !matches!(inst, Inst::Arg(..)) {
            e.scratch_prologue();
            prologue_done = true;
        }
        e.inst(inst);
    }
    e.fix_jumps()?;
    Ok(e.out)
}

/// The function's arguments whose only use is its first call, passing each in the register
/// it came in, with nothing before that call that emits code (only the arguments, and values
/// computed where the call reads them).
fn passed_through(f: &Function, remat: &HashMap<VReg, Inst>) -> HashSet<VReg> {
    let mut arguments = Vec::new();
    for (inst, _) in &f.insts {
        match inst {
            Inst::Arg(d, n) => arguments.push((*d, *n)),
            i if i.def().is_some_and(|d| remat.contains_key(&d)) => {}
            // A kfunc's first operand is its BTF id: its arguments are not in place.
            Inst::Call { helper, args, .. } if *helper != Helper::Kfunc => {
                let uses = |v: VReg| {
                    (f.insts.iter())
                        .map(|(i, _)| i.uses().iter().filter(|&&u| u == v).count())
                        .sum::<usize>()
                };
                return (arguments.into_iter())
                    .filter(|&(d, n)| args.get(n as usize) == Some(&Operand::Reg(d)))
                    .filter(|&(d, _)| uses(d) == 1)
                    .map(|(d, _)| d)
                    .collect();
            }
            _ => break,
        }
    }
    HashSet::new()
}

struct Emitter<'a> {
    out: Emitted,
    /// The function's arguments, still in the registers they came in: nothing but their
    /// copies has been emitted yet, and no label passed. A first call that passes one in
    /// the same place moves nothing (a tail call at a program's start).
    arguments_in_place: Vec<(VReg, Reg)>,
    /// Arguments read only by that first call (`passed_through`): never copied.
    passed_through: HashSet<VReg>,
    locations: &'a HashMap<VReg, Location>,
    /// Values computed into their call's argument register, not where they are defined.
    remat: &'a HashMap<VReg, Inst>,
    places: Vec<Place>,
    spill_base: u32,
    /// The stack spot holding the scratch map value's address, and the map.
    scratch: Option<(i16, ScratchMap)>,
    labels: HashMap<Label, usize>,
    fixups: Vec<(usize, Label)>,
    span: Span,
}

impl Emitter<'_> {
    fn push(&mut self, insn: Insn) {
        self.arguments_in_place.clear();
        self.out.insns.push(insn);
        self.out.spans.push(self.span);
    }

    fn location(&self, v: VReg) -> Location {
        // A register that is written but never read has no interval: park it in r0.
        self.locations
            .get(&v)
            .copied()
            .unwrap_or(Location::Reg(Reg::R0))
    }

    fn spill_offset(&self, n: u32) -> i16 {
        -((self.spill_base + (n + 1) * 8) as i32) as i16
    }

    /// The register holding `v`, loading it into `scratch` if it is spilled.
    fn read(&mut self, v: VReg, scratch: Reg) -> Reg {
        match self.location(v) {
            Location::Reg(r) => r,
            Location::Spill(n) => {
                let off = self.spill_offset(n);
                self.push(Insn::load(Size::DW, scratch, Reg::FP, off));
                scratch
            }
        }
    }

    /// Where to compute `v`: its register, or `scratch` to be spilled by `write_back`.
    fn target(&self, v: VReg, scratch: Reg) -> Reg {
        match self.location(v) {
            Location::Reg(r) => r,
            Location::Spill(_) => scratch,
        }
    }

    fn write_back(&mut self, v: VReg, from: Reg) {
        if let Location::Spill(n) = self.location(v) {
            let off = self.spill_offset(n);
            self.push(Insn::store(Size::DW, Reg::FP, off, from));
        }
    }

    /// Puts an operand in `dst` (a move, a load from a spill slot, or an immediate).
    fn operand_into(&mut self, o: Operand, dst: Reg) {
        match o {
            Operand::Imm(i) => self.push(Insn::mov64_imm(dst, i)),
            Operand::Reg(v) => match self.location(v) {
                Location::Reg(r) if r == dst => {}
                Location::Reg(r) => self.push(Insn::mov64_reg(dst, r)),
                Location::Spill(n) => {
                    let off = self.spill_offset(n);
                    self.push(Insn::load(Size::DW, dst, Reg::FP, off));
                }
            },
        }
    }

    /// A memory address as (base register, offset).
    fn address(&mut self, a: Addr) -> (Reg, i16) {
        match a {
            Addr::Slot(s, off) => match self.places[s.0 as usize] {
                Place::Stack(o) => (Reg::FP, (o + off) as i16),
                Place::Scratch(o) => {
                    let base = self.scratch_pointer(SCRATCH_ADDR);
                    // An instruction's offset is 16 bits: a place further into a big scratch
                    // value moves the pointer there first.
                    match i16::try_from(o + off) {
                        Ok(at) => (base, at),
                        Err(_) => {
                            self.push(Insn::alu64_imm(Alu::Add, base, o + off));
                            (base, 0)
                        }
                    }
                }
            },
            Addr::Ptr(v, off) => (self.read(v, SCRATCH_ADDR), off as i16),
        }
    }

    /// Loads the scratch map value's address (kept in its stack spot) into `into`.
    fn scratch_pointer(&mut self, into: Reg) -> Reg {
        let (spot, _) = self
            .scratch
            .expect("a slot in scratch means the function has a scratch spot");
        self.push(Insn::load(Size::DW, into, Reg::FP, spot));
        into
    }

    /// Once the arguments are saved: look the scratch map value up once and keep its
    /// address in the spot; if the lookup fails (it cannot for an array's key 0), return.
    fn scratch_prologue(&mut self) {
        let Some((spot, map)) = self.scratch else {
            return;
        };
        // The key: this CPU's number (before the map's address, which the call would lose),
        // or the one entry's 0.
        if map.by_cpu {
            self.push(Insn::call(Helper::GetSmpProcessorId));
            self.push(Insn::store(Size::W, Reg::FP, spot, Reg::R0));
        }
        self.out
            .map_relocations
            .push((self.out.insns.len(), map.index));
        for i in Insn::ld_map(Reg::R1) {
            self.push(i);
        }
        if !map.by_cpu {
            self.push(Insn::store_imm(Size::W, Reg::FP, spot, 0));
        }
        self.push(Insn::mov64_reg(Reg::R2, Reg::FP));
        self.push(Insn::alu64_imm(Alu::Add, Reg::R2, spot as i32));
        self.push(Insn::call(Helper::MapLookupElem));
        self.push(Insn::jmp_imm(Cond::Ne, Reg::R0, 0, 2));
        self.push(Insn::mov64_imm(Reg::R0, 0));
        self.push(Insn::exit());
        self.push(Insn::store(Size::DW, Reg::FP, spot, Reg::R0));
    }

    fn inst(&mut self, inst: &Inst) {
        if inst.def().is_some_and(|d| self.remat.contains_key(&d)) {
            return; // computed where the call reads it
        }
        match inst {
            Inst::Const(d, value) => self.constant(*d, *value),
            Inst::Mov(d, s) => {
                let t = self.target(*d, SCRATCH_A);
                self.operand_into(Operand::Reg(*s), t);
                self.write_back(*d, t);
            }
            Inst::Alu { op, dst, a, b } => self.alu(*op, *dst, *a, *b),
            Inst::Neg(d, s) => {
                let t = self.target(*d, SCRATCH_A);
                self.operand_into(Operand::Reg(*s), t);
                self.push(Insn::neg64(t));
                self.write_back(*d, t);
            }
            Inst::Load {
                dst,
                addr,
                size,
                signed,
            } => self.load(*dst, *addr, *size, *signed),
            Inst::Store { addr, value, size } => self.store(*addr, *value, *size),
            Inst::SlotAddr(d, s, off) => self.slot_address(*d, *s, *off),
            Inst::MapRef(d, map) => {
                let t = self.target(*d, SCRATCH_A);
                self.map_into(*map, t);
                self.write_back(*d, t);
            }
            Inst::GlobalAddr(d, section, offset) => {
                let t = self.target(*d, SCRATCH_A);
                self.global_into(*section, *offset, t);
                self.write_back(*d, t);
            }
            Inst::AtomicAdd { addr, value } => {
                let (base, off) = self.address(*addr);
                let r = self.read(*value, SCRATCH_B);
                self.push(Insn::atomic_add64(base, off, r));
            }
            Inst::Arg(d, n) => self.argument(*d, *n),
            Inst::FuncRef(d, n) => {
                let t = self.target(*d, SCRATCH_A);
                self.out.func_relocations.push((self.out.insns.len(), *n));
                for i in Insn::ld_func(t) {
                    self.push(i);
                }
                self.write_back(*d, t);
            }
            Inst::Call { helper, args, ret } => self.call(*helper, args, *ret),
            Inst::Jump(l) => {
                self.fixups.push((self.out.insns.len(), *l));
                self.push(Insn::ja(0));
            }
            Inst::Branch { cond, a, b, then } => self.branch(*cond, *a, *b, *then),
            Inst::Label(l) => {
                self.arguments_in_place.clear(); // a jump here may come from anywhere
                self.labels.insert(*l, self.out.insns.len());
            }
            Inst::Return(v) => {
                self.operand_into(*v, Reg::R0);
                self.push(Insn::exit());
            }
            Inst::LoopStart | Inst::LoopEnd | Inst::ColdStart | Inst::ColdEnd => {}
        }
    }

    fn map_into(&mut self, map: usize, t: Reg) {
        self.out.map_relocations.push((self.out.insns.len(), map));
        for i in Insn::ld_map(t) {
            self.push(i);
        }
    }

    fn global_into(&mut self, section: DataSection, offset: u32, t: Reg) {
        self.out
            .global_relocations
            .push((self.out.insns.len(), section));
        for i in Insn::ld_global(t, offset) {
            self.push(i);
        }
    }

    /// A constant: one `mov` when it fits 32 signed bits, else an `ld_imm64`.
    fn constant(&mut self, d: VReg, value: u64) {
        let t = self.target(d, SCRATCH_A);
        self.constant_into(value, t);
        self.write_back(d, t);
    }

    fn constant_into(&mut self, value: u64, t: Reg) {
        if let Ok(small) = i32::try_from(value as i64) {
            self.push(Insn::mov64_imm(t, small));
        } else {
            for i in Insn::ld_imm64(t, value) {
                self.push(i);
            }
        }
    }

    fn alu(&mut self, op: Alu, dst: VReg, a: VReg, b: Operand) {
        let t = self.target(dst, SCRATCH_A);
        self.operand_into(Operand::Reg(a), t);
        match b {
            Operand::Imm(i) => self.push(Insn::alu64_imm(op, t, i)),
            Operand::Reg(v) => {
                let r = self.read(v, SCRATCH_B);
                self.push(Insn::alu64_reg(op, t, r));
            }
        }
        self.write_back(dst, t);
    }

    /// A load, sign-extended by two shifts when asked (BPF loads zero-extend).
    fn load(&mut self, dst: VReg, addr: Addr, size: Size, signed: bool) {
        let (base, off) = self.address(addr);
        let t = self.target(dst, SCRATCH_A);
        self.push(Insn::load(size, t, base, off));
        if signed && size != Size::DW {
            let shift = 64 - 8 * size.bytes() as i32;
            self.push(Insn::alu64_imm(Alu::Lsh, t, shift));
            self.push(Insn::alu64_imm(Alu::Arsh, t, shift));
        }
        self.write_back(dst, t);
    }

    fn store(&mut self, addr: Addr, value: Operand, size: Size) {
        let (base, off) = self.address(addr);
        match value {
            Operand::Imm(i) => self.push(Insn::store_imm(size, base, off, i)),
            Operand::Reg(v) => {
                let r = self.read(v, SCRATCH_B);
                self.push(Insn::store(size, base, off, r));
            }
        }
    }

    /// The address of a slot: on the stack (r10 + offset) or in the scratch map's value.
    fn slot_address(&mut self, d: VReg, s: Slot, off: i32) {
        let t = self.target(d, SCRATCH_A);
        self.slot_address_into(s, off, t);
        self.write_back(d, t);
    }

    fn slot_address_into(&mut self, s: Slot, off: i32, t: Reg) {
        match self.places[s.0 as usize] {
            Place::Stack(o) => {
                self.push(Insn::mov64_reg(t, Reg::FP));
                self.push(Insn::alu64_imm(Alu::Add, t, o + off));
            }
            Place::Scratch(o) => {
                self.scratch_pointer(t);
                self.push(Insn::alu64_imm(Alu::Add, t, o + off));
            }
        }
    }

    fn argument(&mut self, d: VReg, n: u8) {
        // Straight from the argument register: r1-r5 still hold the others.
        let from = Reg(n + 1);
        if self.passed_through.contains(&d) {
            self.arguments_in_place.push((d, from));
            return;
        }
        let in_place = std::mem::take(&mut self.arguments_in_place);
        match self.location(d) {
            Location::Reg(r) => self.push(Insn::mov64_reg(r, from)),
            Location::Spill(slot) => {
                let off = self.spill_offset(slot);
                self.push(Insn::store(Size::DW, Reg::FP, off, from));
            }
        }
        self.arguments_in_place = in_place;
        self.arguments_in_place.push((d, from));
    }

    fn call(&mut self, helper: Helper, args: &[Operand], ret: Option<VReg>) {
        // A kfunc's first operand is its BTF id; the arguments follow it.
        let (call, args) = match (helper, args) {
            (Helper::Kfunc, [Operand::Imm(id), rest @ ..]) => (Insn::call_kfunc(*id), rest),
            _ => (Insn::call(helper), args),
        };
        for (i, a) in args.iter().enumerate() {
            let into = Reg(i as u8 + 1);
            match a {
                Operand::Reg(v) if self.arguments_in_place.contains(&(*v, into)) => {}
                Operand::Reg(v) if self.remat.contains_key(v) => match &self.remat[v] {
                    Inst::Const(_, value) => self.constant_into(*value, into),
                    Inst::MapRef(_, map) => self.map_into(*map, into),
                    Inst::GlobalAddr(_, section, offset) => {
                        self.global_into(*section, *offset, into)
                    }
                    Inst::SlotAddr(_, s, off) => self.slot_address_into(*s, *off, into),
                    other => unreachable!("not rematerialized: {other:?}"),
                },
                _ => self.operand_into(*a, into),
            }
        }
        self.push(call);
        if let Some(r) = ret {
            let t = self.target(r, Reg::R0);
            if t != Reg::R0 {
                self.push(Insn::mov64_reg(t, Reg::R0));
            }
            self.write_back(r, t);
        }
    }

    fn branch(&mut self, cond: Cond, a: VReg, b: Operand, then: Label) {
        let ra = self.read(a, SCRATCH_A);
        self.fixups.push((self.out.insns.len(), then));
        match b {
            Operand::Imm(i) => self.push(Insn::jmp_imm(cond, ra, i, 0)),
            Operand::Reg(v) => {
                let rb = self.read(v, SCRATCH_B);
                // The read may have emitted a load: the jump is the last instruction.
                self.fixups.pop();
                self.fixups.push((self.out.insns.len(), then));
                self.push(Insn::jmp_reg(cond, ra, rb, 0));
            }
        }
    }

    fn fix_jumps(&mut self) -> Result<(), EmitError> {
        for &(at, label) in &self.fixups {
            let target = self.labels[&label] as i64;
            let off = target - (at as i64 + 1);
            self.out.insns[at].off = i16::try_from(off).map_err(|_| EmitError::JumpTooFar)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{disassemble, Cond};

    #[test]
    fn branches_and_returns() {
        let mut f = Function {
            name: "t".into(),
            ..Function::default()
        };
        let v = f.new_vreg();
        let done = f.new_label();
        let s = Span::new(3, 9);
        f.insts = vec![
            (Inst::Const(v, 7), s),
            (
                Inst::Branch {
                    cond: Cond::Gt,
                    a: v,
                    b: Operand::Imm(5),
                    then: done,
                },
                s,
            ),
            (Inst::Return(Operand::Imm(1)), s),
            (Inst::Label(done), s),
            (Inst::Return(Operand::Reg(v)), s),
        ];
        let e = emit(&f, None).unwrap();
        assert_eq!(
            disassemble(&e.insns),
            "   0: r0 = 7\n   1: if r0 > 5 goto +2\n   2: r0 = 1\n   3: exit\n   4: r0 = 7\n   5: exit\n"
        );
        assert!(e.spans.iter().all(|&x| x == s));
    }

    /// A program that opens with a tail call passes the context on in r1 as it came: no copy
    /// when nothing else reads it, and only the copy into a callee-saved register when
    /// something after the call does.
    #[test]
    fn an_opening_tail_call_passes_the_context_where_it_came() {
        let program = |read_after: bool| {
            let mut f = Function::default();
            let (ctx, array, id) = (f.new_vreg(), f.new_vreg(), f.new_vreg());
            let stacks = f.new_vreg();
            let s = Span::new(0, 1);
            let mut insts = vec![
                Inst::Arg(ctx, 0),
                Inst::MapRef(array, 0),
                Inst::Call {
                    helper: Helper::TailCall,
                    args: vec![Operand::Reg(ctx), Operand::Reg(array), Operand::Imm(0)],
                    ret: None,
                },
            ];
            if read_after {
                insts.push(Inst::MapRef(stacks, 1));
                insts.push(Inst::Call {
                    helper: Helper::GetStackid,
                    args: vec![Operand::Reg(ctx), Operand::Reg(stacks), Operand::Imm(0)],
                    ret: Some(id),
                });
                insts.push(Inst::Return(Operand::Reg(id)));
            } else {
                insts.push(Inst::Return(Operand::Imm(0)));
            }
            f.insts = insts.into_iter().map(|i| (i, s)).collect();
            disassemble(&emit(&f, None).unwrap().insns)
        };
        assert_eq!(
            program(false),
            "   0: r2 = map[0] ll\n   2: r3 = 0\n   3: call TailCall#12\n   4: r0 = 0\n   5: exit\n"
        );
        let kept = program(true);
        assert!(
            kept.starts_with("   0: r6 = r1\n   1: r2 = map[0] ll\n   3: r3 = 0\n   4: call TailCall#12\n   5: r1 = r6\n"),
            "{kept}"
        );
    }

    #[test]
    fn frames_over_512_bytes_move_to_scratch_or_are_refused() {
        let mut f = Function::default();
        let ctx = f.new_vreg();
        let at = f.new_vreg();
        let big = f.new_slot(400);
        f.new_slot(200);
        let s = Span::new(0, 1);
        f.insts = vec![
            (Inst::Arg(ctx, 0), s),
            (
                Inst::Store {
                    addr: Addr::Slot(big, 8),
                    value: Operand::Reg(ctx),
                    size: Size::DW,
                },
                s,
            ),
            // A helper is given the slot and writes only part of it (a string read stops at
            // the terminator), so the store stays.
            (Inst::SlotAddr(at, big, 0), s),
            (
                Inst::Call {
                    helper: Helper::ProbeReadStr,
                    args: vec![Operand::Reg(at), Operand::Imm(16), Operand::Reg(ctx)],
                    ret: None,
                },
                s,
            ),
            (Inst::Return(Operand::Imm(0)), s),
        ];
        assert!(matches!(
            emit(&f, None),
            Err(EmitError::StackTooLarge { needed: 600, .. })
        ));
        // With a scratch map, the 400-byte slot moves there and the rest fits the stack; the
        // prologue looks the map up once, and the store goes through the saved pointer.
        let e = emit(&f, Some(3)).unwrap();
        assert_eq!(e.scratch_size, 400);
        assert_eq!(e.stack_size, 208);
        assert_eq!(e.map_relocations, vec![(1, 3)], "after saving the context");
        let text = crate::insn::disassemble(&e.insns);
        assert!(text.contains("call MapLookupElem"), "{text}");
        assert!(
            text.contains("r3 = *(u64 *)(r10 -208)\n") && text.contains("*(u64 *)(r3 +8) = r6"),
            "{text}"
        );
    }
}

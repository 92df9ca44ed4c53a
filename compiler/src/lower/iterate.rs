//! Walking a map's entries in the kernel: `for ($kv : @m) { ... }` and `len(@m)`. Both call
//! `bpf_for_each_map_elem`, which runs a callback per entry: the loop body for `for`, an empty
//! one for `len` (the helper returns how many entries it visited).
//!
//! A callback has its own stack frame, so the probe hands it a record on the probe's stack:
//!
//! | offset | contents                                                             |
//! |--------|----------------------------------------------------------------------|
//! | 0      | the probe's context pointer (for `args`, `arg0`, ... in the body)   |
//! | 8      | set to 1 when the body runs `return` (the probe then returns too)    |
//! | 16     | every scratch variable that exists before the loop, in order        |
//!
//! The callback copies the variables in, runs the body, and copies them back, so the body reads
//! and writes the probe's variables as a loop would.

use super::Lowering;
use super::{map_parts, ProbeLowerer, VarSlot};
use crate::ast::{Block, Expr, Ident};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper};
use crate::ir::{Addr, Function, Inst, Operand, VReg};
use crate::program::{MapValue, ValueType};
use crate::span::Span;

const CONTEXT_AT: i32 = 0;
const RETURNED_AT: i32 = 8;
const VARIABLES_AT: u32 = 16;

/// A probe variable as the callback sees it: where it lives in the probe and in the record.
struct Captured {
    name: String,
    var: VarSlot,
    at: i32,
    size: u32,
}

impl ProbeLowerer<'_, '_> {
    /// `for ($kv : @map) { body }`.
    pub fn for_map(&mut self, var: &Ident, map_expr: &Expr, body: &Block) -> Lowering<()> {
        let map = self.iterated_map(map_expr, "`for`")?;
        let entry = self.shared.maps.entry_type(map).ok_or_else(|| {
            not_iterable(&self.shared.maps.value(map), map_expr.span, "iterate over")
        })?;

        // The record: context, `return` flag, variables.
        let mut captured: Vec<Captured> = self
            .vars
            .iter()
            .map(|(name, var)| Captured {
                name: name.clone(),
                var: var.clone(),
                at: 0,
                size: var.ty.size().next_multiple_of(8),
            })
            .collect();
        captured.sort_by(|a, b| a.name.cmp(&b.name));
        let mut at = VARIABLES_AT;
        for c in &mut captured {
            c.at = at as i32;
            at += c.size;
        }
        let record = self.f.new_slot(at);
        self.store_u64(Addr::Slot(record, CONTEXT_AT), Operand::Reg(self.ctx));
        self.store_u64(Addr::Slot(record, RETURNED_AT), Operand::Imm(0));
        for c in &captured {
            self.copy(Addr::Slot(record, c.at), Addr::Slot(c.var.slot, 0), c.size);
        }

        let callback = self.loop_callback(map, var, &entry, &captured, body)?;
        let record_addr = self.slot_addr(record, 0);
        self.call_for_each(map, callback, Operand::Reg(record_addr));

        for c in &captured {
            self.copy(Addr::Slot(c.var.slot, 0), Addr::Slot(record, c.at), c.size);
        }
        let returned = self.load_u64(Addr::Slot(record, RETURNED_AT));
        let exit = self.exit_label;
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: returned,
            b: Operand::Imm(0),
            then: exit,
        });
        Ok(())
    }

    /// `len(@map)`: the number of entries.
    pub fn map_len(&mut self, map_expr: &Expr) -> Lowering<VReg> {
        let map = self.iterated_map(map_expr, "`len`")?;
        // A map without keys has one value, not entries to count (the current release's
        // words).
        if self.shared.maps.keys(map).is_empty() {
            return Err(Diagnostic::error(
                "call to len() expects a map with explicit keys (non-scalar map)",
                map_expr.span,
                "a map without keys",
            ));
        }
        if self.shared.maps.value(map).keyed_by_bucket() {
            return Err(not_iterable(
                &self.shared.maps.value(map),
                map_expr.span,
                "count the entries of",
            ));
        }
        let mut empty = Function {
            name: format!("{}_cb{}", self.f.name, self.f.callbacks.len()),
            ..Function::default()
        };
        empty.insts.push((Inst::Return(Operand::Imm(0)), self.span));
        self.f.callbacks.push(empty);
        let callback = self.f.callbacks.len() - 1;
        Ok(self.call_for_each(map, callback, Operand::Imm(0)))
    }

    fn iterated_map(&mut self, map_expr: &Expr, what: &str) -> Lowering<usize> {
        let name = match map_parts(map_expr) {
            Some((name, [])) => name,
            _ => {
                return Err(Diagnostic::error(
                    format!("{what} needs a whole map"),
                    map_expr.span,
                    "not a map",
                ))
            }
        };
        self.shared
            .maps
            .lookup(&name.name)
            .ok_or_else(|| Diagnostic::error("unknown map", map_expr.span, "never assigned"))
    }

    /// `bpf_for_each_map_elem(map, callback, context, 0)`: the number of entries visited.
    fn call_for_each(&mut self, map: usize, callback: usize, context: Operand) -> VReg {
        let m = self.f.new_vreg();
        self.emit(Inst::MapRef(m, map));
        let cb = self.f.new_vreg();
        self.emit(Inst::FuncRef(cb, callback));
        let visited = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::ForEachMapElem,
            args: vec![Operand::Reg(m), Operand::Reg(cb), context, Operand::Imm(0)],
            ret: Some(visited),
        });
        visited
    }

    /// The loop body as a callback `(map, key, value, record) -> 0 (next) | 1 (stop)`; returns
    /// its index among this function's callbacks.
    fn loop_callback(
        &mut self,
        map: usize,
        var: &Ident,
        entry: &ValueType,
        captured: &[Captured],
        body: &Block,
    ) -> Lowering<usize> {
        if self.dispatched {
            // The program is loaded by hand for a multi-uprobe link, without callbacks.
            return Err(self.not_dispatched("a loop over a map", body.span));
        }
        let index = self.f.callbacks.len();
        let name = format!("{}_cb{index}", self.f.name);
        let (span, probe, probe_index) = (self.span, self.probe, self.index);
        let mut l = ProbeLowerer {
            declared: self.declared.clone(),
            int_widths: self.int_widths.clone(),
            ..ProbeLowerer::new(&mut *self.shared, name, span, probe, probe_index)
        };
        let [key, value, record] = [l.f.new_vreg(), l.f.new_vreg(), l.f.new_vreg()];
        l.emit(Inst::Arg(key, 1));
        l.emit(Inst::Arg(value, 2));
        l.emit(Inst::Arg(record, 3));
        l.ctx = l.load_u64(Addr::Ptr(record, CONTEXT_AT));
        for c in captured {
            let slot = l.f.new_slot(c.size);
            l.copy(Addr::Slot(slot, 0), Addr::Ptr(record, c.at), c.size);
            l.vars.insert(
                c.name.clone(),
                VarSlot {
                    slot,
                    ty: c.var.ty.clone(),
                },
            );
        }
        l.bind_entry(map, var, entry, key, value)?;

        let next = l.f.new_label();
        let stop = l.f.new_label();
        l.loop_labels.push((stop, next));
        l.block(body)?;
        l.loop_labels.pop();
        for (label, verdict) in [(next, 0), (stop, 1)] {
            l.emit(Inst::Label(label));
            for c in captured {
                let slot = l.vars[&c.name].slot;
                l.copy(Addr::Ptr(record, c.at), Addr::Slot(slot, 0), c.size);
            }
            l.emit(Inst::Return(Operand::Imm(verdict)));
        }
        // `return` in the body: tell the probe, stop walking.
        l.emit(Inst::Label(l.exit_label));
        l.store_u64(Addr::Ptr(record, RETURNED_AT), Operand::Imm(1));
        l.emit(Inst::Return(Operand::Imm(1)));
        l.f.remove_unreachable();
        let f = l.f;
        self.f.callbacks.push(f);
        Ok(index)
    }

    /// Fills `$kv` with the entry: the key as stored, then the value (per-CPU aggregations
    /// merged over every CPU, as printing would).
    fn bind_entry(
        &mut self,
        map: usize,
        var: &Ident,
        entry: &ValueType,
        key: VReg,
        value: VReg,
    ) -> Lowering<()> {
        let ValueType::Tuple(parts) = entry else {
            unreachable!("an entry is a (key, value) tuple");
        };
        let offsets = ValueType::field_offsets(parts);
        // Each loop's `$kv` is its own: two loops over different maps may share the name.
        let slot = self.f.new_slot(entry.size());
        self.vars.insert(
            var.name.clone(),
            VarSlot {
                slot,
                ty: entry.clone(),
            },
        );
        self.zero(Addr::Slot(slot, 0), entry.size());
        self.copy(Addr::Slot(slot, 0), Addr::Ptr(key, 0), parts[0].size());
        let at = Addr::Slot(slot, offsets[1] as i32);
        match self.shared.maps.value(map) {
            MapValue::Plain(ty) => self.copy(at, Addr::Ptr(value, 0), ty.size()),
            kind => self.merge_cpus(map, &kind, Addr::Slot(slot, 0), at),
        }
        Ok(())
    }

    /// `*into` = the entry's per-CPU values at `key` merged: summed for `count` and `sum`,
    /// the least or greatest set value for `min` and `max`, the totals and the counts summed
    /// for `avg` (16 bytes at `into`: total, count).
    pub(super) fn merge_cpus(&mut self, map: usize, kind: &MapValue, key: Addr, into: Addr) {
        let ncpus = self.shared.options.ncpus;
        let cpu = self.f.new_slot(8);
        // The loop's bound is proved from the counter: it stays on the stack, where the
        // verifier can see it.
        self.f.tracked.push(cpu);
        let any = self.f.new_slot(8);
        self.store_u64(Addr::Slot(cpu, 0), Operand::Imm(0));
        self.store_u64(Addr::Slot(any, 0), Operand::Imm(0));
        self.store_u64(into, Operand::Imm(0));
        let count_at = super::memory::offset(into, 8);
        if matches!(kind, MapValue::Avg { .. }) {
            self.store_u64(count_at, Operand::Imm(0));
        }
        let top = self.f.new_label();
        let next = self.f.new_label();
        let done = self.f.new_label();
        self.emit(Inst::LoopStart);
        self.emit(Inst::Label(top));
        let n = self.load_u64(Addr::Slot(cpu, 0));
        self.emit(Inst::Branch {
            cond: Cond::Ge,
            a: n,
            b: Operand::Imm(ncpus as i32),
            then: done,
        });
        let m = self.f.new_vreg();
        self.emit(Inst::MapRef(m, map));
        let k = self.address_of(key);
        let p = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::MapLookupPercpuElem,
            args: vec![Operand::Reg(m), Operand::Reg(k), Operand::Reg(n)],
            ret: Some(p),
        });
        self.jump_if_zero(p, next);
        let v = self.load_u64(Addr::Ptr(p, 0));
        match kind {
            MapValue::Count | MapValue::Sum { .. } => {
                let acc = self.load_u64(into);
                let sum = self.f.new_vreg();
                self.emit(Inst::Alu {
                    op: Alu::Add,
                    dst: sum,
                    a: acc,
                    b: Operand::Reg(v),
                });
                self.store_u64(into, Operand::Reg(sum));
            }
            MapValue::Avg { .. } => {
                for (at, field) in [(into, 0), (count_at, 8)] {
                    let part = if field == 0 {
                        v
                    } else {
                        self.load_u64(Addr::Ptr(p, field))
                    };
                    let acc = self.load_u64(at);
                    let sum = self.f.new_vreg();
                    self.emit(Inst::Alu {
                        op: Alu::Add,
                        dst: sum,
                        a: acc,
                        b: Operand::Reg(part),
                    });
                    self.store_u64(at, Operand::Reg(sum));
                }
            }
            _ => {
                // { i64 value, u64 set }: skip CPUs that never set it; the first set one wins,
                // then the lesser (min) or greater (max).
                let set = self.load_u64(Addr::Ptr(p, 8));
                self.jump_if_zero(set, next);
                let take = self.f.new_label();
                let seen = self.load_u64(Addr::Slot(any, 0));
                self.jump_if_zero(seen, take);
                let acc = self.load_u64(into);
                let better = match (matches!(kind, MapValue::Min { .. }), kind.signed()) {
                    (true, true) => Cond::Slt,
                    (true, false) => Cond::Lt,
                    (false, true) => Cond::Sgt,
                    (false, false) => Cond::Gt,
                };
                self.emit(Inst::Branch {
                    cond: better,
                    a: v,
                    b: Operand::Reg(acc),
                    then: take,
                });
                self.emit(Inst::Jump(next));
                self.emit(Inst::Label(take));
                self.store_u64(into, Operand::Reg(v));
                self.store_u64(Addr::Slot(any, 0), Operand::Imm(1));
            }
        }
        self.emit(Inst::Label(next));
        self.increment_u64(Addr::Slot(cpu, 0));
        self.emit(Inst::Jump(top));
        self.emit(Inst::Label(done));
        self.emit(Inst::LoopEnd);
    }
}

fn not_iterable(kind: &MapValue, span: Span, what: &str) -> Diagnostic {
    let name = match kind {
        MapValue::Avg { .. } => "an avg()",
        MapValue::Stats { .. } => "a stats()",
        MapValue::Hist { .. } => "a hist()",
        MapValue::Lhist { .. } => "an lhist()",
        MapValue::Tseries { .. } => "a tseries()",
        _ => "a keyless",
    };
    Diagnostic::error(format!("cannot {what} {name} map"), span, "this map")
        .with_help("loop over a map of plain values or of count(), sum(), min() or max()")
}

//! Loops whose body runs as a callback: `for ($kv : @m) { ... }` and `len(@m)` call
//! `bpf_for_each_map_elem`, which runs a callback per entry (the loop body for `for`, an empty
//! one for `len`: the helper returns how many entries it visited); `for ($i : a..b)` with a
//! computed or long range calls `bpf_loop`, which runs the body once per count. The verifier
//! checks a callback once, where it would walk an inline loop once per iteration.
//!
//! A callback has its own stack frame, so the probe hands it a record on the probe's stack:
//!
//! | offset | contents                                                             |
//! |--------|----------------------------------------------------------------------|
//! | 0      | the probe's context pointer (for `args`, `arg0`, ... in the body)   |
//! | 8      | set to 1 when the body runs `return` (the probe then returns too)    |
//! | 16     | a range's start (the callback is given the count from it)            |
//! | 24     | every scratch variable that exists before the loop, in order        |
//!
//! The callback copies the variables in, runs the body, and copies them back, so the body reads
//! and writes the probe's variables as a loop would.

use super::Lowering;
use super::{map_parts, ProbeLowerer, VarSlot, SIGNED};
use crate::ast::{Block, Expr, Ident};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper};
use crate::ir::{Addr, Function, Inst, Operand, Slot, VReg};
use crate::program::{MapValue, ValueType};
use crate::span::Span;

const CONTEXT_AT: i32 = 0;
const RETURNED_AT: i32 = 8;
const START_AT: i32 = 16;
const VARIABLES_AT: u32 = 24;

/// The most counts `bpf_loop` runs; past it the helper runs none and fails with -E2BIG.
const MOST_COUNTS: i32 = crate::check::range::MOST_COUNTS as i32;
const E2BIG: i64 = 7;

/// A probe variable as the callback sees it: where it lives in the probe and in the record.
struct Captured {
    name: String,
    var: VarSlot,
    at: i32,
    size: u32,
}

/// What a loop's callback is called for.
enum Walk<'a> {
    /// Each entry of a map: `bpf_for_each_map_elem` passes (map, key, value, record).
    Entries { map: usize, entry: &'a ValueType },
    /// Each count of a range: `bpf_loop` passes (count from the start, record).
    Counts,
}

impl ProbeLowerer<'_, '_> {
    /// `for ($kv : @map) { body }`.
    pub fn for_map(&mut self, var: &Ident, map_expr: &Expr, body: &Block) -> Lowering<()> {
        let map = self.iterated_map(map_expr, "`for`")?;
        let entry = self.shared.maps.entry_type(map).ok_or_else(|| {
            not_iterable(&self.shared.maps.value(map), map_expr.span, "iterate over")
        })?;
        let (record, captured) = self.loop_record(var);
        let callback =
            self.loop_callback(Walk::Entries { map, entry: &entry }, var, &captured, body)?;
        let record_addr = self.slot_addr(record, 0);
        self.call_for_each(map, callback, Operand::Reg(record_addr));
        self.loop_finish(record, &captured);
        Ok(())
    }

    /// `for ($i : start..end) { body }` as a callback `bpf_loop` runs `end - start` times
    /// (none when that is not positive); `start` and `end` are already evaluated, once, and
    /// `range` is their text.
    pub fn for_range_by_calls(
        &mut self,
        var: &Ident,
        (start, end, range): (VReg, VReg, Span),
        body: &Block,
    ) -> Lowering<()> {
        let (record, captured) = self.loop_record(var);
        self.store_u64(Addr::Slot(record, START_AT), Operand::Reg(start));
        let callback = self.loop_callback(Walk::Counts, var, &captured, body)?;

        let counts = self.alu(Alu::Sub, end, Operand::Reg(start));
        let done = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Sle,
            a: counts,
            b: Operand::Imm(0),
            then: done,
        });
        // Past its limit the helper would run nothing and fail with -E2BIG (and a count
        // past 32 bits would be cut to its low bits): that is known here, without the call,
        // whose inlined form reports the error in 32 bits only.
        let call = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Sle,
            a: counts,
            b: Operand::Imm(MOST_COUNTS),
            then: call,
        });
        if self.shared.options.helper_errors {
            self.helper_failed(Helper::Loop, -E2BIG, range);
        } else {
            // Not a silent nothing: the body's results would be missing.
            self.send(too_many_counts_warning(range), &[], &[]);
        }
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(call));
        self.call_loop(Operand::Reg(counts), callback, record);
        self.emit(Inst::Label(done));
        self.loop_finish(record, &captured);
        Ok(())
    }

    /// `bpf_loop(counts, callback, &record, 0)`: the callback (one of this function's) runs
    /// once per count with the record on the probe's stack.
    pub(super) fn call_loop(&mut self, counts: Operand, callback: usize, record: Slot) {
        let cb = self.f.new_vreg();
        self.emit(Inst::FuncRef(cb, callback));
        let record_addr = self.slot_addr(record, 0);
        self.emit(Inst::Call {
            helper: Helper::Loop,
            args: vec![
                counts,
                Operand::Reg(cb),
                Operand::Reg(record_addr),
                Operand::Imm(0),
            ],
            ret: None,
        });
    }

    /// The function's one record for its callbacks (`loop_record`), at least `size` bytes.
    pub(super) fn callback_record(&mut self, size: u32) -> Slot {
        match self.loop_record {
            Some(record) => {
                let slot = &mut self.f.slots[record.0 as usize];
                *slot = (*slot).max(size.next_multiple_of(8));
                record
            }
            None => {
                let record = self.f.new_slot(size);
                self.f.stack_only.push(record);
                self.loop_record = Some(record);
                record
            }
        }
    }

    /// The record a loop's callback is handed, filled: the context, a clear `return` flag
    /// and the probe's variables (all but the loop's own, which the callback binds).
    fn loop_record(&mut self, var: &Ident) -> (Slot, Vec<Captured>) {
        let mut captured: Vec<Captured> = self
            .vars
            .iter()
            .filter(|(name, _)| **name != var.name)
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
        let record = self.callback_record(at);
        self.store_u64(Addr::Slot(record, CONTEXT_AT), Operand::Reg(self.ctx));
        self.store_u64(Addr::Slot(record, RETURNED_AT), Operand::Imm(0));
        for c in &captured {
            self.copy(Addr::Slot(record, c.at), Addr::Slot(c.var.slot, 0), c.size);
        }
        (record, captured)
    }

    /// After the loop: the variables back from the record, and the probe returns if the body
    /// ran `return`.
    fn loop_finish(&mut self, record: Slot, captured: &[Captured]) {
        for c in captured {
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

    /// The loop body as a callback returning 0 (next) or 1 (stop); returns its index among
    /// this function's callbacks.
    fn loop_callback(
        &mut self,
        walk: Walk,
        var: &Ident,
        captured: &[Captured],
        body: &Block,
    ) -> Lowering<usize> {
        if self.dispatched {
            // The program is loaded by hand for a multi-uprobe link, without callbacks.
            let what = match walk {
                Walk::Entries { .. } => "a loop over a map",
                Walk::Counts => "a loop over a computed or long range",
            };
            return Err(self.not_dispatched(what, body.span));
        }
        let index = self.f.callbacks.len();
        let name = format!("{}_cb{index}", self.f.name);
        let (span, probe, probe_index) = (self.span, self.probe, self.index);
        let mut l = ProbeLowerer {
            declared: self.declared.clone(),
            int_widths: self.int_widths.clone(),
            fresh_stacks: self.fresh_stacks.clone(),
            ..ProbeLowerer::new(&mut *self.shared, name, span, probe, probe_index)
        };
        // Every argument is taken before anything else can reuse its register.
        let [first, second, record] = [l.f.new_vreg(), l.f.new_vreg(), l.f.new_vreg()];
        match walk {
            Walk::Entries { .. } => {
                l.emit(Inst::Arg(first, 1));
                l.emit(Inst::Arg(second, 2));
                l.emit(Inst::Arg(record, 3));
            }
            Walk::Counts => {
                l.emit(Inst::Arg(first, 0));
                l.emit(Inst::Arg(record, 1));
            }
        }
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
        match walk {
            Walk::Entries { map, entry } => l.bind_entry(map, var, entry, first, second)?,
            Walk::Counts => {
                let start = l.load_u64(Addr::Ptr(record, START_AT));
                let i = l.alu(Alu::Add, start, Operand::Reg(first));
                let slot = l.var_slot(&var.name, &SIGNED);
                l.store_u64(Addr::Slot(slot, 0), Operand::Reg(i));
            }
        }

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

/// The run-time warning for a range past what `bpf_loop` runs, at the range.
fn too_many_counts_warning(span: Span) -> crate::program::Action {
    crate::program::Action::RuntimeWarning {
        message: format!(
            "this range has more than {MOST_COUNTS} counts, the most a loop runs: its body \
             did not run"
        ),
        span,
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

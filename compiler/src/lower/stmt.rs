//! Statements, map updates (plain values and every aggregation) and the ring-buffer records
//! that carry actions to user space (the actions themselves are builtins, in `builtins`).

use super::known_reads;
use super::maps::declared_int;
use super::stacks;
use super::Lowering;
use super::SIGNED;
use super::{map_parts, ProbeLowerer, Shared, Val, VarSlot};
use crate::ast::{self, BinaryOp, Block, Expr, ExprKind, ForIter, Ident, Stmt, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, DataSection, Helper, Size};
use crate::ir::{self, Addr, Function, Inst, Operand, Slot, VReg};
use crate::program::{full_counter, log2_bucket, Action, MapValue, ValueType, LOST_COUNTER};
use crate::resolve::ResolvedProbe;
use crate::span::Span;

const BPF_ANY: i32 = 0;

/// The longest literal range kept as an inline loop: the verifier walks each of its counts.
const INLINE_COUNTS: i64 = 64;

pub(crate) fn lower_probe(
    shared: &mut Shared,
    probe: &ast::Probe,
    resolved: &ResolvedProbe,
    index: usize,
    name: String,
    sampled_copy: bool,
) -> Result<Function, Diagnostic> {
    let mut l = ProbeLowerer::new(shared, name, probe.span, resolved, index);
    l.sampled_copy = sampled_copy;
    l.infer_int_widths(probe);
    l.emit(Inst::Arg(l.ctx, 0));
    l.member_body(probe, index)?;
    l.f.remove_unreachable();
    Ok(l.f)
}

impl ProbeLowerer<'_, '_> {
    /// The probe's sampling draw, predicate and body, ending at its exit label with a return.
    pub(super) fn member_body(&mut self, probe: &ast::Probe, index: usize) -> Lowering<()> {
        let exit_label = self.exit_label;
        // A dispatched probe's members are paths that never meet: none reuses another's reads.
        self.known = Default::default();
        self.var_pointers = crate::check::var_pointers::var_pointers(probe);
        self.fresh_stacks = stacks::fresh_stack_vars(probe);
        self.sample_draw(index);
        if let Some(pred) = &probe.predicate {
            self.span = pred.span;
            self.known.noting = known_reads::straight_expr(pred);
            let (c, _) = self.int(pred)?;
            self.known.noting = false;
            self.emit(Inst::Branch {
                cond: Cond::Eq,
                a: c,
                b: Operand::Imm(0),
                then: exit_label,
            });
        }
        for s in &probe.body.stmts {
            self.span = s.span;
            let writes = known_reads::writes_of(s);
            self.forget_reads(&writes);
            self.known.noting = known_reads::straight(s);
            self.stmt(s)?;
            self.known.noting = false;
            self.forget_reads(&writes);
        }
        self.span = probe.span;
        self.emit(Inst::Label(exit_label));
        self.emit(Inst::Return(Operand::Imm(0)));
        Ok(())
    }

    fn forget_reads(&mut self, writes: &Option<std::collections::HashSet<String>>) {
        let maps = &self.shared.maps;
        self.known.forget(writes, |m| maps.name(m).to_string());
    }

    /// A sampled probe runs the rest for 1 hit in N: a random draw, so that no periodic
    /// pattern in the events lines up with the sampling. N is `--auto-filter`'s constant, or
    /// the guard's, which it can change while the program runs (`program::GuardSampled`): a
    /// probe's own program tail-calls its sampled copy, which draws with the mask N - 1 read
    /// from the guard's global data; a dispatched member reads the mask in line (0 takes
    /// every hit and draws nothing).
    fn sample_draw(&mut self, index: usize) {
        let mask = match self.shared.guard_slots.get(&index) {
            Some(_) if !self.dispatched && !self.sampled_copy => {
                self.tail_call_sampled_copy();
                return;
            }
            Some(&slot) => {
                // The mask's address is a constant the loader writes: no lookup, never null.
                let at = self.f.new_vreg();
                self.emit(Inst::GlobalAddr(at, DataSection::Masks, 8 * slot));
                let mask = self.load_u64(Addr::Ptr(at, 0));
                // A copy runs only while the guard samples.
                let every = (!self.sampled_copy).then(|| self.new_label());
                if let Some(every) = every {
                    self.jump_if_zero(mask, every);
                }
                Some((Operand::Reg(mask), every))
            }
            _ => self
                .shared
                .options
                .sample
                .get(&index)
                .map(|&n| (Operand::Imm(n.next_power_of_two() as i32 - 1), None)),
        };
        let Some((mask, every_hit)) = mask else {
            return;
        };
        let draw = self.helper_int(Helper::GetPrandomU32, Vec::new());
        let low = self.alu(Alu::And, draw, mask);
        let exit_label = self.exit_label;
        self.emit(Inst::Branch {
            cond: Cond::Ne,
            a: low,
            b: Operand::Imm(0),
            then: exit_label,
        });
        if let Some(every) = every_hit {
            self.emit(Inst::Label(every));
        }
    }

    /// The jump into this program's sampled copy: an empty slot, and so a fall-through, until
    /// the guard samples the probe. Four instructions where the draw in line takes seven.
    fn tail_call_sampled_copy(&mut self) {
        let section = (self.probe.kind.probe()).section_for(&self.f.name, &self.probe.targets);
        let kind = section.split('/').next().unwrap_or_default();
        let (map, array, index) = self.shared.sampled_copy_slot(kind);
        let copy = crate::program::SampledCopy {
            program: self.f.name.clone(),
            copy: super::sampled_copy_name(&self.f.name),
            array,
            index,
        };
        self.shared.sampled_copies.push((self.index, copy));
        let array = self.f.new_vreg();
        self.emit(Inst::MapRef(array, map));
        self.emit(Inst::Call {
            helper: Helper::TailCall,
            args: vec![
                Operand::Reg(self.ctx),
                Operand::Reg(array),
                Operand::Imm(index as i32),
            ],
            ret: None,
        });
    }

    /// `c ? a() : b()` of two calls that return nothing: one runs, as an `if` would.
    fn either_action(&mut self, cond: &Expr, then: &Expr, otherwise: &Expr) -> Lowering<()> {
        let (c, _) = self.int(cond)?;
        let other = self.new_label();
        let done = self.new_label();
        self.jump_if_zero(c, other);
        self.expr(then)?;
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(other));
        self.expr(otherwise)?;
        self.emit(Inst::Label(done));
        Ok(())
    }

    pub fn block(&mut self, block: &Block) -> Lowering<()> {
        for s in &block.stmts {
            self.span = s.span;
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> Lowering<()> {
        match &s.kind {
            // `c ? printf("a") : printf("b")` as a statement: one action or the other.
            StmtKind::Expr(Expr {
                kind:
                    ExprKind::Ternary {
                        cond,
                        then,
                        otherwise,
                    },
                ..
            }) if returns_nothing(then) && returns_nothing(otherwise) => {
                self.either_action(cond, then, otherwise)?
            }
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value)?,
            StmtKind::Let { var, ty, value } => {
                if let Some(ty) = ty.as_ref().filter(|t| declared_int(t).is_some()) {
                    self.declared.insert(var.name.clone(), ty.clone());
                }
                match value {
                    Some(v) => {
                        let target = Expr::new(ExprKind::Var(var.name.clone()), var.span);
                        self.assign(&target, None, v)?;
                    }
                    // `let $x;` declares a variable holding zero (of the type its later
                    // assignments give it), a new one each time the declaration runs.
                    None => {
                        let declared = ty.as_ref().and_then(declared_int).unwrap_or(SIGNED);
                        let slot = self.var_slot(&var.name, &declared);
                        let size = self.vars[&var.name].ty.size();
                        self.zero(Addr::Slot(slot, 0), size);
                    }
                }
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let (c, _) = self.int(cond)?;
                let else_label = self.new_label();
                let done = self.new_label();
                self.jump_if_zero(c, else_label);
                self.block(then)?;
                self.emit(Inst::Jump(done));
                self.emit(Inst::Label(else_label));
                if let Some(o) = otherwise {
                    self.span = o.span;
                    self.stmt(o)?;
                }
                self.emit(Inst::Label(done));
            }
            StmtKind::While { cond, body } => {
                let top = self.new_label();
                let end = self.new_label();
                self.emit(Inst::LoopStart);
                self.emit(Inst::Label(top));
                let (c, _) = self.int(cond)?;
                self.jump_if_zero(c, end);
                self.loop_labels.push((end, top));
                self.block(body)?;
                self.loop_labels.pop();
                self.emit(Inst::Jump(top));
                self.emit(Inst::Label(end));
                self.emit(Inst::LoopEnd);
            }
            StmtKind::Unroll { count, body } => {
                let n = match count.kind {
                    ExprKind::Int(n) => n,
                    _ => return Err(self.unsupported("`unroll` with a computed count", count.span)),
                };
                for _ in 0..n {
                    self.block(body)?;
                }
            }
            StmtKind::For {
                var,
                iter: ForIter::Range(from, to),
                body,
            } => {
                self.for_range(var, from, to, body)?;
            }
            StmtKind::For {
                var,
                iter: ForIter::Map(m),
                body,
            } => self.for_map(var, m, body)?,
            StmtKind::Break | StmtKind::Continue => {
                let Some(&(end, next)) = self.loop_labels.last() else {
                    return Err(Diagnostic::error(
                        "`break` outside of a loop",
                        s.span,
                        "not in a loop",
                    ));
                };
                let to = if matches!(s.kind, StmtKind::Break) {
                    end
                } else {
                    next
                };
                self.emit(Inst::Jump(to));
            }
            StmtKind::Return(_) => {
                let exit = self.exit_label;
                self.emit(Inst::Jump(exit));
            }
            StmtKind::Block(b) => self.block(b)?,
        }
        Ok(())
    }

    /// `for ($i : from..to)`: inline, as a loop the verifier walks once per count, when the
    /// range is literals and short; otherwise (a computed bound, a long range) as a
    /// `bpf_loop` callback, which it checks once.
    fn for_range(&mut self, var: &Ident, from: &Expr, to: &Expr, body: &Block) -> Lowering<()> {
        // A wildcard's one program has no callbacks: its literal ranges stay inline (the
        // checker refused those past what a loop runs).
        let short = crate::check::range::literal_counts(from, to)
            .is_some_and(|counts| self.dispatched || counts <= INLINE_COUNTS);
        let (start, _) = self.int(from)?;
        let (end_value, _) = self.int(to)?;
        if !short {
            let range = (start, end_value, from.span.to(to.span));
            return self.for_range_by_calls(var, range, body);
        }
        let slot = self.var_slot(&var.name, &SIGNED);
        let bound = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(start));
        self.store_u64(Addr::Slot(bound, 0), Operand::Reg(end_value));
        let top = self.new_label();
        let next = self.new_label();
        let end = self.new_label();
        self.emit(Inst::LoopStart);
        self.emit(Inst::Label(top));
        let i = self.f.new_vreg();
        let limit = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: i,
            addr: Addr::Slot(slot, 0),
            size: Size::DW,
            signed: false,
        });
        self.emit(Inst::Load {
            dst: limit,
            addr: Addr::Slot(bound, 0),
            size: Size::DW,
            signed: false,
        });
        self.emit(Inst::Branch {
            cond: Cond::Sge,
            a: i,
            b: Operand::Reg(limit),
            then: end,
        });
        self.loop_labels.push((end, next));
        self.block(body)?;
        self.loop_labels.pop();
        self.emit(Inst::Label(next));
        self.increment_u64(Addr::Slot(slot, 0));
        self.emit(Inst::Jump(top));
        self.emit(Inst::Label(end));
        self.emit(Inst::LoopEnd);
        Ok(())
    }

    /// The slot of a scratch variable, made on first assignment with the value's type.
    pub(super) fn var_slot(&mut self, name: &str, ty: &ValueType) -> Slot {
        if let Some(v) = self.vars.get(name) {
            return v.slot;
        }
        // The pre-pass knows every value the variable will hold; size the slot for all.
        let ty = self.shared.maps.var_type(self.index, name).unwrap_or(ty);
        let stored = match ty {
            ValueType::Int { signed, .. } => ValueType::Int {
                size: 8,
                signed: *signed,
            },
            ty => ty.clone(),
        };
        let slot = self.f.new_slot(stored.size());
        if matches!(stored, ValueType::Int { .. } | ValueType::Pointer) {
            self.f.tracked.push(slot);
        }
        self.vars
            .insert(name.to_string(), VarSlot { slot, ty: stored });
        slot
    }

    fn assign(&mut self, target: &Expr, op: Option<BinaryOp>, value: &Expr) -> Lowering<()> {
        match &target.kind {
            ExprKind::Var(name) => {
                let computed = match op {
                    None => value.clone(),
                    Some(op) => Expr::new(
                        ExprKind::Binary {
                            op,
                            lhs: Box::new(target.clone()),
                            rhs: Box::new(value.clone()),
                        },
                        value.span,
                    ),
                };
                // A declared integer variable holds the value converted to its type.
                let computed = match self.declared.get(name) {
                    Some(ty) => Expr::new(
                        ExprKind::Cast {
                            ty: ty.clone(),
                            expr: Box::new(computed),
                        },
                        value.span,
                    ),
                    None => computed,
                };
                let v = self.expr(&computed)?;
                let ty = v.ty();
                let slot = self.var_slot(name, &ty);
                let stored = self.vars[name].ty.clone();
                self.store_value(Addr::Slot(slot, 0), &stored, &v);
            }
            ExprKind::Map { name, keys } => {
                let map =
                    self.shared.maps.lookup(&name.name).ok_or_else(|| {
                        Diagnostic::error("unknown map", target.span, "never typed")
                    })?;
                match (op, &value.kind, self.shared.maps.value(map)) {
                    (None, ExprKind::Call { name: f, args }, kind)
                        if !matches!(kind, MapValue::Plain(_)) =>
                    {
                        self.aggregate(map, keys, &kind, args, f.span)?
                    }
                    (None, _, MapValue::Plain(ty)) => {
                        let v = self.expr(value)?;
                        let key = self.build_key(map, keys, None)?;
                        let slot = self.f.new_slot(ty.size());
                        self.zero(Addr::Slot(slot, 0), ty.size());
                        self.store_value(Addr::Slot(slot, 0), &ty, &v);
                        self.update(map, key, slot);
                    }
                    (Some(op), _, MapValue::Plain(_)) => {
                        let (v, _) = self.int(value)?;
                        let alu = super::expr::arithmetic(op).ok_or_else(|| {
                            self.unsupported("this compound assignment", target.span)
                        })?;
                        self.map_compound(name, keys, alu, v, target.span)?;
                    }
                    _ => return Err(self.unsupported("this map assignment", target.span)),
                }
            }
            ExprKind::Ident(_) => {
                self.expr(value)?;
            }
            _ => return Err(self.unsupported("assigning to this", target.span)),
        }
        Ok(())
    }

    /// Builds a map's key in a fresh, zeroed slot (padding must be zero: keys are hashed
    /// byte for byte), or finds it built already. `bucket`, for histograms, is stored as the
    /// last field.
    pub fn build_key(&mut self, map: usize, keys: &[Expr], bucket: Option<VReg>) -> Lowering<Slot> {
        // A key built already (`known_reads`): its slot still holds it.
        let known = bucket
            .is_none()
            .then(|| super::known_reads::key_text(keys))
            .flatten();
        if let Some(slot) = known.as_ref().and_then(|k| self.known.key_slot(map, k)) {
            return Ok(slot);
        }
        let fields = self.shared.maps.key_fields(map);
        let size = ValueType::Tuple(fields.clone()).size();
        let offsets = ValueType::field_offsets(&fields);
        // `@m[(a, b)]` is `@m[a, b]`.
        let flattened: Vec<Val> = match keys {
            [Expr {
                kind: ExprKind::Tuple(items),
                ..
            }] if self.shared.maps.keys(map).len() == items.len() && items.len() > 1 => items
                .iter()
                .map(|k| self.expr(k))
                .collect::<Lowering<_>>()?,
            keys => keys.iter().map(|k| self.expr(k)).collect::<Lowering<_>>()?,
        };
        // A key that is one value already in a slot of its own, laid out as the key is (the
        // task's name): that slot is the key, as a copy would be byte for byte the same.
        if let (
            [Val::Mem {
                addr: Addr::Slot(own, 0),
                ty,
            }],
            [field],
            None,
        ) = (flattened.as_slice(), fields.as_slice(), bucket)
        {
            let a_variable = self.vars.values().any(|v| v.slot == *own);
            if ty == field && ty.size() == size && !a_variable {
                return Ok(*own);
            }
        }
        let slot = self.f.new_slot(size);
        self.zero(Addr::Slot(slot, 0), size);
        let keys = self.shared.maps.keys(map).to_vec();
        // One tuple value for several keys (`$t = (a, b); @m[$t]`): its fields lie as the
        // key's do.
        if let (
            [one @ Val::Mem {
                ty: ValueType::Tuple(_),
                ..
            }],
            true,
        ) = (flattened.as_slice(), keys.len() > 1)
        {
            self.store_value(Addr::Slot(slot, 0), &ValueType::Tuple(keys), one);
        } else {
            for (i, v) in flattened.iter().enumerate() {
                if let (Some(field), Some(at)) = (fields.get(i), offsets.get(i)) {
                    self.store_value(Addr::Slot(slot, *at as i32), field, v);
                }
            }
        }
        if let Some(b) = bucket {
            let at = *offsets.last().expect("histogram keys have a bucket field") as i32;
            self.store_u64(Addr::Slot(slot, at), Operand::Reg(b));
        }
        if let Some(k) = known {
            self.known.note_key(map, k, slot);
        }
        Ok(slot)
    }

    /// `bpf_map_lookup_elem(map, &key)`: a pointer to the value, or 0.
    pub fn lookup(&mut self, map: usize, key: Slot) -> VReg {
        let m = self.f.new_vreg();
        self.emit(Inst::MapRef(m, map));
        let k = self.slot_addr(key, 0);
        let r = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::MapLookupElem,
            args: vec![Operand::Reg(m), Operand::Reg(k)],
            ret: Some(r),
        });
        r
    }

    /// `bpf_map_update_elem(map, &key, &value, flags)`: 0, or a negative errno.
    pub fn update_elem(&mut self, map: usize, key: Slot, value: Slot, flags: i32) -> VReg {
        let m = self.f.new_vreg();
        self.emit(Inst::MapRef(m, map));
        let k = self.slot_addr(key, 0);
        let v = self.slot_addr(value, 0);
        let result = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::MapUpdateElem,
            args: vec![
                Operand::Reg(m),
                Operand::Reg(k),
                Operand::Reg(v),
                Operand::Imm(flags),
            ],
            ret: Some(result),
        });
        result
    }

    pub(super) fn update(&mut self, map: usize, key: Slot, value: Slot) {
        let result = self.update_elem(map, key, value, BPF_ANY);
        // A new key in a full map is refused (-E2BIG): count it, the runtime says so.
        let stored = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Sge,
            a: result,
            b: Operand::Imm(0),
            then: stored,
        });
        self.emit(Inst::ColdStart);
        self.bump_counter(full_counter(map));
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(stored));
    }

    /// Adds 1 to the loss counter at byte `offset` of `program::COUNTERS_MAP`: its address
    /// is a constant the loader writes (no lookup), and the add is atomic, as every CPU shares
    /// the counter.
    pub fn bump_counter(&mut self, offset: u32) {
        let at = self.f.new_vreg();
        self.emit(Inst::GlobalAddr(at, DataSection::Counters, offset));
        let one = self.f.new_vreg();
        self.emit(Inst::Const(one, 1));
        self.emit(Inst::AtomicAdd {
            addr: Addr::Ptr(at, 0),
            value: one,
        });
    }

    /// `dst = a op b` for a compound assignment (`/` and `%` by zero give 1, as anywhere).
    fn compound_step(&mut self, op: Alu, dst: VReg, a: VReg, b: VReg, span: Span) {
        if matches!(op, Alu::Div | Alu::Mod) {
            let r = self.divide(op, a, b, span);
            self.emit(Inst::Mov(dst, r));
        } else {
            self.emit(Inst::Alu {
                op,
                dst,
                a,
                b: Operand::Reg(b),
            });
        }
    }

    /// `@m[k] op= v` on a plain integer map; returns the new value.
    pub fn map_compound(
        &mut self,
        name: &Ident,
        keys: &[Expr],
        op: Alu,
        v: VReg,
        span: Span,
    ) -> Lowering<VReg> {
        let map = self
            .shared
            .maps
            .lookup(&name.name)
            .ok_or_else(|| Diagnostic::error("unknown map", span, "never typed"))?;
        let key = self.build_key(map, keys, None)?;
        let found = self.lookup(map, key);
        let result = self.f.new_vreg();
        let missing = self.new_label();
        let done = self.new_label();
        self.jump_if_zero(found, missing);
        let old = self.load_u64(Addr::Ptr(found, 0));
        self.compound_step(op, result, old, v, span);
        self.store_u64(Addr::Ptr(found, 0), Operand::Reg(result));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(missing));
        self.emit(Inst::ColdStart);
        let zero = self.const_reg(0);
        self.compound_step(op, result, zero, v, span);
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(result));
        self.update(map, key, slot);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(done));
        Ok(result)
    }

    /// `@m[k] = count()`, `sum(x)`, ... : update this CPU's slot in place, or insert it.
    fn aggregate(
        &mut self,
        map: usize,
        keys: &[Expr],
        kind: &MapValue,
        args: &[Expr],
        span: Span,
    ) -> Lowering<()> {
        let x = match kind {
            MapValue::Count => None,
            _ => {
                let arg = args.first().ok_or_else(|| {
                    Diagnostic::error("this aggregation needs a value", span, "missing argument")
                })?;
                Some(self.int(arg)?.0)
            }
        };
        if let MapValue::Tseries {
            interval_ns,
            intervals,
            agg,
            signed,
        } = *kind
        {
            let series = super::tseries::Series {
                interval_ns,
                intervals,
                agg,
                signed,
            };
            let x = x.expect("tseries has a value");
            return self.tseries_update(map, keys, &series, x, span);
        }
        if let (Some(failed), [key]) = (self.shared.maps.failed_stack_index(map), keys) {
            return self.count_by_stack_id(map, key, failed);
        }
        let bucket = match kind {
            MapValue::Hist { k } => Some(self.log2_bucket(x.expect("hist has a value"), *k)),
            MapValue::Lhist { min, max, step } => {
                let range = args.first().and_then(known_range);
                let x = x.expect("lhist has a value");
                Some(self.linear_bucket(x, (*min, *max, *step), range))
            }
            _ => None,
        };
        let key = self.build_key(map, keys, bucket)?;
        let found = self.lookup(map, key);
        if self.shared.maps.is_array(map) {
            // Its entries are always there (a bucket is in range by construction); the
            // verifier still wants the check.
            let done = self.new_label();
            self.jump_if_zero(found, done);
            self.aggregate_in_place(kind, found, x);
            self.emit(Inst::Label(done));
            return Ok(());
        }
        let missing = self.new_label();
        let done = self.new_label();
        self.jump_if_zero(found, missing);
        self.aggregate_in_place(kind, found, x);
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(missing));
        self.emit(Inst::ColdStart);
        let size = kind.stored_size();
        let slot = self.f.new_slot(size);
        let first: Vec<Operand> = match kind {
            MapValue::Count => vec![Operand::Imm(1)],
            MapValue::Hist { .. } | MapValue::Lhist { .. } => {
                vec![Operand::Imm(1), Operand::Reg(x.expect("histogram"))]
            }
            MapValue::Sum { .. } => vec![Operand::Reg(x.expect("sum"))],
            MapValue::Min { .. } | MapValue::Max { .. } | MapValue::Avg { .. } => {
                vec![Operand::Reg(x.expect("value")), Operand::Imm(1)]
            }
            MapValue::Stats { .. } => {
                let x = Operand::Reg(x.expect("stats"));
                vec![x, Operand::Imm(1), x, x, Operand::Imm(1)]
            }
            MapValue::Plain(_) | MapValue::Tseries { .. } => {
                unreachable!("plain values are not aggregated, time series are above")
            }
        };
        for (i, v) in first.into_iter().enumerate() {
            self.store_u64(Addr::Slot(slot, i as i32 * 8), v);
        }
        self.update(map, key, slot);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(done));
        Ok(())
    }

    /// `@[kstack] = count()` in a per-CPU array (`lower::array_maps`): the entry at the
    /// stack's id, or at `failed` when the kernel recorded no stack (a negative id). The
    /// lookup cannot miss, so there is no insert and no refused update.
    fn count_by_stack_id(&mut self, map: usize, key: &Expr, failed: u32) -> Lowering<()> {
        let args = match &key.kind {
            ExprKind::Call { args, .. } => &args[..],
            _ => &[],
        };
        let (id, _) = self.stack_id(false, args)?;
        let recorded = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Sge,
            a: id,
            b: Operand::Imm(0),
            then: recorded,
        });
        self.emit(Inst::Const(id, u64::from(failed)));
        self.emit(Inst::Label(recorded));
        let index = self.f.new_slot(8);
        self.store_u64(Addr::Slot(index, 0), Operand::Reg(id));
        let found = self.lookup(map, index);
        let done = self.new_label();
        self.jump_if_zero(found, done);
        self.aggregate_in_place(&MapValue::Count, found, None);
        self.emit(Inst::Label(done));
        Ok(())
    }

    /// Keeps the smaller (`min`) or larger of `x` and the value at `value`, whose flag at `set`
    /// says whether it holds one yet (a min of nothing is not 0); the flag is set on a store.
    pub(super) fn fold_extreme(
        &mut self,
        value: Addr,
        set: Addr,
        x: VReg,
        min: bool,
        signed: bool,
    ) {
        let keep = self.new_label();
        let store = self.new_label();
        let has = self.load_u64(set);
        self.jump_if_zero(has, store);
        let cur = self.load_u64(value);
        let better = match (min, signed) {
            (true, true) => Cond::Slt,
            (true, false) => Cond::Lt,
            (false, true) => Cond::Sgt,
            (false, false) => Cond::Gt,
        };
        self.emit(Inst::Branch {
            cond: better.negate(),
            a: x,
            b: Operand::Reg(cur),
            then: keep,
        });
        self.emit(Inst::Label(store));
        self.store_u64(value, Operand::Reg(x));
        self.store_u64(set, Operand::Imm(1));
        self.emit(Inst::Label(keep));
    }

    /// Folds `x` into the value an aggregation's lookup found at `found`.
    fn aggregate_in_place(&mut self, kind: &MapValue, found: VReg, x: Option<VReg>) {
        let at = |off: i32| Addr::Ptr(found, off);
        match kind {
            MapValue::Count => self.add_at(at(0), Operand::Imm(1)),
            MapValue::Hist { .. } | MapValue::Lhist { .. } => {
                self.add_at(at(0), Operand::Imm(1));
                self.add_at(at(8), Operand::Reg(x.expect("a histogram has a value")));
            }
            MapValue::Sum { .. } => self.add_at(at(0), Operand::Reg(x.expect("sum has a value"))),
            MapValue::Avg { .. } => {
                self.add_at(at(0), Operand::Reg(x.expect("avg has a value")));
                self.add_at(at(8), Operand::Imm(1));
            }
            MapValue::Min { .. } | MapValue::Max { .. } => {
                let x = x.expect("min/max have a value");
                let min = matches!(kind, MapValue::Min { .. });
                self.fold_extreme(at(0), at(8), x, min, kind.signed());
            }
            MapValue::Stats { .. } => {
                let x = x.expect("stats has a value");
                self.add_at(at(0), Operand::Reg(x));
                self.add_at(at(8), Operand::Imm(1));
                let (less, greater) = if kind.signed() {
                    (Cond::Slt, Cond::Sgt)
                } else {
                    (Cond::Lt, Cond::Gt)
                };
                for (off, cond) in [(16, less), (24, greater)] {
                    let keep = self.new_label();
                    let cur = self.load_u64(at(off));
                    self.emit(Inst::Branch {
                        cond: cond.negate(),
                        a: x,
                        b: Operand::Reg(cur),
                        then: keep,
                    });
                    self.store_u64(at(off), Operand::Reg(x));
                    self.emit(Inst::Label(keep));
                }
            }
            MapValue::Plain(_) | MapValue::Tseries { .. } => {
                unreachable!("plain values are not aggregated, time series are above")
            }
        }
    }

    pub(super) fn add_at(&mut self, addr: Addr, v: Operand) {
        let old = self.f.new_vreg();
        let new = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: old,
            addr,
            size: Size::DW,
            signed: false,
        });
        self.emit(Inst::Alu {
            op: Alu::Add,
            dst: new,
            a: old,
            b: v,
        });
        self.emit(Inst::Store {
            addr,
            value: Operand::Reg(new),
            size: Size::DW,
        });
    }

    /// `program::log2_bucket` in BPF: a binary search for the highest set bit p, then the k
    /// bits below it pick the sub-bucket.
    fn log2_bucket(&mut self, x: VReg, k: u32) -> VReg {
        let n = 1i32 << k;
        let bucket = self.f.new_vreg();
        let done = self.new_label();
        self.emit(Inst::Const(bucket, log2_bucket(-1, k)));
        self.emit(Inst::Branch {
            cond: Cond::Slt,
            a: x,
            b: Operand::Imm(0),
            then: done,
        });
        // Below 2^k every value has its own bucket.
        self.emit(Inst::Alu {
            op: Alu::Add,
            dst: bucket,
            a: x,
            b: Operand::Imm(1),
        });
        self.emit(Inst::Branch {
            cond: Cond::Lt,
            a: x,
            b: Operand::Imm(n),
            then: done,
        });
        let v = self.f.new_vreg();
        self.emit(Inst::Mov(v, x));
        let p = self.const_reg(0);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.new_label();
            let limit = self.const_reg(1u64 << shift);
            self.emit(Inst::Branch {
                cond: Cond::Lt,
                a: v,
                b: Operand::Reg(limit),
                then: skip,
            });
            self.emit(Inst::Alu {
                op: Alu::Rsh,
                dst: v,
                a: v,
                b: Operand::Imm(shift),
            });
            self.emit(Inst::Alu {
                op: Alu::Add,
                dst: p,
                a: p,
                b: Operand::Imm(shift),
            });
            self.emit(Inst::Label(skip));
        }
        // 1 + n + (p - k) * n + ((x >> (p - k)) & (n - 1))
        let shift = self.alu(Alu::Sub, p, Operand::Imm(k as i32));
        let below = self.alu(Alu::Rsh, x, Operand::Reg(shift));
        let sub = self.alu(Alu::And, below, Operand::Imm(n - 1));
        let power = self.alu(Alu::Lsh, shift, Operand::Imm(k as i32));
        let sum = self.alu(Alu::Add, power, Operand::Reg(sub));
        self.emit(Inst::Alu {
            op: Alu::Add,
            dst: bucket,
            a: sum,
            b: Operand::Imm(1 + n),
        });
        self.emit(Inst::Label(done));
        bucket
    }

    /// `program::linear_bucket` in BPF.
    /// lhist's bucket of `x`: 0 below `min`, the last at `max` and above, a step's each
    /// between. A bound `range` (what `x` is known to lie in) already keeps needs no test.
    fn linear_bucket(
        &mut self,
        x: VReg,
        (min, max, step): (i64, i64, i64),
        range: Option<(i64, i64)>,
    ) -> VReg {
        let bucket = self.f.new_vreg();
        let done = self.new_label();
        let lo = self.const_reg(min as u64);
        let hi = self.const_reg(max as u64);
        if range.is_none_or(|(low, _)| low < min) {
            self.emit(Inst::Const(bucket, 0));
            self.emit(Inst::Branch {
                cond: Cond::Slt,
                a: x,
                b: Operand::Reg(lo),
                then: done,
            });
        }
        if range.is_none_or(|(_, high)| high >= max) {
            self.emit(Inst::Const(bucket, 1 + ((max - min) / step) as u64));
            self.emit(Inst::Branch {
                cond: Cond::Sge,
                a: x,
                b: Operand::Reg(hi),
                then: done,
            });
        }
        let d = self.f.new_vreg();
        self.emit(Inst::Alu {
            op: Alu::Sub,
            dst: d,
            a: x,
            b: Operand::Reg(lo),
        });
        let step_reg = self.const_reg(step as u64);
        self.emit(Inst::Alu {
            op: Alu::Div,
            dst: d,
            a: d,
            b: Operand::Reg(step_reg),
        });
        self.emit(Inst::Alu {
            op: Alu::Add,
            dst: bucket,
            a: d,
            b: Operand::Imm(1),
        });
        self.emit(Inst::Label(done));
        bucket
    }

    pub(super) fn whole_map(&mut self, arg: Option<&Expr>, span: Span) -> Lowering<usize> {
        let arg = arg.ok_or_else(|| Diagnostic::error("a map is needed", span, "here"))?;
        let (m, _) = map_parts(arg)
            .ok_or_else(|| Diagnostic::error("a map is needed", arg.span, "not a map"))?;
        self.shared
            .maps
            .lookup(&m.name)
            .ok_or_else(|| Diagnostic::error("unknown map", arg.span, "never assigned"))
    }

    /// Writes a ring-buffer record: the action's index, then the values laid out as a tuple.
    /// A full ring buffer drops the record (the runtime reports drops).
    pub(super) fn send(&mut self, action: Action, types: &[ValueType], values: &[Val]) {
        let id = self.shared.action(action);
        let stored = crate::program::record_fields(types);
        let payload = ValueType::Tuple(stored.clone());
        let size = 8 + payload.size().next_multiple_of(8);
        let rec = self.reserve_record(id, size);
        self.zero(Addr::Ptr(rec.at, 8), size - 8);
        let offsets = ValueType::field_offsets(&stored);
        for ((ty, v), at) in stored.iter().zip(values).zip(offsets) {
            self.store_value(Addr::Ptr(rec.at, 8 + at as i32), ty, v);
        }
        self.submit_record(rec);
    }

    /// Reserves a record of `size` bytes and writes the action index at its start. A probe
    /// whose records go to an iterator's seq file (`Context::seq_output`) builds it in a slot
    /// of its own, after its length (`program::SEQ_RECORD_LENGTH`); any other reserves it in
    /// the ring buffer, and when that is full the record is dropped and counted at `LOST_COUNTER`
    /// (the runtime reports drops).
    pub(super) fn reserve_record(&mut self, id: usize, size: u32) -> OutgoingRecord {
        if self.probe.kind.context().seq_output {
            let len = crate::program::SEQ_RECORD_LENGTH + size;
            let frame = self.f.new_slot(len);
            self.store_u64(Addr::Slot(frame, 0), Operand::Imm(size as i32));
            let idr = self.const_reg(id as u64);
            self.store_u64(
                Addr::Slot(frame, crate::program::SEQ_RECORD_LENGTH as i32),
                Operand::Reg(idr),
            );
            let at = self.slot_addr(frame, crate::program::SEQ_RECORD_LENGTH as i32);
            return OutgoingRecord {
                at,
                leaves: Leaves::Seq { frame, len },
            };
        }
        let rb = self.f.new_vreg();
        let ringbuf = self.shared.ringbuf;
        self.emit(Inst::MapRef(rb, ringbuf));
        let rec = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::RingbufReserve,
            args: vec![Operand::Reg(rb), Operand::Imm(size as i32), Operand::Imm(0)],
            ret: Some(rec),
        });
        let dropped = self.new_label();
        self.jump_if_zero(rec, dropped);
        let idr = self.const_reg(id as u64);
        self.store_u64(Addr::Ptr(rec, 0), Operand::Reg(idr));
        OutgoingRecord {
            at: rec,
            leaves: Leaves::Ring { dropped },
        }
    }

    pub(super) fn submit_record(&mut self, rec: OutgoingRecord) {
        let dropped = match rec.leaves {
            Leaves::Ring { dropped } => dropped,
            Leaves::Seq { frame, len } => {
                // `ctx->meta->seq`: the seq file the reader of the iterator reads. A record
                // that overflows it is not lost: the kernel runs the object again on the
                // next read, with the buffer empty.
                let meta = self.load_u64(Addr::Ptr(self.ctx, 0));
                let seq = self.load_u64(Addr::Ptr(meta, 0));
                let data = self.slot_addr(frame, 0);
                self.emit(Inst::Call {
                    helper: Helper::SeqWrite,
                    args: vec![
                        Operand::Reg(seq),
                        Operand::Reg(data),
                        Operand::Imm(len as i32),
                    ],
                    ret: None,
                });
                return;
            }
        };
        self.emit(Inst::Call {
            helper: Helper::RingbufSubmit,
            args: vec![Operand::Reg(rec.at), Operand::Imm(0)],
            ret: None,
        });
        let done = self.new_label();
        self.emit(Inst::Jump(done));
        // The buffer was full: the record is lost, and counted so the runtime reports it.
        self.emit(Inst::Label(dropped));
        self.emit(Inst::ColdStart);
        self.bump_counter(LOST_COUNTER);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(done));
    }
}

/// The values an integer expression can take, where its shape alone says (as signed
/// 64-bit bounds): a literal; `x % C`, which is unsigned in bpftrace, so `[0, C - 1]`; and
/// `x & C`, `[0, C]`, for a non-negative literal `C`.
fn known_range(e: &Expr) -> Option<(i64, i64)> {
    let literal = |e: &Expr| match crate::check::fold::fold(e)? {
        Ok(crate::check::fold::Literal::NonNegative(v)) => i64::try_from(v).ok(),
        _ => None,
    };
    if let Some(v) = literal(e) {
        return Some((v, v));
    }
    match &e.kind {
        ExprKind::Binary {
            op: BinaryOp::Rem,
            rhs,
            ..
        } => literal(rhs).filter(|&c| c > 0).map(|c| (0, c - 1)),
        ExprKind::Binary {
            op: BinaryOp::BitAnd,
            rhs,
            ..
        } => literal(rhs).map(|c| (0, c)),
        _ => None,
    }
}

/// A call of a builtin that returns nothing (`printf`, `exit`, ...).
fn returns_nothing(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { name, .. }
        if tracebound_stdlib::lookup(&name.name).is_some_and(|b| b.returns == tracebound_stdlib::Ty::Void))
}

/// A record being written: where it is, and where it goes once written.
pub(super) struct OutgoingRecord {
    pub at: VReg,
    leaves: Leaves,
}

enum Leaves {
    /// Reserved in the ring buffer; `dropped` is where a full buffer goes.
    Ring { dropped: ir::Label },
    /// In `frame`, after its length: `len` bytes for the iterator's seq file.
    Seq { frame: ir::Slot, len: u32 },
}

#[cfg(test)]
mod tests {
    use super::known_range;
    use crate::ast::{ExprKind, Item, StmtKind};
    use crate::parse::parse;

    /// The range of the value assigned in `BEGIN { @ = VALUE; }`.
    fn range_of(value: &str) -> Option<(i64, i64)> {
        let program = parse(&format!("BEGIN {{ @ = {value}; }}")).expect("parses");
        let Some(Item::Probe(p)) = program.items.first() else {
            panic!("a probe")
        };
        let StmtKind::Assign { value, .. } = &p.body.stmts[0].kind else {
            panic!("an assignment")
        };
        assert!(!matches!(value.kind, ExprKind::Map { .. }));
        known_range(value)
    }

    #[test]
    fn remainders_masks_and_literals_have_known_ranges() {
        assert_eq!(range_of("pid % 100"), Some((0, 99)));
        assert_eq!(range_of("arg0 & 0xff"), Some((0, 255)));
        assert_eq!(range_of("2 * 3"), Some((6, 6)));
        assert_eq!(range_of("pid"), None);
        assert_eq!(range_of("pid % 0"), None);
        assert_eq!(range_of("pid % $x"), None);
        assert_eq!(range_of("-1"), None);
    }
}

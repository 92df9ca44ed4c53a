//! `@m[k] = tseries(x, interval, n [, agg])`: the slot of the current interval (its epoch,
//! the software TAI clock over the interval, modulo n) is the key's trailing field; the
//! value, `program::MapValue::Tseries`'s { value, meta, epoch }, is this CPU's. A slot left
//! from an older epoch starts over when `agg` accumulates (the last-value form simply
//! overwrites it); user space keeps each slot's latest epoch only.

use super::{Lowering, ProbeLowerer, Val};
use crate::ast::{Expr, Ident};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Cond, Helper};
use crate::ir::{Addr, Inst, Operand, VReg};
use crate::program::TseriesAgg;
use crate::span::Span;

/// Where the pieces of a time series' value sit.
const VALUE: i32 = 0;
const META: i32 = 8;
const EPOCH: i32 = 16;

/// One `tseries` call's constants.
pub(super) struct Series {
    pub interval_ns: u64,
    pub intervals: u64,
    pub agg: TseriesAgg,
    pub signed: bool,
}

impl ProbeLowerer<'_, '_> {
    /// The clock `tseries` and `nsecs(sw_tai)` read: CLOCK_BOOTTIME plus the TAI offset the
    /// run measured when it started; or, when the run names one
    /// (`BPFTRACE_DUMMY_TS_MAP=@ts`, the current release's test hook), a scalar map's value.
    pub(super) fn sw_tai_now(&mut self, span: Span) -> Lowering<VReg> {
        if let Some(name) = self.shared.options.clock_map.clone() {
            let name = name.strip_prefix('@').unwrap_or(&name).to_string();
            if self.shared.maps.lookup(&name).is_none() {
                return Err(Diagnostic::error(
                    format!("the clock map `@{name}` is not a map of this script"),
                    span,
                    "reads the clock from it",
                )
                .with_help("BPFTRACE_DUMMY_TS_MAP names a scalar map of unsigned integers"));
            }
            let ident = Ident { name, span };
            return match self.map_read(&ident, &[], span)? {
                Val::Int { reg, .. } => Ok(reg),
                _ => Err(Diagnostic::error(
                    "the clock map does not hold integers",
                    span,
                    "reads the clock from it",
                )),
            };
        }
        let boot = self.helper_int(Helper::KtimeGetBootNs, Vec::new());
        let offset = self.const_reg(self.shared.options.tai_offset_ns);
        Ok(self.alu(Alu::Add, boot, Operand::Reg(offset)))
    }

    /// Updates this CPU's slot of the current interval with `x`.
    pub(super) fn tseries_update(
        &mut self,
        map: usize,
        keys: &[Expr],
        series: &Series,
        x: VReg,
        span: Span,
    ) -> Lowering<()> {
        let now = self.sw_tai_now(span)?;
        let interval = self.const_reg(series.interval_ns);
        let epoch = self.alu(Alu::Div, now, Operand::Reg(interval));
        let count = self.const_reg(series.intervals);
        let slot = self.alu(Alu::Mod, epoch, Operand::Reg(count));
        let key = self.build_key(map, keys, Some(slot))?;
        let found = self.lookup(map, key);
        let missing = self.new_label();
        let done = self.new_label();
        self.jump_if_zero(found, missing);
        let at = |off: i32| Addr::Ptr(found, off);
        if series.agg != TseriesAgg::Last {
            let current = self.new_label();
            let old = self.load_u64(at(EPOCH));
            self.emit(Inst::Branch {
                cond: Cond::Eq,
                a: old,
                b: Operand::Reg(epoch),
                then: current,
            });
            self.store_u64(at(VALUE), Operand::Imm(0));
            self.store_u64(at(META), Operand::Imm(0));
            self.emit(Inst::Label(current));
        }
        match series.agg {
            TseriesAgg::Last => {
                self.store_u64(at(VALUE), Operand::Reg(x));
                self.store_u64(at(META), Operand::Reg(now));
            }
            TseriesAgg::Sum => self.add_at(at(VALUE), Operand::Reg(x)),
            TseriesAgg::Avg => {
                self.add_at(at(VALUE), Operand::Reg(x));
                self.add_at(at(META), Operand::Imm(1));
            }
            TseriesAgg::Min | TseriesAgg::Max => {
                let min = series.agg == TseriesAgg::Min;
                self.fold_extreme(at(VALUE), at(META), x, min, series.signed);
            }
        }
        self.store_u64(at(EPOCH), Operand::Reg(epoch));
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(missing));
        self.emit(Inst::ColdStart);
        let value = self.f.new_slot(24);
        let meta = match series.agg {
            TseriesAgg::Last => Operand::Reg(now),
            TseriesAgg::Sum => Operand::Imm(0),
            TseriesAgg::Avg | TseriesAgg::Min | TseriesAgg::Max => Operand::Imm(1),
        };
        self.store_u64(Addr::Slot(value, VALUE), Operand::Reg(x));
        self.store_u64(Addr::Slot(value, META), meta);
        self.store_u64(Addr::Slot(value, EPOCH), Operand::Reg(epoch));
        self.update(map, key, value);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(done));
        Ok(())
    }
}

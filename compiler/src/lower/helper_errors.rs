//! `-k`: the current release's run-time warnings for a memory read that failed and for a map
//! value read that found nothing (the value is zero either way, which is all a run without
//! `-k` shows). Each is a record (`Action::HelperError`) holding the helper's return code,
//! sent on the failing path only, at the innermost expression being lowered. Every memory
//! read goes through `ProbeLowerer::emit`, which calls `helper_error_unless_ok` after it.

use super::{ProbeLowerer, Val, SIGNED};
use crate::insn::{Cond, Helper};
use crate::ir::{Inst, Operand, VReg};
use crate::program::Action;
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// After `helper` returned `ret`: a warning when it is negative.
    pub(super) fn helper_error_unless_ok(&mut self, helper: Helper, ret: VReg) {
        let ok = self.new_label();
        self.emit(Inst::Branch {
            cond: Cond::Sge,
            a: ret,
            b: Operand::Imm(0),
            then: ok,
        });
        self.emit(Inst::ColdStart);
        self.send_helper_error(helper, ret);
        self.emit(Inst::ColdEnd);
        self.emit(Inst::Label(ok));
    }

    /// On the path where a map read found no value (with `-k`): a warning, return code 0.
    pub(super) fn lookup_missed(&mut self) {
        if !self.shared.options.helper_errors {
            return;
        }
        let zero = self.const_reg(0);
        self.send_helper_error(Helper::MapLookupElem, zero);
    }

    /// Where `helper` is known to fail with `code`: the warning its call would have given,
    /// at `span` (the caller runs this only with `-k`).
    pub(super) fn helper_failed(&mut self, helper: Helper, code: i64, span: Span) {
        let ret = self.const_reg(code as u64);
        let outer = std::mem::replace(&mut self.expr_span, span);
        self.send_helper_error(helper, ret);
        self.expr_span = outer;
    }

    fn send_helper_error(&mut self, helper: Helper, ret: VReg) {
        let action = Action::HelperError {
            helper: helper.kernel_name().to_string(),
            span: self.expr_span,
        };
        let code = Val::Int {
            reg: ret,
            signed: true,
        };
        self.send(action, &[SIGNED], &[code]);
    }
}

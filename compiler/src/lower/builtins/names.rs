//! Builtins whose value is a number user space prints as what it names: `strerror`,
//! `signal_name`, `syscall_name`, `cgroup_path` (the argument) and `username` (the current
//! uid). The probe
//! records the number in an 8-byte slot typed `ValueType::Named`; the text is looked up when
//! the value is printed, so it never has to fit the BPF stack.

use tracebound_stdlib::Names;

use super::super::Lowering;
use super::super::{ProbeLowerer, Val};
use crate::ast::Expr;
use crate::diagnostic::Diagnostic;
use crate::ir::{Addr, Operand, VReg};
use crate::program::ValueType;
use crate::span::Span;

impl ProbeLowerer<'_, '_> {
    /// `strerror(n)`, `signal_name(n)`, `syscall_name(n)`: `n` as the 32-bit signed integer
    /// the current release converts it to; `cgroup_path(id)`: the whole id.
    pub(super) fn named_number(
        &mut self,
        names: Names,
        args: &[Expr],
        span: Span,
    ) -> Lowering<Val> {
        let [n] = args else {
            // `cgroup_path`'s filter: the checker refuses it at the argument.
            return Err(Diagnostic::error(
                "this call takes one integer",
                span,
                "here",
            ));
        };
        let (reg, _) = self.int(n)?;
        let number = match names {
            Names::CgroupPath => reg,
            _ => self.narrow(reg, 32, true),
        };
        Ok(self.named(names, number))
    }

    /// `username`: the current thread's uid, named when printed.
    pub(super) fn username(&mut self) -> Val {
        let uid = self.uid_or_gid(false);
        self.named(Names::User, uid)
    }

    fn named(&mut self, names: Names, number: VReg) -> Val {
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Reg(number));
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::Named(names),
        }
    }
}

//! Every builtin's code, chosen by the `Lowering` its stdlib entry names: the one place the
//! compiler tells builtins apart. `ProbeLowerer::builtin` matches `Lowering` exhaustively and
//! calls one function per lowering (in the submodules here, grouped by what they work on, or
//! in `formatted` and `stacks` for values user space formats); `value_type` turns an entry's
//! `Value` into the layout variables and maps store; `aggregation` gives the map value an
//! aggregation makes. Nothing here looks at a builtin's name except to find its entry.
//!
//! Why an enum in the table rather than a function pointer: the compiler depends on the
//! stdlib, so the table cannot name compiler code; a typed identifier it can name, matched
//! exhaustively here, makes a missing lowering a compile error rather than a runtime one.

mod actions;
mod constants;
mod integers;
mod map_calls;
mod names;
mod strings;
mod task;
#[cfg(test)]
mod tests;

use tracebound_stdlib::{
    self as stdlib, Aggregation, Builtin, Len, Lowering as By, Support, Value,
};

use super::buf_len;
use super::Lowering;
use super::{LowerOptions, ProbeLowerer, ResolvedProbe, Val};
use super::{INT, SIGNED};
use crate::ast::{self, Expr, ExprKind};
use crate::probe::{ArgSource, Target};
use crate::program::{MapValue, TseriesAgg, ValueType, MAX_HIST_K};
use crate::span::Span;

/// How a builtin is used: bare (`pid`, `kstack`) or called with these arguments.
#[derive(Clone, Copy)]
pub(crate) enum Use<'e> {
    Bare,
    Called(&'e [Expr]),
}

impl<'e> Use<'e> {
    fn args(self) -> &'e [Expr] {
        match self {
            Use::Bare => &[],
            Use::Called(args) => args,
        }
    }
}

impl ProbeLowerer<'_, '_> {
    /// A builtin (`name` as the script spells it, an alias too) used bare or called;
    /// `expanded_from`, the macro calls that expanded it (`Expr::expanded_from`).
    pub(super) fn builtin(
        &mut self,
        name: &str,
        how: Use,
        span: Span,
        expanded_from: &[Span],
    ) -> Lowering<Val> {
        let entry = stdlib::lookup(name);
        let Some(Support::Lowered(lowering, _)) = entry.map(|b| b.support) else {
            return Err(match (entry.and_then(Builtin::refusal), how) {
                // The checker refuses it first; this is for a tree that did not pass it.
                (Some(reason), _) => crate::check::refused_builtin(name, reason, span),
                (None, Use::Bare) => self.unsupported(&format!("the builtin `{name}`"), span),
                (None, Use::Called(_)) => self.unsupported(&format!("`{name}()`"), span),
            });
        };
        let args = how.args();
        let unsigned = |reg| Val::Int { reg, signed: false };
        Ok(match lowering {
            By::Pid | By::Tid => unsigned(self.pid_or_tid(lowering == By::Pid, args, span)?),
            By::Uid | By::Gid => unsigned(self.uid_or_gid(lowering == By::Gid)),
            By::Nsecs => self.nsecs(args, span)?,
            By::Ncpus => unsigned(self.const_reg(self.shared.options.ncpus as u64)),
            By::Cpu => self.helper_value(crate::insn::Helper::GetSmpProcessorId),
            By::Rand => self.helper_value(crate::insn::Helper::GetPrandomU32),
            By::Cgroup => self.helper_value(crate::insn::Helper::GetCurrentCgroupId),
            By::Curtask => self.helper_value(crate::insn::Helper::GetCurrentTask),
            By::Ctx => {
                // Iter probes' typed `ctx` is not compiled (they are not run).
                let ctx = self.ctx;
                unsigned(self.alu(crate::insn::Alu::Add, ctx, crate::ir::Operand::Imm(0)))
            }
            By::Jiffies => self.helper_value(crate::insn::Helper::Jiffies64),
            By::Numaid => self.helper_value(crate::insn::Helper::GetNumaNodeId),
            By::Elapsed => self.elapsed(),
            By::Cpid => self.cpid(span)?,
            By::Comm => match args {
                [pid] => self.comm_of_pid(pid, (span, expanded_from))?,
                _ => {
                    self.no_arguments(name, args, span)?;
                    self.comm()
                }
            },
            By::Arg(n) => self.register_arg(name, n.into(), span)?,
            By::Retval => self.retval(name, span)?,
            By::Probe => self.probe_name(),
            By::ProbeType => self.probe_type(),
            By::Usermode => self.usermode(span)?,
            By::Func => self.function_name(name, span)?,
            // Only `args.field` is compiled, by the expression that reads the field.
            By::Args => return Err(self.unsupported(&format!("the builtin `{name}`"), span)),
            By::Stack { user } => self.stack(user, args)?,
            By::Symbol { user } => self.symbol(user, args, span)?,
            By::Address { user } => self.address(user, args, span)?,
            By::PerCpuAddress => self.percpu_address(args, span)?,
            By::AddressSpace { .. } => self.address_space(name, args, span)?,
            By::Reg => self.register(args, span)?,
            By::Str => self.str_call(args, span)?,
            By::Buf => self.buf_call(args, span)?,
            By::Strftime => self.strftime_call(args, span)?,
            By::Ntop => self.ntop_call(args, span)?,
            By::Pton => self.pton_call(args, span)?,
            By::Macaddr => self.macaddr_call(args, span)?,
            By::Strncmp => self.strncmp(args, span)?,
            By::Strcontains => self.strcontains(args, span)?,
            By::Strlen => self.strlen(args, span)?,
            By::Bswap => self.bswap(args, span)?,
            By::Named => match entry.map(|b| b.support) {
                Some(Support::Lowered(_, Value::Named(names))) => {
                    self.named_number(names, args, span)?
                }
                _ => return Err(self.unsupported(&format!("`{name}()`"), span)),
            },
            By::Username => self.username(),
            By::HasKey => self.has_key(args, span)?,
            By::Len => self.len(args, span)?,
            By::Printf | By::Cat | By::System | By::Message { .. } => {
                self.formatted_action(name, lowering, args, (span, expanded_from))?;
                Val::Void
            }
            By::TracePrintk => {
                self.trace_printk(args, span)?;
                Val::Void
            }
            By::Join => {
                self.join(args, span)?;
                Val::Void
            }
            By::Signal => {
                self.signal(args, span)?;
                Val::Void
            }
            By::Exit => {
                self.exit(args)?;
                Val::Void
            }
            By::Assert => {
                self.assert(args, (span, expanded_from))?;
                Val::Void
            }
            By::Time => {
                self.time(args)?;
                Val::Void
            }
            By::Print => {
                self.print(args, span)?;
                Val::Void
            }
            By::Clear { zero } => {
                self.clear(zero, args, span)?;
                Val::Void
            }
            By::Delete => self.delete(args, span)?,
            // Replaced by its value before checking.
            By::ProgramOption => return Err(self.unsupported(&format!("`{name}()`"), span)),
            // Aggregations are lowered by their map assignment (`stmt::aggregate`); the
            // checker allows them nowhere else.
            By::Aggregate(_) => return Err(self.unsupported(&format!("`{name}()`"), span)),
        })
    }

    /// Refuses arguments to a builtin compiled only in its bare form (`pid(init)`).
    fn no_arguments(&self, name: &str, args: &[Expr], span: Span) -> Lowering<()> {
        match args {
            [] => Ok(()),
            _ => Err(self.unsupported(&format!("`{name}()`"), span)),
        }
    }
}

/// The layout of a builtin's value used with these arguments in this probe, from its table
/// entry; `None` for a name the table lacks or a builtin it does not compile.
pub(crate) fn value_type(
    name: &str,
    args: &[Expr],
    probe: &ResolvedProbe,
    options: &LowerOptions,
) -> Option<ValueType> {
    let builtin = stdlib::lookup(name)?;
    let Support::Lowered(_, value) = builtin.support else {
        return None;
    };
    let max = options.max_strlen;
    let longest = |len: &dyn Fn(&Target) -> usize| {
        probe
            .targets
            .iter()
            .map(|t| len(t) as u32 + 1)
            .max()
            .unwrap_or(1)
    };
    let len = |l: Len| match l {
        Len::Bytes(n) => n,
        Len::Read(i) => strings::str_read_type(args.get(i), options).size(),
        Len::Arg(i) => buf_len(args.get(i), max).unwrap_or(0),
        Len::AttachPoint => longest(&|t| t.to_string().len()),
        Len::Function => longest(&|t| t.function_name().unwrap_or_default().len()),
    };
    Some(match value {
        Value::None => SIGNED,
        // `has_key`, `strcontains`, ...: 0 or 1, typed `bool` as the current release types it.
        Value::Int { .. } if builtin.returns == stdlib::Ty::Bool => ValueType::Bool,
        Value::Int { signed } => ValueType::Int { size: 8, signed },
        Value::Bool => ValueType::Bool,
        Value::LateArg if probe.kind.context().args == ArgSource::UsdtSite => SIGNED,
        Value::LateArg => INT,
        Value::Str(Len::Read(i)) => strings::str_read_type(args.get(i), options),
        Value::Str(l) => ValueType::str(len(l)),
        Value::Buf(l) => ValueType::Buf { len: len(l) },
        Value::Stack { user } => {
            super::stacks::stack_type(user, args, options.stack_mode).unwrap_or(SIGNED)
        }
        Value::Sym { user } => ValueType::Sym { user },
        Value::Timestamp => ValueType::Timestamp {
            format: args
                .first()
                .and_then(super::literal_string)
                .unwrap_or_default()
                .to_string(),
        },
        Value::Inet => ValueType::Inet,
        Value::MacAddr => ValueType::MacAddr,
        Value::AddressBytes => constants::address_type(args)?,
        Value::Named(names) => ValueType::Named(names),
    })
}

/// The map value kind an aggregation call makes (`None` for any other call); `signed` is
/// whether its value argument is (sum, min, max, avg and stats keep it, as the current
/// release's `sum_t`/`usum_t` do).
pub(crate) fn aggregation(name: &str, args: &[Expr], signed: bool) -> Option<MapValue> {
    let Support::Lowered(By::Aggregate(aggregation), _) = stdlib::lookup(name)?.support else {
        return None;
    };
    let int_arg = |i: usize| -> Option<i64> {
        match &args.get(i)?.kind {
            ExprKind::Int(n) => Some(*n as i64),
            ExprKind::Unary {
                op: ast::UnaryOp::Neg,
                expr,
            } => match expr.kind {
                ExprKind::Int(n) => Some(-(n as i64)),
                _ => None,
            },
            _ => None,
        }
    };
    Some(match aggregation {
        Aggregation::Count => MapValue::Count,
        Aggregation::Sum => MapValue::Sum { signed },
        Aggregation::Min => MapValue::Min { signed },
        Aggregation::Max => MapValue::Max { signed },
        Aggregation::Avg => MapValue::Avg { signed },
        Aggregation::Stats => MapValue::Stats { signed },
        Aggregation::Hist => MapValue::Hist {
            k: int_arg(1).unwrap_or(0).clamp(0, MAX_HIST_K as i64) as u32,
        },
        Aggregation::Lhist => MapValue::Lhist {
            min: int_arg(1).unwrap_or(0),
            max: int_arg(2).unwrap_or(0),
            step: int_arg(3).unwrap_or(1).max(1),
        },
        Aggregation::Tseries => MapValue::Tseries {
            interval_ns: int_arg(1).unwrap_or(1).max(1) as u64,
            intervals: int_arg(2).unwrap_or(1).max(1) as u64,
            agg: TseriesAgg::from_name(args.get(3).and_then(super::literal_string))
                .unwrap_or(TseriesAgg::Last),
            signed,
        },
    })
}

/// Whether `e` is the builtin `args` (whose fields are the probe's typed arguments).
pub(crate) fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n)
        if stdlib::lookup(n).is_some_and(|b| matches!(b.support, Support::Lowered(By::Args, _))))
}

/// Whether a probe reads a builtin whose value is text of its attach point (`probe`, `func`):
/// a wildcard probe then needs one program per attach point.
/// Whether the probe reads any `argN`: where each attach point has argument specs of its own
/// (usdt sites), a probe that reads none runs the same code at every one of them.
pub(crate) fn reads_numbered_args(probe: &ast::Probe) -> bool {
    let mut found = false;
    ast::visit::probe_exprs(probe, &mut |e| {
        if let ExprKind::Ident(n) = &e.kind {
            found |= n
                .strip_prefix("arg")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        }
    });
    found
}

pub(crate) fn reads_attach_point(probe: &ast::Probe) -> bool {
    let mut found = false;
    ast::visit::probe_exprs(probe, &mut |e| {
        let name = match &e.kind {
            ExprKind::Ident(n) => n.as_str(),
            ExprKind::Call { name, .. } => name.name.as_str(),
            _ => return,
        };
        found |= stdlib::lookup(name).is_some_and(|b| {
            matches!(
                b.support,
                Support::Lowered(_, Value::Str(Len::AttachPoint | Len::Function))
            )
        });
    });
    found
}

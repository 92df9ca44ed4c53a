//! Builtins that read the current task, the clock, the probe's context or a constant of the
//! compile: `pid`, `uid`, `nsecs`, `comm`, `argN`, `retval`, `probe`, `func`, `reg`, `kaddr`.

use super::super::Lowering;
use super::super::{literal_string, ProbeLowerer, Val};
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::{Alu, Helper};
use crate::ir::{Addr, Inst, Operand, VReg};
use crate::probe::{ArgSource, RetvalSource};
use crate::program::ValueType;
use crate::resolve::symbols::{
    site_key, KFUNC, KFUNC_TASK_FROM_PID, KFUNC_TASK_RELEASE, PERCPU_ROUTE, PERCPU_VARIABLE,
    POSITION_INDEPENDENT, TASK_COMM,
};
use crate::span::Span;

/// Offsets in x86-64's `struct pt_regs` of the registers holding the first six integer
/// arguments (di, si, dx, cx, r8, r9) and of the return value (ax).
const PT_REGS_ARGS: [i32; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_AX: i32 = 80;

impl ProbeLowerer<'_, '_> {
    /// `pid`/`tid` (the tgid or the thread's id), in tracebound's pid namespace unless
    /// called `pid(init)`/`tid(init)`.
    pub(super) fn pid_or_tid(&mut self, pid: bool, args: &[Expr], span: Span) -> Lowering<VReg> {
        let init = match args.first().map(|a| &a.kind) {
            None => false,
            Some(ExprKind::Ident(ns)) if ns == "curr_ns" => false,
            Some(ExprKind::Ident(ns)) if ns == "init" => true,
            Some(_) => return Err(self.unsupported("this pid namespace", span)),
        };
        let r = self.pid_tgid(init);
        Ok(if pid {
            self.alu(Alu::Rsh, r, Operand::Imm(32))
        } else {
            self.mask32(r)
        })
    }

    /// The tgid (upper half) and thread id (lower half) of the current task, as the initial
    /// pid namespace numbers them (`init`) or as tracebound's does: bpf_get_ns_current_pid_tgid
    /// fills `{ u32 pid; u32 tgid; }`, which read as one u64 is the same layout.
    pub(in crate::lower) fn pid_tgid(&mut self, init: bool) -> VReg {
        let Some(ns) = self.shared.options.pid_namespace.filter(|_| !init) else {
            return self.helper_int(Helper::GetCurrentPidTgid, Vec::new());
        };
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Imm(0));
        let dev = self.const_reg(ns.dev);
        let ino = self.const_reg(ns.ino);
        let p = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper: Helper::GetNsCurrentPidTgid,
            args: vec![
                Operand::Reg(dev),
                Operand::Reg(ino),
                Operand::Reg(p),
                Operand::Imm(8),
            ],
            ret: None,
        });
        self.load_u64(Addr::Slot(slot, 0))
    }

    /// `uid` (lower half) or `gid` (upper half) of bpf_get_current_uid_gid.
    pub(super) fn uid_or_gid(&mut self, gid: bool) -> VReg {
        let r = self.helper_int(Helper::GetCurrentUidGid, Vec::new());
        if gid {
            self.alu(Alu::Rsh, r, Operand::Imm(32))
        } else {
            self.mask32(r)
        }
    }

    /// A helper's result, unsigned: `cpu`, `rand`, `cgroup`, `curtask`, `jiffies`, `numaid`.
    pub(super) fn helper_value(&mut self, helper: Helper) -> Val {
        Val::Int {
            reg: self.helper_int(helper, Vec::new()),
            signed: false,
        }
    }

    /// `nsecs`, or `nsecs(clock)` with the clock by name.
    pub(super) fn nsecs(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let helper = match args.first().map(|a| &a.kind) {
            None => Helper::KtimeGetNs,
            Some(ExprKind::Ident(clock)) => match clock.as_str() {
                "monotonic" => Helper::KtimeGetNs,
                "boot" => Helper::KtimeGetBootNs,
                "tai" => Helper::KtimeGetTaiNs,
                // The boot clock moved by the TAI offset the run measured, as the current
                // release computes it for kernels without a TAI helper.
                "sw_tai" => {
                    return Ok(Val::Int {
                        reg: self.sw_tai_now(span)?,
                        signed: false,
                    })
                }
                _ => return Err(self.unsupported(&format!("the clock `{clock}`"), span)),
            },
            Some(_) => return Err(self.unsupported("this `nsecs` argument", span)),
        };
        Ok(self.helper_value(helper))
    }

    /// `elapsed`: now less the run's start, both CLOCK_MONOTONIC.
    pub(super) fn elapsed(&mut self) -> Val {
        let now = self.helper_int(Helper::KtimeGetNs, Vec::new());
        let start = self.const_reg(self.shared.options.start_ns);
        Val::Int {
            reg: self.alu(Alu::Sub, now, Operand::Reg(start)),
            signed: false,
        }
    }

    /// `cpid`: the `-c` child's pid, known when compiling.
    pub(super) fn cpid(&mut self, span: Span) -> Lowering<Val> {
        match self.shared.options.cpid {
            Some(pid) => Ok(Val::Int {
                reg: self.const_reg(pid as u64),
                signed: false,
            }),
            None => Err(Diagnostic::error(
                "`cpid` needs a child: run with -c CMD",
                span,
                "no child",
            )),
        }
    }

    /// `comm`: bpf_get_current_comm into 16 zeroed bytes.
    pub(super) fn comm(&mut self) -> Val {
        let slot = self.f.new_slot(16);
        self.zero(Addr::Slot(slot, 0), 16);
        let p = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper: Helper::GetCurrentComm,
            args: vec![Operand::Reg(p), Operand::Imm(16)],
            ret: None,
        });
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::str(16),
        }
    }

    /// `comm(pid)`: the name of the task with that pid, as the current release finds it
    /// (the kfunc `bpf_task_from_pid`, the task released after its `comm` is read); "N/A"
    /// and its warning when there is none.
    /// `at`: the call, and the macro calls that expanded it, where the warning points.
    pub(super) fn comm_of_pid(&mut self, pid: &Expr, at: (Span, &[Span])) -> Lowering<Val> {
        let (span, expanded_from) = at;
        let (pid, _) = self.int(pid)?;
        let figure = |this: &Self, name: &str| {
            this.shared
                .symbols
                .get(&(KFUNC.to_string(), name.to_string()))
                .copied()
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("`comm(pid)` needs `{name}` from the kernel's BTF"),
                        span,
                        "not found",
                    )
                })
        };
        let from_pid = figure(self, KFUNC_TASK_FROM_PID)?;
        let release = figure(self, KFUNC_TASK_RELEASE)?;
        let comm_at = figure(self, TASK_COMM)?;
        let slot = self.f.new_slot(16);
        self.zero(Addr::Slot(slot, 0), 16);
        let task = self.f.new_vreg();
        self.emit(Inst::Call {
            helper: Helper::Kfunc,
            args: vec![Operand::Imm(from_pid as i32), Operand::Reg(pid)],
            ret: Some(task),
        });
        let found = self.new_label();
        let done = self.new_label();
        self.emit(Inst::Branch {
            cond: crate::insn::Cond::Ne,
            a: task,
            b: Operand::Imm(0),
            then: found,
        });
        // "N/A", NUL-terminated, little-endian.
        self.store_u64(Addr::Slot(slot, 0), Operand::Imm(0x0041_2f4e));
        let warning = crate::program::Action::Message {
            error: false,
            at: span,
            expanded_from: expanded_from.to_vec(),
            format: "No such process (pid=%d)".into(),
            args: vec![super::super::SIGNED],
        };
        let value = Val::Int {
            reg: pid,
            signed: true,
        };
        self.send(warning, &[super::super::SIGNED], &[value]);
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(found));
        let src = self.alu(Alu::Add, task, Operand::Imm(comm_at as i32));
        let dst = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper: Helper::ProbeReadKernelStr,
            args: vec![Operand::Reg(dst), Operand::Imm(16), Operand::Reg(src)],
            ret: None,
        });
        self.emit(Inst::Call {
            helper: Helper::Kfunc,
            args: vec![Operand::Imm(release as i32), Operand::Reg(task)],
            ret: None,
        });
        self.emit(Inst::Label(done));
        Ok(Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty: ValueType::str(16),
        })
    }

    /// `argN`, as the probe's context holds it.
    pub(super) fn register_arg(&mut self, name: &str, n: usize, span: Span) -> Lowering<Val> {
        Ok(match self.probe.kind.context().args {
            // A raw tracepoint's context is its arguments, an array of u64.
            ArgSource::RawArgs => Val::Int {
                reg: self.load_u64(Addr::Ptr(self.ctx, 8 * n as i32)),
                signed: false,
            },
            // A uprobe's context is the registers; the x86-64 calling convention passes the
            // first six integer arguments in them.
            ArgSource::Registers if n < PT_REGS_ARGS.len() => Val::Int {
                reg: self.load_u64(Addr::Ptr(self.ctx, PT_REGS_ARGS[n])),
                signed: true,
            },
            ArgSource::UsdtSite => self.usdt_arg(n, span)?,
            _ => return Err(self.unsupported(&format!("`{name}` in this probe type"), span)),
        })
    }

    /// `retval`: fexit's last argument slot, or ax in the registers of a return probe.
    pub(super) fn retval(&mut self, name: &str, span: Span) -> Lowering<Val> {
        let at = match self.probe.kind.context().retval {
            RetvalSource::ArgsEntry => {
                let Some(ret) = self
                    .probe
                    .args
                    .iter()
                    .find(|a| a.name == crate::probe::FEXIT_RETVAL)
                else {
                    return Err(self.unsupported("`retval` in a wildcard fexit probe", span));
                };
                ret.offset as i32
            }
            RetvalSource::Register => PT_REGS_AX,
            RetvalSource::None => {
                return Err(self.unsupported(&format!("the builtin `{name}`"), span))
            }
        };
        Ok(Val::Int {
            reg: self.load_u64(Addr::Ptr(self.ctx, at)),
            signed: true,
        })
    }

    /// `probe`: the attach point's name (one program per attach point when it is read).
    pub(super) fn probe_name(&mut self) -> Val {
        if let Some(texts) = self.texts {
            return texts.probe();
        }
        let mut text = self
            .probe
            .targets
            .first()
            .map(|t| t.to_string())
            .unwrap_or_default();
        // The current release names BEGIN and END `begin` and `end`, however spelled.
        if self.probe.kind.runs_once() {
            text = text.to_lowercase();
        }
        self.string_literal(&text)
    }

    /// `probetype`: the kind of the probe, as bpftrace names it ("tracepoint", "uprobe",
    /// "special" for BEGIN and END), in the entry's 16 bytes.
    pub(super) fn probe_type(&mut self) -> Val {
        let name = self.probe.kind.probe().type_name();
        let padded = format!("{name:\0<15}");
        self.string_literal(&padded)
    }

    /// `usermode`: 1 when the probe interrupted user-mode code (x86-64: the saved `cs`
    /// selector's privilege level is 3), else 0.
    pub(super) fn usermode(&mut self, span: Span) -> Lowering<Val> {
        // BEGIN and END run for the tracer's own thread, from user space: 1, as in the
        // current release (whose BEGIN is a uprobe on itself).
        if self.probe.kind.runs_once() {
            return Ok(Val::Int {
                reg: self.const_reg(1),
                signed: false,
            });
        }
        if !self.probe.kind.context().registers {
            return Err(self.unsupported("`usermode` in this probe type", span));
        }
        let cs = pt_regs_offset("cs").expect("pt_regs has cs");
        let level = self.load_u64(Addr::Ptr(self.ctx, cs));
        // (cs & 3) + 1 is 4 exactly when the level is 3: shifted right by 2, 1 or 0.
        for (op, b) in [(Alu::And, 3), (Alu::Add, 1), (Alu::Rsh, 2)] {
            self.emit(Inst::Alu {
                op,
                dst: level,
                a: level,
                b: Operand::Imm(b),
            });
        }
        Ok(Val::Int {
            reg: level,
            signed: false,
        })
    }

    /// `func`: the function, without an offset into it, demangled as bpftrace prints it.
    pub(super) fn function_name(&mut self, name: &str, span: Span) -> Lowering<Val> {
        if !self.probe.kind.context().function {
            return Err(self.unsupported(&format!("the builtin `{name}`"), span));
        }
        if let Some(texts) = self.texts {
            return Ok(texts.function());
        }
        let function = self
            .probe
            .targets
            .first()
            .and_then(|t| t.function_name())
            .unwrap_or_default();
        Ok(self.string_literal(&function))
    }

    /// `reg("ip")`: a register saved in the probe's `struct pt_regs` (the context of a
    /// uprobe or kprobe, and the first member of a perf event's).
    pub(super) fn register(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let name = args.first().and_then(literal_string).unwrap_or_default();
        let Some(at) = pt_regs_offset(name) else {
            return Err(Diagnostic::error(
                format!("`{name}` is not a register of x86-64's pt_regs"),
                args.first().map_or(span, |a| a.span),
                "unknown register",
            )
            .with_help(
                "registers are named as in pt_regs: ip, sp, bp, ax, bx, cx, dx, si, di, r8 .. r15",
            ));
        };
        if !self.probe.kind.context().registers {
            return Err(self.unsupported("`reg()` in this probe type", span));
        }
        Ok(Val::Int {
            reg: self.load_u64(Addr::Ptr(self.ctx, at)),
            signed: false,
        })
    }

    /// `kaddr("sym")`, `uaddr("sym")`: the address `resolve::symbols` found when compiling.
    pub(super) fn address(&mut self, user: bool, args: &[Expr], span: Span) -> Lowering<Val> {
        let binary = match user {
            true => self
                .probe
                .targets
                .first()
                .and_then(|t| t.binary())
                .unwrap_or_default(),
            false => "",
        };
        let symbol = args.first().and_then(literal_string).unwrap_or_default();
        let figure = |this: &Self, name: &str| {
            this.shared
                .symbols
                .get(&(binary.to_string(), name.to_string()))
                .copied()
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("symbol `{symbol}` was not resolved"),
                        span,
                        "unknown symbol",
                    )
                })
        };
        let address = self.const_reg(figure(self, symbol)?);
        if !user || figure(self, POSITION_INDEPENDENT)? == 0 {
            return Ok(Val::Int {
                reg: address,
                signed: false,
            });
        }
        // The load bias: where the uprobe hit minus where the symbol table puts its site.
        let site = match self.probe.targets.as_slice() {
            [crate::probe::Target::Uprobe(crate::probe::FunctionSite {
                function: Some(function),
                offset,
                ..
            })] => site_key(function, *offset),
            _ => return Err(self.unsupported("`uaddr` here", span)),
        };
        let site = figure(self, &site)?;
        let ip = pt_regs_offset("ip").unwrap_or_default();
        let hit = self.load_u64(Addr::Ptr(self.ctx, ip));
        let site = self.const_reg(site);
        let bias = self.alu(Alu::Sub, hit, Operand::Reg(site));
        Ok(Val::Int {
            reg: self.alu(Alu::Add, address, Operand::Reg(bias)),
            signed: false,
        })
    }

    /// `percpu_kaddr("var" [, cpu])`: the variable's address on that CPU (0 past the last
    /// CPU) or on this one, found from that CPU's run queue (`resolve::symbols`'s
    /// `PERCPU_ROUTE`: task, task group, the group's per-CPU `cfs_rq`, its `rq`) plus the
    /// variable's distance from the run queue in the per-CPU section.
    pub(super) fn percpu_address(&mut self, args: &[Expr], span: Span) -> Lowering<Val> {
        let symbol = args.first().and_then(literal_string).unwrap_or_default();
        let figure = |this: &Self, name: &str| {
            let key = (PERCPU_VARIABLE.to_string(), name.to_string());
            this.shared.symbols.get(&key).copied().ok_or_else(|| {
                Diagnostic::error(
                    format!("per-CPU variable `{symbol}` was not resolved"),
                    span,
                    "unknown variable",
                )
            })
        };
        let distance = figure(self, symbol)?;
        let [group, queues, queue] =
            PERCPU_ROUTE.map(|(record, member)| figure(self, &format!("{record}.{member}")));
        let (group, queues, queue) = (group?, queues?, queue?);
        let cpu = match args.get(1) {
            Some(cpu) => self.int(cpu)?.0,
            None => self.helper_int(Helper::GetSmpProcessorId, Vec::new()),
        };
        let result = self.f.new_slot(8);
        self.store_u64(Addr::Slot(result, 0), Operand::Imm(0));
        let done = self.new_label();
        let inside = self.new_label();
        self.emit(Inst::Branch {
            cond: crate::insn::Cond::Lt,
            a: cpu,
            b: Operand::Imm(self.shared.options.ncpus as i32),
            then: inside,
        });
        self.emit(Inst::Jump(done));
        self.emit(Inst::Label(inside));
        let task = self.helper_int(Helper::GetCurrentTask, Vec::new());
        let task_group = self.read_kernel_u64(task, group as i32);
        let per_cpu = self.read_kernel_u64(task_group, queues as i32);
        let scaled = self.alu(Alu::Lsh, cpu, Operand::Imm(3));
        let entry = self.alu(Alu::Add, per_cpu, Operand::Reg(scaled));
        let cfs_rq = self.read_kernel_u64(entry, 0);
        let rq = self.read_kernel_u64(cfs_rq, queue as i32);
        self.jump_if_zero(rq, done);
        let far = self.const_reg(distance);
        let address = self.alu(Alu::Add, rq, Operand::Reg(far));
        self.store_u64(Addr::Slot(result, 0), Operand::Reg(address));
        self.emit(Inst::Label(done));
        Ok(Val::Int {
            reg: self.load_u64(Addr::Slot(result, 0)),
            signed: false,
        })
    }

    /// The 8 bytes at `base + offset` in kernel memory (0 when unreadable).
    fn read_kernel_u64(&mut self, base: VReg, offset: i32) -> VReg {
        let slot = self.f.new_slot(8);
        self.store_u64(Addr::Slot(slot, 0), Operand::Imm(0));
        let to = self.slot_addr(slot, 0);
        let from = self.alu(Alu::Add, base, Operand::Imm(offset));
        self.emit(Inst::Call {
            helper: Helper::ProbeReadKernel,
            args: vec![Operand::Reg(to), Operand::Imm(8), Operand::Reg(from)],
            ret: None,
        });
        self.load_u64(Addr::Slot(slot, 0))
    }

    /// `uptr(p)`, `kptr(p)`: the pointer's value. The mark is read where memory is read
    /// through it: resolve types a C-typed pointer's pointee in that space, and `str`
    /// picks the space's helper.
    pub(super) fn address_space(&mut self, name: &str, args: &[Expr], span: Span) -> Lowering<Val> {
        let [pointer] = args else {
            return Err(Diagnostic::error(
                format!("`{name}` takes one pointer"),
                span,
                "one argument",
            ));
        };
        match self.expr(pointer)? {
            Val::Int { reg, .. } => Ok(Val::Int { reg, signed: false }),
            _ => Err(Diagnostic::error(
                format!("`{name}` marks a pointer or an integer address"),
                pointer.span,
                "not a pointer",
            )),
        }
    }

    fn mask32(&mut self, r: VReg) -> VReg {
        let shifted = self.alu(Alu::Lsh, r, Operand::Imm(32));
        self.alu(Alu::Rsh, shifted, Operand::Imm(32))
    }
}

/// The offset of a register in x86-64's `struct pt_regs`.
fn pt_regs_offset(name: &str) -> Option<i32> {
    const ORDER: [&str; 21] = [
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
        "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    ];
    ORDER.iter().position(|r| *r == name).map(|i| i as i32 * 8)
}

//! Lowering: the checked tree to the IR, one function per probe, plus the `ProgramInfo` the
//! runtime needs (maps, ring-buffer actions).
//!
//! Values are 64-bit integers in virtual registers, or bytes in memory (strings, tuples) at a
//! stack slot. Scratch variables live in stack slots of their own, so loops and branches need
//! no register merging. Maps are typed by a pre-pass over the whole script (`maps`).

mod array;
mod array_maps;
mod assignments;
mod bpf_map;
mod builtins;
mod dispatch;
mod expr;
mod formatted;
mod helper_errors;
mod iterate;
mod kernel;
mod known_reads;
pub(crate) mod maps;
mod memory;
pub mod sample;
mod search;
mod stacks;
mod stmt;
mod structs;
mod tseries;
mod usdt;

use std::collections::HashMap;

use crate::ast::{self, Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::insn::Helper;
use crate::ir::{self, Addr, Function, Inst, Operand, Slot, VReg};
use crate::probe::{ProviderKind, Target};
use crate::program::{Action, GuardSampled, ProgramInfo, ValueType};
use crate::resolve::symbols::SymbolAddresses;
use crate::resolve::{ResolvedProbe, ResolvedProgram};
use crate::span::Span;
pub(crate) use bpf_map::{BpfMap, MapKind};

/// What every lowering step returns: its result, or the diagnostic at the user's text.
pub(crate) type Lowering<T> = Result<T, Diagnostic>;

/// The value of an integer expression: 64 bits, unsigned or signed.
pub(crate) const INT: ValueType = ValueType::Int {
    size: 8,
    signed: false,
};
pub(crate) const SIGNED: ValueType = ValueType::Int {
    size: 8,
    signed: true,
};

/// The byte count of `buf(p, n)`: `n` must be a literal (its type's size is fixed), capped at
/// the string limit. `None` when it is missing or computed.
pub(crate) fn buf_len(n: Option<&Expr>, max_strlen: u32) -> Option<u32> {
    match n.map(|n| &n.kind) {
        Some(ExprKind::Int(n)) => Some((*n).min(max_strlen as u64) as u32),
        _ => None,
    }
}

/// Settings that change the code.
#[derive(Clone, Debug)]
pub struct LowerOptions {
    /// Positional parameters, as given on the command line.
    pub positional: Vec<String>,
    /// Bytes read by `str()` and kept for string values (`max_strlen`).
    pub max_strlen: u32,
    /// What a string `str()` cut at `max_strlen` prints after it (`str_trunc_trailer`);
    /// empty: `str()` does not mark the cut.
    pub str_trunc_trailer: String,
    /// Entries per map (`max_map_keys`).
    pub max_map_keys: u32,
    /// The ring buffer's size in 4 KiB pages, a power of two (`perf_rb_pages`).
    pub ringbuf_pages: u32,
    /// The `-c` child's pid, for `cpid`.
    pub cpid: Option<u32>,
    /// CLOCK_MONOTONIC (the clock of `nsecs`) when the run started, for `elapsed`.
    pub start_ns: u64,
    /// The machine's possible CPUs, for `ncpus`.
    pub ncpus: u32,
    /// Probes (by index) that run their program for 1 in N hits, N a power of two
    /// (`--auto-filter`); only probes `sample::samplable` allows.
    pub sample: std::collections::BTreeMap<usize, u32>,
    /// Whether the probes `sample::samplable` allows read their sampling mask from the global
    /// data (`program::GUARD_SAMPLING_MAP`) the runtime guard writes while they run;
    /// `sample`'s N is then the mask's first value, which the runtime writes before attaching.
    pub guard_sampling: bool,
    /// How stacks print when the script does not name a mode (`stack_mode`).
    pub stack_mode: crate::program::StackMode,
    /// Probes (by index) whose attach points share one program, and how (the runtime decides,
    /// from the estimate).
    pub dispatch: std::collections::BTreeMap<usize, crate::probe::Dispatch>,
    /// CLOCK_TAI less CLOCK_BOOTTIME when the run started: the software TAI clock of
    /// `tseries` and `nsecs(sw_tai)` is CLOCK_BOOTTIME plus this.
    pub tai_offset_ns: u64,
    /// A scalar map whose value `tseries` reads as its clock instead
    /// (`BPFTRACE_DUMMY_TS_MAP=@ts`: the current release's hook for its tests).
    pub clock_map: Option<String>,
    /// tracebound's pid namespace (the nsfs device and inode of `/proc/self/ns/pid`) when
    /// it is not the initial one: `pid`, `tid` and the pids stacks are symbolized by are then
    /// read as this namespace numbers them, as the current release reads them.
    pub pid_namespace: Option<PidNamespace>,
    /// `-k`: a failed memory read or a map value read that finds nothing sends a warning at
    /// the expression (`Action::HelperError`).
    pub helper_errors: bool,
}

/// A pid namespace as bpf_get_ns_current_pid_tgid names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidNamespace {
    pub dev: u64,
    pub ino: u64,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            positional: Vec::new(),
            max_strlen: 1024,
            str_trunc_trailer: "..".to_string(),
            max_map_keys: 4096,
            ringbuf_pages: 256,
            cpid: None,
            start_ns: 0,
            ncpus: 1,
            sample: Default::default(),
            guard_sampling: false,
            stack_mode: crate::program::StackMode::Bpftrace,
            dispatch: Default::default(),
            tai_offset_ns: 0,
            clock_map: None,
            pid_namespace: None,
            helper_errors: false,
        }
    }
}

/// A probe's program.
#[derive(Clone, Debug)]
pub(crate) struct ProbeProgram {
    pub function: Function,
    pub kind: ProviderKind,
    pub targets: Vec<Target>,
    /// Which of the script's probes (in source order) this program runs.
    pub probe_index: usize,
    /// How its attach points share it, when they do.
    pub dispatch: Option<crate::probe::Dispatch>,
}

/// The whole script, lowered.
#[derive(Clone, Debug)]
pub(crate) struct Lowered {
    pub probes: Vec<ProbeProgram>,
    /// The guard-sampled probes' sampled copies (`program::SampledCopy`): in the object,
    /// never attached.
    pub copies: Vec<ProbeProgram>,
    /// Every BPF map: the script's maps first (index = `ProgramInfo::maps` index), then the
    /// ring buffer.
    pub maps: Vec<BpfMap>,
    pub ringbuf: usize,
    /// Set by `exit()` (1 << 32 | code), so that the run ends even when the ring buffer was
    /// too full to take the exit record.
    pub exit_flag: usize,
    /// Bytes of global data (`Inst::GlobalAddr`, the object's `.bss`): the guard's sampling
    /// masks, a u64 per guard-sampled probe at `8 * slot`; 0 without any.
    pub globals: u32,
    pub info: ProgramInfo,
}

/// Lowers a resolved program.
pub(crate) fn lower(
    program: &ResolvedProgram,
    options: &LowerOptions,
) -> Result<Lowered, Vec<Diagnostic>> {
    let table = maps::MapTable::infer(program, options)?;
    let mut bpf_maps = table.bpf_maps(options);
    let ringbuf = bpf_maps.len();
    bpf_maps.push(BpfMap::ringbuf(options.ringbuf_pages));
    let exit_flag = bpf_maps.len();
    bpf_maps.push(BpfMap::flag("tb_exit"));
    let samplable = sample::samplable(&program.ast);
    let guard_slots = guard_sampling_slots(options, &samplable);
    let mut shared = Shared {
        maps: table,
        actions: Vec::new(),
        ringbuf,
        exit_flag,
        guard_slots: guard_slots.clone(),
        extra_base: bpf_maps.len(),
        extra_maps: Vec::new(),
        options,
        symbols: &program.symbols,
        member_texts: Vec::new(),
        sampled_copies: Vec::new(),
        sampled_copies_maps: Default::default(),
    };
    let mut out = Vec::new();
    let mut copies = Vec::new();
    let mut diags = Vec::new();
    for (index, (probe, resolved)) in program.probes().enumerate() {
        let mut programs = Programs {
            out: &mut out,
            copies: &mut copies,
            diags: &mut diags,
        };
        lower_one_probe(&mut shared, probe, resolved, index, &mut programs);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut maps = shared.maps.infos();
    if !options.sample.is_empty() {
        for (index, &n) in &options.sample {
            for name in samplable.get(index).into_iter().flatten() {
                for m in maps.iter_mut().filter(|m| &m.name == name) {
                    m.sampled = n;
                }
            }
        }
    }
    let guard_sampled = guard_slots
        .iter()
        .map(|(&probe_index, &slot)| GuardSampled {
            probe_index,
            slot,
            maps: samplable[&probe_index]
                .iter()
                .filter_map(|name| maps.iter().position(|m| &m.name == name))
                .collect(),
            copies: (shared.sampled_copies.iter())
                .filter(|(p, _)| *p == probe_index)
                .map(|(_, c)| c.clone())
                .collect(),
        })
        .collect();
    bpf_maps.extend(shared.extra_maps);
    Ok(Lowered {
        probes: out,
        copies,
        maps: bpf_maps,
        ringbuf,
        exit_flag,
        globals: 8 * guard_slots.len() as u32,
        info: ProgramInfo {
            maps,
            actions: shared.actions,
            guard_sampled,
            member_texts: shared.member_texts,
            gfp_flags: program.gfp_flags.clone(),
        },
    })
}

/// The programs of one of the script's probes: one, one per attach point (when it reads
/// them), or one for all its attach points as `LowerOptions::dispatch` says.
fn lower_one_probe(
    shared: &mut Shared,
    probe: &ast::Probe,
    resolved: &ResolvedProbe,
    index: usize,
    programs: &mut Programs,
) {
    if let Some(dispatch) = shared.options.dispatch.get(&index) {
        let name = format!("tb_{}_{}", resolved.kind.probe().program_word(), index);
        match dispatch::lower_dispatched(shared, probe, resolved, index, name, dispatch) {
            Ok(function) => programs.out.push(ProbeProgram {
                function,
                kind: resolved.kind,
                targets: resolved.targets.clone(),
                probe_index: index,
                dispatch: Some(dispatch.clone()),
            }),
            Err(d) => programs.diags.push(d),
        }
        return;
    }
    // `probe` and `func` are constants in a program: a probe that reads them gets one
    // program per attach point, as in bpftrace. So does every usdt site: each has its
    // own argument specs (bpftrace too has one program per site).
    let per_target: Vec<ResolvedProbe> = if resolved.targets.len() > 1
        && (builtins::reads_attach_point(probe) || resolved.kind.context().program_per_target)
    {
        resolved
            .targets
            .iter()
            .map(|t| ResolvedProbe {
                targets: vec![t.clone()],
                ..resolved.clone()
            })
            .collect()
    } else {
        vec![resolved.clone()]
    };
    for (n, resolved) in per_target.iter().enumerate() {
        let name = match per_target.len() {
            1 => format!("tb_{}_{}", resolved.kind.probe().program_word(), index),
            _ => format!(
                "tb_{}_{}_{}",
                resolved.kind.probe().program_word(),
                index,
                n
            ),
        };
        let program = |function| ProbeProgram {
            function,
            kind: resolved.kind,
            targets: resolved.targets.clone(),
            probe_index: index,
            dispatch: None,
        };
        let copy = sampled_copy_name(&name);
        match stmt::lower_probe(shared, probe, resolved, index, name, false) {
            Ok(function) => programs.out.push(program(function)),
            Err(d) => {
                programs.diags.push(d);
                continue;
            }
        }
        // The copy's body is the program's, so it lowers as the program did.
        if shared.guard_slots.contains_key(&index) {
            match stmt::lower_probe(shared, probe, resolved, index, copy, true) {
                Ok(function) => programs.copies.push(program(function)),
                Err(d) => programs.diags.push(d),
            }
        }
    }
}

/// Where `lower_one_probe` puts what it lowers.
struct Programs<'a> {
    out: &'a mut Vec<ProbeProgram>,
    copies: &'a mut Vec<ProbeProgram>,
    diags: &'a mut Vec<Diagnostic>,
}

/// The name of program `program`'s sampled copy in the object.
fn sampled_copy_name(program: &str) -> String {
    format!("{program}_sampled")
}

/// With `guard_sampling`, each samplable probe's slot among the guard's sampling masks (the
/// u64 at `8 * slot` of the global data), in probe order.
fn guard_sampling_slots(
    options: &LowerOptions,
    samplable: &std::collections::BTreeMap<usize, Vec<String>>,
) -> std::collections::BTreeMap<usize, u32> {
    if !options.guard_sampling {
        return Default::default();
    }
    samplable.keys().zip(0..).map(|(&i, s)| (i, s)).collect()
}

/// State shared by every probe: the map table and the ring-buffer actions.
pub(crate) struct Shared<'o> {
    pub maps: maps::MapTable,
    pub actions: Vec<Action>,
    pub ringbuf: usize,
    pub exit_flag: usize,
    /// Probe index → its slot among the guard's sampling masks (`Lowered::globals`).
    pub guard_slots: std::collections::BTreeMap<usize, u32>,
    /// Maps declared as lowering needs them (stack traces, announced processes): they follow
    /// the fixed ones, from index `extra_base`.
    pub extra_base: usize,
    pub extra_maps: Vec<BpfMap>,
    pub options: &'o LowerOptions,
    /// What `kaddr`/`uaddr` stand for.
    pub symbols: &'o SymbolAddresses,
    /// The dispatched probes' member texts (`ProgramInfo::member_texts`).
    pub member_texts: Vec<crate::program::MemberTexts>,
    /// The tail calls into sampled copies emitted so far, by probe index.
    pub sampled_copies: Vec<(usize, crate::program::SampledCopy)>,
    /// The program arrays of the sampled copies, by program kind (section prefix), once a
    /// program of that kind tail-calls into one.
    pub sampled_copies_maps: std::collections::BTreeMap<String, usize>,
}

impl Shared<'_> {
    pub fn action(&mut self, action: Action) -> usize {
        self.actions.push(action);
        self.actions.len() - 1
    }

    /// A new slot in the program array of the sampled copies of programs of `kind` (declared
    /// at its first use, one slot more each time): the array's map index, name and the slot.
    pub fn sampled_copy_slot(&mut self, kind: &str) -> (usize, String, u32) {
        let n = self.sampled_copies_maps.len();
        let map = *(self.sampled_copies_maps)
            .entry(kind.to_string())
            .or_insert_with(|| {
                let name = format!("tb_sampled_{n}");
                self.extra_maps.push(BpfMap::sampled_copies(name));
                self.extra_base + self.extra_maps.len() - 1
            });
        let array = &mut self.extra_maps[map - self.extra_base];
        array.max_entries += 1;
        (map, array.name.clone(), array.max_entries - 1)
    }
}

/// A lowered value.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// An integer (or bool, or pointer) in a register.
    Int { reg: VReg, signed: bool },
    /// Bytes in memory: a string, a tuple.
    Mem { addr: Addr, ty: ValueType },
    /// No value (a call to printf, ...).
    Void,
}

impl Val {
    pub fn ty(&self) -> ValueType {
        match self {
            Val::Int { signed, .. } => ValueType::Int {
                size: 8,
                signed: *signed,
            },
            Val::Mem { ty, .. } => ty.clone(),
            Val::Void => ValueType::Int {
                size: 8,
                signed: false,
            },
        }
    }
}

/// Where a scratch variable lives.
#[derive(Clone, Debug)]
pub(crate) struct VarSlot {
    pub slot: Slot,
    pub ty: ValueType,
}

/// Lowering state for one probe.
pub(crate) struct ProbeLowerer<'s, 'o> {
    pub shared: &'s mut Shared<'o>,
    pub f: Function,
    pub span: Span,
    pub ctx: VReg,
    pub vars: HashMap<String, VarSlot>,
    /// Map reads whose value later reads of the same key reuse (`known_reads`).
    pub known: known_reads::KnownReads,
    pub probe: &'s ResolvedProbe,
    /// Where `break`/`continue` go inside the innermost loop.
    pub loop_labels: Vec<(ir::Label, ir::Label)>,
    /// The label that ends the program (for `return`).
    pub exit_label: ir::Label,
    /// This probe's index among the script's probes.
    pub index: usize,
    /// Variables declared with an integer type (`let $x: uint8`): every value assigned to
    /// one is converted to it, as `(uint8)e` converts (the current release's implicit cast).
    pub declared: HashMap<String, ast::TypeName>,
    /// Integer variables whose every assignment has one width, in bytes (what `bswap($x)`
    /// swaps; `builtins::integers`).
    pub int_widths: HashMap<String, u32>,
    /// Stack variables whose every value is a stack this run takes (`stacks::fresh_stack_vars`).
    pub fresh_stacks: std::collections::HashSet<String>,
    /// Whether this is a member of a dispatched probe (`probe::Dispatch`).
    pub dispatched: bool,
    /// Whether this is a guard-sampled probe's sampled copy (`program::SampledCopy`).
    pub sampled_copy: bool,
    /// What the variables holding other variables' addresses point at (`var_pointers`).
    pub var_pointers: HashMap<String, crate::check::var_pointers::PointsTo>,
    /// A syscall member of a dispatched probe: where its `args` are.
    pub syscall: Option<dispatch::SyscallFields>,
    /// The members of a dispatched probe sharing one body: where `probe` and `func` are.
    pub texts: Option<dispatch::TextsAt>,
    /// The innermost expression being lowered: where a helper error (`-k`) points.
    pub expr_span: Span,
    /// The slot the records of this function's callbacks share (`iterate`, `search`): a record
    /// lives from just before its helper call to just after, so two never overlap.
    pub loop_record: Option<ir::Slot>,
}

impl<'s, 'o> ProbeLowerer<'s, 'o> {
    /// The lowerer of a new program `name` for `probe`: a fresh context register and exit
    /// label, no variables yet.
    pub fn new(
        shared: &'s mut Shared<'o>,
        name: String,
        span: Span,
        probe: &'s ResolvedProbe,
        index: usize,
    ) -> Self {
        let mut f = Function {
            name,
            ..Function::default()
        };
        let ctx = f.new_vreg();
        let exit_label = f.new_label();
        ProbeLowerer {
            shared,
            f,
            span,
            ctx,
            vars: HashMap::new(),
            known: Default::default(),
            probe,
            loop_labels: Vec::new(),
            exit_label,
            index,
            declared: HashMap::new(),
            int_widths: HashMap::new(),
            fresh_stacks: Default::default(),
            dispatched: false,
            sampled_copy: false,
            var_pointers: HashMap::new(),
            syscall: None,
            texts: None,
            expr_span: span,
            loop_record: None,
        }
    }
}

impl ProbeLowerer<'_, '_> {
    pub fn emit(&mut self, inst: Inst) {
        let read = match inst {
            Inst::Call {
                helper,
                ref args,
                ret,
            } if self.shared.options.helper_errors && helper.reads_memory() => {
                Some((helper, args.clone(), ret))
            }
            _ => None,
        };
        let Some((helper, args, ret)) = read else {
            self.f.insts.push((inst, self.span));
            return;
        };
        // `-k`: every memory read, wherever it is lowered, is checked here.
        let ret = ret.unwrap_or_else(|| self.f.new_vreg());
        let call = Inst::Call {
            helper,
            args,
            ret: Some(ret),
        };
        self.f.insts.push((call, self.span));
        self.helper_error_unless_ok(helper, ret);
    }

    pub fn const_reg(&mut self, value: u64) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::Const(r, value));
        r
    }

    /// `if a == 0 goto then`.
    pub fn jump_if_zero(&mut self, a: VReg, then: ir::Label) {
        self.emit(Inst::Branch {
            cond: crate::insn::Cond::Eq,
            a,
            b: Operand::Imm(0),
            then,
        });
    }

    /// `*(u8 *)addr` into a new register.
    pub fn load_u8(&mut self, addr: Addr) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: r,
            addr,
            size: crate::insn::Size::B,
            signed: false,
        });
        r
    }

    /// `*(u64 *)addr` into a new register.
    pub fn load_u64(&mut self, addr: Addr) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::Load {
            dst: r,
            addr,
            size: crate::insn::Size::DW,
            signed: false,
        });
        r
    }

    /// `*(u64 *)addr = value`.
    pub fn store_u64(&mut self, addr: Addr, value: Operand) {
        self.emit(Inst::Store {
            addr,
            value,
            size: crate::insn::Size::DW,
        });
    }

    /// `*(u64 *)addr += 1`: a loop counter on the stack, a counter in a map value.
    pub fn increment_u64(&mut self, addr: Addr) {
        let n = self.load_u64(addr);
        let n1 = self.f.new_vreg();
        self.emit(Inst::Alu {
            op: crate::insn::Alu::Add,
            dst: n1,
            a: n,
            b: Operand::Imm(1),
        });
        self.store_u64(addr, Operand::Reg(n1));
    }

    pub fn slot_addr(&mut self, slot: Slot, offset: i32) -> VReg {
        let r = self.f.new_vreg();
        self.emit(Inst::SlotAddr(r, slot, offset));
        r
    }

    /// `ty` read whole from `src` by `read` (a probe-read helper) into a new slot of at least
    /// `slot_size` bytes, as a value in memory.
    pub fn read_to_slot(&mut self, read: Helper, src: VReg, ty: ValueType, slot_size: u32) -> Val {
        let slot = self.f.new_slot(slot_size);
        let dst = self.slot_addr(slot, 0);
        self.emit(Inst::Call {
            helper: read,
            args: vec![
                Operand::Reg(dst),
                Operand::Imm(ty.size() as i32),
                Operand::Reg(src),
            ],
            ret: None,
        });
        Val::Mem {
            addr: Addr::Slot(slot, 0),
            ty,
        }
    }

    /// A register holding the address `addr` (for helper arguments).
    pub fn address_of(&mut self, addr: Addr) -> VReg {
        match addr {
            Addr::Slot(s, off) => self.slot_addr(s, off),
            Addr::Ptr(p, 0) => p,
            Addr::Ptr(p, off) => {
                let r = self.f.new_vreg();
                self.emit(Inst::Alu {
                    op: crate::insn::Alu::Add,
                    dst: r,
                    a: p,
                    b: Operand::Imm(off),
                });
                r
            }
        }
    }
}

/// The first argument's text when it is a string literal.
pub(crate) fn literal_string(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Str(s) => Some(s),
        _ => None,
    }
}

/// `@m` / `@m[k]` parts.
pub(crate) fn map_parts(e: &Expr) -> Option<(&ast::Ident, &[Expr])> {
    match &e.kind {
        ExprKind::Map { name, keys } => Some((name, keys)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::DataSection;
    use crate::probe::{ArgAccess, ArgField};
    use bpf_map::MapKind;

    /// A tree with its probes as a test names them, nothing typed from the kernel.
    fn resolved(program: ast::Program, probes: &[ResolvedProbe]) -> ResolvedProgram {
        ResolvedProgram {
            ast: program,
            probes: probes.to_vec(),
            symbols: Default::default(),
            warnings: Vec::new(),
            gfp_flags: Vec::new(),
        }
    }
    use crate::codegen::emit::emit;
    use crate::parse::parse;

    fn special(target: Target) -> ResolvedProbe {
        ResolvedProbe {
            kind: target.kind(),
            targets: vec![target],
            args: Vec::new(),
        }
    }

    fn tracepoint(event: &str) -> Target {
        Target::Tracepoint {
            category: "syscalls".into(),
            event: event.into(),
        }
    }

    fn lower_text(text: &str, probes: &[ResolvedProbe]) -> Lowered {
        let program = parse(text).expect("parses");
        lower(&resolved(program, probes), &LowerOptions::default())
            .unwrap_or_else(|d| panic!("{:?}", d))
    }

    /// With guard sampling, a probe `--auto-filter` may sample reads its mask from the guard's
    /// map before anything else, and the info names its slot and maps; one that prints does
    /// not, and nothing changes without the option.
    #[test]
    fn guard_sampling_reads_the_mask_the_guard_writes() {
        let text = "tracepoint:syscalls:sys_enter_read { @c = count(); @h = hist(1); }\n\
                    tracepoint:syscalls:sys_enter_write { printf(\"w\\n\"); }";
        let probes = [
            special(tracepoint("sys_enter_read")),
            special(tracepoint("sys_enter_write")),
        ];
        let options = LowerOptions {
            guard_sampling: true,
            ..LowerOptions::default()
        };
        let program = resolved(parse(text).expect("parses"), &probes);
        let l = lower(&program, &options).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(l.globals, 8, "one mask, in the global data");
        let c = l.info.maps.iter().position(|m| m.name == "c").unwrap();
        let h = l.info.maps.iter().position(|m| m.name == "h").unwrap();
        assert_eq!(
            l.info.guard_sampled,
            vec![GuardSampled {
                probe_index: 0,
                slot: 0,
                maps: vec![c, h],
                copies: vec![crate::program::SampledCopy {
                    program: "tb_tp_0".into(),
                    copy: "tb_tp_0_sampled".into(),
                    array: "tb_sampled_0".into(),
                    index: 0,
                }],
            }]
        );
        let array = l.maps.iter().position(|m| m.name == "tb_sampled_0");
        assert_eq!(
            array.map(|a| (l.maps[a].kind, l.maps[a].max_entries)),
            Some((MapKind::ProgArray, 1))
        );
        let draws = |f: &Function| {
            f.insts.iter().any(|(i, _)| {
                matches!(
                    i,
                    Inst::Call {
                        helper: crate::insn::Helper::GetPrandomU32,
                        ..
                    }
                )
            })
        };
        let reads_map = |f: &Function| {
            f.insts
                .iter()
                .any(|(i, _)| matches!(i, Inst::GlobalAddr(_, DataSection::Masks, 0)))
        };
        // The probe's program only tail-calls: into its sampled copy, which draws and reads
        // the mask; the other probe does neither.
        let tail_calls_into = |f: &Function| {
            let array = f.insts.iter().find_map(|(i, _)| match i {
                Inst::MapRef(v, m) => Some((*v, *m)),
                _ => None,
            });
            f.insts.iter().find_map(|(i, _)| match (i, array) {
                (
                    Inst::Call {
                        helper: crate::insn::Helper::TailCall,
                        args,
                        ..
                    },
                    Some((v, m)),
                ) if args[1] == Operand::Reg(v) => Some((m, args[2])),
                _ => None,
            })
        };
        let main = &l.probes[0].function;
        assert_eq!(
            tail_calls_into(main),
            Some((array.unwrap(), Operand::Imm(0)))
        );
        assert!(!draws(main) && !reads_map(main));
        assert_eq!(l.copies.len(), 1);
        let copy = &l.copies[0].function;
        assert_eq!(copy.name, "tb_tp_0_sampled");
        assert!(draws(copy) && reads_map(copy) && tail_calls_into(copy).is_none());
        assert!(!draws(&l.probes[1].function) && !reads_map(&l.probes[1].function));
        // Without the option: no masks, no draw.
        let plain = lower(&program, &LowerOptions::default()).unwrap();
        assert!(plain.info.guard_sampled.is_empty());
        assert_eq!(plain.globals, 0);
        assert!(!draws(&plain.probes[0].function));
    }

    /// With `-k`, a memory read warns where it fails and a map read where it finds nothing,
    /// each at its expression; without, neither.
    #[test]
    fn with_k_reads_warn_at_their_expression() {
        let text = "BEGIN { @m[1] = 1; printf(\"%s %d\\n\", str(kptr(8)), @m[2]); }";
        let program = resolved(parse(text).expect("parses"), &[special(Target::Begin)]);
        let warned = |helper_errors| {
            let options = LowerOptions {
                helper_errors,
                ..LowerOptions::default()
            };
            let l = lower(&program, &options).unwrap_or_else(|d| panic!("{d:?}"));
            (l.info.actions.iter())
                .filter_map(|a| match a {
                    Action::HelperError { helper, span } => {
                        Some((helper.clone(), text[span.range()].to_string()))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            warned(true),
            [
                ("probe_read_kernel_str".into(), "str(kptr(8))".into()),
                ("map_lookup_elem".into(), "@m[2]".into())
            ]
        );
        assert_eq!(warned(false), []);
    }

    /// `/` and `%` by a value known only at run time warn at the operation when it is zero
    /// (and are 1); by a literal that is not zero they need no test and no warning.
    #[test]
    fn division_by_a_run_time_zero_warns_at_the_operation() {
        let text = "BEGIN { @z = 0; @a = 10 / @z; @b = 10 % (@z + 0); @c = @z / 5; @d = 7 % 2; }";
        let l = lower_text(text, &[special(Target::Begin)]);
        let warned: Vec<&str> = l
            .info
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::RuntimeWarning { message, span } => {
                    assert!(
                        message.starts_with("Divide or modulo by 0 detected."),
                        "{message}"
                    );
                    Some(&text[span.range()])
                }
                _ => None,
            })
            .collect();
        assert_eq!(warned, ["10 / @z", "10 % (@z + 0)"]);
        let divisions = l.probes[0]
            .function
            .insts
            .iter()
            .filter(|(i, _)| {
                matches!(
                    i,
                    Inst::Alu {
                        op: crate::insn::Alu::Div | crate::insn::Alu::Mod,
                        ..
                    }
                )
            })
            .count();
        // `7 % 2` is folded; `@z / 5` divides without a test.
        assert_eq!(divisions, 3);
    }

    #[test]
    fn printf_and_exit_become_actions_and_code() {
        let l = lower_text(
            r#"BEGIN { printf("hello %s %d\n", comm, 42); exit(); }"#,
            &[special(Target::Begin)],
        );
        assert_eq!(l.info.actions.len(), 2);
        assert!(
            matches!(&l.info.actions[0], Action::Printf { format, args } if format == "hello %s %d\n" && args.len() == 2)
        );
        assert_eq!(l.info.actions[1], Action::Exit);
        let e = emit(&l.probes[0].function, None).expect("emits");
        assert!(e.insns.len() > 10);
        assert_eq!(
            e.map_relocations
                .iter()
                .filter(|(_, m)| *m == l.ringbuf)
                .count(),
            2
        );
    }

    #[test]
    fn stacks_use_one_map_per_kind_and_limit() {
        use crate::insn::Helper;
        use crate::program::{StackMode, ValueType};
        let tp = ResolvedProbe {
            kind: ProviderKind::Tracepoint,
            targets: vec![tracepoint("sys_enter_getppid")],
            args: Vec::new(),
        };
        let l = lower_text(
            "t:syscalls:sys_enter_getppid { @k[kstack] = count(); @u[comm, ustack(perf, 3)] = count(); @v = kstack(5); @w[kstack(127)] = count(); @s = usym(1); }",
            &[tp],
        );
        let stack_maps: Vec<_> = l
            .maps
            .iter()
            .filter(|m| m.kind == MapKind::StackTrace)
            .map(|m| (m.name.as_str(), m.value_size))
            .collect();
        assert_eq!(
            stack_maps,
            [
                ("tb_kstack_127", 8 * 127),
                ("tb_ustack_3", 24),
                ("tb_kstack_5", 40)
            ]
        );
        assert!(l.maps.iter().any(|m| m.kind == MapKind::LruHash));
        assert_eq!(
            l.info.maps[1].key[1],
            ValueType::Stack {
                user: true,
                mode: StackMode::Perf,
                limit: 3
            }
        );
        assert_eq!(l.info.maps[4].key.len(), 0);
        // The cost model sees every stack walk on the usual path; announcing a process is
        // the cold path.
        let helpers = ir::hot_helpers(&l.probes[0].function, &l.info.inlined_lookups());
        assert_eq!(
            helpers.iter().filter(|h| **h == Helper::GetStackid).count(),
            4
        );
        assert!(l.info.actions.contains(&Action::UserProcess));
        emit(&l.probes[0].function, None).expect("emits");
    }

    #[test]
    fn declared_maps_have_their_kind_and_size() {
        let tp = ResolvedProbe {
            kind: ProviderKind::Tracepoint,
            targets: vec![tracepoint("sys_enter_getppid")],
            args: Vec::new(),
        };
        let l = lower_text(
            "let @a = lruhash(100); let @b = percpulruhash(20); let @c = hash(7); \
             let @d = percpuhash(3); \
             t:syscalls:sys_enter_getppid { @a[pid] = 1; @b[tid] = count(); @c = 2; \
             @d[cpu] = sum(1); @e = 3; @f = count(); }",
            &[tp],
        );
        let kinds: Vec<_> = l.maps[..6]
            .iter()
            .map(|m| (m.kind, m.max_entries))
            .collect();
        assert_eq!(
            kinds,
            [
                (MapKind::LruHash, 100),
                (MapKind::LruPercpuHash, 20),
                (MapKind::Hash, 7),
                (MapKind::PercpuHash, 3),
                (MapKind::Hash, 4096),
                // A key-less count only added to: one per-CPU array entry.
                (MapKind::PercpuArray, 1),
            ]
        );
        let sizes: Vec<_> = l.info.maps.iter().map(|m| m.declared_size).collect();
        assert_eq!(sizes, [Some(100), Some(20), Some(7), Some(3), None, None]);
    }

    /// `@[kstack] = count()`: a per-CPU array indexed by the stack id, one entry an id of the
    /// stack map and one more for a stack not recorded; where the array would take more
    /// memory than both the hash and the stack map, the hash.
    #[test]
    fn a_count_by_kernel_stack_is_an_array_indexed_by_the_id() {
        let tp = ResolvedProbe {
            kind: ProviderKind::Tracepoint,
            targets: vec![tracepoint("sys_enter_getppid")],
            args: Vec::new(),
        };
        let program = resolved(
            parse("t:syscalls:sys_enter_getppid { @[kstack] = count(); }").expect("parses"),
            std::slice::from_ref(&tp),
        );
        let on = |ncpus| {
            let options = LowerOptions {
                ncpus,
                ..LowerOptions::default()
            };
            lower(&program, &options).unwrap_or_else(|d| panic!("{d:?}"))
        };
        let small = on(2);
        let stacks = small.maps.iter().find(|m| m.kind == MapKind::StackTrace);
        // 8192 entries (twice max_map_keys): ids 0..8192.
        assert_eq!(stacks.map(|m| m.max_entries), Some(8192));
        assert_eq!(
            (
                small.maps[0].kind,
                small.maps[0].key_size,
                small.maps[0].max_entries
            ),
            (MapKind::PercpuArray, 4, 8193)
        );
        let info = &small.info.maps[0];
        assert_eq!(
            (info.zero_is_unset, info.failed_stack_index),
            (true, Some(8192))
        );
        assert!(matches!(
            info.key[..],
            [ValueType::Stack { user: false, .. }]
        ));
        let helpers = ir::hot_helpers(&small.probes[0].function, &small.info.inlined_lookups());
        assert!(!helpers.contains(&Helper::MapUpdateElem), "{helpers:?}");

        // 8193 × 8 bytes × 64 CPUs (4.2 MB) is less than the stack map's 8192 × 1032 bytes.
        assert_eq!(on(64).maps[0].kind, MapKind::PercpuArray);
        // Not so on 256 CPUs (16.8 MB).
        let large = on(256);
        assert_eq!(large.maps[0].kind, MapKind::PercpuHash);
        assert_eq!(large.info.maps[0].failed_stack_index, None);
    }

    #[test]
    fn stack_arguments_are_checked() {
        let tp = ResolvedProbe {
            kind: ProviderKind::Tracepoint,
            targets: vec![tracepoint("sys_enter_getppid")],
            args: Vec::new(),
        };
        for (text, message) in [
            ("@[kstack(0)] = count();", "frame count"),
            ("@[ustack(perf, 5000)] = count();", "frame count"),
            ("@[kstack(build_id)] = count();", "only be used for ustack"),
        ] {
            let program =
                crate::parse::parse(&format!("t:syscalls:sys_enter_getppid {{ {text} }}"))
                    .expect("parses");
            let diags = lower(
                &resolved(program, std::slice::from_ref(&tp)),
                &LowerOptions::default(),
            )
            .expect_err(text);
            assert!(
                diags[0].message.contains(message),
                "{text}: {}",
                diags[0].message
            );
        }
    }

    /// `/@start[tid]/ { ...; delete(@start[tid]); }`: the predicate's key serves the
    /// delete, so `tid` is asked for once; a key built inside a branch serves nothing after.
    #[test]
    fn a_key_built_already_is_passed_again() {
        let pid_tgid_calls = |text: &str| {
            let l = lower_text(text, &[special(Target::Begin)]);
            l.probes[0]
                .function
                .insts
                .iter()
                .filter(|(i, _)| {
                    matches!(
                        i,
                        Inst::Call {
                            helper: crate::insn::Helper::GetCurrentPidTgid,
                            ..
                        }
                    )
                })
                .count()
        };
        assert_eq!(
            pid_tgid_calls("BEGIN /@s[tid]/ { @n = @s[tid] + 1; delete(@s[tid]); }"),
            1
        );
        assert_eq!(
            pid_tgid_calls("BEGIN { if (nsecs > 1) { @s[tid] = 1; } delete(@s[tid]); }"),
            2
        );
    }

    #[test]
    fn aggregations_type_their_maps() {
        let tp = ResolvedProbe {
            kind: ProviderKind::Tracepoint,
            targets: vec![tracepoint("sys_enter_read")],
            args: vec![ArgField {
                name: "count".into(),
                offset: 32,
                access: ArgAccess::Int {
                    size: 8,
                    signed: false,
                },
            }],
        };
        let l = lower_text(
            "t:syscalls:sys_enter_read { @c[comm] = count(); @h = hist(args.count); @l = lhist(args.count, 0, 100, 10); @s = stats(args.count); $x = 1; @p[pid, \"k\"] = $x; }",
            &[tp],
        );
        let kinds: Vec<_> = l
            .info
            .maps
            .iter()
            .map(|m| (m.name.as_str(), m.value.clone()))
            .collect();
        assert_eq!(kinds[0], ("c", crate::program::MapValue::Count));
        assert_eq!(kinds[1], ("h", crate::program::MapValue::Hist { k: 0 }));
        assert_eq!(l.maps[0].key_size, 16);
        assert_eq!(
            (l.maps[1].kind, l.maps[1].key_size, l.maps[1].max_entries),
            (crate::lower::MapKind::PercpuArray, 4, 65),
            "hist of a keyless map: an array indexed by the bucket"
        );
        assert_eq!(
            (l.maps[2].kind, l.maps[2].max_entries),
            (crate::lower::MapKind::PercpuArray, 12),
            "lhist: below min, ten steps, max and above"
        );
        assert_eq!(l.maps[3].kind, crate::lower::MapKind::PercpuHash);
        assert_eq!(l.maps[4].key_size, 16, "pid then a 2-byte string, padded");
        for p in &l.probes {
            emit(&p.function, None).expect("emits");
        }
    }

    #[test]
    fn loops_and_conditions_lower() {
        let l = lower_text(
            "BEGIN { $i = 0; while ($i < 10) { if ($i % 2 == 0 && $i != 4) { @even++; } $i++; } for ($j : 0..3) { @sum += $j; } exit(); }",
            &[special(Target::Begin)],
        );
        let e = emit(&l.probes[0].function, None).expect("emits");
        assert!(e.stack_size <= 512);
    }

    /// The verifier refuses misaligned stack access: every load and store through r10 must be
    /// aligned to its size, whatever the lengths of the strings involved.
    #[test]
    fn stack_accesses_are_aligned() {
        use crate::insn::{class, Reg};
        let l = lower_text(
            r#"BEGIN { @r[0] = "background"; @r[1] = "sync"; @r[2] = "periodic!"; $s = "abc"; $t = (1, "xy", 2, "hello world"); @k[$s, 5] = $t; printf("%s %s\n", $s, @r[1]); exit(); }"#,
            &[special(Target::Begin)],
        );
        let e = emit(&l.probes[0].function, None).expect("emits");
        let size = |code: u8| match code & 0x18 {
            0x10 => 1,
            0x08 => 2,
            0x00 => 4,
            _ => 8,
        };
        for (i, insn) in e.insns.iter().enumerate() {
            let through_fp = match insn.class() {
                class::LDX => insn.src == Reg::FP.0,
                class::STX | class::ST => insn.dst == Reg::FP.0,
                _ => false,
            };
            if through_fp {
                let n = size(insn.code);
                assert_eq!(
                    insn.off.rem_euclid(n),
                    0,
                    "instruction {i} accesses {n} bytes at fp{:+}",
                    insn.off
                );
            }
        }
    }

    /// `return` inside a branch must not leave unreachable code (the verifier refuses it).
    #[test]
    fn no_unreachable_instructions() {
        let l = lower_text(
            "BEGIN { if (1) { return; } $i = 0; while ($i < 3) { if ($i == 1) { break; } $i++; } if ($i) { exit(); print(1); } exit(); }",
            &[special(Target::Begin)],
        );
        let insts = &l.probes[0].function.insts;
        for w in insts.windows(2) {
            if matches!(w[0].0, Inst::Jump(_) | Inst::Return(_)) {
                assert!(
                    matches!(w[1].0, Inst::Label(_) | Inst::LoopEnd),
                    "unreachable {:?} after {:?}",
                    w[1].0,
                    w[0].0
                );
            }
        }
    }

    #[test]
    fn unsupported_features_are_diagnostics() {
        let program = parse("BEGIN { @x = sizeof(struct task_struct); }").unwrap();
        let err = lower(
            &resolved(program, &[special(Target::Begin)]),
            &LowerOptions::default(),
        )
        .unwrap_err();
        assert!(err[0]
            .message
            .contains("not supported by the code generator yet"));
    }

    /// Keys check cannot see the shape of (a map's tuple value) that no one layout holds are
    /// refused at the use, not stored as the first use's key; numbers of any width mix.
    #[test]
    fn a_map_keyed_unlike_its_first_use_is_refused() {
        let source = r#"BEGIN { @x = (1, "a"); @m[1, 2] = 1; @m[@x] = 2; }"#;
        let program = parse(source).unwrap();
        let err = lower(
            &resolved(program, &[special(Target::Begin)]),
            &LowerOptions::default(),
        )
        .unwrap_err();
        assert!(
            err[0].message.contains("keyed by different types"),
            "{err:?}"
        );
        assert_eq!(&source[err[0].span().range()], "@m[@x]");
        lower_text(
            "BEGIN { @m[(uint8)1] = 1; @m[-5] = 2; @p[curtask] = 1; @p[3] = 1; }",
            &[special(Target::Begin)],
        );
    }
}

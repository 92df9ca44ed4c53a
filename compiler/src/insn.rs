//! BPF instructions: the 8-byte encoding, constructors that read like assembly, and a
//! disassembler for `-d bpf` and for tests. Numbers are the kernel's (include/uapi/linux/bpf.h).

use std::fmt;

/// A register, r0..r10. r0 return value, r1-r5 arguments (clobbered by calls), r6-r9 kept
/// across calls, r10 the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    pub const FP: Reg = Reg(10);
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Instruction classes (low 3 bits of the opcode).
pub mod class {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
}

/// Operand source bit: an immediate or a register.
pub mod source {
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
}

/// Memory access sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B = 0x10,
    H = 0x08,
    W = 0x00,
    DW = 0x18,
}

impl Size {
    pub fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    pub fn from_bytes(n: u32) -> Option<Size> {
        match n {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
/// `BPF_ATOMIC`: a read-modify-write of memory, its operation in the immediate (0: add).
const MODE_ATOMIC: u8 = 0xc0;

/// Arithmetic operations (high 4 bits of an ALU opcode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alu {
    Add = 0x00,
    Sub = 0x10,
    Mul = 0x20,
    Div = 0x30,
    Or = 0x40,
    And = 0x50,
    Lsh = 0x60,
    Rsh = 0x70,
    Neg = 0x80,
    Mod = 0x90,
    Xor = 0xa0,
    Mov = 0xb0,
    Arsh = 0xc0,
}

impl Alu {
    fn from_code(code: u8) -> Option<Alu> {
        use Alu::*;
        [
            Add, Sub, Mul, Div, Or, And, Lsh, Rsh, Neg, Mod, Xor, Mov, Arsh,
        ]
        .into_iter()
        .find(|a| *a as u8 == code & 0xf0)
    }

    fn symbol(self) -> &'static str {
        match self {
            Alu::Add => "+=",
            Alu::Sub => "-=",
            Alu::Mul => "*=",
            Alu::Div => "/=",
            Alu::Or => "|=",
            Alu::And => "&=",
            Alu::Lsh => "<<=",
            Alu::Rsh => ">>=",
            Alu::Neg => "= -",
            Alu::Mod => "%=",
            Alu::Xor => "^=",
            Alu::Mov => "=",
            Alu::Arsh => "s>>=",
        }
    }
}

/// Conditional jumps (high 4 bits of a JMP opcode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq = 0x10,
    Gt = 0x20,
    Ge = 0x30,
    Set = 0x40,
    Ne = 0x50,
    Sgt = 0x60,
    Sge = 0x70,
    Lt = 0xa0,
    Le = 0xb0,
    Slt = 0xc0,
    Sle = 0xd0,
}

impl Cond {
    fn from_code(code: u8) -> Option<Cond> {
        use Cond::*;
        [Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle]
            .into_iter()
            .find(|c| *c as u8 == code & 0xf0)
    }

    fn symbol(self) -> &'static str {
        match self {
            Cond::Eq => "==",
            Cond::Gt => ">",
            Cond::Ge => ">=",
            Cond::Set => "&",
            Cond::Ne => "!=",
            Cond::Sgt => "s>",
            Cond::Sge => "s>=",
            Cond::Lt => "<",
            Cond::Le => "<=",
            Cond::Slt => "s<",
            Cond::Sle => "s<=",
        }
    }

    /// The condition that holds exactly when this one does not.
    pub fn negate(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Gt => Cond::Le,
            Cond::Le => Cond::Gt,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Sgt => Cond::Sle,
            Cond::Sle => Cond::Sgt,
            Cond::Sge => Cond::Slt,
            Cond::Slt => Cond::Sge,
            // `&` has no negation as one jump; callers never negate it.
            Cond::Set => Cond::Set,
        }
    }
}

const JA: u8 = 0x00;
const CALL: u8 = 0x80;
/// The source register of a call of a kfunc, whose immediate is a BTF id, not a helper's.
const PSEUDO_KFUNC_CALL: u8 = 2;
const EXIT: u8 = 0x90;

/// `src` of an `ld_imm64` that loads a map by file descriptor (patched by the loader).
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src` of an `ld_imm64` that loads the address of a map's value (the global data): the
/// loader writes the map's fd into the first immediate and the offset into the second.
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// `src` of an `ld_imm64` that loads the address of a callback function (the loader writes
/// the instruction offset).
pub const PSEUDO_FUNC: u8 = 4;

/// Which of the object's global data an `ld_global` loads an address in. Two sections, so
/// that user space can rewrite the guard's masks whole without touching what programs add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSection {
    /// The guard's sampling masks (`.bss`), written by user space only.
    Masks,
    /// The loss counters (`.bss.tb_counts`), added to by programs only, atomically.
    Counters,
}

/// One 8-byte instruction. `ld_imm64` takes two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst: dst.0,
            src: src.0,
            off,
            imm,
        }
    }

    pub fn alu64_imm(op: Alu, dst: Reg, imm: i32) -> Insn {
        Insn::new(class::ALU64 | source::K | op as u8, dst, Reg(0), 0, imm)
    }

    pub fn alu64_reg(op: Alu, dst: Reg, src: Reg) -> Insn {
        Insn::new(class::ALU64 | source::X | op as u8, dst, src, 0, 0)
    }

    pub fn alu32_imm(op: Alu, dst: Reg, imm: i32) -> Insn {
        Insn::new(class::ALU | source::K | op as u8, dst, Reg(0), 0, imm)
    }

    pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
        Insn::alu64_imm(Alu::Mov, dst, imm)
    }

    pub fn mov64_reg(dst: Reg, src: Reg) -> Insn {
        Insn::alu64_reg(Alu::Mov, dst, src)
    }

    pub fn neg64(dst: Reg) -> Insn {
        Insn::new(class::ALU64 | Alu::Neg as u8, dst, Reg(0), 0, 0)
    }

    /// Loads a 64-bit constant: two instruction slots.
    pub fn ld_imm64(dst: Reg, value: u64) -> [Insn; 2] {
        [
            Insn::new(
                class::LD | Size::DW as u8 | MODE_IMM,
                dst,
                Reg(0),
                0,
                value as u32 as i32,
            ),
            Insn::new(0, Reg(0), Reg(0), 0, (value >> 32) as u32 as i32),
        ]
    }

    /// Loads a map reference; the object's relocation names the map, the loader fills the fd.
    pub fn ld_map(dst: Reg) -> [Insn; 2] {
        [
            Insn::new(
                class::LD | Size::DW as u8 | MODE_IMM,
                dst,
                Reg(PSEUDO_MAP_FD),
                0,
                0,
            ),
            Insn::new(0, Reg(0), Reg(0), 0, 0),
        ]
    }

    /// Loads the address of byte `offset` of the global data; the object's relocation names
    /// it, the loader fills in the map.
    pub fn ld_global(dst: Reg, offset: u32) -> [Insn; 2] {
        [
            Insn::new(
                class::LD | Size::DW as u8 | MODE_IMM,
                dst,
                Reg(PSEUDO_MAP_VALUE),
                0,
                offset as i32,
            ),
            Insn::new(0, Reg(0), Reg(0), 0, 0),
        ]
    }

    /// Loads a callback's address; the object's relocation names the function, the loader
    /// fills the offset.
    pub fn ld_func(dst: Reg) -> [Insn; 2] {
        [
            Insn::new(
                class::LD | Size::DW as u8 | MODE_IMM,
                dst,
                Reg(PSEUDO_FUNC),
                0,
                0,
            ),
            Insn::new(0, Reg(0), Reg(0), 0, 0),
        ]
    }

    /// `dst = *(size *)(src + off)`
    pub fn load(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(class::LDX | size as u8 | MODE_MEM, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`
    /// `lock *(u64 *)(dst + off) += src`: an add no other CPU's add can interleave with.
    pub fn atomic_add64(dst: Reg, off: i16, src: Reg) -> Insn {
        Insn::new(class::STX | Size::DW as u8 | MODE_ATOMIC, dst, src, off, 0)
    }

    pub fn store(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
        Insn::new(class::STX | size as u8 | MODE_MEM, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`
    pub fn store_imm(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
        Insn::new(class::ST | size as u8 | MODE_MEM, dst, Reg(0), off, imm)
    }

    /// `if dst <cond> imm goto +off`
    pub fn jmp_imm(cond: Cond, dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(class::JMP | source::K | cond as u8, dst, Reg(0), off, imm)
    }

    /// `if dst <cond> src goto +off`
    pub fn jmp_reg(cond: Cond, dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(class::JMP | source::X | cond as u8, dst, src, off, 0)
    }

    /// `goto +off`
    pub fn ja(off: i16) -> Insn {
        Insn::new(class::JMP | JA, Reg(0), Reg(0), off, 0)
    }

    pub fn call(helper: Helper) -> Insn {
        Insn::new(class::JMP | CALL, Reg(0), Reg(0), 0, helper as i32)
    }

    /// A call of the kernel function whose BTF id in vmlinux is `btf_id`
    /// (BPF_PSEUDO_KFUNC_CALL).
    pub fn call_kfunc(btf_id: i32) -> Insn {
        Insn::new(class::JMP | CALL, Reg(0), Reg(PSEUDO_KFUNC_CALL), 0, btf_id)
    }

    pub fn exit() -> Insn {
        Insn::new(class::JMP | EXIT, Reg(0), Reg(0), 0, 0)
    }

    pub fn class(self) -> u8 {
        self.code & 0x07
    }

    /// The first half of a two-slot `ld_imm64`.
    pub fn is_wide(self) -> bool {
        self.code == class::LD | Size::DW as u8 | MODE_IMM
    }

    /// A jump with a relative offset (not call or exit).
    pub fn is_jump(self) -> bool {
        matches!(self.class(), class::JMP | class::JMP32)
            && self.code & 0xf0 != CALL
            && self.code & 0xf0 != EXIT
    }
}

/// The kernel helpers tracebound calls, with their numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Helper {
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    ProbeRead = 4,
    KtimeGetNs = 5,
    TracePrintk = 6,
    GetPrandomU32 = 7,
    GetSmpProcessorId = 8,
    /// Jumps to the program at an index of a program array, never to return; falls through
    /// when the slot is empty.
    TailCall = 12,
    GetCurrentPidTgid = 14,
    GetCurrentUidGid = 15,
    GetCurrentComm = 16,
    PerfEventOutput = 25,
    GetStackid = 27,
    GetCurrentTask = 35,
    GetNumaNodeId = 42,
    ProbeReadStr = 45,
    GetStack = 67,
    GetCurrentCgroupId = 80,
    SendSignal = 109,
    ProbeReadUser = 112,
    ProbeReadKernel = 113,
    ProbeReadUserStr = 114,
    ProbeReadKernelStr = 115,
    Jiffies64 = 118,
    GetNsCurrentPidTgid = 120,
    KtimeGetBootNs = 125,
    SeqWrite = 127,
    RingbufOutput = 130,
    RingbufReserve = 131,
    RingbufSubmit = 132,
    RingbufDiscard = 133,
    GetCurrentTaskBtf = 158,
    GetAttachCookie = 174,
    ForEachMapElem = 164,
    Loop = 181,
    MapLookupPercpuElem = 195,
    KtimeGetTaiNs = 208,
    /// A kernel function (kfunc), not a helper: its call's first operand is the function's
    /// BTF id in vmlinux (an immediate), the arguments follow (`Insn::call_kfunc`).
    Kfunc = -1,
}

impl Helper {
    /// Whether it copies memory the program names into the program's (what `-k` checks).
    pub fn reads_memory(self) -> bool {
        use Helper::*;
        matches!(
            self,
            ProbeRead
                | ProbeReadStr
                | ProbeReadUser
                | ProbeReadKernel
                | ProbeReadUserStr
                | ProbeReadKernelStr
        )
    }

    /// The name the kernel (and bpftrace's warnings) give it: `bpf_` left off.
    pub fn kernel_name(self) -> &'static str {
        use Helper::*;
        match self {
            MapLookupElem => "map_lookup_elem",
            MapUpdateElem => "map_update_elem",
            MapDeleteElem => "map_delete_elem",
            ProbeRead => "probe_read",
            KtimeGetNs => "ktime_get_ns",
            TracePrintk => "trace_printk",
            GetPrandomU32 => "get_prandom_u32",
            GetSmpProcessorId => "get_smp_processor_id",
            TailCall => "tail_call",
            GetCurrentPidTgid => "get_current_pid_tgid",
            GetCurrentUidGid => "get_current_uid_gid",
            GetCurrentComm => "get_current_comm",
            PerfEventOutput => "perf_event_output",
            GetStackid => "get_stackid",
            GetCurrentTask => "get_current_task",
            GetNumaNodeId => "get_numa_node_id",
            ProbeReadStr => "probe_read_str",
            GetStack => "get_stack",
            GetCurrentCgroupId => "get_current_cgroup_id",
            SendSignal => "send_signal",
            ProbeReadUser => "probe_read_user",
            ProbeReadKernel => "probe_read_kernel",
            ProbeReadUserStr => "probe_read_user_str",
            ProbeReadKernelStr => "probe_read_kernel_str",
            Jiffies64 => "jiffies64",
            GetNsCurrentPidTgid => "get_ns_current_pid_tgid",
            KtimeGetBootNs => "ktime_get_boot_ns",
            SeqWrite => "seq_write",
            RingbufOutput => "ringbuf_output",
            RingbufReserve => "ringbuf_reserve",
            RingbufSubmit => "ringbuf_submit",
            RingbufDiscard => "ringbuf_discard",
            GetCurrentTaskBtf => "get_current_task_btf",
            GetAttachCookie => "get_attach_cookie",
            ForEachMapElem => "for_each_map_elem",
            Loop => "loop",
            MapLookupPercpuElem => "map_lookup_percpu_elem",
            KtimeGetTaiNs => "ktime_get_tai_ns",
            Kfunc => "kfunc",
        }
    }

    pub fn from_id(id: i32) -> Option<Helper> {
        use Helper::*;
        [
            MapLookupElem,
            MapUpdateElem,
            MapDeleteElem,
            ProbeRead,
            KtimeGetNs,
            TracePrintk,
            GetPrandomU32,
            GetSmpProcessorId,
            TailCall,
            GetCurrentPidTgid,
            GetCurrentUidGid,
            GetCurrentComm,
            PerfEventOutput,
            GetStackid,
            GetCurrentTask,
            GetNumaNodeId,
            ProbeReadStr,
            GetStack,
            GetCurrentCgroupId,
            SendSignal,
            ProbeReadUser,
            ProbeReadKernel,
            ProbeReadUserStr,
            ProbeReadKernelStr,
            Jiffies64,
            GetNsCurrentPidTgid,
            KtimeGetBootNs,
            SeqWrite,
            RingbufOutput,
            RingbufReserve,
            RingbufSubmit,
            RingbufDiscard,
            GetCurrentTaskBtf,
            GetAttachCookie,
            ForEachMapElem,
            Loop,
            MapLookupPercpuElem,
            KtimeGetTaiNs,
        ]
        .into_iter()
        .find(|h| *h as i32 == id)
    }
}

/// Renders instructions one per line, numbered as the verifier numbers them (an `ld_imm64`
/// takes two numbers).
pub fn disassemble(insns: &[Insn]) -> String {
    disassemble_with_maps(insns, &[])
}

/// `disassemble`, each map reference named by the object's map index its relocation gives
/// (`(instruction index, map index)`, `Emitted::map_relocations`): before loading, the
/// instruction's own immediate is 0 for every map.
pub fn disassemble_with_maps(insns: &[Insn], maps: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let insn = insns[i];
        let text = if insn.is_wide() {
            let hi = insns.get(i + 1).map_or(0, |n| n.imm as u32 as u64);
            let value = (hi << 32) | insn.imm as u32 as u64;
            if insn.src == PSEUDO_MAP_FD {
                let map = (maps.iter().find(|(at, _)| *at == i))
                    .map_or(insn.imm as i64, |(_, m)| *m as i64);
                format!("r{} = map[{map}] ll", insn.dst)
            } else if insn.src == PSEUDO_MAP_VALUE {
                format!("r{} = global[{}] ll", insn.dst, insn.imm)
            } else if insn.src == PSEUDO_FUNC {
                format!("r{} = func[{:+}] ll", insn.dst, insn.imm)
            } else {
                format!("r{} = {:#x} ll", insn.dst, value)
            }
        } else {
            describe(insn)
        };
        out.push_str(&format!("{i:4}: {text}\n"));
        i += if insn.is_wide() { 2 } else { 1 };
    }
    out
}

fn describe(insn: Insn) -> String {
    let dst = Reg(insn.dst);
    let src = Reg(insn.src);
    let size = |code: u8| match code & 0x18 {
        0x10 => Size::B,
        0x08 => Size::H,
        0x00 => Size::W,
        _ => Size::DW,
    };
    match insn.class() {
        class::ALU64 | class::ALU => {
            let wide = insn.class() == class::ALU64;
            let name = |r: Reg| {
                if wide {
                    r.to_string()
                } else {
                    format!("w{}", r.0)
                }
            };
            match Alu::from_code(insn.code) {
                Some(Alu::Neg) => format!("{} = -{}", name(dst), name(dst)),
                Some(op) if insn.code & source::X != 0 => {
                    format!("{} {} {}", name(dst), op.symbol(), name(src))
                }
                Some(op) => format!("{} {} {}", name(dst), op.symbol(), insn.imm),
                None => format!("<alu {:#04x}>", insn.code),
            }
        }
        class::LDX => format!(
            "{dst} = *({} *)({src} {:+})",
            size(insn.code).suffix(),
            insn.off
        ),
        class::STX if insn.code & 0xe0 == MODE_ATOMIC => format!(
            "lock *({} *)({dst} {:+}) += {src}",
            size(insn.code).suffix(),
            insn.off
        ),
        class::STX => format!(
            "*({} *)({dst} {:+}) = {src}",
            size(insn.code).suffix(),
            insn.off
        ),
        class::ST => format!(
            "*({} *)({dst} {:+}) = {}",
            size(insn.code).suffix(),
            insn.off,
            insn.imm
        ),
        class::JMP | class::JMP32 => match insn.code & 0xf0 {
            CALL if insn.src == PSEUDO_KFUNC_CALL => format!("call kfunc#{}", insn.imm),
            CALL => match Helper::from_id(insn.imm) {
                Some(h) => format!("call {h:?}#{}", insn.imm),
                None => format!("call #{}", insn.imm),
            },
            EXIT => "exit".to_string(),
            JA => format!("goto {:+}", insn.off),
            _ => match Cond::from_code(insn.code) {
                Some(c) if insn.code & source::X != 0 => {
                    format!("if {dst} {} {src} goto {:+}", c.symbol(), insn.off)
                }
                Some(c) => format!("if {dst} {} {} goto {:+}", c.symbol(), insn.imm, insn.off),
                None => format!("<jmp {:#04x}>", insn.code),
            },
        },
        _ => format!("<{:#04x}>", insn.code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kernel() {
        // r0 = 0; exit  — the smallest valid program.
        assert_eq!(
            Insn::mov64_imm(Reg::R0, 0).to_bytes(),
            [0xb7, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(Insn::exit().to_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        // *(u64 *)(r10 - 8) = r1
        assert_eq!(
            Insn::store(Size::DW, Reg::FP, -8, Reg::R1).to_bytes(),
            [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]
        );
        // r1 = map ll
        assert_eq!(
            Insn::ld_map(Reg::R1)[0].to_bytes(),
            [0x18, 0x11, 0, 0, 0, 0, 0, 0]
        );
        // call bpf_get_current_pid_tgid
        assert_eq!(
            Insn::call(Helper::GetCurrentPidTgid).to_bytes(),
            [0x85, 0, 0, 0, 14, 0, 0, 0]
        );
    }

    #[test]
    fn bytes_round_trip() {
        let insn = Insn::jmp_imm(Cond::Sgt, Reg::R3, -7, -12);
        assert_eq!(Insn::from_bytes(insn.to_bytes()), insn);
    }

    #[test]
    fn disassembles_readably() {
        let mut prog = vec![Insn::mov64_imm(Reg::R1, 5)];
        prog.extend(Insn::ld_imm64(Reg::R2, 1 << 40));
        prog.push(Insn::jmp_reg(Cond::Ge, Reg::R1, Reg::R2, 1));
        prog.push(Insn::call(Helper::KtimeGetNs));
        prog.push(Insn::exit());
        let text = disassemble(&prog);
        assert_eq!(
            text,
            "   0: r1 = 5\n   1: r2 = 0x10000000000 ll\n   3: if r1 >= r2 goto +1\n   \
             4: call KtimeGetNs#5\n   5: exit\n"
        );
    }

    #[test]
    fn a_map_reference_shows_the_map_its_relocation_names() {
        let mut prog = Vec::new();
        prog.extend(Insn::ld_map(Reg::R1));
        prog.extend(Insn::ld_map(Reg::R2));
        let text = disassemble_with_maps(&prog, &[(0, 3), (2, 1)]);
        assert_eq!(text, "   0: r1 = map[3] ll\n   2: r2 = map[1] ll\n");
    }
}

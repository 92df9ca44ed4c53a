//! The table of every builtin variable, function and map aggregation bpftrace documents
//! (docs/stdlib.md and docs/language.md on bpftrace master, plus the 0.17-era reference guide
//! for spellings old scripts still use). Docs are one line each, in our own words.
//!
//! Conventions the checker relies on:
//! - A `Kind::Function` with `required == 0` may also be used bare (`kstack`, `pid`, `nsecs`);
//!   that is the same as calling it with no arguments.
//! - `Param::StackMode` in a first slot may instead receive the integer limit
//!   (`ustack(10)` as well as `ustack(perf, 10)`).
//! - Type-context syntax (`sizeof`, `offsetof`, `typeof`, `typeinfo`, `container_of`) and
//!   positional parameters (`$1`, `$#`) are grammar, not table entries.

use crate::{
    Aggregation, ArgRule, Builtin, Contexts, Kind, Len, MapArg, Names, Param, Support, Ty, Value,
};

use Param::{IntLiteral, Literal, Map, MapElement, StackMode};

const ANY: Param = Param::Value(Ty::Any);
const INT: Param = Param::Value(Ty::Int);
const STR: Param = Param::Value(Ty::Str);
const BOOL: Param = Param::Value(Ty::Bool);
const PTR: Param = Param::Value(Ty::Pointer);

const REGS: Contexts = Contexts::REGS;
const ARGS: Contexts = Contexts::ARGS;
const RETURN: Contexts = Contexts::RETURN;

const PID_NS: Param = Param::Mode(&["curr_ns", "init"]);
const CLOCK: Param = Param::Mode(&["monotonic", "boot", "tai", "sw_tai"]);

const UNSIGNED: Value = Value::Int { signed: false };
const SIGNED: Value = Value::Int { signed: true };
const NONE: Value = Value::None;

/// A bare builtin such as `uid`. Reading one has no effect, so it is pure.
const fn var(name: &'static str, returns: Ty, doc: &'static str) -> Builtin {
    Builtin {
        name,
        aliases: &[],
        kind: Kind::Variable,
        params: &[],
        required: 0,
        variadic: false,
        returns,
        unsafe_only: false,
        contexts: Contexts::ANY,
        doc,
        pure: true,
        map_arg: MapArg::None,
        arg_rule: ArgRule::None,
        non_negative: &[],
        // Every entry states its support; the table's tests refuse an empty reason.
        support: Support::Refused(""),
        example: "",
    }
}

/// A called builtin; with `required == 0` it may also be used bare. Not pure unless said.
const fn func(
    name: &'static str,
    params: &'static [Param],
    required: usize,
    returns: Ty,
    doc: &'static str,
) -> Builtin {
    Builtin {
        kind: Kind::Function,
        params,
        required,
        pure: false,
        ..var(name, returns, doc)
    }
}

/// A map value function, only valid as `@m = agg(...)` / `@m[k] = agg(...)`, lowered by that
/// assignment.
const fn agg(
    name: &'static str,
    params: &'static [Param],
    required: usize,
    returns: Ty,
    doc: &'static str,
) -> Builtin {
    Builtin {
        kind: Kind::Aggregation,
        ..func(name, params, required, returns, doc)
    }
}

/// `argN`: a register argument of kprobes, uprobes and usdt probes (raw tracepoints' too).
const fn arg(name: &'static str, n: u8) -> Builtin {
    let value = if n < 6 { SIGNED } else { Value::LateArg };
    var(
        name,
        Ty::Int,
        "the traced function's argument N, read from registers as a 64-bit integer",
    )
    .only_in(REGS)
    .lowered(Lowering::Arg(n), value)
}

/// `sargN`: deprecated in bpftrace 0.21, removed after 0.24; still in older scripts.
const fn sarg(name: &'static str) -> Builtin {
    var(
        name,
        Ty::Int,
        "deprecated: argument N passed on the stack (64-bit); use *(reg(\"sp\") + off)",
    )
    .only_in(REGS)
    .refused("not supported yet: stack arguments (deprecated; read *(reg(\"sp\") + offset))")
}

impl Builtin {
    const fn aka(self, aliases: &'static [&'static str]) -> Self {
        Builtin { aliases, ..self }
    }

    const fn only_in(self, contexts: Contexts) -> Self {
        Builtin { contexts, ..self }
    }

    const fn varargs(self) -> Self {
        Builtin {
            variadic: true,
            ..self
        }
    }

    const fn needs_unsafe(self) -> Self {
        Builtin {
            unsafe_only: true,
            ..self
        }
    }

    /// No effect beyond its value.
    const fn pure(self) -> Self {
        Builtin { pure: true, ..self }
    }

    const fn map_arg(self, map_arg: MapArg) -> Self {
        Builtin { map_arg, ..self }
    }

    const fn arg_rule(self, arg_rule: ArgRule) -> Self {
        Builtin { arg_rule, ..self }
    }

    /// Literal arguments refused when negative: (argument index, what it is).
    const fn non_negative(self, non_negative: &'static [(usize, &'static str)]) -> Self {
        Builtin {
            non_negative,
            ..self
        }
    }

    const fn lowered(self, lowering: Lowering, value: Value) -> Self {
        Builtin {
            support: Support::Lowered(lowering, value),
            ..self
        }
    }

    /// Written in the language: the expression each use stands for.
    const fn written(self, text: &'static str) -> Self {
        Builtin {
            support: Support::Written(text),
            ..self
        }
    }

    const fn refused(self, reason: &'static str) -> Self {
        Builtin {
            support: Support::Refused(reason),
            ..self
        }
    }

    /// An aggregation its map assignment lowers.
    const fn aggregates(self, aggregation: Aggregation) -> Self {
        self.lowered(Lowering::Aggregate(aggregation), NONE)
    }

    const fn example(self, example: &'static str) -> Self {
        Builtin { example, ..self }
    }
}

/// One builtin's code generation, named by its table entry and implemented by the compiler's
/// `lower/builtins/` (the one place that matches on it, exhaustively). It sits beside the
/// table so that a new builtin's variant is written with its entry. Data a lowering needs
/// that differs between entries sharing it (which register argument, user or kernel) is
/// carried here, never re-derived from the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lowering {
    /// `pid`, `tid`: the halves of bpf_get_current_pid_tgid.
    Pid,
    Tid,
    /// `uid`, `gid`: the halves of bpf_get_current_uid_gid.
    Uid,
    Gid,
    /// `nsecs`, `nsecs(clock)`.
    Nsecs,
    /// `ncpus`: the machine's possible CPUs, a constant of the compile.
    Ncpus,
    Cpu,
    Rand,
    Cgroup,
    Curtask,
    /// `ctx`: the program's context pointer (the tracepoint record, the perf event data).
    Ctx,
    Jiffies,
    Numaid,
    /// `elapsed`: nanoseconds since the compile's start time.
    Elapsed,
    /// `cpid`: the `-c` child's pid, a constant of the compile.
    Cpid,
    /// `comm`: bpf_get_current_comm into 16 bytes.
    Comm,
    /// `argN` (the index).
    Arg(u8),
    Retval,
    /// `probe`, `func`: text of the attach point, a constant of each program.
    Probe,
    /// `probetype`: the probe's kind as bpftrace names it, a constant of each program.
    ProbeType,
    /// `usermode`: whether the saved registers are user mode's.
    Usermode,
    Func,
    /// `args`: only its fields are read (`args.filename`), as the probe's typed arguments.
    Args,
    /// `kstack`, `ustack` (`user`).
    Stack {
        user: bool,
    },
    /// `ksym`, `usym`.
    Symbol {
        user: bool,
    },
    /// `kaddr`, `uaddr`: an address resolved when compiling.
    Address {
        user: bool,
    },
    /// `percpu_kaddr`: a per-CPU variable's address on a CPU, from that CPU's run queue.
    PerCpuAddress,
    /// `uptr`, `kptr`: the pointer itself, marked as pointing into user (or kernel) memory;
    /// reads through it (a C-typed member or `*`, `str`) use that space's helper.
    AddressSpace {
        user: bool,
    },
    Reg,
    Str,
    Buf,
    Strftime,
    Ntop,
    /// `pton`: the address's bytes, a constant of the compile, in a stack slot.
    Pton,
    Macaddr,
    Strncmp,
    Strcontains,
    /// `strlen`: bytes before the first NUL, at most the string's capacity.
    Strlen,
    /// `bswap`: an integer's bytes reversed, at the width the script gives it.
    Bswap,
    /// `strerror`, `signal_name`, `syscall_name`: the number (as a 32-bit signed integer,
    /// as the current release takes it), named by user space when printed; `cgroup_path`:
    /// the whole 64-bit id.
    Named,
    /// `username`: the current uid, named by user space when printed.
    Username,
    /// `getopt`: a constant of the compile, replaced by its value before checking
    /// (`compiler/src/program_options.rs`), so never lowered.
    ProgramOption,
    HasKey,
    Len,
    /// `errorf`, `warnf` (`error: false`): printf tagged with the call's place in the script.
    Message {
        error: bool,
    },
    /// `debugf`: bpf_trace_printk, the format and up to three values handed to the kernel's
    /// trace buffer (nothing goes through user space).
    TracePrintk,
    /// The printf-like actions user space carries out: `printf`, `cat`, `system`.
    Printf,
    Cat,
    System,
    Join,
    Signal,
    Exit,
    /// `assert(cond, msg)`: when `cond` is false, an error tagged with the call's place
    /// (`assert failed: msg`), then `exit(1)`.
    Assert,
    Time,
    Print,
    /// `clear`, `zero`.
    Clear {
        zero: bool,
    },
    Delete,
    /// An aggregation, lowered by its map assignment.
    Aggregate(Aggregation),
}

#[rustfmt::skip]
pub static BUILTINS: &[Builtin] = &[
    // --- variables -----------------------------------------------------------------------
    var("uid", Ty::Int, "user id of the current thread, as seen from the initial user namespace")
        .lowered(Lowering::Uid, UNSIGNED),
    var("gid", Ty::Int, "group id of the current thread, as seen from the initial user namespace")
        .lowered(Lowering::Gid, UNSIGNED),
    var("username", Ty::Str, "name of the user running the current thread")
        .lowered(Lowering::Username, Value::Named(Names::User)),
    var("cpu", Ty::Int, "id of the CPU the probe is running on").lowered(Lowering::Cpu, UNSIGNED),
    var("ncpus", Ty::Int, "number of CPUs on the machine").lowered(Lowering::Ncpus, UNSIGNED),
    var("numaid", Ty::Int, "id of the NUMA node the probe is running on")
        .lowered(Lowering::Numaid, UNSIGNED),
    var("elapsed", Ty::Int, "nanoseconds since the tracer started")
        .lowered(Lowering::Elapsed, UNSIGNED),
    var("jiffies", Ty::Int, "the kernel's jiffies counter (64-bit)")
        .lowered(Lowering::Jiffies, UNSIGNED),
    var("rand", Ty::Int, "a pseudo-random 32-bit number").lowered(Lowering::Rand, UNSIGNED),
    var("cgroup", Ty::Int, "cgroup v2 id of the current task").lowered(Lowering::Cgroup, UNSIGNED),
    var("curtask", Ty::Pointer, "pointer to the current task's struct task_struct")
        .lowered(Lowering::Curtask, UNSIGNED),
    var("cpid", Ty::Int, "pid of the child started with -c (0, with a warning, if there is none)")
        .lowered(Lowering::Cpid, UNSIGNED),
    var("has_cpid", Ty::Bool, "true when a child process was started with -c")
        .refused("not supported yet: whether -c started a child, as a value"),
    var("usermode", Ty::Int, "1 if the probe interrupted user-mode code (BEGIN and END: 1), else 0 (x86_64 only)")
        .only_in(REGS.union(Contexts::SPECIAL))
        .lowered(Lowering::Usermode, UNSIGNED),
    var("probe", Ty::Str, "full name of the probe that fired, e.g. kprobe:do_nanosleep")
        .lowered(Lowering::Probe, Value::Str(Len::AttachPoint)),
    var("probetype", Ty::Str, "type of the probe that fired, e.g. kprobe or tracepoint")
        .lowered(Lowering::ProbeType, Value::Str(Len::Bytes(16))),
    var("func", Ty::Sym, "name of the traced function").only_in(REGS.union(ARGS))
        .lowered(Lowering::Func, Value::Str(Len::Function)),
    var("retval", Ty::Any, "value returned by the traced function").only_in(RETURN)
        .lowered(Lowering::Retval, SIGNED),
    var("args", Ty::Record, "record of the traced function's or tracepoint's typed arguments")
        .only_in(ARGS)
        .lowered(Lowering::Args, NONE)
        .example("@ = args.flags"),
    var("ctx", Ty::Pointer, "pointer to the probe's context: the record, registers or perf event data its program receives (iter probes: the iterator's context structure)")
        .lowered(Lowering::Ctx, UNSIGNED),
    // Its fields are constants of the compile (`config::substitute_record` writes each
    // `config().key` as the run's value); the record as a whole is refused.
    var("config", Ty::Record, "record of the current configuration settings, read a field at a time: config().max_strlen")
        .refused("not supported yet: the configuration record as a whole; read a field, e.g. `config().max_strlen`"),
    arg("arg0", 0),
    arg("arg1", 1),
    arg("arg2", 2),
    arg("arg3", 3),
    arg("arg4", 4),
    arg("arg5", 5),
    arg("arg6", 6),
    arg("arg7", 7),
    arg("arg8", 8),
    arg("arg9", 9),
    // A USDT probe has up to 12 arguments (sys/sdt.h's STAP_PROBE12).
    arg("arg10", 10),
    arg("arg11", 11),
    sarg("sarg0"),
    sarg("sarg1"),
    sarg("sarg2"),
    sarg("sarg3"),
    sarg("sarg4"),
    sarg("sarg5"),
    sarg("sarg6"),
    sarg("sarg7"),
    sarg("sarg8"),
    sarg("sarg9"),
    // --- variables that also have a call form (Function, nothing required) ---------------
    func("pid", &[PID_NS], 0, Ty::Int, "process id (tgid) of the current task; pid(init) for the initial namespace")
        .pure().lowered(Lowering::Pid, UNSIGNED).example("@ = pid"),
    func("tid", &[PID_NS], 0, Ty::Int, "thread id of the current task; tid(init) for the initial namespace")
        .pure().lowered(Lowering::Tid, UNSIGNED).example("@ = tid()"),
    func("nsecs", &[CLOCK], 0, Ty::Int, "nanosecond timestamp from a kernel clock (default: boot)")
        .pure().lowered(Lowering::Nsecs, UNSIGNED).example("@ = nsecs(boot)"),
    func("comm", &[INT], 0, Ty::Str, "name of the current thread, or of the process with the given pid")
        .pure().lowered(Lowering::Comm, Value::Str(Len::Bytes(16))).example("@[comm] = count()"),
    func("pcomm", &[PTR], 0, Ty::Str, "name of the parent process of the current (or given) task")
        .pure().written("$task->real_parent->comm").example("@ = pcomm"),
    func("ppid", &[PTR], 0, Ty::Int, "pid of the parent process of the current (or given) task")
        .pure().written("$task->real_parent->pid").example("@ = ppid"),
    func("leader_comm", &[PTR], 0, Ty::Str, "name of the thread-group leader of the current (or given) task")
        .pure().written("$task->group_leader->comm").example("@ = leader_comm"),
    func("leader_tid", &[PTR], 0, Ty::Int, "thread id of the thread-group leader of the current (or given) task")
        .pure().written("$task->group_leader->pid").example("@ = leader_tid"),
    func("kstack", &[StackMode, IntLiteral], 0, Ty::Stack, "kernel stack trace, optionally in a given mode and limited to N frames")
        .aka(&["stack"])
        .pure().lowered(Lowering::Stack { user: false }, Value::Stack { user: false }).example("@[kstack(perf, 5)] = count()"),
    func("ustack", &[StackMode, IntLiteral], 0, Ty::Stack, "user stack trace, optionally in a given mode and limited to N frames")
        .pure().lowered(Lowering::Stack { user: true }, Value::Stack { user: true }).example("@[ustack] = count()"),
    func("dw_ustack", &[StackMode, IntLiteral], 0, Ty::Stack, "unstable: user stack unwound with DWARF .eh_frame instead of frame pointers")
        .pure().refused("not supported yet: DWARF unwinding").example("@[dw_ustack] = count()"),
    // --- functions: output and control ---------------------------------------------------
    func("printf", &[Literal], 1, Ty::Void, "print the arguments formatted by a constant format string").varargs()
        .lowered(Lowering::Printf, NONE).example(r#"printf("%d %s\n", pid, comm)"#),
    func("print", &[ANY, IntLiteral, IntLiteral], 1, Ty::Void, "print a value, or a map (optionally only its top N entries, divided by D)")
        .map_arg(MapArg::UserSpace).lowered(Lowering::Print, NONE).example("@c = count(); print(@c, 10, 2)"),
    func("errorf", &[Literal], 1, Ty::Void, "print a formatted error message tagged with its source location").varargs()
        .lowered(Lowering::Message { error: true }, NONE).example(r#"errorf("bad %d", pid)"#),
    func("warnf", &[Literal], 1, Ty::Void, "print a formatted warning tagged with its source location").varargs()
        .lowered(Lowering::Message { error: false }, NONE).example(r#"warnf("odd %d", pid)"#),
    func("debugf", &[Literal], 1, Ty::Void, "print to the kernel's trace buffer with bpf_trace_printk: up to 3 values, %d %u %x %p %s (debugging only)").varargs()
        .arg_rule(ArgRule::TracePrintk)
        .lowered(Lowering::TracePrintk, NONE).example(r#"debugf("pid %d", pid)"#),
    func("fail", &[Literal], 1, Ty::Void, "stop compilation with a formatted error if this call is reached").varargs()
        .refused("not supported yet: failing the compile where a call is reached").example(r#"fail("no")"#),
    func("time", &[Literal], 0, Ty::Void, "print the current wall-clock time with a strftime format")
        .lowered(Lowering::Time, NONE).example(r#"time("%H:%M\n")"#),
    func("strftime", &[Literal, INT], 2, Ty::Timestamp, "a boot-relative nanosecond timestamp formatted with a strftime format when printed")
        .non_negative(&[(1, "timestamp")]).pure().lowered(Lowering::Strftime, Value::Timestamp).example(r#"printf("%s\n", strftime("%H:%M:%S", nsecs))"#),
    func("join", &[ANY, Literal], 1, Ty::Void, "print the strings of an array of char pointers, separated by a space or the given delimiter")
        .lowered(Lowering::Join, NONE).example(r#"join(arg1, ",")"#),
    func("cat", &[Literal], 1, Ty::Void, "print the contents of the file whose name is formatted like printf").varargs()
        .lowered(Lowering::Cat, NONE).example(r#"cat("/proc/%d/status", pid)"#),
    func("exit", &[INT], 0, Ty::Void, "stop tracing (END still runs), optionally with an exit code")
        .lowered(Lowering::Exit, NONE).example("exit(3)"),
    func("system", &[Literal], 1, Ty::Void, "run a shell command formatted like printf and print its output")
        .varargs()
        .needs_unsafe()
        .lowered(Lowering::System, NONE).example(r#"system("echo %d", pid)"#),
    // --- functions: maps -----------------------------------------------------------------
    func("clear", &[Map], 1, Ty::Void, "remove every key from a map")
        .map_arg(MapArg::UserSpace).lowered(Lowering::Clear { zero: false }, NONE).example("@m[pid] = 1; clear(@m)"),
    func("zero", &[Map], 1, Ty::Void, "set every value in a map to zero")
        .map_arg(MapArg::UserSpace).lowered(Lowering::Clear { zero: true }, NONE).example("@m[pid] = count(); zero(@m)"),
    func("delete", &[MapElement, ANY], 1, Ty::Bool, "remove one key from a map: delete(@m, k), or the older delete(@m[k])")
        .arg_rule(ArgRule::ManyElements).lowered(Lowering::Delete, Value::Bool).example("@m[pid] = 1; delete(@m, pid)"),
    func("has_key", &[MapElement, ANY], 2, Ty::Bool, "whether a keyed map holds the given key")
        .pure().lowered(Lowering::HasKey, Value::Bool).example("@m[pid] = 1; @h = has_key(@m, 1)"),
    func("find", &[MapElement, ANY, ANY], 3, Ty::Bool, "look a key up in a map, storing its value in a scratch variable if found")
        .refused("not supported yet: a map lookup into a scratch variable").example("@m[pid] = 1; $v = 0; @f = find(@m, 1, $v)"),
    func("len", &[Param::Value(Ty::Stack)], 1, Ty::Int, "number of elements in a keyed map, or number of frames in a stack")
        .pure().map_arg(MapArg::Read).lowered(Lowering::Len, SIGNED).example("@m[pid] = 1; @n = len(@m)"),
    // --- functions: strings and buffers --------------------------------------------------
    func("str", &[ANY, INT], 1, Ty::Str, "read a NUL-terminated string from an address, optionally at most N bytes")
        .non_negative(&[(1, "length")]).pure().lowered(Lowering::Str, Value::Str(Len::Read(1))).example("@[str(arg0, 8)] = count()"),
    func("buf", &[ANY, INT], 1, Ty::Buf, "read N bytes from an address into a buffer printable with %r")
        .non_negative(&[(1, "length")]).pure().lowered(Lowering::Buf, Value::Buf(Len::Arg(1))).example(r#"printf("%r\n", buf(arg0, 8))"#),
    func("strncmp", &[STR, STR, IntLiteral], 3, Ty::Int, "compare at most N characters of two strings; 0 when equal")
        .non_negative(&[(2, "length")]).pure().lowered(Lowering::Strncmp, SIGNED).example(r#"@ = strncmp(comm, "bash", 4)"#),
    func("strcontains", &[STR, STR], 2, Ty::Bool, "whether the first string contains the second")
        .pure().lowered(Lowering::Strcontains, Value::Bool).example(r#"@ = strcontains(comm, "sh")"#),
    func("strstr", &[STR, STR], 2, Ty::Int, "index of the first occurrence of the second string in the first, or -1")
        .pure().refused("not supported yet: searching a string").example(r#"@ = strstr(comm, "sh")"#),
    func("strlen", &[ANY], 1, Ty::Int, "length of a string-like value")
        .pure().lowered(Lowering::Strlen, UNSIGNED).example("@ = strlen(comm)"),
    func("strcap", &[ANY], 1, Ty::Int, "capacity in bytes of a string-like value")
        .pure().refused("not supported yet: the capacity of a string").example("@ = strcap(comm)"),
    func("str_concat", &[STR, STR], 2, Ty::Str, "a new string made of the first followed by the second")
        .pure().refused("not supported yet: joining strings").example(r#"@ = str_concat(comm, "!")"#),
    func("memcmp", &[ANY, ANY, INT], 3, Ty::Int, "compare the first N bytes of two values; 0 when equal")
        .pure().refused("not supported yet: comparing bytes").example("@ = memcmp(comm, comm, 4)"),
    func("strerror", &[INT], 1, Ty::Str, "description of an errno value")
        .pure().lowered(Lowering::Named, Value::Named(Names::Errno)).example("@ = strerror(2)"),
    func("signal_name", &[INT], 1, Ty::Str, "name of a signal number, e.g. SIGINT")
        .pure().lowered(Lowering::Named, Value::Named(Names::Signal)).example("@ = signal_name(2)"),
    func("syscall_name", &[INT], 1, Ty::Str, "name of a system call number, e.g. read")
        .pure().lowered(Lowering::Named, Value::Named(Names::Syscall)).example("@ = syscall_name(0)"),
    // --- functions: addresses, symbols and network data ----------------------------------
    func("ksym", &[ANY], 1, Ty::Sym, "name of the kernel function containing an address")
        .aka(&["sym"])
        .pure().lowered(Lowering::Symbol { user: false }, Value::Sym { user: false }).example("@[ksym(arg0)] = count()"),
    func("usym", &[ANY], 1, Ty::Sym, "name of the user-space function containing an address")
        .pure().lowered(Lowering::Symbol { user: true }, Value::Sym { user: true }).example("@[usym(arg0)] = count()"),
    func("kaddr", &[Literal], 1, Ty::Pointer, "address of a kernel symbol, resolved at compile time")
        .pure().lowered(Lowering::Address { user: false }, UNSIGNED).example(r#"@ = kaddr("jiffies")"#),
    func("uaddr", &[Literal], 1, Ty::Pointer, "address of a symbol in the traced binary, resolved at compile time")
        .only_in(REGS)
        .pure().lowered(Lowering::Address { user: true }, UNSIGNED).example(r#"@ = uaddr("main")"#),
    func("percpu_kaddr", &[Literal, INT], 1, Ty::Pointer, "address of a per-CPU kernel variable on this (or the given) CPU")
        .pure().lowered(Lowering::PerCpuAddress, UNSIGNED).example(r#"@ = percpu_kaddr("runqueues")"#),
    func("kptr", &[ANY], 1, Ty::Any, "mark a pointer as pointing into kernel memory")
        .pure().lowered(Lowering::AddressSpace { user: false }, UNSIGNED).example("@ = kptr(arg0)"),
    func("uptr", &[ANY], 1, Ty::Any, "mark a pointer as pointing into user memory")
        .pure().lowered(Lowering::AddressSpace { user: true }, UNSIGNED).example("@ = uptr(arg0)"),
    func("reg", &[Literal], 1, Ty::Int, "value of the named CPU register when the probe fired").only_in(REGS)
        .pure().lowered(Lowering::Reg, SIGNED).example(r#"@ = reg("ip")"#),
    func("ntop", &[INT, ANY], 1, Ty::Inet, "text form of an IPv4 or IPv6 address, with an optional address family first")
        .pure().lowered(Lowering::Ntop, Value::Inet).example("@[ntop(arg0)] = count()"),
    func("pton", &[Literal], 1, Ty::Any, "byte array of an IPv4 or IPv6 address given as text")
        .arg_rule(ArgRule::IpAddress).pure().lowered(Lowering::Pton, Value::AddressBytes).example(r#"@ = pton("127.0.0.1")"#),
    func("macaddr", &[ANY], 1, Ty::MacAddr, "a MAC address read from 6 bytes, printable with %s")
        .pure().lowered(Lowering::Macaddr, Value::MacAddr).example("@[macaddr(arg0)] = count()"),
    func("bswap", &[INT], 1, Ty::Int, "the integer with its bytes in reverse order")
        .pure().lowered(Lowering::Bswap, UNSIGNED).example("@ = bswap((uint32)arg0)"),
    // --- functions: kernel objects ------------------------------------------------------
    func("cgroupid", &[Literal], 1, Ty::Int, "cgroup v2 id of a cgroup path, resolved at compile time")
        .pure().refused("not supported yet: cgroup paths resolved when compiling").example(r#"@ = cgroupid("/sys/fs/cgroup/user.slice")"#),
    func("cgroup_path", &[INT, STR], 1, Ty::Str, "path of a cgroup id, resolved when printed, optionally in matching hierarchies")
        .arg_rule(ArgRule::NoSecondArgument("not supported yet: choosing cgroup hierarchies (leave it out to search them all)"))
        .pure().lowered(Lowering::Named, Value::Named(Names::CgroupPath)).example("@ = cgroup_path(cgroup)"),
    func("path", &[PTR, IntLiteral], 1, Ty::Str, "full path of a struct path, optionally limited to N bytes").only_in(ARGS)
        .pure().refused("not supported yet: bpf_d_path").example("@ = path(args.filename)"),
    func("skboutput", &[Literal, PTR, INT, INT], 4, Ty::Int, "append an sk_buff's data (length, offset) to a pcap file")
        .only_in(ARGS)
        .refused("not supported yet: pcap output").example(r#"@ = skboutput("x.pcap", args.filename, 64, 0)"#),
    func("socket_cookie", &[PTR], 1, Ty::Int, "the kernel's stable cookie for a struct sock").only_in(ARGS)
        .pure().refused("not supported yet: socket cookies").example("@ = socket_cookie(args.filename)"),
    func("unwatch", &[ANY], 1, Ty::Void, "remove the watchpoint on an address")
        .refused("not supported yet: watchpoints").example("unwatch(arg0)"),
    // --- functions: side effects on the traced system (unsafe) ---------------------------
    func("signal", &[ANY], 1, Ty::Void, "send a signal (name or number) to the current process")
        .only_in(REGS.union(ARGS))
        .needs_unsafe()
        .lowered(Lowering::Signal, NONE).example(r#"signal("SIGUSR1")"#),
    func("signal_thread", &[ANY], 1, Ty::Void, "send a signal (name or number) to the current thread")
        .only_in(REGS.union(ARGS))
        .needs_unsafe()
        .refused("not supported yet: signals to one thread").example(r#"signal_thread("SIGUSR1")"#),
    func("override", &[INT], 1, Ty::Void, "skip the probed kernel function and make it return this value")
        .only_in(REGS)
        .needs_unsafe()
        .refused("needs kprobes: bpf_override_return works only in a kprobe, and is not supported yet").example("override(1)"),
    func("write_user", &[PTR, ANY, INT], 3, Ty::Bool, "write N bytes into the current task's user memory")
        .needs_unsafe()
        .refused("not supported yet: writing user memory").example("@ = write_user(arg0, 1, 8)"),
    // --- functions: compile time and introspection ---------------------------------------
    func("getopt", &[Literal, ANY, Literal], 1, Ty::Any, "value of a named --option, typed like its default")
        .pure().lowered(Lowering::ProgramOption, NONE).example(r#"@ = getopt("verbose", 0)"#),
    func("assert", &[BOOL, STR], 2, Ty::Void, "print an error and exit with code 1 if the condition is false")
        .lowered(Lowering::Assert, NONE).example(r#"assert(pid > 0, "no pid")"#),
    func("static_assert", &[BOOL, Literal], 2, Ty::Void, "fail compilation if the condition is false")
        .pure().refused("not supported yet: assertions when compiling").example(r#"static_assert(1 == 1, "no")"#),
    func("assert_str", &[ANY], 1, Ty::Void, "fail compilation unless the value is string-like")
        .pure().refused("not supported yet: assertions when compiling").example("assert_str(comm)"),
    func("default_str_length", &[], 0, Ty::Int, "the default maximum string length")
        .pure().refused("not supported yet: the default string length as a value").example("@ = default_str_length()"),
    func("is_array", &[ANY], 1, Ty::Bool, "whether the expression is an array")
        .pure().refused("not supported yet: type introspection").example("@ = is_array(comm)"),
    func("is_integer", &[ANY], 1, Ty::Bool, "whether the expression is an integer")
        .pure().refused("not supported yet: type introspection").example("@ = is_integer(pid)"),
    func("is_unsigned_integer", &[ANY], 1, Ty::Bool, "whether the expression is an unsigned integer")
        .pure().refused("not supported yet: type introspection").example("@ = is_unsigned_integer(pid)"),
    func("is_ptr", &[ANY], 1, Ty::Bool, "whether the expression is a pointer")
        .pure().refused("not supported yet: type introspection").example("@ = is_ptr(curtask)"),
    func("is_str", &[ANY], 1, Ty::Bool, "whether the expression is a string")
        .pure().refused("not supported yet: type introspection").example("@ = is_str(comm)"),
    func("is_literal", &[ANY], 1, Ty::Bool, "whether the expression is a literal")
        .pure().refused("not supported yet: type introspection").example("@ = is_literal(1)"),
    func("is_err", &[ANY], 1, Ty::Bool, "whether a pointer encodes a kernel error (ERR_PTR)")
        .pure().refused("not supported yet: ERR_PTR tests").example("@ = is_err(arg0)"),
    func("kfunc_exist", &[Literal], 1, Ty::Bool, "whether the kernel's BTF has the named kfunc")
        .pure().refused("not supported yet: kfunc queries").example(r#"@ = kfunc_exist("bpf_rcu_read_lock")"#),
    func("kfunc_allowed", &[Literal], 1, Ty::Bool, "whether the named kfunc may be called from this probe type")
        .pure().refused("not supported yet: kfunc queries").example(r#"@ = kfunc_allowed("bpf_rcu_read_lock")"#),
    // --- aggregations --------------------------------------------------------------------
    agg("count", &[], 0, Ty::Int, "count how many times this runs")
        .aggregates(Aggregation::Count).example("@[pid] = count()"),
    agg("sum", &[INT], 1, Ty::Int, "sum of the values").aggregates(Aggregation::Sum).example("@ = sum(arg0)"),
    agg("avg", &[INT], 1, Ty::Int, "running average of the values").aggregates(Aggregation::Avg).example("@ = avg(arg0)"),
    agg("min", &[INT], 1, Ty::Int, "smallest value seen").aggregates(Aggregation::Min).example("@ = min(arg0)"),
    agg("max", &[INT], 1, Ty::Int, "largest value seen").aggregates(Aggregation::Max).example("@ = max(arg0)"),
    agg("stats", &[INT], 1, Ty::Void, "count, average and total of the values")
        .aggregates(Aggregation::Stats).example("@ = stats(arg0)"),
    agg("hist", &[INT, IntLiteral], 1, Ty::Void, "power-of-2 histogram, with 2^k buckets per power (k 0..5, default 0)")
        .arg_rule(ArgRule::HistBits).aggregates(Aggregation::Hist).example("@ = hist(arg0, 2)"),
    agg("lhist", &[INT, IntLiteral, IntLiteral, IntLiteral], 4, Ty::Void, "linear histogram over [min, max) in buckets of step")
        .non_negative(&[(1, "min"), (2, "max")]).arg_rule(ArgRule::LinearBuckets).aggregates(Aggregation::Lhist).example("@ = lhist(arg0, 0, 100, 10)"),
    agg("tseries", &[INT, IntLiteral, IntLiteral, Literal], 3, Ty::Void, "time series of N intervals, keeping the last (or avg/min/max/sum) value of each")
        .arg_rule(ArgRule::TimeSeries).aggregates(Aggregation::Tseries).example("@ = tseries(arg0, 1s, 10)"),
];

#[cfg(test)]
mod tests {
    use super::BUILTINS;
    use crate::{lookup, Kind, Lowering, Support, Ty, Value};
    use std::collections::HashSet;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = HashSet::new();
        for name in crate::all_names() {
            assert!(seen.insert(name), "duplicate builtin spelling `{name}`");
        }
    }

    #[test]
    fn signatures_are_consistent() {
        for b in BUILTINS {
            assert!(
                b.required <= b.params.len(),
                "`{}` requires {} of {} params",
                b.name,
                b.required,
                b.params.len()
            );
            assert!(!b.doc.is_empty(), "`{}` has no doc", b.name);
            if b.kind == Kind::Variable {
                assert!(
                    b.params.is_empty() && !b.variadic,
                    "variable `{}` takes arguments",
                    b.name
                );
            }
            if b.variadic {
                assert!(
                    b.required >= 1,
                    "variadic `{}` has no fixed first argument",
                    b.name
                );
            }
        }
    }

    #[test]
    fn every_entry_says_how_it_is_compiled_and_shows_a_use() {
        for b in BUILTINS {
            match b.support {
                Support::Written(text) => assert!(
                    b.kind != Kind::Aggregation && !text.is_empty(),
                    "`{}` is written as `{text}`",
                    b.name
                ),
                Support::Refused(reason) => {
                    assert!(
                        !reason.is_empty(),
                        "`{}` is refused without a reason",
                        b.name
                    )
                }
                Support::Lowered(Lowering::Aggregate(_), value) => assert!(
                    b.kind == Kind::Aggregation && value == Value::None,
                    "`{}` is lowered as an aggregation but is not one",
                    b.name
                ),
                Support::Lowered(_, value) => {
                    assert!(
                        b.kind != Kind::Aggregation,
                        "aggregation `{}` lowered as a call",
                        b.name
                    );
                    // The checker's type and the lowering's layout agree on strings (`func`
                    // is a symbol name, laid out as a string).
                    let text = matches!(value, Value::Str(_) | Value::Named(_));
                    assert!(
                        text == (b.returns == Ty::Str) || text && b.returns == Ty::Sym,
                        "`{}`: returns {:?}, laid out as {value:?}",
                        b.name,
                        b.returns
                    );
                }
            }
            assert!(
                b.kind == Kind::Variable || !b.example.is_empty(),
                "`{}` has no example",
                b.name
            );
        }
    }

    #[test]
    fn lookup_finds_names_and_aliases() {
        assert_eq!(lookup("stack").map(|b| b.name), Some("kstack"));
        assert_eq!(lookup("arg9").map(|b| b.kind), Some(Kind::Variable));
        assert_eq!(lookup("hist").map(|b| b.kind), Some(Kind::Aggregation));
        assert!(lookup("sizeof").is_none());
    }
}

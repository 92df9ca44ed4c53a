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

use crate::{Builtin, Contexts, Kind, Param, Ty};

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

/// A bare builtin such as `uid`.
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
    }
}

/// A called builtin; with `required == 0` it may also be used bare.
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
        ..var(name, returns, doc)
    }
}

/// A map value function, only valid as `@m = agg(...)` / `@m[k] = agg(...)`.
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

/// `argN`: a register argument of kprobes, uprobes and usdt probes.
const fn arg(name: &'static str) -> Builtin {
    var(
        name,
        Ty::Int,
        "the traced function's argument N, read from registers as a 64-bit integer",
    )
    .only_in(REGS)
}

/// `sargN`: deprecated in bpftrace 0.21, removed after 0.24; still in older scripts.
const fn sarg(name: &'static str) -> Builtin {
    var(
        name,
        Ty::Int,
        "deprecated: argument N passed on the stack (64-bit); use *(reg(\"sp\") + off)",
    )
    .only_in(REGS)
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
}

#[rustfmt::skip]
pub static BUILTINS: &[Builtin] = &[
    // --- variables -----------------------------------------------------------------------
    var("uid", Ty::Int, "user id of the current thread, as seen from the initial user namespace"),
    var("gid", Ty::Int, "group id of the current thread, as seen from the initial user namespace"),
    var("username", Ty::Str, "name of the user running the current thread"),
    var("cpu", Ty::Int, "id of the CPU the probe is running on"),
    var("ncpus", Ty::Int, "number of CPUs on the machine"),
    var("numaid", Ty::Int, "id of the NUMA node the probe is running on"),
    var("elapsed", Ty::Int, "nanoseconds since the tracer started"),
    var("jiffies", Ty::Int, "the kernel's jiffies counter (64-bit)"),
    var("rand", Ty::Int, "a pseudo-random 32-bit number"),
    var("cgroup", Ty::Int, "cgroup v2 id of the current task"),
    var("curtask", Ty::Pointer, "pointer to the current task's struct task_struct"),
    var("cpid", Ty::Int, "pid of the child started with -c (0, with a warning, if there is none)"),
    var("has_cpid", Ty::Bool, "true when a child process was started with -c"),
    var("usermode", Ty::Int, "1 if the probe interrupted user-mode code, else 0 (x86_64 only)")
        .only_in(REGS),
    var("probe", Ty::Str, "full name of the probe that fired, e.g. kprobe:do_nanosleep"),
    var("probetype", Ty::Str, "type of the probe that fired, e.g. kprobe or tracepoint"),
    var("func", Ty::Sym, "name of the traced function").only_in(REGS.union(ARGS)),
    var("retval", Ty::Any, "value returned by the traced function").only_in(RETURN),
    var("args", Ty::Record, "record of the traced function's or tracepoint's typed arguments")
        .only_in(ARGS),
    var("ctx", Ty::Pointer, "pointer to the iterator's context structure (iter probes)"),
    var("config", Ty::Record, "record of the current configuration settings"),
    arg("arg0"),
    arg("arg1"),
    arg("arg2"),
    arg("arg3"),
    arg("arg4"),
    arg("arg5"),
    arg("arg6"),
    arg("arg7"),
    arg("arg8"),
    arg("arg9"),
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
    func("pid", &[PID_NS], 0, Ty::Int, "process id (tgid) of the current task; pid(init) for the initial namespace"),
    func("tid", &[PID_NS], 0, Ty::Int, "thread id of the current task; tid(init) for the initial namespace"),
    func("nsecs", &[CLOCK], 0, Ty::Int, "nanosecond timestamp from a kernel clock (default: boot)"),
    func("comm", &[INT], 0, Ty::Str, "name of the current thread, or of the process with the given pid"),
    func("pcomm", &[PTR], 0, Ty::Str, "name of the parent process of the current (or given) task"),
    func("ppid", &[PTR], 0, Ty::Int, "pid of the parent process of the current (or given) task"),
    func("leader_comm", &[PTR], 0, Ty::Str, "name of the thread-group leader of the current (or given) task"),
    func("leader_tid", &[PTR], 0, Ty::Int, "thread id of the thread-group leader of the current (or given) task"),
    func("kstack", &[StackMode, IntLiteral], 0, Ty::Stack, "kernel stack trace, optionally in a given mode and limited to N frames")
        .aka(&["stack"]),
    func("ustack", &[StackMode, IntLiteral], 0, Ty::Stack, "user stack trace, optionally in a given mode and limited to N frames"),
    func("dw_ustack", &[StackMode, IntLiteral], 0, Ty::Stack, "unstable: user stack unwound with DWARF .eh_frame instead of frame pointers"),
    // --- functions: output and control ---------------------------------------------------
    func("printf", &[Literal], 1, Ty::Void, "print the arguments formatted by a constant format string").varargs(),
    func("print", &[ANY, IntLiteral, IntLiteral], 1, Ty::Void, "print a value, or a map (optionally only its top N entries, divided by D)"),
    func("errorf", &[Literal], 1, Ty::Void, "print a formatted error message tagged with its source location").varargs(),
    func("warnf", &[Literal], 1, Ty::Void, "print a formatted warning tagged with its source location").varargs(),
    func("fail", &[Literal], 1, Ty::Void, "stop compilation with a formatted error if this call is reached").varargs(),
    func("time", &[Literal], 0, Ty::Void, "print the current wall-clock time with a strftime format"),
    func("strftime", &[Literal, INT], 2, Ty::Timestamp, "a boot-relative nanosecond timestamp formatted with a strftime format when printed"),
    func("join", &[ANY, Literal], 1, Ty::Void, "print the strings of an array of char pointers, separated by a space or the given delimiter"),
    func("cat", &[Literal], 1, Ty::Void, "print the contents of the file whose name is formatted like printf").varargs(),
    func("exit", &[INT], 0, Ty::Void, "stop tracing (END still runs), optionally with an exit code"),
    func("system", &[Literal], 1, Ty::Void, "run a shell command formatted like printf and print its output")
        .varargs()
        .needs_unsafe(),
    // --- functions: maps -----------------------------------------------------------------
    func("clear", &[Map], 1, Ty::Void, "remove every key from a map"),
    func("zero", &[Map], 1, Ty::Void, "set every value in a map to zero"),
    func("delete", &[MapElement, ANY], 1, Ty::Bool, "remove one key from a map: delete(@m, k), or the older delete(@m[k])"),
    func("has_key", &[MapElement, ANY], 2, Ty::Bool, "whether a keyed map holds the given key"),
    func("find", &[MapElement, ANY, ANY], 3, Ty::Bool, "look a key up in a map, storing its value in a scratch variable if found"),
    func("len", &[ANY], 1, Ty::Int, "number of elements in a keyed map, or number of frames in a stack"),
    // --- functions: strings and buffers --------------------------------------------------
    func("str", &[ANY, INT], 1, Ty::Str, "read a NUL-terminated string from an address, optionally at most N bytes"),
    func("buf", &[ANY, INT], 1, Ty::Buf, "read N bytes from an address into a buffer printable with %r"),
    func("strncmp", &[STR, STR, IntLiteral], 3, Ty::Int, "compare at most N characters of two strings; 0 when equal"),
    func("strcontains", &[STR, STR], 2, Ty::Bool, "whether the first string contains the second"),
    func("strstr", &[STR, STR], 2, Ty::Int, "index of the first occurrence of the second string in the first, or -1"),
    func("strlen", &[ANY], 1, Ty::Int, "length of a string-like value"),
    func("strcap", &[ANY], 1, Ty::Int, "capacity in bytes of a string-like value"),
    func("str_concat", &[STR, STR], 2, Ty::Str, "a new string made of the first followed by the second"),
    func("memcmp", &[ANY, ANY, INT], 3, Ty::Int, "compare the first N bytes of two values; 0 when equal"),
    func("strerror", &[INT], 1, Ty::Str, "description of an errno value"),
    func("signal_name", &[INT], 1, Ty::Str, "name of a signal number, e.g. SIGINT"),
    func("syscall_name", &[INT], 1, Ty::Str, "name of a system call number, e.g. read"),
    // --- functions: addresses, symbols and network data ----------------------------------
    func("ksym", &[ANY], 1, Ty::Sym, "name of the kernel function containing an address")
        .aka(&["sym"]),
    func("usym", &[ANY], 1, Ty::Sym, "name of the user-space function containing an address"),
    func("kaddr", &[Literal], 1, Ty::Pointer, "address of a kernel symbol, resolved at compile time"),
    func("uaddr", &[Literal], 1, Ty::Pointer, "address of a symbol in the traced binary, resolved at compile time")
        .only_in(REGS),
    func("percpu_kaddr", &[Literal, INT], 1, Ty::Pointer, "address of a per-CPU kernel variable on this (or the given) CPU"),
    func("kptr", &[ANY], 1, Ty::Any, "mark a pointer as pointing into kernel memory"),
    func("uptr", &[ANY], 1, Ty::Any, "mark a pointer as pointing into user memory"),
    func("reg", &[Literal], 1, Ty::Int, "value of the named CPU register when the probe fired").only_in(REGS),
    func("ntop", &[INT, ANY], 1, Ty::Inet, "text form of an IPv4 or IPv6 address, with an optional address family first"),
    func("pton", &[Literal], 1, Ty::Any, "byte array of an IPv4 or IPv6 address given as text"),
    func("macaddr", &[ANY], 1, Ty::MacAddr, "a MAC address read from 6 bytes, printable with %s"),
    func("bswap", &[INT], 1, Ty::Int, "the integer with its bytes in reverse order"),
    // --- functions: kernel objects ------------------------------------------------------
    func("cgroupid", &[Literal], 1, Ty::Int, "cgroup v2 id of a cgroup path, resolved at compile time"),
    func("cgroup_path", &[INT, STR], 1, Ty::Str, "path of a cgroup id, resolved when printed, optionally in matching hierarchies"),
    func("path", &[PTR, IntLiteral], 1, Ty::Str, "full path of a struct path, optionally limited to N bytes").only_in(ARGS),
    func("skboutput", &[Literal, PTR, INT, INT], 4, Ty::Int, "append an sk_buff's data (length, offset) to a pcap file")
        .only_in(ARGS),
    func("socket_cookie", &[PTR], 1, Ty::Int, "the kernel's stable cookie for a struct sock").only_in(ARGS),
    func("unwatch", &[ANY], 1, Ty::Void, "remove the watchpoint on an address"),
    // --- functions: side effects on the traced system (unsafe) ---------------------------
    func("signal", &[ANY], 1, Ty::Void, "send a signal (name or number) to the current process")
        .only_in(REGS.union(ARGS))
        .needs_unsafe(),
    func("signal_thread", &[ANY], 1, Ty::Void, "send a signal (name or number) to the current thread")
        .only_in(REGS.union(ARGS))
        .needs_unsafe(),
    func("override", &[INT], 1, Ty::Void, "skip the probed kernel function and make it return this value")
        .only_in(REGS)
        .needs_unsafe(),
    func("write_user", &[PTR, ANY, INT], 3, Ty::Bool, "write N bytes into the current task's user memory")
        .needs_unsafe(),
    // --- functions: compile time and introspection ---------------------------------------
    func("getopt", &[Literal, ANY, Literal], 1, Ty::Any, "value of a named --option, typed like its default"),
    func("assert", &[BOOL, STR], 2, Ty::Void, "print an error and exit with code 1 if the condition is false"),
    func("static_assert", &[BOOL, Literal], 2, Ty::Void, "fail compilation if the condition is false"),
    func("assert_str", &[ANY], 1, Ty::Void, "fail compilation unless the value is string-like"),
    func("default_str_length", &[], 0, Ty::Int, "the default maximum string length"),
    func("is_array", &[ANY], 1, Ty::Bool, "whether the expression is an array"),
    func("is_integer", &[ANY], 1, Ty::Bool, "whether the expression is an integer"),
    func("is_unsigned_integer", &[ANY], 1, Ty::Bool, "whether the expression is an unsigned integer"),
    func("is_ptr", &[ANY], 1, Ty::Bool, "whether the expression is a pointer"),
    func("is_str", &[ANY], 1, Ty::Bool, "whether the expression is a string"),
    func("is_literal", &[ANY], 1, Ty::Bool, "whether the expression is a literal"),
    func("is_err", &[ANY], 1, Ty::Bool, "whether a pointer encodes a kernel error (ERR_PTR)"),
    func("kfunc_exist", &[Literal], 1, Ty::Bool, "whether the kernel's BTF has the named kfunc"),
    func("kfunc_allowed", &[Literal], 1, Ty::Bool, "whether the named kfunc may be called from this probe type"),
    // --- aggregations --------------------------------------------------------------------
    agg("count", &[], 0, Ty::Int, "count how many times this runs"),
    agg("sum", &[INT], 1, Ty::Int, "sum of the values"),
    agg("avg", &[INT], 1, Ty::Int, "running average of the values"),
    agg("min", &[INT], 1, Ty::Int, "smallest value seen"),
    agg("max", &[INT], 1, Ty::Int, "largest value seen"),
    agg("stats", &[INT], 1, Ty::Void, "count, average and total of the values"),
    agg("hist", &[INT, IntLiteral], 1, Ty::Void, "power-of-2 histogram, with 2^k buckets per power (k 0..5, default 0)"),
    agg("lhist", &[INT, IntLiteral, IntLiteral, IntLiteral], 4, Ty::Void, "linear histogram over [min, max) in buckets of step"),
    agg("tseries", &[INT, IntLiteral, IntLiteral, Literal], 3, Ty::Void, "time series of N intervals, keeping the last (or avg/min/max/sum) value of each"),
];

#[cfg(test)]
mod tests {
    use super::BUILTINS;
    use crate::{lookup, Kind};
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
    fn lookup_finds_names_and_aliases() {
        assert_eq!(lookup("stack").map(|b| b.name), Some("kstack"));
        assert_eq!(lookup("arg9").map(|b| b.kind), Some(Kind::Variable));
        assert_eq!(lookup("hist").map(|b| b.kind), Some(Kind::Aggregation));
        assert!(lookup("sizeof").is_none());
    }
}

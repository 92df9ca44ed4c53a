//! tracebound's standard library: one table entry per builtin variable, function and map
//! aggregation. An entry is everything the compiler knows about its builtin: the signature,
//! the probe contexts, `--unsafe`, whether it is pure, the layout of its value, and whether
//! tracebound compiles it — naming the [`Lowering`] that does, or saying why not. The checker
//! reads the signature and refuses what is not compiled, with the reason; the lowering reads
//! the value's layout and dispatches on the `Lowering` in one place
//! (`compiler/src/lower/builtins/`). No other code tells builtins apart by name, so adding a
//! builtin is its entry here, its lowering there, and their tests.

mod builtins;

pub use builtins::{Lowering, BUILTINS};

/// What sort of name a builtin is, which decides where it may appear in a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Used bare, as in `pid` or `comm`.
    Variable,
    /// Called, as in `printf(...)` or `str(p)`.
    Function,
    /// Only on the right of a map assignment: `@m = count()`.
    Aggregation,
}

/// The type of a value as far as it is known without a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Any integer (the exact width is decided later, by the resolver).
    Int,
    /// A NUL-terminated string.
    Str,
    /// A boolean (`true`/`false`, comparisons).
    Bool,
    /// A byte buffer as made by `buf()`.
    Buf,
    /// A kernel or user stack.
    Stack,
    /// A symbolised address (`ksym`, `usym`).
    Sym,
    /// An IP address made by `ntop`.
    Inet,
    /// A MAC address made by `macaddr`.
    MacAddr,
    /// A timestamp made by `strftime`.
    Timestamp,
    /// A pointer to a kernel or user structure (`curtask`, `args`).
    Pointer,
    /// A tuple or a record such as `args`.
    Record,
    /// The function returns nothing usable as a value.
    Void,
    /// Whatever the argument was (for functions like `print`) or decided by the machine.
    Any,
}

/// What a parameter accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// An expression of this type.
    Value(Ty),
    /// A string literal known at compile time (format strings, `system` commands, stack modes).
    Literal,
    /// An integer literal known at compile time (hist bounds, `kstack(N)` limits).
    IntLiteral,
    /// A whole map, as in `clear(@m)` or `print(@m)`.
    Map,
    /// A map element, as in `delete(@m[k])` or `has_key(@m, k)` (map then key).
    MapElement,
    /// A type name, as in `sizeof(struct task_struct)`.
    Type,
    /// A stack mode identifier: `perf`, `bpftrace`, `raw`.
    StackMode,
    /// A bare identifier from a fixed set, as in `nsecs(boot)` or `pid(init)`.
    Mode(&'static [&'static str]),
}

/// Where a builtin may be used: a bitmask of probe families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contexts(pub u32);

impl Contexts {
    pub const ANY: Contexts = Contexts(u32::MAX);
    /// Probes that run on a function's return: uretprobe, kretprobe, fexit.
    pub const RETURN: Contexts = Contexts(1 << 0);
    /// Probes with typed arguments: tracepoint, rawtracepoint (BTF), fentry/fexit, uprobe with DWARF, usdt.
    pub const ARGS: Contexts = Contexts(1 << 1);
    /// Probes with a register context: kprobe, uprobe, usdt and their return forms.
    pub const REGS: Contexts = Contexts(1 << 2);
    /// BEGIN/END only (run once, in user space's thread).
    pub const SPECIAL: Contexts = Contexts(1 << 3);

    pub const fn union(self, other: Contexts) -> Contexts {
        Contexts(self.0 | other.0)
    }

    pub const fn allows(self, other: Contexts) -> bool {
        self.0 & other.0 != 0
    }
}

/// What a builtin does with a whole map given as its first argument (`print(@m)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapArg {
    /// It takes no whole map there (a map element, if anything, is a `Param::MapElement`).
    None,
    /// The probe reads the map (`len(@m)` counts its keys).
    Read,
    /// User space acts on it (`print`, `clear`, `zero`): the probe reads none of its values.
    UserSpace,
}

/// A check of a builtin's arguments beyond what its parameters say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgRule {
    None,
    /// Every argument may instead be a map element of its own, each deleted: bpftrace before
    /// 0.22 wrote `delete(@a[1], @a[2])`.
    ManyElements,
    /// The second argument counts sub-bucket bits, within what a histogram's layout holds.
    HistBits,
    /// `(value, min, max, step)`: whole steps from min up to max, not too many of them.
    LinearBuckets,
    /// `(value, interval, intervals [, agg])`: a positive interval and count, and an
    /// aggregation function by name.
    TimeSeries,
    /// The literal first argument is an IPv4 address (when it has a `.`) or an IPv6 one
    /// (when it has a `:`), as inet_pton(3) reads them.
    IpAddress,
    /// A second argument (a filter of hierarchies) is not compiled: refused at it.
    NoSecondArgument(&'static str),
    /// A bpf_trace_printk format: at most three conversions, each `d u x p s` (after an
    /// optional `l` or `ll`), since the kernel formats it.
    TracePrintk,
}

/// The length of a string or buffer value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Len {
    /// A fixed number of bytes, the NUL included (`comm`: 16).
    Bytes(u32),
    /// What `str(p, n)` reads, `n` the argument at this index: `n` bytes, the NUL included,
    /// when `n` is a literal of at most `max_strlen`; otherwise `max_strlen` characters, the
    /// cut marked (the current release's rule).
    Read(usize),
    /// The integer literal argument at this index, at most `max_strlen` (`buf(p, n)`).
    Arg(usize),
    /// The longest of the probe's attach points (`probe`).
    AttachPoint,
    /// The longest function name among the probe's attach points (`func`).
    Function,
}

/// How a compiled builtin's value is laid out, which decides how it is stored in variables
/// and maps and how user space prints it (`compiler::program::ValueType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// No value: an action (`printf`) or an aggregation (its map holds the value).
    None,
    /// A 64-bit integer.
    Int { signed: bool },
    /// A truth value: stored in one byte, printed `true`/`false` (`strcontains`).
    Bool,
    /// An argument past the six register ones: signed in a usdt probe (every usdt argument
    /// is a signed 64-bit value, as in bpftrace), unsigned elsewhere (a raw tracepoint's u64).
    LateArg,
    /// A NUL-terminated string of this length.
    Str(Len),
    /// Bytes printed with `%r`.
    Buf(Len),
    /// A stack id, in the stack mode and frame limit its arguments give.
    Stack { user: bool },
    /// An address user space names as a symbol.
    Sym { user: bool },
    /// A boot-relative timestamp printed with the literal format of the first argument.
    Timestamp,
    /// An IPv4 or IPv6 address with its family.
    Inet,
    /// 6 bytes printed as a MAC address.
    MacAddr,
    /// The bytes of an IP address written as text in the literal first argument, in network
    /// order: `uint8[4]` for IPv4, `uint8[16]` for IPv6.
    AddressBytes,
    /// A number user space prints as the name it stands for (`strerror`, `username`).
    Named(Names),
}

/// What a number names, looked up by user space when the value is printed: the kernel side
/// only records the number, so such a value prints (`%s`, `print`, a map key or value) but
/// is not a string the probe can compare or search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Names {
    /// An errno value's description (`strerror`), as the kernel's headers word it.
    Errno,
    /// A system call number's name (`syscall_name`), as this machine numbers them.
    Syscall,
    /// A signal number's description (`signal_name`), as strsignal(3) words it.
    Signal,
    /// A user id's login name (`username`), from the user database.
    User,
    /// A cgroup id's paths (`cgroup_path`): `hierarchy:/path` in each mounted cgroup
    /// hierarchy that has it, cgroup v2 first (named `unified`), joined by `,`.
    CgroupPath,
}

/// The aggregations a map assignment lowers (`@m = hist(x)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist,
    /// `tseries(x, interval, n [, agg])`: a value per interval, the last `n` kept.
    Tseries,
}

/// Whether tracebound compiles a builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// This lowering compiles it to a value laid out as `Value` says.
    Lowered(Lowering, Value),
    /// Written in the language: each use is replaced by this expression before the kernel
    /// types are resolved (`$task` stands for the argument, or `curtask` when there is none).
    Written(&'static str),
    /// It is refused, by `--check` too, at the use, with this reason.
    Refused(&'static str),
}

/// One builtin: its signature, what it is, and how it is compiled.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    pub name: &'static str,
    /// Older or newer spellings bpftrace also accepts (`kfunc` style renames, `nsecs` variants).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// Parameters in order; the first `required` of them must be given.
    pub params: &'static [Param],
    pub required: usize,
    /// Accepts any number of further arguments of any value type (printf, join's args, ...).
    pub variadic: bool,
    pub returns: Ty,
    /// Only allowed with `--unsafe` (system, signal, override).
    pub unsafe_only: bool,
    /// Probe families where this builtin makes sense.
    pub contexts: Contexts,
    /// One line for diagnostics and listings.
    pub doc: &'static str,
    /// Whether it has no effect beyond its value, so that a probe computing it may still be
    /// sampled 1 in N (`--auto-filter`). Reading a variable is always pure.
    pub pure: bool,
    /// What it does with a whole map given first.
    pub map_arg: MapArg,
    /// A check of its arguments beyond their parameters.
    pub arg_rule: ArgRule,
    /// Literal arguments bpftrace refuses when negative: (argument index, what it is).
    pub non_negative: &'static [(usize, &'static str)],
    /// How tracebound compiles it, or why it does not.
    pub support: Support,
    /// A statement using it, for listings and for the test that compiles every entry; `""`
    /// for a variable means `@v = NAME`.
    pub example: &'static str,
}

impl Builtin {
    /// The largest number of arguments accepted, or `None` when variadic.
    pub fn max_args(&self) -> Option<usize> {
        (!self.variadic).then_some(self.params.len())
    }

    /// Why tracebound does not compile it, when it does not.
    pub fn refusal(&self) -> Option<&'static str> {
        match self.support {
            Support::Refused(reason) => Some(reason),
            Support::Lowered(..) | Support::Written(_) => None,
        }
    }
}

/// Looks a builtin up by name or alias.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|b| b.name == name || b.aliases.contains(&name))
}

/// Every spelling a user may type, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .flat_map(|b| std::iter::once(b.name).chain(b.aliases.iter().copied()))
}

//! tracebound's standard library: one table entry per builtin variable, function and map
//! aggregation, with its signature and documentation. Every compiler phase that needs to know
//! about a builtin (name lookup, arity, types, probe-context rules, `--help`-style docs) reads
//! it from here, so adding a builtin touches this crate only.

mod builtins;

pub use builtins::BUILTINS;

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

/// One builtin: its signature and its documentation.
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
}

impl Builtin {
    /// The largest number of arguments accepted, or `None` when variadic.
    pub fn max_args(&self) -> Option<usize> {
        (!self.variadic).then_some(self.params.len())
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

//! The contract between the compiler and the runtime: everything the runtime needs to know
//! about a compiled script besides its BPF object. How maps are keyed and what their values
//! hold (to read and print them as bpftrace does), and what each ring-buffer record means
//! (printf, print, exit, ...). Byte layouts are fixed here; the code generator writes them and
//! the runtime reads them.
//!
//! Layouts are little-endian, without padding unless stated: each field is aligned to
//! `min(size, 8)` bytes, as a C struct of the same fields would be.

pub use tracebound_stdlib::Names;

/// A value as stored in a map key, a map value or a ring-buffer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// An integer of 1, 2, 4 or 8 bytes.
    Int { size: u32, signed: bool },
    /// A NUL-padded string buffer of `len` bytes (the text ends at the first NUL).
    /// `cut_trailer` is set on strings `str()` reads at `max_strlen`: one more byte after
    /// the `len` says whether the read cut the string (1) or had all of it (0), as the
    /// read's return value told, and a cut one prints with this text after it (the
    /// current release's `str_trunc_trailer`). Only the kernel side knows a string was cut.
    Str {
        len: u32,
        cut_trailer: Option<String>,
    },
    /// A tuple: fields laid out like a C struct (each aligned to min(size, 8)).
    Tuple(Vec<ValueType>),
    /// A stack: a u64 holding the id `bpf_get_stackid` returned into the stack map
    /// `stack_map_name(user, limit)` (negative when the kernel could not record the stack);
    /// for a user stack the id is the low 32 bits and the process id the high 32, so that its
    /// frames are symbolized against that process. Printed in `mode`.
    Stack {
        user: bool,
        mode: StackMode,
        limit: u32,
    },
    /// An address printed as a symbol: a kernel one (`ksym`: the u64 address) or a user one
    /// (`usym`: the u64 address, then the u64 process id it belongs to).
    Sym { user: bool },
    /// A boolean stored as one byte.
    Bool,
    /// `strftime(format, nsecs)`: the u64 `nsecs` (CLOCK_MONOTONIC, as `nsecs` gives it). User
    /// space adds the wall clock's offset from the monotonic clock and formats the result with
    /// strftime(3) and `format` (plus bpftrace's `%f`, microseconds), as bpftrace 0.17 does.
    /// The format rides in the type because it never enters the kernel.
    Timestamp { format: String },
    /// `ntop([af,] addr)`: a u64 address family (2 = AF_INET, 10 = AF_INET6) then 16 address
    /// bytes in network order (an IPv4 address uses the first 4). Printed as inet_ntop(3) does.
    Inet,
    /// `macaddr(addr)`: 6 bytes, printed `AA:BB:CC:DD:EE:FF` (upper case, as bpftrace 0.17).
    MacAddr,
    /// `buf(p, n)`: exactly `len` bytes (the length is a literal, so it is fixed here);
    /// printed with `%r` (non-printable bytes as `\xNN`), `%rx` or `%rh`.
    Buf { len: u32 },
    /// A number user space prints as what it names (`strerror`, `syscall_name`,
    /// `signal_name`, `username`): an i64, printed as text wherever it appears.
    Named(Names),
    /// A fixed array of `len` elements laid out one after another, as C lays out `T x[len]`
    /// (a tracepoint's `__u8 daddr[4]`). Printed `[1,2,3,4]`, as the current release does.
    Array { elem: Box<ValueType>, len: u32 },
    /// A C enum's value: an integer printed as the name of its enumerator (`ONE`), or as
    /// the number when none has it, as the current release prints enums.
    Enum(EnumNames),
    /// A C struct or union copied whole, padding included: printed `{ .m = 2, .n = 3 }`.
    Struct(StructLayout),
    /// A pointer member of such a struct: 8 bytes, printed `0x7ffc...` as the current
    /// release prints pointers.
    Pointer,
    /// A floating-point member of such a struct (`float`, `double`: 4, 8 or 16 bytes): the
    /// bytes hold the struct's layout, but BPF has no floating point and the current release
    /// no value of it, so it prints as `null` (its `none` type), in text and JSON alike.
    Float { size: u32 },
}

/// An enum's integer and its enumerators' names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumNames {
    /// `enum Foo`'s `Foo`; empty for an anonymous enum.
    pub name: String,
    /// 4 in a struct field as C lays it out; 8 for a value the script holds.
    pub size: u32,
    pub signed: bool,
    pub values: Vec<(String, i64)>,
}

impl EnumNames {
    /// The same names for a value the script holds: 8 bytes, as every integer it holds.
    pub fn held(&self) -> EnumNames {
        EnumNames {
            size: 8,
            ..self.clone()
        }
    }

    /// The enumerator named by `bits` (read as `size` bytes), if there is one.
    pub fn name_of(&self, bits: u64) -> Option<&str> {
        let n = if self.signed {
            let shift = 64 - 8 * self.size.min(8);
            ((bits << shift) as i64) >> shift
        } else {
            (bits & (u64::MAX >> (64 - 8 * self.size.min(8)))) as i64
        };
        self.values
            .iter()
            .find(|(_, v)| *v == n)
            .map(|(name, _)| name.as_str())
    }
}

/// Where a struct's fields lie in its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructLayout {
    pub size: u32,
    pub align: u32,
    pub fields: Vec<StructField>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructField {
    pub name: String,
    /// Bytes from the struct's start.
    pub offset: u32,
    /// `(bit shift from offset, width)` of a bitfield, whose `ty` (an integer or an enum)
    /// is what the bits are read as.
    pub bitfield: Option<(u32, u32)>,
    pub ty: ValueType,
}

/// How a stack prints (`kstack(perf)`, `config = { stack_mode = perf }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StackMode {
    /// One frame a line, `function+offset`, indented.
    #[default]
    Bpftrace,
    /// As `perf script` prints: a tab, the address in hex, `function+offset`, and for user
    /// frames the module in parentheses.
    Perf,
    /// Addresses only, in hex.
    Raw,
    /// User stacks only: each frame's file as its build id and the offset into it, as the
    /// kernel records them (`BPF_F_STACK_BUILD_ID`), for symbolizing on another machine.
    BuildId,
}

/// Frames a stack keeps when the script does not say (`kstack` = `kstack(127)`), the
/// kernel's default `perf_event_max_stack`, as in bpftrace.
pub const DEFAULT_STACK_FRAMES: u32 = 127;
/// The most frames `kstack(N)` may ask for.
pub const MAX_STACK_FRAMES: u32 = 1024;

/// The BPF stack-trace map holding kernel (or user) stacks of at most `limit` frames: one
/// per distinct kind and limit, since the kernel truncates a stack to the map's value size.
pub fn stack_map_name(user: bool, mode: StackMode, limit: u32) -> String {
    let kind = match (user, mode) {
        (true, StackMode::BuildId) => "bstack",
        (true, _) => "ustack",
        (false, _) => "kstack",
    };
    format!("tb_{kind}_{limit}")
}

/// The bytes of one frame in a stack-trace map: an address, or with build ids the kernel's
/// `struct bpf_stack_build_id` (status, 20-byte build id, offset or address).
pub fn stack_frame_size(mode: StackMode) -> u32 {
    match mode {
        StackMode::BuildId => 32,
        _ => 8,
    }
}

impl ValueType {
    /// A plain string buffer of `len` bytes, its NUL included.
    pub const fn str(len: u32) -> ValueType {
        ValueType::Str {
            len,
            cut_trailer: None,
        }
    }

    pub fn size(&self) -> u32 {
        match self {
            ValueType::Int { size, .. } => *size,
            ValueType::Str { len, cut_trailer } => *len + u32::from(cut_trailer.is_some()),
            ValueType::Tuple(fields) => {
                let mut offset = 0u32;
                let mut align = 1u32;
                for f in fields {
                    let a = f.align();
                    align = align.max(a);
                    offset = offset.next_multiple_of(a) + f.size();
                }
                offset.next_multiple_of(align)
            }
            ValueType::Stack { .. }
            | ValueType::Sym { user: false }
            | ValueType::Timestamp { .. }
            | ValueType::Named(_)
            | ValueType::Pointer => 8,
            ValueType::Sym { user: true } => 16,
            ValueType::Bool => 1,
            ValueType::Inet => 24,
            ValueType::MacAddr => 6,
            ValueType::Buf { len } => *len,
            ValueType::Array { elem, len } => elem.size() * len,
            ValueType::Enum(e) => e.size,
            ValueType::Struct(s) => s.size,
            ValueType::Float { size } => *size,
        }
    }

    pub fn align(&self) -> u32 {
        match self {
            ValueType::Int { size, .. } => (*size).min(8),
            ValueType::Str { .. }
            | ValueType::Bool
            | ValueType::MacAddr
            | ValueType::Buf { .. } => 1,
            ValueType::Tuple(fields) => fields.iter().map(ValueType::align).max().unwrap_or(1),
            ValueType::Array { elem, .. } => elem.align(),
            ValueType::Enum(e) => e.size.min(8),
            ValueType::Struct(s) => s.align,
            // As x86-64 aligns them: `long double` too is aligned to its 16 bytes.
            ValueType::Float { size } => *size,
            ValueType::Stack { .. }
            | ValueType::Sym { .. }
            | ValueType::Timestamp { .. }
            | ValueType::Named(_)
            | ValueType::Pointer
            | ValueType::Inet => 8,
        }
    }

    /// Byte offsets of a tuple's fields.
    pub fn field_offsets(fields: &[ValueType]) -> Vec<u32> {
        let mut offset = 0u32;
        fields
            .iter()
            .map(|f| {
                offset = offset.next_multiple_of(f.align());
                let at = offset;
                offset += f.size();
                at
            })
            .collect()
    }
}

/// What a map's value holds. Aggregations live in per-CPU maps; the runtime merges the
/// per-CPU slots as stated for each kind before printing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    /// A plain value (`@x = 5`, `@s[k] = comm`): a hash map, one slot.
    Plain(ValueType),
    /// `count()`: u64 per CPU; merged by summing.
    Count,
    /// `sum(x)`: a u64 per CPU; merged by summing. `signed` is the argument's signedness
    /// (the current release's `sum_t`/`usum_t`), which decides how the total prints.
    Sum { signed: bool },
    /// `min(x)`: { value, u64 set } per CPU; merged as the least value among set slots,
    /// compared signed or unsigned as `signed` says (in the probe and when merging).
    Min { signed: bool },
    /// `max(x)`: as `Min`, the greatest.
    Max { signed: bool },
    /// `avg(x)`: { sum, u64 count } per CPU; merged by summing both; printed as
    /// sum / count (integer division, truncating toward zero, as bpftrace does), signed or
    /// unsigned as `signed` says.
    Avg { signed: bool },
    /// `stats(x)`: { sum, u64 count, min, max, u64 set } per CPU; merged field-wise,
    /// signed or unsigned as `signed` says. Printed as bpftrace prints stats.
    Stats { signed: bool },
    /// `hist(x, k)`: the map key has one more trailing u64 field, the bucket index (see
    /// `log2_bucket`, which splits each power of two into 2^k buckets); the value is
    /// { u64 count, i64 sum of the values } per CPU, merged by summing both (the sum is what
    /// a Prometheus histogram's `_sum` exports).
    Hist { k: u32 },
    /// `lhist(x, min, max, step)`: as `Hist`, with the bucket index from `linear_bucket`.
    Lhist { min: i64, max: i64, step: i64 },
    /// `tseries(x, interval_ns, intervals, agg)`: the map key has one more trailing u64
    /// field, the slot (epoch % intervals, the epoch being the software TAI clock over
    /// `interval_ns`); the value is { value, meta, u64 epoch } per CPU, `meta` as `agg`
    /// says. User space combines a slot's CPUs of its latest epoch (`TseriesAgg::combine`)
    /// and prints the last `intervals` epochs.
    Tseries {
        interval_ns: u64,
        intervals: u64,
        agg: TseriesAgg,
        signed: bool,
    },
}

/// How `tseries` combines the values of one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TseriesAgg {
    /// The last value written; `meta` is the clock when it was (the latest CPU's wins).
    Last,
    /// Sum and count (`meta`), printed as sum / count.
    Avg,
    /// The greatest; `meta` is 1 once set.
    Max,
    /// The least; `meta` is 1 once set.
    Min,
    /// The sum.
    Sum,
}

impl TseriesAgg {
    /// The function by the name `tseries` takes (none: the last value).
    pub fn from_name(name: Option<&str>) -> Option<TseriesAgg> {
        Some(match name {
            None => TseriesAgg::Last,
            Some("avg") => TseriesAgg::Avg,
            Some("max") => TseriesAgg::Max,
            Some("min") => TseriesAgg::Min,
            Some("sum") => TseriesAgg::Sum,
            Some(_) => return None,
        })
    }

    /// One interval's value from its CPUs' `(value, meta)` slots of that epoch, compared
    /// signed or not; `None` when there are none.
    pub fn combine(self, slots: &[(u64, u64)], signed: bool) -> Option<u64> {
        let (&first, rest) = slots.split_first()?;
        let less = |a: u64, b: u64| {
            if signed {
                (a as i64) < (b as i64)
            } else {
                a < b
            }
        };
        let (value, meta) = rest
            .iter()
            .fold(first, |(v, m), &(value, meta)| match self {
                TseriesAgg::Last if meta > m => (value, meta),
                TseriesAgg::Last => (v, m),
                TseriesAgg::Avg => (v.wrapping_add(value), m.wrapping_add(meta)),
                TseriesAgg::Sum => (v.wrapping_add(value), m),
                TseriesAgg::Min if less(value, v) => (value, m),
                TseriesAgg::Max if less(v, value) => (value, m),
                TseriesAgg::Min | TseriesAgg::Max => (v, m),
            });
        Some(match self {
            TseriesAgg::Avg if meta == 0 => 0,
            TseriesAgg::Avg if signed => ((value as i64) / (meta as i64)) as u64,
            TseriesAgg::Avg => value / meta,
            _ => value,
        })
    }
}

impl MapValue {
    /// Bytes of one value (one CPU's slot for aggregations) in the layouts above. The BPF map
    /// declares it rounded up to 8, as the kernel stores per-CPU slots.
    pub fn size(&self) -> u32 {
        match self {
            MapValue::Plain(ty) => ty.size(),
            MapValue::Count | MapValue::Sum { .. } => 8,
            MapValue::Min { .. } | MapValue::Max { .. } | MapValue::Avg { .. } => 16,
            MapValue::Hist { .. } | MapValue::Lhist { .. } => 16,
            MapValue::Stats { .. } => 40,
            MapValue::Tseries { .. } => 24,
        }
    }

    /// Whether the values are signed: sum, min, max, avg and stats as their argument was,
    /// a plain value as its type; counts and histogram counts are not.
    pub fn signed(&self) -> bool {
        match self {
            MapValue::Plain(ValueType::Int { signed, .. }) => *signed,
            MapValue::Sum { signed }
            | MapValue::Min { signed }
            | MapValue::Max { signed }
            | MapValue::Avg { signed }
            | MapValue::Stats { signed }
            | MapValue::Tseries { signed, .. } => *signed,
            MapValue::Plain(_)
            | MapValue::Count
            | MapValue::Hist { .. }
            | MapValue::Lhist { .. } => false,
        }
    }

    /// The same kind with the signedness given (kinds without one are returned as they are).
    pub fn with_signed(self, signed: bool) -> MapValue {
        match self {
            MapValue::Sum { .. } => MapValue::Sum { signed },
            MapValue::Min { .. } => MapValue::Min { signed },
            MapValue::Max { .. } => MapValue::Max { signed },
            MapValue::Avg { .. } => MapValue::Avg { signed },
            MapValue::Stats { .. } => MapValue::Stats { signed },
            MapValue::Tseries {
                interval_ns,
                intervals,
                agg,
                ..
            } => MapValue::Tseries {
                interval_ns,
                intervals,
                agg,
                signed,
            },
            other => other,
        }
    }

    /// Whether the stored key has one more trailing u64 than the script's: the bucket of a
    /// histogram, the slot of a time series.
    pub fn keyed_by_bucket(&self) -> bool {
        matches!(
            self,
            MapValue::Hist { .. } | MapValue::Lhist { .. } | MapValue::Tseries { .. }
        )
    }

    /// The value size the BPF map is declared with.
    pub fn stored_size(&self) -> u32 {
        self.size().next_multiple_of(8)
    }
}

/// The largest `k` of `hist(x, k)` (as in bpftrace).
pub const MAX_HIST_K: u32 = 5;

/// The log2 histogram bucket of a value, each power of two split into 2^k equal buckets:
/// 0 for negative values, then 1 + g(v) where g(v) = v for v < 2^k (one bucket per value),
/// and for larger v with p = floor(log2 v): 2^k + (p - k) * 2^k + the k bits of v below its
/// top bit. With k = 0: [0] is 1, [1] is 2, [2, 4) is 3, [4, 8) is 4, ...
pub fn log2_bucket(value: i64, k: u32) -> u64 {
    if value < 0 {
        return 0;
    }
    let v = value as u64;
    let n = 1u64 << k;
    if v < n {
        return 1 + v;
    }
    let p = 63 - u64::from(v.leading_zeros());
    let shift = p - u64::from(k);
    1 + n + shift * n + ((v >> shift) & (n - 1))
}

/// How many buckets `log2_bucket` uses for this `k` (values reach 2^63 - 1).
pub fn log2_buckets(k: u32) -> u64 {
    1 + (64 - u64::from(k)) * (1u64 << k)
}

/// The most steps bpftrace 0.17 accepts in an lhist ("too many buckets, must be <= 1000"):
/// the checker refuses more, and the output side never allocates more.
pub const MAX_LINEAR_STEPS: i128 = 1000;

/// The number of buckets of `lhist(x, min, max, step)`: below min, (max - min) / step
/// steps, and max or above (values past the last whole step land there too); `None` for
/// parameters bpftrace refuses.
pub fn linear_buckets(min: i64, max: i64, step: i64) -> Option<u64> {
    let steps = (max as i128 - min as i128) / (step as i128).max(1);
    if step <= 0 || max <= min || !(1..=MAX_LINEAR_STEPS).contains(&steps) {
        return None;
    }
    Some(2 + steps as u64)
}

/// The linear histogram bucket of a value: 0 below `min`, then 1 + (v - min) / step for
/// values in [min, max), and the last bucket, 1 + (max - min) / step, for v ≥ max.
pub fn linear_bucket(value: i64, min: i64, max: i64, step: i64) -> u64 {
    if value < min {
        0
    } else if value >= max {
        1 + ((max - min) / step) as u64
    } else {
        1 + ((value - min) / step) as u64
    }
}

/// A map as the runtime sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// As written in the script without `@` (empty for `@`).
    pub name: String,
    /// The BPF map's name in the object (`tb_m0`, ... : the kernel keeps 15 characters).
    pub bpf_name: String,
    /// The key's fields, in order (empty for a map without keys; hist/lhist add the bucket).
    pub key: Vec<ValueType>,
    pub value: MapValue,
    /// 1, or N when the probes that write it run 1 hit in N (`--auto-filter`): counts, sums
    /// and histogram buckets are printed multiplied by N and marked sampled.
    pub sampled: u32,
    /// The entries `let @m = kind(N);` declared; `None` for a map of `max_map_keys`.
    pub declared_size: Option<u32>,
    /// A count or histogram kept in a per-CPU array (`lower::array_maps`): its entries exist
    /// from the start, and one that is zero on every CPU was never added to, so it reads as
    /// absent.
    pub zero_is_unset: bool,
    /// A count by kernel stack kept in such an array, indexed by the stack id: the index past
    /// the ids, which counts the hits whose stack the kernel did not record. The runtime
    /// reads each index back as the stack id key the hash would have held (this one as a
    /// negative id).
    pub failed_stack_index: Option<u32>,
}

/// An iterator's program writes each record to its seq file after the record's length, a
/// u64 of this many bytes (the ring buffer frames its records itself; a stream does not):
/// the reader reads `[len][record of len bytes]` frames back to back.
pub const SEQ_RECORD_LENGTH: u32 = 8;

/// One kind of ring-buffer record. Every record starts with a u64 action index into
/// `ProgramInfo::actions`; the arguments follow as a tuple (`ValueType::Tuple` layout)
/// starting at byte 8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `printf(format, args...)`: the format never enters the kernel.
    Printf {
        format: String,
        args: Vec<ValueType>,
    },
    /// `print(@map, top, div)`.
    PrintMap { map: usize, top: u64, div: u64 },
    /// `print(value)`.
    PrintValue { value: ValueType },
    /// `clear(@map)` / `zero(@map)`, done from user space.
    Clear { map: usize, zero: bool },
    /// `time(format)`.
    Time { format: String },
    /// `exit(code)`: the record holds the code as an i64.
    Exit,
    /// `join(argv, delimiter)`: the record holds a u64 count, then `count` strings of
    /// `arg_size` bytes each (NUL-terminated); printed joined by `delimiter`, then a newline.
    Join {
        delimiter: String,
        max_args: u32,
        arg_size: u32,
    },
    /// `cat(format, args...)`.
    Cat {
        format: String,
        args: Vec<ValueType>,
    },
    /// `system(format, args...)` (needs --unsafe).
    System {
        format: String,
        args: Vec<ValueType>,
    },
    /// `errorf`/`warnf(format, args...)`: printed on stderr after the script's name and the
    /// call's place in it, as the current release prints them (`stdin:1:9-62: ERROR: ...`);
    /// a warning is not printed with `--no-warnings`.
    Message {
        error: bool,
        at: crate::span::Span,
        /// The macro calls that expanded the call, innermost first: printed after the
        /// message as "expanded from", each with its line.
        expanded_from: Vec<crate::span::Span>,
        format: String,
        args: Vec<ValueType>,
    },
    /// A process whose user addresses (`ustack`, `usym`) were recorded for the first time:
    /// the record holds its pid (u64). User space notes the process's memory map then, while
    /// it still runs, so that its frames resolve even when it has exited by printing time.
    UserProcess,
    /// A run-time warning at the script's text, printed on stderr as bpftrace prints its
    /// runtime errors (`stdin:1:57-62: WARNING: Array access out of bounds. ...`, then the
    /// line with the text underlined); the record holds nothing.
    RuntimeWarning {
        message: String,
        span: crate::span::Span,
    },
    /// `-k`: a helper failed where the script reads memory or a map's value (its value is
    /// then zero): the record holds the helper's return code (an i64; 0 for a map lookup
    /// that found no value), printed as the current release prints it, at the expression.
    HelperError {
        /// The helper as the kernel names it (`probe_read_user`, `map_lookup_elem`).
        helper: String,
        span: crate::span::Span,
    },
}

/// A flag table in the kernel's order (`machine::print_flags`): a mask matches when all its
/// bits are set, the first match wins those bits, so compound names (`GFP_KERNEL`) come
/// before single bits.
pub type FlagNames = Vec<(u64, String)>;

/// What the runtime needs besides the object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramInfo {
    pub maps: Vec<MapInfo>,
    pub actions: Vec<Action>,
    /// The probes the runtime guard may sample 1 in N while they run (compiled with
    /// `LowerOptions::guard_sampling`; the same probes `--auto-filter` may sample).
    pub guard_sampled: Vec<GuardSampled>,
    /// Dispatched probes' maps of their members' texts, which the runtime writes after
    /// loading and before attaching.
    pub member_texts: Vec<MemberTexts>,
    /// This kernel's GFP flag names, for a format's `%gr` (empty when none has one).
    pub gfp_flags: FlagNames,
}

impl ProgramInfo {
    /// The sampled copies' names: in the object, loaded only when the guard samples.
    pub fn sampled_copies(&self) -> Vec<&str> {
        (self.guard_sampled.iter())
            .flat_map(|g| &g.copies)
            .map(|c| c.copy.as_str())
            .collect()
    }

    /// The script maps (object map indexes) whose lookups the kernel inlines: the per-CPU
    /// arrays of key-less counts and histograms. A lookup in one costs its instructions, not
    /// a call.
    pub fn inlined_lookups(&self) -> std::collections::HashSet<usize> {
        (self.maps.iter().enumerate())
            .filter(|(_, m)| m.zero_is_unset)
            .map(|(i, _)| i)
            .collect()
    }
}

/// The array map a wildcard attached as one program reads each member's `probe` and `func`
/// from, at the key it dispatches on (a syscall's number, a cookie): one body serves every
/// member, where a body each would make the verifier walk them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberTexts {
    pub map: String,
    pub value_size: u32,
    /// (key, value): the member's `probe` text then its `func` text, each NUL-padded.
    pub entries: Vec<(u32, Vec<u8>)>,
}

/// The map a guard-sampled probe reads its mask from: the object's global data (`.bss`, one
/// array entry the loader names after its section), a u64 per probe at `8 * slot`, N - 1 for
/// N a power of two (0, as the kernel creates it: every hit). The program reads it through an
/// address the loader writes into the code, without a lookup.
pub const GUARD_SAMPLING_MAP: &str = ".bss";

/// The map of the loss counters: the object's `.bss.tb_counts`, one array entry of u64s
/// every program adds to atomically (on the cold paths only, so no CPU waits on another):
/// at `LOST_COUNTER` the records dropped because the ring buffer was full, at
/// `full_counter(i)` the updates script map `i` refused because it was full. User space only
/// reads it.
pub const COUNTERS_MAP: &str = ".bss.tb_counts";
/// Byte offset in `COUNTERS_MAP` of the count of records the full ring buffer dropped.
pub const LOST_COUNTER: u32 = 0;

/// Byte offset in `COUNTERS_MAP` of the count of updates script map `map` refused.
pub fn full_counter(map: usize) -> u32 {
    8 * (1 + map as u32)
}

/// Bytes of `COUNTERS_MAP` for a script of `maps` maps.
pub fn counters_size(maps: usize) -> u32 {
    full_counter(maps)
}

/// A probe the guard can thin without loading it again. Its own programs start with a tail
/// call into their sampled copies (`copies`), a program array's slot that stays empty,
/// and costs a jump, until the guard samples; a copy draws 1 in N with the mask read from
/// `GUARD_SAMPLING_MAP`. A member of a dispatched program draws in line instead, reading the
/// same mask (0: every hit, without a draw), since its copy would have to dispatch again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardSampled {
    pub probe_index: usize,
    /// Its mask in `GUARD_SAMPLING_MAP`: the u64 at byte `8 * slot`.
    pub slot: u32,
    /// The maps it aggregates into (`ProgramInfo::maps` indexes): the ones whose values scale.
    pub maps: Vec<usize>,
    /// Its own programs' sampled copies; none when it only has dispatched members.
    pub copies: Vec<SampledCopy>,
}

/// A program of a guard-sampled probe and its sampled copy: the same body after a sampling
/// draw, in the object but loaded only when the guard first samples the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledCopy {
    /// The program attached.
    pub program: String,
    /// The copy's name in the object.
    pub copy: String,
    /// The program array the program tail-calls into, one per kind of program (the kernel
    /// lets only one kind into an array), and the copy's slot in it.
    pub array: String,
    pub index: u32,
}

/// The fields of a ring-buffer record's payload for arguments of these types: integers
/// travel as 8 bytes whatever their declared width, everything else as it is.
pub fn record_fields(types: &[ValueType]) -> Vec<ValueType> {
    types
        .iter()
        .map(|t| match t {
            ValueType::Int { signed, .. } => ValueType::Int {
                size: 8,
                signed: *signed,
            },
            t => t.clone(),
        })
        .collect()
}

/// One specifier bpftrace 0.17 recognises in a printf format string. User space cuts the
/// format after each one and hands each piece to C (runtime `output::printf`); the checker
/// refuses a format whose conversions are not exactly these, so that what the output side
/// would refuse is said at the user's text before anything runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatSpecifier {
    /// Its bytes in the format, `%` through the conversion.
    pub span: std::ops::Range<usize>,
    /// `d i u x X o p c s r`.
    pub conversion: u8,
}

/// The specifiers bpftrace 0.17 finds in `format`, left to right.
pub fn format_specifiers(format: &[u8]) -> Vec<FormatSpecifier> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(p) = format[at..].iter().position(|&b| b == b'%') {
        let start = at + p;
        match match_specifier(&format[start..]) {
            Some((len, conversion)) => {
                found.push(FormatSpecifier {
                    span: start..start + len,
                    conversion,
                });
                at = start + len;
            }
            None => at = start + 1,
        }
    }
    found
}

/// Matches `%-?[0-9]*(\.[0-9]+)?` then `[cs]` or `(hh|h|ll|l|j|z|t)?[duxXop]` at the start
/// of `s`; returns the length and conversion.
fn match_specifier(s: &[u8]) -> Option<(usize, u8)> {
    let mut i = 1;
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !s.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let c = *s.get(i)?;
    if c == b'c' || c == b's' {
        return Some((i + 1, c));
    }
    // GFP flags by name, `%gr`: conversion `g`.
    if c == b'g' && s.get(i + 1) == Some(&b'r') {
        return Some((i + 2, c));
    }
    // bpftrace's buffer conversions `%r`, `%rx`, `%rh` (for `buf()`): conversion `r`.
    if c == b'r' {
        let len = if matches!(s.get(i + 1), Some(b'x' | b'h')) {
            i + 2
        } else {
            i + 1
        };
        return Some((len, c));
    }
    for modifier in [&b"hh"[..], b"h", b"ll", b"l", b"j", b"z", b"t", b""] {
        if s[i..].starts_with(modifier) {
            let c = *s.get(i + modifier.len())?;
            if b"diuxXop".contains(&c) {
                return Some((i + modifier.len() + 1, c));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tseries_intervals_combine_their_cpus() {
        let slots = [(5u64, 10u64), (7, 30), (3, 20)];
        assert_eq!(TseriesAgg::Last.combine(&slots, false), Some(7));
        assert_eq!(TseriesAgg::Sum.combine(&slots, false), Some(15));
        assert_eq!(TseriesAgg::Min.combine(&slots, false), Some(3));
        assert_eq!(TseriesAgg::Max.combine(&slots, false), Some(7));
        assert_eq!(TseriesAgg::Avg.combine(&[(9, 2), (3, 1)], false), Some(4));
        let negative = [((-6i64) as u64, 1u64), (2, 1)];
        assert_eq!(
            TseriesAgg::Min.combine(&negative, true),
            Some((-6i64) as u64)
        );
        assert_eq!(
            TseriesAgg::Avg.combine(&negative, true),
            Some((-2i64) as u64)
        );
        assert_eq!(TseriesAgg::Last.combine(&[], false), None);
        assert_eq!(TseriesAgg::from_name(Some("median")), None);
    }

    #[test]
    fn tuple_layout_is_a_c_struct() {
        let t = vec![
            ValueType::Int {
                size: 4,
                signed: false,
            },
            ValueType::str(16),
            ValueType::Int {
                size: 8,
                signed: true,
            },
        ];
        assert_eq!(ValueType::field_offsets(&t), vec![0, 4, 24]);
        assert_eq!(ValueType::Tuple(t).size(), 32);
    }

    #[test]
    fn buckets() {
        assert_eq!(log2_bucket(-5, 0), 0);
        assert_eq!(log2_bucket(0, 0), 1);
        assert_eq!(log2_bucket(1, 0), 2);
        assert_eq!(log2_bucket(3, 0), 3);
        assert_eq!(log2_bucket(4, 0), 4);
        assert_eq!(log2_bucket(i64::MAX, 0), 64);
        assert_eq!(log2_buckets(0), 65);
        // k = 2: 0..7 one bucket each, then [8, 10), [10, 12), [12, 14), [14, 16), [16, 20)..
        let k2: Vec<u64> = [0, 7, 8, 9, 10, 15, 16, 19, 20]
            .map(|v| log2_bucket(v, 2))
            .to_vec();
        assert_eq!(k2, [1, 8, 9, 9, 10, 12, 13, 13, 14]);
        for k in 0..=MAX_HIST_K {
            assert_eq!(log2_bucket(i64::MAX, k), log2_buckets(k) - 1, "k = {k}");
        }
        assert_eq!(linear_bucket(-1, 0, 100, 10), 0);
        assert_eq!(linear_bucket(0, 0, 100, 10), 1);
        assert_eq!(linear_bucket(99, 0, 100, 10), 10);
        assert_eq!(linear_bucket(100, 0, 100, 10), 11);
    }
}

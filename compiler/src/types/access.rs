//! How an expression typed from BTF reads memory, as resolve works it out and lower follows it:
//! offsets, bitfields and what the bytes are as a script value. It sits beside the type model
//! because it is made of nothing but layout facts, and below the tree, which carries one per
//! kernel-typed expression (`ast::Expr::kernel`).

use crate::program::{EnumNames, ValueType};

/// How an expression typed from BTF is lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelAccess {
    /// A number known at compile time: `sizeof`, `offsetof`, an enumerator of the kernel's.
    Const(u64),
    /// A number known at compile time that C types signed: a header's macro such as `EOF`
    /// (`(-1)`), which prints as -1 where an unsigned one would print as 2^64 - 1.
    Signed(i64),
    /// An enumerator of an enum whose names are known (`ONE` of the script's `enum Foo`):
    /// its value, printed by name.
    Enumerator(i64, EnumNames),
    /// `(enum Foo)x`: `x` as an integer, printed by `Foo`'s names.
    EnumCast(EnumNames),
    /// `base->field` or `base.field`: `offset` bytes past the base, which is an address
    /// (`through_pointer`) or itself a place in memory (a struct member of a struct).
    Member {
        offset: u32,
        /// `(bit shift within the loaded bytes, width)` for a bitfield.
        bitfield: Option<(u32, u32)>,
        through_pointer: bool,
        value: KernelValue,
        user: bool,
    },
    /// `*base`.
    Deref { value: KernelValue, user: bool },
    /// `base[i]`: elements of `elem_size` bytes from an address or an array in memory.
    Index {
        elem_size: u32,
        through_pointer: bool,
        /// The array's length, for the run-time bounds check of an index that is not a
        /// constant (constants are checked by resolve); `None` through a pointer or for a
        /// flexible array member (`int y[0]`).
        len: Option<u32>,
        value: KernelValue,
        user: bool,
    },
    /// `p + n`, `n + p`, `p - n` of a typed pointer: it moves by `n` elements of
    /// `elem_size` bytes, as in C. `pointer_rhs` for `n + p`, `back` for `-`.
    PointerStep {
        elem_size: u32,
        pointer_rhs: bool,
        back: bool,
    },
}

/// What the bytes of a kernel-typed place are, as a script value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelValue {
    Int {
        size: u32,
        signed: bool,
    },
    /// A pointer: 8 bytes, printed signed as bpftrace 0.17 prints them.
    Pointer,
    /// `char[N]`: a string.
    Str {
        len: u32,
    },
    /// An array of integers (or of such arrays, of pointers as u64s, of strings, enums or
    /// structs): copied whole, a `ValueType::Array`.
    Array(ValueType),
    /// An enum: an integer of `names.size` bytes, printed by its enumerators' names.
    Enum(EnumNames),
    /// A struct or union of a layout the script can hold: copied whole, a
    /// `ValueType::Struct`.
    Struct(ValueType),
    /// A `float` or `double` (or an array of them): BPF computes with no floating point and
    /// the current release holds no such value, so reading one is refused; a struct that
    /// has one is held whole all the same (`ValueType::Float`, printed `null`). `what` is the
    /// type as C writes it.
    Float {
        what: String,
    },
    /// A struct, union or array the script cannot hold as a value (too large, or with
    /// members of no value type): only its members or elements can be read.
    Aggregate {
        what: String,
    },
}

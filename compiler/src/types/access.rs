//! How an expression typed from BTF reads memory, as resolve works it out and lower follows it:
//! offsets, bitfields and what the bytes are as a script value. It sits beside the type model
//! because it is made of nothing but layout facts, and below the tree, which carries one per
//! kernel-typed expression (`ast::Expr::kernel`).

/// How an expression typed from BTF is lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelAccess {
    /// A number known at compile time: `sizeof`, `offsetof`, an enumerator.
    Const(u64),
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
        value: KernelValue,
        user: bool,
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
    /// A struct, union or non-char array: only its members or elements can be read.
    Aggregate {
        what: String,
    },
}

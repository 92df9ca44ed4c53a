//! Kernel types as the compiler sees them: what a `MachineFacts` provider answers about the
//! kernel's BTF (the live one reads /sys/kernel/btf/vmlinux, tests build types by hand). Ids
//! are the provider's; a type is always handed over with typedefs, `const`, `volatile`,
//! `restrict` and type tags already looked through, so the compiler only meets the kinds that
//! change a value's layout.

mod access;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixture;

pub use access::{KernelAccess, KernelValue};

/// A type's id in the provider's type graph; 0 is `void`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

impl TypeId {
    pub const VOID: TypeId = TypeId(0);
}

/// One kernel type, modifiers and typedefs resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KType {
    Void,
    /// An integer; `char` for the C `char` types (their arrays print as strings), `bool` for
    /// `_Bool`.
    Int {
        name: String,
        size: u32,
        signed: bool,
        char: bool,
    },
    Float {
        size: u32,
    },
    Pointer {
        to: TypeId,
    },
    Array {
        elem: TypeId,
        len: u32,
    },
    /// A struct or a union.
    Record(Record),
    Enum(Enum),
    /// A struct or union only declared, never defined, in this BTF.
    Forward {
        name: String,
        union: bool,
    },
    /// A function's signature (what `btf_trace_*` typedefs and functions point at).
    FuncProto(FuncProto),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Empty for an anonymous struct or union.
    pub name: String,
    pub union: bool,
    pub size: u32,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Empty for an anonymous struct or union member, whose own members are reached as if
    /// they were this record's.
    pub name: String,
    pub ty: TypeId,
    /// From the record's start, in bits.
    pub bit_offset: u32,
    /// `Some(width)` for a bitfield.
    pub bitfield: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum {
    pub name: String,
    pub size: u32,
    pub signed: bool,
    pub values: Vec<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto {
    pub params: Vec<Param>,
    /// `TypeId::VOID` for a function returning nothing.
    pub ret: TypeId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Empty when BTF does not name it.
    pub name: String,
    pub ty: TypeId,
}

/// Which namespace a type name is looked up in: C keeps `struct x`, `union x` and `enum x`
/// apart from typedef names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameSpace {
    Struct,
    Union,
    Enum,
    Typedef,
}

impl NameSpace {
    pub fn keyword(self) -> &'static str {
        match self {
            NameSpace::Struct => "struct",
            NameSpace::Union => "union",
            NameSpace::Enum => "enum",
            NameSpace::Typedef => "typedef",
        }
    }
}

/// A member found by name in a record (possibly inside anonymous members): its type, and
/// where it starts in bits from the outer record's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundMember {
    pub ty: TypeId,
    pub bit_offset: u32,
    pub bitfield: Option<u32>,
}

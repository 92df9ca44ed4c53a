//! What a probe's `args` holds: its fields, each at an offset in the context and read as its
//! kind says (tracepoints from their format files, fentry from BTF).

/// A field of `args`: a tracepoint format's, or a fentry probe's parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgField {
    pub name: String,
    pub offset: u32,
    pub access: ArgAccess,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgAccess {
    /// An integer (or a pointer, as u64) read straight from the context.
    Int { size: u32, signed: bool },
    /// `char name[N]`: a string of N bytes inside the record.
    CharArray { len: u32 },
    /// `__u8 daddr[4]`, `unsigned long args[6]`: `len` integers of `elem_size` bytes inside
    /// the record.
    IntArray {
        elem_size: u32,
        signed: bool,
        len: u32,
    },
    /// `__data_loc T[] name`: a u32 locator (length << 16 | offset) of data in the record. As in
    /// bpftrace 0.17 the value is the data's address, to be read with `str()`.
    DataLoc,
}

//! What a probe's `args` holds: its fields, each at an offset in the context and read as its
//! kind says (tracepoints from their format files, fentry from BTF).

use crate::program::EnumNames;

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
    /// `enum skb_drop_reason reason`: an integer of `names.size` bytes, printed by the
    /// names the kernel's BTF gives the enum.
    Enum { names: EnumNames },
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
    /// Not the same in every attach point of the probe (another offset or type, or absent from
    /// some): one program serves them all, so reading it is refused, with `why`.
    Uneven { why: String },
}

/// The fields of `args` for a probe whose attach points have the layouts `a` (at `a_where`)
/// and `b` (at `b_where`): a field the same in both is kept; one that differs or is missing
/// from either becomes [`ArgAccess::Uneven`], so that a read of it is a diagnostic rather than
/// a read at one attach point's offset in another's record.
pub fn merge_fields(
    a: Vec<ArgField>,
    a_where: &str,
    b: &[ArgField],
    b_where: &str,
) -> Vec<ArgField> {
    let uneven = |name: &str, why: String| ArgField {
        name: name.to_string(),
        offset: 0,
        access: ArgAccess::Uneven { why },
    };
    let mut out: Vec<ArgField> = a
        .into_iter()
        .map(|f| match b.iter().find(|g| g.name == f.name) {
            _ if matches!(f.access, ArgAccess::Uneven { .. }) => f,
            Some(g) if *g == f => f,
            Some(g) => uneven(
                &f.name,
                format!(
                    "`{}` is {} at offset {} in {a_where}, {} at offset {} in {b_where}",
                    f.name,
                    f.access.describe(),
                    f.offset,
                    g.access.describe(),
                    g.offset
                ),
            ),
            None => uneven(
                &f.name,
                format!("{a_where} has `{}`, {b_where} has not", f.name),
            ),
        })
        .collect();
    for g in b {
        if !out.iter().any(|f| f.name == g.name) {
            out.push(uneven(
                &g.name,
                format!("{b_where} has `{}`, {a_where} has not", g.name),
            ));
        }
    }
    out
}

impl ArgAccess {
    fn describe(&self) -> String {
        match self {
            ArgAccess::Int { size, signed } => {
                format!(
                    "a{} {}-byte integer",
                    if *signed { " signed" } else { "n unsigned" },
                    size
                )
            }
            ArgAccess::Enum { names } => format!("enum {}", names.name),
            ArgAccess::CharArray { len } => format!("char[{len}]"),
            ArgAccess::IntArray { elem_size, len, .. } => {
                format!("an array of {len} {elem_size}-byte integers")
            }
            ArgAccess::DataLoc => "a __data_loc".to_string(),
            ArgAccess::Uneven { .. } => "uneven".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(name: &str, offset: u32) -> ArgField {
        ArgField {
            name: name.into(),
            offset,
            access: ArgAccess::Int {
                size: 8,
                signed: false,
            },
        }
    }

    #[test]
    fn fields_that_differ_between_attach_points_become_uneven() {
        let open = vec![int("filename", 16), int("flags", 24)];
        let openat = vec![int("dfd", 16), int("filename", 24), int("flags", 32)];
        let merged = merge_fields(open.clone(), "open", &openat, "openat");
        let access = |name: &str| &merged.iter().find(|f| f.name == name).unwrap().access;
        let ArgAccess::Uneven { why } = access("filename") else {
            panic!("filename is at 16 and 24: {merged:?}")
        };
        assert_eq!(
            why,
            "`filename` is an unsigned 8-byte integer at offset 16 in open, an unsigned 8-byte \
             integer at offset 24 in openat"
        );
        assert!(matches!(access("dfd"), ArgAccess::Uneven { .. }));
        assert_eq!(merge_fields(open.clone(), "a", &open, "b"), open);
    }
}

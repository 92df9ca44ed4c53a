//! `sizeof` of a value the script holds (`sizeof($t)`, `sizeof((int8)1, "ab")`), as the
//! current release lays it out: an integer literal in the smallest signed type that holds it
//! (`1` is an `int8`), a cast in its type, a string literal with its NUL, a comparison a
//! one-byte `bool`, a tuple as a C struct of its fields, a kernel-typed value in its C type.
//! Anything else (arithmetic, builtins, maps) has a type tracebound does not model byte for
//! byte, so its `sizeof` is refused rather than guessed.

use std::collections::HashMap;

use crate::ast::*;
use crate::machine::ctype::{CType, KernelTypes, TypeEnv, View};
use crate::span::Span;

/// A value's size and alignment in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: u32,
    pub align: u32,
}

impl Layout {
    fn scalar(size: u32) -> Layout {
        Layout { size, align: size }
    }
}

/// Each variable's layout over the assignments seen so far: `None` once two differ or one
/// is not modelled (the current release then upcasts, which is not modelled either).
#[derive(Default)]
pub struct VarLayouts {
    vars: HashMap<String, Option<Layout>>,
}

impl VarLayouts {
    pub fn note(&mut self, var: &str, layout: Option<Layout>) {
        let merged = match self.vars.get(var) {
            None => layout,
            Some(old) if *old == layout => layout,
            Some(_) => None,
        };
        self.vars.insert(var.to_string(), merged);
    }

    pub fn get(&self, var: &str) -> Option<Layout> {
        self.vars.get(var).copied().flatten()
    }
}

/// The layout of `e`, or `None` when it is not one this module models exactly.
pub fn layout_of(e: &Expr, vars: &VarLayouts, kt: &KernelTypes, env: &TypeEnv) -> Option<Layout> {
    if let Ok(Some(t)) = kt.type_of(e, env) {
        return kernel_layout(kt, &t, e.span);
    }
    match &e.kind {
        ExprKind::Int(n) => Some(Layout::scalar(literal_size(*n, false))),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match expr.kind {
            ExprKind::Int(n) => Some(Layout::scalar(literal_size(n, true))),
            _ => None,
        },
        ExprKind::Str(s) => Some(Layout {
            size: s.len() as u32 + 1,
            align: 1,
        }),
        ExprKind::Bool(_) => Some(Layout::scalar(1)),
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => Some(Layout::scalar(1)),
        ExprKind::Binary { op, .. } if op.yields_bool() => Some(Layout::scalar(1)),
        ExprKind::Cast { ty, .. } => cast_layout(ty),
        ExprKind::Var(v) => vars.get(v),
        ExprKind::Tuple(items) => {
            let fields = items
                .iter()
                .map(|i| layout_of(i, vars, kt, env))
                .collect::<Option<Vec<_>>>()?;
            Some(struct_of(&fields))
        }
        _ => None,
    }
}

/// Fields laid out one after another, each at its alignment, the whole padded to the
/// largest.
fn struct_of(fields: &[Layout]) -> Layout {
    let mut size = 0u32;
    let mut align = 1u32;
    for f in fields {
        size = size.next_multiple_of(f.align.max(1)) + f.size;
        align = align.max(f.align);
    }
    Layout {
        size: size.next_multiple_of(align),
        align,
    }
}

/// The smallest signed type holding the literal (`0`, `1`, `-1`: int8); above int64's
/// range, uint64.
fn literal_size(n: u64, negative: bool) -> u32 {
    let fits = |bits: u32| {
        let max = 1u64 << (bits - 1);
        if negative {
            n <= max
        } else {
            n < max
        }
    };
    [8, 16, 32, 64]
        .into_iter()
        .find(|&b| fits(b))
        .map_or(8, |b| b / 8)
}

fn cast_layout(ty: &TypeName) -> Option<Layout> {
    if ty.pointers > 0 {
        return Some(Layout::scalar(8));
    }
    if ty.array.is_some() {
        return None;
    }
    match &ty.base {
        TypeBase::Builtin(n) if n == "bool" => Some(Layout::scalar(1)),
        TypeBase::Builtin(n) => {
            let bits: u32 = n
                .strip_prefix('u')
                .unwrap_or(n)
                .strip_prefix("int")?
                .parse()
                .ok()?;
            matches!(bits, 8 | 16 | 32 | 64).then(|| Layout::scalar(bits / 8))
        }
        _ => None,
    }
}

/// A C type's size and alignment as x86-64 C lays it out.
fn kernel_layout(kt: &KernelTypes, t: &CType, span: Span) -> Option<Layout> {
    let size = kt.size(t, span).ok()?;
    let align = kernel_align(kt, t, span)?;
    Some(Layout { size, align })
}

fn kernel_align(kt: &KernelTypes, t: &CType, span: Span) -> Option<u32> {
    Some(match kt.view(t, span).ok()? {
        View::Int { size, .. } | View::Float { size } => size,
        View::Pointer { .. } => 8,
        View::CharArray { .. } => 1,
        View::Array { elem, .. } => kernel_align(kt, &elem, span)?,
        View::Record(r) => {
            let mut align = 1;
            for m in &r.members {
                align = align.max(kernel_align(kt, &CType::kernel(m.ty, t.user), span)?);
            }
            // A packed struct's size is no multiple of its members' alignment.
            if r.size.is_multiple_of(align) {
                align
            } else {
                1
            }
        }
        View::Other(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_take_the_smallest_signed_type() {
        assert_eq!(literal_size(0, false), 1);
        assert_eq!(literal_size(127, false), 1);
        assert_eq!(literal_size(128, false), 2);
        assert_eq!(literal_size(128, true), 1);
        assert_eq!(literal_size(1000, true), 2);
        assert_eq!(literal_size(1 << 31, false), 8);
        assert_eq!(literal_size(u64::MAX, false), 8);
    }

    #[test]
    fn tuples_lay_out_as_c_structs() {
        let s = |v: &[u32]| struct_of(&v.iter().map(|&n| Layout::scalar(n)).collect::<Vec<_>>());
        assert_eq!(s(&[1, 8, 1, 8]).size, 32);
        assert_eq!(s(&[1, 2, 4]).size, 8);
        assert_eq!(s(&[4, 2, 1]).size, 8);
        let str7 = Layout { size: 7, align: 1 };
        let str4 = Layout { size: 4, align: 1 };
        let f = [1, 1].map(Layout::scalar);
        let mut all = f.to_vec();
        all.push(str7);
        all.extend([1, 4, 8, 1, 2].map(Layout::scalar));
        all.push(str4);
        assert_eq!(struct_of(&all).size, 32);
    }
}

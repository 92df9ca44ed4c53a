//! Casts, as the current release allows them: to an integer, a pointer or `bool` from any
//! integer, pointer or string (`(bool)"x"` is whether the string is empty), and `(string)` of
//! a string. bpftrace refuses a cast of anything to `buffer`, `inet` or `void`, and of a
//! non-string to `string`; so does this check, at the cast.

use super::{Checker, Shape};
use crate::ast::{ArraySize, Expr, TypeBase, TypeName};
use crate::diagnostic::Diagnostic;

impl Checker<'_> {
    pub(super) fn cast_shape(
        &mut self,
        ty: &TypeName,
        expr: &Expr,
        span: crate::span::Span,
    ) -> Shape {
        let inner = self.expr_shape(expr);
        let TypeBase::Builtin(name) = &ty.base else {
            return Shape::Unknown;
        };
        if ty.pointers > 0 {
            return Shape::Int;
        }
        if let Some(size) = ty.array {
            return self.array_cast_shape(name, size, inner, span);
        }
        match name.as_str() {
            "bool" => {
                if let Shape::Tuple(_) = inner {
                    self.cannot_cast(inner, name, span, None);
                }
                Shape::Int
            }
            "string" => match inner {
                Shape::Str | Shape::Unknown => inner,
                _ => {
                    self.cannot_cast(
                        inner,
                        name,
                        span,
                        Some("`str(p)` reads a string a pointer points to"),
                    );
                    Shape::Unknown
                }
            },
            "buffer" => {
                self.cannot_cast(
                    inner,
                    name,
                    span,
                    Some("`buf(p, n)` reads n bytes as a buffer"),
                );
                Shape::Unknown
            }
            "inet" => {
                self.cannot_cast(
                    inner,
                    name,
                    span,
                    Some("`ntop(addr)` formats an IPv4 or IPv6 address"),
                );
                Shape::Unknown
            }
            "void" => {
                self.cannot_cast(inner, name, span, None);
                Shape::Unknown
            }
            _ => {
                if let Shape::Str | Shape::Tuple(_) = inner {
                    self.cannot_cast(inner, name, span, None);
                }
                Shape::Int
            }
        }
    }

    /// `(int8[4])x`, `(bool[2])x`, `(uint8[])"abc"`: only integer or bool elements.
    fn array_cast_shape(
        &mut self,
        name: &str,
        _size: ArraySize,
        inner: Shape,
        span: crate::span::Span,
    ) -> Shape {
        if !(name == "bool" || name.contains("int")) {
            self.cannot_cast(inner, &format!("{name}[]"), span, None);
        }
        Shape::Unknown
    }

    fn cannot_cast(&mut self, inner: Shape, to: &str, span: crate::span::Span, help: Option<&str>) {
        let from = match inner {
            Shape::Unknown => "this value".to_string(),
            known => known.describe(),
        };
        let mut d = Diagnostic::error(
            format!("cannot cast {from} to `{to}`"),
            span,
            "not a cast bpftrace allows",
        );
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.diags.push(d);
    }
}

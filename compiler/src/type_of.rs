//! `typeof`, the pass after macro expansion: every `typeof(...)` becomes the type it names,
//! so check and everything after see only plain types.
//!
//! `typeof(T)` is `T`, merged with what is written after it (`typeof(uint64*)[2]` is
//! `uint64*[2]`); `typeof(e)` is the type of an expression that is never evaluated, read from
//! the text as the current release types it: an integer literal is the smallest signed type
//! that holds it (`1` and `-1` are `int8`; beyond int64, `uint64`), a comparison or `!` a
//! `bool`, a string literal a `string`, a cast its type, `sizeof`/`offsetof` a `uint64`, a
//! variable the type it was declared with or first given by one of those. Any other
//! expression's type (arithmetic, builtins, maps, kernel memory) is refused at its text rather
//! than guessed. `sizeof(typeof(x))` is `sizeof(x)`; a `typeof` left where a value stands is
//! an error.

use std::collections::HashMap;

use crate::ast::visit::{walk_expr_mut, walk_stmt_mut, VisitorMut};
use crate::ast::*;
use crate::diagnostic::Diagnostic;

/// The program with no `typeof` left.
pub fn eliminate(mut program: Program) -> Result<Program, Vec<Diagnostic>> {
    let mut pass = Eliminate::default();
    for item in &mut program.items {
        pass.vars.clear();
        match item {
            Item::Probe(p) => pass.probe(p),
            Item::Function(f) => {
                for (var, ty) in &mut f.params {
                    pass.type_name(ty);
                    pass.vars.insert(var.name.clone(), Some(ty.clone()));
                }
                if let Some(ty) = &mut f.returns {
                    pass.type_name(ty);
                }
                pass.block(&mut f.body);
            }
            _ => {}
        }
    }
    if pass.diags.is_empty() {
        Ok(program)
    } else {
        Err(pass.diags)
    }
}

#[derive(Default)]
struct Eliminate {
    /// Each variable's type so far in this probe: `None` once two assignments disagree (the
    /// current release then upcasts, which is not read here).
    vars: HashMap<String, Option<TypeName>>,
    diags: Vec<Diagnostic>,
}

impl Eliminate {
    /// Replaces a `typeof` base in `ty` (and in the types inside it) by the type it names.
    fn type_name(&mut self, ty: &mut TypeName) {
        let TypeBase::Typeof(t) = &mut ty.base else {
            return;
        };
        let named = match t.as_mut() {
            TypeOf::Type(inner) => {
                self.type_name(inner);
                Ok(inner.clone())
            }
            TypeOf::Expr(e) => {
                self.expr(e);
                self.value_type(e)
            }
        };
        match named.and_then(|named| merge(named, ty)) {
            Ok(merged) => *ty = merged,
            Err(d) => {
                self.diags.push(d);
                // Keeps later phases from seeing the `typeof` (they are not run on errors).
                ty.base = TypeBase::Builtin("uint64".into());
            }
        }
    }

    /// The type of an expression, as the current release types it statically.
    fn value_type(&self, e: &Expr) -> Result<TypeName, Diagnostic> {
        let builtin = |name: &str| TypeName {
            base: TypeBase::Builtin(name.to_string()),
            pointers: 0,
            array: None,
            span: e.span,
        };
        match &e.kind {
            ExprKind::Int(n) => Ok(builtin(literal_type(*n, false))),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } if matches!(expr.kind, ExprKind::Int(_)) => {
                let ExprKind::Int(n) = expr.kind else {
                    unreachable!("matched above")
                };
                Ok(builtin(literal_type(n, true)))
            }
            ExprKind::Bool(_)
            | ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => Ok(builtin("bool")),
            ExprKind::Binary { op, .. } if op.yields_bool() => Ok(builtin("bool")),
            ExprKind::Str(_) => Ok(builtin("string")),
            ExprKind::Cast { ty, .. } => Ok(ty.clone()),
            ExprKind::SizeofType(_)
            | ExprKind::SizeofExpr(_)
            | ExprKind::Offsetof { .. }
            | ExprKind::OffsetofExpr { .. } => Ok(builtin("uint64")),
            ExprKind::Block { value, .. } => self.value_type(value),
            ExprKind::Typeof(t) => match t.as_ref() {
                TypeOf::Type(ty) => Ok(ty.clone()),
                TypeOf::Expr(inner) => self.value_type(inner),
            },
            ExprKind::Var(v) => match self.vars.get(v) {
                Some(Some(ty)) => Ok(ty.clone()),
                _ => Err(unknown_type(e).with_note(format!(
                    "`${v}` is not declared with a type (`let ${v}: uint32`) or first \
                     assigned a literal or a cast before this"
                ))),
            },
            _ => Err(unknown_type(e)),
        }
    }

    /// What an assignment or declaration tells of a variable's type.
    fn note_var(&mut self, var: &str, ty: Option<TypeName>) {
        let merged = match (self.vars.get(var), ty) {
            (None, ty) => ty,
            (Some(Some(old)), Some(new)) if same_type(old, &new) => Some(new),
            _ => None,
        };
        self.vars.insert(var.to_string(), merged);
    }
}

impl VisitorMut for Eliminate {
    fn stmt(&mut self, s: &mut Stmt) {
        walk_stmt_mut(self, s);
        match &mut s.kind {
            StmtKind::Let { var, ty, value } => {
                let known = match (ty, value) {
                    (Some(ty), _) => {
                        self.type_name(ty);
                        Some(ty.clone())
                    }
                    (None, Some(v)) => self.value_type(v).ok(),
                    (None, None) => None,
                };
                self.vars.insert(var.name.clone(), known);
            }
            StmtKind::Assign {
                target:
                    Expr {
                        kind: ExprKind::Var(v),
                        ..
                    },
                op: None,
                value,
            } => {
                let ty = self.value_type(value).ok();
                let v = v.clone();
                self.note_var(&v, ty);
            }
            _ => {}
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        if matches!(&e.kind, ExprKind::Call { name, .. } if name.name == "container_of") {
            if let Err(d) = self.container_of(e) {
                self.diags.push(d);
                // What is left is not walked: its `typeof` would be a second error.
                e.kind = ExprKind::Int(0);
            }
        }
        // `sizeof(typeof(T))` is `sizeof(T)`, `sizeof(typeof(e))` is `sizeof(e)`; the same
        // for `offsetof`.
        if let ExprKind::SizeofExpr(inner) = &mut e.kind {
            if let ExprKind::Typeof(t) = &mut inner.kind {
                e.kind = match std::mem::replace(
                    t.as_mut(),
                    TypeOf::Expr(Expr::new(ExprKind::Int(0), e.span)),
                ) {
                    TypeOf::Type(ty) => ExprKind::SizeofType(ty),
                    TypeOf::Expr(x) => ExprKind::SizeofExpr(Box::new(x)),
                };
            }
        }
        if let ExprKind::OffsetofExpr { expr, field } = &mut e.kind {
            if let ExprKind::Typeof(t) = &mut expr.kind {
                let field = std::mem::take(field);
                e.kind = match std::mem::replace(
                    t.as_mut(),
                    TypeOf::Expr(Expr::new(ExprKind::Int(0), e.span)),
                ) {
                    TypeOf::Type(ty) => ExprKind::Offsetof { ty, field },
                    TypeOf::Expr(x) => ExprKind::OffsetofExpr {
                        expr: Box::new(x),
                        field,
                    },
                };
            }
        }
        match &mut e.kind {
            ExprKind::Cast { ty, .. }
            | ExprKind::SizeofType(ty)
            | ExprKind::Offsetof { ty, .. } => self.type_name(ty),
            ExprKind::Typeof(_) => {
                self.diags.push(
                    Diagnostic::error(
                        "`typeof(...)` is a type, not a value",
                        e.span,
                        "used as a value",
                    )
                    .with_help(
                        "use it where a type stands: a cast `(typeof(x))y`, `sizeof`, \
                         `let $v: typeof(x)`, or as a macro's argument",
                    ),
                );
                return;
            }
            _ => {}
        }
        walk_expr_mut(self, e);
    }
}

impl Eliminate {
    /// `container_of(p, typeof(T), member)`, the pointer to the `T` whose `member` `p` points
    /// at, is `(T *)((uint64)p - offsetof(T, member))`: its type argument is a `typeof`, so
    /// it is written out here, where that type is known.
    fn container_of(&mut self, e: &mut Expr) -> Result<(), Diagnostic> {
        let ExprKind::Call { args, .. } = &mut e.kind else {
            return Ok(());
        };
        let usage = "container_of(pointer, typeof(type), member)";
        let [ptr, ty, member] = args.as_mut_slice() else {
            return Err(Diagnostic::error(
                format!("`container_of` takes 3 arguments, {} given", args.len()),
                e.span,
                "here",
            )
            .with_help(usage));
        };
        let ExprKind::Typeof(t) = &ty.kind else {
            return Err(Diagnostic::error(
                "`container_of`'s second argument is a type",
                ty.span,
                "not a type",
            )
            .with_help(format!("write it as `typeof(struct Name)`: {usage}")));
        };
        let ExprKind::Ident(field) = &member.kind else {
            return Err(Diagnostic::error(
                "`container_of`'s third argument is the name of a member",
                member.span,
                "not a member name",
            )
            .with_help(usage));
        };
        let mut container = TypeName {
            base: TypeBase::Typeof(t.clone()),
            pointers: 0,
            array: None,
            span: ty.span,
        };
        self.type_name(&mut container);
        let span = e.span;
        let address = Expr::new(
            ExprKind::Cast {
                ty: TypeName {
                    base: TypeBase::Builtin("uint64".into()),
                    pointers: 0,
                    array: None,
                    span: ptr.span,
                },
                expr: Box::new(ptr.clone()),
            },
            ptr.span,
        );
        let offset = Expr::new(
            ExprKind::Offsetof {
                ty: container.clone(),
                field: vec![Ident {
                    name: field.clone(),
                    span: member.span,
                }],
            },
            member.span,
        );
        let start = Expr::new(
            ExprKind::Binary {
                op: BinaryOp::Sub,
                lhs: Box::new(address),
                rhs: Box::new(offset),
            },
            span,
        );
        container.pointers += 1;
        e.kind = ExprKind::Cast {
            ty: container,
            expr: Box::new(start),
        };
        Ok(())
    }
}

/// `named` (what a `typeof` names) with the `*`s and `[N]` written after the `typeof`.
fn merge(named: TypeName, written: &TypeName) -> Result<TypeName, Diagnostic> {
    if named.array.is_some() && (written.pointers > 0 || written.array.is_some()) {
        return Err(Diagnostic::error(
            "a pointer to an array or an array of arrays is not compiled by tracebound",
            written.span,
            "the `typeof` names an array type",
        ));
    }
    Ok(TypeName {
        base: named.base,
        pointers: named.pointers + written.pointers,
        array: written.array.or(named.array),
        span: written.span,
    })
}

fn same_type(a: &TypeName, b: &TypeName) -> bool {
    a.base == b.base && a.pointers == b.pointers && a.array == b.array
}

fn unknown_type(e: &Expr) -> Diagnostic {
    Diagnostic::error(
        "tracebound cannot tell the type of this expression for `typeof`",
        e.span,
        "its type is not known before the kernel's types are read",
    )
    .with_help(
        "`typeof` reads the type of a literal, a comparison, a cast, `sizeof`, or a variable \
         holding one of those; write the type instead",
    )
}

/// The smallest signed integer type holding the literal (`0`, `1`, `-1`: `int8`); above
/// int64's range, `uint64`.
fn literal_type(n: u64, negative: bool) -> &'static str {
    let fits = |bits: u32| {
        let max = 1u64 << (bits - 1);
        if negative {
            n <= max
        } else {
            n < max
        }
    };
    match [8, 16, 32, 64].into_iter().find(|&b| fits(b)) {
        Some(8) => "int8",
        Some(16) => "int16",
        Some(32) => "int32",
        Some(_) => "int64",
        None => "uint64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::print_program;

    fn eliminated(src: &str) -> Result<String, Vec<Diagnostic>> {
        let program = crate::macros::expand(crate::parse::parse(src).map_err(|d| vec![d])?)?;
        eliminate(program).map(|p| print_program(&p))
    }

    #[test]
    fn literal_types_are_the_smallest_signed() {
        assert_eq!(literal_type(1, false), "int8");
        assert_eq!(literal_type(128, true), "int8");
        assert_eq!(literal_type(128, false), "int16");
        assert_eq!(literal_type(1 << 40, false), "int64");
        assert_eq!(literal_type(u64::MAX, false), "uint64");
    }

    #[test]
    fn typeof_of_a_type_merges_with_what_follows() {
        let out = eliminated(
            "macro sof(a, b) { sizeof(a[2]) + sizeof(b*) + sizeof(b) } \
             begin { print(sof(typeof(uint64*), typeof(struct Foo))); }",
        )
        .unwrap();
        assert!(out.contains("sizeof(uint64 *[2])"), "{out}");
        assert!(out.contains("sizeof(struct Foo *)"), "{out}");
        assert!(out.contains("sizeof(struct Foo)"), "{out}");
        assert!(!out.contains("typeof"), "{out}");
    }

    #[test]
    fn typeof_in_casts_and_declarations() {
        let out = eliminated(
            "macro cst(a) { (a*)-1 } begin { print(cst(typeof(uint8))); \
             let $a: typeof(size_t) = 1; let $b: typeof(size_t*) = &$a; \
             $c = (typeof($a))2; let $d: typeof(-1000); let $e: typeof(1 == 2); }",
        )
        .unwrap();
        assert!(out.contains("(uint8 *)-1"), "{out}");
        assert!(out.contains("let $a: uint64 = 1"), "{out}");
        assert!(out.contains("let $b: uint64 * = &$a"), "{out}");
        assert!(out.contains("(uint64)2"), "{out}");
        assert!(out.contains("let $d: int16"), "{out}");
        assert!(out.contains("let $e: bool"), "{out}");
    }

    #[test]
    fn typeof_of_a_macro_argument_value_and_nested_typeof() {
        let out = eliminated(
            "macro add(x) { let $y: typeof(x); if (true) { $y = 1 } x + $y } \
             macro m(t) { sizeof(t) + 2 } macro n(z) { print(m(typeof(z))); } \
             begin { print(add(1)); n(typeof(uint64*)); }",
        )
        .unwrap();
        assert!(out.contains(": int8"), "{out}");
        assert!(out.contains("sizeof(uint64 *) + 2"), "{out}");
    }

    #[test]
    fn container_of_is_the_pointer_back_from_the_member() {
        let out = eliminated(
            "struct Foo { int m; int n; } \
             begin { $n = (int32 *)0; $f = container_of($n, typeof(struct Foo), n); }",
        )
        .unwrap();
        assert!(
            out.contains("$f = (struct Foo *)((uint64)$n - offsetof(struct Foo, n))"),
            "{out}"
        );
        for (src, at) in [
            ("begin { $f = container_of(1, 2); }", "container_of(1, 2)"),
            ("begin { $f = container_of(1, 2, n); }", "2"),
            (
                "begin { $f = container_of(1, typeof(struct Foo), 3); }",
                "3",
            ),
        ] {
            let diags = eliminated(src).unwrap_err();
            assert_eq!(diags.len(), 1, "{src}: {diags:?}");
            let span = diags[0].span();
            assert_eq!(&src[span.start as usize..span.end as usize], at, "{src}");
        }
    }

    #[test]
    fn what_it_cannot_type_is_refused_at_the_text() {
        let src = "begin { let $x: typeof(pid + 1) = 2; }";
        let diags = eliminated(src).unwrap_err();
        assert_eq!(diags.len(), 1);
        let at = diags[0].span();
        assert_eq!(&src[at.start as usize..at.end as usize], "pid + 1");
        let src = "begin { $v = typeof(uint8); }";
        let diags = eliminated(src).unwrap_err();
        assert!(diags[0].message.contains("not a value"));
        let src = "begin { let $x: typeof(uint8[4])*; }";
        assert!(eliminated(src).is_err());
    }
}

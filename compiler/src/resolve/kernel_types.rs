//! Kernel types for each probe's expressions: every member access, deref and index on a
//! BTF-typed value (`curtask`, a cast to `struct X *`, a fentry argument, a variable holding
//! one), every `sizeof`/`offsetof` and kernel enumerator, turned into a `KernelAccess` that
//! lowering follows, written into the expression it describes (`Expr::kernel`). Unknown types
//! and members are diagnostics here, at the name.

use std::collections::{HashMap, HashSet};

use super::ResolvedProbe;
use crate::ast::visit::{self, VisitorMut};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::{CKind, CType, KernelTypes, TypeEnv, View};
use crate::machine::facts::{FactError, MachineFacts};
use crate::program::{EnumNames, StructField, StructLayout, ValueType};
use crate::span::Span;
use crate::types::{KType, KernelAccess, KernelValue};

use super::value_size::{layout_of, Layout, VarLayouts};

/// Types the kernel-typed expressions of each probe item; `probes` has one entry per probe
/// item, in order.
pub fn type_probes(
    program: &mut Program,
    probes: &[ResolvedProbe],
    arg_types: &[HashMap<String, CType>],
    facts: &dyn MachineFacts,
) -> Result<(), Vec<Diagnostic>> {
    let kt = KernelTypes::new(facts);
    let mut diags = Vec::new();
    // A map's pointer type holds across probes, as a map's value type does.
    let mut maps = HashMap::new();
    let mut untyped_maps = HashSet::new();
    let items = program.items.iter_mut().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    });
    for (index, (probe, resolved)) in items.zip(probes).enumerate() {
        let mut typer = Typer {
            kt: &kt,
            env: TypeEnv {
                vars: HashMap::new(),
                maps: std::mem::take(&mut maps),
                args: arg_types.get(index).cloned().unwrap_or_default(),
                user: resolved.kind.context().user_memory,
                binary: resolved
                    .targets
                    .first()
                    .and_then(|t| t.binary())
                    .map(str::to_string),
            },
            untyped_maps: std::mem::take(&mut untyped_maps),
            diags: Vec::new(),
            layouts: VarLayouts::default(),
            sized: Vec::new(),
        };
        typer.probe(probe);
        typer.check_sized_vars();
        maps = typer.env.maps;
        untyped_maps = typer.untyped_maps;
        diags.extend(typer.diags);
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

struct Typer<'k, 'f> {
    kt: &'k KernelTypes<'f>,
    env: TypeEnv,
    /// Maps assigned something other than one pointer type: never typed again.
    untyped_maps: HashSet<String>,
    diags: Vec<Diagnostic>,
    /// The probe's variables' layouts, for `sizeof` of a value.
    layouts: VarLayouts,
    /// Each variable a `sizeof` read, the layout it read, and where: a later assignment
    /// must not change it.
    sized: Vec<(String, Option<Layout>, Span)>,
}

impl VisitorMut for Typer<'_, '_> {
    /// Statements in order, so that a variable's kernel type is known where it is read.
    fn stmt(&mut self, s: &mut Stmt) {
        if let StmtKind::Let { ty: Some(ty), .. } = &mut s.kind {
            if let Err(d) = self.typedef_int(ty) {
                self.fail(d);
            }
        }
        match &mut s.kind {
            StmtKind::Assign {
                target,
                op: None,
                value,
            } => {
                self.expr(value);
                self.expr(target);
                match &target.kind {
                    ExprKind::Var(v) => {
                        self.note_var(v, value);
                        let layout = layout_of(value, &self.layouts, self.kt, &self.env);
                        self.layouts.note(v, layout);
                    }
                    ExprKind::Map { name, .. } => self.note_map(&name.name, value),
                    _ => {}
                }
            }
            // `p += n` and `p -= n` on a pointer are `p = p + n`, which steps by elements.
            StmtKind::Assign {
                target,
                op: op @ Some(BinaryOp::Add | BinaryOp::Sub),
                value,
            } if self.is_pointer(target) => {
                let span = value.span;
                let stepped = Expr::new(
                    ExprKind::Binary {
                        op: op.take().expect("matched Some"),
                        lhs: Box::new(target.clone()),
                        rhs: Box::new(std::mem::replace(value, Expr::new(ExprKind::Int(0), span))),
                    },
                    span,
                );
                *value = stepped;
                self.stmt(s);
            }
            StmtKind::Let {
                var,
                value: Some(value),
                ty,
            } => {
                self.expr(value);
                self.note_var(&var.name, value);
                let layout = match ty {
                    Some(ty) => layout_of(
                        &Expr::new(
                            ExprKind::Cast {
                                ty: ty.clone(),
                                expr: Box::new(value.clone()),
                            },
                            value.span,
                        ),
                        &self.layouts,
                        self.kt,
                        &self.env,
                    ),
                    None => layout_of(value, &self.layouts, self.kt, &self.env),
                };
                self.layouts.note(&var.name, layout);
            }
            StmtKind::Assign {
                target:
                    Expr {
                        kind: ExprKind::Var(v),
                        ..
                    },
                op: Some(_),
                ..
            } => {
                self.layouts.note(v, None);
                visit::walk_stmt_mut(self, s);
            }
            StmtKind::For { var, .. } => {
                self.layouts.note(&var.name, None);
                visit::walk_stmt_mut(self, s);
            }
            _ => visit::walk_stmt_mut(self, s),
        }
    }

    /// The access of one expression, when it has one, written into it; then those inside.
    fn expr(&mut self, e: &mut Expr) {
        if let Err(d) = self.typedef_cast(e) {
            self.fail(d);
        }
        match self.access(e) {
            Ok(None) if matches!(e.kind, ExprKind::SizeofExpr(_)) => match self.value_sizeof(e) {
                Ok(size) => e.kernel = Some(Box::new(KernelAccess::Const(size))),
                Err(d) => self.fail(d),
            },
            Ok(access) => e.kernel = access.map(Box::new),
            Err(d) => self.fail(d),
        }
        if let ExprKind::Update { target, .. } = &e.kind {
            if let ExprKind::Var(v) = &target.kind {
                self.layouts.note(v, None);
            }
        }
        visit::walk_expr_mut(self, e);
    }
}

impl Typer<'_, '_> {
    fn is_pointer(&self, e: &Expr) -> bool {
        matches!(self.kt.type_of(e, &self.env), Ok(Some(t))
            if matches!(self.kt.view(&t, e.span), Ok(View::Pointer { .. })))
    }

    /// `sizeof` of a value the script holds, when its layout is the current release's for
    /// certain; refused otherwise.
    fn value_sizeof(&mut self, e: &Expr) -> Result<u64, Diagnostic> {
        let ExprKind::SizeofExpr(inner) = &e.kind else {
            unreachable!("called for sizeof only")
        };
        let Some(layout) = layout_of(inner, &self.layouts, self.kt, &self.env) else {
            return Err(Diagnostic::error(
                "tracebound cannot tell this value's size as the current release lays it out",
                inner.span,
                "sizeof of this value",
            )
            .with_help(
                "sizeof takes a type, a C-typed value, or literals, casts, strings, \
                 comparisons and tuples of them (and variables holding one of those)",
            ));
        };
        let mut used = Vec::new();
        visit::expr(inner, &mut |x: &Expr| {
            if let ExprKind::Var(v) = &x.kind {
                used.push(v.clone());
            }
        });
        for v in used {
            let l = self.layouts.get(&v);
            self.sized.push((v, l, inner.span));
        }
        Ok(layout.size as u64)
    }

    /// A variable `sizeof` read must keep that layout to the probe's end (a later
    /// assignment of another type changes the current release's static type).
    fn check_sized_vars(&mut self) {
        for (v, used, span) in std::mem::take(&mut self.sized) {
            if self.layouts.get(&v) != used {
                self.fail(
                    Diagnostic::error(
                        format!("`${v}` is assigned values of different types in this probe"),
                        span,
                        "its size is not one",
                    )
                    .with_help("cast every value assigned to it to one type"),
                );
            }
        }
    }

    fn note_var(&mut self, var: &str, value: &Expr) {
        match self.kt.type_of(value, &self.env) {
            Ok(Some(t)) if matches!(self.kt.view(&t, value.span), Ok(View::Pointer { .. })) => {
                self.env.vars.insert(var.to_string(), t);
            }
            _ => {
                self.env.vars.remove(var);
            }
        }
    }

    /// A map keeps a pointer type while every assignment seen gives it the same one.
    fn note_map(&mut self, map: &str, value: &Expr) {
        let typed = match self.kt.type_of(value, &self.env) {
            Ok(Some(t)) if matches!(self.kt.view(&t, value.span), Ok(View::Pointer { .. })) => {
                Some(t)
            }
            _ => None,
        };
        match (typed, self.env.maps.get(map)) {
            (Some(t), None) if !self.untyped_maps.contains(map) => {
                self.env.maps.insert(map.to_string(), t);
            }
            (Some(t), Some(known)) if *known == t => {}
            _ => {
                self.env.maps.remove(map);
                self.untyped_maps.insert(map.to_string());
            }
        }
    }

    /// `(pid_t)x`, `(u8[4])x`: a cast to a kernel typedef of an integer becomes the script's
    /// own integer cast of that width and sign (`(int32)x`), which lowering knows. (The C
    /// library's fixed-width names, `uint64_t`, are the script's integers from the parser on.)
    fn typedef_cast(&self, e: &mut Expr) -> Result<(), Diagnostic> {
        match &mut e.kind {
            ExprKind::Cast { ty, .. } => self.typedef_int(ty),
            _ => Ok(()),
        }
    }

    /// A typedef of an integer, as in a cast or `let $x: pid_t`, made the script's integer.
    fn typedef_int(&self, ty: &mut TypeName) -> Result<(), Diagnostic> {
        if ty.pointers > 0 || !matches!(ty.base, TypeBase::Named(_)) {
            return Ok(());
        }
        let Some(t) = self.kt.type_name(
            &TypeName {
                array: None,
                ..ty.clone()
            },
            false,
        )?
        else {
            return Ok(());
        };
        if let (View::Int { size, signed }, None) = (self.kt.view(&t, ty.span)?, self.enum_of(&t)) {
            let sign = if signed { "" } else { "u" };
            ty.base = TypeBase::Builtin(format!("{sign}int{}", size * 8));
        }
        Ok(())
    }

    fn fail(&mut self, d: Diagnostic) {
        if !self.diags.iter().any(|x| x.span() == d.span()) {
            self.diags.push(d);
        }
    }

    /// How far one step moves a pointer of type `pointer` (`None` if it is not a pointer).
    fn step_size(&self, pointer: &CType, span: Span) -> Result<Option<u32>, Diagnostic> {
        let View::Pointer { to } = self.kt.view(pointer, span)? else {
            return Ok(None);
        };
        // `void *` moves by bytes, as GNU C does.
        Ok(Some(match self.kt.view(&to, span)? {
            View::Other(_) => 1,
            _ => self.kt.size(&to, span)?,
        }))
    }

    /// A name no builtin has that an included header defines, in any case (`__NR_read`,
    /// `SYS_read`; check lets such names through where the script includes headers). A
    /// stack mode or a type name (`kstack(perf)`) is one only where a header defines it, as
    /// the preprocessor would replace it too.
    fn is_header_macro(&self, name: &str) -> bool {
        tracebound_stdlib::lookup(name).is_none() && self.kt.facts.header_macro(name).is_some()
    }

    /// A name in capitals, or a header's macro: its value, an enumerator of the kernel or
    /// the script, or an error.
    fn constant_name(&self, name: &str, span: Span) -> Result<KernelAccess, Diagnostic> {
        if let Some(found) = self.enumerator(name) {
            return Ok(found);
        }
        if let Some(Err(FactError::Malformed { what, reason })) = self.kt.facts.header_macro(name) {
            return Err(Diagnostic::error(
                format!("{what} cannot be used here"),
                span,
                "not an integer",
            )
            .with_note(reason)
            .with_help(format!("define it in the script: `#define {name} <value>`")));
        }
        let d = Diagnostic::error(
            format!("unknown identifier `{name}`"),
            span,
            "not an enum constant of this kernel or the script",
        )
        .with_note(
            "a name in capitals is an enum constant from the kernel's BTF or the script's own \
             definitions, or an integer macro of a header it includes",
        );
        let d = match self.kt.facts.kernel_enumerator(name) {
            Err(FactError::Unavailable { reason }) => d.with_note(reason),
            _ => d,
        };
        Err(d.with_help(format!(
            "include the header that defines it, or define it in the script: `#define {name} <value>`"
        )))
    }

    /// `sizeof` and `offsetof` of a C type or a C-typed value: a constant of the compile.
    fn size_or_offset(&self, e: &Expr) -> Result<Option<KernelAccess>, Diagnostic> {
        let kt = self.kt;
        let typed = |x: &Expr| kt.type_of(x, &self.env);
        Ok(Some(match &e.kind {
            ExprKind::SizeofType(ty) => match kt.type_name(ty, false)? {
                Some(t) => KernelAccess::Const(kt.size(&t, ty.span)? as u64 * array_len(ty)),
                None => return Ok(builtin_size(ty).map(KernelAccess::Const)),
            },
            ExprKind::SizeofExpr(inner) => match typed(inner)? {
                Some(t) => KernelAccess::Const(kt.size(&t, inner.span)? as u64),
                None => return self.sizeof_name(inner),
            },
            ExprKind::Offsetof { ty, field } => match kt.type_name(ty, false)? {
                Some(t) => KernelAccess::Const(kt.offset_of(&t, field, e.span)?),
                None => return Ok(None),
            },
            ExprKind::OffsetofExpr { expr, field } => match typed(expr)? {
                Some(t) => KernelAccess::Const(kt.offset_of(&t, field, e.span)?),
                None => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }

    fn access(&self, e: &Expr) -> Result<Option<KernelAccess>, Diagnostic> {
        let kt = self.kt;
        let typed = |x: &Expr| kt.type_of(x, &self.env);
        Ok(Some(match &e.kind {
            ExprKind::Field { expr, field, .. } if !is_args(expr) => {
                let Some(base) = typed(expr)? else {
                    return Ok(None);
                };
                let through_pointer = matches!(kt.view(&base, expr.span)?, View::Pointer { .. });
                let (record, record_type) = kt.record_of(&base, expr.span)?;
                let m = kt.field(&record, &record_type, field)?;
                let t = CType::kernel(m.ty, base.user);
                let (offset, bitfield) = match m.bitfield {
                    None => (m.bit_offset / 8, None),
                    Some(width) => {
                        let offset = m.bit_offset / 8;
                        (offset, Some((m.bit_offset % 8, width)))
                    }
                };
                KernelAccess::Member {
                    offset,
                    bitfield,
                    through_pointer,
                    value: self.value(&t, e.span)?,
                    user: base.user,
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                expr,
            } => match typed(expr)? {
                Some(base) => match kt.view(&base, expr.span)? {
                    View::Pointer { to } => KernelAccess::Deref {
                        value: self.value(&to, e.span)?,
                        user: base.user,
                    },
                    _ => return Ok(None),
                },
                None => return Ok(None),
            },
            ExprKind::Index { expr, index } => match typed(expr)? {
                Some(base) => {
                    let (elem, through_pointer, len) = match kt.view(&base, expr.span)? {
                        View::Pointer { to } => (to, true, None),
                        View::Array { elem, len, .. } => (elem, false, (len > 0).then_some(len)),
                        _ => return Ok(None),
                    };
                    if let (Some(len), ExprKind::Int(i)) = (len, &index.kind) {
                        if *i >= u64::from(len) {
                            return Err(out_of_bounds(*i, len, index.span));
                        }
                    }
                    KernelAccess::Index {
                        elem_size: kt.size(&elem, e.span)?,
                        through_pointer,
                        len,
                        value: self.value(&elem, e.span)?,
                        user: base.user,
                    }
                }
                None => return Ok(None),
            },
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub),
                lhs,
                rhs,
            } => {
                let (pointer, pointer_rhs) = match (typed(lhs)?, typed(rhs)?) {
                    (Some(p), None) => (p, false),
                    (None, Some(p)) if *op == BinaryOp::Add => (p, true),
                    _ => return Ok(None),
                };
                let Some(elem_size) = self.step_size(&pointer, e.span)? else {
                    return Ok(None);
                };
                KernelAccess::PointerStep {
                    elem_size,
                    pointer_rhs,
                    back: *op == BinaryOp::Sub,
                }
            }
            ExprKind::Update {
                target, increment, ..
            } => {
                let Some(pointer) = typed(target)? else {
                    return Ok(None);
                };
                let Some(elem_size) = self.step_size(&pointer, e.span)? else {
                    return Ok(None);
                };
                KernelAccess::PointerStep {
                    elem_size,
                    pointer_rhs: false,
                    back: !increment,
                }
            }
            ExprKind::SizeofType(_)
            | ExprKind::SizeofExpr(_)
            | ExprKind::Offsetof { .. }
            | ExprKind::OffsetofExpr { .. } => return self.size_or_offset(e),
            ExprKind::Ident(name) if is_constant_name(name) || self.is_header_macro(name) => {
                return self.constant_name(name, e.span).map(Some)
            }
            ExprKind::Cast { ty, .. } if ty.pointers == 0 && ty.array.is_none() => {
                return self.enum_cast(ty)
            }
            _ => return Ok(None),
        }))
    }

    /// `sizeof(uint64_t)`: a name no builtin has, looked up as a type; an enumerator is held
    /// in 8 bytes, as in the current release.
    fn sizeof_name(&self, inner: &Expr) -> Result<Option<KernelAccess>, Diagnostic> {
        let kt = self.kt;
        let ExprKind::Ident(name) = &inner.kind else {
            return Ok(None);
        };
        if tracebound_stdlib::lookup(name).is_some() {
            return Ok(None);
        }
        let ty = TypeName {
            base: TypeBase::Named(name.clone()),
            pointers: 0,
            array: None,
            span: inner.span,
        };
        Ok(Some(match kt.type_name(&ty, false) {
            Ok(Some(t)) => KernelAccess::Const(kt.size(&t, inner.span)? as u64),
            _ if kt.facts.kernel_enumerator(name).is_ok() => KernelAccess::Const(8),
            _ if is_constant_name(name) => return Ok(None),
            _ => {
                return Err(Diagnostic::error(
                    format!("unknown type or identifier `{name}`"),
                    inner.span,
                    "neither a C type nor a value",
                ))
            }
        }))
    }

    /// ALL_CAPS names the checker let through may be enumerators, the script's or the
    /// kernel's; those of an enum the facts know print by name.
    fn enumerator(&self, name: &str) -> Option<KernelAccess> {
        let facts = self.kt.facts;
        // A header's macro stands for its value before any enum is looked at, as the
        // preprocessor replaces it before the compiler sees a name.
        if let Some(found) = facts.header_macro(name) {
            let m = found.ok()?;
            return Some(match m.signed {
                true => KernelAccess::Signed(m.value),
                false => KernelAccess::Const(m.value as u64),
            });
        }
        let v = facts.kernel_enumerator(name).ok()?;
        Some(
            match facts.enumerator_enum(name).map(|id| facts.kernel_type(id)) {
                Ok(Ok(KType::Enum(e))) => KernelAccess::Enumerator(v, enum_names(&e, 8)),
                _ => KernelAccess::Const(v as u64),
            },
        )
    }

    /// `(enum Foo)x`: the integer, printed by `Foo`'s names. A cast to a struct or union
    /// itself (not a pointer to one) is refused, as bpftrace refuses it.
    fn enum_cast(&self, ty: &TypeName) -> Result<Option<KernelAccess>, Diagnostic> {
        let kt = self.kt;
        if !matches!(ty.base, TypeBase::Aggregate(..) | TypeBase::Named(_)) {
            return Ok(None);
        }
        let Some(t) = kt.type_name(ty, false)? else {
            return Ok(None);
        };
        match self.enum_of(&t) {
            Some(e) => Ok(Some(KernelAccess::EnumCast(enum_names(&e, 8)))),
            None => Err(Diagnostic::error(
                format!("cannot cast a value to `{}`", kt.describe(&t)),
                ty.span,
                "not a cast bpftrace allows",
            )
            .with_help(format!(
                "cast to a pointer, `({} *)`, and read through it",
                kt.describe(&t)
            ))),
        }
    }

    fn value(&self, t: &CType, span: Span) -> Result<KernelValue, Diagnostic> {
        if let Some(e) = self.enum_of(t) {
            return Ok(KernelValue::Enum(enum_names(&e, e.size)));
        }
        let aggregate = || KernelValue::Aggregate {
            what: self.kt.describe(t),
        };
        let float = || KernelValue::Float {
            what: self.kt.describe(t),
        };
        Ok(match self.kt.view(t, span)? {
            View::Int { size, signed } => KernelValue::Int { size, signed },
            View::Pointer { .. } => KernelValue::Pointer,
            View::CharArray { len } => KernelValue::Str { len },
            View::Float { .. } => float(),
            View::Array { .. } => match self.array_type(t, span)? {
                Some(array) if array_of_floats(&array) => float(),
                Some(array) => KernelValue::Array(array),
                None => aggregate(),
            },
            View::Record(r) if r.size <= MAX_STRUCT_VALUE => match self.array_type(t, span)? {
                Some(layout) => KernelValue::Struct(layout),
                None => aggregate(),
            },
            View::Record(_) | View::Other(_) => aggregate(),
        })
    }

    fn enum_of(&self, t: &CType) -> Option<crate::types::Enum> {
        match &t.kind {
            CKind::Kernel(id) => match self.kt.facts.kernel_type(*id) {
                Ok(KType::Enum(e)) => Some(e),
                _ => None,
            },
            CKind::PointerTo(_) => None,
        }
    }

    /// A value of type `t` as the script holds it when copied whole, as an element of an
    /// array or a member of a struct: integers, enums, pointers (as u64s), `char[N]` as
    /// strings, floats (as bytes printed `null`), and arrays and structs of those. `None`
    /// for anything else.
    fn array_type(&self, t: &CType, span: Span) -> Result<Option<ValueType>, Diagnostic> {
        if let Some(e) = self.enum_of(t) {
            return Ok(Some(ValueType::Enum(enum_names(&e, e.size))));
        }
        Ok(match self.kt.view(t, span)? {
            View::Int { size, signed } => Some(ValueType::Int { size, signed }),
            View::Pointer { .. } => Some(ValueType::Int {
                size: 8,
                signed: false,
            }),
            View::CharArray { len } if len > 0 => Some(ValueType::str(len)),
            View::Array { elem, len, .. } if len > 0 => {
                self.array_type(&elem, span)?.map(|elem| ValueType::Array {
                    elem: Box::new(elem),
                    len,
                })
            }
            View::Record(r) if r.size <= MAX_STRUCT_VALUE => self.struct_layout(&r, t, span)?,
            View::Float { size } => Some(ValueType::Float { size }),
            _ => None,
        })
    }

    /// A struct's fields where they lie (an anonymous member's own fields in its place, as
    /// they are read), or `None` when one of them is nothing the script can hold.
    fn struct_layout(
        &self,
        r: &crate::types::Record,
        t: &CType,
        span: Span,
    ) -> Result<Option<ValueType>, Diagnostic> {
        let mut fields = Vec::new();
        if !self.struct_fields(r, t, 0, span, &mut fields)? {
            return Ok(None);
        }
        let mut align = 1;
        for f in &fields {
            align = align.max(f.ty.align());
        }
        // A packed struct's size is no multiple of its members' alignment.
        if !r.size.is_multiple_of(align) {
            align = 1;
        }
        Ok(Some(ValueType::Struct(StructLayout {
            size: r.size,
            align,
            fields,
        })))
    }

    fn struct_fields(
        &self,
        r: &crate::types::Record,
        t: &CType,
        base_bits: u32,
        span: Span,
        out: &mut Vec<StructField>,
    ) -> Result<bool, Diagnostic> {
        for m in &r.members {
            let mt = CType::kernel(m.ty, t.user);
            let bits = base_bits + m.bit_offset;
            if m.name.is_empty() {
                if let View::Record(inner) = self.kt.view(&mt, span)? {
                    if !self.struct_fields(&inner, &mt, bits, span, out)? {
                        return Ok(false);
                    }
                    continue;
                }
            }
            // A pointer member prints as the current release prints pointers.
            let ty = match self.kt.view(&mt, span)? {
                View::Pointer { .. } => Some(ValueType::Pointer),
                _ => self.array_type(&mt, span)?,
            };
            let Some(ty) = ty else {
                return Ok(false);
            };
            out.push(StructField {
                name: m.name.clone(),
                offset: bits / 8,
                bitfield: m.bitfield.map(|w| (bits % 8, w)),
                ty,
            });
        }
        Ok(true)
    }
}

/// The largest struct copied whole as a value (a `print(*curtask)` would not fit the
/// stack, nor would printing it help).
const MAX_STRUCT_VALUE: u32 = 1024;

/// `float x[4]` (or `double y[2][2]`): nothing but bytes the script cannot read, when it
/// is read on its own rather than as a struct's member.
fn array_of_floats(t: &ValueType) -> bool {
    match t {
        ValueType::Float { .. } => true,
        ValueType::Array { elem, .. } => array_of_floats(elem),
        _ => false,
    }
}

/// An enum's names for a value of `size` bytes.
fn enum_names(e: &crate::types::Enum, size: u32) -> EnumNames {
    EnumNames {
        name: e.name.clone(),
        size,
        signed: e.signed,
        values: e.values.clone(),
    }
}

/// bpftrace's words for a constant index past an array's end.
pub(crate) fn out_of_bounds(index: u64, len: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the index {index} is out of bounds for array of size {len}"),
        span,
        "out of bounds",
    )
}

/// `sizeof(uint32)` and friends.
fn builtin_size(ty: &TypeName) -> Option<u64> {
    let elem = if ty.pointers > 0 {
        8
    } else {
        let TypeBase::Builtin(name) = &ty.base else {
            return None;
        };
        let bits: u64 = name
            .trim_start_matches('u')
            .trim_start_matches("int")
            .parse()
            .ok()?;
        bits / 8
    };
    Some(elem * array_len(ty))
}

/// How many elements `T[N]` has (1 for a type with no `[N]`): `uint32*[10]` is ten
/// pointers.
fn array_len(ty: &TypeName) -> u64 {
    ty.array.map_or(1, |a| match a {
        ArraySize::Fixed(n) => n,
        ArraySize::Inferred => 1,
    })
}

fn is_constant_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "args")
}

#[cfg(test)]
mod tests {
    use crate::ast::visit;
    use crate::machine::fixture::FixtureFacts;
    use crate::pipeline::{compile, CompileOptions};
    use crate::program::ValueType;
    use crate::types::{KernelAccess, KernelValue};

    fn compile_with_types(source: &str) -> Result<(), (String, String)> {
        let facts = FixtureFacts::bundled().with_kernel_types();
        compile(source, &facts, &CompileOptions::default())
            .map(|_| ())
            .map_err(|d| {
                (
                    source[d[0].span().range()].to_string(),
                    d[0].message.clone(),
                )
            })
    }

    #[test]
    fn member_chains_compile() {
        for source in [
            "t:syscalls:sys_enter_getppid { @[((struct task_struct *)curtask)->real_parent->pid] = count(); }",
            "BEGIN { $t = (struct task_struct *)curtask; printf(\"%s %d\\n\", $t->comm, $t->mm->map_count); }",
            "BEGIN { @ = curtask->in_execve + curtask->b + curtask->vals[1] + curtask.tasks.next->prev; }",
            "BEGIN { @ = sizeof(struct task_struct) + offsetof(struct task_struct, comm) + PIDTYPE_TGID; }",
            "BEGIN { @ = (*curtask).pid_kind; @s = sizeof(uint32); }",
            // `+=` lowers as `$x + value` at the value's span: keyed by span, the sum was
            // taken for the member read itself and refused.
            "BEGIN { $x = 1; $x += curtask->pid; @ = $x; }",
            // `c ?: b` holds `c` twice; each copy is typed.
            "BEGIN { @ = curtask->pid ?: 1; }",
            // `&` of a member is a typed pointer, `->` reads through it.
            "BEGIN { $l = &curtask->tasks; @ = $l->next->prev == $l; @p = &(*curtask).pid; }",
        ] {
            compile_with_types(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        }
    }

    #[test]
    fn whole_structs_and_unknown_names_are_diagnostics() {
        assert_eq!(
            compile_with_types("struct Big { long a[200]; } BEGIN { print(*(struct Big *)0); }")
                .unwrap_err(),
            (
                "*(struct Big *)0".into(),
                "a whole struct Big cannot be used as a value".into()
            )
        );
        assert_eq!(
            compile_with_types("BEGIN { print(curtask->mm->nope); }").unwrap_err(),
            ("nope".into(), "struct mm_struct has no field `nope`".into())
        );
    }

    /// A C macro of a kernel header (0.17's tools `#include` them) is no enum constant here:
    /// an error that says so at the name, not "not compiled yet".
    #[test]
    fn a_name_in_capitals_no_enum_has_is_an_unknown_identifier() {
        assert_eq!(
            compile_with_types("BEGIN { print(TASK_RUNNING); }").unwrap_err(),
            (
                "TASK_RUNNING".into(),
                "unknown identifier `TASK_RUNNING`".into()
            )
        );
        compile_with_types("#define TASK_RUNNING 0\nBEGIN { print(TASK_RUNNING); }").unwrap();
    }

    #[test]
    fn script_structs_with_arrays_compile() {
        for source in [
            // Element reads with constant, variable and nested indexes; whole arrays into
            // maps, map keys, tuples and variables; arrays of pointers; a flexible member.
            "struct A { int x[4]; int y[2][2]; int *z[4]; } BEGIN { $a = (struct A *)0; \
             $i = (uint64)1; @x = $a.x[0] + $a.x[$i] + $a.y[1][0] + *$a.z[1]; @w = $a.x; \
             @k[$a.y] = 1; @t = (1, $a.x); $v = $a.x; @e = $v[$i] + $v[2]; @q = $a.x == $v; }",
            "struct D { int x; int y[0]; } BEGIN { @y = ((struct D *)0).y[3]; }",
            // Typed pointers of the script's integers, stepped in elements, kept in maps.
            "BEGIN { @p = *((uint16 *)0 + 1); $q = (int32 *)8; @m[0] = $q; @v = @m[0][2] + $q[1]; }",
        ] {
            compile_with_types(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        }
    }

    #[test]
    fn constant_indexes_past_the_end_are_errors_at_the_index() {
        let bounds = "the index 5 is out of bounds for array of size 4";
        assert_eq!(
            compile_with_types("struct A { int x[4]; } BEGIN { @ = ((struct A *)0).x[5]; }")
                .unwrap_err(),
            ("5".into(), bounds.into())
        );
        assert_eq!(
            compile_with_types(
                "struct A { int x[4]; } BEGIN { $v = ((struct A *)0).x; @ = $v[5]; }"
            )
            .unwrap_err(),
            ("5".into(), bounds.into())
        );
        assert_eq!(
            compile_with_types("struct A { nope x; } BEGIN { @ = 1; }")
                .unwrap_err()
                .1,
            "unknown type `nope`"
        );
    }

    /// Every kernel access resolve writes into the first probe of `source`.
    fn accesses(source: &str) -> Vec<KernelAccess> {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program = crate::parse::parse(source).unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let probe = resolved
            .ast
            .items
            .iter()
            .find_map(|i| match i {
                crate::ast::Item::Probe(p) => Some(p),
                _ => None,
            })
            .unwrap();
        let mut out = Vec::new();
        visit::probe_exprs(probe, &mut |e| out.extend(e.kernel.as_deref().cloned()));
        out
    }

    #[test]
    fn enumerators_and_enum_casts_carry_their_names() {
        let found = accesses("enum Foo { A = 1, B } BEGIN { @ = B; @c = (enum Foo)$x; }");
        let names = |found: &KernelAccess| match found {
            KernelAccess::Enumerator(_, n) | KernelAccess::EnumCast(n) => Some(n.clone()),
            _ => None,
        };
        assert!(matches!(found[0], KernelAccess::Enumerator(2, _)));
        let n = names(&found[0]).unwrap();
        assert_eq!((n.name.as_str(), n.size), ("Foo", 8));
        assert_eq!(n.values, [("A".to_string(), 1), ("B".to_string(), 2)]);
        assert!(matches!(found[1], KernelAccess::EnumCast(_)));
        assert_eq!(
            compile_with_types("struct S { int x; } BEGIN { @ = (struct S)1; }")
                .unwrap_err()
                .1,
            "cannot cast a value to `struct S`"
        );
    }

    #[test]
    fn whole_structs_are_values_with_their_layout() {
        let found = accesses(
            "struct In { char c; } struct S { int a:4, b:4; struct In in; char t[2]; enum E { X } e; } \
             BEGIN { @ = *(struct S *)0; }",
        );
        let KernelAccess::Deref {
            value: KernelValue::Struct(ValueType::Struct(layout)),
            ..
        } = &found[0]
        else {
            panic!("{found:?}")
        };
        type Placed<'a> = (&'a str, u32, Option<(u32, u32)>);
        let fields: Vec<Placed> = layout
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset, f.bitfield))
            .collect();
        assert_eq!(
            fields,
            [
                ("a", 0, Some((0, 4))),
                ("b", 0, Some((4, 4))),
                ("in", 1, None),
                ("t", 2, None),
                ("e", 4, None)
            ]
        );
        assert_eq!((layout.size, layout.align), (8, 4));
        assert!(matches!(layout.fields[3].ty, ValueType::Str { len: 2, .. }));
        assert!(matches!(layout.fields[4].ty, ValueType::Enum(_)));
    }

    /// A float member keeps its bytes, so the members after it are where C put them, and
    /// prints as the current release's `null`; reading one on its own is refused.
    #[test]
    fn float_members_hold_their_place_and_are_refused_alone() {
        let found = accesses(
            "union N { int i; float f; } struct S { char c; double d; int after; \
             float arr[2]; long double q; short last; union N n; } BEGIN { @ = *(struct S *)0; }",
        );
        let KernelAccess::Deref {
            value: KernelValue::Struct(ValueType::Struct(layout)),
            ..
        } = &found[0]
        else {
            panic!("{found:?}")
        };
        let fields: Vec<(&str, u32, &ValueType)> = layout
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset, &f.ty))
            .collect();
        let float = |size| ValueType::Float { size };
        assert_eq!(fields[1], ("d", 8, &float(8)));
        assert_eq!(fields[2].1, 16);
        assert_eq!(
            fields[3],
            (
                "arr",
                20,
                &ValueType::Array {
                    elem: Box::new(float(4)),
                    len: 2
                }
            )
        );
        assert_eq!(fields[4], ("q", 32, &float(16)));
        assert_eq!((fields[5].0, fields[5].1), ("last", 48));
        assert_eq!((layout.size, layout.align), (64, 16));
        let defined = "union N { int i; float f; } struct S { double d; float arr[2]; union N n; }";
        for (read, what) in [
            ("$s->d", "double"),
            ("$s->n.f", "float"),
            ("$s->arr", "float[2]"),
        ] {
            let source = format!("{defined} BEGIN {{ $s = (struct S *)0; @ = {read} + 1; }}");
            assert_eq!(
                compile_with_types(&source).unwrap_err(),
                (
                    read.into(),
                    format!("a floating-point value (`{what}`) cannot be read")
                ),
            );
        }
        // Its address and its size need no value.
        compile_with_types(
            "struct S { int m; double d; } BEGIN { @p = &((struct S *)0)->d; \
             @s = sizeof(((struct S *)0)->d) + sizeof(struct S); }",
        )
        .unwrap();
    }

    #[test]
    fn sizeof_of_values_is_the_current_releases_or_refused() {
        let sizes = |source: &str| -> Vec<KernelAccess> { accesses(source) };
        assert!(
            sizes("BEGIN { $t = ((int8)1, (int16)1, (int32)1); @ = sizeof($t); }")
                .contains(&KernelAccess::Const(8))
        );
        assert!(
            sizes("BEGIN { $x = 1; @ = sizeof(($x, \"abc\", 1 == 1)); }")
                .contains(&KernelAccess::Const(6))
        );
        assert_eq!(
            compile_with_types("BEGIN { @ = sizeof(pid); }").unwrap_err(),
            (
                "pid".into(),
                "tracebound cannot tell this value's size as the current release lays it out"
                    .into()
            )
        );
        assert_eq!(
            compile_with_types("BEGIN { $x = 1; @ = sizeof($x); $x = (uint64)2; }").unwrap_err(),
            (
                "$x".into(),
                "`$x` is assigned values of different types in this probe".into()
            )
        );
    }

    #[test]
    fn typedef_names_size_and_cast() {
        assert!(accesses("BEGIN { @ = sizeof(uint64_t) + sizeof(__u16); }")
            .contains(&KernelAccess::Const(2)));
        compile_with_types("BEGIN { @a = (uint64_t)1; @b = (int16_t)-1; @c = *(size_t *)0; }")
            .unwrap();
        assert_eq!(
            compile_with_types("BEGIN { @ = sizeof(nope_t); }").unwrap_err(),
            (
                "nope_t".into(),
                "unknown type or identifier `nope_t`".into()
            )
        );
    }

    #[test]
    fn pointer_steps_scale_by_the_element_size() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program = crate::parse::parse("BEGIN { @a = *((uint32 *)0 + 3); }").unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let crate::ast::Item::Probe(probe) = &resolved.ast.items[0] else {
            panic!("not a probe")
        };
        let mut accesses = Vec::new();
        visit::probe_exprs(probe, &mut |e| {
            accesses.extend(e.kernel.as_deref().cloned())
        });
        assert!(accesses.contains(&KernelAccess::PointerStep {
            elem_size: 4,
            pointer_rhs: false,
            back: false
        }));
    }

    /// `p += n`, `p -= n`, `p++` and `--p` step by elements too, for variables and maps.
    #[test]
    fn compound_and_update_steps_scale_by_the_element_size() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let text = "BEGIN { $p = (uint16 *)0; $p += 3; @m = (uint64 *)0; @m -= 1; $p++; --@m; }";
        let program = crate::parse::parse(text).unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let crate::ast::Item::Probe(probe) = &resolved.ast.items[0] else {
            panic!("not a probe")
        };
        let mut steps = Vec::new();
        visit::probe_exprs(probe, &mut |e| {
            if let Some(KernelAccess::PointerStep {
                elem_size, back, ..
            }) = e.kernel.as_deref()
            {
                steps.push((*elem_size, *back));
            }
        });
        steps.sort();
        assert_eq!(steps, [(2, false), (2, false), (8, true), (8, true)]);
    }

    #[test]
    fn bitfields_and_anonymous_members_have_their_offsets() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program =
            crate::parse::parse("BEGIN { @a = curtask->in_execve; @b = curtask->b; }").unwrap();
        let resolved =
            crate::resolve::resolve(program, &facts, crate::config::MissingProbes::Error).unwrap();
        let mut accesses = Vec::new();
        let crate::ast::Item::Probe(probe) = &resolved.ast.items[0] else {
            panic!("not a probe")
        };
        visit::probe_exprs(probe, &mut |e| {
            accesses.extend(e.kernel.as_deref().cloned())
        });
        accesses.sort_by_key(|a| format!("{a:?}"));
        assert_eq!(
            accesses,
            [
                KernelAccess::Member {
                    offset: 48,
                    bitfield: None,
                    through_pointer: true,
                    value: KernelValue::Int {
                        size: 4,
                        signed: false
                    },
                    user: false,
                },
                KernelAccess::Member {
                    offset: 52,
                    bitfield: Some((1, 1)),
                    through_pointer: true,
                    value: KernelValue::Int {
                        size: 4,
                        signed: false
                    },
                    user: false,
                },
            ]
        );
    }
}

//! The C types of script expressions that reach into kernel (or user) memory: `curtask`,
//! casts to `struct X *`, `->` and `.` chains, `*p`, `p[i]`, and BTF-typed probe arguments.
//! `KernelTypes` answers from the machine facts; lowering asks it what an expression is and
//! where a member lies, and turns its answers (or its diagnostics) into code.

use std::collections::HashMap;

use super::facts::{FactError, MachineFacts};
use crate::ast::{Aggregate, BinaryOp, Expr, ExprKind, Ident, TypeBase, TypeName, UnaryOp};
use crate::diagnostic::{nearest, Diagnostic};
use crate::span::Span;
use crate::types::{FoundMember, KType, NameSpace, Record, TypeId};

/// The C type of an expression's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CType {
    pub kind: CKind,
    /// The memory this value's pointers point into is user memory (a uprobe's pointers, or
    /// `uptr()`): reads use bpf_probe_read_user.
    pub user: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CKind {
    /// A type of the kernel's BTF.
    Kernel(TypeId),
    /// A pointer the script made with a cast (`(struct task_struct *)x`).
    PointerTo(Box<CType>),
}

/// What a C type is, for code generation: one level of it, with its children as `CType`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// Integers, enums and `_Bool`.
    Int {
        size: u32,
        signed: bool,
    },
    /// `char x[N]`: a string.
    CharArray {
        len: u32,
    },
    Array {
        elem: CType,
        elem_size: u32,
        len: u32,
    },
    Pointer {
        to: CType,
    },
    Record(Record),
    /// `float`, `double`, `long double`: bytes with a size, but no value BPF can compute
    /// with (the current release holds them only as part of a struct it prints).
    Float {
        size: u32,
    },
    /// Anything else (void, functions, forward declarations), named for messages.
    Other(String),
}

impl CType {
    pub fn kernel(id: TypeId, user: bool) -> CType {
        CType {
            kind: CKind::Kernel(id),
            user,
        }
    }

    pub fn pointer_to(to: CType) -> CType {
        CType {
            user: to.user,
            kind: CKind::PointerTo(Box::new(to)),
        }
    }
}

/// Kernel types through the machine facts, with the C types of the script's variables.
pub struct KernelTypes<'a> {
    pub facts: &'a dyn MachineFacts,
}

impl<'a> KernelTypes<'a> {
    pub fn new(facts: &'a dyn MachineFacts) -> KernelTypes<'a> {
        KernelTypes { facts }
    }

    /// `struct task_struct` and the like as written in a cast, `sizeof` or `offsetof`:
    /// `Ok(None)` for the script's own types (`uint32`, `string`).
    pub fn type_name(&self, ty: &TypeName, user: bool) -> Result<Option<CType>, Diagnostic> {
        let (space, name) = match &ty.base {
            TypeBase::Aggregate(Aggregate::Struct, n) => (NameSpace::Struct, n),
            TypeBase::Aggregate(Aggregate::Union, n) => (NameSpace::Union, n),
            TypeBase::Aggregate(Aggregate::Enum, n) => (NameSpace::Enum, n),
            TypeBase::Named(n) => (NameSpace::Typedef, n),
            // `(int32 *)p` points at script integers (`script_types` names them); `(int32)x`
            // is the script's own cast.
            TypeBase::Builtin(n) if ty.pointers > 0 => {
                return Ok(self
                    .facts
                    .kernel_type_named(NameSpace::Typedef, n)
                    .ok()
                    .map(|id| pointers(CType::kernel(id, user), ty.pointers)));
            }
            TypeBase::Builtin(_) => return Ok(None),
            // `type_of::eliminate` leaves none.
            TypeBase::Typeof(_) => {
                return Err(Diagnostic::error(
                    "`typeof` is not compiled here",
                    ty.span,
                    "write the type",
                ))
            }
        };
        let id = match self.facts.kernel_type_named(space, name) {
            Ok(id) => id,
            Err(FactError::NotFound { .. }) => {
                let written = match space {
                    NameSpace::Typedef => name.clone(),
                    s => format!("{} {name}", s.keyword()),
                };
                let mut d = Diagnostic::error(
                    format!("unknown type `{written}`"),
                    ty.span,
                    "the kernel's BTF has no such type",
                );
                if let Ok(names) = self.facts.kernel_type_names(space) {
                    if let Some(s) = nearest(name, names.iter().map(String::as_str)) {
                        let s = match space {
                            NameSpace::Typedef => s.to_string(),
                            sp => format!("{} {s}", sp.keyword()),
                        };
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                }
                return Err(d);
            }
            Err(e) => return Err(fact_diagnostic(e, ty.span)),
        };
        Ok(Some(pointers(CType::kernel(id, user), ty.pointers)))
    }

    /// One level of `t`.
    pub fn view(&self, t: &CType, span: Span) -> Result<View, Diagnostic> {
        let id = match &t.kind {
            CKind::PointerTo(to) => return Ok(View::Pointer { to: (**to).clone() }),
            CKind::Kernel(id) => *id,
        };
        let child = |id: TypeId| CType::kernel(id, t.user);
        Ok(
            match self
                .facts
                .kernel_type(id)
                .map_err(|e| fact_diagnostic(e, span))?
            {
                KType::Int { size, signed, .. } => View::Int { size, signed },
                KType::Enum(e) => View::Int {
                    size: e.size,
                    signed: e.signed,
                },
                KType::Pointer { to } => View::Pointer { to: child(to) },
                KType::Array { elem, len } => {
                    match self
                        .facts
                        .kernel_type(elem)
                        .map_err(|e| fact_diagnostic(e, span))?
                    {
                        KType::Int {
                            char: true,
                            size: 1,
                            ..
                        } => View::CharArray { len },
                        _ => View::Array {
                            elem_size: self.size(&child(elem), span)?,
                            elem: child(elem),
                            len,
                        },
                    }
                }
                KType::Record(r) => View::Record(r),
                KType::Void => View::Other("void".into()),
                KType::Float { size } => View::Float { size },
                KType::Forward { name, union } => View::Other(format!(
                    "{} {name} (declared but not defined in BTF)",
                    if union { "union" } else { "struct" }
                )),
                KType::FuncProto(_) => View::Other("a function".into()),
            },
        )
    }

    /// How many bytes a value of `t` takes.
    pub fn size(&self, t: &CType, span: Span) -> Result<u32, Diagnostic> {
        Ok(match self.view(t, span)? {
            View::Int { size, .. } => size,
            View::CharArray { len } => len,
            View::Array { elem_size, len, .. } => elem_size * len,
            View::Pointer { .. } => 8,
            View::Record(r) => r.size,
            View::Float { size } => size,
            View::Other(what) => {
                return Err(Diagnostic::error(
                    format!("{what} has no size"),
                    span,
                    "no size",
                ))
            }
        })
    }

    /// `t` as a C programmer writes it, for messages.
    pub fn describe(&self, t: &CType) -> String {
        match &t.kind {
            CKind::PointerTo(to) => format!("{} *", self.describe(to)),
            CKind::Kernel(id) => match self.facts.kernel_type(*id) {
                Ok(KType::Int { name, .. }) => name,
                Ok(KType::Pointer { to }) => {
                    format!("{} *", self.describe(&CType::kernel(to, t.user)))
                }
                Ok(KType::Array { elem, len }) => {
                    format!("{}[{len}]", self.describe(&CType::kernel(elem, t.user)))
                }
                Ok(KType::Record(r)) if r.name.is_empty() => {
                    format!("an anonymous {}", if r.union { "union" } else { "struct" })
                }
                Ok(KType::Record(r)) => {
                    format!("{} {}", if r.union { "union" } else { "struct" }, r.name)
                }
                Ok(KType::Enum(e)) => format!("enum {}", e.name),
                Ok(KType::Void) => "void".into(),
                Ok(KType::Float { size }) => match size {
                    4 => "float".into(),
                    8 => "double".into(),
                    16 => "long double".into(),
                    _ => format!("a {size}-byte float"),
                },
                Ok(KType::Forward { name, .. }) => name,
                Ok(KType::FuncProto(_)) => "a function".into(),
                Err(_) => format!("type {}", id.0),
            },
        }
    }

    /// The member `name` of `record`, looking inside anonymous members as C does.
    pub fn member(&self, record: &Record, name: &str) -> Option<FoundMember> {
        for m in &record.members {
            if m.name == name {
                return Some(FoundMember {
                    ty: m.ty,
                    bit_offset: m.bit_offset,
                    bitfield: m.bitfield,
                });
            }
            if m.name.is_empty() {
                if let Ok(KType::Record(inner)) = self.facts.kernel_type(m.ty) {
                    if let Some(mut found) = self.member(&inner, name) {
                        found.bit_offset += m.bit_offset;
                        return Some(found);
                    }
                }
            }
        }
        None
    }

    /// Every member name reachable in `record`, for "did you mean".
    fn member_names(&self, record: &Record, out: &mut Vec<String>) {
        for m in &record.members {
            if m.name.is_empty() {
                if let Ok(KType::Record(inner)) = self.facts.kernel_type(m.ty) {
                    self.member_names(&inner, out);
                }
            } else {
                out.push(m.name.clone());
            }
        }
    }

    /// `record.field` (or through `->`) or a diagnostic at the field naming the nearest.
    pub fn field(
        &self,
        record: &Record,
        record_type: &CType,
        field: &Ident,
    ) -> Result<FoundMember, Diagnostic> {
        self.member(record, &field.name).ok_or_else(|| {
            let mut names = Vec::new();
            self.member_names(record, &mut names);
            let mut d = Diagnostic::error(
                format!(
                    "{} has no field `{}`",
                    self.describe(record_type),
                    field.name
                ),
                field.span,
                "unknown field",
            );
            if let Some(s) = nearest(&field.name, names.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            d
        })
    }

    /// `offsetof(struct X, a.b)` in bytes.
    pub fn offset_of(&self, ty: &CType, path: &[Ident], span: Span) -> Result<u64, Diagnostic> {
        let mut t = ty.clone();
        let mut bits = 0u64;
        for f in path {
            let View::Record(r) = self.view(&t, span)? else {
                return Err(Diagnostic::error(
                    format!("{} has no fields", self.describe(&t)),
                    f.span,
                    "not a struct or union",
                ));
            };
            let m = self.field(&r, &t, f)?;
            bits += u64::from(m.bit_offset);
            t = CType::kernel(m.ty, t.user);
        }
        Ok(bits / 8)
    }

    /// The C type of an expression that has one: `curtask`, casts to kernel types, member
    /// chains and derefs of those, typed variables and typed probe arguments (`args`).
    /// `Ok(None)` for the script's own values (integers, strings, maps).
    pub fn type_of(&self, e: &Expr, env: &TypeEnv) -> Result<Option<CType>, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Ident(n) if n == "curtask" => self.curtask(),
            // A raw tracepoint's arguments, typed from its BTF prototype (`arg0`, ...).
            ExprKind::Ident(n) if n.starts_with("arg") => env.args.get(n).cloned(),
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                env.args.get(&field.name).cloned()
            }
            ExprKind::Var(v) => env.vars.get(v).cloned(),
            ExprKind::Map { name, .. } => env.maps.get(&name.name).cloned(),
            ExprKind::Cast { ty, expr } => {
                let inner = self.type_of(expr, env)?;
                let user = inner.as_ref().map_or(env.user, |t| t.user);
                self.type_name(ty, user)?.filter(|_| ty.array.is_none())
            }
            // `uaddr("sym")`: a pointer into the process to an unsigned integer of the
            // symbol's size (1, 2, 4 or 8 bytes; 8 for any other), as the current release
            // types it.
            ExprKind::Call { name, args } if is_user_address(&name.name) => {
                let (Some(binary), Some(ExprKind::Str(symbol))) =
                    (&env.binary, args.first().map(|a| &a.kind))
                else {
                    return Ok(None);
                };
                let bits = match self.facts.symbol_size(binary, symbol) {
                    Ok(size @ (1 | 2 | 4)) => size * 8,
                    _ => 64,
                };
                self.facts
                    .kernel_type_named(NameSpace::Typedef, &format!("uint{bits}"))
                    .ok()
                    .map(|id| CType::pointer_to(CType::kernel(id, true)))
            }
            ExprKind::Call { name, args } if matches!(name.name.as_str(), "kptr" | "uptr") => {
                let user = name.name == "uptr";
                match args.first() {
                    Some(a) => self.type_of(a, env)?.map(|t| with_space(t, user)),
                    None => None,
                }
            }
            ExprKind::Field { expr, field, .. } => {
                let Some(base) = self.type_of(expr, env)? else {
                    return Ok(None);
                };
                let (record, record_type) = self.record_of(&base, expr.span)?;
                let m = self.field(&record, &record_type, field)?;
                Some(CType::kernel(m.ty, base.user))
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                expr,
            } => match self.type_of(expr, env)? {
                Some(t) => match self.view(&t, expr.span)? {
                    View::Pointer { to } => Some(to),
                    _ => None,
                },
                None => None,
            },
            // `&p->member`, `&*p`, `&p[i]`: a pointer to what is there, in the same memory.
            // (`&$x` is the variable's place on the BPF stack, not typed memory.)
            ExprKind::Unary {
                op: UnaryOp::AddrOf,
                expr,
            } if is_place(expr) => self.type_of(expr, env)?.map(CType::pointer_to),
            // Pointer arithmetic keeps the pointer's type (`(uint16 *)arg0 + 1`).
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub),
                lhs,
                rhs,
            } => match (self.type_of(lhs, env)?, self.type_of(rhs, env)?) {
                (Some(p), None) | (None, Some(p))
                    if (*op == BinaryOp::Add || self.type_of(rhs, env)?.is_none())
                        && matches!(self.view(&p, e.span)?, View::Pointer { .. }) =>
                {
                    Some(p)
                }
                _ => None,
            },
            // `p++`, `--p`: a pointer stepped is still one (`($c++)->b`).
            ExprKind::Update { target, .. } => match self.type_of(target, env)? {
                Some(p) if matches!(self.view(&p, e.span)?, View::Pointer { .. }) => Some(p),
                _ => None,
            },
            ExprKind::Index { expr, .. } => match self.type_of(expr, env)? {
                Some(t) => match self.view(&t, expr.span)? {
                    View::Pointer { to } => Some(to),
                    View::Array { elem, .. } => Some(elem),
                    _ => None,
                },
                None => None,
            },
            _ => None,
        })
    }

    /// The record that `.` or `->` on a value of type `t` reaches: the struct itself, or
    /// the one it points at (bpftrace 0.17 takes either operator on either).
    pub fn record_of(&self, t: &CType, span: Span) -> Result<(Record, CType), Diagnostic> {
        match self.view(t, span)? {
            View::Record(r) => Ok((r, t.clone())),
            View::Pointer { to } => match self.view(&to, span)? {
                View::Record(r) => Ok((r, to)),
                _ => Err(self.no_fields(t, span)),
            },
            _ => Err(self.no_fields(t, span)),
        }
    }

    fn no_fields(&self, t: &CType, span: Span) -> Diagnostic {
        Diagnostic::error(
            format!("{} has no fields", self.describe(t)),
            span,
            format!("this is {}", self.describe(t)),
        )
    }

    /// `curtask`: a `struct task_struct *` when BTF knows it.
    pub fn curtask(&self) -> Option<CType> {
        let id = self
            .facts
            .kernel_type_named(NameSpace::Struct, "task_struct")
            .ok()?;
        Some(CType::pointer_to(CType::kernel(id, false)))
    }
}

/// A member, `*p` or `p[i]` of typed memory, whose address `&` takes.
pub fn is_place(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Field { expr, .. } => !is_args(expr),
        ExprKind::Unary {
            op: UnaryOp::Deref, ..
        }
        | ExprKind::Index { .. } => true,
        _ => false,
    }
}

/// `t` behind `n` levels of pointer.
fn pointers(mut t: CType, n: u32) -> CType {
    for _ in 0..n {
        t = CType::pointer_to(t);
    }
    t
}

/// A pointer (and what it reaches) moved to one address space.
fn with_space(t: CType, user: bool) -> CType {
    CType {
        user,
        kind: match t.kind {
            CKind::PointerTo(to) => CKind::PointerTo(Box::new(with_space(*to, user))),
            k => k,
        },
    }
}

/// What an expression's C type depends on besides the expression.
#[derive(Clone, Debug, Default)]
pub struct TypeEnv {
    /// Scratch variables holding kernel-typed values.
    pub vars: HashMap<String, CType>,
    /// Maps whose values are typed pointers (`@a[0] = (int32 *)arg0`), by name.
    pub maps: HashMap<String, CType>,
    /// The kernel-typed fields of `args` (a fentry probe's function parameters), or a raw
    /// tracepoint's kernel-typed `arg0`, `arg1`, ...
    pub args: HashMap<String, CType>,
    /// Casts of plain integers point into user memory (uprobes) rather than the kernel's.
    pub user: bool,
    /// The binary of the probe's uprobe, whose symbols `uaddr` names.
    pub binary: Option<String>,
}

fn is_user_address(name: &str) -> bool {
    tracebound_stdlib::lookup(name).is_some_and(|b| {
        matches!(
            b.support,
            tracebound_stdlib::Support::Lowered(
                tracebound_stdlib::Lowering::Address { user: true },
                _
            )
        )
    })
}

fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "args")
}

/// The refusal of a `float` or `double` (`what`, as C writes it) read as a value: BPF has
/// no floating point and the current release gives such a member no type. One text for the
/// run and for `--check`.
pub fn float_read(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("a floating-point value (`{what}`) cannot be read"),
        span,
        "BPF has no floating point",
    )
    .with_note("bpftrace reads no float or double; a struct that holds one prints it as `null`")
    .with_help("print the whole struct, or read the integer members beside it")
}

fn fact_diagnostic(e: FactError, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("cannot read the kernel's types: {e}"),
        span,
        "needs kernel type information",
    )
}

#[cfg(test)]
mod tests;

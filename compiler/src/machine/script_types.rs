//! The C types a script defines itself (`struct A { int x[4]; uint8_t y[2][2]; }`), laid out
//! as a C compiler for x86-64 lays them out, and answered beside the kernel's BTF: a type the
//! script defines shadows the kernel's of the same name, as in bpftrace. `ScriptTypes` is a
//! `MachineFacts` that answers type questions from the script first and hands everything else
//! to the machine's facts, so that `ctype::KernelTypes` reads both the same way. It also names
//! the script's own integer types (`int32`, `uint8`) for pointer casts (`(int32 *)arg0`).

use std::collections::HashMap;

use super::facts::{FactError, MachineFacts, UsdtSite};
use super::tracepoint_format::TracepointFormat;
use crate::ast::{Aggregate, CBody, CDefinition, CField, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::types::{Enum, FuncProto, KType, Member, NameSpace, Record, TypeId};

/// Ids of the script's types start here, far above any BTF id.
const FIRST_ID: u32 = 0x4000_0000;

/// The script's integer type names, usable in pointer casts.
const SCRIPT_INTS: [(&str, u32, bool); 8] = [
    ("int8", 1, true),
    ("int16", 2, true),
    ("int32", 4, true),
    ("int64", 8, true),
    ("uint8", 1, false),
    ("uint16", 2, false),
    ("uint32", 4, false),
    ("uint64", 8, false),
];

pub struct ScriptTypes<'f> {
    facts: &'f dyn MachineFacts,
    types: Vec<KType>,
    names: HashMap<(NameSpace, String), TypeId>,
}

impl<'f> ScriptTypes<'f> {
    /// The script's definitions laid out in order (a definition may use those before it, and
    /// point at any); an unknown type word is a diagnostic at its field.
    pub fn new(program: &Program, facts: &'f dyn MachineFacts) -> Result<Self, Vec<Diagnostic>> {
        let mut st = ScriptTypes {
            facts,
            types: Vec::new(),
            names: HashMap::new(),
        };
        for (name, size, signed) in SCRIPT_INTS {
            let id = st.add(int(name, size, signed, false));
            st.names.insert((NameSpace::Typedef, name.to_string()), id);
        }
        let defs: Vec<&CDefinition> = program
            .items
            .iter()
            .filter_map(|i| match i {
                Item::CDefinition(d) => Some(d),
                _ => None,
            })
            .collect();
        // Every struct and union gets its id first, so that fields may point at any of them.
        for d in &defs {
            let space = match d.kind {
                Aggregate::Struct => NameSpace::Struct,
                Aggregate::Union => NameSpace::Union,
                Aggregate::Enum => NameSpace::Enum,
            };
            let id = st.add(KType::Forward {
                name: d.name.name.clone(),
                union: d.kind == Aggregate::Union,
            });
            st.names.insert((space, d.name.name.clone()), id);
        }
        let mut diags = Vec::new();
        for d in defs {
            let id = st.names[&(space_of(d.kind), d.name.name.clone())];
            match st.define(d) {
                Ok(t) => st.types[(id.0 - FIRST_ID) as usize] = t,
                Err(e) => diags.push(e),
            }
        }
        if diags.is_empty() {
            Ok(st)
        } else {
            Err(diags)
        }
    }

    fn add(&mut self, t: KType) -> TypeId {
        self.types.push(t);
        TypeId(FIRST_ID + self.types.len() as u32 - 1)
    }

    fn define(&mut self, d: &CDefinition) -> Result<KType, Diagnostic> {
        match &d.body {
            CBody::Enumerators(values) => {
                let mut next = 0i64;
                let mut out = Vec::new();
                for (name, value) in values {
                    if let Some(v) = value {
                        next = match literal_int(v) {
                            Some(n) => n,
                            None => {
                                return Err(Diagnostic::error(
                                    "an enumerator's value must be an integer literal",
                                    v.span,
                                    "not a literal",
                                ))
                            }
                        };
                    }
                    out.push((name.name.clone(), next));
                    next = next.wrapping_add(1);
                }
                Ok(KType::Enum(Enum {
                    name: d.name.name.clone(),
                    size: 4,
                    signed: out.iter().any(|(_, v)| *v < 0),
                    values: out,
                }))
            }
            CBody::Fields(fields) => self.record(d, fields),
        }
    }

    /// C's layout: each member at the next multiple of its alignment (a union's all at 0),
    /// bitfields packed into units of their type's size, the size rounded to the alignment.
    fn record(&mut self, d: &CDefinition, fields: &[CField]) -> Result<KType, Diagnostic> {
        let union = d.kind == Aggregate::Union;
        let mut bits = 0u64;
        let mut size = 0u64;
        let mut align = 1u64;
        let mut members = Vec::new();
        for f in fields {
            let ty = self.field_type(f)?;
            let (fsize, falign) = self.layout(ty).ok_or_else(|| {
                Diagnostic::error(
                    format!("the field `{}` has no size", f.name.name),
                    f.span,
                    "incomplete type",
                )
            })?;
            align = align.max(falign);
            let start = if union { 0 } else { bits };
            let (offset, width) = match f.bits {
                Some(w) if w > fsize * 8 => {
                    return Err(Diagnostic::error(
                        format!("the bitfield `{}` is wider than its type", f.name.name),
                        f.span,
                        "too wide",
                    ))
                }
                Some(w) => {
                    let unit = fsize * 8;
                    let at = if w == 0 || start % unit + w > unit {
                        start.div_ceil(unit) * unit
                    } else {
                        start
                    };
                    (at, w)
                }
                None => (start.div_ceil(falign * 8) * falign * 8, fsize * 8),
            };
            let end = offset + width;
            if !union {
                bits = end;
            }
            size = size.max(end.div_ceil(8));
            members.push(Member {
                name: f.name.name.clone(),
                ty,
                bit_offset: offset as u32,
                bitfield: f.bits.map(|w| w as u32),
            });
        }
        Ok(KType::Record(Record {
            name: d.name.name.clone(),
            union,
            size: (size.div_ceil(align) * align) as u32,
            members,
        }))
    }

    /// A field's type from its words: the base type, then a pointer per `*`, then an array
    /// per `[N]` (`int *z[4]` is four pointers; `int y[2][3]` two arrays of three).
    fn field_type(&mut self, f: &CField) -> Result<TypeId, Diagnostic> {
        let stars = f.type_words.iter().filter(|w| *w == "*").count();
        let words: Vec<&str> = f
            .type_words
            .iter()
            .map(String::as_str)
            .filter(|w| !matches!(*w, "*" | "const" | "volatile"))
            .collect();
        let mut ty = self.base_type(&words).ok_or_else(|| {
            Diagnostic::error(
                format!("unknown type `{}`", words.join(" ")),
                f.span,
                "not a C type this script or the kernel defines",
            )
        })?;
        for _ in 0..stars {
            ty = self.add(KType::Pointer { to: ty });
        }
        for &len in f.array.iter().rev() {
            let len = u32::try_from(len).map_err(|_| {
                Diagnostic::error("this array is too long", f.span, "too many elements")
            })?;
            ty = self.add(KType::Array { elem: ty, len });
        }
        Ok(ty)
    }

    fn base_type(&mut self, words: &[&str]) -> Option<TypeId> {
        match words {
            ["struct", name] => return self.named(NameSpace::Struct, name),
            ["union", name] => return self.named(NameSpace::Union, name),
            ["enum", name] => return self.named(NameSpace::Enum, name),
            ["void"] => return Some(TypeId::VOID),
            _ => {}
        }
        if let Some(t) = c_integer(words) {
            return Some(self.add(t));
        }
        match words {
            [name] => self.named(NameSpace::Typedef, name),
            _ => None,
        }
    }

    fn named(&self, space: NameSpace, name: &str) -> Option<TypeId> {
        self.kernel_type_named(space, name).ok()
    }

    /// Size and alignment in bytes; `None` for what has no size (void, a forward declaration).
    fn layout(&self, id: TypeId) -> Option<(u64, u64)> {
        Some(match self.kernel_type(id).ok()? {
            KType::Int { size, .. } | KType::Float { size } => (size.into(), size.into()),
            KType::Enum(e) => (e.size.into(), e.size.into()),
            KType::Pointer { .. } => (8, 8),
            KType::Array { elem, len } => {
                let (size, align) = self.layout(elem)?;
                (size * u64::from(len), align)
            }
            KType::Record(r) => {
                let align = r
                    .members
                    .iter()
                    .filter_map(|m| self.layout(m.ty).map(|(_, a)| a))
                    .max()
                    .unwrap_or(1);
                (r.size.into(), align)
            }
            KType::Void | KType::Forward { .. } | KType::FuncProto(_) => return None,
        })
    }
}

/// `5` or `-5`.
fn literal_int(e: &crate::ast::Expr) -> Option<i64> {
    use crate::ast::{ExprKind, UnaryOp};
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => literal_int(expr).map(|n| -n),
        _ => None,
    }
}

fn space_of(kind: Aggregate) -> NameSpace {
    match kind {
        Aggregate::Struct => NameSpace::Struct,
        Aggregate::Union => NameSpace::Union,
        Aggregate::Enum => NameSpace::Enum,
    }
}

fn int(name: &str, size: u32, signed: bool, char: bool) -> KType {
    KType::Int {
        name: name.to_string(),
        size,
        signed,
        char,
    }
}

/// The C integer types by their words (`unsigned long long`, `uint8_t`, `__u32`, `_Bool`).
fn c_integer(words: &[&str]) -> Option<KType> {
    let written = words.join(" ");
    let unsigned = words.contains(&"unsigned");
    let rest: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "unsigned" | "signed"))
        .collect();
    let plain = |size: u32| Some(int(&written, size, !unsigned, false));
    match rest.as_slice() {
        ["char"] => Some(int(&written, 1, !unsigned, !unsigned)),
        ["short"] | ["short", "int"] => plain(2),
        [] | ["int"] => plain(4),
        ["long"] | ["long", "int"] | ["long", "long"] | ["long", "long", "int"] => plain(8),
        ["_Bool"] | ["bool"] if !unsigned => Some(int(&written, 1, false, false)),
        [name] if words.len() == 1 => {
            fixed_width(name).map(|(size, signed)| int(name, size, signed, false))
        }
        _ => None,
    }
}

/// `uint8_t`, `int32_t`, `__u16`, `s64`, `size_t`: size and signedness.
fn fixed_width(name: &str) -> Option<(u32, bool)> {
    match name {
        "size_t" | "uintptr_t" => return Some((8, false)),
        "ssize_t" | "intptr_t" | "ptrdiff_t" => return Some((8, true)),
        _ => {}
    }
    let name = name.trim_start_matches("__");
    let (signed, digits) = if let Some(d) = name.strip_prefix("uint") {
        (false, d.strip_suffix("_t")?)
    } else if let Some(d) = name.strip_prefix("int") {
        (true, d.strip_suffix("_t")?)
    } else if let Some(d) = name.strip_prefix('u') {
        (false, d)
    } else if let Some(d) = name.strip_prefix('s') {
        (true, d)
    } else {
        return None;
    };
    match digits {
        "8" => Some((1, signed)),
        "16" => Some((2, signed)),
        "32" => Some((4, signed)),
        "64" => Some((8, signed)),
        _ => None,
    }
}

impl MachineFacts for ScriptTypes<'_> {
    fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
        self.facts.tracepoints()
    }
    fn tracepoint_format(
        &self,
        category: &str,
        event: &str,
    ) -> Result<TracepointFormat, FactError> {
        self.facts.tracepoint_format(category, event)
    }
    fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
        self.facts.raw_tracepoints()
    }
    fn binary_path(&self, name: &str) -> Result<String, FactError> {
        self.facts.binary_path(name)
    }
    fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError> {
        self.facts.function_symbols(path)
    }
    fn kernel_type_named(&self, space: NameSpace, name: &str) -> Result<TypeId, FactError> {
        match self.names.get(&(space, name.to_string())) {
            Some(id) => Ok(*id),
            None => self.facts.kernel_type_named(space, name),
        }
    }
    fn kernel_type(&self, id: TypeId) -> Result<KType, FactError> {
        match id.0.checked_sub(FIRST_ID) {
            Some(i) => self
                .types
                .get(i as usize)
                .cloned()
                .ok_or_else(|| FactError::NotFound {
                    what: format!("type {}", id.0),
                }),
            None if id == TypeId::VOID => Ok(KType::Void),
            None => self.facts.kernel_type(id),
        }
    }
    fn kernel_type_names(&self, space: NameSpace) -> Result<Vec<String>, FactError> {
        let mut names = self.facts.kernel_type_names(space).unwrap_or_default();
        names.extend(
            self.names
                .keys()
                .filter(|(s, _)| *s == space)
                .map(|(_, n)| n.clone()),
        );
        Ok(names)
    }
    fn kernel_function(&self, name: &str) -> Result<FuncProto, FactError> {
        self.facts.kernel_function(name)
    }
    fn kernel_functions(&self) -> Result<Vec<String>, FactError> {
        self.facts.kernel_functions()
    }
    fn kernel_enumerator(&self, name: &str) -> Result<i64, FactError> {
        for t in &self.types {
            if let KType::Enum(e) = t {
                if let Some((_, v)) = e.values.iter().find(|(n, _)| n == name) {
                    return Ok(*v);
                }
            }
        }
        self.facts.kernel_enumerator(name)
    }
    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        self.facts.symbol_address(binary, name)
    }
    fn uprobe_site(
        &self,
        path: &str,
        function: Option<&str>,
        offset: u64,
    ) -> Result<(String, u64), String> {
        self.facts.uprobe_site(path, function, offset)
    }
    fn usdt_sites(&self, path: &str) -> Result<Vec<UsdtSite>, FactError> {
        self.facts.usdt_sites(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::fixture::FixtureFacts;

    fn types(source: &str) -> (Vec<KType>, HashMap<(NameSpace, String), TypeId>) {
        let program = crate::parse::parse(source).unwrap();
        let facts = FixtureFacts::bundled();
        let st = ScriptTypes::new(&program, &facts).unwrap();
        (st.types.clone(), st.names.clone())
    }

    fn record(source: &str, name: &str) -> Record {
        let (types, names) = types(source);
        let id = names[&(NameSpace::Struct, name.to_string())];
        match &types[(id.0 - FIRST_ID) as usize] {
            KType::Record(r) => r.clone(),
            t => panic!("{t:?}"),
        }
    }

    fn offsets(r: &Record) -> Vec<(String, u32, Option<u32>)> {
        r.members
            .iter()
            .map(|m| (m.name.clone(), m.bit_offset / 8, m.bitfield))
            .collect()
    }

    #[test]
    fn members_are_laid_out_as_c_lays_them_out() {
        let r = record(
            "struct A { char c; int x[4]; uint8_t y[4]; long l; short s; } BEGIN {}",
            "A",
        );
        assert_eq!(
            offsets(&r),
            [
                ("c".into(), 0, None),
                ("x".into(), 4, None),
                ("y".into(), 20, None),
                ("l".into(), 24, None),
                ("s".into(), 32, None),
            ]
        );
        assert_eq!(r.size, 40);
        let b = record("struct B { int y[2][2]; int *z[4]; } BEGIN {}", "B");
        assert_eq!(offsets(&b)[1], ("z".into(), 16, None));
        assert_eq!(b.size, 48);
    }

    #[test]
    fn bitfields_pack_into_units_of_their_type() {
        let r = record(
            "struct F { unsigned int a:4, b:8; unsigned int c:30; char d; } BEGIN {}",
            "F",
        );
        let bits: Vec<u32> = r.members.iter().map(|m| m.bit_offset).collect();
        assert_eq!(bits, [0, 4, 32, 64]);
        assert_eq!(r.size, 12);
    }

    #[test]
    fn unions_overlay_and_structs_nest() {
        let u = record(
            "union U { int i; long l; } struct N { char c; union U u; } BEGIN {}",
            "N",
        );
        assert_eq!(offsets(&u)[1], ("u".into(), 8, None));
        assert_eq!(u.size, 16);
    }

    #[test]
    fn unknown_field_types_are_diagnostics_at_the_field() {
        let program = crate::parse::parse("struct A { nope_t x; } BEGIN {}").unwrap();
        let facts = FixtureFacts::bundled();
        let Err(d) = ScriptTypes::new(&program, &facts) else {
            panic!("accepted")
        };
        assert_eq!(d[0].message, "unknown type `nope_t`");
    }
}

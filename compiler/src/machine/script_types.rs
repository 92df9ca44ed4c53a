//! The C types a script defines itself (`struct A { int x[4]; uint8_t y[2][2]; }`), laid out
//! as a C compiler for x86-64 lays them out, and answered beside the kernel's BTF: a type the
//! script defines shadows the kernel's of the same name, as in bpftrace. `ScriptTypes` is a
//! `MachineFacts` that answers type questions from the script first and hands everything else
//! to the machine's facts, so that `ctype::KernelTypes` reads both the same way. A `float`,
//! `double` or `long double` member takes its C size and alignment (the script reads no
//! value of it, but the members after it must be where the C program put them). It also names
//! the script's own integer types (`int32`, `uint8`) for pointer casts (`(int32 *)arg0`).

use std::collections::HashMap;

use super::facts::{FactError, MachineFacts, UsdtSite};
use super::header_macros::{HeaderMacros, MacroValue};
use super::tracepoint_format::TracepointFormat;
use crate::ast::{Aggregate, CAttribute, CBody, CDefinition, CField, Expr, Ident, Item, Program};
use crate::diagnostic::Diagnostic;
use crate::lex::DirectiveKind;
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
    /// The alignment of each of the script's records that is not its members' largest
    /// (`packed`, `aligned(N)`).
    aligns: HashMap<TypeId, u64>,
    /// The kernel type the script redefines (`struct task_struct { int x; }`), if any: then,
    /// as in bpftrace, the script's definitions cannot take other kernel types as fields.
    redefined: Option<String>,
    /// The headers the script includes (`<errno.h>`), and where `-I` says to look first.
    headers: Vec<String>,
    include_dirs: Vec<std::path::PathBuf>,
    /// Their macros, read from the machine when a script first names a constant, and each
    /// header that could not be read, with the reason.
    macros: std::cell::OnceCell<(HeaderMacros, Vec<(String, FactError)>)>,
}

impl<'f> ScriptTypes<'f> {
    /// The script's definitions laid out in order (a definition may use those before it, and
    /// point at any); an unknown type word is a diagnostic at its field.
    pub fn new(program: &Program, facts: &'f dyn MachineFacts) -> Result<Self, Vec<Diagnostic>> {
        let mut st = ScriptTypes {
            facts,
            types: Vec::new(),
            names: HashMap::new(),
            aligns: HashMap::new(),
            redefined: None,
            headers: program
                .directives
                .iter()
                .filter_map(|d| match &d.kind {
                    DirectiveKind::Include(header) => Some(header.trim().to_string()),
                    _ => None,
                })
                .collect(),
            include_dirs: Vec::new(),
            macros: std::cell::OnceCell::new(),
        };
        for (name, size, signed) in SCRIPT_INTS {
            let id = st.add(int(name, size, signed, false));
            st.names.insert((NameSpace::Typedef, name.to_string()), id);
        }
        // C's one-word integer names and fixed-width typedefs (`uint64_t`, `__u32`, `size_t`)
        // for casts and `sizeof`, whether or not the kernel's BTF has them.
        for name in c_integer_names() {
            if let Some(t) = c_integer(&[name.as_str()]) {
                let id = st.add(t);
                st.names.insert((NameSpace::Typedef, name), id);
            }
        }
        let top: Vec<&CDefinition> = program
            .items
            .iter()
            .filter_map(|i| match i {
                Item::CDefinition(d) => Some(d),
                _ => None,
            })
            .collect();
        let mut diags = Vec::new();
        // Every named struct, union and enum gets its id first, so that fields may point at
        // any of them, nested ones included (C gives those file scope too).
        for d in top.iter().flat_map(|d| d.with_nested()) {
            let Some(name) = &d.name else { continue };
            let key = (space_of(d.kind), name.name.clone());
            if st.names.contains_key(&key) {
                diags.push(Diagnostic::error(
                    format!("redefinition of `{} {}`", aggregate_word(d.kind), name.name),
                    name.span,
                    "defined before",
                ));
                continue;
            }
            if st.redefined.is_none() && facts.kernel_type_named(key.0, &name.name).is_ok() {
                st.redefined = Some(format!("{} {}", aggregate_word(d.kind), name.name));
            }
            let id = st.add(KType::Forward {
                name: name.name.clone(),
                union: d.kind == Aggregate::Union,
            });
            st.names.insert(key, id);
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        for d in top {
            if let Err(e) = st.define(d) {
                diags.push(e);
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

    /// Lays out `d` (and those defined inside it, first) and gives its id: the one reserved
    /// for its name, or a new one for an anonymous definition.
    fn define(&mut self, d: &CDefinition) -> Result<TypeId, Diagnostic> {
        let t = match &d.body {
            CBody::Enumerators(values) => enumeration(d, values)?,
            CBody::Fields(fields) => self.record(d, fields)?,
        };
        let id = match &d.name {
            Some(n) => {
                let id = self.names[&(space_of(d.kind), n.name.clone())];
                self.types[(id.0 - FIRST_ID) as usize] = t;
                id
            }
            None => self.add(t),
        };
        if let Some(align) = self.declared_align(d) {
            self.aligns.insert(id, align);
        }
        Ok(id)
    }

    /// The alignment `packed` or `aligned(N)` gives a record, when they change it.
    fn declared_align(&self, d: &CDefinition) -> Option<u64> {
        let packed = d.attributes.contains(&CAttribute::Packed);
        let aligned = d
            .attributes
            .iter()
            .filter_map(|a| match a {
                CAttribute::Aligned(n) => Some(*n),
                CAttribute::Packed => None,
            })
            .max();
        match (packed, aligned) {
            (false, None) => None,
            (true, None) => Some(1),
            (_, Some(n)) => Some(n),
        }
    }

    /// C's layout: each member at the next multiple of its alignment (a union's all at 0),
    /// bitfields packed into units of their type's size, the size rounded to the alignment.
    /// `packed` puts every member (and bitfield) right after the one before it; `aligned(N)`
    /// raises the record's alignment to N.
    fn record(&mut self, d: &CDefinition, fields: &[CField]) -> Result<KType, Diagnostic> {
        let union = d.kind == Aggregate::Union;
        let packed = d.attributes.contains(&CAttribute::Packed);
        let mut bits = 0u64;
        let mut size = 0u64;
        let mut align = 1u64;
        let mut members = Vec::new();
        for f in fields {
            let ty = self.field_type(f)?;
            let (fsize, falign) = self.layout(ty).ok_or_else(|| {
                let what = match self.kernel_type(ty) {
                    Ok(KType::Forward { name, union }) => format!(
                        "incomplete type '{} {name}'",
                        if union { "union" } else { "struct" }
                    ),
                    _ => "incomplete type".to_string(),
                };
                Diagnostic::error(
                    format!("the field `{}` has {what}", f.name.name),
                    f.span,
                    "no size",
                )
            })?;
            let falign = if packed { 1 } else { falign };
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
                Some(w) if packed && w > 0 => (start, w),
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
            // An unnamed bitfield (`int : 3;`) only takes room.
            if f.bits.is_some() && f.name.name.is_empty() {
                continue;
            }
            members.push(Member {
                name: f.name.name.clone(),
                ty,
                bit_offset: offset as u32,
                bitfield: f.bits.map(|w| w as u32),
            });
        }
        if let Some(n) = self.declared_align(d) {
            align = if packed { n } else { align.max(n) };
        }
        Ok(KType::Record(Record {
            name: d.name.as_ref().map(|n| n.name.clone()).unwrap_or_default(),
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
        let mut ty = match &f.defined {
            Some(d) => self.define(d)?,
            None => self.base_type(&words).map_err(|why| match why {
                // bpftrace (through clang) words it so: the kernel's type is not there.
                Some(why) => Diagnostic::error(
                    format!(
                        "the field `{}` has incomplete type '{}'",
                        f.name.name,
                        words.join(" ")
                    ),
                    f.span,
                    "not defined in this script",
                )
                .with_note(why),
                None => Diagnostic::error(
                    format!("unknown type `{}`", words.join(" ")),
                    f.span,
                    "not a C type this script or the kernel defines",
                ),
            })?,
        };
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

    /// The type words name: C's integers, the script's own types, then (unless the script
    /// redefines a kernel type) the kernel's. The error says why the kernel's is not used.
    fn base_type(&mut self, words: &[&str]) -> Result<TypeId, Option<String>> {
        if words == ["void"] {
            return Ok(TypeId::VOID);
        }
        if let Some(t) = c_float(words) {
            return Ok(self.add(t));
        }
        let (space, name) = match words {
            ["struct", name] => (NameSpace::Struct, *name),
            ["union", name] => (NameSpace::Union, *name),
            ["enum", name] => (NameSpace::Enum, *name),
            [name] => (NameSpace::Typedef, *name),
            _ => return c_integer(words).map(|t| self.add(t)).ok_or(None),
        };
        if let Some(id) = self.names.get(&(space, name.to_string())) {
            return Ok(*id);
        }
        if space == NameSpace::Typedef {
            if let Some(t) = c_integer(words) {
                return Ok(self.add(t));
            }
        }
        match &self.redefined {
            Some(kernel) if self.facts.kernel_type_named(space, name).is_ok() => {
                Err(Some(format!(
                    "this script redefines the kernel's `{kernel}`, so, as in bpftrace, its \
                 definitions cannot use other kernel types: define `{}` too",
                    words.join(" ")
                )))
            }
            _ => self.named(space, name).ok_or(None),
        }
    }

    /// Where the script's `#include <...>` headers are looked for first (`-I`).
    pub fn with_include_dirs(mut self, dirs: &[std::path::PathBuf]) -> Self {
        self.include_dirs = dirs.to_vec();
        self
    }

    /// The included headers the machine says do not exist (the preprocessor found no such
    /// file); reading them is what asks, so this reads every header now.
    pub fn missing_headers(&self) -> Vec<&str> {
        (self.unread_headers().iter())
            .filter(|(_, e)| matches!(e, FactError::NotFound { .. }))
            .map(|(h, _)| h.as_str())
            .collect()
    }

    /// The included headers' macros, read once.
    fn macros(&self) -> &HeaderMacros {
        &self.read_headers().0
    }

    /// The included headers that could not be read, with the reason.
    fn unread_headers(&self) -> &[(String, FactError)] {
        &self.read_headers().1
    }

    fn read_headers(&self) -> &(HeaderMacros, Vec<(String, FactError)>) {
        self.macros.get_or_init(|| {
            let mut macros = HeaderMacros::default();
            let mut unread = Vec::new();
            for header in &self.headers {
                match self.facts.header_macros(header, &self.include_dirs) {
                    Ok(defines) => macros.add(header, &defines),
                    Err(e) => unread.push((header.clone(), e)),
                }
            }
            (macros, unread)
        })
    }

    /// The value of the script's enumerator `name` and its enum's id.
    fn script_enumerator(&self, name: &str) -> Option<(i64, TypeId)> {
        self.types.iter().enumerate().find_map(|(i, t)| match t {
            KType::Enum(e) => e
                .values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| (*v, TypeId(FIRST_ID + i as u32))),
            _ => None,
        })
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
                if let Some(align) = self.aligns.get(&id) {
                    return Some((r.size.into(), *align));
                }
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

/// An enum's values: each the one written, or one more than the one before (the first 0).
/// Four bytes, as C lays an enum out, unless a value needs eight.
fn enumeration(d: &CDefinition, values: &[(Ident, Option<Expr>)]) -> Result<KType, Diagnostic> {
    let mut next = 0i64;
    let mut out = Vec::new();
    for (name, value) in values {
        if let Some(v) = value {
            next = literal_int(v).ok_or_else(|| {
                Diagnostic::error(
                    "an enumerator's value must be an integer literal",
                    v.span,
                    "not a literal",
                )
            })?;
        }
        out.push((name.name.clone(), next));
        next = next.wrapping_add(1);
    }
    let signed = out.iter().any(|(_, v)| *v < 0);
    let wide = out
        .iter()
        .any(|(_, v)| *v > i64::from(u32::MAX) || *v < i64::from(i32::MIN));
    Ok(KType::Enum(Enum {
        name: d.name.as_ref().map(|n| n.name.clone()).unwrap_or_default(),
        size: if wide { 8 } else { 4 },
        signed,
        values: out,
    }))
}

fn aggregate_word(kind: Aggregate) -> &'static str {
    match kind {
        Aggregate::Struct => "struct",
        Aggregate::Union => "union",
        Aggregate::Enum => "enum",
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
        [name] if words.len() == 1 => crate::ast::fixed_width_integer(name)
            .map(|(size, signed)| int(name, size, signed, false)),
        _ => None,
    }
}

/// C's floating-point types as x86-64 lays them out (`long double` is the x87 80-bit type
/// in 16 bytes). The script can hold no value of them, but a struct that has one keeps the
/// bytes, so that the members after it sit where the C program put them.
fn c_float(words: &[&str]) -> Option<KType> {
    let size = match words {
        ["float"] => 4,
        ["double"] => 8,
        ["long", "double"] => 16,
        _ => return None,
    };
    Some(KType::Float { size })
}

/// Every one-word name `c_integer` knows.
fn c_integer_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "char", "short", "int", "long", "unsigned", "signed", "_Bool",
    ]
    .into_iter()
    .chain(["size_t", "uintptr_t", "ssize_t", "intptr_t", "ptrdiff_t"])
    .map(str::to_string)
    .collect();
    for bits in [8, 16, 32, 64] {
        for sign in ["u", ""] {
            names.push(format!("{sign}int{bits}_t"));
            names.push(format!("__{sign}int{bits}_t"));
        }
        for letter in ["u", "s"] {
            names.push(format!("{letter}{bits}"));
            names.push(format!("__{letter}{bits}"));
        }
    }
    names
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
    fn binaries_matching(&self, pattern: &str) -> Result<Vec<String>, FactError> {
        self.facts.binaries_matching(pattern)
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
    fn kernel_function_id(&self, name: &str) -> Result<u32, FactError> {
        self.facts.kernel_function_id(name)
    }
    fn header_macro(&self, name: &str) -> Option<Result<MacroValue, FactError>> {
        if self.headers.is_empty() {
            return None;
        }
        Some(
            self.macros()
                .value(name)?
                .map_err(|e| FactError::Malformed {
                    what: format!("the macro `{name}` of {}", e.header),
                    reason: format!(
                        "its value `{}` is not an integer constant tracebound evaluates",
                        e.body
                    ),
                }),
        )
    }
    fn kernel_enumerator(&self, name: &str) -> Result<i64, FactError> {
        match self.script_enumerator(name) {
            Some((value, _)) => Ok(value),
            None => self.facts.kernel_enumerator(name).map_err(|e| {
                // Say which includes could not be read: one of them may have defined it.
                let unread = self.unread_headers();
                if self.headers.is_empty() || unread.is_empty() {
                    return e;
                }
                let list: Vec<String> = unread
                    .iter()
                    .map(|(h, why)| format!("{h}: {why}"))
                    .collect();
                FactError::Unavailable {
                    reason: format!("not every header was read ({})", list.join("; ")),
                }
            }),
        }
    }
    fn enumerator_enum(&self, name: &str) -> Result<TypeId, FactError> {
        match self.script_enumerator(name) {
            Some((_, id)) => Ok(id),
            None => self.facts.enumerator_enum(name),
        }
    }
    fn symbol_address(&self, binary: Option<&str>, name: &str) -> Result<u64, FactError> {
        self.facts.symbol_address(binary, name)
    }
    fn symbol_size(&self, binary: &str, name: &str) -> Result<u64, FactError> {
        self.facts.symbol_size(binary, name)
    }
    fn position_independent(&self, binary: &str) -> Result<bool, FactError> {
        self.facts.position_independent(binary)
    }
    fn percpu_variable(&self, name: &str) -> Result<u32, FactError> {
        self.facts.percpu_variable(name)
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
    fn bitfields_of_two_types_share_a_unit_as_c_lays_them_out() {
        // The runtime suite's `struct Bar`: the ints start in the shorts' unit.
        let r = record(
            "struct Bar { short a:4, b:8, c:3, d:1; int e:9, f:15, g:1, h:2, i:5 } BEGIN {}",
            "Bar",
        );
        let bits: Vec<u32> = r.members.iter().map(|m| m.bit_offset).collect();
        assert_eq!(bits, [0, 4, 12, 15, 16, 32, 47, 48, 50]);
        assert_eq!(r.size, 8);
    }

    #[test]
    fn packed_and_aligned_change_the_layout() {
        let size = |source: &str, name: &str| record(source, name).size;
        assert_eq!(size("struct F { int x; char y; int z; } BEGIN {}", "F"), 12);
        let packed = "struct F { int x; char y; int z; } __attribute__((packed)) BEGIN {}";
        assert_eq!(size(packed, "F"), 9);
        assert_eq!(offsets(&record(packed, "F"))[2], ("z".into(), 5, None));
        let both = "struct F { int x; char y; int z; } __attribute__((packed)) \
                    __attribute__((aligned(1))) BEGIN {}";
        assert_eq!(size(both, "F"), 9);
        assert_eq!(
            size(
                "struct G { char c; } __attribute__((aligned(8))) BEGIN {}",
                "G"
            ),
            8
        );
        // A packed struct inside another keeps alignment 1.
        let nested = "struct F { int x; char y; } __attribute__((packed)) \
                      struct H { char c; struct F f; } BEGIN {}";
        assert_eq!(offsets(&record(nested, "H"))[1], ("f".into(), 1, None));
    }

    #[test]
    fn nested_definitions_are_types_of_their_own() {
        let source = "struct Foo { int x; struct Bar { int x; } bar; struct { char c; } anon; } \
                      struct Uses { struct Bar b; } BEGIN {}";
        let foo = record(source, "Foo");
        assert_eq!(
            offsets(&foo),
            [
                ("x".into(), 0, None),
                ("bar".into(), 4, None),
                ("anon".into(), 8, None)
            ]
        );
        assert_eq!(record(source, "Uses").size, 4);
        let (types, names) = types("enum { A = 3, B } BEGIN {}");
        assert!(names.keys().all(|(s, _)| *s != NameSpace::Enum));
        assert!(types.iter().any(|t| matches!(t, KType::Enum(e)
            if e.values == [("A".to_string(), 3), ("B".to_string(), 4)] && e.size == 4)));
    }

    #[test]
    fn a_redefinition_and_a_kernel_type_beside_a_redefined_one_are_errors() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let program =
            crate::parse::parse("struct A { int x; } struct A { int y; } BEGIN {}").unwrap();
        let Err(d) = ScriptTypes::new(&program, &facts) else {
            panic!("accepted")
        };
        assert_eq!(d[0].message, "redefinition of `struct A`");
        // Once a kernel type is redefined, the others are not the script's to use (bpftrace).
        let program =
            crate::parse::parse("struct task_struct { struct mm_struct m; } BEGIN {}").unwrap();
        let Err(d) = ScriptTypes::new(&program, &facts) else {
            panic!("accepted")
        };
        assert_eq!(
            d[0].message,
            "the field `m` has incomplete type 'struct mm_struct'"
        );
        let program =
            crate::parse::parse("struct task_struct { uint64_t x; u32 y; } BEGIN {}").unwrap();
        assert!(ScriptTypes::new(&program, &facts).is_ok());
    }

    #[test]
    fn c_integer_names_are_types_for_casts() {
        let facts = FixtureFacts::bundled();
        let program = crate::parse::parse("BEGIN {}").unwrap();
        let st = ScriptTypes::new(&program, &facts).unwrap();
        for (name, size, signed) in [
            ("uint64_t", 8, false),
            ("__s16", 2, true),
            ("size_t", 8, false),
            ("char", 1, true),
        ] {
            let id = st.kernel_type_named(NameSpace::Typedef, name).unwrap();
            assert!(
                matches!(st.kernel_type(id).unwrap(), KType::Int { size: s, signed: g, .. } if s == size && g == signed),
                "{name}"
            );
        }
    }

    #[test]
    fn floating_point_members_take_their_c_size_and_alignment() {
        let r = record(
            "struct G { char c; float f; char d; double x; short s; long double q; } BEGIN {}",
            "G",
        );
        let offs: Vec<u32> = offsets(&r).iter().map(|(_, o, _)| *o).collect();
        assert_eq!(offs, [0, 4, 8, 16, 24, 32]);
        assert_eq!(r.size, 48);
        let u = record(
            "union N { int i; float f; } struct Foo { int m; union N n; } BEGIN {}",
            "Foo",
        );
        assert_eq!(offsets(&u)[1], ("n".into(), 4, None));
        assert_eq!(u.size, 8);
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

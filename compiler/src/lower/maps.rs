//! The script's maps: their key and value types, inferred over the whole script before any
//! probe is lowered (a map written in one probe is read in another), and the BPF maps that
//! hold them (`bpf_map`). Aggregations live in per-CPU hashes; plain values in hashes.

use std::collections::{HashMap, HashSet};

use super::bpf_map::{BpfMap, MapKind};
use super::builtins::{aggregation, is_args, value_type};
use super::{map_parts, LowerOptions, INT, SIGNED};
use crate::ast::visit::{walk_expr, walk_stmt, Visitor};
use crate::ast::*;
use crate::check::fold::{fold, Literal};
use crate::diagnostic::Diagnostic;
use crate::probe::ArgAccess;
use crate::program::{MapInfo, MapValue, StructField, StructLayout, ValueType};
use crate::resolve::{ResolvedProbe, ResolvedProgram};
use crate::span::Span;
use crate::types::{KernelAccess, KernelValue};

/// The BPF map type of a declared kind.
fn declared_kind(kind: MapDeclKind) -> MapKind {
    match kind {
        MapDeclKind::Hash => MapKind::Hash,
        MapDeclKind::LruHash => MapKind::LruHash,
        MapDeclKind::PercpuHash => MapKind::PercpuHash,
        MapDeclKind::PercpuLruHash => MapKind::LruPercpuHash,
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    name: String,
    keys: Option<Vec<ValueType>>,
    value: Option<MapValue>,
    /// What the previous round learned, for a use this round reaches before the map's
    /// first write (`@m[@x]` in a probe before the one that assigns `@x` a string).
    learned_keys: Option<Vec<ValueType>>,
    learned_value: Option<MapValue>,
}

pub struct MapTable {
    entries: Vec<Entry>,
    /// `let @m = kind(n);`: each declared map's kind and size (check has refused a value
    /// that does not fit the kind).
    declared: HashMap<String, (MapDeclKind, u32)>,
    index: HashMap<String, usize>,
    /// Each probe's scratch variables with the type that holds every value assigned to them
    /// (a string variable gets the longest length assigned anywhere in the probe).
    probe_vars: Vec<HashMap<String, ValueType>>,
    /// This round's uses of a map keyed unlike its earlier uses (a string where an integer
    /// was): refused, never laid out as the first use's key.
    key_conflicts: Vec<Diagnostic>,
    /// The maps a per-CPU array may hold (`array_maps`; `is_array` decides).
    arrays: HashSet<String>,
    /// `max_map_keys`: an array holds a map only in no more entries than its hash would.
    max_keys: u32,
    /// The machine's possible CPUs: a per-CPU map's memory grows with them.
    ncpus: u32,
}

/// What a preallocated hash entry takes besides its key and values: the kernel's element
/// header and the pointer to its per-CPU values.
const HASH_ENTRY_BYTES: u64 = 56;
/// A stack-trace map bucket's header before its frames (free-list node, hash, frame count).
const STACK_BUCKET_BYTES: u64 = 16;

/// The bytes of one stack of this type in its stack-trace map.
fn stack_value_size(stack: &ValueType) -> Option<u32> {
    let &ValueType::Stack { mode, limit, .. } = stack else {
        return None;
    };
    Some(crate::program::stack_frame_size(mode) * limit)
}

/// Enough rounds for a chain of maps each read before the one it is copied from is written.
const MAX_ROUNDS: usize = 8;

/// The pre-pass over one probe, writing into the table.
struct Infer<'a> {
    table: &'a mut MapTable,
    vars: HashMap<String, ValueType>,
    /// Variables declared with an integer type: their type is that one.
    declared: HashSet<String>,
    probe: &'a ResolvedProbe,
    options: &'a LowerOptions,
}

impl MapTable {
    pub fn infer(
        program: &ResolvedProgram,
        options: &LowerOptions,
    ) -> Result<MapTable, Vec<Diagnostic>> {
        let declared = program
            .ast
            .items
            .iter()
            .filter_map(|item| match item {
                Item::MapDecl(m) => {
                    let (kind, size) = m.kind_and_size()?;
                    Some((m.map.name.clone(), (kind, u32::try_from(size).ok()?)))
                }
                _ => None,
            })
            .collect();
        let mut table = MapTable {
            entries: Vec::new(),
            declared,
            index: HashMap::new(),
            probe_vars: Vec::new(),
            key_conflicts: Vec::new(),
            arrays: super::array_maps::array_maps(&program.ast),
            max_keys: options.max_map_keys,
            ncpus: options.ncpus.max(1),
        };
        // Rounds until the types settle: a map read before the statement that writes it
        // learns its type from the round before, which each round starts afresh from, so a
        // guess made before the write (a plain integer) does not stay in the result.
        for _ in 0..MAX_ROUNDS {
            let before = table.entries.clone();
            for e in &mut table.entries {
                e.learned_keys = e.keys.take().or(e.learned_keys.take());
                e.learned_value = e.value.take().or(e.learned_value.take());
            }
            table.probe_vars.clear();
            table.key_conflicts.clear();
            for (probe, resolved) in program.probes() {
                let mut pass = Infer {
                    table: &mut table,
                    vars: HashMap::new(),
                    declared: HashSet::new(),
                    probe: resolved,
                    options,
                };
                pass.probe(probe);
                let vars = pass.vars;
                table.probe_vars.push(vars);
            }
            let settled = table.entries.len() == before.len()
                && table
                    .entries
                    .iter()
                    .zip(&before)
                    .all(|(now, then)| now.keys == then.keys && now.value == then.value);
            if settled {
                break;
            }
        }
        if !table.key_conflicts.is_empty() {
            return Err(std::mem::take(&mut table.key_conflicts));
        }
        Ok(table)
    }

    /// The type a probe's scratch variable is stored as, when the pre-pass saw it assigned.
    pub fn var_type(&self, probe: usize, name: &str) -> Option<&ValueType> {
        self.probe_vars.get(probe)?.get(name)
    }

    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Map `map`'s name as written, without `@`.
    pub fn name(&self, map: usize) -> &str {
        &self.entries[map].name
    }

    pub fn keys(&self, map: usize) -> &[ValueType] {
        let e = &self.entries[map];
        e.keys
            .as_deref()
            .or(e.learned_keys.as_deref())
            .unwrap_or(&[])
    }

    pub fn value(&self, map: usize) -> MapValue {
        let e = &self.entries[map];
        e.value
            .clone()
            .or_else(|| e.learned_value.clone())
            .unwrap_or(MapValue::Plain(INT))
    }

    /// The key's fields as stored: the map's keys, plus the bucket for histograms; a map
    /// without keys is keyed by one u64 zero.
    pub fn key_fields(&self, map: usize) -> Vec<ValueType> {
        let mut fields = self.keys(map).to_vec();
        if self.value(map).keyed_by_bucket() {
            fields.push(INT);
        }
        if fields.is_empty() {
            fields.push(INT);
        }
        fields
    }

    /// The type of `$kv` in `for ($kv : @map)`: (key, value), the key a tuple when the map has
    /// several. `None` for maps a loop cannot walk: keyless ones, and those whose value is not
    /// one number or plain value (avg, stats, hist, lhist), as in bpftrace.
    pub fn entry_type(&self, map: usize) -> Option<ValueType> {
        let key = match self.keys(map) {
            [] => return None,
            [one] => one.clone(),
            several => ValueType::Tuple(several.to_vec()),
        };
        let value = match self.value(map) {
            MapValue::Plain(ty) => ty,
            MapValue::Count => INT,
            MapValue::Sum { signed } | MapValue::Min { signed } | MapValue::Max { signed } => {
                ValueType::Int { size: 8, signed }
            }
            MapValue::Avg { .. }
            | MapValue::Stats { .. }
            | MapValue::Hist { .. }
            | MapValue::Lhist { .. }
            | MapValue::Tseries { .. } => return None,
        };
        Some(ValueType::Tuple(vec![key, value]))
    }

    fn is_histogram(&self, map: usize) -> bool {
        self.value(map).keyed_by_bucket()
    }

    pub fn key_size(&self, map: usize) -> u32 {
        ValueType::Tuple(self.key_fields(map)).size()
    }

    pub fn value_size(&self, map: usize) -> u32 {
        self.value(map).stored_size()
    }

    pub fn bpf_maps(&self, options: &LowerOptions) -> Vec<BpfMap> {
        (0..self.entries.len())
            .map(|i| {
                let plain = matches!(self.value(i), MapValue::Plain(_));
                let (kind, max_entries) = match self.declared.get(&self.entries[i].name) {
                    Some(&(kind, size)) => (declared_kind(kind), size),
                    None if self.is_array(i) => (
                        MapKind::PercpuArray,
                        self.array_entries(i).expect("an array has its entries"),
                    ),
                    None if plain => (MapKind::Hash, options.max_map_keys),
                    None => (MapKind::PercpuHash, options.max_map_keys),
                };
                BpfMap {
                    name: format!("tb_m{i}"),
                    kind,
                    // An array's index is a u32: the low half of the u64 the programs store
                    // (a key-less count's zero, a histogram's bucket).
                    key_size: if self.is_array(i) {
                        4
                    } else {
                        self.key_size(i)
                    },
                    value_size: self.value_size(i),
                    max_entries,
                    flags: 0,
                }
            })
            .collect()
    }

    pub fn infos(&self) -> Vec<MapInfo> {
        (0..self.entries.len())
            .map(|i| MapInfo {
                name: self.entries[i].name.clone(),
                bpf_name: format!("tb_m{i}"),
                // The runtime decodes the stored key: with the bucket for histograms (an
                // array's u32 index), but without the u64 zero that keys a map written
                // without keys. An array indexed by stack id reads as keyed by the stack.
                key: if self.keys(i).is_empty() && !self.is_histogram(i) {
                    Vec::new()
                } else if self.is_array(i) && self.failed_stack_index(i).is_none() {
                    vec![ValueType::Int {
                        size: 4,
                        signed: false,
                    }]
                } else {
                    self.key_fields(i)
                },
                value: self.value(i),
                sampled: 1,
                declared_size: self.declared.get(&self.entries[i].name).map(|&(_, n)| n),
                zero_is_unset: self.is_array(i),
                failed_stack_index: self.failed_stack_index(i),
            })
            .collect()
    }

    /// Whether a per-CPU array holds map `i` (`array_maps` allows it): a key-less count or
    /// histogram only ever added to, whose entries are no more than its hash would hold, or a
    /// count by kernel stack whose array takes no more memory than the larger of its hash and
    /// the stack map it indexes (so at most doubles what the stack map costs: on 64 CPUs,
    /// 4 MB beside 8 MB for 127 frames; for 5 frames the hash).
    pub fn is_array(&self, i: usize) -> bool {
        if !self.arrays.contains(&self.entries[i].name) {
            return false;
        }
        let Some(n) = self.array_entries(i) else {
            return false;
        };
        match self.keys(i) {
            [] => n <= self.max_keys,
            [stack] => {
                let cpus = u64::from(self.ncpus);
                let array = u64::from(n) * 8 * cpus;
                let hash = u64::from(self.max_keys) * (HASH_ENTRY_BYTES + 8 + 8 * cpus);
                array <= hash.max(self.stack_map_bytes(stack))
            }
            _ => false,
        }
    }

    /// The entries map `i` needs as an array: one for a count, one a bucket for a histogram
    /// (its bucket is its index), a stack id and one more for a count by kernel stack;
    /// `None` for other values and keys.
    fn array_entries(&self, i: usize) -> Option<u32> {
        let n = match (self.keys(i), self.value(i)) {
            ([], MapValue::Count) => 1,
            ([], MapValue::Hist { k }) => crate::program::log2_buckets(k),
            ([], MapValue::Lhist { min, max, step }) => {
                crate::program::linear_buckets(min, max, step)?
            }
            ([stack @ ValueType::Stack { user: false, .. }], MapValue::Count) => {
                u64::from(self.stack_ids(stack)?) + 1
            }
            _ => return None,
        };
        u32::try_from(n).ok()
    }

    /// The ids `bpf_get_stackid` hands out for stacks of this type.
    fn stack_ids(&self, stack: &ValueType) -> Option<u32> {
        let value_size = stack_value_size(stack)?;
        let entries = super::stacks::stack_map_entries(self.max_keys, value_size);
        Some(super::stacks::stack_ids(entries))
    }

    /// What the stack-trace map of stacks of this type preallocates: a bucket an id, each the
    /// frames after the kernel's header.
    fn stack_map_bytes(&self, stack: &ValueType) -> u64 {
        let (Some(ids), Some(value_size)) = (self.stack_ids(stack), stack_value_size(stack)) else {
            return 0;
        };
        u64::from(ids) * (STACK_BUCKET_BYTES + u64::from(value_size))
    }

    /// For a count by kernel stack in a per-CPU array (indexed by the stack's id): the index
    /// past the ids, which counts the hits whose stack the kernel did not record (a negative
    /// id, which the hash would have stored as its key).
    pub fn failed_stack_index(&self, i: usize) -> Option<u32> {
        match self.keys(i) {
            [stack] if self.is_array(i) => self.stack_ids(stack),
            _ => None,
        }
    }

    fn entry(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.entries.push(Entry {
            name: name.to_string(),
            keys: None,
            value: None,
            learned_keys: None,
            learned_value: None,
        });
        self.index.insert(name.to_string(), self.entries.len() - 1);
        self.entries.len() - 1
    }

    /// The key types of one use of `map`, written at `at`.
    fn note_keys(&mut self, map: usize, keys: Vec<ValueType>, at: Span) {
        let e = &mut self.entries[map];
        if let Some(old) = &e.keys {
            if old.len() != keys.len() || old.iter().zip(&keys).any(|(a, b)| conflicting(a, b)) {
                let name = format!("@{}", e.name);
                self.key_conflicts.push(
                    Diagnostic::error(
                        format!("map `{name}` is keyed by different types"),
                        at,
                        "keyed unlike its first use",
                    )
                    .with_help("use keys of the same types everywhere the map is used"),
                );
                return;
            }
        }
        e.keys = Some(match e.keys.take() {
            None => keys,
            Some(old) => old.iter().zip(&keys).map(|(a, b)| unify(a, b)).collect(),
        });
    }

    fn note_value(&mut self, map: usize, value: MapValue, at: Span) {
        let e = &mut self.entries[map];
        if let (
            Some(MapValue::Plain(old @ ValueType::Stack { .. })),
            MapValue::Plain(new @ ValueType::Stack { .. }),
        ) = (&e.value, &value)
        {
            if old != new {
                // Stack ids of two stack maps in one map would print as the first's stacks.
                let name = format!("@{}", e.name);
                self.key_conflicts.push(
                    Diagnostic::error(
                        format!("map `{name}` holds stacks of different types"),
                        at,
                        "a stack unlike the one the map first holds",
                    )
                    .with_help("use the same stack mode and frame count everywhere"),
                );
                return;
            }
        }
        e.value = Some(match (e.value.take(), value) {
            (Some(MapValue::Plain(a)), MapValue::Plain(b)) => MapValue::Plain(unify(&a, &b)),
            // An aggregation decides the map's kind; a later `++` does not change it.
            (Some(old), MapValue::Plain(_)) => old,
            // One aggregation called with signed and unsigned values is signed.
            (Some(old), new) => {
                let signed = old.signed() || new.signed();
                new.with_signed(signed)
            }
            (None, new) => new,
        });
    }
}

/// The pre-pass over one probe: the maps it names, with their key and value types, and its
/// variables' types as far as the pass has read.
impl<'t> Visitor<'t> for Infer<'_> {
    fn stmt(&mut self, s: &'t Stmt) {
        match &s.kind {
            StmtKind::Assign { target, op, value } => {
                self.expr(value);
                if let Some((name, keys)) = map_parts(target) {
                    let map = self.table.entry(&name.name);
                    for k in keys {
                        self.expr(k);
                    }
                    let key_types = self.key_types(keys);
                    self.table.note_keys(map, key_types, target.span);
                    let v = match (&value.kind, op) {
                        (ExprKind::Call { name, args }, None) => {
                            let signed = args.first().is_none_or(|a| {
                                !matches!(self.type_of(a), ValueType::Int { signed: false, .. })
                            });
                            aggregation(&name.name, args, signed)
                        }
                        _ => None,
                    };
                    let v = v.unwrap_or_else(|| {
                        if op.is_some() {
                            MapValue::Plain(SIGNED)
                        } else {
                            MapValue::Plain(self.type_of(value))
                        }
                    });
                    self.table.note_value(map, v, value.span);
                } else if let ExprKind::Var(name) = &target.kind {
                    // A declared variable keeps its declared type.
                    if !self.declared.contains(name) {
                        let ty = if op.is_some() {
                            SIGNED
                        } else {
                            self.type_of(value)
                        };
                        let ty = match self.vars.get(name) {
                            Some(old) => unify(old, &ty),
                            None => ty,
                        };
                        self.vars.insert(name.clone(), ty);
                    }
                }
            }
            StmtKind::Let { var, ty, value } => {
                if let Some(v) = value {
                    self.expr(v);
                }
                // A declared integer type is the variable's, whatever is assigned to it.
                if let Some(declared) = ty.as_ref().and_then(declared_int) {
                    self.declared.insert(var.name.clone());
                    self.vars.insert(var.name.clone(), declared);
                } else if let Some(v) = value {
                    let ty = self.type_of(v);
                    self.vars.insert(var.name.clone(), ty);
                }
            }
            StmtKind::For { var, iter, body } => {
                match iter {
                    ForIter::Range(a, b) => {
                        self.expr(a);
                        self.expr(b);
                        self.vars.insert(var.name.clone(), SIGNED);
                    }
                    ForIter::Map(m) => {
                        let entry = map_parts(m)
                            .and_then(|(name, _)| self.table.lookup(&name.name))
                            .and_then(|map| self.table.entry_type(map));
                        if let Some(entry) = entry {
                            self.vars.insert(var.name.clone(), entry);
                        }
                    }
                }
                self.block(body);
            }
            _ => walk_stmt(self, s),
        }
    }

    /// Notes map reads and `++` updates inside an expression.
    fn expr(&mut self, e: &'t Expr) {
        match &e.kind {
            ExprKind::Map { name, keys } if !keys.is_empty() => {
                let map = self.table.entry(&name.name);
                for k in keys {
                    self.expr(k);
                }
                let key_types = self.key_types(keys);
                self.table.note_keys(map, key_types, e.span);
            }
            ExprKind::Map { name, .. } => {
                self.table.entry(&name.name);
            }
            ExprKind::Update { target, .. } => {
                self.expr(target);
                if let Some((name, _)) = map_parts(target) {
                    let map = self.table.entry(&name.name);
                    self.table.note_value(map, MapValue::Plain(SIGNED), e.span);
                }
            }
            _ => walk_expr(self, e),
        }
    }
}

impl Infer<'_> {
    /// The type of an expression's value, as stored in a map or a variable.
    fn type_of(&self, e: &Expr) -> ValueType {
        static_type(e, &self.vars, self.probe, self.options, self.table)
    }

    /// A map's key types; one tuple key is its fields, as `@m[(a, b)]` is `@m[a, b]`
    /// (`$t = (a, b); @m[$t]` too).
    fn key_types(&self, keys: &[Expr]) -> Vec<ValueType> {
        let types: Vec<ValueType> = keys.iter().map(|k| self.type_of(k)).collect();
        match types.as_slice() {
            [ValueType::Tuple(fields)] if fields.len() > 1 => fields.clone(),
            _ => types,
        }
    }
}

/// The type of an expression given the variables' types so far.
pub(crate) fn static_type(
    e: &Expr,
    vars: &HashMap<String, ValueType>,
    probe: &ResolvedProbe,
    options: &LowerOptions,
    maps: &MapTable,
) -> ValueType {
    let recurse = |e: &Expr| static_type(e, vars, probe, options, maps);
    if let Some(access) = e.kernel.as_deref() {
        return kernel_value_type(access);
    }
    if is_boolean(e) {
        return ValueType::Bool;
    }
    if let (ExprKind::Unary { .. } | ExprKind::Binary { .. }, Some(Ok(lit))) = (&e.kind, fold(e)) {
        return ValueType::Int {
            size: 8,
            signed: lit.signed(),
        };
    }
    match &e.kind {
        ExprKind::Str(s) => ValueType::str(s.len() as u32 + 1),
        ExprKind::Bool(_) => ValueType::Bool,
        ExprKind::Int(n) if *n > i64::MAX as u64 => INT,
        ExprKind::Int(_) => SIGNED,
        ExprKind::Var(v) => vars.get(v).cloned().unwrap_or(SIGNED),
        ExprKind::Positional(n) => match options.positional.get(*n as usize - 1) {
            Some(p) if p.parse::<i64>().is_err() => ValueType::str(p.len() as u32 + 1),
            _ => SIGNED,
        },
        ExprKind::Map { name, .. } => match maps.lookup(&name.name) {
            Some(m) => match maps.value(m) {
                MapValue::Plain(ty) => ty,
                MapValue::Count => INT,
                kind => ValueType::Int {
                    size: 8,
                    signed: kind.signed(),
                },
            },
            None => SIGNED,
        },
        // Names the table lacks are kernel enumerators (typed above) or refused by lowering.
        ExprKind::Ident(name) => value_type(name, &[], probe, options).unwrap_or(INT),
        // `buf(a)` of an array: as long as the array.
        ExprKind::Call { name, args } if name.name == "buf" && args.len() == 1 => {
            match recurse(&args[0]) {
                array @ ValueType::Array { .. } => ValueType::Buf { len: array.size() },
                _ => value_type(&name.name, args, probe, options).unwrap_or(SIGNED),
            }
        }
        ExprKind::Call { name, args } => {
            value_type(&name.name, args, probe, options).unwrap_or(SIGNED)
        }
        ExprKind::Field { expr, field, .. } if is_args(expr) => args_field_type(probe, field),
        ExprKind::Tuple(items) => ValueType::Tuple(items.iter().map(recurse).collect()),
        ExprKind::Record(fields) => {
            record_type(fields.iter().map(|(n, v)| (n.name.clone(), recurse(v))))
        }
        ExprKind::Ternary {
            then, otherwise, ..
        }
        | ExprKind::IfElse {
            then, otherwise, ..
        } => unify(&recurse(then), &recurse(otherwise)),
        ExprKind::Index { expr, index } => match recurse(expr) {
            ValueType::Array { elem, .. } => held(*elem),
            ValueType::Tuple(fields) => crate::check::fold::constant_index(index)
                .and_then(|n| fields.get(n as usize).cloned())
                .unwrap_or(SIGNED),
            _ => SIGNED,
        },
        // A field of a struct the script holds.
        ExprKind::Field { expr, field, .. } => match recurse(expr) {
            ValueType::Struct(layout) => layout
                .fields
                .into_iter()
                .find(|f| f.name == field.name)
                .map_or(SIGNED, |f| held(f.ty)),
            _ => SIGNED,
        },
        ExprKind::Block { value, .. } => recurse(value),
        ExprKind::TupleIndex { expr, index } => match recurse(expr) {
            ValueType::Tuple(fields) => fields.get(*index as usize).cloned().unwrap_or(SIGNED),
            _ => SIGNED,
        },
        ExprKind::Unary { op, expr } => unary_type(*op, expr, &recurse),
        ExprKind::Binary { op, lhs, rhs } => binary_type(*op, lhs, rhs, &recurse),
        ExprKind::Cast { ty, expr } => cast_type(ty, &recurse(expr)),
        _ => SIGNED,
    }
}

/// The type of a unary operator's value: `&x` a pointer, `*&$v` the variable's, `-`/`~` their
/// operand's width and signedness (`-(uint8)2` is 254).
fn unary_type(op: UnaryOp, expr: &Expr, recurse: &dyn Fn(&Expr) -> ValueType) -> ValueType {
    match op {
        UnaryOp::AddrOf => ValueType::Pointer,
        UnaryOp::Deref => match &expr.kind {
            ExprKind::Unary {
                op: UnaryOp::AddrOf,
                expr: var,
            } if matches!(var.kind, ExprKind::Var(_)) => recurse(var),
            _ => SIGNED,
        },
        UnaryOp::Neg | UnaryOp::BitNot => match recurse(expr) {
            ty @ ValueType::Int { .. } => ty,
            _ => SIGNED,
        },
        _ => SIGNED,
    }
}

/// The type of a binary operator's value: pointer arithmetic keeps the pointer; the distance
/// of two is a number.
fn binary_type(
    op: BinaryOp,
    lhs: &Expr,
    rhs: &Expr,
    recurse: &dyn Fn(&Expr) -> ValueType,
) -> ValueType {
    match (recurse(lhs), recurse(rhs)) {
        (ValueType::Pointer, ValueType::Int { .. })
            if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
        {
            ValueType::Pointer
        }
        (ValueType::Int { .. }, ValueType::Pointer) if op == BinaryOp::Add => ValueType::Pointer,
        (ValueType::Int { signed: a, .. }, ValueType::Int { signed: b, .. }) => ValueType::Int {
            size: 8,
            signed: op == BinaryOp::Sub || signed_operands(lhs, a, rhs, b),
        },
        _ => SIGNED,
    }
}

/// A record, `(a = 1, b = "x")`: its fields laid out as a tuple's are, printed by name as a
/// struct is (`{ .a = 1, .b = x }`), as the current release prints records.
pub(crate) fn record_type(fields: impl Iterator<Item = (String, ValueType)>) -> ValueType {
    let (names, types): (Vec<String>, Vec<ValueType>) = fields.unzip();
    let offsets = ValueType::field_offsets(&types);
    let tuple = ValueType::Tuple(types.clone());
    ValueType::Struct(StructLayout {
        size: tuple.size(),
        align: tuple.align(),
        fields: names
            .into_iter()
            .zip(types)
            .zip(offsets)
            .map(|((name, ty), offset)| StructField {
                name,
                offset,
                bitfield: None,
                ty,
            })
            .collect(),
    })
}

/// Whether two structs have the same field names and no bitfields (two records).
fn same_fields(x: &StructLayout, y: &StructLayout) -> bool {
    let plain = |l: &StructLayout| l.fields.iter().all(|f| f.bitfield.is_none());
    x.fields.len() == y.fields.len()
        && plain(x)
        && plain(y)
        && x.fields
            .iter()
            .all(|f| y.fields.iter().any(|g| g.name == f.name))
}

/// Whether an expression is a comparison, `!`, `&&` or `||`: a `bool` in the current release
/// (0 or 1 in a register, printed `true`/`false`).
fn is_boolean(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => true,
        ExprKind::Binary { op, .. } => op.yields_bool(),
        _ => false,
    }
}

/// The type of a kernel-typed expression's value, as the script holds it.
fn kernel_value_type(access: &KernelAccess) -> ValueType {
    match access {
        KernelAccess::Const(_) => INT,
        KernelAccess::Signed(_) => super::SIGNED,
        KernelAccess::Enumerator(_, names) | KernelAccess::EnumCast(names) => {
            ValueType::Enum(names.held())
        }
        KernelAccess::PointerStep { .. } => ValueType::Pointer,
        KernelAccess::Member { value, .. }
        | KernelAccess::Deref { value, .. }
        | KernelAccess::Index { value, .. } => match value {
            KernelValue::Int { signed, .. } => ValueType::Int {
                size: 8,
                signed: *signed,
            },
            KernelValue::Str { len } => ValueType::str(*len),
            KernelValue::Array(ty) | KernelValue::Struct(ty) => ty.clone(),
            KernelValue::Enum(names) => ValueType::Enum(names.held()),
            KernelValue::Pointer => ValueType::Pointer,
            // Refused where it is read; the type only keeps the map table going.
            KernelValue::Aggregate { .. } | KernelValue::Float { .. } => SIGNED,
        },
    }
}

/// The type of `args.field`: as the probe's kind typed the field.
fn args_field_type(probe: &ResolvedProbe, field: &Ident) -> ValueType {
    match probe
        .args
        .iter()
        .find(|a| a.name == field.name)
        .map(|a| &a.access)
    {
        Some(ArgAccess::Int { signed, .. }) => ValueType::Int {
            size: 8,
            signed: *signed,
        },
        Some(ArgAccess::Enum { names }) => ValueType::Enum(names.held()),
        Some(ArgAccess::CharArray { len }) => ValueType::str(*len),
        Some(&ArgAccess::IntArray {
            elem_size,
            signed,
            len,
        }) => ValueType::Array {
            elem: Box::new(ValueType::Int {
                size: elem_size,
                signed,
            }),
            len,
        },
        Some(ArgAccess::DataLoc) => INT,
        // Refused when lowered.
        Some(ArgAccess::Uneven { .. }) | None => SIGNED,
    }
}

/// The type of `(ty)x` for an `x` of type `from`.
fn cast_type(ty: &TypeName, from: &ValueType) -> ValueType {
    if ty.array.is_some() {
        return super::array::array_cast_type(ty, from).unwrap_or(SIGNED);
    }
    if ty.pointers > 0 {
        return ValueType::Pointer;
    }
    match &ty.base {
        TypeBase::Builtin(n) if ty.pointers == 0 && n == "bool" => ValueType::Bool,
        TypeBase::Builtin(n) if ty.pointers == 0 && n == "string" => from.clone(),
        TypeBase::Builtin(n) if ty.pointers == 0 => ValueType::Int {
            size: int_cast_bits(n) / 8,
            signed: n.starts_with("int"),
        },
        _ => INT,
    }
}

/// Whether an operator on `lhs` and `rhs` (signed `a` and `b`) computes signed, as the
/// current release decides it: when either side is signed, a non-negative literal taking
/// the other side's signedness (`(uint64)$x + 5` is unsigned, `(uint8)$x < -1` signed).
/// Subtraction is signed besides (docs/integers.md).
pub(crate) fn signed_operands(lhs: &Expr, a: bool, rhs: &Expr, b: bool) -> bool {
    // A literal, or operators on literals folded to a non-negative one (`(1 + 2)`).
    let literal = |e: &Expr| {
        matches!(e.kind, ExprKind::Int(_)) || matches!(fold(e), Some(Ok(Literal::NonNegative(_))))
    };
    match (literal(lhs), literal(rhs)) {
        (true, false) => b,
        (false, true) => a,
        _ => a || b,
    }
}

/// Two types stored in one place: strings take the longer length, tuples field by field.
/// An element or field as the script holds it once read: integers and enums in 8 bytes.
fn held(ty: ValueType) -> ValueType {
    match ty {
        ValueType::Int { signed, .. } => ValueType::Int { size: 8, signed },
        ValueType::Enum(names) => ValueType::Enum(names.held()),
        other => other,
    }
}

/// Two key types no one layout holds: a number and a string, tuples of other lengths or
/// fields. Integers of any width or sign, enums, pointers and bools are all numbers.
fn conflicting(a: &ValueType, b: &ValueType) -> bool {
    use ValueType as T;
    let number = |t: &T| matches!(t, T::Int { .. } | T::Enum(_) | T::Pointer | T::Bool);
    match (a, b) {
        _ if number(a) && number(b) => false,
        (T::Str { .. }, T::Str { .. }) => false,
        (T::Tuple(x), T::Tuple(y)) => {
            x.len() != y.len() || x.iter().zip(y).any(|(a, b)| conflicting(a, b))
        }
        // Each (mode, frame count) has its own stack map, and an id is only good in its own
        // (the current release refuses them as different types too).
        (T::Stack { .. }, T::Stack { .. }) => a != b,
        _ => std::mem::discriminant(a) != std::mem::discriminant(b),
    }
}

fn unify(a: &ValueType, b: &ValueType) -> ValueType {
    match (a, b) {
        // An enum with anything but itself (`@[ONE] = 1; @[ONE + 1] = 2`) is a plain integer,
        // as the current release prints it.
        (ValueType::Enum(x), ValueType::Enum(y)) if x == y => a.clone(),
        (ValueType::Enum(x), ValueType::Int { signed, .. })
        | (ValueType::Int { signed, .. }, ValueType::Enum(x)) => ValueType::Int {
            size: 8,
            signed: x.signed || *signed,
        },
        (ValueType::Enum(x), ValueType::Enum(y)) => ValueType::Int {
            size: 8,
            signed: x.signed || y.signed,
        },
        (
            ValueType::Str {
                len: x,
                cut_trailer: a,
            },
            ValueType::Str {
                len: y,
                cut_trailer: b,
            },
        ) => ValueType::Str {
            len: (*x).max(*y),
            cut_trailer: a.clone().or_else(|| b.clone()),
        },
        // A pointer stepped by `+=`/`++` (typed as a number there) stays a pointer.
        (ValueType::Pointer, ValueType::Int { .. })
        | (ValueType::Int { .. }, ValueType::Pointer) => ValueType::Pointer,
        // Two records of the same fields (in any order): the first one's order, each
        // field wide enough for both.
        (ValueType::Struct(x), ValueType::Struct(y)) if x != y && same_fields(x, y) => {
            record_type(x.fields.iter().map(|f| {
                let other = y.fields.iter().find(|g| g.name == f.name).map(|g| &g.ty);
                (f.name.clone(), unify(&f.ty, other.unwrap_or(&f.ty)))
            }))
        }
        (ValueType::Tuple(x), ValueType::Tuple(y)) if x.len() == y.len() => {
            ValueType::Tuple(x.iter().zip(y).map(|(a, b)| unify(a, b)).collect())
        }
        // One width stays (a variable only ever `(uint8)` is one byte); mixed ones are 8.
        (ValueType::Int { size: a, signed: x }, ValueType::Int { size: b, signed: y }) => {
            ValueType::Int {
                size: if a == b { *a } else { 8 },
                signed: *x || *y,
            }
        }
        (a, _) => a.clone(),
    }
}

/// The width of a builtin integer type's name (`uint8` is 8), 64 for the rest.
pub(crate) fn int_cast_bits(name: &str) -> u32 {
    name.trim_start_matches('u')
        .trim_start_matches("int")
        .parse::<u32>()
        .unwrap_or(64)
}

/// The integer type a `let $x: T` declares, when T is one (`uint8` ... `int64`): its size in
/// bytes and signedness. Other declared types are the value's own.
pub(crate) fn declared_int(ty: &TypeName) -> Option<ValueType> {
    let (TypeBase::Builtin(name), 0, None) = (&ty.base, ty.pointers, &ty.array) else {
        return None;
    };
    let bits: u32 = name
        .strip_prefix('u')
        .unwrap_or(name)
        .strip_prefix("int")?
        .parse()
        .ok()?;
    matches!(bits, 8 | 16 | 32 | 64).then_some(ValueType::Int {
        size: bits / 8,
        signed: !name.starts_with('u'),
    })
}

//! `tracepoint:category:event` (or `tracepoint:event` with a wildcard, any category): a
//! static tracepoint; its `args` are the fields of its format file, typed as bpftrace types
//! them.

use std::collections::HashMap;

use super::args::{merge_fields, ArgAccess, ArgField};
use super::{fact_error, ProbeKind, Provider, ProviderKind, Resolution, Target};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::machine::ctype::CType;
use crate::machine::expand::expand_tracepoints;
use crate::machine::facts::{FactError, MachineFacts};
use crate::machine::tracepoint_format::{field_type, FieldType, TracepointFormat};
use crate::parse::attach::Part;
use crate::program::EnumNames;
use crate::types::{KType, NameSpace};

pub struct Tracepoint;

static PROVIDER: Provider = Provider {
    kind: ProviderKind::Tracepoint,
    name: "tracepoint",
    aliases: &["t"],
    parts: (1, 2),
    contexts: tracebound_stdlib::Contexts::ARGS,
    usage: "tracepoint:category:event",
};

impl ProbeKind for Tracepoint {
    fn provider(&self) -> &'static Provider {
        &PROVIDER
    }

    /// One part only as a wildcard over every category (`tracepoint:sys_enter_*`).
    fn parts_fit(&self, args: &[Part]) -> bool {
        match args {
            [event] => event.has_wildcard(),
            [_, _] => true,
            _ => false,
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let (category, event) = match parts {
            [_, event] => ("*", event.text.as_str()),
            [_, category, event] => (category.text.as_str(), event.text.as_str()),
            _ => {
                return Err(Diagnostic::error(
                    "malformed tracepoint",
                    ap.span,
                    "expected tracepoint:category:event",
                ))
            }
        };
        let matches = expand_tracepoints(facts, category, event).map_err(|e| fact_error(e, ap))?;
        if matches.is_empty() {
            return Err(Diagnostic::error(
                format!("no tracepoint matches `{category}:{event}`"),
                ap.span,
                "matches nothing on this machine",
            )
            .with_help("list them with `tracebound -l 'tracepoint:*'`")
            .of_missing_probe());
        }
        // One program serves every match: a field is read at one offset for all of them, so
        // each match's format is read and a field that differs is refused where it is used.
        let mut args: Option<(Vec<ArgField>, String)> = None;
        for (cat, ev) in &matches {
            let format = facts.tracepoint_format(cat, ev).map_err(|e| match e {
                FactError::NotFound { .. } => unknown_tracepoint(facts, cat, ev, ap),
                other => fact_error(other, ap),
            })?;
            let fields = fields_of(&format, facts);
            let here = format!("{cat}:{ev}");
            args = Some(match args {
                None => (fields, here),
                Some((so_far, first)) => (merge_fields(so_far, &first, &fields, &here), first),
            });
        }
        let args = args.map(|(a, _)| a).unwrap_or_default();
        Ok(Resolution {
            targets: matches
                .into_iter()
                .map(|(category, event)| Target::Tracepoint { category, event })
                .collect(),
            args,
            ..Default::default()
        })
    }

    /// The BTF types of the format's struct and union pointers (`args.rqtp.tv_sec`), for a
    /// probe of one tracepoint; a syscall's pointers point into user memory.
    fn kernel_arg_types(
        &self,
        targets: &[Target],
        facts: &dyn MachineFacts,
    ) -> HashMap<String, CType> {
        let mut out = HashMap::new();
        let [Target::Tracepoint { category, event }] = targets else {
            return out;
        };
        let Ok(format) = facts.tracepoint_format(category, event) else {
            return out;
        };
        let user = category == "syscalls";
        for f in format.fields.iter().filter(|f| !f.common) {
            let FieldType::Pointer { pointee } = field_type(f) else {
                continue;
            };
            // `const char *const` is a pointer to a pointer to `char` (`args.argv[1]`).
            let spaced = pointee.replace('*', " * ");
            let words: Vec<&str> = spaced
                .split_whitespace()
                .filter(|w| !matches!(*w, "const" | "volatile"))
                .collect();
            let stars = words.iter().filter(|w| **w == "*").count();
            let base: Vec<&str> = words.iter().copied().filter(|w| *w != "*").collect();
            let (space, name) = match base.as_slice() {
                ["struct", name] => (NameSpace::Struct, name.to_string()),
                ["union", name] => (NameSpace::Union, name.to_string()),
                // A pointer to integers stays the address it is (`str(args.filename)`); one
                // to pointers is typed, so that indexing it reads the pointer there.
                [_, ..] if stars > 0 && words.last() == Some(&"*") => {
                    (NameSpace::Typedef, base.join(" "))
                }
                _ => continue,
            };
            if let Ok(id) = facts.kernel_type_named(space, &name) {
                let mut ty = CType::kernel(id, user);
                for _ in 0..stars {
                    ty = CType::pointer_to(ty);
                }
                out.insert(f.name.clone(), CType::pointer_to(ty));
            }
        }
        out
    }

    fn section(&self, program: &str) -> String {
        format!("tracepoint/tb/{program}")
    }

    fn program_word(&self) -> &'static str {
        "tp"
    }
}

/// A format's fields as `args` reads them; the common fields are not `args`, and a field of a
/// type tracebound does not read is left out (a use of it is unknown).
fn fields_of(format: &TracepointFormat, facts: &dyn MachineFacts) -> Vec<ArgField> {
    format
        .fields
        .iter()
        .filter(|f| !f.common)
        .filter_map(|f| {
            let access = match field_type(f) {
                FieldType::Int { size, signed } => match enum_names(&f.c_type, size, facts) {
                    Some(names) => ArgAccess::Enum { names },
                    None => ArgAccess::Int { size, signed },
                },
                FieldType::Pointer { .. } => ArgAccess::Int {
                    size: 8,
                    signed: false,
                },
                FieldType::Str { len } => ArgAccess::CharArray { len },
                FieldType::DataLoc { .. } => ArgAccess::DataLoc,
                FieldType::Array {
                    elem_size,
                    signed,
                    len,
                } => ArgAccess::IntArray {
                    elem_size,
                    signed,
                    len,
                },
                FieldType::Unsupported { .. } => return None,
            };
            Some(ArgField {
                name: f.name.clone(),
                offset: f.offset,
                access,
            })
        })
        .collect()
}

/// An `enum X` field's names, when the kernel's BTF defines `enum X`: it prints by them, as
/// the current release prints it.
fn enum_names(c_type: &str, size: u32, facts: &dyn MachineFacts) -> Option<EnumNames> {
    let name = c_type.strip_prefix("enum ")?.trim();
    let id = facts.kernel_type_named(NameSpace::Enum, name).ok()?;
    match facts.kernel_type(id).ok()? {
        KType::Enum(e) => Some(EnumNames {
            name: e.name,
            size,
            signed: e.signed,
            values: e.values,
        }),
        _ => None,
    }
}

fn unknown_tracepoint(
    facts: &dyn MachineFacts,
    cat: &str,
    ev: &str,
    ap: &AttachPoint,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        format!("unknown tracepoint `{cat}:{ev}`"),
        ap.span,
        "no such tracepoint",
    );
    if let Ok(all) = facts.tracepoints() {
        let names: Vec<String> = all.iter().map(|(c, e)| format!("{c}:{e}")).collect();
        if let Some(s) = nearest(&format!("{cat}:{ev}"), names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `tracepoint:{s}`?"));
        }
    }
    d.of_missing_probe()
}

//! `-l 'struct task_struct'`: the kernel's structs, unions and enums by name, and under `-v`
//! each definition as C, the way the current release prints them from BTF
//! (`vmlinux: struct task_struct {` ... `};`).

use std::io::Write;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::machine::glob::Glob;
use tracebound_compiler::types::{KType, NameSpace, Record, TypeId};

use crate::probes::io_error;

/// Whether a `-l` pattern names types (`struct x`, `union x`, `enum x`) rather than probes.
pub fn names_types(pattern: &str) -> bool {
    namespace_of(pattern).is_some()
}

fn namespace_of(pattern: &str) -> Option<(NameSpace, &str)> {
    let (keyword, name) = pattern.split_once(' ')?;
    let space = match keyword {
        "struct" => NameSpace::Struct,
        "union" => NameSpace::Union,
        "enum" => NameSpace::Enum,
        _ => return None,
    };
    Some((space, name.trim()))
}

/// Prints each named type matching `pattern` (`struct task_*`); returns how many.
pub fn list_types(
    pattern: &str,
    verbose: bool,
    facts: &dyn MachineFacts,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    let Some((space, name)) = namespace_of(pattern) else {
        return Ok(0);
    };
    let glob = Glob::new(name);
    let mut names = facts.kernel_type_names(space)?;
    names.sort();
    names.dedup();
    let mut count = 0;
    for name in names.iter().filter(|n| glob.matches(n)) {
        let keyword = space.keyword();
        if !verbose {
            writeln!(out, "{keyword} {name}").map_err(io_error)?;
            count += 1;
            continue;
        }
        let id = facts.kernel_type_named(space, name)?;
        let mut text = String::new();
        match facts.kernel_type(id)? {
            KType::Record(record) => {
                text.push_str(&format!("{keyword} {name} {{\n"));
                members(&record, 1, facts, &mut text);
                text.push_str("};\n");
            }
            KType::Enum(e) => {
                text.push_str(&format!("enum {name} {{\n"));
                for (enumerator, value) in &e.values {
                    text.push_str(&format!("\t{enumerator} = {value},\n"));
                }
                text.push_str("};\n");
            }
            // Declared, never defined, in this BTF: there is no definition to show.
            _ => continue,
        }
        // Only this machine's vmlinux BTF is read.
        writeln!(out, "vmlinux: {text}").map_err(io_error)?;
        count += 1;
    }
    Ok(count)
}

/// A record's members, one a line at `depth` tabs; anonymous records inline, as C has them.
fn members(record: &Record, depth: usize, facts: &dyn MachineFacts, text: &mut String) {
    let indent = "\t".repeat(depth);
    for m in &record.members {
        let inline = match facts.kernel_type(m.ty) {
            Ok(KType::Record(inner)) if inner.name.is_empty() => Some(inner),
            _ => None,
        };
        let declaration = match inline {
            Some(inner) => {
                let mut body = format!("{} {{\n", if inner.union { "union" } else { "struct" });
                members(&inner, depth + 1, facts, &mut body);
                body.push_str(&indent);
                body.push('}');
                match m.name.is_empty() {
                    true => body,
                    false => format!("{body} {}", m.name),
                }
            }
            None => declare(m.ty, &m.name, facts),
        };
        match m.bitfield {
            Some(width) => text.push_str(&format!("{indent}{declaration}: {width};\n")),
            None => text.push_str(&format!("{indent}{declaration};\n")),
        }
    }
}

/// `ty name` as a C declaration: pointers, arrays and function pointers wrapped around the
/// name the way C reads them; a typedef by its own name.
fn declare(ty: TypeId, name: &str, facts: &dyn MachineFacts) -> String {
    let spaced = |base: String| match name.is_empty() {
        true => base,
        false => format!("{base} {name}"),
    };
    if let Some(typedef) = facts.kernel_typedef_name(ty) {
        return spaced(typedef);
    }
    match facts.kernel_type(ty) {
        Ok(KType::Void) => spaced("void".into()),
        Ok(KType::Int { name: int, .. }) => spaced(int),
        Ok(KType::Float { size }) => spaced(if size == 4 { "float" } else { "double" }.into()),
        Ok(KType::Record(r)) => spaced(format!(
            "{} {}",
            if r.union { "union" } else { "struct" },
            r.name
        )),
        Ok(KType::Forward { name: fwd, union }) => {
            spaced(format!("{} {fwd}", if union { "union" } else { "struct" }))
        }
        Ok(KType::Enum(e)) => spaced(format!("enum {}", e.name)),
        Ok(KType::Array { elem, len }) => declare(elem, &format!("{name}[{len}]"), facts),
        Ok(KType::Pointer { to }) => {
            let pointed = facts.kernel_typedef_name(to).is_none();
            match facts.kernel_type(to) {
                Ok(KType::FuncProto(proto)) if pointed => {
                    let params: Vec<String> = proto
                        .params
                        .iter()
                        .map(|p| declare(p.ty, "", facts))
                        .collect();
                    let params = match params.is_empty() {
                        true => "void".to_string(),
                        false => params.join(", "),
                    };
                    declare(proto.ret, &format!("(*{name})({params})"), facts)
                }
                Ok(KType::Array { .. }) if pointed => declare(to, &format!("(*{name})"), facts),
                _ => declare(to, &format!("*{name}"), facts),
            }
        }
        Ok(KType::FuncProto(_)) => spaced("void".into()),
        Err(_) => spaced(format!("type{}", ty.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::machine::fixture::FixtureFacts;

    #[test]
    fn type_patterns_are_told_from_probe_patterns() {
        assert!(names_types("struct task_struct"));
        assert!(names_types("enum pid_type"));
        assert!(!names_types("tracepoint:sched:*"));
        assert!(!names_types("structure"));
    }

    #[test]
    fn names_and_definitions() {
        let facts = FixtureFacts::bundled().with_kernel_types();
        let mut out = Vec::new();
        list_types("struct task_struct", false, &facts, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "struct task_struct\n");
        let mut out = Vec::new();
        let n = list_types("struct task_struct", true, &facts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(n, 1);
        assert!(
            text.starts_with("vmlinux: struct task_struct {\n\t"),
            "{text}"
        );
        for line in [
            "\tint pid;\n",
            "\tstruct task_struct *real_parent;\n",
            "\tchar comm[16];\n",
            "\tunion {\n\t\tint a;\n\t\tunsigned int b;\n\t};\n",
            "\tunsigned int in_execve: 1;\n",
            "\tint vals[4];\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        assert!(text.ends_with("};\n\n"), "{text}");
    }
}

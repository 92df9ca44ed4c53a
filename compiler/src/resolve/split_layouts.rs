//! One program per `args` layout. A probe whose attach points lay out `args` differently
//! (`sys_enter_exec*`: `filename` is at offset 16 in execve, 24 in execveat) is served by one
//! program only while it reads none of the fields that differ; a probe that reads one is
//! split here into one probe per layout, each with the whole body, so that every read is at
//! its own attach point's offset. Probes that read nothing uneven stay one program (the
//! cheap case for a 360-member syscall wildcard).

use std::collections::HashSet;

use super::probes::resolve_attach_point;
use super::ResolvedProbe;
use crate::ast::{visit, AttachPoint, ExprKind, Item, Probe, Program};
use crate::machine::facts::MachineFacts;
use crate::probe::{ArgAccess, ArgField, Target};

/// Splits, in place, each probe that reads an uneven `args` field; `probes` stays one entry
/// per probe item, in order. A probe whose targets cannot be re-resolved one by one is left
/// whole, and its read of the uneven field stays the diagnostic it was.
pub fn split_uneven_layouts(
    ast: &mut Program,
    probes: &mut Vec<ResolvedProbe>,
    facts: &dyn MachineFacts,
) {
    let mut resolved = std::mem::take(probes).into_iter();
    let items = std::mem::take(&mut ast.items);
    for item in items {
        let Item::Probe(probe) = item else {
            ast.items.push(item);
            continue;
        };
        let Some(r) = resolved.next() else {
            ast.items.push(Item::Probe(probe));
            continue;
        };
        match layouts(&probe, &r, facts) {
            Some(groups) => {
                for (args, targets) in groups {
                    let mut one = probe.clone();
                    one.attach_points = targets
                        .iter()
                        .map(|t| AttachPoint {
                            text: t.to_string(),
                            span: probe.attach_points[0].span,
                        })
                        .collect();
                    ast.items.push(Item::Probe(one));
                    probes.push(ResolvedProbe {
                        kind: r.kind,
                        targets,
                        args,
                    });
                }
            }
            None => {
                ast.items.push(Item::Probe(probe));
                probes.push(r);
            }
        }
    }
}

type Layout = (Vec<ArgField>, Vec<Target>);

/// The probe's targets grouped by their own `args`, in the order they first appear, when the
/// probe reads a field that differs between them; `None` when it needs no split.
fn layouts(probe: &Probe, r: &ResolvedProbe, facts: &dyn MachineFacts) -> Option<Vec<Layout>> {
    let uneven: HashSet<&str> = r
        .args
        .iter()
        .filter(|f| matches!(f.access, ArgAccess::Uneven { .. }))
        .map(|f| f.name.as_str())
        .collect();
    if uneven.is_empty() || r.targets.len() < 2 || !reads_any(probe, &uneven) {
        return None;
    }
    let span = probe.attach_points.first()?.span;
    let mut groups: Vec<Layout> = Vec::new();
    for target in &r.targets {
        let ap = AttachPoint {
            text: target.to_string(),
            span,
        };
        // The probe was resolved once already, under the run's `--unsafe`.
        let one = resolve_attach_point(&ap, facts, true).ok()?;
        if one.targets.len() != 1 || one.targets[0] != *target {
            return None;
        }
        match groups.iter_mut().find(|(args, _)| *args == one.args) {
            Some((_, targets)) => targets.push(target.clone()),
            None => groups.push((one.args, vec![target.clone()])),
        }
    }
    (groups.len() > 1).then_some(groups)
}

/// Whether the probe reads one of `fields` of `args`, or `args` whole.
fn reads_any(probe: &Probe, fields: &HashSet<&str>) -> bool {
    let mut through_field = 0usize;
    let mut bare = 0usize;
    let mut found = false;
    visit::probe_exprs(probe, &mut |e| match &e.kind {
        ExprKind::Field { expr, field, .. } if is_args(expr) => {
            through_field += 1;
            found |= fields.contains(field.name.as_str());
        }
        _ if is_args(e) => bare += 1,
        _ => {}
    });
    found || bare > through_field
}

fn is_args(e: &crate::ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "args")
}

#[cfg(test)]
mod tests {
    use crate::machine::fixture::FixtureFacts;
    use crate::pipeline::{compile, CompileOptions};

    /// How many of the script's probes the compiled programs run.
    fn compiles(source: &str) -> Result<usize, String> {
        compile(source, &FixtureFacts::bundled(), &CompileOptions::default())
            .map(|c| {
                c.probes
                    .iter()
                    .map(|p| p.probe_index + 1)
                    .max()
                    .unwrap_or(0)
            })
            .map_err(|d| d[0].message.clone())
    }

    #[test]
    fn a_probe_reading_a_field_at_two_offsets_becomes_two_probes() {
        // `filename` is at 16 in execve's record, at 24 in openat's.
        let both = "t:syscalls:sys_enter_execve,t:syscalls:sys_enter_openat \
                    { printf(\"%s\\n\", str(args.filename)); }";
        assert_eq!(compiles(both), Ok(2));
        let none =
            "t:syscalls:sys_enter_execve,t:syscalls:sys_enter_openat { @[probe] = count(); }";
        assert_eq!(compiles(none), Ok(1));
    }
}

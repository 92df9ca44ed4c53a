//! Top-level map declarations (`let @m = lruhash(100);`): the kind must be one bpftrace
//! knows, the size one positive number, each map declared once, and what the probes store
//! must fit the kind: aggregations need a per-CPU kind, plain values one that is not.

use super::{Assigned, Checker, MapInfo};
use crate::ast::{Expr, ExprKind, MapDecl, MapDeclKind};
use crate::diagnostic::{nearest, Diagnostic};
use crate::span::Span;

impl Checker<'_> {
    /// First pass, before any probe: notes the declared kind, so that a probe written before
    /// the declaration is checked against it too.
    pub(super) fn note_map_decl(&mut self, m: &MapDecl) {
        let info = self
            .maps
            .entry(m.map.name.clone())
            .or_insert_with(MapInfo::new);
        if let Some((_, first)) = info.declared {
            let d = Diagnostic::error(
                format!("map `@{}` is declared twice", m.map.name),
                m.span,
                "declared again here",
            )
            .with_label(first, "first declared here");
            self.diags.push(d);
            return;
        }
        // A declared map counts as assigned: a probe may only read it.
        info.assigned = true;
        if let Some(kind) = MapDeclKind::from_name(&m.kind.name) {
            info.declared = Some((kind, m.span));
        }
    }

    pub(super) fn map_decl(&mut self, m: &MapDecl) {
        if MapDeclKind::from_name(&m.kind.name).is_none() {
            let names = MapDeclKind::ALL.map(MapDeclKind::name);
            let mut d = Diagnostic::error(
                format!("invalid bpf map type: `{}`", m.kind.name),
                m.kind.span,
                "not a map kind",
            );
            d = match nearest(&m.kind.name, names) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d,
            };
            self.diags
                .push(d.with_note(format!("valid map types: {}", names.join(", "))));
        }
        let size = match m.args.as_slice() {
            [Expr {
                kind: ExprKind::Int(n),
                span,
                ..
            }] => Some((*n, *span)),
            _ => None,
        };
        match size {
            Some((1..=0xffff_ffff, _)) => {}
            Some((_, span)) => self.diags.push(Diagnostic::error(
                "a map declaration's size is from 1 to 4294967295 entries",
                span,
                "out of range",
            )),
            None => self.diags.push(
                Diagnostic::error(
                    "a map declaration takes its size",
                    m.span,
                    "expected one positive number, the map's max entries",
                )
                .with_help(format!(
                    "write `let @{} = {}(4096);`",
                    m.map.name, m.kind.name
                )),
            ),
        }
    }

    /// Warns about declared maps no probe uses, as bpftrace does.
    pub(super) fn declared_maps_unused(&mut self) {
        let mut diags = Vec::new();
        for (name, info) in &self.maps {
            if let (Some((_, span)), false) = (info.declared, info.used) {
                diags.push(Diagnostic::warning(
                    format!("Unused map: @{name}"),
                    span,
                    "declared here, used nowhere",
                ));
            }
        }
        self.diags.extend(diags);
    }
}

impl MapInfo {
    /// A value stored into a declared map must fit its kind (bpftrace: "Incompatible map
    /// types").
    pub(super) fn fits_declaration(
        &self,
        display: &str,
        assigned: &Assigned,
        map: Span,
    ) -> Option<Diagnostic> {
        let (kind, decl_span) = self.declared?;
        let aggregation = assigned.aggregation.is_some();
        if kind.per_cpu() == aggregation {
            return None;
        }
        let (needs, holds) = if aggregation {
            ("percpuhash or percpulruhash", "an aggregation")
        } else {
            ("hash or lruhash", "a plain value")
        };
        Some(
            Diagnostic::error(
                format!(
                    "incompatible map types: `{display}` is declared `{}`, but {holds} needs {needs}",
                    kind.name()
                ),
                map,
                format!("this map holds {holds}"),
            )
            .with_label(assigned.span, format!("{holds} stored here"))
            .with_label(decl_span, format!("declared `{}` here", kind.name())),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{check, CheckOptions};
    use crate::diagnostic::Diagnostic;
    use crate::parse::parse;

    /// Every diagnostic as (is error, message, the text its primary label underlines).
    fn diagnostics(source: &str) -> Vec<(bool, String, String)> {
        let program = parse(source).expect("parses");
        check(&program, &CheckOptions::default())
            .into_iter()
            .map(|d: Diagnostic| {
                (
                    d.is_error(),
                    d.message.clone(),
                    source[d.span().range()].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn each_kind_accepts_what_it_holds() {
        for source in [
            "let @a = hash(2); BEGIN { @a = 1; }",
            "let @a = lruhash(2); BEGIN { @a[1] = comm; }",
            "let @a = percpuhash(2); BEGIN { @a[1] = count(); }",
            "let @a = percpulruhash(2); BEGIN { @a[1] = hist(5); }",
            "BEGIN { @a[1] = count(); } let @a = percpulruhash(2);",
        ] {
            assert_eq!(diagnostics(source), [], "{source}");
        }
    }

    #[test]
    fn a_value_unlike_the_kind_is_an_error_at_the_map() {
        let cases = [
            (
                "let @a = percpuhash(2); BEGIN { @a = 1; }",
                "@a",
                "percpuhash",
            ),
            (
                "let @a = percpulruhash(2); BEGIN { @a = 1; }",
                "@a",
                "percpulruhash",
            ),
            ("let @a = hash(2); BEGIN { @a = count(); }", "@a", "hash"),
            (
                "let @a = lruhash(2); BEGIN { @a[1] = sum(3); }",
                "@a[1]",
                "lruhash",
            ),
        ];
        for (source, at, kind) in cases {
            let d = diagnostics(source);
            assert_eq!(d.len(), 1, "{source}: {d:?}");
            assert!(d[0].0, "{source}");
            assert!(d[0].1.starts_with("incompatible map types"), "{d:?}");
            assert!(d[0].1.contains(&format!("`{kind}`")), "{d:?}");
            assert_eq!(d[0].2, at);
        }
    }

    #[test]
    fn bad_kinds_sizes_and_repeats_are_errors() {
        let d = diagnostics("let @a = potato(2); BEGIN { @a[1] = count(); }");
        assert_eq!(
            d,
            [(
                true,
                "invalid bpf map type: `potato`".into(),
                "potato".into()
            )]
        );
        // percpuarray is no kind a declaration may name in bpftrace.
        let d = diagnostics("let @a = percpuarray(2); BEGIN { @a[1] = count(); }");
        assert_eq!(d[0].2, "percpuarray");
        let d = diagnostics("let @a = hash(0); BEGIN { @a = 1; }");
        assert_eq!(d[0].2, "0");
        let d = diagnostics("let @a = hash(4294967296); BEGIN { @a = 1; }");
        assert_eq!(d[0].2, "4294967296");
        let d = diagnostics("let @a = hash(); BEGIN { @a = 1; }");
        assert_eq!(d[0].1, "a map declaration takes its size");
        let d = diagnostics("let @a = hash(2, 3); BEGIN { @a = 1; }");
        assert_eq!(d[0].1, "a map declaration takes its size");
        let d = diagnostics("let @a = hash(2); let @a = lruhash(3); BEGIN { @a = 1; }");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].1, "map `@a` is declared twice");
        assert_eq!(d[0].2, "let @a = lruhash(3);");
    }

    #[test]
    fn a_declared_map_no_probe_uses_is_a_warning() {
        let d = diagnostics("let @a = hash(2); BEGIN { print(1); }");
        assert_eq!(
            d,
            [(false, "Unused map: @a".into(), "let @a = hash(2);".into())]
        );
        // Declared and only read is no error: the declaration stands for its assignment.
        assert_eq!(diagnostics("let @a = hash(2); BEGIN { print(@a[1]); }"), []);
    }
}

//! Where the current bpftrace release's text output differs from 0.17's, in one table, and
//! the rewriting of 0.17's text into the current release's that the golden and differential
//! tests compare with (their captures are bpftrace 0.17's, the only release installed here).
//! The rewriting changes exactly the forms the table names, and only in a map's own lines:
//! text it cannot read as 0.17's form of the maps it is told about stays as it is, so that the
//! comparison fails rather than loosens. docs/compat.md shows the same table.

/// One difference: what changed, 0.17's form, the current release's, and the evidence for the
/// current one (its source, or its runtime suite's expected output).
#[derive(Clone, Copy, Debug)]
pub struct Difference {
    pub what: &'static str,
    pub form_0_17: &'static str,
    pub current: &'static str,
    pub evidence: &'static str,
}

pub const DIFFERENCES: &[Difference] = &[
    Difference {
        what: "a stats() value",
        form_0_17: "@s: count 3, average 2, total 6",
        current: "@s: { .count = 3, .average = 2, .total = 6 }",
        evidence: "src/types_format.cpp (stats_t is a record of count, average, total); \
                   tests/runtime/call `stats`",
    },
    Difference {
        what: "the header of a hist/lhist entry",
        form_0_17: "`@h: ` and `@h[k]: ` (a space after the colon)",
        current: "`@h:` and `@h[k]:`",
        evidence: "src/output/text.cpp (TextOutput::map, emit_map: `]:` then a newline for \
                   a value that is not one line); tests/runtime/outputs/hist.txt, lhist.txt",
    },
    Difference {
        what: "after an avg() or stats() map",
        form_0_17: "one empty line",
        current: "nothing",
        evidence: "src/output/text.cpp (a Stats value prints as a plain map, with no \
                   trailer); tests/runtime/outputs/print_avg_map_args.txt",
    },
    Difference {
        what: "a map without entries, at exit (never assigned, cleared, or deleted from)",
        form_0_17: "one empty line (two for avg/stats); `@c: 0` for a count() map \
                    without keys",
        current: "nothing",
        evidence: "src/types_format.cpp (an empty OrderedMap) and src/output/text.cpp \
                   (emit_map prints its entries only); tests/runtime/basic `clear count-map`",
    },
    Difference {
        what: "print() of a map without keys and without an entry",
        form_0_17: "one empty line (two for avg/stats); `@c: 0` for count()",
        current: "its zero value: `@: 0`, `@: { .count = 0, .average = 0, .total = 0 }`",
        evidence: "src/async_action.cpp (print_map: emit_empty_scalar); tests/runtime/call \
                   `print_empty_scalar_map`, `print_empty_scalar_stats_map`",
    },
    Difference {
        what: "print() of a map with keys and without entries",
        form_0_17: "one empty line (two for avg/stats)",
        current: "nothing",
        evidence: "src/async_action.cpp (print_map of an empty OrderedMap)",
    },
    Difference {
        what: "-f json: the attached_probes line",
        form_0_17: r#"{"type": "attached_probes", "data": {"probes": 1}}"#,
        current: r#"{"type": "attached_probes", "count": 1, "data": {"probes": 1}}"#,
        evidence: "tests/runtime/json-output `attached probes`",
    },
];

/// bpftrace 0.17's `-f json` lines in the current release's forms: the attached_probes line
/// (the one JSON difference of `DIFFERENCES`), every other line as it is.
pub fn current_json_from_0_17(text: &str) -> String {
    const OLD: &str = r#"{"type": "attached_probes", "data": {"probes": "#;
    text.split_inclusive('\n')
        .map(|line| match line.strip_prefix(OLD) {
            Some(rest) => {
                let n = rest.split('}').next().unwrap_or_default();
                format!(r#"{{"type": "attached_probes", "count": {n}, "data": {{"probes": {rest}"#)
            }
            None => line.to_string(),
        })
        .collect()
}

/// What the rewriting needs to know of a map: how its entries print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapForm {
    /// Without the `@`.
    pub name: String,
    pub kind: Kind,
    pub keyless: bool,
    /// `zero(@m)` was called on it: a count() map without keys showing 0 at exit has an
    /// entry then, where otherwise 0.17 showed 0 for no entry.
    pub zeroed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Count,
    Avg,
    Stats,
    Histogram,
    /// sum, min, max and plain values.
    Other,
}

/// bpftrace 0.17's text, in the current release's forms. `maps` are every map the program
/// has (the maps at exit are found as 0.17's preamble followed by exactly their forms, in
/// name order); a print() of a map without entries outside the exit is not rewritten (its
/// 0.17 form, an empty line, cannot be told from a printed one).
pub fn current_from_0_17(text: &str, maps: &[MapForm]) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut by_name: Vec<&MapForm> = maps.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    // The latest preamble the rest of the text reads as the maps at exit after.
    for start in (0..lines.len().saturating_sub(1)).rev() {
        if lines[start] != "\n" || lines[start + 1] != "\n" {
            continue;
        }
        if let Some(exit) = exit_maps(&lines[start + 2..], &by_name) {
            return format!("{}\n\n{exit}", running(&lines[..start], maps));
        }
    }
    running(&lines, maps)
}

/// The text before the exit: each map entry line of a known map rewritten, and the empty
/// line after an avg/stats map's last entry dropped.
fn running(lines: &[&str], maps: &[MapForm]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(map) = entry_of(lines[i], maps) else {
            out.push_str(lines[i]);
            i += 1;
            continue;
        };
        match block(lines, i, map) {
            Some((text, next)) => {
                out.push_str(&text);
                i = next;
            }
            None => {
                out.push_str(lines[i]);
                i += 1;
            }
        }
    }
    out
}

/// The maps at exit: every map in name order, each its entries or its empty form; `None`
/// unless that is exactly the text.
fn exit_maps(lines: &[&str], by_name: &[&MapForm]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    for map in by_name {
        let starts = lines
            .get(i)
            .is_some_and(|l| entry_of(l, std::slice::from_ref(map)).is_some());
        let empty_count = map.kind == Kind::Count && map.keyless && !map.zeroed;
        if starts && !(empty_count && lines[i] == format!("@{}: 0\n", map.name)) {
            let (text, next) = block(lines, i, map)?;
            out.push_str(&text);
            i = next;
            continue;
        }
        // 0.17's form of a map without entries; the current release prints nothing.
        let empty: &[&str] = match map.kind {
            _ if empty_count => &[],
            Kind::Avg | Kind::Stats => &["\n", "\n"],
            _ => &["\n"],
        };
        if empty_count {
            if lines.get(i) != Some(&format!("@{}: 0\n", map.name).as_str()) {
                return None;
            }
            i += 1;
            continue;
        }
        for want in empty {
            if lines.get(i) != Some(want) {
                return None;
            }
            i += 1;
        }
    }
    (i == lines.len()).then_some(out)
}

/// The map an entry line belongs to: `@name:` or `@name[`.
fn entry_of<'m>(line: &str, maps: &'m [MapForm]) -> Option<&'m MapForm> {
    let rest = line.strip_prefix('@')?;
    let end = rest.find([':', '['])?;
    maps.iter().find(|m| m.name == rest[..end])
}

/// The entries of `map` from line `i`, rewritten, and the line after them (after the empty
/// line that ends each histogram, and 0.17's empty line after an avg/stats map).
fn block(lines: &[&str], mut i: usize, map: &MapForm) -> Option<(String, usize)> {
    let mut out = String::new();
    while lines
        .get(i)
        .is_some_and(|l| entry_of(l, std::slice::from_ref(map)).is_some())
    {
        let line = lines[i];
        i += 1;
        match map.kind {
            Kind::Histogram => {
                out.push_str(line.strip_suffix(": \n")?);
                out.push_str(":\n");
                while lines
                    .get(i)
                    .is_some_and(|l| l.starts_with(['[', '(']) && l.ends_with("|\n"))
                {
                    out.push_str(lines[i]);
                    i += 1;
                }
                if lines.get(i) != Some(&"\n") {
                    return None;
                }
                out.push('\n');
                i += 1;
            }
            Kind::Stats => out.push_str(&stats_record(line)?),
            _ => out.push_str(line),
        }
    }
    if matches!(map.kind, Kind::Avg | Kind::Stats) {
        if lines.get(i) != Some(&"\n") {
            return None;
        }
        i += 1;
    }
    Some((out, i))
}

/// `@s: count 3, average 2, total 6` as `@s: { .count = 3, .average = 2, .total = 6 }`.
fn stats_record(line: &str) -> Option<String> {
    let (head, value) = line.strip_suffix('\n')?.rsplit_once(": count ")?;
    let (count, rest) = value.split_once(", average ")?;
    let (average, total) = rest.split_once(", total ")?;
    let number = |s: &str| s.parse::<i128>().is_ok();
    (number(count) && number(average) && number(total)).then(|| {
        format!("{head}: {{ .count = {count}, .average = {average}, .total = {total} }}\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, kind: Kind, keyless: bool) -> MapForm {
        MapForm {
            name: name.into(),
            kind,
            keyless,
            zeroed: false,
        }
    }

    #[test]
    fn the_json_attached_line_is_rewritten_and_nothing_else() {
        let old = "{\"type\": \"attached_probes\", \"data\": {\"probes\": 3}}\n{\"type\": \"printf\", \"data\": \"x\"}\n";
        assert_eq!(
            super::current_json_from_0_17(old),
            "{\"type\": \"attached_probes\", \"count\": 3, \"data\": {\"probes\": 3}}\n{\"type\": \"printf\", \"data\": \"x\"}\n"
        );
    }

    #[test]
    fn each_difference_is_rewritten_and_nothing_else() {
        let maps = [
            form("a", Kind::Avg, false),
            form("c", Kind::Count, true),
            form("h", Kind::Histogram, true),
            form("s", Kind::Stats, true),
        ];
        let old = "x\n@s: count 3, average 2, total 6\n\n@h: \n[1]   1 |@|\n\n@a[1]: 4\n\n--\n\
                   \n\n\n\n@c: 0\n\n\n\n";
        assert_eq!(
            current_from_0_17(old, &maps),
            "x\n@s: { .count = 3, .average = 2, .total = 6 }\n@h:\n[1]   1 |@|\n\n@a[1]: 4\n--\n\n\n"
        );
        // Text that is not 0.17's form of these maps is left as it is.
        let odd = "@s: 3\n@q: \n";
        assert_eq!(current_from_0_17(odd, &maps), odd);
        // A zeroed count map without keys keeps its entry.
        let zeroed = [MapForm {
            zeroed: true,
            ..form("c", Kind::Count, true)
        }];
        assert_eq!(current_from_0_17("\n\n@c: 0\n", &zeroed), "\n\n@c: 0\n");
    }
}

//! Probes resolved against the machine: each attach point handed to its kind
//! (`crate::probe`), which expands it (wildcards) into typed `Target`s and, for tracepoints
//! and fentry, types `args`; the probe's attach points must all be of one kind. What cannot
//! be resolved is a diagnostic at the attach point, or at the part of it that is wrong.

use std::collections::HashMap;

use super::ResolvedProbe;
use crate::ast::{AttachPoint, Item, Program};
use crate::config::MissingProbes;
use crate::diagnostic::Diagnostic;
use crate::machine::ctype::CType;
use crate::machine::facts::MachineFacts;
use crate::parse::attach::split;
use crate::probe::{self, merge_fields};

/// One `ResolvedProbe` per probe item, in order (every attach point must exist).
#[cfg(test)]
pub fn resolve_probes(
    program: &Program,
    facts: &dyn MachineFacts,
) -> Result<Vec<ResolvedProbe>, Vec<Diagnostic>> {
    resolve_present_probes(program, facts, MissingProbes::Error, None, false).map(|r| r.probes)
}

/// The probes resolved where attach points this machine does not have are left out, as
/// `config = { missing_probes = ignore | warn }` asks.
pub struct PresentProbes {
    /// One per probe item that kept an attach point, in order.
    pub probes: Vec<ResolvedProbe>,
    /// The indices (in `Program::items`) of the probe items that kept none.
    pub dropped_items: Vec<usize>,
    /// What was left out, with `missing_probes = warn`.
    pub warnings: Vec<Diagnostic>,
}

/// Resolves every probe; an attach point this machine does not have is an error, or is left
/// out (with a warning, for `Warn`), as `missing` says. One whose targets cannot be checked
/// to be safe to attach is an error unless `unsafe_allowed` (`--unsafe`).
pub fn resolve_present_probes(
    program: &Program,
    facts: &dyn MachineFacts,
    missing: MissingProbes,
    filter: Option<&regex::Regex>,
    unsafe_allowed: bool,
) -> Result<PresentProbes, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut dropped_items = Vec::new();
    let mut warnings = Vec::new();
    for (index, item) in program.items.iter().enumerate() {
        let Item::Probe(probe) = item else { continue };
        let mut resolved: Option<ResolvedProbe> = None;
        for ap in &probe.attach_points {
            match resolve_attach_point(ap, facts, unsafe_allowed) {
                Err(d) if d.missing_probe && missing != MissingProbes::Error => {
                    if missing == MissingProbes::Warn {
                        let span = d.span();
                        let mut w = Diagnostic::warning(
                            format!("{}. Skipping.", no_matches(ap)),
                            span,
                            "left out",
                        )
                        .with_note(d.message)
                        .with_note("config missing_probes = warn: the rest of the script runs");
                        w.missing_probe = true;
                        warnings.push(w);
                    }
                }
                Err(mut d) if d.missing_probe => {
                    // The current release's words first, the kind's own after them.
                    let own = std::mem::replace(&mut d.message, format!("{}.", no_matches(ap)));
                    d.notes.insert(0, own);
                    diags.push(d);
                }
                Ok(r) => match &mut resolved {
                    None => resolved = Some(r),
                    Some(first) if first.kind == r.kind => {
                        let here = ap.text.as_str();
                        let before = probe.attach_points[0].text.as_str();
                        first.args =
                            merge_fields(std::mem::take(&mut first.args), before, &r.args, here);
                        first.targets.extend(r.targets)
                    }
                    Some(first) => diags.push(
                        Diagnostic::error(
                            "one probe mixes probe types",
                            ap.span,
                            format!("this is {:?}, the first was {:?}", r.kind, first.kind),
                        )
                        .with_help("give each probe type its own body"),
                    ),
                },
                Err(d) => diags.push(d),
            }
        }
        if let (Some(r), Some(filter)) = (&mut resolved, filter) {
            if !r.kind.runs_once() {
                r.targets.retain(|t| filter.is_match(&t.to_string()));
                if r.targets.is_empty() {
                    resolved = None;
                }
            }
        }
        match resolved {
            Some(r) => out.push(r),
            None => dropped_items.push(index),
        }
    }
    if diags.is_empty() {
        Ok(PresentProbes {
            probes: out,
            dropped_items,
            warnings,
        })
    } else {
        Err(diags)
    }
}

/// A probe whose attach points are of several kinds (`begin,end { ... }`) becomes one probe
/// per kind, each with the body, in the order the kinds first appear: one program serves
/// the attach points of one kind.
pub fn split_mixed_kinds(program: &mut Program) {
    let kind_of = |ap: &AttachPoint| {
        let parts = split(&ap.text, ap.span);
        probe::lookup(&parts[0].text).map(|p| p.kind)
    };
    let items = std::mem::take(&mut program.items);
    for item in items {
        let Item::Probe(p) = &item else {
            program.items.push(item);
            continue;
        };
        let mut kinds = Vec::new();
        for ap in &p.attach_points {
            let k = kind_of(ap);
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        // An unknown kind is reported where the attach point is resolved.
        if kinds.len() < 2 || kinds.contains(&None) {
            program.items.push(item);
            continue;
        }
        for k in kinds {
            let mut one = p.clone();
            one.attach_points.retain(|ap| kind_of(ap) == k);
            program.items.push(Item::Probe(one));
        }
    }
}

/// `No matches for tracepoint syscalls:nonsense`: the current release's words for an attach
/// point the machine lacks, its kind's name and the rest of its text.
fn no_matches(ap: &AttachPoint) -> String {
    let parts = split(&ap.text, ap.span);
    let rest: Vec<&str> = parts[1..].iter().map(|p| p.text.as_str()).collect();
    match probe::lookup(&parts[0].text) {
        Some(provider) => provider.kind.probe().no_matches(&rest),
        None => format!("No matches for {} {}", parts[0].text, rest.join(":")),
    }
}

/// Every attach point of `program` as `-l` of a program names it: resolved on this machine
/// (wildcards expanded) and named as the current release lists it; a kind the runtime does
/// not resolve yet (`iter`, `self`, `hardware`) as written. An attach point that matches
/// nothing, or is wrong, is a diagnostic, as in a run.
pub fn listed_attach_points(
    program: &Program,
    facts: &dyn MachineFacts,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let mut listed = Vec::new();
    let mut diags = Vec::new();
    let probes = program.items.iter().filter_map(|item| match item {
        Item::Probe(probe) => Some(probe),
        _ => None,
    });
    for ap in probes.flat_map(|p| &p.attach_points) {
        let parts = split(&ap.text, ap.span);
        let provider = probe::lookup(&parts[0].text);
        // Listing attaches nothing: what only `--unsafe` may attach is listed too.
        match (resolve_attach_point(ap, facts, true), provider) {
            (Ok(r), _) if !r.targets.is_empty() => {
                listed.extend(r.targets.iter().map(|t| t.listed()))
            }
            (Err(d), Some(provider)) if d.message != probe::not_supported(provider, ap).message => {
                diags.push(d)
            }
            (_, Some(provider)) => {
                let args: Vec<&str> = parts[1..].iter().map(|p| p.text.as_str()).collect();
                listed.push(provider.kind.probe().listed(&args));
            }
            (Err(d), None) => diags.push(d),
            (Ok(_), None) => {}
        }
    }
    match diags.is_empty() {
        true => Ok(listed),
        false => Err(diags),
    }
}

/// One attach point resolved by its kind; targets that only `--unsafe` may attach are the
/// kind's first reason why not, unless `unsafe_allowed`.
pub(super) fn resolve_attach_point(
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
    unsafe_allowed: bool,
) -> Result<ResolvedProbe, Diagnostic> {
    let parts = split(&ap.text, ap.span);
    let Some(provider) = probe::lookup(&parts[0].text) else {
        return Err(Diagnostic::error(
            format!("unknown probe type `{}`", parts[0].text),
            parts[0].span,
            "not a probe type",
        ));
    };
    let mut resolution = provider.kind.probe().resolve(&parts, ap, facts)?;
    if !unsafe_allowed && !resolution.unsafe_only.is_empty() {
        return Err(resolution.unsafe_only.swap_remove(0));
    }
    Ok(ResolvedProbe {
        kind: provider.kind,
        targets: resolution.targets,
        args: resolution.args,
    })
}

/// The kernel types of a probe's `args` members, by name, for `args->file->f_flags`.
pub fn kernel_arg_types(probe: &ResolvedProbe, facts: &dyn MachineFacts) -> HashMap<String, CType> {
    probe.kind.probe().kernel_arg_types(&probe.targets, facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::facts::UsdtSite;
    use crate::machine::fixture::FixtureFacts;
    use crate::parse::parse;
    use crate::probe::ArgAccess;

    /// The probe's targets by their canonical names.
    fn names(probe: &ResolvedProbe) -> Vec<String> {
        probe.targets.iter().map(|t| t.to_string()).collect()
    }

    /// `-l` of a program: expanded here, named as the current release lists them, kinds
    /// not resolved yet as written, and what matches nothing an error.
    #[test]
    fn attach_points_as_listed() {
        let program = parse(
            "interval:ms:100 {} software:faults:10 {} t:sched:sched_sw* {} \
             iter:task {} hardware:cache-misses:5 {} self:signal:SIGUSR1 {} BEGIN {}",
        )
        .unwrap();
        let facts = FixtureFacts::bundled();
        assert_eq!(
            listed_attach_points(&program, &facts).unwrap(),
            [
                "interval:ms:",
                "software:faults:",
                "tracepoint:sched:sched_switch",
                "iter:task",
                "hardware:cache-misses:",
                "self:signal:SIGUSR1",
                "BEGIN",
            ]
        );
        let missing = parse("tracepoint:nonsense:x {}").unwrap();
        let diags = listed_attach_points(&missing, &facts).unwrap_err();
        assert_eq!(diags.len(), 1, "{diags:?}");
    }

    #[test]
    fn tracepoints_expand_and_type_their_args() {
        let program =
            parse("t:syscalls:sys_enter_openat { } BEGIN { } interval:ms:10 { }").unwrap();
        let probes = resolve_probes(&program, &FixtureFacts::bundled()).unwrap();
        assert_eq!(names(&probes[0]), ["tracepoint:syscalls:sys_enter_openat"]);
        let filename = probes[0]
            .args
            .iter()
            .find(|a| a.name == "filename")
            .unwrap();
        assert_eq!(
            filename.access,
            ArgAccess::Int {
                size: 8,
                signed: false
            }
        );
        assert_eq!(names(&probes[1]), ["BEGIN"]);
        assert_eq!(names(&probes[2]), ["interval:ms:10"]);
    }

    /// One program serves every attach point, so a field at another offset (or absent) in
    /// one of them must not be read at the first one's offset.
    #[test]
    fn args_that_differ_between_attach_points_are_uneven() {
        let access = |source: &str, field: &str| {
            let probes = resolve_probes(&parse(source).unwrap(), &FixtureFacts::bundled()).unwrap();
            probes[0]
                .args
                .iter()
                .find(|a| a.name == field)
                .map(|a| a.access.clone())
        };
        for source in [
            "t:syscalls:sys_enter_openat, t:syscalls:sys_enter_read { }",
            "t:syscalls:sys_enter_* { }",
        ] {
            let Some(ArgAccess::Uneven { why }) = access(source, "fd") else {
                panic!("{source}: fd is in read only")
            };
            assert!(why.contains("sys_enter_read has `fd`"), "{why}");
            assert_eq!(
                access(source, "__syscall_nr"),
                Some(ArgAccess::Int {
                    size: 4,
                    signed: true
                }),
                "{source}"
            );
        }
    }

    fn uprobe_error(source: &str) -> (String, String, Option<String>) {
        let facts = FixtureFacts::new()
            .with_binary("/bin/bash", &["main", "readline", "rl_getc"])
            .with_binary("/lib/x86_64-linux-gnu/libc.so.6", &["malloc", "free"]);
        let program = parse(source).unwrap();
        let d = resolve_probes(&program, &facts).unwrap_err().remove(0);
        let text = source[d.span().range()].to_string();
        // A missing function is in the current release's words, the detail a note.
        let message = match d.missing_probe {
            true => d.notes[0].clone(),
            false => d.message,
        };
        (text, message, d.help)
    }

    #[test]
    fn the_probe_filter_keeps_matching_attach_points_and_begin_end() {
        let program = parse("BEGIN { } i:ms:100 { } i:ms:200, i:ms:300 { } END { }").unwrap();
        let filter = regex::Regex::new(":(2|3)00").unwrap();
        let present = resolve_present_probes(
            &program,
            &FixtureFacts::bundled(),
            MissingProbes::Error,
            Some(&filter),
            false,
        )
        .unwrap();
        let all: Vec<Vec<String>> = present.probes.iter().map(names).collect();
        assert_eq!(
            all,
            [
                vec!["BEGIN"],
                vec!["interval:ms:200", "interval:ms:300"],
                vec!["END"]
            ]
        );
        assert_eq!(present.dropped_items, [1]);
    }

    #[test]
    fn a_probe_of_several_kinds_becomes_one_per_kind() {
        let mut program = parse("BEGIN, END, i:ms:1, BEGIN { @ = 1; }").unwrap();
        split_mixed_kinds(&mut program);
        let probes = resolve_probes(&program, &FixtureFacts::bundled()).unwrap();
        let all: Vec<Vec<String>> = probes.iter().map(names).collect();
        assert_eq!(
            all,
            [vec!["BEGIN", "BEGIN"], vec!["END"], vec!["interval:ms:1"]]
        );
    }

    #[test]
    fn uprobes_need_an_existing_binary_and_function() {
        let (text, message, _) = uprobe_error("uprobe:/nonexistent/bin:foo { }");
        assert_eq!(text, "/nonexistent/bin");
        assert_eq!(message, "`/nonexistent/bin` does not exist");
        let (text, message, _) = uprobe_error("uretprobe:libnosuch:malloc { }");
        assert_eq!(text, "libnosuch");
        assert_eq!(message, "no executable or library named `libnosuch`");
        let (text, message, help) = uprobe_error("uprobe:/bin/bash:readlin { }");
        assert_eq!(text, "readlin");
        assert_eq!(message, "`/bin/bash` has no function `readlin`");
        assert_eq!(help.as_deref(), Some("did you mean `readline`?"));
        let (text, message, _) = uprobe_error("uprobe:libc:mallocc { }");
        assert_eq!(text, "mallocc");
        assert_eq!(
            message,
            "`libc` (/lib/x86_64-linux-gnu/libc.so.6) has no function `mallocc`"
        );
        let (text, message, _) = uprobe_error("uprobe:/bin/bash:zz_* { }");
        assert_eq!(text, "zz_*");
        assert_eq!(message, "no function in `/bin/bash` matches `zz_*`");
    }

    /// `uprobe:BIN:FUNCTION` resolves to the binary's path and each function a wildcard
    /// matches, in the canonical form `probe` prints; forms not checked yet are refused.
    #[test]
    fn uprobes_resolve_to_path_and_functions() {
        let facts = FixtureFacts::new().with_binary("/bin/bash", &["main", "readline", "rl_getc"]);
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes = resolve("uprobe:/bin/bash:readline { } uretprobe:bash:rl_* { }").unwrap();
        assert_eq!(names(&probes[0]), ["uprobe:/bin/bash:readline"]);
        assert_eq!(names(&probes[1]), ["uretprobe:/bin/bash:rl_getc"]);
        let (_, message, _) = uprobe_error("uprobe:readline { }");
        assert!(
            message.ends_with("not supported by the runtime yet"),
            "{message}"
        );
    }

    /// Offsets and addresses: checked by the machine (instruction boundaries), never on a
    /// uretprobe or a wildcard, and numbers only.
    #[test]
    fn uprobe_offsets_are_checked() {
        for (source, text, message) in [
            (
                "uretprobe:/bin/bash:readline+4 { }",
                "readline+4",
                "a uretprobe takes no offset or address",
            ),
            (
                "uprobe:/bin/bash:rl_*+4 { }",
                "rl_*+4",
                "an offset needs one function, not a wildcard",
            ),
            (
                "uprobe:/bin/bash:readline+x { }",
                "readline+x",
                "`x` is not an offset or address",
            ),
            // The fixture cannot decode instructions: the machine has the last word.
            (
                "uprobe:/bin/bash:readline+4 { }",
                "readline+4",
                "cannot put a uprobe at `readline+4`",
            ),
            (
                "uprobe:/bin/bash:0x4010 { }",
                "0x4010",
                "Could not resolve address: /bin/bash:0x4010",
            ),
        ] {
            let (t, m, _) = uprobe_error(source);
            assert_eq!((t.as_str(), m.as_str()), (text, message), "{source}");
        }
    }

    /// A symbol of size 0 and an address in a file that is not ELF resolve, but only
    /// `--unsafe` attaches them: without it each is an error at the part that cannot be
    /// checked; a wildcard's zero-size matches stay, as in the current release.
    #[test]
    fn unchecked_uprobe_sites_need_unsafe() {
        let facts = FixtureFacts::new()
            .with_binary("/bin/app", &["_init", "main"])
            .with_symbol_size("/bin/app", "_init", 0)
            .with_flat_file("./flat.bin");
        let resolve = |source: &str, unsafe_allowed| {
            resolve_present_probes(
                &parse(source).unwrap(),
                &facts,
                MissingProbes::Error,
                None,
                unsafe_allowed,
            )
            .map(|present| present.probes)
        };
        for (source, text, message) in [
            (
                "uprobe:/bin/app:_init { }",
                "_init",
                "Could not determine boundary for _init (symbol has size 0).",
            ),
            (
                "uprobe:./flat.bin:0x10 { }",
                "./flat.bin",
                "cannot probe `./flat.bin`: it is not an ELF executable or library",
            ),
        ] {
            let d = resolve(source, false).unwrap_err().remove(0);
            assert_eq!(
                (&source[d.span().range()], d.message.as_str()),
                (text, message),
                "{source}"
            );
            assert!(
                d.help.as_deref().is_some_and(|h| h.contains("--unsafe")),
                "{source}: {d:?}"
            );
            assert_eq!(resolve(source, true).unwrap().len(), 1, "{source}");
        }
        let flat = resolve("uprobe:./flat.bin:0x10 { }", true).unwrap();
        assert_eq!(names(&flat[0]), ["uprobe:./flat.bin:0x10"]);
        let wildcard = resolve("uprobe:/bin/app:* { }", false).unwrap();
        assert_eq!(
            names(&wildcard[0]),
            ["uprobe:/bin/app:_init", "uprobe:/bin/app:main"]
        );
        // A flat file has no symbols; a uretprobe has no function to return from.
        for source in ["uprobe:./flat.bin:main { }", "uretprobe:./flat.bin:0x0 { }"] {
            let d = resolve(source, true).unwrap_err().remove(0);
            assert_eq!(&source[d.span().range()], "./flat.bin", "{source}");
        }
    }

    fn usdt_facts() -> FixtureFacts {
        let site = |provider: &str, name: &str, offset: u64, args: &str| UsdtSite {
            path: "/usr/bin/app".into(),
            provider: provider.into(),
            name: name.into(),
            offset,
            semaphore: None,
            args: args.into(),
        };
        FixtureFacts::new()
            .with_binary("/usr/bin/app", &["main"])
            .with_binary("/bin/plain", &["main"])
            .with_usdt_site(site("app", "tick", 0x1000, "-8@%rdi"))
            .with_usdt_site(site("app", "request", 0x1010, "-4@%eax 8@-16(%rbp)"))
            .with_usdt_site(site("app", "tick", 0x1020, "-4@$1"))
            .with_usdt_site(site("lib", "tick", 0x1030, ""))
    }

    /// Each site is a target, sorted by provider and name (a probe's sites in note order);
    /// no provider means any provider.
    #[test]
    fn usdt_probes_resolve_to_their_sites() {
        let facts = usdt_facts();
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes =
            resolve("usdt:/usr/bin/app:app:tick { } usdt:app:* { } usdt:app:tick { }").unwrap();
        assert_eq!(names(&probes[0]), ["usdt:/usr/bin/app:app:tick"; 2]);
        let offsets: Vec<u64> = probes[0]
            .targets
            .iter()
            .filter_map(|t| match t {
                probe::Target::Usdt(site) => Some(site.offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, [0x1000, 0x1020]);
        assert_eq!(
            names(&probes[1]),
            [
                "usdt:/usr/bin/app:app:request",
                "usdt:/usr/bin/app:app:tick",
                "usdt:/usr/bin/app:app:tick",
                "usdt:/usr/bin/app:lib:tick",
            ]
        );
        assert_eq!(probes[2].targets.len(), 3);
    }

    #[test]
    fn unknown_usdt_probes_point_at_the_part_that_is_wrong() {
        let facts = usdt_facts();
        let error = |source: &str| {
            let d = resolve_probes(&parse(source).unwrap(), &facts)
                .unwrap_err()
                .remove(0);
            (source[d.span().range()].to_string(), d.message, d.help)
        };
        let (text, message, help) = error("usdt:/usr/bin/app:app:tock { }");
        assert_eq!(text, "tock");
        // The current release's words; tracebound's own are the note.
        assert_eq!(message, "No matches for usdt /usr/bin/app:app:tock.");
        assert_eq!(help.as_deref(), Some("did you mean `app:tick`?"));
        let (text, _, _) = error("usdt:/usr/bin/app:nosuch:tick { }");
        assert_eq!(text, "nosuch");
        let (text, message, _) = error("usdt:/bin/plain:x:y { }");
        assert_eq!(text, "/bin/plain");
        assert_eq!(message, "No matches for usdt /bin/plain:x:y.");
        let (text, _, _) = error("usdt:/nonexistent:x:y { }");
        assert_eq!(text, "/nonexistent");
        let (text, message, _) = error("usdt:tick { }");
        assert_eq!(text, "usdt:tick");
        assert_eq!(message, "a usdt probe needs its binary");
    }

    #[test]
    fn raw_tracepoints_must_exist_and_wildcards_expand() {
        let facts = FixtureFacts::bundled().with_raw_tracepoint("sched_update_nr_running_tp");
        let resolve = |source: &str| resolve_probes(&parse(source).unwrap(), &facts);
        let probes =
            resolve("rawtracepoint:sched_switch { } rawtracepoint:sched_update_nr_running_tp { }")
                .unwrap();
        assert_eq!(names(&probes[0]), ["rawtracepoint:sched_switch"]);
        assert_eq!(
            names(&probes[1]),
            ["rawtracepoint:sched_update_nr_running_tp"]
        );
        let probes = resolve("rawtracepoint:sched_w* { }").unwrap();
        assert_eq!(names(&probes[0]), ["rawtracepoint:sched_wakeup"]);
        let source = "rawtracepoint:sched_swich { }";
        let d = resolve(source).unwrap_err().remove(0);
        assert_eq!(&source[d.span().range()], "sched_swich");
        assert_eq!(d.help.as_deref(), Some("did you mean `sched_switch`?"));
        assert!(resolve("rawtracepoint:zz_* { }").is_err());
        // The module form: vmlinux's (a wildcard may name it), and no other module's.
        let probes =
            resolve("rawtracepoint:vmlinux:sched_switch { } rt:vm*:sched_switch { }").unwrap();
        assert_eq!(names(&probes[1]), ["rawtracepoint:sched_switch"]);
        let source = "rawtracepoint:nonsense:sys_exit { }";
        let d = resolve(source).unwrap_err().remove(0);
        assert_eq!(&source[d.span().range()], "nonsense");
        assert_eq!(d.message, "No matches for rawtracepoint nonsense:sys_exit.");
        // Without a module the current release looks for `*:NAME`, and says so.
        let d = resolve("rawtracepoint:nonsense { }").unwrap_err().remove(0);
        assert_eq!(d.message, "Probe has no valid attach points.");
        // A kernel without BTF cannot say: the name is taken as written.
        let program = parse("rawtracepoint:anything { }").unwrap();
        let probes = resolve_probes(&program, &FixtureFacts::unavailable("no BTF")).unwrap();
        assert_eq!(names(&probes[0]), ["rawtracepoint:anything"]);
    }

    #[test]
    fn unknown_tracepoints_suggest_the_nearest() {
        let program = parse("tracepoint:syscalls:sys_enter_opnat { }").unwrap();
        let err = resolve_probes(&program, &FixtureFacts::bundled()).unwrap_err();
        assert_eq!(
            err[0].help.as_deref(),
            Some("did you mean `tracepoint:syscalls:sys_enter_openat`?")
        );
    }
}

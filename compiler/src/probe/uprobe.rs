//! `uprobe:BINARY:FUNCTION[+OFFSET]` (or an address) and `uretprobe:`: a function of an
//! executable or library, by its name in the symbol tables, its demangled C++ or Rust name,
//! or a wildcard; its program sees the saved registers (`argN` by the x86-64 calling
//! convention) and reads the traced process's memory.

use super::fact_error;
use super::{
    has_positional, not_supported, ArgSource, Context, FunctionSite, ProbeKind, Provider,
    ProviderKind, Resolution, RetvalSource, Target,
};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::machine::demangle;
use crate::machine::facts::{FactError, MachineFacts};
use crate::machine::glob::{has_wildcard, Glob};
use crate::parse::attach::Part;
use tracebound_stdlib::Contexts;

pub struct Uprobe {
    pub ret: bool,
}

static UPROBE: Provider = Provider {
    kind: ProviderKind::Uprobe,
    name: "uprobe",
    aliases: &["u"],
    parts: (1, 3),
    contexts: Contexts::REGS.union(Contexts::ARGS),
    usage: "uprobe:binary:function[+offset]",
};

static URETPROBE: Provider = Provider {
    kind: ProviderKind::Uretprobe,
    name: "uretprobe",
    aliases: &["ur"],
    parts: (1, 3),
    contexts: Contexts::REGS.union(Contexts::ARGS).union(Contexts::RETURN),
    usage: "uretprobe:binary:function",
};

impl ProbeKind for Uprobe {
    fn provider(&self) -> &'static Provider {
        if self.ret {
            &URETPROBE
        } else {
            &UPROBE
        }
    }

    fn resolve(
        &self,
        parts: &[Part],
        ap: &AttachPoint,
        facts: &dyn MachineFacts,
    ) -> Result<Resolution, Diagnostic> {
        let mut targets = Vec::new();
        let mut missing = None;
        let mut unsafe_only = Vec::new();
        for each in each_binary(parts, 1, ap, facts)? {
            // Forms not checked here (`uprobe:FUNCTION`, C++ names) do not run yet either.
            let sites = match check_uprobe_target(&each, ap, facts, self.ret) {
                Ok(Some(found)) => found,
                Ok(None) => return Err(not_supported(self.provider(), ap)),
                // A binary of a wildcard that lacks the function is not an error while another
                // has it.
                Err(d) if d.missing_probe => {
                    missing.get_or_insert(d);
                    continue;
                }
                Err(d) => return Err(d),
            };
            unsafe_only.extend(sites.unchecked);
            targets.extend(sites.places.into_iter().map(|(function, offset)| {
                let site = FunctionSite {
                    binary: sites.binary.clone(),
                    function,
                    offset,
                };
                match self.ret {
                    false => Target::Uprobe(site),
                    true => Target::Uretprobe(site),
                }
            }));
        }
        match missing {
            Some(d) if targets.is_empty() => Err(d),
            _ => Ok(Resolution {
                targets,
                args: Vec::new(),
                unsafe_only,
            }),
        }
    }

    fn context(&self) -> Context {
        Context {
            args: ArgSource::Registers,
            retval: if self.ret {
                RetvalSource::Register
            } else {
                RetvalSource::None
            },
            registers: true,
            user_memory: true,
            function: true,
            program_per_target: false,
            typed_ctx: false,
            seq_output: false,
            kfuncs: false,
        }
    }

    fn section(&self, program: &str) -> String {
        match self.ret {
            false => format!("uprobe/{program}"),
            true => format!("uretprobe/{program}"),
        }
    }

    fn program_word(&self) -> &'static str {
        self.provider().name
    }
}

/// The languages `uprobe:BIN:LANGUAGE:FUNCTION` may name (bpftrace's).
const UPROBE_LANGUAGES: [&str; 1] = ["cpp"];

/// `uprobe:BINARY:FUNCTION`: the binary exists and is an ELF file, and defines the function
/// (or, for a wildcard, at least one function matching it). `FUNCTION+OFFSET` and an address
/// (`uprobe:BIN:0x4010a0`) must fall on an instruction boundary inside a function; they
/// resolve to the function and the offset into it. A function whose symbol has size 0, and
/// an address in a file that is not ELF, cannot be checked so: they resolve, with the reason
/// only `--unsafe` attaches them. Forms this cannot check
/// pass: `uprobe:FUNCTION` (the binary of `-p`), `uprobe:BIN:cpp:NAME` (demangled names), and
/// parts filled in from positional parameters.
/// Returns the binary's path and the functions the attach point names with the offset into
/// each (a wildcard's matches, sorted), or `None` for a form it cannot check.
fn check_uprobe_target(
    parts: &[Part],
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
    ret: bool,
) -> Result<Option<Sites>, Diagnostic> {
    let (binary, function) = match parts {
        [_, binary, function] => (binary, Some(function)),
        // `uprobe:BIN:cpp:FUNCTION` names a language; any other third part is junk after
        // the function (`uprobe:BIN:FUNCTION:x`).
        [_, _, language, _] if !UPROBE_LANGUAGES.contains(&language.text.as_str()) => {
            let kind = if ret { "uretprobe" } else { "uprobe" };
            return Err(Diagnostic::error(
                format!("`{}` is not a language a uprobe names", language.text),
                language.span,
                "expected `cpp`, or nothing here",
            )
            .with_help(format!(
                "write `{kind}:BINARY:FUNCTION`, or `{kind}:BINARY:cpp:FUNCTION` for a C++ name"
            )));
        }
        [_, binary, _language, _] => (binary, None),
        _ => return Ok(None),
    };
    if has_positional(parts) {
        return Ok(None);
    }
    let path = match facts.binary_path(&binary.text) {
        Ok(path) => path,
        Err(FactError::NotElf { path }) => return flat_file_site(path, binary, function, ret),
        Err(e) => return Err(binary_error(e, binary, ap)),
    };
    let Some(function) = function else {
        return Ok(None);
    };
    // `func+0x10` probes inside `func`; a number is an address.
    // A quoted name is a C++ signature (`"ns::f(int)"`, `"operator+(int)"`), never an offset.
    let (name, offset) = name_and_offset(ap, function);
    let number = |text: &str| {
        parse_number(text).ok_or_else(|| {
            Diagnostic::error(
                format!("`{text}` is not an offset or address"),
                function.span,
                "expected a number (decimal or 0x hex)",
            )
        })
    };
    let inside = |f: Option<&str>, at: u64| -> Result<(String, u64), Diagnostic> {
        if ret {
            return Err(Diagnostic::error(
                "a uretprobe takes no offset or address",
                function.span,
                "it fires where the function returns",
            )
            .with_help(format!(
                "probe the function: `uretprobe:{}:{}`",
                binary.text, name
            )));
        }
        let (f, at) = facts.uprobe_site(&path, f, at).map_err(|why| {
            // An address is in the current release's words.
            let message = match f {
                None => format!("Could not resolve address: {}:{at:#x}", binary.text),
                Some(_) => format!("cannot put a uprobe at `{}`", function.text),
            };
            Diagnostic::error(message, function.span, why)
        })?;
        Ok((f, at))
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) && offset.is_none() {
        let (f, at) = inside(None, number(name)?)?;
        return Ok(Some(Sites::checked(path, vec![(Some(f), at)])));
    }
    if name.is_empty() {
        return Ok(None);
    }
    let offset = offset.map(number).transpose()?;
    let symbols = facts
        .function_symbols(&path)
        .map_err(|e| binary_error(e, binary, ap))?;
    let shown = shown_binary(&path, &binary.text);
    if has_wildcard(name) && !function.quoted {
        let matches = wildcard_matches(name, function, &symbols, &shown, &path)?;
        if offset.is_some() {
            return Err(Diagnostic::error(
                "an offset needs one function, not a wildcard",
                function.span,
                "offset into which function?",
            ));
        }
        return Ok(Some(Sites::checked(path, at_entry(matches))));
    } else if !symbols.iter().any(|s| s == name) {
        let matches = demangled_matches(name, &symbols);
        if !matches.is_empty() && offset.is_none() {
            return Ok(Some(Sites::checked(path, at_entry(matches))));
        }
        return Err(no_function(name, function, &symbols, &shown).of_missing_probe());
    }
    if let Some(at) = offset {
        let (f, at) = inside(Some(name), at)?;
        return Ok(Some(Sites::checked(path, vec![(Some(f), at)])));
    }
    let unchecked = unsized_function(name, function, &path, facts);
    Ok(Some(Sites {
        binary: path,
        places: vec![(Some(name.to_string()), 0)],
        unchecked,
    }))
}

/// Why a uprobe at the entry of function `name` cannot be checked: its symbol has size 0,
/// so nothing says it is a function, and its first bytes may be anything (a label, such as
/// `_init` in crti.o). A wildcard's matches are not asked, as in the current release (its
/// multi-uprobe links never checked them).
fn unsized_function(
    name: &str,
    function: &Part,
    path: &str,
    facts: &dyn MachineFacts,
) -> Option<Diagnostic> {
    (facts.symbol_size(path, name) == Ok(0)).then(|| {
        Diagnostic::error(
            format!("Could not determine boundary for {name} (symbol has size 0)."),
            function.span,
            "its symbol has size 0",
        )
        .with_note(
            "a uprobe's breakpoint must start an instruction, and without a size tracebound \
             cannot tell that the symbol is a function",
        )
        .with_help(
            "--unsafe attaches it anyway; a breakpoint inside an instruction could corrupt \
             the target process",
        )
    })
}

/// `uprobe:FILE:ADDRESS` where FILE is not ELF (a flat binary that a process maps and
/// runs): the address is taken as the offset into the file. Nothing can check it, so the
/// site resolves with the reason only `--unsafe` attaches it; a function name is an error,
/// since such a file has no symbols.
fn flat_file_site(
    path: String,
    binary: &Part,
    function: Option<&Part>,
    ret: bool,
) -> Result<Option<Sites>, Diagnostic> {
    let name = &binary.text;
    let not_elf = |label: &str| {
        Diagnostic::error(
            format!("cannot probe `{name}`: it is not an ELF executable or library"),
            binary.span,
            label.to_string(),
        )
    };
    let address = function
        .filter(|f| !f.quoted && !f.text.contains('+'))
        .and_then(|f| parse_number(&f.text));
    let (Some(function), Some(address)) = (function, address) else {
        return Err(
            not_elf("not ELF: it has no symbols to name a function by").with_help(format!(
                "with --unsafe, an address is taken as an offset into the file: \
                 `uprobe:{name}:0x0`"
            )),
        );
    };
    if ret {
        return Err(not_elf("not ELF: it has no function to return from")
            .with_note("a uretprobe needs a function of an ELF symbol table"));
    }
    let unchecked =
        not_elf("not ELF: nothing says where its instructions start").with_help(format!(
            "with --unsafe, `{}` is taken as an offset into the file and probed unchecked; \
             a breakpoint inside an instruction could corrupt the process",
            function.text
        ));
    Ok(Some(Sites {
        binary: path,
        places: vec![(None, address)],
        unchecked: Some(unchecked),
    }))
}

/// A decimal or `0x` hex number, as offsets and addresses are written.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The functions a wildcard names, sorted; none is an error at the function part.
fn wildcard_matches(
    name: &str,
    function: &Part,
    symbols: &[String],
    shown: &str,
    path: &str,
) -> Result<Vec<String>, Diagnostic> {
    let glob = Glob::new(name);
    let mut matches: Vec<String> = symbols
        .iter()
        .filter(|s| glob.matches(s))
        .cloned()
        .collect();
    if matches.is_empty() {
        return Err(Diagnostic::error(
            format!("no function in {shown} matches `{name}`"),
            function.span,
            "matches nothing",
        )
        .with_help(format!(
            "list its functions with `nm -D --defined-only {path}`"
        ))
        .of_missing_probe());
    }
    matches.sort();
    matches.dedup();
    Ok(matches)
}

/// A C++ or Rust function by its demangled name: with its parameters (quoted), one overload;
/// without, every overload, as in bpftrace. Sorted.
fn demangled_matches(name: &str, symbols: &[String]) -> Vec<String> {
    let with_parameters = name.contains('(');
    let mut matches: Vec<String> = symbols
        .iter()
        .filter(|s| {
            let demangled = if with_parameters {
                demangle::demangle(s)
            } else {
                demangle::demangled_name(s)
            };
            demangled.as_deref() == Some(name)
        })
        .cloned()
        .collect();
    matches.sort();
    matches.dedup();
    matches
}

/// A function the binary does not have, with the nearest name it has.
fn no_function(name: &str, function: &Part, symbols: &[String], shown: &str) -> Diagnostic {
    let d = Diagnostic::error(
        format!("{shown} has no function `{name}`"),
        function.span,
        "no such function",
    );
    match nearest(name, symbols.iter().map(String::as_str)) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_note(
            "only functions in the symbol tables can be probed by name; a stripped binary \
             keeps only its exported ones",
        ),
    }
}

/// What an attach point names in one binary.
struct Sites {
    /// The binary's path, as found.
    binary: String,
    /// Each function probed with the offset into it; no function: an offset into the file.
    places: Vec<(Option<String>, u64)>,
    /// Why the places cannot be checked to be safe, so that only `--unsafe` attaches them.
    unchecked: Option<Diagnostic>,
}

impl Sites {
    fn checked(binary: String, places: Vec<(Option<String>, u64)>) -> Sites {
        Sites {
            binary,
            places,
            unchecked: None,
        }
    }
}

/// Functions probed at their first instruction.
fn at_entry(functions: Vec<String>) -> Vec<(Option<String>, u64)> {
    functions.into_iter().map(|f| (Some(f), 0)).collect()
}

/// The attach point once for each binary its binary part (`parts[at]`) names: itself when
/// the part is a plain name or path, once per match for a wildcard (an empty part is `*`),
/// which `MachineFacts::binaries_matching` expands. A wildcard matching nothing is an error
/// at the part.
pub(super) fn each_binary(
    parts: &[Part],
    at: usize,
    ap: &AttachPoint,
    facts: &dyn MachineFacts,
) -> Result<Vec<Vec<Part>>, Diagnostic> {
    let binary = &parts[at];
    let pattern = match binary.text.as_str() {
        "" if !binary.quoted => "*",
        _ if binary.has_wildcard() => binary.text.as_str(),
        _ => return Ok(vec![parts.to_vec()]),
    };
    let paths = facts
        .binaries_matching(pattern)
        .map_err(|e| binary_error(e, binary, ap))?;
    if paths.is_empty() {
        return Err(Diagnostic::error(
            format!("no executable or library matches `{pattern}`"),
            binary.span,
            "matches nothing",
        )
        .with_help("without a `/` it matches what the -p process maps; with one, files")
        .of_missing_probe());
    }
    Ok(paths
        .into_iter()
        .map(|path| {
            let mut each = parts.to_vec();
            each[at].text = path;
            each[at].quoted = true;
            each
        })
        .collect())
}

/// A binary as diagnostics name it: as written, and where it was found when that differs
/// (`` `libc` (/lib/x86_64-linux-gnu/libc.so.6) ``).
pub(super) fn shown_binary(path: &str, written: &str) -> String {
    if path == written {
        format!("`{path}`")
    } else {
        format!("`{written}` ({path})")
    }
}

/// Why a uprobe's binary cannot be used, at the binary part.
pub(super) fn binary_error(e: FactError, binary: &Part, ap: &AttachPoint) -> Diagnostic {
    let name = &binary.text;
    match e {
        FactError::NotFound { .. } if name.contains('/') => Diagnostic::error(
            format!("`{name}` does not exist"),
            binary.span,
            "no such file",
        )
        .with_help("give the path of an executable or a shared library")
        .of_missing_probe(),
        FactError::NotFound { .. } => Diagnostic::error(
            format!("no executable or library named `{name}`"),
            binary.span,
            "not found in $PATH or the dynamic loader's libraries",
        )
        .with_help(format!(
            "give its full path, as in `uprobe:/path/to/{name}:function`"
        ))
        .of_missing_probe(),
        FactError::Malformed { reason, .. } => Diagnostic::error(
            format!("cannot probe `{name}`: {reason}"),
            binary.span,
            "cannot be probed",
        ),
        FactError::NotElf { .. } => Diagnostic::error(
            format!("cannot probe `{name}`: it is not an ELF executable or library"),
            binary.span,
            "not an ELF executable or library",
        ),
        other => fact_error(other, ap),
    }
}

/// `func+0x10` probes inside `func`; a quoted name is a C++ signature (`"ns::f(int)"`,
/// `"operator+(int)"`), never an offset, unless the offset follows the quotes
/// (`"name"+0x10`).
fn name_and_offset<'p>(ap: &AttachPoint, function: &'p Part) -> (&'p str, Option<&'p str>) {
    let raw = ap
        .text
        .get(
            (function.span.start - ap.span.start) as usize
                ..(function.span.end - ap.span.start) as usize,
        )
        .unwrap_or_default();
    let offset_after_quotes = function.quoted && raw.rfind('"') < raw.rfind('+');
    match function.text.split_once('+') {
        Some((name, offset)) if !function.quoted => (name, Some(offset)),
        _ if offset_after_quotes => match function.text.rsplit_once('+') {
            Some((name, offset)) => (name, Some(offset)),
            None => (function.text.as_str(), None),
        },
        _ => (function.text.as_str(), None),
    }
}

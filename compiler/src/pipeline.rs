//! The whole compiler in one call: text → parse → macros → check → resolve → lower → codegen → object,
//! plus what the runtime needs to run the object (attach plans, the compiler-runtime contract,
//! the instruction→span tables that map a verifier rejection back to the script).

pub use crate::codegen::emit::Emitted;
pub use crate::codegen::program::EmittedTree;
pub use crate::lower::LowerOptions;

use crate::ast::Program;
use crate::check::{check, CheckOptions};
use crate::codegen::emit::{EmitError, ScratchMap};
use crate::codegen::program::emit_program;
use crate::config::{self, Limits};
use crate::diagnostic::Diagnostic;
use crate::ir;
use crate::lower::lower;
use crate::machine::facts::MachineFacts;
use crate::macros;
use crate::object::{write_object, FunctionSpec, MapSpec, ObjectSpec, ProgramSpec};
use crate::parse::parse;
use crate::probe::{ProviderKind, Target};
use crate::program::{counters_size, ProgramInfo};
use crate::resolve::{resolve_selected, ResolvedProgram};
use crate::span::Span;

#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    pub check: CheckOptions,
    pub lower: LowerOptions,
}

/// One probe's program, ready to attach.
#[derive(Clone, Debug)]
pub struct CompiledProbe {
    /// The program's name in the object (`tb_...`).
    pub program: String,
    pub kind: ProviderKind,
    /// What it attaches to.
    pub targets: Vec<Target>,
    /// Which of the script's probes (in source order) it runs.
    pub probe_index: usize,
    /// How its attach points share this one program (`LowerOptions::dispatch`), when they do.
    pub dispatch: Option<crate::probe::Dispatch>,
    /// The source span of each instruction, as the verifier numbers them.
    pub spans: Vec<Span>,
    pub ir: ir::Function,
    pub code: EmittedTree,
}

/// A compiled script.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub ast: Program,
    pub object: Vec<u8>,
    pub probes: Vec<CompiledProbe>,
    /// The guard-sampled programs' sampled copies (`program::SampledCopy`): in the object,
    /// never attached, loaded only when the guard first samples their probe.
    pub copies: Vec<CompiledProbe>,
    pub info: ProgramInfo,
    /// The limits the script runs within (defaults, or its `config` block).
    pub limits: Limits,
    /// Warnings the run goes ahead with (attach points left out by `missing_probes = warn`).
    pub warnings: Vec<Diagnostic>,
    /// The BPF name of the ring buffer.
    pub ringbuf: String,
    /// The BPF name of the flag `exit()` raises (1 << 32 | exit code).
    pub exit_flag: String,
}

impl Compiled {
    /// Whether a program writes the kernel's trace buffer (`debugf`'s bpf_trace_printk),
    /// which the runtime then makes readable where bpftrace's readers look.
    pub fn writes_trace_buffer(&self) -> bool {
        fn calls(f: &ir::Function) -> bool {
            f.insts.iter().any(|(inst, _)| {
                matches!(
                    inst,
                    ir::Inst::Call {
                        helper: crate::insn::Helper::TracePrintk,
                        ..
                    }
                )
            }) || f.callbacks.iter().any(calls)
        }
        self.probes.iter().any(|p| calls(&p.ir))
    }
}

/// Compiles a script for this machine; errors are diagnostics at the user's text.
/// The ring buffer's pages: `perf_rb_pages` as given wins; else the runtime may ask for more
/// than the default (sized from the estimate).
fn ringbuf_pages(limits: &Limits, lower: &LowerOptions) -> u32 {
    if limits.perf_rb_pages_given {
        limits.perf_rb_pages
    } else {
        limits.perf_rb_pages.max(lower.ringbuf_pages)
    }
}

pub fn compile(
    source: &str,
    facts: &dyn MachineFacts,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let (resolved, limits) = resolve_source(source, facts, &options.check)?;
    let lower_options = LowerOptions {
        max_strlen: limits.max_strlen,
        str_trunc_trailer: limits.str_trunc_trailer.clone(),
        max_map_keys: limits.max_map_keys,
        ringbuf_pages: ringbuf_pages(&limits, &options.lower),
        stack_mode: limits.stack_mode,
        ..options.lower.clone()
    };
    let warnings = resolved.warnings.clone();
    check_probe_count(&resolved, &limits)?;
    let lowered = lower(&resolved, &lower_options)?;
    let ast = resolved.ast;
    check_program_count(&ast, lowered.probes.len(), &limits)?;
    let mut probes = Vec::new();
    let mut copies = Vec::new();
    let mut programs = Vec::new();
    let mut functions = Vec::new();
    // Slots that do not fit a probe's 512-byte stack live in one per-CPU array, after the
    // script's maps, sized for the probe that needs most.
    // A per-CPU array's value holds at most 32 KiB (big strings need more): past that the
    // scratch is a plain array, an entry per possible CPU.
    let scratch_index = lowered.maps.len();
    let emit_all = |by_cpu: bool| {
        let scratch = ScratchMap {
            index: scratch_index,
            by_cpu,
        };
        (lowered.probes.iter().chain(&lowered.copies))
            .map(|p| emit_program(&p.function, Some(scratch)).map_err(|e| vec![emit_error(e)]))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut codes = emit_all(false)?;
    let mut scratch_size = codes.iter().map(|c| c.scratch_size).max().unwrap_or(0);
    let by_cpu = scratch_size > PERCPU_VALUE_MAX;
    if by_cpu {
        codes = emit_all(true)?;
        scratch_size = codes.iter().map(|c| c.scratch_size).max().unwrap_or(0);
    }
    let attached = lowered.probes.len();
    let all = lowered.probes.into_iter().chain(lowered.copies);
    for (n, (p, code)) in all.zip(codes).enumerate() {
        let func_relocations = add_callbacks(&code, &p.function.name, &mut functions);
        programs.push(ProgramSpec {
            name: p.function.name.clone(),
            section: p.dispatch.as_ref().map_or_else(
                || p.kind.probe().section_for(&p.function.name, &p.targets),
                |d| d.section(),
            ),
            insns: code.code.insns.clone(),
            map_relocations: code.code.map_relocations.clone(),
            func_relocations,
            global_relocations: code.code.global_relocations.clone(),
        });
        // A sampled copy is loaded when the guard samples, never attached.
        let into = if n < attached {
            &mut probes
        } else {
            &mut copies
        };
        into.push(CompiledProbe {
            program: p.function.name.clone(),
            kind: p.kind,
            targets: p.targets,
            probe_index: p.probe_index,
            dispatch: p.dispatch,
            spans: code.linked_spans(),
            ir: p.function,
            code,
        });
    }
    let maps = map_specs(
        &lowered.maps,
        scratch_size,
        by_cpu.then_some(lower_options.ncpus),
    );
    let object = write_object(&ObjectSpec {
        license: limits.license.clone(),
        maps,
        programs,
        functions,
        globals: lowered.globals,
        counters: counters_size(lowered.info.maps.len()),
    });
    Ok(Compiled {
        ast,
        object,
        probes,
        copies,
        info: lowered.info,
        limits,
        warnings,
        ringbuf: lowered.maps[lowered.ringbuf].name.clone(),
        exit_flag: lowered.maps[lowered.exit_flag].name.clone(),
    })
}

/// The phases before lowering: the script parsed, expanded, checked and resolved against
/// the machine, with the limits it runs within.
fn resolve_source(
    source: &str,
    facts: &dyn MachineFacts,
    options: &CheckOptions,
) -> Result<(ResolvedProgram, Limits), Vec<Diagnostic>> {
    let ast = checked_source(source, options)?;
    let limits = config::limits(&ast, &options.environment)?;
    let resolved = resolve_selected(
        ast,
        facts,
        limits.missing_probes,
        probe_filter(options)?.as_ref(),
        &options.include_dirs,
        options.unsafe_allowed,
    )?;
    Ok((resolved, limits))
}

/// The script parsed, expanded and checked.
fn checked_source(source: &str, options: &CheckOptions) -> Result<Program, Vec<Diagnostic>> {
    let ast = macros::expand(parse(source).map_err(|d| vec![d])?)?;
    let ast = crate::type_of::eliminate(ast)?;
    let ast = config::substitute_record(ast, &options.environment)?;
    let ast = crate::program_options::substitute(ast, &options.program_options)?;
    // Its warnings are check's: `check_source` reports them before a run compiles.
    let (mut ast, _) = crate::positional::substitute(ast, options.positional.as_deref())?;
    let diags = check(&ast, options);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    // `--include FILE` comes before the script's own includes, as at its top.
    let given = options.includes.iter().map(|file| crate::lex::Directive {
        kind: crate::lex::DirectiveKind::Include(if file.starts_with(['<', '"']) {
            file.clone()
        } else {
            format!("<{file}>")
        }),
        span: Span::default(),
    });
    ast.directives.splice(0..0, given);
    Ok(ast)
}

/// Every attach point of a script as `-l` of a program lists it: wildcards expanded on this
/// machine, in the script's order; no code is compiled
/// (`resolve::probes::listed_attach_points`).
pub fn attach_points(
    source: &str,
    facts: &dyn MachineFacts,
    options: &CheckOptions,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let ast = checked_source(source, options)?;
    crate::resolve::probes::listed_attach_points(&ast, facts)
}

/// `max_bpf_progs`: a script needing more programs is refused at its first probe.
fn check_program_count(
    ast: &Program,
    programs: usize,
    limits: &Limits,
) -> Result<(), Vec<Diagnostic>> {
    if programs <= limits.max_bpf_progs as usize {
        return Ok(());
    }
    let span = ast.items.iter().find_map(|i| match i {
        crate::ast::Item::Probe(p) => Some(p.span),
        _ => None,
    });
    Err(vec![Diagnostic::error(
        format!(
            "this script needs {programs} BPF programs, more than max_bpf_progs ({})",
            limits.max_bpf_progs
        ),
        span.unwrap_or_default(),
        "too many programs",
    )
    .with_help(format!(
        "raise it with `config = {{ max_bpf_progs = {programs} }}`"
    ))])
}

/// Adds a function's callbacks (and theirs) to the object's `.text` functions, named after
/// their caller; returns the function's relocations against them.
fn add_callbacks(
    tree: &EmittedTree,
    name: &str,
    functions: &mut Vec<FunctionSpec>,
) -> Vec<(usize, usize)> {
    let indices: Vec<usize> = tree
        .callbacks
        .iter()
        .enumerate()
        .map(|(n, callback)| {
            let callback_name = format!("{name}_cb{n}");
            let func_relocations = add_callbacks(callback, &callback_name, functions);
            functions.push(FunctionSpec {
                name: callback_name,
                insns: callback.code.insns.clone(),
                map_relocations: callback.code.map_relocations.clone(),
                func_relocations,
                global_relocations: callback.code.global_relocations.clone(),
            });
            functions.len() - 1
        })
        .collect();
    tree.code
        .func_relocations
        .iter()
        .map(|&(insn, n)| (insn, indices[n]))
        .collect()
}

/// Refuses a script whose wildcards expand past `max_probes` attach points, at the probe that
/// matches most, before anything is loaded.
fn check_probe_count(resolved: &ResolvedProgram, limits: &Limits) -> Result<(), Vec<Diagnostic>> {
    let total: usize = resolved.probes.iter().map(|p| p.targets.len()).sum();
    if total <= limits.max_probes as usize {
        return Ok(());
    }
    let (widest, matches) = resolved
        .probes()
        .map(|(p, r)| (p, r.targets.len()))
        .max_by_key(|(_, n)| *n)
        .expect("more attach points than the limit means some probe");
    let span = widest.attach_points.first().map_or(widest.span, |a| a.span);
    Err(vec![Diagnostic::error(
        format!(
            "this script would attach {total} probes, more than max_probes ({})",
            limits.max_probes
        ),
        span,
        format!("matches {matches} attach points"),
    )
    .with_help(format!(
        "narrow the wildcard, or raise the limit with `config = {{ max_probes = {total} }}`"
    ))])
}

fn emit_error(e: EmitError) -> Diagnostic {
    match e {
        EmitError::StackTooLarge { needed, span } => Diagnostic::error(
            format!("this probe needs {needed} bytes of stack; BPF allows 512"),
            span,
            "too much stack",
        )
        .with_help("use fewer or shorter strings and tuples in one probe, or lower max_strlen"),
        EmitError::JumpTooFar => Diagnostic::error(
            "this probe is too large to compile",
            Span::default(),
            "too large",
        ),
    }
}

/// `--probe-filter`'s regular expression, compiled.
fn probe_filter(check: &CheckOptions) -> Result<Option<regex::Regex>, Vec<Diagnostic>> {
    match check.probe_filter.as_deref().map(regex::Regex::new) {
        Some(Ok(re)) => Ok(Some(re)),
        Some(Err(e)) => Err(vec![Diagnostic::error(
            format!("Invalid --probe-filter regex: {e}"),
            Span::default(),
            "",
        )]),
        None => Ok(None),
    }
}

/// The most bytes the kernel allocates for a per-CPU array's value.
const PERCPU_VALUE_MAX: u32 = 32 * 1024;

/// The object's map definitions: lowering's maps in order, then the per-CPU scratch array
/// when some probe's slots did not fit its stack (`scratch_size` bytes), or, when
/// `by_cpu` gives the possible CPUs, a plain array of that many entries.
fn map_specs(
    maps: &[crate::lower::BpfMap],
    scratch_size: u32,
    by_cpu: Option<u32>,
) -> Vec<MapSpec> {
    let mut specs: Vec<MapSpec> = maps
        .iter()
        .map(|m| MapSpec {
            name: m.name.clone(),
            map_type: m.kind as u32,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.flags,
        })
        .collect();
    if scratch_size > 0 {
        specs.push(MapSpec {
            name: "tb_scratch".into(),
            map_type: match by_cpu {
                Some(_) => crate::lower::MapKind::Array,
                None => crate::lower::MapKind::PercpuArray,
            } as u32,
            key_size: 4,
            value_size: scratch_size,
            max_entries: by_cpu.unwrap_or(1).max(1),
            flags: 0,
        });
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::fixture::FixtureFacts;

    /// Strings past 32 KiB of scratch (`max_strlen = 9999`, a few copies) live in a plain
    /// array of one entry per possible CPU, found by the CPU's number; smaller ones in the
    /// per-CPU array's one entry.
    #[test]
    fn big_strings_take_an_array_per_cpu() {
        let compile_with = |max_strlen: u32| {
            let source = format!(
                "config = {{ max_strlen = {max_strlen} }} \
                 t:syscalls:sys_enter_openat {{ @m[str(args.filename), 1] = str(args.filename); }}"
            );
            let mut options = CompileOptions::default();
            options.lower.ncpus = 6;
            compile(&source, &FixtureFacts::bundled(), &options).expect("compiles")
        };
        let calls_cpu = |c: &Compiled| {
            c.probes[0]
                .code
                .code
                .insns
                .iter()
                .any(|i| *i == crate::insn::Insn::call(crate::insn::Helper::GetSmpProcessorId))
        };
        let small = compile_with(2000);
        assert!(!calls_cpu(&small));
        let big = compile_with(9999);
        assert!(calls_cpu(&big));
        let scratch = |by_cpu| map_specs(&[], 40_000, by_cpu);
        assert_eq!(
            (
                scratch(Some(6))[0].map_type,
                scratch(Some(6))[0].max_entries
            ),
            (crate::lower::MapKind::Array as u32, 6)
        );
        assert_eq!(
            (scratch(None)[0].map_type, scratch(None)[0].max_entries),
            (crate::lower::MapKind::PercpuArray as u32, 1)
        );
    }
}

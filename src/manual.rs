//! The man page and the shell completions, generated from the command line's definition
//! (`cli::Cli`), so that they name exactly the flags `--help` does: `tracebound completions
//! SHELL` and `tracebound man` print them (README, "Install the man page and completions").
//! The man page adds what clap does not know: the commands, the budget, the exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{bold, roman, Roff};

use crate::cli::Cli;

/// The shells `tracebound completions` writes for.
pub const SHELLS: &str = "bash, zsh, fish, elvish, powershell";

/// The completion script for `shell`, for `tracebound completions SHELL`.
pub fn completions(shell: &str, out: &mut dyn Write) -> Result<(), String> {
    let shell: Shell = shell
        .parse()
        .map_err(|_| format!("completions: `{shell}` is not a shell this writes for ({SHELLS})"))?;
    clap_complete::generate(shell, &mut Cli::command(), "tracebound", out);
    Ok(())
}

/// The man page, tracebound(1), in roff.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    // The command line prints its own version (`-V`, as bpftrace words it), so clap does not
    // carry one; the page's VERSION section needs it.
    let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let man = clap_mangen::Man::new(command.clone()).section("1");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    let mut roff = Roff::new();
    for (title, paragraphs) in SECTIONS {
        roff.control("SH", [*title]);
        for paragraph in *paragraphs {
            match paragraph.split_once('\t') {
                // A term and its description.
                Some((term, text)) => {
                    roff.control("TP", [])
                        .text([bold(term)])
                        .text([roman(text)]);
                }
                None => {
                    roff.control("PP", []).text([roman(*paragraph)]);
                }
            }
        }
    }
    roff.control("SH", ["TOOLS"]);
    roff.control("PP", []).text([roman(
        "The checklist tools, written for the probes this kernel has (tracepoints, uprobes, \
         profile; no kprobes needed). Each is a plain script, tools/NAME.bt in the source, \
         embedded in the binary. Their output follows the bcc tools of the same names.",
    )]);
    for tool in crate::tools::TOOLS {
        roff.control("TP", [])
            .text([bold(tool.usage())])
            .text([roman(tool.summary)]);
        for option in tool.options {
            let spelled = match option.flag {
                Some(flag) => format!("{flag} {}: ", option.value),
                None => format!("{}: ", option.value),
            };
            roff.control("br", [])
                .text([roman(format!("{spelled}{}", option.doc))]);
        }
    }
    roff.to_writer(out)?;
    man.render_extra_section(out)?;
    man.render_version_section(out)
}

/// The sections after OPTIONS: a paragraph each, or `term\tdescription`.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "COMMANDS",
        &[
            "tracebound calibrate\tMeasure this host's per-hit costs of each probe mechanism (a getppid() loop's slowdown, interleaved rounds, medians) and cache them per kernel release and CPU model; the estimate prices probes with them.",
            "tracebound completions SHELL\tPrint the completion script for SHELL (bash, zsh, fish, elvish, powershell).",
            "tracebound man\tPrint this manual page (roff).",
            "tracebound tools\tList the built-in tools, one line each, with the share of the machine each would take now (its dry run, at most 50 ms of counting each).",
            "tracebound tools NAME [OPTIONS] [TRACEBOUND OPTIONS]\tRun a built-in tool (see TOOLS). NAME --help lists its options; --script prints the script as it would run. tracebound's own options (--dry-run, --check, --budget, -f folded, --flamegraph FILE.svg, --timeout, -o, ...) apply as to any script. A script file named tools runs as ./tools.",
        ],
    ),
    (
        "THE BUDGET",
        &[
            "Before attaching anything, tracebound counts how often each probe would fire (for up to --estimate-window milliseconds, stopping as soon as the counts decide the verdict at 95% confidence), prices each hit with the cost model (see calibrate) and projects the script's overhead. The budget has three limits: the whole machine (3% by default, --budget or the script's config = { budget = ... }), any one CPU (10/3 of it, 10% by default) and the slowdown of a process that has uprobes (5/3 of it, 5%). A script projected over any of them is refused with exit code 3 and a diagnostic at the costliest probe; --dry-run prints the table and attaches nothing; --auto-filter narrows the script instead (sampling a probe 1 in N, leaving out the hottest wildcard members, keeping uprobes to the -c command), naming each step.",
            "While the script runs, the guard reads the kernel's accounting of each program twice a second; a probe over budget for 2 seconds is detached and the rest run on (--no-guard turns this off).",
        ],
    ),
    (
        "OUTPUT",
        &[
            "Text output is bpftrace's, byte for byte; -f json is bpftrace's JSON lines. -f folded prints maps keyed by a stack as folded stacks for flame graph tools; --flamegraph FILE.svg draws them as an SVG; --percentiles prints histograms as percentile tables with their error bound; --metrics serves every map to Prometheus while the script runs.",
        ],
    ),
    (
        "EXIT STATUS",
        &[
            "0\tThe script ran to its end, or exited with exit(0); a dry run found it within budget; --check found no error.",
            "N\tThe code the script gave to exit(N).",
            "1\tA diagnostic in the script, a usage error, or a runtime error.",
            "2\tThe command line could not be parsed.",
            "3\tThe script's projected overhead is over budget (a run refused, or a dry run's verdict).",
            "128+N\tSignal N stopped the run while it was still being measured, before anything was attached (130 for Ctrl-C). A signal after attaching ends the run as exit() does: END runs, the maps print, the code is 0.",
        ],
    ),
    (
        "FILES",
        &[
            "$XDG_CACHE_HOME/tracebound/calibration\tThe calibration cache (~/.cache/tracebound/calibration without XDG_CACHE_HOME, the temporary directory without a home).",
        ],
    ),
];

/// `tracebound completions SHELL` and `tracebound man`, written to stdout; `None` for any
/// other command line.
pub(crate) fn documentation() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    let written = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["completions", shell] => completions(shell, &mut out),
        ["completions"] => Err(format!("completions: name a shell ({})", SHELLS)),
        ["man"] => man_page(&mut out).map_err(|e| format!("man: {e}")),
        _ => return None,
    };
    Some(match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ERROR: {message}");
            ExitCode::from(1)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_names_every_flag_and_the_exit_codes() {
        let mut page = Vec::new();
        man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(".TH tracebound 1"), "{}", &page[..200]);
        for arg in Cli::command().get_arguments() {
            if let Some(long) = arg.get_long() {
                // roff writes a dash as `\-`.
                let written = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(page.contains(&written), "--{long} is not in the man page");
            }
            if let Some(short) = arg.get_short() {
                assert!(page.contains(&format!("\\-{short}")), "-{short} missing");
            }
        }
        for section in [
            ".SH \"EXIT STATUS\"",
            ".SH \"THE BUDGET\"",
            ".SH COMMANDS",
            ".SH TOOLS",
        ] {
            assert!(page.contains(section), "{section}");
        }
        for tool in crate::tools::TOOLS {
            assert!(
                page.contains(&format!("tracebound tools {}", tool.name)),
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn completions_are_written_for_known_shells_only() {
        let mut bash = Vec::new();
        completions("bash", &mut bash).unwrap();
        assert!(String::from_utf8(bash).unwrap().contains("--budget"));
        assert!(completions("tcsh", &mut Vec::new()).is_err());
    }
}

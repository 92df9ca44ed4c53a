//! `tracebound tools`: the checklist tools built in. Each tool is a plain script in the
//! repository's `tools/` directory (readable, and runnable as `tracebound tools/NAME.bt`),
//! embedded here, with one table entry saying what it shows and how each of its options
//! becomes script text or a positional parameter. `invocation` turns `tracebound tools NAME
//! [options]` into the ordinary command line that runs the script; `listing` prints the
//! table with what each tool would cost on this host now.
//!
//! `tools` is a command only as the first argument, bare, as `calibrate`, `man` and
//! `completions` are: a script file named `tools` runs as `./tools` (any path with a slash),
//! and `tracebound tools` says so when such a file is in the working directory. A script is
//! conventionally `NAME.bt`, and a runbook that names a command word as a file is rare; a
//! flag (`--tool NAME`) would have left `tracebound tools` unable to list.

mod invocation;
mod listing;

pub use invocation::{command, ToolsCommand};
pub use listing::list;

/// One built-in tool.
pub struct Tool {
    pub name: &'static str,
    /// What it shows, in one line (the listing's).
    pub summary: &'static str,
    /// The script as it is in `tools/NAME.bt`.
    pub script: &'static str,
    pub options: &'static [ToolOption],
}

/// One option of a tool: `-p PID`, `-i SECONDS`, or an operand (`flag: None`).
pub struct ToolOption {
    pub flag: Option<&'static str>,
    pub value: &'static str,
    pub doc: &'static str,
    pub accepts: Accepts,
    /// What giving it does, each applied in turn.
    pub maps: &'static [Mapping],
}

/// What an option's value must be; checked before anything is substituted into the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    /// A process id, as `-p` takes it.
    Pid,
    /// A positive whole number (seconds, hertz).
    Positive,
    /// `BINARY:FUNCTION`: a path or library name and a function name.
    Function,
}

/// How an option's value reaches the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Positional parameter `$N`; `default` when the option is not given.
    Positional { index: usize, default: &'static str },
    /// Every occurrence of `text` in the script becomes `with`, its `{}` the value: for what
    /// positional parameters cannot reach (attach points).
    Replace {
        text: &'static str,
        with: &'static str,
    },
    /// A probe added at the end of the script, its `{}` the value.
    Append(&'static str),
    /// tracebound's own option of this spelling, given the value (`-p`: the run ends when the
    /// process exits, and uprobes fire in it only).
    Tracebound(&'static str),
}

const PID_FILTER: ToolOption = ToolOption {
    flag: Some("-p"),
    value: "PID",
    doc: "only this process (the run ends when it exits)",
    accepts: Accepts::Pid,
    maps: &[
        Mapping::Positional {
            index: 1,
            default: "0",
        },
        Mapping::Tracebound("-p"),
    ],
};

/// `-i SECONDS` for a tool whose result is the map `@NAME`: print it every interval, then
/// start again.
macro_rules! interval_of {
    ($map:literal) => {
        ToolOption {
            flag: Some("-i"),
            value: "SECONDS",
            doc: concat!("print ", $map, " every SECONDS seconds and start it again"),
            accepts: Accepts::Positive,
            maps: &[Mapping::Append(concat!(
                "\ninterval:s:{} {\n  time(\"%H:%M:%S\\n\");\n  print(",
                $map,
                ");\n  clear(",
                $map,
                ");\n}\n"
            ))],
        }
    };
}

pub static TOOLS: &[Tool] = &[
    Tool {
        name: "execsnoop",
        summary: "every exec() with its arguments, as it happens (failures with their errno)",
        script: include_str!("../../tools/execsnoop.bt"),
        options: &[],
    },
    Tool {
        name: "opensnoop",
        summary: "every open() of a file: pid, name, fd, errno, path",
        script: include_str!("../../tools/opensnoop.bt"),
        options: &[PID_FILTER],
    },
    Tool {
        name: "killsnoop",
        summary: "every signal sent by kill(), tkill(), tgkill(): sender, signal, target, result",
        script: include_str!("../../tools/killsnoop.bt"),
        options: &[PID_FILTER],
    },
    Tool {
        name: "syscount",
        summary: "system calls counted by number and by process, the top ten of each",
        script: include_str!("../../tools/syscount.bt"),
        options: &[
            PID_FILTER,
            ToolOption {
                flag: Some("-i"),
                value: "SECONDS",
                doc: "print the top ten syscalls every SECONDS seconds and start again",
                accepts: Accepts::Positive,
                maps: &[Mapping::Append(
                    "\ninterval:s:{} {\n  time(\"%H:%M:%S\\n\");\n  print(@syscall, 10);\n  clear(@syscall);\n}\n",
                )],
            },
        ],
    },
    Tool {
        name: "funclatency",
        summary: "a user-space function's latency as a histogram (uprobe and uretprobe)",
        script: include_str!("../../tools/funclatency.bt"),
        options: &[
            ToolOption {
                flag: None,
                value: "BINARY:FUNCTION",
                doc: "the function to time (default libc:malloc)",
                accepts: Accepts::Function,
                maps: &[Mapping::Replace {
                    text: "libc:malloc",
                    with: "{}",
                }],
            },
            ToolOption {
                flag: Some("-p"),
                value: "PID",
                doc: "only calls in this process (the run ends when it exits)",
                accepts: Accepts::Pid,
                maps: &[Mapping::Tracebound("-p")],
            },
        ],
    },
    Tool {
        name: "biolatency",
        summary: "block I/O latency as a histogram, request start to completion",
        script: include_str!("../../tools/biolatency.bt"),
        options: &[PID_FILTER, interval_of!("@usecs")],
    },
    Tool {
        name: "biosnoop",
        summary: "every block I/O as it completes: process, device, kind, sector, bytes, latency",
        script: include_str!("../../tools/biosnoop.bt"),
        options: &[PID_FILTER],
    },
    Tool {
        name: "runqlat",
        summary: "how long runnable threads wait for a CPU, as a histogram",
        script: include_str!("../../tools/runqlat.bt"),
        options: &[
            ToolOption {
                doc: "only this thread id (a single-threaded process's pid)",
                ..PID_FILTER
            },
            interval_of!("@usecs"),
        ],
    },
    Tool {
        name: "offcputime",
        summary: "where threads were blocked and for how long, by stack (--flamegraph)",
        script: include_str!("../../tools/offcputime.bt"),
        options: &[PID_FILTER],
    },
    Tool {
        name: "profile",
        summary: "where the CPU time goes, sampled by stack at 99 Hz (--flamegraph)",
        script: include_str!("../../tools/profile.bt"),
        options: &[
            PID_FILTER,
            ToolOption {
                flag: Some("-F"),
                value: "HZ",
                doc: "samples a second on each CPU (default 99)",
                accepts: Accepts::Positive,
                maps: &[Mapping::Replace {
                    text: "hz:99",
                    with: "hz:{}",
                }],
            },
        ],
    },
    Tool {
        name: "tcplife",
        summary: "every TCP connection as it closes: owner, addresses, KB each way, lifetime",
        script: include_str!("../../tools/tcplife.bt"),
        options: &[PID_FILTER],
    },
    Tool {
        name: "tcpretrans",
        summary: "every TCP retransmission: addresses, ports, the connection's state",
        script: include_str!("../../tools/tcpretrans.bt"),
        options: &[],
    },
];

/// The tool of this name.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

impl Tool {
    /// Where the script is in the repository, the name its diagnostics carry.
    pub fn path(&self) -> String {
        format!("tools/{}.bt", self.name)
    }

    /// `tracebound tools NAME -p PID ...`: its usage line.
    pub fn usage(&self) -> String {
        let mut line = format!("tracebound tools {}", self.name);
        for option in self.options {
            match option.flag {
                Some(flag) => line.push_str(&format!(" [{flag} {}]", option.value)),
                None => line.push_str(&format!(" [{}]", option.value)),
            }
        }
        line + " [TRACEBOUND OPTIONS]"
    }

    /// `tracebound tools NAME --help`: the usage, the options and the script's header.
    pub fn help(&self) -> String {
        let mut text = format!(
            "{}: {}\n\nUSAGE:\n    {}\n",
            self.name,
            self.summary,
            self.usage()
        );
        if !self.options.is_empty() {
            text.push_str("\nOPTIONS:\n");
            for option in self.options {
                let spelled = match option.flag {
                    Some(flag) => format!("{flag} {}", option.value),
                    None => option.value.to_string(),
                };
                text.push_str(&format!("    {spelled:<20} {}\n", option.doc));
            }
        }
        text.push_str(
            "\nAny other option is tracebound's: --dry-run, --check, --budget, --timeout, -f folded, \
             --flamegraph FILE.svg, --percentiles, -o FILE, -c CMD, ...\n",
        );
        text.push_str(&format!(
            "\nThe script ({}, `--script` prints it whole):\n",
            self.path()
        ));
        for line in self.script.lines().take_while(|l| l.starts_with("//")) {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// The tools, one line each, for `--help` and the man page.
pub fn summary_lines() -> Vec<String> {
    TOOLS
        .iter()
        .map(|t| format!("{:<12} {}", t.name, t.summary))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_says_what_it_shows_and_uses_what_its_options_map_to() {
        for tool in TOOLS {
            assert!(
                tool.script.starts_with(&format!("// {}: ", tool.name)),
                "{} has no header naming it",
                tool.name
            );
            for option in tool.options {
                for mapping in option.maps {
                    match mapping {
                        Mapping::Positional { index, .. } => assert!(
                            tool.script.contains(&format!("${index}")),
                            "{}: ${index} is not in the script",
                            tool.name
                        ),
                        Mapping::Replace { text, .. } => assert!(
                            tool.script.contains(text),
                            "{}: `{text}` is not in the script",
                            tool.name
                        ),
                        Mapping::Append(text) => assert!(text.contains("{}")),
                        Mapping::Tracebound(flag) => assert!(flag.starts_with('-')),
                    }
                }
                if let Some(flag) = option.flag {
                    assert!(
                        tool.script.contains(&format!("{flag} {}", option.value)),
                        "{}'s header does not document {flag} {}",
                        tool.name,
                        option.value
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for tool in TOOLS {
            assert!(std::ptr::eq(find(tool.name).unwrap(), tool));
        }
        assert!(find("nosuchtool").is_none());
    }
}

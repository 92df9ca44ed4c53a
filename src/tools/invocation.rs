//! `tracebound tools ...` read: the listing, a tool's help or script, or a run, which is
//! the ordinary command line `tracebound [OPTIONS] -e SCRIPT -- $1 ...` with the tool's
//! options applied to its script (positional parameters, replaced text, added probes,
//! tracebound's own `-p`). Everything else on the line is tracebound's, passed on as given.

use clap::CommandFactory;

use super::{find, Accepts, Mapping, Tool, ToolOption, TOOLS};
use crate::cli::{parse_pid, Cli};

/// What `tracebound tools ARGS` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum ToolsCommand {
    /// `tracebound tools`: the table, with each tool's cost now.
    List,
    /// `tracebound tools NAME --help`.
    Help(&'static str),
    /// `tracebound tools NAME [options] --script`: the script as it would run.
    Script(String),
    /// Run it: the command line for `Cli`, and the name its diagnostics carry.
    Run { argv: Vec<String>, name: String },
}

/// Reads the arguments after `tools`.
pub fn command(args: &[String]) -> Result<ToolsCommand, String> {
    let Some((name, rest)) = args.split_first() else {
        return Ok(ToolsCommand::List);
    };
    let Some(tool) = find(name) else {
        let known: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        return Err(format!(
            "tools: no tool named `{name}` (there are: {})",
            known.join(", ")
        ));
    };
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(ToolsCommand::Help(tool.name));
    }
    let read = read_line(tool, rest)?;
    let script = read.script(tool);
    if read.print_script {
        return Ok(ToolsCommand::Script(script));
    }
    let mut argv = vec!["tracebound".to_string()];
    argv.extend(read.passed_on);
    argv.extend(["-e".to_string(), script, "--".to_string()]);
    argv.extend(read.positional);
    Ok(ToolsCommand::Run {
        argv,
        name: tool.path(),
    })
}

/// A tool's command line, taken apart.
#[derive(Default)]
struct ReadLine {
    /// Each option given, with its value.
    given: Vec<(&'static ToolOption, String)>,
    /// tracebound's own options (the tool's `-p` among them), in order.
    passed_on: Vec<String>,
    /// `$1`, `$2`, ...
    positional: Vec<String>,
    print_script: bool,
}

fn read_line(tool: &'static Tool, args: &[String]) -> Result<ReadLine, String> {
    let mut read = ReadLine::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--script" {
            read.print_script = true;
            continue;
        }
        if word == "-e" || word == "--" {
            return Err(format!(
                "tools {}: `{word}` does not apply: the tool's script is the program",
                tool.name
            ));
        }
        let option = tool.options.iter().find(|o| match o.flag {
            Some(flag) => word == flag || (word.starts_with(flag) && word.len() > flag.len()),
            None => !word.starts_with('-'),
        });
        let Some(option) = option else {
            if !word.starts_with('-') {
                return Err(format!(
                    "tools {}: unexpected argument `{word}`\nUSAGE: {}",
                    tool.name,
                    tool.usage()
                ));
            }
            // tracebound's option, with its value when it takes one and it is not attached.
            read.passed_on.push(word.clone());
            if takes_separate_value(word) {
                if let Some(value) = words.next() {
                    read.passed_on.push(value.clone());
                }
            }
            continue;
        };
        let value = match option.flag {
            Some(flag) if word == flag => words
                .next()
                .cloned()
                .ok_or_else(|| format!("tools {}: {flag} needs {}", tool.name, option.value))?,
            Some(flag) => word[flag.len()..].trim_start_matches('=').to_string(),
            None => word.clone(),
        };
        if read.given.iter().any(|(o, _)| std::ptr::eq(*o, option)) {
            return Err(format!(
                "tools {}: {} given twice",
                tool.name,
                option.flag.unwrap_or(option.value)
            ));
        }
        check_value(tool, option, &value)?;
        read.given.push((option, value));
    }
    // Positional parameters: given or defaulted, in index order.
    let mut positional: Vec<(usize, String)> = Vec::new();
    for option in tool.options {
        let value = read
            .given
            .iter()
            .find(|(o, _)| std::ptr::eq(*o, option))
            .map(|(_, v)| v.clone());
        for mapping in option.maps {
            match (mapping, &value) {
                (Mapping::Positional { index, default }, v) => {
                    positional.push((*index, v.clone().unwrap_or_else(|| default.to_string())))
                }
                (Mapping::Tracebound(flag), Some(v)) => {
                    read.passed_on.extend([flag.to_string(), v.clone()])
                }
                _ => {}
            }
        }
    }
    positional.sort_by_key(|(i, _)| *i);
    read.positional = positional.into_iter().map(|(_, v)| v).collect();
    Ok(read)
}

impl ReadLine {
    /// The tool's script with the options that change its text applied.
    fn script(&self, tool: &Tool) -> String {
        let mut script = tool.script.to_string();
        for (option, value) in &self.given {
            for mapping in option.maps {
                match mapping {
                    Mapping::Replace { text, with } => {
                        script = script.replace(text, &with.replace("{}", value));
                    }
                    Mapping::Append(probe) => script.push_str(&probe.replace("{}", value)),
                    Mapping::Positional { .. } | Mapping::Tracebound(_) => {}
                }
            }
        }
        script
    }
}

/// Whether tracebound's option `word` takes its value as the next argument.
fn takes_separate_value(word: &str) -> bool {
    if word.contains('=') {
        return false;
    }
    let command = Cli::command();
    let arg = match word.strip_prefix("--") {
        Some(long) => command.get_arguments().find(|a| a.get_long() == Some(long)),
        None => {
            // `-fjson` carries its value; `-f json` does not.
            let mut chars = word.chars().skip(1);
            let (Some(short), None) = (chars.next(), chars.next()) else {
                return false;
            };
            command
                .get_arguments()
                .find(|a| a.get_short() == Some(short))
        }
    };
    arg.is_some_and(|a| a.get_action().takes_values())
}

/// An option's value, checked before it is written into the script: nothing but what its
/// kind allows can reach the text.
fn check_value(tool: &Tool, option: &ToolOption, value: &str) -> Result<(), String> {
    let what = option.flag.unwrap_or(option.value);
    let wrong = |why: String| Err(format!("tools {}: {what}: {why}", tool.name));
    match option.accepts {
        Accepts::Pid => parse_pid(value).map(|_| ()).or_else(wrong),
        Accepts::Positive => match value.parse::<u64>() {
            Ok(n) if n > 0 => Ok(()),
            _ => wrong(format!("`{value}` is not a positive whole number")),
        },
        Accepts::Function => {
            let fits = |c: char| c.is_ascii_alphanumeric() || "_./+-@*".contains(c);
            match value.rsplit_once(':') {
                Some((binary, function))
                    if !binary.is_empty()
                        && !function.is_empty()
                        && binary.chars().all(fits)
                        && function.chars().all(fits) =>
                {
                    Ok(())
                }
                _ => wrong(format!(
                    "`{value}` is not BINARY:FUNCTION (a path or library name, a colon, a \
                     function name)"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run_argv(line: &str) -> Vec<String> {
        match command(&words(line)).unwrap() {
            ToolsCommand::Run { argv, .. } => argv,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pid_is_the_first_parameter_and_tracebounds_own_p() {
        let argv = run_argv("opensnoop -p 42 --dry-run --budget 5");
        assert_eq!(argv[..5], words("tracebound --dry-run --budget 5 -p")[..]);
        assert_eq!(argv[5], "42");
        assert_eq!(argv[6], "-e");
        assert!(argv[7].starts_with("// opensnoop: "));
        assert_eq!(argv[8..], words("-- 42")[..]);
        // Not given: every process.
        let argv = run_argv("opensnoop");
        assert_eq!(argv[argv.len() - 2..], words("-- 0")[..]);
    }

    #[test]
    fn text_options_change_the_script() {
        let ToolsCommand::Script(script) =
            command(&words("funclatency /usr/bin/app:handle -p 9 --script")).unwrap()
        else {
            panic!()
        };
        assert!(script.contains("uprobe:/usr/bin/app:handle /"), "{script}");
        assert!(script.contains("uretprobe:/usr/bin/app:handle /"));
        assert!(!script.contains("libc:malloc {"));
        let ToolsCommand::Script(script) = command(&words("profile -F 49 --script")).unwrap()
        else {
            panic!()
        };
        assert!(script.contains("profile:hz:49 /"));
        let ToolsCommand::Script(script) = command(&words("runqlat -i 5 --script")).unwrap() else {
            panic!()
        };
        assert!(script.ends_with(
            "interval:s:5 {\n  time(\"%H:%M:%S\\n\");\n  print(@usecs);\n  clear(@usecs);\n}\n"
        ));
    }

    #[test]
    fn values_are_checked_before_they_reach_the_script() {
        let error = |line: &str| command(&words(line)).unwrap_err();
        assert!(error("funclatency bin:fn{system(\"x\")}").contains("not BINARY:FUNCTION"));
        assert!(error("funclatency malloc").contains("not BINARY:FUNCTION"));
        assert!(error("profile -F 0").contains("not a positive whole number"));
        assert!(error("opensnoop -p abc").contains("Failed to parse pid"));
        assert!(error("opensnoop stray").contains("unexpected argument `stray`"));
        assert!(error("opensnoop -e x").contains("the tool's script is the program"));
        assert!(error("opensnoop -p 1 -p 2").contains("given twice"));
        assert!(error("nosuch").contains("no tool named `nosuch`"));
    }

    #[test]
    fn tracebounds_options_keep_their_values() {
        let argv = run_argv("profile -f folded --flamegraph out.svg -F 49 --timeout 2");
        assert_eq!(
            argv[..7],
            words("tracebound -f folded --flamegraph out.svg --timeout 2")[..]
        );
        assert_eq!(command(&[]).unwrap(), ToolsCommand::List);
        assert_eq!(
            command(&words("tcplife --help")).unwrap(),
            ToolsCommand::Help("tcplife")
        );
    }
}

//! The script's named options on the command line (`-- --name=value`, `--name`), read
//! against the `getopt` calls the script declares, in the current release's words:
//! `-- --help` lists them, an option the script does not declare or a value of the wrong
//! type is an error before anything is compiled.

use std::collections::HashMap;

use tracebound_compiler::program_options::{value_of, OptionValue, ProgramOption};

/// What the command line's named options come to.
pub(crate) enum NamedOptions {
    /// The values by name, to compile with.
    Values(HashMap<String, OptionValue>),
    /// `-- --help`: the script's options, to print (the run stops there, with code 1).
    Help(String),
    /// Why they cannot be used.
    Error(String),
}

/// Reads `named` (each `--name` or `--name=value`) against the options the script declares.
pub(crate) fn read(named: &[String], declared: &[ProgramOption]) -> NamedOptions {
    if named.iter().any(|n| n == "--help") {
        return NamedOptions::Help(help(declared));
    }
    let mut values = HashMap::new();
    let mut unexpected = Vec::new();
    for arg in named {
        let text = arg.trim_start_matches("--");
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let Some(option) = declared.iter().find(|o| o.name == name) else {
            unexpected.push(format!("--{name}"));
            continue;
        };
        match value_of(name, option.default.kind(), value) {
            Ok(v) => {
                values.insert(name.to_string(), v);
            }
            Err(message) => return NamedOptions::Error(format!("ERROR: {message}")),
        }
    }
    if !unexpected.is_empty() {
        let expected: Vec<String> = declared.iter().map(|o| format!("--{}", o.name)).collect();
        let hint = match expected.is_empty() {
            true => "HINT: this program declares no options (getopt)".to_string(),
            false => format!("HINT: expected program options: {}", expected.join(", ")),
        };
        return NamedOptions::Error(format!(
            "ERROR: unexpected program command line options: {}\n{hint}",
            unexpected.join(", ")
        ));
    }
    NamedOptions::Values(values)
}

/// `-- --help`: one line an option, with its description where the script gives one.
fn help(declared: &[ProgramOption]) -> String {
    let mut text = String::from("HINT: expected program options:\n");
    for option in declared {
        match &option.description {
            Some(d) => text.push_str(&format!("  --{}: {d}\n", option.name)),
            None => text.push_str(&format!("  --{}\n", option.name)),
        }
    }
    text
}

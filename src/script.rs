//! The script a run reads: `-e` text, a file, or standard input, with its positional
//! parameters.

use std::io::Read;

use crate::cli::Cli;

/// Returns (display name, text, positional parameters).
pub(crate) fn read_script(cli: &Cli) -> Result<(String, String, Vec<String>), String> {
    if !cli.program.is_empty() {
        let text = cli.program.join("\n");
        return Ok(("<command line>".to_string(), text, cli.args.clone()));
    }
    let Some((file, rest)) = cli.args.split_first() else {
        return Err("USAGE: filename or -e 'program' required.".into());
    };
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(("<stdin>".to_string(), text, rest.to_vec()));
    }
    if !cli.no_warnings {
        warn_if_others_can_write(file);
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        // The C library's words, as bpftrace says it, without Rust's "(os error N)".
        let words = e.to_string();
        let words = words
            .split(" (os error")
            .next()
            .unwrap_or_default()
            .to_string();
        format!("failed to open file '{file}': {words}")
    })?;
    Ok((file.clone(), text, rest.to_vec()))
}

/// A runbook script that other users can change runs as root with whatever they put in it:
/// say so before running it.
fn warn_if_others_can_write(file: &str) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        eprintln!(
            "warning: {file} can be changed by other users (mode {:03o}); it runs with your \
             privileges: check it, or `chmod go-w {file}`",
            mode & 0o777
        );
    }
}

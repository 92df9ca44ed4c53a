//! `tracebound tools`: the tools, one line each, with what each would cost on this host now:
//! each tool's own dry run (`tracebound tools NAME --dry-run -f json`, the estimate the run
//! itself would make), with a short window so that the listing stays quick: the estimate
//! stops as soon as its counts settle the verdict, and after 50 ms at most.

use std::process::{Command, ExitCode};

use super::TOOLS;

/// The longest each tool's dry run counts, in milliseconds.
const WINDOW_MS: &str = "50";

/// Prints the table (and a note when a script file named `tools` is in the working
/// directory: this command shadows it).
pub fn list() -> ExitCode {
    if std::path::Path::new("tools").is_file() {
        eprintln!(
            "note: `tracebound tools` is the built-in tools command; run the script file here \
             as `tracebound ./tools`"
        );
    }
    let me = std::env::current_exe();
    println!("{:<12} {:<16} WHAT IT SHOWS", "TOOL", "COST NOW");
    for tool in TOOLS {
        let cost = match &me {
            Ok(me) => cost_now(me, tool.name),
            Err(e) => format!("? ({e})"),
        };
        println!("{:<12} {:<16} {}", tool.name, cost, tool.summary);
    }
    println!(
        "\nCOST NOW: the share of this machine's CPU the tool is projected to take, from its \
         dry run over at most {WINDOW_MS} ms just now (the counts stop once the verdict is \
         known; `tracebound tools NAME --dry-run` shows the whole table). Run one with \
         `tracebound tools NAME [options]`; `tracebound tools NAME --help` lists its options; \
         the scripts are tools/NAME.bt."
    );
    ExitCode::SUCCESS
}

/// `0.21%`, `9.33% OVER` (over budget: a run would be refused), or `?` and why.
fn cost_now(me: &std::path::Path, name: &str) -> String {
    let out = Command::new(me)
        .args([
            "tools",
            name,
            "--dry-run",
            "-f",
            "json",
            "-q",
            "--no-warnings",
        ])
        .args(["--estimate-window", WINDOW_MS])
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return format!("? ({e})"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let estimate = stdout
        .lines()
        .find(|l| l.starts_with("{\"type\": \"estimate\""));
    match estimate.and_then(|line| number_after(line, "\"machine_pct\": ")) {
        Some(pct) if out.status.code() == Some(3) => format!("{pct:.2}% OVER"),
        Some(pct) => format!("{pct:.2}%"),
        None => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr
                .lines()
                .chain(stdout.lines())
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no estimate")
                .trim_start_matches("ERROR: ")
                .to_string();
            format!("? ({why})")
        }
    }
}

/// The number after the first `key` in a line of JSON.
fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::number_after;

    #[test]
    fn the_machine_share_is_read_from_the_dry_runs_json() {
        let line = "{\"type\": \"estimate\", \"data\": {\"machine_pct\": 0.2102, \"busiest_cpu_pct\": 0.2457}}";
        assert_eq!(number_after(line, "\"machine_pct\": "), Some(0.2102));
        assert_eq!(number_after(line, "\"nothing\": "), None);
    }
}

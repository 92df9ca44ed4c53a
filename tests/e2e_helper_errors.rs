//! `-k`, end to end: a memory read that fails and a map read of a key never written warn
//! while running, at the expression, in the current release's words (text on stderr, a
//! `helper_error` record in JSON on stdout, in order with the printf records); the values
//! read are still empty and 0. Without `-k` nothing is said; `-k` with `--no-warnings` is a
//! usage error, and 0.17's `-kk` runs as `-k` with a warning. A range too long for a loop is
//! said either way.

mod e2e;

use e2e::{tracebound, Tally};

/// Address 8 is no kernel memory: the kernel refuses the read (-ERANGE on x86-64).
const SCRIPT: &str = "BEGIN { printf(\"[%s]\\n\", str(kptr(8)));\n\
                      @seen[1] = 1; printf(\"%d\\n\", @seen[2]); exit(); }";

fn text_warnings_name_the_helper_and_the_text() -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(&["-k", "-e", SCRIPT])?;
    let (line1, line2) = SCRIPT.split_once('\n').expect("two lines");
    let read = format!(
        "stdin:1:26-38: WARNING: Numerical result out of range\n\
         Additional Info - helper: probe_read_kernel_str, retcode: -34\n\
         {line1}\n{}{}\n",
        " ".repeat(25),
        "~".repeat(12)
    );
    let lookup = format!(
        "stdin:2:30-38: WARNING: Can't lookup map element because it does not exist.\n\
         Additional Info - helper: map_lookup_elem, retcode: 0\n\
         {line2}\n{}{}\n",
        " ".repeat(29),
        "~".repeat(8)
    );
    if code != 0
        || !stdout.starts_with("[]\n0\n")
        || !stderr.contains(&read)
        || !stderr.contains(&lookup)
    {
        return Err(format!("exit {code}\n{stdout}--- stderr:\n{stderr}"));
    }
    Ok(())
}

fn json_records_come_in_order() -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(&["-k", "-f", "json", "-e", SCRIPT])?;
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    let expected = [
        "{\"type\": \"attached_probes\", \"count\": 1, \"data\": {\"probes\": 1}}",
        "{\"type\": \"helper_error\", \"msg\": \"Numerical result out of range\", \"helper\": \
         \"probe_read_kernel_str\", \"retcode\": -34, \"filename\": \"stdin\", \"line\": 1, \"col\": 26}",
        "{\"type\": \"printf\", \"data\": \"[]\\n\"}",
        "{\"type\": \"helper_error\", \"msg\": \"Success\", \"helper\": \"map_lookup_elem\", \
         \"retcode\": 0, \"filename\": \"stdin\", \"line\": 2, \"col\": 30}",
        "{\"type\": \"printf\", \"data\": \"0\\n\"}",
    ];
    if code != 0 || lines.get(..5) != Some(&expected[..]) {
        return Err(format!("exit {code}\n{stdout}--- stderr:\n{stderr}"));
    }
    Ok(())
}

fn without_k_nothing_is_said() -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(&["-e", SCRIPT])?;
    if code != 0 || !stdout.starts_with("[]\n0\n") || stderr.contains("WARNING") {
        return Err(format!("exit {code}\n{stdout}--- stderr:\n{stderr}"));
    }
    Ok(())
}

fn usage() -> Result<(), String> {
    let (code, _, stderr) = tracebound(&["-k", "--no-warnings", "-e", SCRIPT])?;
    if code != 1 || !stderr.contains("ERROR: USAGE: -k, --warnings conflicts with --no-warnings") {
        return Err(format!("-k --no-warnings: exit {code}\n{stderr}"));
    }
    let (code, stdout, stderr) = tracebound(&["-kk", "-e", SCRIPT])?;
    if code != 0
        || !stdout.starts_with("[]\n0\n")
        || !stderr.contains("WARNING: -kk has been deprecated")
        || !stderr.contains("retcode: -34")
    {
        return Err(format!("-kk: exit {code}\n{stdout}--- stderr:\n{stderr}"));
    }
    Ok(())
}

/// A computed range past the most counts a loop runs (2^23): its body does not run, which is
/// said at the range with `-k` as the helper's error and without it in tracebound's words.
fn a_range_too_long_is_said() -> Result<(), String> {
    let script = "BEGIN { $n = 9000000; for ($i : 0..$n) { @c++; } printf(\"after\\n\"); exit(); }";
    let (code, stdout, stderr) = tracebound(&["-k", "-e", script])?;
    let with_k = "stdin:1:33-38: WARNING: Argument list too long\n\
                  Additional Info - helper: loop, retcode: -7\n";
    if code != 0
        || !stdout.starts_with("after\n")
        || stdout.contains("@c")
        || !stderr.contains(with_k)
    {
        return Err(format!("-k: exit {code}\n{stdout}--- stderr:\n{stderr}"));
    }
    let (code, stdout, stderr) = tracebound(&["-e", script])?;
    let without = "stdin:1:33-38: WARNING: this range has more than 8388608 counts, the most a \
                   loop runs: its body did not run\n";
    if code != 0 || !stdout.starts_with("after\n") || !stderr.contains(without) {
        return Err(format!(
            "without -k: exit {code}\n{stdout}--- stderr:\n{stderr}"
        ));
    }
    Ok(())
}

#[test]
fn helper_errors_warn_with_k() {
    if !e2e::require_bpf("helper_errors_warn_with_k") {
        return;
    }
    let mut tally = Tally::default();
    tally.record("text", text_warnings_name_the_helper_and_the_text());
    tally.record("json", json_records_come_in_order());
    tally.record("without -k", without_k_nothing_is_said());
    tally.record("usage", usage());
    tally.record("range too long", a_range_too_long_is_said());
    tally.finish();
}

//! Loss and limits are reported, never silent: records dropped by a full ring buffer ("Lost N
//! events", text and JSON, the kernel's exact count), a full map (its name and the config key
//! that raises the limit), `max_probes`, `max_duration`, and the warning before running a
//! script other users can change. Every case runs the real binary against the kernel.

mod e2e;

use e2e::{loaded_tb_programs, tracebound, Tally};

/// printf calls in the storm; with a one-page ring buffer most are dropped.
const STORM: usize = 1000;

fn storm(format: &str) -> String {
    format!(
        "config = {{ perf_rb_pages = 1 }}\n\
         BEGIN {{ $i = 0; while ($i < {STORM}) {{ printf(\"{format}\\n\", $i); $i++; }} exit(3); }}"
    )
}

/// The records the text reports lost, over all its "Lost N events" lines.
fn lost_in(stdout: &str) -> Result<usize, String> {
    e2e::lost_events(stdout)
        .map(|n| n as usize)
        .ok_or_else(|| format!("no `Lost N events` line in:\n{stdout}"))
}

/// Every record is either printed or counted lost: printed + lost = the STORM printfs plus
/// the exit() record; and exit() still ends the run with its code although its record may
/// be among the dropped.
fn printf_storm_counts_every_dropped_record() -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(&["-e", &storm("n%d")])?;
    if code != 3 {
        return Err(format!("exit code {code}, expected 3\n{stderr}"));
    }
    let printed = stdout.lines().filter(|l| l.starts_with('n')).count();
    let lost = lost_in(&stdout)?;
    if printed + lost != STORM + 1 {
        return Err(format!(
            "{printed} printed + {lost} lost != {} records sent",
            STORM + 1
        ));
    }
    if lost == 0 || printed == 0 {
        return Err(format!(
            "a one-page buffer should keep some and drop some: {printed} printed, {lost} lost"
        ));
    }
    Ok(())
}

fn printf_storm_reports_loss_in_json() -> Result<(), String> {
    let (code, stdout, _) = tracebound(&["-f", "json", "-e", &storm("n%d")])?;
    let printed = stdout.matches("\"type\": \"printf\"").count();
    let lost_line = stdout
        .lines()
        .find(|l| l.contains("\"lost_events\""))
        .ok_or_else(|| format!("no lost_events message in:\n{stdout}"))?;
    let lost = STORM + 1 - printed;
    let expected = format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {lost}}}}}");
    if code != 3 || lost_line != expected {
        return Err(format!("exit {code}, `{lost_line}`, expected `{expected}`"));
    }
    Ok(())
}

fn full_map_is_named_with_its_limit() -> Result<(), String> {
    let script = "config = { max_map_keys = 10 }\n\
                  BEGIN { $i = 0; while ($i < 15) { @slots[$i] = $i; $i++; } exit(); }";
    let (code, stdout, stderr) = tracebound(&["-e", script])?;
    let kept = stdout.lines().filter(|l| l.starts_with("@slots[")).count();
    if code != 0 || kept != 10 {
        return Err(format!("exit {code}, {kept} keys printed (expected 0, 10)"));
    }
    let expected = "WARNING: Map full; can't update element: @slots is full (10 keys), 5 new \
                    keys not stored; raise the \
                    limit with `config = { max_map_keys = 40 }`";
    if !stderr.contains(expected) {
        return Err(format!("stderr lacks `{expected}`:\n{stderr}"));
    }
    Ok(())
}

fn max_probes_refuses_before_loading() -> Result<(), String> {
    let before = loaded_tb_programs()?.len();
    let script = "config = { max_probes = 10 }\n\
                  tracepoint:syscalls:sys_enter_* { @[probe] = count(); }";
    let (code, _, stderr) = tracebound(&["-e", script])?;
    if code != 1 || !stderr.contains("more than max_probes (10)") {
        return Err(format!("exit {code}, stderr:\n{stderr}"));
    }
    if loaded_tb_programs()?.len() > before {
        return Err("programs were loaded for a refused script".into());
    }
    Ok(())
}

fn max_duration_ends_the_run_with_maps() -> Result<(), String> {
    let script = "config = { max_duration = \"300ms\" }\n\
                  BEGIN { @started = 1; }\n\
                  interval:ms:50 { @ticks = count(); }";
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = tracebound(&["-e", script])?;
    let took = started.elapsed();
    if code != 0 || !stdout.contains("@started: 1") || !stdout.contains("@ticks: ") {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    if took.as_secs() >= 5 {
        return Err(format!("a 300 ms run took {took:?}"));
    }
    Ok(())
}

fn others_writable_script_warns() -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("writable.bt");
    std::fs::write(&path, "BEGIN { exit(); }\n").map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| e.to_string())?;
    let (code, _, stderr) = tracebound(&[path.to_str().expect("utf-8 path")])?;
    if code != 0 || !stderr.contains("can be changed by other users (mode 666)") {
        return Err(format!("exit {code}, stderr:\n{stderr}"));
    }
    Ok(())
}

#[test]
fn losses_and_limits_are_reported() {
    if e2e::setup("losses_and_limits_are_reported").is_none() {
        return;
    }
    let mut tally = Tally::default();
    tally.record(
        "printf storm (text)",
        printf_storm_counts_every_dropped_record(),
    );
    tally.record("printf storm (json)", printf_storm_reports_loss_in_json());
    tally.record("full map", full_map_is_named_with_its_limit());
    tally.record("max_probes", max_probes_refuses_before_loading());
    tally.record("max_duration", max_duration_ends_the_run_with_maps());
    tally.record("others-writable script", others_writable_script_warns());
    tally.finish();
}

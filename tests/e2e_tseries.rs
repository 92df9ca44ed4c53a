//! `tseries` end to end, as the current release's tests drive it: the clock read from a map
//! (`BPFTRACE_DUMMY_TS_MAP`), so that every interval is known; the text graph and the JSON
//! of the last-value, min and avg forms, a keyed map whose keys end at different intervals,
//! and `nsecs(sw_tai)` against the machine's TAI clock.

mod e2e;

use std::process::Command;

/// Runs a script with the clock map `@ts`; returns (exit code, stdout, stderr). `TZ=UTC`
/// fixes the hours the graph prints.
fn run(script: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(args)
        .args(["-e", script])
        .env("BPFTRACE_DUMMY_TS_MAP", "@ts")
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .output()
        .expect("run tracebound");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ten values at each 100 ms interval for 0.5 s: each interval sees 0..9 in turn.
fn ramp(agg: &str) -> String {
    format!(
        "BEGIN {{ @ts = (uint64)0; }} interval:ms:1 {{ $i = (uint64)0; \
         while ($i < 50) {{ @a = tseries($i % 10, 100ms, 3{agg}); @ts += 10000000; $i++; }} \
         clear(@ts); exit(); }}"
    )
}

fn graph_line(time: &str, star: usize, value: &str) -> String {
    let mut line = vec![b' '; 53];
    line[0] = b'|';
    line[52] = b'|';
    line[star] = b'*';
    format!("{time} {} {value}", String::from_utf8_lossy(&line))
}

#[test]
fn tseries_graphs_the_last_intervals() {
    if !e2e::require_bpf("tseries_graphs_the_last_intervals") {
        return;
    }
    let (code, out, err) = run(&ramp(""), &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let at = lines.iter().position(|l| *l == "@a:").expect(&out);
    assert_eq!(
        lines[at + 1],
        format!("{}8{}10", " ".repeat(13), " ".repeat(50))
    );
    assert_eq!(lines[at + 2], format!("hh:mm:ss.ms  |{}|", "_".repeat(51)));
    for (i, time) in ["00:00:00.200", "00:00:00.300", "00:00:00.400"]
        .iter()
        .enumerate()
    {
        assert_eq!(lines[at + 3 + i], graph_line(time, 26, "9"), "{out}");
    }
    assert_eq!(
        lines[at + 6],
        format!("{} v{}v", " ".repeat(12), "_".repeat(51))
    );

    let (code, out, err) = run(&ramp(", \"min\""), &["-f", "json"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains("\"tseries\"")).expect(&out);
    assert_eq!(
        line,
        "{\"type\": \"tseries\", \"data\": {\"@a\": [\
         {\"interval_start\": \"1970-01-01 00:00:00.200000000\", \"value\": 0}, \
         {\"interval_start\": \"1970-01-01 00:00:00.300000000\", \"value\": 0}, \
         {\"interval_start\": \"1970-01-01 00:00:00.400000000\", \"value\": 0}]}}"
    );
    let (_, out, _) = run(&ramp(", \"avg\""), &["-f", "json"]);
    assert!(out.contains("\"value\": 4}]"), "{out}");
}

#[test]
fn tseries_keys_share_one_window() {
    if !e2e::require_bpf("tseries_keys_share_one_window") {
        return;
    }
    let script = "BEGIN { @ts = (uint64)0; } interval:ms:1 { \
        @a[\"one\"] = tseries(5, 100ms, 4); @ts += 100000000; \
        @a[\"one\"] = tseries(5, 100ms, 4); @ts += 100000000; \
        @a[\"two\"] = tseries(-4, 100ms, 4); @ts += 100000000; \
        @a[\"two\"] = tseries(-3, 100ms, 4); clear(@ts); exit(); }";
    let (code, out, err) = run(script, &[]);
    assert_eq!(code, 0, "{err}");
    // `one` was updated least recently, so it prints first, to the window's end.
    let one = out.find("@a[one]:").expect(&out);
    let two = out.find("@a[two]:").expect(&out);
    assert!(one < two, "{out}");
    let rows = |from: usize| -> Vec<&str> {
        out[from..]
            .lines()
            .filter(|l| l.starts_with("00:"))
            .collect()
    };
    let one_rows: Vec<&str> = rows(one).into_iter().take(4).collect();
    assert!(one_rows[0].starts_with("00:00:00.000") && one_rows[0].ends_with(" 0"));
    assert!(one_rows[1].ends_with("* 5"), "{out}");
    assert!(
        one_rows[2].ends_with("| -") && one_rows[3].ends_with("| -"),
        "{out}"
    );
    let two_rows: Vec<&str> = rows(two).into_iter().take(2).collect();
    // Each graph spans its own key's values: -4 is this one's least, -3 its greatest.
    assert!(two_rows[0].starts_with("00:00:00.200 *") && two_rows[0].ends_with("| -4"));
    assert!(two_rows[1].starts_with("00:00:00.300") && two_rows[1].ends_with("* -3"));
}

#[test]
fn nsecs_sw_tai_is_the_tai_clock() {
    if !e2e::require_bpf("nsecs_sw_tai_is_the_tai_clock") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args([
            "-e",
            "BEGIN { printf(\"%llu\\n\", nsecs(sw_tai)); exit(); }",
        ])
        .output()
        .expect("run tracebound");
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_TAI, &mut now) };
    let tai = now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
    let read: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number");
    assert!(
        read <= tai && tai - read < 10_000_000_000,
        "{read} vs {tai}"
    );
}

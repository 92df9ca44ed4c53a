//! `bench:` probes: under `--bench` (`--mode bench`) each runs in timed batches after BEGIN
//! and before END, in the script's order, reported in the current release's table or JSON;
//! without it they never run.

mod e2e;

use e2e::{require_bpf, tracebound};

/// `(name, average ns, iterations)` of each result row of the text table.
fn rows(stdout: &str) -> Vec<(String, u64, u64)> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("Benchmark"));
    let heading = lines.next().expect("a Benchmark heading");
    assert_eq!(
        heading,
        format!("{:<41}{:<15}Iterations", "Benchmark", "Time(ns)")
    );
    assert_eq!(lines.next(), Some("-".repeat(66).as_str()));
    lines
        .map_while(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            match fields.as_slice() {
                [name, average, iters] => {
                    Some((name.to_string(), average.parse().ok()?, iters.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn benchmarks_run_in_order_between_begin_and_end() {
    if !require_bpf("benchmarks_run_in_order_between_begin_and_end") {
        return;
    }
    let script = r#"begin { printf("begin\n"); } bench:a { @a = count(); } bench:bb { @b = count(); printf("each run\n"); } end { printf("end %d\n", (int64)@a >= 1000); }"#;
    let (code, stdout, stderr) = tracebound(&["--mode", "bench", "-e", script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("begin\n"), "{stdout}");
    let rows = rows(&stdout);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["a", "bb"], "{stdout}");
    // A batch grows until it takes a millisecond: a few hundred ns a run, thousands of runs.
    for (name, average, iters) in &rows {
        assert!(
            *average > 0 && average * iters >= 1_000_000,
            "{name}: {stdout}"
        );
    }
    assert!(stdout.contains("end 1\n"), "{stdout}");
    // What a benchmark prints is not shown.
    assert!(!stdout.contains("each run"), "{stdout}");
    // Every run counted: the last batch and the smaller ones before it.
    let a: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("@a: "))
        .and_then(|n| n.parse().ok())
        .expect("@a printed");
    assert!(a > rows[0].2, "{stdout}");
}

#[test]
fn json_results_and_no_benchmarks_without_bench() {
    if !require_bpf("json_results_and_no_benchmarks_without_bench") {
        return;
    }
    let (code, stdout, stderr) =
        tracebound(&["-q", "-f", "json", "--bench", "-e", "bench:a { @a++; }"]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    let numbers = first
        .strip_prefix(r#"{"type": "benchmark_result", "data": {"a": {"average": "#)
        .and_then(|rest| rest.strip_suffix("}}}"))
        .and_then(|rest| rest.split_once(r#", "iters": "#))
        .and_then(|(average, iters)| {
            Some((average.parse::<u64>().ok()?, iters.parse::<u64>().ok()?))
        });
    let Some((average, iters)) = numbers else {
        panic!("not a benchmark_result line: {stdout}");
    };
    assert!(average > 0 && iters > 0, "{stdout}");
    // Without --bench a benchmark never runs.
    let (code, stdout, stderr) =
        tracebound(&["-e", "begin { exit(); } bench:a { @a++; }"]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("@a"), "{stdout}");
}

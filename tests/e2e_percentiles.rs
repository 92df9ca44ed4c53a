//! Percentiles end to end: a C program the test builds busy-waits in `wait_for(kind, ns)` for
//! durations from a known spread (kind 1: 150 calls of 1 to 2.5 ms; kind 2: 30 calls of 2 to
//! 20 ms), and writes each duration it measured inside the function to a file. Traced with
//! uprobe/uretprobe into `@lat[kind] = hist(ns, 5)` under `--percentiles`, every printed
//! percentile is within the stated bound (2^-6 of the exact value) of the nearest-rank
//! percentile of those durations, allowing each measurement the few microseconds the probes
//! themselves add; the table names the slow kind first.

mod e2e;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::tracebound;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <time.h>
static long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000L + t.tv_nsec; }
/* Returns how long it waited, as it measured it. */
__attribute__((noinline)) long wait_for(long kind, long ns) {
    long start = now(), t;
    while ((t = now()) - start < ns) ;
    (void)kind;
    return t - start;
}
int main(int argc, char **argv) {
    FILE *log = fopen(argv[1], "w");
    if (!log) return 1;
    for (int i = 0; i < 180; i++) {
        long kind = i % 6 == 5 ? 2 : 1;
        /* Spread evenly over each kind's range, in an order that mixes them. */
        long step = (i * 37) % 150;
        long ns = kind == 1 ? 1000000 + step * 10000 : 2000000 + (step % 30) * 620000;
        fprintf(log, "%ld %ld\n", kind, wait_for(kind, ns));
    }
    fclose(log);
    return 0;
}
"#;

/// What each probe hit may add to a measured duration (the uprobe's and uretprobe's own
/// cost between the function's edges and the reads of `nsecs`).
const PROBE_ALLOWANCE_NS: f64 = 10_000.0;

/// hist(x, 5): within 2^-6 of the exact value.
const BOUND: f64 = 1.0 / 64.0;

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("percentiles");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn build() -> String {
    let dir = scratch();
    let source = dir.join("waits.c");
    std::fs::write(&source, PROGRAM).expect("writing waits.c");
    let binary = dir.join(format!("tb_waits.{}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("running cc");
    assert!(status.success(), "cc failed");
    binary.to_str().expect("utf-8 path").to_string()
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    sorted[rank_of(sorted, q) - 1]
}

fn rank_of(sorted: &[f64], q: f64) -> usize {
    ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len())
}

/// Whether `shown` is within `allowed` of the workload's value at the quantile's rank or at
/// one next to it: the probes time each call from its entry to its return, the workload
/// inside it, so a call preempted between the two is slower to the probes alone, and on a
/// busy machine that moves a tail quantile by one call.
fn near_a_rank(sorted: &[f64], q: f64, shown: f64, allowed: impl Fn(f64) -> f64) -> bool {
    let rank = rank_of(sorted, q);
    (rank.saturating_sub(1).max(1)..=(rank + 1).min(sorted.len()))
        .any(|r| (shown - sorted[r - 1]).abs() <= allowed(sorted[r - 1]))
}

#[test]
fn percentiles_are_within_the_stated_bound_and_the_slow_key_leads() {
    if !e2e::require_bpf("percentiles_are_within_the_stated_bound_and_the_slow_key_leads") {
        return;
    }
    let binary = build();
    let log = scratch().join(format!("waits.{}.log", std::process::id()));
    let script = format!(
        "uprobe:{binary}:wait_for {{ @s[tid] = nsecs; @k[tid] = arg0; }}\n\
         uretprobe:{binary}:wait_for /@s[tid]/ {{ @lat[@k[tid]] = hist(nsecs - @s[tid], 5); \
         delete(@s[tid]); delete(@k[tid]); }}"
    );
    let command = format!("{binary} {}", log.display());
    let (code, stdout, stderr) =
        tracebound(&["--percentiles", "-q", "-c", &command, "-e", &script]).expect("tracebound");
    let _ = std::fs::remove_file(&binary);
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    let measured = std::fs::read_to_string(&log).expect("the workload's log");
    let _ = std::fs::remove_file(&log);

    let header = "@lat: percentiles, each value within 1.5625% of the exact one";
    let table = stdout
        .split(header)
        .nth(1)
        .unwrap_or_else(|| panic!("no percentile table: {stdout}"));
    let lines: Vec<&str> = table.lines().skip(1).take(3).collect();
    let columns: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        columns,
        ["key", "count", "p50", "p90", "p99", "p99.9", "max"]
    );
    // The slow kind's p99 is the higher: its row comes first.
    assert!(
        lines[1].starts_with('2') && lines[2].starts_with('1'),
        "{table}"
    );

    for row in &lines[1..] {
        let cells: Vec<&str> = row.split_whitespace().collect();
        let kind = cells[0];
        let mut exact: Vec<f64> = measured
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| *k == kind)
            .map(|(_, ns)| ns.parse().expect("a duration"))
            .collect();
        exact.sort_by(f64::total_cmp);
        assert_eq!(cells[1], exact.len().to_string(), "count of kind {kind}");
        for (i, q) in [0.5, 0.9, 0.99, 0.999, 1.0].into_iter().enumerate() {
            let shown: f64 = cells[2 + i].parse().expect("a number");
            let truth = nearest_rank(&exact, q);
            let allowed = |truth: f64| BOUND * (truth + PROBE_ALLOWANCE_NS) + PROBE_ALLOWANCE_NS;
            println!("kind {kind} q{q}: shown {shown} exact {truth}");
            assert!(
                near_a_rank(&exact, q, shown, allowed),
                "kind {kind} q{q}: shown {shown}, exact {truth} (or a rank next to it), allowed ±{}",
                allowed(truth)
            );
        }
    }
}

#!/usr/bin/env bash
# The overhead estimate against what the probe really costs, per scenario:
#
#   projected  the estimate's share of the machine (tracebound --dry-run -f json, taken while
#              the workload runs), as CPU nanoseconds per second;
#   est.events what the estimate itself saw (its own cost: that many tracepoint hits);
#   measured   the workload's extra CPU time with the probe attached (its own scheduler-exact
#              CPU clock, which is where a tracepoint program runs: in the traced syscall),
#              against the same workload with nothing attached, per second.
#
# The workload is tests/e2e/workload.c's `r RATE S` (getppid() at RATE calls a second). Run as
# root from the repository, after `cargo build --release` and `tracebound calibrate`.
# Usage: benches/accuracy.sh [SECONDS]
set -euo pipefail

seconds=${1:-3}
tb=./target/release/tracebound
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O1 -o "$work/tb_wl" tests/e2e/workload.c
cpus=$(nproc)

# CPU nanoseconds the workload used for `r RATE SECONDS`.
cpu_of() {
    TB_WL_CPU=1 "$work/tb_wl" r "$1" "$seconds" 2>&1 >/dev/null | awk '/cpu_ns/ { print $2 }'
}

scenario() {
    local name=$1 rate=$2 script=$3
    local base with projected_pct seen json
    base=$(cpu_of "$rate")
    "$tb" --budget 10000 --no-guard -q -e "$script" >/dev/null 2>&1 &
    local tracer=$!
    sleep 1.5
    with=$(cpu_of "$rate")
    kill -INT "$tracer"
    wait "$tracer" || true
    # The projection, measured while the same workload runs.
    TB_WL_CPU=1 "$work/tb_wl" r "$rate" 3 2>/dev/null &
    local load=$!
    sleep 0.5
    json=$("$tb" --dry-run --budget 10000 -f json -e "$script")
    projected_pct=$(sed -n 's/.*"machine_pct": \([0-9.]*\), "busiest_cpu_pct.*/\1/p' <<<"$json")
    seen=$(sed -n 's/.*"events_seen": \([0-9]*\),.*/\1/p' <<<"$json")
    wait "$load"
    awk -v n="$name" -v b="$base" -v w="$with" -v p="$projected_pct" -v s="$seconds" -v c="$cpus" -v e="$seen" 'BEGIN {
        measured = (w - b) / s;            # ns of CPU per second
        projected = p / 100 * c * 1e9;
        ratio = measured > 0 ? projected / measured : 0;
        printf "%-40s %12.0f %12.0f %7.2f %12d\n", n, projected, measured, ratio, e
    }'
}

printf "%-40s %12s %12s %7s %12s\n" "scenario (ns of CPU per second)" "projected" "measured" "ratio" "est. events"
probe='tracepoint:syscalls:sys_enter_getppid { @calls = count(); }'
scenario "sys_enter_getppid at 10k/s" 10000 "$probe"
scenario "sys_enter_getppid at 100k/s" 100000 "$probe"
scenario "sys_enter_getppid at 1M/s" 1000000 "$probe"
scenario "sys_enter_* under getppid at 100k/s" 100000 \
    'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }'

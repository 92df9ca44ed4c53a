#!/usr/bin/env bash
# Per-event cost of the scripts in tests/scripts/bench/per_event/ under bpftrace 0.17 and
# tracebound, side by side (BENCHMARKS.md): the kernel's own accounting of each program
# (bpf_stats: run_time_ns / run_cnt over CALLS getppid() calls) and its length after the
# verifier (bpftool's xlated bytes / 8). The programs are the tracer's own, found through the
# fds it holds (/proc/PID/fdinfo), so other tracers running meanwhile do not count.
# Usage: benches/per_event.sh [tracebound binary]   (as root; needs gcc and bpftool)
set -euo pipefail
cd "$(dirname "$0")/.."
TB=${1:-./target/release/tracebound}
BT=${BT:-/usr/bin/bpftrace}
CALLS=${CALLS:-2000000}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
stats_before=$(cat /proc/sys/kernel/bpf_stats_enabled)
trap 'echo "$stats_before" > /proc/sys/kernel/bpf_stats_enabled; rm -rf "$WORK"' EXIT
echo 1 > /proc/sys/kernel/bpf_stats_enabled
cc -O2 -o "$WORK/getppid_loop" benches/getppid_loop.c

# "id run_cnt run_time_ns xlated_insns", one line a tracepoint program process $1 holds.
stats_of() {
    local ids
    ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u)
    for id in $ids; do bpftool prog show id "$id" -j; echo; done | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        p = json.loads(line)
        if p.get("type") in ("tracepoint", "raw_tracepoint"):
            print(p["id"], p.get("run_cnt", 0), p.get("run_time_ns", 0), p["bytes_xlated"] // 8)'
}

# One measurement: the tracer runs the script; once attached, the loop makes CALLS calls.
# Prints "ns insns runs": each program's ns per run over the loop, summed over the script's
# programs (a latency pair's two programs both run once an event), their xlated
# instructions, and the runs seen (other processes' getppid() calls count too, which is why
# the cost is per run, not per call of the loop).
measure() {
    local tool=$1 script=$2 out pid
    out="$WORK/out"
    if [ "$tool" = "$TB" ]; then
        # The budget out of reach: the guard must not sample the loop's hits away.
        "$TB" --budget 10000 "$script" > "$out" 2>&1 &
    else
        "$BT" "$script" > "$out" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 5000); do grep -q 'Attach' "$out" && break; sleep 0.002; done
    sleep 0.5
    stats_of $pid > "$WORK/before"
    "$WORK/getppid_loop" "$CALLS"
    stats_of $pid > "$WORK/after"
    kill -INT $pid; wait $pid || true
    join "$WORK/before" "$WORK/after" | awk '{
        runs = $5 - $2; if (runs > 0) { ns += ($6 - $3) / runs; seen += runs } insns += $7 }
        END { printf "%.1f %d %d\n", ns, insns, seen }'
}

printf '%-12s %14s %14s %7s %12s %12s %7s\n' script "bpftrace ns" "tracebound ns" ratio "bt insns" "tb insns" ratio
for script in tests/scripts/bench/per_event/*.bt; do
    name=$(basename "$script" .bt)
    bt_ns=(); tb_ns=()
    for _ in $(seq "$ROUNDS"); do
        read -r ns insns runs < <(measure "$BT" "$script"); bt_ns+=("$ns"); bt_insns=$insns; bt_runs=$runs
        read -r ns insns runs < <(measure "$TB" "$script"); tb_ns+=("$ns"); tb_insns=$insns; tb_runs=$runs
    done
    median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    bt=$(median "${bt_ns[@]}"); tb=$(median "${tb_ns[@]}")
    printf '%-12s %14s %14s %7s %12s %12s %7s   (runs seen: %s / %s; all rounds: bpftrace %s, tracebound %s)\n' \
        "$name" "$bt" "$tb" "$(awk -v a="$tb" -v b="$bt" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
        "$bt_insns" "$tb_insns" "$(awk -v a="$tb_insns" -v b="$bt_insns" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
        "$bt_runs" "$tb_runs" "${bt_ns[*]}" "${tb_ns[*]}"
done

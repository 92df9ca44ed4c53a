#!/usr/bin/env bash
# printf of every getppid() of a paced loop, tracebound and bpftrace 0.17 side by side
# (BENCHMARKS.md, "printf under overload").
# Usage: benches/printf_overload.sh [tracebound binary]   (as root; needs gcc)
# Environment: RATES (calls/s offered, default "2000000 3000000"), SECONDS_EACH (default 5),
# OUT (the printed events' file, default a temporary file; /dev/null counts nothing printed).
#
# For each rate: the loop alone (its time a call untraced), then under each tool the loop
# started in wait mode, the tool attached with
#   tracepoint:syscalls:sys_enter_getppid /pid == N/ { printf("e %d %lu\n", tid, nsecs); }
# (and, as `floor`, the same probe with an empty body under tracebound), the loop released
# once the tool's BEGIN has printed, and the tool stopped with SIGINT
# half a second after the loop ends. Counted: the lines printed, the events each tool says
# it lost ("Lost N events", on stdout or stderr), and what the loop offered by its own count.
set -euo pipefail
cd "$(dirname "$0")/.."
TB=${1:-./target/release/tracebound}
BT=${BT:-/usr/bin/bpftrace}
RATES=${RATES:-"2000000 3000000"}
SECS=${SECONDS_EACH:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/paced_getppid" benches/paced_getppid.c

# The loop's own report: "offered N calls in T s: R/s, X ns a call".
offered() { sed -n 's/^offered \([0-9]*\) calls.*/\1/p' "$1"; }
rate_of() { sed -n 's/^offered .*: \([0-9]*\)\/s.*/\1/p' "$1"; }
ns_of() { sed -n 's/.*, \([0-9.]*\) ns a call$/\1/p' "$1"; }

# One traced run: tool, rate, tool flags[, probe body]; leaves $WORK/{loop,out,err}.
traced() {
    local tool=$1 rate=$2 flags=$3 printed=${OUT:-$WORK/out}
    local body=${4:-'printf("e %d %lu\n", tid, nsecs);'}
    rm -f "$WORK/loop" "$WORK/err" "$printed.ready"
    "$WORK/paced_getppid" "$rate" "$SECS" wait > "$WORK/loop" &
    local loop=$!
    until grep -q '^pid ' "$WORK/loop" 2>/dev/null; do sleep 0.01; done
    local script="BEGIN { printf(\"ready\n\"); } tracepoint:syscalls:sys_enter_getppid /pid == $loop/ { $body }"
    # shellcheck disable=SC2086
    "$tool" $flags -e "$script" > "$printed" 2> "$WORK/err" &
    local tracer=$!
    # Ready once BEGIN printed (to the file, or, with OUT=/dev/null, once the tool says it
    # attached: both print that on stderr or stdout before their first event).
    for _ in $(seq 3000); do
        grep -qs '^ready' "$printed" && break
        grep -qs 'Attach' "$WORK/err" && [ "$printed" = /dev/null ] && break
        kill -0 $tracer 2>/dev/null || break
        sleep 0.01
    done
    [ "$printed" = /dev/null ] && sleep 0.5
    kill -USR1 $loop
    wait $loop
    sleep 0.5
    kill -INT $tracer
    wait $tracer || true
    if [ "$printed" = /dev/null ]; then
        PRINTED=unknown
        LOST=$(sed -n 's/^Lost \([0-9]*\) events.*/\1/p' "$WORK/err" | awk '{s+=$1} END {print s+0}')
    else
        PRINTED=$(grep -c '^e ' "$printed" || true)
        LOST=$(cat "$printed" "$WORK/err" | sed -n 's/^Lost \([0-9]*\) events.*/\1/p' | awk '{s+=$1} END {print s+0}')
    fi
}

echo "machine: $(nproc) CPUs, $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bpftrace: $($BT --version)"
echo "tracebound: $TB ($(git rev-parse --short HEAD))"
for rate in $RATES; do
    "$WORK/paced_getppid" "$rate" "$SECS" > "$WORK/alone"
    base=$(ns_of "$WORK/alone")
    echo
    echo "== offered $rate/s for $SECS s"
    echo "untraced: $(cat "$WORK/alone")"
    printf '%-10s %12s %10s %10s %10s %12s %10s %10s\n' tool offered "rate/s" printed lost "printed+lost" "ns/call" slowdown
    # `floor`: the same probe with an empty body under tracebound, the cost of reaching the
    # program at all (the tracepoint and the predicate), which no printf can go below.
    for side in bpftrace tracebound floor; do
        case $side in
        bpftrace) traced "$BT" "$rate" "" ;;
        tracebound) traced "$TB" "$rate" "--no-guard" ;;
        floor) traced "$TB" "$rate" "--no-guard" " " ;;
        esac
        n=$(offered "$WORK/loop")
        ns=$(ns_of "$WORK/loop")
        sum=unknown
        [ "$PRINTED" != unknown ] && sum=$((PRINTED + LOST))
        printf '%-10s %12s %10s %10s %10s %12s %10s %9.1f%%\n' $side "$n" "$(rate_of "$WORK/loop")" \
            "$PRINTED" "$LOST" "$sum" "$ns" "$(awk -v a="$ns" -v b="$base" 'BEGIN { print (a / b - 1) * 100 }')"
        grep -v '^Attach' "$WORK/err" | grep -v '^Lost' | head -3 | sed "s/^/  $side stderr: /" || true
    done
done

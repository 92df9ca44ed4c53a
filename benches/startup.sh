#!/usr/bin/env bash
# Start-up to the first event of a cold tracepoint script, tracebound and bpftrace 0.17 side
# by side in one run: `cat` runs once a second in the background (so the tracepoint is cold
# when the estimate counts it), and each run of benches/first_event.c starts the tracer and
# reads the time from its start to the first event (a child opening /dev/null every
# millisecond once the tracer says it is attaching). The two tools alternate, RUNS runs each;
# then hyperfine times the same runs end to end (exit included). Raw output goes to
# benches/results/startup-DATE.txt. Run as root after `cargo build --release`.
# Usage: benches/startup.sh [RUNS]
set -euo pipefail

runs=${1:-20}
tb=./target/release/tracebound
bt=/usr/bin/bpftrace
here=$(dirname "$0")
work=$(mktemp -d)
cc -O2 -o "$work/first_event" "$here/first_event.c"
script='tracepoint:syscalls:sys_enter_openat /comm == "tb_first"/ { printf("first %s\n", comm); exit(); }'
(while sleep 1; do cat /dev/null; done) &
background=$!
trap 'kill $background; rm -rf "$work"' EXIT
mkdir -p "$here/results"
raw="$here/results/startup-$(date +%F).txt"
{
    echo "# $(date -Is) $(uname -r), $(nproc) CPUs; $("$bt" --version)"
    echo "# script: $script"
    echo "# ms from start to the first event, alternating"
    for ((i = 0; i < runs; i++)); do
        echo "tracebound $("$work/first_event" "$tb" -e "$script")"
        echo "bpftrace $("$work/first_event" "$bt" -e "$script")"
    done
} | tee "$raw"
cat >"$work/summary.awk" <<'AWK'
$1 == tool { a[++n] = $2 }
END { m = median(a, n); printf "%s: median %.1f ms, min %.1f, max %.1f (%d runs)\n", tool, m, a[1], a[n], n }
AWK
for tool in tracebound bpftrace; do
    awk -v tool="$tool" -f "$here/median.awk" -f "$work/summary.awk" "$raw" | tee -a "$raw.summary"
done
cat "$raw.summary" >>"$raw"
rm "$raw.summary"
hyperfine -N --warmup 2 --runs "$runs" \
    -n tracebound "$work/first_event $tb -e '$script'" \
    -n bpftrace "$work/first_event $bt -e '$script'" 2>&1 | tee -a "$raw"

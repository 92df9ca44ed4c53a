#!/usr/bin/env bash
# Side-by-side benchmarks of tracebound and bpftrace 0.17 (see BENCHMARKS.md).
# Usage: benches/run.sh [tracebound binary]   (as root; needs gcc, hyperfine, GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
TB=${1:-./target/release/tracebound}
BT=${BT:-/usr/bin/bpftrace}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/tb_bench_wl" benches/workload_open.c

# BEGIN runs once every probe is attached (in both tools), so "ready" means nothing is missed.
TP_SCRIPT='BEGIN { printf("ready\n"); } tracepoint:syscalls:sys_enter_openat /comm == "tb_bench_wl"/ { @files[str(args->filename)] = count(); } tracepoint:syscalls:sys_enter_getppid /comm == "tb_bench_wl"/ { exit(); }'

# One run of the tracepoint+str() script: start the tracer, wait until it has attached, run
# the workload (which makes the script exit), wait for the tracer to finish.
cat > "$WORK/tp_once.sh" <<SH
#!/usr/bin/env bash
out=\$(mktemp)
"\$1" -B line -e '$TP_SCRIPT' > "\$out" 2>/dev/null &
pid=\$!
for _ in \$(seq 5000); do grep -q ready "\$out" && break; kill -0 \$pid 2>/dev/null || break; sleep 0.001; done
"$WORK/tb_bench_wl"
wait \$pid
cat "\$out" > "\$2"
rm -f "\$out"
SH
chmod +x "$WORK/tp_once.sh"

echo "== outputs agree?"
"$WORK/tp_once.sh" "$BT" "$WORK/bt.out"
"$WORK/tp_once.sh" "$TB" "$WORK/tb.out"
# bpftrace 0.17 writes its "Attaching N probes..." line to stdout; tracebound to stderr.
sed -i '/^Attaching [0-9]* probes\.\.\.$/d' "$WORK/bt.out"
if diff "$WORK/bt.out" "$WORK/tb.out"; then
    echo "identical ($(wc -l < "$WORK/tb.out") lines)"
elif diff <(sort "$WORK/bt.out") <(sort "$WORK/tb.out") >/dev/null; then
    # bpftrace prints entries with equal counts in hash order, which varies run to run.
    echo "identical lines; only entries with equal counts are ordered differently"
else
    echo "OUTPUTS DIFFER"
fi

echo "== wall time"
hyperfine -N --warmup 2 --runs "${RUNS:-20}" \
    "$BT -e 'BEGIN { exit(); }'" \
    "$TB -e 'BEGIN { exit(); }'" \
    "$WORK/tp_once.sh $BT $WORK/bt.out" \
    "$WORK/tp_once.sh $TB $WORK/tb.out"

echo "== peak RSS (KiB, max of 5 runs)"
for tool in "$BT" "$TB"; do
    begin=0; tp=0
    for _ in 1 2 3 4 5; do
        r=$( { /usr/bin/time -f %M "$tool" -e 'BEGIN { exit(); }' >/dev/null; } 2>&1 | tail -1)
        (( r > begin )) && begin=$r
        out=$(mktemp)
        { /usr/bin/time -f %M -o "$out.rss" "$tool" -B line -e "$TP_SCRIPT" > "$out" 2>/dev/null & }
        until grep -q ready "$out" 2>/dev/null; do sleep 0.001; done
        "$WORK/tb_bench_wl"; wait
        r=$(tail -1 "$out.rss"); (( r > tp )) && tp=$r
        rm -f "$out" "$out.rss"
    done
    echo "$tool: BEGIN { exit(); } $begin KiB; tracepoint+str() $tp KiB"
done

echo "== CPU time of the tracer, user + sys (ms, mean of ${RUNS:-20} runs; the kernel's rusage)"
for tool in "$BT" "$TB"; do
    for _ in $(seq "${RUNS:-20}"); do
        out=$(mktemp)
        ( TIMEFORMAT='%3U %3S'; time "$tool" -B line -e "$TP_SCRIPT" > "$out" 2>/dev/null ) 2> "$out.cpu" &
        for _ in $(seq 5000); do grep -q ready "$out" && break; sleep 0.001; done
        "$WORK/tb_bench_wl"; wait
        cat "$out.cpu"
        rm -f "$out" "$out.cpu"
    done | awk -v tool="$tool" '{ u += $1; s += $2; n++ }
        END { printf "%s: tracepoint+str() user %.1f ms + sys %.1f ms = %.1f ms\n", tool, 1000*u/n, 1000*s/n, 1000*(u+s)/n }'
done

#!/usr/bin/env bash
# Symbolizing 10,000+ distinct user stacks at exit, tracebound and bpftrace 0.17 side by side
# (see BENCHMARKS.md). A program makes 16,384 leaf calls with 16,384 distinct stacks;
# `@[ustack] = count()` counts them; the script ends with exit() from a timer once the calls
# are done, while the program still runs (bpftrace can only name live processes' frames).
# END prints nsecs (CLOCK_MONOTONIC) just before the maps print, and the time the tracer
# exits is taken with the same clock: the difference is reading the stack map, symbolizing
# and printing.
# Usage: benches/stacks.sh [tracebound binary]   (as root; needs gcc, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
TB=${1:-./target/release/tracebound}
BT=${BT:-/usr/bin/bpftrace}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O1 -fno-omit-frame-pointer -o "$WORK/tb_stacks_bench" benches/stacks.c

# bpftrace 0.17 has no config block: it takes the map size from BPFTRACE_MAP_KEYS_MAX (which
# sizes its stack maps too); tracebound from the block.
SCRIPT="uprobe:$WORK/tb_stacks_bench:leaf { @[ustack] = count(); @calls = count(); }
interval:s:4 { exit(); }
END { printf(\"end %lld\\n\", nsecs); }"
export BPFTRACE_MAP_KEYS_MAX=65536
# Both tracers print this variable's name on stdout once every probe is attached.
export __BPFTRACE_NOTIFY_PROBES_ATTACHED=1

run() {
    local tracer=$1 out=$2 script=$SCRIPT
    [ "$tracer" = "$BT" ] || script="config = { max_map_keys = 65536 } $SCRIPT"
    rm -f "$WORK/go"
    "$WORK/tb_stacks_bench" "$WORK/go" &
    local prog=$!
    "$tracer" -e "$script" > "$out" 2>/dev/null &
    local tr=$!
    until grep -q __BPFTRACE_NOTIFY_PROBES_ATTACHED "$out" 2>/dev/null; do
        kill -0 $tr 2>/dev/null || { echo "$tracer failed to start"; kill $prog; return 1; }
        sleep 0.01
    done
    sleep 1
    touch "$WORK/go"
    wait $tr
    python3 -c 'import time; print("exited %d" % time.monotonic_ns())' >> "$out"
    kill $prog
    wait $prog 2>/dev/null || true
}

report() {
    local name=$1 out=$2
    python3 - "$name" "$out" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
end = int(re.search(r"^end (\d+)$", text, re.M).group(1))
exited = int(re.search(r"^exited (\d+)$", text, re.M).group(1))
stacks = re.findall(r"^@\[\n(.*?)\]: \d+$", text, re.M | re.S)
calls = re.search(r"^@calls: (\d+)$", text, re.M).group(1)
named = sum(1 for s in stacks if "leaf+" in s.split("\n")[0])
unknown = sum(1 for s in stacks for f in s.split("\n") if f.strip().startswith("0x"))
print(f"{name}: {calls} calls, {len(stacks)} distinct stacks printed "
      f"({named} with `leaf` named on top, {unknown} unnamed frames); "
      f"maps read, symbolized and printed in {(exited - end) / 1e9:.3f} s")
PY
}

for i in 1 2 3; do
    run "$TB" "$WORK/tb.out"; report "tracebound (run $i)" "$WORK/tb.out"
done
# bpftrace takes minutes here: one run unless BT_RUNS says more.
if [ -x "$BT" ]; then
    for i in $(seq "${BT_RUNS:-1}"); do
        run "$BT" "$WORK/bt.out"; report "bpftrace 0.17 (run $i)" "$WORK/bt.out"
    done
fi

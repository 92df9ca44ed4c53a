#!/usr/bin/env bash
# Wildcards from start to exit, tracebound and bpftrace 0.17 side by side in one run (issue
# 19): every syscall tracepoint, and every libc function starting with str, each counted by
# `probe`, exiting after 100 ms. tracebound attaches each wildcard as one program (one raw
# tracepoint link, one multi-uprobe link); `tracebound-each` is the same binary with
# TRACEBOUND_ATTACH_EACH=1, attaching every member on its own as before. The tools alternate,
# RUNS runs each; every run's wall, user and system seconds and peak RSS come from GNU time,
# with the number of map lines it printed. Raw output goes to benches/results/wildcards-DATE.txt.
# Run as root after `cargo build --release`.
# Usage: benches/wildcards.sh [RUNS]
set -euo pipefail

runs=${1:-3}
tb=$(realpath ./target/release/tracebound)
bt=/usr/bin/bpftrace
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/results"
raw="$here/results/wildcards-$(date +%F).txt"
syscalls='tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:100 { exit(); }'
strs='uprobe:/lib/x86_64-linux-gnu/libc.so.6:str* { @[probe] = count(); } interval:ms:100 { exit(); }'

# One run: tool name, then the command; prints `NAME wall user sys rss_kib map_lines`.
one() {
    local name=$1
    shift
    /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >"$work/out" 2>"$work/err" || {
        echo "$name failed: $(tail -3 "$work/err")" >&2
        return 1
    }
    echo "$name $(cat "$work/time") $(grep -c '^@' "$work/out")"
}

{
    echo "# $(date -Is) $(uname -r), $(nproc) CPUs; $("$bt" --version); tracebound $(git -C "$here/.." rev-parse --short HEAD)"
    echo "# columns: tool wall_s user_s sys_s peak_rss_kib map_lines"
    for script in "$syscalls" "$strs"; do
        echo "# script: $script"
        for ((i = 0; i < runs; i++)); do
            one tracebound "$tb" -e "$script"
            one tracebound-each env TRACEBOUND_ATTACH_EACH=1 "$tb" -e "$script"
            one bpftrace "$bt" -e "$script"
        done
        "$tb" --dry-run -e "$script" | grep '^attach: '
    done
} | tee "$raw"
awk -f "$here/median.awk" -f /dev/stdin "$raw" <<'AWK' | tee -a "$raw"
/^# script:/ { if (s) report(); s = $0; delete w; delete n; next }
/^#/ || /^attach:/ { next }
{ w[$1, ++n[$1]] = $2 }
function report(   t, a, k, m) {
    print s
    for (t in n) {
        for (k = 1; k <= n[t]; k++) a[k] = w[t, k]
        m = median(a, n[t])
        printf "%s: median wall %.2f s (%d runs)\n", t, m, n[t]
        delete a
    }
}
END { report() }
AWK

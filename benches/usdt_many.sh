#!/usr/bin/env bash
# A usdt probe of many sites from start to exit, tracebound and bpftrace 0.17 side by side in
# one run (issue 19): a program built here with SITES sites of one probe `tbm:site` (each
# its own argument spec), `usdt:BIN:tbm:site { @ = count(); } interval:ms:100 { exit(); }`.
# tracebound attaches the sites as the estimate chose; `tracebound-one` forces one
# multi-uprobe link (TRACEBOUND_ATTACH_ONE=1), `tracebound-each` a perf event per site
# (TRACEBOUND_ATTACH_EACH=1, as before). The tools alternate, RUNS runs each; GNU time's wall,
# user and system seconds and peak RSS. Raw output: benches/results/usdt-many-DATE.txt.
# Run as root after `cargo build --release`; needs gcc and sys/sdt.h (systemtap-sdt-dev).
# Usage: benches/usdt_many.sh [RUNS] [SITES]
set -euo pipefail

runs=${1:-3}
sites=${2:-500}
tb=$(realpath ./target/release/tracebound)
bt=/usr/bin/bpftrace
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/results"
raw="$here/results/usdt-many-$(date +%F).txt"
{
    echo '#include <sys/sdt.h>'
    echo 'int main(int argc, char **argv) {'
    echo '    volatile long x = argc;'
    for ((i = 0; i < sites; i++)); do echo "    STAP_PROBE1(tbm, site, x + $i);"; done
    echo '    return 0;'
    echo '}'
} >"$work/many.c"
cc -O1 -o "$work/tb_usdt_many" "$work/many.c"
script="usdt:$work/tb_usdt_many:tbm:site { @ = count(); } interval:ms:100 { exit(); }"

one() {
    local name=$1
    shift
    /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >"$work/out" 2>"$work/err" || {
        echo "$name failed: $(tail -3 "$work/err")" >&2
        return 1
    }
    echo "$name $(cat "$work/time") $(grep -ho 'Attach[a-z]* [0-9]* probes' "$work/out" "$work/err" | head -1 | grep -o '[0-9]*')"
}

{
    echo "# $(date -Is) $(uname -r), $(nproc) CPUs; $("$bt" --version); tracebound $(git -C "$here/.." rev-parse --short HEAD)"
    echo "# $sites sites: $(readelf -n "$work/tb_usdt_many" | grep -c 'Name: site')"
    echo "# columns: tool wall_s user_s sys_s peak_rss_kib probes_attached"
    echo "# script: $script"
    for ((i = 0; i < runs; i++)); do
        one tracebound "$tb" -e "$script"
        one tracebound-one env TRACEBOUND_ATTACH_ONE=1 "$tb" -e "$script"
        one tracebound-each env TRACEBOUND_ATTACH_EACH=1 "$tb" -e "$script"
        one bpftrace "$bt" -e "$script"
    done
    "$tb" --dry-run -e "$script" | grep '^attach: '
} | tee "$raw"
awk -f "$here/median.awk" -f /dev/stdin "$raw" <<'AWK' | tee -a "$raw"
/^#/ || /^attach:/ { next }
{ w[$1, ++n[$1]] = $2; c[$1, n[$1]] = $3 + $4 }
END {
    for (t in n) {
        for (k = 1; k <= n[t]; k++) { a[k] = w[t, k]; b[k] = c[t, k] }
        printf "%s: median wall %.2f s, median CPU %.2f s (%d runs)\n", t, median(a, n[t]), median(b, n[t]), n[t]
        delete a; delete b
    }
}
AWK

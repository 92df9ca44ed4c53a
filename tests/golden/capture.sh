#!/usr/bin/env bash
# Captures the reference output of the golden end-to-end tests (tests/e2e_golden.rs):
# for every tests/golden/NAME.bt (or only the NAMEs given), bpftrace 0.17's stdout becomes
# NAME.expected, byte for byte. Run as root, once, and commit the .expected files; the tests
# themselves only run tracebound.
#
# For each script the command is exactly
#
#     cd tests/golden && bpftrace FLAGS NAME.bt > NAME.expected
#
# where FLAGS is the script's `// flags:` line (usually none). While it runs, the workload
# `tb_wl OPS` (tests/e2e/workload.c, built here with `cc -O1` as tb_wl, like the tests build
# it) runs once, with OPS from the script's `// workload:` line. bpftrace prints "Attaching"
# before it attaches, so the workload starts 3 s after that line; the script exits by itself
# when the workload's last operation triggers its exit().
#
# Usage: tests/golden/capture.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")"

version=$(bpftrace --version)
case $version in
    "bpftrace v0.17."*) ;;
    *) if [ -z "${CAPTURE_ANY_VERSION:-}" ]; then
           echo "capture.sh: the reference is bpftrace 0.17, this is $version" >&2
           echo "            (set CAPTURE_ANY_VERSION=1 to capture anyway)" >&2
           exit 1
       fi ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O1 -o "$work/tb_wl" ../e2e/workload.c

header() { # header KEY FILE: the value of the `// KEY: value` line, if any
    sed -n "s|^// $1: *||p" "$2" | head -n 1
}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for bt in *.bt; do names+=("${bt%.bt}"); done
fi

failed=0
for name in "${names[@]}"; do
    bt=$name.bt
    ops=$(header workload "$bt")
    flags=$(header flags "$bt")
    if [ -z "$ops" ]; then
        echo "$name: no '// workload:' line" >&2
        failed=1
        continue
    fi
    out=$work/$name.out
    # shellcheck disable=SC2086
    bpftrace $flags "$bt" > "$out" 2> "$work/$name.err" &
    pid=$!
    for _ in $(seq 300); do
        grep -q '^Attaching ' "$out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 3
    # shellcheck disable=SC2086
    "$work/tb_wl" $ops
    status=timeout
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            break
        fi
        sleep 0.1
    done
    if [ "$status" != 0 ]; then
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "$name: bpftrace did not exit cleanly ($status); NAME.expected kept as it was:" >&2
        cat "$work/$name.err" >&2
        failed=1
        continue
    fi
    mv "$out" "$name.expected"
    echo "$name: bpftrace $flags$( [ -n "$flags" ] && echo ' ')$bt > $name.expected   (workload: tb_wl $ops)"
done
exit $failed

#!/usr/bin/env bash
# The overhead estimate against what the probe really costs, per scenario:
#
#   projected  the estimate's share of the machine (tracebound --dry-run -f json, taken while
#              the workload runs), as CPU nanoseconds per second;
#   measured   the workload's extra CPU time with the probe attached (its own scheduler-exact
#              CPU clock, which is where a tracepoint program and a uprobe's trap run: in the
#              traced process), per second; for profile, which fires on every CPU whatever
#              runs there, the CPU time one spinning process per CPU loses to it (its ns per
#              loop iteration). The tracer is attached for two seconds and detached, CYCLES
#              times, while the workload reports each tenth of a second; windows either side
#              of each attach and each detach are compared (benches/edges.awk: the workload's
#              speed steps by more than most probes cost every few seconds on this shared
#              machine, which swamped whole runs with and without), the median edge kept;
#   est.events / est.cost
#              what the estimate itself saw and what that cost (its `own_cost_ns`).
#
# The workload is tests/e2e/workload.c: `r RATE S` (getppid() at RATE calls a second),
# `e`/`t RATE S` (a function whose first instruction is emulated / single-stepped), `b S`
# (spin). Run as root from the repository, after `cargo build --release` and
# `tracebound calibrate`.
# Usage: benches/accuracy.sh [CYCLES]
set -euo pipefail

cycles=${1:-10}
tb=./target/release/tracebound
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O1 -o "$work/tb_wl" tests/e2e/workload.c
cc -O2 -o "$work/gaps" "$here/gaps.c"
cpus=$(nproc)

# The projection and the estimate's own cost, from a dry run of SCRIPT while the workload
# runs with the rest of the arguments.
project() {
    local script=$1 json
    shift
    "$work/tb_wl" "$@" 2>/dev/null &
    local load=$!
    sleep 0.5
    # --no-guard: the program the toggles measure (the guard adds a sampling prologue to
    # probes it may thin).
    json=$("$tb" --dry-run --budget 10000 --no-guard -f json -e "$script" || true)
    wait "$load"
    printf '%s %s %s\n' \
        "$(sed -n 's/.*"machine_pct": \([0-9.]*\), "busiest_cpu_pct.*/\1/p' <<<"$json")" \
        "$(sed -n 's/.*"events_seen": \([0-9]*\),.*/\1/p' <<<"$json")" \
        "$(sed -n 's/.*"own_cost_ns": \([0-9]*\),.*/\1/p' <<<"$json")"
}

row() {
    awk -v n="$1" -v m="$2" -v p="$3" -v e="$4" -v o="$5" -v c="$cpus" 'BEGIN {
        projected = p / 100 * c * 1e9;
        ratio = m > 0 ? projected / m : 0;
        printf "%-40s %12.0f %12.0f %7.2f %10d %9.0f\n", n, projected, m, ratio, e, o / 1000
    }'
}

# Attaches SCRIPT for two seconds and detaches it, `cycles` times (or $2), noting in $work/on
# when (CLOCK_MONOTONIC ns, the clock of nsecs and of the workload's windows): `on` (BEGIN runs
# once every probe is attached), `off` (exit() asked) and `done` (the tracer gone: detached).
toggle() {
    local script=$1 n=${2:-$cycles} c
    : >"$work/on"
    sleep 1.5
    for ((c = 0; c < n; c++)); do
        "$tb" --budget 10000 --no-guard -q -e "BEGIN { printf(\"on %lld\\n\", nsecs); }
            $script
            interval:s:2 { printf(\"off %lld\\n\", nsecs); exit(); }" 2>/dev/null |
            grep -E '^(on|off) ' >>"$work/on"
        echo "done $("$work/tb_wl" m)" >>"$work/on"
        sleep 1.5
    done
}

# The workload `OP RATE` under SCRIPT toggled (CYCLES, if given, instead of `cycles`).
scenario() {
    local name=$1 op=$2 rate=$3 script=$4 n=${5:-$cycles}
    TB_WL_CPU=1 "$work/tb_wl" "$op" "$rate" 100000 >/dev/null 2>"$work/load" &
    local load=$!
    toggle "$script" "$n"
    kill "$load"
    wait "$load" 2>/dev/null || true
    local measured
    measured=$(awk -v mode=difference -f "$here/median.awk" -f "$here/edges.awk" "$work/on" "$work/load")
    # shellcheck disable=SC2046
    row "$name" "$measured" $(project "$script" "$op" "$rate" 3)
}

# A profile probe under one pinned spinner per CPU: the CPU time they lose, per second
# (CYCLES, if given, instead of `cycles`).
profile_measured() {
    local script=$1 n=${2:-$cycles} pids=() i
    for ((i = 0; i < cpus; i++)); do
        taskset -c "$i" "$work/tb_wl" b 100000 2>"$work/spin.$i" &
        pids+=($!)
    done
    toggle "$script" "$n"
    kill "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    awk -v mode=ratio -f "$here/median.awk" -f "$here/edges.awk" "$work/on" "$work"/spin.* |
        awk -v c="$cpus" '{ printf "%.0f", $1 * c * 1e9 }'
}

# The CPU time one sample of `profile:hz:HZ` takes, directly: the median gap it made in a
# clock-reading spinner per CPU (benches/gaps.c, gaps.awk). The probe records each sample
# (above 1000 Hz one in 16, to keep the map small); its hash insert is dearer than count()'s
# update, so this errs high by a little. Prints ns per sample, samples matched, samples.
sample_gap() {
    local hz=$1 pids=() i
    for ((i = 0; i < cpus; i++)); do
        "$work/gaps" 3.5 "$i" >"$work/gaps.$i" &
        pids+=($!)
    done
    sleep 0.5
    "$tb" --budget 10000 --no-guard -q -e "profile:hz:$hz /$hz < 1000 || (nsecs / 1000) % 16 == 0/
        { @s[cpu, nsecs] = 1; } interval:s:2 { exit(); }" 2>/dev/null |
        sed -n 's/^@s\[\([0-9]*\), \([0-9]*\)\]: 1$/sample \1 \2/p' >"$work/samples"
    wait "${pids[@]}"
    awk -f "$here/median.awk" -f "$here/gaps.awk" "$work"/gaps.* "$work/samples"
}

# The projection while one spinner per CPU runs, as when profile_measured measures.
project_spinning() {
    local script=$1 pids=() i
    for ((i = 0; i < cpus; i++)); do
        "$work/tb_wl" b 3 2>/dev/null &
        pids+=($!)
    done
    project "$script" z 3000
    wait "${pids[@]}"
}

printf "%-40s %12s %12s %7s %10s %9s\n" "scenario (ns of CPU per second)" "projected" \
    "measured" "ratio" "est.events" "est.us"
probe='tracepoint:syscalls:sys_enter_getppid { @calls = count(); }'
scenario "sys_enter_getppid at 10k/s" r 10000 "$probe"
scenario "sys_enter_getppid at 100k/s" r 100000 "$probe"
scenario "sys_enter_getppid at 1M/s" r 1000000 "$probe"
# Four cycles: detaching 360 tracepoints takes the kernel some 20 s each time.
scenario "sys_enter_* under getppid at 100k/s" r 100000 \
    'tracepoint:syscalls:sys_enter_* { @[probe] = count(); }' 4
for rate in 1000 100000; do
    scenario "uprobe, emulated first insn, at $rate/s" e "$rate" \
        "uprobe:$work/tb_wl:tb_emulated { @calls = count(); }"
    scenario "uprobe, single-stepped, at $rate/s" t "$rate" \
        "uprobe:$work/tb_wl:tb_stepped { @calls = count(); }"
done
# The tracer itself takes the spinners' CPUs too (starting, its event loop, exiting): the same
# toggles of a script that attaches nothing that fires are the baseline each profile row's
# slowdown is measured above.
spin_cycles=$((cycles * 2))
base=$(profile_measured 'interval:s:3600 { @never = count(); }' "$spin_cycles")
printf "%-40s %12s %12.0f\n" "tracer alone, spinners' slowdown" "-" "$base"
hi=$(profile_measured 'profile:hz:4999 { @[cpu] = count(); }' "$spin_cycles")
# shellcheck disable=SC2046
row "profile:hz:4999, above the tracer alone" "$((hi - base))" \
    $(project_spinning 'profile:hz:4999 { @[cpu] = count(); }')
# At 99 Hz a profile probe takes about 0.1% of a CPU, near what a spinner on this shared
# machine resolves (its speed drifts by a few percent between runs): measured the same way,
# not scaled from another rate.
lo=$(profile_measured 'profile:hz:99 { @[cpu] = count(); }' "$spin_cycles")
# shellcheck disable=SC2046
row "profile:hz:99, above the tracer alone" "$((lo - base))" \
    $(project_spinning 'profile:hz:99 { @[cpu] = count(); }')
# The busiest CPU's time, directly: what each sample takes, times the samples a second.
for hz in 4999 99; do
    read -r gap matched samples < <(sample_gap "$hz")
    # shellcheck disable=SC2046
    row "profile:hz:$hz, samples' CPU time" "$((gap * hz * cpus))" \
        $(project_spinning "profile:hz:$hz { @[cpu] = count(); }")
    echo "    (median sample ${gap} ns; ${matched} of ${samples} samples found in a gap)"
done

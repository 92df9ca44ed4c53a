# Used by benches/accuracy.sh (profile_measured): how much spinners slow down while a probe is
# attached, from the tracer's `on T` / `off T` lines (CLOCK_MONOTONIC ns: the probes attached,
# exit() asked) and each spinner's `window END NS` lines (one file a CPU, ns per iteration each
# tenth of a second).
#
# The spinners' speed steps by up to 20% every few seconds on a shared machine, so windows are
# only compared across an edge: those just after the attach against those just before it (the
# tracer's own start-up skipped), and those just before the exit against those just after the
# detach. A step in speed spoils the edge it falls on, not the measurement: the median over
# every edge of every cycle on every CPU is printed.
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# The median speed of spinner c over the windows within [from, to]; `found` says how many.
function speed(c, from, to,    i) {
    found = 0
    delete picked
    for (i = 1; i <= n; i++)
        if (spinner[i] == c && start[i] >= from && end[i] <= to) picked[++found] = ns[i]
    return found ? median(picked, found) : 0
}
$1 == "on" { on[++cycles] = $2; next }
$1 == "off" { off[cycles] = $2; next }
$1 == "window" {
    if (FILENAME != file) { file = FILENAME; spinners++; last = 0 }
    if (last) { n++; spinner[n] = spinners; start[n] = last; end[n] = $2; ns[n] = $3 }
    last = $2
}
END {
    for (k = 1; k <= cycles; k++) {
        for (c = 1; c <= spinners; c++) {
            before = speed(c, on[k] - 1.1e9, on[k] - 0.5e9); enough = found >= 3
            attached = speed(c, on[k] + 0.1e9, on[k] + 0.7e9)
            if (enough && found >= 3) edges[++m] = attached / before - 1
            detaching = speed(c, off[k] - 0.6e9, off[k]); enough = found >= 3
            after = speed(c, off[k] + 0.3e9, off[k] + 0.9e9)
            if (enough && found >= 3) edges[++m] = detaching / after - 1
        }
    }
    printf "%.6f\n", m ? median(edges, m) : 0
}

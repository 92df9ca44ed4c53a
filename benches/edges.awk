# Used by benches/accuracy.sh: what a probe costs a workload, from the tracer's `on T`, `off T`
# and `done T` lines (CLOCK_MONOTONIC ns: every probe attached, exit() asked, the tracer gone
# and every probe detached) and the workload's `window END VALUE` lines, a window each tenth
# of a second, one file a process. With mode=difference a value is CPU ns per second and the
# cost is the difference; with mode=ratio a value is a spinner's ns per loop iteration and the
# cost is the relative slowdown.
#
# A workload's speed on this shared machine steps by up to 20% every few seconds (the host
# moves it), more than most probes cost, so windows are only compared across an edge: those
# just after the attach against those just before it (the tracer's start-up skipped), and
# those just before the exit against those just after the tracer is gone. A step spoils the
# edge it falls on, not the measurement: the median over every edge of every cycle in every
# file is printed.
# The median value in file f over the windows within [from, to]; `found` says how many.
function value(f, from, to,    i) {
    found = 0
    delete picked
    for (i = 1; i <= n; i++)
        if (in_file[i] == f && start[i] >= from && end[i] <= to) picked[++found] = v[i]
    return found ? median(picked, found) : 0
}
function cost(with, without) {
    return mode == "ratio" ? with / without - 1 : with - without
}
$1 == "on" { on[++cycles] = $2; next }
$1 == "off" { off[cycles] = $2; next }
$1 == "done" { done[cycles] = $2; next }
$1 == "window" {
    if (FILENAME != file) { file = FILENAME; files++; last = 0 }
    if (last) { n++; in_file[n] = files; start[n] = last; end[n] = $2; v[n] = $3 }
    last = $2
}
END {
    for (k = 1; k <= cycles; k++) {
        for (f = 1; f <= files; f++) {
            before = value(f, on[k] - 1.1e9, on[k] - 0.5e9); enough = found >= 3
            attached = value(f, on[k] + 0.1e9, on[k] + 0.7e9)
            if (enough && found >= 3) edges[++m] = cost(attached, before)
            detaching = value(f, off[k] - 0.6e9, off[k]); enough = found >= 3
            after = value(f, done[k] + 0.1e9, done[k] + 0.7e9)
            if (enough && found >= 3) edges[++m] = cost(detaching, after)
        }
    }
    printf "%.6f\n", m ? median(edges, m) : 0
}

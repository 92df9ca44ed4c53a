# Used by benches/accuracy.sh: the CPU time a profile probe's samples take, directly. Reads
# the spinners' `gap CPU START NS` lines (benches/gaps.c) and the samples the probe recorded,
# `sample CPU NSECS`; each sample falls inside the gap it interrupted, whose length is what
# that sample cost the CPU (interrupt, timer, perf and program: all of it, not only the
# program's share). Prints the median length of the gaps holding a sample and how many held one.
$1 == "gap" { k = ++gaps[$2]; start[$2, k] = $3; len[$2, k] = $4; next }
$1 == "sample" {
    c = $2; t = $3; samples++
    # The last gap starting at or before t (gaps are in time order per CPU).
    lo = 1; hi = gaps[c]
    while (lo < hi) {
        mid = int((lo + hi + 1) / 2)
        if (start[c, mid] <= t) lo = mid; else hi = mid - 1
    }
    if (gaps[c] && start[c, lo] <= t && t <= start[c, lo] + len[c, lo]) held[++m] = len[c, lo]
}
END { printf "%.0f %d %d\n", m ? median(held, m) : 0, m, samples }

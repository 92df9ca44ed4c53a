/* Used by benches/accuracy.sh: a spinner pinned to CPU C that reads CLOCK_MONOTONIC in a
 * tight loop for S seconds and then prints every gap longer than 500 ns between two reads,
 * `gap C START NS`: the times something else ran on the CPU (an interrupt, a timer's sample),
 * and for how long. Usage: gaps S C */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_GAPS 400000

static long long starts[MAX_GAPS], lengths[MAX_GAPS];

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    double seconds = atof(argv[1]);
    int cpu = atoi(argv[2]);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) return 1;
    long long last = now(), end = last + (long long)(seconds * 1e9);
    long n = 0;
    while (last < end) {
        long long t = now();
        if (t - last > 500 && n < MAX_GAPS) {
            starts[n] = last;
            lengths[n++] = t - last;
        }
        last = t;
    }
    for (long i = 0; i < n; i++) printf("gap %d %lld %lld\n", cpu, starts[i], lengths[i]);
    return 0;
}

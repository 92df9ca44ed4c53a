/* A getppid() loop at a set rate, the event source of benches/printf_overload.sh.
 *
 *   paced_getppid RATE SECONDS [wait]
 *
 * Calls getppid() RATE times a second (0: as fast as it can) for SECONDS, then prints what
 * it did: the calls it made (what a tracer was offered), the rate it reached, and the time
 * a call took while it was calling (its busy time over its calls; the time it spends
 * waiting for its schedule is left out, so a traced run's slowdown shows even when it keeps
 * to its rate). With "wait" it prints its pid and waits for SIGUSR1 before it starts, so a
 * tracer can attach to it first. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig) {
    (void)sig;
    go = 1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s RATE SECONDS [wait]\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[1]);
    double seconds = atof(argv[2]);
    if (argc > 3 && strcmp(argv[3], "wait") == 0) {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigprocmask(SIG_BLOCK, &block, &old);
        signal(SIGUSR1, on_usr1);
        printf("pid %d\n", getpid());
        fflush(stdout);
        while (!go)
            sigsuspend(&old);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    /* Calls go in batches of 16 between clock reads: a clock read (vDSO) costs a few per
     * cent of a call, and the schedule is kept to within a batch. */
    const long batch = 16;
    long calls = 0;
    double busy = 0;
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        if (rate > 0 && calls >= (t - start) * rate) {
            t = now();
            continue;
        }
        for (long i = 0; i < batch; i++)
            syscall(SYS_getppid);
        calls += batch;
        double after = now();
        busy += after - t;
        t = after;
    }
    double elapsed = t - start;
    printf("offered %ld calls in %.3f s: %.0f/s, %.1f ns a call\n", calls, elapsed,
           calls / elapsed, busy / calls * 1e9);
    return 0;
}

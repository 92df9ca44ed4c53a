/* Start-up to the first event of a cold tracepoint script, for benches/startup.sh.
 *
 *   first_event TRACER [ARGS...]
 *
 * Notes the time (CLOCK_MONOTONIC), starts the tracer with its stdout on a pipe, and once the
 * tracer prints __BPFTRACE_NOTIFY_PROBES_ATTACHED (both print it once every probe is attached
 * when that variable is in the environment, which this program sets) starts a child named tb_first that opens /dev/null every
 * millisecond. The script prints a line on tb_first's first openat() and exits; the time
 * from the start to reading that line is printed in milliseconds (the child's period adds
 * at most 1 ms). Then it stops the child and waits for the tracer. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    setenv("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1", 1);
    if (argc < 2) {
        fprintf(stderr, "usage: first_event TRACER [ARGS...]\n");
        return 2;
    }
    int out[2];
    if (pipe(out) != 0) {
        perror("pipe");
        return 2;
    }
    double start = now_ms();
    pid_t tracer = fork();
    if (tracer == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    close(out[1]);
    FILE *lines = fdopen(out[0], "r");
    char line[512];
    pid_t trigger = -1;
    double first = -1;
    while (fgets(line, sizeof line, lines)) {
        if (trigger < 0 && strncmp(line, "__BPFTRACE_NOTIFY_PROBES_ATTACHED", 33) == 0) {
            trigger = fork();
            if (trigger == 0) {
                prctl(PR_SET_NAME, "tb_first");
                struct timespec ms = {0, 1000000};
                for (;;) {
                    close(open("/dev/null", O_RDONLY));
                    nanosleep(&ms, NULL);
                }
            }
        } else if (strncmp(line, "first", 5) == 0) {
            first = now_ms() - start;
            break;
        }
    }
    if (trigger > 0) {
        kill(trigger, SIGKILL);
        waitpid(trigger, NULL, 0);
    }
    fclose(lines);
    int status;
    waitpid(tracer, &status, 0);
    if (first < 0) {
        fprintf(stderr, "first_event: %s printed no event (status %d)\n", argv[1], status);
        return 1;
    }
    printf("%.1f\n", first);
    return 0;
}

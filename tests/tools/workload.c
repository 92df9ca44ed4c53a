/*
 * tb_tools: the workload of tests/e2e_tools.rs, one operation per run, each making an exact
 * number of the events a built-in tool reports. Built by the test as `tb_tools` (its comm).
 *
 *   gate OP ARGS...      read one byte from stdin first (the test writes it once the tool
 *                        is attached to this process with -p), then run OP
 *   exec N MARK          fork and exec itself N times as `tb_tools noop MARK K` (K = 1..N),
 *                        then exec /nonexistent/MARK once (fails with ENOENT)
 *   noop ...             nothing
 *   open N PATH          open PATH N times (it does not exist: ENOENT), then open
 *                        PATH.present once (created first, so it succeeds)
 *   kill                 fork a child that pauses, send it SIGUSR1 (ignored by it) and
 *                        SIGTERM, reap it, then kill(its old pid, 0): ESRCH; prints the pid
 *   getppid N            N getppid() calls
 *   call N               N calls of tb_timed(), each busy for about 20 us
 *   dio N FILE           N 4 KiB O_DIRECT writes to FILE (allocated and synced first, before
 *                        the gate when gated)
 *   sleep N MS           N sleeps of MS milliseconds
 *   tcp PORT             a loopback connection to PORT: the client sends 40 KiB, the server
 *                        sends 8 KiB back, both close
 *   connect ADDR PORT MS connect() to ADDR:PORT, giving up after MS milliseconds
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

volatile long sink;

__attribute__((noinline)) long tb_timed(long us) {
    double end = now_us() + us;
    while (now_us() < end)
        sink++;
    return sink;
}

static int dio_prepare(const char *file, int n) {
    static char block[4096];
    int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) die("open");
    memset(block, 'b', sizeof block);
    for (int i = 0; i < n; i++)
        if (write(fd, block, sizeof block) != sizeof block) die("write");
    if (fsync(fd)) die("fsync");
    close(fd);
    fd = open(file, O_WRONLY | O_DIRECT);
    if (fd < 0) die("open O_DIRECT");
    return fd;
}

static void dio_run(int fd, int n) {
    void *block;
    if (posix_memalign(&block, 4096, 4096)) die("posix_memalign");
    memset(block, 'd', 4096);
    for (int i = 0; i < n; i++)
        if (pwrite(fd, block, 4096, (off_t)i * 4096) != 4096) die("pwrite O_DIRECT");
    close(fd);
}

static void tcp(int port) {
    static char out[40960], back[8192], in[65536];
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1)) die("listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (void *)&a, sizeof a)) die("connect");
    int s = accept(l, 0, 0);
    if (s < 0) die("accept");
    close(l);
    if (write(c, out, sizeof out) != sizeof out) die("client write");
    shutdown(c, SHUT_WR);
    long got = 0, r;
    while ((r = read(s, in, sizeof in)) > 0) got += r;
    if (got != sizeof out) die("server read");
    if (write(s, back, sizeof back) != sizeof back) die("server write");
    got = 0;
    close(s);
    while ((r = read(c, in, sizeof in)) > 0) got += r;
    if (got != sizeof back) die("client read");
    close(c);
    usleep(100000); /* the last state changes, before the run ends with this process */
}

static void connect_to(const char *addr, int port, int ms) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &a.sin_addr);
    if (connect(c, (void *)&a, sizeof a) == 0 || errno != EINPROGRESS) die("connect");
    struct pollfd p = {.fd = c, .events = POLLOUT};
    if (poll(&p, 1, ms) != 0) {
        fprintf(stderr, "connect answered: the test needs it unanswered\n");
        exit(1);
    }
    close(c);
}

int main(int argc, char **argv) {
    int at = 1;
    int dio_fd = -1;
    if (argc > 1 && !strcmp(argv[1], "gate")) {
        at = 2;
        if (argc > 4 && !strcmp(argv[2], "dio"))
            dio_fd = dio_prepare(argv[4], atoi(argv[3]));
        char byte;
        if (read(0, &byte, 1) != 1) die("gate");
    }
    if (at >= argc) return 2;
    const char *op = argv[at];
    char **arg = argv + at + 1;
    if (!strcmp(op, "noop")) return 0;
    if (!strcmp(op, "exec")) {
        int n = atoi(arg[0]);
        for (int k = 1; k <= n + 1; k++) {
            pid_t child = fork();
            if (child == 0) {
                char number[16], missing[256];
                snprintf(number, sizeof number, "%d", k);
                snprintf(missing, sizeof missing, "/nonexistent/%s", arg[1]);
                if (k <= n) execl("/proc/self/exe", "tb_tools", "noop", arg[1], number, (char *)0);
                else execl(missing, missing, (char *)0);
                _exit(127);
            }
            waitpid(child, 0, 0);
        }
    } else if (!strcmp(op, "open")) {
        int n = atoi(arg[0]);
        char present[512];
        snprintf(present, sizeof present, "%s.present", arg[1]);
        close(open(present, O_CREAT | O_WRONLY, 0600));
        for (int i = 0; i < n; i++)
            if (open(arg[1], O_RDONLY) >= 0) die("open succeeded");
        int fd = open(present, O_RDONLY);
        if (fd < 0) die("open present");
        unlink(present);
    } else if (!strcmp(op, "kill")) {
        signal(SIGUSR1, SIG_IGN);
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        usleep(20000);
        kill(child, SIGUSR1);
        kill(child, SIGTERM);
        waitpid(child, 0, 0);
        kill(child, 0);
        printf("%d\n", child);
    } else if (!strcmp(op, "getppid")) {
        for (int i = 0, n = atoi(arg[0]); i < n; i++) syscall(SYS_getppid);
    } else if (!strcmp(op, "call")) {
        for (int i = 0, n = atoi(arg[0]); i < n; i++) tb_timed(20);
    } else if (!strcmp(op, "dio")) {
        int n = atoi(arg[0]);
        if (dio_fd < 0) dio_fd = dio_prepare(arg[1], n);
        dio_run(dio_fd, n);
    } else if (!strcmp(op, "sleep")) {
        struct timespec t = {0, atol(arg[1]) * 1000000L};
        for (int i = 0, n = atoi(arg[0]); i < n; i++) nanosleep(&t, 0);
    } else if (!strcmp(op, "tcp")) {
        tcp(atoi(arg[0]));
    } else if (!strcmp(op, "connect")) {
        connect_to(arg[0], atoi(arg[1]), atoi(arg[2]));
    } else {
        fprintf(stderr, "unknown operation %s\n", op);
        return 2;
    }
    return 0;
}

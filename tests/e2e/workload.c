/*
 * tb_wl: the deterministic workload the end-to-end tests trace. The tests build it with `cc`
 * into a temporary directory as `tb_wl` (so its comm is "tb_wl", which every golden script
 * filters on); tests/golden/capture.sh builds the same file the same way for bpftrace.
 *
 * Its arguments are a list of operations, run in order:
 *   g N        N getppid() calls
 *   i N        N getpid() calls
 *   w N SIZE   N write()s of SIZE bytes (at most 65536) of 'a' to /dev/null
 *   s WORD     one write() of WORD to /dev/null; WORD is NUL-terminated in memory, so
 *              str(args->buf) reads exactly WORD
 *   z MS       sleep MS milliseconds
 *   f N        N user page faults: map 1 MiB, touch each 4 KiB page, unmap; repeat
 *   r RATE S   getppid() at RATE calls a second for S seconds: a batch each millisecond,
 *              sleeping in between, so the CPU it uses is the calls' (benches/accuracy.sh)
 *   e RATE S   tb_emulated() at RATE calls a second for S seconds (its first instruction, a
 *              push, is one the kernel emulates under a uprobe), paced like r
 *   t RATE S   tb_stepped() the same way (its first instruction, an lea, is single-stepped)
 *   b S        spin S seconds of CPU time and print, on stderr, one line `window END NS` a
 *              tenth of a second of its CPU time: when the window ended (CLOCK_MONOTONIC,
 *              the clock of a script's nsecs) and its ns of CPU per loop iteration; how much a
 *              probe firing on its CPU (profile) takes from it, window by window
 *   q          getpgid(0): the "workload is done" trigger the scripts exit() on
 *   m          print the CLOCK_MONOTONIC time in ns (when a benchmark's tracer was gone)
 * The /dev/null descriptor is always 42, so scripts may print args->fd. With TB_WL_CPU set in
 * the environment it prints its CPU time (cpu_ns N) on stderr at the end, and r, e and t also
 * print `window END NS` each tenth of a second: when the window ended (CLOCK_MONOTONIC) and
 * the CPU ns used per second of it (benches/accuracy.sh).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NULL_FD 42
#define BUF_SIZE 65536

static char buf[BUF_SIZE + 1];
volatile long sink;

/* Written in assembly so that the first instruction is what the benchmark needs whatever the
 * compiler's flags: a push (emulated by the kernel's uprobe code) and an lea (single-stepped).
 * Both return x * 3 + 1. */
long tb_emulated(long x);
long tb_stepped(long x);
__asm__(".text\n"
        ".globl tb_emulated\n.type tb_emulated, @function\n"
        "tb_emulated:\n  push %rbp\n  mov %rsp, %rbp\n  lea 0x1(%rdi,%rdi,2), %rax\n"
        "  pop %rbp\n  ret\n.size tb_emulated, .-tb_emulated\n"
        ".globl tb_stepped\n.type tb_stepped, @function\n"
        "tb_stepped:\n  lea 0x1(%rdi,%rdi,2), %rax\n  ret\n.size tb_stepped, .-tb_stepped\n");

static void one_getppid(long k) {
    (void)k;
    syscall(SYS_getppid);
}

static void one_emulated(long k) {
    sink = tb_emulated(k);
}

static void one_stepped(long k) {
    sink = tb_stepped(k);
}

/* op() at `rate` calls a second for `seconds`: a batch each millisecond, sleeping in between,
 * so the CPU the process uses is the calls'. */
static long long thread_cpu_ns(void);
static long long monotonic_ns(void);

static void paced(long rate, long seconds, void (*op)(long)) {
    long per_ms = rate / 1000 > 0 ? rate / 1000 : 1;
    int windows = getenv("TB_WL_CPU") != NULL;
    long long window_cpu = thread_cpu_ns(), window_start = monotonic_ns();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long ms = 0; ms < seconds * 1000; ms++) {
        for (long k = 0; k < per_ms; k++) {
            op(k);
        }
        if (windows && ms % 100 == 99) {
            long long cpu = thread_cpu_ns(), now = monotonic_ns();
            fprintf(stderr, "window %lld %.1f\n", now,
                    (double)(cpu - window_cpu) * 1e9 / (double)(now - window_start));
            window_cpu = cpu;
            window_start = now;
        }
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}

static long long thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long number(int argc, char **argv, int i) {
    if (i >= argc) {
        fprintf(stderr, "tb_wl: %s needs an argument\n", argv[i - 1]);
        exit(2);
    }
    return atol(argv[i]);
}

int main(int argc, char **argv) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || dup2(fd, NULL_FD) != NULL_FD) {
        perror("tb_wl: /dev/null");
        return 2;
    }
    if (fd != NULL_FD) {
        close(fd);
    }
    memset(buf, 'a', BUF_SIZE);
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        if (!strcmp(op, "g")) {
            long n = number(argc, argv, ++i);
            for (long k = 0; k < n; k++) {
                syscall(SYS_getppid);
            }
        } else if (!strcmp(op, "i")) {
            long n = number(argc, argv, ++i);
            for (long k = 0; k < n; k++) {
                syscall(SYS_getpid);
            }
        } else if (!strcmp(op, "w")) {
            long n = number(argc, argv, ++i);
            long size = number(argc, argv, ++i);
            if (size < 0 || size > BUF_SIZE) {
                fprintf(stderr, "tb_wl: write size %ld out of range\n", size);
                return 2;
            }
            for (long k = 0; k < n; k++) {
                if (syscall(SYS_write, NULL_FD, buf, size) != size) {
                    perror("tb_wl: write");
                    return 2;
                }
            }
        } else if (!strcmp(op, "s")) {
            if (++i >= argc) {
                fprintf(stderr, "tb_wl: s needs a word\n");
                return 2;
            }
            syscall(SYS_write, NULL_FD, argv[i], strlen(argv[i]));
        } else if (!strcmp(op, "z")) {
            long ms = number(argc, argv, ++i);
            struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&t, NULL);
        } else if (!strcmp(op, "f")) {
            long n = number(argc, argv, ++i);
            const long pages = 256, page = 4096;
            for (long done = 0; done < n; done += pages) {
                char *m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED) {
                    perror("tb_wl: mmap");
                    return 2;
                }
                for (long p = 0; p < pages; p++) {
                    m[p * page] = 1;
                }
                munmap(m, pages * page);
            }
        } else if (!strcmp(op, "r") || !strcmp(op, "e") || !strcmp(op, "t")) {
            long rate = number(argc, argv, ++i);
            long seconds = number(argc, argv, ++i);
            paced(rate, seconds,
                  op[0] == 'r' ? one_getppid : op[0] == 'e' ? one_emulated : one_stepped);
        } else if (!strcmp(op, "b")) {
            long seconds = number(argc, argv, ++i);
            long long start = thread_cpu_ns(), window_start = start, now = start;
            long iterations = 0;
            while (now - start < seconds * 1000000000LL) {
                for (int k = 0; k < 100000; k++) {
                    sink = sink * 7 + k;
                }
                iterations += 100000;
                now = thread_cpu_ns();
                if (now - window_start >= 100000000LL) {
                    fprintf(stderr, "window %lld %.6f\n", monotonic_ns(),
                            (double)(now - window_start) / iterations);
                    window_start = now;
                    iterations = 0;
                }
            }
        } else if (!strcmp(op, "m")) {
            printf("%lld\n", monotonic_ns());
        } else if (!strcmp(op, "q")) {
            syscall(SYS_getpgid, 0);
        } else {
            fprintf(stderr, "tb_wl: unknown operation %s\n", op);
            return 2;
        }
    }
    if (getenv("TB_WL_CPU")) {
        /* Scheduler-accurate CPU time, for benches/accuracy.sh. */
        struct timespec cpu;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
        fprintf(stderr, "cpu_ns %lld\n", (long long)cpu.tv_sec * 1000000000LL + cpu.tv_nsec);
    }
    return 0;
}

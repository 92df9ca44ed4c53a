/* Benchmark workload: openat() on 10 paths, path k opened k+2 times (distinct counts, so the
 * printed order does not depend on hash order), then one getppid() that tells the tracing
 * script to exit. Its comm is the binary's name, tb_bench_wl. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char path[64];
    for (int k = 0; k < 10; k++) {
        for (int i = 0; i <= k + 1; i++) {
            snprintf(path, sizeof path, "/tmp/tb_bench_%d", k);
            int fd = open(path, O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
    }
    getppid();
    return 0;
}

/* Many distinct user stacks for benches/stacks.sh: at each of DEPTH levels the path goes
   through `left` or `right` (each its own return address), so the 2^DEPTH leaf calls have
   2^DEPTH distinct stacks. Built with frame pointers so the kernel can walk them. Then it
   waits, so that a tracer can name its frames while it lives. */
#include <stdlib.h>
#include <unistd.h>
#define DEPTH 14
volatile long sink;
__attribute__((noinline)) void leaf(long path) { sink += path; }
__attribute__((noinline)) void right(int depth, long path);
__attribute__((noinline)) void left(int depth, long path) {
    if (depth == DEPTH) { leaf(path); return; }
    if ((path >> depth) & 1) right(depth + 1, path); else left(depth + 1, path);
    sink++;
}
__attribute__((noinline)) void right(int depth, long path) {
    if (depth == DEPTH) { leaf(path); return; }
    if ((path >> depth) & 1) right(depth + 1, path); else left(depth + 1, path);
    sink++;
}
int main(int argc, char **argv) {
    /* argv[1]: a file to wait for before calling (the tracer has attached). */
    if (argc > 1) while (access(argv[1], F_OK) != 0) usleep(10000);
    for (long p = 0; p < (1L << DEPTH); p++) left(0, p);
    pause();
    return 0;
}

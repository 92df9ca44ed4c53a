//! Watchpoints end to end: a program that writes a word at a fixed address a known number of
//! times, from its main thread and from a thread it starts, watched through `-c` (the event
//! set before exec and inherited by the new thread) and through `-p` (set on each thread that
//! exists), counted exactly; and a user address without a process refused before anything
//! attaches.

mod e2e;

use std::process::{Command, Stdio};

/// Maps a page at 0x20000000 and writes its first word `argv[1]` times from main, then as
/// often from a thread; with a second argument it first waits for a line on stdin (the
/// tracer attaching), after starting the thread, which waits too.
const WRITER: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
static volatile unsigned long *word;
static long times;
static volatile int go;
static void writes(void) { for (long i = 0; i < times; i++) *word = i; }
static void *thread(void *arg) { (void)arg; while (!go) ; writes(); return NULL; }
int main(int argc, char **argv) {
    word = mmap((void *)0x20000000, 4096, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (word == MAP_FAILED) { perror("mmap"); return 1; }
    times = atol(argv[1]);
    pthread_t t;
    if (argc > 2) {
        pthread_create(&t, NULL, thread, NULL);
        printf("ready\n");
        fflush(stdout);
        getchar();
    }
    writes();
    if (argc <= 2) pthread_create(&t, NULL, thread, NULL);
    go = 1;
    pthread_join(t, NULL);
    return 0;
}
"#;

fn writer() -> String {
    let binary = e2e::build_c(
        "watchpoint",
        "tb_watch_writer",
        WRITER,
        &["-O1", "-pthread"],
    )
    .unwrap_or_else(|e| panic!("building the writer: {e}"));
    binary.to_str().expect("utf-8 path").to_string()
}

#[test]
fn a_watchpoint_counts_every_write_of_the_command_and_its_threads() {
    if !e2e::require_bpf("a_watchpoint_counts_every_write_of_the_command_and_its_threads") {
        return;
    }
    let command = format!("{} 300", writer());
    let (code, out, err) = e2e::tracebound(&[
        "-e",
        "watchpoint:0x20000000:8:w { @writes = count(); @tids[tid] = 1; }",
        "-c",
        &command,
    ])
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("@writes: 600\n"), "{out}{err}");
    let threads = out.lines().filter(|l| l.starts_with("@tids[")).count();
    assert_eq!(threads, 2, "{out}");
}

#[test]
fn a_watchpoint_on_a_running_process_is_set_on_each_of_its_threads() {
    if !e2e::require_bpf("a_watchpoint_on_a_running_process_is_set_on_each_of_its_threads") {
        return;
    }
    let mut target = Command::new(writer())
        .args(["200", "wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the writer");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(target.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n");
    let pid = target.id().to_string();
    let mut tracer = e2e::Tracer::spawn(&[
        "-p",
        &pid,
        "-e",
        "watchpoint:0x20000000:8:w { @writes = count(); }",
    ]);
    tracer.wait_ready(0).unwrap();
    drop(target.stdin.take()); // the writer's getchar() returns: it writes, then exits
    assert!(target.wait().unwrap().success());
    let finished = tracer.finish(std::time::Duration::from_secs(10)).unwrap();
    assert!(
        finished.stdout.contains("@writes: 400\n"),
        "{}{}",
        finished.stdout,
        finished.stderr
    );
}

#[test]
fn a_user_address_without_a_process_is_refused_before_attaching() {
    if !e2e::require_bpf("a_user_address_without_a_process_is_refused_before_attaching") {
        return;
    }
    let (code, _, err) =
        e2e::tracebound(&["-e", "watchpoint:0x20000000:8:w { @ = count(); }"]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("-p PID or -c COMMAND"), "{err}");
}

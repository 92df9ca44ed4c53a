//! Binaries named by a wildcard: `uprobe:*:f` and `usdt::provider:probe` with `-p` (every
//! executable and library the process maps), an empty usdt provider (any provider), a path
//! pattern (`uprobe:DIR/tb_wild*:f`, the files of the directory), each counted exactly, and a
//! bare wildcard without a process refused at the binary part.

mod e2e;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `tbw_func` and its USDT probe `tbw:hit` run `argv[1]` times; with a second argument the
/// program first says "ready" and waits for a line on stdin (the tracer attaching).
const PROGRAM: &str = r#"
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) void tbw_func(long i) { STAP_PROBE1(tbw, hit, i); __asm__ volatile(""); }
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    if (argc > 2) { printf("ready\n"); fflush(stdout); getchar(); }
    for (long i = 0; i < n; i++) tbw_func(i);
    return 0;
}
"#;

/// Built once for the tests of this process (one running while another rebuilds it would
/// find its binary replaced).
fn program() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let binary = e2e::build_c("wildcard-binaries", "tb_wild_target", PROGRAM, &["-O1"])
                .unwrap_or_else(|e| panic!("building the target (is sys/sdt.h installed?): {e}"));
            binary.to_str().expect("utf-8 path").to_string()
        })
        .clone()
}

/// The program started and waiting; the caller lets it go by dropping its stdin.
fn waiting(binary: &str, n: u32) -> Child {
    let mut child = Command::new(binary)
        .args([&n.to_string(), "wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the target");
    let mut ready = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    child
}

/// Runs `script` on the waiting program with `-p`; what it printed once the program ended.
fn count_in_process(binary: &str, script: &str, n: u32) -> String {
    let mut target = waiting(binary, n);
    let pid = target.id().to_string();
    let mut tracer = e2e::Tracer::spawn(&["-p", &pid, "-e", script]);
    tracer.wait_ready(0).unwrap();
    drop(target.stdin.take());
    assert!(target.wait().unwrap().success());
    let finished = tracer.finish(Duration::from_secs(10)).unwrap();
    format!("{}{}", finished.stdout, finished.stderr)
}

#[test]
fn a_wildcard_binary_with_a_process_is_every_file_it_maps() {
    if !e2e::require_bpf("a_wildcard_binary_with_a_process_is_every_file_it_maps") {
        return;
    }
    let binary = program();
    let out = count_in_process(&binary, "uprobe:*:tbw_func { @calls = count(); }", 300);
    assert!(out.contains("@calls: 300\n"), "{out}");
    let out = count_in_process(&binary, "usdt::tbw:hit { @hits = count(); }", 200);
    assert!(out.contains("@hits: 200\n"), "{out}");
    let script = format!("usdt:{binary}::hit {{ @any_provider = count(); }}");
    let out = count_in_process(&binary, &script, 100);
    assert!(out.contains("@any_provider: 100\n"), "{out}");
}

#[test]
fn a_path_pattern_names_the_files_of_its_directory() {
    if !e2e::require_bpf("a_path_pattern_names_the_files_of_its_directory") {
        return;
    }
    let binary = program();
    let dir = std::path::Path::new(&binary)
        .parent()
        .unwrap()
        .display()
        .to_string();
    // The other tests run the same binary at the same time: count the command's calls only.
    let script = format!("uprobe:{dir}/tb_wild*:tbw_func /pid == cpid/ {{ @calls = count(); }}");
    let command = format!("{binary} 250");
    let (code, out, err) = e2e::tracebound(&["-e", &script, "-c", &command]).unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("@calls: 250\n"), "{out}{err}");
    let (code, out, _) = e2e::tracebound(&["-l", &format!("uprobe:{dir}/tb_wild*:tbw_*")]).unwrap();
    assert_eq!(code, 0);
    assert_eq!(out, format!("uprobe:{binary}:tbw_func\n"));
}

#[test]
fn a_bare_wildcard_binary_without_a_process_is_refused() {
    let (code, _, err) = e2e::tracebound(&["-e", "uprobe:*:tbw_func { @ = count(); }"]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("-p"), "{err}");
    assert!(err.contains("uprobe:*:tbw_func"), "{err}");
}

//! Pids as the current release reads them: `pid` and `tid` in tracebound's own pid
//! namespace, `pid(init)`/`tid(init)` as the initial namespace numbers them. Run inside a new
//! pid namespace (`unshare --pid`), where tracebound is process 1.

mod e2e;

use std::process::Command;

const SCRIPT: &str = r#"begin { printf("%d %d %d %d %d %d\n", pid, pid(curr_ns), pid(init), tid, tid(curr_ns), tid(init)); exit() }"#;

fn pids(out: &str) -> Vec<u64> {
    let line = out.lines().find(|l| l.split(' ').count() == 6).expect(out);
    line.split(' ').map(|n| n.parse().expect(line)).collect()
}

#[test]
fn pids_are_read_in_tracebounds_namespace_unless_init_is_asked() {
    if !e2e::require_bpf("pids_are_read_in_tracebounds_namespace_unless_init_is_asked") {
        return;
    }
    let out = Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_tracebound"))
        .args(["-e", SCRIPT])
        .output()
        .expect("running unshare (util-linux)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    let p = pids(&stdout);
    assert_eq!(&p[..2], [1, 1], "{stdout}");
    assert_eq!(&p[3..5], [1, 1], "{stdout}");
    assert!(p[2] > 1 && p[5] == p[2], "{stdout}");

    // In the initial namespace all three forms agree.
    let (code, stdout, stderr) = e2e::tracebound(&["-e", SCRIPT]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    let p = pids(&stdout);
    assert!(p.iter().all(|&n| n == p[0]), "{stdout}");
}

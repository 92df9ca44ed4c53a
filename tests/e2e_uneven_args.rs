//! A probe whose attach points lay out `args` differently (`filename` at offset 16 in
//! execve's record, 24 in openat's, the shape of bpftrace's execsnoop and opensnoop) reads
//! each attach point's field at its own offset: each path the traced command execs or opens
//! is printed exactly, under the probe it came through.

mod e2e;

#[test]
fn a_field_at_different_offsets_is_read_at_each_attach_points_own() {
    if !e2e::require_bpf("a_field_at_different_offsets_is_read_at_each_attach_points_own") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tb-uneven-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("opened-by-cat");
    std::fs::write(&file, "contents\n").unwrap();
    let command = format!("/bin/cat {}", file.display());
    let script = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_openat \
                  /pid == cpid/ { @[probe, str(args.filename)] = count(); }";
    let (code, out, err) = e2e::tracebound(&["-e", script, "-c", &command]).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 0, "{out}{err}");
    for wanted in [
        "@[tracepoint:syscalls:sys_enter_execve, /bin/cat]: 1".to_string(),
        format!(
            "@[tracepoint:syscalls:sys_enter_openat, {}]: 1",
            file.display()
        ),
    ] {
        assert!(
            out.lines().any(|l| l == wanted),
            "no `{wanted}` in\n{out}{err}"
        );
    }
}

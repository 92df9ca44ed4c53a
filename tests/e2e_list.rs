//! `-l` against this machine's kernel: timers in every unit, iterators and kernel types from
//! the kernel's BTF, raw tracepoints in the full listing, the probes of a program (`-e` or a
//! file, wildcards expanded, a `-p` process's libraries searched), and the warning for a
//! pattern that looks like a missing file.

mod e2e;

use std::process::{Command, Stdio};

use e2e::tracebound;

/// A pattern's listing, which must succeed.
fn listed(args: &[&str]) -> String {
    let (code, stdout, stderr) = tracebound(args).expect("tracebound runs");
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    stdout
}

#[test]
fn timers_iterators_and_raw_tracepoints() {
    for kind in ["interval", "profile"] {
        let text = listed(&["-l", &format!("{kind}:*")]);
        let expected: String = ["hz", "us", "ms", "s"]
            .iter()
            .map(|unit| format!("{kind}:{unit}:\n"))
            .collect();
        assert_eq!(text, expected);
    }
    // Every kernel with BPF iterators has the task ones (5.8+), and this one has BTF.
    let iters = listed(&["-l", "iter:*"]);
    for name in ["iter:task\n", "iter:task_file\n", "iter:task_vma\n"] {
        assert!(iters.contains(name), "{name:?} in {iters}");
    }
    assert!(!iters.contains("__"), "{iters}");
    let all = listed(&["-l"]);
    assert!(
        all.contains("\nrawtracepoint:sched_switch\n"),
        "no raw tracepoints listed"
    );
    assert!(all.contains("\niter:task\n") && all.contains("\ninterval:s:\n"));
}

#[test]
fn kernel_types_by_name_and_definition() {
    assert_eq!(
        listed(&["-l", "struct task_struct"]),
        "struct task_struct\n"
    );
    let text = listed(&["-lv", "struct task_struct,struct file, struct  fd"]);
    for head in [
        "vmlinux: struct task_struct {\n",
        "vmlinux: struct file {\n",
        "vmlinux: struct fd {\n",
    ] {
        assert!(text.contains(head), "{head:?} in the listing");
    }
    // Members as C declares them: typedef names kept, arrays and pointers around the name.
    for member in [
        "\tpid_t pid;\n",
        "\tchar comm[16];\n",
        "\tstruct mm_struct *mm;\n",
    ] {
        assert!(text.contains(member), "{member:?} in the listing");
    }
}

#[test]
fn the_probes_of_a_program() {
    let dir = std::env::temp_dir().join(format!("tb-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("timers.bt");
    std::fs::write(
        &file,
        "interval:ms:100 { @a = 1; }\ninterval:s:1 { exit(); }\ninterval:us:7 { @b = 1; }\n",
    )
    .unwrap();
    assert_eq!(
        listed(&["-l", file.to_str().unwrap()]),
        "interval:ms:\ninterval:s:\ninterval:us:\n"
    );
    assert_eq!(
        listed(&[
            "-l",
            "-e",
            "software:faults:10 { exit(); } tracepoint:sched:sched_switch { exit(); }"
        ]),
        "software:faults:\ntracepoint:sched:sched_switch\n"
    );
    // A wildcard binary in a `-p` process: the functions of the libraries it maps.
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .expect("sleep runs");
    let pid = sleeper.id().to_string();
    // Listed once it has mapped its libraries: just spawned, it may not have yet.
    let maps = format!("/proc/{pid}/maps");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&maps).is_ok_and(|m| m.contains("libc.so"))
        && started.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, stdout, stderr) = tracebound(&[
        "-l",
        "-e",
        "uretprobe:*:clock_nanosleep { exit(); }",
        "-p",
        &pid,
    ])
    .expect("tracebound runs");
    sleeper.kill().ok();
    sleeper.wait().ok();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("uretprobe:")
            && l.contains("libc.so")
            && l.ends_with(":clock_nanosleep")),
        "{stdout}"
    );
    // What matches nothing is an error, as in a run.
    let (code, _, stderr) =
        tracebound(&["-l", "-e", "tracepoint:nonsense:x { }"]).expect("tracebound runs");
    assert_eq!(code, 1, "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pattern_that_looks_like_a_missing_file() {
    let (code, stdout, stderr) =
        tracebound(&["-l", "non_existent_file.bt"]).expect("tracebound runs");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "WARNING: It appears that 'non_existent_file.bt' is a filename but the file does not \
             exist. Treating 'non_existent_file.bt' as a search pattern."
        ),
        "{stderr}"
    );
}

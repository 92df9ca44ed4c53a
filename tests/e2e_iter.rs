//! Iterator probes against this kernel: `iter:task` lists the tracer itself and this test's
//! process by pid and comm, `iter:task_file` lists a file this test holds open (its fd and
//! inode read through `ctx.file`), `iter:task_vma` lists the mappings this test's process
//! has, the last call with no task is skipped (no line for it), the walk goes on after
//! exit(), and every run leaves nothing loaded.

mod e2e;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// Runs `tracebound ARGS` to its end; returns (pid, exit code, stdout, stderr).
fn run(args: &[&str]) -> (u32, i32, String, String) {
    let watch = e2e::ProgramWatch::start();
    let tracer = e2e::Tracer::spawn(args);
    let pid = tracer.pid();
    let done = tracer.finish(Duration::from_secs(30)).unwrap();
    watch.check_unloaded(Duration::from_secs(3)).unwrap();
    (pid, done.code().unwrap_or(-1), done.stdout, done.stderr)
}

/// Every task once, the tracer's own and this test's among them with their comms, and
/// no line for the kernel's last call, which has no task.
#[test]
fn iter_task_lists_the_tracer_and_this_process() {
    if !e2e::require_bpf("iter_task_lists_the_tracer_and_this_process") {
        return;
    }
    let script =
        r#"iter:task { printf("%d %d %s\n", ctx.task.tgid, ctx.task.pid, ctx.task.comm); }"#;
    let (tracer, code, stdout, stderr) = run(&["-e", script]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<(u32, u32, String)> = stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let tgid = f.next().unwrap().parse().unwrap();
            let pid = f.next().unwrap().parse().unwrap();
            (tgid, pid, f.next().unwrap_or("").to_string())
        })
        .collect();
    assert!(
        lines.contains(&(tracer, tracer, "tracebound".into())),
        "no line for the tracer {tracer}:\n{stdout}"
    );
    let me = std::process::id();
    let my_comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert!(
        lines.contains(&(me, me, my_comm.trim_end().into())),
        "no line for this test's process {me}:\n{stdout}"
    );
    // Each of this process's threads once, by its own tid.
    let threads: BTreeSet<u32> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    let seen: Vec<u32> = lines
        .iter()
        .filter(|(tgid, _, _)| *tgid == me)
        .map(|(_, pid, _)| *pid)
        .collect();
    for t in &threads {
        assert_eq!(seen.iter().filter(|s| *s == t).count(), 1, "thread {t}");
    }
    assert!(!lines.iter().any(|(tgid, _, _)| *tgid == 0), "{stdout}");
}

/// The fd this test opened, with the inode of the file it opened, read through the kernel's
/// `struct file`.
#[test]
fn iter_task_file_lists_a_file_this_process_holds() {
    if !e2e::require_bpf("iter_task_file_lists_a_file_this_process_holds") {
        return;
    }
    let path = std::env::temp_dir().join(format!("tb_iter_file_{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let inode = file.metadata().unwrap().ino();
    let me = std::process::id().to_string();
    let script = r#"iter:task_file /ctx.task.tgid == $1/ { printf("%d %lu\n", ctx.fd, ctx.file.f_inode.i_ino); }"#;
    let (_, code, stdout, stderr) = run(&["-e", script, &me]);
    drop(file);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.lines().any(|l| l == format!("{fd} {inode}")),
        "no line `{fd} {inode}` for the file this test opened:\n{stdout}"
    );
}

/// The start of this process's first mapping (its binary), as /proc/self/maps gives it.
#[test]
fn iter_task_vma_lists_this_process_mappings() {
    if !e2e::require_bpf("iter_task_vma_lists_this_process_mappings") {
        return;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let first = maps.lines().next().unwrap().split('-').next().unwrap();
    let me = std::process::id().to_string();
    let script = r#"iter:task_vma /ctx.task.pid == $1/ { printf("%lx-%lx\n", ctx.vma.vm_start, ctx.vma.vm_end); }"#;
    let (_, code, stdout, stderr) = run(&["-e", script, &me]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.lines().any(|l| l.split('-').next() == Some(first)),
        "no mapping starting at {first}:\n{stdout}"
    );
}

/// exit() ends the run once the walk is over: every task is still printed, and the maps
/// after it, as the current release reads an iterator to its end; `comm` and `pid` are the
/// reader's (the tracer's), whatever task the walk is at. What comes before the first read
/// of `ctx` also runs in the kernel's last call, which has no task (the current release's
/// rule): the counts are one more than the tasks printed.
#[test]
fn the_walk_goes_on_after_exit() {
    if !e2e::require_bpf("the_walk_goes_on_after_exit") {
        return;
    }
    let script = r#"iter:task { @n = count(); @reader[pid, comm] = count(); printf("%d\n", ctx.task.pid); exit(); }"#;
    let (tracer, code, stdout, stderr) = run(&["-e", script]);
    assert_eq!(code, 0, "{stderr}");
    let printed = stdout
        .lines()
        .filter(|l| !l.is_empty() && l.parse::<u32>().is_ok())
        .count();
    assert!(printed > 1, "{stdout}");
    let calls = printed + 1;
    assert!(
        stdout.contains(&format!("@n: {calls}\n")),
        "{printed} tasks printed:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("@reader[{tracer}, tracebound]: {calls}\n")),
        "{stdout}"
    );
}

/// `comm(pid)` names the task of a pid through the kernel's `bpf_task_from_pid`: the
/// reader's own, this test's, and "N/A" with the current release's warning for a pid no
/// task has.
#[test]
fn comm_of_a_pid_is_that_tasks_name() {
    if !e2e::require_bpf("comm_of_a_pid_is_that_tasks_name") {
        return;
    }
    let me = std::process::id().to_string();
    let script = r#"iter:task { @own = comm(pid); @test = comm($1); @none = comm(-5); exit(); }"#;
    let (_, code, stdout, stderr) = run(&["-e", script, &me]);
    assert_eq!(code, 0, "{stderr}");
    let my_comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert!(stdout.contains("@own: tracebound\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("@test: {}\n", my_comm.trim_end())),
        "{stdout}"
    );
    assert!(stdout.contains("@none: N/A\n"), "{stdout}");
    assert!(
        stderr.contains("WARNING: No such process (pid=-5)"),
        "{stderr}"
    );
}

/// `--check`, `-d ir` and `--dry-run` of an iterator: it checks, its program writes to the
/// seq file after the zero check of `ctx.task`, and the estimate prices one walk, never a
/// rate.
#[test]
fn check_ir_and_dry_run_of_an_iterator() {
    if !e2e::require_bpf("check_ir_and_dry_run_of_an_iterator") {
        return;
    }
    let script = r#"iter:task { printf("%s\n", ctx.task.comm); }"#;
    let (code, stdout, stderr) = e2e::tracebound(&["--check", "-e", script]).unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, ir, stderr) = e2e::tracebound(&["-d", "ir", "-e", script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(ir.contains("load.DW [v0+8]"), "{ir}");
    assert!(ir.contains("Eq 0 goto"), "{ir}");
    assert!(ir.contains("call SeqWrite("), "{ir}");
    assert!(!ir.contains("Ringbuf"), "{ir}");
    let (code, table, stderr) = e2e::tracebound(&["--dry-run", "-e", script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        table.contains("runs once per object when its iterator is read, not per event"),
        "{table}"
    );
    assert!(table.contains("within budget"), "{table}");
    let (code, json, stderr) = e2e::tracebound(&["--dry-run", "-f", "json", "-e", script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    let objects: u64 = json
        .split("\"objects_per_walk\": ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no objects_per_walk: {json}"));
    let threads: u64 = std::fs::read_dir("/proc/self/task").unwrap().count() as u64;
    assert!(
        objects >= threads,
        "{objects} objects, {threads} threads here"
    );
    assert!(json.contains("\"rate\": 0.0"), "{json}");
}

//! Kernel types from BTF end to end: `((struct task_struct *)curtask)->real_parent->pid`
//! (two pointer hops) counted for the workload, which this test's thread starts, so the
//! parent's pid is known and the count is exact; the same script side by side with
//! bpftrace 0.17 prints the same text. A raw tracepoint's arguments are typed from BTF
//! (`arg0->comm` in `sched_process_exec`; bpftrace 0.17 has no typed raw tracepoint arguments).
//! Probe types this kernel cannot attach (kprobes, fentry) fail with one error naming what the
//! kernel lacks and a probe that works.

mod e2e;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{Tracer, EXIT_TIMEOUT};

/// Every workload has the same comm: one case at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SCRIPT: &str = r#"tracepoint:syscalls:sys_enter_getppid /comm == "tb_wl"/ { @[((struct task_struct *)curtask)->real_parent->pid] = count(); }
tracepoint:syscalls:sys_enter_getpgid /comm == "tb_wl"/ { exit(); }"#;

/// The workload's `real_parent` is the thread that forked it: this test's thread, whose
/// `pid` in the kernel's sense is its thread id.
fn expected() -> String {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    format!("\n\n@[{tid}]: 1000\n")
}

#[test]
fn parent_pid_through_two_pointer_hops() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("parent_pid_through_two_pointer_hops") else {
        return;
    };
    let mut tracer = Tracer::spawn(&["-e", SCRIPT]);
    tracer.wait_ready(0).unwrap();
    e2e::run_workload(&env, &["g", "1000", "q"]).unwrap();
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    assert_eq!(done.stdout, expected(), "stderr: {}", done.stderr);
    assert_eq!(done.code(), Some(0));
}

/// `sched_process_exec(p, old_pid, bprm)`: the task's new comm through `arg0`, the file
/// through `arg2->filename`, read from kernel memory as BTF lays them out.
#[test]
fn raw_tracepoint_arguments_typed_from_btf() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("raw_tracepoint_arguments_typed_from_btf") else {
        return;
    };
    let script = r#"rawtracepoint:sched_process_exec /arg0->comm == "tb_wl"/ { printf("%s %s\n", arg0->comm, str(arg2->filename)); exit(); }"#;
    let mut tracer = Tracer::spawn(&["-e", script]);
    tracer.wait_ready(0).unwrap();
    e2e::run_workload(&env, &["q"]).unwrap();
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    // exit() prints the two blank lines bpftrace prints when a script ends.
    let expected = format!("tb_wl {}\n\n\n", env.workload.display());
    assert_eq!(done.stdout, expected, "stderr: {}", done.stderr);
}

/// The same raw tracepoint's arguments by name (`args.p`, `args.bprm`: the parameters of
/// its `__bpf_trace_sched_process_exec` function), the same bytes as `arg0`..`arg2`, through
/// the module form `rawtracepoint:vmlinux:NAME`.
#[test]
fn raw_tracepoint_arguments_by_name() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("raw_tracepoint_arguments_by_name") else {
        return;
    };
    let script = r#"rawtracepoint:vmlinux:sched_process_exec /args.p->comm == "tb_wl"/ { printf("%s %s %d\n", args.p->comm, str(args.bprm->filename), args.old_pid == arg1); exit(); }"#;
    let mut tracer = Tracer::spawn(&["-e", script]);
    tracer.wait_ready(0).unwrap();
    e2e::run_workload(&env, &["q"]).unwrap();
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    let expected = format!("tb_wl {} 1\n\n\n", env.workload.display());
    assert_eq!(done.stdout, expected, "stderr: {}", done.stderr);
}

/// `ppid`, `pcomm`, `leader_tid`, `leader_comm` (the current release's, written in the
/// language as member chains from `curtask`), `probetype` and `usermode`, for the workload
/// this test's thread starts: its parent is this thread (the kernel's `pid` of a thread is its
/// thread id, its comm this thread's name), and it is its own thread-group leader.
#[test]
fn task_relatives_and_probe_facts() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("task_relatives_and_probe_facts") else {
        return;
    };
    let workload = env.workload.display().to_string();
    let script = format!(
        r#"tracepoint:syscalls:sys_enter_getppid /comm == "tb_wl"/ {{ printf("%d %s|%d %s|%s %d\n", ppid, pcomm, leader_tid == pid, leader_comm, probetype, ppid(curtask) == ppid); }}
uprobe:{workload}:main {{ printf("%s %d\n", probetype, usermode); }}
tracepoint:syscalls:sys_enter_getpgid /comm == "tb_wl"/ {{ exit(); }}"#
    );
    let mut tracer = Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0).unwrap();
    e2e::run_workload(&env, &["g", "1", "q"]).unwrap();
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
    let expected = format!(
        "uprobe 1\n{tid} {}|1 tb_wl|tracepoint 1\n\n\n",
        comm.trim_end()
    );
    assert_eq!(done.stdout, expected, "stderr: {}", done.stderr);
    assert_eq!(done.code(), Some(0));
}

/// `&p->member` is the member's address (`offsetof` past the pointer), typed so that `->`
/// reads through it, and `container_of` of it is back at the task: its `comm` and `pid` are
/// the workload's.
#[test]
fn member_addresses_and_container_of() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("member_addresses_and_container_of") else {
        return;
    };
    let script = r#"tracepoint:syscalls:sys_enter_getppid /comm == "tb_wl"/ {
  $t = curtask; $l = &$t->tasks;
  $back = container_of($l, typeof(struct task_struct), tasks);
  printf("%d %d %s %d %d\n", $back == $t, (uint64)$l - (uint64)$t == offsetof(struct task_struct, tasks),
         $back->comm, $back->pid == tid, $l->next->prev == $l);
  exit();
}"#;
    let mut tracer = Tracer::spawn(&["-e", script]);
    tracer.wait_ready(0).unwrap();
    e2e::run_workload(&env, &["g", "1"]).unwrap();
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    assert_eq!(
        done.stdout, "1 1 tb_wl 1 1\n\n\n",
        "stderr: {}",
        done.stderr
    );
    assert_eq!(done.code(), Some(0));
}

/// bpftrace 0.17 runs the same script against the same workload and prints the same text.
#[test]
fn same_as_bpftrace() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(env) = e2e::setup("same_as_bpftrace") else {
        return;
    };
    let bpftrace = std::path::Path::new("/usr/bin/bpftrace");
    if !bpftrace.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI installs bpftrace 0.17, the reference"
        );
        println!("skipping same_as_bpftrace: no /usr/bin/bpftrace");
        return;
    }
    let mut child = Command::new(bpftrace)
        .args(["-e", SCRIPT])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // bpftrace 0.17 prints "Attaching" before it attaches: start the workload a while after.
    let mut first = [0u8; 9];
    stdout.read_exact(&mut first).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    e2e::run_workload(&env, &["g", "1000", "q"]).unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < EXIT_TIMEOUT, "bpftrace did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let theirs = format!("{}{rest}", String::from_utf8_lossy(&first));
    assert_eq!(e2e::without_attaching_line(&theirs), expected());
}

/// kprobes and fentry compile against BTF; attaching them is one error at the probe, exit
/// code 1 and nothing left loaded. What the error says depends on the kernel, which the test
/// judges for itself: where the kernel lacks kprobes or refuses trampolines it names what is
/// missing; where it has them it says the runtime does not attach them yet. Either way it
/// names a probe that works instead.
#[test]
fn probe_types_this_kernel_cannot_attach() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !e2e::require_bpf("probe_types_this_kernel_cannot_attach") {
        return;
    }
    let kprobes = this_kernel_has_kprobes();
    let trampolines = this_kernel_takes_trampolines();
    println!("this kernel: kprobes {kprobes}, BPF trampolines {trampolines}");
    for (script, lacks, instead) in [
        (
            "kprobe:vfs_read { @[comm] = count(); }",
            "has no kprobes",
            "rawtracepoint",
        ),
        (
            "kretprobe:__x64_sys_getpgid { @ = hist(retval); }",
            "has no kprobes",
            "tracepoint:syscalls:sys_exit_getpgid",
        ),
        (
            "kfunc:vfs_read { @[args->file->f_flags] = count(); }",
            "refuses BPF trampolines",
            "rawtracepoint",
        ),
        (
            "fexit:vfs_read { @ = hist(retval); }",
            "refuses BPF trampolines",
            "rawtracepoint",
        ),
    ] {
        let kprobe_kind = script.starts_with("kprobe") || script.starts_with("kretprobe");
        let attachable = if kprobe_kind { kprobes } else { trampolines };
        let lacks = if attachable {
            "not attached by the runtime yet"
        } else {
            lacks
        };
        let watch = e2e::ProgramWatch::start();
        let (code, _, stderr) = e2e::tracebound(&["-e", script]).unwrap();
        assert_eq!(code, 1, "{script}: {stderr}");
        assert!(!stderr.contains("Attached"), "{script}: {stderr}");
        assert_eq!(stderr.matches("ERROR:").count(), 1, "{script}: {stderr}");
        assert!(stderr.contains(lacks), "{script}: {stderr}");
        assert!(stderr.contains(instead), "{script}: {stderr}");
        watch
            .check_unloaded(Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{script}: {e}"));
    }
}

/// The kprobe PMU or tracefs's `kprobe_events` (CONFIG_KPROBES).
fn this_kernel_has_kprobes() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .any(|d| std::path::Path::new(d).join("kprobe_events").exists())
}

/// Whether the kernel loads a fentry program (`r0 = 0; exit`) on vfs_read: lockdown and
/// kernels without direct calls refuse it.
fn this_kernel_takes_trampolines() -> bool {
    use tracebound_runtime::kernel::{btf::Btf, sys};
    let blob = std::fs::read("/sys/kernel/btf/vmlinux").expect("the kernel's BTF");
    let btf = Btf::parse(&blob).expect("the kernel's BTF parses");
    let id = btf.function_id("vfs_read").expect("vfs_read is in BTF");
    let code: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    sys::prog_load_tracing(sys::ATTACH_TRACE_FENTRY, id, &code, "tb_test_fentry").is_ok()
}

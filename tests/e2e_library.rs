//! Builtins of the library that read the machine, end to end against this kernel:
//! `percpu_kaddr` (each CPU's own run queue names its CPU: `rq->cpu`), `pton` through `ntop`
//! and a cast, `cgroup_path` of this test's own cgroup, `debugf` lines in the trace buffer,
//! `assert`'s error and exit code.

mod e2e;

/// Every CPU's copy of `runqueues` says which CPU it belongs to, and a CPU past the last
/// gives 0, as bpf_per_cpu_ptr does.
#[test]
fn percpu_kaddr_finds_each_cpus_copy() {
    if !e2e::require_bpf("percpu_kaddr_finds_each_cpus_copy") {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let script = r#"BEGIN { $i = 0; while ($i < ncpus) { $rq = (struct rq *)percpu_kaddr("runqueues", $i); printf("%d ", $rq->cpu); $i++; } printf("%d %d\n", percpu_kaddr("runqueues", 4096) == 0, *percpu_kaddr("process_counts") == *percpu_kaddr("process_counts", cpu)); }"#;
    let (code, stdout, stderr) = e2e::tracebound(&["-e", script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    let each: String = (0..cpus).map(|c| format!("{c} ")).collect();
    assert_eq!(stdout.trim_end(), format!("{each}1 1"), "{stderr}");
}

/// A false `assert` prints the current release's message at the call, ends the probe there
/// and exits 1; a true one lets the probe go on.
#[test]
fn assert_stops_at_a_false_condition() {
    if !e2e::require_bpf("assert_stops_at_a_false_condition") {
        return;
    }
    let script = r#"BEGIN { assert(pid > 0, "has a pid"); printf("on\n"); $m = "no pid 0"; assert(pid == 0, $m); printf("not reached\n"); }"#;
    let (code, stdout, stderr) = e2e::tracebound(&["-e", script]).unwrap();
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stdout.trim_end(), "on", "{stderr}");
    assert!(
        stderr.contains("stdin:1:72-92: ERROR: assert failed: no pid 0"),
        "{stderr}"
    );
}

#[test]
fn pton_cgroup_path_and_debugf() {
    if !e2e::require_bpf("pton_cgroup_path_and_debugf") {
        return;
    }
    let marker = format!("tb_debugf_{}", std::process::id());
    let script = format!(
        r#"BEGIN {{ printf("%s %s %x\n", ntop(pton("10.1.2.3")), ntop(10, pton("fe80::1")), (uint32)pton("127.0.0.1")); print(cgroup_path(cgroup)); debugf("{marker} %s %d %x", "a", 1, 16); }}"#
    );
    let (code, stdout, stderr) = e2e::tracebound(&["-e", &script]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("10.1.2.3 fe80::1 100007f"));
    // This process's cgroup v2 path, found by the id the kernel gives it.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let printed = lines.next().unwrap_or_default();
    assert!(
        printed.split(',').any(|p| p == format!("unified:{path}")),
        "{printed} lacks unified:{path}"
    );
    assert!(
        stderr.contains("The debugf() builtin is not recommended"),
        "{stderr}"
    );
    // debugfs is mounted for debugf's readers: the line is where bpftrace's docs say.
    let trace = std::fs::read_to_string("/sys/kernel/debug/tracing/trace").unwrap();
    assert!(
        trace.contains(&format!("bpf_trace_printk: {marker} a 1 10")),
        "no debugf line in the trace buffer"
    );
}

/// `uaddr` in a position-independent binary is the process's address of the symbol, as the
/// current release gives it: the distance from the probed function is the symbol table's,
/// and reading through it reads the process's variable with the symbol's size.
#[test]
fn uaddr_is_relocated_in_a_position_independent_binary() {
    let Some(env) = e2e::setup("uaddr_is_relocated_in_a_position_independent_binary") else {
        return;
    };
    let workload = env.workload.display().to_string();
    let elf = std::process::Command::new("readelf")
        .args(["-h", &workload])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&elf.stdout).contains("DYN"),
        "the workload is built position-independent"
    );
    let nm = std::process::Command::new("nm")
        .arg(&workload)
        .output()
        .unwrap();
    let symbols = String::from_utf8_lossy(&nm.stdout).into_owned();
    let value = |name: &str| {
        symbols
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                let (v, _, n) = (f.next()?, f.next()?, f.next()?);
                (n == name).then(|| u64::from_str_radix(v, 16).unwrap())
            })
            .unwrap_or_else(|| panic!("no {name} in nm's output"))
    };
    let distance = value("sink") as i64 - value("main") as i64;
    let script = format!(
        r#"uprobe:{workload}:main {{ printf("%d %d %d\n", (uint64)uaddr("sink") - reg("ip"), *uaddr("sink"), sizeof(*uaddr("sink"))); exit(); }}"#
    );
    let command = format!("{workload} q");
    let (code, stdout, stderr) = e2e::tracebound(&["-e", &script, "-c", &command]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().next(),
        Some(format!("{distance} 0 8").as_str()),
        "{stderr}"
    );
}

//! Wildcards attached as one program against the same scripts attached each
//! (`TRACEBOUND_ATTACH_EACH=1`; the one program forced with `TRACEBOUND_ATTACH_ONE=1`, as the
//! estimate's choice depends on how busy the machine is): syscall tracepoints on raw_syscalls:sys_enter and sys_exit,
//! with `probe`, `args` and predicates, and a uprobe/uretprobe wildcard over a program the
//! test builds on one multi-uprobe link. Counts must be identical and exact, keys (`probe`,
//! `func`, `args`) the same, `--dry-run` must say which way it attaches (and why a shape that
//! cannot be one program is attached each), and nothing may stay loaded. The bodies use
//! several maps, keys of several fields and variables, so that the members' share of the one
//! program's stack is exercised.

mod e2e;

use std::process::Command;

use e2e::{ProgramWatch, Tally};

/// Runs `script` (exit() when the workload is done) while `workload` runs once the probes
/// are attached, attached as one program or (`each`) each on its own; returns stdout and
/// how many programs the run held. None of its programs may stay loaded after it.
fn traced(
    script: &str,
    each: bool,
    workload: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(String, usize), String> {
    let mut watch = ProgramWatch::start();
    // As one program whatever the estimate says (how busy the machine is decides that).
    let vars: &[(&str, &str)] = if each {
        &[("TRACEBOUND_ATTACH_EACH", "1")]
    } else {
        &[("TRACEBOUND_ATTACH_ONE", "1")]
    };
    // The budget is not what this checks: another process busy in the same functions must
    // not have the run refused (e2e_budget checks the verdict).
    let mut tracer = e2e::Tracer::spawn_with_env(&["--budget", "100", "-e", script], vars);
    tracer.wait_ready(0)?;
    watch.note_running(&tracer)?;
    workload()?;
    let done = tracer.finish(std::time::Duration::from_secs(60))?;
    if done.code() != Some(0) {
        return Err(format!(
            "exit {:?}\n{}{}",
            done.code(),
            done.stdout,
            done.stderr
        ));
    }
    watch.check_unloaded(std::time::Duration::from_secs(3))?;
    Ok((done.stdout, watch.noted()))
}

/// The dry run's line about how `wanted` attaches (the estimate's choice: `wanted` is in the
/// line whichever way it chose).
fn dry_run_says(script: &str, wanted: &str) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tracebound"))
        .args(["--dry-run", "--budget", "100", "-e", script])
        .output()
        .map_err(|e| e.to_string())?;
    let (code, err) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr),
    );
    let out = String::from_utf8_lossy(&out.stdout);
    if code != 0
        || !out
            .lines()
            .any(|l| l.starts_with("attach: ") && l.contains(wanted))
    {
        return Err(format!("--dry-run does not say `{wanted}`:\n{out}{err}"));
    }
    Ok(())
}

/// Both ways, the same output, holding every line of `needed`; as one program, fewer
/// programs held (every script here reads `probe` or `func`, one program per member when
/// attached each).
fn compare(
    script: &str,
    needed: &[&str],
    workload: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let (one, one_programs) = traced(script, false, workload)?;
    let (each, each_programs) = traced(script, true, workload)?;
    if one_programs >= each_programs {
        return Err(format!(
            "as one program the run held {one_programs} programs, attached each {each_programs}"
        ));
    }
    if one != each {
        return Err(format!("as one program:\n{one}\nattached each:\n{each}"));
    }
    if !one.lines().any(|l| l.starts_with('@')) {
        return Err(format!("no map printed:\n{one}"));
    }
    for line in needed {
        if !one.lines().any(|l| l == *line) {
            return Err(format!("no `{line}` in\n{one}"));
        }
    }
    Ok(())
}

fn syscalls(env: &e2e::Env) -> Result<(), String> {
    // getppid x 1000, getpid x 500, 7 writes of 16 bytes to fd 42, then getpgid (the trigger).
    let mut workload = || e2e::run_workload(env, &["g", "1000", "i", "500", "w", "7", "16", "q"]);
    let enter = r#"
tracepoint:syscalls:sys_enter_get* /comm == "tb_wl"/ { @[probe] = count(); @n = count(); }
tracepoint:syscalls:sys_enter_getpgid /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(enter, "one program on raw_syscalls:sys_enter")?;
    compare(
        enter,
        &[
            "@[tracepoint:syscalls:sys_enter_getppid]: 1000",
            "@[tracepoint:syscalls:sys_enter_getpid]: 500",
            "@[tracepoint:syscalls:sys_enter_getpgid]: 1",
        ],
        &mut workload,
    )?;
    let exit = r#"
tracepoint:syscalls:sys_exit_get* /comm == "tb_wl" && args->ret >= 0/ { @[probe] = count(); }
tracepoint:syscalls:sys_exit_getpgid /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(exit, "one program on raw_syscalls:sys_exit")?;
    compare(
        exit,
        &[
            "@[tracepoint:syscalls:sys_exit_getppid]: 1000",
            "@[tracepoint:syscalls:sys_exit_getpid]: 500",
        ],
        &mut workload,
    )
}

/// Two members, bodies with several maps and keys of several fields: the shapes whose one
/// program once shared stack slots within a member (a key written over by a value).
fn io(env: &e2e::Env) -> Result<(), String> {
    let mut workload = || e2e::run_workload(env, &["w", "7", "16", "s", "hello", "q"]);
    let exit = r#"
tracepoint:syscalls:sys_exit_read,tracepoint:syscalls:sys_exit_write
  /comm == "tb_wl" && args->ret == 16/ { @io[probe, args->ret] = count(); @n = count(); }
tracepoint:syscalls:sys_exit_getpgid /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(exit, "one program on raw_syscalls:sys_exit")?;
    compare(
        exit,
        &["@io[tracepoint:syscalls:sys_exit_write, 16]: 7", "@n: 7"],
        &mut workload,
    )?;
    let enter = r#"
tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_enter_write /comm == "tb_wl"/ {
  $c = comm;
  @k[$c, probe, args->fd] = count();
  @bytes[probe] = sum(args->count);
  @n = count();
}
tracepoint:syscalls:sys_enter_getpgid /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(enter, "one program on raw_syscalls:sys_enter")?;
    compare(
        enter,
        &[
            "@k[tb_wl, tracepoint:syscalls:sys_enter_write, 42]: 8",
            "@bytes[tracepoint:syscalls:sys_enter_write]: 117",
        ],
        &mut workload,
    )
}

/// A shape the one program cannot run exactly is attached each, and the dry run says why.
fn refused_shape() -> Result<(), String> {
    dry_run_says(
        "tracepoint:syscalls:sys_enter_get* { @[kstack] = count(); } interval:ms:1 { exit(); }",
        "attached each (`kstack` is not run as one program for a wildcard)",
    )
}

const PROGRAM: &str = r#"
#include <stdlib.h>
volatile long sink;
__attribute__((noinline, noipa)) long tb_fn_a(long x) { return x + 1; }
__attribute__((noinline, noipa)) long tb_fn_b(long x) { return x + 2; }
__attribute__((noinline, noipa)) long tb_fn_c(long x) { return x + 3; }
__attribute__((noinline, noipa)) long tb_fn_d(long x) { return x + 4; }
__attribute__((noinline, noipa)) void tb_done(void) { sink = 0; }
int main(void) {
    for (long i = 0; i < 11; i++) sink = tb_fn_a(i);
    for (long i = 0; i < 222; i++) sink = tb_fn_b(i);
    for (long i = 0; i < 3333; i++) sink = tb_fn_c(i);
    sink = tb_fn_d(-4);
    tb_done();
    return 0;
}
"#;

fn build() -> Result<String, String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dispatch-target");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let source = dir.join("target.c");
    let binary = dir.join("tb_dispatch_target");
    std::fs::write(&source, PROGRAM).map_err(|e| e.to_string())?;
    let status = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err("cc failed".into());
    }
    Ok(binary.to_str().expect("utf-8 path").to_string())
}

fn uprobes(binary: &str) -> Result<(), String> {
    let mut workload = || {
        let status = Command::new(binary).status().map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("the target failed: {status}"))
    };
    let script = format!(
        r#"
uprobe:{binary}:tb_fn_* {{ @[probe] = count(); @arg[func] = sum(arg0); @n = count(); }}
uretprobe:{binary}:tb_fn_* /retval == 0/ {{ @zero[probe] = count(); }}
uprobe:{binary}:tb_done {{ exit(); }}
"#
    );
    dry_run_says(&script, "one program on one multi-uprobe link")?;
    compare(
        &script,
        &[
            &format!("@[uprobe:{binary}:tb_fn_a]: 11"),
            &format!("@[uprobe:{binary}:tb_fn_b]: 222"),
            &format!("@[uprobe:{binary}:tb_fn_c]: 3333"),
            &format!("@[uprobe:{binary}:tb_fn_d]: 1"),
            "@arg[tb_fn_a]: 55",
            "@arg[tb_fn_b]: 24531",
            "@arg[tb_fn_c]: 5552778",
            "@arg[tb_fn_d]: -4",
            "@n: 3567",
            &format!("@zero[uretprobe:{binary}:tb_fn_d]: 1"),
        ],
        &mut workload,
    )?;
    // Keys of several fields and a variable in each member's body.
    let keyed = format!(
        r#"
uprobe:{binary}:tb_fn_* /arg0 >= 0/ {{ $odd = arg0 % 2; @k[func, $odd] = count(); @all = count(); }}
uprobe:{binary}:tb_done {{ exit(); }}
"#
    );
    compare(
        &keyed,
        &[
            "@k[tb_fn_a, 0]: 6",
            "@k[tb_fn_a, 1]: 5",
            "@k[tb_fn_b, 0]: 111",
            "@k[tb_fn_c, 0]: 1667",
            "@k[tb_fn_c, 1]: 1666",
            "@all: 3566",
        ],
        &mut workload,
    )
}

#[test]
fn wildcards_attach_as_one_program_with_the_counts_of_each() {
    let Some(env) = e2e::setup("wildcards_attach_as_one_program_with_the_counts_of_each") else {
        return;
    };
    let mut tally = Tally::default();
    tally.record(
        "syscall tracepoints on sys_enter and sys_exit",
        syscalls(&env),
    );
    tally.record("two-member syscall probes keyed by (probe, args)", io(&env));
    tally.record("a shape attached each, said in --dry-run", refused_shape());
    tally.finish();
}

#[test]
fn uprobe_wildcards_attach_as_one_link_with_the_counts_of_each() {
    let Some(_env) = e2e::setup("uprobe_wildcards_attach_as_one_link_with_the_counts_of_each")
    else {
        return;
    };
    let mut tally = Tally::default();
    tally.record(
        "uprobes and uretprobes on one link",
        build().and_then(|b| uprobes(&b)),
    );
    tally.finish();
}

/// The benchmark's wildcards (benches/wildcards.sh), every syscall tracepoint and every libc
/// function starting with str, kept to the workload: each member's number (or cookie) must
/// be the one its tracepoint (or function) has, so the counts per member are those of the
/// members attached each.
fn whole_wildcards(env: &e2e::Env) -> Result<(), String> {
    let mut workload = || {
        e2e::run_workload(
            env,
            &["g", "100", "i", "50", "w", "3", "16", "s", "hi", "q"],
        )
    };
    // The workload's last syscall ends the run, so that none comes after the maps are read.
    let syscalls = r#"
tracepoint:syscalls:sys_enter_* /comm == "tb_wl"/ { @[probe] = count(); }
tracepoint:syscalls:sys_enter_exit_group /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(syscalls, "one program on raw_syscalls:sys_enter")?;
    compare(
        syscalls,
        &[
            "@[tracepoint:syscalls:sys_enter_getppid]: 100",
            "@[tracepoint:syscalls:sys_enter_getpid]: 50",
            "@[tracepoint:syscalls:sys_enter_getpgid]: 1",
            "@[tracepoint:syscalls:sys_enter_exit_group]: 1",
        ],
        &mut workload,
    )?;
    let strs = r#"
uprobe:libc:str* /comm == "tb_wl"/ { @[probe] = count(); }
tracepoint:syscalls:sys_enter_exit_group /comm == "tb_wl"/ { exit(); }
"#;
    dry_run_says(strs, "one program on one multi-uprobe link")?;
    compare(strs, &[], &mut workload)
}

#[test]
fn the_benchmark_wildcards_count_as_attached_each() {
    let Some(env) = e2e::setup("the_benchmark_wildcards_count_as_attached_each") else {
        return;
    };
    let mut tally = Tally::default();
    tally.record(
        "sys_enter_* and uprobe:libc:str*, kept to the workload",
        whole_wildcards(&env),
    );
    tally.finish();
}

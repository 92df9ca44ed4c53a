//! Uprobes end to end, with a C program the test builds: exact call counts, arguments, return
//! values, `func`, a latency histogram from the uprobe/uretprobe pair (the mission's example
//! form), and that script on a hot function refused before attaching (its first instruction
//! is single-stepped), run with `-p` on a quiet process (a second process running the same
//! binary not counted), and narrowed by `--auto-filter -c` to the command; a function that
//! costs the machine little refused for the slowdown of the one process that calls it, and
//! uprobes at `function+offset` and at an address (on instruction boundaries only).

mod e2e;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{loaded_tb_programs, nothing_left_loaded, tracebound, Tally};

const PROGRAM: &str = r#"
#include <stdlib.h>
#include <unistd.h>
volatile long sink;
/* A call every 100 us: a cold function. */
__attribute__((noinline, noipa)) long work(long a, long b) { usleep(100); return a * 10 + b; }
/* Called as fast as the loop goes: a hot one. Its first instruction is an lea. */
__attribute__((noinline, noipa)) long hot_fn(long a) { return a * 3 + 1; }
/* In assembly so its instructions are known: push %rbp (1 byte), mov %rsp,%rbp (3), lea (5). */
long tb_framed(long x);
__asm__(".text\n.globl tb_framed\n.type tb_framed, @function\ntb_framed:\n"
        "  push %rbp\n  mov %rsp, %rbp\n  lea 0x1(%rdi,%rdi,2), %rax\n  pop %rbp\n  ret\n"
        ".size tb_framed, .-tb_framed\n");
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    long n = atol(argv[2 < argc ? 2 : 1]);
    switch (argv[1][0]) {
    case 'w': for (long i = 0; i < n; i++) sink = work(i, 7); return 0;
    case 'h': for (long i = 0;; i++) sink = hot_fn(i);
    case 'c': for (long i = 0; i < n; i++) sink = hot_fn(i); return 0;
    /* hot_fn about 2000 times a second, sleeping in between: little CPU of its own. */
    case 'p': for (long i = 0;; i++) { sink = hot_fn(i); usleep(500); }
    case 'q': pause(); return 0;
    /* hot_fn 20 times a second: a quiet process. */
    case 's': for (long i = 0;; i++) { sink = hot_fn(i); usleep(50000); }
    case 'f': for (long i = 0; i < n; i++) sink = tb_framed(i); return 0;
    }
    return 2;
}
"#;

fn build() -> Result<String, String> {
    compile(
        "cc",
        "uprobe-target",
        "target.c",
        PROGRAM,
        "tb_uprobe_target",
    )
}

/// Writes `program` to `file` in a directory of its own under the test's temporary
/// directory and builds it with `compiler` as `binary`; returns the binary's path.
fn compile(
    compiler: &str,
    dir: &str,
    file: &str,
    program: &str,
    binary: &str,
) -> Result<String, String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let source = dir.join(file);
    let binary = dir.join(binary);
    std::fs::write(&source, program).map_err(|e| e.to_string())?;
    let status = Command::new(compiler)
        .args(["-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .map_err(|e| format!("{compiler}: {e}"))?;
    if !status.success() {
        return Err(format!("{compiler} failed"));
    }
    Ok(binary.to_str().expect("utf-8 path").to_string())
}

struct Running(Child);

impl Running {
    fn start(binary: &str, mode: &str) -> Result<Running, String> {
        let child = Command::new(binary)
            .args([mode, "0"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(200));
        Ok(Running(child))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn counts_arguments_return_values_and_latency(binary: &str) -> Result<(), String> {
    let script = format!(
        "uprobe:{binary}:work {{ @calls = count(); @args[arg0 % 3, arg1] = count(); @start[tid] = nsecs; }}\n\
         uretprobe:{binary}:work < @ret = sum(retval); @lat = hist(nsecs - @start[tid]); delete(@start[tid]); >\n\
         uprobe:{binary}:main {{ @func[func] = count(); }}"
    );
    let mut tracer = e2e::Tracer::spawn(&["-e", &script]);
    tracer.wait_ready(0)?;
    let status = Command::new(binary)
        .args(["w", "50"])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("the target failed: {status}"));
    }
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(e2e::EXIT_TIMEOUT)?;
    // sum(i * 10 + 7 for i < 50) = 12600; arg0 % 3 over 0..49: 17, 17, 16.
    for needed in [
        "@calls: 50\n",
        "@args[0, 7]: 17\n",
        "@args[1, 7]: 17\n",
        "@args[2, 7]: 16\n",
        "@ret: 12600\n",
        "@func[main]: 1\n",
        "@lat:\n[",
    ] {
        if !done.stdout.contains(needed) {
            return Err(format!("no `{needed}` in\n{}{}", done.stdout, done.stderr));
        }
    }
    Ok(())
}

fn a_hot_function_is_refused(binary: &str) -> Result<(), String> {
    let before = loaded_tb_programs()?.len();
    let hot = Running::start(binary, "h")?;
    let (code, stdout, stderr) = tracebound(&["-e", &latency_script(binary)])?;
    if code != 3
        || !stderr.contains("single-stepped first instruction")
        || !stderr.contains("-p PID")
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    // The estimate's counting program goes when its link's RCU grace period ends.
    nothing_left_loaded(before).map_err(|e| format!("after the refusal: {e}"))?;
    // The hot process spins: the CPU it uses without breakpoints is most of a CPU. (The
    // counter reaches its cap at once here; its process was once judged over that instant
    // less the counting's cost at full rate for the whole window, and read as idle.)
    let hot_pid = hot.0.id();
    let (_, json, stderr) =
        tracebound(&["--dry-run", "-f", "json", "-e", &latency_script(binary)])?;
    let needle = format!("{{\"pid\": {hot_pid}, ");
    let cpu = json
        .split(&needle)
        .nth(1)
        .and_then(|rest| rest.split("\"cpu_ns_per_s\": ").nth(1))
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse::<f64>().ok());
    match cpu {
        Some(ns) if ns > 3e8 => Ok(()),
        _ => Err(format!(
            "the spinning process's CPU was read as {cpu:?} ns/s\n{json}{stderr}"
        )),
    }
}

/// A single-stepped function called ~2000 times a second by a process that otherwise sleeps:
/// a fraction of a percent of the machine, but its caller would spend far more than 5% more
/// CPU. The dry run names the process; the run is refused for it.
fn a_slowed_process_is_refused(binary: &str) -> Result<(), String> {
    let paced = Running::start(binary, "p")?;
    let pid = paced.0.id();
    let script = format!("uprobe:{binary}:hot_fn {{ @calls = count(); }}");
    let (code, stdout, stderr) =
        tracebound(&["--budget", "3", "--dry-run", "-f", "json", "-e", &script])?;
    let named = format!("\"pid\": {pid}, \"comm\": \"tb_uprobe_targe\"");
    if code != 3 || !stdout.contains(&named) || !stdout.contains("\"verdict\": \"refuse\"") {
        return Err(format!("dry run: exit {code}\n{stdout}{stderr}"));
    }
    let (code, stdout, stderr) = tracebound(&["--budget", "3", "-e", &script])?;
    let said = format!("this script would slow tb_uprobe_targe (pid {pid}) by");
    if code != 3 || !stderr.contains(&said) {
        return Err(format!("run: exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

/// `function+offset` and an address: on an instruction boundary they count every call and
/// name the probe `function+offset`; inside an instruction they are refused before anything
/// is attached (a breakpoint there would corrupt the process).
fn offsets_and_addresses(binary: &str) -> Result<(), String> {
    let command = format!("{binary} f 300");
    let nm = Command::new("nm")
        .arg(binary)
        .output()
        .map_err(|e| format!("nm: {e}"))?;
    let address = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find_map(|l| l.strip_suffix(" T tb_framed").map(str::to_string))
        .and_then(|a| u64::from_str_radix(&a, 16).ok())
        .ok_or("tb_framed is not in nm's output")?;
    for (point, probe) in [
        ("tb_framed+1".to_string(), "tb_framed+1"),
        (format!("{:#x}", address + 4), "tb_framed+4"),
    ] {
        let script = format!("uprobe:{binary}:{point} {{ @[probe] = count(); }}");
        let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
        let counted = format!("@[uprobe:{binary}:{probe}]: 300\n");
        if code != 0 || !stdout.contains(&counted) {
            return Err(format!("{point}: exit {code}\n{stdout}{stderr}"));
        }
    }
    let script = format!("uprobe:{binary}:tb_framed+2 {{ @ = count(); }}");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    if code != 1 || !stderr.contains("tb_framed+2 is inside the instruction at tb_framed+1") {
        return Err(format!("+2: exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

const CPP_PROGRAM: &str = r#"
#include <cstdio>
#include <cstdlib>
namespace ns {
struct Widget {
    __attribute__((noinline)) int poke(int x);
    __attribute__((noinline)) int poke(long x);
};
int Widget::poke(int x) { return x + 1; }
int Widget::poke(long x) { return (int)x + 2; }
}
int main(int argc, char **argv) {
    ns::Widget w;
    long n = argc > 1 ? atol(argv[1]) : 0, sum = 0;
    for (long i = 0; i < n; i++) sum += w.poke((int)i) + w.poke(i);
    printf("%ld\n", sum);
    return 0;
}
"#;

/// C++ functions by their demangled names (quoted: `::` separates attach point parts):
/// without parameters, every overload; with them, one; `func` prints the demangled signature
/// and `probe` the mangled symbol, as bpftrace 0.17 does; `-l` lists the quoted signatures,
/// each usable as it stands.
fn cpp_names_are_demangled() -> Result<(), String> {
    let binary = compile("g++", "uprobe-cpp", "widget.cc", CPP_PROGRAM, "tb_widget")?;
    let binary = binary.as_str();
    let command = format!("{binary} 40");
    let script = format!("uprobe:{binary}:\"ns::Widget::poke\" {{ @[func, probe] = count(); }}");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    for line in [
        format!("@[ns::Widget::poke(int), uprobe:{binary}:_ZN2ns6Widget4pokeEi]: 40\n"),
        format!("@[ns::Widget::poke(long), uprobe:{binary}:_ZN2ns6Widget4pokeEl]: 40\n"),
    ] {
        if code != 0 || !stdout.contains(&line) {
            return Err(format!("no `{line}`: exit {code}\n{stdout}{stderr}"));
        }
    }
    let (code, listed, stderr) = tracebound(&["-l", &format!("uprobe:{binary}:*poke*")])?;
    let expected = format!(
        "uprobe:{binary}:\"ns::Widget::poke(int)\"\nuprobe:{binary}:\"ns::Widget::poke(long)\"\n"
    );
    if code != 0 || listed != expected {
        return Err(format!("-l: exit {code}\n{listed}{stderr}"));
    }
    // A listed line is an attach point as it stands.
    let first = listed.lines().next().unwrap_or_default();
    let script = format!("{first} {{ @calls = count(); }}");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    if code != 0 || !stdout.contains("@calls: 40\n") {
        return Err(format!("{first}: exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

/// The mission's script: a latency histogram from a uprobe/uretprobe pair on `hot_fn`.
fn latency_script(binary: &str) -> String {
    format!(
        "uprobe:{binary}:hot_fn {{ @start[tid] = nsecs; }}\n\
         uretprobe:{binary}:hot_fn /@start[tid]/ {{ @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }}"
    )
}

/// The mission's script with `-p` on a quiet process (20 calls a second): accepted, and the
/// hot process running the same binary is neither counted nor trapped (its breakpoint is
/// never installed), so the histogram holds the quiet process's calls only.
fn scoped_to_a_quiet_process(binary: &str) -> Result<(), String> {
    let _hot = Running::start(binary, "h")?;
    let quiet = Running::start(binary, "s")?;
    let pid = quiet.0.id().to_string();
    let script = latency_script(binary);
    let (code, stdout, stderr) = tracebound(&["-p", &pid, "--timeout", "1", "-e", &script])?;
    let calls = e2e::hist_total(&stdout, "@lat");
    if code != 0 || !(5..=40).contains(&calls) {
        return Err(format!(
            "exit {code}, {calls} latencies (expected some 20)\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// `--auto-filter` with `-c`: the mission's script on a hot function is scoped to the
/// command, whose every call is timed, while another process running the same binary is not.
fn auto_filter_scopes_to_the_command(binary: &str) -> Result<(), String> {
    let _hot = Running::start(binary, "h")?;
    let script = latency_script(binary);
    let command = format!("{binary} c 2000");
    let (code, stdout, stderr) = tracebound(&["--auto-filter", "-c", &command, "-e", &script])?;
    if code != 0
        || !stderr.contains("auto-filter: uprobes fire in the -c command only")
        || e2e::hist_total(&stdout, "@lat") != 2000
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

#[test]
fn uprobes_run_and_are_priced() {
    if e2e::setup("uprobes_run_and_are_priced").is_none() {
        return;
    }
    let binary = match build() {
        Ok(b) => b,
        Err(e) => panic!("building the uprobe target: {e}"),
    };
    let mut tally = Tally::default();
    tally.record(
        "counts, args, retval, func, latency",
        counts_arguments_return_values_and_latency(&binary),
    );
    tally.record("hot function refused", a_hot_function_is_refused(&binary));
    tally.record("-p on a quiet process", scoped_to_a_quiet_process(&binary));
    tally.record(
        "slowed process refused",
        a_slowed_process_is_refused(&binary),
    );
    tally.record("offsets and addresses", offsets_and_addresses(&binary));
    tally.record("C++ names demangled", cpp_names_are_demangled());
    tally.record(
        "--auto-filter -c",
        auto_filter_scopes_to_the_command(&binary),
    );
    tally.finish();
}

//! Stacks end to end, with a C program the test builds twice, with frame pointers and
//! without: `@[ustack] = count()` names the program's functions (main -> outer -> inner, and
//! `middle`, inlined into outer) with their source lines from the program's debug info, as
//! the current release prints them, with exact counts, also when the program exited before
//! the maps print; without frame pointers
//! the top frame still resolves; `kstack` from a syscall tracepoint names the kernel's entry
//! path; and the same scripts run by bpftrace 0.17 print the same text (and `-f json`), byte
//! for byte.

mod e2e;

use std::process::Command;

use e2e::{tracebound, Tally};

const PROGRAM: &str = r#"
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>
volatile long sink;
__attribute__((noinline)) long inner(long a) { sink += getpgid(0); return a + 1; }
static inline __attribute__((always_inline)) long middle(long a) { return inner(a) * 2; }
__attribute__((noinline)) long outer(long a) { long r = middle(a); sink += r; return r; }
/* argv[1]: calls to make; argv[2]: seconds to stay alive afterwards; argv[3]: a file to
   wait for before the calls. */
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 3;
    if (argc > 3) while (access(argv[3], F_OK) != 0) usleep(10000);
    for (long i = 0; i < n; i++) outer(i);
    if (argc > 2) sleep(atoi(argv[2]));
    return 0;
}
"#;

/// The program built with `flags`, as `name`.
fn build(name: &str, flags: &[&str]) -> Result<String, String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stacks-target");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let source = dir.join("stacks.c");
    std::fs::write(&source, PROGRAM).map_err(|e| e.to_string())?;
    let binary = dir.join(name);
    let partial = dir.join(format!("{name}.{}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O1", "-g"])
        .args(flags)
        .arg("-o")
        .arg(&partial)
        .arg(&source)
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err("cc failed".into());
    }
    std::fs::rename(&partial, &binary).map_err(|e| e.to_string())?;
    Ok(binary.to_str().expect("utf-8 path").to_string())
}

/// The frames of the first stack key in `out` (the lines between `@[` and `]:`), trimmed.
fn first_stack(out: &str) -> Vec<String> {
    out.split("@[\n")
        .nth(1)
        .and_then(|rest| rest.split("]:").next())
        .map(|frames| frames.lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

/// A process that ran 5 calls and exited before tracebound printed: every frame from inner
/// up to libc's start names its function, the program's own with the source line (the
/// inlined `middle` on a line of its own), and the count is exact.
fn user_stack_with_frame_pointers(binary: &str) -> Result<(), String> {
    let script = format!("uprobe:{binary}:inner {{ @[ustack] = count(); }}");
    // The command lives 1 s after its calls, long enough for tracebound to note its memory
    // map, and has exited when the maps print.
    let command = format!("{binary} 5 1");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    let frames = first_stack(&stdout);
    let source = std::path::Path::new(binary).with_file_name("stacks.c");
    let at = |line: u32| format!("@{}:{line}", source.display());
    // PROGRAM's lines: inner is on 6, middle's call of inner on 7, outer's of middle on 8,
    // main's of outer on 14.
    let expected = [
        format!("inner+0{}", at(6)),
        format!("[inlined] middle{}", at(7)),
    ];
    let named = |i: usize, prefix: &str, line: u32| {
        frames
            .get(i)
            .is_some_and(|f| f.starts_with(prefix) && f.ends_with(&at(line)))
    };
    if code != 0
        || frames.get(..2) != Some(&expected[..])
        || !named(2, "outer+", 8)
        || !named(3, "main+", 14)
        || !stdout.contains("\n]: 5\n")
        || !stderr.contains("Attached 1 probe\n")
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    // Without debug info shown, the frames are the functions alone, as 0.17 printed them.
    let (code, stdout, stderr) = tracebound(&[
        "-c",
        &command,
        "-e",
        &format!("config = {{ show_debug_info = 0 }} {script}"),
    ])?;
    let frames = first_stack(&stdout);
    if code != 0
        || frames.first().map(String::as_str) != Some("inner+0")
        || !frames
            .get(1)
            .is_some_and(|f| f.starts_with("outer+") && !f.contains('@'))
        || !stdout.starts_with("\n\n@[\n    inner+0\n")
    {
        return Err(format!(
            "show_debug_info = 0: exit {code}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// `ustack(build_id)`: each frame as the kernel recorded it, the file's build id and the
/// offset into the file; the top frame is the program's own build id and `inner`'s offset.
fn user_stack_of_build_ids(binary: &str) -> Result<(), String> {
    use object::{Object, ObjectSegment, ObjectSymbol};
    let bytes = std::fs::read(binary).map_err(|e| e.to_string())?;
    let elf = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
    let id: String = elf
        .build_id()
        .map_err(|e| e.to_string())?
        .ok_or("the test program has no build id")?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let inner = elf
        .symbols()
        .find(|s| s.name() == Ok("inner"))
        .ok_or("no symbol inner")?
        .address();
    let offset = elf
        .segments()
        .find_map(|seg| {
            let (start, _) = seg.file_range();
            (inner >= seg.address() && inner < seg.address() + seg.size())
                .then(|| inner - seg.address() + start)
        })
        .ok_or("inner is in no segment")?;
    let script = format!("uprobe:{binary}:inner {{ @[ustack(build_id, 2)] = count(); }}");
    let (code, stdout, stderr) = tracebound(&["-c", &format!("{binary} 5"), "-e", &script])?;
    let frames = first_stack(&stdout);
    let top = format!("{id} {offset:#04x}");
    if code != 0
        || frames.len() != 2
        || frames[0] != top
        || !frames[1].starts_with(&format!("{id} 0x"))
        || !stdout.contains("\n]: 5\n")
    {
        return Err(format!(
            "expected the top frame `{top}`; exit {code}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// Without frame pointers the kernel cannot walk the user stack past the top frame, but the
/// top frame's address is exact and names the function.
fn user_stack_without_frame_pointers(binary: &str) -> Result<(), String> {
    let script = format!(
        "uprobe:{binary}:inner {{ @[ustack] = count(); @top[usym(reg(\"ip\"))] = count(); }}"
    );
    let command = format!("{binary} 5 1");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    if code != 0
        || !first_stack(&stdout)
            .first()
            .is_some_and(|f| f.starts_with("inner+0"))
        || !stdout.contains("\n@top[inner]: 5\n")
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

/// `kstack` from a syscall tracepoint, in bpftrace and perf mode, limited and not.
fn kernel_stack_from_a_tracepoint(binary: &str) -> Result<(), String> {
    let script = "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { @[kstack] = count(); @p[kstack(perf, 3)] = count(); }";
    let command = format!("{binary} 7");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", script])?;
    let frames = first_stack(&stdout);
    let has = |name: &str| frames.iter().any(|f| f.starts_with(name));
    let perf_lines = stdout
        .split("@p[\n")
        .nth(1)
        .map(|s| s.lines().take_while(|l| l.starts_with('\t')).count());
    if code != 0
        || !has("do_syscall_64+")
        || !frames.iter().any(|f| f.starts_with("entry_SYSCALL_64"))
        || !stdout.contains("\n]: 7\n")
        || perf_lines != Some(3)
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

/// A count by kernel stack alone (a per-CPU array indexed by the stack id) and one by the
/// stack and a constant (a hash): the same stacks with the same counts.
fn count_by_stack_id_as_a_hash_counts(binary: &str) -> Result<(), String> {
    let script = "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { @a[kstack] = count(); \
                  @b[kstack, 0] = count(); }";
    let command = format!("{binary} 9");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", script])?;
    let entries = |map: &str, close: &str| -> Vec<String> {
        (stdout.split(&format!("{map}[\n")).skip(1))
            .filter_map(|entry| entry.split_once(close))
            .map(|(frames, count)| format!("{frames}]: {}", count.lines().next().unwrap_or("")))
            .collect()
    };
    let by_id = entries("@a", "\n]: ");
    let by_hash = entries("@b", "\n, 0]: ");
    if code != 0 || by_id.is_empty() || by_id != by_hash || !stdout.contains("]: 9\n") {
        return Err(format!(
            "exit {code}\n{by_id:?}\n{by_hash:?}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// `len` of a stack counts the frames the same event's stack prints (an inlined function's
/// line is no frame): of the builtin, of a variable holding it, and cut to a frame limit;
/// kernel and user stacks.
fn stack_lengths_count_printed_frames(binary: &str) -> Result<(), String> {
    let script = format!(
        "uprobe:{binary}:inner {{ $s = ustack(3); printf(\"u %d %d %d\\n\", len(ustack), \
         len($s), len(ustack(perf))); print(ustack); exit(); }}"
    );
    let command = format!("{binary} 1 1");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", &script])?;
    let printed = |out: &str, after: &str| {
        out.split(after).nth(1).map(|rest| {
            let mut lines = rest.lines().skip(1).skip_while(|l| l.trim().is_empty());
            // An inlined function prints a line of its own in the frame it is inlined in.
            let frames = lines.by_ref().take_while(|l| !l.trim().is_empty());
            frames.filter(|l| !l.contains("[inlined]")).count()
        })
    };
    let user = stdout
        .lines()
        .find_map(|l| l.strip_prefix("u "))
        .map(str::to_string);
    let want = printed(&stdout, "u ").map(|n| format!("{n} 3 {n}"));
    if code != 0 || user.is_none() || user != want || want.as_deref() == Some("0 3 0") {
        return Err(format!(
            "user: {user:?}, printed {want:?}\nexit {code}\n{stdout}{stderr}"
        ));
    }
    let script = "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { $k = kstack; \
                  printf(\"k %d %d\\n\", len($k), len(kstack(2))); print($k); exit(); }";
    let command = format!("{binary} 1");
    let (code, stdout, stderr) = tracebound(&["-c", &command, "-e", script])?;
    let kernel = stdout
        .lines()
        .find_map(|l| l.strip_prefix("k "))
        .map(str::to_string);
    let want = printed(&stdout, "k ").map(|n| format!("{n} 2"));
    if code != 0 || kernel.is_none() || kernel != want {
        return Err(format!(
            "kernel: {kernel:?}, printed {want:?}\nexit {code}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// bpftrace 0.17, if it is here (CI installs it): the same scripts print the same bytes.
/// (Not `uaddr`: in a position-independent binary 0.17 gives the symbol table's value, the
/// current release the process's address; `e2e_library` checks ours.)
/// User stacks are compared while the process still runs (bpftrace cannot name the frames of
/// one that has exited, and with `-c` it ends the command before printing the maps: the
/// process here waits for `-p` to attach, calls, and lives on), and in bpftrace mode (perf
/// mode prints user addresses, which ASLR moves from run to run).
fn same_as_bpftrace(binary: &str) -> Result<(), String> {
    let bpftrace = "/usr/bin/bpftrace";
    if !std::path::Path::new(bpftrace).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err("bpftrace 0.17 is not installed (.ci/run installs it)".into());
        }
        println!("no {bpftrace}: not compared");
        return Ok(());
    }
    let kernel = "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { @[kstack] = count(); @p[kstack(perf)] = count(); @n[comm, kstack(2)] = count(); }";
    let user = format!(
        "uprobe:{binary}:inner {{ @[ustack] = count(); @s[ustack(3), usym(reg(\"ip\"))] = count(); \
         if (++@calls == 4) {{ print(ustack(2)); printf(\"%s|%s\\n\", ustack(1), ksym(0)); \
         printf(\"%s|%x\\n\", ksym(kaddr(\"do_syscall_64\") + 3), kaddr(\"do_syscall_64\")); exit(); }} }}"
    );
    let command = format!("{binary} 6");
    let compare = |script: &str, ours: String, theirs: String| -> Result<(), String> {
        // 0.17's forms read as the current release prints them (its JSON attached line).
        let theirs = e2e::without_attaching_line(&theirs);
        let theirs = tracebound_runtime::output::since_0_17::current_json_from_0_17(
            &e2e::current_from_0_17(&theirs, script),
        );
        if ours != theirs {
            return Err(format!(
                "{script}\n--- tracebound:\n{ours}--- bpftrace:\n{theirs}"
            ));
        }
        Ok(())
    };
    let run = |program: &str, args: &[&str]| -> Result<String, String> {
        let out = Command::new(program)
            .args(args)
            // 0.17 shows no source lines in stacks (it ignores this variable).
            .env("BPFTRACE_SHOW_DEBUG_INFO", "0")
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let ours_binary = env!("CARGO_BIN_EXE_tracebound");
    compare(
        kernel,
        run(ours_binary, &["-c", &command, "-e", kernel])?,
        run(bpftrace, &["-c", &command, "-e", kernel])?,
    )?;
    compare(
        kernel,
        run(ours_binary, &["-f", "json", "-c", &command, "-e", kernel])?,
        run(bpftrace, &["-f", "json", "-c", &command, "-e", kernel])?,
    )?;
    let ours = traced_while_alive(ours_binary, binary, &user)?;
    let theirs = traced_while_alive(bpftrace, binary, &user)?;
    compare(&user, ours, theirs)?;
    Ok(())
}

/// The environment variable both tracers answer with a line of its name once attached.
const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

/// Runs `tracer -p PID -e script` on a process that makes its 4 calls only once the tracer
/// has attached, then lives on; returns the tracer's stdout.
fn traced_while_alive(tracer: &str, binary: &str, script: &str) -> Result<String, String> {
    use std::io::{BufRead, BufReader};
    let trigger = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stacks-go.{}", std::process::id()));
    let _ = std::fs::remove_file(&trigger);
    let mut process = Command::new(binary)
        .args(["4", "5"])
        .arg(&trigger)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = process.id().to_string();
    let result = (|| {
        let mut child = Command::new(tracer)
            .args(["-p", &pid, "-e", script])
            .env("NO_COLOR", "1")
            .env("BPFTRACE_SHOW_DEBUG_INFO", "0")
            .env(NOTIFY, "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("{tracer}: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        // tracebound prints the marker line once attached; what came before it is kept
        // (bpftrace 0.17's "Attaching 1 probe...", which `compare` leaves out).
        let mut first = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("{tracer} ended before attaching:\n{first}"));
            }
            if line.trim_end() == NOTIFY {
                break;
            }
            first.push_str(&line);
            // bpftrace 0.17 answers the marker only where a BEGIN or -c runs, not for `-p`;
            // its "Attaching N probes..." comes just before it attaches.
            if line.starts_with("Attaching ") && !tracer.ends_with("tracebound") {
                std::thread::sleep(std::time::Duration::from_secs(1));
                break;
            }
        }
        std::fs::write(&trigger, b"").map_err(|e| e.to_string())?;
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).map_err(|e| e.to_string())?;
        let _ = child.wait();
        Ok(first + &rest)
    })();
    let _ = process.kill();
    let _ = process.wait();
    let _ = std::fs::remove_file(&trigger);
    result
}

#[test]
fn stacks_name_functions_as_bpftrace_does() {
    if e2e::setup("stacks_name_functions_as_bpftrace_does").is_none() {
        return;
    }
    let with_fp = build("tb_stacks_fp", &["-fno-omit-frame-pointer"])
        .unwrap_or_else(|e| panic!("building the frame-pointer target: {e}"));
    let without_fp = build("tb_stacks_nofp", &["-fomit-frame-pointer"])
        .unwrap_or_else(|e| panic!("building the target without frame pointers: {e}"));
    let mut tally = Tally::default();
    tally.record(
        "ustack with frame pointers, process exited",
        user_stack_with_frame_pointers(&with_fp),
    );
    tally.record("ustack of build ids", user_stack_of_build_ids(&with_fp));
    tally.record(
        "ustack without frame pointers: the top frame",
        user_stack_without_frame_pointers(&without_fp),
    );
    tally.record(
        "kstack from a tracepoint",
        kernel_stack_from_a_tracepoint(&with_fp),
    );
    tally.record(
        "a count by stack id counts as a hash does",
        count_by_stack_id_as_a_hash_counts(&with_fp),
    );
    tally.record(
        "len of a stack counts its printed frames",
        stack_lengths_count_printed_frames(&with_fp),
    );
    tally.record("same text as bpftrace 0.17", same_as_bpftrace(&with_fp));
    tally.finish();
}

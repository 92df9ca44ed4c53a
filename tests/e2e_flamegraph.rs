//! Flame graphs end to end: a C program the test builds spends 70% of its CPU in `hot` and
//! 30% in `cold`, both called from `work`; `profile:hz:99 /pid == cpid && comm !=
//! "tracebound"/ { @[ustack] = count(); }` with `-f folded` gives folded stacks whose counts split within 10 points of
//! that, and `--flamegraph` writes an SVG that headless Chromium (Debian's, which `.ci/run`
//! installs) renders with the `hot` box wider than the `cold` one, read from the rendered DOM.
//! Off-CPU the same way: a program that sleeps 7 ms in `long_wait` and 3 ms in `short_wait`,
//! traced on sched_switch with the stacks at which it left the CPU (examples/offcpu.bt's
//! script), folds within 10 points of 70/30 and draws `long_wait` wider, its kernel frames
//! in another colour than its user frames. The built-in tools `offcputime` and `profile`
//! (`tracebound tools NAME -p PID`) are held to the same splits on the same programs.

mod e2e;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::tracebound;

/// `hot` does 7 units of work per call of `work`, `cold` 3: the split is by CPU time, which
/// is what the profile samples, whatever else the machine runs. Built at -O0 with frame
/// pointers: gcc gives an optimised leaf (`spin`) no frame, and the kernel's frame-pointer
/// walk from it would skip its caller; it would also turn `hot`'s last call into a jump.
const PROGRAM: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
volatile unsigned long sink;
__attribute__((noinline)) void spin(long units) { for (long i = 0; i < units * 200000; i++) sink += i; }
__attribute__((noinline)) void hot(void) { spin(7); }
__attribute__((noinline)) void cold(void) { spin(3); }
__attribute__((noinline)) void work(void) { hot(); cold(); }
int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 1.5);
    while (now() < end) work();
    return 0;
}
"#;

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flamegraph");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Sleeps 7 ms, then 3 ms, argv[1] times, under a common caller.
const SLEEPER: &str = r#"
#include <stdlib.h>
#include <time.h>
static void nap(long us) { struct timespec t = {0, us * 1000}; nanosleep(&t, 0); }
__attribute__((noinline)) void long_wait(void) { nap(7000); }
__attribute__((noinline)) void short_wait(void) { nap(3000); }
__attribute__((noinline)) void cycle(void) { long_wait(); short_wait(); }
int main(int argc, char **argv) { for (int i = 0; i < atoi(argv[1]); i++) cycle(); return 0; }
"#;

fn build(name: &str, program: &str) -> String {
    let dir = scratch();
    let source = dir.join(format!("{name}.c"));
    std::fs::write(&source, program).expect("writing the program");
    let binary = dir.join(format!("{name}.{}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O0", "-fno-omit-frame-pointer", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("running cc");
    assert!(status.success(), "cc failed");
    binary.to_str().expect("utf-8 path").to_string()
}

/// The weights of the folded lines whose path passes through `frame`.
fn weight_through(folded: &str, frame: &str) -> u64 {
    folded
        .lines()
        .filter(|l| {
            l.split(' ')
                .next()
                .unwrap_or("")
                .split(';')
                .any(|f| f == frame)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The rendered width in CSS pixels and the fill of every frame box, by name, as Chromium lays the SVG
/// out: a page loads it in an `<object>` and lists each `<g>`'s title and its rect's
/// bounding box into the DOM that `--dump-dom` prints.
fn rendered_boxes(svg: &Path) -> Vec<(String, f64, String)> {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed (.ci/run installs it); under CI=true this fails"
        );
        println!("skipping the browser check: chromium is not installed");
        return Vec::new();
    };
    let page = svg.with_extension("html");
    let name = svg.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        &page,
        format!(
            r#"<html><body><object id="fg" data="{name}" type="image/svg+xml" width="1200" height="600"></object>
<pre id="out">pending</pre><script>
document.getElementById('fg').addEventListener('load', function () {{
  var rows = [];
  this.contentDocument.querySelectorAll('g').forEach(function (g) {{
    var t = g.querySelector('title'), r = g.querySelector('rect');
    if (t && r) rows.push(t.textContent.split(' (')[0] + '\t' + r.getBoundingClientRect().width + '\t' + r.getAttribute('fill'));
  }});
  document.getElementById('out').textContent = 'widths\n' + rows.join('\n');
}});
</script></body></html>"#
        ),
    )
    .expect("writing the page");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let listed = dom
        .split("widths\n")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("chromium rendered no widths: {dom}"));
    listed
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('\t');
            let (name, width, fill) = (cells.next()?, cells.next()?, cells.next()?);
            Some((name.to_string(), width.parse().ok()?, fill.to_string()))
        })
        .collect()
}

#[test]
fn a_70_30_split_folds_and_draws_in_proportion() {
    if !e2e::require_bpf("a_70_30_split_folds_and_draws_in_proportion") {
        return;
    }
    let binary = build("tb_split", PROGRAM);
    let svg = scratch().join("split.svg");
    let _ = std::fs::remove_file(&svg);
    let command = format!("{binary} 1.5");
    let (code, folded, stderr) = tracebound(&[
        "-f",
        "folded",
        "--flamegraph",
        svg.to_str().unwrap(),
        "-c",
        &command,
        "-e",
        // Not before its exec, while the child is a copy of tracebound: a sample there is a
        // stack of tracebound's code (folded as `[unknown]`).
        "profile:hz:99 /pid == cpid && comm != \"tracebound\"/ { @[ustack] = count(); }",
    ])
    .expect("running tracebound");
    let _ = std::fs::remove_file(&binary);
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {folded}");
    // Nothing but folded lines: `frame;frame;... N`, all but a few through `work`: a tick
    // may land while the program starts (the dynamic loader, before main) or exits (`_Exit`,
    // its memory torn down), each about a millisecond of the 10 between ticks.
    let mut outside = 0;
    for line in folded.lines() {
        let (path, count) = line.rsplit_once(' ').expect("a folded line");
        let count: u64 = count.parse().unwrap_or_else(|_| panic!("{line:?}"));
        if !path.contains(";work;") {
            outside += count;
        }
    }
    assert!(outside <= 3, "{outside} samples outside work: {folded}");
    let (hot, cold) = (
        weight_through(&folded, "hot"),
        weight_through(&folded, "cold"),
    );
    let share = hot as f64 * 100.0 / (hot + cold) as f64;
    println!("hot {hot} cold {cold}: {share:.1}% hot");
    assert!(hot + cold >= 40, "too few samples: {folded}");
    assert!(
        (60.0..=80.0).contains(&share),
        "hot's share {share:.1}% is not within 10 points of 70%: {folded}"
    );

    let drawn = drawn_split(&svg, "hot", "cold");
    assert!(
        drawn.is_nan() || (drawn - share).abs() < 2.0,
        "drawn {drawn:.1}% vs counted {share:.1}%"
    );
}

/// The share in % of `wide`'s box in the rendered widths of `wide` and `narrow` (after
/// checking `wide` is wider); `share` itself when no browser is there outside CI.
fn drawn_split(svg: &Path, wide: &str, narrow: &str) -> f64 {
    let boxes = rendered_boxes(svg);
    let width = |name: &str| {
        boxes
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, w, _)| *w)
            .unwrap_or_else(|| panic!("no {name} box in {boxes:?}"))
    };
    if boxes.is_empty() {
        return f64::NAN;
    }
    let (wide_px, narrow_px) = (width(wide), width(narrow));
    println!("rendered: {wide} {wide_px:.1}px, {narrow} {narrow_px:.1}px");
    assert!(
        wide_px > narrow_px,
        "{wide} {wide_px}px is not wider than {narrow} {narrow_px}px"
    );
    wide_px * 100.0 / (wide_px + narrow_px)
}

#[test]
fn off_cpu_time_folds_and_draws_in_proportion() {
    if !e2e::require_bpf("off_cpu_time_folds_and_draws_in_proportion") {
        return;
    }
    let binary = build("tb_sleeper", SLEEPER);
    let svg = scratch().join("offcpu.svg");
    let _ = std::fs::remove_file(&svg);
    // examples/offcpu.bt, for the -c command once it has exec'd (a switch inside its execve
    // is still the copy of tracebound's).
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/offcpu.bt"))
            .expect("examples/offcpu.bt")
            .replace("pid == $1", "pid == cpid && comm != \"tracebound\"");
    let command = format!("{binary} 40");
    let (code, folded, stderr) = tracebound(&[
        "-f",
        "folded",
        "--flamegraph",
        svg.to_str().unwrap(),
        "-c",
        &command,
        "-e",
        &script,
    ])
    .expect("running tracebound");
    let _ = std::fs::remove_file(&binary);
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {folded}");
    let (long, short) = (
        weight_through(&folded, "long_wait"),
        weight_through(&folded, "short_wait"),
    );
    let share = long as f64 * 100.0 / (long + short) as f64;
    println!("long_wait {long} ns, short_wait {short} ns: {share:.1}%");
    // 40 cycles of 10 ms: at least most of the 400 ms.
    assert!(long + short >= 300_000_000, "{folded}");
    assert!(
        (60.0..=80.0).contains(&share),
        "long_wait's share {share:.1}% is not within 10 points of 70%: {folded}"
    );
    // The kernel's part of the path, below the user frames.
    assert!(folded.contains(";clock_nanosleep;"), "{folded}");
    assert!(folded.contains("schedule_[k]"), "{folded}");

    let drawn = drawn_split(&svg, "long_wait", "short_wait");
    assert!(
        drawn.is_nan() || (drawn - share).abs() < 2.0,
        "drawn {drawn:.1}% vs {share:.1}%"
    );
    let boxes = rendered_boxes(&svg);
    let fill = |name: &str| {
        boxes
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(.., f)| f.clone())
    };
    if !boxes.is_empty() {
        let (kernel, user) = (fill("schedule").unwrap(), fill("long_wait").unwrap());
        // flamegraph.pl's kernel orange has green well above blue; its user red has them equal.
        let rgb = |f: &str| -> Vec<u32> {
            f.trim_start_matches("rgb(")
                .trim_end_matches(')')
                .split(',')
                .map(|c| c.trim().parse().unwrap())
                .collect()
        };
        let (k, u) = (rgb(&kernel), rgb(&user));
        assert!(
            k[1] > k[2] + 30 && u[1] == u[2],
            "kernel {kernel} is not told apart from user {user}"
        );
    }
}

#[test]
fn a_flamegraph_needs_a_map_keyed_by_a_stack() {
    // Refused before anything is loaded, so no BPF is needed.
    let (code, _, stderr) = tracebound(&[
        "--flamegraph",
        "/dev/null",
        "-e",
        "profile:hz:99 { @[comm] = count(); }",
    ])
    .expect("running tracebound");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--flamegraph: no map in the script is keyed by a stack"),
        "{stderr}"
    );
}

/// `program` built to wait for a byte on its stdin first, so that a tool can attach to it
/// with `-p` before it starts.
fn build_gated(name: &str, program: &str) -> String {
    let gated = program.replace(
        "int main(int argc, char **argv) {",
        "#include <unistd.h>\nint main(int argc, char **argv) { char gate; if (read(0, &gate, 1) != 1) return 1;",
    );
    assert_ne!(gated, program, "no main to gate");
    build(name, &gated)
}

/// Runs `binary ARG` gated, and `tracebound tools TOOL -p ITS_PID -f folded --flamegraph
/// SVG` on it; the run ends when the program exits. The folded stdout.
fn tool_on_gated(tool: &str, binary: &str, arg: &str, svg: &Path) -> String {
    use std::io::Write;
    let mut child = Command::new(binary)
        .arg(arg)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("running the program");
    let pid = child.id().to_string();
    let svg = svg.to_str().unwrap();
    let mut tracer = e2e::Tracer::spawn(&[
        "tools",
        tool,
        "-p",
        &pid,
        "-f",
        "folded",
        "--flamegraph",
        svg,
        // After `tools`, which must come first (the harness would put its budget first).
        "--budget",
        "50",
    ]);
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tools/{tool}.bt")),
    )
    .expect("the tool's script");
    if let Err(e) = tracer.wait_ready(e2e::special_probes(&script)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{tool}: {e}");
    }
    child.stdin.take().unwrap().write_all(b"g").unwrap();
    assert!(child.wait().unwrap().success());
    let done = tracer
        .finish(e2e::EXIT_TIMEOUT)
        .expect("the tool ends with the process");
    let _ = std::fs::remove_file(binary);
    assert_eq!(
        done.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        done.stderr,
        done.stdout
    );
    done.stdout
}

#[test]
fn the_offcputime_tool_folds_and_draws_70_30_in_proportion() {
    if !e2e::require_bpf("the_offcputime_tool_folds_and_draws_70_30_in_proportion") {
        return;
    }
    let binary = build_gated("tb_offcpu_tool", SLEEPER);
    let svg = scratch().join("offcputime-tool.svg");
    let _ = std::fs::remove_file(&svg);
    let folded = tool_on_gated("offcputime", &binary, "40", &svg);
    let (long, short) = (
        weight_through(&folded, "long_wait"),
        weight_through(&folded, "short_wait"),
    );
    let share = long as f64 * 100.0 / (long + short) as f64;
    println!("long_wait {long} us, short_wait {short} us: {share:.1}%");
    // 40 cycles of 10 ms, in microseconds: at least most of the 400 ms.
    assert!(long + short >= 300_000, "{folded}");
    assert!(
        (60.0..=80.0).contains(&share),
        "long_wait's share {share:.1}% is not within 10 points of 70%: {folded}"
    );
    // The process name first, then the user frames, then the kernel's. Nearly all of the
    // wait is the sleep; a moment preempted in user code (a reschedule IPI on a busy machine)
    // is off-CPU time too, without the sleep call.
    let (mut slept, mut waited) = (0u64, 0u64);
    for line in folded.lines().filter(|l| l.contains(";long_wait;")) {
        assert!(line.starts_with("tb_offcpu_tool"), "{line}");
        assert!(line.contains("schedule_[k]"), "{line}");
        let weight: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        waited += weight;
        if line.contains(";clock_nanosleep;") {
            slept += weight;
        }
    }
    assert!(
        slept * 10 >= waited * 9,
        "{slept} of {waited} us in clock_nanosleep: {folded}"
    );
    let drawn = drawn_split(&svg, "long_wait", "short_wait");
    assert!(
        drawn.is_nan() || (drawn - share).abs() < 2.0,
        "drawn {drawn:.1}% vs {share:.1}%"
    );
}

#[test]
fn the_profile_tool_folds_a_70_30_cpu_split() {
    if !e2e::require_bpf("the_profile_tool_folds_a_70_30_cpu_split") {
        return;
    }
    let binary = build_gated("tb_profile_tool", PROGRAM);
    let svg = scratch().join("profile-tool.svg");
    let _ = std::fs::remove_file(&svg);
    let folded = tool_on_gated("profile", &binary, "3", &svg);
    let (hot, cold) = (
        weight_through(&folded, "hot"),
        weight_through(&folded, "cold"),
    );
    let share = hot as f64 * 100.0 / (hot + cold) as f64;
    println!("hot {hot} cold {cold}: {share:.1}% hot");
    assert!(hot + cold >= 40, "too few samples: {folded}");
    assert!(
        (60.0..=80.0).contains(&share),
        "hot's share {share:.1}% is not within 10 points of 70%: {folded}"
    );
    let drawn = drawn_split(&svg, "hot", "cold");
    assert!(
        drawn.is_nan() || (drawn - share).abs() < 2.0,
        "drawn {drawn:.1}% vs counted {share:.1}%"
    );
}

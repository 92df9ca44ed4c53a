//! Uprobes on targets that are not a plain ELF function with a size, end to end, with programs
//! the test builds: an ELF stored in a zip archive (`uprobe:"ARCHIVE!/ENTRY":function`,
//! attached through the archive's inode; a compressed entry refused), a flat binary probed
//! at a file offset under `--unsafe` (refused without it), and a symbol of size 0 (refused
//! without `--unsafe`, also by `--dry-run`). Hits are counted: a small loader maps a file
//! executable and calls the code at an offset into it, as a process runs a library from an
//! APK or a JIT runs a flat image.

mod e2e;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{build_c, tracebound, Tally};
use object::{Object as _, ObjectSegment as _, ObjectSymbol as _};

/// Maps FILE readable and executable and calls the code OFFSET bytes into it COUNT times.
const RUN_AT: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 3;
    char *base = mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) return 4;
    long (*fn)(long) = (long (*)(long))(base + strtol(argv[2], NULL, 0));
    long sum = 0, n = atol(argv[3]);
    for (long i = 0; i < n; i++) sum += fn(i);
    printf("%ld\n", sum);
    return 0;
}
"#;

/// A leaf function that needs no relocation, so that it runs wherever it is mapped; and a
/// symbol of size 0 (an assembly label with no `.size`), called COUNT times.
const PROGRAM: &str = r#"
#include <stdlib.h>
__attribute__((noinline, noipa)) long tb_leaf(long x) { return x * 2 + 1; }
void tb_unsized(void);
__asm__(".text\n.globl tb_unsized\n.type tb_unsized, @function\ntb_unsized:\n  ret\n");
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0, sum = 0;
    for (long i = 0; i < n; i++) { sum += tb_leaf(i); tb_unsized(); }
    return sum == -1;
}
"#;

struct Built {
    dir: PathBuf,
    program: PathBuf,
    run_at: PathBuf,
}

fn build() -> Result<Built, String> {
    let program = build_c("uprobe-targets", "tb_targets", PROGRAM, &["-O1"])?;
    let run_at = build_c("uprobe-targets", "tb_run_at", RUN_AT, &["-O1"])?;
    let dir = program.parent().expect("a directory").to_path_buf();
    Ok(Built {
        dir,
        program,
        run_at,
    })
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Where function `name` is in the ELF file `elf` (a file offset), read from its segments.
fn file_offset(elf: &[u8], name: &str) -> Result<u64, String> {
    let file = object::File::parse(elf).map_err(|e| e.to_string())?;
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .ok_or_else(|| format!("no {name} in the program"))?;
    file.segments()
        .find_map(|seg| {
            let (offset, size) = seg.file_range();
            let address = symbol.address();
            (address >= seg.address() && address < seg.address() + size)
                .then(|| address - seg.address() + offset)
        })
        .ok_or_else(|| format!("{name} is in no segment"))
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("{program} {args:?}: {status}")),
    }
}

/// `zip` with these options, into a fresh archive holding `file` as `entry` (no directory).
fn zip(options: &[&str], archive: &Path, file: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(archive);
    run(
        "zip",
        &[options, &["-q", "-j", path(archive), path(file)]].concat(),
    )
}

/// `tracebound ARGS`, which must succeed and print `needed`.
fn expect_output(args: &[&str], needed: &str) -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(args)?;
    if code != 0 || !stdout.contains(needed) {
        return Err(format!(
            "{args:?}: exit {code}, wanted {needed:?}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// `tracebound ARGS`, which must fail with exit 1 and say each of `said` on stderr.
fn expect_refusal(args: &[&str], said: &[&str]) -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(args)?;
    if code != 1 || !said.iter().all(|s| stderr.contains(s)) {
        return Err(format!(
            "{args:?}: exit {code}, wanted {said:?}\n{stdout}{stderr}"
        ));
    }
    Ok(())
}

/// The program stored in a zip archive: listed and probed through the archive, a hit counted
/// when the code at the function's place in the archive runs; deflated, refused with why.
fn stored_in_a_zip_archive(built: &Built) -> Result<(), String> {
    let archive = built.dir.join("stored.zip");
    zip(&["-0"], &archive, &built.program)?;
    let member = format!("{}!/tb_targets", path(&archive));
    // Where the loader finds the function: the entry's data is the program's bytes as they
    // are, so their place in the archive plus the function's file offset in the program.
    let elf = std::fs::read(&built.program).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&archive).map_err(|e| e.to_string())?;
    let start = bytes
        .windows(elf.len())
        .position(|w| w == elf.as_slice())
        .ok_or("zip -0 did not store the program as it is")?;
    let offset = start as u64 + file_offset(&elf, "tb_leaf")?;

    expect_output(
        &["-l", &format!("uprobe:\"{member}\":tb_l*")],
        &format!("uprobe:{member}:tb_leaf\n"),
    )?;
    let command = format!("{} {} {offset:#x} 100", path(&built.run_at), path(&archive));
    let script = format!("uprobe:\"{member}\":tb_leaf {{ @calls = count(); }}");
    expect_output(&["-c", &command, "-e", &script], "@calls: 100\n")?;

    let deflated = built.dir.join("deflated.zip");
    zip(&["-9"], &deflated, &built.program)?;
    let script = format!(
        "uprobe:\"{}!/tb_targets\":tb_leaf {{ @calls = count(); }}",
        path(&deflated)
    );
    expect_refusal(&["-e", &script], &["compressed (deflate)", "zip -0"])
}

/// A flat binary (the bare code of one function, no ELF): refused without `--unsafe`, which
/// it names; with it, the address is the file offset and every call counts.
fn a_flat_binary_at_a_file_offset(built: &Built) -> Result<(), String> {
    let source = built.dir.join("flat.c");
    let object = built.dir.join("flat.o");
    let flat = built.dir.join("flat.bin");
    std::fs::write(&source, "long flat_fn(long x) { return x + 1; }\n")
        .map_err(|e| e.to_string())?;
    run("cc", &["-O1", "-c", path(&source), "-o", path(&object)])?;
    run(
        "objcopy",
        &[
            "-O",
            "binary",
            "--only-section=.text",
            path(&object),
            path(&flat),
        ],
    )?;
    let script = format!("uprobe:{}:0x0 {{ @calls = count(); }}", path(&flat));
    expect_refusal(
        &["-e", &script],
        &["it is not an ELF executable or library", "--unsafe"],
    )?;
    let command = format!("{} {} 0 50", path(&built.run_at), path(&flat));
    expect_output(&["--unsafe", "-c", &command, "-e", &script], "@calls: 50\n")
}

/// A symbol of size 0: its boundary cannot be checked, so it is refused at the function,
/// by `--dry-run` too, unless `--unsafe`; a wildcard matching it keeps it, as in bpftrace.
fn a_symbol_of_size_zero(built: &Built) -> Result<(), String> {
    let program = path(&built.program);
    let script = format!("uprobe:{program}:tb_unsized {{ @calls = count(); }}");
    let said = [
        "Could not determine boundary for tb_unsized (symbol has size 0).",
        "--unsafe",
    ];
    expect_refusal(&["-e", &script], &said)?;
    expect_refusal(&["--dry-run", "-e", &script], &said)?;
    let command = format!("{program} 40");
    expect_output(&["--unsafe", "-c", &command, "-e", &script], "@calls: 40\n")?;
    let wildcard = format!("uprobe:{program}:tb_uns* {{ @calls = count(); }}");
    expect_output(&["-c", &command, "-e", &wildcard], "@calls: 40\n")
}

#[test]
fn uprobes_on_archives_flat_binaries_and_unsized_symbols() {
    if !e2e::require_bpf("uprobes_on_archives_flat_binaries_and_unsized_symbols") {
        return;
    }
    let built = match build() {
        Ok(b) => b,
        Err(e) => panic!("building the test programs: {e}"),
    };
    let mut tally = Tally::default();
    tally.record("stored in a zip archive", stored_in_a_zip_archive(&built));
    tally.record(
        "a flat binary at a file offset",
        a_flat_binary_at_a_file_offset(&built),
    );
    tally.record("a symbol of size 0", a_symbol_of_size_zero(&built));
    tally.finish();
}

//! Every tracepoint on the machine priced by its hits: `tracebound --dry-run` over
//! `tracepoint:*:*` while the kernel's own event log (ftrace instances with every event
//! enabled, on CLOCK_MONOTONIC) records the same seconds, and each point's estimated hits set
//! against the events the log holds for that point, on the same CPU, in the same span. A
//! perf counter's reading (an event's `__perf_count` value, e.g. `sched_stat_runtime`'s
//! nanoseconds) or a `sys_exit_*` priced as its call would be off by orders of magnitude.

mod e2e;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use e2e::tracebound;

const SCRIPT: &str = "config = { max_probes = 100000 } tracepoint:*:* { @ = count(); }";
/// Long enough for rarer tracepoints to fire (the comparison is of the same events, so the
/// window's length changes only how many fire).
const WINDOW_MS: &str = "1000";
/// Per CPU: enough for a couple of seconds of syscalls without overrunning.
const BUFFER_KB: &str = "32768";

/// The reference for syscall tracepoints (which are not kernel tracepoints a program can
/// be linked to by name): the kernel's event log, an ftrace instance per family given
/// recording its events in raw form (`pid cpu ns type: id`), removed on drop. (For every
/// family at once the log loses idle-path events under its own load, power:cpu_idle and
/// timer:tick_stop among them, a quarter to three quarters of them against a BPF program on
/// the same tracepoint; syscalls it logs exactly.)
struct EventLog(Vec<PathBuf>);

impl EventLog {
    fn start(tracefs: &Path, families: &[&str]) -> Result<EventLog, String> {
        let mut log = EventLog(Vec::new());
        for family in families {
            let dir = tracefs.join(format!("instances/tb_every_{family}"));
            if dir.exists() {
                let _ = std::fs::write(dir.join("events/enable"), "0");
                let _ = std::fs::remove_dir(&dir);
            }
            std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            log.0.push(dir.clone());
            for (file, value) in [
                ("trace_clock", "mono"),
                ("buffer_size_kb", BUFFER_KB),
                ("options/raw", "1"),
            ] {
                std::fs::write(dir.join(file), value)
                    .map_err(|e| format!("writing {value} to {file}: {e}"))?;
            }
        }
        for (family, dir) in families.iter().zip(&log.0) {
            std::fs::write(dir.join(format!("events/{family}/enable")), "1")
                .map_err(|e| format!("enabling {family}: {e}"))?;
        }
        Ok(log)
    }

    /// Stops recording and returns each (event id, CPU)'s timestamps, sorted.
    fn stop(&self) -> Result<HashMap<(u32, u32), Vec<u64>>, String> {
        for dir in &self.0 {
            std::fs::write(dir.join("events/enable"), "0").map_err(|e| e.to_string())?;
        }
        let mut events: HashMap<(u32, u32), Vec<u64>> = HashMap::new();
        for dir in &self.0 {
            for stats in std::fs::read_dir(dir.join("per_cpu")).map_err(|e| e.to_string())? {
                let path = stats.map_err(|e| e.to_string())?.path().join("stats");
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                if !text.lines().any(|l| l == "overrun: 0") {
                    return Err(format!(
                        "the event log overran ({}): the reference is incomplete\n{text}",
                        path.display()
                    ));
                }
            }
            let text = std::fs::read_to_string(dir.join("trace")).map_err(|e| e.to_string())?;
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let f: Vec<&str> = line.split_whitespace().collect();
                if let [_pid, cpu, ts, "type:", id] = f[..] {
                    let (Ok(cpu), Ok(ts), Ok(id)) = (cpu.parse(), ts.parse(), id.parse()) else {
                        continue;
                    };
                    events.entry((id, cpu)).or_default().push(ts);
                }
            }
        }
        for v in events.values_mut() {
            v.sort_unstable();
        }
        Ok(events)
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::write(dir.join("events/enable"), "0");
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The reference for tracepoints that are not syscalls: a BPF program of the test's own on
/// every one of them (a raw tracepoint link each, its index as cookie), which logs every hit
/// as (point, monotonic ns) in a region per CPU of a memory-mapped array. Each point has a
/// program of its own: the kernel skips a program's run on a CPU where that same program is
/// already running (a tracepoint in an interrupt that came during it). The kernel runs it
/// exactly as often as it would run the script's program there; the kernel's event log
/// (ftrace) loses idle-path events under load, so it is the reference for syscalls only.
struct HitLog {
    records: OwnedFd,
    _index: OwnedFd,
    _links: Vec<OwnedFd>,
    _programs: Vec<OwnedFd>,
    slots: usize,
    cpus: usize,
    /// Point index → target.
    targets: Vec<String>,
}

/// Records per CPU: more than the busiest CPU logs over the run.
const LOG_SLOTS: u32 = 4 << 20;
const MMAPABLE: u32 = 1 << 10;

impl HitLog {
    fn start(targets: Vec<String>) -> Result<HitLog, String> {
        use tracebound_compiler::insn::{Alu, Cond, Helper, Insn, Reg, Size};
        use tracebound_runtime::kernel::sys;
        let err = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let cpus = sys::possible_cpus().map_err(|e| err("cpus", e))?;
        let index = sys::map_create(sys::MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 0, "tb_test_idx")
            .map_err(|e| err("index map", e))?;
        let records = sys::map_create(
            sys::MAP_TYPE_ARRAY,
            4,
            16,
            LOG_SLOTS * cpus as u32,
            MMAPABLE,
            "tb_test_hits",
        )
        .map_err(|e| err("records map", e))?;
        let map = |dst: Reg, fd: &OwnedFd| {
            let mut ld = Insn::ld_map(dst);
            ld[0].imm = fd.as_raw_fd();
            ld
        };
        // i = index[0]++ (per CPU); records[cpu * SLOTS + i] = (cookie, ktime)
        let mut code: Vec<Insn> = vec![Insn::mov64_reg(Reg::R6, Reg::R1)];
        code.push(Insn::store_imm(Size::W, Reg::FP, -4, 0));
        code.extend(map(Reg::R1, &index));
        code.push(Insn::mov64_reg(Reg::R2, Reg::FP));
        code.push(Insn::alu64_imm(Alu::Add, Reg::R2, -4));
        code.push(Insn::call(Helper::MapLookupElem));
        let out_jumps = vec![code.len()];
        code.push(Insn::jmp_imm(Cond::Eq, Reg::R0, 0, 0));
        code.push(Insn::mov64_reg(Reg::R7, Reg::R0));
        code.push(Insn::load(Size::DW, Reg::R8, Reg::R7, 0));
        let mut out_jumps = out_jumps;
        out_jumps.push(code.len());
        code.push(Insn::jmp_imm(Cond::Ge, Reg::R8, LOG_SLOTS as i32, 0));
        code.push(Insn::mov64_reg(Reg::R1, Reg::R8));
        code.push(Insn::alu64_imm(Alu::Add, Reg::R1, 1));
        code.push(Insn::store(Size::DW, Reg::R7, 0, Reg::R1));
        code.push(Insn::call(Helper::GetSmpProcessorId));
        code.push(Insn::alu64_imm(Alu::Mul, Reg::R0, LOG_SLOTS as i32));
        code.push(Insn::alu64_reg(Alu::Add, Reg::R0, Reg::R8));
        code.push(Insn::store(Size::W, Reg::FP, -8, Reg::R0));
        code.push(Insn::mov64_reg(Reg::R1, Reg::R6));
        code.push(Insn::call(Helper::GetAttachCookie));
        code.push(Insn::store(Size::DW, Reg::FP, -16, Reg::R0));
        code.push(Insn::call(Helper::KtimeGetNs));
        code.push(Insn::store(Size::DW, Reg::FP, -24, Reg::R0));
        code.extend(map(Reg::R1, &records));
        code.push(Insn::mov64_reg(Reg::R2, Reg::FP));
        code.push(Insn::alu64_imm(Alu::Add, Reg::R2, -8));
        code.push(Insn::call(Helper::MapLookupElem));
        out_jumps.push(code.len());
        code.push(Insn::jmp_imm(Cond::Eq, Reg::R0, 0, 0));
        code.push(Insn::load(Size::DW, Reg::R1, Reg::FP, -16));
        code.push(Insn::store(Size::DW, Reg::R0, 0, Reg::R1));
        code.push(Insn::load(Size::DW, Reg::R1, Reg::FP, -24));
        code.push(Insn::store(Size::DW, Reg::R0, 8, Reg::R1));
        let out = code.len();
        code.push(Insn::mov64_imm(Reg::R0, 0));
        code.push(Insn::exit());
        for at in out_jumps {
            code[at].off = (out - at - 1) as i16;
        }
        let bytes: Vec<u8> = code.iter().flat_map(|i| i.to_bytes()).collect();
        let mut links = Vec::new();
        let mut programs = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            let program =
                sys::prog_load(sys::PROG_TYPE_RAW_TRACEPOINT, 0, &bytes, "tb_test_hitlog")
                    .map_err(|e| err("loading the hit log", e))?;
            let name = target.rsplit(':').next().unwrap_or(target);
            let name = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
            let link = sys::raw_tracepoint_open(program.as_fd(), &name, i as u64)
                .map_err(|e| err(target, e))?;
            links.push(link);
            programs.push(program);
        }
        Ok(HitLog {
            records,
            _index: index,
            _links: links,
            _programs: programs,
            slots: LOG_SLOTS as usize,
            cpus,
            targets,
        })
    }

    /// Detaches and returns each (target, CPU)'s hit timestamps, sorted.
    fn stop(mut self) -> Result<HashMap<(String, u32), Vec<u64>>, String> {
        self._links.clear();
        let len = self.slots * self.cpus * 16;
        // SAFETY: a read-only shared mapping of the array map's values, unmapped below.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.records.as_raw_fd(),
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: the mapping is `len` bytes long and lives until munmap.
        let bytes = unsafe { std::slice::from_raw_parts(at as *const u8, len) };
        let word = |o: usize| u64::from_ne_bytes(bytes[o..o + 8].try_into().unwrap());
        let mut hits: HashMap<(String, u32), Vec<u64>> = HashMap::new();
        let mut full = None;
        for cpu in 0..self.cpus {
            let mut used = 0;
            for slot in 0..self.slots {
                let o = (cpu * self.slots + slot) * 16;
                let ts = word(o + 8);
                if ts == 0 {
                    break;
                }
                used += 1;
                let target = self.targets[word(o) as usize].clone();
                hits.entry((target, cpu as u32)).or_default().push(ts);
            }
            if used == self.slots {
                full = Some(cpu);
            }
        }
        // SAFETY: unmapping what was mapped above; `bytes` is not used after.
        unsafe { libc::munmap(at, len) };
        if let Some(cpu) = full {
            return Err(format!(
                "the hit log of CPU {cpu} filled up: the reference is incomplete"
            ));
        }
        for v in hits.values_mut() {
            v.sort_unstable();
        }
        Ok(hits)
    }
}

/// One attach point of the dry run's JSON: target, how it was measured, when its count
/// started, and (cpu, hits, seconds) per CPU.
struct Point {
    target: String,
    measured: String,
    since_ns: u64,
    counted: Vec<(u32, u64, f64)>,
}

/// The points of the estimate's JSON line (written by `estimate::report::json`).
fn points(json: &str) -> Vec<Point> {
    let field = |text: &str, name: &str| -> Option<String> {
        let at = text.find(&format!("\"{name}\": "))? + name.len() + 4;
        let rest = &text[at..];
        let end = if let Some(quoted) = rest.strip_prefix('"') {
            return quoted.split('"').next().map(str::to_string);
        } else if rest.starts_with('[') {
            rest.find("]]").map_or(rest.len(), |i| i + 2)
        } else {
            rest.find([',', '}']).unwrap_or(rest.len())
        };
        Some(rest[..end].to_string())
    };
    json.split("{\"target\": ")
        .skip(1)
        .filter_map(|chunk| {
            let chunk = format!("\"target\": {chunk}");
            let counted = field(&chunk, "counted").map_or_else(Vec::new, |list| {
                list.trim_matches(['[', ']'])
                    .split("], [")
                    .filter_map(|triple| {
                        let v: Vec<&str> = triple.split(", ").collect();
                        Some((
                            v.first()?.parse().ok()?,
                            v.get(1)?.parse().ok()?,
                            v.get(2)?.parse().ok()?,
                        ))
                    })
                    .collect()
            });
            Some(Point {
                target: field(&chunk, "target")?,
                measured: field(&chunk, "measured")?,
                since_ns: field(&chunk, "since_ns")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                counted,
            })
        })
        .collect()
}

/// Event ids by `tracepoint:category:name`.
fn event_ids(tracefs: &Path) -> HashMap<String, u32> {
    let mut ids = HashMap::new();
    let Ok(categories) = std::fs::read_dir(tracefs.join("events")) else {
        return ids;
    };
    for category in categories.flatten() {
        let Ok(events) = std::fs::read_dir(category.path()) else {
            continue;
        };
        for event in events.flatten() {
            if let Some(id) = std::fs::read_to_string(event.path().join("id"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                ids.insert(
                    format!(
                        "tracepoint:{}:{}",
                        category.file_name().to_string_lossy(),
                        event.file_name().to_string_lossy()
                    ),
                    id,
                );
            }
        }
    }
    ids
}

#[test]
fn every_tracepoint_is_priced_by_its_hits() {
    if !e2e::require_bpf("every_tracepoint_is_priced_by_its_hits") {
        return;
    }
    // Listing mounts tracefs where it is missing.
    let (code, listed, stderr) = tracebound(&["-l", "tracepoint:*"]).expect("tracebound -l");
    assert_eq!(code, 0, "{stderr}");
    let listed: Vec<&str> = listed.lines().collect();
    assert!(
        listed.len() > 1000,
        "only {} tracepoints listed",
        listed.len()
    );
    let tracefs = Path::new("/sys/kernel/tracing");
    let others: Vec<String> = listed
        .iter()
        .filter(|t| !t.starts_with("tracepoint:syscalls:"))
        .map(|t| t.to_string())
        .collect();
    let hit_log = HitLog::start(others).expect("the hit log");
    let log = EventLog::start(tracefs, &["syscalls"]).expect("the event log");
    let (code, json, stderr) = tracebound(&[
        "--dry-run",
        "-f",
        "json",
        "--estimate-window",
        WINDOW_MS,
        "--estimate-min",
        WINDOW_MS,
        "-e",
        SCRIPT,
    ])
    .expect("tracebound --dry-run");
    let events = log.stop().expect("the event log");
    drop(log);
    let hits = hit_log.stop().expect("the hit log");
    assert!(code == 0 || code == 3, "exit {code}\n{stderr}");
    let estimate = json
        .lines()
        .find(|l| l.starts_with("{\"type\": \"estimate\""))
        .unwrap_or_else(|| panic!("no estimate in\n{json}{stderr}"));
    let points = points(estimate);
    assert_eq!(
        points.len(),
        listed.len(),
        "every listed tracepoint is in the estimate"
    );
    let unmeasured: Vec<&str> = points
        .iter()
        .filter(|p| p.counted.is_empty())
        .map(|p| p.target.as_str())
        .collect();
    assert!(unmeasured.is_empty(), "not measured: {unmeasured:?}");

    let ids = event_ids(tracefs);
    // (target, how, estimated hits, real hits)
    let mut fired = Vec::new();
    for p in &points {
        let (mut estimated, mut real) = (0u64, 0u64);
        for &(cpu, count, seconds) in &p.counted {
            estimated += count;
            let end = p.since_ns + (seconds * 1e9) as u64;
            let ts = if p.target.starts_with("tracepoint:syscalls:") {
                let id = ids
                    .get(&p.target)
                    .unwrap_or_else(|| panic!("no event id for {}", p.target));
                events.get(&(*id, cpu))
            } else {
                hits.get(&(p.target.clone(), cpu))
            };
            let ts = ts.map_or(&[][..], Vec::as_slice);
            real +=
                (ts.partition_point(|&t| t < end) - ts.partition_point(|&t| t < p.since_ns)) as u64;
        }
        if estimated > 0 || real > 0 {
            fired.push((p.target.as_str(), p.measured.as_str(), estimated, real));
        }
    }
    let ratio = |e: u64, l: u64| e.max(l) as f64 / e.min(l).max(1) as f64;
    // Within a factor of 2, unless by at most 2 events: the window's edges (the
    // microseconds between the kernel's timestamp and the estimate's own clock reading).
    let off: Vec<String> = fired
        .iter()
        .filter(|&&(_, _, e, r)| ratio(e, r) > 2.0 && e.abs_diff(r) > 2)
        .map(|(t, m, e, r)| format!("{t} ({m}): estimated {e} hits, really {r}"))
        .collect();
    let worst_of = |least: u64| {
        fired
            .iter()
            .filter(|&&(_, _, e, r)| e.max(r) >= least)
            .max_by(|a, b| ratio(a.2, a.3).total_cmp(&ratio(b.2, b.3)))
            .map_or("-".into(), |w| {
                format!("{:.3} ({} {} vs {})", ratio(w.2, w.3), w.0, w.2, w.3)
            })
    };
    println!(
        "{} tracepoints, {} fired in the window; worst ratio: {} overall, {} among those with \
         10 hits or more",
        points.len(),
        fired.len(),
        worst_of(1),
        worst_of(10)
    );
    let mut by_ratio = fired.clone();
    by_ratio.sort_by(|a, b| ratio(b.2, b.3).total_cmp(&ratio(a.2, a.3)));
    for (t, m, e, r) in by_ratio.iter().take(10) {
        println!("  {t} ({m}): estimated {e}, really {r}");
    }
    assert!(off.is_empty(), "estimates off:\n{}", off.join("\n"));
    assert!(fired.len() >= 50, "only {} tracepoints fired", fired.len());
}

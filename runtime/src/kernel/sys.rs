//! The few bpf(2) commands tracebound needs that aya does not offer for maps whose key and
//! value sizes are only known at run time: walk a map's keys, read, update and delete entries
//! as bytes, and run a program once with BPF_PROG_TEST_RUN (how BEGIN and END run); and, for
//! the estimate's uprobe counter, create a map, load a hand-assembled program and attach it
//! with a multi-uprobe link, which aya 0.14 cannot.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const MAP_LOOKUP_ELEM: u32 = 1;
const MAP_UPDATE_ELEM: u32 = 2;
const MAP_DELETE_ELEM: u32 = 3;
const MAP_GET_NEXT_KEY: u32 = 4;
const MAP_CREATE: u32 = 0;
const PROG_LOAD: u32 = 5;
const PROG_TEST_RUN: u32 = 10;
const LINK_CREATE: u32 = 28;
const RAW_TRACEPOINT_OPEN: u32 = 17;
const MAP_LOOKUP_BATCH: u32 = 24;
const ITER_CREATE: u32 = 33;

/// Entries asked for per BPF_MAP_LOOKUP_BATCH call (grown when one hash bucket holds more).
const BATCH: u32 = 1024;

/// The part of `union bpf_attr` used by the map element commands.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// The part of `union bpf_attr` used by BPF_MAP_LOOKUP_BATCH.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// The part of `union bpf_attr` used by BPF_PROG_TEST_RUN.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
}

fn bpf<T>(cmd: u32, attr: &mut T) -> io::Result<()> {
    bpf_fd(cmd, attr).map(|_| ())
}

/// A bpf(2) command that returns a file descriptor (or 0).
fn bpf_fd<T>(cmd: u32, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, properly laid out prefix of `union bpf_attr` for `cmd`, and
    // every pointer in it refers to a buffer that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// `bpf_map_type` values used here.
pub const MAP_TYPE_ARRAY: u32 = 2;
pub const MAP_TYPE_PERCPU_HASH: u32 = 5;
pub const MAP_TYPE_PERCPU_ARRAY: u32 = 6;

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `map_flags`: allocate hash entries when inserted, not all when created.
pub const MAP_F_NO_PREALLOC: u32 = 1;

/// Creates a map.
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    let mut attr = MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags,
        ..MapCreateAttr::default()
    };
    copy_name(&mut attr.map_name, name);
    bpf_fd(MAP_CREATE, &mut attr).map(owned)
}

fn copy_name(to: &mut [u8; 16], name: &str) {
    let n = name.len().min(15);
    to[..n].copy_from_slice(&name.as_bytes()[..n]);
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `bpf_prog_type` and `bpf_attach_type` values used here.
pub const PROG_TYPE_KPROBE: u32 = 2;
pub const ATTACH_TRACE_UPROBE_MULTI: u32 = 48;

/// Loads a program from encoded instructions (8 bytes each); on a verifier rejection the
/// error carries the verifier's log.
pub fn prog_load(
    prog_type: u32,
    expected_attach_type: u32,
    code: &[u8],
    name: &str,
) -> io::Result<OwnedFd> {
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: (code.len() / 8) as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type,
        ..ProgLoadAttr::default()
    };
    copy_name(&mut attr.prog_name, name);
    bpf_fd(PROG_LOAD, &mut attr).map(owned).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        io::Error::new(
            e.kind(),
            format!("{e}: {}", String::from_utf8_lossy(&log[..end]).trim()),
        )
    })
}

/// Why the kernel refused a program: the error and the verifier's log as it wrote it.
#[derive(Debug)]
pub struct ProgRefused {
    pub error: io::Error,
    pub log: String,
}

/// Loads a program under `license`, from encoded instructions (8 bytes each), asking the
/// verifier for its statistics only (`log_level` 4) or, with `trail`, for every instruction
/// it walked (1); a rejection keeps the log apart from the error.
pub fn prog_load_licensed(
    prog_type: u32,
    expected_attach_type: u32,
    code: &[u8],
    name: &str,
    license: &std::ffi::CStr,
    trail: bool,
) -> Result<OwnedFd, ProgRefused> {
    let mut log = vec![0u8; if trail { 16 << 20 } else { 64 * 1024 }];
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: (code.len() / 8) as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: if trail { 1 } else { 4 },
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type,
        ..ProgLoadAttr::default()
    };
    copy_name(&mut attr.prog_name, name);
    bpf_fd(PROG_LOAD, &mut attr).map(owned).map_err(|error| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        ProgRefused {
            error,
            log: String::from_utf8_lossy(&log[..end]).into_owned(),
        }
    })
}

/// `union bpf_attr` for BPF_PROG_LOAD up to `attach_btf_id`, which tracing programs
/// (fentry/fexit) need: the BTF id of the kernel function they attach to.
#[repr(C)]
#[derive(Default)]
struct TracingLoadAttr {
    base: ProgLoadAttr,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    _pad: u32,
}

pub const PROG_TYPE_TRACING: u32 = 26;
pub const ATTACH_TRACE_FENTRY: u32 = 24;

/// Loads a tracing program for the vmlinux function whose BTF id is `attach_btf_id`.
pub fn prog_load_tracing(
    expected_attach_type: u32,
    attach_btf_id: u32,
    code: &[u8],
    name: &str,
) -> io::Result<OwnedFd> {
    let license = c"GPL";
    let mut attr = TracingLoadAttr {
        base: ProgLoadAttr {
            prog_type: PROG_TYPE_TRACING,
            insn_cnt: (code.len() / 8) as u32,
            insns: code.as_ptr() as u64,
            license: license.as_ptr() as u64,
            expected_attach_type,
            ..ProgLoadAttr::default()
        },
        attach_btf_id,
        ..TracingLoadAttr::default()
    };
    copy_name(&mut attr.base.prog_name, name);
    bpf_fd(PROG_LOAD, &mut attr).map(owned)
}

#[repr(C)]
#[derive(Default)]
struct UprobeMultiLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    path: u64,
    offsets: u64,
    ref_ctr_offsets: u64,
    cookies: u64,
    cnt: u32,
    multi_flags: u32,
    pid: u32,
    _pad: u32,
}

/// Attaches `prog` at every file offset of `path` with one link (uretprobes with `ret`),
/// each offset with its semaphore's file offset (0: none) and its cookie; with `pid`, in that
/// process only. Closing the link detaches every one of them at once.
pub fn link_uprobe_multi(
    prog: BorrowedFd,
    path: &std::ffi::CStr,
    offsets: &[u64],
    ref_ctr_offsets: &[u64],
    cookies: &[u64],
    ret: bool,
    pid: Option<u32>,
) -> io::Result<OwnedFd> {
    assert!(offsets.len() == cookies.len() && offsets.len() == ref_ctr_offsets.len());
    let mut attr = UprobeMultiLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_TRACE_UPROBE_MULTI,
        path: path.as_ptr() as u64,
        offsets: offsets.as_ptr() as u64,
        ref_ctr_offsets: ref_ctr_offsets.as_ptr() as u64,
        cookies: cookies.as_ptr() as u64,
        cnt: offsets.len() as u32,
        multi_flags: u32::from(ret), // BPF_F_UPROBE_MULTI_RETURN
        pid: pid.unwrap_or(0),
        ..UprobeMultiLinkAttr::default()
    };
    bpf_fd(LINK_CREATE, &mut attr).map(owned)
}

/// `bpf_attach_type` of an iterator's program and link.
pub const ATTACH_TRACE_ITER: u32 = 28;

/// `union bpf_attr` for BPF_LINK_CREATE of an iterator: no `iter_info`, so the iterator
/// walks everything it can (every task, not one).
#[repr(C)]
#[derive(Default)]
struct IterLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    iter_info: u64,
    iter_info_len: u32,
    _pad: u32,
}

/// Links a loaded iterator program (BPF_TRACE_ITER) to its iterator; reading the link
/// through `iterator_open` runs the program over the iterator's objects.
pub fn link_iterator(prog: BorrowedFd) -> io::Result<OwnedFd> {
    let mut attr = IterLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_TRACE_ITER,
        ..IterLinkAttr::default()
    };
    bpf_fd(LINK_CREATE, &mut attr).map(owned)
}

#[repr(C)]
#[derive(Default)]
struct IterCreateAttr {
    link_fd: u32,
    flags: u32,
}

/// A new walk of an iterator link: a file whose read(2) runs the program once per object
/// and returns what it wrote to its seq file, then 0 at the end.
pub fn iterator_open(link: BorrowedFd) -> io::Result<std::fs::File> {
    let mut attr = IterCreateAttr {
        link_fd: link.as_raw_fd() as u32,
        flags: 0,
    };
    bpf_fd(ITER_CREATE, &mut attr).map(|fd| std::fs::File::from(owned(fd)))
}

pub const PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN with the cookie field (Linux 6.10).
#[repr(C)]
#[derive(Default)]
struct RawTracepointAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
    cookie: u64,
}

/// Attaches a raw tracepoint program to the kernel tracepoint `name`, with `cookie` for
/// `bpf_get_attach_cookie`. Closing the link detaches it without waiting for a grace period
/// (a perf event on a tracepoint waits for one on close, under a global mutex).
pub fn raw_tracepoint_open(
    prog: BorrowedFd,
    name: &std::ffi::CStr,
    cookie: u64,
) -> io::Result<OwnedFd> {
    let mut attr = RawTracepointAttr {
        name: name.as_ptr() as u64,
        prog_fd: prog.as_raw_fd() as u32,
        cookie,
        ..RawTracepointAttr::default()
    };
    bpf_fd(RAW_TRACEPOINT_OPEN, &mut attr).map(owned)
}

/// A map's entries as (key, value) bytes.
pub type MapEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// A map read and written as bytes.
pub struct MapBytes<'fd> {
    fd: BorrowedFd<'fd>,
    key_size: usize,
    /// The size of one value as user space sees it: for per-CPU maps, one slot per possible
    /// CPU, each rounded up to 8 bytes.
    value_size: usize,
    /// An array whose all-zero entries stand for absent ones (`MapInfo::zero_is_unset`): they
    /// are not listed, and deleting writes zeros.
    zero_is_unset: bool,
}

impl<'fd> MapBytes<'fd> {
    pub fn new(
        fd: BorrowedFd<'fd>,
        key_size: u32,
        value_size: u32,
        per_cpu_slots: Option<usize>,
    ) -> Self {
        let value_size = match per_cpu_slots {
            Some(cpus) => (value_size as usize).next_multiple_of(8) * cpus,
            None => value_size as usize,
        };
        MapBytes {
            fd,
            key_size: key_size as usize,
            value_size,
            zero_is_unset: false,
        }
    }

    /// The same map read as an array whose all-zero entries are absent.
    pub fn zero_is_unset(self, yes: bool) -> Self {
        MapBytes {
            zero_is_unset: yes,
            ..self
        }
    }

    /// Every key, in the kernel's iteration order.
    pub fn keys(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        let mut next = vec![0u8; self.key_size];
        let mut current: Option<Vec<u8>> = None;
        loop {
            let mut attr = MapElemAttr {
                map_fd: self.fd.as_raw_fd() as u32,
                key: current.as_ref().map_or(0, |k| k.as_ptr() as u64),
                value: next.as_mut_ptr() as u64,
                ..MapElemAttr::default()
            };
            match bpf(MAP_GET_NEXT_KEY, &mut attr) {
                Ok(()) => {
                    keys.push(next.clone());
                    current = Some(next.clone());
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(keys),
                Err(e) => return Err(e),
            }
        }
    }

    /// The value under `key`, or `None`.
    pub fn lookup(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.value_size];
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_mut_ptr() as u64,
            ..MapElemAttr::default()
        };
        match bpf(MAP_LOOKUP_ELEM, &mut attr) {
            Ok(()) if self.zero_is_unset && value.iter().all(|&b| b == 0) => Ok(None),
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_ptr() as u64,
            ..MapElemAttr::default()
        };
        bpf(MAP_UPDATE_ELEM, &mut attr)
    }

    pub fn delete(&self, key: &[u8]) -> io::Result<()> {
        if self.zero_is_unset {
            return self.update(key, &vec![0u8; self.value_size]);
        }
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            ..MapElemAttr::default()
        };
        match bpf(MAP_DELETE_ELEM, &mut attr) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
            _ => Ok(()),
        }
    }

    /// Every entry, as (key, value) bytes.
    pub fn entries(&self) -> io::Result<MapEntries> {
        match self.entries_batched() {
            Ok(mut entries) => {
                if self.zero_is_unset {
                    entries.retain(|(_, value)| value.iter().any(|&b| b != 0));
                }
                return Ok(entries);
            }
            // Kernels before 5.6, and map types without batch operations, walk key by key.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOTSUP | 524)) => {}
            Err(e) => return Err(e),
        }
        self.entries_by_key()
    }

    /// Every entry with BPF_MAP_LOOKUP_BATCH: a thousand entries a call instead of two calls
    /// an entry (a 10,000-key map in ~10 calls), each hash bucket read whole.
    fn entries_batched(&self) -> io::Result<MapEntries> {
        let mut out = Vec::new();
        let mut count = BATCH;
        // The kernel's position token (a u32 bucket index for hash maps).
        let mut token = [0u8; 8];
        let mut next = [0u8; 8];
        let mut first = true;
        loop {
            let mut keys = vec![0u8; self.key_size * count as usize];
            let mut values = vec![0u8; self.value_size * count as usize];
            let mut attr = BatchAttr {
                in_batch: if first { 0 } else { token.as_ptr() as u64 },
                out_batch: next.as_mut_ptr() as u64,
                keys: keys.as_mut_ptr() as u64,
                values: values.as_mut_ptr() as u64,
                count,
                map_fd: self.fd.as_raw_fd() as u32,
                ..BatchAttr::default()
            };
            let result = bpf(MAP_LOOKUP_BATCH, &mut attr);
            let done = match result {
                Ok(()) => false,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => true,
                // One bucket holds more entries than asked for: ask for more.
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && count < 1 << 20 => {
                    count *= 2;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let got = attr.count as usize;
            for i in 0..got {
                out.push((
                    keys[i * self.key_size..(i + 1) * self.key_size].to_vec(),
                    values[i * self.value_size..(i + 1) * self.value_size].to_vec(),
                ));
            }
            if done {
                return Ok(out);
            }
            token = next;
            first = false;
        }
    }

    fn entries_by_key(&self) -> io::Result<MapEntries> {
        let mut out = Vec::new();
        for key in self.keys()? {
            // An entry deleted between listing and reading is simply gone.
            if let Some(v) = self.lookup(&key)? {
                out.push((key, v));
            }
        }
        Ok(out)
    }

    /// `clear(@m)`: removes every entry.
    pub fn clear(&self) -> io::Result<()> {
        // An array's entries are all there (an array by stack id has thousands): only those
        // added to need zeroing, and one batched read finds them.
        let keys = if self.zero_is_unset {
            self.entries()?.into_iter().map(|(key, _)| key).collect()
        } else {
            self.keys()?
        };
        for key in keys {
            self.delete(&key)?;
        }
        Ok(())
    }

    /// `zero(@m)`: keeps the keys, zeroes the values.
    pub fn zero(&self) -> io::Result<()> {
        let zeros = vec![0u8; self.value_size];
        for key in self.keys()? {
            self.update(&key, &zeros)?;
        }
        Ok(())
    }
}

/// Runs a loaded program once in the kernel (BPF_PROG_TEST_RUN) and returns its return value.
/// Raw tracepoint programs run this way with an empty context: that is how BEGIN and END run.
pub fn test_run(prog_fd: BorrowedFd) -> io::Result<u32> {
    let mut attr = TestRunAttr {
        prog_fd: prog_fd.as_raw_fd() as u32,
        ..TestRunAttr::default()
    };
    bpf(PROG_TEST_RUN, &mut attr)?;
    Ok(attr.retval)
}

/// Runs an XDP program `repeat` times in a row through BPF_PROG_TEST_RUN (raw tracepoint
/// programs cannot be repeated); returns its last return value and the kernel's average time
/// of one run, in nanoseconds.
pub fn test_run_repeated(prog_fd: BorrowedFd, repeat: u32) -> io::Result<(u32, u32)> {
    // The kernel wants a packet of at least an Ethernet header for an XDP test run.
    let packet = [0u8; 14];
    let mut attr = TestRunAttr {
        prog_fd: prog_fd.as_raw_fd() as u32,
        repeat,
        data_in: packet.as_ptr() as u64,
        data_size_in: packet.len() as u32,
        ..TestRunAttr::default()
    };
    bpf(PROG_TEST_RUN, &mut attr)?;
    Ok((attr.retval, attr.duration))
}

/// Whether a unit test that needs root may go on: true as root; otherwise it is to return
/// early, except under CI=true, where a test never skips and this fails it instead.
#[cfg(test)]
pub fn root_for_test() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "needs root");
    false
}

/// The CPU time a process has used so far, in nanoseconds, exact to the moment (its CPU
/// clock, unlike /proc's tick-based times); `None` once it has exited.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls only write the out-parameters given.
    unsafe {
        if libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) != 0 {
            return None;
        }
        let mut t: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut t) != 0 {
            return None;
        }
        Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
    }
}

/// How many per-CPU slots a per-CPU map value has: the possible CPUs.
pub fn possible_cpus() -> io::Result<usize> {
    cpus_in("/sys/devices/system/cpu/possible").map(|c| c.len())
}

/// The inode of the initial pid namespace (`PROC_PID_INIT_INO`).
const INITIAL_PID_NAMESPACE: u64 = 0xefff_fffc;

/// This process's pid namespace as (nsfs device, inode), when it is not the initial one
/// (unreadable counts as the initial one: pids are then read as the kernel numbers them).
pub fn own_pid_namespace() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/pid").ok()?;
    (ns.ino() != INITIAL_PID_NAMESPACE).then(|| (ns.dev(), ns.ino()))
}

/// The CPUs that are online now (where per-CPU perf events can be opened).
pub fn online_cpus() -> io::Result<Vec<u32>> {
    cpus_in("/sys/devices/system/cpu/online")
}

fn cpus_in(path: &str) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(path)?;
    parse_cpu_list(text.trim())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {text:?}")))
}

/// "0-3,5,7-8" → [0, 1, 2, 3, 5, 7, 8].
fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// A loaded program's (run count, run time in ns) as the kernel accounts them (they advance
/// only while someone holds BPF_ENABLE_STATS), from its fd's `/proc/self/fdinfo` entry: a
/// file read, no bpf() call, so any thread holding a duplicate of the fd may ask.
pub fn program_run_stats(fd: BorrowedFd) -> io::Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("run_cnt:"), field("run_time_ns:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,5,7-8").map(|c| c.len()), Some(7));
        assert_eq!(parse_cpu_list("x"), None);
    }
}

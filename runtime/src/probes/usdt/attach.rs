//! Attaching a loaded program to one USDT site: a uprobe perf event on the site's `nop`,
//! opened by hand because aya 0.14's `UProbe::attach` cannot pass the semaphore. The uprobe
//! PMU takes the semaphore's file offset as `ref_ctr_offset` (config bits 32..63); the kernel
//! then adds 1 to the semaphore in every process where the breakpoint is installed while the
//! event exists, and takes it back when the event's descriptor is closed. So a probe guarded
//! by its semaphore fires only while traced, and closing the returned descriptor (on any exit
//! path; the kernel closes it after SIGKILL) detaches the program and restores the semaphore.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use tracebound_compiler::machine::facts::UsdtSite;

const ATTR_SIZE: usize = 128;
const FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IOW('$', 8, __u32)`.
const IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
/// `_IO('$', 0)`.
const IOC_ENABLE: libc::c_ulong = 0x2400;
/// Where the uprobe PMU's `ref_ctr_offset` starts in `config`.
const REF_CTR_SHIFT: u32 = 32;

/// The uprobe PMU's perf type, or why there is none.
fn uprobe_pmu() -> io::Result<u32> {
    let text = std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/type")?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad uprobe PMU type"))
}

/// Attaches `program` (a loaded uprobe program's fd) to `site`; with `pid`, the breakpoint is
/// installed in that process only. The event lives as long as the returned descriptor.
pub fn attach_site(
    program: BorrowedFd<'_>,
    site: &UsdtSite,
    pid: Option<u32>,
) -> io::Result<OwnedFd> {
    let path = CString::new(site.path.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
    let semaphore = site.semaphore.unwrap_or(0);
    if semaphore >= 1 << 32 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the semaphore's file offset does not fit the kernel's 32 bits",
        ));
    }
    let mut attr = [0u8; ATTR_SIZE];
    let put32 = |a: &mut [u8], at: usize, v: u32| a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    let put64 = |a: &mut [u8], at: usize, v: u64| a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    put32(&mut attr, 0, uprobe_pmu()?); // type
    put32(&mut attr, 4, ATTR_SIZE as u32); // size
    put64(&mut attr, 8, semaphore << REF_CTR_SHIFT); // config: not a retprobe
    put64(&mut attr, 16, 1); // sample_period
    put64(&mut attr, 56, path.as_ptr() as u64); // config1: uprobe_path
    put64(&mut attr, 64, site.offset); // config2: probe_offset
                                       // One process on any CPU, or every process (the event itself on CPU 0: a uprobe runs
                                       // its programs wherever the process hits it).
    let (pid, cpu) = match pid {
        Some(pid) => (pid as libc::c_long, -1 as libc::c_long),
        None => (-1, 0),
    };
    // SAFETY: `attr` is a zero-filled perf_event_attr of the size it declares, and `path`
    // outlives the call; the kernel only reads them.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            pid,
            cpu,
            -1 as libc::c_long,
            FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    let event = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: plain ioctls on a descriptor we own; SET_BPF reads the program fd by value.
    unsafe {
        if libc::ioctl(event.as_raw_fd(), IOC_SET_BPF as _, program.as_raw_fd()) < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::ioctl(event.as_raw_fd(), IOC_ENABLE as _, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(event)
}

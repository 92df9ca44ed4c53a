//! Counting-only perf events: how often a tracepoint or a software event fires, measured
//! without any BPF program. aya keeps `perf_event_open` private, so this is the project's own
//! small wrapper.
//!
//! Each counter stops itself at a cap: it is opened disabled as a sampling event whose period
//! is the cap, and enabled with `PERF_EVENT_IOC_REFRESH(1)`, which lets exactly one overflow
//! happen and then disables the event in the kernel. Estimating an event that fires 10M times
//! a second therefore costs at most `cap` hits per CPU, and the time the counter was enabled
//! gives the rate even when it stopped early.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `perf_event_attr.type`.
pub const TYPE_SOFTWARE: u32 = 1;
pub const TYPE_TRACEPOINT: u32 = 2;

const ATTR_SIZE: usize = 128;
const FORMAT_TOTAL_TIME_ENABLED: u64 = 1;
const FLAG_DISABLED: u64 = 1;
const FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 2)`.
const IOC_REFRESH: libc::c_ulong = 0x2402;

/// What to count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    pub kind: u32,
    pub config: u64,
}

/// One event counting on one CPU (all processes), or in one process (all CPUs).
pub struct Counter {
    fd: OwnedFd,
    cap: u64,
}

/// A counter's reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub count: u64,
    /// Nanoseconds the counter was enabled (it stops at the cap).
    pub enabled_ns: u64,
    /// Whether it reached its cap (so the count is a lower bound on the window's events).
    pub capped: bool,
}

impl Counter {
    /// Opens and starts a counter that stops by itself after `cap` events. `cpu` -1 with a
    /// `pid` counts that process on every CPU; `pid` -1 with a `cpu` counts every process there.
    pub fn start(event: &EventSpec, pid: i32, cpu: i32, cap: u64) -> io::Result<Counter> {
        let mut attr = [0u8; ATTR_SIZE];
        let put32 =
            |a: &mut [u8], at: usize, v: u32| a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        let put64 =
            |a: &mut [u8], at: usize, v: u64| a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        put32(&mut attr, 0, event.kind);
        put32(&mut attr, 4, ATTR_SIZE as u32);
        put64(&mut attr, 8, event.config);
        put64(&mut attr, 16, cap.max(1)); // sample_period
        put64(&mut attr, 32, FORMAT_TOTAL_TIME_ENABLED); // read_format
        put64(&mut attr, 40, FLAG_DISABLED);
        // SAFETY: `attr` is a zero-filled perf_event_attr of the size it declares; the kernel
        // only reads it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                pid as libc::c_long,
                cpu as libc::c_long,
                -1 as libc::c_long,
                FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: a plain ioctl on a descriptor we own.
        if unsafe { libc::ioctl(fd.as_raw_fd(), IOC_REFRESH as _, 1) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Counter { fd, cap })
    }

    pub fn read(&self) -> io::Result<Reading> {
        let mut buf = [0u64; 2];
        // SAFETY: reading at most 16 bytes into a 16-byte buffer.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 16) };
        if n != 16 {
            return Err(io::Error::last_os_error());
        }
        Ok(Reading {
            count: buf[0],
            enabled_ns: buf[1],
            capped: buf[0] >= self.cap,
        })
    }
}

/// A tracepoint's perf id (`events/CATEGORY/EVENT/id` in tracefs).
pub fn tracepoint_id(tracefs: &std::path::Path, category: &str, event: &str) -> io::Result<u64> {
    let text =
        std::fs::read_to_string(tracefs.join("events").join(category).join(event).join("id"))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad tracepoint id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PERF_COUNT_SW_DUMMY` never fires; `PERF_COUNT_SW_CPU_CLOCK` counts nanoseconds.
    const SW_CPU_CLOCK: u64 = 0;

    #[test]
    fn a_counter_stops_at_its_cap() {
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        // Task clock of this process counts nanoseconds of its CPU time: spin past the cap.
        let event = EventSpec {
            kind: TYPE_SOFTWARE,
            config: SW_CPU_CLOCK,
        };
        let counter = Counter::start(&event, 0, -1, 1_000_000).expect("perf_event_open");
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::black_box(0u64);
        }
        let r = counter.read().unwrap();
        assert!(r.capped, "{r:?}");
        // It stopped near the cap (one overflow, then disabled), not after 20 ms of counting.
        assert!(r.count < 5_000_000, "{r:?}");
    }
}

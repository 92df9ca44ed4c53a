//! The consumer side of a BPF ring buffer, read in batches.
//!
//! aya's reader moves the consumer position after every record. The kernel wakes a
//! waiting reader when a program commits a record at exactly the consumer's position, so a
//! reader that keeps pace record by record has the traced code raise a wakeup (an irq_work,
//! then a remote task wakeup) for most records. This reader hands out every record the
//! producer has finished up to its position as read once, and publishes the consumer
//! position once per batch: while a batch is being handled nothing wakes it, and the traced
//! side pays for at most one wakeup per batch.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The header the kernel writes before each record: a length word and a page offset.
const HEADER: usize = 8;
/// Set in the length word while the producer is still writing the record.
const BUSY: u32 = 1 << 31;
/// Set in the length word of a record the producer discarded.
const DISCARD: u32 = 1 << 30;

/// One mapping of the region the kernel maps at `offset` of the map's fd.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(fd: BorrowedFd, len: usize, prot: i32, offset: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the ring buffer's fd; the kernel checks the
        // offset, length and protection against the map.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A ring buffer's consumer: the consumer page (written) and the producer page with the
/// data pages after it, which the kernel maps twice in a row so that a record running past
/// the end reads on without a break.
pub struct RingReader {
    /// The map's fd, polled for records when the reader waits.
    fd: OwnedFd,
    consumer: Mapping,
    producer: Mapping,
    page: usize,
    mask: u64,
    /// Where this reader is; published to the kernel at the end of each batch.
    position: u64,
}

// SAFETY: the mappings belong to this reader alone; the shared words are read and written
// through atomics.
unsafe impl Send for RingReader {}

impl AsRawFd for RingReader {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl RingReader {
    /// Maps the ring buffer behind `fd`, of `size` bytes (the map's max_entries, a power of
    /// two and a multiple of the page size).
    pub fn new(fd: OwnedFd, size: u32) -> io::Result<RingReader> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let size = size as usize;
        if !size.is_power_of_two() || !size.is_multiple_of(page) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a ring buffer of {size} bytes"),
            ));
        }
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let consumer = Mapping::new(fd.as_fd(), page, rw, 0)?;
        let producer = Mapping::new(fd.as_fd(), page + 2 * size, libc::PROT_READ, page)?;
        let mut reader = RingReader {
            fd,
            consumer,
            producer,
            page,
            mask: size as u64 - 1,
            position: 0,
        };
        reader.position = reader.consumer_word().load(Ordering::Acquire);
        Ok(reader)
    }

    fn consumer_word(&self) -> &AtomicU64 {
        // SAFETY: the consumer page starts with the kernel's 8-byte-aligned consumer position.
        unsafe { &*self.consumer.ptr.cast::<AtomicU64>() }
    }

    fn producer_word(&self) -> &AtomicU64 {
        // SAFETY: the producer page starts with the kernel's producer position.
        unsafe { &*self.producer.ptr.cast::<AtomicU64>() }
    }

    /// The bytes of records the producer has reserved past this reader (finished or not).
    pub fn pending(&self) -> u64 {
        self.producer_word()
            .load(Ordering::Acquire)
            .wrapping_sub(self.position)
    }

    /// How far this reader has read, in bytes since the buffer was made.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The buffer's size in bytes.
    pub fn size(&self) -> u64 {
        self.mask + 1
    }

    /// Hands `handle` every finished record up to the producer's position as read now, at
    /// most `max_records`, stopping early when it says so (returns false); then publishes
    /// the new consumer position once. Returns the records handed out.
    pub fn batch<E>(
        &mut self,
        max_records: usize,
        mut handle: impl FnMut(&[u8]) -> Result<bool, E>,
    ) -> Result<usize, E> {
        let end = self.producer_word().load(Ordering::Acquire);
        let mut records = 0;
        let mut result = Ok(());
        while self.position < end && records < max_records {
            let at = (self.position & self.mask) as usize;
            // SAFETY: `at` is within the first copy of the data pages; the header is 8-byte
            // aligned (records are 8-byte multiples) and its length word is the kernel's,
            // released when the record was committed.
            let data = unsafe { self.producer.ptr.add(self.page + at) };
            let word = unsafe { &*data.cast::<AtomicU32>() }.load(Ordering::Acquire);
            if word & BUSY != 0 {
                break;
            }
            let len = (word & !(BUSY | DISCARD)) as usize;
            self.position += (HEADER + len).next_multiple_of(8) as u64;
            if word & DISCARD != 0 {
                continue;
            }
            // SAFETY: a committed record of `len` bytes after its header; the double mapping
            // makes it contiguous even where it wraps.
            let record = unsafe { std::slice::from_raw_parts(data.add(HEADER), len) };
            records += 1;
            match handle(record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.consumer_word().store(self.position, Ordering::Release);
        result.map(|()| records)
    }
}

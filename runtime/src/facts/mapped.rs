//! A file mapped read-only into memory: the ELF binaries the probes name. A binary can be
//! hundreds of megabytes (this one is 34 MB with its debug info) while resolving a function
//! reads only its symbol tables; reading it whole costs tens of milliseconds a time, mapping
//! it costs the pages touched.
//!
//! The mapping is shared, not private: the kernel writes the breakpoint of every uprobe on a
//! file into each private mapping of it that may execute (`VM_MAYEXEC` without
//! `VM_MAYSHARE`, which a read-only private mapping of a file on an exec mount is), so a
//! private mapping shows `int3` at a function another tracer has a uprobe on, and the code
//! read there (is it probeable, is it emulated, where do its instructions start) would be the
//! breakpoint's. A shared mapping is never given breakpoints: it reads what the file holds.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::path::Path;

pub struct MappedFile {
    address: *mut libc::c_void,
    len: usize,
}

impl MappedFile {
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("too large to map"))?;
        if len == 0 {
            return Ok(MappedFile {
                address: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh shared read-only mapping of a file we opened read-only (so it can
        // never be written through); the kernel picks the address. Binaries are replaced by
        // renaming a new file over them, which leaves this mapping's inode intact; a binary
        // truncated in place while mapped would fault here, as it would fault the processes
        // running it.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(MappedFile { address, len })
    }
}

impl std::ops::Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the mapping is `len` readable bytes and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.address as *const u8, self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping the mapping made in `open`, once.
            unsafe { libc::munmap(self.address, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MappedFile;

    #[test]
    fn maps_what_reading_reads() {
        let exe = std::env::current_exe().unwrap();
        let mapped = MappedFile::open(&exe).unwrap();
        assert_eq!(&*mapped, &std::fs::read(&exe).unwrap()[..]);
    }

    #[test]
    fn an_empty_file_is_empty() {
        let path = std::env::temp_dir().join(format!("tb-empty-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        assert!(MappedFile::open(&path).unwrap().is_empty());
        std::fs::remove_file(&path).unwrap();
    }
}

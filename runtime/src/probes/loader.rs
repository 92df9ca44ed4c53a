//! aya's loader, made without reading the kernel's BTF.
//!
//! aya 0.14 has one constructor, `EbpfLoader::new()`, and it reads and parses
//! /sys/kernel/btf/vmlinux (5 MB here, some 20 ms and 8 MB of heap) for CO-RE relocations
//! that tracebound's objects never have; `.btf(None)` afterwards only drops it. So the
//! loader is made on a short-lived thread whose root directory is the BTF directory itself:
//! the absolute path aya opens then names nothing, its read fails at once, and the loader
//! comes back without BTF, exactly as `.btf(None)` leaves it. The thread's root is its own
//! (`unshare(CLONE_FS)`), so no other thread sees the change, and it ends with the thread.
//! Programs that attach through kernel types read the BTF themselves (`load.rs`).

use std::path::Path;

use aya::EbpfLoader;

/// Where the kernel publishes its BTF; a directory of files, none of them named `sys`.
const KERNEL_BTF_DIR: &str = "/sys/kernel/btf";

/// A loader with no kernel BTF, made without reading it where the process may change a
/// thread's root (root, as loading BPF needs), by the plain constructor otherwise.
pub fn loader_without_kernel_btf() -> EbpfLoader<'static> {
    let mut loader = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // Where the root cannot move, this is the plain constructor, BTF read.
                root_thread_at(KERNEL_BTF_DIR);
                EbpfLoader::new()
            })
            .join()
    })
    .unwrap_or_else(|_| EbpfLoader::new());
    loader.btf(None);
    loader
}

/// Gives the calling thread a root directory of its own at `dir`; false if it cannot (no
/// such directory, or not allowed).
fn root_thread_at(dir: &str) -> bool {
    if !Path::new(dir).is_dir() {
        return false;
    }
    let Ok(dir) = std::ffi::CString::new(dir) else {
        return false;
    };
    // SAFETY: plain syscalls on this thread's own filesystem attributes; `dir` is a valid C
    // string for the duration of the call.
    unsafe { libc::unshare(libc::CLONE_FS) == 0 && libc::chroot(dir.as_ptr()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_btf_is_out_of_reach_of_the_rooted_thread_only() {
        if !crate::kernel::sys::root_for_test() {
            return;
        }
        let btf = Path::new(KERNEL_BTF_DIR).join("vmlinux");
        assert!(btf.exists(), "this kernel publishes its BTF");
        let seen_from_thread = std::thread::spawn(move || {
            assert!(root_thread_at(KERNEL_BTF_DIR));
            btf.exists()
        })
        .join()
        .unwrap();
        assert!(!seen_from_thread);
        assert!(Path::new(KERNEL_BTF_DIR).join("vmlinux").exists());
    }

    #[test]
    fn the_calling_thread_keeps_its_root() {
        let before = std::fs::canonicalize("/proc/self/root").unwrap();
        let _loader = loader_without_kernel_btf();
        assert_eq!(std::fs::canonicalize("/proc/self/root").unwrap(), before);
        assert!(Path::new("/proc/self/exe").exists());
    }
}

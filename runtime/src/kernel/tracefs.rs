//! tracefs: where tracepoints are named (`events/<category>/<name>/id`, `format`). Some
//! machines boot without it mounted; users expect a tracer to mount it, as bpftrace's
//! environment usually has, so the runtime does that at the standard place.
//!
//! aya looks tracefs up once per process and remembers the answer (a `LazyLock` in
//! `aya::programs::utils`), so `ensure_mounted` has to run before aya's first tracepoint
//! attach: a lookup that happened before the mount would fail for the rest of the process.
//! The loader calls it whenever an object has tracepoint programs.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where tracefs belongs (and where aya looks first).
pub const MOUNT_POINT: &str = "/sys/kernel/tracing";

/// The older place, under debugfs, which aya also accepts.
const DEBUGFS_MOUNT_POINT: &str = "/sys/kernel/debug/tracing";

/// Serialises the check-then-mount, so two threads don't stack two mounts.
static MOUNTING: Mutex<()> = Mutex::new(());

/// Returns the tracefs directory, mounting tracefs at [`MOUNT_POINT`] first if no tracefs is
/// reachable. Needs root (CAP_SYS_ADMIN) only when it has to mount.
pub fn ensure_mounted() -> io::Result<PathBuf> {
    let _guard = MOUNTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = find() {
        return Ok(found);
    }
    mount_tracefs(Path::new(MOUNT_POINT))?;
    find().ok_or_else(|| {
        io::Error::other(format!(
            "mounted tracefs at {MOUNT_POINT} but it has no events/ directory"
        ))
    })
}

/// The first tracefs with tracepoint events: checking `events/` rather than the directory
/// itself, because the kernel creates `/sys/kernel/tracing` empty when tracefs is not mounted.
fn find() -> Option<PathBuf> {
    [MOUNT_POINT, DEBUGFS_MOUNT_POINT]
        .into_iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("events").is_dir())
}

/// Makes the trace buffer readable where bpftrace's documentation sends `debugf`'s readers,
/// `/sys/kernel/debug/tracing/trace_pipe`: debugfs is mounted at `/sys/kernel/debug` when
/// nothing is there (the kernel then mounts tracefs under it on first access). Only a script
/// that writes the trace buffer asks for it.
pub fn ensure_debugfs_tracing() -> io::Result<()> {
    let _guard = MOUNTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let debugfs = Path::new("/sys/kernel/debug");
    if Path::new(DEBUGFS_MOUNT_POINT).join("trace").exists() {
        return Ok(());
    }
    if !debugfs.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "/sys/kernel/debug does not exist",
        ));
    }
    mount_fs("debugfs", debugfs)
}

fn mount_tracefs(target: &Path) -> io::Result<()> {
    mount_fs("tracefs", target)
}

fn mount_fs(kind: &str, target: &Path) -> io::Result<()> {
    let c = |s: &str| CString::new(s).expect("no NUL in a constant");
    let source = c(kind);
    let fstype = c(kind);
    let target_c = CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in mount point"))?;
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call; tracefs
    // and debugfs take no mount data.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target_c.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let error = io::Error::last_os_error();
        Err(io::Error::new(
            error.kind(),
            format!("mount -t {kind} {kind} {}: {error}", target.display()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mounted_tracefs_or_says_why_not() {
        // Mounting needs root; without it only the lookup is exercised, and under CI=true
        // (which runs as root) a tracefs out of reach fails.
        let root = unsafe { libc::geteuid() } == 0;
        let ci = std::env::var("CI").as_deref() == Ok("true");
        match ensure_mounted() {
            Ok(dir) => assert!(dir.join("events").is_dir()),
            Err(e) => assert!(!root && !ci, "tracefs must be reachable: {e}"),
        }
    }
}

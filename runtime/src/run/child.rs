//! The processes a run follows: `-c CMD` starts a child held just before exec until the probes
//! are attached (so not one of its events is missed) and ends the run when it exits; `-p PID`
//! ends the run when that process exits.

use std::ffi::CString;
use std::io;

/// A child forked for `-c`, waiting to exec.
pub struct Child {
    pub pid: u32,
    /// The write end of the pipe the child blocks on; closing it lets the child exec.
    release: Option<libc::c_int>,
    exited: bool,
}

impl Child {
    /// Forks `command` (split on white space, as bpftrace does; no shell) and holds it before
    /// exec. The program is looked up on PATH.
    pub fn spawn_held(command: &str) -> io::Result<Child> {
        let words: Vec<CString> = command
            .split_whitespace()
            .map(|w| {
                CString::new(w)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in -c command"))
            })
            .collect::<io::Result<_>>()?;
        if words.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "-c needs a command",
            ));
        }
        let mut argv: Vec<*const libc::c_char> = words.iter().map(|w| w.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let [read_end, write_end] = fds;
        // SAFETY: after fork the child only calls async-signal-safe functions (read, close,
        // execvp, _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            unsafe {
                libc::close(write_end);
                let mut byte = 0u8;
                // Returns when the parent closes its end: then exec.
                libc::read(read_end, &mut byte as *mut u8 as *mut libc::c_void, 1);
                libc::execvp(argv[0], argv.as_ptr());
                libc::_exit(127);
            }
        }
        // SAFETY: closing our copy of the child's end.
        unsafe { libc::close(read_end) };
        Ok(Child {
            pid: pid as u32,
            release: Some(write_end),
            exited: false,
        })
    }

    /// Lets the child exec.
    pub fn release(&mut self) {
        if let Some(fd) = self.release.take() {
            // SAFETY: our own descriptor, closed once.
            unsafe { libc::close(fd) };
        }
    }

    /// Whether the child has exited (reaping it).
    pub fn has_exited(&mut self) -> bool {
        if !self.exited {
            let mut status = 0;
            // SAFETY: waitpid on our own child, without blocking.
            let r = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut status, libc::WNOHANG) };
            self.exited = r == self.pid as libc::pid_t || r < 0;
        }
        self.exited
    }
}

impl Drop for Child {
    /// A child still running when the run ends is terminated, as bpftrace does; one never
    /// released is killed before it ever ran.
    fn drop(&mut self) {
        if !self.has_exited() {
            let signal = if self.release.is_some() {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            };
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(self.pid as libc::pid_t, signal);
                libc::waitpid(self.pid as libc::pid_t, std::ptr::null_mut(), 0);
            }
        }
        self.release();
    }
}

/// Whether a process exists (for `-p`).
pub fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_child_runs_only_when_released() {
        let dir = std::env::temp_dir().join(format!("tb_child_{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let mut child = Child::spawn_held(&format!("touch {}", dir.display())).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!dir.exists(), "the child ran before it was released");
        child.release();
        for _ in 0..100 {
            if child.has_exited() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(child.has_exited());
        assert!(dir.exists());
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn unreleased_child_is_killed_on_drop() {
        let child = Child::spawn_held("sleep 100").unwrap();
        let pid = child.pid;
        drop(child);
        assert!(
            !process_exists(pid)
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z")
        );
    }
}

//! The signals that end a run (SIGINT, SIGTERM, SIGHUP): caught first thing, so that one that
//! comes while the script is compiled, loaded or measured is not lost; before attaching it
//! ends the run with 128 + the signal, after it the event loop ends as if `exit()` had run.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// The signal that asked the run to end, 0 while none has.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    STOP.store(signal, Ordering::SeqCst);
}

/// Catches SIGINT, SIGTERM and SIGHUP from now on. (A shell starts a background command with
/// SIGINT ignored, so a `kill -INT` before the handler is in would vanish, and the run would
/// go on for ever.)
pub fn catch_stop_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The exit code of a run stopped by a signal before anything was attached (128 + the
/// signal, as a shell reports a process the signal ended), if one came.
pub fn stopped_before_attaching() -> Option<u8> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(128 + signal as u8),
    }
}

/// Whether a signal asked the running script to end.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst) != 0
}

/// How many SIGUSR1s have come that `self:signal:SIGUSR1` probes have not run for yet.
static USER_SIGNALS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_user_signal(_signal: libc::c_int) {
    USER_SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Catches SIGUSR1 from now on, for a script with `self:signal:SIGUSR1` probes (otherwise it
/// keeps its default action, and ends the run as it would any process).
pub fn catch_user_signal() {
    // SAFETY: the handler only adds to an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_user_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
}

/// How many SIGUSR1s came since the last call.
pub fn take_user_signals() -> u32 {
    USER_SIGNALS.swap(0, Ordering::SeqCst)
}

//! The text of a `ValueType::Named` number, as the current release prints it:
//! - `strerror(n)`: the description the kernel's errno headers give (`EPERM` is "Operation
//!   not permitted", `EBADF` "Bad file number"); an alias with its own words adds them in
//!   parentheses (`EAGAIN`: "Try again (operation would block)"); a number without one is
//!   "Unknown error".
//! - `signal_name(n)`: strsignal(3)'s words for 0 to 64 ("Interrupt"), else "N/A".
//! - `syscall_name(n)`: this machine's name for the number ("read"), else "Unknown syscall".
//! - `username`: the login name of the uid, else the uid in decimal.
//! - `cgroup_path(id)`: the id's paths in the mounted cgroup hierarchies (`cgroup_path.rs`).
//!
//! Like a timestamp's clocks, this reads the machine: the C library's headers (once, the
//! first time a number is named) and the user database.

use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::OnceLock;

use tracebound_compiler::program::Names;

/// The headers of the kernel's errno numbers and descriptions, base numbers first.
const ERRNO_HEADERS: [&str; 2] = [
    "/usr/include/asm-generic/errno-base.h",
    "/usr/include/asm-generic/errno.h",
];

/// The highest signal number with a description (SIGRTMAX).
const LAST_SIGNAL: i64 = 64;

pub fn text(names: Names, n: i64) -> Vec<u8> {
    match names {
        Names::Errno => errno_descriptions()
            .get(&n)
            .map_or("Unknown error", String::as_str)
            .as_bytes()
            .to_vec(),
        Names::Signal => signal_text(n),
        Names::Syscall => syscall_names()
            .get(&n)
            .map_or("Unknown syscall", String::as_str)
            .as_bytes()
            .to_vec(),
        Names::User => user_name(n),
        Names::CgroupPath => super::cgroup_path::text(n as u64),
    }
}

fn errno_descriptions() -> &'static HashMap<i64, String> {
    static TABLE: OnceLock<HashMap<i64, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text: String = ERRNO_HEADERS
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .collect::<Vec<_>>()
            .join("\n");
        let mut table = errno_table(&text);
        table.insert(0, "Success".to_string());
        table
    })
}

/// `#define ENAME number /* words */` lines, and `#define ALIAS ENAME /* words */` adding
/// the alias's words to its number's.
fn errno_table(header: &str) -> HashMap<i64, String> {
    let mut numbers: HashMap<&str, i64> = HashMap::new();
    let mut table = HashMap::new();
    for line in header.lines() {
        let Some(rest) = line.trim_start().strip_prefix("#define") else {
            continue;
        };
        let (definition, words) = match rest.split_once("/*") {
            Some((d, c)) => (d, c.trim_end().trim_end_matches("*/").trim()),
            None => (rest, ""),
        };
        let mut parts = definition.split_whitespace();
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Ok(n) = value.parse::<i64>() {
            numbers.insert(name, n);
            if !words.is_empty() {
                table.insert(n, words.to_string());
            }
        } else if let (Some(&n), false) = (numbers.get(value), words.is_empty()) {
            numbers.insert(name, n);
            if let Some(base) = table.get_mut(&n) {
                let mut chars = words.chars();
                let lowered: String = chars
                    .next()
                    .map(|c| c.to_lowercase().chain(chars).collect())
                    .unwrap_or_default();
                *base = format!("{base} ({lowered})");
            }
        }
    }
    table
}

fn signal_text(n: i64) -> Vec<u8> {
    if !(0..=LAST_SIGNAL).contains(&n) {
        return b"N/A".to_vec();
    }
    // SAFETY: strsignal takes any int and returns a NUL-terminated string (glibc's own or
    // a thread-local buffer), valid until the next call on this thread; it is copied now.
    let words = unsafe { libc::strsignal(n as libc::c_int) };
    if words.is_null() {
        return b"N/A".to_vec();
    }
    // SAFETY: non-null, NUL-terminated, as above.
    unsafe { CStr::from_ptr(words) }.to_bytes().to_vec()
}

fn syscall_names() -> &'static HashMap<i64, String> {
    static TABLE: OnceLock<HashMap<i64, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        crate::facts::syscalls::syscall_numbers()
            .into_iter()
            .map(|(name, nr)| (nr as i64, name))
            .collect()
    })
}

fn user_name(uid: i64) -> Vec<u8> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: every pointer is to memory of the stated size that outlives the call; on
    // success `found` points at `entry`, whose strings live in `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid as libc::uid_t,
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return uid.to_string().into_bytes();
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`, still alive here.
    unsafe { CStr::from_ptr(entry.pw_name) }.to_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_words_come_from_the_header_with_aliases_added() {
        let header = "#define\tEPERM\t\t 1\t/* Operation not permitted */\n\
                      #define\tEAGAIN\t\t11\t/* Try again */\n\
                      #define\tEWOULDBLOCK\tEAGAIN\t/* Operation would block */\n\
                      #define\tEDEADLOCK\tEPERM\n";
        let table = errno_table(header);
        assert_eq!(table[&1], "Operation not permitted");
        assert_eq!(table[&11], "Try again (operation would block)");
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn numbers_are_named_as_the_current_release_names_them() {
        assert_eq!(text(Names::Errno, 1), b"Operation not permitted");
        assert_eq!(text(Names::Errno, 22), b"Invalid argument");
        assert_eq!(text(Names::Errno, 7), b"Argument list too long");
        assert_eq!(text(Names::Errno, 9999), b"Unknown error");
        assert_eq!(text(Names::Signal, 2), b"Interrupt");
        assert_eq!(text(Names::Signal, 0), b"Unknown signal 0");
        assert_eq!(text(Names::Signal, 1024), b"N/A");
        assert_eq!(text(Names::Syscall, 0), b"read");
        assert_eq!(text(Names::Syscall, 100_000), b"Unknown syscall");
        assert_eq!(text(Names::User, 0), b"root");
    }
}

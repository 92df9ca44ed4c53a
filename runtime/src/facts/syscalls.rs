//! This machine's syscall numbers by name, which the raw `sys_enter`/`sys_exit` tracepoints
//! dispatch on: the estimate counts syscall tracepoints by them, and the tracepoint kind says
//! which members it can count that way.

use std::collections::HashMap;

/// The number of the syscall a `sys_enter_*`/`sys_exit_*` tracepoint names.
pub fn syscall_number(numbers: &HashMap<String, u64>, tracepoint: &str) -> Option<u64> {
    let call = tracepoint
        .strip_prefix("sys_enter_")
        .or_else(|| tracepoint.strip_prefix("sys_exit_"))
        .unwrap_or(tracepoint);
    numbers.get(call).copied()
}

/// Syscall numbers by name, from the C library's headers (`__NR_openat 257`). Headers older
/// than the kernel lack its newest syscalls: their tracepoints are counted another way.
pub fn syscall_numbers() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for path in [
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
        "/usr/include/asm/unistd_64.h",
    ] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(nr)) = (words.next(), words.next()) else {
                continue;
            };
            if let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse()) {
                out.insert(name.to_string(), nr);
            }
        }
        break;
    }
    // x86-64 syscalls newer than many C libraries' headers (the kernel's syscall_64.tbl; each
    // checked here by calling the number and seeing its tracepoint fire). Any other unnumbered
    // syscall tracepoint falls back to a perf counter, whose close waits for a grace period.
    for (call, nr) in [
        ("uretprobe", 335),
        ("uprobe", 336),
        ("cachestat", 451),
        ("fchmodat2", 452),
        ("map_shadow_stack", 453),
        ("futex_wake", 454),
        ("futex_wait", 455),
        ("futex_requeue", 456),
        ("statmount", 457),
        ("listmount", 458),
        ("lsm_get_self_attr", 459),
        ("lsm_set_self_attr", 460),
        ("lsm_list_modules", 461),
        ("mseal", 462),
        ("setxattrat", 463),
        ("getxattrat", 464),
        ("listxattrat", 465),
        ("removexattrat", 466),
        ("open_tree_attr", 467),
        ("file_getattr", 468),
        ("file_setattr", 469),
    ] {
        out.entry(call.to_string()).or_insert(nr);
    }
    // Tracepoint names that differ from the syscall's.
    for (tracepoint, call) in [
        ("newfstat", "fstat"),
        ("newstat", "stat"),
        ("newlstat", "lstat"),
        ("newuname", "uname"),
        ("newfstatat", "newfstatat"),
        ("sendfile64", "sendfile"),
        // SYSCALL_DEFINE2(umount, ...) is x86-64's umount2 (166).
        ("umount", "umount2"),
    ] {
        if let Some(&nr) = out.get(call) {
            out.entry(tracepoint.to_string()).or_insert(nr);
        }
    }
    out
}

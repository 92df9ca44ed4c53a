//! Wildcard expansion of attach points into the concrete probes they name.

use super::facts::{FactError, MachineFacts};
use super::glob::{has_wildcard, Glob};

/// The tracepoints `tracepoint:CATEGORY:EVENT` names, where either part may hold wildcards,
/// in the order `bpftrace -l` lists them: by the bytes of `category:event`. That puts
/// `fib6:fib6_table_lookup` before `fib:fib_table_lookup` (`6` < `:`), as bpftrace does.
///
/// The one-part form `tracepoint:PATTERN` means `tracepoint:*:PATTERN` (bpftrace 0.17:
/// `tracepoint:irq*` lists exactly what `tracepoint:*:irq*` does); callers pass `"*"` as the
/// category for it.
///
/// Without wildcards the name is returned as written without consulting the machine: whether
/// it exists is learnt when its format is read, which saves listing every tracepoint. A
/// wildcard that matches nothing gives an empty list; the caller reports it.
pub fn expand_tracepoints<F: MachineFacts + ?Sized>(
    facts: &F,
    category: &str,
    event: &str,
) -> Result<Vec<(String, String)>, FactError> {
    if !has_wildcard(category) && !has_wildcard(event) {
        return Ok(vec![(category.to_string(), event.to_string())]);
    }
    let (category_glob, event_glob) = (Glob::new(category), Glob::new(event));
    let mut matched: Vec<(String, String)> = facts
        .tracepoints()?
        .into_iter()
        .filter(|(c, e)| category_glob.matches(c) && event_glob.matches(e))
        .collect();
    // String order is byte order, which is bpftrace's.
    matched.sort_by_cached_key(|(c, e)| format!("{c}:{e}"));
    matched.dedup();
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::tracepoint_format::TracepointFormat;

    /// Facts holding only a list of names.
    struct Names(Vec<(&'static str, &'static str)>);

    impl MachineFacts for Names {
        fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
            Ok(self
                .0
                .iter()
                .map(|(c, e)| (c.to_string(), e.to_string()))
                .collect())
        }
        fn tracepoint_format(&self, c: &str, e: &str) -> Result<TracepointFormat, FactError> {
            Err(FactError::tracepoint_not_found(c, e))
        }
        fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
            Ok(self.0.iter().map(|(_, e)| e.to_string()).collect())
        }
        fn binary_path(&self, name: &str) -> Result<String, FactError> {
            Err(FactError::binary_not_found(name))
        }
        fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError> {
            Err(FactError::binary_not_found(path))
        }
    }

    /// A few names in the order the kernel's `available_events` lists them (not sorted).
    fn names() -> Names {
        Names(vec![
            ("syscalls", "sys_enter_openat2"),
            ("syscalls", "sys_exit_openat"),
            ("syscalls", "sys_enter_openat"),
            ("syscalls", "sys_enter_open"),
            ("syscalls", "sys_enter_open_tree_attr"),
            ("syscalls", "sys_enter_open_tree"),
            ("syscalls", "sys_enter_open_by_handle_at"),
            ("fib", "fib_table_lookup"),
            ("fib6", "fib6_table_lookup"),
            ("sched", "sched_switch"),
            ("sched", "sched_swap_numa"),
            ("irq", "irq_handler_entry"),
            ("irq_vectors", "irq_work_entry"),
        ])
    }

    fn expand(category: &str, event: &str) -> Vec<String> {
        expand_tracepoints(&names(), category, event)
            .unwrap()
            .into_iter()
            .map(|(c, e)| format!("{c}:{e}"))
            .collect()
    }

    #[test]
    fn sorted_as_bpftrace_lists_them() {
        // `bpftrace -l 'tracepoint:syscalls:sys_enter_open*'` on Linux 6.18 printed exactly
        // this order (`_` sorts before `a`).
        assert_eq!(
            expand("syscalls", "sys_enter_open*"),
            [
                "syscalls:sys_enter_open",
                "syscalls:sys_enter_open_by_handle_at",
                "syscalls:sys_enter_open_tree",
                "syscalls:sys_enter_open_tree_attr",
                "syscalls:sys_enter_openat",
                "syscalls:sys_enter_openat2",
            ]
        );
    }

    #[test]
    fn category_order_is_that_of_the_joined_name() {
        // `bpftrace -l 'tracepoint:fib*:*'` lists fib6 first.
        assert_eq!(
            expand("fib*", "*"),
            ["fib6:fib6_table_lookup", "fib:fib_table_lookup"]
        );
        assert_eq!(
            expand("*", "irq*"),
            ["irq:irq_handler_entry", "irq_vectors:irq_work_entry"]
        );
    }

    #[test]
    fn both_parts_filter() {
        assert_eq!(
            expand("s*", "sched_sw*"),
            ["sched:sched_swap_numa", "sched:sched_switch"]
        );
        assert_eq!(expand("sched", "sched_[s]witch"), ["sched:sched_switch"]);
        assert!(expand("nope*", "*").is_empty());
    }

    #[test]
    fn without_wildcards_the_name_is_taken_as_written() {
        assert_eq!(
            expand("syscalls", "sys_enter_nothing"),
            ["syscalls:sys_enter_nothing"]
        );
    }

    #[test]
    fn listing_errors_pass_through() {
        struct Down;
        impl MachineFacts for Down {
            fn tracepoints(&self) -> Result<Vec<(String, String)>, FactError> {
                Err(FactError::Unavailable {
                    reason: "tracefs is not mounted".into(),
                })
            }
            fn tracepoint_format(&self, c: &str, e: &str) -> Result<TracepointFormat, FactError> {
                Err(FactError::tracepoint_not_found(c, e))
            }
            fn raw_tracepoints(&self) -> Result<Vec<String>, FactError> {
                Err(FactError::Unavailable {
                    reason: "no BTF".into(),
                })
            }
            fn binary_path(&self, name: &str) -> Result<String, FactError> {
                Err(FactError::binary_not_found(name))
            }
            fn function_symbols(&self, path: &str) -> Result<Vec<String>, FactError> {
                Err(FactError::binary_not_found(path))
            }
        }
        assert!(matches!(
            expand_tracepoints(&Down, "sched", "*"),
            Err(FactError::Unavailable { .. })
        ));
    }
}

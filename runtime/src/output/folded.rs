//! Folded stacks: a map keyed by a stack (`@[ustack] = count()`, `@[kstack, ustack, comm] =
//! count()`, `@[kstack] = sum($t)`) as the lines flame graph tools read, one per distinct
//! path: the frames from the root to the leaf joined by `;`, a space, the weight. This is the
//! format `flamegraph.pl`, inferno and speedscope take (`stackcollapse-*` output).
//!
//! The order of a line is the order of the calls, whatever the order of the key: the key's
//! fields that are not stacks first (a `comm` or `pid` becomes the root frame, as bcc's
//! `profile -f` has it), then the user stack, then the kernel stack (user space calls into
//! the kernel), each outermost frame first. Kernel frames carry the `_[k]` annotation that
//! `stackcollapse-perf.pl --all` writes, so that flame graphs colour them apart; frames
//! without a symbol are `[unknown]`, as perf names them. Entries whose frames print the same
//! (different offsets in the same functions) add up into one line.

use std::collections::BTreeMap;

use tracebound_compiler::program::{MapInfo, MapValue, ValueType};

use super::aggregate::{Merged, Number};
use super::entry::{EntryValue, MapData};
use super::text::write_value;
use super::value::Value;
use super::{Frame, Symbolize};

/// Whether a map can be folded: some key field is a stack and its value weighs an entry (a
/// count, a sum, or a plain integer).
pub fn foldable(info: &MapInfo) -> bool {
    let weighed = matches!(
        &info.value,
        MapValue::Count | MapValue::Sum { .. } | MapValue::Plain(ValueType::Int { .. })
    );
    weighed
        && info
            .key
            .iter()
            .any(|field| matches!(field, ValueType::Stack { .. }))
}

/// One map's folded lines (without newlines), in the order of their text, each path once.
/// Entries whose weight is not a positive integer (a negative sum) are left out.
pub fn folded_lines(map: &MapData, symbols: &dyn Symbolize) -> Vec<(String, u64)> {
    let mut paths: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &map.entries {
        let Some(weight) = weight_of(&entry.value) else {
            continue;
        };
        if weight == 0 {
            continue;
        }
        let path = path_of(&entry.key.fields, symbols);
        let total = paths.entry(path).or_insert(0);
        *total = total.saturating_add(weight);
    }
    paths.into_iter().collect()
}

/// The folded text of several maps: one map's lines as they are, several maps' each under a
/// root frame naming the map (`@name;...`), so that one flame graph shows them side by side.
pub fn folded_text(maps: &[&MapData], symbols: &dyn Symbolize) -> Vec<u8> {
    let mut out = Vec::new();
    let named = maps.len() > 1;
    for map in maps {
        for (path, weight) in folded_lines(map, symbols) {
            if named {
                out.extend_from_slice(format!("@{};", map.name).as_bytes());
            }
            out.extend_from_slice(format!("{path} {weight}\n").as_bytes());
        }
    }
    out
}

fn weight_of(value: &EntryValue) -> Option<u64> {
    match value {
        EntryValue::One(Merged::Count(c)) => Some(*c),
        EntryValue::One(Merged::Sum(Number::Signed(v))) => u64::try_from(*v).ok(),
        EntryValue::One(Merged::Sum(Number::Unsigned(v))) => Some(*v),
        EntryValue::One(Merged::Plain(Value::Int(v))) => u64::try_from(*v).ok(),
        EntryValue::One(Merged::Plain(Value::UInt(v))) => Some(*v),
        _ => None,
    }
}

/// The frames of one key, root first: other fields, user stacks, kernel stacks.
fn path_of(fields: &[Value], symbols: &dyn Symbolize) -> String {
    let mut roots = Vec::new();
    let mut user = Vec::new();
    let mut kernel = Vec::new();
    for field in fields {
        match field {
            Value::Stack {
                user: true,
                id,
                mode,
                limit,
            } => user.extend(outermost_first(
                &symbols.frames(true, *mode, *limit, *id),
                "",
            )),
            Value::Stack {
                id, mode, limit, ..
            } => kernel.extend(outermost_first(
                &symbols.frames(false, *mode, *limit, *id),
                "_[k]",
            )),
            other => {
                let mut text = Vec::new();
                write_value(&mut text, other, symbols, true);
                roots.push(frame_text(&String::from_utf8_lossy(&text)));
            }
        }
    }
    roots.extend(user);
    roots.extend(kernel);
    if roots.is_empty() {
        // A stack the kernel could not record: it still took the time.
        roots.push("[unknown]".into());
    }
    roots.join(";")
}

fn outermost_first(frames: &[Frame], annotation: &str) -> Vec<String> {
    frames
        .iter()
        .rev()
        .map(|f| {
            let name = match &f.symbol {
                Some((function, _)) => frame_text(function),
                None => "[unknown]".to_string(),
            };
            format!("{name}{annotation}")
        })
        .collect()
}

/// A frame's text with what the format gives meaning (`;` between frames, the newline
/// between lines) replaced; spaces may stay, as the weight is after the last one.
fn frame_text(name: &str) -> String {
    let text: String = name
        .trim()
        .chars()
        .map(|c| match c {
            ';' => ':',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    if text.is_empty() {
        "[empty]".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::entry::{Entry, Key};
    use std::rc::Rc;
    use tracebound_compiler::program::StackMode;

    /// Stack id N has frames named `fN_0` (innermost) .. `fN_2`; user ids are odd.
    struct Named;
    impl Symbolize for Named {
        fn frames(&self, user: bool, _: StackMode, _: u32, id: u64) -> Vec<Frame> {
            assert_eq!(user, id % 2 == 1, "stack {id} asked as the wrong kind");
            (0..3)
                .map(|i| Frame {
                    addr: 0x1000 + i,
                    symbol: (id != 99).then(|| (Rc::from(format!("f{id}_{i}")), i)),
                    module: None,
                    ..Frame::default()
                })
                .collect()
        }
        fn symbol(&self, _: bool, _: u64, _: u32) -> Option<Rc<str>> {
            None
        }
    }

    fn stack(user: bool, id: u64) -> Value {
        Value::Stack {
            user,
            id,
            mode: StackMode::Bpftrace,
            limit: 127,
        }
    }

    fn map(entries: Vec<(Vec<Value>, Merged)>) -> MapData {
        MapData {
            name: "s".into(),
            kind: MapValue::Count,
            entries: entries
                .into_iter()
                .map(|(fields, v)| Entry {
                    key: Key {
                        fields,
                        bytes: Vec::new(),
                    },
                    value: EntryValue::One(v),
                })
                .collect(),
            keyless: false,
            sampled: 1,
            sampled_by: crate::output::entry::Sampler::AutoFilter,
        }
    }

    #[test]
    fn frames_run_from_the_root_to_the_leaf_whatever_the_key_order() {
        let m = map(vec![(
            vec![stack(false, 2), stack(true, 1), Value::Str(b"app".to_vec())],
            Merged::Count(7),
        )]);
        assert_eq!(
            folded_lines(&m, &Named),
            vec![(
                "app;f1_2;f1_1;f1_0;f2_2_[k];f2_1_[k];f2_0_[k]".to_string(),
                7
            )]
        );
    }

    #[test]
    fn same_paths_add_up_and_unweighed_entries_are_left_out() {
        let m = map(vec![
            (vec![stack(true, 3)], Merged::Count(2)),
            (vec![stack(true, 3)], Merged::Count(5)),
            (vec![stack(true, 5)], Merged::Sum(Number::Signed(-4))),
            (vec![stack(true, 99)], Merged::Sum(Number::Signed(1))),
        ]);
        assert_eq!(
            folded_lines(&m, &Named),
            vec![
                ("[unknown];[unknown];[unknown]".to_string(), 1),
                ("f3_2;f3_1;f3_0".to_string(), 7),
            ]
        );
    }

    #[test]
    fn several_maps_are_rooted_at_their_names() {
        let a = map(vec![(vec![stack(true, 1)], Merged::Count(1))]);
        let mut b = map(vec![(vec![Value::Str(b"x;y".to_vec())], Merged::Count(2))]);
        b.name = "t".into();
        let text = String::from_utf8(folded_text(&[&a, &b], &Named)).unwrap();
        assert_eq!(text, "@s;f1_2;f1_1;f1_0 1\n@t;x:y 2\n");
        assert_eq!(
            String::from_utf8(folded_text(&[&a], &Named)).unwrap(),
            "f1_2;f1_1;f1_0 1\n"
        );
    }

    #[test]
    fn only_stack_keyed_weights_fold() {
        let info = |key, value| MapInfo {
            name: "m".into(),
            bpf_name: "tb_m0".into(),
            key,
            value,
            sampled: 1,
            declared_size: None,
            zero_is_unset: false,
            failed_stack_index: None,
        };
        let ustack = ValueType::Stack {
            user: true,
            mode: StackMode::Bpftrace,
            limit: 127,
        };
        let int = ValueType::Int {
            size: 8,
            signed: false,
        };
        assert!(foldable(&info(vec![ustack.clone()], MapValue::Count)));
        assert!(foldable(&info(
            vec![int.clone(), ustack.clone()],
            MapValue::Sum { signed: true }
        )));
        assert!(!foldable(&info(
            vec![ustack],
            MapValue::Avg { signed: true }
        )));
        assert!(!foldable(&info(vec![int], MapValue::Count)));
    }
}

//! A `tseries` map as the current release prints it: each key's intervals from the first it
//! has among the map's last `intervals` epochs up to the latest epoch of any key, an
//! interval without a value shown as `-`; as a text graph between the least and greatest
//! value, or as JSON `{"interval_start": ..., "value": ...}` objects.

use super::aggregate::Number;

/// Columns of the graph, its two borders included.
const GRAPH_WIDTH: usize = 53;
/// Where the greatest value's label starts under and over the graph.
const PADDING: usize = 21;

/// One printed interval: where it starts (ns since the epoch of the software TAI clock,
/// which the current release prints as wall-clock time) and its value, if it has one.
pub type Row = (u64, Option<Number>);

/// The rows of every key's series: `epochs` holds each key's (epoch, value) pairs, the
/// stored slots read back. The window is the last `intervals` epochs up to the latest of
/// all keys (none when fewer epochs than that have passed since the clock's zero, as in the
/// current release).
pub fn rows(epochs: &[Vec<(u64, Number)>], interval_ns: u64, intervals: u64) -> Vec<Vec<Row>> {
    let last = epochs
        .iter()
        .flat_map(|e| e.iter().map(|(epoch, _)| *epoch))
        .max()
        .unwrap_or(u64::MAX);
    let first = last.wrapping_sub(intervals).wrapping_add(1);
    epochs
        .iter()
        .map(|series| {
            let start = series
                .iter()
                .map(|(epoch, _)| *epoch)
                .filter(|e| *e >= first)
                .min()
                .unwrap_or(last)
                .max(first);
            if first > last {
                return Vec::new();
            }
            (start..=last)
                .map(|epoch| {
                    let value = series.iter().find(|(e, _)| *e == epoch).map(|(_, v)| *v);
                    (epoch.wrapping_mul(interval_ns), value)
                })
                .collect()
        })
        .collect()
}

/// The latest epoch a key has (keys print from least to most recently updated).
pub fn latest(series: &[(u64, Number)]) -> u64 {
    series.iter().map(|(e, _)| *e).max().unwrap_or(0)
}

/// How finely the times print: the digits after the seconds, from the spacing of the rows.
fn unit_digits(rows: &[Row]) -> usize {
    let spacing = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) if rows.len() > 1 => (b.0 - a.0) / (rows.len() as u64 - 1),
        _ => 0,
    };
    match spacing {
        s if s >= 1_000_000_000 => 0,
        s if s >= 1_000_000 => 3,
        s if s >= 1_000 => 6,
        _ => 9,
    }
}

/// `hh:mm:ss` of the local time `ns` after the epoch, with `digits` of the fraction.
fn clock(ns: u64, digits: usize) -> String {
    let secs = (ns / 1_000_000_000) as libc::time_t;
    let frac = ns % 1_000_000_000;
    // SAFETY: localtime_r only fills `tm`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    let mut text = format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
    if digits > 0 {
        let scaled = frac / 10u64.pow(9 - digits as u32);
        text.push_str(&format!(".{scaled:0digits$}"));
    }
    text
}

/// `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` in UTC, as the JSON output gives a start (C++'s
/// default form of a time point).
pub fn timestamp(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as libc::time_t;
    // SAFETY: gmtime_r only fills `tm`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ns % 1_000_000_000
    )
}

/// Orders two values of one series as integers of its signedness.
fn less(a: Number, b: Number) -> bool {
    match (a, b) {
        (Number::Signed(x), Number::Signed(y)) => x < y,
        (Number::Unsigned(x), Number::Unsigned(y)) => x < y,
        (Number::Signed(x), Number::Unsigned(y)) => (x as i128) < y as i128,
        (Number::Unsigned(x), Number::Signed(y)) => (x as i128) < y as i128,
    }
}

fn wide(n: Number) -> i128 {
    match n {
        Number::Signed(v) => v as i128,
        Number::Unsigned(v) => v as i128,
    }
}

/// One step toward the middle, where the type allows it.
fn nudged(n: Number, up: bool) -> Number {
    match (n, up) {
        (Number::Signed(v), true) => Number::Signed(v.saturating_add(1)),
        (Number::Signed(v), false) => Number::Signed(v.saturating_sub(1)),
        (Number::Unsigned(v), true) => Number::Unsigned(v.saturating_add(1)),
        (Number::Unsigned(v), false) => Number::Unsigned(v.saturating_sub(1)),
    }
}

/// The graph of one series, every line ended by a newline (`<no data>` without one, for a
/// series with no rows, as the current release prints it).
pub fn graph(rows: &[Row]) -> String {
    let values: Vec<Number> = rows.iter().filter_map(|(_, v)| *v).collect();
    let Some(&first_value) = values.first() else {
        return if rows.is_empty() {
            "<no data>".into()
        } else {
            frame(rows, Number::Signed(-1), Number::Signed(1))
        };
    };
    let (mut min, mut max) = values
        .iter()
        .fold((first_value, first_value), |(lo, hi), &v| {
            (
                if less(v, lo) { v } else { lo },
                if less(hi, v) { v } else { hi },
            )
        });
    if min == max {
        min = nudged(min, false);
        max = nudged(max, true);
    }
    frame(rows, min, max)
}

fn frame(rows: &[Row], min: Number, max: Number) -> String {
    let digits = unit_digits(rows);
    let time_size = if digits > 0 { 9 + digits } else { 8 };
    let time_header = match digits {
        0 => "hh:mm:ss",
        3 => "hh:mm:ss.ms",
        6 => "hh:mm:ss.us",
        _ => "hh:mm:ss.ns",
    };
    let bounds = format!(
        "{:<PADDING$}{:>right$}\n",
        min.to_string(),
        max.to_string(),
        right = GRAPH_WIDTH - PADDING
    );
    let mut out = format!("{:w$}{bounds}", "", w = time_size + 1);
    out.push_str(&format!(
        "{time_header:<w$}|{}|\n",
        "_".repeat(GRAPH_WIDTH - 2),
        w = time_size + 1
    ));
    let span = wide(max) - wide(min);
    let zero = if wide(min) < 0 && wide(max) > 0 {
        (GRAPH_WIDTH as f32 * (-wide(min)) as f32 / span as f32) as usize
    } else {
        0
    };
    for (start, value) in rows {
        let mut line = vec![b' '; GRAPH_WIDTH];
        line[0] = b'|';
        line[GRAPH_WIDTH - 1] = b'|';
        if zero > 0 {
            line[zero] = b'.';
        }
        out.push_str(&clock(*start, digits));
        out.push(' ');
        match value {
            Some(v) => {
                let at = if span == 0 {
                    GRAPH_WIDTH / 2
                } else {
                    ((GRAPH_WIDTH - 1) as f32 * (wide(*v) - wide(min)) as f32 / span as f32)
                        as usize
                };
                line[at.min(GRAPH_WIDTH - 1)] = b'*';
                out.push_str(&String::from_utf8_lossy(&line));
                out.push_str(&format!(" {v}\n"));
            }
            None => {
                out.push_str(&String::from_utf8_lossy(&line));
                out.push_str(" -\n");
            }
        }
    }
    let mut bottom = vec![b'_'; GRAPH_WIDTH];
    bottom[0] = b'v';
    bottom[GRAPH_WIDTH - 1] = b'v';
    out.push_str(&format!(
        "{:time_size$} {}\n",
        "",
        String::from_utf8_lossy(&bottom)
    ));
    out.push_str(&format!("{:time_size$} {bounds}", ""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_window_ends_at_the_latest_epoch_of_any_key() {
        let one: Vec<(u64, Number)> = (0..5).map(|e| (e, Number::Signed(5))).collect();
        let two: Vec<(u64, Number)> = (5..10).map(|e| (e, Number::Signed(4))).collect();
        let rows = rows(&[one, two], 100 * MS, 10);
        assert_eq!(rows[0].len(), 10);
        assert_eq!(rows[0][4], (400 * MS, Some(Number::Signed(5))));
        assert_eq!(rows[0][5], (500 * MS, None));
        assert_eq!(rows[1].len(), 5);
        assert_eq!(rows[1][0].0, 500 * MS);
    }

    #[test]
    fn too_few_epochs_for_the_window_print_nothing() {
        let rows = rows(&[vec![(0, Number::Unsigned(0))]], MS, 5);
        assert!(rows[0].is_empty());
        assert_eq!(graph(&rows[0]), "<no data>");
    }

    #[test]
    fn a_graph_spans_the_values_with_the_zero_marked() {
        let rows: Vec<Row> = [-5i64, 0, 5]
            .iter()
            .enumerate()
            .map(|(i, v)| ((i as u64 + 1) * 100 * MS, Some(Number::Signed(*v))))
            .collect();
        let text = graph(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].trim_start(), format!("-5{}5", " ".repeat(50)));
        assert_eq!(lines[1], format!("hh:mm:ss.ms  |{}|", "_".repeat(51)));
        assert!(lines[2].ends_with(&format!(".100 *{}.{}| -5", " ".repeat(25), " ".repeat(25))));
        assert!(lines[3].ends_with(&format!(".200 |{}*{}| 0", " ".repeat(25), " ".repeat(25))));
        assert!(lines[4].ends_with(&format!(".300 |{}.{}* 5", " ".repeat(25), " ".repeat(25))));
        assert_eq!(lines[5], format!("{} v{}v", " ".repeat(12), "_".repeat(51)));
    }

    #[test]
    fn one_value_is_centred_between_neighbours() {
        let text = graph(&[(MS, Some(Number::Unsigned(9)))]);
        assert!(text.starts_with(&format!("{}8{}10\n", " ".repeat(19), " ".repeat(50))));
        assert!(text.contains(&format!("|{}*{}| 9", " ".repeat(25), " ".repeat(25))));
    }
}

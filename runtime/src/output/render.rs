//! Which form each map takes, as the command line chose: bpftrace's text or JSON, folded
//! stacks for maps keyed by a stack under `-f folded`, percentile tables for histograms under
//! `--percentiles`. `print(@m)` and the maps at exit both come here, so a flag changes the
//! running one-liner's every print without rewriting it.

use super::entry::{EntryValue, MapData};
use super::folded::folded_text;
use super::percentiles::{percentiles_json, percentiles_text};
use super::value::Value;
use super::{json, sort, text, Format, OutputError, Symbolize, EXIT_PREAMBLE};

/// How maps are shown: the format and the views the command line added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Presentation {
    pub format: Format,
    /// `--percentiles`: hist/lhist maps as count, p50, p90, p99, p99.9, max per key.
    pub percentiles: bool,
}

/// Appends `print(@map, top, div)` as the presentation asks.
pub fn print_map(
    out: &mut Vec<u8>,
    map: &MapData,
    top: u64,
    div: u64,
    how: Presentation,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    show(out, map, top, div, how, symbols, true)
}

/// A map in the presentation's form; `printed` for `print(@m)`, which shows an empty map
/// without keys as its zero value where the maps at exit show nothing.
fn show(
    out: &mut Vec<u8>,
    map: &MapData,
    top: u64,
    div: u64,
    how: Presentation,
    symbols: &dyn Symbolize,
    printed: bool,
) -> Result<(), OutputError> {
    let histogram = map
        .entries
        .iter()
        .any(|e| matches!(e.value, EntryValue::Buckets { .. }));
    match how.format {
        Format::Folded if stack_keyed(map) => {
            out.extend(folded_text(&[map], symbols));
            Ok(())
        }
        Format::Json if how.percentiles && histogram => percentiles_json(out, map, symbols),
        Format::Json => json::map_json(out, map, top, div, symbols),
        _ if how.percentiles && histogram => percentiles_text(out, map, symbols),
        Format::Text | Format::Folded if printed => {
            text::print_map_text(out, map, top, div, symbols)
        }
        Format::Text | Format::Folded => text::map_text(out, map, top, div, symbols),
    }
}

/// Appends every map at exit: under `-f folded` the stack-keyed maps' folded lines together
/// (several rooted at their names) and then the other maps that have entries as text;
/// otherwise bpftrace's
/// preamble and every map in name order.
pub fn exit_maps(
    out: &mut Vec<u8>,
    maps: &[MapData],
    how: Presentation,
    symbols: &dyn Symbolize,
) -> Result<(), OutputError> {
    let ordered = sort::by_name(maps);
    if how.format == Format::Folded {
        let (stacks, rest): (Vec<&MapData>, Vec<&MapData>) =
            ordered.into_iter().partition(|m| stack_keyed(m));
        out.extend(folded_text(&stacks, symbols));
        // Maps left empty (the scratch maps an off-CPU script clears in END) print nothing
        // here, not bpftrace's empty line, which would only break the stream of stacks.
        for map in rest.into_iter().filter(|m| !m.entries.is_empty()) {
            show(out, map, 0, 0, how, symbols, false)?;
        }
        return Ok(());
    }
    out.extend_from_slice(EXIT_PREAMBLE);
    for map in ordered {
        show(out, map, 0, 0, how, symbols, false)?;
    }
    Ok(())
}

/// Whether a map's entries are keyed by a stack (and so fold).
pub fn stack_keyed(map: &MapData) -> bool {
    map.entries.iter().any(|e| {
        e.key
            .fields
            .iter()
            .any(|f| matches!(f, Value::Stack { .. }))
    })
}

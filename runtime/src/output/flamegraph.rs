//! An interactive SVG flame graph of folded stacks (`folded`), drawn by inferno, the Rust
//! port of flamegraph.pl: the same picture, search (Ctrl-F or the "Search" button) and
//! click-to-zoom that flamegraph.pl's users know, from inside the binary, so a host needs no
//! Perl and no second tool. Kernel frames (`_[k]`, shown without the annotation) are orange,
//! user frames red (C) or yellow (C++ and Rust, `::`), as flamegraph.pl's `--color=perl`
//! draws `stackcollapse-perf --all` output. Colours come from the frame's name (`hash`), so
//! the same program draws the same each time.
//!
//! inferno is CDDL-1.0 (as flamegraph.pl, which it ports): a file-level licence that lets it
//! be linked into this Apache-2.0 binary unchanged; its source is the published crate, named
//! in README's licence note.

use inferno::flamegraph::color::{MultiPalette, Palette};
use inferno::flamegraph::{from_lines, Options};

/// What a flame graph's widths count, for its title and tooltips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// `count()`: samples or events.
    Samples,
    /// `sum(x)` or a plain value: whatever the script added up (off-CPU nanoseconds, bytes).
    Total,
}

/// The SVG of `folded` (lines as `folded::folded_text` writes them), titled `title`.
pub fn flamegraph_svg(folded: &[u8], title: &str, weight: Weight) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(folded);
    let mut options = Options::default();
    options.title = title.to_string();
    options.colors = Palette::Multi(MultiPalette::Perl);
    options.hash = true;
    options.deterministic = true;
    options.count_name = match weight {
        Weight::Samples => "samples".into(),
        Weight::Total => "total".into(),
    };
    let mut svg = Vec::new();
    from_lines(&mut options, text.lines(), &mut svg).map_err(|e| format!("flame graph: {e}"))?;
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The width inferno gives the frame named `name` (its `<title>` starts with the name).
    fn width_of(svg: &str, name: &str) -> f64 {
        let at = svg
            .find(&format!("<title>{name} ("))
            .unwrap_or_else(|| panic!("no frame {name}"));
        let rect = &svg[at..];
        let width = rect.find("width=\"").unwrap() + 7;
        let end = rect[width..].find('%').unwrap();
        rect[width..width + end].parse().unwrap()
    }

    #[test]
    fn wider_frames_weigh_more_and_kernel_frames_are_shown_plain() {
        let folded = b"main;hot 70\nmain;cold 30\nmain;cold;do_syscall_64_[k] 5\n";
        let svg = String::from_utf8(flamegraph_svg(folded, "t", Weight::Samples).unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        let (hot, cold) = (width_of(&svg, "hot"), width_of(&svg, "cold"));
        assert!(hot > cold, "hot {hot}% cold {cold}%");
        assert!(svg.contains("<title>do_syscall_64 ("), "annotation shown");
        assert!(!svg.contains("_[k] ("));
        // Search and zoom are the embedded script's.
        assert!(svg.contains("function search("));
        assert!(svg.contains("function zoom("));
    }

    #[test]
    fn the_same_stacks_draw_the_same() {
        let folded = b"a;b 3\na;c 1\n";
        let one = flamegraph_svg(folded, "t", Weight::Total).unwrap();
        assert_eq!(one, flamegraph_svg(folded, "t", Weight::Total).unwrap());
    }
}

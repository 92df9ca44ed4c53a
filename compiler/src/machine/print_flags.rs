//! Flag names as the kernel prints them: a tracepoint's print format holds its own table,
//! `__print_flags(REC->gfp_flags, "|", { MASK, "NAME" }, ...)`, each mask a C constant
//! expression of this kernel's bits. `printf("%gr", flags)` names GFP flags with the table
//! of `kmem:kmalloc`, so the names are this kernel's, whatever its version numbered them.

use super::facts::{FactError, MachineFacts};
use super::header_macros::HeaderMacros;
pub use crate::program::FlagNames;

/// The tracepoint whose print format names GFP flags, and its field.
const GFP_TRACEPOINT: (&str, &str, &str) = ("kmem", "kmalloc", "gfp_flags");

/// This kernel's GFP flag names (`printf`'s `%gr`).
pub fn gfp_flag_names(facts: &dyn MachineFacts) -> Result<FlagNames, FactError> {
    let (category, event, field) = GFP_TRACEPOINT;
    let format = facts.tracepoint_format(category, event)?;
    flag_table(&format.print_fmt, field, &gfp_types()).ok_or_else(|| FactError::Malformed {
        what: format!("the print format of tracepoint {category}:{event}"),
        reason: format!("no table of {field} names tracebound reads"),
    })
}

/// gfp_t, cast to in every mask, as the kernel's `typedef unsigned int gfp_t`.
fn gfp_types() -> HeaderMacros {
    let mut types = HeaderMacros::default();
    types.add("<kernel>", "#define gfp_t unsigned int\n");
    types
}

/// The table `__print_flags(REC->field, ...)` of `print_fmt`, its masks evaluated with
/// `macros` expanded; `None` when there is none or a mask is no integer.
pub fn flag_table(print_fmt: &str, field: &str, macros: &HeaderMacros) -> Option<FlagNames> {
    let head = format!("__print_flags(REC->{field},");
    let mut rest = &print_fmt[print_fmt.find(&head)? + head.len()..];
    // The delimiter's string literal.
    rest = rest.trim_start().strip_prefix('"')?;
    rest = &rest[rest.find('"')? + 1..];
    let mut names = FlagNames::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.starts_with(')') {
            return Some(names);
        }
        let entry = rest.strip_prefix('{')?;
        let end = entry.find('}')?;
        let (mask, name) = entry[..end].rsplit_once(',')?;
        // `{ 0, ((void *)0) }`: the kernel's end of the table.
        let Some(name) = name
            .trim()
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
        else {
            return Some(names);
        };
        let mask = macros.evaluate_expression(mask.trim())?.value as u64;
        names.push((mask, name.to_string()));
        rest = &entry[end + 1..];
    }
}

/// `flags` named by `names` as the kernel prints them: each matching mask's name in the
/// table's order, joined by `|`, the bits no name covers after them in hex; `0` for none.
pub fn flags_text(flags: u64, names: &[(u64, String)]) -> String {
    if flags == 0 {
        return "0".into();
    }
    let mut left = flags;
    let mut parts: Vec<String> = Vec::new();
    for (mask, name) in names {
        if left == 0 {
            break;
        }
        // A mask of no bits would match anything.
        if *mask != 0 && left & mask == *mask {
            parts.push(name.clone());
            left &= !mask;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cut from a 6.x kmem:kmalloc print format: a compound mask, then single bits.
    const PRINT_FMT: &str = r#""call_site=%pS gfp_flags=%s", REC->call_site, (REC->gfp_flags) ? __print_flags(REC->gfp_flags, "|", {( unsigned long)((( gfp_t)(((1UL)) << (10))) | (( gfp_t)(((1UL)) << (6))) | (( gfp_t)(((1UL)) << (7)))), "GFP_KERNEL"}, {( unsigned long)(( gfp_t)((((1UL))) << (0))), "GFP_DMA"}, {( unsigned long)(( gfp_t)((((1UL))) << (6))), "__GFP_IO"}, {( unsigned long)(( gfp_t)((((1UL))) << (7))), "__GFP_FS"}, { 0, ((void *)0) } ) : "none""#;

    #[test]
    fn the_table_is_read_with_its_masks_evaluated() {
        let names = flag_table(PRINT_FMT, "gfp_flags", &gfp_types()).unwrap();
        let want: Vec<(u64, String)> = vec![
            ((1 << 10) | (1 << 6) | (1 << 7), "GFP_KERNEL".into()),
            (1, "GFP_DMA".into()),
            (1 << 6, "__GFP_IO".into()),
            (1 << 7, "__GFP_FS".into()),
        ];
        assert_eq!(names, want);
        assert_eq!(flag_table(PRINT_FMT, "other", &gfp_types()), None);
    }

    #[test]
    fn flags_are_named_compound_first_and_the_rest_in_hex() {
        let names = flag_table(PRINT_FMT, "gfp_flags", &gfp_types()).unwrap();
        assert_eq!(flags_text(1, &names), "GFP_DMA");
        assert_eq!(flags_text(0, &names), "0");
        assert_eq!(
            flags_text((1 << 10) | (1 << 6) | (1 << 7) | 1, &names),
            "GFP_KERNEL|GFP_DMA"
        );
        assert_eq!(
            flags_text((1 << 6) | (1 << 30), &names),
            "__GFP_IO|0x40000000"
        );
    }
}

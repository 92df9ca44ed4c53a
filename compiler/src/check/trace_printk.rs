//! `debugf`'s format, which the kernel applies (bpf_trace_printk), not user space: at most
//! three values, and only the conversions both bpftrace and the kernel's format parser take.
//! Anything else the kernel would refuse when the program loads, or print differently, so it
//! is refused here, at the text.

use super::format::conversions;
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// bpf_trace_printk passes three values after the format.
const MAX_VALUES: usize = 3;

/// The diagnostics for a `debugf(format, values...)` call at `span`: the current release's
/// warning that it is for debugging, and every way its format fails the kernel's rules.
pub(super) fn check(args: &[Expr], span: Span) -> Vec<Diagnostic> {
    let mut diags = vec![Diagnostic::warning(
        "The debugf() builtin is not recommended for production use. For more information \
         see bpf_trace_printk in bpf-helpers(7).",
        span,
        "",
    )];
    if args.len() > MAX_VALUES + 1 {
        diags.push(Diagnostic::error(
            format!("cannot use more than {MAX_VALUES} conversion specifiers"),
            span,
            "bpf_trace_printk takes three values",
        ));
    }
    let Some(Expr {
        kind: ExprKind::Str(format),
        span: at,
        ..
    }) = args.first()
    else {
        return diags;
    };
    if let Some(bad) = format
        .chars()
        .find(|c| !(c.is_ascii_graphic() || c.is_ascii_whitespace()))
    {
        diags.push(Diagnostic::error(
            format!("`debugf` formats may hold only printable ASCII, not {bad:?}"),
            *at,
            "in this format",
        ));
    }
    let Ok(convs) = conversions(format) else {
        // The format's own checks report it.
        return diags;
    };
    for conv in convs {
        if let Some(problem) = kernel_conversion(&format[conv.offset..]) {
            diags.push(Diagnostic::error(problem, *at, "in this format").with_help(
                "debugf takes %d, %u, %x, %p and %s, optionally with l or ll and a width",
            ));
        }
    }
    diags
}

/// Why the conversion at the start of `text` (its `%`) is not one the kernel and bpftrace
/// both take, or `None`: flags `0 + - space`, a width, `l` or `ll`, then `d u x p s`, with no
/// precision, and `%p` not followed by a letter or digit (the kernel reads those as `%pK`,
/// `%pI4`, ...).
fn kernel_conversion(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while bytes.get(i).is_some_and(|b| b"0+- ".contains(b)) {
        i += 1;
    }
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let modifiers = i;
    while bytes
        .get(i)
        .is_some_and(|b| b"hlLqjzt.".contains(b) || b.is_ascii_digit())
    {
        i += 1;
    }
    let spec = bytes.get(i).map(|&b| b as char).unwrap_or_default();
    let written = &text[modifiers..i];
    if !matches!(spec, 'd' | 'u' | 'x' | 'p' | 's') {
        return Some(format!(
            "Invalid format specifier for `debugf`: {written}{spec}"
        ));
    }
    if !matches!(written, "" | "l" | "ll") || (spec == 's' || spec == 'p') && !written.is_empty() {
        return Some(format!(
            "`%{written}{spec}` is not a conversion bpf_trace_printk takes"
        ));
    }
    if spec == 'p' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
        return Some(
            "`%p` followed by a letter or digit is one of the kernel's own pointer formats; \
             put a space or punctuation after it"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::kernel_conversion;

    #[test]
    fn takes_what_the_kernel_and_bpftrace_both_take() {
        for ok in [
            "%d", "%u", "%x", "%s", "%p", "%ld", "%llx", "%-5d", "%08x", "%p ",
        ] {
            assert_eq!(kernel_conversion(ok), None, "{ok}");
        }
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(
            kernel_conversion("%c").as_deref(),
            Some("Invalid format specifier for `debugf`: c")
        );
        for bad in ["%hd", "%.3d", "%zu", "%ls", "%pK", "%5.2d"] {
            assert!(kernel_conversion(bad).is_some(), "{bad}");
        }
    }
}

//! Splits an attach point's text into its provider and parts, keeping each part's span so that
//! diagnostics point inside the attach point (`uprobe:/bin/bash:readlin` → at `readlin`).

use crate::span::Span;

/// One `:`-separated piece of an attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The text with quotes removed.
    pub text: String,
    pub span: Span,
    /// Written in quotes: wildcards and colons inside are literal.
    pub quoted: bool,
}

impl Part {
    pub fn has_wildcard(&self) -> bool {
        !self.quoted && self.text.contains(['*', '['])
    }
}

/// Splits on `:` outside double quotes. `span` is the attach point's span in the source.
/// Inside quotes `\"` and `\\` stand for `"` and `\` (`usdt:bin:test:"\"probe1\""`).
pub fn split(text: &str, span: Span) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            c if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if in_quotes => escaped = true,
            '"' => {
                in_quotes = !in_quotes;
                quoted = true;
            }
            ':' if !in_quotes => {
                parts.push(Part {
                    text: std::mem::take(&mut current),
                    span: Span::new(span.start as usize + start, span.start as usize + i),
                    quoted,
                });
                quoted = false;
                start = i + 1;
            }
            c => current.push(c),
        }
    }
    parts.push(Part {
        text: current,
        span: Span::new(span.start as usize + start, span.end as usize),
        quoted,
    });
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_with_spans() {
        let text = r#"uprobe:"/opt/my app/bin":"ns::f""#;
        let parts = split(text, Span::new(10, 10 + text.len()));
        let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["uprobe", "/opt/my app/bin", "ns::f"]);
        assert_eq!(parts[0].span, Span::new(10, 16));
        assert!(parts[2].quoted && !parts[2].has_wildcard());
        let text = r#"usdt:bin:test:"\"probe1\"""#;
        let parts = split(text, Span::new(0, text.len()));
        assert_eq!(parts[3].text, r#""probe1""#);
    }

    #[test]
    fn empty_trailing_part_is_kept() {
        let parts = split("software:faults:", Span::new(0, 16));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].text, "");
    }
}

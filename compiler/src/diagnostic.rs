//! The one diagnostic type every phase reports with: parse, check, resolve, lower, and the
//! runtime's verifier, attach and budget errors. A diagnostic is a value with spans into the
//! user's text; it is rendered with codespan-reporting only at the edge (the CLI, golden
//! tests).

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// A span with a message, shown under the source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// The primary label is the place the diagnostic is about; secondary ones give context.
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    /// Extra lines after the snippet: facts first, then a `help:` with the fix.
    pub notes: Vec<String>,
    pub help: Option<String>,
    /// The attach point names something this machine does not have (a binary, a function,
    /// a tracepoint, a USDT probe): `config = { missing_probes = ... }` decides whether the
    /// script is refused or the attach point left out.
    pub missing_probe: bool,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, message, span, label)
    }

    pub fn warning(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, message, span, label)
    }

    fn new(
        severity: Severity,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            message: message.into(),
            labels: vec![Label {
                span,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
            help: None,
            missing_probe: false,
        }
    }

    /// Marks the diagnostic as one about an attach point this machine does not have.
    pub fn of_missing_probe(mut self) -> Diagnostic {
        self.missing_probe = true;
        self
    }

    /// Adds a secondary label pointing at related text.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, for tests and tools that want one location.
    pub fn span(&self) -> Span {
        self.labels
            .iter()
            .find(|l| l.primary)
            .map(|l| l.span)
            .unwrap_or_default()
    }

    fn to_codespan(&self) -> cs::Diagnostic<()> {
        let severity = match self.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
            Severity::Note => cs::Severity::Note,
        };
        let labels = self
            .labels
            .iter()
            .map(|l| {
                let style = if l.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                cs::Label::new(style, (), l.span.range()).with_message(&l.message)
            })
            .collect();
        let mut notes = self.notes.clone();
        if let Some(help) = &self.help {
            notes.push(format!("help: {help}"));
        }
        cs::Diagnostic::new(severity)
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(notes)
    }
}

/// Renders diagnostics as a user sees them. `color` is for terminals; tests use plain text.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut out = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    for d in diagnostics {
        // Writing into an in-memory buffer fails only on a span outside the file, which
        // would be a compiler bug; fall back to the bare message rather than lose it.
        if term::emit(&mut out, &config, &file, &d.to_codespan()).is_err() {
            use std::io::Write;
            let _ = writeln!(out, "error: {}", d.message);
        }
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}

/// The closest of `candidates` to `name`, when it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        // Equally close: prefer the candidate of the same length (a swap, not a deletion).
        .min_by_key(|&(d, c)| (d, c.chars().count().abs_diff(len), c))
        .map(|(_, c)| c)
}

/// Edits (insert, delete, substitute, swap two neighbours) to turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// One diagnostic as a JSON object (for `-f json`): severity, message, file, the primary
/// span as byte offsets and line/column (1-based), labels, notes and help.
pub fn to_json(file_name: &str, source: &str, d: &Diagnostic) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let span = d.span();
    let (line, column) = line_column(source, span.start as usize);
    let labels: Vec<String> = d
        .labels
        .iter()
        .map(|l| {
            format!(
                "{{\"start\":{},\"end\":{},\"primary\":{},\"message\":{}}}",
                l.span.start,
                l.span.end,
                l.primary,
                json_string(&l.message)
            )
        })
        .collect();
    let notes: Vec<String> = d.notes.iter().map(|n| json_string(n)).collect();
    format!(
        "{{\"type\":\"diagnostic\",\"severity\":\"{severity}\",\"message\":{},\"file\":{},\"line\":{line},\"column\":{column},\"start\":{},\"end\":{},\"labels\":[{}],\"notes\":[{}],\"help\":{}}}",
        json_string(&d.message),
        json_string(file_name),
        span.start,
        span.end,
        labels.join(","),
        notes.join(","),
        d.help.as_deref().map_or("null".to_string(), json_string),
    )
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_rejects_strangers() {
        let names = ["pid", "tid", "comm", "nsecs", "printf"];
        assert_eq!(nearest("prinf", names), Some("printf"));
        assert_eq!(
            nearest("prinft", names.into_iter().chain(["print"])),
            Some("printf")
        );
        assert_eq!(nearest("nsec", names), Some("nsecs"));
        assert_eq!(nearest("elephant", names), None);
    }
}

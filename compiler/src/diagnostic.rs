//! The one diagnostic type every phase reports with: parse, check, resolve, lower, and the
//! runtime's verifier, attach and budget errors. A diagnostic is a value with spans into the
//! user's text; it is rendered only at the edge (the CLI, golden tests), in the current
//! bpftrace release's form (`render`), or as JSON (`to_json`).

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
}

/// Renders diagnostics as the current bpftrace release prints them, errors first, then
/// warnings:
///
/// ```text
/// stdin:1:12-26: ERROR: bad_config: not a known configuration option
/// config = { bad_config=raw } begin {}
///            ~~~~~~~~~~~~~~
/// HINT: not a configuration setting
/// ```
///
/// The place is `NAME:LINE:COL-END` (1-based byte columns, END one past the last byte) or
/// `NAME:LINE-LINE` for a span over several lines, which shows every line and no underline.
/// Secondary labels follow as places of their own with the same level (bpftrace's
/// "contexts"); the primary label's text, the notes and the help are `HINT:` lines, bpftrace's
/// only form for more words. `color` is for terminals: the first line in red (errors) or
/// yellow (warnings), as bpftrace colours it.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = String::new();
    let errors = diagnostics.iter().filter(|d| d.is_error());
    let others = diagnostics.iter().filter(|d| !d.is_error());
    for d in errors.chain(others) {
        render_one(&mut out, file_name, source, d, color);
    }
    out
}

fn render_one(out: &mut String, file_name: &str, source: &str, d: &Diagnostic, color: bool) {
    let level = match d.severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Note => "HINT",
    };
    let primary = d.labels.iter().find(|l| l.primary);
    let place = |out: &mut String, span: Option<Span>, message: &str| {
        let (begin, end) = match d.severity {
            _ if !color => ("", ""),
            Severity::Error => ("\x1b[31m", "\x1b[0m"),
            Severity::Warning => ("\x1b[33m", "\x1b[0m"),
            Severity::Note => ("", ""),
        };
        let at = span.and_then(|s| Place::of(source, s));
        out.push_str(begin);
        if let Some(at) = &at {
            out.push_str(&at.location(file_name));
            out.push_str(": ");
        }
        out.push_str(&format!("{level}: {message}{end}\n"));
        if let Some(at) = &at {
            at.context(source, out);
        }
    };
    place(out, primary.map(|l| l.span), &d.message);
    for label in d.labels.iter().filter(|l| !l.primary) {
        place(out, Some(label.span), &label.message);
    }
    let hints = primary
        .map(|l| l.message.as_str())
        .into_iter()
        .chain(d.notes.iter().map(String::as_str))
        .chain(d.help.as_deref());
    for hint in hints.filter(|h| !h.is_empty()) {
        out.push_str(&format!("HINT: {hint}\n"));
    }
}

/// Where a span stands in the source: its lines (1-based) and, on one line, its columns.
struct Place {
    first_line: usize,
    last_line: usize,
    /// Byte offsets of the first line's start, the span's start and its end.
    line_start: usize,
    start: usize,
    end: usize,
}

impl Place {
    fn of(source: &str, span: Span) -> Option<Place> {
        // The default span stands for no place in the script (the environment, say).
        if span == Span::default() {
            return None;
        }
        let start = (span.start as usize).min(source.len());
        // An empty span still points at one character, as every bpftrace location does.
        let end = (span.end as usize)
            .clamp(start, source.len())
            .max(start + 1);
        if source.is_empty() {
            return None;
        }
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let first_line = source[..start].matches('\n').count() + 1;
        // The span's last byte decides its last line (a span ending with a newline ends on
        // the line the newline closes).
        let last = (end - 1).min(source.len().saturating_sub(1)).max(start);
        let last_line = first_line + source[start..last].matches('\n').count();
        Some(Place {
            first_line,
            last_line,
            line_start,
            start,
            end,
        })
    }

    fn location(&self, file_name: &str) -> String {
        if self.first_line != self.last_line {
            return format!("{file_name}:{}-{}", self.first_line, self.last_line);
        }
        format!(
            "{file_name}:{}:{}-{}",
            self.first_line,
            self.start - self.line_start + 1,
            self.end - self.line_start + 1
        )
    }

    /// The source line with the span underlined by `~` (tabs shown as four columns), or every
    /// line of a span over several.
    fn context(&self, source: &str, out: &mut String) {
        let lines = source[self.line_start..].split('\n');
        if self.first_line != self.last_line {
            for line in lines.take(self.last_line - self.first_line + 1) {
                out.push_str(line);
                out.push('\n');
            }
            return;
        }
        let line = lines.into_iter().next().unwrap_or_default();
        let (from, to) = (self.start - self.line_start, self.end - self.line_start);
        let mut marks = String::new();
        for (x, c) in line.char_indices().take_while(|&(x, _)| x < to) {
            let mark = if x < from { ' ' } else { '~' };
            let width = if c == '\t' { 4 } else { 1 };
            marks.extend(std::iter::repeat_n(mark, width));
        }
        out.push_str(&line.replace('\t', "    "));
        out.push('\n');
        out.push_str(&marks);
        out.push('\n');
    }
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

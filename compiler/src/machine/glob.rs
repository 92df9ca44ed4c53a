//! Attach-point wildcards: `*` matches any run of characters (none included) and `[...]`
//! matches one character of a class (`[abc]`, ranges `[a-z]`, negated `[!a-z]` or `[^a-z]`).
//! Everything else is literal, `?` and `{a,b}` included: bpftrace does not treat them as
//! wildcards (0.17 rejects both as syntax errors in an attach point), so a name holding them
//! must match exactly.
//!
//! bpftrace 0.17 itself matches `[...]` literally in tracepoint names (`sched_[s]witch` finds
//! nothing). No tracepoint, function or symbol name contains `[`, so supporting classes only
//! makes patterns that found nothing there find something here.

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`
    AnyRun,
    /// `[...]`: inclusive ranges (`a` alone is `a-a`).
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Whether `pattern` has anything `Glob` treats as a wildcard. Like
/// `parse::attach::Part::has_wildcard`, any `[` counts, closed or not.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '['])
}

impl Glob {
    /// Compiles a pattern; it cannot fail: a `[` with no closing `]` is a literal `[`.
    pub fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    // `**` means the same as `*`; one token keeps matching linear.
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                    i += 1;
                }
                '[' => match parse_class(&chars, i) {
                    Some((class, next)) => {
                        tokens.push(class);
                        i = next;
                    }
                    None => {
                        tokens.push(Token::Literal('['));
                        i += 1;
                    }
                },
                c => {
                    tokens.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        Glob { tokens }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0, 0);
        // The last `*` seen and the text position it is currently assumed to stop at: on a
        // mismatch it swallows one more character and matching resumes after it. Only the
        // last `*` ever needs to move, so this never backtracks further than that.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::AnyRun) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(token) if token.matches_char(text[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        star = Some((star_p, star_t + 1));
                        p = star_p + 1;
                        t = star_t + 1;
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|tok| *tok == Token::AnyRun)
    }
}

impl Token {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyRun => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Parses the class opening at `chars[open]` (a `[`); returns it and the index after its `]`,
/// or `None` when it is never closed. As in shells, a `]` first in the class (after any `!`/`^`)
/// is a member, and a `-` first or last is a literal `-`.
fn parse_class(chars: &[char], open: usize) -> Option<(Token, usize)> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((c, hi));
                i += 3;
            }
            _ => {
                ranges.push((c, c));
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).matches(text)
    }

    #[test]
    fn star_matches_any_run() {
        assert!(m("sys_enter_open*", "sys_enter_open"));
        assert!(m("sys_enter_open*", "sys_enter_openat2"));
        assert!(!m("sys_enter_open*", "sys_exit_open"));
        assert!(m("*", ""));
        assert!(m("*open*", "sys_enter_openat"));
        assert!(m("a*b*c", "axxbyybc"));
        assert!(!m("a*b*c", "axxbyyb"));
        assert!(m("*_t*", "sched_switch_t"));
        assert!(m("**x", "abx"));
        assert!(m("sched_s*tch", "sched_switch"));
        assert!(!m("sched_s*tch", "sched_switches"));
    }

    #[test]
    fn literals_must_match_whole() {
        assert!(m("sched_switch", "sched_switch"));
        assert!(!m("sched_switch", "sched_switch2"));
        assert!(!m("sched_switch", "sched_switc"));
        assert!(!m("", "x"));
    }

    #[test]
    fn question_mark_and_braces_are_literal() {
        assert!(!m("sched_s?itch", "sched_switch"));
        assert!(m("sched_s?itch", "sched_s?itch"));
        assert!(!m("{a,b}", "a"));
        assert!(m("{a,b}", "{a,b}"));
    }

    #[test]
    fn classes() {
        assert!(m("sched_[s]witch", "sched_switch"));
        assert!(m("sys_[a-f]*", "sys_enter_open"));
        assert!(!m("sys_[a-d]*", "sys_enter_open"));
        assert!(m("sys_[!a-d]*", "sys_enter_open"));
        assert!(m("sys_[^a-d]*", "sys_enter_open"));
        assert!(m("x[]]y", "x]y"));
        assert!(m("x[!]]y", "xay"));
        assert!(!m("x[!]]y", "x]y"));
        assert!(m("x[-a]y", "x-y"));
        assert!(m("x[a-]y", "x-y"));
        assert!(m("fib[0-9]", "fib6"));
        assert!(!m("fib[0-9]", "fib"));
    }

    #[test]
    fn unclosed_bracket_is_literal() {
        assert!(m("a[b", "a[b"));
        assert!(!m("a[b", "ab"));
        assert!(m("a[*", "a[xyz"));
    }

    #[test]
    fn has_wildcard_agrees_with_the_parser() {
        assert!(has_wildcard("sys_*"));
        assert!(has_wildcard("sys_[ab]"));
        assert!(!has_wildcard("sys_enter_open?"));
    }

    #[test]
    fn many_stars_stay_fast() {
        // A pattern that defeats naive recursive matching: 30 stars against a long miss.
        let pattern = "a*".repeat(30) + "b";
        let text = "a".repeat(2000);
        assert!(!m(&pattern, &text));
    }
}

//! How often a timer probe (`interval`, `profile`) fires, as written: `hz:99`, `ms:100`,
//! `s:1` (a unit and a count) or `1s` (a count the number parser already scaled).

use std::fmt;

use super::{has_positional, not_supported, Provider};
use crate::ast::AttachPoint;
use crate::diagnostic::{nearest, Diagnostic};
use crate::lex::parse_integer;
use crate::parse::attach::Part;

/// Time units of `profile` and `interval`, each of which `rate` accepts.
pub const RATE_UNITS: &[&str] = &["hz", "s", "ms", "us", "ns"];

/// How often a `profile` or `interval` probe fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Hz(u64),
    PeriodNs(u64),
}

/// `hz:99`, `ms:100`, `s:1` (a unit and a count), or `1s` (no unit: the count already went
/// through the number parser, so it is nanoseconds). `None` for an unknown unit or a period
/// too long to count in nanoseconds.
pub fn rate(unit: Option<&str>, count: u64) -> Option<Rate> {
    let ns_per_unit: u64 = match unit {
        Some("hz") => return Some(Rate::Hz(count)),
        Some("s") => 1_000_000_000,
        Some("ms") => 1_000_000,
        Some("us") => 1_000,
        Some("ns") | None => 1,
        Some(_) => return None,
    };
    count.checked_mul(ns_per_unit).map(Rate::PeriodNs)
}

/// A timer probe's rate, with its parts as written (which is how `probe` names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub unit: Option<&'static str>,
    pub count: String,
    pub rate: Rate,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.unit {
            Some(unit) => write!(f, "{unit}:{}", self.count),
            None => f.write_str(&self.count),
        }
    }
}

/// The parts after the provider, checked: a known unit, a non-zero number.
pub(super) fn check(
    provider: &Provider,
    args: &[Part],
    ap: &AttachPoint,
    diags: &mut Vec<Diagnostic>,
) {
    let (unit, count) = match args {
        [count] => (None, count),
        [unit, count] => (Some(unit), count),
        _ => return,
    };
    if let Some(unit) = unit {
        if rate(Some(&unit.text), 1).is_none() {
            let mut d = Diagnostic::error(
                format!("unknown {} unit `{}`", provider.name, unit.text),
                unit.span,
                "expected hz, s, ms or us",
            );
            if let Some(s) = nearest(&unit.text, RATE_UNITS.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
            return;
        }
    }
    match parse_integer(&count.text) {
        Ok(0) => diags.push(Diagnostic::error(
            format!("`{}` needs a non-zero rate", provider.name),
            count.span,
            "zero",
        )),
        Ok(_) => {}
        Err(_) => diags.push(
            Diagnostic::error(
                format!("invalid {} rate `{}`", provider.name, count.text),
                if count.text.is_empty() {
                    ap.span
                } else {
                    count.span
                },
                "expected a number",
            )
            .with_help(format!("write it as `{}`", provider.usage)),
        ),
    }
}

/// The period of a checked attach point (`parts` with the provider first).
pub(super) fn resolve(
    provider: &Provider,
    parts: &[Part],
    ap: &AttachPoint,
) -> Result<Period, Diagnostic> {
    if has_positional(parts) {
        return Err(not_supported(provider, ap));
    }
    let (unit, count) = match &parts[1..] {
        [count] => (None, count),
        [unit, count] => (Some(unit), count),
        _ => return Err(malformed(provider, ap)),
    };
    let unit = match unit {
        Some(u) => Some(
            *RATE_UNITS
                .iter()
                .find(|known| **known == u.text)
                .ok_or_else(|| malformed(provider, ap))?,
        ),
        None => None,
    };
    let rate = parse_integer(&count.text)
        .ok()
        .and_then(|n| rate(unit, n))
        .ok_or_else(|| malformed(provider, ap))?;
    Ok(Period {
        unit,
        count: count.text.clone(),
        rate,
    })
}

fn malformed(provider: &Provider, ap: &AttachPoint) -> Diagnostic {
    Diagnostic::error(
        format!("malformed `{}` probe", provider.name),
        ap.span,
        format!("expected {}", provider.usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_unit_is_a_rate() {
        for unit in RATE_UNITS {
            assert!(rate(Some(unit), 1).is_some(), "{unit}");
        }
        assert_eq!(rate(Some("ms"), 100), Some(Rate::PeriodNs(100_000_000)));
        assert_eq!(rate(Some("hz"), 99), Some(Rate::Hz(99)));
        assert_eq!(rate(Some("parsecs"), 1), None);
        assert_eq!(rate(Some("s"), u64::MAX), None);
    }
}

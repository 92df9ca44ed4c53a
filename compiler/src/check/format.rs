//! printf-style format strings: how many arguments a format consumes, so that a mismatch is
//! reported at compile time as bpftrace does.

/// One conversion in a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The conversion letter(s): `d`, `s`, `llu`'s `u`, `r`, `rx`, ...
    pub spec: String,
    /// Byte offset of the `%` in the format text.
    pub offset: usize,
}

/// Why a format string is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub offset: usize,
    pub message: String,
}

/// The conversions in a format, in order; `%%` is a literal percent and takes no argument.
pub fn conversions(format: &str) -> Result<Vec<Conversion>, FormatError> {
    let bytes = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if bytes.get(i) == Some(&b'%') {
            i += 1;
            continue;
        }
        // Flags, width, precision, length modifiers.
        while i < bytes.len() && b"-+ #0".contains(&bytes[i]) {
            i += 1;
        }
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        while i < bytes.len() && b"hlLqjzt".contains(&bytes[i]) {
            i += 1;
        }
        let Some(&c) = bytes.get(i) else {
            return Err(FormatError {
                offset: start,
                message: "the format ends inside a conversion".into(),
            });
        };
        let mut spec = (c as char).to_string();
        match c {
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b's' | b'c' | b'p' => {}
            // GFP flags by name, the current release's `%gr`.
            b'g' if bytes.get(i + 1) == Some(&b'r') => {
                spec.push('r');
                i += 1;
            }
            // bpftrace's buffer conversions: `%r`, `%rx`, `%rh`.
            b'r' => {
                if let Some(&m @ (b'x' | b'h')) = bytes.get(i + 1) {
                    spec.push(m as char);
                    i += 1;
                }
            }
            // A letter that is no conversion (`%e`, `%y`): name it with what led up to it.
            c if c.is_ascii_alphabetic() => {
                return Err(FormatError {
                    offset: start,
                    message: format!("unknown conversion `{}`", &format[start..=i]),
                })
            }
            // No letter at all (`%q\n`, `%5 `): the conversion stops at the last letter or
            // digit, which is what the user meant as one.
            _ => {
                return Err(FormatError {
                    offset: start,
                    message: format!(
                        "`{}` is not a conversion: it needs a letter such as `d` or `s`",
                        &format[start..i]
                    ),
                })
            }
        }
        i += 1;
        out.push(Conversion {
            spec,
            offset: start,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_conversions_and_skips_percent_literals() {
        let c = conversions("%-16s %6d %llu %% %lx %08x %c %rx\n").unwrap();
        let specs: Vec<&str> = c.iter().map(|c| c.spec.as_str()).collect();
        assert_eq!(specs, ["s", "d", "u", "x", "x", "c", "rx"]);
    }

    #[test]
    fn rejects_unknown_and_truncated_conversions() {
        assert_eq!(conversions("%q").unwrap_err().offset, 0);
        assert!(conversions("abc %-5").is_err());
    }

    #[test]
    fn names_the_bad_conversion_without_what_follows_it() {
        assert_eq!(
            conversions("value %q\n").unwrap_err().message,
            "`%q` is not a conversion: it needs a letter such as `d` or `s`"
        );
        assert_eq!(
            conversions("at %5 now").unwrap_err().message,
            "`%5` is not a conversion: it needs a letter such as `d` or `s`"
        );
        let e = conversions("%-8y").unwrap_err();
        assert_eq!(
            (e.offset, e.message.as_str()),
            (0, "unknown conversion `%-8y`")
        );
    }
}

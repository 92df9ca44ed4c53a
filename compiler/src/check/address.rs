//! IP addresses written as text (`pton("127.0.0.1")`): parsed when compiling, as the current
//! release parses them (the family by the first `.` or `:`, then inet_pton(3)'s rules), so
//! that a bad one is refused at the literal and lowering only copies bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;

/// The address's bytes in network order: 4 for IPv4, 16 for IPv6; `None` when the text is
/// neither.
pub(crate) fn address_bytes(text: &str) -> Option<Vec<u8>> {
    if text.contains('.') {
        text.parse::<Ipv4Addr>().ok().map(|a| a.octets().to_vec())
    } else if text.contains(':') {
        text.parse::<Ipv6Addr>().ok().map(|a| a.octets().to_vec())
    } else {
        None
    }
}

/// The diagnostic for `pton`'s argument, in the current release's words, when it is not an
/// address literal.
pub(super) fn check(name: &str, arg: &Expr) -> Option<Diagnostic> {
    let ExprKind::Str(text) = &arg.kind else {
        return Some(Diagnostic::error(
            format!("{name}() expects an string literal at the first argument"),
            arg.span,
            "not a string literal",
        ));
    };
    let family_known = text.contains('.') || text.contains(':');
    match address_bytes(text) {
        Some(_) => None,
        None if family_known => Some(Diagnostic::error(
            format!("{name}() expects a valid IPv4/IPv6 address, got {text}"),
            arg.span,
            "not an address",
        )),
        None => Some(Diagnostic::error(
            format!("{name}() expects an string argument of an IPv4/IPv6 address, got {text}"),
            arg.span,
            "not an address",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::address_bytes;

    #[test]
    fn reads_both_families_in_network_order() {
        assert_eq!(address_bytes("127.0.0.1"), Some(vec![127, 0, 0, 1]));
        let mut one = vec![0; 16];
        one[15] = 1;
        assert_eq!(address_bytes("::1"), Some(one));
        assert_eq!(
            address_bytes("fe80::1").map(|b| b[..2].to_vec()),
            Some(vec![0xfe, 0x80])
        );
    }

    #[test]
    fn refuses_what_inet_pton_refuses() {
        for bad in [
            "127.0.0",
            "256.0.0.1",
            "1.2.3.4.5",
            "::g",
            "localhost",
            "::ffff:1.2.3.4x",
        ] {
            assert_eq!(address_bytes(bad), None, "{bad}");
        }
    }
}

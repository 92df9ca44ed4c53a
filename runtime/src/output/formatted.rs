//! The text of values the kernel side only collects: `strftime` timestamps, `ntop`
//! addresses, `macaddr` and `buf` bytes. bpftrace 0.17's forms, found by running it:
//! - `strftime`: the recorded nanoseconds (CLOCK_MONOTONIC, from `nsecs`) plus the offset
//!   of the wall clock from the monotonic clock, in local time, through strftime(3);
//!   `%f` is the microseconds of that sum, 6 digits (`strftime("%s", nsecs)` is `date +%s`);
//!   a result that is empty or longer than 63 bytes prints `(?)`.
//! - `ntop`: inet_ntop(3) text; `ntop(10, 1)` is `100::`.
//! - `macaddr`: upper-case hex pairs joined by `:`.
//! - `buf`: `%r` (and map values) print bytes 0x20..=0x7e as they are, others as `\xNN`
//!   (lower case, so `\n` is `\x0a`); `%rx` prints every byte as `\xNN`; `%rh` as hex pairs
//!   joined by spaces.
//!
//! The one impurity of the output layer lives here: a timestamp reads the clocks (as
//! bpftrace does) to find the wall-clock offset.

/// How `buf` bytes print: `%r`, `%rx`, `%rh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufStyle {
    Escaped,
    AllEscaped,
    Hex,
}

pub fn buf_text(bytes: &[u8], style: BufStyle) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for (i, &b) in bytes.iter().enumerate() {
        match style {
            BufStyle::Escaped if (0x20..=0x7e).contains(&b) => out.push(b),
            BufStyle::Escaped | BufStyle::AllEscaped => {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes())
            }
            BufStyle::Hex => {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(format!("{b:02x}").as_bytes());
            }
        }
    }
    out
}

pub fn mac_text(mac: &[u8; 6]) -> Vec<u8> {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
        .into_bytes()
}

// The libc crate does not bind inet_ntop(3); glibc has it.
extern "C" {
    fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

/// inet_ntop(3) of an address: glibc's text exactly (embedded IPv4 forms included).
pub fn inet_text(family: u64, addr: &[u8; 16]) -> Vec<u8> {
    let af = if family == libc::AF_INET6 as u64 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let mut buf = [0u8; 64];
    // SAFETY: `addr` holds 16 bytes, enough for either family; inet_ntop writes at most
    // buf.len() bytes, NUL included, into `buf`.
    let ok = unsafe {
        !inet_ntop(
            af,
            addr.as_ptr() as *const libc::c_void,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len() as libc::socklen_t,
        )
        .is_null()
    };
    if !ok {
        return Vec::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf[..end].to_vec()
}

/// The wall clock minus the monotonic clock, in nanoseconds.
fn wall_offset_ns() -> i128 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills `ts`.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    };
    read(libc::CLOCK_REALTIME) - read(libc::CLOCK_MONOTONIC)
}

pub fn strftime_text(format: &str, nsecs: u64) -> Vec<u8> {
    strftime_at(format, wall_offset_ns() + nsecs as i128)
}

/// What bpftrace 0.17 prints when strftime(3) produces nothing (an empty result, or one
/// that does not fit its 64-byte buffer).
const STRFTIME_FAILED: &[u8] = b"(?)";

/// strftime(3) of a wall-clock time in nanoseconds since the epoch, in local time. As in
/// bpftrace 0.17, every `%f` is first replaced by the microseconds, even after a `%` (so
/// `%%f` is no literal `%f`), and the text must fit 63 bytes.
pub fn strftime_at(format: &str, wall_ns: i128) -> Vec<u8> {
    let secs = wall_ns.div_euclid(1_000_000_000);
    let micros = wall_ns.rem_euclid(1_000_000_000) / 1000;
    let expanded = format.replace("%f", &format!("{micros:06}"));
    let Ok(c_format) = std::ffi::CString::new(expanded) else {
        return STRFTIME_FAILED.to_vec();
    };
    let mut buf = vec![0u8; 64];
    let time = secs as libc::time_t;
    // SAFETY: localtime_r fills `tm`; strftime writes at most buf.len() bytes into buf.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&time, &mut tm);
        libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c_format.as_ptr(),
            &tm,
        )
    };
    if n == 0 {
        return STRFTIME_FAILED.to_vec();
    }
    buf.truncate(n);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_styles() {
        let b = b"ab\x01\xffcd\n\"\\";
        assert_eq!(
            buf_text(b, BufStyle::Escaped),
            b"ab\\x01\\xffcd\\x0a\"\\".to_vec()
        );
        assert_eq!(buf_text(b"abc", BufStyle::AllEscaped), b"\\x61\\x62\\x63");
        assert_eq!(buf_text(b"abc", BufStyle::Hex), b"61 62 63");
    }

    #[test]
    fn addresses() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(inet_text(2, &a), b"127.0.0.1");
        let mut a = [0u8; 16];
        a[0] = 1;
        assert_eq!(inet_text(10, &a), b"100::");
        assert_eq!(
            mac_text(&[0x61, 0x62, 1, 0xfe, 0x21, 0x5a]),
            b"61:62:01:FE:21:5A"
        );
    }

    #[test]
    fn strftime_microseconds() {
        // 1970-01-01 00:00:01.001500 UTC; %s does not depend on the time zone.
        let t = 1_001_500_000;
        assert_eq!(strftime_at("%s %f%f %%", t), b"1 001500001500 %");
        // Found by running bpftrace 0.17: `%%f` becomes `%` and digits; an empty or long
        // result is "(?)".
        assert_eq!(strftime_at("", t), b"(?)");
        assert_eq!(strftime_at("%63Y", t).len(), 63);
        assert_eq!(strftime_at("%64Y", t), b"(?)");
    }
}

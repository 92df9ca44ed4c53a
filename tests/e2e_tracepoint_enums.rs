//! A tracepoint's enum field printed by name, as the current release prints it:
//! `skb:kfree_skb` has `enum skb_drop_reason reason`, whose names come from the kernel's
//! BTF. UDP datagrams to a loopback port nobody listens on are dropped with
//! `SKB_DROP_REASON_NO_SOCKET`, one `kfree_skb` each.

mod e2e;

use std::net::UdpSocket;
use std::time::Duration;

use e2e::{Tracer, EXIT_TIMEOUT};

const DATAGRAMS: u64 = 5;

#[test]
fn a_tracepoint_enum_field_prints_by_name() {
    if !e2e::require_bpf("a_tracepoint_enum_field_prints_by_name") {
        return;
    }
    let script = "tracepoint:skb:kfree_skb { @[args.reason] = count(); $r = args.reason; \
                  @last = ($r, (uint64)$r + 0); }";
    let mut tracer = Tracer::spawn(&["-e", script]);
    tracer.wait_ready(0).unwrap();
    // A port on 127.0.0.4 that nothing binds: bind one, note it, close it.
    let closed = UdpSocket::bind("127.0.0.4:0").expect("bind a UDP port");
    let to = closed.local_addr().expect("its address");
    drop(closed);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind the sender");
    for _ in 0..DATAGRAMS {
        sender.send_to(b"x", to).expect("send a datagram");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("@[SKB_DROP_REASON_NO_SOCKET]: "))
        .unwrap_or_else(|| panic!("no drop counted by name:\n{}", done.stdout));
    let count: u64 = line["@[SKB_DROP_REASON_NO_SOCKET]: ".len()..]
        .parse()
        .expect("a count");
    assert!(
        count >= DATAGRAMS,
        "{count} drops counted:\n{}",
        done.stdout
    );
    // A variable keeps the enum's names; arithmetic leaves the number.
    assert!(
        done.stdout
            .lines()
            .any(|l| l.starts_with("@last: (SKB_DROP_REASON_")
                && l.trim_end_matches(')')
                    .rsplit(", ")
                    .next()
                    .is_some_and(|n| n.parse::<u64>().is_ok())),
        "{}",
        done.stdout
    );
}

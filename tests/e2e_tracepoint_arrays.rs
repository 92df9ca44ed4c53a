//! Tracepoint array fields end to end: `tcp:tcp_retransmit_skb` has `__u8 daddr[4]`, and
//! the seed one-liner `@[ntop(args->daddr)] = count()` must count retransmits by
//! address.
//!
//! The test makes the kernel retransmit on loopback without any qdisc (this machine's kernel
//! has neither netem nor prio, and no modules to load): a listener on 127.0.0.3 with a
//! backlog of 0 holds one connection in its accept queue and never accepts it, so the SYNs of
//! the next connections are dropped (the kernel's ListenOverflows) and their clients
//! retransmit them after the initial RTO of one second. The same workload shows the array
//! read whole (`[127,0,0,3]`, as the current release prints arrays) and by element.

mod e2e;

use std::sync::Mutex;
use std::time::Duration;

use e2e::{Tracer, EXIT_TIMEOUT};

/// The listener's address: distinct from anything else retransmitting on this machine.
const ADDRESS: [u8; 4] = [127, 0, 0, 3];

/// Both cases make retransmits to the same address: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The kernel's count of retransmitted TCP segments (`Tcp: RetransSegs` in /proc/net/snmp).
fn retransmitted_segments() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("read /proc/net/snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (
        tcp.next().expect("Tcp header"),
        tcp.next().expect("Tcp values"),
    );
    let at = names
        .split_whitespace()
        .position(|n| n == "RetransSegs")
        .expect("RetransSegs column");
    values
        .split_whitespace()
        .nth(at)
        .and_then(|v| v.parse().ok())
        .expect("RetransSegs value")
}

fn sockaddr(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ADDRESS),
        },
        sin_zero: [0; 8],
    }
}

/// A listener whose accept queue is full, and three clients connecting to it: the SYNs the
/// full queue drops are retransmitted about a second later. Returns the sockets, to keep
/// them open while the retransmits happen.
fn overflow_listen_queue() -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let socket = |flags: libc::c_int| {
        // SAFETY: socket has no memory preconditions; the fd is owned from here on.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | flags, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh socket nobody else owns.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
    };
    use std::os::fd::AsRawFd;
    let listener = socket(0);
    let mut addr = sockaddr(0);
    // SAFETY: addr is a valid sockaddr_in of `len` bytes for bind and getsockname.
    unsafe {
        let p = &mut addr as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(libc::bind(listener.as_raw_fd(), p, len), 0, "bind");
        assert_eq!(libc::listen(listener.as_raw_fd(), 0), 0, "listen");
        let mut got = len;
        assert_eq!(
            libc::getsockname(listener.as_raw_fd(), p, &mut got),
            0,
            "getsockname"
        );
    }
    let port = u16::from_be(addr.sin_port);
    let mut sockets = vec![listener];
    for _ in 0..3 {
        let client = socket(libc::SOCK_NONBLOCK);
        let to = sockaddr(port);
        // SAFETY: `to` is a valid sockaddr_in of `len` bytes. A non-blocking connect
        // returns EINPROGRESS, which is what we want.
        unsafe {
            libc::connect(
                client.as_raw_fd(),
                &to as *const libc::sockaddr_in as *const libc::sockaddr,
                len,
            );
        }
        sockets.push(client);
        std::thread::sleep(Duration::from_millis(50));
    }
    sockets
}

/// Runs `script` while the listen queue overflows for `seconds`, then interrupts it;
/// returns its stdout and how many segments the kernel retransmitted meanwhile.
fn run_with_retransmits(test: &str, script: &str, seconds: u64) -> Option<(String, u64)> {
    if !e2e::require_bpf(test) {
        return None;
    }
    let mut tracer = Tracer::spawn(&["-e", script]);
    tracer.wait_ready(0).unwrap();
    let before = retransmitted_segments();
    let sockets = overflow_listen_queue();
    std::thread::sleep(Duration::from_secs(seconds));
    let after = retransmitted_segments();
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(EXIT_TIMEOUT).unwrap();
    drop(sockets);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    Some((done.stdout, after - before))
}

#[test]
fn the_seed_one_liner_counts_retransmits_by_address() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let script = "tracepoint:tcp:tcp_retransmit_skb { @[ntop(args->daddr)] = count(); }";
    let Some((stdout, segments)) = run_with_retransmits(
        "the_seed_one_liner_counts_retransmits_by_address",
        script,
        3,
    ) else {
        return;
    };
    let line = stdout
        .lines()
        .find(|l| l.starts_with("@[127.0.0.3]: "))
        .unwrap_or_else(|| panic!("no retransmit to 127.0.0.3 counted:\n{stdout}"));
    let count: u64 = line["@[127.0.0.3]: ".len()..].parse().expect("a count");
    // Every SYN the full queue dropped is retransmitted at least once within 3 seconds; the
    // kernel's own counter, which counts every address, bounds the count from above.
    assert!(
        (1..=segments).contains(&count),
        "{count} retransmits counted, the kernel counted {segments}:\n{stdout}"
    );
}

#[test]
fn an_array_field_prints_whole_and_by_element() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let script = "tracepoint:tcp:tcp_retransmit_skb \
                  /args->daddr[0] == 127 && args->daddr[3] == 3/ \
                  { @whole = args->daddr; @first[args->daddr[0], args->daddr[3]] = 1; \
                  @key[args->daddr] = 1; @v6 = args->daddr_v6; }";
    let Some((stdout, _)) =
        run_with_retransmits("an_array_field_prints_whole_and_by_element", script, 2)
    else {
        return;
    };
    // An IPv4 connection leaves the IPv6 fields as the kernel fills them for a v4 socket:
    // the v4-mapped address ::ffff:127.0.0.3.
    let expected = "\n\n\
                    @first[127, 3]: 1\n\
                    @key[[127,0,0,3]]: 1\n\
                    @v6: [0,0,0,0,0,0,0,0,0,0,255,255,127,0,0,3]\n\
                    @whole: [127,0,0,3]\n";
    assert_eq!(stdout, expected);
}

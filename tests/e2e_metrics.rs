//! `--metrics` scraped by a real Prometheus (Debian's `prometheus` package, run here on
//! loopback with a temporary config and storage, never the system service): exact counts and
//! a histogram's p99 read back through Prometheus's HTTP query API, two tracebound processes
//! with different `--metrics-label`s aggregated by `sum by`, the overhead figures present, a
//! 10,000-key map scraped (timed, checked by Prometheus's own scrape and `promtool check
//! metrics`), and addresses that cannot be bound refused before anything is attached.

mod e2e;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{loaded_tb_programs, tracebound, Tally, Tracer, EXIT_TIMEOUT};

/// How often the test's Prometheus scrapes.
const SCRAPE_INTERVAL: &str = "500ms";
/// How long a value may take to reach Prometheus once the workload is done.
const SETTLE: Duration = Duration::from_secs(30);
/// Writes of 10 bytes and of 3000 bytes: 1000 writes whose p99 (the 990th) is a 3000-byte
/// one, in the bucket [2048, 4096) (`le="4095"`).
const SMALL_WRITES: u64 = 950;
const LARGE_WRITES: u64 = 50;
const GETPPIDS: u64 = 700;
const KEYS: u64 = 10_000;
/// The scrape of the 10,000-key map must take under this long (the figure) in an
/// optimized build; an unoptimized (debug) build of the same code gets ten times that.
const SCRAPE_LIMIT_MS: u128 = 50;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A binary from $PATH, or why not. Under CI=true a missing one fails the test.
fn find(binary: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(binary))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = format!("`{binary}` is not installed (apt-get install -y prometheus)");
        if in_ci() {
            panic!("cannot run under CI=true (end-to-end tests never skip in CI): {why}");
        }
        println!("skipping: {why}");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A GET on loopback: (status, body).
fn get(port: u16, target: &str, accept: Option<&str>) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!(":{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{accept}Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("GET {target}: {e}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {target}: no header end in {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {target}: bad status line in {head:?}"))?;
    // Prometheus answers queries chunked; the chunks are unwrapped here.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One series of a query's vector result: its labels and its value.
#[derive(Debug)]
struct Series {
    labels: Vec<(String, String)>,
    value: f64,
}

impl Series {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the series out of `{"status":"success","data":{"resultType":"vector","result":[
/// {"metric":{...},"value":[T,"V"]},...]}}` (label values here hold no quote or brace).
fn vector(json: &str) -> Result<Vec<Series>, String> {
    if !json.contains("\"status\":\"success\"") || !json.contains("\"resultType\":\"vector\"") {
        return Err(format!("not a vector result: {json}"));
    }
    let mut out = Vec::new();
    for part in json.split("{\"metric\":{").skip(1) {
        let (labels, rest) = part
            .split_once('}')
            .ok_or_else(|| format!("bad series in {json}"))?;
        let labels = labels
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once(':'))
            .map(|(k, v)| {
                (
                    k.trim_matches('"').to_string(),
                    v.trim_matches('"').to_string(),
                )
            })
            .collect();
        let value = rest
            .split_once("\"value\":[")
            .and_then(|(_, v)| v.split_once(",\""))
            .and_then(|(_, v)| v.split_once('"'))
            .ok_or_else(|| format!("no value in {json}"))?
            .0;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .map_err(|_| format!("bad value {v:?} in {json}"))?,
        };
        out.push(Series { labels, value });
    }
    Ok(out)
}

/// The test's own Prometheus: loopback only, temporary config and storage; killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    fn start(binary: &Path, targets: &[u16]) -> Result<Prometheus, String> {
        let port = free_port();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("e2e-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let targets: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: 400ms\n\
             scrape_configs:\n  - job_name: tracebound\n    static_configs:\n      \
             - targets: [{}]\n",
            targets.join(", ")
        );
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting prometheus: {e}"))?;
        let mut prometheus = Prometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = get(port, "/-/ready", None) {
                return Ok(prometheus);
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                return Err(format!(
                    "prometheus exited ({status}):\n{}",
                    prometheus.log()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "prometheus not ready in 60 s:\n{}",
                    prometheus.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn query(&self, promql: &str) -> Result<Vec<Series>, String> {
        let target = format!("/api/v1/query?query={}", url_encode(promql));
        match get(self.port, &target, None)? {
            (200, body) => vector(&body),
            (status, body) => Err(format!("{promql}: HTTP {status}: {body}")),
        }
    }

    /// The query's single value.
    fn value(&self, promql: &str) -> Result<f64, String> {
        match self.query(promql)?.as_slice() {
            [one] => Ok(one.value),
            other => Err(format!(
                "{promql}: {} series, expected one: {other:?}",
                other.len()
            )),
        }
    }

    /// Waits until the query has a single value that `ok` accepts; returns it.
    fn wait_for(&self, promql: &str, ok: impl Fn(f64) -> bool) -> Result<f64, String> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let got = self.value(promql);
            match &got {
                Ok(v) if ok(*v) => return Ok(*v),
                _ if Instant::now() >= deadline => {
                    return Err(format!(
                        "{promql} is {got:?} after {SETTLE:?}\n--- prometheus log:\n{}",
                        self.log()
                    ))
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The three tracebounds the scrape cases read.
struct Fleet {
    /// team=a: the workload's writes, counted and by size.
    a: (Tracer, u16),
    /// team=b: the workload's getppid() calls.
    b: (Tracer, u16),
    /// team=keys: one key per getpid() call of the workload, 10,000 of them.
    keys: (Tracer, u16),
}

fn start_fleet() -> Result<Fleet, String> {
    let spawn = |team: &str, script: &str| -> Result<(Tracer, u16), String> {
        let port = free_port();
        let port_text = port.to_string();
        let label = format!("team={team}");
        let mut t = Tracer::spawn(&[
            "--metrics",
            &port_text,
            "--metrics-label",
            &label,
            "-e",
            script,
        ]);
        t.wait_ready(0)?;
        Ok((t, port))
    };
    let a = spawn(
        "a",
        "tracepoint:syscalls:sys_enter_write /comm == \"tb_wl\"/ { @calls = count(); \
         @write_bytes = hist(args.count); }",
    )?;
    let b = spawn(
        "b",
        "tracepoint:syscalls:sys_enter_getppid /comm == \"tb_wl\"/ { @calls = count(); }",
    )?;
    let keys = spawn(
        "keys",
        "config = { max_map_keys = 10000 }\n\
         tracepoint:syscalls:sys_enter_getpid /comm == \"tb_wl\"/ { @keys[@next] = count(); \
         @next = @next + 1; }",
    )?;
    Ok(Fleet { a, b, keys })
}

fn exact_counts_and_p99(p: &Prometheus) -> Result<(), String> {
    let total = (SMALL_WRITES + LARGE_WRITES) as f64;
    p.wait_for("tracebound_map_calls_total{team=\"a\"}", |v| v == total)?;
    p.wait_for("tracebound_map_calls_total{team=\"b\"}", |v| {
        v == GETPPIDS as f64
    })?;
    let count = p.value("tracebound_map_write_bytes_count{team=\"a\"}")?;
    if count != total {
        return Err(format!("write_bytes_count {count}, expected {total}"));
    }
    // `_sum` is the exact sum of what the histogram recorded: 950 x 10 + 50 x 3000 bytes.
    let sum = p.value("tracebound_map_write_bytes_sum{team=\"a\"}")?;
    let want = (SMALL_WRITES * 10 + LARGE_WRITES * 3000) as f64;
    if sum != want {
        return Err(format!("write_bytes_sum {sum}, expected {want}"));
    }
    let p99 = p.value("histogram_quantile(0.99, tracebound_map_write_bytes_bucket{team=\"a\"})")?;
    // The 990th of 1000 writes is a 3000-byte one: the bucket (2047, 4095].
    if !(p99 > 2047.0 && p99 <= 4095.0) {
        return Err(format!(
            "p99 {p99} is not in the bucket of 3000, (2047, 4095]"
        ));
    }
    let host = host_name();
    let on_host = p.value(&format!(
        "count(tracebound_map_calls_total{{host=\"{host}\"}})"
    ))?;
    if on_host != 2.0 {
        return Err(format!(
            "{on_host} series carry host=\"{host}\", expected 2"
        ));
    }
    Ok(())
}

fn labels_aggregate_with_sum_by(p: &Prometheus) -> Result<(), String> {
    let expected = (SMALL_WRITES + LARGE_WRITES + GETPPIDS) as f64;
    let by_host = p.query("sum by (host) (tracebound_map_calls_total)")?;
    match by_host.as_slice() {
        [one] if one.value == expected && one.label("host") == Some(&host_name()) => {}
        other => {
            return Err(format!(
                "sum by (host): {other:?}, expected one of {expected}"
            ))
        }
    }
    let mut by_team: Vec<(String, f64)> = p
        .query("sum by (team) (tracebound_map_calls_total)")?
        .iter()
        .map(|s| (s.label("team").unwrap_or("").to_string(), s.value))
        .collect();
    by_team.sort_by(|x, y| x.0.cmp(&y.0));
    let want = vec![
        ("a".to_string(), (SMALL_WRITES + LARGE_WRITES) as f64),
        ("b".to_string(), GETPPIDS as f64),
    ];
    if by_team != want {
        return Err(format!("sum by (team): {by_team:?}, expected {want:?}"));
    }
    Ok(())
}

fn overhead_figures_are_there(p: &Prometheus) -> Result<(), String> {
    for (query, ok, what) in [
        (
            "tracebound_probe_projected_overhead_ratio{team=\"a\"}",
            (|v: f64| (0.0..1.0).contains(&v)) as fn(f64) -> bool,
            "a share of the machine",
        ),
        (
            "tracebound_probe_measured_overhead_ratio{team=\"a\"}",
            |v| (0.0..1.0).contains(&v),
            "a share of the machine",
        ),
        (
            "tracebound_probe_cpu_seconds_total{team=\"a\"}",
            |v| v > 0.0,
            "positive",
        ),
        (
            "tracebound_probe_hits_total{team=\"a\"}",
            |v| v >= (SMALL_WRITES + LARGE_WRITES) as f64,
            "every write at least",
        ),
        (
            "tracebound_lost_events_total{team=\"a\"}",
            |v| v == 0.0,
            "0",
        ),
        (
            "tracebound_probe_sampling_factor{team=\"a\"}",
            |v| v == 1.0,
            "1",
        ),
        ("tracebound_probe_detached{team=\"a\"}", |v| v == 0.0, "0"),
        (
            "tracebound_budget_ratio{team=\"a\"}",
            |v| v == 0.5,
            "--budget 50",
        ),
        (
            "tracebound_map_full_drops_total{team=\"a\",map=\"@calls\"}",
            |v| v == 0.0,
            "0",
        ),
    ] {
        let v = p.value(query)?;
        if !ok(v) {
            return Err(format!("{query} is {v}, expected {what}"));
        }
    }
    Ok(())
}

fn ten_thousand_keys_scrape_fast_and_clean(p: &Prometheus, port: u16) -> Result<(), String> {
    let instance = format!("instance=\"127.0.0.1:{port}\"");
    p.wait_for(
        &format!("count(tracebound_map_keys_total{{{instance}}})"),
        |v| v == KEYS as f64,
    )?;
    // Prometheus's own scrape took the exposition (it asks for OpenMetrics first).
    let up = p.value(&format!("up{{{instance}}}"))?;
    let samples = p.value(&format!("scrape_samples_scraped{{{instance}}}"))?;
    let prometheus_took = p.value(&format!("scrape_duration_seconds{{{instance}}}"))?;
    if up != 1.0 || samples < KEYS as f64 {
        return Err(format!(
            "up {up}, {samples} samples scraped, expected 1 and >= {KEYS}"
        ));
    }
    // Timed here: the whole HTTP exchange, the map read from the kernel at each.
    let mut took = Vec::new();
    let mut body = String::new();
    for _ in 0..7 {
        let started = Instant::now();
        let (status, text) = get(port, "/metrics", None)?;
        took.push(started.elapsed());
        if status != 200 {
            return Err(format!("GET /metrics: {status}"));
        }
        body = text;
    }
    took.sort();
    let median = took[took.len() / 2];
    let keys = body
        .lines()
        .filter(|l| l.starts_with("tracebound_map_keys_total{"))
        .count();
    println!(
        "a {KEYS}-key scrape: median {median:?} (min {:?}, max {:?}) over 7, {} bytes; \
         Prometheus's scrape_duration_seconds {prometheus_took}",
        took[0],
        took[took.len() - 1],
        body.len()
    );
    if keys != KEYS as usize {
        return Err(format!("{keys} keys exposed, expected {KEYS}"));
    }
    let limit = if cfg!(debug_assertions) {
        SCRAPE_LIMIT_MS * 10
    } else {
        SCRAPE_LIMIT_MS
    };
    if median.as_millis() >= limit {
        return Err(format!(
            "a {KEYS}-key scrape took {median:?} (median), limit {limit} ms"
        ));
    }
    // The strict parser: promtool's, on the text format.
    if let Some(promtool) = find("promtool") {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("promtool: {e}"))?;
        check
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = check.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    // OpenMetrics when asked for it, ending as the format requires.
    let (_, om) = get(
        port,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    )?;
    if !om.ends_with("# EOF\n") || !om.contains("# TYPE tracebound_map_keys counter\n") {
        return Err("the OpenMetrics answer lacks its counter family or # EOF".into());
    }
    Ok(())
}

fn stop(tracer: Tracer, expect_in_stdout: &str) -> Result<(), String> {
    tracer.signal(libc::SIGINT);
    let done = tracer.finish(EXIT_TIMEOUT)?;
    if done.code() != Some(0) || !done.stdout.contains(expect_in_stdout) {
        return Err(format!(
            "exit {:?}, stdout lacks {expect_in_stdout:?}:\n{}{}",
            done.code(),
            done.stdout,
            done.stderr
        ));
    }
    Ok(())
}

#[test]
fn prometheus_scrapes_and_aggregates() {
    let Some(env) = e2e::setup("prometheus_scrapes_and_aggregates") else {
        return;
    };
    let Some(prometheus_bin) = find("prometheus") else {
        return;
    };
    let fleet = start_fleet().expect("three tracebounds serving metrics");
    let prometheus = Prometheus::start(&prometheus_bin, &[fleet.a.1, fleet.b.1, fleet.keys.1])
        .expect("prometheus on loopback");
    let small = SMALL_WRITES.to_string();
    let large = LARGE_WRITES.to_string();
    let getppids = GETPPIDS.to_string();
    let keys = KEYS.to_string();
    e2e::run_workload(
        &env,
        &[
            "w", &small, "10", "w", &large, "3000", "g", &getppids, "i", &keys,
        ],
    )
    .expect("the workload runs");
    let mut tally = Tally::default();
    tally.record("exact count and p99", exact_counts_and_p99(&prometheus));
    tally.record(
        "sum by over two --metrics-label values",
        labels_aggregate_with_sum_by(&prometheus),
    );
    tally.record("overhead figures", overhead_figures_are_there(&prometheus));
    tally.record(
        "10,000 keys",
        ten_thousand_keys_scrape_fast_and_clean(&prometheus, fleet.keys.1),
    );
    tally.record(
        "team a stops with its maps",
        stop(fleet.a.0, "@calls: 1000"),
    );
    tally.record("team b stops with its maps", stop(fleet.b.0, "@calls: 700"));
    tally.record(
        "keys stops with its maps",
        stop(fleet.keys.0, "@next: 10000"),
    );
    tally.finish();
}

const SCRIPT: &str = "tracepoint:syscalls:sys_enter_getppid { @ = count(); }";

fn refused_before_attaching(addr: &str, says: &str) -> Result<(), String> {
    let before = loaded_tb_programs()?.len();
    let (code, stdout, stderr) = tracebound(&["--metrics", addr, "-e", SCRIPT])?;
    if code != 1 || !stderr.contains(says) || stderr.contains("Attached") {
        return Err(format!(
            "exit {code}, expected 1 and `{says}`:\n{stdout}{stderr}"
        ));
    }
    if loaded_tb_programs()?.len() > before {
        return Err("programs were loaded for a run whose endpoint could not bind".into());
    }
    Ok(())
}

fn port_in_use() -> Result<(), String> {
    let taken = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = taken.local_addr().map_err(|e| e.to_string())?.to_string();
    refused_before_attaching(
        &addr,
        &format!("tracebound: --metrics {addr}: cannot listen: the port is in use"),
    )
}

fn address_not_here() -> Result<(), String> {
    // TEST-NET-1: never an address of this host.
    refused_before_attaching(
        "192.0.2.1:9464",
        "tracebound: --metrics 192.0.2.1:9464: cannot listen: this host has no such address",
    )
}

fn malformed_arguments() -> Result<(), String> {
    for (args, says) in [
        (
            vec!["--metrics", "nowhere"],
            "`nowhere` is not ADDR:PORT or PORT",
        ),
        (
            vec!["--metrics", "127.0.0.1:70000"],
            "is not ADDR:PORT or PORT",
        ),
        (
            vec!["--metrics", "9464", "--metrics-label", "team"],
            "`team` is not NAME=VALUE",
        ),
        (
            vec!["--metrics", "9464", "--metrics-label", "1x=y"],
            "`1x` is not a label name",
        ),
        (vec!["--metrics-label", "team=a"], "--metrics <ADDR:PORT>"),
    ] {
        let mut all = args.clone();
        all.extend(["-e", SCRIPT]);
        let (code, _, stderr) = tracebound(&all)?;
        if code == 0 || !stderr.contains(says) || stderr.lines().any(|l| l.starts_with("Attached "))
        {
            return Err(format!(
                "{args:?}: exit {code}, stderr lacks `{says}`:\n{stderr}"
            ));
        }
    }
    Ok(())
}

/// `--metrics PORT` listens on 127.0.0.1 only, as /proc/net/tcp shows it.
fn a_port_alone_is_loopback() -> Result<(), String> {
    let port = free_port();
    let mut t = Tracer::spawn(&["--metrics", &port.to_string(), "-e", SCRIPT]);
    t.wait_ready(0)?;
    let tcp = std::fs::read_to_string("/proc/net/tcp").map_err(|e| e.to_string())?;
    let listening: Vec<&str> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let local = fields.get(1)?;
            (local.ends_with(&format!(":{port:04X}")) && fields.get(3) == Some(&"0A"))
                .then_some(*local)
        })
        .collect();
    let (status, body) = get(port, "/metrics", None)?;
    let (missing, _) = get(port, "/nothing", None)?;
    // Nothing calls getppid here, so `@` is never counted and prints nothing at exit (as the
    // current release prints a map without entries); the exit status is what counts.
    stop(t, "")?;
    if listening != [format!("0100007F:{port:04X}")] {
        return Err(format!(
            "listening as {listening:?}, expected 127.0.0.1 only"
        ));
    }
    if status != 200 || !body.contains("tracebound_map_total{host=") || missing != 404 {
        return Err(format!(
            "GET /metrics {status}, GET /nothing {missing}:\n{body}"
        ));
    }
    Ok(())
}

/// `-f json` output is unchanged by `--metrics`, and the endpoint serves beside it.
fn with_json_output() -> Result<(), String> {
    let port = free_port();
    let mut t = Tracer::spawn(&["-f", "json", "--metrics", &port.to_string(), "-e", SCRIPT]);
    t.wait_ready(0)?;
    let (status, body) = get(port, "/metrics", None)?;
    stop(t, "{\"type\": \"map\", \"data\": {\"@\": ")?;
    if status != 200 || !body.contains("# TYPE tracebound_map_total counter") {
        return Err(format!("GET /metrics {status}:\n{body}"));
    }
    Ok(())
}

#[test]
fn bad_metrics_input_fails_before_attaching() {
    if !e2e::require_bpf("bad_metrics_input_fails_before_attaching") {
        return;
    }
    let mut tally = Tally::default();
    tally.record("port in use", port_in_use());
    tally.record("address not on this host", address_not_here());
    tally.record("malformed arguments", malformed_arguments());
    tally.record("a port alone is loopback", a_port_alone_is_loopback());
    tally.record("beside -f json", with_json_output());
    tally.finish();
}

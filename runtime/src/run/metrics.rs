//! `--metrics ADDR:PORT`: while the script runs, an HTTP endpoint on a thread of its own
//! answering `GET /metrics` with the Prometheus text exposition (or OpenMetrics, when the
//! scraper's `Accept` asks for it) of every map and of tracebound's own figures
//! (`output::openmetrics` writes it).
//!
//! The socket is bound first thing (`listen`), so that a port in use or an address this host
//! does not have is an error before anything is loaded or attached. Once the script is loaded
//! (`Metrics::serve`) the endpoint holds duplicates of the fds of the maps and programs it
//! reads, so it never touches the run's `Loaded`, and every scrape reads the kernel then, in
//! user space: per map a BPF_MAP_LOOKUP_BATCH call per thousand keys (every CPU's slots at
//! once; two calls a key on kernels without it), bounded by `max_map_keys`, plus one fdinfo
//! read per program; then decoding and writing, linear in keys (and buckets). The probes never
//! see it: nothing of this runs in BPF.
//!
//! One connection at a time, each closed after its answer (`Connection: close`): a scraper
//! comes every few seconds, and a hand-written loop over `std::net::TcpListener` does all that
//! takes, with no HTTP crate's threads or dependencies in a tracer. A client that sends
//! nothing is dropped after `READ_TIMEOUT`.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracebound_compiler::ast::Item;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::program::MapInfo;

use crate::estimate::{Budget, Estimate};
use crate::kernel::sys;
use crate::output::openmetrics::names::{metric_names, valid_label_name};
use crate::output::openmetrics::{self, Figures, Flavor, FleetLabels, MapFamily, ProbeFigures};
use crate::probes::load::Loaded;
use crate::probes::snapshot::{self, LossCounters};

/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the serving thread looks whether the run is over.
const STOP_POLL_MS: i32 = 100;
/// The most a request's head may hold.
const MAX_REQUEST: usize = 16 * 1024;

#[derive(Debug)]
pub enum MetricsError {
    /// The address could not be listened on.
    Bind { addr: SocketAddr, error: io::Error },
    /// The script's maps cannot be exported as named (two would share a metric name).
    Names(String),
    /// An fd the endpoint needs could not be had.
    Kernel(String),
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            MetricsError::Bind { addr, error } => {
                let why = match error.raw_os_error() {
                    Some(libc::EADDRINUSE) => "the port is in use".to_string(),
                    Some(libc::EADDRNOTAVAIL) => "this host has no such address".to_string(),
                    Some(libc::EACCES) => "permission denied".to_string(),
                    _ => error.to_string(),
                };
                write!(f, "--metrics {addr}: cannot listen: {why}")
            }
            MetricsError::Names(e) => write!(f, "--metrics: {e}"),
            MetricsError::Kernel(e) => write!(f, "--metrics: {e}"),
        }
    }
}

/// `--metrics`'s argument: `HOST:PORT`, `[V6]:PORT`, or `PORT` alone (loopback: an endpoint is
/// reachable from other hosts only when asked for by address).
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("`{text}` is not ADDR:PORT or PORT ({e})"))?;
    addrs
        .next()
        .ok_or_else(|| format!("`{text}` names no address"))
}

/// `--metrics-label NAME=VALUE`.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if !valid_label_name(name) {
        return Err(format!(
            "`{name}` is not a label name (letters, digits and _, not a digit first, not __ first)"
        ));
    }
    if matches!(
        name,
        "le" | "quantile" | "probe" | "probe_index" | "map" | "value"
    ) {
        return Err(format!(
            "`{name}` is a label tracebound's metrics use themselves"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The bound socket and the labels every series carries; nothing is served yet.
pub struct Listening {
    listener: TcpListener,
    fleet: Vec<(String, String)>,
}

/// Binds `addr`. `labels` are the `--metrics-label`s; `host` (this host's name) comes first
/// unless one of them names it. A label given twice is an error.
pub fn listen(addr: SocketAddr, labels: Vec<(String, String)>) -> Result<Listening, MetricsError> {
    let mut fleet: Vec<(String, String)> = Vec::new();
    if !labels.iter().any(|(k, _)| k == "host") {
        fleet.push(("host".into(), host_name()));
    }
    for (k, v) in labels {
        if fleet.iter().any(|(seen, _)| *seen == k) {
            return Err(MetricsError::Names(format!(
                "--metrics-label {k} is given twice"
            )));
        }
        fleet.push((k, v));
    }
    let listener = TcpListener::bind(addr).map_err(|error| MetricsError::Bind { addr, error })?;
    Ok(Listening { listener, fleet })
}

impl Listening {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Adds what the estimate projected for each probe (after `--auto-filter`).
    pub fn costed(self, estimate: &Estimate, budget: &Budget) -> Metrics {
        let cpus = estimate.cpus.max(1) as f64;
        let probes = estimate
            .probes
            .iter()
            .map(|p| Projected {
                index: p.probe_index,
                ratio: p.ns_per_s() / (cpus * 1e9),
                rate: p.rate(),
                mechanism_ns: p.points.iter().map(|pt| pt.mechanism_ns).sum::<f64>()
                    / p.points.len().max(1) as f64,
            })
            .collect();
        Metrics {
            listening: self,
            probes,
            budget_ratio: budget.machine_pct / 100.0,
        }
    }
}

/// One probe's projection.
#[derive(Clone, Debug)]
struct Projected {
    index: usize,
    ratio: f64,
    rate: f64,
    /// The mechanism's cost per hit, which the kernel's run time does not include.
    mechanism_ns: f64,
}

/// A bound endpoint with the script's projection, ready to serve.
pub struct Metrics {
    listening: Listening,
    probes: Vec<Projected>,
    budget_ratio: f64,
}

/// A map the endpoint reads.
struct ExportedMap {
    info: MapInfo,
    metric: String,
    key_labels: Vec<String>,
    fd: OwnedFd,
}

/// A probe the endpoint reports on: its programs' fds (a probe may have several).
struct WatchedProbe {
    text: String,
    index: usize,
    programs: Vec<(String, OwnedFd)>,
    projected: Option<Projected>,
    sampling: u32,
}

/// What one scrape reads; owned by the serving thread.
struct Source {
    maps: Vec<ExportedMap>,
    probes: Vec<WatchedProbe>,
    counters: LossCounters,
    map_names: Vec<String>,
    online_cpus: f64,
    fleet: Vec<(String, String)>,
    budget_ratio: f64,
    started: Instant,
    measured: bool,
    detached: Arc<Mutex<HashSet<String>>>,
    _stats: Option<OwnedFd>,
}

/// The serving thread; dropping it stops the thread (within `STOP_POLL_MS`) and closes the
/// socket.
pub struct Endpoint {
    stop: Arc<AtomicBool>,
    detached: Arc<Mutex<HashSet<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// The guard detached this program: its probe says so from the next scrape on.
    pub fn note_detached(&self, program: &str) {
        if let Ok(mut d) = self.detached.lock() {
            d.insert(program.to_string());
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Metrics {
    /// Starts serving the loaded script's maps. Call before attaching: the maps' names are
    /// checked here, and the fds taken before the run takes its counters out of `loaded`.
    /// Maps holding stacks or symbols are left out, each with a warning on stderr.
    pub fn serve(self, loaded: &Loaded, compiled: &Compiled) -> Result<Endpoint, MetricsError> {
        let fleet = self.listening.fleet.clone();
        let fleet_names: Vec<&str> = fleet.iter().map(|(k, _)| k.as_str()).collect();
        let names = metric_names(&compiled.ast, &compiled.info.maps, &fleet_names)
            .map_err(MetricsError::Names)?;
        for (map, why) in &names.left_out {
            eprintln!("warning: --metrics leaves out @{map}: {why}; it prints at exit as usual");
        }
        let dup = |fd: std::os::fd::BorrowedFd, what: &str| {
            fd.try_clone_to_owned()
                .map_err(|e| MetricsError::Kernel(format!("{what}: {e}")))
        };
        let mut maps = Vec::new();
        for m in names.maps {
            let info = compiled.info.maps[m.map].clone();
            let fd =
                snapshot::map_fd(loaded, &info).map_err(|e| MetricsError::Kernel(e.to_string()))?;
            maps.push(ExportedMap {
                fd: dup(fd, &info.bpf_name)?,
                info,
                metric: m.metric,
                key_labels: m.key_labels,
            });
        }
        let counters =
            LossCounters::new(loaded, compiled).map_err(|e| MetricsError::Kernel(e.to_string()))?;
        let probes = watched_probes(loaded, compiled, &self.probes)?;
        // The kernel's accounting of run time, held for the run (the guard holds it too; the
        // kernel counts holders): each program run then reads the clock twice.
        let stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
        let detached = Arc::new(Mutex::new(HashSet::new()));
        let source = Source {
            maps,
            probes,
            counters,
            map_names: compiled.info.maps.iter().map(|m| m.name.clone()).collect(),
            online_cpus: sys::online_cpus().map_or(1, |c| c.len().max(1)) as f64,
            fleet,
            budget_ratio: self.budget_ratio,
            started: Instant::now(),
            measured: stats.is_some(),
            detached: Arc::clone(&detached),
            _stats: stats,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let listener = self.listening.listener;
        listener
            .set_nonblocking(true)
            .map_err(|e| MetricsError::Kernel(e.to_string()))?;
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tb-metrics".into())
            .spawn(move || serve_until(listener, source, stopping))
            .map_err(|e| MetricsError::Kernel(format!("starting the endpoint: {e}")))?;
        Ok(Endpoint {
            stop,
            detached,
            thread: Some(thread),
        })
    }
}

/// The probes that fire (not BEGIN/END), each with its programs' fds and projection.
fn watched_probes(
    loaded: &Loaded,
    compiled: &Compiled,
    projected: &[Projected],
) -> Result<Vec<WatchedProbe>, MetricsError> {
    let texts: Vec<String> = compiled
        .ast
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Probe(p) => Some(
                p.attach_points
                    .iter()
                    .map(|a| a.text.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        })
        .collect();
    let sampled = sampling_by_probe(compiled);
    let mut out: Vec<WatchedProbe> = Vec::new();
    for p in compiled.probes.iter().filter(|p| !p.targets.is_empty()) {
        let fd = loaded
            .program_fd(&p.program)
            .ok_or_else(|| MetricsError::Kernel(format!("{} is not loaded", p.program)))?
            .try_clone_to_owned()
            .map_err(|e| MetricsError::Kernel(e.to_string()))?;
        match out.iter_mut().find(|w| w.index == p.probe_index) {
            Some(w) => w.programs.push((p.program.clone(), fd)),
            None => out.push(WatchedProbe {
                text: texts.get(p.probe_index).cloned().unwrap_or_default(),
                index: p.probe_index,
                programs: vec![(p.program.clone(), fd)],
                projected: projected.iter().find(|x| x.index == p.probe_index).cloned(),
                sampling: sampled.get(&p.probe_index).copied().unwrap_or(1),
            }),
        }
    }
    Ok(out)
}

/// A sampled probe aggregates only into maps of its own (`lower::sample`), all marked with its
/// N: a probe's factor is that of the maps it names.
fn sampling_by_probe(compiled: &Compiled) -> std::collections::BTreeMap<usize, u32> {
    let mut out = std::collections::BTreeMap::new();
    let probes = compiled.ast.items.iter().filter_map(|i| match i {
        Item::Probe(p) => Some(p),
        _ => None,
    });
    for (index, probe) in probes.enumerate() {
        let mut n = 1;
        tracebound_compiler::ast::visit::probe_exprs(probe, &mut |e| {
            if let tracebound_compiler::ast::ExprKind::Map { name, .. } = &e.kind {
                if let Some(info) = compiled.info.maps.iter().find(|m| m.name == name.name) {
                    n = n.max(info.sampled);
                }
            }
        });
        out.insert(index, n);
    }
    out
}

fn serve_until(listener: TcpListener, source: Source, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let mut fds = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut fds, 1, STOP_POLL_MS) };
        match listener.accept() {
            Ok((stream, _)) => {
                // A client that fails mid-way costs only its own answer.
                let _ = answer(stream, &|flavor| source.scrape(flavor));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => std::thread::sleep(Duration::from_millis(STOP_POLL_MS as u64)),
        }
    }
}

/// A request's method, path and `Accept` header.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    path: String,
    accept: Option<String>,
}

/// Parses a request head (up to the blank line); `None` when it is not HTTP/1.x.
fn parse_request(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if !version.starts_with("HTTP/1.") || first.next().is_some() {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.trim().to_string());
    Some(Request {
        method: method.to_string(),
        path,
        accept,
    })
}

/// Answers one connection; `scrape` makes the exposition.
fn answer(
    mut stream: TcpStream,
    scrape: &dyn Fn(Flavor) -> Result<String, String>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || head.len() + n > MAX_REQUEST {
            return respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                b"bad request\n",
                true,
            );
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let Some(request) = parse_request(text.split("\r\n\r\n").next().unwrap_or("")) else {
        return respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
            true,
        );
    };
    let body_too = request.method != "HEAD";
    match (request.method.as_str(), request.path.as_str()) {
        ("GET" | "HEAD", "/metrics") => {
            let flavor = Flavor::from_accept(request.accept.as_deref());
            match scrape(flavor) {
                Ok(body) => respond(
                    &mut stream,
                    "200 OK",
                    flavor.content_type(),
                    body.as_bytes(),
                    body_too,
                ),
                Err(e) => respond(
                    &mut stream,
                    "500 Internal Server Error",
                    "text/plain",
                    format!("reading the maps: {e}\n").as_bytes(),
                    body_too,
                ),
            }
        }
        ("GET" | "HEAD", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"tracebound serves its metrics at /metrics\n",
            body_too,
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            true,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if with_body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}

impl Source {
    /// One scrape: every exported map and the figures, read from the kernel now.
    fn scrape(&self, flavor: Flavor) -> Result<String, String> {
        let began = Instant::now();
        let fleet: &FleetLabels = &self.fleet;
        let mut out = String::new();
        let mut keys_read = 0u64;
        for m in &self.maps {
            let data = snapshot::read(m.fd.as_fd(), &m.info).map_err(|e| e.to_string())?;
            keys_read += data.entries.len() as u64;
            let family = MapFamily {
                data: &data,
                metric: &m.metric,
                key_labels: &m.key_labels,
            };
            openmetrics::write_map(&mut out, &family, fleet, flavor).map_err(|e| e.to_string())?;
        }
        let mut figures = self.figures().map_err(|e| e.to_string())?;
        figures.read_seconds = began.elapsed().as_secs_f64();
        figures.keys_read = keys_read;
        openmetrics::write_figures(&mut out, &figures, fleet, flavor);
        openmetrics::finish(&mut out, flavor);
        Ok(out)
    }

    fn figures(&self) -> io::Result<Figures> {
        let attached = self.started.elapsed().as_secs_f64();
        let detached = self.detached.lock().map(|d| d.clone()).unwrap_or_default();
        let mut probes = Vec::new();
        for p in &self.probes {
            let mut hits = 0u64;
            let mut run_ns = 0u64;
            for (_, fd) in &p.programs {
                let (count, ns) = sys::program_run_stats(fd.as_fd())?;
                hits += count;
                run_ns += ns;
            }
            let mechanism_ns = p.projected.as_ref().map_or(0.0, |x| x.mechanism_ns);
            let cpu_seconds = (run_ns as f64 + hits as f64 * mechanism_ns) / 1e9;
            probes.push(ProbeFigures {
                probe: p.text.clone(),
                index: p.index,
                projected_ratio: p.projected.as_ref().map_or(0.0, |x| x.ratio),
                projected_rate: p.projected.as_ref().map_or(0.0, |x| x.rate),
                hits,
                cpu_seconds,
                measured_ratio: if attached > 0.0 {
                    cpu_seconds / (attached * self.online_cpus)
                } else {
                    0.0
                },
                sampling: p.sampling,
                detached: p.programs.iter().any(|(name, _)| detached.contains(name)),
            });
        }
        let counts = self
            .counters
            .read()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let lost = counts.lost();
        let map_full = (self.map_names.iter().enumerate())
            .map(|(i, name)| (name.clone(), counts.full(i)))
            .collect();
        Ok(Figures {
            probes,
            measured: self.measured,
            lost_events: lost,
            map_full,
            budget_ratio: self.budget_ratio,
            attached_seconds: attached,
            read_seconds: 0.0,
            keys_read: 0,
        })
    }
}

/// This host's name, as `uname -n` prints it.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_address("9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(
            parse_address(":9464").unwrap().to_string(),
            "127.0.0.1:9464"
        );
        assert_eq!(
            parse_address("0.0.0.0:80").unwrap().to_string(),
            "0.0.0.0:80"
        );
        assert_eq!(
            parse_address("[::1]:9464").unwrap().to_string(),
            "[::1]:9464"
        );
        assert!(parse_address("nonsense").is_err());
        assert!(parse_address("127.0.0.1:99999").is_err());
        assert!(parse_address("127.0.0.1").is_err());
    }

    #[test]
    fn labels_are_checked() {
        assert_eq!(
            parse_label("team=pay=ments").unwrap(),
            ("team".into(), "pay=ments".into())
        );
        assert!(parse_label("team").is_err());
        assert!(parse_label("1team=x").is_err());
        assert!(parse_label("__name__=x").is_err());
        assert!(parse_label("le=1").is_err());
    }

    #[test]
    fn binding_a_port_in_use_is_an_error_that_says_so() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = listen(addr, vec![]).err().expect("the port is taken");
        assert_eq!(
            e.to_string(),
            format!("--metrics {addr}: cannot listen: the port is in use")
        );
        let twice = listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            vec![("a".into(), "1".into()), ("a".into(), "2".into())],
        );
        assert!(twice.err().unwrap().to_string().contains("given twice"));
    }

    #[test]
    fn the_host_label_comes_first_unless_given() {
        let l = listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            vec![("team".into(), "x".into())],
        )
        .unwrap();
        assert_eq!(l.fleet[0], ("host".to_string(), host_name()));
        assert_eq!(l.fleet[1], ("team".to_string(), "x".to_string()));
        let given = listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            vec![("host".into(), "node-7".into())],
        )
        .unwrap();
        assert_eq!(given.fleet, [("host".to_string(), "node-7".to_string())]);
    }

    /// One exchange with `answer` over a real socket, the scrape faked.
    fn exchange(request: &[u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let request = request.to_vec();
        let client = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&request).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        });
        let (stream, _) = listener.accept().unwrap();
        let _ = answer(stream, &|flavor| match flavor {
            Flavor::Prometheus => Ok("m 1\n".into()),
            Flavor::OpenMetrics => Ok("m 1\n# EOF\n".into()),
        });
        client.join().unwrap()
    }

    #[test]
    fn the_endpoint_answers_http() {
        let text = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n"
        );
        let om = exchange(
            b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
        );
        assert!(om.contains("Content-Type: application/openmetrics-text; version=1.0.0"));
        assert!(om.ends_with("\r\n\r\nm 1\n# EOF\n"));
        let head = exchange(b"HEAD /metrics HTTP/1.0\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK") && head.contains("Content-Length: 4\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        assert!(exchange(b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found"));
        let post = exchange(b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD"));
        assert!(exchange(b"hello\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
        // A head that never ends is cut off, not buffered for ever.
        let endless = vec![b'a'; MAX_REQUEST + 10];
        assert!(exchange(&endless).starts_with("HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn requests_are_parsed() {
        let r = parse_request(
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\naccept: application/openmetrics-text",
        )
        .unwrap();
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                path: "/metrics".into(),
                accept: Some("application/openmetrics-text".into()),
            }
        );
        assert!(parse_request("GET /metrics").is_none());
        assert!(parse_request("hello").is_none());
        assert!(parse_request("GET /metrics SPDY/3").is_none());
    }
}

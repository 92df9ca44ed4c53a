//! The runtime guard: the estimate was made before attaching, but a workload can speed up.
//! While the script runs, twice a second, the guard reads what the kernel itself accounted for
//! each program (BPF_ENABLE_STATS, held as an fd for the run: run time and run count) and
//! adds the mechanism's cost per hit. When the measured overhead stays over budget for two
//! consecutive seconds, it detaches the costliest probe and says so; the rest of the script
//! runs on. `--no-guard` turns it off.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::Target;

use crate::estimate::budget::{nanos, percent, quantity};
use crate::estimate::{Budget, CostModel};
use crate::output::Format;
use crate::probes::load::Loaded;
use crate::run::error::RunError;

/// How often the guard reads the kernel's accounting.
const EVERY: Duration = Duration::from_millis(500);
/// Consecutive readings over budget before the guard acts: 2 seconds.
const PATIENCE: u32 = 4;

struct Watched {
    program: String,
    /// The attach points, for the message.
    targets: Vec<Target>,
    mechanism_ns: f64,
    last_count: u64,
    last_time: Duration,
    detached: bool,
}

pub struct Guard {
    _stats: OwnedFd,
    watched: Vec<Watched>,
    budget: Budget,
    cpus: f64,
    since: Instant,
    readings_over: u32,
}

impl Guard {
    /// Starts accounting; `None` when the kernel will not (the run goes on unguarded, and
    /// says so).
    pub fn start(
        loaded: &Loaded,
        compiled: &Compiled,
        budget: Budget,
        model: &CostModel,
    ) -> Option<Guard> {
        let stats = match aya::sys::enable_stats(aya::sys::Stats::RunTime) {
            Ok(fd) => fd,
            Err(e) => {
                eprintln!("tracebound: the overhead guard is off: the kernel will not account program time ({e})");
                return None;
            }
        };
        let mut watched = Vec::new();
        for p in &compiled.probes {
            if p.targets.is_empty() {
                continue; // BEGIN and END run once
            }
            let (count, time) = stats_of(loaded, &p.program).unwrap_or_default();
            watched.push(Watched {
                program: p.program.clone(),
                targets: p.targets.clone(),
                // Priced by the first target's first instruction, read once here.
                mechanism_ns: {
                    let mechanism = crate::probes::mechanism_of(p.kind);
                    let emulated = p.targets.first().and_then(|t| mechanism.first_emulated(t));
                    mechanism.price(model, emulated).warm_ns
                },
                last_count: count,
                last_time: time,
                detached: false,
            });
        }
        let cpus = crate::kernel::sys::online_cpus().map_or(1, |c| c.len().max(1)) as f64;
        Some(Guard {
            _stats: stats,
            watched,
            budget,
            cpus,
            since: Instant::now(),
            readings_over: 0,
        })
    }

    /// Called from the event loop; reads at most every `EVERY`.
    pub fn check(
        &mut self,
        loaded: &mut Loaded,
        format: Format,
        out: &mut dyn Write,
    ) -> Result<(), RunError> {
        let elapsed = self.since.elapsed();
        if elapsed < EVERY {
            return Ok(());
        }
        self.since = Instant::now();
        // (index, ns of CPU, hits) over the last interval.
        let mut costs = Vec::new();
        for (i, w) in self.watched.iter_mut().enumerate() {
            if w.detached {
                continue;
            }
            let Some((count, time)) = stats_of(loaded, &w.program) else {
                continue;
            };
            let hits = count.saturating_sub(w.last_count);
            let run = time.saturating_sub(w.last_time);
            w.last_count = count;
            w.last_time = time;
            let ns = run.as_nanos() as f64 + hits as f64 * w.mechanism_ns;
            costs.push((i, ns, hits));
        }
        let seconds = elapsed.as_secs_f64();
        let total: f64 = costs.iter().map(|c| c.1).sum();
        let machine_pct = total / (seconds * 1e9 * self.cpus) * 100.0;
        if machine_pct <= self.budget.machine_pct {
            self.readings_over = 0;
            return Ok(());
        }
        self.readings_over += 1;
        if self.readings_over < PATIENCE {
            return Ok(());
        }
        self.readings_over = 0;
        let Some(&(i, ns, hits)) = costs.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return Ok(());
        };
        let w = &mut self.watched[i];
        loaded
            .detach(&w.program)
            .map_err(|e| RunError::Other(format!("detaching {}: {e}", w.program)))?;
        w.detached = true;
        let what = w
            .targets
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let rate = hits as f64 / seconds;
        let share = ns / (seconds * 1e9 * self.cpus) * 100.0;
        eprintln!(
            "guard: detached {what}: measured over budget ({}) for 2 s, {} of the machine in the last {} ms: {} events/s, {} per hit",
            percent(self.budget.machine_pct),
            percent(share),
            elapsed.as_millis(),
            quantity(rate),
            nanos(if hits > 0 { ns / hits as f64 } else { 0.0 })
        );
        if format == Format::Json {
            let line = format!(
                "{{\"type\": \"guard\", \"data\": {{\"detached\": {}, \"machine_pct\": {:.4}, \"rate\": {:.1}}}}}\n",
                tracebound_compiler::diagnostic::json_string(&what),
                share,
                rate
            );
            out.write_all(line.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }
}

impl Guard {
    /// The programs it has detached.
    pub fn detached(&self) -> impl Iterator<Item = &str> {
        self.watched
            .iter()
            .filter(|w| w.detached)
            .map(|w| w.program.as_str())
    }
}

/// (run count, run time) as the kernel accounted them.
fn stats_of(loaded: &Loaded, program: &str) -> Option<(u64, Duration)> {
    let info = loaded.program(program)?.info().ok()?;
    Some((info.run_count(), info.run_time()))
}

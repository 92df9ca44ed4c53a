//! The runtime guard: the estimate was made before attaching, but a workload can speed up.
//! While the script runs, twice a second, the guard reads what the kernel itself accounted for
//! each program (BPF_ENABLE_STATS, held as an fd for the run: run time and run count) and
//! adds the mechanism's cost per hit. When the measured overhead stays over budget for two
//! consecutive seconds, it acts on the costliest probe and says so (stderr, and a `guard`
//! record with `-f json`): a probe `--auto-filter` could sample (`lower::sample`: aggregations
//! into maps of its own) is sampled 1 in N, N chosen from the measured rate and cost so that
//! the script fits, written into the map its sampled copies read their mask from (the copies
//! loaded the first time and put where their programs tail-call, `Loaded::set_sampling`); its maps print
//! scaled and marked from then on (`run::sampling`). A probe no N up to `MAX_SAMPLING` brings
//! under budget, or one that may not be sampled, is detached; the rest of the script runs on.
//! A sampling step is a prediction, and a sampled hit can cost more than its share of the
//! unsampled cost (caches go cold when the program runs less often), so the readings of the
//! two seconds after a step check it: over what the step aimed for (`AIM` of the budget), the
//! guard steps again at once, from the cost measured at the new N, without waiting out its
//! patience.
//! `--no-guard` turns it off.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::probe::Target;
use tracebound_compiler::program::GuardSampled;

use crate::estimate::budget::{nanos, percent, quantity};
use crate::estimate::narrow::MAX_SAMPLING;
use crate::estimate::{Budget, CostModel};
use crate::output::Format;
use crate::probes::load::Loaded;
use crate::run::error::RunError;
use crate::run::sampling::GuardSampling;

/// How often the guard reads the kernel's accounting.
const EVERY: Duration = Duration::from_millis(500);
/// Consecutive readings over budget before the guard acts: 2 seconds.
const PATIENCE: u32 = 4;
/// The share of the budget a sampling step aims the whole script at: rates wander between
/// readings.
const AIM: f64 = 0.8;
/// Readings after a sampling step that check it: two seconds, the guard's patience, since a
/// sampled probe's hits grow costlier as its caches go cold, and one reading can fall in a
/// lull.
const STEP_CHECKS: u32 = PATIENCE;

struct Watched {
    program: String,
    probe_index: usize,
    /// The attach points, for the message.
    targets: Vec<Target>,
    mechanism_ns: f64,
    last_count: u64,
    last_time: Duration,
    detached: bool,
    /// Where its mask is, when the guard may sample it.
    sampling: Option<GuardSampled>,
    /// It runs its program for 1 hit in `n`.
    n: u32,
}

/// What the guard does to the costliest probe.
enum Step {
    Sample(u32),
    Detach,
}

pub struct Guard {
    _stats: OwnedFd,
    watched: Vec<Watched>,
    budget: Budget,
    cpus: f64,
    since: Instant,
    readings_over: u32,
    /// Readings still to check the last sampling step (`STEP_CHECKS` after each).
    step_checks_left: u32,
    /// The sampling draw: the tail call into the sampled copy (or, in a dispatched member,
    /// the mask's read), the random number, the branch.
    draw_ns: f64,
}

impl Guard {
    /// Starts accounting; `None` when the kernel will not (the run goes on unguarded, and
    /// says so).
    /// `may_sample`: whether the guard may thin probes (the `--metrics` endpoint's thread
    /// scales maps as compiled, so with it the guard only detaches).
    pub fn start(
        loaded: &Loaded,
        compiled: &Compiled,
        budget: Budget,
        model: &CostModel,
        may_sample: bool,
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
            let sampling = compiled
                .info
                .guard_sampled
                .iter()
                .find(|g| g.probe_index == p.probe_index)
                .filter(|_| may_sample)
                .cloned();
            let n = sampling
                .iter()
                .flat_map(|g| g.maps.iter())
                .map(|&m| compiled.info.maps[m].sampled.max(1))
                .max()
                .unwrap_or(1);
            watched.push(Watched {
                program: p.program.clone(),
                probe_index: p.probe_index,
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
                sampling,
                n,
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
            step_checks_left: 0,
            draw_ns: 2.0 * model.helper_ns + 6.0 * model.instruction_ns,
        })
    }

    /// Called from the event loop; reads at most every `EVERY`.
    pub fn check(
        &mut self,
        loaded: &mut Loaded,
        compiled: &Compiled,
        sampling: &mut GuardSampling,
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
        let checking = self.step_checks_left > 0;
        self.step_checks_left = self.step_checks_left.saturating_sub(1);
        let missed_step = checking && machine_pct > AIM * self.budget.machine_pct;
        if machine_pct <= self.budget.machine_pct {
            self.readings_over = 0;
        } else {
            self.readings_over += 1;
        }
        if !acts_now(self.readings_over, missed_step) {
            return Ok(());
        }
        self.readings_over = 0;
        let Some(&(i, ns, hits)) = costs.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return Ok(());
        };
        let reading = Reading {
            ns,
            hits,
            others_ns: total - ns,
            seconds,
            missed_step,
        };
        match self.step(&self.watched[i], &reading) {
            Step::Sample(n) => self.sample(i, n, &reading, loaded, compiled, sampling, format, out),
            Step::Detach => self.detach(i, &reading, loaded, format, out),
        }
    }

    /// Sampling when some N up to `MAX_SAMPLING` brings the whole script to `AIM` of the
    /// budget; detaching otherwise. At 1 in N a hit costs the
    /// mechanism, the draw and 1/N of the program, whose whole cost is read back from what
    /// the kernel measured at the N it runs at now.
    fn step(&self, w: &Watched, r: &Reading) -> Step {
        if w.sampling.is_none() || r.hits == 0 {
            return Step::Detach;
        }
        let rate = r.hits as f64 / r.seconds;
        let program_ns = (r.ns / r.hits as f64 - w.mechanism_ns).max(0.0);
        let whole_ns = match w.n {
            1 => program_ns,
            n => (program_ns - self.draw_ns).max(0.0) * f64::from(n),
        };
        let budget_ns = self.budget.machine_pct / 100.0 * 1e9 * self.cpus;
        let hit = HitCost {
            mechanism_ns: w.mechanism_ns,
            draw_ns: self.draw_ns,
            program_ns: whole_ns,
        };
        match sampling_to_fit(&hit, rate, AIM * budget_ns - r.others_ns / r.seconds, w.n) {
            Some(n) => Step::Sample(n),
            None => Step::Detach,
        }
    }

    /// Every program of the costliest probe runs 1 hit in `n` from now; its maps keep what
    /// they counted so far at the factor it was counted at.
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &mut self,
        i: usize,
        n: u32,
        r: &Reading,
        loaded: &mut Loaded,
        compiled: &Compiled,
        sampling: &mut GuardSampling,
        format: Format,
        out: &mut dyn Write,
    ) -> Result<(), RunError> {
        let w = &self.watched[i];
        let Some(g) = w.sampling.clone() else {
            return Ok(());
        };
        for &m in &g.maps {
            sampling
                .resample(loaded, compiled, m, n)
                .map_err(|e| RunError::Other(format!("sampling {}: {e}", w.program)))?;
        }
        loaded
            .set_sampling(g.slot, n, &g.copies)
            .map_err(|e| RunError::Other(format!("sampling {}: {e}", w.program)))?;
        let what = targets_of(w);
        let maps: Vec<String> = g
            .maps
            .iter()
            .map(|&m| format!("@{}", compiled.info.maps[m].name))
            .collect();
        let (rate, share, per_hit) = self.figures(r);
        eprintln!(
            "guard: sampling {what} 1 hit in {n}: {}: {} events/s, {} per hit; {} print multiplied by {n} from here and marked sampled",
            self.why_now(r, share),
            quantity(rate),
            nanos(per_hit),
            maps.join(", ")
        );
        if format == Format::Json {
            let names: Vec<String> = maps
                .iter()
                .map(|m| tracebound_compiler::diagnostic::json_string(m))
                .collect();
            let line = format!(
                "{{\"type\": \"guard\", \"data\": {{\"sampled\": {}, \"n\": {n}, \"maps\": [{}], \"machine_pct\": {share:.4}, \"rate\": {rate:.1}}}}}\n",
                tracebound_compiler::diagnostic::json_string(&what),
                names.join(", ")
            );
            out.write_all(line.as_bytes())?;
            out.flush()?;
        }
        let probe = w.probe_index;
        for w in self.watched.iter_mut().filter(|w| w.probe_index == probe) {
            w.n = n;
        }
        self.step_checks_left = STEP_CHECKS;
        Ok(())
    }

    fn detach(
        &mut self,
        i: usize,
        r: &Reading,
        loaded: &mut Loaded,
        format: Format,
        out: &mut dyn Write,
    ) -> Result<(), RunError> {
        let (rate, share, per_hit) = self.figures(r);
        let why_now = self.why_now(r, share);
        let w = &mut self.watched[i];
        loaded
            .detach(&w.program)
            .map_err(|e| RunError::Other(format!("detaching {}: {e}", w.program)))?;
        w.detached = true;
        let what = targets_of(w);
        let why = match (&w.sampling, w.n) {
            (None, _) => "",
            (Some(_), 1) => "; sampling cannot bring it under",
            (Some(_), _) => "; sampling further cannot bring it under",
        };
        eprintln!(
            "guard: detached {what}: {why_now}: {} events/s, {} per hit{why}",
            quantity(rate),
            nanos(per_hit)
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

    /// What made the guard act on this reading, `share` being the costliest probe's.
    fn why_now(&self, r: &Reading, share: f64) -> String {
        let ms = (r.seconds * 1000.0).round();
        if r.missed_step {
            let script = (r.ns + r.others_ns) / (r.seconds * 1e9 * self.cpus) * 100.0;
            format!(
                "the last sampling step left the script at {} of the machine in the last {ms} ms, over the {} it aimed for",
                percent(script),
                percent(AIM * self.budget.machine_pct)
            )
        } else {
            format!(
                "measured over budget ({}) for 2 s, {} of the machine in the last {ms} ms",
                percent(self.budget.machine_pct),
                percent(share)
            )
        }
    }

    /// Events a second, share of the machine, ns per hit.
    fn figures(&self, r: &Reading) -> (f64, f64, f64) {
        let rate = r.hits as f64 / r.seconds;
        let share = r.ns / (r.seconds * 1e9 * self.cpus) * 100.0;
        let per_hit = if r.hits > 0 {
            r.ns / r.hits as f64
        } else {
            0.0
        };
        (rate, share, per_hit)
    }
}

/// Whether the guard acts on this reading: after `PATIENCE` readings over budget in a row, so
/// that a passing burst does not thin a probe, or at once when the reading checks a sampling
/// step and finds the script over what the step aimed for.
fn acts_now(readings_over: u32, missed_step: bool) -> bool {
    readings_over >= PATIENCE || missed_step
}

/// What one hit of a probe costs, in parts.
struct HitCost {
    mechanism_ns: f64,
    /// The sampling draw, paid by every hit once sampled.
    draw_ns: f64,
    /// The whole program, paid by 1 hit in N.
    program_ns: f64,
}

/// The least N (a power of two, above `now`, at most `MAX_SAMPLING`) at which `rate` hits a
/// second fit in `room_ns` of CPU a second; `None` when none does.
fn sampling_to_fit(hit: &HitCost, rate: f64, room_ns: f64, now: u32) -> Option<u32> {
    let per_hit = room_ns / rate - hit.mechanism_ns - hit.draw_ns;
    if per_hit <= 0.0 {
        return None; // reaching it costs too much already
    }
    let n = (hit.program_ns / per_hit).ceil().max(f64::from(now) * 2.0);
    (n <= f64::from(MAX_SAMPLING)).then(|| (n as u32).next_power_of_two())
}

/// The costliest probe's last interval, and the rest of the script's.
struct Reading {
    ns: f64,
    hits: u64,
    others_ns: f64,
    seconds: f64,
    /// It checks a sampling step, and the script is over what the step aimed for.
    missed_step: bool,
}

fn targets_of(w: &Watched) -> String {
    w.targets
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
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
    let (count, ns) = crate::kernel::sys::program_run_stats(loaded.program_fd(program)?).ok()?;
    Some((count, Duration::from_nanos(ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIT: HitCost = HitCost {
        mechanism_ns: 100.0,
        draw_ns: 20.0,
        program_ns: 6_000.0,
    };

    #[test]
    fn sampling_takes_the_least_n_that_fits() {
        // 20,000 hits a second in 10 ms: 500 ns a hit, 380 of them for the program: N = 16.
        assert_eq!(sampling_to_fit(&HIT, 20_000.0, 1e7, 1), Some(16));
        // Already at 16 and still over: at least twice that.
        assert_eq!(sampling_to_fit(&HIT, 20_000.0, 1e7, 16), Some(32));
    }

    #[test]
    fn a_step_that_missed_is_corrected_at_once() {
        assert!(!acts_now(1, false));
        assert!(!acts_now(PATIENCE - 1, false));
        assert!(acts_now(PATIENCE, false));
        assert!(acts_now(0, true));
    }

    #[test]
    fn a_probe_sampling_cannot_save_is_left_to_detach() {
        // Reaching it alone (100 ns at 1M/s) is 100 ms a second, over the 50 ms of room.
        assert_eq!(sampling_to_fit(&HIT, 1e6, 5e7, 1), None);
        // The program would need 1 in 6000.
        assert_eq!(sampling_to_fit(&HIT, 20_000.0, 121.0 * 20_000.0, 1), None);
        // Beyond MAX_SAMPLING from where it is.
        assert_eq!(sampling_to_fit(&HIT, 20_000.0, 1e7, MAX_SAMPLING), None);
    }
}

//! The guard's sampling as the run's output sees it: which maps' probes now run 1 hit in N,
//! since when, and what each key had counted under the N before, so that every stretch of the
//! run keeps its own factor (a count of 100 exact hits, then 30 hits seen at 1 in 8, prints
//! 100 + 240, never 130 × 8). The guard decides and writes the kernel's mask; this keeps the
//! books; printing a map and clearing it go through here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracebound_compiler::pipeline::Compiled;

use crate::output::entry::Sampler;
use crate::output::map::Scaling;
use crate::output::{MapData, Merged};
use crate::probes::load::Loaded;
use crate::probes::snapshot::{merged, snapshot, snapshot_scaled, SnapshotError};

/// One map the guard thinned.
struct Resampled {
    /// Its probes run 1 hit in `n` now.
    n: u32,
    /// How far into the run the guard first sampled it.
    since: Duration,
    /// Per stored key: what to add to the value scaled by `n` (see `Merged::plus`).
    carried: HashMap<Vec<u8>, Merged>,
}

pub struct GuardSampling {
    started: Instant,
    /// By `ProgramInfo::maps` index.
    maps: HashMap<usize, Resampled>,
}

impl GuardSampling {
    pub fn new() -> GuardSampling {
        GuardSampling {
            started: Instant::now(),
            maps: HashMap::new(),
        }
    }

    /// Map `map`'s probes go from 1 hit in (what they ran at) to 1 hit in `n`: what every
    /// key holds now keeps the old factor. Call it just before the kernel's mask changes.
    pub fn resample(
        &mut self,
        loaded: &Loaded,
        compiled: &Compiled,
        map: usize,
        n: u32,
    ) -> Result<(), SnapshotError> {
        let info = &compiled.info.maps[map];
        let now = self.started.elapsed();
        let entry = self.maps.entry(map).or_insert_with(|| Resampled {
            n: info.sampled.max(1),
            since: now,
            carried: HashMap::new(),
        });
        // value = raw × n + carried, the same before and after: carried += raw × (old - new).
        let factor = u64::from(entry.n).wrapping_sub(u64::from(n));
        for (key, raw) in merged(loaded, info)? {
            let add = raw.multiplied(factor);
            let carried = match entry.carried.remove(&key) {
                Some(c) => add.plus(&c),
                None => add,
            };
            entry.carried.insert(key, carried);
        }
        entry.n = n;
        Ok(())
    }

    /// The map was cleared or zeroed: nothing counted before carries over.
    pub fn cleared(&mut self, map: usize) {
        if let Some(r) = self.maps.get_mut(&map) {
            r.carried.clear();
        }
    }

    /// Map `map` as it prints now.
    pub fn snapshot(
        &self,
        loaded: &Loaded,
        compiled: &Compiled,
        map: usize,
    ) -> Result<MapData, SnapshotError> {
        let info = &compiled.info.maps[map];
        match self.maps.get(&map) {
            None => snapshot(loaded, info),
            Some(r) => snapshot_scaled(
                loaded,
                info,
                Scaling {
                    n: r.n,
                    by: Sampler::Guard {
                        since_ms: r.since.as_millis() as u64,
                    },
                    carried: Some(&r.carried),
                },
            ),
        }
    }
}

impl Default for GuardSampling {
    fn default() -> Self {
        GuardSampling::new()
    }
}

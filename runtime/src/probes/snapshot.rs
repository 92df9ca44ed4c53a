//! Reading a script's map out of the kernel as it is now: every key with its value slots (one
//! per possible CPU for aggregations), handed to `output` to merge, sort and print; and the
//! loss counters the programs keep beside the maps.

use std::borrow::Cow;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::Map;
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::program::{
    counters_size, full_counter, MapInfo, MapValue, ValueType, COUNTERS_MAP, LOST_COUNTER,
};

use crate::kernel::sys::{possible_cpus, MapBytes};
use crate::output::aggregate::merge;
use crate::output::map::Scaling;
use crate::output::{MapData, Merged, OutputError};
use crate::probes::load::Loaded;

#[derive(Debug)]
pub enum SnapshotError {
    Missing(String),
    Kernel(io::Error),
    Decode(OutputError),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            SnapshotError::Missing(m) => write!(f, "map {m} is not loaded"),
            SnapshotError::Kernel(e) => write!(f, "reading a map: {e}"),
            SnapshotError::Decode(e) => write!(f, "decoding a map: {e}"),
        }
    }
}

/// The map's bytes-level view: key and value sizes as the compiler laid them out.
pub fn map_bytes<'a>(loaded: &'a Loaded, info: &MapInfo) -> Result<MapBytes<'a>, SnapshotError> {
    bytes_of(map_fd(loaded, info)?, info)
}

/// The map's fd in `loaded`.
pub fn map_fd<'a>(loaded: &'a Loaded, info: &MapInfo) -> Result<BorrowedFd<'a>, SnapshotError> {
    let map = loaded
        .map(&info.bpf_name)
        .ok_or_else(|| SnapshotError::Missing(info.bpf_name.clone()))?;
    match map {
        Map::HashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::PerCpuArray(d) => Ok(d.fd().as_fd()),
        _ => Err(SnapshotError::Missing(info.bpf_name.clone())),
    }
}

/// The bytes-level view of the map `info` describes, through any fd of it (the metrics
/// endpoint holds its own, on its own thread).
pub fn bytes_of<'a>(fd: BorrowedFd<'a>, info: &MapInfo) -> Result<MapBytes<'a>, SnapshotError> {
    let key_size = match ValueType::Tuple(info.key.clone()).size() {
        // An array's index is a u32.
        _ if info.zero_is_unset => 4,
        0 => 8,
        n => n,
    };
    let per_cpu = match info.value {
        MapValue::Plain(_) => None,
        _ => Some(possible_cpus().map_err(SnapshotError::Kernel)?),
    };
    Ok(
        MapBytes::new(fd, key_size, info.value.stored_size(), per_cpu)
            .zero_is_unset(info.zero_is_unset),
    )
}

/// The map's entries, merged per CPU, in bpftrace's printing order.
pub fn snapshot(loaded: &Loaded, info: &MapInfo) -> Result<MapData, SnapshotError> {
    read(map_fd(loaded, info)?, info)
}

/// `snapshot` through any fd of the map.
pub fn read(fd: BorrowedFd, info: &MapInfo) -> Result<MapData, SnapshotError> {
    read_scaled(fd, info, Scaling::of(info))
}

/// `snapshot`, the values scaled as `scaling` says (the guard's sampling).
pub fn snapshot_scaled(
    loaded: &Loaded,
    info: &MapInfo,
    scaling: Scaling,
) -> Result<MapData, SnapshotError> {
    read_scaled(map_fd(loaded, info)?, info, scaling)
}

/// Every key's value as the kernel holds it now (stored key bytes), merged across CPUs and
/// not scaled.
pub fn merged(loaded: &Loaded, info: &MapInfo) -> Result<Vec<(Vec<u8>, Merged)>, SnapshotError> {
    let bytes = map_bytes(loaded, info)?;
    let slot = info.value.stored_size() as usize;
    let raw = bytes.entries().map_err(SnapshotError::Kernel)?;
    raw.iter()
        .map(|(key, value)| {
            let slots: Vec<&[u8]> = value.chunks(slot).collect();
            let m = merge(&info.value, &slots).map_err(SnapshotError::Decode)?;
            Ok((script_key(info, key).into_owned(), m))
        })
        .collect()
}

fn read_scaled(fd: BorrowedFd, info: &MapInfo, scaling: Scaling) -> Result<MapData, SnapshotError> {
    let bytes = bytes_of(fd, info)?;
    let slot = info.value.stored_size() as usize;
    let raw = bytes.entries().map_err(SnapshotError::Kernel)?;
    // The slots borrowed from the read, not copied: a scrape of 10,000 keys would copy 20,000.
    let entries = raw.iter().map(|(key, value)| {
        let slots: Vec<&[u8]> = value.chunks(slot).collect();
        (script_key(info, key), slots)
    });
    MapData::from_raw_scaled(info, entries, scaling).map_err(SnapshotError::Decode)
}

/// The key as the script's key type lays it out: the stored one, but for an array indexed by
/// stack id (`MapInfo::failed_stack_index`), whose u32 index is read back as the u64 id the
/// helper returned, and the index past the ids as a negative one (no stack recorded).
fn script_key<'a>(info: &MapInfo, stored: &'a [u8]) -> Cow<'a, [u8]> {
    let Some(failed) = info.failed_stack_index else {
        return Cow::Borrowed(stored);
    };
    let index = stored.get(..4).map_or(failed, |b| {
        u32::from_ne_bytes(b.try_into().expect("4 bytes"))
    });
    let id = if index == failed {
        u64::MAX
    } else {
        u64::from(index)
    };
    Cow::Owned(id.to_ne_bytes().to_vec())
}

/// The loss counters (`program::COUNTERS_MAP`): one array entry of u64s the programs add to
/// atomically. Each reader holds its own fd (the metrics endpoint reads on its own thread).
pub struct LossCounters {
    fd: std::os::fd::OwnedFd,
    size: u32,
}

impl LossCounters {
    pub fn new(loaded: &Loaded, compiled: &Compiled) -> Result<Self, SnapshotError> {
        let missing = || SnapshotError::Missing(COUNTERS_MAP.into());
        let Some(Map::Array(data)) = loaded.map(COUNTERS_MAP) else {
            return Err(missing());
        };
        let fd = data.fd().as_fd().try_clone_to_owned();
        Ok(LossCounters {
            fd: fd.map_err(SnapshotError::Kernel)?,
            size: counters_size(compiled.info.maps.len()),
        })
    }

    /// Every counter as it is now.
    pub fn read(&self) -> Result<LossCounts, SnapshotError> {
        let bytes = MapBytes::new(self.fd.as_fd(), 4, self.size, None);
        let value = bytes.lookup(&0u32.to_ne_bytes());
        Ok(LossCounts(
            value.map_err(SnapshotError::Kernel)?.unwrap_or_default(),
        ))
    }
}

/// One reading of the loss counters.
pub struct LossCounts(Vec<u8>);

impl LossCounts {
    /// Records dropped because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.at(LOST_COUNTER)
    }

    /// Updates script map `map` (`ProgramInfo::maps` index) refused because it was full.
    pub fn full(&self, map: usize) -> u64 {
        self.at(full_counter(map))
    }

    fn at(&self, offset: u32) -> u64 {
        let at = offset as usize;
        self.0
            .get(at..at + 8)
            .map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracebound_compiler::program::StackMode;

    #[test]
    fn an_array_by_stack_id_reads_back_as_stack_ids() {
        let info = MapInfo {
            name: String::new(),
            bpf_name: "tb_m0".into(),
            key: vec![ValueType::Stack {
                user: false,
                mode: StackMode::Bpftrace,
                limit: 127,
            }],
            value: MapValue::Count,
            sampled: 1,
            declared_size: None,
            zero_is_unset: true,
            failed_stack_index: Some(8192),
        };
        let id = |index: u32| {
            u64::from_ne_bytes(
                script_key(&info, &index.to_ne_bytes())
                    .as_ref()
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!(id(0), 0);
        assert_eq!(id(8191), 8191);
        // What the hash held for a stack the kernel did not record: a negative id.
        assert_eq!(id(8192) as i64, -1);
        // Any other map's key is the stored one, not copied.
        let plain = MapInfo {
            failed_stack_index: None,
            ..info
        };
        assert!(matches!(
            script_key(&plain, &[1, 2, 3, 4]),
            Cow::Borrowed([1, 2, 3, 4])
        ));
    }
}

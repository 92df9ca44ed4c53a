//! The BPF maps an object declares: the script's maps as the map table types them, and
//! the fixed ones every program uses (ring buffer, counters, flags).

/// BPF map types tracebound uses (the kernel's numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Hash = 1,
    Array = 2,
    ProgArray = 3,
    PercpuHash = 5,
    PercpuArray = 6,
    StackTrace = 7,
    LruHash = 9,
    LruPercpuHash = 10,
    Ringbuf = 27,
}

/// `BPF_F_STACK_BUILD_ID`: a stack-trace map that stores (build id, file offset) per frame.
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;

/// One BPF map as the object declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfMap {
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` flags the map is created with.
    pub flags: u32,
}

impl BpfMap {
    /// The ring buffer every user-space action goes through, `pages` 4 KiB pages.
    pub fn ringbuf(pages: u32) -> BpfMap {
        BpfMap {
            name: "tb_events".into(),
            kind: MapKind::Ringbuf,
            key_size: 0,
            value_size: 0,
            max_entries: pages * 4096,
            flags: 0,
        }
    }

    /// The programs a guard-sampled probe's own programs tail-call into while the guard
    /// samples them (`program::SampledCopy`): no slots yet (each program that tail-calls into
    /// it adds one, `Shared::sampled_copy_slot`), each empty until the runtime fills it.
    pub fn sampled_copies(name: String) -> BpfMap {
        BpfMap {
            name,
            kind: MapKind::ProgArray,
            key_size: 4,
            value_size: 4,
            max_entries: 0,
            flags: 0,
        }
    }

    /// One u64 shared by every CPU.
    pub fn flag(name: &str) -> BpfMap {
        BpfMap {
            name: name.into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
        }
    }
}

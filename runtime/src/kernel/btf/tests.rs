use super::*;

/// Builds a BTF blob by hand: strings are interned, types appended as raw words.
#[derive(Default)]
struct Builder {
    strings: Vec<u8>,
    types: Vec<u32>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            strings: vec![0],
            types: Vec::new(),
        }
    }

    fn s(&mut self, text: &str) -> u32 {
        if text.is_empty() {
            return 0;
        }
        let at = self.strings.len() as u32;
        self.strings.extend_from_slice(text.as_bytes());
        self.strings.push(0);
        at
    }

    fn record(&mut self, name: &str, kind: u32, flag: bool, vlen: u32, size: u32, extra: &[u32]) {
        let name = self.s(name);
        self.types
            .extend([name, kind << 24 | (flag as u32) << 31 | vlen, size]);
        self.types.extend_from_slice(extra);
    }

    fn blob(&self) -> Vec<u8> {
        let types: Vec<u8> = self.types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend(types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// 1 int, 2 char, 3 const int, 4 typedef pid_t = const int, 5 struct task { pid_t pid;
/// struct task *parent; char comm[4]; unsigned flags:3 at bit 160 } (size 24), 6 ptr to 5,
/// 7 char[4], 8 enum state { RUNNING = 0, DEAD = -1 } (signed), 9 func_proto int(struct task
/// *p), 10 func `wake`, 11 union u { int a; char b; }, 12 volatile ptr loop guard (typedef
/// to itself is not constructible, so a long chain stands for it elsewhere).
fn sample() -> Btf {
    let mut b = Builder::new();
    b.record("int", kind::INT, false, 0, 4, &[1 << 24 | 32]);
    b.record("char", kind::INT, false, 0, 1, &[2 << 24 | 8]);
    b.record("", kind::CONST, false, 0, 1, &[]);
    b.record("pid_t", kind::TYPEDEF, false, 0, 3, &[]);
    let (pid, parent, comm, flags) = (b.s("pid"), b.s("parent"), b.s("comm"), b.s("flags"));
    b.record(
        "task",
        kind::STRUCT,
        true,
        4,
        24,
        &[
            pid,
            4,
            0,
            parent,
            6,
            64,
            comm,
            7,
            128,
            flags,
            1,
            3 << 24 | 160,
        ],
    );
    b.record("", kind::PTR, false, 0, 5, &[]);
    b.record("", kind::ARRAY, false, 0, 0, &[2, 1, 4]);
    let (running, dead) = (b.s("RUNNING"), b.s("DEAD"));
    b.record(
        "state",
        kind::ENUM,
        true,
        2,
        4,
        &[running, 0, dead, u32::MAX],
    );
    let p = b.s("p");
    b.record("", kind::FUNC_PROTO, false, 1, 1, &[p, 6]);
    b.record("wake", kind::FUNC, false, 1, 9, &[]);
    let (a, bb) = (b.s("a"), b.s("b"));
    b.record("u", kind::UNION, false, 2, 4, &[a, 1, 0, bb, 2, 0]);
    Btf::parse(&b.blob()).unwrap()
}

#[test]
fn hand_built_types_decode() {
    let btf = sample();
    assert_eq!(btf.len(), 11);
    // The typedef and const are looked through to the int.
    assert_eq!(btf.strip(4).unwrap(), 1);
    let task = btf.by_name(NameSpace::Struct, "task").unwrap();
    let KType::Record(r) = btf.get(task).unwrap() else {
        panic!("not a record")
    };
    assert_eq!((r.name.as_str(), r.size, r.union), ("task", 24, false));
    let names: Vec<&str> = r.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["pid", "parent", "comm", "flags"]);
    assert_eq!(r.members[1].bit_offset, 64);
    assert_eq!(r.members[3].bit_offset, 160);
    assert_eq!(r.members[3].bitfield, Some(3));
    assert_eq!(r.members[0].bitfield, None);
    assert_eq!(
        btf.get(r.members[1].ty.0).unwrap(),
        KType::Pointer { to: TypeId(5) }
    );
    assert_eq!(
        btf.get(r.members[2].ty.0).unwrap(),
        KType::Array {
            elem: TypeId(2),
            len: 4
        }
    );
    assert!(matches!(
        btf.get(2).unwrap(),
        KType::Int {
            size: 1,
            signed: false,
            char: true,
            ..
        }
    ));
    assert!(matches!(
        btf.get(r.members[0].ty.0).unwrap(),
        KType::Int {
            size: 4,
            signed: true,
            char: false,
            ..
        }
    ));
    let KType::Enum(e) = btf
        .get(btf.by_name(NameSpace::Enum, "state").unwrap())
        .unwrap()
    else {
        panic!("not an enum")
    };
    assert!(e.signed);
    assert_eq!(
        e.values,
        [("RUNNING".to_string(), 0), ("DEAD".to_string(), -1)]
    );
    assert_eq!(btf.enumerator("DEAD"), Some(-1));
    let wake = btf.function("wake").unwrap();
    assert_eq!(wake.params[0].name, "p");
    assert_eq!(wake.params[0].ty, TypeId(6));
    assert_eq!(wake.ret, TypeId(1));
    let KType::Record(u) = btf
        .get(btf.by_name(NameSpace::Union, "u").unwrap())
        .unwrap()
    else {
        panic!("not a union")
    };
    assert!(u.union);
    assert_eq!(btf.by_name(NameSpace::Typedef, "pid_t"), Some(4));
    assert_eq!(btf.get(0).unwrap(), KType::Void);
    assert_eq!(btf.get(99), Err(BtfError::NoSuchType(99)));
}

#[test]
fn malformed_blobs_are_errors() {
    assert_eq!(Btf::parse(b"nope").err(), Some(BtfError::BadMagic));
    let blob = Builder::new().blob();
    assert!(Btf::parse(&blob).unwrap().is_empty());
    assert!(Btf::parse(&blob[..10]).is_err());
    // A record whose kind-specific data runs past the section.
    let mut b = Builder::new();
    b.record("s", kind::STRUCT, false, 5, 8, &[0, 1]);
    assert_eq!(
        Btf::parse(&b.blob()).err(),
        Some(BtfError::Truncated("type record"))
    );
    let mut b = Builder::new();
    b.record("x", 31, false, 0, 0, &[]);
    assert_eq!(
        Btf::parse(&b.blob()).err(),
        Some(BtfError::UnknownKind { id: 1, kind: 31 })
    );
}

#[test]
fn modifier_loops_end() {
    let mut b = Builder::new();
    b.record("a", kind::TYPEDEF, false, 0, 2, &[]);
    b.record("b", kind::TYPEDEF, false, 0, 1, &[]);
    let btf = Btf::parse(&b.blob()).unwrap();
    assert!(matches!(btf.get(1), Err(BtfError::Loop(_))));
}

/// The kernel's BTF, or `None` (skipped) where there is none; CI machines have it.
fn vmlinux() -> Option<Btf> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(bytes) => Some(Btf::parse(&bytes).unwrap()),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI machines have BTF: {e}"
            );
            eprintln!("skipped: {e}");
            None
        }
    }
}

#[test]
fn the_kernels_task_struct() {
    let Some(btf) = vmlinux() else { return };
    assert!(btf.len() > 10_000);
    let id = btf.by_name(NameSpace::Struct, "task_struct").unwrap();
    let KType::Record(task) = btf.get(id).unwrap() else {
        panic!("task_struct is not a record")
    };
    assert!(task.size > 1000, "{}", task.size);
    let member = |name: &str| task.members.iter().find(|m| m.name == name).unwrap();
    // `pid_t pid` is a signed 4-byte int through its typedef.
    assert!(matches!(
        btf.get(member("pid").ty.0).unwrap(),
        KType::Int {
            size: 4,
            signed: true,
            ..
        }
    ));
    // `struct task_struct __rcu *real_parent`: a type tag between the pointer and the struct.
    let KType::Pointer { to } = btf.get(member("real_parent").ty.0).unwrap() else {
        panic!("real_parent is not a pointer")
    };
    assert_eq!(btf.strip(to.0).unwrap(), id);
    let KType::Array { elem, len: 16 } = btf.get(member("comm").ty.0).unwrap() else {
        panic!("comm is not char[16]")
    };
    assert!(matches!(
        btf.get(elem.0).unwrap(),
        KType::Int { char: true, .. }
    ));
    // Anonymous members exist (the randomized-layout struct keeps some).
    assert!(btf
        .function("vfs_read")
        .is_some_and(|f| f.params.len() == 4));
    assert_eq!(btf.function("vfs_read").unwrap().params[0].name, "file");
    assert_eq!(btf.enumerator("TASK_COMM_LEN"), Some(16));
    let rtps = btf.raw_tracepoints();
    assert!(rtps.iter().any(|t| t == "sched_switch"));
}

/// Every type in the kernel's BTF decodes.
#[test]
fn every_kernel_type_decodes() {
    let Some(btf) = vmlinux() else { return };
    for id in 1..=btf.len() {
        btf.get(id).unwrap_or_else(|e| panic!("type {id}: {e}"));
    }
}

#[test]
fn per_cpu_variables_have_their_section_offsets() {
    let Some(btf) = vmlinux() else { return };
    // Both are per-CPU variables of every x86-64 kernel; a global that is not per-CPU is none.
    let rq = btf.percpu_variable("runqueues").expect("runqueues");
    let counts = btf
        .percpu_variable("process_counts")
        .expect("process_counts");
    assert_ne!(rq, counts);
    assert_eq!(btf.percpu_variable("jiffies"), None);
    assert_eq!(btf.percpu_variable("no_such_variable"), None);
}

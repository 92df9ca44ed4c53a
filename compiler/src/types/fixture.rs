//! Kernel types written by hand for tests: a few structs shaped like the kernel's
//! (`task_struct` with a pointer to itself, an anonymous union, a bitfield, `char comm[16]`),
//! served by `FixtureFacts` in place of a machine's BTF.

use std::collections::BTreeMap;

use super::{Enum, FuncProto, KType, Member, NameSpace, Param, Record, TypeId};

#[derive(Clone, Debug, Default)]
pub struct FixtureTypes {
    /// Type `id` is `types[id - 1]`.
    pub types: Vec<KType>,
    pub names: BTreeMap<(String, String), TypeId>,
    pub functions: BTreeMap<String, FuncProto>,
}

fn member(name: &str, ty: u32, byte: u32) -> Member {
    Member {
        name: name.into(),
        ty: TypeId(ty),
        bit_offset: byte * 8,
        bitfield: None,
    }
}

fn int(name: &str, size: u32, signed: bool) -> KType {
    KType::Int {
        name: name.into(),
        size,
        signed,
        char: name == "char",
    }
}

/// Ids 19 to 25: the route from a task to each CPU's run queue (`percpu_kaddr`):
/// `task_struct.sched_task_group` → `task_group.cfs_rq[cpu]` → `cfs_rq.rq`.
fn run_queue_route() -> Vec<KType> {
    vec![
        KType::Record(Record {
            name: "task_group".into(),
            union: false,
            size: 16,
            members: vec![member("cfs_rq", 23, 8)],
        }),
        KType::Pointer { to: TypeId(19) },
        KType::Record(Record {
            name: "cfs_rq".into(),
            union: false,
            size: 24,
            members: vec![member("nr_running", 6, 0), member("rq", 25, 16)],
        }),
        KType::Pointer { to: TypeId(21) },
        KType::Pointer { to: TypeId(22) },
        KType::Record(Record {
            name: "rq".into(),
            union: false,
            size: 8,
            members: vec![member("nr_running", 6, 0), member("cpu", 1, 4)],
        }),
        KType::Pointer { to: TypeId(24) },
    ]
}

/// The kernel functions of the bundled set: `vfs_read` and `__x64_sys_getppid`.
fn functions() -> BTreeMap<String, FuncProto> {
    let mut functions = BTreeMap::new();
    functions.insert(
        "vfs_read".to_string(),
        FuncProto {
            params: vec![
                Param {
                    name: "file".into(),
                    ty: TypeId(13),
                },
                Param {
                    name: "buf".into(),
                    ty: TypeId(14),
                },
                Param {
                    name: "count".into(),
                    ty: TypeId(9),
                },
            ],
            ret: TypeId(15),
        },
    );
    // The kfuncs `comm(pid)` calls.
    functions.insert(
        "bpf_task_from_pid".to_string(),
        FuncProto {
            params: vec![Param {
                name: "pid".into(),
                ty: TypeId(1),
            }],
            ret: TypeId(4),
        },
    );
    functions.insert(
        "bpf_task_release".to_string(),
        FuncProto {
            params: vec![Param {
                name: "p".into(),
                ty: TypeId(4),
            }],
            ret: TypeId::VOID,
        },
    );
    functions.insert(
        "__x64_sys_getppid".to_string(),
        FuncProto {
            params: Vec::new(),
            ret: TypeId(15),
        },
    );
    functions
}

impl FixtureTypes {
    /// The bundled set (`task_struct` ends with `group_leader`). Ids: 1 int, 2 char, 3 struct task_struct, 4 task_struct *,
    /// 5 char[16], 6 unsigned int, 7 mm_struct *, 8 struct mm_struct, 9 unsigned long,
    /// 10 anonymous union { int a; unsigned int b; }, 11 enum pid_type, 12 struct file,
    /// 13 file *, 14 char *, 15 long, 16 struct list_head, 17 list_head *, 18 int[4],
    /// 19 struct task_group, 20 task_group *, 21 struct cfs_rq, 22 cfs_rq *, 23 cfs_rq **,
    /// 24 struct rq, 25 rq *.
    pub fn bundled() -> FixtureTypes {
        let task = Record {
            name: "task_struct".into(),
            union: false,
            size: 112,
            members: vec![
                member("__state", 6, 0),
                member("pid", 1, 4),
                member("tgid", 1, 8),
                member("real_parent", 4, 16),
                member("comm", 5, 24),
                member("mm", 7, 40),
                member("", 10, 48),
                Member {
                    name: "in_execve".into(),
                    ty: TypeId(6),
                    bit_offset: 52 * 8 + 1,
                    bitfield: Some(1),
                },
                member("pid_kind", 11, 56),
                member("tasks", 16, 64),
                member("vals", 18, 80),
                member("group_leader", 4, 96),
                member("sched_task_group", 20, 104),
            ],
        };
        let mut types = vec![
            int("int", 4, true),
            int("char", 1, false),
            KType::Record(task),
            KType::Pointer { to: TypeId(3) },
            KType::Array {
                elem: TypeId(2),
                len: 16,
            },
            int("unsigned int", 4, false),
            KType::Pointer { to: TypeId(8) },
            KType::Record(Record {
                name: "mm_struct".into(),
                union: false,
                size: 16,
                members: vec![member("mmap_base", 9, 0), member("map_count", 1, 8)],
            }),
            int("long unsigned int", 8, false),
            KType::Record(Record {
                name: String::new(),
                union: true,
                size: 4,
                members: vec![member("a", 1, 0), member("b", 6, 0)],
            }),
            KType::Enum(Enum {
                name: "pid_type".into(),
                size: 4,
                signed: false,
                values: vec![("PIDTYPE_PID".into(), 0), ("PIDTYPE_TGID".into(), 1)],
            }),
            KType::Record(Record {
                name: "file".into(),
                union: false,
                size: 8,
                members: vec![member("f_flags", 6, 0)],
            }),
            KType::Pointer { to: TypeId(12) },
            KType::Pointer { to: TypeId(2) },
            int("long int", 8, true),
            KType::Record(Record {
                name: "list_head".into(),
                union: false,
                size: 16,
                members: vec![member("next", 17, 0), member("prev", 17, 8)],
            }),
            KType::Pointer { to: TypeId(16) },
            KType::Array {
                elem: TypeId(1),
                len: 4,
            },
        ];
        types.extend(run_queue_route());
        let mut names = BTreeMap::new();
        for (space, name, id) in [
            (NameSpace::Struct, "task_struct", 3),
            (NameSpace::Struct, "mm_struct", 8),
            (NameSpace::Struct, "file", 12),
            (NameSpace::Struct, "list_head", 16),
            (NameSpace::Struct, "task_group", 19),
            (NameSpace::Struct, "cfs_rq", 21),
            (NameSpace::Struct, "rq", 24),
            (NameSpace::Enum, "pid_type", 11),
        ] {
            names.insert((space.keyword().to_string(), name.to_string()), TypeId(id));
        }
        let functions = functions();
        FixtureTypes {
            types,
            names,
            functions,
        }
    }

    /// With iterator contexts shaped like the kernel's: `bpf_iter__task { meta; task; }` and
    /// `bpf_iter__task_file { meta; task; u32 fd; file; }`, each pointer in an anonymous
    /// union as `__bpf_md_ptr` puts it, and the verifier's `bpf_iter__task__safe_trusted`
    /// (a name only, which `-l` leaves out).
    pub fn with_iterator_contexts(mut self) -> FixtureTypes {
        let mut add = |t: KType| {
            self.types.push(t);
            TypeId(self.types.len() as u32)
        };
        let meta = add(KType::Pointer { to: TypeId::VOID });
        let wrapped = |add: &mut dyn FnMut(KType) -> TypeId, name: &str, ty: TypeId| {
            add(KType::Record(Record {
                name: String::new(),
                union: true,
                size: 8,
                members: vec![member(name, ty.0, 0)],
            }))
        };
        let meta_union = wrapped(&mut add, "meta", meta);
        let task_union = wrapped(&mut add, "task", TypeId(4));
        let file_union = wrapped(&mut add, "file", TypeId(13));
        let task = add(KType::Record(Record {
            name: "bpf_iter__task".into(),
            union: false,
            size: 16,
            members: vec![member("", meta_union.0, 0), member("", task_union.0, 8)],
        }));
        let task_file = add(KType::Record(Record {
            name: "bpf_iter__task_file".into(),
            union: false,
            size: 32,
            members: vec![
                member("", meta_union.0, 0),
                member("", task_union.0, 8),
                member("fd", 6, 16),
                member("", file_union.0, 24),
            ],
        }));
        for (name, id) in [
            ("bpf_iter__task", task),
            ("bpf_iter__task_file", task_file),
            ("bpf_iter__task__safe_trusted", task),
        ] {
            let key = (NameSpace::Struct.keyword().to_string(), name.to_string());
            self.names.insert(key, id);
        }
        self
    }

    pub fn get(&self, id: TypeId) -> Option<KType> {
        if id == TypeId::VOID {
            return Some(KType::Void);
        }
        self.types.get(id.0 as usize - 1).cloned()
    }

    pub fn named(&self, space: NameSpace, name: &str) -> Option<TypeId> {
        self.names
            .get(&(space.keyword().to_string(), name.to_string()))
            .copied()
    }

    pub fn names_in(&self, space: NameSpace) -> Vec<String> {
        self.names
            .keys()
            .filter(|(s, _)| s == space.keyword())
            .map(|(_, n)| n.clone())
            .collect()
    }

    pub fn enumerator(&self, name: &str) -> Option<i64> {
        self.types.iter().find_map(|t| match t {
            KType::Enum(e) => e.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
            _ => None,
        })
    }
}

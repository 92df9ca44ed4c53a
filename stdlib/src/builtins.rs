use crate::{Builtin, Contexts, Kind, Param, Ty};

pub static BUILTINS: &[Builtin] = &[Builtin {
    name: "pid",
    aliases: &[],
    kind: Kind::Variable,
    params: &[],
    required: 0,
    variadic: false,
    returns: Ty::Int,
    unsafe_only: false,
    contexts: Contexts::ANY,
    doc: "process id (the kernel's tgid) of the current task",
}];

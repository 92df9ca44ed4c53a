use super::*;
use crate::ast::{ExprKind, StmtKind};
use crate::machine::fixture::FixtureFacts;
use crate::parse::parse;

/// The first expression statement of `BEGIN { EXPR; }`.
fn expr(text: &str) -> (String, Expr) {
    let source = format!("BEGIN {{ {text}; }}");
    let program = parse(&source).unwrap();
    let crate::ast::Item::Probe(p) = &program.items[0] else {
        panic!("not a probe")
    };
    let StmtKind::Expr(e) = &p.body.stmts[0].kind else {
        panic!("not an expression")
    };
    (source, e.clone())
}

fn type_of(text: &str) -> Result<Option<String>, (String, String, Option<String>)> {
    let facts = FixtureFacts::new().with_kernel_types();
    let kt = KernelTypes::new(&facts);
    let (source, e) = expr(text);
    match kt.type_of(&e, &TypeEnv::default()) {
        Ok(t) => Ok(t.map(|t| kt.describe(&t))),
        Err(d) => Err((source[d.span().range()].to_string(), d.message, d.help)),
    }
}

#[test]
fn member_chains_have_the_members_types() {
    assert_eq!(type_of("curtask").unwrap().unwrap(), "struct task_struct *");
    assert_eq!(
        type_of("((struct task_struct *)curtask)->real_parent->pid")
            .unwrap()
            .unwrap(),
        "int"
    );
    assert_eq!(type_of("curtask->comm").unwrap().unwrap(), "char[16]");
    assert_eq!(
        type_of("curtask->mm->mmap_base").unwrap().unwrap(),
        "long unsigned int"
    );
    // `.` works through a pointer as `->` does, and on a struct value.
    assert_eq!(
        type_of("curtask.tasks.next").unwrap().unwrap(),
        "struct list_head *"
    );
    assert_eq!(type_of("(*curtask).pid").unwrap().unwrap(), "int");
    // A member of an anonymous union is the task's own.
    assert_eq!(type_of("curtask->b").unwrap().unwrap(), "unsigned int");
    assert_eq!(type_of("curtask->vals[2]").unwrap().unwrap(), "int");
    assert_eq!(
        type_of("curtask->pid_kind").unwrap().unwrap(),
        "enum pid_type"
    );
    assert_eq!(type_of("pid + 1").unwrap(), None);
}

#[test]
fn unknown_types_and_fields_name_the_nearest() {
    let (text, message, help) = type_of("((struct task_strct *)curtask)->pid").unwrap_err();
    assert_eq!(text, "struct task_strct *");
    assert_eq!(message, "unknown type `struct task_strct`");
    assert_eq!(help.as_deref(), Some("did you mean `struct task_struct`?"));
    let (text, message, help) = type_of("curtask->real_parent->pdi").unwrap_err();
    assert_eq!(text, "pdi");
    assert_eq!(message, "struct task_struct has no field `pdi`");
    assert_eq!(help.as_deref(), Some("did you mean `pid`?"));
    let (text, message, _) = type_of("curtask->pid->x").unwrap_err();
    assert_eq!(text, "curtask->pid");
    assert_eq!(message, "int has no fields");
}

#[test]
fn sizes_and_offsets() {
    let facts = FixtureFacts::new().with_kernel_types();
    let kt = KernelTypes::new(&facts);
    let (_, e) = expr("offsetof(struct task_struct, mm)");
    let ExprKind::Offsetof { ty, field } = &e.kind else {
        panic!("not offsetof")
    };
    let t = kt.type_name(ty, false).unwrap().unwrap();
    assert_eq!(kt.offset_of(&t, field, e.span).unwrap(), 40);
    assert_eq!(kt.size(&t, e.span).unwrap(), 112);
    let (_, e) = expr("offsetof(struct task_struct, tasks.prev)");
    let ExprKind::Offsetof { field, .. } = &e.kind else {
        panic!("not offsetof")
    };
    assert_eq!(kt.offset_of(&t, field, e.span).unwrap(), 72);
    let ptr = CType::pointer_to(t);
    assert_eq!(kt.size(&ptr, e.span).unwrap(), 8);
}

#[test]
fn without_btf_kernel_types_are_a_diagnostic() {
    let facts = FixtureFacts::new();
    let kt = KernelTypes::new(&facts);
    let (_, e) = expr("((struct task_struct *)0)->pid");
    let d = kt.type_of(&e, &TypeEnv::default()).unwrap_err();
    assert!(d.message.contains("no BTF"), "{}", d.message);
    assert_eq!(kt.curtask(), None);
}

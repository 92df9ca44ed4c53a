//! The script's own C structs read whole from a C program's memory by uprobes, with the
//! program the test builds: a union with a `float` (the runtime suite's `none type`) and a
//! struct whose `double`, `float[2]` and `long double` members sit between integers. The
//! floats print as the current release prints them, `null`, in text and JSON, and the
//! integers after them are read at the offsets the C compiler gave them; reading a float on
//! its own is refused at its text, before anything is loaded.

mod e2e;

use e2e::{loaded_tb_programs, nothing_left_loaded, tracebound, Tally};

const PROGRAM: &str = r#"
union N { int i; float f; };
struct Foo { int m; union N n; };
struct Mixed { char c; double d; int after; float arr[2]; long double q; short last; };
__attribute__((noinline, noipa)) int func(struct Foo *foo) { return foo->m; }
__attribute__((noinline, noipa)) int mixed(struct Mixed *x) { return x->after; }
int main(void) {
    struct Foo foo = { .m = 2, .n.i = 5 };
    struct Mixed m = { 'A', 1.5, 7, { 2.5f, 3.5f }, 4.5L, 9 };
    func(&foo);
    mixed(&m);
    return 0;
}
"#;

/// The script's definitions, as the program's.
const TYPES: &str = "union N { int i; float f; }; struct Foo { int m; union N n; }; \
     struct Mixed { char c; double d; int after; float arr[2]; long double q; short last; };";

fn build() -> Result<String, String> {
    let binary = e2e::build_c("uprobe-structs", "tb_struct_with_union", PROGRAM, &["-O1"])?;
    Ok(binary.to_str().expect("utf-8 path").to_string())
}

fn script(binary: &str) -> String {
    format!(
        "{TYPES} uprobe:{binary}:func {{ print(*((struct Foo *) arg0)); }} \
         uprobe:{binary}:mixed {{ print(*((struct Mixed *) arg0)); @m = *((struct Mixed *) arg0); exit(); }}"
    )
}

fn text_output(binary: &str) -> Result<(), String> {
    let (code, stdout, stderr) = tracebound(&["-q", "-c", binary, "-e", &script(binary)])?;
    let expected = "{ .m = 2, .n = { .i = 5, .f = null } }\n\
         { .c = 65, .d = null, .after = 7, .arr = [null,null], .q = null, .last = 9 }\n\
         \n\n@m: { .c = 65, .d = null, .after = 7, .arr = [null,null], .q = null, .last = 9 }\n";
    if code != 0 || !stdout.starts_with(expected) {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

fn json_output(binary: &str) -> Result<(), String> {
    let (code, stdout, stderr) =
        tracebound(&["-q", "-f", "json", "-c", binary, "-e", &script(binary)])?;
    // Blank lines stand before the maps printed at exit.
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    let mixed = r#"{"c": 65, "d": null, "after": 7, "arr": [null,null], "q": null, "last": 9}"#;
    let expected = [
        r#"{"type": "value", "data": {"m": 2, "n": {"i": 5, "f": null}}}"#.to_string(),
        format!(r#"{{"type": "value", "data": {mixed}}}"#),
        format!(r#"{{"type": "map", "data": {{"@m": {mixed}}}}}"#),
    ];
    if code != 0 || lines != expected {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    Ok(())
}

/// A float read as a value is refused at its text, in a run and in nothing it loads.
fn a_float_read_alone_is_refused(binary: &str) -> Result<(), String> {
    let before = loaded_tb_programs()?.len();
    let script = format!("{TYPES} uprobe:{binary}:func {{ @f = ((struct Foo *) arg0)->n.f + 1; }}");
    let (code, stdout, stderr) = tracebound(&["-c", binary, "-e", &script])?;
    if code != 1
        || !stderr.contains("ERROR: a floating-point value (`float`) cannot be read")
        || !stderr.contains("~~~~")
    {
        return Err(format!("exit {code}\n{stdout}{stderr}"));
    }
    nothing_left_loaded(before)
}

#[test]
fn script_structs_with_floats_print_from_uprobes() {
    if e2e::setup("script_structs_with_floats_print_from_uprobes").is_none() {
        return;
    }
    let binary = match build() {
        Ok(b) => b,
        Err(e) => panic!("building the struct program: {e}"),
    };
    let mut tally = Tally::default();
    tally.record("text", text_output(&binary));
    tally.record("json", json_output(&binary));
    tally.record("a float read alone", a_float_read_alone_is_refused(&binary));
    tally.finish();
}

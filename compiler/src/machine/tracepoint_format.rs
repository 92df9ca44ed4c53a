//! Tracepoint `format` files: the kernel's own description of a tracepoint's record
//! (`/sys/kernel/tracing/events/<category>/<event>/format`), parsed into fields, and the type a
//! script sees for each field as `args.field` / `args->field`.
//!
//! A format file looks like this (tabs before `field:` and between the `key:value;` pairs):
//!
//! ```text
//! name: sys_enter_openat
//! ID: 782
//! format:
//!     field:unsigned short common_type;   offset:0;   size:2; signed:0;
//!     ...
//!
//!     field:int __syscall_nr; offset:8;   size:4; signed:1;
//!     field:const char * filename;    offset:24;  size:8; signed:0;
//!
//! print fmt: "dfd: 0x%08lx, filename: 0x%08lx, ...", ...
//! ```
//!
//! Field declarations come in these shapes (all seen on one 6.18 kernel's 2323 formats):
//! `T name`, `T * name` (any pointer, qualifiers on either side of the `*`), `T name[N]`,
//! `T name[]` (flexible, size 0), `__data_loc T[] name` and `__data_loc T name` (a u32 locating
//! variable-length data after the fixed fields). Older kernels also wrote `char comm[TASK_COMM_LEN]`
//! (a symbolic length) and newer ones may write `__rel_loc T[] name`; both are accepted.

use std::fmt;

/// One parsed format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    /// The tracepoint's id: what `perf_event_open` takes as `config` for it.
    pub id: u32,
    /// Every field in record order, the `common_*` header fields first.
    pub fields: Vec<TracepointField>,
    /// The `print fmt:` line after its key, as the kernel wrote it: how the kernel prints a
    /// record, with its tables of flag and symbol names (`print_flags`).
    pub print_fmt: String,
}

impl TracepointFormat {
    /// The field called `name`, common or not.
    pub fn field(&self, name: &str) -> Option<&TracepointField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The tracepoint's own fields: what `args` holds and `bpftrace -lv` lists.
    pub fn args(&self) -> impl Iterator<Item = &TracepointField> {
        self.fields.iter().filter(|f| !f.common)
    }
}

/// One `field:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointField {
    pub name: String,
    /// The type with the name taken out, otherwise as the kernel wrote it: `const char *`,
    /// `char[16]`, `__data_loc char[]`, `unsigned long[]`.
    pub c_type: String,
    /// The declaration exactly as written (`char comm[16]`, `__data_loc char[] name`): what a
    /// verbose listing prints.
    pub declaration: String,
    /// Byte offset in the record (the record starts with the common fields).
    pub offset: u32,
    /// Bytes the field occupies in the record: for a `__data_loc` field that is the 4-byte
    /// locator, not the data; for a flexible array it is 0.
    pub size: u32,
    /// The kernel's `signed:` flag. It is wrong for syscall arguments (always 0 there, even for
    /// `int fd`), which is why `field_type` prefers the declared C type when it knows it.
    pub signed: bool,
    /// For `T name[N]`: N (0 for `T name[]`). `None` for everything else, `__data_loc` included.
    pub array_len: Option<u32>,
    /// A `__data_loc` field: the record holds a u32 whose low 16 bits are the data's offset from
    /// the start of the record and whose high 16 bits are its length.
    pub data_loc: bool,
    /// One of the `common_*` header fields every record starts with. bpftrace refuses to read
    /// them ("BPF does not support accessing common tracepoint fields").
    pub common: bool,
}

/// Why a format text could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// 1-based line in the format text.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for FormatError {}

/// Parses the text of a format file. Lines other than `ID:`, `field:` and `print fmt:` lines
/// (`name:`, `format:`, blank separators) are skipped, and unknown `key:value;` pairs on a
/// field line are ignored, so that a kernel adding one does not break us.
pub fn parse(text: &str) -> Result<TracepointFormat, FormatError> {
    let mut id = None;
    let mut fields = Vec::new();
    let mut print_fmt = String::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let err = |message: String| FormatError {
            line: line_no,
            message,
        };
        let trimmed = line.trim();
        if let Some(value) = trimmed.strip_prefix("ID:") {
            let value = value.trim();
            id = Some(
                value
                    .parse::<u32>()
                    .map_err(|_| err(format!("`{value}` is not a tracepoint id")))?,
            );
        } else if trimmed.starts_with("field:") {
            fields.push(parse_field_line(trimmed).map_err(err)?);
        } else if let Some(fmt) = trimmed.strip_prefix("print fmt:") {
            print_fmt = fmt.trim().to_string();
        }
    }
    let id = id.ok_or(FormatError {
        line: 1,
        message: "no `ID:` line".to_string(),
    })?;
    Ok(TracepointFormat {
        id,
        fields,
        print_fmt,
    })
}

/// `field:DECL;\toffset:N;\tsize:N;\tsigned:N;`
fn parse_field_line(line: &str) -> Result<TracepointField, String> {
    let mut pieces = line.split(';').map(str::trim).filter(|p| !p.is_empty());
    let declaration = pieces
        .next()
        .and_then(|p| p.strip_prefix("field:"))
        .map(str::trim)
        .ok_or("a field line must start with `field:`")?;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for piece in pieces {
        let Some((key, value)) = piece.split_once(':') else {
            return Err(format!("`{piece}` is not a `key:value` pair"));
        };
        let number = || {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("`{key}` is `{}`, not a number", value.trim()))
        };
        match key.trim() {
            "offset" => offset = Some(number()?),
            "size" => size = Some(number()?),
            "signed" => signed = number()? != 0,
            _ => {}
        }
    }
    let offset = offset.ok_or_else(|| format!("field `{declaration}` has no offset"))?;
    let size = size.ok_or_else(|| format!("field `{declaration}` has no size"))?;
    let decl = parse_declaration(declaration, size)?;
    Ok(TracepointField {
        common: decl.name.starts_with("common_"),
        name: decl.name,
        c_type: decl.c_type,
        declaration: declaration.to_string(),
        offset,
        size,
        signed,
        array_len: decl.array_len,
        data_loc: decl.data_loc,
    })
}

struct Declaration {
    name: String,
    c_type: String,
    array_len: Option<u32>,
    data_loc: bool,
}

fn parse_declaration(decl: &str, size: u32) -> Result<Declaration, String> {
    // `__data_loc char[] name`: the brackets belong to the type, the name comes last.
    let data_loc = decl
        .strip_prefix("__data_loc")
        .filter(|rest| rest.starts_with(char::is_whitespace));
    if let Some(rest) = data_loc {
        let (ty, name) = split_trailing_name(rest, decl)?;
        return Ok(Declaration {
            name,
            c_type: format!("__data_loc {ty}"),
            array_len: None,
            data_loc: true,
        });
    }
    // `char comm[16]`: the brackets follow the name.
    if let Some(before_close) = decl.strip_suffix(']') {
        let open = before_close
            .rfind('[')
            .ok_or_else(|| format!("unbalanced `]` in `{decl}`"))?;
        let len_text = before_close[open + 1..].trim();
        let (ty, name) = split_trailing_name(&before_close[..open], decl)?;
        let array_len = array_length(len_text, &ty, size)
            .ok_or_else(|| format!("cannot tell the length of array `{decl}`"))?;
        return Ok(Declaration {
            name,
            c_type: format!("{ty}[{len_text}]"),
            array_len: Some(array_len),
            data_loc: false,
        });
    }
    let (ty, name) = split_trailing_name(decl, decl)?;
    Ok(Declaration {
        name,
        c_type: ty,
        array_len: None,
        data_loc: false,
    })
}

/// Splits `const char * filename` into (`const char *`, `filename`).
fn split_trailing_name(text: &str, decl: &str) -> Result<(String, String), String> {
    let text = text.trim_end();
    let start = text
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &text[start..];
    let ty = text[..start].trim();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || ty.is_empty() {
        return Err(format!("`{decl}` is not a `type name` declaration"));
    }
    Ok((ty.to_string(), name.to_string()))
}

/// The element count of `T name[len_text]` occupying `size` bytes. A symbolic length
/// (`TASK_COMM_LEN`, printed by some 5.x kernels) is recovered from the size when the
/// element's size is known.
fn array_length(len_text: &str, elem_type: &str, size: u32) -> Option<u32> {
    if len_text.is_empty() {
        return Some(0);
    }
    if let Ok(n) = len_text.parse::<u32>() {
        return Some(n);
    }
    let elem_size = if is_plain_char(elem_type) {
        1
    } else {
        known_int(elem_type)?.0
    };
    size.is_multiple_of(elem_size).then_some(size / elem_size)
}

/// What a script sees when it reads a field (bpftrace 0.17's typing, checked with `bpftrace -d`
/// on this kernel; see the tests for the evidence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// An integer of `size` (1, 2, 4 or 8) bytes, read at the field's offset. The size is the
    /// record's, not the C type's: a syscall's `int dfd` occupies 8 bytes and reads as a signed
    /// 64-bit integer (bpftrace: `int64`; -100 prints as -100).
    Int { size: u32, signed: bool },
    /// `char name[N]`: a NUL-padded string of `len` bytes held in the record
    /// (bpftrace: `string[16]` for `char comm[16]`; `printf("%s", args.comm)` works).
    Str { len: u32 },
    /// Any other fixed array, of `len` integers of `elem_size` bytes
    /// (bpftrace: `unsigned int8[4]` for `__u8 saddr[4]`, `unsigned int64[6]` for
    /// `unsigned long args[6]`; indexable as `args.args[1]`).
    Array {
        elem_size: u32,
        signed: bool,
        len: u32,
    },
    /// A pointer, 8 bytes holding an address. `pointee` is the C type it points to as written
    /// (`const char`, `struct __kernel_timespec`, `void`). It is not a string: bpftrace types
    /// `const char * filename` as `int8 *` and rejects `printf("%s", args.filename)`
    /// ("integer supplied"); `str(args.filename)` reads the string it points to. For
    /// `syscalls:*` tracepoints the address is a user-space one.
    Pointer { pointee: String },
    /// A `__data_loc` field. bpftrace 0.17 gives it the value "record address + the locator's
    /// offset", an `int64` holding the address of the data; `str(args.filename)` reads it as a
    /// string and `printf("%s", args.filename)` is rejected as for a pointer. `elem` is the
    /// declared element type (`char`, `u8`, `cpumask_t`).
    DataLoc { elem: String },
    /// A field a script cannot read: a flexible array (`char buf[]`, size 0), a `__rel_loc`
    /// field, or a scalar whose size is not that of an integer.
    Unsupported { reason: String },
}

/// The type of a field as `args.field`.
///
/// Signedness: bpftrace compiles the format as C, so a declared C integer type decides
/// (`int flags` is signed though the syscall record says `signed:0`; plain `char` is signed, as
/// for clang's BPF target); a typedef it cannot see through (`pid_t`, `umode_t`, `dev_t`, enums)
/// takes the kernel's `signed:` flag. That reproduces bpftrace 0.17 on this kernel, including
/// its quirk that a syscall's `pid_t pid` reads as `unsigned int64`.
pub fn field_type(field: &TracepointField) -> FieldType {
    let unsupported = |reason: String| FieldType::Unsupported { reason };
    if field.c_type.starts_with("__rel_loc") {
        return unsupported("`__rel_loc` fields are not supported".to_string());
    }
    if field.data_loc {
        let elem = field.c_type["__data_loc".len()..].trim();
        let elem = elem.strip_suffix("[]").unwrap_or(elem).trim_end();
        return FieldType::DataLoc {
            elem: elem.to_string(),
        };
    }
    if let Some(len) = field.array_len {
        return array_type(field, len);
    }
    if let Some(star) = field.c_type.rfind('*') {
        if field.size != 8 {
            return unsupported(format!("a {}-byte pointer", field.size));
        }
        return FieldType::Pointer {
            pointee: field.c_type[..star].trim().to_string(),
        };
    }
    if !matches!(field.size, 1 | 2 | 4 | 8) {
        return unsupported(format!(
            "`{}` is {} bytes, not an integer",
            field.c_type, field.size
        ));
    }
    FieldType::Int {
        size: field.size,
        signed: signedness(&field.c_type, field.signed),
    }
}

fn array_type(field: &TracepointField, len: u32) -> FieldType {
    let elem_type = field.c_type.rsplit_once('[').map_or("", |(t, _)| t).trim();
    if len == 0 || field.size == 0 {
        return FieldType::Unsupported {
            reason: format!(
                "`{}` is a flexible array with no fixed size",
                field.declaration
            ),
        };
    }
    if is_plain_char(elem_type) {
        return FieldType::Str { len: field.size };
    }
    let elem_size = field.size / len;
    if elem_size * len != field.size || !matches!(elem_size, 1 | 2 | 4 | 8) {
        return FieldType::Unsupported {
            reason: format!(
                "`{}` is {} bytes, not {len} integers",
                field.declaration, field.size
            ),
        };
    }
    FieldType::Array {
        elem_size,
        signed: signedness(elem_type, field.signed),
        len,
    }
}

/// The declared type's signedness when it is a C integer type we can name, else the flag.
fn signedness(c_type: &str, flag: bool) -> bool {
    if is_plain_char(c_type) {
        return true;
    }
    known_int(c_type).map_or(flag, |(_, signed)| signed)
}

fn is_plain_char(c_type: &str) -> bool {
    strip_qualifiers(c_type) == "char"
}

/// Integer types whose size and signedness are known without kernel headers (x86-64 sizes):
/// the C keywords and the kernel's and libc's fixed-width names.
fn known_int(c_type: &str) -> Option<(u32, bool)> {
    let base = strip_qualifiers(c_type);
    let known = match base.as_str() {
        "signed char" | "s8" | "__s8" | "int8_t" => (1, true),
        "unsigned char" | "u8" | "__u8" | "uint8_t" | "bool" | "_Bool" => (1, false),
        "short" | "short int" | "signed short" | "signed short int" | "s16" | "__s16"
        | "int16_t" => (2, true),
        "unsigned short" | "unsigned short int" | "u16" | "__u16" | "uint16_t" => (2, false),
        "int" | "signed" | "signed int" | "s32" | "__s32" | "int32_t" => (4, true),
        "unsigned" | "unsigned int" | "u32" | "__u32" | "uint32_t" => (4, false),
        "long"
        | "long int"
        | "signed long"
        | "signed long int"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "s64"
        | "__s64"
        | "int64_t"
        | "ssize_t"
        | "off_t"
        | "loff_t" => (8, true),
        "unsigned long"
        | "unsigned long int"
        | "unsigned long long"
        | "unsigned long long int"
        | "u64"
        | "__u64"
        | "uint64_t"
        | "size_t" => (8, false),
        _ => return None,
    };
    Some(known)
}

/// `const volatile unsigned int` → `unsigned int`, with single spaces.
fn strip_qualifiers(c_type: &str) -> String {
    c_type
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str =
        include_str!("../../tests/fixtures/tracefs/syscalls/sys_enter_openat/format");
    const SCHED_SWITCH: &str =
        include_str!("../../tests/fixtures/tracefs/sched/sched_switch/format");
    const PROCESS_EXEC: &str =
        include_str!("../../tests/fixtures/tracefs/sched/sched_process_exec/format");
    const RAW_SYS_ENTER: &str =
        include_str!("../../tests/fixtures/tracefs/raw_syscalls/sys_enter/format");
    const TCP_SYNACK: &str =
        include_str!("../../tests/fixtures/tracefs/tcp/tcp_retransmit_synack/format");
    const CPUMASK: &str = include_str!("../../tests/fixtures/tracefs/ipi/ipi_send_cpumask/format");
    const PERCPU: &str =
        include_str!("../../tests/fixtures/tracefs/percpu/percpu_free_percpu/format");
    const EXECVE: &str =
        include_str!("../../tests/fixtures/tracefs/syscalls/sys_enter_execve/format");
    const FTRACE_PRINT: &str = include_str!("../../tests/fixtures/tracefs/ftrace/print/format");

    fn field<'a>(format: &'a TracepointFormat, name: &str) -> &'a TracepointField {
        format
            .field(name)
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    #[test]
    fn parses_sys_enter_openat() {
        let f = parse(OPENAT).unwrap();
        assert_eq!(f.id, 782);
        assert_eq!(f.fields.len(), 9);
        assert_eq!(f.fields.iter().filter(|f| f.common).count(), 4);
        let names: Vec<_> = f.args().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["__syscall_nr", "dfd", "filename", "flags", "mode"]);
        assert_eq!(
            *field(&f, "filename"),
            TracepointField {
                name: "filename".into(),
                c_type: "const char *".into(),
                declaration: "const char * filename".into(),
                offset: 24,
                size: 8,
                signed: false,
                array_len: None,
                data_loc: false,
                common: false,
            }
        );
        let pid = field(&f, "common_pid");
        assert!(pid.common && pid.signed);
        assert_eq!((pid.offset, pid.size), (4, 4));
    }

    #[test]
    fn parses_char_arrays_and_data_loc() {
        let f = parse(SCHED_SWITCH).unwrap();
        let comm = field(&f, "prev_comm");
        assert_eq!(comm.c_type, "char[16]");
        assert_eq!(comm.declaration, "char prev_comm[16]");
        assert_eq!((comm.offset, comm.size, comm.array_len), (8, 16, Some(16)));

        let f = parse(PROCESS_EXEC).unwrap();
        let filename = field(&f, "filename");
        assert_eq!(filename.c_type, "__data_loc char[]");
        assert_eq!(filename.declaration, "__data_loc char[] filename");
        assert!(filename.data_loc);
        assert_eq!((filename.size, filename.array_len), (4, None));

        let f = parse(CPUMASK).unwrap();
        let mask = field(&f, "cpumask");
        assert_eq!(
            (mask.c_type.as_str(), mask.data_loc),
            ("__data_loc cpumask_t", true)
        );
    }

    #[test]
    fn parses_odd_pointers_and_flexible_arrays() {
        let f = parse(PERCPU).unwrap();
        assert_eq!(field(&f, "ptr").c_type, "void __seg_gs *");
        let f = parse(EXECVE).unwrap();
        assert_eq!(field(&f, "argv").c_type, "const char *const *");
        let f = parse(FTRACE_PRINT).unwrap();
        let buf = field(&f, "buf");
        assert_eq!(
            (buf.c_type.as_str(), buf.size, buf.array_len),
            ("char[]", 0, Some(0))
        );
    }

    #[test]
    fn symbolic_array_length_comes_from_the_size() {
        // As 5.17-6.0 kernels printed it (TASK_COMM_LEN became an enum the format cannot expand).
        let text =
            "ID: 1\nformat:\n\tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:1;\n";
        let f = parse(text).unwrap();
        assert_eq!(f.fields[0].array_len, Some(16));
        assert_eq!(f.fields[0].c_type, "char[TASK_COMM_LEN]");
        assert_eq!(field_type(&f.fields[0]), FieldType::Str { len: 16 });
        let text = "ID: 1\nformat:\n\tfield:u32 ids[NR];\toffset:8;\tsize:16;\tsigned:0;\n";
        assert_eq!(parse(text).unwrap().fields[0].array_len, Some(4));
        let text = "ID: 1\nformat:\n\tfield:struct x xs[NR];\toffset:8;\tsize:16;\tsigned:0;\n";
        assert!(parse(text).is_err());
    }

    #[test]
    fn tolerates_missing_signed_and_unknown_keys() {
        let text = "ID: 7\nformat:\n\tfield:int x;\toffset:8;\tsize:4;\n\tfield:int y;\toffset:12;\tsize:4;\tsigned:1;\tfuture:3;\n";
        let f = parse(text).unwrap();
        assert!(!f.fields[0].signed && f.fields[1].signed);
    }

    #[test]
    fn reports_errors_with_their_line() {
        assert_eq!(
            parse("name: x\nformat:\n").unwrap_err().message,
            "no `ID:` line"
        );
        let e = parse("ID: x\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "`x` is not a tracepoint id")
        );
        let e = parse("ID: 1\nformat:\n\tfield:int x;\tsize:4;\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "field `int x` has no offset")
        );
        let e = parse("ID: 1\nformat:\n\tfield:int;\toffset:0;\tsize:4;\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("ID: 1\nformat:\n\tfield:int x;\toffset:zero;\tsize:4;\n").unwrap_err();
        assert_eq!(e.message, "`offset` is `zero`, not a number");
    }

    fn arg_type(text: &str, name: &str) -> FieldType {
        field_type(field(&parse(text).unwrap(), name))
    }

    // The expected types below are what `bpftrace -d` (0.17) printed for `$v = args->field` on
    // this kernel, e.g. `variable: $v :: type[int64, ...]` for `args->dfd`.
    #[test]
    fn syscall_args_take_signedness_from_the_c_type() {
        // `int dfd; size:8; signed:0` → int64; `umode_t mode; signed:0` → unsigned.
        let int = |size, signed| FieldType::Int { size, signed };
        assert_eq!(arg_type(OPENAT, "__syscall_nr"), int(4, true));
        assert_eq!(arg_type(OPENAT, "dfd"), int(8, true));
        assert_eq!(arg_type(OPENAT, "flags"), int(8, true));
        assert_eq!(arg_type(OPENAT, "mode"), int(8, false));
        assert_eq!(
            arg_type(OPENAT, "filename"),
            FieldType::Pointer {
                pointee: "const char".into()
            }
        );
        assert_eq!(
            arg_type(EXECVE, "argv"),
            FieldType::Pointer {
                pointee: "const char *const".into()
            }
        );
    }

    #[test]
    fn kernel_tracepoint_fields() {
        let int = |size, signed| FieldType::Int { size, signed };
        // sched_switch: char[16] → string[16], pid_t → int32, long → int64.
        assert_eq!(
            arg_type(SCHED_SWITCH, "prev_comm"),
            FieldType::Str { len: 16 }
        );
        assert_eq!(arg_type(SCHED_SWITCH, "prev_pid"), int(4, true));
        assert_eq!(arg_type(SCHED_SWITCH, "prev_state"), int(8, true));
        // __data_loc char[] → int64 address, read with str().
        assert_eq!(
            arg_type(PROCESS_EXEC, "filename"),
            FieldType::DataLoc {
                elem: "char".into()
            }
        );
        assert_eq!(
            arg_type(CPUMASK, "cpumask"),
            FieldType::DataLoc {
                elem: "cpumask_t".into()
            }
        );
        // unsigned long args[6] → unsigned int64[6]; __u8 saddr[4] → unsigned int8[4].
        let array = |elem_size, signed, len| FieldType::Array {
            elem_size,
            signed,
            len,
        };
        assert_eq!(arg_type(RAW_SYS_ENTER, "args"), array(8, false, 6));
        assert_eq!(arg_type(RAW_SYS_ENTER, "id"), int(8, true));
        assert_eq!(arg_type(TCP_SYNACK, "saddr"), array(1, false, 4));
        assert_eq!(arg_type(TCP_SYNACK, "saddr_v6"), array(1, false, 16));
        assert_eq!(arg_type(TCP_SYNACK, "sport"), int(2, false));
        // void __seg_gs * → a void pointer.
        assert_eq!(
            arg_type(PERCPU, "ptr"),
            FieldType::Pointer {
                pointee: "void __seg_gs".into()
            }
        );
        assert!(matches!(
            arg_type(FTRACE_PRINT, "buf"),
            FieldType::Unsupported { .. }
        ));
    }

    #[test]
    fn signedness_rules() {
        // Plain char is signed (bpftrace: `char status; signed:0` → int8).
        assert!(signedness("char", false));
        assert!(!signedness("unsigned char", true));
        assert!(signedness("const long long", false));
        assert!(!signedness("bool", true));
        // Typedefs bpftrace cannot see through keep the kernel's flag: a syscall's
        // `pid_t pid; size:8; signed:0` is `unsigned int64` in bpftrace 0.17.
        assert!(!signedness("pid_t", false));
        assert!(signedness("pid_t", true));
        assert!(!signedness("enum skb_drop_reason", false));
        // off_t is a long: bpftrace reads lseek's `off_t offset; signed:0` as int64.
        assert!(signedness("off_t", false));
    }

    #[test]
    fn odd_sizes_are_unsupported() {
        let text = "ID: 1\nformat:\n\tfield:struct foo f;\toffset:8;\tsize:12;\tsigned:0;\n\tfield:u32 w[2];\toffset:20;\tsize:12;\tsigned:0;\n\tfield:__rel_loc char[] r;\toffset:32;\tsize:4;\tsigned:0;\n";
        for name in ["f", "w", "r"] {
            assert!(
                matches!(arg_type(text, name), FieldType::Unsupported { .. }),
                "{name}"
            );
        }
    }
}

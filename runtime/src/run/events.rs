//! The event side of a run: records from the ring buffer turned into output (printf, print,
//! time, exit, ...) and the count of records the kernel had to drop because the buffer was
//! full, which is reported, never silent.

use std::io::Write;

use aya::maps::{Array, MapData};
use tracebound_compiler::pipeline::Compiled;
use tracebound_compiler::program::{record_fields, Action, ValueType};
use tracebound_compiler::Span;

use crate::kernel::ring::RingReader;
use crate::output::printf::PrintfPlan;
use crate::output::render::Presentation;
use crate::output::{self, Format, Value};
use crate::probes::load::Loaded;
use crate::probes::snapshot::{map_bytes, LossCounters};
use crate::run::error::RunError;
use crate::run::sampling::GuardSampling;
use crate::run::stop::stop_requested;
use crate::run::symbols::Symbols;

/// What the kernel could not keep: records dropped because the ring buffer was full, and
/// updates a full map refused. Reported as they happen and at exit, never silent.
pub struct Losses {
    counters: LossCounters,
    lost_reported: u64,
    /// Per script map: refused updates already reported.
    full_reported: Vec<u64>,
    map_names: Vec<String>,
    /// Per script map: the size its declaration gave, if it has one.
    declared_sizes: Vec<Option<u32>>,
    max_map_keys: u32,
}

impl Losses {
    pub fn new(
        loaded: &mut Loaded,
        compiled: &Compiled,
        max_map_keys: u32,
    ) -> Result<Self, RunError> {
        let map_names: Vec<String> = compiled.info.maps.iter().map(|m| m.name.clone()).collect();
        let declared_sizes = compiled.info.maps.iter().map(|m| m.declared_size).collect();
        Ok(Losses {
            counters: LossCounters::new(loaded, compiled)
                .map_err(|e| RunError::Other(e.to_string()))?,
            lost_reported: 0,
            full_reported: vec![0; map_names.len()],
            map_names,
            declared_sizes,
            max_map_keys,
        })
    }

    /// Writes "Lost N events" (or its JSON form) to `out` for records dropped since the last
    /// call, and a warning on stderr for each map that refused updates since then.
    pub fn report(&mut self, format: Format, out: &mut dyn Write) -> Result<(), RunError> {
        let counts = self
            .counters
            .read()
            .map_err(|e| RunError::Other(format!("reading the loss counters: {e}")))?;
        let total = counts.lost();
        let lost = total.saturating_sub(self.lost_reported);
        self.lost_reported = total;
        if lost > 0 {
            let mut text = Vec::new();
            match format {
                Format::Text | Format::Folded => output::lost_events_text(&mut text, lost),
                Format::Json => output::json::lost_events_json(&mut text, lost),
            }
            out.write_all(&text)?;
            out.flush()?;
        }
        for (index, name) in self.map_names.iter().enumerate() {
            let total = counts.full(index);
            let new = total.saturating_sub(self.full_reported[index]);
            self.full_reported[index] = total;
            if new > 0 {
                match self.declared_sizes.get(index).copied().flatten() {
                    Some(size) => eprintln!(
                        "WARNING: Map full; can't update element: @{name} is full ({size} keys), \
                         {new} new keys not stored; \
                         raise the size in its declaration `let @{name} = ...({})`",
                        u64::from(size) * 4
                    ),
                    None => eprintln!(
                        "WARNING: Map full; can't update element: @{name} is full ({} keys), \
                         {new} new keys not stored; \
                         raise the limit with `config = {{ max_map_keys = {} }}`",
                        self.max_map_keys,
                        u64::from(self.max_map_keys) * 4
                    ),
                }
            }
        }
        Ok(())
    }
}

/// The flag `exit()` raises next to its ring-buffer record, so that a run ends even when
/// the buffer was too full to take the record.
pub struct ExitFlag {
    array: Array<MapData, u64>,
}

impl ExitFlag {
    pub fn new(loaded: &mut Loaded, compiled: &Compiled) -> Result<Self, RunError> {
        let map = loaded
            .take_map(&compiled.exit_flag)
            .ok_or_else(|| RunError::Other("the exit flag is not loaded".into()))?;
        let array = Array::try_from(map).map_err(|e| RunError::Other(e.to_string()))?;
        Ok(ExitFlag { array })
    }

    /// The exit code, once some program ran `exit()`.
    pub fn raised(&self) -> Result<Option<i32>, RunError> {
        let flag = self
            .array
            .get(&0, 0)
            .map_err(|e| RunError::Other(format!("reading the exit flag: {e}")))?;
        Ok((flag >> 32 != 0).then_some(flag as u32 as i32))
    }
}

/// What the records seen so far decided.
pub struct EventState {
    /// Set by an `exit()` record.
    pub exit_code: Option<i32>,
    /// How maps print (`print(@m)`), and the format of everything else.
    pub how: Presentation,
    /// Names stack frames and addresses, and notes processes as they are announced.
    pub symbols: Symbols,
    /// The maps the guard thinned, and how they print.
    pub sampling: GuardSampling,
    /// Where `errorf`/`warnf` say they come from.
    pub script: ScriptPlace,
    /// Per action: its printf cut once, when its arguments are plain (`PrintfPlans::new`).
    pub printf: PrintfPlans,
    /// When a stop signal leaves the queued records unread.
    pub stop: StopCutoff,
}

/// How long the records queued when a stop signal (Ctrl-C) comes are still handled: each
/// may take long (a `system()` command each), a stream of them may never end, and the run
/// must end now, not once the queue is empty.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Whether the records queued at a stop signal are past their grace (`STOP_GRACE`). END's
/// own records, handled after, are never cut.
#[derive(Default)]
pub struct StopCutoff {
    since: Option<std::time::Instant>,
    pub ending: bool,
}

impl StopCutoff {
    /// Whether records are to be left unread now.
    pub fn reached(&mut self) -> bool {
        if self.ending || !stop_requested() {
            return false;
        }
        self.since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            >= STOP_GRACE
    }
}

/// The printf actions whose records print straight from their bytes, by action index.
#[derive(Default)]
pub struct PrintfPlans(Vec<Option<PrintfPlan>>);

impl PrintfPlans {
    pub fn new(actions: &[Action]) -> PrintfPlans {
        PrintfPlans(
            actions
                .iter()
                .map(|a| match a {
                    Action::Printf { format, args } => PrintfPlan::new(format.as_bytes(), args),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// The script, for the place `errorf`/`warnf` messages name (`stdin:1:9-62:`).
#[derive(Clone, Debug, Default)]
pub struct ScriptPlace {
    pub name: String,
    pub source: String,
    /// False with `--no-warnings`: `warnf` prints nothing.
    pub warnings: bool,
}

impl ScriptPlace {
    /// `NAME:LINE:COL-END: ERROR: ` for the call at `at`: 1-based line and columns, the end
    /// column one past the call's last character (on the call's first line, if it has more).
    pub fn prefix(&self, at: Span, error: bool) -> String {
        let start = (at.start as usize).min(self.source.len());
        let end = (at.end as usize).clamp(start, self.source.len());
        let line_start = self.source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |i| start + i);
        let place = self.place(at);
        let end_col = end.min(line_end) - line_start + 1;
        let level = if error { "ERROR" } else { "WARNING" };
        format!(
            "{}:{}:{}-{end_col}: {level}: ",
            self.name, place.line, place.col
        )
    }

    /// A run-time warning about the text at `at`: the place, the message, then the line with
    /// the text underlined.
    pub fn warning(&self, message: &str, at: Span) -> String {
        format!("{}{message}\n{}", self.prefix(at, false), self.context(at))
    }

    /// The script's name with the 1-based line and column where `at` starts.
    pub fn place(&self, at: Span) -> output::json::Place<'_> {
        let start = (at.start as usize).min(self.source.len());
        let line_start = self.source[..start].rfind('\n').map_or(0, |i| i + 1);
        output::json::Place {
            file: &self.name,
            line: self.source[..start].matches('\n').count() + 1,
            col: start - line_start + 1,
        }
    }
}

/// `-k`'s warning that `helper` returned `code` at `span`: on stderr as the current release
/// prints it (the message, the helper and code, the line underlined), or a JSON record.
fn print_helper_error(
    helper: &str,
    code: i64,
    span: Span,
    state: &EventState,
    out: &mut Vec<u8>,
) -> Result<(), RunError> {
    let place = &state.script;
    match state.how.format {
        Format::Json => {
            output::json::helper_error_json(out, &strerror(-code), helper, code, place.place(span))
        }
        Format::Text | Format::Folded => {
            let message = format!(
                "{}\nAdditional Info - helper: {helper}, retcode: {code}",
                helper_error_message(helper, code)
            );
            let text = place.warning(&message, span);
            std::io::stderr().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// `-k`'s warning for `helper` returning `retcode`, in the current release's words: a map
/// lookup that found nothing, or the error the code names.
pub fn helper_error_message(helper: &str, retcode: i64) -> String {
    if helper == "map_lookup_elem" {
        return "Can't lookup map element because it does not exist.".into();
    }
    strerror(-retcode)
}

/// strerror(3)'s text for an errno ("Bad address"), without Rust's " (os error N)".
fn strerror(errno: i64) -> String {
    let text = std::io::Error::from_raw_os_error(errno as i32).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

impl ScriptPlace {
    /// The lines after a message from a call a macro expanded: for each macro call,
    /// innermost first, its place, "expanded from", and its line underlined (the message's
    /// own call is not shown, as in the current release).
    pub fn expansions(&self, expanded_from: &[Span], error: bool) -> String {
        expanded_from
            .iter()
            .map(|&call| {
                format!(
                    "{}expanded from\n{}",
                    self.prefix(call, error),
                    self.context(call)
                )
            })
            .collect()
    }

    /// The lines under a message about the text at `at`, as the current release prints them:
    /// the line, then `~` under the text (a tab is four columns); every line of a text that
    /// spans several, without marks. Each line ends in a newline.
    pub fn context(&self, at: Span) -> String {
        let start = (at.start as usize).min(self.source.len());
        let end = (at.end as usize).clamp(start, self.source.len());
        let line_start = self.source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |i| start + i);
        let widen = |c: char, as_: char| {
            if c == '\t' {
                as_.to_string().repeat(4)
            } else {
                as_.to_string()
            }
        };
        if end > line_end {
            let last_end = self.source[end..]
                .find('\n')
                .map_or(self.source.len(), |i| end + i);
            return self.source[line_start..last_end]
                .lines()
                .map(|l| format!("{l}\n"))
                .collect();
        }
        let line = &self.source[line_start..line_end];
        let shown: String = line
            .chars()
            .map(|c| widen(c, if c == '\t' { ' ' } else { c }))
            .collect();
        let marks: String = line[..end - line_start]
            .char_indices()
            .map(|(i, c)| widen(c, if i < start - line_start { ' ' } else { '~' }))
            .collect();
        format!("{shown}\n{marks}\n")
    }
}

/// Records handled between two writes of the output: a batch's text stays in one buffer,
/// written with one syscall (about a megabyte of text at most).
const RECORDS_PER_WRITE: usize = 16_384;

/// Handles every record waiting in the ring buffer, in order, in batches (the consumer
/// position moves once a batch, see `kernel::ring`), their text written once a batch; stops
/// at an exit(), and at a stop signal's cut-off (`StopCutoff`). Returns the records handled.
pub fn drain(
    ring: &mut RingReader,
    loaded: &Loaded,
    compiled: &Compiled,
    state: &mut EventState,
    out: &mut dyn Write,
) -> Result<usize, RunError> {
    let mut text = Vec::with_capacity(64 * 1024);
    let mut handled = 0;
    while state.exit_code.is_none() && !state.stop.reached() {
        let n = ring.batch(RECORDS_PER_WRITE, |record| {
            handle_record(record, loaded, compiled, state, &mut text)?;
            Ok::<_, RunError>(state.exit_code.is_none() && !state.stop.reached())
        })?;
        handled += n;
        if !text.is_empty() {
            out.write_all(&text)?;
            out.flush()?;
            text.clear();
        }
        if n < RECORDS_PER_WRITE {
            break;
        }
    }
    Ok(handled)
}

/// Handles the whole frames at the front of `stream`, what an iterator's program wrote to
/// its seq file (`[u64 length][record]` each, `program::SEQ_RECORD_LENGTH`), and leaves a
/// frame cut by the end of a read for the next. The walk goes on after an exit(), as the
/// current release reads an iterator to its end: every record is handled.
pub fn handle_frames(
    stream: &mut Vec<u8>,
    loaded: &Loaded,
    compiled: &Compiled,
    state: &mut EventState,
    out: &mut dyn Write,
) -> Result<usize, RunError> {
    let header = tracebound_compiler::program::SEQ_RECORD_LENGTH as usize;
    let mut text = Vec::with_capacity(64 * 1024);
    let mut at = 0;
    let mut handled = 0;
    while stream.len() - at >= header {
        let len = output::value::read_u64(stream, at)
            .map_err(|_| RunError::Other("malformed iterator record".into()))?
            as usize;
        if stream.len() - at - header < len {
            break;
        }
        let record = &stream[at + header..at + header + len];
        handle_record(record, loaded, compiled, state, &mut text)?;
        at += header + len;
        handled += 1;
    }
    stream.drain(..at);
    if !text.is_empty() {
        out.write_all(&text)?;
        out.flush()?;
    }
    Ok(handled)
}

fn handle_record(
    record: &[u8],
    loaded: &Loaded,
    compiled: &Compiled,
    state: &mut EventState,
    out: &mut Vec<u8>,
) -> Result<(), RunError> {
    let bad = |what: &str| RunError::Other(format!("malformed event record: {what}"));
    let id = output::value::read_u64(record, 0).map_err(|_| bad("no action id"))? as usize;
    let action = compiled
        .info
        .actions
        .get(id)
        .ok_or_else(|| bad("unknown action"))?;
    let payload = &record[8..];
    let decode_args = |types: &[ValueType]| -> Result<Vec<Value>, RunError> {
        match output::value::decode(&ValueType::Tuple(record_fields(types)), payload) {
            Ok(Value::Tuple(values)) => Ok(values),
            Ok(_) => Err(bad("arguments are not a tuple")),
            Err(e) => Err(bad(&e.to_string())),
        }
    };
    match action {
        Action::Printf { format, args } => {
            printf_record(id, (format, args), payload, compiled, state, out)?
        }
        Action::Message { error, args, .. } => {
            if *error || state.script.warnings {
                message_record(action, &decode_args(args)?, compiled, state)?;
            }
        }
        Action::Exit => {
            let code = output::value::read_i64(payload, 0).map_err(|_| bad("exit code"))?;
            state.exit_code = Some(code as i32);
        }
        Action::PrintValue { value } => {
            let values = decode_args(std::slice::from_ref(value))?;
            if let Some(v) = values.first() {
                match state.how.format {
                    Format::Text | Format::Folded => {
                        output::text::print_value_text(out, v, &state.symbols)
                    }
                    Format::Json => output::json::print_value_json(out, v, &state.symbols),
                }
            }
        }
        Action::PrintMap { map, top, div } => {
            let data = state
                .sampling
                .snapshot(loaded, compiled, *map)
                .map_err(|e| RunError::Other(e.to_string()))?;
            output::render::print_map(out, &data, *top, *div, state.how, &state.symbols)
                .map_err(|e| RunError::Other(e.to_string()))?;
        }
        Action::Clear { map, zero } => {
            let bytes = map_bytes(loaded, &compiled.info.maps[*map])
                .map_err(|e| RunError::Other(e.to_string()))?;
            if *zero {
                bytes.zero()?;
            } else {
                bytes.clear()?;
            }
            state.sampling.cleared(*map);
        }
        Action::RuntimeWarning { message, span } => {
            // On stderr, as bpftrace prints its runtime errors.
            let text = state.script.warning(message, *span);
            std::io::stderr().lock().write_all(text.as_bytes())?;
        }
        Action::HelperError { helper, span } => {
            let code = output::value::read_i64(payload, 0).map_err(|_| bad("return code"))?;
            print_helper_error(helper, code, *span, state, out)?;
        }
        Action::UserProcess => {
            let pid = output::value::read_u64(payload, 0).map_err(|_| bad("pid"))?;
            state.symbols.note_process(pid as u32);
        }
        Action::Time { format } => {
            let text = local_time(format);
            match state.how.format {
                Format::Text | Format::Folded => out.extend_from_slice(text.as_bytes()),
                Format::Json => output::json::text_json(out, "time", text.as_bytes()),
            }
        }
        Action::Join {
            delimiter,
            arg_size,
            ..
        } => {
            let line = join_line(payload, delimiter, *arg_size as usize)?;
            match state.how.format {
                Format::Text | Format::Folded => out.extend_from_slice(&line),
                // Without the line's end, as the current release gives it.
                Format::Json => output::json::text_json(out, "join", &line[..line.len() - 1]),
            }
        }
        Action::Cat { format, args } | Action::System { format, args } => {
            let values = decode_args(args)?;
            cat_or_system(action, format, &values, compiled, state, out)?;
        }
    }
    Ok(())
}

/// An `errorf`/`warnf` record, on stderr after where in the script it comes from.
fn message_record(
    action: &Action,
    values: &[Value],
    compiled: &Compiled,
    state: &EventState,
) -> Result<(), RunError> {
    let Action::Message {
        error,
        at,
        expanded_from,
        format,
        ..
    } = action
    else {
        unreachable!("message_record takes a message")
    };
    let mut line = state.script.prefix(*at, *error).into_bytes();
    output::printf::printf(
        &mut line,
        format.as_bytes(),
        values,
        &state.symbols,
        &compiled.info.gfp_flags,
    )
    .map_err(|e| RunError::Other(e.to_string()))?;
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    line.extend_from_slice(state.script.expansions(expanded_from, *error).as_bytes());
    std::io::stderr().lock().write_all(&line)?;
    Ok(())
}

/// A printf record: through its plan when it has one (`PrintfPlans`), else decoded.
fn printf_record(
    id: usize,
    (format, args): (&str, &[ValueType]),
    payload: &[u8],
    compiled: &Compiled,
    state: &EventState,
    out: &mut Vec<u8>,
) -> Result<(), RunError> {
    let bad = |what: String| RunError::Other(format!("malformed event record: {what}"));
    let mut line = Vec::new();
    let text = match state.how.format {
        Format::Text | Format::Folded => &mut *out,
        Format::Json => &mut line,
    };
    match state.printf.0.get(id).and_then(Option::as_ref) {
        Some(plan) => plan.print(text, payload).map_err(|e| bad(e.to_string()))?,
        None => {
            let tuple = ValueType::Tuple(record_fields(args));
            let values = match output::value::decode(&tuple, payload) {
                Ok(Value::Tuple(values)) => values,
                Ok(_) => return Err(bad("arguments are not a tuple".into())),
                Err(e) => return Err(bad(e.to_string())),
            };
            output::printf::printf(
                text,
                format.as_bytes(),
                &values,
                &state.symbols,
                &compiled.info.gfp_flags,
            )
            .map_err(|e| RunError::Other(e.to_string()))?;
        }
    }
    if state.how.format == Format::Json {
        output::json::printf_json(out, &line);
    }
    Ok(())
}

/// A `join()` record: its count, then each argument in a slot of `arg_size` bytes, printed
/// up to its NUL with `delimiter` between them.
fn join_line(payload: &[u8], delimiter: &str, arg_size: usize) -> Result<Vec<u8>, RunError> {
    let count = output::value::read_u64(payload, 0)
        .map_err(|_| RunError::Other("malformed event record: join count".into()))?
        as usize;
    let mut line = Vec::new();
    for i in 0..count {
        let start = 8 + i * arg_size;
        let Some(arg) = payload.get(start..start + arg_size) else {
            break;
        };
        if i > 0 {
            line.extend_from_slice(delimiter.as_bytes());
        }
        line.extend(arg.iter().take_while(|&&b| b != 0));
    }
    line.push(b'\n');
    Ok(line)
}

/// `cat()`: the file's first `max_bytes` bytes (`config = { max_cat_bytes = N }`), or the
/// error line bpftrace prints when it cannot be read.
fn cat(path: &str, max_bytes: u64, out: &mut Vec<u8>) {
    use std::io::Read;
    let read = std::fs::File::open(path).and_then(|file| {
        let mut bytes = Vec::new();
        file.take(max_bytes).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) => out.extend_from_slice(&bytes),
        // The current release's words: the C library's, without Rust's "(os error N)".
        Err(e) => {
            let words = e.to_string();
            let words = words.split(" (os error").next().unwrap_or_default();
            eprintln!("ERROR: failed to open file '{path}' ({words})");
        }
    }
}

/// `system()`: the command run by the shell, its standard output printed.
fn system(command: &str, out: &mut Vec<u8>) {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .output()
    {
        Ok(o) => out.extend_from_slice(&o.stdout),
        Err(e) => eprintln!("system: {command}: {e}"),
    }
}

/// strftime(3) of the local time now.
fn local_time(format: &str) -> String {
    let Ok(c_format) = std::ffi::CString::new(format) else {
        return String::new();
    };
    let mut buf = vec![0u8; 256];
    // SAFETY: localtime_r fills `tm`; strftime writes at most buf.len() bytes into buf.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c_format.as_ptr(),
            &tm,
        )
    };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `cat()` and `system()`: what they print, as text or in its JSON type.
fn cat_or_system(
    action: &Action,
    format: &str,
    values: &[Value],
    compiled: &Compiled,
    state: &EventState,
    out: &mut Vec<u8>,
) -> Result<(), RunError> {
    let mut text = Vec::new();
    output::printf::printf(
        &mut text,
        format.as_bytes(),
        values,
        &state.symbols,
        &compiled.info.gfp_flags,
    )
    .map_err(|e| RunError::Other(e.to_string()))?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut printed = Vec::new();
    let kind = if matches!(action, Action::Cat { .. }) {
        cat(&text, compiled.limits.max_cat_bytes, &mut printed);
        "cat"
    } else {
        system(&text, &mut printed);
        "syscall"
    };
    match state.how.format {
        Format::Text | Format::Folded => out.extend_from_slice(&printed),
        Format::Json if printed.is_empty() => {}
        Format::Json => output::json::text_json(out, kind, &printed),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ScriptPlace;
    use tracebound_compiler::Span;

    #[test]
    fn messages_name_the_call_as_the_current_release_does() {
        let source = r#"begin { errorf("Something bad with args: %d, %s", 10, "arg2"); }"#;
        let place = ScriptPlace {
            name: "stdin".into(),
            source: source.into(),
            warnings: true,
        };
        let start = source.find("errorf").unwrap();
        let end = source.rfind(')').unwrap() + 1;
        assert_eq!(
            place.prefix(Span::new(start, end), true),
            "stdin:1:9-62: ERROR: "
        );
        let place = ScriptPlace {
            source: "BEGIN {\n  warnf(\"x\");\n}".into(),
            ..place
        };
        assert_eq!(
            place.prefix(Span::new(10, 20), false),
            "stdin:2:3-13: WARNING: "
        );
    }

    #[test]
    fn a_message_from_a_macro_names_the_calls_that_expanded_it() {
        let source = r#"macro bad() { errorf("Something bad"); } begin { bad(); }"#;
        let place = ScriptPlace {
            name: "stdin".into(),
            source: source.into(),
            warnings: true,
        };
        let call = source.rfind("bad()").unwrap();
        assert_eq!(
            place.expansions(&[Span::new(call, call + 5)], true),
            format!(
                "stdin:1:50-55: ERROR: expanded from\n{source}\n{}~~~~~\n",
                " ".repeat(49)
            )
        );
        assert_eq!(place.expansions(&[], true), "");
    }

    #[test]
    fn helper_errors_say_what_the_current_release_says() {
        use super::helper_error_message;
        assert_eq!(helper_error_message("probe_read_user", -14), "Bad address");
        assert_eq!(
            helper_error_message("probe_read_kernel", -34),
            "Numerical result out of range"
        );
        assert_eq!(
            helper_error_message("map_lookup_elem", 0),
            "Can't lookup map element because it does not exist."
        );
    }

    #[test]
    fn runtime_warnings_show_the_line_with_the_text_underlined() {
        let source = "BEGIN {\n\t@x = 10 / @zero;\n}";
        let place = ScriptPlace {
            name: "stdin".into(),
            source: source.into(),
            warnings: true,
        };
        let start = source.find("10").unwrap();
        let end = source.find(';').unwrap();
        assert_eq!(
            place.context(Span::new(start, end)),
            "    @x = 10 / @zero;\n         ~~~~~~~~~~\n"
        );
        assert_eq!(
            place.context(Span::new(0, source.len())),
            format!("{source}\n")
        );
    }
}

//! A C header's macros, from the system's C preprocessor: `cpp -dM` prints every macro
//! defined once the header is read, as `#define NAME BODY` lines. Only a preprocessor knows
//! them exactly (conditionals, the compiler's own predefined macros, nested includes), so
//! tracebound asks one rather than reading headers itself.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tracebound_compiler::machine::facts::FactError;

/// The preprocessor to run: `$CPP` when set, as make's convention has it, else `cpp`.
fn preprocessor() -> String {
    std::env::var("CPP")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cpp".to_string())
}

/// `header` as an `#include` writes it (`<errno.h>`, `"app.h"`): its macros, `dirs` searched
/// first.
pub fn header_macros(header: &str, dirs: &[PathBuf]) -> Result<String, FactError> {
    let cpp = preprocessor();
    let mut command = Command::new(&cpp);
    // Its messages in English: a missing header is told apart by cpp's words for it.
    command.env("LC_ALL", "C").arg("-dM").arg("-x").arg("c");
    for dir in dirs {
        command.arg("-I").arg(dir);
    }
    let mut child = command
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FactError::Unavailable {
            reason: format!(
                "reading {header} needs a C preprocessor, and `{cpp}` did not run: {e}"
            ),
        })?;
    // The one line is far below a pipe's buffer: written whole before the output is read.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(format!("#include {header}\n").as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| FactError::Unavailable {
            reason: format!("`{cpp}` on {header}: {e}"),
        })?;
    if let Some(Err(e)) = written {
        return Err(FactError::Unavailable {
            reason: format!("`{cpp}` on {header}: {e}"),
        });
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // cpp's first error says it ("<stdin>:1:10: fatal error: linux/x.h: No such file
        // or directory"); where in the one-line input is no use to anyone.
        let first = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(stderr.trim());
        let first = first.find("error").map_or(first, |at| {
            let start = first[..at].rfind(": ").map_or(0, |c| c + 2);
            &first[start..]
        });
        if stderr.contains("No such file or directory") {
            return Err(FactError::NotFound {
                what: format!("header {header}"),
            });
        }
        return Err(FactError::Unavailable {
            reason: format!("`{cpp}`: {}", first.trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // These run the machine's preprocessor: `.ci/run` installs it (cpp).
    #[test]
    fn errno_h_defines_eperm_and_a_missing_header_is_named() {
        let defines = header_macros("<errno.h>", &[]).unwrap();
        assert!(defines.lines().any(|l| l == "#define EPERM 1"), "{defines}");
        let missing = header_macros("<tracebound/none.h>", &[]).unwrap_err();
        assert!(
            matches!(&missing, FactError::NotFound { what } if what.contains("tracebound/none.h")),
            "{missing}"
        );
    }

    #[test]
    fn include_dirs_are_searched() {
        let dir = std::env::temp_dir().join(format!("tb-headers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.h"), "#define APP_LIMIT (4 << 2)\n").unwrap();
        let found = header_macros("<app.h>", std::slice::from_ref(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let defines = found.unwrap();
        assert!(defines.contains("#define APP_LIMIT (4 << 2)"), "{defines}");
    }
}

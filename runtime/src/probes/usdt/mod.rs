//! USDT probes: the sites an ELF file declares (read by `facts::usdt_notes`), attaching a program to a site
//! with the kernel counting its semaphore (`attach`), and the kind's mechanism
//! (`kind`).

pub mod attach;
mod kind;

pub use kind::{list_sites, Usdt};

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;

    /// Builds a small program with three USDT probes (`tbunit:plain`, no arguments;
    /// `tbunit:two`, two; `tbunit:gated`, with a semaphore) and returns its path, or `None`
    /// (skipped, said on stderr) without a C compiler or sys/sdt.h; under `CI=true`, where
    /// both are installed, that is a failure.
    pub fn build_sdt_program() -> Option<String> {
        // Semaphores are all or nothing per file: the gated probe has a file of its own.
        const MAIN: &str = r#"
#include <sys/sdt.h>
void gated(int argc);
int main(int argc, char **argv) {
    STAP_PROBE(tbunit, plain);
    STAP_PROBE2(tbunit, two, argc, (long)argv);
    gated(argc);
    return 0;
}
"#;
        const GATED: &str = r#"
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short tbunit_gated_semaphore __attribute__((section(".probes")));
void gated(int argc) {
    if (tbunit_gated_semaphore) STAP_PROBE1(tbunit, gated, argc);
}
"#;
        let dir = std::env::temp_dir().join(format!("tracebound-usdt-unit-{}", std::process::id()));
        let result = (|| -> Result<String, String> {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let main = dir.join("main.c");
            let gated = dir.join("gated.c");
            let binary = dir.join("sdt");
            std::fs::write(&main, MAIN).map_err(|e| e.to_string())?;
            std::fs::write(&gated, GATED).map_err(|e| e.to_string())?;
            let out = Command::new("cc")
                .args(["-O1", "-o"])
                .arg(&binary)
                .arg(&main)
                .arg(&gated)
                .output()
                .map_err(|e| format!("cc: {e}"))?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            Ok(binary.display().to_string())
        })();
        match result {
            Ok(path) => Some(path),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true and a sys/sdt.h program does not build: {e}")
            }
            Err(e) => {
                eprintln!("skipped: cannot build a sys/sdt.h program: {e}");
                None
            }
        }
    }
}

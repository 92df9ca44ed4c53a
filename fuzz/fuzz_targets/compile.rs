//! The whole compiler, text to object, against a fixture machine (no kernel): any input must
//! give an object or diagnostics, never a panic (the object writer panics on an inconsistent
//! spec, so a compiler bug shows up here as a crash).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracebound_compiler::pipeline::{compile, CompileOptions};
use tracebound_compiler::machine::fixture::FixtureFacts;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let facts = FixtureFacts::bundled();
    let _ = compile(source, &facts, &CompileOptions::default());
});

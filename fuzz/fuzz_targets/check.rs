//! Lexer + parser + `--check` on arbitrary text: any input must give a tree or diagnostics,
//! never a panic; and whatever parses must print to text that parses to the same tree and
//! renders its diagnostics without failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracebound_compiler::{ast, check_source, diagnostic, parse, CheckOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let options = CheckOptions {
        positional: Some(vec!["1".into(), "two".into()]),
        unsafe_allowed: false,
        environment: Vec::new(),
        program_options: Default::default(),
        probe_filter: None,
        ..Default::default()
    };
    let result = check_source(source, &options);
    let _ = diagnostic::render("fuzz.bt", source, &result.diagnostics, false);
    if let Ok(program) = parse::parse(source) {
        let printed = ast::print_program(&program);
        let reparsed = parse::parse(&printed)
            .unwrap_or_else(|d| panic!("printed tree does not parse: {}\n{printed}", d.message));
        assert_eq!(
            ast::print_program(&reparsed),
            printed,
            "printing is not a fixed point"
        );
    }
});

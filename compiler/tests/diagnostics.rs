//! Data-driven diagnostics tests: every file in `tests/models/err` must fail
//! to compile, and its rendered diagnostics (with source) are pinned as an
//! insta snapshot; every file in `tests/models/ok` must compile cleanly.

use mido_compiler::{compile_source, render_plain};

#[test]
fn invalid_models_report_their_errors() {
    insta::glob!("../../tests/models/err", "*.mido", |path| {
        let src = std::fs::read_to_string(path).expect("fixture readable");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model.mido");
        let compiled = compile_source(&src);
        assert!(compiled.has_errors(), "{name} compiled without errors");
        insta::assert_snapshot!(render_plain(&compiled.diagnostics, name, &src));
    });
}

#[test]
fn valid_models_compile_cleanly() {
    insta::glob!("../../tests/models/ok", "*.mido", |path| {
        let src = std::fs::read_to_string(path).expect("fixture readable");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model.mido");
        let compiled = compile_source(&src);
        assert!(
            !compiled.has_errors(),
            "{}",
            render_plain(&compiled.diagnostics, name, &src)
        );
    });
}

#[test]
fn stdlib_models_compile_cleanly() {
    for (name, src) in mido_stdlib::MODELS {
        let compiled = compile_source(src);
        assert!(
            !compiled.has_errors(),
            "{}",
            render_plain(&compiled.diagnostics, name, src)
        );
    }
}

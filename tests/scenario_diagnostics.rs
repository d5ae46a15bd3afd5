//! Scenario diagnostics: every `tests/scenarios/err/*.mido` fixture must
//! fail to check, and its rendered diagnostics (with source) are pinned as
//! an insta snapshot; every `tests/scenarios/ok/*.mido` checks cleanly.
//! Fixtures run `tests/scenarios/model.mido`.

use mido::compiler::render_plain;
use mido::compiler::scenario::{compile_scenario, CheckedScenario};
use std::path::Path;

fn check(path: &Path) -> (String, CheckedScenario) {
    let src = std::fs::read_to_string(path).expect("fixture readable");
    let dir = path.parent().expect("a directory").to_path_buf();
    let checked = compile_scenario(&src, |rel| {
        let text = std::fs::read_to_string(dir.join(rel)).map_err(|e| e.to_string())?;
        let compiled = mido::compiler::compile_source(&text);
        compiled
            .model
            .ok_or_else(|| "the model has errors".to_string())
    });
    (src, checked)
}

#[test]
fn invalid_scenarios_report_their_errors() {
    insta::glob!("scenarios/err", "*.mido", |path| {
        let (src, checked) = check(path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("scenario.mido");
        assert!(checked.has_errors(), "{name} checked without errors");
        assert!(checked.scenario.is_none());
        insta::assert_snapshot!(render_plain(&checked.diagnostics, name, &src));
    });
}

#[test]
fn valid_scenarios_check_cleanly() {
    insta::glob!("scenarios/ok", "*.mido", |path| {
        let (src, checked) = check(path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("scenario.mido");
        assert!(
            !checked.has_errors(),
            "{}",
            render_plain(&checked.diagnostics, name, &src)
        );
        assert!(checked.scenario.is_some());
    });
}

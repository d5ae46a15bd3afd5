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

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    const FIXTURE: &str = include_str!("scenarios/ok/every_statement.mido");
    const MODEL: &str = include_str!("scenarios/model.mido");

    fn check_text(src: &str) -> CheckedScenario {
        compile_scenario(src, |_| {
            mido::compiler::compile_source(MODEL)
                .model
                .ok_or_else(|| "model errors".to_string())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Cutting a piece out of a valid scenario gives diagnostics, never a panic.
        #[test]
        fn damaged_scenarios_never_panic(start in 0usize..2600, len in 1usize..40) {
            let bytes = FIXTURE.as_bytes();
            let start = start.min(bytes.len());
            let end = (start + len).min(bytes.len());
            let damaged = format!(
                "{}{}",
                String::from_utf8_lossy(&bytes[..start]),
                String::from_utf8_lossy(&bytes[end..])
            );
            let checked = check_text(&damaged);
            let _ = render_plain(&checked.diagnostics, "s.mido", &damaged);
        }

        /// Replacing a number by another, possibly absurd, one never panics.
        #[test]
        fn absurd_numbers_never_panic(k in 0usize..80, x in prop::sample::select(vec!["0", "-1", "1e308", "0.5", "100000000000", "3"])) {
            let mut n = 0;
            let mut out = String::new();
            let mut chars = FIXTURE.char_indices().peekable();
            while let Some((_, c)) = chars.next() {
                if c.is_ascii_digit() {
                    let mut num = c.to_string();
                    while let Some((_, d)) = chars.peek() {
                        if d.is_ascii_digit() || *d == '.' { num.push(*d); chars.next(); } else { break; }
                    }
                    out.push_str(if n == k { x } else { &num });
                    n += 1;
                } else {
                    out.push(c);
                }
            }
            let checked = check_text(&out);
            let _ = render_plain(&checked.diagnostics, "s.mido", &out);
        }
    }
}

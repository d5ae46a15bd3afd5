//! No input makes the front end panic: random bytes, random token soups, and
//! random damage to a valid model all come back as diagnostics.

use mido_compiler::{compile_source, render_plain};
use proptest::prelude::*;

const THEO: &str = include_str!("../../examples/theophylline/theo.mido");

/// Words the lexer knows, plus a few it does not, to build token soups the
/// parser will meet half-way.
const VOCAB: &[&str] = &[
    "model",
    "data",
    "covariates",
    "fixed",
    "random",
    "individual",
    "compartments",
    "dynamics",
    "observe",
    "dose",
    "block",
    "time-varying",
    "d/dt",
    "in",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    "~",
    "=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "x",
    "ka",
    "cl",
    "subject",
    "occasion",
    "normal",
    "real",
    "category",
    "exp",
    "time",
    "DV",
    "0",
    "1.5",
    "2e-3",
    "\"s\"",
    "\"",
    "/*",
    "$",
    "é",
];

fn check_no_panic(src: &str) {
    let compiled = compile_source(src);
    // Rendering must not panic either, whatever the spans.
    let _ = render_plain(&compiled.diagnostics, "fuzz.mido", src);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_sequences_never_panic(
        words in proptest::collection::vec(proptest::sample::select(VOCAB), 0..120),
        seps in proptest::collection::vec(proptest::sample::select(&[" ", "\n", ""][..]), 120),
    ) {
        let mut src = String::new();
        for (w, s) in words.iter().zip(&seps) {
            src.push_str(w);
            src.push_str(s);
        }
        check_no_panic(&src);
        let prefixed = format!("model m {src}");
        check_no_panic(&prefixed);
    }

    #[test]
    fn damaged_valid_models_never_panic(cut in 0usize..THEO.len(), len in 0usize..40, insert in proptest::sample::select(VOCAB)) {
        let mut src: Vec<char> = THEO.chars().collect();
        let at = cut.min(src.len());
        let end = (at + len).min(src.len());
        src.splice(at..end, insert.chars());
        check_no_panic(&src.into_iter().collect::<String>());
    }
}

//! The bundled examples compile, and their typed IR is pinned.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compile(rel: &str) -> mido_compiler::ir::Model {
    let path = repo().join(rel);
    let src = std::fs::read_to_string(&path).expect("example exists");
    let compiled = mido_compiler::compile_source(&src);
    assert!(
        !compiled.has_errors(),
        "{}",
        mido_compiler::render_plain(&compiled.diagnostics, rel, &src)
    );
    compiled.model.expect("a valid model has IR")
}

#[test]
fn theophylline_ir() {
    let m = compile("examples/theophylline/theo.mido");
    insta::assert_snapshot!(mido_compiler::pretty::print_model(&m));
}

#[test]
fn theophylline_functions_and_derivatives() {
    let m = compile("examples/theophylline/theo.mido");
    insta::assert_snapshot!(mido_compiler::functions::print_functions(&m));
}

#[test]
fn two_compartment_infusion_functions_and_derivatives() {
    let m = compile("examples/two_cpt_infusion/model.mido");
    insta::assert_snapshot!(mido_compiler::functions::print_functions(&m));
}

#[test]
fn two_compartment_infusion_ir() {
    let m = compile("examples/two_cpt_infusion/model.mido");
    insta::assert_snapshot!(mido_compiler::pretty::print_model(&m));
}

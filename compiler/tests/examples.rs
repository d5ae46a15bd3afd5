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

#[test]
fn warfarin_ir() {
    let m = compile("examples/warfarin/warfarin.mido");
    insta::assert_snapshot!(mido_compiler::pretty::print_model(&m));
}

#[test]
fn warfarin_functions_and_derivatives() {
    let m = compile("examples/warfarin/warfarin.mido");
    insta::assert_snapshot!(mido_compiler::functions::print_functions(&m));
}

/// The single `observe` function writes every endpoint's outputs, then per
/// endpoint its prediction and error parameters.
#[test]
fn warfarin_endpoints_in_model_info() {
    use mido_runtime::model::{EndpointInfo, ErrorModel};
    let m = compile("examples/warfarin/warfarin.mido");
    let info = mido_compiler::interp::model_info(&m);
    assert_eq!(info.outputs, ["cp", "pca"]);
    assert_eq!(
        info.endpoints,
        [
            EndpointInfo {
                name: "cp".into(),
                dvid: Some(1.0),
                error_model: ErrorModel::Combined,
                prediction: 2,
            },
            EndpointInfo {
                name: "pca".into(),
                dvid: Some(2.0),
                error_model: ErrorModel::Additive,
                prediction: 5,
            },
        ]
    );
    assert_eq!(info.observe_len(), 7);
    assert_eq!(info.endpoint_for_dvid(2.0), Some(1));
    assert_eq!(info.endpoint_for_dvid(3.0), None);
}

/// Variables of the same name in two endpoints get qualified output columns.
#[test]
fn clashing_endpoint_variables_are_qualified() {
    let m = compile("tests/models/ok/two_endpoints.mido");
    let info = mido_compiler::interp::model_info(&m);
    assert_eq!(info.outputs, ["pk.y", "pd.y", "above"]);
    let names: Vec<&str> = info.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["pk", "pd"]);
}

/// The single unnamed block is the endpoint "DV" for every record.
#[test]
fn unnamed_observe_is_the_single_endpoint() {
    let m = compile("examples/theophylline/theo.mido");
    let info = mido_compiler::interp::model_info(&m);
    assert_eq!(info.endpoints.len(), 1);
    assert_eq!(
        (info.endpoints[0].name.as_str(), info.endpoints[0].dvid),
        ("DV", None)
    );
    assert_eq!(info.endpoints[0].prediction, info.outputs.len());
    assert_eq!(info.endpoint_for_dvid(7.0), Some(0));
}

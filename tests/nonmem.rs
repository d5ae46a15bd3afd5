//! NONMEM conformance: NONMEM's own predictions for its 29 dosing test
//! cases (7.5.1) and two time-varying covariate cases, record by record.
//! The data live in ../shared/reference/nmtests; without it the tests skip
//! and say why.

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::simulate::{simulate, SimOptions};
use std::path::PathBuf;

fn reference() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/nmtests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (the public NONMEM reference outputs are not bundled)",
            dir.display()
        );
        None
    }
}

/// Runs `model` on `input` and compares its `cp` with NONMEM's column `col`
/// of `output`, row by row: within 1e-4 relative (NONMEM prints 5
/// significant digits) or 1e-6 absolute near zero.
fn conforms(model: &str, input: &str, output: &str, col: &str) {
    let Some(dir) = reference() else { return };
    let src = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/nonmem")
            .join(model),
    )
    .expect("model file");
    let model = compile_model(&src, Engine::Jit).unwrap_or_else(|_| panic!("{model} compiles"));
    let data = Dataset::read(&dir.join(input), &DataSpec::from_info(model.info()))
        .expect("NONMEM's dataset reads");
    let opts = SimOptions {
        typical: true,
        ..SimOptions::default()
    };
    let table =
        simulate(model.as_ref(), &data, &model.info().theta_init(), &opts).expect("simulates");
    let cp = table
        .output_names
        .iter()
        .position(|n| n == "cp")
        .expect("cp column");

    let mut reader = csv::Reader::from_path(dir.join(output)).expect("NONMEM output");
    let headers = reader.headers().expect("header").clone();
    let col_i = headers
        .iter()
        .position(|h| h == col)
        .expect("reference column");
    let id_i = headers.iter().position(|h| h == "ID").expect("ID column");
    let refs: Vec<(String, f64)> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            (
                r[id_i].to_string(),
                r[col_i].trim().parse::<f64>().expect("number"),
            )
        })
        .collect();
    assert_eq!(refs.len(), table.rows.len(), "one prediction per record");
    let mut failures = Vec::new();
    for (row, (id, want)) in table.rows.iter().zip(&refs) {
        let got = row.outputs[cp];
        let ok = (got - want).abs() <= (1e-4 * want.abs()).max(1e-6);
        if !ok {
            failures.push(format!(
                "ID {id} TIME {}: mido {got}, NONMEM {want}",
                row.time
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} records differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn all_29_dosing_scenarios_match_nonmem() {
    conforms("dosing.mido", "dosing_input.csv", "dosing_nonmem.csv", "CP");
}

#[test]
fn all_29_dosing_scenarios_match_nonmem_with_the_closed_form_model() {
    conforms(
        "dosing_closed_form.mido",
        "dosing_input.csv",
        "dosing_nonmem.csv",
        "CP",
    );
}

#[test]
fn time_varying_weight_matches_nonmem() {
    conforms(
        "time_varying_wt.mido",
        "time_varying_input.csv",
        "time_varying_nonmem.csv",
        "CP",
    );
}

#[test]
fn time_varying_creatinine_clearance_matches_nonmem() {
    conforms(
        "time_varying_crcl.mido",
        "time_varying_crcl_input.csv",
        "time_varying_crcl_nonmem.csv",
        "CP",
    );
}

//! Random effects, residual error, reproducibility and the output table.

mod common;

use common::{dataset, OneCompIv};
use mido_runtime::model::*;
use mido_runtime::simulate::{simulate, SimError, SimOptions, SimTable};
use mido_runtime::solver::SolverError;

const CSV: &str = "ID,TIME,DV,AMT,EVID\n\
                   1,0,.,100,1\n1,1,.,.,0\n1,4,.,.,0\n1,12,.,.,0\n\
                   2,0,.,50,1\n2,2,.,.,0\n2,8,.,.,0\n\
                   3,0,.,80,1\n3,0.5,.,.,0\n3,24,.,.,0\n";

fn run(model: &dyn Model, csv: &str, seed: u64, typical: bool) -> SimTable {
    let data = dataset(model, csv);
    let opts = SimOptions {
        seed,
        typical,
        ..SimOptions::default()
    };
    simulate(model, &data, &model.info().theta_init(), &opts).expect("simulates")
}

fn csv_text(t: &SimTable) -> String {
    let mut out = Vec::new();
    t.write_csv(&mut out).expect("writes");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn same_seed_gives_identical_table() {
    let model = OneCompIv::new();
    assert_eq!(run(&model, CSV, 42, false), run(&model, CSV, 42, false));
    assert_eq!(
        csv_text(&run(&model, CSV, 42, false)),
        csv_text(&run(&model, CSV, 42, false))
    );
}

#[test]
fn different_seed_gives_different_table() {
    let model = OneCompIv::new();
    let (a, b) = (run(&model, CSV, 1, false), run(&model, CSV, 2, false));
    assert_ne!(a.rows, b.rows);
    // PRED does not depend on the seed.
    let preds = |t: &SimTable| t.rows.iter().map(|r| r.pred).collect::<Vec<_>>();
    assert_eq!(preds(&a), preds(&b));
}

#[test]
fn a_subjects_draws_do_not_depend_on_other_subjects_records() {
    let model = OneCompIv::new();
    let more_obs_for_subject_1 =
        CSV.replace("1,12,.,.,0\n", "1,12,.,.,0\n1,13,.,.,0\n1,14,.,.,0\n");
    let (a, b) = (
        run(&model, CSV, 9, false),
        run(&model, &more_obs_for_subject_1, 9, false),
    );
    let subject = |t: &SimTable, id: f64| {
        t.rows
            .iter()
            .filter(|r| r.id == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(subject(&a, 2.0), subject(&b, 2.0));
    assert_eq!(subject(&a, 3.0), subject(&b, 3.0));
}

#[test]
fn random_effects_make_ipred_differ_from_pred_and_dv_from_ipred() {
    let model = OneCompIv::new();
    let t = run(&model, CSV, 5, false);
    let obs: Vec<_> = t.rows.iter().filter(|r| r.evid == 0).collect();
    assert!(obs.iter().all(|r| r.ipred != r.pred));
    assert!(obs.iter().all(|r| r.dv.is_some_and(|dv| dv != r.ipred)));
    assert!(t
        .rows
        .iter()
        .filter(|r| r.evid == 1)
        .all(|r| r.dv.is_none()));
    assert!(t.stats.accepted > 0 && t.stats.rhs_evals > t.stats.accepted);
}

#[test]
fn typical_simulation_has_no_random_effects_or_residual_error() {
    let model = OneCompIv::new();
    let t = run(&model, CSV, 5, true);
    for r in &t.rows {
        assert_eq!(r.ipred, r.pred);
        match r.evid {
            0 => assert_eq!(r.dv, Some(r.ipred)),
            _ => assert_eq!(r.dv, None),
        }
    }
}

#[test]
fn occasion_etas_differ_between_occasions() {
    // No between-subject variability; V varies by occasion.
    let model = OneCompIv::with(0.0, Some(0.2), vec![]);
    let csv =
        "ID,TIME,AMT,EVID,OCC\n1,0,100,1,1\n1,1,.,0,1\n1,200,100,1,2\n1,201,.,0,2\n1,400,100,1,1\n";
    let t = run(&model, csv, 3, false);
    // At a dose row with (virtually) no drug left, IPRED = 100 / V_occ.
    let v = |row: usize| 100.0 / t.rows[row].ipred;
    assert!((v(0) - v(2)).abs() > 1e-6, "occasions 1 and 2 differ");
    assert!(
        (v(0) - v(4)).abs() < 1e-6 * v(0),
        "occasion 1 keeps its eta"
    );
    assert!((v(0) - 10.0).abs() > 1e-6);
    // Typical V for PRED.
    assert!((100.0 / t.rows[0].pred - 10.0).abs() < 1e-9);
}

#[test]
fn csv_output_has_header_missing_dots_and_stable_numbers() {
    let model = OneCompIv::new();
    let t = run(&model, "ID,TIME,AMT,EVID\n1,0,100,1\n1,0.25,.,0\n", 1, true);
    let text = csv_text(&t);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "ID,TIME,EVID,PRED,IPRED,DV,CONC");
    assert_eq!(lines[1], "1,0,1,10,10,.,10");
    let c = 10.0 * (-0.2f64 * 0.25).exp();
    let s = mido_runtime::format::fmt_num(c);
    assert_eq!(lines[2], format!("1,0.25,0,{s},{s},{s},{s}"));
    assert_eq!(s, "9.512294245");
}

#[test]
fn wrong_theta_count_is_an_error() {
    let model = OneCompIv::new();
    let data = dataset(&model, CSV);
    let e = simulate(&model, &data, &[1.0], &SimOptions::default()).expect_err("1 theta");
    assert_eq!(
        e,
        SimError::ThetaLength {
            expected: 3,
            found: 1
        }
    );
}

/// A model whose derivative blows up, to exercise solver error reporting.
struct Exploding(ModelInfo);

impl Model for Exploding {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    fn individual(&self, _: &[f64], _: &[f64], _: &[f64], _: f64, _: &mut [f64]) {}
    fn rhs(&self, t: f64, _y: &[f64], _: &[f64], _: &[f64], d: &mut [f64]) {
        d[0] = if t > 1.0 { f64::NAN } else { 1.0 };
    }
    fn dose_props(&self, _: f64, _: &[f64], _: &[f64], out: &mut [DoseProps]) {
        out.fill(DoseProps::default());
    }
    fn observe(&self, _: f64, y: &[f64], _: &[f64], _: &[f64], out: &mut [f64]) {
        out[0] = y[0];
        out[1] = 1.0;
    }
}

#[test]
fn solver_failure_names_subject_and_time() {
    let mut info = OneCompIv::new().info.clone();
    info.thetas.clear();
    info.etas.clear();
    info.omegas.clear();
    info.params.clear();
    info.outputs.clear();
    let model = Exploding(info);
    let data = dataset(&model, "ID,TIME,AMT\n7,0,1\n7,0.5,.\n7,3,.\n");
    let e = simulate(&model, &data, &[], &SimOptions::default()).expect_err("NaN");
    match &e {
        SimError::Solver {
            subject,
            from,
            to,
            source,
        } => {
            assert_eq!((subject.as_str(), *from, *to), ("7", 0.5, 3.0));
            assert!(matches!(
                source,
                SolverError::NonFinite { state: 0, .. } | SolverError::StepSizeTooSmall { .. }
            ));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().contains("subject 7"), "{e}");
}

#[test]
fn invalid_bioavailability_from_model_is_reported() {
    let mut model = OneCompIv::new();
    model.f = -1.0;
    let data = dataset(&model, "ID,TIME,AMT\n3,0,100\n3,1,.\n");
    let e = simulate(
        &model,
        &data,
        &model.info.theta_init(),
        &SimOptions::default(),
    )
    .expect_err("F < 0");
    assert_eq!(
        e.to_string(),
        "subject 3: bioavailability is -1 for the dose at data row 2; it must be finite and ≥ 0"
    );
}

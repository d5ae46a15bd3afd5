//! The `mido` command end to end: exit codes, diagnostics, simulation
//! snapshots and reproducibility.

use std::path::PathBuf;

mod common;
use common::{mido, repo, stderr, stdout, temp_dir};

const THEO: &str = "examples/theophylline/theo.mido";
const INFUSION: &str = "examples/two_cpt_infusion/model.mido";
const WARFARIN: &str = "examples/warfarin/warfarin.mido";

#[test]
fn check_accepts_the_examples() {
    for model in [THEO, INFUSION, WARFARIN] {
        let o = mido(&["check", model]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}

#[test]
fn check_reports_model_errors_with_location_and_exit_1() {
    let dir = temp_dir("check-err");
    let path = dir.join("bad.mido");
    let src = std::fs::read_to_string(repo().join(THEO))
        .expect("example")
        .replace("cl = tv_cl * exp(eta_cl)", "cl = tv_c * exp(eta_cl)");
    std::fs::write(&path, src).expect("write");
    let o = mido(&["check", path.to_str().expect("utf8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error[E0101]: unknown name `tv_c`"), "{err}");
    assert!(err.contains("bad.mido:25:8"), "{err}");
    assert!(
        err.contains("did you mean") && err.contains("`tv_cl`"),
        "{err}"
    );
    assert!(
        !err.contains("never used"),
        "a misspelling is one mistake: {err}"
    );
}

#[test]
fn check_exits_1_with_a_located_diagnostic_on_every_invalid_fixture() {
    let dir = repo().join("tests/models/err");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 30, "at least 30 invalid models");
    for path in paths {
        let rel = path.strip_prefix(repo()).expect("inside the repo");
        let o = mido(&["check", rel.to_str().expect("utf8 path")]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", rel.display());
        // `file:line:col` of the first diagnostic.
        let name = rel.to_str().expect("utf8");
        let located = err.lines().any(|l| {
            l.trim_start()
                .strip_prefix("┌─ ")
                .and_then(|rest| rest.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|lc| {
                    let mut parts = lc.split(':');
                    parts.next().is_some_and(|l| l.parse::<usize>().is_ok())
                        && parts.next().is_some_and(|c| c.parse::<usize>().is_ok())
                })
        });
        assert!(located, "{}: no file:line:col in\n{err}", rel.display());
    }
}

#[test]
fn check_of_a_missing_file_is_a_usage_error() {
    let o = mido(&["check", "no/such/model.mido"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read model file"));
}

#[test]
fn check_prints_the_typed_ir_on_request() {
    let o = mido(&["check", "--ir", THEO]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("param#0 cl: real = theta:tv_cl * exp(eta:eta_cl)"));
}

#[test]
fn simulate_theophylline_typical() {
    let o = mido(&["simulate", THEO, "--typical"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn simulate_theophylline_seeded() {
    let o = mido(&["simulate", THEO, "--seed", "20261125"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn simulate_two_compartment_infusion_typical() {
    let o = mido(&["simulate", INFUSION, "--typical"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

/// The warfarin example's typical simulation: every record predicted by the
/// endpoint its DVID selects.
#[test]
fn simulate_warfarin_typical_uses_each_records_endpoint() {
    let o = mido(&["simulate", WARFARIN, "--typical"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("ID,TIME,EVID,DVID,PRED,IPRED,DV,cp,pca"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let num = |s: &str| s.parse::<f64>().expect("number");
    let subject1 = rows.iter().filter(|r| r[0] == "1" && r[2] == "0");
    let (mut cp, mut pca) = (Vec::new(), Vec::new());
    for r in subject1 {
        let (pred, dvid) = (num(&r[4]), r[3].as_str());
        match dvid {
            "1" => {
                assert_eq!(pred, num(&r[7]), "DVID 1 predicts cp: {r:?}");
                cp.push((num(&r[1]), pred));
            }
            "2" => {
                assert_eq!(pred, num(&r[8]), "DVID 2 predicts pca: {r:?}");
                pca.push((num(&r[1]), pred));
            }
            other => panic!("unexpected DVID {other}"),
        }
    }
    // cp: the Bateman function of a 100 mg dose (ka 1, CL 0.134, V 8).
    let k = 0.134 / 8.0;
    for (t, c) in &cp {
        let bateman = 100.0 / 8.0 / (1.0 - k) * ((-k * t).exp() - (-t).exp());
        assert!(
            (c - bateman).abs() < 1e-4 * bateman,
            "cp at {t}: {c} vs {bateman}"
        );
    }
    // PCA starts at its baseline, falls, then recovers.
    assert_eq!(pca[0], (0.0, 96.6));
    let (t_min, min) =
        pca.iter()
            .copied()
            .fold((0.0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    assert!(
        min < 30.0 && (36.0..=96.0).contains(&t_min),
        "nadir {min} at {t_min}"
    );
    assert!(pca.last().expect("pca").1 > min + 30.0, "recovery: {pca:?}");
    insta::assert_snapshot!(out);
}

#[test]
fn simulate_rejects_observations_of_no_endpoint() {
    let dir = temp_dir("bad-dvid");
    let data = dir.join("data.csv");
    std::fs::write(
        &data,
        "ID,TIME,AMT,EVID,DVID\n1,0,100,1,.\n1,1,.,0,PCA\n1,2,.,0,3\n1,3,.,0,.\n",
    )
    .expect("write");
    let o = mido(&["simulate", WARFARIN, "--data", data.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("row 4, column DVID = \"3\""), "{err}");
    assert!(err.contains("row 5, column DVID"), "{err}");
    assert!(err.contains("1 (cp), 2 (pca)"), "{err}");
    assert!(
        !err.contains("row 3"),
        "a text DVID names an endpoint: {err}"
    );
    assert!(stdout(&o).is_empty(), "nothing is simulated from bad data");

    std::fs::write(&data, "ID,TIME,AMT,EVID\n1,0,100,1\n1,1,.,0\n").expect("write");
    let o = mido(&["simulate", WARFARIN, "--data", data.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("column DVID"), "{}", stderr(&o));
}

#[test]
fn same_seed_gives_byte_identical_output_and_another_seed_differs() {
    let a = mido(&["simulate", THEO, "--seed", "7"]);
    let b = mido(&["simulate", THEO, "--seed", "7"]);
    let c = mido(&["simulate", THEO, "--seed", "8"]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
}

#[test]
fn simulate_writes_atomically_and_never_overwrites_without_force() {
    let dir = temp_dir("out");
    let out = dir.join("run");
    let out_s = out.to_str().expect("utf8 path");
    let first = mido(&["simulate", THEO, "--typical", "--out", out_s]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let table = out.join("simulation.csv");
    let before = std::fs::read(&table).expect("table written");

    let second = mido(&["simulate", THEO, "--seed", "3", "--out", out_s]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        stderr(&second).contains("already exists"),
        "{}",
        stderr(&second)
    );
    assert_eq!(std::fs::read(&table).expect("still there"), before);

    let forced = mido(&["simulate", THEO, "--seed", "3", "--out", out_s, "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(std::fs::read(&table).expect("replaced"), before);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn simulate_rejects_bad_data_naming_row_and_column() {
    let dir = temp_dir("bad-data");
    let data = dir.join("data.csv");
    std::fs::write(
        &data,
        "ID,TIME,DV,AMT,EVID,MDV,CMT,WT\n1,0,.,100,1,1,1,70\n1,1,.,.,0,0,2,70\n1,0.5,.,.,0,0,2,70\n",
    )
    .expect("write");
    let o = mido(&["simulate", THEO, "--data", data.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("row 4"), "{err}");
    assert!(err.contains("TIME"), "{err}");
    assert!(stdout(&o).is_empty(), "nothing is simulated from bad data");
}

#[test]
fn simulate_without_a_dataset_says_how_to_give_one() {
    let dir = temp_dir("no-data");
    let path = dir.join("m.mido");
    let src = std::fs::read_to_string(repo().join(THEO))
        .expect("example")
        .replace("data \"theoph_nm.csv\"", "");
    std::fs::write(&path, src).expect("write");
    let o = mido(&["simulate", path.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--data"));
}

const THEO_CF: &str = "examples/theophylline/theo_closed_form.mido";

#[test]
fn fit_writes_results_never_overwrites_and_restarts_from_them() {
    let dir = temp_dir("fit");
    let out = dir.join("fit");
    let out_s = out.to_str().expect("utf8 path");
    let o = mido(&["fit", THEO_CF, "--out", out_s, "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(summary.contains("status: converged"), "{summary}");
    assert!(summary.contains("116.8034"), "{summary}");
    for f in ["estimates.json", "sdtab.csv", "iterations.csv", "run.json"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let sdtab = std::fs::read_to_string(out.join("sdtab.csv")).expect("sdtab");
    assert!(sdtab.starts_with("ID,TIME,DV,PRED,IPRED,RES,WRES,CWRES,IWRES,eta_cl,eta_v,eta_ka\n"));
    assert_eq!(sdtab.lines().count(), 133, "132 observations and a header");
    let est = std::fs::read_to_string(out.join("estimates.json")).expect("estimates");
    assert!(
        est.contains("\"method\": \"FOCEI\"") && est.contains("\"tv_cl\""),
        "{est}"
    );
    let run = std::fs::read_to_string(out.join("run.json")).expect("run record");
    assert!(
        run.contains("sha256") && run.contains("mido_version"),
        "{run}"
    );

    // `simulate --params` runs the model at the estimates: its typical
    // predictions are the fit's PRED at every observation.
    let est_path = out.join("estimates.json");
    let o = mido(&[
        "simulate",
        THEO_CF,
        "--typical",
        "--params",
        est_path.to_str().expect("utf8 path"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sim = stdout(&o);
    let header: Vec<&str> = sim.lines().next().expect("header").split(',').collect();
    let (evid, pred) = (
        header.iter().position(|h| *h == "EVID").expect("EVID"),
        header.iter().position(|h| *h == "PRED").expect("PRED"),
    );
    let sim_pred: Vec<f64> = sim
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[evid] == "0")
        .map(|f| f[pred].parse().expect("number"))
        .collect();
    let fit_pred: Vec<f64> = sdtab
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).expect("PRED").parse().expect("number"))
        .collect();
    assert_eq!(sim_pred.len(), fit_pred.len());
    for (a, b) in sim_pred.iter().zip(&fit_pred) {
        assert!((a - b).abs() <= 1e-8 * b.abs().max(1.0), "{a} vs {b}");
    }
    let without = stdout(&mido(&["simulate", THEO_CF, "--typical"]));
    assert_ne!(
        without, sim,
        "the estimates differ from the model's initial values"
    );

    // A second run into the same directory refuses, leaving the files.
    let o = mido(&["fit", THEO_CF, "--out", out_s, "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("estimates.json")).expect("kept"),
        est
    );

    // Starting from the estimates, the fit ends where it started.
    let again = dir.join("again");
    let o = mido(&[
        "fit",
        THEO_CF,
        "--out",
        again.to_str().expect("utf8 path"),
        "--init",
        est_path.to_str().expect("utf8 path"),
        "--quiet",
        "--covariance",
        "none",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("116.8034") && s.contains("covariance step: not requested"),
        "{s}"
    );
}

#[test]
fn fit_that_cannot_start_says_why_and_exits_1() {
    let dir = temp_dir("fit-bad");
    let path = dir.join("bad.mido");
    let src = std::fs::read_to_string(repo().join(THEO_CF))
        .expect("example")
        .replace("data \"theoph_nm.csv\"", "")
        .replace("add_sd = 0.69 in (0, ) [mg/L]", "add_sd = 0 fixed");
    std::fs::write(&path, src).expect("write");
    let data = repo().join("examples/theophylline/theoph_nm.csv");
    let o = mido(&[
        "fit",
        path.to_str().expect("utf8 path"),
        "--data",
        data.to_str().expect("utf8 path"),
        "--out",
        dir.join("out").to_str().expect("utf8 path"),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not finite at the initial estimates"),
        "{}",
        stderr(&o)
    );
    // What there is is written: the run record with the reason, and an
    // (empty) iteration log; no estimates.
    let out = dir.join("out");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().expect("error text");
    assert!(
        error.contains("not finite at the initial estimates"),
        "{error}"
    );
    assert!(error.contains("subject 1"), "{error}");
    let log = std::fs::read_to_string(out.join("iterations.csv")).expect("iterations.csv");
    assert_eq!(log, "iteration,ofv,gradient,evaluations\n");
    assert!(!out.join("estimates.json").exists());
}

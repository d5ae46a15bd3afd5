//! `mido vpc` end to end: the observed percentiles against an independent
//! computation from the data file (plain and prediction-corrected, with
//! PRED from `mido simulate --typical`), and the simulated intervals
//! reproducible by seed whatever the number of threads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mido_env(args: &[&str], threads: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mido"));
    c.args(args).current_dir(repo());
    if let Some(n) = threads {
        c.env("RAYON_NUM_THREADS", n);
    }
    c.output().expect("mido runs")
}

fn mido(args: &[&str]) -> Output {
    mido_env(args, None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mido-vpc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const MODEL: &str = "examples/theophylline/theo_closed_form.mido";
const DATA: &str = "examples/theophylline/theoph_nm.csv";
const EDGES: [f64; 6] = [0.0, 1.0, 3.0, 6.0, 10.0, 25.0];

/// R's type-7 quantile of sorted values.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The data's observation rows: (record index among all rows, time, DV).
fn observations() -> Vec<(usize, f64, f64)> {
    let mut reader = csv::Reader::from_path(repo().join(DATA)).expect("data");
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.expect("row");
        if &row[4] == "0" && &row[5] == "0" {
            out.push((
                i,
                row[1].parse().expect("time"),
                row[2].parse().expect("dv"),
            ));
        }
    }
    out
}

/// The bin of `t` for EDGES: `[e_i, e_{i+1})`, the last closed.
fn bin_of(t: f64) -> usize {
    (0..EDGES.len() - 1)
        .find(|&b| t >= EDGES[b] && (t < EDGES[b + 1] || b == EDGES.len() - 2))
        .expect("inside the edges")
}

/// Columns of vpc.csv by name, one map per row.
fn table(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("vpc.csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn fit_estimates(dir: &Path) -> PathBuf {
    let out = dir.join("fit");
    let o = mido(&["fit", MODEL, "--out", s(&out), "--covariance", "none", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    out.join("estimates.json")
}

fn check_observed(rows: &[std::collections::HashMap<String, String>], values: &[(f64, f64)]) {
    assert_eq!(rows.len(), EDGES.len() - 1);
    for (b, row) in rows.iter().enumerate() {
        let mut v: Vec<f64> = values
            .iter()
            .filter(|(t, _)| bin_of(*t) == b)
            .map(|(_, y)| *y)
            .collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(row["n_obs"], v.len().to_string());
        for (col, p) in [("obs_p5", 0.05), ("obs_p50", 0.5), ("obs_p95", 0.95)] {
            let want = quantile(&v, p);
            let got: f64 = row[col].parse().expect("number");
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "bin {b} {col}: {got} vs {want}"
            );
        }
        for p in ["p5", "p50", "p95"] {
            let x = |k: &str| -> f64 { row[&format!("sim_{p}_{k}")].parse().expect("number") };
            assert!(
                x("lower") <= x("median") && x("median") <= x("upper"),
                "{row:?}"
            );
        }
    }
}

#[test]
fn observed_percentiles_match_an_independent_computation() {
    let dir = temp_dir("observed");
    let params = fit_estimates(&dir);
    let edges = EDGES.map(|e| e.to_string()).join(",");
    let out = dir.join("vpc");
    let o = mido(&[
        "vpc",
        MODEL,
        "--params",
        s(&params),
        "-n",
        "50",
        "--bins",
        &edges,
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let obs = observations();
    let values: Vec<(f64, f64)> = obs.iter().map(|&(_, t, y)| (t, y)).collect();
    check_observed(&table(&out.join("vpc.csv")), &values);
    assert!(text(&o.stdout).contains("VPC, 50 replicates"));
    let svg = std::fs::read_to_string(out.join("vpc.svg")).expect("plot");
    assert!(svg.contains("VPC, 50 replicates: observed percentiles"));
    // The observations drawn over the intervals: one point each.
    assert_eq!(svg.matches("<circle").count(), obs.len());

    // Prediction corrected: Y·PRED_bin/PRED with PRED from a typical
    // simulation of the same design.
    let sim = dir.join("typical");
    let o = mido(&[
        "simulate",
        MODEL,
        "--params",
        s(&params),
        "--typical",
        "--out",
        s(&sim),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut reader = csv::Reader::from_path(sim.join("simulation.csv")).expect("table");
    let header: Vec<String> = reader
        .headers()
        .expect("h")
        .iter()
        .map(String::from)
        .collect();
    let pred_col = header
        .iter()
        .position(|h| h == "PRED")
        .expect("PRED column");
    let preds: Vec<f64> = reader
        .records()
        .map(|r| r.expect("row")[pred_col].parse().expect("pred"))
        .collect();
    let pred_of = |i: usize| preds[i];
    let mut bin_pred = Vec::new();
    for b in 0..EDGES.len() - 1 {
        let mut p: Vec<f64> = obs
            .iter()
            .filter(|o| bin_of(o.1) == b)
            .map(|o| pred_of(o.0))
            .collect();
        p.sort_by(f64::total_cmp);
        bin_pred.push(quantile(&p, 0.5));
    }
    // Observations at t = 0 have PRED 0 and cannot be corrected: start
    // the bins after the dose.
    assert!(obs.iter().any(|o| o.1 == 0.0 && pred_of(o.0) == 0.0));
    let out_pc = dir.join("pcvpc");
    let o = mido(&[
        "vpc",
        MODEL,
        "--params",
        s(&params),
        "-n",
        "20",
        "--bins",
        &edges,
        "--pred-corrected",
        "--out",
        s(&out_pc),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("prediction correction needs a positive population prediction; subject 1 has PRED = 0 at data row 3"),
        "{err}"
    );
    // Without the pre-dose samples it works and matches.
    let data = dir.join("after_dose.csv");
    let all = std::fs::read_to_string(repo().join(DATA)).expect("data");
    let mut kept = Vec::new();
    let mut kept_obs = Vec::new();
    let mut record = 0;
    for (i, line) in all.lines().enumerate() {
        if i == 0 {
            kept.push(line.to_string());
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let is_obs = f[4] == "0" && f[5] == "0";
        if is_obs && f[1] == "0" {
            record += 1;
            continue;
        }
        if is_obs {
            let t: f64 = f[1].parse().expect("time");
            let y: f64 = f[2].parse().expect("dv");
            kept_obs.push((t, y, pred_of(record)));
        }
        kept.push(line.to_string());
        record += 1;
    }
    std::fs::write(&data, kept.join("\n") + "\n").expect("write");
    let o = mido(&[
        "vpc",
        MODEL,
        "--data",
        s(&data),
        "--params",
        s(&params),
        "-n",
        "20",
        "--bins",
        &edges,
        "--pred-corrected",
        "--out",
        s(&out_pc),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut bin_pred = Vec::new();
    for b in 0..EDGES.len() - 1 {
        let mut p: Vec<f64> = kept_obs
            .iter()
            .filter(|o| bin_of(o.0) == b)
            .map(|o| o.2)
            .collect();
        p.sort_by(f64::total_cmp);
        bin_pred.push(quantile(&p, 0.5));
    }
    let corrected: Vec<(f64, f64)> = kept_obs
        .iter()
        .map(|&(t, y, p)| (t, y * bin_pred[bin_of(t)] / p))
        .collect();
    check_observed(&table(&out_pc.join("vpc.csv")), &corrected);
}

#[test]
fn simulated_intervals_are_reproducible_by_seed() {
    let dir = temp_dir("seed");
    let params = fit_estimates(&dir);
    let run = |name: &str, seed: &str, threads: &str| -> String {
        let out = dir.join(name);
        let o = mido_env(
            &[
                "vpc",
                MODEL,
                "--params",
                s(&params),
                "-n",
                "40",
                "--seed",
                seed,
                "--out",
                s(&out),
                "-q",
            ],
            Some(threads),
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        std::fs::read_to_string(out.join("vpc.csv")).expect("table")
    };
    let a = run("a", "7", "1");
    let b = run("b", "7", "2");
    assert_eq!(a, b, "1 and 2 threads");
    let c = run("c", "8", "2");
    assert_ne!(a, c, "another seed draws other replicates");
    // Same data, so the observed columns agree.
    let obs = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split(',').take(9).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(obs(&a), obs(&c));
    // An existing result is not replaced without --force.
    let o = mido(&[
        "vpc",
        MODEL,
        "--params",
        s(&params),
        "-n",
        "5",
        "--out",
        s(&dir.join("a")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--force"));
}

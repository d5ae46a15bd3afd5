//! `mido vpc` end to end: the observed percentiles against an independent
//! computation from the data file (plain and prediction-corrected, with
//! PRED from `mido simulate --typical`), and the simulated intervals
//! reproducible by seed whatever the number of threads. With censored
//! data (the theophylline data with LLOQ = 2 mg/L): the observed fraction
//! below the limit and the percentiles with censored values ranked lowest
//! against the same independent computation; bad CENS values, and fits of
//! censored data, refused with the row named.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{mido, mido_env, repo, s, temp_dir, text};

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
/// The median of the values in each bin of `EDGES`, from `(time, value)`
/// pairs: `PRED_bin` of the prediction correction.
fn bin_medians(pairs: impl Iterator<Item = (f64, f64)> + Clone) -> Vec<f64> {
    (0..EDGES.len() - 1)
        .map(|b| {
            let mut v: Vec<f64> = pairs
                .clone()
                .filter(|(t, _)| bin_of(*t) == b)
                .map(|(_, v)| v)
                .collect();
            v.sort_by(f64::total_cmp);
            quantile(&v, 0.5)
        })
        .collect()
}

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

/// PRED of every record of the bundled data, from `mido simulate --typical`.
fn typical_preds(dir: &Path, params: &Path) -> Vec<f64> {
    let sim = dir.join("typical");
    let o = mido(&[
        "simulate",
        MODEL,
        "--params",
        s(params),
        "--typical",
        "--out",
        s(&sim),
        "--force",
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
    reader
        .records()
        .map(|r| r.expect("row")[pred_col].parse().expect("pred"))
        .collect()
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
    // No censoring in the data: no columns or panel for it.
    let header = std::fs::read_to_string(out.join("vpc.csv")).expect("table");
    assert!(!header.lines().next().expect("header").contains("lloq"));
    assert!(!svg.contains("fraction below LLOQ"));

    // Prediction corrected: Y·PRED_bin/PRED with PRED from a typical
    // simulation of the same design.
    let preds = typical_preds(&dir, &params);
    let pred_of = |i: usize| preds[i];
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
    let bin_pred = bin_medians(kept_obs.iter().map(|o| (o.0, o.2)));
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

const LLOQ: f64 = 2.0;

/// The bundled data with CENS and LLOQ columns, observations below LLOQ
/// censored the M3 way (CENS = 1, DV = LLOQ); without the pre-dose samples
/// when `after_dose` (their PRED is 0), with MDV = 1 on the censored rows
/// when `m1`. Returns the file and its observations: (record index in the
/// bundled file, time, DV as measured, censored).
fn censored_data(
    dir: &Path,
    name: &str,
    after_dose: bool,
    m1: bool,
) -> (PathBuf, Vec<(usize, f64, f64, bool)>) {
    let all = std::fs::read_to_string(repo().join(DATA)).expect("data");
    let mut lines = all.lines();
    let mut out = vec![format!("{},CENS,LLOQ", lines.next().expect("header"))];
    let mut obs = Vec::new();
    for (i, line) in lines.enumerate() {
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        let is_obs = f[4] == "0" && f[5] == "0";
        if !is_obs {
            out.push(format!("{line},.,."));
            continue;
        }
        if after_dose && f[1] == "0" {
            continue;
        }
        let t: f64 = f[1].parse().expect("time");
        let y: f64 = f[2].parse().expect("dv");
        let censored = y < LLOQ;
        if censored {
            f[2] = LLOQ.to_string();
            if m1 {
                f[5] = "1".into();
            }
        }
        out.push(format!("{},{},{LLOQ}", f.join(","), u8::from(censored)));
        obs.push((i, t, y, censored));
    }
    let path = dir.join(name);
    std::fs::write(&path, out.join("\n") + "\n").expect("write");
    (path, obs)
}

fn number(row: &std::collections::HashMap<String, String>, col: &str) -> Option<f64> {
    let v = &row[col];
    (!v.is_empty()).then(|| v.parse().expect("number"))
}

/// vpc.csv's censoring columns and observed percentiles against values
/// `(time, value, limit, censored)`: the fraction censored per bin, the
/// bin's limit (the largest), and type-7 percentiles with censored values
/// ranked lowest, empty where the lower order statistic is censored or
/// the percentile is below the bin's limit.
fn check_censored(
    rows: &[std::collections::HashMap<String, String>],
    values: &[(f64, f64, f64, bool)],
) {
    assert_eq!(rows.len(), EDGES.len() - 1);
    let mut empty = 0;
    for (b, row) in rows.iter().enumerate() {
        let bin: Vec<&(f64, f64, f64, bool)> = values.iter().filter(|v| bin_of(v.0) == b).collect();
        let n = bin.len();
        assert_eq!(row["n_obs"], n.to_string());
        let below = bin.iter().filter(|v| v.3).count();
        let fraction = number(row, "obs_blq").expect("fraction");
        assert!(
            (fraction - below as f64 / n as f64).abs() < 1e-9,
            "bin {b}: {fraction} vs {below}/{n}"
        );
        let limit = bin.iter().map(|v| v.2).fold(f64::NEG_INFINITY, f64::max);
        let got = number(row, "lloq").expect("limit");
        assert!(
            (got - limit).abs() <= 1e-9 * limit,
            "bin {b}: {got} vs {limit}"
        );
        // Censored values first (in any order), then the sorted others.
        let mut sorted: Vec<Option<f64>> = bin.iter().filter(|v| v.3).map(|_| None).collect();
        let mut quantified: Vec<f64> = bin.iter().filter(|v| !v.3).map(|v| v.1).collect();
        quantified.sort_by(f64::total_cmp);
        sorted.extend(quantified.iter().map(|&y| Some(y)));
        for (col, p) in [("obs_p5", 0.05), ("obs_p50", 0.5), ("obs_p95", 0.95)] {
            let h = (n - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let want = match (sorted[lo], sorted[hi]) {
                (Some(a), Some(c)) => Some(a + (h - lo as f64) * (c - a)).filter(|q| *q >= limit),
                _ => None,
            };
            let got = number(row, col);
            match (got, want) {
                (Some(g), Some(w)) => {
                    assert!(
                        (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                        "bin {b} {col}: {g} vs {w}"
                    )
                }
                (None, None) => empty += 1,
                _ => panic!("bin {b} {col}: {got:?} vs {want:?}"),
            }
        }
        // Simulated intervals: ordered, and once a bound is known (above
        // the limit) so are the ones above it; fractions in [0, 1].
        for p in ["p5", "p50", "p95", "blq"] {
            let x: Vec<Option<f64>> = ["lower", "median", "upper"]
                .iter()
                .map(|k| number(row, &format!("sim_{p}_{k}")))
                .collect();
            for w in x.windows(2) {
                match (w[0], w[1]) {
                    (Some(a), Some(c)) => assert!(a <= c, "bin {b} {p}: {x:?}"),
                    (Some(_), None) => panic!("bin {b} {p}: {x:?}"),
                    _ => {}
                }
            }
            if p == "blq" {
                assert!(x
                    .iter()
                    .all(|v| v.is_some_and(|f| (0.0..=1.0).contains(&f))));
            }
        }
    }
    assert!(empty > 0, "some percentile is below the limit");
}

#[test]
fn censored_data_give_fractions_below_the_limit() {
    let dir = temp_dir("censored");
    let params = fit_estimates(&dir);
    let (data, obs) = censored_data(&dir, "blq.csv", false, false);
    let edges = EDGES.map(|e| e.to_string()).join(",");
    let run = |name: &str, seed: &str, threads: &str| -> (Output, String) {
        let out = dir.join(name);
        let o = mido_env(
            &[
                "vpc",
                MODEL,
                "--data",
                s(&data),
                "--params",
                s(&params),
                "-n",
                "60",
                "--bins",
                &edges,
                "--seed",
                seed,
                "--out",
                s(&out),
            ],
            Some(threads),
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        (
            o,
            std::fs::read_to_string(out.join("vpc.csv")).expect("table"),
        )
    };
    let (o, a) = run("a", "3", "1");
    let values: Vec<(f64, f64, f64, bool)> =
        obs.iter().map(|&(_, t, y, c)| (t, y, LLOQ, c)).collect();
    assert!(values.iter().any(|v| v.3) && values.iter().any(|v| !v.3));
    check_censored(&table(&dir.join("a").join("vpc.csv")), &values);
    // Reproducible by seed whatever the number of threads; another seed
    // gives other simulated fractions.
    let (_, b) = run("b", "3", "2");
    assert_eq!(a, b, "1 and 2 threads");
    let (_, c) = run("c", "4", "2");
    assert_ne!(a, c);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("below LLOQ"), "{stdout}");
    assert!(stdout.contains("<LLOQ"), "{stdout}");
    assert!(
        stdout.contains("observed fractions below LLOQ lie outside the 95% intervals"),
        "{stdout}"
    );
    // The plot: quantified observations only, and the second panel.
    let svg = std::fs::read_to_string(dir.join("a").join("vpc.svg")).expect("plot");
    let quantified = obs.iter().filter(|o| !o.3).count();
    assert_eq!(svg.matches("<circle").count(), quantified);
    assert!(svg.contains("fraction below LLOQ"));

    // Prediction corrected: below the limit before correction, limits
    // corrected like the values.
    let preds = typical_preds(&dir, &params);
    let (data, obs) = censored_data(&dir, "blq_after_dose.csv", true, false);
    let out = dir.join("pc");
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
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let bin_pred = bin_medians(obs.iter().map(|o| (o.1, preds[o.0])));
    let corrected: Vec<(f64, f64, f64, bool)> = obs
        .iter()
        .map(|&(i, t, y, c)| {
            let k = bin_pred[bin_of(t)] / preds[i];
            (t, y * k, LLOQ * k, c)
        })
        .collect();
    check_censored(&table(&out.join("vpc.csv")), &corrected);
}

#[test]
fn bad_censoring_values_are_reported_with_their_row() {
    let dir = temp_dir("bad-cens");
    let (data, _) = censored_data(&dir, "blq.csv", false, false);
    let good = std::fs::read_to_string(&data).expect("data");
    for (cens, lloq, message) in [
        (
            "2",
            "2",
            "row 3, column CENS = \"2\": CENS must be 0 (quantified) or 1 (below the lower limit of quantification)",
        ),
        (
            "-1",
            "2",
            "row 3, column CENS = \"-1\": CENS = -1 (a value above an upper limit of quantification) is not supported yet",
        ),
        (
            "1",
            "-2",
            "row 3, column LLOQ = \"-2\": a limit of quantification must not be negative",
        ),
    ] {
        // Row 3 is subject 1's first observation.
        let mut lines: Vec<String> = good.lines().map(String::from).collect();
        let mut f: Vec<String> = lines[2].split(',').map(String::from).collect();
        let n = f.len();
        f[n - 2] = cens.into();
        f[n - 1] = lloq.into();
        lines[2] = f.join(",");
        let bad = dir.join(format!("bad{cens}{lloq}.csv"));
        std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
        let o = mido(&[
            "vpc",
            MODEL,
            "--data",
            s(&bad),
            "-n",
            "2",
            "--out",
            s(&dir.join("out")),
        ]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn fitting_censored_data_is_refused_with_the_first_censored_row() {
    let dir = temp_dir("fit-censored");
    let (data, _) = censored_data(&dir, "blq.csv", false, false);
    let message = "subject 1's observation at data row 3 is below the limit of quantification \
                   (CENS = 1, or DV < LLOQ), and mido cannot fit censored observations: the M3 \
                   likelihood is not implemented; set MDV = 1 on the censored rows to leave them \
                   out of the fit (M1)";
    // Every command that fits goes through the same check.
    for args in [
        vec!["fit", "--covariance", "none"],
        vec!["bootstrap", "-n", "2"],
        vec!["scm", "--effect", "cl:WT"],
    ] {
        let out = dir.join(args[0]);
        let mut all = vec![args[0], MODEL, "--data", s(&data), "--out", s(&out), "-q"];
        all.extend(&args[1..]);
        let o = mido(&all);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // The suggested M1: MDV = 1 on the censored rows, which then fit.
    let (m1, _) = censored_data(&dir, "m1.csv", false, true);
    let o = mido(&[
        "fit",
        MODEL,
        "--data",
        s(&m1),
        "--covariance",
        "none",
        "--out",
        s(&dir.join("m1")),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

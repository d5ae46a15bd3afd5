//! `mido bootstrap` and `mido compare` end to end: resumption after an
//! interruption, sharding and merging give the table of one uninterrupted
//! run; the likelihood-ratio test reads both fits correctly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{mido, repo, s, temp_dir, text};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const THEO: &str = "examples/theophylline/theo_closed_form.mido";

fn bootstrap(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "bootstrap",
        THEO,
        "-n",
        "6",
        "--seed",
        "11",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    mido(&args)
}

#[test]
fn interrupted_sharded_and_uninterrupted_bootstraps_agree() {
    let base = temp_dir("boot");
    let whole = base.join("whole");
    let o = bootstrap(&whole, &["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let table = read(&whole.join("bootstrap.csv"));
    let out = text(&o.stdout);
    assert!(out.contains("6 of 6 replicates finished"), "{out}");
    let runs = read(&whole.join("runs.jsonl"));
    assert_eq!(runs.lines().count(), 6);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "parameter,original,median,mean,se,ci95_lower,ci95_upper,ci90_lower,ci90_upper,bias_percent"
    );
    assert_eq!(lines.len(), 1 + 7, "{table}");
    for row in &lines[1..] {
        let f: Vec<f64> = row
            .split(',')
            .skip(1)
            .map(|v| v.parse().expect("number"))
            .collect();
        // ci95 brackets the median, which lies in the range of the runs.
        assert!(f[4] <= f[1] && f[1] <= f[5], "{row}");
    }

    // An interruption: two replicates logged, the third cut mid-line.
    let resumed = base.join("resumed");
    std::fs::create_dir_all(&resumed).expect("dir");
    std::fs::copy(whole.join("run.json"), resumed.join("run.json")).expect("copy");
    let mut partial: String = runs.lines().take(2).map(|l| format!("{l}\n")).collect();
    partial.push_str(&runs.lines().nth(2).expect("third")[..40]);
    std::fs::write(resumed.join("runs.jsonl"), partial).expect("write");
    let o = bootstrap(&resumed, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("resuming: 2 of 6 replicates already in"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(read(&resumed.join("bootstrap.csv")), table);
    let log = read(&resumed.join("runs.jsonl"));
    assert_eq!(log.lines().count(), 6);
    assert!(log.ends_with('\n'));

    // Two shards, merged.
    let (a, b) = (base.join("shard1"), base.join("shard2"));
    for (dir, shard) in [(&a, "1/2"), (&b, "2/2")] {
        let o = bootstrap(dir, &["-q", "--shard", shard]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(read(&dir.join("runs.jsonl")).lines().count(), 3);
    }
    let merged = base.join("merged");
    let o = mido(&["bootstrap", "merge", s(&a), s(&b), "--out", s(&merged)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(read(&merged.join("bootstrap.csv")), table);
    // Merging again into the same place needs --force.
    let o = mido(&["bootstrap", "merge", s(&a), s(&b), "--out", s(&merged)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));

    // The runs of another bootstrap are never silently replaced.
    let o = mido(&[
        "bootstrap",
        THEO,
        "-n",
        "6",
        "--seed",
        "12",
        "--out",
        s(&whole),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("holds the runs of a different bootstrap (seed: 11 there, 12 now)"),
        "{err}"
    );
    assert_eq!(read(&whole.join("bootstrap.csv")), table);

    // More replicates continue the same bootstrap.
    let o = mido(&[
        "bootstrap",
        THEO,
        "-n",
        "7",
        "--seed",
        "11",
        "--out",
        s(&whole),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("resuming: 6 of 7"));
    assert!(text(&o.stdout).contains("7 of 7 replicates finished"));
    assert_eq!(read(&whole.join("runs.jsonl")).lines().count(), 7);
}

#[test]
fn bootstrap_rejects_an_unknown_stratification_covariate() {
    let dir = temp_dir("strata");
    let o = mido(&[
        "bootstrap",
        THEO,
        "-n",
        "2",
        "--strata",
        "CRCL",
        "--out",
        s(&dir.join("b")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("--strata CRCL: the model has no covariate CRCL (its covariates: WT)"),
        "{err}"
    );
}

/// A weight effect on clearance added to the theophylline model: one
/// more parameter, nested (the base model is `cl_wt = 0`).
fn with_weight_effect(dir: &Path) -> PathBuf {
    let src = read(&repo().join(THEO))
        .replace(
            "  add_sd = 0.69 in (0, ) [mg/L]\n",
            "  add_sd = 0.69 in (0, ) [mg/L]\n  cl_wt  = 0.1\n",
        )
        .replace(
            "cl = tv_cl * exp(eta_cl)",
            "cl = tv_cl * (WT / 70 [kg]) ^ cl_wt * exp(eta_cl)",
        );
    let path = dir.join("theo_wt.mido");
    std::fs::write(&path, src).expect("write");
    path
}

#[test]
fn compare_tests_nested_fits() {
    let dir = temp_dir("compare");
    let data = repo().join("examples/theophylline/theoph_nm.csv");
    let full_model = with_weight_effect(&dir);
    let (base, full) = (dir.join("base"), dir.join("full"));
    for (model, out) in [(Path::new(THEO), &base), (full_model.as_path(), &full)] {
        let o = mido(&[
            "fit",
            s(model),
            "--data",
            s(&data),
            "--out",
            s(out),
            "--covariance",
            "none",
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let ofv = |dir: &Path| -> f64 {
        let v: serde_json::Value =
            serde_json::from_str(&read(&dir.join("estimates.json"))).expect("json");
        v["ofv"]["value"].as_f64().expect("ofv")
    };
    let delta = ofv(&base) - ofv(&full);
    assert!(delta > -1e-6, "the full model fits no worse: {delta}");
    let o = mido(&["compare", s(&full), s(&base)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("ΔOFV = {delta:.4} on 1 degree of freedom")),
        "{out}"
    );
    let verdict = if delta > 3.841_458_820_694_124 {
        "fits significantly better"
    } else {
        "does not fit significantly better"
    };
    assert!(out.contains(verdict), "{out}");
    assert!(out.contains("(critical ΔOFV at α = 0.05: 3.8415)"), "{out}");

    // Different data cannot be compared.
    let fewer = dir.join("fewer.csv");
    let all = read(&data);
    let rows: Vec<&str> = all.lines().collect();
    std::fs::write(&fewer, rows[..rows.len() - 1].join("\n") + "\n").expect("write");
    let other = dir.join("other");
    let o = mido(&[
        "fit",
        THEO,
        "--data",
        s(&fewer),
        "--out",
        s(&other),
        "--covariance",
        "none",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = mido(&["compare", s(&other), s(&base)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("different data"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn fit_adds_npde_to_the_sdtab_on_request() {
    let dir = temp_dir("npde");
    let out = dir.join("fit");
    let o = mido(&[
        "fit",
        THEO,
        "--out",
        s(&out),
        "--covariance",
        "none",
        "-q",
        "--npde",
        "300",
        "--seed",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let sdtab = read(&out.join("sdtab.csv"));
    let header: Vec<&str> = sdtab.lines().next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (pd, npde) = (col("PD"), col("NPDE"));
    let rows: Vec<Vec<f64>> = sdtab
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 132);
    for r in &rows {
        // With 300 simulations the discrepancies are multiples of 1/300,
        // kept inside [1/600, 1 − 1/600].
        assert!(r[pd] >= 1.0 / 600.0 && r[pd] <= 1.0 - 1.0 / 600.0, "{r:?}");
        assert!(r[npde].is_finite());
    }
    let n = rows.len() as f64;
    let mean = rows.iter().map(|r| r[npde]).sum::<f64>() / n;
    let var = rows.iter().map(|r| (r[npde] - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // A well-specified model: NPDE close to N(0, 1).
    assert!(
        mean.abs() < 0.3 && (0.6..1.5).contains(&var),
        "mean {mean}, variance {var}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&read(&out.join("run.json"))).expect("json");
    assert_eq!(record["seed"], 5);
    assert_eq!(record["options"]["npde_simulations"], 300);

    // Too few simulations: the fit's files are written, without NPDE, and
    // the command fails saying why.
    let out2 = dir.join("fit2");
    let o = mido(&[
        "fit",
        THEO,
        "--out",
        s(&out2),
        "--covariance",
        "none",
        "-q",
        "--npde",
        "50",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("NPDE need at least 100 simulations per subject (50 asked)"),
        "{}",
        text(&o.stderr)
    );
    let sdtab2 = read(&out2.join("sdtab.csv"));
    assert!(!sdtab2.lines().next().expect("header").contains("NPDE"));
    assert!(out2.join("estimates.json").exists());
}

#[test]
fn gof_plots_show_every_observation() {
    let dir = temp_dir("gof");
    let fit = dir.join("fit");
    let o = mido(&[
        "fit",
        THEO,
        "--out",
        s(&fit),
        "--covariance",
        "none",
        "-q",
        "--npde",
        "200",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = mido(&["plot", "gof", s(&fit)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let plots = fit.join("plots");
    let mut files: Vec<String> = std::fs::read_dir(&plots)
        .expect("plots")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "cwres_vs_pred.svg",
            "cwres_vs_time.svg",
            "dv_vs_ipred.svg",
            "dv_vs_ipred_log.svg",
            "dv_vs_pred.svg",
            "dv_vs_pred_log.svg",
            "eta_eta_cl.svg",
            "eta_eta_cl_vs_WT.svg",
            "eta_eta_ka.svg",
            "eta_eta_ka_vs_WT.svg",
            "eta_eta_v.svg",
            "eta_eta_v_vs_WT.svg",
            "individual_fits_1.svg",
            "iwres_vs_ipred.svg",
            "npde_vs_pred.svg",
            "npde_vs_time.svg",
        ]
    );
    let svg = |f: &str| read(&plots.join(f));
    // One point per observation; on log axes the 12 pre-dose zeros are
    // left out and said so; one point per subject against a covariate.
    assert_eq!(svg("dv_vs_pred.svg").matches("<circle").count(), 132);
    let log = svg("dv_vs_pred_log.svg");
    assert_eq!(log.matches("<circle").count(), 120);
    assert!(log.contains("12 values ≤ 0 not shown"));
    assert_eq!(svg("eta_eta_cl_vs_WT.svg").matches("<circle").count(), 12);
    let fits = svg("individual_fits_1.svg");
    assert_eq!(fits.matches("<circle").count(), 132);
    assert!(fits.contains("ID 12"));
    // Plots are never replaced silently.
    let o = mido(&["plot", "gof", s(&fit)]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn report_is_one_self_contained_html_file() {
    let dir = temp_dir("report");
    let fit = dir.join("fit");
    let o = mido(&["fit", THEO, "--out", s(&fit), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let boot = dir.join("boot");
    let o = mido(&["bootstrap", THEO, "-n", "3", "--out", s(&boot), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let vpc = dir.join("vpc");
    let est = fit.join("estimates.json");
    let o = mido(&[
        "vpc",
        THEO,
        "--params",
        s(&est),
        "-n",
        "20",
        "--out",
        s(&vpc),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = mido(&["report", s(&fit), "--vpc", s(&vpc), "--bootstrap", s(&boot)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let html = read(&fit.join("report.html"));
    for section in [
        "<h1>Model theophylline_closed_form</h1>",
        "<h2>Estimates</h2>",
        "<h2>Bootstrap</h2>",
        "<h2>Goodness of fit</h2>",
        "<h2>Visual predictive check</h2>",
        "<h2>Model</h2>",
        "<h2>Run record</h2>",
        "<td>tv_cl</td>",
        "3 of 3 replicates finished",
        "pk one_compartment_oral(ka = ka, cl = cl, v = v)",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    // 14 diagnostic plots (no NPDE in this fit) and the VPC, inline;
    // nothing fetched or run.
    assert_eq!(html.matches("<svg").count(), 15);
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("<?xml"));
    // Not replaced without --force.
    let o = mido(&["report", s(&fit)]);
    assert_eq!(o.status.code(), Some(2));

    // Rendered by a browser, when one is installed.
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(browser) = browser else {
        eprintln!("skipped the rendering check: no headless Chromium installed (Debian package `chromium`)");
        return;
    };
    let shot = dir.join("report.png");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2400",
            &format!("--screenshot={}", s(&shot)),
            &format!("file://{}", s(&fit.join("report.html"))),
        ])
        .output()
        .expect("browser runs");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let png = std::fs::read(&shot).expect("screenshot");
    assert_eq!(&png[1..4], b"PNG");
    // A blank page compresses to a few kilobytes; the report's tables and
    // plots do not.
    assert!(png.len() > 100_000, "screenshot of {} bytes", png.len());
}

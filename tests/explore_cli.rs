//! `mido explore` end to end: the report, the files written, refusal to
//! overwrite, `--force`, `--seed`, thread-count independence, exit codes
//! and diagnostics of a bad scenario.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{mido, repo, temp_dir, text};

const MODEL: &str = "tests/scenarios/model.mido";

/// A small scenario beside a copy of the fixture model, and a dataset.
fn tiny(dir: &Path, extra: &str) -> PathBuf {
    std::fs::copy(repo().join(MODEL), dir.join("model.mido")).expect("copy model");
    std::fs::write(
        dir.join("patients.csv"),
        "ID,TIME,AMT,DV,EVID,MDV,WT,SEX\n1,0,.,.,2,1,55,1\n2,0,.,.,2,1,72,0\n3,0,.,.,2,1,95,0\n",
    )
    .expect("data");
    let src = format!(
        r#"scenario tiny {{
  model = "model.mido"
  seed = 11
  population adults 60 {{
    WT ~ lognormal(median = 70 [kg], cv = 0.25) within (35 [kg], 160 [kg])
    SEX ~ categorical(male = 0.5, female = 0.5)
    subgroup "women" when SEX == female
    subgroup "men" when SEX == male
  }}
  population observed from "patients.csv"
  regimen "50 mg QD"  {{ dose 50 [mg] every 24 [h] for 5 [d] }}
  regimen "100 mg QD" {{ dose 100 [mg] every 24 [h] for 5 [d] }}
  metrics {{
    ctrough = trough(cp) over last interval
    cmax = max(cp) over last interval
  }}
  targets {{
    efficacy: ctrough >= 0.3 [mg/L] in at least 80%
    safety: cmax <= 4 [mg/L] in at least 90%
  }}
  compare cmax to "men"
{extra}
}}
"#
    );
    let path = dir.join("tiny.mido");
    std::fs::write(&path, src).expect("scenario");
    path
}

fn run(scenario: &Path, out: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "explore",
        scenario.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--quiet",
    ];
    args.extend_from_slice(more);
    mido(&args)
}

#[test]
fn explore_prints_the_report_and_writes_every_file() {
    let dir = temp_dir("files");
    let scenario = tiny(&dir, "  optimize { regimen = \"50 mg QD\" population = adults efficacy = efficacy safety = safety strengths = 25 [mg], 50 [mg], 100 [mg] }");
    let out = dir.join("out");
    let o = run(&scenario, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    for expected in [
        "scenario tiny: 2 regimens × 2 populations, seed 11",
        "population adults (60 virtual subjects)",
        "population observed (3 virtual subjects)",
        "ctrough median [5th–95th]",
        "women (n = ",
        "regimens meeting every target",
        "exposure overlap between adjacent dose levels",
        "50 mg QD → 100 mg QD",
        "women vs men",
        "dose search search 1",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in:\n{report}"
        );
    }
    // The table's numbers are the results file's.
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    for col in [
        "regimen",
        "population",
        "subgroup",
        "ctrough_median",
        "cmax_p95",
        "efficacy_attainment",
        "safety_met",
        "meets_all_targets",
    ] {
        assert!(header.contains(&col), "no column {col}: {header:?}");
    }
    // 2 regimens × (adults + 2 subgroups + observed).
    assert_eq!(lines.count(), 2 * 4);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(8));
    assert_eq!(json["recommendations"].as_array().map(Vec::len), Some(2));
    assert!(!json["subgroup_ratios"]
        .as_array()
        .expect("ratios")
        .is_empty());
    // Every subject of every regimen × population.
    let subjects = std::fs::read_to_string(out.join("subjects.csv")).expect("subjects.csv");
    assert!(subjects
        .starts_with("regimen,population,replicate,subject,total_dose,WT,SEX,ctrough,cmax\n"));
    assert_eq!(subjects.lines().count(), 1 + 2 * (60 + 3));
    let searches = std::fs::read_to_string(out.join("searches.csv")).expect("searches.csv");
    assert_eq!(searches.lines().count(), 1 + 3);
    // Percentile bands of every metric's variable, and the plots.
    let profiles = std::fs::read_to_string(out.join("profiles.csv")).expect("profiles.csv");
    assert!(profiles.lines().count() > 1);
    let mut plots: Vec<String> = std::fs::read_dir(out.join("plots"))
        .expect("plots")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    plots.sort();
    assert!(
        plots
            .iter()
            .any(|p| p.starts_with("bands_") && p.ends_with(".svg")),
        "{plots:?}"
    );
    assert!(plots.iter().any(|p| p.starts_with("metrics_")), "{plots:?}");
    assert!(
        plots.iter().all(|p| !p.starts_with('.')),
        "no temporary file left: {plots:?}"
    );
    // The run record hashes what was run.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("JSON");
    let sha = |p: &Path| {
        Sha256::digest(std::fs::read(p).expect("read"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        record["scenario"]["sha256"].as_str(),
        Some(sha(&scenario).as_str())
    );
    assert_eq!(
        record["model"]["sha256"].as_str(),
        Some(sha(&dir.join("model.mido")).as_str())
    );
    assert_eq!(
        record["data"][0]["sha256"].as_str(),
        Some(sha(&dir.join("patients.csv")).as_str())
    );
    assert_eq!(record["seed"].as_u64(), Some(11));
    assert_eq!(
        record["mido_version"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(record["timings_seconds"]["total"].as_f64().is_some());
    assert!(record["params"].is_null());
}

#[test]
fn existing_results_are_kept_without_force() {
    let dir = temp_dir("force");
    let scenario = tiny(&dir, "");
    let out = dir.join("out");
    assert_eq!(run(&scenario, &out, &[]).status.code(), Some(0));
    let before = std::fs::read(out.join("results.csv")).expect("results");
    let again = run(&scenario, &out, &["--seed", "99"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert!(text(&again.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(out.join("results.csv")).expect("results"),
        before,
        "nothing replaced"
    );
    let forced = run(&scenario, &out, &["--seed", "99", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("JSON");
    assert_eq!(record["seed"].as_u64(), Some(99));
    assert_ne!(
        std::fs::read(out.join("results.csv")).expect("results"),
        before,
        "another seed, other subjects"
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = temp_dir("threads");
    let scenario = tiny(&dir, "");
    let one = run(&scenario, &dir.join("one"), &["--threads", "1"]);
    let two = run(&scenario, &dir.join("two"), &["--threads", "2"]);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(one.stdout, two.stdout);
    for f in ["results.csv", "results.json", "subjects.csv"] {
        assert_eq!(
            std::fs::read(dir.join("one").join(f)).expect("one"),
            std::fs::read(dir.join("two").join(f)).expect("two"),
            "{f}"
        );
    }
}

#[test]
fn a_bad_scenario_gives_located_diagnostics_and_exit_1() {
    let dir = temp_dir("bad");
    let scenario = tiny(&dir, "  metrics { auc = auc(cq) over last interval }\n  regimen \"minus\" { dose -5 [mg] every 24 [h] for 5 [d] }");
    let o = run(&scenario, &dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error[E0525]: the model has no variable `cq`"),
        "{err}"
    );
    assert!(err.contains("tiny.mido:22:23"), "{err}");
    assert!(err.contains("did you mean `cp`?"), "{err}");
    assert!(
        err.contains("error[E0519]: a dose must be positive, found -5"),
        "{err}"
    );
    assert!(err.contains("has 2 errors"), "{err}");
    assert!(
        !dir.join("out").join("run.json").exists(),
        "nothing written"
    );
    assert!(text(&o.stdout).is_empty());
}

#[test]
fn missing_files_are_reported() {
    let o = mido(&["explore", "no/such/scenario.mido", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot read scenario file"));
    // A dataset the scenario names but that is not there points at its path.
    let dir = temp_dir("missing-data");
    let scenario = tiny(&dir, "");
    std::fs::remove_file(dir.join("patients.csv")).expect("remove");
    let o = run(&scenario, &dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error[E0533]: cannot read `patients.csv`"),
        "{err}"
    );
    // A model that does not compile: its own diagnostics, then the scenario's.
    let dir = temp_dir("bad-model");
    let scenario = tiny(&dir, "");
    std::fs::write(dir.join("model.mido"), "model m individual { a = b }").expect("write");
    let o = run(&scenario, &dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("model.mido:1:"), "{err}");
    assert!(
        err.contains("error[E0505]: cannot use model `model.mido`"),
        "{err}"
    );
}

#[test]
fn the_dose_ranging_example_recommends_a_regimen() {
    let dir = temp_dir("example");
    let o = mido(&[
        "explore",
        "examples/dose_ranging/dose_ranging.mido",
        "--out",
        dir.join("out").to_str().expect("utf8"),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(
        report.contains("patients: recommended 200 mg QD"),
        "{report}"
    );
    assert!(report.contains("moderate vs normal renal"), "{report}");
    assert!(report.contains("recommended dose:"), "{report}");
    // The adverse-event probability (`responses = p_ae_max`) is a column of
    // the report, each row's value the one results.csv holds.
    assert!(report.contains("P(p_ae_max)"), "{report}");
    let csv = std::fs::read_to_string(dir.join("out/results.csv")).expect("results.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (regimen, subgroup, p) = (col("regimen"), col("subgroup"), col("p_ae_max_probability"));
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[regimen] == "200 mg QD" && f[subgroup].is_empty())
        .expect("the 200 mg QD row");
    let probability: f64 = row[p].parse().expect("a probability");
    let shown = format!("{:.1}%", 100.0 * probability);
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with("200 mg QD"))
        .expect("the 200 mg QD line");
    assert!(line.trim_end().ends_with(&shown), "{line} vs {shown}");
}

#[test]
fn check_accepts_scenario_files_too() {
    let o = mido(&["check", "examples/dose_ranging/dose_ranging.mido"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = mido(&["check", "tests/scenarios/err/unknown_window.mido"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error[E0527]: unknown window `last intervall`"));
}

#[test]
fn a_failed_exploration_exits_1_and_records_why() {
    let dir = temp_dir("failed");
    std::fs::copy(repo().join(MODEL), dir.join("model.mido")).expect("copy model");
    // No weight drawn from this distribution falls in the truncation range.
    let src = r#"scenario impossible_weights {
  model = "model.mido"
  population giants 10 {
    WT ~ lognormal(median = 70 [kg], cv = 0.01) within (300 [kg], 400 [kg])
    SEX = male
  }
  regimen "QD" { dose 100 [mg] every 24 [h] for 2 [d] }
  metrics { cmax = max(cp) over last interval }
}
"#;
    let scenario = dir.join("s.mido");
    std::fs::write(&scenario, src).expect("scenario");
    let out = dir.join("out");
    let o = run(&scenario, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("the exploration failed: population `giants`"),
        "{err}"
    );
    assert!(err.contains("truncation"), "{err}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("JSON");
    assert_eq!(record["status"].as_str(), Some("failed"));
    assert!(record["error"]
        .as_str()
        .is_some_and(|e| e.contains("giants")));
    assert!(!out.join("results.csv").exists());
}

/// The report's layout, pinned on a scenario without variability (every
/// number is a closed-form value of the typical subject).
#[test]
fn report_layout() {
    let dir = temp_dir("layout");
    std::fs::copy(repo().join(MODEL), dir.join("model.mido")).expect("copy model");
    let src = r#"scenario layout {
  model = "model.mido"
  variability = none
  population typical 4 {
    WT = 70 [kg]
    SEX ~ categorical(male = 0.5, female = 0.5)
    subgroup "women" when SEX == female
    subgroup "men" when SEX == male
  }
  regimen "50 mg QD"  { dose 50 [mg] every 24 [h] for 7 [d] }
  regimen "100 mg QD" { dose 100 [mg] every 24 [h] for 7 [d] }
  metrics {
    ctrough = trough(cp) over steady state
    cmax = max(cp) over steady state
  }
  targets {
    efficacy: ctrough >= 0.2 [mg/L] in at least 90%
    safety: cmax <= 3 [mg/L] in at least 90%
  }
  compare cmax to "men"
}
"#;
    let scenario = dir.join("layout.mido");
    std::fs::write(&scenario, src).expect("scenario");
    let o = run(&scenario, &dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    insta::assert_snapshot!(text(&o.stdout));
}

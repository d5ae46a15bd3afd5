//! Estimation benchmark (`cargo bench --bench fit`), every case in one run:
//!
//! 1. Theophylline, FOCEI with the sandwich covariance step, closed form
//!    (`theo_closed_form.mido`) and ODE (`theo.mido`), in-process.
//! 2. Bolus_1CPT (single-dose part, ../shared/reference/validation),
//!    FOCEI with covariance, closed form and ODE; skipped with a reason
//!    when the folder is absent.
//! 3. R's `nlme` on theophylline (its own algorithm, the same model: CL, V,
//!    KA log-normal, additive error), timed inside R around `nlme()` only;
//!    the script installs r-base-core and r-cran-nlme from Debian's
//!    packages when `MIDO_BENCH_INSTALL_R=1`, otherwise runs it if R is
//!    present and says why not when it is not.
//!
//! 4. Warfarin PK/PD (../shared/reference/warfarin, the robustness case of
//!    tests/fit_warfarin.rs), FOCEI without the covariance step, one run.
//!
//! The closed-form theophylline fit runs 21 times (it takes milliseconds,
//! and the shared machine slows down for seconds at a time), each other
//! mido case three times; the median wall time is reported with the
//! fastest, the OFV, iterations and objective evaluations, and the
//! median's ratio to nlme. Targets are judged on the median.

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::estimate::{fit, CovarianceKind, FitOptions};
use mido::runtime::model::Model;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn load(model: &str, data_text: &str, name: &str) -> (Box<dyn Model>, Dataset) {
    let src = std::fs::read_to_string(model).expect("model");
    let m = compile_model(&src, Engine::Jit).expect("compiles");
    let d = Dataset::parse(data_text, name, &DataSpec::from_info(m.info())).expect("reads");
    (m, d)
}

/// One case's result: median and fastest wall time of its fits, OFV,
/// iterations, objective evaluations.
struct Timed {
    median: f64,
    best: f64,
    ofv: f64,
    iterations: usize,
    evaluations: usize,
}

/// `runs` fits of one case.
fn time_fit(m: &dyn Model, d: &Dataset, closed_form: bool, covariance: bool, runs: usize) -> Timed {
    let opts = FitOptions {
        closed_form,
        covariance: if covariance {
            CovarianceKind::Sandwich
        } else {
            CovarianceKind::None
        },
        ..FitOptions::default()
    };
    let mut times: Vec<(f64, f64, usize, usize)> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let r = fit(m, d, &opts, &mut |_| {}).expect("fits");
            (
                t.elapsed().as_secs_f64(),
                r.ofv,
                r.iterations,
                r.evaluations,
            )
        })
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, ofv, iterations, evaluations) = times[runs / 2];
    Timed {
        median,
        best: times[0].0,
        ofv,
        iterations,
        evaluations,
    }
}

fn bolus_text() -> Option<String> {
    let path = Path::new("../shared/reference/validation/Bolus_1CPT.csv");
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = |n: &str| header.iter().position(|h| h.trim_matches('"') == n);
    let (sd, ss, ii) = (col("SD")?, col("SS")?, col("II")?);
    let row = |f: &[&str]| {
        f.iter()
            .enumerate()
            .filter(|(i, _)| *i != ss && *i != ii)
            .map(|(_, v)| v.trim_matches('"'))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = row(&header) + "\n";
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        if f.get(sd) == Some(&"1") {
            out += &(row(&f) + "\n");
        }
    }
    Some(out)
}

const NLME: &str = r#"
suppressMessages(library(nlme))
d <- read.csv("examples/theophylline/theoph_nm.csv", na.strings = ".")
for (c in c("AMT", "DV", "EVID", "MDV")) d[[c]] <- as.numeric(d[[c]])
obs <- d[d$EVID == 0 & d$MDV == 0, ]
dose <- d[d$EVID == 1, c("ID", "AMT")]
obs$Dose <- dose$AMT[match(obs$ID, dose$ID)]
obs$ID <- factor(obs$ID)
f <- function(lCl, lV, lKa, Dose, t) {
  cl <- exp(lCl); v <- exp(lV); ka <- exp(lKa); k <- cl / v
  Dose * ka / (v * (ka - k)) * (exp(-k * t) - exp(-ka * t))
}
g <- groupedData(DV ~ TIME | ID, data = obs)
times <- c()
for (i in 1:5) {
  t0 <- proc.time()[["elapsed"]]
  m <- nlme(DV ~ f(lCl, lV, lKa, Dose, TIME), data = g,
            fixed = lCl + lV + lKa ~ 1, random = pdDiag(lCl + lV + lKa ~ 1),
            start = c(lCl = log(2.75), lV = log(31.8), lKa = log(1.59)))
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat(sprintf("NLME %.6f %.4f %.4f %.4f\n", median(times), exp(fixef(m)[1]), exp(fixef(m)[2]), exp(fixef(m)[3])))
"#;

fn nlme_seconds() -> Result<f64, String> {
    if std::env::var("MIDO_BENCH_INSTALL_R").as_deref() == Ok("1")
        && Command::new("Rscript").arg("--version").output().is_err()
    {
        let ok = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core r-cran-nlme",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err("installing r-base-core and r-cran-nlme failed".into());
        }
    }
    let out = Command::new("Rscript")
        .args(["-e", NLME])
        .output()
        .map_err(|_| {
            "R is not installed (set MIDO_BENCH_INSTALL_R=1 to install it from Debian's packages)"
                .to_string()
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("NLME "))
        .ok_or_else(|| format!("nlme did not run: {}", String::from_utf8_lossy(&out.stderr)))?;
    println!(
        "nlme estimates (CL, V, KA): {}",
        &line[5..].split_once(' ').map_or("", |x| x.1)
    );
    line[5..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "unreadable nlme output".into())
}

fn main() {
    let theo = std::fs::read_to_string("examples/theophylline/theoph_nm.csv").expect("data");
    let nlme = nlme_seconds();
    match &nlme {
        Ok(s) => println!("R nlme, theophylline (median of 5, inside R): {:.4} s", s),
        Err(why) => println!("R nlme skipped: {why}"),
    }
    // (name, model, data, closed form, covariance step, runs)
    let mut cases: Vec<(&str, &str, String, bool, bool, usize)> = vec![
        (
            "theophylline closed form",
            "examples/theophylline/theo_closed_form.mido",
            theo.clone(),
            true,
            true,
            21,
        ),
        (
            "theophylline ODE",
            "examples/theophylline/theo.mido",
            theo,
            false,
            true,
            3,
        ),
    ];
    match bolus_text() {
        Some(t) => {
            cases.push((
                "Bolus_1CPT closed form",
                "tests/fit/bolus_1cpt.mido",
                t.clone(),
                true,
                true,
                3,
            ));
            cases.push((
                "Bolus_1CPT ODE",
                "tests/fit/bolus_1cpt.mido",
                t,
                false,
                true,
                3,
            ));
        }
        None => println!("Bolus_1CPT skipped: ../shared/reference is absent"),
    }
    // Warfarin PK/PD (tests/fit_warfarin.rs): minutes, so one run, and
    // without the covariance step (19 parameters: ~700 more evaluations).
    match std::fs::read_to_string("../shared/reference/warfarin/warfarin.csv") {
        Ok(t) => cases.push((
            "warfarin PK/PD ODE (no cov)",
            "tests/fit/warfarin_pkpd.mido",
            t,
            false,
            false,
            1,
        )),
        Err(_) => println!("warfarin skipped: ../shared/reference is absent"),
    }
    println!(
        "{:<28} {:>10} {:>10} {:>14} {:>6} {:>6} {:>10}",
        "case (FOCEI + covariance)", "median s", "best s", "OFV", "iter", "evals", "vs nlme"
    );
    for (name, model, text, closed_form, covariance, runs) in cases {
        let (m, d) = load(model, &text, name);
        let t = time_fit(m.as_ref(), &d, closed_form, covariance, runs);
        let ratio = nlme
            .as_ref()
            .map_or_else(|_| "—".to_string(), |n| format!("{:.2}×", t.median / n));
        println!(
            "{name:<28} {:>10.4} {:>10.4} {:>14.4} {:>6} {:>6} {ratio:>10}",
            t.median, t.best, t.ofv, t.iterations, t.evaluations
        );
    }
}

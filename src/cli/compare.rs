//! `mido compare FIT_A FIT_B`: two fits of the same data side by side,
//! with the likelihood-ratio test of the smaller model against the larger
//! and both information criteria.

use super::Failure;
use mido_runtime::evaluate::lrt::{chi2_isf, likelihood_ratio, FitSummary};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A fit's output directory (or its estimates.json).
    fit_a: PathBuf,
    /// The other fit's output directory (or its estimates.json).
    fit_b: PathBuf,
    /// Significance level of the likelihood-ratio test.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
}

/// What a comparison reads of one fit.
struct Fit {
    summary: FitSummary,
    method: String,
    status: String,
    /// SHA-256 of the data, from the run record beside the estimates.
    data_sha256: Option<String>,
}

fn load(path: &Path) -> Result<Fit, Failure> {
    let (estimates, dir) = if path.is_dir() {
        (path.join("estimates.json"), path.to_path_buf())
    } else {
        (
            path.to_path_buf(),
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        )
    };
    let text = std::fs::read_to_string(&estimates)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", estimates.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Input(format!("{} is not JSON: {e}", estimates.display())))?;
    let bad = |what: &str| {
        Failure::Input(format!(
            "{} is not a mido estimates file: {what}",
            estimates.display()
        ))
    };
    if v.get("format").and_then(Value::as_str) != Some("mido-estimates-1") {
        return Err(bad("no \"format\": \"mido-estimates-1\""));
    }
    let ofv = v
        .pointer("/ofv/value")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("no ofv.value"))?;
    let observations = v
        .get("observations")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no observations"))? as usize;
    let estimated = |key: &str| -> Result<usize, Failure> {
        let list = v
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&format!("no {key} list")))?;
        Ok(list
            .iter()
            .filter(|p| p.get("fixed").and_then(Value::as_bool) == Some(false))
            .count())
    };
    let parameters = estimated("theta")? + estimated("omega")?;
    let text_of = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string()
    };
    let data_sha256 = std::fs::read_to_string(dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|r| r.pointer("/data/sha256")?.as_str().map(str::to_string));
    Ok(Fit {
        summary: FitSummary {
            name: v
                .get("model")
                .and_then(Value::as_str)
                .map_or_else(|| path.display().to_string(), str::to_string),
            ofv,
            parameters,
            observations,
        },
        method: text_of("method"),
        status: text_of("status"),
        data_sha256,
    })
}

pub fn run(args: &Args) -> Result<(), Failure> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        return Err(Failure::Usage("--alpha must be between 0 and 1".into()));
    }
    let a = load(&args.fit_a)?;
    let b = load(&args.fit_b)?;
    if a.method != b.method {
        return Err(Failure::Input(format!(
            "the fits used different methods ({} and {}): their objective values are not comparable",
            a.method, b.method
        )));
    }
    if let (Some(da), Some(db)) = (&a.data_sha256, &b.data_sha256) {
        if da != db {
            return Err(Failure::Input(
                "the fits used different data files (their SHA-256 differ): objective values of different data cannot be compared".into(),
            ));
        }
    }
    print!("{}", render(args, &a, &b)?);
    Ok(())
}

fn render(args: &Args, a: &Fit, b: &Fit) -> Result<String, Failure> {
    use std::fmt::Write as _;
    let mut t = String::new();
    let label_a = args.fit_a.display().to_string();
    let label_b = args.fit_b.display().to_string();
    let w = label_a.len().max(label_b.len()).max(3);
    let _ = writeln!(
        t,
        "{:<w$}  {:>14} {:>10} {:>12} {:>14} {:>14}  status",
        "fit", "OFV", "estimated", "observations", "AIC", "BIC"
    );
    for (label, f) in [(&label_a, a), (&label_b, b)] {
        let _ = writeln!(
            t,
            "{:<w$}  {:>14.4} {:>10} {:>12} {:>14.4} {:>14.4}  {}",
            label,
            f.summary.ofv,
            f.summary.parameters,
            f.summary.observations,
            f.summary.aic(),
            f.summary.bic(),
            f.status
        );
    }
    let _ = writeln!(t, "\nMethod: {}", a.method);
    match likelihood_ratio(&a.summary, &b.summary) {
        Ok(test) => {
            let (reduced, full) = if a.summary.parameters < b.summary.parameters {
                (&label_a, &label_b)
            } else {
                (&label_b, &label_a)
            };
            let critical = chi2_isf(args.alpha, test.df as f64);
            let _ = writeln!(
                t,
                "Likelihood-ratio test of {reduced} (reduced) against {full} (full), assuming nesting:\n  ΔOFV = {:.4} on {} degree{} of freedom, p = {:.4e} (critical ΔOFV at α = {}: {:.4})",
                test.delta_ofv,
                test.df,
                if test.df == 1 { "" } else { "s" },
                test.p_value,
                args.alpha,
                critical
            );
            let verdict = if test.p_value < args.alpha {
                format!("{full} fits significantly better")
            } else {
                format!(
                    "{full} does not fit significantly better; the simpler {reduced} is preferred"
                )
            };
            let _ = writeln!(t, "  {verdict} at α = {}.", args.alpha);
        }
        Err(e) => {
            let _ = writeln!(t, "No likelihood-ratio test: {e}.");
        }
    }
    let best = |x: f64, y: f64| if x <= y { &label_a } else { &label_b };
    let _ = writeln!(
        t,
        "Lower AIC: {}; lower BIC: {}.",
        best(a.summary.aic(), b.summary.aic()),
        best(a.summary.bic(), b.summary.bic())
    );
    Ok(t)
}

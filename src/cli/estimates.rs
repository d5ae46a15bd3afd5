//! `estimates.json`: a fit's results, machine-readable, and read back as
//! the parameter source of later runs (`fit --init`, `simulate --params`).
//! Also the human summary printed by `mido fit`.

use super::Failure;
use mido_runtime::data::Dataset;
use mido_runtime::estimate::{FitResult, PsiEntry};
use mido_runtime::explore::Parameters;
use mido_runtime::model::{Model, ModelInfo};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Standard error of each natural parameter, if the covariance step ran.
fn standard_errors(r: &FitResult) -> Option<&[f64]> {
    match &r.covariance {
        Some(Ok(c)) => Some(&c.se),
        _ => None,
    }
}

/// SE of theta `i` / of OMEGA(a, b), when estimated and computed.
fn se_of(r: &FitResult, entry: PsiEntry) -> Option<f64> {
    let se = standard_errors(r)?;
    let k = r.psi_labels.iter().position(|&e| e == entry)?;
    se.get(k).copied()
}

fn ci(est: f64, se: Option<f64>) -> Option<(f64, f64)> {
    se.map(|s| (est - 1.959963984540054 * s, est + 1.959963984540054 * s))
}

fn rse(est: f64, se: Option<f64>) -> Option<f64> {
    se.map(|s| 100.0 * s / est.abs())
}

fn cell(v: Option<f64>, width: usize) -> String {
    match v {
        Some(v) => format!("{:>width$}", fmt_sig(v)),
        None => format!("{:>width$}", "—"),
    }
}

/// A percentage with one decimal.
fn pct(v: Option<f64>, width: usize) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:>width$.1}"),
        None => format!("{:>width$}", "—"),
    }
}

/// Six significant digits for the summary.
fn fmt_sig(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        let digits = if v == 0.0 {
            0
        } else {
            (5 - v.abs().log10().floor() as i32).max(0) as usize
        };
        format!("{v:.digits$}")
    } else {
        format!("{v:.5e}")
    }
}

/// The report printed after a fit.
pub fn summary(model: &dyn Model, data: &Dataset, r: &FitResult, seconds: f64) -> String {
    let info = model.info();
    let mut s = String::new();
    let _ = writeln!(s, "mido fit: model {} — {}", info.name, r.method.name());
    let _ = writeln!(
        s,
        "status: {}{} after {} iterations ({} objective evaluations), {:.3} s",
        r.status.describe(),
        if r.on_bounds.is_empty() {
            String::new()
        } else {
            format!(
                ", on a bound: {}",
                r.on_bounds
                    .iter()
                    .map(|&i| info.thetas[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        r.iterations,
        r.evaluations,
        seconds
    );
    let _ = writeln!(
        s,
        "subjects {}, observations {}",
        data.subjects.len(),
        r.n_obs
    );
    let _ = writeln!(
        s,
        "objective function value (−2 log-likelihood, NONMEM convention, without n·log 2π): {:.6}",
        r.ofv
    );
    let _ = writeln!(
        s,
        "  with the n·log 2π constant: {:.6}   AIC {:.3}   BIC {:.3}",
        r.ofv_with_constant(),
        r.aic(),
        r.bic()
    );
    match &r.covariance {
        Some(Ok(c)) => {
            let _ = writeln!(
                s,
                "covariance step: {}, condition number {:.4}",
                c.kind.name(),
                c.condition_number
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(s, "covariance step FAILED: {e}");
        }
        None => {
            let _ = writeln!(s, "covariance step: not requested");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<16} {:>13} {:>12} {:>8}   {:>27}",
        "THETA", "estimate", "SE", "RSE%", "95% CI"
    );
    for (i, t) in info.thetas.iter().enumerate() {
        let est = r.theta[i];
        if t.fixed {
            let _ = writeln!(s, "{:<16} {:>13} {:>12}", t.name, fmt_sig(est), "fixed");
            continue;
        }
        let se = se_of(r, PsiEntry::Theta(i));
        let interval = ci(est, se).map_or_else(
            || "—".to_string(),
            |(lo, hi)| format!("[{}, {}]", fmt_sig(lo), fmt_sig(hi)),
        );
        let _ = writeln!(
            s,
            "{:<16} {:>13} {} {}   {:>27}",
            t.name,
            fmt_sig(est),
            cell(se, 12),
            pct(rse(est, se), 8),
            interval
        );
    }
    let ne = info.etas.len();
    if ne > 0 {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<16} {:>13} {:>12} {:>8} {:>9} {:>11}",
            "OMEGA", "estimate", "SE", "RSE%", "CV%", "shrinkage%"
        );
        for a in 0..ne {
            for b in 0..=a {
                let est = r.omega[a * ne + b];
                let fixed = !r.psi_labels.contains(&PsiEntry::Omega(a, b));
                if a != b && est == 0.0 && fixed {
                    continue;
                }
                let name = if a == b {
                    info.etas[a].name.clone()
                } else {
                    format!("{},{}", info.etas[a].name, info.etas[b].name)
                };
                let se = se_of(r, PsiEntry::Omega(a, b));
                let (cv, shrink) = if a == b {
                    (
                        Some(100.0 * (est.exp() - 1.0).max(0.0).sqrt()),
                        r.diagnostics.eta_shrinkage.get(a).copied(),
                    )
                } else {
                    (None, None)
                };
                let _ = writeln!(
                    s,
                    "{:<16} {:>13} {} {} {} {}",
                    name,
                    fmt_sig(est),
                    if fixed {
                        format!("{:>12}", "fixed")
                    } else {
                        cell(se, 12)
                    },
                    pct(rse(est, se), 8),
                    pct(cv, 9),
                    pct(shrink, 11),
                );
            }
        }
        let _ = writeln!(
            s,
            "(CV% = 100·√(exp(ω²) − 1), exact for log-normal parameters; shrinkage SD-based)"
        );
    }
    let _ = writeln!(
        s,
        "\nresidual (epsilon) shrinkage: {:.2}%",
        r.diagnostics.eps_shrinkage
    );
    for f in &r.diagnostics.failed {
        let _ = writeln!(
            s,
            "WARNING: subject {} has no diagnostics (left out of sdtab.csv): {}",
            f.subject, f.reason
        );
    }
    s
}

fn opt_num(v: Option<f64>) -> Value {
    v.filter(|v| v.is_finite())
        .map_or(Value::Null, |v| json!(v))
}

fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// The names of the estimated parameters, in the order of
/// [`FitResult::psi`]: theta names, `omega(ETA)` and `omega(ETA1,ETA2)`.
pub fn psi_names(info: &ModelInfo, r: &FitResult) -> Vec<String> {
    r.psi_labels
        .iter()
        .map(|e| match *e {
            PsiEntry::Theta(i) => info.thetas[i].name.clone(),
            PsiEntry::Omega(a, b) if a == b => format!("omega({})", info.etas[a].name),
            PsiEntry::Omega(a, b) => {
                format!("omega({},{})", info.etas[a].name, info.etas[b].name)
            }
        })
        .collect()
}

/// Writes `estimates.json`.
pub fn write_json(
    w: &mut dyn Write,
    model: &dyn Model,
    data: &Dataset,
    r: &FitResult,
    seconds: f64,
) -> std::io::Result<()> {
    let info = model.info();
    let ne = info.etas.len();
    let thetas: Vec<Value> = info
        .thetas
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let se = se_of(r, PsiEntry::Theta(i));
            json!({
                "name": t.name,
                "estimate": r.theta[i],
                "fixed": t.fixed,
                "se": opt_num(se),
                "rse_percent": opt_num(rse(r.theta[i], se)),
                "ci95": ci(r.theta[i], se).map_or(Value::Null, |(a, b)| json!([a, b])),
            })
        })
        .collect();
    let mut omega_entries = Vec::new();
    for a in 0..ne {
        for b in 0..=a {
            let est = r.omega[a * ne + b];
            let estimated = r.psi_labels.contains(&PsiEntry::Omega(a, b));
            if a != b && !estimated && est == 0.0 {
                continue;
            }
            let se = se_of(r, PsiEntry::Omega(a, b));
            omega_entries.push(json!({
                "row": info.etas[a].name,
                "column": info.etas[b].name,
                "estimate": est,
                "fixed": !estimated,
                "se": opt_num(se),
                "rse_percent": opt_num(rse(est, se)),
                "ci95": ci(est, se).map_or(Value::Null, |(lo, hi)| json!([lo, hi])),
                "shrinkage_percent": if a == b { opt_num(r.diagnostics.eta_shrinkage.get(a).copied()) } else { Value::Null },
            }));
        }
    }
    let omega_matrix: Vec<Vec<f64>> = (0..ne)
        .map(|a| (0..ne).map(|b| r.omega[a * ne + b]).collect())
        .collect();
    let labels = psi_names(info, r);
    let n = labels.len();
    let as_rows = |m: &[f64]| -> Vec<Vec<Value>> {
        (0..n)
            .map(|i| (0..n).map(|j| finite(m[i * n + j])).collect())
            .collect()
    };
    let covariance = match &r.covariance {
        Some(Ok(c)) => json!({
            "status": "ok",
            "kind": c.kind.name(),
            "parameters": labels,
            "matrix": as_rows(&c.matrix),
            "correlation": as_rows(&c.correlation),
            "condition_number": finite(c.condition_number),
        }),
        Some(Err(e)) => json!({ "status": "failed", "reason": e.to_string() }),
        None => json!({ "status": "not requested" }),
    };
    let etas: Vec<Value> = r
        .subjects
        .iter()
        .map(|s| json!({ "id": s.label, "eta": s.eta, "ofv": finite(s.ofv) }))
        .collect();
    let v = json!({
        "format": "mido-estimates-1",
        "model": info.name,
        "method": r.method.name(),
        "status": r.status.describe(),
        "on_bounds": r.on_bounds.iter().map(|&i| info.thetas[i].name.clone()).collect::<Vec<_>>(),
        "iterations": r.iterations,
        "evaluations": r.evaluations,
        "run_time_seconds": seconds,
        "subjects": data.subjects.len(),
        "observations": r.n_obs,
        "ofv": {
            "value": r.ofv,
            "convention": "-2 log-likelihood without n*log(2*pi) (NONMEM)",
            "with_constant": r.ofv_with_constant(),
            "initial": r.initial_ofv,
        },
        "aic": r.aic(),
        "bic": r.bic(),
        "theta": thetas,
        "omega": omega_entries,
        "omega_matrix": { "etas": info.etas.iter().map(|e| e.name.clone()).collect::<Vec<_>>(), "values": omega_matrix },
        "eps_shrinkage_percent": finite(r.diagnostics.eps_shrinkage),
        "diagnostics_failed": r.diagnostics.failed.iter().map(|f| json!({ "subject": f.subject, "reason": f.reason })).collect::<Vec<_>>(),
        "covariance": covariance,
        "individual": etas,
    });
    serde_json::to_writer_pretty(&mut *w, &v)?;
    writeln!(w)
}

/// Thetas and OMEGA (row-major) for the model of `info` from the
/// `estimates.json` at `path`, read by the runtime's reader of the format
/// (`Parameters::from_estimates`, which explore uses too) and matched by
/// name; a parameter of the model that the file does not have keeps the
/// model's initial value (reported on stderr).
pub fn read_for_model(path: &Path, info: &ModelInfo) -> Result<(Vec<f64>, Vec<f64>), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let p = Parameters::from_estimates(&text, info)
        .map_err(|e| Failure::Input(format!("{} is {e}", path.display())))?;
    if !p.missing.is_empty() {
        eprintln!(
            "note: {} has no value for {}; the model's initial values are used",
            path.display(),
            p.missing.join(", ")
        );
    }
    Ok((p.theta, p.omega))
}

/// A model whose fixed-effect values and OMEGA are those of an estimates
/// file: `simulate --params` runs it like the model itself.
pub struct WithEstimates<'m> {
    inner: &'m dyn Model,
    info: ModelInfo,
}

impl<'m> WithEstimates<'m> {
    /// `theta` and `omega` (row-major) as [`read_for_model`] gives
    /// them; OMEGA is taken within the model's blocks.
    pub fn new(inner: &'m dyn Model, theta: &[f64], omega: &[f64]) -> Self {
        let mut info = inner.info().clone();
        let ne = info.etas.len();
        for (t, v) in info.thetas.iter_mut().zip(theta) {
            t.init = *v;
        }
        for b in &mut info.omegas {
            let k = b.etas.len();
            for (a, &ea) in b.etas.iter().enumerate() {
                for (c, &ec) in b.etas.iter().enumerate() {
                    b.covariance[a * k + c] = omega[ea * ne + ec];
                }
            }
        }
        WithEstimates { inner, info }
    }
}

impl Model for WithEstimates<'_> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, params: &mut [f64]) {
        self.inner.individual(theta, eta, cov, t, params);
    }
    fn rhs(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], dydt: &mut [f64]) {
        self.inner.rhs(t, y, params, cov, dydt);
    }
    fn dose_props(
        &self,
        t: f64,
        params: &[f64],
        cov: &[f64],
        out: &mut [mido_runtime::model::DoseProps],
    ) {
        self.inner.dose_props(t, params, cov, out);
    }
    fn observe(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], out: &mut [f64]) {
        self.inner.observe(t, y, params, cov, out);
    }
    fn rhs_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.inner.rhs_jac_y(t, y, params, cov, jac);
    }
    fn rhs_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.inner.rhs_jac_p(t, y, params, cov, jac);
    }
    fn individual_jac_eta(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, jac: &mut [f64]) {
        self.inner.individual_jac_eta(theta, eta, cov, t, jac);
    }
    fn individual_jac_theta(
        &self,
        theta: &[f64],
        eta: &[f64],
        cov: &[f64],
        t: f64,
        jac: &mut [f64],
    ) {
        self.inner.individual_jac_theta(theta, eta, cov, t, jac);
    }
    fn observe_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.inner.observe_jac_y(t, y, params, cov, jac);
    }
    fn observe_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.inner.observe_jac_p(t, y, params, cov, jac);
    }
}

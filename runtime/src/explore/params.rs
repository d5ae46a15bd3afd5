//! Parameter values of an exploration: fixed effects, OMEGA and, for
//! parameter uncertainty, the covariance of the estimated fixed effects.
//!
//! They come from the model's own initial values or from the
//! `estimates.json` a fit writes (format `mido-estimates-1`, written by the
//! CLI's `estimates` module): `theta[].name/estimate`,
//! `omega_matrix.{etas, values}` and, when the covariance step ran,
//! `covariance.{parameters, matrix}` over the estimated parameters (fixed
//! effects by name, OMEGA entries as `omega(...)`; only the fixed-effect
//! block is used here). Values are matched to the model by name; a model
//! parameter the file lacks keeps its initial value and is listed in
//! [`Parameters::missing`].

use crate::model::ModelInfo;
use crate::random::cholesky;
use rand::Rng;
use rand_distr::StandardNormal;
use serde_json::Value;
use std::fmt;

/// Values the virtual subjects are simulated with.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    pub theta: Vec<f64>,
    /// Row-major `n_eta × n_eta`.
    pub omega: Vec<f64>,
    /// For parameter uncertainty.
    pub theta_covariance: Option<ThetaCovariance>,
    /// Model parameters the source had no value for (initial values kept).
    pub missing: Vec<String>,
}

/// Covariance of some fixed effects (the estimated ones).
#[derive(Debug, Clone, PartialEq)]
pub struct ThetaCovariance {
    /// Indices into the model's thetas.
    pub thetas: Vec<usize>,
    /// Row-major `k × k`.
    pub matrix: Vec<f64>,
}

/// An `estimates.json` that cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum EstimatesError {
    Json(String),
    /// A required entry is missing or has the wrong type.
    Malformed(&'static str),
}

impl fmt::Display for EstimatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EstimatesError::Json(e) => write!(f, "not JSON: {e}"),
            EstimatesError::Malformed(what) => write!(f, "not a mido estimates file: {what}"),
        }
    }
}

impl std::error::Error for EstimatesError {}

impl Parameters {
    /// The model's initial values, no uncertainty.
    pub fn from_model(info: &ModelInfo) -> Self {
        Parameters {
            theta: info.theta_init(),
            omega: info.omega_matrix(),
            theta_covariance: None,
            missing: Vec::new(),
        }
    }

    /// Values from the text of an `estimates.json`.
    pub fn from_estimates(text: &str, info: &ModelInfo) -> Result<Self, EstimatesError> {
        use EstimatesError::Malformed;
        let v: Value =
            serde_json::from_str(text).map_err(|e| EstimatesError::Json(e.to_string()))?;
        let mut p = Parameters::from_model(info);
        let thetas = v["theta"].as_array().ok_or(Malformed("no `theta` list"))?;
        let mut file_theta = Vec::with_capacity(thetas.len());
        for t in thetas {
            let name = t["name"]
                .as_str()
                .ok_or(Malformed("a theta without `name`"))?;
            let value = t["estimate"]
                .as_f64()
                .ok_or(Malformed("a theta without a numeric `estimate`"))?;
            file_theta.push((name, value));
        }
        for (i, t) in info.thetas.iter().enumerate() {
            match file_theta.iter().find(|(n, _)| *n == t.name) {
                Some((_, value)) => p.theta[i] = *value,
                None => p.missing.push(t.name.clone()),
            }
        }
        let m = &v["omega_matrix"];
        let etas: Vec<&str> = m["etas"]
            .as_array()
            .ok_or(Malformed("no `omega_matrix.etas`"))?
            .iter()
            .map(|e| e.as_str().ok_or(Malformed("an eta name is not a string")))
            .collect::<Result<_, _>>()?;
        let values = square(&m["values"], etas.len()).ok_or(Malformed(
            "`omega_matrix.values` is not a square matrix of numbers",
        ))?;
        let ne = info.etas.len();
        let nf = etas.len();
        let idx: Vec<Option<usize>> = info
            .etas
            .iter()
            .map(|e| etas.iter().position(|n| *n == e.name))
            .collect();
        for (a, ia) in idx.iter().enumerate() {
            match ia {
                Some(fa) => {
                    for (b, ib) in idx.iter().enumerate() {
                        if let Some(fb) = ib {
                            p.omega[a * ne + b] = values[fa * nf + fb];
                        }
                    }
                }
                None => p.missing.push(info.etas[a].name.clone()),
            }
        }
        let c = &v["covariance"];
        if c["status"].as_str() == Some("ok") {
            let labels: Vec<&str> = c["parameters"]
                .as_array()
                .ok_or(Malformed("no `covariance.parameters`"))?
                .iter()
                .map(|e| {
                    e.as_str()
                        .ok_or(Malformed("a covariance label is not a string"))
                })
                .collect::<Result<_, _>>()?;
            let matrix = square(&c["matrix"], labels.len()).ok_or(Malformed(
                "`covariance.matrix` is not a square matrix of numbers",
            ))?;
            let picked: Vec<(usize, usize)> = labels
                .iter()
                .enumerate()
                .filter_map(|(k, l)| {
                    info.thetas
                        .iter()
                        .position(|t| t.name == *l)
                        .map(|i| (k, i))
                })
                .collect();
            let n = labels.len();
            let k = picked.len();
            let mut sub = vec![0.0; k * k];
            for (a, &(ka, _)) in picked.iter().enumerate() {
                for (b, &(kb, _)) in picked.iter().enumerate() {
                    sub[a * k + b] = matrix[ka * n + kb];
                }
            }
            p.theta_covariance = Some(ThetaCovariance {
                thetas: picked.iter().map(|&(_, i)| i).collect(),
                matrix: sub,
            });
        }
        Ok(p)
    }
}

/// A JSON list of `n` lists of `n` numbers, row-major.
fn square(v: &Value, n: usize) -> Option<Vec<f64>> {
    let rows = v.as_array()?;
    if rows.len() != n {
        return None;
    }
    let mut out = Vec::with_capacity(n * n);
    for row in rows {
        let row = row.as_array()?;
        if row.len() != n {
            return None;
        }
        for x in row {
            out.push(x.as_f64()?);
        }
    }
    Some(out)
}

/// Draws fixed effects from `N(θ̂, Σ)`, redrawing while a value falls
/// outside its model bounds.
pub(crate) struct ThetaSampler {
    mean: Vec<f64>,
    thetas: Vec<usize>,
    chol: Vec<f64>,
    bounds: Vec<(f64, f64)>,
}

/// Most draws tried for one replicate's fixed effects.
const MAX_THETA_TRIES: usize = 1000;

impl ThetaSampler {
    pub fn new(info: &ModelInfo, theta: &[f64], cov: &ThetaCovariance) -> Result<Self, String> {
        let k = cov.thetas.len();
        if cov.matrix.len() != k * k || cov.thetas.iter().any(|&i| i >= theta.len()) {
            return Err(
                "the fixed-effect covariance does not match the model's fixed effects".into(),
            );
        }
        let chol = cholesky(&cov.matrix, k).map_err(|i| {
            format!(
                "the fixed-effect covariance is not positive semi-definite (at {})",
                info.thetas
                    .get(cov.thetas[i])
                    .map_or("?", |t| t.name.as_str())
            )
        })?;
        Ok(ThetaSampler {
            mean: theta.to_vec(),
            thetas: cov.thetas.clone(),
            chol,
            bounds: info.thetas.iter().map(|t| (t.lower, t.upper)).collect(),
        })
    }

    pub fn draw<R: Rng>(&self, rng: &mut R) -> Result<Vec<f64>, String> {
        let k = self.thetas.len();
        let mut z = vec![0.0; k];
        for _ in 0..MAX_THETA_TRIES {
            for zi in z.iter_mut() {
                *zi = rng.sample(StandardNormal);
            }
            let mut theta = self.mean.clone();
            for (a, &i) in self.thetas.iter().enumerate() {
                let d: f64 = self.chol[a * k..a * k + a + 1]
                    .iter()
                    .zip(&z)
                    .map(|(l, z)| l * z)
                    .sum();
                theta[i] += d;
            }
            let inside = self.thetas.iter().all(|&i| {
                self.bounds
                    .get(i)
                    .is_none_or(|(lo, hi)| *lo < theta[i] && theta[i] < *hi)
            });
            if inside {
                return Ok(theta);
            }
        }
        Err(format!(
            "no draw of the fixed effects fell within their bounds in {MAX_THETA_TRIES} tries"
        ))
    }
}

//! Residual diagnostics of a fit, per record, and shrinkage.
//!
//! For observation `j` of subject `i`, with `f(η)` the prediction, `V(η)`
//! its variance and `G(η) = ∂f/∂η`:
//!
//! - PRED = `f(0)`, IPRED = `f(η̂)`, RES = DV − PRED;
//! - IWRES = (DV − IPRED)/√V(η̂);
//! - WRES: `L₀⁻¹·(DV − f(0))` with `L₀` the Cholesky factor of
//!   `C₀ = G(0) Ω G(0)ᵀ + diag V(0)` (FO's weighted residuals);
//! - CWRES: `L̂⁻¹·(DV − f(η̂) + G(η̂)·η̂)` with `L̂` the Cholesky factor of
//!   `Ĉ = G(η̂) Ω G(η̂)ᵀ + diag V(η̂)` (Hooker, Staatz & Karlsson 2007).
//!
//! Residuals are on the scale of the likelihood (log scale for log-normal
//! error). Shrinkage is SD-based, as NONMEM's ETASHRSD and EPSSHRSD:
//! `1 − SD(η̂ₖ)/ωₖ` and `1 − SD(IWRES)`, SDs over subjects / observations
//! with divisor n − 1.

use super::predict::{Evaluation, Observations};
use super::Problem;
use nalgebra::{DMatrix, DVector};

/// One record of the diagnostics table (residuals are `None` off
/// observations).
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticRow {
    pub subject: usize,
    pub record: usize,
    pub pred: f64,
    pub ipred: f64,
    pub res: Option<f64>,
    pub wres: Option<f64>,
    pub cwres: Option<f64>,
    pub iwres: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics {
    /// Observation records only, in data order.
    pub rows: Vec<DiagnosticRow>,
    /// Per eta, in percent.
    pub eta_shrinkage: Vec<f64>,
    /// In percent.
    pub eps_shrinkage: f64,
    /// Subjects whose predictions could not be computed at the estimates
    /// (their rows are missing), with why: the rest of the table stands.
    pub failed: Vec<SubjectFailure>,
}

/// A subject left out of a table, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectFailure {
    pub subject: String,
    pub reason: String,
}

fn sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// `L⁻¹·r` with `L` the Cholesky factor of `G Ω Gᵀ + diag(v)`.
fn weighted(ev: &Evaluation, omega: &DMatrix<f64>, r: &DVector<f64>) -> Option<DVector<f64>> {
    let n = ev.res.len();
    let ne = omega.nrows();
    let g = DMatrix::from_row_slice(n, ne, &ev.g);
    let mut c = &g * omega * g.transpose();
    for (j, res) in ev.res.iter().enumerate() {
        c[(j, j)] += res.v;
    }
    let l = c.cholesky()?.l();
    l.solve_lower_triangular(r)
}

pub(crate) fn compute(
    problem: &Problem<'_>,
    theta: &[f64],
    omega: &DMatrix<f64>,
    etas: &[Vec<f64>],
) -> Diagnostics {
    let mut ws = problem.workspace();
    let ne = omega.nrows();
    let zeros = vec![0.0; ne];
    let mut out = Diagnostics::default();
    let mut iwres_all = Vec::new();
    let mut pop = Evaluation::default();
    let mut ind = Evaluation::default();
    for (i, subject) in problem.data.subjects.iter().enumerate() {
        let obs: &Observations = &problem.obs[i];
        if obs.len() == 0 {
            continue;
        }
        let how = problem.how[i];
        let evaluated = ws
            .evaluate(theta, &zeros, subject, obs, how, &mut pop)
            .and_then(|()| ws.evaluate(theta, &etas[i], subject, obs, how, &mut ind));
        if let Err(e) = evaluated {
            out.failed.push(SubjectFailure {
                subject: subject.label.clone(),
                reason: e.to_string(),
            });
            continue;
        }
        let r0 = DVector::from_iterator(obs.len(), pop.res.iter().map(|r| r.r));
        let wres = weighted(&pop, omega, &r0);
        let lin = DVector::from_iterator(
            obs.len(),
            ind.res
                .iter()
                .enumerate()
                .map(|(j, r)| r.r + (0..ne).map(|k| ind.g[j * ne + k] * etas[i][k]).sum::<f64>()),
        );
        let cwres = weighted(&ind, omega, &lin);
        for (j, &rec) in obs.records.iter().enumerate() {
            let iw = ind.res[j].r / ind.res[j].v.sqrt();
            iwres_all.push(iw);
            out.rows.push(DiagnosticRow {
                subject: i,
                record: rec,
                pred: pop.res[j].f,
                ipred: ind.res[j].f,
                res: Some(pop.res[j].r),
                wres: wres.as_ref().map(|w| w[j]),
                cwres: cwres.as_ref().map(|w| w[j]),
                iwres: Some(iw),
            });
        }
    }
    out.eta_shrinkage = (0..ne)
        .map(|k| {
            let vals: Vec<f64> = etas.iter().map(|e| e[k]).collect();
            100.0 * (1.0 - sd(&vals) / omega[(k, k)].sqrt())
        })
        .collect();
    out.eps_shrinkage = 100.0 * (1.0 - sd(&iwres_all));
    out
}

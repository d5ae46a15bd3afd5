//! The covariance step: the asymptotic covariance of the natural
//! parameters `ψ` (estimated thetas, OMEGA entries).
//!
//! With `OFV(ψ) = Σᵢ OFVᵢ(ψ)` (−2·log-likelihood, modes re-estimated at
//! every point):
//!
//! - `R = ½·∇²OFV` (observed information), by second differences of
//!   second order — the diagonal central, each off-diagonal entry from the
//!   two diagonal points `ψ ± (hᵢeᵢ + hⱼeⱼ)` and the axis points the
//!   diagonal already needs, `n(n + 1)` evaluations in all instead of the
//!   four-corner formula's `2n²` —
//!   with steps that are 1e-3 on the optimizer's unconstrained scale
//!   ([`Packing::psi_steps`]: relative for log-transformed parameters,
//!   `1e-3·max(|θ|, 1)` for unbounded ones — a step relative to `|θ|` would
//!   drown in noise for a parameter estimated near zero);
//! - `S = Σᵢ (½∇OFVᵢ)(½∇OFVᵢ)ᵀ` (cross-product of the subjects' scores),
//!   the subject gradients by central differences with the same steps;
//! - covariance `R⁻¹ S R⁻¹` (default, robust to misspecification), `R⁻¹`
//!   or `S⁻¹` on request — NONMEM's `MATRIX` options.

use super::objective::{Anchor, Finish};
use super::params::{Packing, PsiEntry};
use super::{FitError, PointValue, Problem};
use nalgebra::{DMatrix, SymmetricEigen};

/// Which matrix the covariance is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CovarianceKind {
    /// `R⁻¹ S R⁻¹`.
    #[default]
    Sandwich,
    /// `R⁻¹`.
    R,
    /// `S⁻¹`.
    S,
    /// No covariance step.
    None,
}

impl CovarianceKind {
    pub fn name(self) -> &'static str {
        match self {
            CovarianceKind::Sandwich => "R⁻¹SR⁻¹ (sandwich)",
            CovarianceKind::R => "R⁻¹",
            CovarianceKind::S => "S⁻¹",
            CovarianceKind::None => "none",
        }
    }
}

/// A successful covariance step.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariance {
    pub kind: CovarianceKind,
    /// Row-major, `ψ × ψ`.
    pub matrix: Vec<f64>,
    pub se: Vec<f64>,
    /// Row-major correlation matrix.
    pub correlation: Vec<f64>,
    /// Largest over smallest eigenvalue of the correlation matrix.
    pub condition_number: f64,
}

/// Why the covariance step failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CovarianceFailure {
    /// R is not positive definite: the objective is not at a minimum, or
    /// the parameters are not identifiable from the data.
    RNotPositiveDefinite { smallest_eigenvalue: f64 },
    /// S is singular (fewer subjects than parameters, or a parameter no
    /// subject informs).
    SSingular,
    /// The objective was not finite at a point of the finite differences:
    /// the parameter stepped, and the first subject whose contribution was
    /// not finite, with why when its simulation failed.
    NonFiniteObjective {
        parameter: String,
        subject: Option<String>,
        reason: Option<String>,
    },
}

impl std::fmt::Display for CovarianceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CovarianceFailure::RNotPositiveDefinite { smallest_eigenvalue } => write!(
                f,
                "the R matrix (Hessian) is not positive definite (smallest eigenvalue {smallest_eigenvalue:.3e}): the fit is not at a minimum or a parameter is not identifiable"
            ),
            CovarianceFailure::SSingular => {
                write!(f, "the S matrix is singular: some parameter is not informed by any subject")
            }
            CovarianceFailure::NonFiniteObjective {
                parameter,
                subject,
                reason,
            } => {
                write!(
                    f,
                    "the objective was not finite at a finite-difference step of {parameter} near the estimates"
                )?;
                if let Some(s) = subject {
                    write!(f, " (first in subject {s})")?;
                }
                match reason {
                    Some(r) => write!(f, ": {r}"),
                    None => write!(
                        f,
                        " (a parameter is at the edge of its feasible range)"
                    ),
                }
            }
        }
    }
}

/// Runs the covariance step at `psi` (modes warm-started from `etas`, the
/// subjects' modes there, with their `anchors` at `psi`).
pub(crate) fn compute(
    problem: &Problem<'_>,
    packing: &Packing,
    psi: &[f64],
    etas: &[Vec<f64>],
    anchors: &[Option<Anchor>],
    kind: CovarianceKind,
) -> Result<Result<Covariance, CovarianceFailure>, FitError> {
    let n = psi.len();
    let h = packing.psi_steps(psi, 1e-3);
    // The first non-finite point, described for the report.
    let mut first_failure: Option<(Option<String>, Option<String>)> = None;
    // Every point of the stencil, evaluated in parallel, in the order the
    // formulas below read them: ψ and ψ ± hᵢeᵢ for each i first; then the
    // corners ψ ± (hᵢeᵢ + hⱼeⱼ) for each j < i, whose inner problems start
    // from the modes predicted by the axis points' (central differences
    // of the modes along each axis), one Newton step closer than ψ's.
    // Every point finishes with one step once that step is small
    // ([`Finish::OneStep`]).
    let at = |p: Vec<f64>, start: Vec<Vec<f64>>| {
        let (theta, omega) = packing.from_psi(&p);
        (theta, omega, start)
    };
    let mut axis_points = vec![at(psi.to_vec(), etas.to_vec())];
    for i in 0..n {
        for sign in [1.0, -1.0] {
            let mut p = psi.to_vec();
            p[i] = psi[i] + sign * h[i];
            axis_points.push(at(p, etas.to_vec()));
        }
    }
    let axis_values = problem.evaluate_points(&axis_points, anchors, Finish::OneStep);
    // Per axis, the modes' change over ±hᵢ, halved: ∂η̂/∂ψᵢ·hᵢ (zero when
    // a side is not finite).
    let modes = |r: &Result<PointValue, FitError>| r.as_ref().ok().and_then(PointValue::modes);
    let half_change: Vec<Option<Vec<Vec<f64>>>> = (0..n)
        .map(|i| {
            let up = modes(&axis_values[1 + 2 * i])?;
            let down = modes(&axis_values[2 + 2 * i])?;
            Some(
                up.iter()
                    .zip(&down)
                    .map(|(u, d)| u.iter().zip(d).map(|(u, d)| 0.5 * (u - d)).collect())
                    .collect(),
            )
        })
        .collect();
    let mut corner_points = Vec::with_capacity(n * n.saturating_sub(1));
    for i in 0..n {
        for j in 0..i {
            for sign in [1.0, -1.0] {
                let mut p = psi.to_vec();
                p[i] = psi[i] + sign * h[i];
                p[j] = psi[j] + sign * h[j];
                let mut start = etas.to_vec();
                for change in [&half_change[i], &half_change[j]].into_iter().flatten() {
                    for (e, c) in start.iter_mut().zip(change) {
                        for (e, c) in e.iter_mut().zip(c) {
                            *e += sign * c;
                        }
                    }
                }
                corner_points.push(at(p, start));
            }
        }
    }
    let corner_values = problem.evaluate_points(&corner_points, anchors, Finish::OneStep);
    let mut values = axis_values.into_iter().chain(corner_values);
    // Read back in order, as evaluating one point after the other would:
    // the first error, and the first non-finite point for the report.
    let mut eval = || -> Result<(f64, Vec<f64>), FitError> {
        let v = values.next().expect("one value per point")?;
        if !v.total.is_finite() && first_failure.is_none() {
            let subject = problem
                .data
                .subjects
                .iter()
                .zip(&v.subjects)
                .find(|(_, s)| !s.ofv.is_finite())
                .map(|(s, _)| s.label.clone());
            first_failure = Some((subject, v.failure.as_ref().map(|e| e.to_string())));
        }
        Ok((v.total, v.subjects.iter().map(|s| s.ofv).collect()))
    };
    let (f0, _) = eval()?;
    let mut hess = DMatrix::zeros(n, n);
    let mut scores = DMatrix::zeros(etas.len(), n);
    // f(ψ ± hᵢ·eᵢ): the diagonal, the subjects' scores, and half of every
    // off-diagonal entry's stencil.
    let (mut plus, mut minus) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let (fp, sp) = eval()?;
        let (fm, sm) = eval()?;
        if !(fp.is_finite() && fm.is_finite()) {
            return Ok(Err(non_finite(problem, packing, i, first_failure)));
        }
        (plus[i], minus[i]) = (fp, fm);
        hess[(i, i)] = (fp - 2.0 * f0 + fm) / (h[i] * h[i]);
        for (s, (a, b)) in sp.iter().zip(&sm).enumerate() {
            scores[(s, i)] = 0.5 * (a - b) / (2.0 * h[i]);
        }
    }
    for i in 0..n {
        for j in 0..i {
            // f(x ± (a + b)) − f(x ± a) − f(x ± b) + 2f(x) = 2·aᵀHb + O(h⁴):
            // second order like the four-corner formula, with two new
            // points per pair instead of four (the covariance step of a
            // 7-parameter model: 56 evaluations instead of 98).
            let (fpp, _) = eval()?;
            let (fmm, _) = eval()?;
            let v = (fpp + fmm - plus[i] - minus[i] - plus[j] - minus[j] + 2.0 * f0)
                / (2.0 * h[i] * h[j]);
            if !v.is_finite() {
                return Ok(Err(non_finite(problem, packing, i, first_failure)));
            }
            hess[(i, j)] = v;
            hess[(j, i)] = v;
        }
    }
    let r = 0.5 * hess;
    let s = scores.transpose() * &scores;
    Ok(from_matrices(&r, &s, kind))
}

fn non_finite(
    problem: &Problem<'_>,
    packing: &Packing,
    parameter: usize,
    failure: Option<(Option<String>, Option<String>)>,
) -> CovarianceFailure {
    let info = problem.model.info();
    let parameter = match packing.psi_labels()[parameter] {
        PsiEntry::Theta(t) => format!("`{}`", info.thetas[t].name),
        PsiEntry::Omega(r, c) => format!("OMEGA({}, {})", info.etas[r].name, info.etas[c].name),
    };
    let (subject, reason) = failure.unwrap_or((None, None));
    CovarianceFailure::NonFiniteObjective {
        parameter,
        subject,
        reason,
    }
}

/// The covariance from `R` and `S`.
pub(crate) fn from_matrices(
    r: &DMatrix<f64>,
    s: &DMatrix<f64>,
    kind: CovarianceKind,
) -> Result<Covariance, CovarianceFailure> {
    let n = r.nrows();
    let r_inv = || -> Result<DMatrix<f64>, CovarianceFailure> {
        r.clone().cholesky().map(|c| c.inverse()).ok_or_else(|| {
            let smallest = SymmetricEigen::new(r.clone())
                .eigenvalues
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            CovarianceFailure::RNotPositiveDefinite {
                smallest_eigenvalue: smallest,
            }
        })
    };
    let cov = match kind {
        CovarianceKind::Sandwich | CovarianceKind::None => {
            let ri = r_inv()?;
            &ri * s * &ri
        }
        CovarianceKind::R => r_inv()?,
        CovarianceKind::S => s
            .clone()
            .cholesky()
            .map(|c| c.inverse())
            .ok_or(CovarianceFailure::SSingular)?,
    };
    let se: Vec<f64> = (0..n).map(|i| cov[(i, i)].max(0.0).sqrt()).collect();
    let corr = DMatrix::from_fn(n, n, |i, j| {
        let d = se[i] * se[j];
        if d > 0.0 {
            cov[(i, j)] / d
        } else {
            f64::NAN
        }
    });
    let eig = SymmetricEigen::new(corr.clone()).eigenvalues;
    let (lo, hi) = eig.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    Ok(Covariance {
        kind,
        matrix: cov.transpose().as_slice().to_vec(),
        se,
        correlation: corr.transpose().as_slice().to_vec(),
        condition_number: if lo > 0.0 { hi / lo } else { f64::INFINITY },
    })
}

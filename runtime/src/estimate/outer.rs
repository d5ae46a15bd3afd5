//! The outer problem: quasi-Newton (BFGS) minimization of the objective
//! over the unconstrained parameter vector, with central-difference
//! gradients.
//!
//! Written here rather than taken from argmin because the objective of a
//! population fit is not finite everywhere (a trial point may make a
//! variance non-positive or a subject's ODE fail): the line search must
//! treat such a point as "too far" and step back, and the status must say
//! which of converged / iteration limit / rounding errors ended the search.
//!
//! Gradient step rule: `h_i = 1e-4·max(|x_i|, 1)`. Far from the minimum
//! (largest scaled gradient entry above [`CENTRAL_BELOW`]) forward
//! differences, `n` evaluations, whose `O(h)` error (about 1e-4 of the
//! curvature, a few hundredths on the scaled gradient of a typical fit)
//! does not change the direction that matters there; from then on, and
//! whenever a line search fails, central differences, `2n` evaluations with
//! `O(h²)` truncation error (≈1e-8 relative), which the convergence test
//! uses. Every evaluation of the objective restarts each subject's inner
//! problem from the modes at the current iterate, so neighbouring
//! evaluations follow the same Newton path and their differences stay
//! smooth.

use super::FitError;

/// How the outer search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The scaled gradient, or the change of objective and parameters, fell
    /// below tolerance.
    Converged,
    /// `max_iterations` reached first.
    IterationLimit,
    /// No decrease along the search direction, even after resetting the
    /// Hessian approximation, while the gradient is not small: the
    /// objective is too noisy (or too flat) to make progress.
    RoundingErrors,
}

impl Status {
    pub fn describe(self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::IterationLimit => "iteration limit reached",
            Status::RoundingErrors => "terminated by rounding errors",
        }
    }
}

/// One outer iteration, for progress reports and the iteration log.
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration {
    pub iteration: usize,
    pub ofv: f64,
    /// Largest scaled gradient entry, `|g_i|·max(|x_i|, 1)`.
    pub gradient: f64,
    /// Objective evaluations so far.
    pub evaluations: usize,
    pub x: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub x: Vec<f64>,
    pub ofv: f64,
    pub status: Status,
    pub iterations: usize,
    pub evaluations: usize,
}

/// The objective as the search sees it: `eval(x, anchor)` returns the
/// objective at `x`; `anchor = true` marks `x` as the new current iterate
/// (the point later evaluations warm-start from); `anchor_last` does that
/// for the point evaluated last, without evaluating it again.
pub(crate) trait Objective {
    fn eval(&mut self, x: &[f64], anchor: bool) -> Result<f64, FitError>;
    fn anchor_last(&mut self);
    /// The independent contributions (subjects) summing to the last
    /// evaluated objective; empty when the objective has no such parts.
    fn parts(&self) -> &[f64];
    /// The objective and its parts at each of `xs`, none of them an
    /// anchor, as if evaluated one after the other with [`Objective::eval`]:
    /// the points of a finite-difference stencil, which are independent of
    /// each other, so an objective may evaluate them in parallel.
    fn eval_points(&mut self, xs: &[Vec<f64>]) -> Result<Vec<(f64, Vec<f64>)>, FitError> {
        xs.iter()
            .map(|x| {
                let f = self.eval(x, false)?;
                Ok((f, self.parts().to_vec()))
            })
            .collect()
    }
}

pub(crate) struct Options {
    pub max_iterations: usize,
}

fn step(x: f64) -> f64 {
    1e-4 * x.abs().max(1.0)
}

/// A gradient by finite differences, with the same differences of each
/// part of the objective (the subjects' scores), `parts × n` row-major;
/// `scores` is empty when the objective has no parts.
struct Gradient {
    g: Vec<f64>,
    scores: Vec<f64>,
}

/// The gradient at `x` (objective `f` there, with parts `f_parts`) by
/// central or forward differences.
fn gradient(
    obj: &mut dyn Objective,
    x: &[f64],
    f: f64,
    f_parts: &[f64],
    central: bool,
    evals: &mut usize,
) -> Result<Gradient, FitError> {
    let n = x.len();
    let m = f_parts.len();
    let mut g = vec![0.0; n];
    let mut scores = vec![0.0; m * n];
    let mut with_parts = m > 0;
    // Every point of the stencil first (x + hᵢeᵢ, then x − hᵢeᵢ when
    // central), evaluated together.
    let per = if central { 2 } else { 1 };
    let mut points = Vec::with_capacity(per * n);
    for i in 0..n {
        let h = step(x[i]);
        let mut xp = x.to_vec();
        xp[i] = x[i] + h;
        points.push(xp);
        if central {
            let mut xm = x.to_vec();
            xm[i] = x[i] - h;
            points.push(xm);
        }
    }
    let values = obj.eval_points(&points)?;
    *evals += points.len();
    for i in 0..n {
        let h = step(x[i]);
        let (fp, plus) = &values[per * i];
        let (fm, minus, width) = if central {
            let (fm, minus) = &values[per * i + 1];
            (*fm, minus.as_slice(), 2.0 * h)
        } else {
            (f, f_parts, h)
        };
        g[i] = (fp - fm) / width;
        with_parts &= plus.len() == m && minus.len() == m;
        if with_parts {
            for k in 0..m {
                scores[k * n + i] = (plus[k] - minus[k]) / width;
            }
        }
    }
    if !with_parts {
        scores.clear();
    }
    Ok(Gradient { g, scores })
}

/// The inverse of the BHHH (outer product of scores) approximation of the
/// objective's Hessian, `(½ Σ_k s_k s_kᵀ)⁻¹` for an objective that is −2 ×
/// a sum of independent log-likelihoods: the starting curvature of BFGS,
/// right in scale and correlation from the first step (steepest descent
/// would need about `n` iterations to learn it). `None` when it is not
/// well conditioned (fewer parts than parameters, a parameter no part
/// informs) or not finite.
fn bhhh_inverse(scores: &[f64], n: usize) -> Option<Vec<f64>> {
    if scores.is_empty() || !scores.iter().all(|v| v.is_finite()) {
        return None;
    }
    let m = scores.len() / n;
    let s = nalgebra::DMatrix::from_row_slice(m, n, scores);
    let b = 0.5 * s.transpose() * &s;
    let eig = b.clone().symmetric_eigen();
    let (lo, hi) = eig
        .eigenvalues
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if !(lo > 1e-10 * hi && hi > 0.0) {
        return None;
    }
    let inv = b.cholesky()?.inverse();
    Some(inv.transpose().as_slice().to_vec())
}

/// Forward differences while the largest scaled gradient entry is above
/// this; central ones below it.
pub(crate) const CENTRAL_BELOW: f64 = 1.0;

fn scaled_norm(g: &[f64], x: &[f64]) -> f64 {
    g.iter()
        .zip(x)
        .map(|(g, x)| (g * x.abs().max(1.0)).abs())
        .fold(0.0, f64::max)
}

/// Converged when the largest scaled gradient entry is below this.
const GRADIENT_TOL: f64 = 1e-4;
/// ... or when an iteration changes the objective by less than this and
/// no parameter by more than `STEP_TOL`.
const OFV_TOL: f64 = 1e-7;
const STEP_TOL: f64 = 1e-5;
/// Largest step (max-norm, on the unconstrained scale) one line search tries.
const MAX_STEP: f64 = 1.0;

/// Minimizes `obj` from `x0` by BFGS.
pub(crate) fn minimize(
    obj: &mut dyn Objective,
    x0: &[f64],
    opts: &Options,
    progress: &mut dyn FnMut(&Iteration),
) -> Result<Outcome, FitError> {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut evaluations = 1;
    let mut f = obj.eval(&x, true)?;
    let mut f_parts = obj.parts().to_vec();
    if !f.is_finite() {
        return Err(FitError::InitialObjective { subject: None });
    }
    if n == 0 {
        return Ok(Outcome {
            x,
            ofv: f,
            status: Status::Converged,
            iterations: 0,
            evaluations,
        });
    }
    let mut central = false;
    let Gradient { mut g, mut scores } = gradient(obj, &x, f, &f_parts, central, &mut evaluations)?;
    // Inverse Hessian approximation, row-major; None until the first step
    // sets its scale.
    let mut h: Option<Vec<f64>> = None;
    let mut reset_tried = false;
    let mut iteration = 0;
    progress(&Iteration {
        iteration,
        ofv: f,
        gradient: scaled_norm(&g, &x),
        evaluations,
        x: x.clone(),
    });
    let status = loop {
        if !central && scaled_norm(&g, &x) < CENTRAL_BELOW {
            central = true;
            Gradient { g, scores } = gradient(obj, &x, f, &f_parts, central, &mut evaluations)?;
        }
        if scaled_norm(&g, &x) < GRADIENT_TOL {
            break Status::Converged;
        }
        if iteration >= opts.max_iterations {
            break Status::IterationLimit;
        }
        iteration += 1;
        if h.is_none() && !reset_tried {
            h = bhhh_inverse(&scores, n);
        }
        // Direction d = −H·g (steepest descent scaled to 0.1 when no
        // curvature is known).
        let mut d: Vec<f64> = match &h {
            Some(h) => (0..n)
                .map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>())
                .collect(),
            None => steepest_descent(&g),
        };
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction (an ill-conditioned update): restart
            // from steepest descent.
            h = None;
            d = steepest_descent(&g);
            slope = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        }
        let dmax = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if dmax > MAX_STEP {
            let s = MAX_STEP / dmax;
            d.iter_mut().for_each(|v| *v *= s);
            slope *= s;
        }
        // Backtracking line search (Armijo), halving with a quadratic
        // interpolation guard.
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let xt: Vec<f64> = x.iter().zip(&d).map(|(x, d)| x + alpha * d).collect();
            let ft = obj.eval(&xt, false)?;
            evaluations += 1;
            if ft.is_finite() && ft <= f + 1e-4 * alpha * slope {
                accepted = Some((xt, ft));
                break;
            }
            let next = if ft.is_finite() {
                // Minimizer of the quadratic through f, slope and ft.
                let q = -slope * alpha * alpha / (2.0 * (ft - f - slope * alpha));
                q.clamp(0.1 * alpha, 0.5 * alpha)
            } else {
                0.1 * alpha
            };
            alpha = next;
        }
        let Some((xn, fa)) = accepted else {
            if !central {
                // The forward-difference gradient may be what failed:
                // retry with central differences.
                central = true;
                Gradient { g, scores } = gradient(obj, &x, f, &f_parts, central, &mut evaluations)?;
                iteration -= 1;
                continue;
            }
            if !reset_tried && h.is_some() {
                // Try once more from steepest descent before giving up.
                reset_tried = true;
                h = None;
                iteration -= 1;
                continue;
            }
            break Status::RoundingErrors;
        };
        reset_tried = false;
        // Anchor the new iterate, the line search's last evaluation (its
        // modes become the warm start).
        obj.anchor_last();
        f_parts = obj.parts().to_vec();
        let Gradient { g: gn, scores: sn } =
            gradient(obj, &xn, fa, &f_parts, central, &mut evaluations)?;
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let yy: f64 = y.iter().map(|v| v * v).sum();
        let ss: f64 = s.iter().map(|v| v * v).sum();
        if sy > 1e-10 * (ss * yy).sqrt() {
            let hm = h.get_or_insert_with(|| {
                // Nocedal & Wright (6.20): scale the first inverse Hessian.
                let scale = sy / yy;
                (0..n * n)
                    .map(|k| if k / n == k % n { scale } else { 0.0 })
                    .collect()
            });
            bfgs_update(hm, &s, &y, sy, n);
        }
        let change = (f - fa).abs();
        let moved = s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        x = xn;
        f = fa;
        g = gn;
        scores = sn;
        progress(&Iteration {
            iteration,
            ofv: f,
            gradient: scaled_norm(&g, &x),
            evaluations,
            x: x.clone(),
        });
        if central && change < OFV_TOL && moved < STEP_TOL {
            break Status::Converged;
        }
    };
    Ok(Outcome {
        x,
        ofv: f,
        status,
        iterations: iteration,
        evaluations,
    })
}

/// Steepest descent scaled to a largest step of 0.1: the direction before
/// any curvature is known.
fn steepest_descent(g: &[f64]) -> Vec<f64> {
    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    g.iter().map(|v| -0.1 * v / gmax).collect()
}

/// `H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`, `ρ = 1/(sᵀy)`.
fn bfgs_update(h: &mut [f64], s: &[f64], y: &[f64], sy: f64, n: usize) {
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum())
        .collect();
    let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rosenbrock;

    impl Objective for Rosenbrock {
        fn eval(&mut self, x: &[f64], _anchor: bool) -> Result<f64, FitError> {
            Ok(100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2))
        }
        fn anchor_last(&mut self) {}
        fn parts(&self) -> &[f64] {
            &[]
        }
    }

    #[test]
    fn minimizes_rosenbrock() {
        let out = minimize(
            &mut Rosenbrock,
            &[-1.2, 1.0],
            &Options {
                max_iterations: 500,
            },
            &mut |_| {},
        )
        .expect("no evaluation error");
        assert_eq!(out.status, Status::Converged);
        assert!((out.x[0] - 1.0).abs() < 1e-4, "{:?}", out.x);
        assert!((out.x[1] - 1.0).abs() < 1e-4, "{:?}", out.x);
    }

    struct Walled;

    impl Objective for Walled {
        /// A quadratic with its minimum at 2 that is infinite beyond 2.5:
        /// the line search must step back from the wall.
        fn eval(&mut self, x: &[f64], _anchor: bool) -> Result<f64, FitError> {
            Ok(if x[0] > 2.5 {
                f64::INFINITY
            } else {
                (x[0] - 2.0).powi(2)
            })
        }
        fn anchor_last(&mut self) {}
        fn parts(&self) -> &[f64] {
            &[]
        }
    }

    #[test]
    fn steps_back_from_non_finite_objective() {
        let out = minimize(
            &mut Walled,
            &[0.0],
            &Options {
                max_iterations: 100,
            },
            &mut |_| {},
        )
        .expect("no evaluation error");
        assert_eq!(out.status, Status::Converged);
        assert!((out.x[0] - 2.0).abs() < 1e-4, "{:?}", out.x);
    }
}

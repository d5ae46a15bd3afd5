//! RODAS: a stiffly accurate Rosenbrock method of order 4 (Rodas4).
//!
//! Coefficients, stage formulation, error estimate and step-size control
//! follow Hairer & Wanner, *Solving ODEs II* (2nd ed., §IV.7, code RODAS,
//! coefficient set METH = 1). One step of size `h` from `(t, y)`:
//!
//! ```text
//! E = I/(hγ) − J,  J = ∂f/∂y(t, y),  γ = 1/4      (one LU per step)
//! E·k_i = f(t + c_i·h, y + Σ_{j<i} a_ij·k_j) + Σ_{j<i} (c_ij/h)·k_j + h·d_i·∂f/∂t
//! ```
//!
//! for `i = 1..6`. The method is stiffly accurate: the fifth stage's argument
//! plus `k5` is the embedded order-3 solution, that plus `k6` the order-4
//! solution, so `k6` itself is the error estimate. Both solutions are
//! L-stable, so steps are limited by accuracy alone on stiff systems.
//!
//! The error norm is Dopri5's: the RMS over states of `k6_i / (atol +
//! rtol·max(|y_i|, |y_new_i|))`. The step-size controller is RODAS's:
//! `h_new = h / clamp(err^(1/4) / 0.9, 1/6, 5)`, with Gustafsson's predictive
//! correction after the second accepted step, and no growth right after a
//! rejection. The Jacobian comes from a callback (dense, column-major: `jac[j·n
//! + i] = ∂f_i/∂y_j`); `∂f/∂t` is a forward difference (one extra right-hand
//! side evaluation per Jacobian), which is exactly zero for autonomous
//! systems. A rejected step keeps the Jacobian (same `t`, `y`) and only
//! refactors `E` for the smaller `h`. Every interval starts with fresh `f`
//! and `J`: a dose or a new infusion rate changes both.

use nalgebra::{DMatrix, DVector};

use super::dopri5::check_finite;
use super::{plan_step, SolverError, SolverOptions, SolverStats};

const GAMMA: f64 = 0.25;
const C2: f64 = 0.386;
const C3: f64 = 0.21;
const C4: f64 = 0.63;
const D1: f64 = 0.25;
const D2: f64 = -0.1043;
const D3: f64 = 0.1035;
const D4: f64 = -0.362_000_000_000_002_3e-1;
const A21: f64 = 0.1544e1;
const A31: f64 = 0.946_678_528_081_582_6;
const A32: f64 = 0.255_701_169_898_328_4;
const A41: f64 = 0.331_482_518_706_852_1e1;
const A42: f64 = 0.289_612_401_597_220_1e1;
const A43: f64 = 0.998_641_913_997_781_7;
const A51: f64 = 0.122_122_450_922_664_1e1;
const A52: f64 = 0.601_913_448_128_862_9e1;
const A53: f64 = 0.125_370_833_293_208_7e2;
const A54: f64 = -0.687_886_036_105_895;
const C21: f64 = -0.56688e1;
const C31: f64 = -0.243_009_335_683_387_5e1;
const C32: f64 = -0.206_359_915_709_191_5;
const C41: f64 = -0.107_352_905_815_137_5;
const C42: f64 = -0.959_456_225_102_335_5e1;
const C43: f64 = -0.204_702_861_480_961_6e2;
const C51: f64 = 0.749_644_331_396_764_7e1;
const C52: f64 = -0.102_468_043_146_435_2e2;
const C53: f64 = -0.339_999_035_281_990_5e2;
const C54: f64 = 0.117_089_089_320_616e2;
const C61: f64 = 0.808_324_679_592_152_2e1;
const C62: f64 = -0.798_113_298_806_489_3e1;
const C63: f64 = -0.315_215_943_287_437_1e2;
const C64: f64 = 0.163_193_054_312_313_6e2;
const C65: f64 = -0.605_881_823_883_405_4e1;

/// Step-size controller (RODAS defaults): safety factor, largest shrink
/// (1/0.2) and largest growth (6) of `h`.
const SAFE: f64 = 0.9;
const FAC_SHRINK: f64 = 5.0;
const FAC_GROW: f64 = 1.0 / 6.0;
/// Singular iteration matrices in a row (each halving `h`) before giving up.
const MAX_SINGULAR: u32 = 5;

/// Intervals shorter than this many ulps of `t` are crossed with one Euler
/// step (as in Dopri5).
const TINY_SPAN_ULPS: f64 = 64.0;

/// A reusable Rodas4 integrator. Like [`super::Dopri5`] it keeps its buffers
/// (stage vectors, the Jacobian and the LU factors) and the last step size
/// between calls: nothing is allocated after construction.
#[derive(Debug, Clone)]
pub struct Rodas {
    opts: SolverOptions,
    /// `∂f/∂y` at the start of the current step (column-major).
    jac: DMatrix<f64>,
    /// LU factors of `I/(hγ) − J` (unit lower and upper triangle in place).
    lu: DMatrix<f64>,
    /// Row swapped with row `k` at elimination step `k`.
    piv: Vec<usize>,
    k: [DVector<f64>; 6],
    /// `f(t, y)` at the start of the current step.
    dy: Vec<f64>,
    /// `∂f/∂t` at the start of the current step.
    ft: Vec<f64>,
    ytmp: Vec<f64>,
    ftmp: Vec<f64>,
    ynew: Vec<f64>,
    h_next: Option<f64>,
    /// Gustafsson controller memory: last accepted step and its error.
    h_acc: f64,
    err_acc: f64,
    /// Accepted steps since construction or [`Rodas::reset`].
    n_accepted: u64,
    stats: SolverStats,
}

impl Rodas {
    pub fn new(n: usize, opts: SolverOptions) -> Self {
        Rodas {
            opts,
            jac: DMatrix::zeros(n, n),
            lu: DMatrix::zeros(n, n),
            piv: vec![0; n],
            k: std::array::from_fn(|_| DVector::zeros(n)),
            dy: vec![0.0; n],
            ft: vec![0.0; n],
            ytmp: vec![0.0; n],
            ftmp: vec![0.0; n],
            ynew: vec![0.0; n],
            h_next: None,
            h_acc: 0.0,
            err_acc: 1e-2,
            n_accepted: 0,
            stats: SolverStats::default(),
        }
    }

    /// Forgets the step-size history, so the next integration starts as if
    /// new (keeps results independent of what ran before).
    pub fn reset(&mut self) {
        self.h_next = None;
        self.h_acc = 0.0;
        self.err_acc = 1e-2;
        self.n_accepted = 0;
    }

    /// Counters since construction.
    pub fn stats(&self) -> SolverStats {
        self.stats
    }

    /// Advances `y` from `t0` to exactly `t1` (`t1 ≥ t0`; nothing happens
    /// when `t1 ≤ t0`). `f(t, y, dydt)` is the right-hand side and
    /// `jac(t, y, J)` writes `∂f/∂y` column-major into `J` (`n × n`,
    /// `J[j·n + i] = ∂f_i/∂y_j`).
    pub fn integrate<F, J>(
        &mut self,
        f: &mut F,
        jac: &mut J,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        J: FnMut(f64, &[f64], &mut [f64]),
    {
        let o = self.opts;
        o.validate()?;
        if t1 <= t0 || t1.is_nan() || t0.is_nan() {
            return Ok(());
        }
        let n = y.len();
        if self.ynew.len() != n {
            let stats = self.stats;
            *self = Rodas::new(n, o);
            self.stats = stats;
        }
        let span = t1 - t0;
        f(t0, y, &mut self.dy);
        self.stats.rhs_evals += 1;
        check_finite(t0, &self.dy)?;
        if span <= TINY_SPAN_ULPS * f64::EPSILON * t0.abs().max(t1.abs()) {
            for (yi, di) in y.iter_mut().zip(&self.dy) {
                *yi += span * di;
            }
            return check_finite(t1, y);
        }
        let mut h = match self.h_next {
            Some(h) if h > 0.0 => h.min(span),
            _ => self.initial_step(f, t0, y, span),
        };
        let mut t = t0;
        let mut need_jac = true;
        let mut last_rejected = false;
        let mut singular = 0u32;
        let mut steps = 0usize;
        loop {
            let proposed = h;
            let last;
            (h, last) = plan_step(&mut steps, o.max_steps, t, h, t1)?;
            if need_jac {
                self.jacobian(f, jac, t, y)?;
                need_jac = false;
            }
            if !self.factor(h) {
                singular += 1;
                self.stats.rejected += 1;
                if singular >= MAX_SINGULAR {
                    return Err(SolverError::SingularMatrix { t });
                }
                h *= 0.5;
                last_rejected = true;
                continue;
            }
            singular = 0;
            self.stages(f, t, h, y);
            let err = self.error_norm(y);
            if !err.is_finite() {
                self.stats.rejected += 1;
                last_rejected = true;
                h *= 0.1;
                continue;
            }
            let mut fac = (err.powf(0.25) / SAFE).clamp(FAC_GROW, FAC_SHRINK);
            if err <= 1.0 {
                self.stats.accepted += 1;
                self.n_accepted += 1;
                check_finite(t + h, &self.ynew)?;
                if self.n_accepted > 1 {
                    // Gustafsson's predictive controller.
                    let fac_gus = (self.h_acc / h * (err * err / self.err_acc).powf(0.25) / SAFE)
                        .clamp(FAC_GROW, FAC_SHRINK);
                    fac = fac.max(fac_gus);
                }
                self.h_acc = h;
                self.err_acc = err.max(1e-2);
                let mut hnew = h / fac;
                if last_rejected {
                    hnew = hnew.min(h);
                }
                last_rejected = false;
                y.copy_from_slice(&self.ynew);
                if last {
                    // The final step was cut to land on t1; remember the step
                    // the controller wanted, not the cut one.
                    self.h_next = Some(hnew.max(proposed));
                    return Ok(());
                }
                t += h;
                h = hnew;
                f(t, y, &mut self.dy);
                self.stats.rhs_evals += 1;
                check_finite(t, &self.dy)?;
                need_jac = true;
            } else {
                self.stats.rejected += 1;
                last_rejected = true;
                h = if self.n_accepted == 0 {
                    h * 0.1
                } else {
                    h / fac
                };
            }
        }
    }

    /// Evaluates `J = ∂f/∂y` and `∂f/∂t` (forward difference) at `(t, y)`;
    /// expects `dy = f(t, y)`.
    fn jacobian<F, J>(
        &mut self,
        f: &mut F,
        jac: &mut J,
        t: f64,
        y: &[f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        J: FnMut(f64, &[f64], &mut [f64]),
    {
        let n = y.len();
        jac(t, y, self.jac.as_mut_slice());
        self.stats.jac_evals += 1;
        if let Some(pos) = self.jac.iter().position(|x| !x.is_finite()) {
            return Err(SolverError::NonFinite {
                t,
                state: pos % n.max(1),
            });
        }
        let delta = (f64::EPSILON * t.abs().max(1e-5)).sqrt();
        f(t + delta, y, &mut self.ftmp);
        self.stats.rhs_evals += 1;
        for ((ft, f1), f0) in self.ft.iter_mut().zip(&self.ftmp).zip(&self.dy) {
            *ft = (f1 - f0) / delta;
        }
        // A non-finite difference (f blowing up just after t) would poison
        // every stage; treat f as autonomous instead.
        if self.ft.iter().any(|x| !x.is_finite()) {
            self.ft.fill(0.0);
        }
        Ok(())
    }

    /// Factors `I/(hγ) − J` in place (LU with partial pivoting). Returns
    /// `false` when it is singular.
    fn factor(&mut self, h: f64) -> bool {
        self.stats.lu_decomps += 1;
        let n = self.piv.len();
        let diag = 1.0 / (h * GAMMA);
        let a = &mut self.lu;
        a.copy_from(&self.jac);
        a.neg_mut();
        for i in 0..n {
            a[(i, i)] += diag;
        }
        for k in 0..n {
            let p = k + a.view_range(k.., k).icamax();
            let pivot = a[(p, k)];
            if pivot == 0.0 || !pivot.is_finite() {
                return false;
            }
            self.piv[k] = p;
            if p != k {
                a.swap_rows(k, p);
            }
            let inv = 1.0 / pivot;
            for i in k + 1..n {
                a[(i, k)] *= inv;
            }
            for j in k + 1..n {
                let akj = a[(k, j)];
                if akj != 0.0 {
                    for i in k + 1..n {
                        let l = a[(i, k)];
                        a[(i, j)] -= l * akj;
                    }
                }
            }
        }
        true
    }

    /// Computes the six stages and the candidate `ynew` of a step `h` from
    /// `(t, y)`, with `E` factored and `dy`, `ft` current.
    fn stages<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let n = y.len();
        let Rodas {
            lu,
            piv,
            k,
            dy,
            ft,
            ytmp,
            ftmp,
            ynew,
            stats,
            ..
        } = self;
        let [k1, k2, k3, k4, k5, k6] = k;
        let hinv = 1.0 / h;

        for i in 0..n {
            k1[i] = dy[i] + h * D1 * ft[i];
        }
        solve(lu, piv, k1);

        for i in 0..n {
            ytmp[i] = y[i] + A21 * k1[i];
        }
        f(t + C2 * h, ytmp, ftmp);
        for i in 0..n {
            k2[i] = ftmp[i] + h * D2 * ft[i] + hinv * (C21 * k1[i]);
        }
        solve(lu, piv, k2);

        for i in 0..n {
            ytmp[i] = y[i] + A31 * k1[i] + A32 * k2[i];
        }
        f(t + C3 * h, ytmp, ftmp);
        for i in 0..n {
            k3[i] = ftmp[i] + h * D3 * ft[i] + hinv * (C31 * k1[i] + C32 * k2[i]);
        }
        solve(lu, piv, k3);

        for i in 0..n {
            ytmp[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i];
        }
        f(t + C4 * h, ytmp, ftmp);
        for i in 0..n {
            k4[i] = ftmp[i] + h * D4 * ft[i] + hinv * (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]);
        }
        solve(lu, piv, k4);

        for i in 0..n {
            ytmp[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i];
        }
        f(t + h, ytmp, ftmp);
        for i in 0..n {
            k5[i] = ftmp[i] + hinv * (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]);
        }
        solve(lu, piv, k5);

        // Embedded (order 3) solution, the argument of the last stage.
        for i in 0..n {
            ytmp[i] += k5[i];
        }
        f(t + h, ytmp, ftmp);
        for i in 0..n {
            k6[i] = ftmp[i]
                + hinv * (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]);
        }
        solve(lu, piv, k6);

        for i in 0..n {
            ynew[i] = ytmp[i] + k6[i];
        }
        stats.rhs_evals += 5;
    }

    /// RMS of the error estimate `k6` scaled by the mixed tolerance.
    fn error_norm(&self, y: &[f64]) -> f64 {
        let n = y.len();
        if n == 0 {
            return 0.0;
        }
        let mut sum = 0.0;
        for ((yi, yn), e) in y.iter().zip(&self.ynew).zip(self.k[5].iter()) {
            let sk = self.opts.atol + self.opts.rtol * yi.abs().max(yn.abs());
            sum += (e / sk).powi(2);
        }
        (sum / n as f64).sqrt()
    }

    /// Hairer's starting step (as in Dopri5, for order 4). Expects `dy = f(t,
    /// y)`. On a stiff system the second-derivative estimate is large and
    /// the step small; the controller then grows it by up to 6× per step.
    fn initial_step<F>(&mut self, f: &mut F, t: f64, y: &[f64], hmax: f64) -> f64
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        self.stats.rhs_evals += 1;
        super::hairer_initial_step(
            f,
            t,
            y,
            &self.dy,
            &mut self.ytmp,
            &mut self.ftmp,
            &self.opts,
            4,
            hmax,
        )
    }
}

/// Solves `E·x = b` in place from the factors of [`Rodas::factor`].
fn solve(lu: &DMatrix<f64>, piv: &[usize], b: &mut DVector<f64>) {
    for (k, &p) in piv.iter().enumerate() {
        if p != k {
            b.swap_rows(k, p);
        }
    }
    lu.solve_lower_triangular_with_diag_mut(b, 1.0);
    lu.solve_upper_triangular_mut(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -0.5 * y[0];
    }

    fn decay_jac(_t: f64, _y: &[f64], j: &mut [f64]) {
        j[0] = -0.5;
    }

    #[test]
    fn exponential_decay_matches_closed_form() {
        let mut s = Rodas::new(1, SolverOptions::default());
        let mut y = [10.0];
        s.integrate(&mut decay, &mut decay_jac, 0.0, 7.0, &mut y)
            .expect("integrates");
        let exact = 10.0 * (-3.5f64).exp();
        assert!(((y[0] - exact) / exact).abs() < 1e-8, "{} vs {exact}", y[0]);
        let st = s.stats();
        assert!(st.jac_evals > 0 && st.lu_decomps == st.accepted + st.rejected);
    }

    #[test]
    fn time_dependent_rhs_uses_time_derivative() {
        // y' = cos(t) - (y - sin(t)) * 1e4: stiff, solution y = sin(t).
        let mut f = |t: f64, y: &[f64], d: &mut [f64]| d[0] = t.cos() - 1e4 * (y[0] - t.sin());
        let mut jac = |_t: f64, _y: &[f64], j: &mut [f64]| j[0] = -1e4;
        let mut s = Rodas::new(1, SolverOptions::default());
        let mut y = [0.0];
        s.integrate(&mut f, &mut jac, 0.0, 10.0, &mut y)
            .expect("integrates");
        assert!((y[0] - 10f64.sin()).abs() < 1e-8, "{}", y[0]);
        // About 6900 steps: this Prothero–Robinson problem shows Rodas4's
        // order reduction (≈ 5400 with an exact ∂f/∂t); explicit methods
        // need millions.
        assert!(s.stats().accepted < 10_000, "{:?}", s.stats());
    }

    #[test]
    fn nan_rhs_is_reported_with_state() {
        let mut s = Rodas::new(2, SolverOptions::default());
        let mut y = [1.0, 1.0];
        let mut f = |_t: f64, _y: &[f64], d: &mut [f64]| {
            d[0] = 0.0;
            d[1] = f64::NAN;
        };
        let mut jac = |_t: f64, _y: &[f64], j: &mut [f64]| j.fill(0.0);
        let e = s.integrate(&mut f, &mut jac, 0.0, 1.0, &mut y);
        assert_eq!(e, Err(SolverError::NonFinite { t: 0.0, state: 1 }));
    }

    #[test]
    fn nan_jacobian_is_reported_with_state() {
        let mut s = Rodas::new(2, SolverOptions::default());
        let mut y = [1.0, 1.0];
        let mut f = |_t: f64, _y: &[f64], d: &mut [f64]| d.fill(0.0);
        let mut jac = |_t: f64, _y: &[f64], j: &mut [f64]| {
            j.fill(0.0);
            j[2] = f64::INFINITY; // ∂f_0/∂y_1
        };
        let e = s.integrate(&mut f, &mut jac, 0.0, 1.0, &mut y);
        assert_eq!(e, Err(SolverError::NonFinite { t: 0.0, state: 0 }));
    }

    #[test]
    fn factor_solves_and_detects_singularity() {
        let mut s = Rodas::new(3, SolverOptions::default());
        // h = 1: E = 4·I − J. Pick J so that E = [[0, 2, 1], [1, 1, 0], [3, 0, 2]]
        // (a zero in the first pivot position forces a row swap).
        let e = [[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 2.0]];
        for (i, row) in e.iter().enumerate() {
            for (j, eij) in row.iter().enumerate() {
                s.jac[(i, j)] = if i == j { 4.0 } else { 0.0 } - eij;
            }
        }
        assert!(s.factor(1.0));
        let x = [1.0, -2.0, 0.5];
        let mut b = DVector::from_fn(3, |i, _| (0..3).map(|j| e[i][j] * x[j]).sum());
        solve(&s.lu, &s.piv, &mut b);
        for i in 0..3 {
            assert!((b[i] - x[i]).abs() < 1e-14, "{b:?}");
        }
        // J = diag(4, 1) makes E = diag(0, 3) singular at h = 1.
        s.jac.fill(0.0);
        s.jac[(0, 0)] = 4.0;
        s.jac[(1, 1)] = 1.0;
        assert!(!s.factor(1.0));
    }

    #[test]
    fn invalid_options_and_step_limit() {
        let bad = SolverOptions {
            rtol: 0.0,
            atol: 0.0,
            ..SolverOptions::default()
        };
        let mut s = Rodas::new(1, bad);
        let mut y = [1.0];
        assert_eq!(
            s.integrate(&mut decay, &mut decay_jac, 0.0, 1.0, &mut y),
            Err(SolverError::InvalidOptions)
        );
        let few = SolverOptions {
            max_steps: 3,
            ..SolverOptions::default()
        };
        let mut s = Rodas::new(1, few);
        let mut f = |t: f64, _y: &[f64], d: &mut [f64]| d[0] = (50.0 * t).sin();
        let mut jac = |_t: f64, _y: &[f64], j: &mut [f64]| j[0] = 0.0;
        let e = s.integrate(&mut f, &mut jac, 0.0, 100.0, &mut y);
        assert!(matches!(e, Err(SolverError::TooManySteps { .. })));
    }
}

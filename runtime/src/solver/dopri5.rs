//! Dormand–Prince 5(4): an explicit Runge–Kutta pair with error control.
//!
//! Coefficients, error estimate, PI step-size controller and initial-step
//! heuristic follow Hairer, Nørsett & Wanner, *Solving ODEs I* (code DOPRI5).
//! The error norm is the RMS over states of `err_i / (atol + rtol·max(|y_i|,
//! |y_new_i|))`. The last stage of an accepted step is the first stage of the
//! next (FSAL), except at the start of an interval, where the right-hand side
//! may have changed (a dose, a new infusion rate, new parameters) and is
//! evaluated afresh.
//!
//! Stiffness detection (used by [`super::OdeSolver`] in [`super::Method::Auto`])
//! is Hairer's test from DOPRI5, run after every accepted step: with `y6` the
//! argument of the sixth stage and `y7 = y_new` that of the seventh (both at
//! `t + h`), `h·|λ| ≈ h·‖k7 − k6‖ / ‖y7 − y6‖` estimates where the step sits
//! on the real axis of the stability region, whose boundary is near 3.3. An
//! estimate above 3.25 counts one stiff step; six non-stiff steps in a row
//! reset the count; at 15 the problem is declared stiff. A step size held at
//! the stability boundary, not by accuracy, is what stiffness means for an
//! explicit method.

use super::explicit::{trim, Dense, StiffnessTest};
use super::{plan_step, SolverError, SolverOptions, SolverStats};

const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const A71: f64 = 35.0 / 384.0;
const A73: f64 = 500.0 / 1113.0;
const A74: f64 = 125.0 / 192.0;
const A75: f64 = -2187.0 / 6784.0;
const A76: f64 = 11.0 / 84.0;
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;
/// Coefficients of the continuous extension (dense output) of order 4
/// (Hairer, Nørsett & Wanner I, II.6; DOPRI5's `CONTD5`).
const D1: f64 = -12715105075.0 / 11282082432.0;
const D3: f64 = 87487479700.0 / 32700410799.0;
const D4: f64 = -10690763975.0 / 1880347072.0;
const D5: f64 = 701980252875.0 / 199316789632.0;
const D6: f64 = -1453857185.0 / 822651844.0;
const D7: f64 = 69997945.0 / 29380423.0;

/// PI controller constants (Hairer's defaults).
const BETA: f64 = 0.04;
const EXPO1: f64 = 0.2 - BETA * 0.75;
const SAFE: f64 = 0.9;
/// Largest shrink factor (1 / 0.2) and largest growth factor (1 / 10) of `h`.
const FACC1: f64 = 5.0;
const FACC2: f64 = 0.1;
const FACOLD_MIN: f64 = 1e-4;

/// Intervals shorter than this many ulps of `t` are crossed with one Euler
/// step: they come from rounding (e.g. `t + k·II` vs a record time) and are
/// too short for error control to resolve.
const TINY_SPAN_ULPS: f64 = 64.0;

/// `h·|λ|` above this counts as a step at the stability boundary.
const STIFF_HLAMBDA: f64 = 3.25;

/// How an integration that watches for stiffness ended
/// ([`Dopri5::integrate_detect_stiff`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// `y` holds the solution at `t1`, and the problem did not look stiff.
    Reached,
    /// The stiffness test fired after the accepted step that ended at `t`
    /// (`t ≤ t1`): `y` holds the solution at `t`, and the rest of the
    /// interval is left to a stiff method.
    Stiff { t: f64 },
}

/// A reusable Dormand–Prince integrator. It keeps its stage buffers and the
/// last step size between calls, so a subject's many intervals allocate once
/// and each starts from the step size that worked before.
#[derive(Debug, Clone)]
pub struct Dopri5 {
    opts: SolverOptions,
    k: [Vec<f64>; 7],
    ytmp: Vec<f64>,
    ynew: Vec<f64>,
    h_next: Option<f64>,
    facold: f64,
    stiffness: StiffnessTest,
    stats: SolverStats,
}

impl Dopri5 {
    pub fn new(n: usize, opts: SolverOptions) -> Self {
        Dopri5 {
            opts,
            k: std::array::from_fn(|_| vec![0.0; n]),
            ytmp: vec![0.0; n],
            ynew: vec![0.0; n],
            h_next: None,
            facold: FACOLD_MIN,
            stiffness: StiffnessTest::new(STIFF_HLAMBDA),
            stats: SolverStats::default(),
        }
    }

    /// Forgets the step-size history, so the next integration starts as if
    /// new (keeps results independent of what ran before).
    pub fn reset(&mut self) {
        self.h_next = None;
        self.facold = FACOLD_MIN;
        self.stiffness.reset();
    }

    /// Counters since construction.
    pub fn stats(&self) -> SolverStats {
        self.stats
    }

    /// Advances `y` from `t0` to exactly `t1` (`t1 ≥ t0`; nothing happens
    /// when `t1 ≤ t0`). `f(t, y, dydt)` is the right-hand side.
    pub fn integrate<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        self.run(f, t0, t1, y, false, None).map(|_| ())
    }

    /// Like [`Dopri5::integrate`], but runs the stiffness test after every
    /// accepted step and stops early, at the end of the step that made it
    /// fire, with [`Outcome::Stiff`]. The test's counts carry over from one
    /// call to the next (a subject's intervals can be short) until
    /// [`Dopri5::reset`] or until it fires.
    pub fn integrate_detect_stiff<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<Outcome, SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        self.run(f, t0, t1, y, true, None)
    }

    /// Advances `y` from `t0` to exactly `t1` like [`Dopri5::integrate`]
    /// and writes the solution at each of `times` (sorted, within
    /// `(t0, t1]`) into `out` (`times.len() × n`, row by row) from the
    /// method's continuous extension of order 4 (dense output), without
    /// shortening a step to land on them: the steps are those of the
    /// interval alone, however many samples it holds. With `detect_stiff`
    /// it runs the stiffness test and may stop early like
    /// [`Dopri5::integrate_detect_stiff`]. Returns the outcome and how many
    /// samples were written (all of them when `t1` is reached).
    #[allow(clippy::too_many_arguments)]
    pub fn integrate_dense<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        times: &[f64],
        out: &mut [f64],
        detect_stiff: bool,
    ) -> Result<(Outcome, usize), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let mut dense = Dense::new(times, out);
        let outcome = self.run(f, t0, t1, y, detect_stiff, Some(&mut dense))?;
        Ok(dense.finish(outcome, y))
    }

    fn run<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        detect_stiff: bool,
        mut dense: Option<&mut Dense<'_>>,
    ) -> Result<Outcome, SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let o = self.opts;
        o.validate()?;
        if t1 <= t0 || t1.is_nan() || t0.is_nan() {
            return Ok(Outcome::Reached);
        }
        let n = y.len();
        if self.ynew.len() != n {
            let stats = self.stats;
            *self = Dopri5::new(n, o);
            self.stats = stats;
        }
        let span = t1 - t0;
        f(t0, y, &mut self.k[0]);
        self.stats.rhs_evals += 1;
        check_finite(t0, &self.k[0])?;
        if span <= TINY_SPAN_ULPS * f64::EPSILON * t0.abs().max(t1.abs()) {
            for (yi, ki) in y.iter_mut().zip(&self.k[0]) {
                *yi += span * ki;
            }
            return check_finite(t1, y).map(|()| Outcome::Reached);
        }
        let mut h = match self.h_next {
            Some(h) if h > 0.0 => h.min(span),
            _ => self.initial_step(f, t0, y, span),
        };
        let mut t = t0;
        let mut last_rejected = false;
        let mut steps = 0usize;
        loop {
            let proposed = h;
            let last;
            (h, last) = plan_step(&mut steps, o.max_steps, t, h, t1)?;
            self.stages(f, t, h, y);
            let err = self.error_norm(h, y);
            if !err.is_finite() {
                self.stats.rejected += 1;
                last_rejected = true;
                h *= 0.1;
                continue;
            }
            let fac11 = err.powf(EXPO1);
            let fac = (fac11 / self.facold.powf(BETA) / SAFE).clamp(FACC2, FACC1);
            let mut hnew = h / fac;
            if err <= 1.0 {
                self.stats.accepted += 1;
                self.facold = err.max(FACOLD_MIN);
                check_finite(t + h, &self.ynew)?;
                if last_rejected {
                    hnew = hnew.min(h);
                }
                last_rejected = false;
                let stiff = detect_stiff && self.stiffness.due() && self.stiffness_test(h);
                if let Some(d) = dense.as_deref_mut() {
                    self.write_dense(d, t, h, y, last);
                }
                y.copy_from_slice(&self.ynew);
                self.k.swap(0, 6);
                if last {
                    // The final step was cut to land on t1; remember the step
                    // the controller wanted, not the cut one.
                    self.h_next = Some(hnew.max(proposed));
                    return Ok(if stiff {
                        Outcome::Stiff { t: t1 }
                    } else {
                        Outcome::Reached
                    });
                }
                t += h;
                h = hnew;
                if stiff {
                    self.h_next = Some(h);
                    return Ok(Outcome::Stiff { t });
                }
            } else {
                self.stats.rejected += 1;
                last_rejected = true;
                h /= FACC1.min(fac11 / SAFE);
            }
        }
    }

    /// Computes stages 2–7 and the candidate `ynew` for a step `h` from `t`
    /// (stage 1 is `k[0]`).
    fn stages<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        // Small systems (PK models) get a copy of the loops with a constant
        // length, fully unrolled: the same operations in the same order.
        match y.len() {
            1 => self.stages_of(f, t, h, y, 1),
            2 => self.stages_of(f, t, h, y, 2),
            3 => self.stages_of(f, t, h, y, 3),
            4 => self.stages_of(f, t, h, y, 4),
            n => self.stages_of(f, t, h, y, n),
        }
    }

    #[inline(always)]
    fn stages_of<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64], n: usize)
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let y = &y[..n];
        let [k1, k2, k3, k4, k5, k6, k7] = &mut self.k;
        // Slices of the state's length: the loops below then index without
        // bounds checks.
        let (k1, k2, k3, k4, k5, k6, k7) = (
            &mut k1[..n],
            &mut k2[..n],
            &mut k3[..n],
            &mut k4[..n],
            &mut k5[..n],
            &mut k6[..n],
            &mut k7[..n],
        );
        let yt = &mut self.ytmp[..n];
        let ynew = &mut self.ynew[..n];
        for i in 0..n {
            yt[i] = y[i] + h * A21 * k1[i];
        }
        f(t + C2 * h, yt, k2);
        for i in 0..n {
            yt[i] = y[i] + h * (A31 * k1[i] + A32 * k2[i]);
        }
        f(t + C3 * h, yt, k3);
        for i in 0..n {
            yt[i] = y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
        }
        f(t + C4 * h, yt, k4);
        for i in 0..n {
            yt[i] = y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
        }
        f(t + C5 * h, yt, k5);
        for i in 0..n {
            yt[i] =
                y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
        }
        f(t + h, yt, k6);
        for i in 0..n {
            ynew[i] =
                y[i] + h * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] + A76 * k6[i]);
        }
        f(t + h, ynew, k7);
        self.stats.rhs_evals += 6;
    }

    /// Writes the samples of `d` that fall in the step just accepted, from
    /// `t` (state `y`) to `t + h` (state `ynew`), by the continuous
    /// extension (DOPRI5's `CONTD5`); `last` takes every remaining sample
    /// (the step ends the interval). Before the FSAL swap: `k[6]` is
    /// `f(t + h, ynew)`.
    fn write_dense(&self, d: &mut Dense<'_>, t: f64, h: f64, y: &[f64], last: bool) {
        match y.len() {
            1 => self.write_dense_of(d, t, h, y, last, 1),
            2 => self.write_dense_of(d, t, h, y, last, 2),
            3 => self.write_dense_of(d, t, h, y, last, 3),
            4 => self.write_dense_of(d, t, h, y, last, 4),
            n => self.write_dense_of(d, t, h, y, last, n),
        }
    }

    #[inline(always)]
    fn write_dense_of(&self, d: &mut Dense<'_>, t: f64, h: f64, y: &[f64], last: bool, n: usize) {
        let y = &y[..n];
        let k = &self.k;
        let (k1, k3, k4, k5, k6, k7) = trim!(n; k[0], k[2], k[3], k[4], k[5], k[6]);
        let ynew = &self.ynew[..n];
        while let Some((s, out)) = d.next_sample(t + h, last, n) {
            let theta = ((s - t) / h).clamp(0.0, 1.0);
            let theta1 = 1.0 - theta;
            for i in 0..n {
                let ydiff = ynew[i] - y[i];
                let bspl = h * k1[i] - ydiff;
                let r4 = ydiff - h * k7[i] - bspl;
                let r5 = h
                    * (D1 * k1[i] + D3 * k3[i] + D4 * k4[i] + D5 * k5[i] + D6 * k6[i] + D7 * k7[i]);
                out[i] = y[i] + theta * (ydiff + theta1 * (bspl + theta * (r4 + theta1 * r5)));
            }
        }
    }

    /// Hairer's stiffness test on the step of size `h` just accepted (before
    /// the FSAL swap: `k[5]`, `k[6]` are stages 6 and 7, `ytmp` and `ynew`
    /// their arguments). Returns whether stiffness is now declared; the
    /// counters restart when it is.
    fn stiffness_test(&mut self, h: f64) -> bool {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..self.ynew.len() {
            num += (self.k[6][i] - self.k[5][i]).powi(2);
            den += (self.ynew[i] - self.ytmp[i]).powi(2);
        }
        self.stiffness.record(h, num, den)
    }

    /// RMS of the embedded error estimate scaled by the mixed tolerance.
    fn error_norm(&self, h: f64, y: &[f64]) -> f64 {
        match y.len() {
            0 => 0.0,
            1 => self.error_norm_of(h, y, 1),
            2 => self.error_norm_of(h, y, 2),
            3 => self.error_norm_of(h, y, 3),
            4 => self.error_norm_of(h, y, 4),
            n => self.error_norm_of(h, y, n),
        }
    }

    #[inline(always)]
    fn error_norm_of(&self, h: f64, y: &[f64], n: usize) -> f64 {
        let y = &y[..n];
        let k = &self.k;
        let (k1, k3, k4, k5, k6, k7) = trim!(n; k[0], k[2], k[3], k[4], k[5], k[6]);
        let ynew = &self.ynew[..n];
        let mut sum = 0.0;
        for i in 0..n {
            let e =
                h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
            let sk = self.opts.atol + self.opts.rtol * y[i].abs().max(ynew[i].abs());
            sum += (e / sk).powi(2);
        }
        (sum / n as f64).sqrt()
    }

    /// Hairer's starting step: make the first explicit Euler step's change
    /// and the estimated second derivative both small against the tolerance.
    /// Expects `k[0] = f(t, y)`.
    fn initial_step<F>(&mut self, f: &mut F, t: f64, y: &[f64], hmax: f64) -> f64
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let (k0, rest) = self.k.split_at_mut(1);
        self.stats.rhs_evals += 1;
        super::hairer_initial_step(
            f,
            t,
            y,
            &k0[0],
            &mut self.ytmp,
            &mut rest[0],
            &self.opts,
            5,
            hmax,
        )
    }
}

pub(super) fn check_finite(t: f64, v: &[f64]) -> Result<(), SolverError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(state) => Err(SolverError::NonFinite { t, state }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -0.5 * y[0];
    }

    #[test]
    fn exponential_decay_matches_closed_form() {
        let mut s = Dopri5::new(1, SolverOptions::default());
        let mut y = [10.0];
        s.integrate(&mut decay, 0.0, 7.0, &mut y)
            .expect("integrates");
        let exact = 10.0 * (-3.5f64).exp();
        assert!(((y[0] - exact) / exact).abs() < 1e-8, "{} vs {exact}", y[0]);
    }

    #[test]
    fn consecutive_intervals_land_exactly_and_reuse_step() {
        let mut s = Dopri5::new(1, SolverOptions::default());
        let mut y = [1.0];
        let mut f = decay;
        for i in 0..10 {
            s.integrate(&mut f, i as f64, (i + 1) as f64, &mut y)
                .expect("integrates");
        }
        let exact = (-5.0f64).exp();
        assert!(((y[0] - exact) / exact).abs() < 1e-8);
        assert!(s.stats().accepted > 0);
    }

    #[test]
    fn dense_output_reports_samples_without_changing_the_steps() {
        let opts = SolverOptions {
            rtol: 1e-6,
            atol: 1e-12,
            ..SolverOptions::default()
        };
        let times: Vec<f64> = (1..=24).map(f64::from).collect();
        let mut out = vec![0.0; times.len()];
        let mut dense = Dopri5::new(1, opts);
        let mut y = [10.0];
        let (outcome, written) = dense
            .integrate_dense(&mut decay, 0.0, 24.0, &mut y, &times, &mut out, false)
            .expect("integrates");
        assert_eq!((outcome, written), (Outcome::Reached, 24));
        let mut plain = Dopri5::new(1, opts);
        let mut y2 = [10.0];
        plain
            .integrate(&mut decay, 0.0, 24.0, &mut y2)
            .expect("integrates");
        // The same steps, so the same end point, and fewer than stopping
        // at every sample takes.
        assert_eq!(y, y2);
        assert_eq!(dense.stats(), plain.stats());
        let mut stopping = Dopri5::new(1, opts);
        let mut y3 = [10.0];
        for i in 0..24 {
            stopping
                .integrate(&mut decay, f64::from(i), f64::from(i + 1), &mut y3)
                .expect("integrates");
        }
        assert!(
            dense.stats().rhs_evals < stopping.stats().rhs_evals,
            "{:?} vs {:?}",
            dense.stats(),
            stopping.stats()
        );
        for (t, v) in times.iter().zip(&out) {
            let exact = 10.0 * (-0.5 * t).exp();
            assert!(
                ((v - exact) / exact).abs() < 2e-5,
                "t = {t}: {v} vs {exact}"
            );
        }
        assert_eq!(out[23], y[0]);
    }

    #[test]
    fn nan_rhs_is_reported_with_state() {
        let mut s = Dopri5::new(2, SolverOptions::default());
        let mut y = [1.0, 1.0];
        let mut f = |_t: f64, _y: &[f64], d: &mut [f64]| {
            d[0] = 0.0;
            d[1] = f64::NAN;
        };
        let e = s.integrate(&mut f, 0.0, 1.0, &mut y);
        assert_eq!(e, Err(SolverError::NonFinite { t: 0.0, state: 1 }));
    }

    #[test]
    fn step_limit_is_enforced() {
        let opts = SolverOptions {
            max_steps: 3,
            ..SolverOptions::default()
        };
        let mut s = Dopri5::new(1, opts);
        let mut y = [1.0];
        let mut f = |t: f64, _y: &[f64], d: &mut [f64]| d[0] = (50.0 * t).sin();
        let e = s.integrate(&mut f, 0.0, 100.0, &mut y);
        assert!(matches!(e, Err(SolverError::TooManySteps { .. })));
    }
}

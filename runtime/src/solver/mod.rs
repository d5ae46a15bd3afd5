//! ODE integration between dosing events.
//!
//! Doses make the solution non-smooth, so the simulation never asks a solver
//! to step across an event: it integrates one smooth interval at a time and
//! the solver must land exactly on the interval's end.
//!
//! # Methods
//!
//! * [`Dop853`]: Dormand–Prince 8(5,3), explicit, order 8 with embedded
//!   order-5 and order-3 error estimates and a continuous extension of order
//!   7. Twelve right-hand-side evaluations per step (three more for dense
//!   output), but at PK tolerances (rtol 1e-6 to 1e-10) three to five times
//!   fewer steps than Dopri5: on issue 6's workload (rtol 1e-6) 0.85 steps
//!   and 13.5 evaluations per hour against Dopri5's 3.0 and 18.8.
//! * [`Dopri5`]: Dormand–Prince 5(4), explicit, order 5 with an embedded
//!   order-4 error estimate. Cheaper steps, for loose tolerances.
//! * [`Rodas`]: Hairer & Wanner's RODAS, a six-stage stiffly accurate
//!   Rosenbrock method of order 4 with an embedded order-3 estimate
//!   (L-stable). Each step evaluates the Jacobian `∂f/∂y` (analytic, from a
//!   callback) once, factors `I/(hγ) − J` once and solves six linear systems
//!   with it; step sizes follow accuracy alone, however stiff the system.
//! * [`OdeSolver`]: the one the simulation holds. [`Method::Auto`] (the
//!   default) starts every subject with DOP853 and hands over to Rodas for
//!   the rest of the subject (until [`OdeSolver::reset`]) once the explicit
//!   method's stiffness test fires: Hairer's test, `h·‖f(y_a) − f(y_b)‖ /
//!   ‖y_a − y_b‖` for two stage arguments at `t + h` above a threshold near
//!   the stability boundary (5.0 for DOP853, 3.25 for Dopri5) on 15
//!   accepted steps, a run of six steps below it resetting the count. The
//!   explicit method exhausting its step budget or step size before the test
//!   fires hands over too. [`Method::Explicit`] (DOP853), [`Method::Dopri5`]
//!   and [`Method::Stiff`] force one method.
//!
//! # Tolerance rule
//!
//! Both methods accept a step when the RMS over states of
//! `err_i / (atol + rtol·max(|y_i|, |y_new_i|))` is at most 1, `err` being the
//! difference between the step's solution and its embedded lower-order one
//! ([`SolverOptions::rtol`], [`SolverOptions::atol`]). Each interval may take
//! at most [`SolverOptions::max_steps`] steps (accepted + rejected) per
//! method.
//!
//! # Work counters
//!
//! [`SolverStats`] counts
//! * `accepted`, `rejected`: steps, both methods (a Rodas step refused for a
//!   singular iteration matrix counts as rejected);
//! * `rhs_evals`: right-hand-side evaluations. DOP853: 11 per attempted
//!   step, 1 more per accepted step (its end point's derivative, the next
//!   step's first stage) and 3 more per step with dense-output samples.
//!   Dopri5: 6 per attempted step (FSAL). Both: plus 1 per interval start,
//!   plus 1 for the initial-step heuristic.
//!   Rodas: 5 per attempted step, plus 2 per accepted step (`f(t, y)` and the
//!   forward difference for `∂f/∂t` at the next step's start), plus the
//!   heuristic's;
//! * `jac_evals`: Jacobian evaluations (Rodas only): one at the start of
//!   every accepted step, a rejected step reusing it, so equal to the
//!   accepted Rodas steps;
//! * `lu_decomps`: factorizations of `I/(hγ) − J` (Rodas only), one per
//!   attempted step;
//! * `stiff_switches`: hand-overs from the explicit method to Rodas ([`Method::Auto`]),
//!   at most one per subject.

mod auto;
mod dop853;
mod dopri5;
mod explicit;
mod rodas;

pub use auto::OdeSolver;
pub use dop853::Dop853;
pub use dopri5::{Dopri5, Outcome};
pub use rodas::Rodas;

use std::fmt;

/// Which integration method [`OdeSolver`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// DOP853 until its stiffness test fires, then Rodas for the rest of the
    /// subject.
    #[default]
    Auto,
    /// DOP853 only.
    Explicit,
    /// Dopri5 only: cheaper steps than DOP853, for loose tolerances.
    Dopri5,
    /// Rodas only.
    Stiff,
}

/// Tolerances and limits of the adaptive solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Relative tolerance (per state, against `max(|y|, |y_new|)`).
    pub rtol: f64,
    /// Absolute tolerance: the size below which a state's error is ignored.
    pub atol: f64,
    /// Most steps (accepted + rejected) one interval may take before giving up.
    pub max_steps: usize,
    /// Method choice (used by [`OdeSolver`]; [`Dopri5`] and [`Rodas`] ignore
    /// it).
    pub method: Method,
}

impl Default for SolverOptions {
    /// Tight defaults: simulation accuracy matters more than speed for PK
    /// models with a handful of states.
    fn default() -> Self {
        SolverOptions {
            rtol: 1e-8,
            atol: 1e-10,
            max_steps: 100_000,
            method: Method::Auto,
        }
    }
}

impl SolverOptions {
    /// Whether the tolerances can drive error control.
    pub(crate) fn validate(&self) -> Result<(), SolverError> {
        let ok = self.rtol >= 0.0
            && self.atol >= 0.0
            && self.rtol.is_finite()
            && self.atol.is_finite()
            && !(self.rtol == 0.0 && self.atol == 0.0);
        if ok {
            Ok(())
        } else {
            Err(SolverError::InvalidOptions)
        }
    }
}

/// Work counters, for performance reports and regression tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolverStats {
    pub accepted: u64,
    pub rejected: u64,
    pub rhs_evals: u64,
    /// Evaluations of the Jacobian `∂f/∂y` (stiff method only).
    pub jac_evals: u64,
    /// LU factorizations of the iteration matrix (stiff method only).
    pub lu_decomps: u64,
    /// Switches from the explicit to the stiff method ([`Method::Auto`]).
    pub stiff_switches: u64,
}

impl SolverStats {
    /// Adds another run's counters to these.
    pub fn add(&mut self, other: &SolverStats) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.rhs_evals += other.rhs_evals;
        self.jac_evals += other.jac_evals;
        self.lu_decomps += other.lu_decomps;
        self.stiff_switches += other.stiff_switches;
    }
}

/// Why an integration failed. Times are those the solver had reached; the
/// simulation adds the subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SolverError {
    /// The error control asked for a step below what `f64` can resolve at `t`
    /// (usually a stiff or singular system).
    StepSizeTooSmall { t: f64 },
    /// The interval needed more than [`SolverOptions::max_steps`] steps.
    TooManySteps { t: f64 },
    /// A state or derivative became NaN or infinite (`state` is its index).
    NonFinite { t: f64, state: usize },
    /// The stiff method's iteration matrix `I/(hγ) − J` stayed singular
    /// although the step was halved repeatedly.
    SingularMatrix { t: f64 },
    /// Tolerances that cannot drive error control.
    InvalidOptions,
}

impl fmt::Display for SolverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolverError::StepSizeTooSmall { t } => write!(
                f,
                "step size became too small at t = {t} (the ODE system may be stiff or singular)"
            ),
            SolverError::TooManySteps { t } => {
                write!(f, "too many solver steps before reaching t = {t}")
            }
            SolverError::NonFinite { t, state } => {
                write!(f, "state {} became NaN or infinite at t = {t}", state + 1)
            }
            SolverError::SingularMatrix { t } => write!(
                f,
                "the stiff solver's iteration matrix is singular at t = {t}"
            ),
            SolverError::InvalidOptions => write!(
                f,
                "invalid solver options: tolerances must be finite, rtol ≥ 0, atol ≥ 0, not both 0"
            ),
        }
    }
}

impl std::error::Error for SolverError {}

/// The size of the next attempted step from `t` toward `t1` (every
/// method's rule): a step reaching within 1% of `t1` is stretched or cut to
/// land on it exactly (`last`). Counts the attempt against `max_steps`
/// and fails when the budget is spent or the step has shrunk to rounding.
pub(crate) fn plan_step(
    steps: &mut usize,
    max_steps: usize,
    t: f64,
    h: f64,
    t1: f64,
) -> Result<(f64, bool), SolverError> {
    if *steps >= max_steps {
        return Err(SolverError::TooManySteps { t });
    }
    *steps += 1;
    let last = t + 1.01 * h >= t1;
    let h = if last { t1 - t } else { h };
    if h <= 0.0 || 0.1 * h <= t.abs() * f64::EPSILON {
        return Err(SolverError::StepSizeTooSmall { t });
    }
    Ok((h, last))
}

/// Hairer's starting step (HINIT) for a method of order `order` (Hairer, Nørsett &
/// Wanner I, II.4): make the first explicit Euler step's change and the
/// estimated second derivative both small against the tolerance. `f0` is
/// `f(t, y)`; `ytmp` and `f1` are scratch of the state's length. Returns the
/// step; costs one evaluation of `f`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hairer_initial_step<F>(
    f: &mut F,
    t: f64,
    y: &[f64],
    f0: &[f64],
    ytmp: &mut [f64],
    f1: &mut [f64],
    opts: &SolverOptions,
    order: i32,
    hmax: f64,
) -> f64
where
    F: FnMut(f64, &[f64], &mut [f64]),
{
    let sk = |yi: f64| opts.atol + opts.rtol * yi.abs();
    let (mut dnf, mut dny) = (0.0, 0.0);
    for (yi, fi) in y.iter().zip(f0) {
        dnf += (fi / sk(*yi)).powi(2);
        dny += (yi / sk(*yi)).powi(2);
    }
    let mut h = if dnf <= 1e-10 || dny <= 1e-10 {
        1e-6
    } else {
        (dny / dnf).sqrt() * 0.01
    };
    h = h.min(hmax);
    for ((yt, yi), fi) in ytmp.iter_mut().zip(y).zip(f0) {
        *yt = yi + h * fi;
    }
    f(t + h, ytmp, f1);
    let mut der2 = 0.0;
    for ((yi, b), a) in y.iter().zip(f1.iter()).zip(f0) {
        der2 += ((b - a) / sk(*yi)).powi(2);
    }
    let der2 = der2.sqrt() / h;
    let der12 = der2.max(dnf.sqrt());
    let h1 = if der12 <= 1e-15 || !der12.is_finite() {
        (h * 1e-3).max(1e-6)
    } else {
        (0.01 / der12).powf(1.0 / f64::from(order))
    };
    (100.0 * h).min(h1).min(hmax)
}

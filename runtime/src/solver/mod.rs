//! ODE integration between dosing events.
//!
//! Doses make the solution non-smooth, so the simulation never asks a solver
//! to step across an event: it integrates one smooth interval at a time and
//! the solver must land exactly on the interval's end. One explicit method
//! ([`Dopri5`]) covers the non-stiff PK systems of v1; a stiff method can be
//! added behind the same [`SolverOptions`] later.

mod dopri5;

pub use dopri5::Dopri5;

use std::fmt;

/// Tolerances and limits of the adaptive solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Relative tolerance (per state, against `max(|y|, |y_new|)`).
    pub rtol: f64,
    /// Absolute tolerance: the size below which a state's error is ignored.
    pub atol: f64,
    /// Most steps (accepted + rejected) one interval may take before giving up.
    pub max_steps: usize,
}

impl Default for SolverOptions {
    /// Tight defaults: simulation accuracy matters more than speed for PK
    /// models with a handful of states.
    fn default() -> Self {
        SolverOptions {
            rtol: 1e-8,
            atol: 1e-10,
            max_steps: 100_000,
        }
    }
}

/// Work counters, for performance reports and regression tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolverStats {
    pub accepted: u64,
    pub rejected: u64,
    pub rhs_evals: u64,
}

impl SolverStats {
    /// Adds another run's counters to these.
    pub fn add(&mut self, other: &SolverStats) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.rhs_evals += other.rhs_evals;
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
            SolverError::InvalidOptions => write!(
                f,
                "invalid solver options: tolerances must be finite, rtol ≥ 0, atol ≥ 0, not both 0"
            ),
        }
    }
}

impl std::error::Error for SolverError {}

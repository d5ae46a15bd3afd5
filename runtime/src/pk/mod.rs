//! Closed-form (analytic) solutions of the linear mammillary compartment
//! models: one, two and three compartments, IV or with first-order
//! absorption from a depot.
//!
//! # Parameterization
//!
//! Models take clearances and volumes ([`LinearModel`]); the first-order
//! rate constants (micro-constants) are
//!
//! | constant | value | meaning |
//! |---|---|---|
//! | `ka` | `ka` | depot → central |
//! | `k10` | `CL / V1` (`CL / V` for one compartment) | elimination from central |
//! | `k12`, `k21` | `Q / V1`, `Q / V2` (`Q2/V1`, `Q2/V2` for three compartments) | central ⇄ peripheral 1 |
//! | `k13`, `k31` | `Q3 / V1`, `Q3 / V3` | central ⇄ peripheral 2 |
//!
//! # State layout
//!
//! States are **amounts**; the central concentration is
//! `A[central] / V1` ([`LinearModel::central`], [`LinearModel::central_volume`]).
//!
//! | model | states |
//! |---|---|
//! | `OneCpt` | `[central]` |
//! | `OneCptOral` | `[depot, central]` |
//! | `TwoCpt` | `[central, peripheral]` |
//! | `TwoCptOral` | `[depot, central, peripheral]` |
//! | `ThreeCpt` | `[central, peripheral 1 (Q2, V2), peripheral 2 (Q3, V3)]` |
//! | `ThreeCptOral` | `[depot, central, peripheral 1, peripheral 2]` |
//!
//! The amounts follow `dA/dt = K·A + R`, with `R` the zero-order input
//! rates (infusions) per state and `K` the system matrix: `K[d][d] = −ka`,
//! `K[c][d] = ka`, `K[c][c] = −(k10 + Σ k_cp)`, `K[p][c] = k_cp`,
//! `K[c][p] = k_pc`, `K[p][p] = −k_pc` (`d` depot, `c` central, `p`
//! peripherals). A bolus is an addition to `A`, done by the caller.
//!
//! # Solution
//!
//! Over an interval `[t, t + dt]` with constant `R`, exactly:
//!
//! ```text
//! A(t + dt) = exp(K·dt)·A(t) + K⁻¹(exp(K·dt) − I)·R
//! ```
//!
//! ([`Propagator::advance`]). For positive parameters `K` has real,
//! negative, distinct eigenvalues `λᵢ = −αᵢ`; then
//!
//! ```text
//! exp(K·dt)            = Σᵢ e^{λᵢ·dt} · Pᵢ
//! K⁻¹(exp(K·dt) − I)   = Σᵢ (e^{λᵢ·dt} − 1)/λᵢ · Pᵢ      (expm1, = dt at λ = 0)
//! Pᵢ = Π_{j≠i} (K − λⱼI) / (λᵢ − λⱼ)
//! ```
//!
//! `Pᵢ = vᵢwᵢᵀ / (wᵢᵀvᵢ)` is the spectral projector onto the eigenvector
//! `vᵢ` (right) along `wᵢ` (left), formed by Sylvester's formula so that it
//! needs only the eigenvalues. The entries of `Pᵢ` are the macro-constants
//! of the textbook poly-exponential solutions: for a two-compartment bolus,
//! `C(t) = D/V1 · (A·e^{−αt} + B·e^{−βt})` with `A = (α − k21)/(α − β)` and
//! `B = (k21 − β)/(α − β)` = `P[c][c]` of the two eigenvalues; the Bateman
//! function is `ka/(ka − k)` = `P[c][d]`. These are the solutions of NONMEM's
//! ADVAN1–4, 11 and 12 and of Abuhelwa, Foster & Upton (2015), "ADVAN-style
//! analytical solutions for common pharmacokinetic models", J Pharmacol
//! Toxicol Methods 73:42–48 (used by PKPDsim and mrgsolve), written in
//! matrix form so that every model, initial state and input combination is
//! one code path.
//!
//! The eigenvalues are closed-form: `−ka` for the depot (the depot row of
//! `K` is decoupled), `−k10` for one compartment, the quadratic roots `α`,
//! `β` for two compartments, the cubic roots by the trigonometric method for
//! three (module `eigen`; the small roots are polished by Newton steps on
//! the characteristic polynomial to full relative accuracy).
//!
//! [`Propagator::new`] computes the eigenvalues and the projectors once per
//! parameter set; [`Propagator::advance`] then costs `n` exponentials and
//! about `n³` multiply-adds for `n ≤ 4` states, without allocating.
//! [`Propagator::transition`] precomputes the two matrices for one fixed
//! `dt` (`2n²` multiply-adds per step).
//!
//! # Degenerate spectra and short intervals
//!
//! When two eigenvalues coincide or nearly coincide (`ka = k10`, or
//! `ka = α`, …: `|λᵢ − λⱼ| ≤ 1e-4·max(|λᵢ|, |λⱼ|)`,
//! [`propagator::DEGENERATE_GAP`]), the projectors blow up as
//! `1/(λᵢ − λⱼ)` and the spectral sum cancels; at exact coincidence `K`
//! may be defective (not diagonalizable). Such parameter sets take the
//! dense path for every interval: `exp(K·dt)·A + K⁻¹(exp(K·dt) − I)·R` from
//! one exponential of the augmented matrix `[[K·dt, R·dt], [0, 0]]` (Van
//! Loan 1978; `[[K·dt, I·dt], [0, 0]]` for [`Propagator::transition`]),
//! computed by scaling and squaring of a Taylor polynomial (`‖·‖₁ ≤ 1/4`
//! after scaling, degree ≤ 18 chosen so that the truncation error is below
//! rounding). It is exact for any `K`, defective or singular (`CL = 0`).
//!
//! The spectral sum has a second weakness: over an interval short compared
//! with `1/|λᵢ − λⱼ|`, `e^{λᵢ·dt} − e^{λⱼ·dt}` cancels, so an amount moved
//! into an empty compartment during the interval (e.g. depot → central
//! right after an oral dose) would carry a relative error of about
//! `ε / (|λᵢ − λⱼ|·dt)`. Every spectral sum therefore also sums the
//! magnitudes of its terms; when an output cancels by more than a factor
//! 1000 ([`propagator::MAX_CANCELLATION`]), it is recomputed by the dense
//! path, which is then cheap (low Taylor degree, no squaring) and accurate
//! to rounding. In a typical profile only the first short intervals into
//! empty compartments take it.
//!
//! Measured (tests/closed_form_pk.rs, `ka_near_k_accuracy_scan`): for a
//! one-compartment oral model with `ka = k·(1 + δ)`, `δ` from 0 (exact
//! coincidence) over 1e-12 … 1e-1, the depot and central amounts at
//! `t` = 0.01 … 50 have relative errors ≤ 1e-13 against the stable
//! Bateman form `D·ka·e^{−kt}·(1 − e^{−(ka−k)t})/(ka − k)` (`D·k·t·e^{−kt}`
//! at `δ = 0`).
//!
//! # Steady state
//!
//! Repeated dosing every `τ` converges when every eigenvalue is negative
//! (all of `CL`, `ka`, `Q` positive). The steady state solves the
//! periodicity condition `A₀ = exp(K·τ)·A₀ + s`, where `s` is the response
//! of one interval from zero amounts, i.e. `A₀ = (I − exp(K·τ))⁻¹·s`, with
//! `I − exp(K·τ) = Σᵢ −expm1(λᵢτ)·Pᵢ` formed without cancellation and the
//! small system solved by Gaussian elimination. See
//! [`Propagator::steady_state_bolus`], [`Propagator::steady_state_infusion`]
//! (durations longer than `τ` by superposition of the overlapping
//! infusions) and [`Propagator::steady_state_constant`] (`−K⁻¹·R` in closed
//! form).
//!
//! # Derivatives
//!
//! [`Propagator::advance_sensitivity`] advances, with the amounts, their
//! derivatives along `m` directions (e.g. the random effects), exactly:
//! `S' = E·S + G·dR + Σ_μ (D E[∂K/∂μ]·A + D G[∂K/∂μ]·R)·dμ` with
//! `E = exp(K·dt)`, `G = K⁻¹(E − I)` and `μ` the micro-constants. The
//! Fréchet derivatives come from the Daleckii–Krein formula
//! `D F[Δ] = Σᵢⱼ F[λᵢ, λⱼ]·Pᵢ·Δ·Pⱼ` with divided differences of the
//! exponential computed without cancellation, or, for degenerate spectra
//! and cancelling sums, from the block-triangular exponential of Van Loan.
//! The steady states have `*_sensitivity` variants that differentiate the
//! periodicity condition implicitly. Layout, formulas and accuracy: module
//! [`sensitivity`].
//!
//! Every function here is a pure function of its `f64` arguments: no
//! caches, no global state. The one branch that depends on the parameters,
//! spectral versus dense at [`propagator::DEGENERATE_GAP`], joins two forms
//! of the same analytic function, so values and derivatives agree on both
//! sides to rounding.
//!
//! # Errors
//!
//! Nothing here panics. Invalid parameters (non-finite, negative, zero
//! volumes), slices of the wrong length, compartments out of range, and
//! steady states that do not exist give a [`PkError`].

mod eigen;
mod linalg;
pub mod propagator;
pub mod sensitivity;

pub use propagator::{Propagator, Transition};

use std::fmt;
use std::ops::Deref;

/// Most states of any model here (three-compartment oral).
pub const MAX_STATES: usize = 4;

/// A linear compartment model by its clearances and volumes. See the
/// [module documentation](self) for the state layout of each variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinearModel {
    OneCpt {
        cl: f64,
        v: f64,
    },
    OneCptOral {
        ka: f64,
        cl: f64,
        v: f64,
    },
    TwoCpt {
        cl: f64,
        v1: f64,
        q: f64,
        v2: f64,
    },
    TwoCptOral {
        ka: f64,
        cl: f64,
        v1: f64,
        q: f64,
        v2: f64,
    },
    ThreeCpt {
        cl: f64,
        v1: f64,
        q2: f64,
        v2: f64,
        q3: f64,
        v3: f64,
    },
    ThreeCptOral {
        ka: f64,
        cl: f64,
        v1: f64,
        q2: f64,
        v2: f64,
        q3: f64,
        v3: f64,
    },
}

/// Which closed-form model a compiled model declares, without values: the
/// compiled-model interface names it, and [`LinearKind::model`] fills in
/// the parameters of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinearKind {
    OneCpt,
    OneCptOral,
    TwoCpt,
    TwoCptOral,
    ThreeCpt,
    ThreeCptOral,
}

impl LinearKind {
    /// Every kind with its name in the language and its parameter names,
    /// in the order [`LinearKind::model`] takes them.
    pub const ALL: [(LinearKind, &'static str, &'static [&'static str]); 6] = [
        (LinearKind::OneCpt, "one_compartment", &["cl", "v"]),
        (
            LinearKind::OneCptOral,
            "one_compartment_oral",
            &["ka", "cl", "v"],
        ),
        (
            LinearKind::TwoCpt,
            "two_compartment",
            &["cl", "v1", "q", "v2"],
        ),
        (
            LinearKind::TwoCptOral,
            "two_compartment_oral",
            &["ka", "cl", "v1", "q", "v2"],
        ),
        (
            LinearKind::ThreeCpt,
            "three_compartment",
            &["cl", "v1", "q2", "v2", "q3", "v3"],
        ),
        (
            LinearKind::ThreeCptOral,
            "three_compartment_oral",
            &["ka", "cl", "v1", "q2", "v2", "q3", "v3"],
        ),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("?", |(_, n, _)| n)
    }

    pub fn param_names(self) -> &'static [&'static str] {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or(&[], |(_, _, p)| p)
    }

    /// Number of compartments (the depot first for oral models).
    pub fn n_states(self) -> usize {
        match self {
            LinearKind::OneCpt => 1,
            LinearKind::OneCptOral | LinearKind::TwoCpt => 2,
            LinearKind::TwoCptOral | LinearKind::ThreeCpt => 3,
            LinearKind::ThreeCptOral => 4,
        }
    }

    /// The model with parameter values `p` in [`LinearKind::param_names`] order.
    pub fn model(self, p: &[f64]) -> Option<LinearModel> {
        let g = |i: usize| p.get(i).copied();
        Some(match self {
            LinearKind::OneCpt => LinearModel::OneCpt {
                cl: g(0)?,
                v: g(1)?,
            },
            LinearKind::OneCptOral => LinearModel::OneCptOral {
                ka: g(0)?,
                cl: g(1)?,
                v: g(2)?,
            },
            LinearKind::TwoCpt => LinearModel::TwoCpt {
                cl: g(0)?,
                v1: g(1)?,
                q: g(2)?,
                v2: g(3)?,
            },
            LinearKind::TwoCptOral => LinearModel::TwoCptOral {
                ka: g(0)?,
                cl: g(1)?,
                v1: g(2)?,
                q: g(3)?,
                v2: g(4)?,
            },
            LinearKind::ThreeCpt => LinearModel::ThreeCpt {
                cl: g(0)?,
                v1: g(1)?,
                q2: g(2)?,
                v2: g(3)?,
                q3: g(4)?,
                v3: g(5)?,
            },
            LinearKind::ThreeCptOral => LinearModel::ThreeCptOral {
                ka: g(0)?,
                cl: g(1)?,
                v1: g(2)?,
                q2: g(3)?,
                v2: g(4)?,
                q3: g(5)?,
                v3: g(6)?,
            },
        })
    }
}

impl LinearModel {
    /// Number of states (compartment amounts).
    pub fn n_states(&self) -> usize {
        self.micro().n_states()
    }

    /// Whether the model has a depot (state 0).
    pub fn is_oral(&self) -> bool {
        matches!(
            self,
            LinearModel::OneCptOral { .. }
                | LinearModel::TwoCptOral { .. }
                | LinearModel::ThreeCptOral { .. }
        )
    }

    /// Index of the central compartment: 1 for oral models, 0 otherwise.
    pub fn central(&self) -> usize {
        usize::from(self.is_oral())
    }

    /// Volume of the central compartment.
    pub fn central_volume(&self) -> f64 {
        match *self {
            LinearModel::OneCpt { v, .. } | LinearModel::OneCptOral { v, .. } => v,
            LinearModel::TwoCpt { v1, .. }
            | LinearModel::TwoCptOral { v1, .. }
            | LinearModel::ThreeCpt { v1, .. }
            | LinearModel::ThreeCptOral { v1, .. } => v1,
        }
    }

    /// The parameters by name, in declaration order.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match *self {
            LinearModel::OneCpt { cl, v } => vec![("cl", cl), ("v", v)],
            LinearModel::OneCptOral { ka, cl, v } => vec![("ka", ka), ("cl", cl), ("v", v)],
            LinearModel::TwoCpt { cl, v1, q, v2 } => {
                vec![("cl", cl), ("v1", v1), ("q", q), ("v2", v2)]
            }
            LinearModel::TwoCptOral { ka, cl, v1, q, v2 } => {
                vec![("ka", ka), ("cl", cl), ("v1", v1), ("q", q), ("v2", v2)]
            }
            LinearModel::ThreeCpt {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => vec![
                ("cl", cl),
                ("v1", v1),
                ("q2", q2),
                ("v2", v2),
                ("q3", q3),
                ("v3", v3),
            ],
            LinearModel::ThreeCptOral {
                ka,
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => vec![
                ("ka", ka),
                ("cl", cl),
                ("v1", v1),
                ("q2", q2),
                ("v2", v2),
                ("q3", q3),
                ("v3", v3),
            ],
        }
    }

    /// Checks that every parameter is finite, volumes are positive and rate
    /// parameters (`ka`, clearances) are non-negative.
    pub fn validate(&self) -> Result<(), PkError> {
        for (name, value) in self.params() {
            let volume = name.starts_with('v');
            let ok = value.is_finite() && if volume { value > 0.0 } else { value >= 0.0 };
            if !ok {
                return Err(PkError::InvalidParameter { name, value });
            }
        }
        Ok(())
    }

    /// [`Propagator::new`] of this model.
    pub fn propagator(&self) -> Result<Propagator, PkError> {
        Propagator::new(*self)
    }

    pub(crate) fn micro(&self) -> propagator::Micro {
        use propagator::Micro;
        let none = [(0.0, 0.0); 2];
        match *self {
            LinearModel::OneCpt { cl, v } => Micro {
                ka: None,
                k10: cl / v,
                periph: none,
                n_periph: 0,
            },
            LinearModel::OneCptOral { ka, cl, v } => Micro {
                ka: Some(ka),
                k10: cl / v,
                periph: none,
                n_periph: 0,
            },
            LinearModel::TwoCpt { cl, v1, q, v2 } => Micro {
                ka: None,
                k10: cl / v1,
                periph: [(q / v1, q / v2), (0.0, 0.0)],
                n_periph: 1,
            },
            LinearModel::TwoCptOral { ka, cl, v1, q, v2 } => Micro {
                ka: Some(ka),
                k10: cl / v1,
                periph: [(q / v1, q / v2), (0.0, 0.0)],
                n_periph: 1,
            },
            LinearModel::ThreeCpt {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => Micro {
                ka: None,
                k10: cl / v1,
                periph: [(q2 / v1, q2 / v2), (q3 / v1, q3 / v3)],
                n_periph: 2,
            },
            LinearModel::ThreeCptOral {
                ka,
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => Micro {
                ka: Some(ka),
                k10: cl / v1,
                periph: [(q2 / v1, q2 / v2), (q3 / v1, q3 / v3)],
                n_periph: 2,
            },
        }
    }
}

/// Amounts of the states of a model (at most [`MAX_STATES`]); derefs to a
/// slice of length [`LinearModel::n_states`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Amounts {
    values: [f64; MAX_STATES],
    len: usize,
}

impl Amounts {
    pub(crate) fn new(values: [f64; MAX_STATES], len: usize) -> Self {
        Amounts {
            values,
            len: len.min(MAX_STATES),
        }
    }

    pub fn as_slice(&self) -> &[f64] {
        self.values.get(..self.len).unwrap_or(&[])
    }
}

impl Deref for Amounts {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        self.as_slice()
    }
}

/// What the closed-form solutions reject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PkError {
    /// A model parameter is not finite, negative, or a zero volume.
    InvalidParameter { name: &'static str, value: f64 },
    /// The micro-constants or eigenvalues overflow `f64`.
    Overflow,
    /// An amounts or rates slice does not have one entry per state.
    StateLength { expected: usize, got: usize },
    /// A compartment index (0-based) beyond the model's states.
    InvalidCompartment { cmt: usize, n_states: usize },
    /// A dosing interval that is not finite and positive.
    InvalidInterval { tau: f64 },
    /// An infusion duration that is not finite and ≥ 0.
    InvalidDuration { duration: f64 },
    /// A dose amount or rate that is not finite.
    InvalidInput { name: &'static str, value: f64 },
    /// Repeated dosing does not converge: some rate constant (CL, ka or Q)
    /// is zero, so the system does not decay.
    NoSteadyState,
    /// A sensitivity, rate-derivative or parameter-derivative slice whose
    /// length is not one column (of states or parameters) per direction.
    SensitivityLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
}

impl fmt::Display for PkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkError::InvalidParameter { name, value } => write!(
                f,
                "PK parameter {name} is {value}; volumes must be finite and > 0, rates and clearances finite and ≥ 0"
            ),
            PkError::Overflow => write!(f, "PK rate constants overflow"),
            PkError::StateLength { expected, got } => {
                write!(f, "expected {expected} state values, got {got}")
            }
            PkError::InvalidCompartment { cmt, n_states } => write!(
                f,
                "compartment index {cmt} is out of range for a model with {n_states} states"
            ),
            PkError::InvalidInterval { tau } => {
                write!(f, "dosing interval is {tau}; it must be finite and > 0")
            }
            PkError::InvalidDuration { duration } => {
                write!(f, "infusion duration is {duration}; it must be finite and ≥ 0")
            }
            PkError::InvalidInput { name, value } => {
                write!(f, "{name} is {value}; it must be finite")
            }
            PkError::SensitivityLength {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected {expected} values, got {got}"),
            PkError::NoSteadyState => write!(
                f,
                "no steady state: clearance, absorption rate and intercompartmental clearances must be > 0"
            ),
        }
    }
}

impl std::error::Error for PkError {}

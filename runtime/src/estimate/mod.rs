//! Population estimation: FOCE with interaction (FOCEI), FOCE, FO and
//! Laplace; covariance step; conditional estimates and residual
//! diagnostics.
//!
//! Layout:
//! - `sensitivity`: the model extended with ∂y/∂η (forward sensitivities);
//! - `predict`: a subject's residuals and their eta derivatives;
//! - `analytic`: the one-compartment closed forms' purpose-built path;
//! - `residual`: one observation's residual and variance per error model;
//! - `objective`: the inner problem and a subject's objective contribution;
//! - `params`: the unconstrained and natural parameter vectors;
//! - `outer`: BFGS over the unconstrained vector;
//! - `covariance`: R, S and the sandwich;
//! - `diagnostics`: PRED, IPRED, WRES, CWRES, IWRES and shrinkage.
//!
//! Determinism: subjects are evaluated in parallel (rayon) but each
//! subject's computation depends only on its own inputs, and the objective
//! is summed in subject order, so results do not depend on thread count.

mod analytic;
mod covariance;
mod diagnostics;
mod objective;
mod outer;
mod params;
mod predict;
mod residual;
mod sensitivity;

pub use covariance::{Covariance, CovarianceFailure, CovarianceKind};
pub use diagnostics::{DiagnosticRow, Diagnostics, SubjectFailure};
pub use outer::{Iteration, Status};
pub use params::{PackError, Packing, PsiEntry};
pub use sensitivity::Sensitized;

use crate::data::Dataset;
use crate::model::Model;
use crate::simulate::SimError;
use crate::solver::SolverOptions;
use nalgebra::DMatrix;
use objective::{
    subject_metric, subject_objective, Anchor, Finish, OmegaFactors, SubjectObjective,
};
use predict::{Derivatives, Observations, Workspace};
use rayon::prelude::*;
use std::fmt;
use std::sync::Mutex;

/// Estimation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// First-order conditional estimation with interaction (NONMEM
    /// `METHOD=1 INTERACTION`).
    #[default]
    Focei,
    /// First-order conditional estimation (`METHOD=1`): residual variance
    /// at the population prediction.
    Foce,
    /// First order (`METHOD=0`): the model linearized at η = 0.
    Fo,
    /// Laplace: the exact Hessian of the individual objective at the mode.
    Laplace,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Focei => "FOCEI",
            Method::Foce => "FOCE",
            Method::Fo => "FO",
            Method::Laplace => "Laplace",
        }
    }
}

/// Options of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub method: Method,
    pub solver: SolverOptions,
    pub max_iterations: usize,
    pub covariance: CovarianceKind,
    /// Advance models declared with a closed-form `pk` analytically (true)
    /// or through their generated ODEs (false).
    pub closed_form: bool,
    /// Starting values `(theta, omega row-major n_eta × n_eta)` in place
    /// of the model's.
    pub start: Option<(Vec<f64>, Vec<f64>)>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            method: Method::Focei,
            solver: SolverOptions::default(),
            max_iterations: 500,
            covariance: CovarianceKind::Sandwich,
            closed_form: true,
            start: None,
        }
    }
}

/// Why a fit could not run. Failures inside the search (a subject whose
/// ODE fails at a trial point) are not errors: the point is treated as
/// infeasible and the search steps back.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    Pack(PackError),
    /// A subject could not be simulated at the initial estimates (or at a
    /// point the search had accepted).
    Simulation(SimError),
    /// The objective is not finite at the initial estimates; the first
    /// subject whose contribution is not, when known.
    InitialObjective {
        subject: Option<String>,
    },
    /// The dataset has no observation to fit.
    NoObservations,
    /// An observation is below its limit of quantification: its DV is no
    /// measurement, and the likelihood of a censored value (Beal's M3) is
    /// not implemented, so fitting it as a value would bias the estimates.
    CensoredObservation {
        subject: String,
        row: usize,
    },
    /// `theta`/`omega` given as starting values do not fit the model.
    StartLength {
        what: &'static str,
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Pack(PackError::ThetaOutOfBounds { name, value }) => write!(
                f,
                "the initial value of `{name}` ({value}) is not inside its bounds"
            ),
            FitError::Pack(PackError::OmegaNotPositiveDefinite { etas }) => write!(
                f,
                "the initial OMEGA block of {} is not positive definite",
                etas.join(", ")
            ),
            FitError::Pack(PackError::OccasionLevel { eta }) => write!(
                f,
                "`{eta}` varies between occasions; `fit` estimates subject-level random effects only (for now)"
            ),
            FitError::Simulation(e) => write!(f, "{e}"),
            FitError::InitialObjective { subject } => write!(
                f,
                "the objective function is not finite at the initial estimates{} (a variance is zero or negative, or a prediction is not finite): check the initial values",
                subject
                    .as_ref()
                    .map_or_else(String::new, |s| format!(" (first in subject {s})"))
            ),
            FitError::NoObservations => write!(f, "the dataset has no observation records (EVID 0 with MDV 0) to fit"),
            FitError::CensoredObservation { subject, row } => write!(
                f,
                "subject {subject}'s observation at data row {row} is below the limit of quantification \
                 (CENS = 1, or DV < LLOQ), and mido cannot fit censored observations: the M3 likelihood \
                 is not implemented; set MDV = 1 on the censored rows to leave them out of the fit (M1)"
            ),
            FitError::StartLength {
                what,
                expected,
                found,
            } => write!(
                f,
                "the starting values have {found} {what} values, the model has {expected}"
            ),
        }
    }
}

impl std::error::Error for FitError {}

/// The conditional estimates of one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectEstimate {
    pub label: String,
    pub eta: Vec<f64>,
    /// The subject's objective contribution.
    pub ofv: f64,
}

/// Everything a fit produced.
#[derive(Debug, Clone)]
pub struct FitResult {
    pub method: Method,
    pub theta: Vec<f64>,
    /// OMEGA, row-major `n_eta × n_eta`.
    pub omega: Vec<f64>,
    /// −2·log-likelihood without the `n·log 2π` constant (NONMEM's).
    pub ofv: f64,
    pub initial_ofv: f64,
    /// Observations in the likelihood.
    pub n_obs: usize,
    pub status: Status,
    /// Estimated thetas that ended on a bound (after one restart).
    pub on_bounds: Vec<usize>,
    pub restarted: bool,
    pub iterations: usize,
    pub evaluations: usize,
    pub subjects: Vec<SubjectEstimate>,
    /// Natural parameters and what they are.
    pub psi: Vec<f64>,
    pub psi_labels: Vec<PsiEntry>,
    pub covariance: Option<Result<Covariance, CovarianceFailure>>,
    pub diagnostics: Diagnostics,
    pub log: Vec<Iteration>,
}

impl FitResult {
    /// The objective with the `n·log 2π` constant.
    pub fn ofv_with_constant(&self) -> f64 {
        self.ofv + self.n_obs as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    /// Number of estimated parameters.
    pub fn n_estimated(&self) -> usize {
        self.psi.len()
    }

    /// Akaike's criterion from the objective with its constant.
    pub fn aic(&self) -> f64 {
        self.ofv_with_constant() + 2.0 * self.n_estimated() as f64
    }

    /// Bayesian criterion (number of observations as sample size).
    pub fn bic(&self) -> f64 {
        self.ofv_with_constant() + self.n_estimated() as f64 * (self.n_obs as f64).ln()
    }
}

/// The data and model of a fit, and the objective over its parameters.
pub(crate) struct Problem<'m> {
    model: &'m dyn Model,
    sensitized: &'m Sensitized<'m>,
    data: &'m Dataset,
    obs: Vec<Observations>,
    how: Vec<Derivatives>,
    method: Method,
    solver: SolverOptions,
    closed_form: bool,
    /// Workspaces of finished tasks, reused by the next: a workspace holds
    /// two runners and their solvers, and building one per parallel task
    /// of every evaluation cost a fifth of a closed-form fit.
    pool: Mutex<Vec<Box<Workspace<'m>>>>,
}

/// A point of a finite-difference stencil: theta, omega, and the modes its
/// inner problems start from.
pub(crate) type StencilPoint = (Vec<f64>, DMatrix<f64>, Vec<Vec<f64>>);

/// A workspace borrowed from a problem's pool, returned to it on drop.
pub(crate) struct PooledWorkspace<'p, 'm> {
    ws: Option<Box<Workspace<'m>>>,
    pool: &'p Mutex<Vec<Box<Workspace<'m>>>>,
}

impl<'m> std::ops::Deref for PooledWorkspace<'_, 'm> {
    type Target = Workspace<'m>;
    fn deref(&self) -> &Workspace<'m> {
        self.ws.as_ref().expect("present until drop")
    }
}

impl<'m> std::ops::DerefMut for PooledWorkspace<'_, 'm> {
    fn deref_mut(&mut self) -> &mut Workspace<'m> {
        self.ws.as_mut().expect("present until drop")
    }
}

impl Drop for PooledWorkspace<'_, '_> {
    fn drop(&mut self) {
        if let (Some(ws), Ok(mut pool)) = (self.ws.take(), self.pool.lock()) {
            pool.push(ws);
        }
    }
}

/// The objective at one point: total and per subject.
#[derive(Debug, Clone)]
pub(crate) struct PointValue {
    pub total: f64,
    pub subjects: Vec<SubjectObjective>,
    /// The first subject that could not be simulated at this point.
    pub failure: Option<SimError>,
}

impl PointValue {
    /// Every subject's mode, when the objective at this point is finite
    /// (what the next points' warm starts are predicted from).
    fn modes(&self) -> Option<Vec<Vec<f64>>> {
        self.total
            .is_finite()
            .then(|| self.subjects.iter().map(|s| s.eta.clone()).collect())
    }
}

impl<'m> Problem<'m> {
    /// The problem of fitting `data`; every estimation goes through here,
    /// so this is where censored observations are refused.
    fn new(
        model: &'m dyn Model,
        sensitized: &'m Sensitized<'m>,
        data: &'m Dataset,
        method: Method,
        solver: SolverOptions,
        closed_form: bool,
        theta: &[f64],
    ) -> Result<Self, FitError> {
        if let Some((subject, record)) = data.first_censored() {
            return Err(FitError::CensoredObservation {
                subject: subject.label.clone(),
                row: record.row,
            });
        }
        let obs: Vec<Observations> = data.subjects.iter().map(Observations::of).collect();
        let ws = Workspace::new(model, sensitized, solver, closed_form);
        let how = data
            .subjects
            .iter()
            .map(|s| ws.derivatives(theta, s))
            .collect();
        Ok(Problem {
            model,
            sensitized,
            data,
            obs,
            how,
            method,
            solver,
            closed_form,
            pool: Mutex::new(vec![Box::new(ws)]),
        })
    }

    /// A workspace from the pool (a new one when all are in use). What a
    /// workspace holds between uses (buffers, caches keyed by their
    /// inputs) never changes a result.
    fn workspace(&self) -> PooledWorkspace<'_, 'm> {
        let reused = self.pool.lock().ok().and_then(|mut p| p.pop());
        PooledWorkspace {
            ws: Some(reused.unwrap_or_else(|| {
                Box::new(Workspace::new(
                    self.model,
                    self.sensitized,
                    self.solver,
                    self.closed_form,
                ))
            })),
            pool: &self.pool,
        }
    }

    /// [`Problem::evaluate`] at each of `points` (theta, omega, warm
    /// start): the points of a finite-difference stencil,
    /// evaluated in parallel (each is a function of its inputs alone, so
    /// the results do not depend on the thread count), in order.
    fn evaluate_points(
        &self,
        points: &[StencilPoint],
        anchors: &[Option<Anchor>],
        finish: Finish,
    ) -> Vec<Result<PointValue, FitError>> {
        points
            .par_iter()
            .map(|(theta, omega, start)| self.evaluate(theta, omega, start, anchors, finish))
            .collect()
    }

    fn n_obs(&self) -> usize {
        self.obs.iter().map(Observations::len).sum()
    }

    /// The objective at `theta`, `omega`, each subject's inner problem
    /// started from `start[i]` (with the Newton metric of `anchors[i]`,
    /// when `anchors` is not empty: see [`objective::subject_metric`]) and
    /// solved as `finish` says.
    /// Non-finite when `omega` is not positive definite or a subject's
    /// objective is not finite; an error only when a subject cannot be
    /// simulated.
    fn evaluate(
        &self,
        theta: &[f64],
        omega: &DMatrix<f64>,
        start: &[Vec<f64>],
        anchors: &[Option<Anchor>],
        finish: Finish,
    ) -> Result<PointValue, FitError> {
        let Some(om) = OmegaFactors::new(omega.clone()) else {
            return Ok(PointValue {
                total: f64::INFINITY,
                subjects: start
                    .iter()
                    .map(|e| SubjectObjective {
                        ofv: f64::INFINITY,
                        eta: e.clone(),
                    })
                    .collect(),
                failure: None,
            });
        };
        let results: Vec<Result<SubjectObjective, FitError>> = self
            .data
            .subjects
            .par_iter()
            .enumerate()
            .map_init(
                || self.workspace(),
                |ws, (i, subject)| {
                    if self.obs[i].len() == 0 {
                        return Ok(SubjectObjective {
                            ofv: 0.0,
                            eta: start[i].clone(),
                        });
                    }
                    subject_objective(
                        ws,
                        theta,
                        &om,
                        subject,
                        &self.obs[i],
                        self.how[i],
                        self.method,
                        &start[i],
                        anchors.get(i).and_then(Option::as_ref),
                        finish,
                    )
                },
            )
            .collect();
        let mut subjects = Vec::with_capacity(results.len());
        let mut total = 0.0;
        let mut failure = None;
        for r in results {
            match r {
                Ok(s) => {
                    total += s.ofv;
                    subjects.push(s);
                }
                // A subject that cannot be simulated at a trial point makes
                // the point infeasible.
                Err(FitError::Simulation(e)) => {
                    total = f64::INFINITY;
                    failure.get_or_insert(e);
                    subjects.push(SubjectObjective {
                        ofv: f64::INFINITY,
                        eta: vec![0.0; omega.nrows()],
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(PointValue {
            total,
            subjects,
            failure,
        })
    }
}

impl Problem<'_> {
    /// Each subject's anchor at its mode `etas[i]` (for the next
    /// evaluations); `None` where it cannot be computed.
    fn anchors(
        &self,
        theta: &[f64],
        omega: &DMatrix<f64>,
        etas: &[Vec<f64>],
    ) -> Vec<Option<Anchor>> {
        let Some(om) = OmegaFactors::new(omega.clone()) else {
            return vec![None; etas.len()];
        };
        self.data
            .subjects
            .par_iter()
            .enumerate()
            .map_init(
                || self.workspace(),
                |ws, (i, subject)| {
                    if self.obs[i].len() == 0 {
                        return None;
                    }
                    subject_metric(
                        ws,
                        theta,
                        &om,
                        subject,
                        &self.obs[i],
                        self.how[i],
                        self.method,
                        &etas[i],
                    )
                    .ok()
                    .flatten()
                },
            )
            .collect()
    }
}

/// The objective over the optimizer's vector, warm-starting every subject
/// from the modes at the current iterate, with their Newton metrics there.
struct Search<'p, 'm> {
    problem: &'p Problem<'m>,
    packing: &'p Packing,
    anchor_etas: Vec<Vec<f64>>,
    anchors: Vec<Option<Anchor>>,
    /// The point and modes of the last finite evaluation, for
    /// `anchor_last`.
    last: Option<(Vec<f64>, Vec<Vec<f64>>)>,
    /// The subjects' contributions at the last evaluation.
    last_parts: Vec<f64>,
    /// The anchor's point.
    anchor_x: Vec<f64>,
    /// Per coordinate of `x`, the change of every subject's mode per unit
    /// change of that coordinate (subjects × etas, flattened), from the
    /// last gradient's stencil: a stencil point then starts its inner
    /// problems from the modes predicted to first order instead of the
    /// anchor's, and most need one Newton step fewer.
    mode_slopes: Vec<Option<Vec<f64>>>,
}

impl Search<'_, '_> {
    fn set_anchor(&mut self, x: &[f64], etas: Vec<Vec<f64>>) {
        let (theta, omega) = self.packing.from_x(x);
        self.anchors = self.problem.anchors(&theta, &omega, &etas);
        self.anchor_etas = etas;
        self.anchor_x = x.to_vec();
    }

    /// The coordinate in which `x` differs from the anchor, when it
    /// differs in exactly one (a point of a gradient's stencil).
    fn stencil_axis(&self, x: &[f64]) -> Option<usize> {
        if x.len() != self.anchor_x.len() {
            return None;
        }
        let mut axis = None;
        for (i, (a, b)) in x.iter().zip(&self.anchor_x).enumerate() {
            if a != b {
                if axis.is_some() {
                    return None;
                }
                axis = Some(i);
            }
        }
        axis
    }

    /// Where the inner problems of the stencil point `x` start: the
    /// anchor's modes moved along the last measured slopes of its axis.
    fn predicted_modes(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let mut etas = self.anchor_etas.clone();
        let Some(i) = self.stencil_axis(x) else {
            return etas;
        };
        let Some(Some(slope)) = self.mode_slopes.get(i) else {
            return etas;
        };
        let dx = x[i] - self.anchor_x[i];
        let mut slope = slope.iter();
        for eta in etas.iter_mut() {
            for (e, d) in eta.iter_mut().zip(slope.by_ref()) {
                *e += d * dx;
            }
        }
        etas
    }

    /// The slopes of the modes along each axis from a stencil's points and
    /// their modes (central differences where both sides are finite,
    /// otherwise one side against the anchor).
    fn measure_slopes(&mut self, xs: &[Vec<f64>], modes: &[Option<Vec<Vec<f64>>>]) {
        let n = self.anchor_x.len();
        // Per axis: the points above and below the anchor with finite modes.
        let mut sides: Vec<[Option<usize>; 2]> = vec![[None, None]; n];
        for (p, x) in xs.iter().enumerate() {
            if let (Some(i), Some(_)) = (self.stencil_axis(x), &modes[p]) {
                sides[i][usize::from(x[i] < self.anchor_x[i])] = Some(p);
            }
        }
        self.mode_slopes.resize(n, None);
        for (i, side) in sides.iter().enumerate() {
            let ((x1, m1), (x0, m0)) = match *side {
                [Some(a), Some(b)] => ((xs[a][i], &modes[a]), (xs[b][i], &modes[b])),
                [Some(a), None] => ((xs[a][i], &modes[a]), (self.anchor_x[i], &None)),
                [None, Some(b)] => ((self.anchor_x[i], &None), (xs[b][i], &modes[b])),
                [None, None] => continue,
            };
            let anchor = &self.anchor_etas;
            let (m1, m0) = (m1.as_ref().unwrap_or(anchor), m0.as_ref().unwrap_or(anchor));
            let width = x1 - x0;
            let slope: Vec<f64> = m1
                .iter()
                .zip(m0)
                .flat_map(|(u, b)| u.iter().zip(b).map(move |(u, b)| (u - b) / width))
                .collect();
            self.mode_slopes[i] = slope.iter().all(|v| v.is_finite()).then_some(slope);
        }
    }
}

impl outer::Objective for Search<'_, '_> {
    fn eval(&mut self, x: &[f64], anchor: bool) -> Result<f64, FitError> {
        let (theta, omega) = self.packing.from_x(x);
        let v = self.problem.evaluate(
            &theta,
            &omega,
            &self.anchor_etas,
            &self.anchors,
            Finish::Converged,
        )?;
        self.last = None;
        self.last_parts.clear();
        self.last_parts.extend(v.subjects.iter().map(|s| s.ofv));
        if v.total.is_finite() {
            let etas: Vec<Vec<f64>> = v.subjects.into_iter().map(|s| s.eta).collect();
            if anchor {
                self.set_anchor(x, etas);
            } else {
                self.last = Some((x.to_vec(), etas));
            }
        }
        Ok(v.total)
    }

    fn anchor_last(&mut self) {
        if let Some((x, etas)) = self.last.take() {
            self.set_anchor(&x, etas);
        }
    }

    fn parts(&self) -> &[f64] {
        &self.last_parts
    }

    fn eval_points(&mut self, xs: &[Vec<f64>]) -> Result<Vec<(f64, Vec<f64>)>, FitError> {
        let points: Vec<_> = xs
            .iter()
            .map(|x| {
                let (theta, omega) = self.packing.from_x(x);
                (theta, omega, self.predicted_modes(x))
            })
            .collect();
        let results = self
            .problem
            .evaluate_points(&points, &self.anchors, Finish::OneStep);
        let modes: Vec<Option<Vec<Vec<f64>>>> = results
            .iter()
            .map(|r| r.as_ref().ok().and_then(PointValue::modes))
            .collect();
        self.measure_slopes(xs, &modes);
        // As `eval` one point after the other would leave it: the first
        // error in order, the last point's parts and modes.
        let mut out = Vec::with_capacity(xs.len());
        for (x, r) in xs.iter().zip(results) {
            let v = r?;
            self.last_parts.clear();
            self.last_parts.extend(v.subjects.iter().map(|s| s.ofv));
            self.last = v
                .total
                .is_finite()
                .then(|| (x.clone(), v.subjects.into_iter().map(|s| s.eta).collect()));
            out.push((v.total, self.last_parts.clone()));
        }
        Ok(out)
    }
}

/// Fits `model` to `data`. `progress` sees every outer iteration.
pub fn fit(
    model: &dyn Model,
    data: &Dataset,
    opts: &FitOptions,
    progress: &mut (dyn FnMut(&Iteration) + Send),
) -> Result<FitResult, FitError> {
    // The whole fit runs on a worker of the thread pool, so that each of
    // its hundreds of parallel evaluations starts on the worker that asks
    // for it instead of being handed over from a thread outside the pool
    // and waited for (a sleep and a wake-up per evaluation; 15% of a
    // theophylline fit's CPU time).
    rayon::scope(|_| fit_on_worker(model, data, opts, progress))
}

fn fit_on_worker(
    model: &dyn Model,
    data: &Dataset,
    opts: &FitOptions,
    progress: &mut (dyn FnMut(&Iteration) + Send),
) -> Result<FitResult, FitError> {
    let info = model.info();
    let mut packing = Packing::new(info).map_err(FitError::Pack)?;
    let ne = info.etas.len();
    if let Some((theta, omega)) = &opts.start {
        if theta.len() != info.thetas.len() {
            return Err(FitError::StartLength {
                what: "theta",
                expected: info.thetas.len(),
                found: theta.len(),
            });
        }
        if omega.len() != ne * ne {
            return Err(FitError::StartLength {
                what: "omega",
                expected: ne * ne,
                found: omega.len(),
            });
        }
        packing.set_start(theta, &DMatrix::from_row_slice(ne, ne, omega));
    }
    let sensitized = Sensitized::new(model);
    let problem = Problem::new(
        model,
        &sensitized,
        data,
        opts.method,
        opts.solver,
        opts.closed_form,
        packing.start_theta(),
    )?;
    if problem.n_obs() == 0 {
        return Err(FitError::NoObservations);
    }
    let x0 = packing.to_x(packing.start_theta(), packing.start_omega());
    let mut search = Search {
        problem: &problem,
        packing: &packing,
        anchor_etas: vec![vec![0.0; ne]; data.subjects.len()],
        anchors: Vec::new(),
        last: None,
        last_parts: Vec::new(),
        anchor_x: Vec::new(),
        mode_slopes: Vec::new(),
    };
    let mut log = Vec::new();
    let mut record = |it: &Iteration| {
        progress(it);
        log.push(it.clone());
    };
    let outer_opts = outer::Options {
        max_iterations: opts.max_iterations,
    };
    let initial = {
        let (t, o) = packing.from_x(&x0);
        let v = problem.evaluate(&t, &o, &search.anchor_etas, &[], Finish::Converged)?;
        if !v.total.is_finite() {
            // Say which subject, and why when its simulation failed.
            if let Some(e) = v.failure {
                return Err(FitError::Simulation(e));
            }
            let subject = data
                .subjects
                .iter()
                .zip(&v.subjects)
                .find(|(_, s)| !s.ofv.is_finite())
                .map(|(s, _)| s.label.clone());
            return Err(FitError::InitialObjective { subject });
        }
        v.total
    };
    let mut outcome = outer::minimize(&mut search, &x0, &outer_opts, &mut record)?;
    let mut restarted = false;
    {
        let (theta, _) = packing.from_x(&outcome.x);
        if !packing.thetas_on_bounds(&theta).is_empty() {
            // Stopped on a bound: try once more from a point moved back
            // inside, and keep the better end.
            restarted = true;
            let x1: Vec<f64> = outcome
                .x
                .iter()
                .zip(&x0)
                .map(|(x, s)| 0.5 * (x + s))
                .collect();
            let second = outer::minimize(&mut search, &x1, &outer_opts, &mut record)?;
            if second.ofv < outcome.ofv {
                outcome = second;
            }
        }
    }
    let (theta, omega) = packing.from_x(&outcome.x);
    // Final modes, from the anchor of the last iterate.
    let final_value = problem.evaluate(
        &theta,
        &omega,
        &search.anchor_etas,
        &search.anchors,
        Finish::Converged,
    )?;
    let on_bounds = packing.thetas_on_bounds(&theta);
    let psi = packing.to_psi(&theta, &omega);
    let etas: Vec<Vec<f64>> = final_value.subjects.iter().map(|s| s.eta.clone()).collect();
    let covariance = match opts.covariance {
        CovarianceKind::None => None,
        kind => {
            // The last iterate's anchors, unless a restart that ended
            // worse moved the search's anchor elsewhere.
            let anchors = if search.anchor_x == outcome.x {
                std::mem::take(&mut search.anchors)
            } else {
                problem.anchors(&theta, &omega, &etas)
            };
            Some(covariance::compute(
                &problem, &packing, &psi, &etas, &anchors, kind,
            )?)
        }
    };
    let diagnostics = diagnostics::compute(&problem, &theta, &omega, &etas);
    let subjects = data
        .subjects
        .iter()
        .zip(&final_value.subjects)
        .map(|(s, v)| SubjectEstimate {
            label: s.label.clone(),
            eta: v.eta.clone(),
            ofv: v.ofv,
        })
        .collect();
    Ok(FitResult {
        method: opts.method,
        theta,
        omega: omega.transpose().as_slice().to_vec(),
        ofv: final_value.total,
        initial_ofv: initial,
        n_obs: problem.n_obs(),
        status: outcome.status,
        on_bounds,
        restarted,
        iterations: outcome.iterations,
        evaluations: outcome.evaluations,
        subjects,
        psi,
        psi_labels: packing.psi_labels(),
        covariance,
        diagnostics,
        log,
    })
}

/// The objective at given parameters (no estimation): for checking a
/// model against a reference objective value.
pub fn objective_at(
    model: &dyn Model,
    data: &Dataset,
    method: Method,
    solver: SolverOptions,
    theta: &[f64],
    omega: &[f64],
) -> Result<f64, FitError> {
    let ne = model.info().etas.len();
    let sensitized = Sensitized::new(model);
    let problem = Problem::new(model, &sensitized, data, method, solver, true, theta)?;
    let omega = DMatrix::from_row_slice(ne, ne, omega);
    let start = vec![vec![0.0; ne]; data.subjects.len()];
    Ok(problem
        .evaluate(theta, &omega, &start, &[], Finish::Converged)?
        .total)
}

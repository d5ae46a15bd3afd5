//! Simulating a dataset: population and individual predictions and
//! simulated observations for every record.
//!
//! Reproducibility: each subject draws from its own ChaCha8 stream, derived
//! from the seed and the subject's index in the dataset, so results do not
//! depend on thread count or processing order. Within a subject the draw
//! order is fixed: subject-level etas in eta order, then occasion-level etas
//! for each occasion in order of appearance, then one residual ε per
//! observation record (EVID 0) in file order.
//!
//! Predictions at a record are taken after processing the record, so a dose
//! record's prediction includes its own dose. Each record's prediction and
//! simulated observation come from its endpoint (`Record::endpoint`).

pub(crate) mod runner;
mod table;

pub use table::{SimRow, SimTable};

use crate::data::{Dataset, Evid, Subject};
use crate::events::EventError;
use crate::model::{Model, RandomLevel};
use crate::random::LevelSampler;
use crate::solver::{SolverError, SolverOptions, SolverStats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
pub use runner::SteadyStateFailure;
use runner::{RunError, Runner, SubjectEtas};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    pub seed: u64,
    /// Typical-subject simulation: all etas 0 and no residual error (DV =
    /// IPRED = PRED).
    pub typical: bool,
    pub solver: SolverOptions,
    /// Advance models declared with a closed-form `pk` analytically (true)
    /// or through their generated ODEs (false).
    pub closed_form: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            typical: false,
            solver: SolverOptions::default(),
            closed_form: true,
        }
    }
}

/// Why a simulation failed. Subjects are named by their ID as written in the
/// data.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// `theta` does not have one value per model theta.
    ThetaLength { expected: usize, found: usize },
    /// A record names an endpoint the model does not have (the dataset was
    /// read for another model).
    Endpoint { subject: String, row: usize },
    /// The dataset was read for a model with other covariates.
    CovariateCount {
        subject: String,
        expected: usize,
        found: usize,
    },
    /// OMEGA of a level is not positive semi-definite.
    Omega { level: RandomLevel, eta: String },
    /// The model gave a dose impossible properties (negative F or lag).
    Dose { subject: String, source: EventError },
    /// The closed-form solution rejected the parameters (e.g. a negative
    /// clearance).
    ClosedForm {
        subject: String,
        from: f64,
        to: f64,
        source: crate::pk::PkError,
    },
    /// The steady state of a dose (SS > 0) could not be computed.
    SteadyState {
        subject: String,
        row: usize,
        reason: SteadyStateFailure,
    },
    /// The ODE solver failed between two events.
    Solver {
        subject: String,
        from: f64,
        to: f64,
        source: SolverError,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::ThetaLength { expected, found } => write!(
                f,
                "the model has {expected} fixed effects but {found} values were given"
            ),
            SimError::CovariateCount {
                subject,
                expected,
                found,
            } => write!(
                f,
                "subject {subject} has {found} covariate values but the model has {expected} covariates \
                 (dataset read for another model?)"
            ),
            SimError::Endpoint { subject, row } => write!(
                f,
                "subject {subject}: data row {row} names an endpoint the model does not have \
                 (dataset read for another model?)"
            ),
            SimError::Omega { level, eta } => write!(
                f,
                "the {} OMEGA matrix is not positive semi-definite (failed at {eta})",
                match level {
                    RandomLevel::Subject => "subject-level",
                    RandomLevel::Occasion => "occasion-level",
                }
            ),
            SimError::Dose { subject, source } => write!(f, "subject {subject}: {source}"),
            SimError::ClosedForm {
                subject,
                from,
                to,
                source,
            } => write!(
                f,
                "subject {subject}: the closed-form solution failed advancing from t = {from} to t = {to}: {source}"
            ),
            SimError::SteadyState {
                subject,
                row,
                reason,
            } => write!(
                f,
                "subject {subject}: no steady state for the dose at data row {row}: {reason}"
            ),
            SimError::Solver {
                subject,
                from,
                to,
                source,
            } => write!(
                f,
                "subject {subject}: the ODE solver failed advancing from t = {from} to t = {to}: {source}"
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// Simulates every record of `data` with fixed effects `theta`.
pub fn simulate(
    model: &dyn Model,
    data: &Dataset,
    theta: &[f64],
    opts: &SimOptions,
) -> Result<SimTable, SimError> {
    let info = model.info();
    if theta.len() != info.thetas.len() {
        return Err(SimError::ThetaLength {
            expected: info.thetas.len(),
            found: theta.len(),
        });
    }
    let sampler = |level| {
        LevelSampler::new(info, level).map_err(|e| SimError::Omega {
            level,
            eta: info
                .etas
                .get(e.eta)
                .map_or_else(|| e.eta.to_string(), |x| x.name.clone()),
        })
    };
    let subject_level = sampler(RandomLevel::Subject)?;
    let occasion_level = sampler(RandomLevel::Occasion)?;
    let n_eta = info.etas.len();
    let nobs = info.observe_len();
    let mut runner = Runner::new(model, opts.solver, opts.closed_form);
    let mut rows = Vec::with_capacity(data.n_records());
    let (mut obs_pred, mut obs_ind) = (Vec::new(), Vec::new());
    let zeros = SubjectEtas::zeros(n_eta);
    let mut z = Vec::new();
    for (index, subject) in data.subjects.iter().enumerate() {
        if subject.covariates.len() != info.covariates.len() {
            return Err(SimError::CovariateCount {
                subject: subject.label.clone(),
                expected: info.covariates.len(),
                found: subject.covariates.len(),
            });
        }
        if let Some(r) = subject
            .records
            .iter()
            .find(|r| r.endpoint >= info.endpoints.len())
        {
            return Err(SimError::Endpoint {
                subject: subject.label.clone(),
                row: r.row,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(index as u64);
        let wrap = |e| run_error(subject, e);
        runner
            .run(theta, subject, &zeros, &mut obs_pred)
            .map_err(wrap)?;
        if !opts.typical {
            let etas = draw_etas(
                subject,
                &subject_level,
                &occasion_level,
                n_eta,
                &mut rng,
                &mut z,
            );
            runner
                .run(theta, subject, &etas, &mut obs_ind)
                .map_err(wrap)?;
        }
        let ind = if opts.typical { &obs_pred } else { &obs_ind };
        for (i, r) in subject.records.iter().enumerate() {
            let o = ind.get(i * nobs..(i + 1) * nobs).unwrap_or(&[]);
            let endpoint = &info.endpoints[r.endpoint];
            let pi = endpoint.prediction;
            let ipred = o.get(pi).copied().unwrap_or(f64::NAN);
            let pred = obs_pred.get(i * nobs + pi).copied().unwrap_or(f64::NAN);
            let dv = match r.evid {
                Evid::Observation if opts.typical => Some(ipred),
                Evid::Observation => {
                    let eps: f64 = rng.sample(StandardNormal);
                    Some(match o.get(endpoint.error_params()) {
                        Some(err_params) => endpoint.error_model.sample(ipred, err_params, eps),
                        None => f64::NAN,
                    })
                }
                _ => None,
            };
            rows.push(SimRow {
                id: subject.id,
                time: r.time,
                evid: r.evid_code(),
                dvid: endpoint.dvid,
                pred,
                ipred,
                dv,
                outputs: o.get(..info.outputs.len()).unwrap_or(&[]).to_vec(),
            });
        }
    }
    let mut stats = SolverStats::default();
    stats.add(&runner.solver.stats());
    Ok(SimTable {
        output_names: info.outputs.clone(),
        dvid_column: info.endpoints.iter().any(|e| e.dvid.is_some()),
        rows,
        stats,
    })
}

/// Draws a subject's etas in the documented order.
fn draw_etas(
    subject: &Subject,
    subject_level: &LevelSampler,
    occasion_level: &LevelSampler,
    n_eta: usize,
    rng: &mut ChaCha8Rng,
    z: &mut Vec<f64>,
) -> SubjectEtas {
    let mut etas = SubjectEtas::zeros(n_eta);
    subject_level.draw(rng, z, &mut etas.base);
    if !occasion_level.is_empty() {
        for r in &subject.records {
            if etas.occasions.iter().any(|(o, _)| *o == r.occ) {
                continue;
            }
            let mut eta = etas.base.clone();
            occasion_level.draw(rng, z, &mut eta);
            etas.occasions.push((r.occ, eta));
        }
    }
    etas
}

pub(crate) fn run_error(subject: &Subject, e: RunError) -> SimError {
    let subject = subject.label.clone();
    match e {
        RunError::Events(source) => SimError::Dose { subject, source },
        RunError::Solver { from, to, source } => SimError::Solver {
            subject,
            from,
            to,
            source,
        },
        RunError::ClosedForm { from, to, source } => SimError::ClosedForm {
            subject,
            from,
            to,
            source,
        },
        RunError::SteadyState { row, reason } => SimError::SteadyState {
            subject,
            row,
            reason,
        },
    }
}

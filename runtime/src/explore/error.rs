//! Everything that can go wrong in a dose exploration, as data.
//!
//! Scenario mistakes (a negative dose, a window the regimen never reaches, a
//! variable the model does not have, a target no fraction can meet) are
//! found by validation before any subject runs; numerical failures name
//! the regimen, the population, the subject and the time.

use crate::pk::PkError;
use crate::solver::SolverError;
use std::fmt;

/// A regimen that cannot be given.
#[derive(Debug, Clone, PartialEq)]
pub enum RegimenError {
    /// A dose amount (or a per-unit amount, or a band's amount) below zero
    /// or not finite.
    NegativeDose { phase: usize, amount: f64 },
    /// A dosing interval that is zero, negative or not finite.
    InvalidInterval { phase: usize, interval: f64 },
    /// A phase with no doses (count 0, or a duration shorter than one interval).
    NoDoses { phase: usize },
    /// An infusion duration that is zero, negative or not finite.
    InvalidInfusion { phase: usize, duration: f64 },
    /// The regimen has no phase at all.
    Empty,
    /// A dose goes into a compartment the model does not have.
    UnknownCompartment { phase: usize, name: String },
    /// A dose goes into a compartment that does not accept doses.
    NotDosable { phase: usize, name: String },
    /// Weight- or covariate-based dosing names a covariate the model does not have.
    UnknownCovariate { phase: usize, name: String },
    /// Dose bands that are empty or not in increasing order of their lower bounds.
    InvalidBands { phase: usize },
    /// The phases of a cycle last longer than the cycle.
    CycleTooShort {
        block: usize,
        length: f64,
        needed: f64,
    },
    /// A cycle repeated zero times or with a length that is not positive.
    InvalidCycle { block: usize },
    /// A dose rule's step or factor cannot reduce a dose (negative step, a
    /// factor outside [0, 1), a limit that is not finite).
    InvalidRule { rule: usize, reason: &'static str },
    /// The regimen starts before time 0 or at a time that is not finite.
    InvalidStart { start: f64 },
}

impl fmt::Display for RegimenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegimenError::NegativeDose { phase, amount } => write!(
                f,
                "phase {}: the dose is {amount}; a dose must be finite and ≥ 0",
                phase + 1
            ),
            RegimenError::InvalidInterval { phase, interval } => write!(
                f,
                "phase {}: the dosing interval is {interval}; it must be finite and > 0",
                phase + 1
            ),
            RegimenError::NoDoses { phase } => write!(
                f,
                "phase {}: no dose is given (a count of 0, or a duration shorter than one interval)",
                phase + 1
            ),
            RegimenError::InvalidInfusion { phase, duration } => write!(
                f,
                "phase {}: the infusion lasts {duration}; it must be finite and > 0",
                phase + 1
            ),
            RegimenError::Empty => write!(f, "the regimen gives no dose: it has no phase"),
            RegimenError::UnknownCompartment { phase, name } => write!(
                f,
                "phase {}: the model has no compartment `{name}` to dose into",
                phase + 1
            ),
            RegimenError::NotDosable { phase, name } => write!(
                f,
                "phase {}: compartment `{name}` is not declared `dose` in the model",
                phase + 1
            ),
            RegimenError::UnknownCovariate { phase, name } => write!(
                f,
                "phase {}: the dose depends on covariate `{name}`, which the model does not have",
                phase + 1
            ),
            RegimenError::InvalidBands { phase } => write!(
                f,
                "phase {}: dose bands must be non-empty and in increasing order of their lower bounds",
                phase + 1
            ),
            RegimenError::CycleTooShort {
                block,
                length,
                needed,
            } => write!(
                f,
                "block {}: the cycle lasts {length} but its doses need {needed}",
                block + 1
            ),
            RegimenError::InvalidCycle { block } => write!(
                f,
                "block {}: a cycle needs a positive length and at least one repeat",
                block + 1
            ),
            RegimenError::InvalidRule { rule, reason } => {
                write!(f, "dose rule {}: {reason}", rule + 1)
            }
            RegimenError::InvalidStart { start } => {
                write!(f, "the regimen starts at {start}; it must be finite and ≥ 0")
            }
        }
    }
}

/// A population that cannot be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum PopulationError {
    /// A population of zero subjects.
    Empty,
    /// A distribution for a covariate the model does not have.
    UnknownCovariate { name: String },
    /// A model covariate the population gives no value.
    MissingCovariate { name: String },
    /// The same covariate given twice.
    DuplicateCovariate { name: String },
    /// Distribution parameters that describe no distribution (negative sd,
    /// cv or median ≤ 0, lo ≥ hi, no positive weight).
    InvalidDistribution { name: String, reason: &'static str },
    /// A categorical level the covariate does not have.
    UnknownLevel { name: String, level: String },
    /// A correlation outside (-1, 1), between covariates that are not
    /// continuous, or a correlation matrix that is not positive definite.
    InvalidCorrelation {
        a: String,
        b: String,
        reason: &'static str,
    },
    /// Truncation rejected every draw of this many tries.
    Truncation {
        name: String,
        lo: f64,
        hi: f64,
        tries: usize,
    },
    /// A dataset to resample from that has no subject, or was read for a
    /// model with other covariates.
    Dataset { reason: String },
    /// A subgroup predicate on a covariate the model does not have.
    UnknownSubgroupCovariate { subgroup: String, name: String },
}

impl fmt::Display for PopulationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopulationError::Empty => write!(f, "the population has no subject"),
            PopulationError::UnknownCovariate { name } => {
                write!(f, "the model has no covariate `{name}`")
            }
            PopulationError::MissingCovariate { name } => write!(
                f,
                "covariate `{name}` of the model has no distribution in the population"
            ),
            PopulationError::DuplicateCovariate { name } => {
                write!(f, "covariate `{name}` is given two distributions")
            }
            PopulationError::InvalidDistribution { name, reason } => {
                write!(f, "covariate `{name}`: {reason}")
            }
            PopulationError::UnknownLevel { name, level } => {
                write!(f, "covariate `{name}` has no level `{level}`")
            }
            PopulationError::InvalidCorrelation { a, b, reason } => {
                write!(f, "correlation between `{a}` and `{b}`: {reason}")
            }
            PopulationError::Truncation {
                name,
                lo,
                hi,
                tries,
            } => write!(
                f,
                "covariate `{name}`: no draw fell within ({lo}, {hi}) in {tries} tries; \
                 the truncation range holds almost none of the distribution"
            ),
            PopulationError::Dataset { reason } => {
                write!(f, "cannot resample covariates: {reason}")
            }
            PopulationError::UnknownSubgroupCovariate { subgroup, name } => write!(
                f,
                "subgroup `{subgroup}` is defined on `{name}`, which the model has no covariate of"
            ),
        }
    }
}

/// Why a simulation of one virtual subject failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubjectFailure {
    /// The model gave a dose a bioavailability that is negative or not finite.
    InvalidBioavailability { value: f64 },
    /// The model gave a dose a lag that is negative or not finite.
    InvalidLag { value: f64 },
    /// The closed form rejected the subject's parameters.
    ClosedForm(PkError),
    /// The ODE solver failed.
    Solver(SolverError),
    /// The steady state of the last phase could not be found.
    SteadyState,
}

impl fmt::Display for SubjectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectFailure::InvalidBioavailability { value } => write!(
                f,
                "the model's bioavailability for the dose is {value}; it must be finite and ≥ 0"
            ),
            SubjectFailure::InvalidLag { value } => write!(
                f,
                "the model's lag time for the dose is {value}; it must be finite and ≥ 0"
            ),
            SubjectFailure::ClosedForm(e) => write!(f, "closed-form solution: {e}"),
            SubjectFailure::Solver(e) => write!(f, "ODE solver: {e}"),
            SubjectFailure::SteadyState => write!(
                f,
                "no steady state of the last phase (the repeated-dose iteration did not converge)"
            ),
        }
    }
}

/// Why an exploration failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ExploreError {
    Regimen {
        regimen: String,
        source: RegimenError,
    },
    Population {
        population: String,
        source: PopulationError,
    },
    /// A metric or rule names a variable that is neither an `observe`
    /// output nor an endpoint of the model.
    UnknownVariable {
        context: String,
        name: String,
        candidates: Vec<String>,
    },
    /// A metric window the regimen does not reach (it starts before the
    /// first dose, ends after the simulation, or is empty).
    WindowOutsideRegimen {
        metric: String,
        regimen: String,
        from: f64,
        to: f64,
        end: f64,
    },
    /// A target on a metric the scenario does not define.
    UnknownMetric { target: String, metric: String },
    /// A target whose required fraction is not in (0, 1], or whose
    /// condition no value can satisfy (`>= inf`, a NaN threshold).
    ImpossibleTarget {
        target: String,
        reason: &'static str,
    },
    /// Two metrics, targets, regimens or populations with the same name.
    DuplicateName { kind: &'static str, name: String },
    /// Parameters of the wrong length, an OMEGA that cannot be factored, or
    /// parameter uncertainty without a covariance.
    Parameters { reason: String },
    /// Scenario options that make no sense (a grid step ≤ 0, zero replicates).
    Options { reason: String },
    /// A subgroup comparison naming a subgroup or metric that does not exist.
    UnknownSubgroup { name: String },
    /// One virtual subject could not be simulated.
    Subject {
        regimen: String,
        population: String,
        replicate: usize,
        subject: usize,
        time: f64,
        source: SubjectFailure,
    },
    /// A dose search whose range or grid is empty or not positive.
    Search { reason: String },
    /// Percentile bands with no percentile or one outside 0–100.
    InvalidBand {
        variable: String,
        reason: &'static str,
    },
    /// The per-subject band values of one regimen × population would
    /// need more than [`super::bands::MAX_BAND_BYTES`].
    BandsTooLarge {
        regimen: String,
        population: String,
        bytes: usize,
    },
    /// An exposure–response probability on a metric the scenario does not define.
    UnknownResponseMetric { response: String, metric: String },
    /// A response metric with a value outside [0, 1]: not a probability.
    NotAProbability {
        response: String,
        regimen: String,
        population: String,
        value: f64,
    },
}

impl fmt::Display for ExploreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExploreError::Regimen { regimen, source } => write!(f, "regimen `{regimen}`: {source}"),
            ExploreError::Population { population, source } => {
                write!(f, "population `{population}`: {source}")
            }
            ExploreError::UnknownVariable {
                context,
                name,
                candidates,
            } => {
                write!(f, "{context}: the model has no variable `{name}`")?;
                if !candidates.is_empty() {
                    write!(f, " (observe variables: {})", candidates.join(", "))?;
                }
                Ok(())
            }
            ExploreError::WindowOutsideRegimen {
                metric,
                regimen,
                from,
                to,
                end,
            } => write!(
                f,
                "metric `{metric}`: its window [{from}, {to}] is outside regimen `{regimen}`, \
                 which is simulated over [0, {end}]"
            ),
            ExploreError::UnknownMetric { target, metric } => write!(
                f,
                "target `{target}` uses metric `{metric}`, which the scenario does not define"
            ),
            ExploreError::ImpossibleTarget { target, reason } => {
                write!(f, "target `{target}` can never be met: {reason}")
            }
            ExploreError::DuplicateName { kind, name } => {
                write!(f, "two {kind}s are named `{name}`")
            }
            ExploreError::Parameters { reason } => write!(f, "parameters: {reason}"),
            ExploreError::Options { reason } => write!(f, "options: {reason}"),
            ExploreError::UnknownSubgroup { name } => {
                write!(f, "no subgroup or metric named `{name}`")
            }
            ExploreError::Subject {
                regimen,
                population,
                replicate,
                subject,
                time,
                source,
            } => write!(
                f,
                "regimen `{regimen}`, population `{population}`, replicate {}, subject {}: \
                 failed at t = {time}: {source}",
                replicate + 1,
                subject + 1
            ),
            ExploreError::Search { reason } => write!(f, "dose search: {reason}"),
            ExploreError::InvalidBand { variable, reason } => {
                write!(f, "percentile bands of `{variable}`: {reason}")
            }
            ExploreError::BandsTooLarge {
                regimen,
                population,
                bytes,
            } => write!(
                f,
                "percentile bands of regimen `{regimen}` in population `{population}` would keep \
                 {:.1} GB of per-subject values; use a coarser sampling step or fewer subjects",
                *bytes as f64 / 1e9
            ),
            ExploreError::UnknownResponseMetric { response, metric } => write!(
                f,
                "response `{response}` uses metric `{metric}`, which the scenario does not define"
            ),
            ExploreError::NotAProbability {
                response,
                regimen,
                population,
                value,
            } => write!(
                f,
                "response `{response}`: regimen `{regimen}` in population `{population}` gives a \
                 subject the value {value}, which is not a probability (outside [0, 1])"
            ),
        }
    }
}

impl std::error::Error for ExploreError {}

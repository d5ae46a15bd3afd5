//! A checked scenario: every name resolved against the model, every number
//! converted to the model's units (times to its time unit), every form
//! recognized. What remains is mechanical: the `mido` package lowers it to
//! the exploration engine's types and reads the files it names.
//!
//! Names stay strings because the engine takes names; they are known to
//! exist. Spans are kept where a later stage (reading a file) may still
//! need to point at the text.

use mido_grammar::Span;

/// A path written in the scenario, relative to the scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub model: FileRef,
    /// Parameter values from a fit's estimates.json; `None`: the model's own.
    pub params: Option<FileRef>,
    pub seed: u64,
    pub replicates: usize,
    pub between_subject: bool,
    pub residual: bool,
    /// Fixed effects drawn per replicate from their estimated covariance.
    pub parameter_uncertainty: bool,
    /// Grid step, in model time units.
    pub sampling: f64,
    /// Simulate at least until this time (model time units).
    pub horizon: Option<f64>,
    /// AUC by quadrature of the continuous solution instead of the
    /// linear-up/log-down trapezoid.
    pub exact_auc: bool,
    pub populations: Vec<Population>,
    pub regimens: Vec<Regimen>,
    pub metrics: Vec<Metric>,
    pub targets: Vec<Target>,
    pub comparisons: Vec<Comparison>,
    pub searches: Vec<Search>,
    /// Metrics summarized as probabilities (mean over subjects: the
    /// expected fraction responding).
    pub responses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub name: String,
    /// `None` for a resampled dataset without a size: one virtual subject
    /// per subject of the dataset.
    pub size: Option<usize>,
    pub source: CovariateSource,
    pub subgroups: Vec<Subgroup>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CovariateSource {
    Distributions {
        covariates: Vec<CovariateDraw>,
        correlations: Vec<Correlation>,
    },
    Dataset(FileRef),
}

/// A model covariate's distribution, in the covariate's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateDraw {
    pub name: String,
    pub distribution: Distribution,
    pub within: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Fixed(f64),
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        median: f64,
        cv: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Level names (as declared in the model; `true`/`false` for bool) and weights.
    Categorical(Vec<(String, f64)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub a: String,
    pub b: String,
    pub rho: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subgroup {
    pub name: String,
    /// The `when` in disjunctive normal form: a subject belongs when every
    /// condition of at least one alternative holds (`A and B or C` is
    /// `[[A, B], [C]]`).
    pub alternatives: Vec<Vec<Condition>>,
}

/// One condition of a subgroup on a covariate.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `from ≤ value < to` (open ends are infinite).
    Range {
        covariate: String,
        from: f64,
        to: f64,
    },
    /// The covariate has this level (`true`/`false` for bool).
    Level { covariate: String, level: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Regimen {
    pub name: String,
    /// Time of the first dose.
    pub start: f64,
    pub blocks: Vec<Block>,
    pub rule: Option<Rule>,
    /// End of the course (last block's end), model time units.
    pub end: f64,
    /// Whether the last dose is part of a repeated phase (so it has an
    /// interval and a steady state).
    pub repeats: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Phase(Phase),
    Cycle {
        length: f64,
        repeat: u32,
        phases: Vec<Phase>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub amount: Amount,
    pub into: String,
    pub interval: f64,
    pub doses: u32,
    pub infusion: Option<f64>,
}

/// A dose amount in the compartment's unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Fixed(f64),
    PerUnit {
        covariate: String,
        per_unit: f64,
    },
    /// `(from, amount)` in increasing `from`; the first band also takes
    /// every smaller value.
    Bands {
        covariate: String,
        bands: Vec<(f64, f64)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub variable: String,
    /// Above the limit (else below).
    pub above: bool,
    pub limit: f64,
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleAction {
    Skip,
    ReduceBy(f64),
    ScaleBy(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub variable: String,
    pub kind: MetricKind,
    pub window: Window,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    Max,
    Min,
    TimeOfMax,
    Trough,
    Auc,
    Average,
    TimeAbove(f64),
    TimeBelow(f64),
    ValueAt(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    FirstInterval,
    LastInterval,
    SteadyState,
    Whole,
    Range { from: f64, to: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Efficacy,
    Safety,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub metric: String,
    pub condition: TargetCondition,
    /// Required share of subjects, in (0, 1].
    pub fraction: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetCondition {
    AtLeast(f64),
    AtMost(f64),
    Between(f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub metric: String,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub name: String,
    pub regimen: String,
    pub population: String,
    pub efficacy: String,
    pub safety: String,
    pub space: SearchSpace,
    /// Candidate intervals of the regimen's last phase, in the model's
    /// time unit; empty to keep the regimen's.
    pub intervals: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchSpace {
    /// Doses in the first phase's unit.
    Continuous {
        lo: f64,
        hi: f64,
        tolerance: f64,
    },
    Strengths(Vec<f64>),
}

//! Dose exploration: virtual populations × candidate regimens → exposure
//! metrics, probability of target attainment, a recommended regimen,
//! exposure overlap between dose levels and subgroup exposure ratios; and
//! a dose search ([`optimize`]).
//!
//! This is the engine the `scenario` language lowers into: every concept is
//! a type ([`Scenario`], [`Population`], [`Regimen`], [`MetricSpec`],
//! [`Target`]) and every mistake a typed error ([`ExploreError`]). It
//! must not parse anything or touch files; the command line does both.
//!
//! # Randomness and reproducibility
//!
//! Every draw comes from a ChaCha8 stream named by what it draws
//! (covariates, random effects, residual errors, fixed effects), the
//! population, the replicate and the subject, derived from the scenario's
//! seed. Results are therefore identical whatever the number of threads
//! and whatever else the scenario contains, and the virtual subjects of a
//! population (covariates and random effects) are the same for every
//! regimen: common random numbers, so regimens are compared on the same
//! patients and differences between them are not sampling noise. Residual
//! errors use one stream per subject, also shared by the regimens.
//!
//! # Replicates and parameter uncertainty
//!
//! Each replicate is a new trial: new subjects and, with parameter
//! uncertainty, fixed effects drawn from their estimated covariance.
//! Percentiles pool the subjects of every replicate; attainment is reported
//! pooled, with the 5th–95th percentiles of the per-replicate fractions.
//!
//! # Modules
//!
//! `regimen` (dosing plans), `population` (covariates, subgroups), `params`
//! (parameter values and uncertainty), `sim` (one subject's event loop),
//! `metrics` (windows and exposure metrics), `targets` (attainment,
//! overlap, subgroup ratios), `optimize` (dose search), `results` (tables
//! and writers).

mod bands;
mod error;
mod metrics;
mod optimize;
mod params;
mod population;
mod regimen;
mod responses;
mod results;
mod sim;
mod targets;

pub use bands::{BandSpec, ProfileBands, MAX_BAND_BYTES};
pub use error::{ExploreError, PopulationError, RegimenError, SubjectFailure};
pub use metrics::{AucMethod, MetricKind, MetricOptions, MetricSpec, Window};
pub use optimize::{
    optimize, DoseSearch, IntervalOutcome, SearchOutcome, SearchPoint, SearchSpace,
};
pub use params::{EstimatesError, Parameters, ThetaCovariance};
pub use population::{
    Correlation, CovariateSource, CovariateSpec, Distribution, Population, Predicate, Subgroup,
};
pub use regimen::{
    Block, Comparison, DoseAmount, DoseBand, DoseCount, DoseRule, Phase, Regimen, RuleAction,
};
pub use responses::{Response, ResponseSummary};
pub use results::{
    quantile_sorted, Attainment, Exploration, MetricSummary, Recommendation, ResultRow,
    SubjectValues,
};
pub use targets::{overlap_share, Condition, Overlap, SubgroupRatio, Target, TargetKind};

use crate::model::{Model, RandomLevel};
use crate::random::{mix, LevelSampler};
use crate::solver::{SolverOptions, SolverStats};
use bands::BandPoint;
use metrics::{CompiledMetric, Profile};
use params::ThetaSampler;
use population::CompiledPopulation;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use regimen::{CompiledRegimen, PlannedDose};
use sim::{Course, Sim, VarSlot};
use std::sync::Mutex;

/// A complete exploration.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub parameters: Parameters,
    pub populations: Vec<Population>,
    pub regimens: Vec<Regimen>,
    pub metrics: Vec<MetricSpec>,
    pub targets: Vec<Target>,
    pub subgroup_comparisons: Vec<SubgroupComparison>,
    /// Exposure–response probabilities to report per row.
    pub responses: Vec<Response>,
    /// Percentile bands of variables over time, per regimen × population.
    pub bands: Vec<BandSpec>,
    pub variability: Variability,
    pub sampling: Sampling,
    pub options: EngineOptions,
    pub seed: u64,
}

/// Which sources of variability are simulated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variability {
    /// Random effects (subject level; occasion-level effects stay 0).
    pub between_subject: bool,
    /// Residual error on endpoint predictions.
    pub residual: bool,
    /// Fixed effects drawn per replicate from their covariance.
    pub parameter_uncertainty: bool,
    /// Simulated trials (≥ 1).
    pub replicates: usize,
}

impl Default for Variability {
    fn default() -> Self {
        Variability {
            between_subject: true,
            residual: false,
            parameter_uncertainty: false,
            replicates: 1,
        }
    }
}

/// The observation grid: every `step` from 0 to the end of the course (or
/// `end`, when later).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub step: f64,
    pub end: Option<f64>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            step: 1.0,
            end: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineOptions {
    /// Advance closed-form models analytically (otherwise their ODEs).
    pub closed_form: bool,
    pub solver: SolverOptions,
    pub metrics: MetricOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            closed_form: true,
            solver: SolverOptions::default(),
            metrics: MetricOptions::default(),
        }
    }
}

/// Exposure ratios of every subgroup of each population to `reference`
/// (one of its subgroups), on `metric`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgroupComparison {
    pub metric: String,
    pub reference: String,
}

/// Stream purposes: each kind of draw has its own family of streams.
#[derive(Clone, Copy)]
enum Purpose {
    Covariates = 1,
    Etas = 2,
    Residual = 3,
    Theta = 4,
}

/// The stream of one kind of draw for one population, replicate and subject.
fn stream(
    seed: u64,
    purpose: Purpose,
    population: usize,
    replicate: usize,
    subject: usize,
) -> ChaCha8Rng {
    let key = mix(seed ^ mix(purpose as u64 ^ mix(population as u64)));
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    rng.set_stream(((replicate as u64) << 32) | (subject as u64 & 0xFFFF_FFFF));
    rng
}

/// The virtual subjects of one population: all replicates, replicate-major.
struct Cohort {
    /// Fixed effects per replicate.
    theta: Vec<Vec<f64>>,
    per_replicate: usize,
    n_cov: usize,
    n_eta: usize,
    cov: Vec<f64>,
    eta: Vec<f64>,
}

impl Cohort {
    fn len(&self) -> usize {
        self.theta.len() * self.per_replicate
    }
    fn cov(&self, k: usize) -> &[f64] {
        &self.cov[k * self.n_cov..(k + 1) * self.n_cov]
    }
    fn eta(&self, k: usize) -> &[f64] {
        &self.eta[k * self.n_eta..(k + 1) * self.n_eta]
    }
}

/// A regimen made ready for simulation: its grid and resolved windows.
pub(crate) struct Plan {
    regimen: CompiledRegimen,
    grid: Vec<f64>,
    end: f64,
    metrics: Vec<CompiledMetric>,
    /// Per dose rule: index into the variables of what it reads.
    rule_vars: Vec<usize>,
    /// The last phase, for the steady-state window.
    ss_phase: Option<regimen::CompiledPhase>,
    /// Whether some metric evaluates the continuous solution between samples.
    keep_states: bool,
    /// Band times (empty when the scenario asks for no bands, and in a
    /// dose search).
    band_points: Vec<BandPoint>,
}

/// What simulating one regimen in one population gives.
pub(crate) struct Simulated {
    /// `subjects × metrics`.
    values: Vec<f64>,
    /// Amount administered to each subject.
    administered: Vec<f64>,
    /// `subjects × band_width`: per subject, each band variable's values
    /// at the band points (variable-major).
    profiles: Vec<f32>,
    band_width: usize,
}

/// A validated scenario with its subjects drawn.
pub(crate) struct Prepared<'m> {
    model: &'m dyn Model,
    scenario: &'m Scenario,
    vars: Vec<VarSlot>,
    /// Per metric: index into `vars`.
    metric_vars: Vec<usize>,
    populations: Vec<CompiledPopulation>,
    cohorts: Vec<Cohort>,
    /// Per target: index into the metrics.
    target_metrics: Vec<usize>,
    /// Per response: index into the metrics.
    response_metrics: Vec<usize>,
    /// Per band spec: index into `vars`.
    band_vars: Vec<usize>,
    /// ODE solver work of every simulation so far.
    solver_stats: Mutex<SolverStats>,
}

fn duplicate<'a>(
    kind: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ExploreError> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if seen.contains(&n) {
            return Err(ExploreError::DuplicateName {
                kind,
                name: n.to_string(),
            });
        }
        seen.push(n);
    }
    Ok(())
}

impl<'m> Prepared<'m> {
    pub(crate) fn new(model: &'m dyn Model, scenario: &'m Scenario) -> Result<Self, ExploreError> {
        let info = model.info();
        let s = scenario;
        let opt = |reason: &str| ExploreError::Options {
            reason: reason.to_string(),
        };
        if !(s.sampling.step.is_finite() && s.sampling.step > 0.0) {
            return Err(opt("the sampling step must be finite and > 0"));
        }
        if s.variability.replicates == 0 {
            return Err(opt("at least one replicate is needed"));
        }
        let p = &s.parameters;
        if p.theta.len() != info.thetas.len() || p.omega.len() != info.etas.len().pow(2) {
            return Err(ExploreError::Parameters {
                reason: format!(
                    "{} fixed effects and a {}×{} OMEGA expected, got {} values and {} entries",
                    info.thetas.len(),
                    info.etas.len(),
                    info.etas.len(),
                    p.theta.len(),
                    p.omega.len()
                ),
            });
        }
        duplicate("metric", s.metrics.iter().map(|m| m.name.as_str()))?;
        duplicate("target", s.targets.iter().map(|t| t.name.as_str()))?;
        duplicate("regimen", s.regimens.iter().map(|r| r.name.as_str()))?;
        duplicate("population", s.populations.iter().map(|r| r.name.as_str()))?;
        duplicate("response", s.responses.iter().map(|r| r.name.as_str()))?;

        // Variables: every metric's, then the rules'.
        let mut vars: Vec<VarSlot> = Vec::new();
        let mut var_of = |name: &str, context: String| -> Result<usize, ExploreError> {
            let slot = resolve_variable(model, name, s.variability.residual).ok_or_else(|| {
                ExploreError::UnknownVariable {
                    context,
                    name: name.to_string(),
                    candidates: info.outputs.clone(),
                }
            })?;
            Ok(match vars.iter().position(|v| *v == slot) {
                Some(i) => i,
                None => {
                    vars.push(slot);
                    vars.len() - 1
                }
            })
        };
        let metric_vars = s
            .metrics
            .iter()
            .map(|m| var_of(&m.variable, format!("metric `{}`", m.name)))
            .collect::<Result<Vec<_>, _>>()?;
        for r in &s.regimens {
            for (i, rule) in r.rules.iter().enumerate() {
                var_of(
                    &rule.variable,
                    format!("regimen `{}`: dose rule {}", r.name, i + 1),
                )?;
            }
        }
        let target_metrics = s
            .targets
            .iter()
            .map(|t| {
                if let Some(reason) = t.condition.impossible() {
                    return Err(ExploreError::ImpossibleTarget {
                        target: t.name.clone(),
                        reason,
                    });
                }
                if !(t.fraction > 0.0 && t.fraction <= 1.0) {
                    return Err(ExploreError::ImpossibleTarget {
                        target: t.name.clone(),
                        reason: "the required fraction must be in (0, 1]",
                    });
                }
                s.metrics
                    .iter()
                    .position(|m| m.name == t.metric)
                    .ok_or_else(|| ExploreError::UnknownMetric {
                        target: t.name.clone(),
                        metric: t.metric.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let band_vars = s
            .bands
            .iter()
            .map(|b| {
                if b.percentiles.is_empty() {
                    return Err(ExploreError::InvalidBand {
                        variable: b.variable.clone(),
                        reason: "no percentile is asked for",
                    });
                }
                if b.percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
                    return Err(ExploreError::InvalidBand {
                        variable: b.variable.clone(),
                        reason: "percentiles must be between 0 and 100",
                    });
                }
                var_of(&b.variable, format!("percentile bands of `{}`", b.variable))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let response_metrics = s
            .responses
            .iter()
            .map(|r| {
                s.metrics
                    .iter()
                    .position(|m| m.name == r.metric)
                    .ok_or_else(|| ExploreError::UnknownResponseMetric {
                        response: r.name.clone(),
                        metric: r.metric.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let populations = s
            .populations
            .iter()
            .map(|p| {
                p.compile(info).map_err(|source| ExploreError::Population {
                    population: p.name.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for c in &s.subgroup_comparisons {
            if !s.metrics.iter().any(|m| m.name == c.metric) {
                return Err(ExploreError::UnknownSubgroup {
                    name: c.metric.clone(),
                });
            }
            if !populations
                .iter()
                .any(|p| p.subgroups.iter().any(|(n, _)| *n == c.reference))
            {
                return Err(ExploreError::UnknownSubgroup {
                    name: c.reference.clone(),
                });
            }
        }
        let mut prepared = Prepared {
            model,
            scenario,
            vars,
            metric_vars,
            populations,
            cohorts: Vec::new(),
            target_metrics,
            response_metrics,
            band_vars,
            solver_stats: Mutex::new(SolverStats::default()),
        };
        // Validate every regimen and window before drawing anyone.
        for r in &s.regimens {
            prepared.plan(r)?;
        }
        prepared.cohorts = prepared.draw_cohorts()?;
        Ok(prepared)
    }

    /// Fixed effects per replicate, then each population's subjects.
    fn draw_cohorts(&self) -> Result<Vec<Cohort>, ExploreError> {
        let s = self.scenario;
        let info = self.model.info();
        let n_rep = s.variability.replicates;
        let p = &s.parameters;
        let thetas: Vec<Vec<f64>> = if s.variability.parameter_uncertainty {
            let cov = p
                .theta_covariance
                .as_ref()
                .ok_or_else(|| ExploreError::Parameters {
                    reason: "parameter uncertainty needs the covariance of the fixed effects \
                         (an estimates file from a fit with a covariance step)"
                        .into(),
                })?;
            let sampler = ThetaSampler::new(info, &p.theta, cov)
                .map_err(|reason| ExploreError::Parameters { reason })?;
            (0..n_rep)
                .map(|r| sampler.draw(&mut stream(s.seed, Purpose::Theta, 0, r, 0)))
                .collect::<Result<_, _>>()
                .map_err(|reason| ExploreError::Parameters { reason })?
        } else {
            vec![p.theta.clone(); n_rep]
        };
        let mut with_omega = info.clone();
        let ne = info.etas.len();
        for b in &mut with_omega.omegas {
            let k = b.etas.len();
            for (a, &ea) in b.etas.iter().enumerate() {
                for (c, &ec) in b.etas.iter().enumerate() {
                    b.covariance[a * k + c] = p.omega[ea * ne + ec];
                }
            }
        }
        let etas = LevelSampler::new(&with_omega, RandomLevel::Subject).map_err(|e| {
            ExploreError::Parameters {
                reason: format!(
                    "OMEGA is not positive semi-definite (at {})",
                    info.etas.get(e.eta).map_or("?", |x| x.name.as_str())
                ),
            }
        })?;
        let n_cov = info.covariates.len();
        self.populations
            .iter()
            .enumerate()
            .map(|(pi, pop)| {
                let n = pop.size;
                // One row per subject: its covariates, then its etas.
                let width = (n_cov + ne).max(1);
                let mut rows = vec![0.0; n_rep * n * width];
                let err = Mutex::new(None);
                rows.par_chunks_mut(width).enumerate().for_each_init(
                    || (Vec::new(), Vec::new()),
                    |(z, c), (k, row)| {
                        let (r, i) = (k / n, k % n);
                        let mut rng = stream(s.seed, Purpose::Covariates, pi, r, i);
                        match pop.draw(&mut rng, z, c) {
                            Ok(()) => row[..n_cov].copy_from_slice(c),
                            Err(e) => keep_first(&err, k, e),
                        }
                        if s.variability.between_subject {
                            let mut rng = stream(s.seed, Purpose::Etas, pi, r, i);
                            etas.draw(&mut rng, z, &mut row[n_cov..n_cov + ne]);
                        }
                    },
                );
                let mut cov = Vec::with_capacity(n_rep * n * n_cov);
                let mut eta = Vec::with_capacity(n_rep * n * ne);
                for row in rows.chunks(width) {
                    cov.extend_from_slice(&row[..n_cov]);
                    eta.extend_from_slice(&row[n_cov..n_cov + ne]);
                }
                if let Some((_, source)) = err.into_inner().unwrap_or(None) {
                    return Err(ExploreError::Population {
                        population: pop.name.clone(),
                        source,
                    });
                }
                Ok(Cohort {
                    theta: thetas.clone(),
                    per_replicate: n,
                    n_cov,
                    n_eta: ne,
                    cov,
                    eta,
                })
            })
            .collect()
    }

    /// The grid and resolved windows of a regimen.
    pub(crate) fn plan(&self, r: &Regimen) -> Result<Plan, ExploreError> {
        let regimen = r
            .compile(self.model.info())
            .map_err(|source| ExploreError::Regimen {
                regimen: r.name.clone(),
                source,
            })?;
        self.plan_compiled(regimen)
    }

    pub(crate) fn plan_compiled(&self, regimen: CompiledRegimen) -> Result<Plan, ExploreError> {
        let s = self.scenario;
        let end = regimen.end.max(s.sampling.end.unwrap_or(0.0));
        let rule_vars = regimen
            .rules
            .iter()
            .map(|rule| {
                resolve_variable(self.model, &rule.variable, s.variability.residual)
                    .and_then(|slot| self.vars.iter().position(|v| *v == slot))
                    .ok_or_else(|| ExploreError::UnknownVariable {
                        context: format!("regimen `{}`: dose rule", regimen.name),
                        name: rule.variable.clone(),
                        candidates: self.model.info().outputs.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut metrics = Vec::with_capacity(s.metrics.len());
        let mut bounds = Vec::new();
        for (m, &var) in s.metrics.iter().zip(&self.metric_vars) {
            let (from, to, steady_state) = match m.window {
                Window::FirstInterval => {
                    let (a, b) = regimen.first_interval();
                    (a, b, false)
                }
                Window::LastInterval => {
                    let (a, b) = regimen.last_interval();
                    (a, b, false)
                }
                Window::SteadyState => {
                    let (a, b) = regimen.last_interval();
                    (a, b, true)
                }
                Window::Whole => (0.0, end, false),
                Window::Range { from, to } => (from, to, false),
            };
            let outside = |from: f64, to: f64| ExploreError::WindowOutsideRegimen {
                metric: m.name.clone(),
                regimen: regimen.name.clone(),
                from,
                to,
                end,
            };
            if !(from >= 0.0 && to <= end * (1.0 + 1e-12) && to > from) {
                return Err(outside(from, to));
            }
            if let MetricKind::ValueAt(dt) = m.kind {
                if !(dt >= 0.0 && from + dt <= to) {
                    return Err(outside(from + dt, from + dt));
                }
            }
            bounds.push(from);
            bounds.push(to);
            metrics.push(CompiledMetric {
                var,
                kind: m.kind,
                from,
                to,
                steady_state,
            });
        }
        let step = s.sampling.step;
        let n = (end / step).floor() as usize;
        let mut grid: Vec<f64> = (0..=n).map(|k| k as f64 * step).collect();
        grid.push(end);
        grid.extend(bounds);
        grid.sort_by(f64::total_cmp);
        let tol = 1e-12 * end.max(1.0);
        grid.dedup_by(|a, b| (*a - *b).abs() <= tol);
        let ss_phase = metrics
            .iter()
            .any(|m| m.steady_state)
            .then(|| regimen.last_phase().cloned())
            .flatten();
        let opts = s.options.metrics;
        let keep_states = metrics.iter().any(|m| match m.kind {
            MetricKind::Max | MetricKind::Min | MetricKind::TimeOfMax => opts.refine_extrema,
            MetricKind::Auc | MetricKind::Average => opts.auc == AucMethod::Exact,
            MetricKind::ValueAt(_) => true,
            MetricKind::Trough | MetricKind::TimeAbove(_) | MetricKind::TimeBelow(_) => false,
        });
        let band_points = if s.bands.is_empty() {
            Vec::new()
        } else {
            let dose_times: Vec<f64> = regimen.doses.iter().map(|d| d.time).collect();
            bands::band_points(step, end, &dose_times)
        };
        Ok(Plan {
            regimen,
            grid,
            end,
            metrics,
            rule_vars,
            ss_phase,
            keep_states,
            band_points,
        })
    }

    /// Metric values, administered amounts and band profiles of every
    /// subject of population `pi` under `plan`.
    pub(crate) fn simulate(&self, plan: &Plan, pi: usize) -> Result<Simulated, ExploreError> {
        let s = self.scenario;
        let cohort = &self.cohorts[pi];
        let pop = &self.populations[pi];
        let n = cohort.len();
        let m = plan.metrics.len();
        let mut values = vec![f64::NAN; n * m];
        let mut administered = vec![0.0; n];
        let band_width = plan.band_points.len() * self.band_vars.len();
        let bytes = n
            .saturating_mul(band_width)
            .saturating_mul(std::mem::size_of::<f32>());
        if bytes > bands::MAX_BAND_BYTES {
            return Err(ExploreError::BandsTooLarge {
                regimen: plan.regimen.name.clone(),
                population: pop.name.clone(),
                bytes,
            });
        }
        // One slot per subject when there are no bands, so the chunks below
        // have a positive length.
        let mut profiles = vec![f32::NAN; n * band_width.max(1)];
        let err = Mutex::new(None);
        let course = Course {
            phases: &plan.regimen.phases,
            doses: &plan.regimen.doses,
            grid: &plan.grid,
            start: 0.0,
            end: plan.end,
            rules: &plan.regimen.rules,
            rule_vars: &plan.rule_vars,
            keep_states: plan.keep_states,
        };
        let opts = s.options;
        values
            .par_chunks_mut(m.max(1))
            .zip(administered.par_iter_mut())
            .zip(profiles.par_chunks_mut(band_width.max(1)))
            .enumerate()
            .for_each_init(
                || {
                    let sim =
                        Sim::new(self.model, opts.solver, opts.closed_form, self.vars.clone());
                    (
                        sim,
                        Profile::default(),
                        Profile::default(),
                        Profile::default(),
                        Vec::new(),
                    )
                },
                |(sim, main, ss, scratch, x0), (k, ((out, given), band_out))| {
                    let (r, i) = (k / cohort.per_replicate, k % cohort.per_replicate);
                    let before = sim.solver_stats();
                    let result = run_subject(
                        sim,
                        (main, ss, scratch, x0),
                        plan,
                        &course,
                        (&cohort.theta[r], cohort.eta(k), cohort.cov(k)),
                        s.variability
                            .residual
                            .then(|| stream(s.seed, Purpose::Residual, pi, r, i)),
                        &opts.metrics,
                        out,
                    );
                    if result.is_ok() && band_width > 0 {
                        bands::extract(main, &plan.band_points, &self.band_vars, band_out);
                    }
                    let after = sim.solver_stats();
                    if after != before {
                        if let Ok(mut total) = self.solver_stats.lock() {
                            total.add(&difference(&after, &before));
                        }
                    }
                    match result {
                        Ok(total) => *given = total,
                        Err((time, source)) => keep_first(
                            &err,
                            k,
                            ExploreError::Subject {
                                regimen: plan.regimen.name.clone(),
                                population: pop.name.clone(),
                                replicate: r,
                                subject: i,
                                time,
                                source,
                            },
                        ),
                    }
                },
            );
        match err.into_inner().unwrap_or(None) {
            Some((_, e)) => Err(e),
            None => Ok(Simulated {
                values,
                administered,
                profiles,
                band_width,
            }),
        }
    }

    /// Attainment of every target over the subjects `members` (indices).
    fn attainment(
        &self,
        values: &[f64],
        members: &[usize],
        n_rep: usize,
        per_rep: usize,
    ) -> Vec<Attainment> {
        let m = self.scenario.metrics.len();
        self.scenario
            .targets
            .iter()
            .zip(&self.target_metrics)
            .map(|(t, &mi)| {
                let hit = |k: usize| t.condition.holds(values[k * m + mi]);
                let total = members.iter().filter(|&&k| hit(k)).count();
                let fraction = total as f64 / members.len().max(1) as f64;
                let mut per: Vec<f64> = (0..n_rep)
                    .filter_map(|r| {
                        let ks = members.iter().filter(|&&k| k / per_rep == r);
                        let (mut a, mut b) = (0usize, 0usize);
                        for &k in ks {
                            b += 1;
                            a += usize::from(hit(k));
                        }
                        (b > 0).then(|| a as f64 / b as f64)
                    })
                    .collect();
                per.sort_by(f64::total_cmp);
                Attainment {
                    target: t.name.clone(),
                    kind: t.kind,
                    fraction,
                    required: t.fraction,
                    met: fraction >= t.fraction,
                    replicate_p5: quantile_sorted(&per, 0.05),
                    replicate_p95: quantile_sorted(&per, 0.95),
                }
            })
            .collect()
    }

    fn row(
        &self,
        regimen: &str,
        pi: usize,
        subgroup: Option<&str>,
        values: &[f64],
        administered: &[f64],
        members: &[usize],
    ) -> ResultRow {
        let s = self.scenario;
        let m = s.metrics.len();
        let mut scratch = Vec::with_capacity(members.len());
        let metrics = s
            .metrics
            .iter()
            .enumerate()
            .map(|(j, spec)| {
                results::summarize(
                    &spec.name,
                    members.iter().map(|&k| values[k * m + j]),
                    &mut scratch,
                )
            })
            .collect();
        let cohort = &self.cohorts[pi];
        let targets = self.attainment(values, members, cohort.theta.len(), cohort.per_replicate);
        let responses = s
            .responses
            .iter()
            .zip(&self.response_metrics)
            .map(|(r, &j)| {
                responses::summarize(
                    &r.name,
                    |k| values[k * m + j],
                    members,
                    cohort.theta.len(),
                    cohort.per_replicate,
                )
            })
            .collect();
        let total_dose =
            members.iter().map(|&k| administered[k]).sum::<f64>() / members.len().max(1) as f64;
        ResultRow {
            regimen: regimen.to_string(),
            population: self.populations[pi].name.clone(),
            subgroup: subgroup.map(str::to_string),
            subjects: members.len(),
            total_dose,
            meets_all_targets: targets.iter().all(|t: &Attainment| t.met),
            metrics,
            targets,
            responses,
        }
    }

    /// Every band spec's percentiles over `members` of a simulation.
    fn bands(
        &self,
        plan: &Plan,
        sim: &Simulated,
        pi: usize,
        subgroup: Option<&str>,
        members: &[usize],
    ) -> Vec<ProfileBands> {
        let np = plan.band_points.len();
        let times: Vec<f64> = plan.band_points.iter().map(|p| p.time).collect();
        self.scenario
            .bands
            .iter()
            .enumerate()
            .map(|(b, spec)| {
                let qs: Vec<f64> = spec.percentiles.iter().map(|p| p / 100.0).collect();
                ProfileBands {
                    regimen: plan.regimen.name.clone(),
                    population: self.populations[pi].name.clone(),
                    subgroup: subgroup.map(str::to_string),
                    variable: spec.variable.clone(),
                    subjects: members.len(),
                    percentiles: spec.percentiles.clone(),
                    times: times.clone(),
                    values: bands::percentiles(
                        &sim.profiles,
                        sim.band_width,
                        b * np,
                        np,
                        members,
                        &qs,
                    ),
                }
            })
            .collect()
    }

    /// Checks that every response metric holds probabilities.
    fn check_responses(
        &self,
        regimen: &str,
        pi: usize,
        values: &[f64],
    ) -> Result<(), ExploreError> {
        let m = self.scenario.metrics.len();
        for (r, &j) in self.scenario.responses.iter().zip(&self.response_metrics) {
            let column = values.iter().skip(j).step_by(m.max(1)).copied();
            if let Some(value) = responses::not_a_probability(column) {
                return Err(ExploreError::NotAProbability {
                    response: r.name.clone(),
                    regimen: regimen.to_string(),
                    population: self.populations[pi].name.clone(),
                    value,
                });
            }
        }
        Ok(())
    }
}

/// Counters of `after` minus those of `before`.
fn difference(after: &SolverStats, before: &SolverStats) -> SolverStats {
    SolverStats {
        accepted: after.accepted - before.accepted,
        rejected: after.rejected - before.rejected,
        rhs_evals: after.rhs_evals - before.rhs_evals,
        jac_evals: after.jac_evals - before.jac_evals,
        lu_decomps: after.lu_decomps - before.lu_decomps,
        stiff_switches: after.stiff_switches - before.stiff_switches,
    }
}

/// Keeps the error of the lowest subject index, so the error reported does
/// not depend on which thread failed first.
fn keep_first<E>(slot: &Mutex<Option<(usize, E)>>, k: usize, e: E) {
    if let Ok(mut g) = slot.lock() {
        if g.as_ref().is_none_or(|(j, _)| k < *j) {
            *g = Some((k, e));
        }
    }
}

/// The `observe` slot a name refers to: an output, else an endpoint's
/// prediction (with its residual error when `residual`).
fn resolve_variable(model: &dyn Model, name: &str, residual: bool) -> Option<VarSlot> {
    let info = model.info();
    if let Some(slot) = info.outputs.iter().position(|o| o == name) {
        return Some(VarSlot { slot, error: None });
    }
    let e = info.endpoints.iter().find(|e| e.name == name)?;
    Some(VarSlot {
        slot: e.prediction,
        error: residual.then(|| (e.error_model, e.error_params())),
    })
}

/// Simulates one subject and evaluates every metric into `out`; returns
/// the amount administered.
#[allow(clippy::too_many_arguments)]
fn run_subject(
    sim: &mut Sim,
    (main, ss, scratch, x0): (&mut Profile, &mut Profile, &mut Profile, &mut Vec<f64>),
    plan: &Plan,
    course: &Course,
    (theta, eta, cov): (&[f64], &[f64], &[f64]),
    mut residual: Option<ChaCha8Rng>,
    opts: &MetricOptions,
    out: &mut [f64],
) -> Result<f64, sim::Failure> {
    sim.subject(theta, eta, cov);
    sim.run(course, None, main, residual.as_mut())?;
    let administered = sim.administered;
    if let Some(phase) = &plan.ss_phase {
        let (start, end) = plan.regimen.last_interval();
        let phases = std::slice::from_ref(phase);
        sim.steady_state(phases, start, scratch, x0)?;
        let dose = [PlannedDose {
            time: start,
            phase: 0,
        }];
        let ss_course = Course {
            phases,
            doses: &dose,
            grid: course.grid,
            start,
            end,
            rules: &[],
            rule_vars: &[],
            keep_states: course.keep_states,
        };
        sim.run(&ss_course, Some(x0), ss, residual.as_mut())?;
    }
    for (m, o) in plan.metrics.iter().zip(out.iter_mut()) {
        let profile: &Profile = if m.steady_state { ss } else { main };
        *o = metrics::evaluate(m, profile, sim, opts)?;
    }
    Ok(administered)
}

/// Runs every regimen in every population and reports.
pub fn explore(model: &dyn Model, scenario: &Scenario) -> Result<Exploration, ExploreError> {
    explore_with_progress(model, scenario, &mut |_, _| {})
}

/// [`explore`], calling `progress(done, total)` after each regimen ×
/// population is simulated (for a progress bar).
pub fn explore_with_progress(
    model: &dyn Model,
    scenario: &Scenario,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Exploration, ExploreError> {
    let prepared = Prepared::new(model, scenario)?;
    let s = scenario;
    let total = s.regimens.len() * prepared.populations.len();
    let mut done = 0;
    let mut rows = Vec::new();
    let mut all_values = Vec::new();
    let mut subgroup_ratios = Vec::new();
    let mut all_bands = Vec::new();
    for r in &s.regimens {
        let plan = prepared.plan(r)?;
        for (pi, pop) in prepared.populations.iter().enumerate() {
            let simulated = prepared.simulate(&plan, pi)?;
            prepared.check_responses(&r.name, pi, &simulated.values)?;
            done += 1;
            progress(done, total);
            let cohort = &prepared.cohorts[pi];
            let everyone: Vec<usize> = (0..cohort.len()).collect();
            let members: Vec<Vec<usize>> = (0..pop.subgroups.len())
                .map(|g| {
                    (0..cohort.len())
                        .filter(|&k| pop.in_subgroup(g, cohort.cov(k)))
                        .collect()
                })
                .collect();
            all_bands.extend(prepared.bands(&plan, &simulated, pi, None, &everyone));
            for ((name, _), ks) in pop.subgroups.iter().zip(&members) {
                all_bands.extend(prepared.bands(&plan, &simulated, pi, Some(name), ks));
            }
            let Simulated {
                values,
                administered,
                ..
            } = simulated;
            rows.push(prepared.row(&r.name, pi, None, &values, &administered, &everyone));
            for ((name, _), ks) in pop.subgroups.iter().zip(&members) {
                rows.push(prepared.row(&r.name, pi, Some(name), &values, &administered, ks));
            }
            let m = s.metrics.len();
            for c in &s.subgroup_comparisons {
                let (Some(mi), Some(ref_g)) = (
                    s.metrics.iter().position(|x| x.name == c.metric),
                    pop.subgroups.iter().position(|(n, _)| *n == c.reference),
                ) else {
                    continue;
                };
                for (g, (name, _)) in pop
                    .subgroups
                    .iter()
                    .enumerate()
                    .filter(|(g, _)| *g != ref_g)
                {
                    let of =
                        |ks: &[usize]| ks.iter().map(|&k| values[k * m + mi]).collect::<Vec<_>>();
                    let Some((gmr, ci, n)) =
                        targets::gmr(of(&members[g]).into_iter(), of(&members[ref_g]).into_iter())
                    else {
                        continue;
                    };
                    let (within_band, dose_factor, dose_factor_range) = targets::band(gmr, ci);
                    subgroup_ratios.push(SubgroupRatio {
                        regimen: r.name.clone(),
                        population: pop.name.clone(),
                        metric: c.metric.clone(),
                        subgroup: name.clone(),
                        reference: c.reference.clone(),
                        subjects: n,
                        gmr,
                        ci90: ci,
                        within_band,
                        dose_factor,
                        dose_factor_range,
                    });
                }
            }
            all_values.push(SubjectValues {
                regimen: r.name.clone(),
                population: pop.name.clone(),
                metric_names: s.metrics.iter().map(|m| m.name.clone()).collect(),
                metrics: values,
                administered,
                covariates: cohort.cov.clone(),
                replicates: cohort.theta.len(),
            });
        }
    }
    let recommendations = prepared
        .populations
        .iter()
        .map(|pop| {
            let whole = || {
                rows.iter()
                    .filter(|r| r.population == pop.name && r.subgroup.is_none())
            };
            let meeting_all: Vec<String> = whole()
                .filter(|r| r.meets_all_targets)
                .map(|r| r.regimen.clone())
                .collect();
            let regimen = whole()
                .filter(|r| r.meets_all_targets)
                .min_by(|a, b| a.total_dose.total_cmp(&b.total_dose))
                .map(|r| r.regimen.clone());
            Recommendation {
                population: pop.name.clone(),
                regimen,
                meeting_all,
            }
        })
        .collect();
    let mut overlap = Vec::new();
    for pop in &prepared.populations {
        let mut whole: Vec<&ResultRow> = rows
            .iter()
            .filter(|r| r.population == pop.name && r.subgroup.is_none())
            .collect();
        whole.sort_by(|a, b| a.total_dose.total_cmp(&b.total_dose));
        for (j, spec) in s.metrics.iter().enumerate() {
            for w in whole.windows(2) {
                let (a, b) = (&w[0].metrics[j], &w[1].metrics[j]);
                overlap.push(Overlap {
                    population: pop.name.clone(),
                    metric: spec.name.clone(),
                    lower: w[0].regimen.clone(),
                    upper: w[1].regimen.clone(),
                    share: overlap_share((a.p5, a.p95), (b.p5, b.p95)),
                });
            }
        }
    }
    Ok(Exploration {
        rows,
        recommendations,
        overlap,
        subgroup_ratios,
        bands: all_bands,
        values: all_values,
        solver_stats: prepared.solver_stats.into_inner().unwrap_or_default(),
    })
}

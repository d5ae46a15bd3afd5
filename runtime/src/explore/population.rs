//! Virtual populations: covariates of `n` subjects, drawn from
//! distributions or resampled from a dataset, and named subgroups.
//!
//! # Drawing
//!
//! Continuous covariates (normal, log-normal, uniform) are coupled by a
//! Gaussian copula: one standard normal `zᵢ` per continuous covariate,
//! correlated as `z = L·u` with `L` the Cholesky factor of the correlation
//! matrix, then each mapped through its marginal (`mean + sd·z`,
//! `median·exp(σ·z)` with `σ² = ln(1 + cv²)`, `lo + (hi − lo)·Φ(z)`), so
//! each covariate keeps its distribution and the pair keeps a rank
//! correlation close to ρ. Categorical covariates are drawn independently
//! from their weights. A truncated covariate (`within (lo, hi)`) rejects
//! the whole draw and draws again, so correlated covariates stay consistent
//! with the constraint; after [`MAX_TRIES`] rejections the population is an
//! error rather than a silently different distribution.
//!
//! Draw order per subject (its own random stream): the continuous normals in
//! the order the covariates are listed, then one uniform per categorical
//! covariate; repeated whole on rejection.

use super::error::PopulationError;
use crate::data::Dataset;
use crate::model::{CovariateKind, ModelInfo};
use crate::random::cholesky;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

/// Most draws tried for one subject before truncation is an error.
pub const MAX_TRIES: usize = 1000;

/// A named population of `size` virtual subjects.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub name: String,
    pub size: usize,
    pub covariates: CovariateSource,
    pub subgroups: Vec<Subgroup>,
}

/// Where covariates come from.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariateSource {
    Distributions {
        covariates: Vec<CovariateSpec>,
        correlations: Vec<Correlation>,
    },
    /// Each subject takes the baseline covariates (first record) of a
    /// subject of the dataset drawn uniformly with replacement.
    Resample(Dataset),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CovariateSpec {
    pub name: String,
    pub distribution: Distribution,
    /// Truncation to the open interval `(lo, hi)`.
    pub within: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Distribution {
    Fixed(f64),
    Normal {
        mean: f64,
        sd: f64,
    },
    /// `median·exp(σ·z)`, `σ² = ln(1 + cv²)` (cv as a fraction).
    LogNormal {
        median: f64,
        cv: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Levels (by name, or a number for a real covariate) and weights
    /// (normalized; need not sum to 1).
    Categorical(Vec<(String, f64)>),
}

/// Correlation (Gaussian copula) between two continuous covariates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    pub a: String,
    pub b: String,
    pub rho: f64,
}

/// A named part of a population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subgroup {
    pub name: String,
    pub predicate: Predicate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Predicate {
    /// `from ≤ covariate < to`.
    Range {
        covariate: String,
        from: f64,
        to: f64,
    },
    /// The covariate equals a level (a name, or a number).
    Level { covariate: String, level: String },
    /// Every predicate holds.
    All(Vec<Predicate>),
    /// At least one predicate holds.
    Any(Vec<Predicate>),
}

#[derive(Debug, Clone, PartialEq)]
enum Marginal {
    Fixed(f64),
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        median: f64,
        sigma: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Codes with cumulative probabilities.
    Categorical(Vec<(f64, f64)>),
}

#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    /// Index into the model's covariates.
    index: usize,
    marginal: Marginal,
    within: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Draw {
        /// Continuous columns first (in copula order), then categorical.
        columns: Vec<Column>,
        n_continuous: usize,
        /// Lower Cholesky factor of the copula's correlation matrix.
        chol: Vec<f64>,
    },
    Resample(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CompiledPredicate {
    Range { index: usize, from: f64, to: f64 },
    Equals { index: usize, value: f64 },
    All(Vec<CompiledPredicate>),
    Any(Vec<CompiledPredicate>),
}

impl CompiledPredicate {
    pub fn holds(&self, cov: &[f64]) -> bool {
        match self {
            CompiledPredicate::Range { index, from, to } => {
                cov.get(*index).is_some_and(|x| *from <= *x && *x < *to)
            }
            CompiledPredicate::Equals { index, value } => cov.get(*index) == Some(value),
            CompiledPredicate::All(ps) => ps.iter().all(|p| p.holds(cov)),
            CompiledPredicate::Any(ps) => ps.iter().any(|p| p.holds(cov)),
        }
    }
}

/// A validated population.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledPopulation {
    pub name: String,
    pub size: usize,
    pub subgroups: Vec<(String, CompiledPredicate)>,
    n_cov: usize,
    source: Source,
}

fn model_covariate(info: &ModelInfo, name: &str) -> Option<usize> {
    info.covariates
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

/// The code of a level name for a covariate.
fn level_code(info: &ModelInfo, index: usize, level: &str) -> Option<f64> {
    match &info.covariates.get(index)?.kind {
        CovariateKind::Category(levels) => levels
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(level))
            .map(|(_, c)| *c)
            .or_else(|| level.parse().ok()),
        CovariateKind::Bool => match level.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(1.0),
            "false" | "no" | "0" => Some(0.0),
            _ => None,
        },
        CovariateKind::Real => level.parse().ok(),
    }
}

fn compile_predicate(
    info: &ModelInfo,
    subgroup: &str,
    p: &Predicate,
) -> Result<CompiledPredicate, PopulationError> {
    let index = |name: &str| {
        model_covariate(info, name).ok_or_else(|| PopulationError::UnknownSubgroupCovariate {
            subgroup: subgroup.to_string(),
            name: name.to_string(),
        })
    };
    Ok(match p {
        Predicate::Range {
            covariate,
            from,
            to,
        } => CompiledPredicate::Range {
            index: index(covariate)?,
            from: *from,
            to: *to,
        },
        Predicate::Level { covariate, level } => {
            let i = index(covariate)?;
            CompiledPredicate::Equals {
                index: i,
                value: level_code(info, i, level).ok_or_else(|| PopulationError::UnknownLevel {
                    name: covariate.clone(),
                    level: level.clone(),
                })?,
            }
        }
        Predicate::All(ps) => CompiledPredicate::All(
            ps.iter()
                .map(|p| compile_predicate(info, subgroup, p))
                .collect::<Result<_, _>>()?,
        ),
        Predicate::Any(ps) => CompiledPredicate::Any(
            ps.iter()
                .map(|p| compile_predicate(info, subgroup, p))
                .collect::<Result<_, _>>()?,
        ),
    })
}

impl Population {
    pub(crate) fn compile(&self, info: &ModelInfo) -> Result<CompiledPopulation, PopulationError> {
        if self.size == 0 {
            return Err(PopulationError::Empty);
        }
        let n_cov = info.covariates.len();
        let source = match &self.covariates {
            CovariateSource::Resample(data) => {
                if data.subjects.is_empty() {
                    return Err(PopulationError::Dataset {
                        reason: format!("{} has no subject", data.source),
                    });
                }
                let rows: Vec<Vec<f64>> =
                    data.subjects.iter().map(|s| s.covariates.clone()).collect();
                if rows.iter().any(|r| r.len() != n_cov) {
                    return Err(PopulationError::Dataset {
                        reason: format!(
                            "{} was read for a model with other covariates",
                            data.source
                        ),
                    });
                }
                Source::Resample(rows)
            }
            CovariateSource::Distributions {
                covariates,
                correlations,
            } => compile_distributions(info, covariates, correlations)?,
        };
        let subgroups = self
            .subgroups
            .iter()
            .map(|s| {
                Ok((
                    s.name.clone(),
                    compile_predicate(info, &s.name, &s.predicate)?,
                ))
            })
            .collect::<Result<_, PopulationError>>()?;
        Ok(CompiledPopulation {
            name: self.name.clone(),
            size: self.size,
            subgroups,
            n_cov,
            source,
        })
    }
}

fn compile_distributions(
    info: &ModelInfo,
    specs: &[CovariateSpec],
    correlations: &[Correlation],
) -> Result<Source, PopulationError> {
    let mut seen = vec![false; info.covariates.len()];
    let mut continuous = Vec::new();
    let mut categorical = Vec::new();
    for spec in specs {
        let index =
            model_covariate(info, &spec.name).ok_or_else(|| PopulationError::UnknownCovariate {
                name: spec.name.clone(),
            })?;
        if std::mem::replace(&mut seen[index], true) {
            return Err(PopulationError::DuplicateCovariate {
                name: spec.name.clone(),
            });
        }
        let bad = |reason| PopulationError::InvalidDistribution {
            name: spec.name.clone(),
            reason,
        };
        if let Some((lo, hi)) = spec.within {
            if lo.is_nan() || hi.is_nan() || lo >= hi {
                return Err(bad("a truncation range needs lo < hi"));
            }
        }
        let finite = |x: f64| x.is_finite();
        let marginal = match &spec.distribution {
            Distribution::Fixed(x) if finite(*x) => Marginal::Fixed(*x),
            Distribution::Fixed(_) => return Err(bad("a fixed value must be finite")),
            Distribution::Normal { mean, sd } if finite(*mean) && finite(*sd) && *sd >= 0.0 => {
                Marginal::Normal {
                    mean: *mean,
                    sd: *sd,
                }
            }
            Distribution::Normal { .. } => {
                return Err(bad("a normal needs a finite mean and sd ≥ 0"))
            }
            Distribution::LogNormal { median, cv }
                if finite(*median) && *median > 0.0 && finite(*cv) && *cv >= 0.0 =>
            {
                Marginal::LogNormal {
                    median: *median,
                    sigma: cv.mul_add(*cv, 1.0).ln().sqrt(),
                }
            }
            Distribution::LogNormal { .. } => {
                return Err(bad("a log-normal needs a median > 0 and a cv ≥ 0"))
            }
            Distribution::Uniform { lo, hi } if finite(*lo) && finite(*hi) && lo < hi => {
                Marginal::Uniform { lo: *lo, hi: *hi }
            }
            Distribution::Uniform { .. } => return Err(bad("a uniform needs finite lo < hi")),
            Distribution::Categorical(levels) => {
                let total: f64 = levels.iter().map(|(_, w)| *w).sum();
                if levels.iter().any(|(_, w)| !(w.is_finite() && *w >= 0.0))
                    || total.is_nan()
                    || total <= 0.0
                {
                    return Err(bad("categorical weights must be ≥ 0 with a positive sum"));
                }
                let mut cum = 0.0;
                let mut out = Vec::with_capacity(levels.len());
                for (name, w) in levels {
                    let code = level_code(info, index, name).ok_or_else(|| {
                        PopulationError::UnknownLevel {
                            name: spec.name.clone(),
                            level: name.clone(),
                        }
                    })?;
                    cum += w / total;
                    out.push((code, cum));
                }
                Marginal::Categorical(out)
            }
        };
        let column = Column {
            name: spec.name.clone(),
            index,
            marginal,
            within: spec.within,
        };
        if matches!(column.marginal, Marginal::Categorical(_)) {
            categorical.push(column);
        } else {
            continuous.push(column);
        }
    }
    if let Some(c) = info.covariates.iter().zip(&seen).find(|(_, s)| !**s) {
        return Err(PopulationError::MissingCovariate {
            name: c.0.name.clone(),
        });
    }
    let k = continuous.len();
    let mut r = vec![0.0; k * k];
    for i in 0..k {
        r[i * k + i] = 1.0;
    }
    for c in correlations {
        let bad = |reason| PopulationError::InvalidCorrelation {
            a: c.a.clone(),
            b: c.b.clone(),
            reason,
        };
        let pos = |name: &str| {
            let index = model_covariate(info, name)?;
            continuous.iter().position(|col| col.index == index)
        };
        let (Some(i), Some(j)) = (pos(&c.a), pos(&c.b)) else {
            return Err(bad("both covariates must have continuous distributions"));
        };
        if i == j || !(c.rho > -1.0 && c.rho < 1.0) {
            return Err(bad(
                "ρ must lie in (-1, 1) between two different covariates",
            ));
        }
        r[i * k + j] = c.rho;
        r[j * k + i] = c.rho;
    }
    let chol = cholesky(&r, k).map_err(|_| PopulationError::InvalidCorrelation {
        a: correlations
            .first()
            .map_or_else(String::new, |c| c.a.clone()),
        b: correlations
            .first()
            .map_or_else(String::new, |c| c.b.clone()),
        reason: "the correlation matrix is not positive definite",
    })?;
    if (0..k).any(|i| chol[i * k + i] <= 0.0) {
        return Err(PopulationError::InvalidCorrelation {
            a: correlations
                .first()
                .map_or_else(String::new, |c| c.a.clone()),
            b: correlations
                .first()
                .map_or_else(String::new, |c| c.b.clone()),
            reason: "the correlation matrix is singular",
        });
    }
    continuous.extend(categorical);
    Ok(Source::Draw {
        columns: continuous,
        n_continuous: k,
        chol,
    })
}

impl CompiledPopulation {
    /// Draws one subject's covariates (model order) into `cov`; `z` is scratch.
    pub fn draw<R: Rng>(
        &self,
        rng: &mut R,
        z: &mut Vec<f64>,
        cov: &mut Vec<f64>,
    ) -> Result<(), PopulationError> {
        cov.clear();
        cov.resize(self.n_cov, 0.0);
        match &self.source {
            Source::Resample(rows) => {
                let i = rng.random_range(0..rows.len());
                cov.copy_from_slice(&rows[i]);
                Ok(())
            }
            Source::Draw {
                columns,
                n_continuous,
                chol,
            } => {
                let k = *n_continuous;
                let mut worst: Option<usize> = None;
                for _ in 0..MAX_TRIES {
                    z.clear();
                    z.extend((0..k).map(|_| rng.sample::<f64, _>(StandardNormal)));
                    let mut ok = true;
                    for (a, col) in columns.iter().enumerate() {
                        let x = if a < k {
                            let row = &chol[a * k..a * k + a + 1];
                            let za: f64 = row.iter().zip(z.iter()).map(|(l, z)| l * z).sum();
                            col.marginal.of_normal(za)
                        } else {
                            col.marginal.of_uniform(rng.random::<f64>())
                        };
                        cov[col.index] = x;
                        if let Some((lo, hi)) = col.within {
                            if !(lo < x && x < hi) && ok {
                                ok = false;
                                worst = Some(a);
                            }
                        }
                    }
                    if ok {
                        return Ok(());
                    }
                }
                let col = worst.and_then(|a| columns.get(a));
                let (lo, hi) = col.and_then(|c| c.within).unwrap_or((f64::NAN, f64::NAN));
                Err(PopulationError::Truncation {
                    name: col.map_or_else(String::new, |c| c.name.clone()),
                    lo,
                    hi,
                    tries: MAX_TRIES,
                })
            }
        }
    }

    /// Whether a subject with covariates `cov` is in subgroup `g`.
    pub fn in_subgroup(&self, g: usize, cov: &[f64]) -> bool {
        self.subgroups.get(g).is_some_and(|(_, p)| p.holds(cov))
    }
}

impl Marginal {
    fn of_normal(&self, z: f64) -> f64 {
        match *self {
            Marginal::Fixed(x) => x,
            Marginal::Normal { mean, sd } => mean + sd * z,
            Marginal::LogNormal { median, sigma } => median * (sigma * z).exp(),
            Marginal::Uniform { lo, hi } => lo + (hi - lo) * normal_cdf(z),
            Marginal::Categorical(_) => f64::NAN,
        }
    }

    fn of_uniform(&self, u: f64) -> f64 {
        match self {
            Marginal::Categorical(levels) => levels
                .iter()
                .find(|(_, cum)| u < *cum)
                .or(levels.last())
                .map_or(f64::NAN, |(code, _)| *code),
            _ => f64::NAN,
        }
    }
}

/// Φ(z) = erfc(−z/√2)/2, erfc by the Chebyshev fit of Numerical Recipes
/// (`erfcc`, relative error below 1.2e-7 everywhere): ample for mapping a
/// normal to a uniform covariate.
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-1.644_853_626_951_472_2) - 0.05).abs() < 1e-7);
    }
}

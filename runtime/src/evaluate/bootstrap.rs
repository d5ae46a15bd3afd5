//! The case (subject) bootstrap: datasets resampled by subject, with
//! replacement, optionally within strata; and the summary of the refits.
//!
//! # Reproducibility
//!
//! Replicate `r` draws its subjects from its own ChaCha8 stream, derived
//! from the seed and `r` alone. A replicate's dataset therefore does not
//! depend on the number of replicates, on which ones ran before it, on
//! threads or on how the work was split into shards: an interrupted run
//! resumed later, or a bootstrap split across machines and merged, gives
//! exactly the datasets (and, fits being deterministic, the estimates) of
//! one uninterrupted run.

use crate::data::{Dataset, Subject};
use crate::explore::quantile_sorted;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// How replicate datasets are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resampling {
    pub seed: u64,
    /// Index into the model's covariates: each stratum (distinct value of
    /// the covariate on a subject's first record) keeps its size.
    pub stratum: Option<usize>,
}

/// Why a dataset cannot be bootstrapped.
#[derive(Debug, Clone, PartialEq)]
pub enum ResampleError {
    NoSubjects,
    /// The stratification covariate is missing on some subject.
    MissingStratum {
        subject: String,
    },
    StratumOutOfRange {
        index: usize,
        covariates: usize,
    },
}

impl std::fmt::Display for ResampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResampleError::NoSubjects => write!(f, "the dataset has no subjects to resample"),
            ResampleError::MissingStratum { subject } => write!(
                f,
                "subject {subject} has no value of the stratification covariate on its first record"
            ),
            ResampleError::StratumOutOfRange { index, covariates } => write!(
                f,
                "stratification covariate {index} does not exist (the model has {covariates})"
            ),
        }
    }
}

impl std::error::Error for ResampleError {}

/// The subjects of each stratum, in file order, strata ordered by value.
fn strata(data: &Dataset, stratum: Option<usize>) -> Result<Vec<Vec<usize>>, ResampleError> {
    if data.subjects.is_empty() {
        return Err(ResampleError::NoSubjects);
    }
    let Some(c) = stratum else {
        return Ok(vec![(0..data.subjects.len()).collect()]);
    };
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, s) in data.subjects.iter().enumerate() {
        let v = *s
            .covariates
            .get(c)
            .ok_or(ResampleError::StratumOutOfRange {
                index: c,
                covariates: s.covariates.len(),
            })?;
        if !v.is_finite() {
            return Err(ResampleError::MissingStratum {
                subject: s.label.clone(),
            });
        }
        // Order strata by value (total order on the bits of finite values
        // after mapping −0 to +0).
        let key = (v + 0.0).to_bits() ^ if v < 0.0 { u64::MAX } else { 1 << 63 };
        groups.entry(key).or_default().push(i);
    }
    Ok(groups.into_values().collect())
}

/// The stream of replicate `r`.
fn stream(seed: u64, replicate: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(replicate as u64);
    rng
}

/// Indices (into `data.subjects`) of the subjects of replicate `r`:
/// stratum by stratum, each stratum's size drawn uniformly with
/// replacement.
pub fn draw(
    data: &Dataset,
    how: Resampling,
    replicate: usize,
) -> Result<Vec<usize>, ResampleError> {
    let groups = strata(data, how.stratum)?;
    let mut rng = stream(how.seed, replicate);
    let mut picked = Vec::with_capacity(data.subjects.len());
    for g in &groups {
        for _ in 0..g.len() {
            picked.push(g[rng.random_range(0..g.len())]);
        }
    }
    Ok(picked)
}

/// The dataset of replicate `r`: the drawn subjects, renumbered `1..n` in
/// draw order (a subject drawn twice is two independent subjects), each
/// labeled with its original ID for messages.
pub fn resample(
    data: &Dataset,
    how: Resampling,
    replicate: usize,
) -> Result<Dataset, ResampleError> {
    let picked = draw(data, how, replicate)?;
    let subjects = picked
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let s = &data.subjects[i];
            Subject {
                id: (k + 1) as f64,
                label: format!(
                    "{} (draw {} of replicate {})",
                    s.label,
                    k + 1,
                    replicate + 1
                ),
                records: s.records.clone(),
                covariates: s.covariates.clone(),
            }
        })
        .collect();
    Ok(Dataset {
        source: format!("{} (bootstrap replicate {})", data.source, replicate + 1),
        subjects,
    })
}

/// How one refit ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The search converged: the estimates enter the summary.
    Converged { ofv: f64, estimates: Vec<f64> },
    /// The search stopped otherwise (iteration limit, rounding errors);
    /// reported, but not in the confidence intervals.
    Stopped {
        ofv: f64,
        estimates: Vec<f64>,
        status: String,
    },
    /// The fit could not run.
    Failed { error: String },
}

/// One parameter's bootstrap distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSummary {
    pub name: String,
    /// The estimate on the original data.
    pub original: f64,
    pub median: f64,
    pub mean: f64,
    /// Standard deviation of the bootstrap estimates: the bootstrap SE.
    pub se: f64,
    /// 2.5th and 97.5th percentiles: the 95% percentile interval.
    pub ci95: (f64, f64),
    /// 5th and 95th percentiles: the 90% percentile interval.
    pub ci90: (f64, f64),
    /// Relative difference of the median from the original, percent.
    pub bias_percent: f64,
}

/// The summary of a bootstrap: one row per estimated parameter, from the
/// converged replicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub replicates: usize,
    pub converged: usize,
    pub stopped: usize,
    pub failed: usize,
    pub parameters: Vec<ParameterSummary>,
}

impl Summary {
    /// Share of replicates whose search converged.
    pub fn success_rate(&self) -> f64 {
        if self.replicates == 0 {
            0.0
        } else {
            self.converged as f64 / self.replicates as f64
        }
    }
}

/// Percentile intervals (linear interpolation between order statistics,
/// R's type 7) from the converged replicates.
pub fn summarize(names: &[String], original: &[f64], outcomes: &[Outcome]) -> Summary {
    let mut converged = 0;
    let mut stopped = 0;
    let mut failed = 0;
    for o in outcomes {
        match o {
            Outcome::Converged { .. } => converged += 1,
            Outcome::Stopped { .. } => stopped += 1,
            Outcome::Failed { .. } => failed += 1,
        }
    }
    let mut values = Vec::new();
    let parameters = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            values.clear();
            values.extend(outcomes.iter().filter_map(|o| match o {
                Outcome::Converged { estimates, .. } => estimates.get(j).copied(),
                _ => None,
            }));
            values.retain(|v| v.is_finite());
            values.sort_by(f64::total_cmp);
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let se = if values.len() > 1 {
                (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                f64::NAN
            };
            let q = |p| quantile_sorted(&values, p);
            let orig = original.get(j).copied().unwrap_or(f64::NAN);
            let median = q(0.5);
            ParameterSummary {
                name: name.clone(),
                original: orig,
                median,
                mean,
                se,
                ci95: (q(0.025), q(0.975)),
                ci90: (q(0.05), q(0.95)),
                bias_percent: 100.0 * (median - orig) / orig.abs(),
            }
        })
        .collect();
    Summary {
        replicates: outcomes.len(),
        converged,
        stopped,
        failed,
        parameters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSpec;

    fn data(n: usize) -> Dataset {
        let mut text = String::from("ID,TIME,AMT,DV,GRP\n");
        for i in 1..=n {
            let grp = if i <= n / 3 { 1 } else { 2 };
            text.push_str(&format!("{i},0,100,.,{grp}\n{i},1,.,{}.5,{grp}\n", i));
        }
        let spec = DataSpec {
            covariates: vec![crate::model::CovariateInfo {
                name: "GRP".into(),
                kind: crate::model::CovariateKind::Real,
                time_varying: false,
                locf: false,
            }],
            states: vec![crate::model::StateInfo {
                name: "central".into(),
                dosable: true,
            }],
            needs_occasion: false,
            endpoints: Vec::new(),
        };
        Dataset::parse(&text, "test", &spec).expect("valid")
    }

    #[test]
    fn replicates_depend_only_on_seed_and_index() {
        let d = data(12);
        let how = Resampling {
            seed: 7,
            stratum: None,
        };
        let a = draw(&d, how, 3).expect("draws");
        let b = draw(&d, how, 3).expect("draws");
        assert_eq!(a, b);
        assert_ne!(a, draw(&d, how, 4).expect("draws"));
        assert_eq!(a.len(), 12);
        // With replacement: over many replicates some subject repeats.
        assert!((0..20).any(|r| {
            let mut v = draw(&d, how, r).expect("draws");
            v.sort_unstable();
            v.windows(2).any(|w| w[0] == w[1])
        }));
    }

    #[test]
    fn strata_keep_their_sizes() {
        let d = data(12);
        let how = Resampling {
            seed: 1,
            stratum: Some(0),
        };
        for r in 0..50 {
            let picked = draw(&d, how, r).expect("draws");
            let in_first = picked.iter().filter(|&&i| i < 4).count();
            assert_eq!(in_first, 4, "replicate {r}: {picked:?}");
        }
        let rs = resample(&d, how, 0).expect("resamples");
        let ids: Vec<f64> = rs.subjects.iter().map(|s| s.id).collect();
        assert_eq!(ids, (1..=12).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn summary_uses_converged_runs_only() {
        let names = vec!["CL".to_string()];
        let mut outcomes: Vec<Outcome> = (1..=101)
            .map(|k| Outcome::Converged {
                ofv: 0.0,
                estimates: vec![k as f64],
            })
            .collect();
        outcomes.push(Outcome::Stopped {
            ofv: 0.0,
            estimates: vec![1e6],
            status: "iteration limit reached".into(),
        });
        outcomes.push(Outcome::Failed { error: "x".into() });
        let s = summarize(&names, &[50.0], &outcomes);
        assert_eq!(
            (s.replicates, s.converged, s.stopped, s.failed),
            (103, 101, 1, 1)
        );
        let p = &s.parameters[0];
        assert_eq!(p.median, 51.0);
        assert_eq!(p.ci95, (3.5, 98.5));
        assert_eq!(p.ci90, (6.0, 96.0));
        assert!((p.bias_percent - 2.0).abs() < 1e-12);
    }
}

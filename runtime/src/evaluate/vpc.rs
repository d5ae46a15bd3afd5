//! Visual predictive checks: the observed data's percentiles per time bin
//! against the same percentiles of replicate datasets simulated from the
//! model, with confidence intervals of the simulated percentiles; and the
//! prediction-corrected VPC (Bergstrand et al. 2011, AAPS J 13:143–151).
//!
//! # Method
//!
//! Observations (EVID 0, MDV 0, with a DV) are grouped into strata — one
//! per endpoint, times one per value of the stratification covariate on
//! the subject's first record — and, within a stratum, into bins of time.
//! For each bin the 5th, 50th and 95th percentiles of the observed DV are
//! computed (R's type 7 interpolation, as in the `vpc` package). Each
//! replicate simulates the whole design (new random effects and residual
//! errors), and the same percentiles of its simulated DV in the same bins;
//! across replicates, the 2.5th, 50th and 97.5th percentiles of each give
//! its 95% confidence interval.
//!
//! With prediction correction every value `Y` (observed and simulated) in a
//! bin becomes `Y · PRED_bin / PRED`, `PRED` its population prediction and
//! `PRED_bin` the median `PRED` of the bin, which removes the variability
//! that comes from differences in dose and covariates within a bin.
//!
//! # Censoring (BLQ)
//!
//! When observations have a limit of quantification ([`Lloq`]; an
//! observation without one takes the smallest limit of its endpoint's
//! observations, e.g. the quantified rows of data with CENS but no LLOQ
//! column), each bin also gets the fraction of observations below their
//! limit, and in each replicate the fraction of simulated values below
//! their record's limit, summarized like the percentiles. Values below
//! their limit rank below every quantified value, and a percentile below
//! the bin's limit — the largest limit of its observations — is unknown:
//! it is reported as [`f64::NEG_INFINITY`] ("below the limit"), observed
//! and simulated alike (as `quantile_cens` in the `vpc` R package does).
//! With prediction correction, whether a value is below its limit is
//! decided before correction, and the limits are corrected like the
//! values, so the bin's limit is on the corrected scale.
//!
//! # Reproducibility
//!
//! Replicate `k` simulates with its own seed, derived from the seed and
//! `k`; replicates run in parallel and the results do not depend on the
//! number of threads.

use crate::data::{Dataset, Evid, Lloq};
use crate::explore::quantile_sorted;
use crate::model::Model;
use crate::random::mix;
use crate::simulate::{simulate, SimError, SimOptions};
use crate::solver::SolverOptions;
use rayon::prelude::*;
use std::collections::HashMap;

/// The percentiles a VPC shows.
pub const PERCENTILES: [f64; 3] = [0.05, 0.5, 0.95];

/// How observations are grouped in time.
#[derive(Debug, Clone, PartialEq)]
pub enum Binning {
    /// Bins with edges in the gaps of the sampling design: the optimal 1-D
    /// k-means partition (Fisher 1958, "natural breaks") of the distinct
    /// observation times into `min(10, distinct times)` groups.
    Auto,
    /// The same partition into this many bins.
    Count(usize),
    /// Explicit edges `e0 < e1 < …`: bin `i` is `[e_i, e_{i+1})`, the last
    /// closed; observations outside the edges are left out.
    Edges(Vec<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct VpcOptions {
    pub replicates: usize,
    pub seed: u64,
    pub binning: Binning,
    pub pred_corrected: bool,
    /// Index of a covariate whose values (on each subject's first record)
    /// define strata.
    pub stratify: Option<usize>,
    /// Width of the confidence intervals of the simulated percentiles.
    pub ci: f64,
    pub solver: SolverOptions,
    pub closed_form: bool,
}

impl Default for VpcOptions {
    fn default() -> Self {
        VpcOptions {
            replicates: 500,
            seed: 1,
            binning: Binning::Auto,
            pred_corrected: false,
            stratify: None,
            ci: 0.95,
            solver: SolverOptions::default(),
            closed_form: true,
        }
    }
}

/// Why a VPC cannot be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum VpcError {
    NoObservations,
    NoReplicates,
    /// Edges not strictly increasing or not finite, or fewer than two.
    BadEdges,
    ZeroBins,
    BadInterval(f64),
    /// Prediction correction needs a non-zero, finite population
    /// prediction at every observation.
    PredictionNotUsable {
        subject: String,
        row: usize,
        pred: f64,
    },
    Simulation(SimError),
}

impl std::fmt::Display for VpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VpcError::NoObservations => write!(f, "the dataset has no observations to check"),
            VpcError::NoReplicates => write!(f, "a VPC needs at least one replicate"),
            VpcError::BadEdges => write!(
                f,
                "bin edges must be at least two finite, strictly increasing times"
            ),
            VpcError::ZeroBins => write!(f, "the number of bins must be at least 1"),
            VpcError::BadInterval(ci) => {
                write!(f, "the confidence level {ci} is not between 0 and 1")
            }
            VpcError::PredictionNotUsable { subject, row, pred } => write!(
                f,
                "prediction correction needs a positive population prediction; subject {subject} has PRED = {pred} at data row {row}"
            ),
            VpcError::Simulation(e) => write!(f, "simulating a replicate failed: {e}"),
        }
    }
}

impl std::error::Error for VpcError {}

/// One observation of the data, located in the VPC.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Index into the simulated rows (all records of all subjects, in
    /// order).
    pub row: usize,
    pub stratum: usize,
    /// `None` when outside explicit edges.
    pub bin: Option<usize>,
    pub time: f64,
    pub dv: f64,
    pub pred: f64,
    /// The record's limit of quantification, or its endpoint's smallest
    /// when it has none and the endpoint has some; `None` when the
    /// endpoint has none. `dv` means nothing when below.
    pub lloq: Option<Lloq>,
}

/// One bin of a stratum.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    /// Median observation time in the bin: where it is plotted.
    pub time: f64,
    pub n_obs: usize,
    /// Observed percentiles ([`PERCENTILES`]), prediction corrected when
    /// asked; `-∞` below the limit, NaN without observations.
    pub observed: [f64; 3],
    /// For each percentile: the lower bound, median and upper bound of the
    /// simulated percentile over replicates (`-∞` below the limit).
    pub simulated: [[f64; 3]; 3],
    /// Censoring, when the bin's observations have limits.
    pub blq: Option<Blq>,
}

/// The fraction of a bin's values below their limit of quantification.
#[derive(Debug, Clone, PartialEq)]
pub struct Blq {
    /// The largest limit of the bin's observations (prediction corrected
    /// when asked): percentiles below it are not known.
    pub limit: f64,
    /// Fraction of the observations below their limit.
    pub observed: f64,
    /// Lower bound, median and upper bound over replicates of the
    /// fraction of simulated values below their record's limit.
    pub simulated: [f64; 3],
}

/// A stratum: an endpoint and, with stratification, a covariate value.
#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    pub endpoint: String,
    pub covariate: Option<(String, f64)>,
    pub bins: Vec<Bin>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vpc {
    pub strata: Vec<Stratum>,
    /// Every observation (corrected values when prediction corrected), for
    /// plotting the data over the intervals.
    pub observations: Vec<Observation>,
    pub replicates: usize,
    pub pred_corrected: bool,
}

impl Vpc {
    /// Whether any bin has limits of quantification: the table and plot
    /// then show the fractions below them.
    pub fn censoring(&self) -> bool {
        self.strata
            .iter()
            .any(|s| s.bins.iter().any(|b| b.blq.is_some()))
    }
}

/// A bin's summary of one set of values (observed, or one replicate).
struct BinValues {
    /// Percentiles, `-∞` below the bin's limit.
    percentiles: [f64; 3],
    /// Fraction below the limit; NaN without limits or values.
    below: f64,
}

/// The seed of replicate `k` (its own family of streams).
fn replicate_seed(seed: u64, k: usize) -> u64 {
    mix(seed ^ mix(0x7670_6300 ^ k as u64))
}

/// The visual predictive check of `model` (with its parameter values) on
/// `data`.
pub fn vpc(
    model: &dyn Model,
    data: &Dataset,
    theta: &[f64],
    opts: &VpcOptions,
) -> Result<Vpc, VpcError> {
    if opts.replicates == 0 {
        return Err(VpcError::NoReplicates);
    }
    if !(opts.ci > 0.0 && opts.ci < 1.0) {
        return Err(VpcError::BadInterval(opts.ci));
    }
    let info = model.info();
    let sim_opts = |seed| SimOptions {
        seed,
        typical: false,
        solver: opts.solver,
        closed_form: opts.closed_form,
    };
    // PRED at every record (the same in every replicate).
    let typical = simulate(
        model,
        data,
        theta,
        &SimOptions {
            typical: true,
            ..sim_opts(0)
        },
    )
    .map_err(VpcError::Simulation)?;

    // Strata: endpoint × covariate value.
    let mut keys: Vec<(usize, Option<u64>)> = Vec::new();
    let mut obs = Vec::new();
    let mut row = 0;
    for subject in &data.subjects {
        let cov = opts
            .stratify
            .and_then(|c| subject.covariates.get(c).copied());
        for r in &subject.records {
            if let (Evid::Observation, false, Some(dv)) = (&r.evid, r.mdv, r.dv) {
                let key = (r.endpoint, cov.map(|v| (v + 0.0).to_bits()));
                let stratum = match keys.iter().position(|k| *k == key) {
                    Some(i) => i,
                    None => {
                        keys.push(key);
                        keys.len() - 1
                    }
                };
                let pred = typical.rows.get(row).map_or(f64::NAN, |x| x.pred);
                if opts.pred_corrected && !(pred.is_finite() && pred > 0.0) {
                    return Err(VpcError::PredictionNotUsable {
                        subject: subject.label.clone(),
                        row: r.row,
                        pred,
                    });
                }
                obs.push(Observation {
                    row,
                    stratum,
                    bin: None,
                    time: r.time,
                    dv,
                    pred,
                    lloq: r.lloq,
                });
            }
            row += 1;
        }
    }
    if obs.is_empty() {
        return Err(VpcError::NoObservations);
    }
    fill_limits(&mut obs, &keys);
    // Strata in a stable order: by endpoint, then covariate value.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        let (ea, ca) = keys[a];
        let (eb, cb) = keys[b];
        ea.cmp(&eb).then_with(|| {
            let v = |c: Option<u64>| c.map_or(f64::NEG_INFINITY, f64::from_bits);
            v(ca).total_cmp(&v(cb))
        })
    });
    let mut rank = vec![0; keys.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old] = new;
    }
    for o in &mut obs {
        o.stratum = rank[o.stratum];
    }
    let keys: Vec<(usize, Option<u64>)> = order.iter().map(|&i| keys[i]).collect();

    // Bins per stratum.
    let mut edges_of = Vec::with_capacity(keys.len());
    for s in 0..keys.len() {
        let times: Vec<f64> = obs
            .iter()
            .filter(|o| o.stratum == s)
            .map(|o| o.time)
            .collect();
        edges_of.push(bin_edges(&times, &opts.binning)?);
    }
    for o in &mut obs {
        o.bin = locate(&edges_of[o.stratum], o.time);
    }
    // Median PRED per bin, for prediction correction.
    let n_bins: Vec<usize> = edges_of.iter().map(|e| e.len() - 1).collect();
    let offsets: Vec<usize> = n_bins
        .iter()
        .scan(0, |acc, &n| {
            let start = *acc;
            *acc += n;
            Some(start)
        })
        .collect();
    let total_bins: usize = n_bins.iter().sum();
    let flat = |o: &Observation| o.bin.map(|b| offsets[o.stratum] + b);
    let mut bin_pred = vec![f64::NAN; total_bins];
    if opts.pred_corrected {
        let mut preds: Vec<Vec<f64>> = vec![Vec::new(); total_bins];
        for o in &obs {
            if let Some(f) = flat(o) {
                preds[f].push(o.pred);
            }
        }
        for (p, v) in bin_pred.iter_mut().zip(&mut preds) {
            v.sort_by(f64::total_cmp);
            *p = quantile_sorted(v, 0.5);
        }
    }
    let correct = |o: &Observation, y: f64| -> f64 {
        match (opts.pred_corrected, flat(o)) {
            (true, Some(f)) => y * bin_pred[f] / o.pred,
            _ => y,
        }
    };
    // The largest (corrected) limit of each bin's observations.
    let mut bin_limit: Vec<Option<f64>> = vec![None; total_bins];
    for o in &obs {
        if let (Some(f), Some(l)) = (flat(o), o.lloq) {
            let l = correct(o, l.limit());
            bin_limit[f] = Some(bin_limit[f].map_or(l, |m: f64| m.max(l)));
        }
    }
    // Percentiles and fraction below the limit per bin, of one set of
    // values: `value` gives an observation's uncorrected value and whether
    // it is below its limit, `None` when missing.
    let summarize = |value: &dyn Fn(&Observation) -> Option<(f64, bool)>| -> Vec<BinValues> {
        let mut per_bin: Vec<(Vec<f64>, usize)> = vec![(Vec::new(), 0); total_bins];
        for o in &obs {
            let (Some(f), Some((y, below))) = (flat(o), value(o)) else {
                continue;
            };
            if below {
                per_bin[f].0.push(f64::NEG_INFINITY);
                per_bin[f].1 += 1;
            } else {
                let v = correct(o, y);
                if v.is_finite() {
                    per_bin[f].0.push(v);
                }
            }
        }
        per_bin
            .iter_mut()
            .zip(&bin_limit)
            .map(|((v, below), &limit)| {
                v.sort_by(f64::total_cmp);
                BinValues {
                    percentiles: PERCENTILES.map(|p| censored_quantile(v, p, limit)),
                    below: match limit {
                        Some(_) if !v.is_empty() => *below as f64 / v.len() as f64,
                        _ => f64::NAN,
                    },
                }
            })
            .collect()
    };
    let observed = summarize(&|o| Some((o.dv, o.lloq.is_some_and(Lloq::is_below))));

    let simulated: Vec<Vec<BinValues>> = (0..opts.replicates)
        .into_par_iter()
        .map(|k| {
            let table = simulate(model, data, theta, &sim_opts(replicate_seed(opts.seed, k)))
                .map_err(VpcError::Simulation)?;
            Ok(summarize(&|o| {
                let y = table.rows.get(o.row).and_then(|r| r.dv)?;
                y.is_finite()
                    .then(|| (y, o.lloq.is_some_and(|l| y < l.limit())))
            }))
        })
        .collect::<Result<_, VpcError>>()?;

    let alpha = 0.5 * (1.0 - opts.ci);
    let mut strata = Vec::with_capacity(keys.len());
    let mut scratch = Vec::with_capacity(opts.replicates);
    for (s, &(endpoint, cov)) in keys.iter().enumerate() {
        let edges = &edges_of[s];
        let mut bins = Vec::with_capacity(n_bins[s]);
        for b in 0..n_bins[s] {
            let f = offsets[s] + b;
            let mut times: Vec<f64> = obs
                .iter()
                .filter(|o| flat(o) == Some(f))
                .map(|o| o.time)
                .collect();
            times.sort_by(f64::total_cmp);
            // The interval over replicates of one value; a replicate's
            // percentile below the limit ranks lowest.
            let mut interval = |value: &dyn Fn(&BinValues) -> f64| -> [f64; 3] {
                scratch.clear();
                scratch.extend(
                    simulated
                        .iter()
                        .map(|r| value(&r[f]))
                        .filter(|v| !v.is_nan()),
                );
                scratch.sort_by(f64::total_cmp);
                [alpha, 0.5, 1.0 - alpha].map(|q| censored_quantile(&scratch, q, None))
            };
            let sim = [0, 1, 2].map(|p| interval(&|r| r.percentiles[p]));
            let blq = bin_limit[f].map(|limit| Blq {
                limit,
                observed: observed[f].below,
                simulated: interval(&|r| r.below),
            });
            bins.push(Bin {
                lower: edges[b],
                upper: edges[b + 1],
                time: quantile_sorted(&times, 0.5),
                n_obs: times.len(),
                observed: observed[f].percentiles,
                simulated: sim,
                blq,
            });
        }
        strata.push(Stratum {
            endpoint: info
                .endpoints
                .get(endpoint)
                .map_or_else(|| "DV".to_string(), |e| e.name.clone()),
            covariate: match (opts.stratify, cov) {
                (Some(c), Some(bits)) => info
                    .covariates
                    .get(c)
                    .map(|ci| (ci.name.clone(), f64::from_bits(bits))),
                _ => None,
            },
            bins,
        });
    }
    for o in &mut obs {
        o.dv = correct(o, o.dv);
    }
    Ok(Vpc {
        strata,
        observations: obs,
        replicates: opts.replicates,
        pred_corrected: opts.pred_corrected,
    })
}

/// Gives each observation without a limit of quantification the smallest
/// limit of its endpoint's observations (`keys[stratum].0` is the
/// endpoint): one assay per endpoint, whose limit only the censored rows
/// may state (CENS without LLOQ). The smallest, so that a quantified value
/// is not counted below a limit some other assay had.
fn fill_limits(obs: &mut [Observation], keys: &[(usize, Option<u64>)]) {
    let mut smallest: HashMap<usize, f64> = HashMap::new();
    for o in obs.iter() {
        if let Some(l) = o.lloq.map(Lloq::limit) {
            let m = smallest.entry(keys[o.stratum].0).or_insert(l);
            *m = m.min(l);
        }
    }
    for o in obs.iter_mut().filter(|o| o.lloq.is_none()) {
        o.lloq = smallest
            .get(&keys[o.stratum].0)
            .map(|&l| Lloq::Quantified(l));
    }
}

/// R's type-7 quantile of sorted values where values below a limit are
/// `-∞`: `-∞` when the lower of the two order statistics it interpolates
/// is, or when the result is below `limit`; NaN when empty.
fn censored_quantile(sorted: &[f64], p: f64, limit: Option<f64>) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let lo = (last as f64 * p).floor() as usize;
    if sorted[lo.min(last)] == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    let q = quantile_sorted(sorted, p);
    match limit {
        Some(l) if q < l => f64::NEG_INFINITY,
        _ => q,
    }
}

/// Bin edges for the observation `times` of one stratum: `k + 1` values,
/// the first the smallest time and the last the largest.
pub fn bin_edges(times: &[f64], binning: &Binning) -> Result<Vec<f64>, VpcError> {
    let mut distinct: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    distinct.sort_by(f64::total_cmp);
    let counts: Vec<(f64, usize)> = distinct
        .chunk_by(|a, b| a == b)
        .map(|c| (c[0], c.len()))
        .collect();
    let k = match binning {
        Binning::Edges(e) => {
            if e.len() < 2 || !e.iter().all(|v| v.is_finite()) || e.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(VpcError::BadEdges);
            }
            return Ok(e.clone());
        }
        Binning::Count(0) => return Err(VpcError::ZeroBins),
        Binning::Count(k) => *k,
        Binning::Auto => 10,
    };
    let (Some(first), Some(last)) = (counts.first(), counts.last()) else {
        return Ok(vec![0.0, 0.0]);
    };
    let k = k.min(counts.len());
    let groups = natural_breaks(&counts, k);
    // Edges halfway between the last time of a group and the first of the
    // next, so that each bin's interval contains exactly its times.
    let mut edges = vec![first.0];
    for g in groups.windows(2) {
        edges.push(0.5 * (counts[g[1] - 1].0 + counts[g[1]].0));
    }
    edges.push(last.0);
    Ok(edges)
}

/// The bin of `t` (`[e_i, e_{i+1})`, the last closed).
fn locate(edges: &[f64], t: f64) -> Option<usize> {
    let n = edges.len().checked_sub(1)?;
    if n == 0 || !(t >= edges[0] && t <= edges[n]) {
        return None;
    }
    if edges[0] == edges[n] {
        return Some(0);
    }
    Some(
        edges
            .partition_point(|&e| e <= t)
            .saturating_sub(1)
            .min(n - 1),
    )
}

/// Start indices of the `k` groups of the optimal partition of the sorted
/// weighted points `(value, count)` minimizing the within-group sum of
/// squares (dynamic programming, `O(k·m²)`, `m` distinct values).
fn natural_breaks(points: &[(f64, usize)], k: usize) -> Vec<usize> {
    let m = points.len();
    if k <= 1 || m <= 1 {
        return vec![0];
    }
    // Prefix sums of w, w·x, w·x² (x centred for accuracy).
    let centre = points[m / 2].0;
    let mut sw = vec![0.0; m + 1];
    let mut sx = vec![0.0; m + 1];
    let mut sxx = vec![0.0; m + 1];
    for (i, &(x, w)) in points.iter().enumerate() {
        let (x, w) = (x - centre, w as f64);
        sw[i + 1] = sw[i] + w;
        sx[i + 1] = sx[i] + w * x;
        sxx[i + 1] = sxx[i] + w * x * x;
    }
    let cost = |i: usize, j: usize| -> f64 {
        // Points i..j (exclusive).
        let w = sw[j] - sw[i];
        let s = sx[j] - sx[i];
        (sxx[j] - sxx[i] - s * s / w).max(0.0)
    };
    // best[g][j]: the cost of the first j points in g + 1 groups.
    let mut best = vec![vec![f64::INFINITY; m + 1]; k];
    let mut from = vec![vec![0usize; m + 1]; k];
    for (j, b) in best[0].iter_mut().enumerate().skip(1) {
        *b = cost(0, j);
    }
    for g in 1..k {
        for j in (g + 1)..=m {
            for i in g..j {
                let c = best[g - 1][i] + cost(i, j);
                if c < best[g][j] {
                    best[g][j] = c;
                    from[g][j] = i;
                }
            }
        }
    }
    let mut starts = vec![0; k];
    let mut j = m;
    for g in (1..k).rev() {
        let i = from[g][j];
        starts[g] = i;
        j = i;
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_breaks_split_at_the_design_gaps() {
        let times = [
            0.25, 0.27, 0.3, 0.5, 0.52, 1.0, 1.02, 2.0, 2.1, 4.0, 3.9, 8.0, 24.0, 24.3,
        ];
        let edges = bin_edges(&times, &Binning::Count(5)).expect("edges");
        assert_eq!(edges.len(), 6);
        assert_eq!((edges[0], edges[5]), (0.25, 24.3));
        // Every observation time falls strictly inside one bin or on the
        // outer edges, and the groups follow the design's nominal times.
        let bins: Vec<Option<usize>> = times.iter().map(|&t| locate(&edges, t)).collect();
        assert!(bins.iter().all(Option::is_some));
        assert_eq!(bins[0], bins[2]);
        assert_eq!(bins[12], bins[13]);
        assert_ne!(bins[11], bins[12]);
        // Explicit edges are used as given; times outside are left out.
        let e = vec![0.0, 1.0, 5.0];
        assert_eq!(
            bin_edges(&times, &Binning::Edges(e.clone())).expect("edges"),
            e
        );
        assert_eq!(locate(&e, 1.0), Some(1));
        assert_eq!(locate(&e, 5.0), Some(1));
        assert_eq!(locate(&e, 8.0), None);
        assert_eq!(
            bin_edges(&times, &Binning::Edges(vec![1.0, 1.0])),
            Err(VpcError::BadEdges)
        );
    }

    #[test]
    fn natural_breaks_are_optimal_on_a_small_case() {
        // Brute force over all 2-splits of 6 points.
        let pts: Vec<(f64, usize)> = [1.0, 2.0, 2.5, 7.0, 7.5, 9.0]
            .iter()
            .map(|&x| (x, 1))
            .collect();
        let starts = natural_breaks(&pts, 2);
        let sse = |g: &[(f64, usize)]| {
            let m = g.iter().map(|p| p.0).sum::<f64>() / g.len() as f64;
            g.iter().map(|p| (p.0 - m).powi(2)).sum::<f64>()
        };
        let best = (1..6)
            .min_by(|&a, &b| {
                (sse(&pts[..a]) + sse(&pts[a..])).total_cmp(&(sse(&pts[..b]) + sse(&pts[b..])))
            })
            .expect("some split");
        assert_eq!(starts, vec![0, best]);
        assert_eq!(best, 3);
    }

    #[test]
    fn censored_values_rank_lowest_and_percentiles_below_the_limit_are_unknown() {
        let ninf = f64::NEG_INFINITY;
        // Without censored values, R's type 7.
        let plain = [1.0, 2.0, 4.0, 8.0];
        for p in [0.0, 0.05, 0.5, 0.95, 1.0] {
            assert_eq!(
                censored_quantile(&plain, p, None),
                quantile_sorted(&plain, p)
            );
        }
        let v = [ninf, ninf, 3.0, 4.0, 5.0];
        // h = 0.2: between two censored values.
        assert_eq!(censored_quantile(&v, 0.05, Some(2.0)), ninf);
        // h = 1.6: from a censored value towards 3, unknown.
        assert_eq!(censored_quantile(&v, 0.4, Some(2.0)), ninf);
        assert_eq!(censored_quantile(&v, 0.5, Some(2.0)), 3.0);
        assert!((censored_quantile(&v, 0.95, Some(2.0)) - 4.8).abs() < 1e-12);
        // A quantified value below the bin's (largest) limit is unknown too.
        assert_eq!(censored_quantile(&v, 0.5, Some(3.5)), ninf);
        assert!(censored_quantile(&[], 0.5, Some(1.0)).is_nan());
    }

    #[test]
    fn observations_without_a_limit_take_their_endpoints_smallest() {
        let ob = |stratum, lloq| Observation {
            row: 0,
            stratum,
            bin: None,
            time: 0.0,
            dv: 1.0,
            pred: 1.0,
            lloq,
        };
        // Strata 0 and 1 are endpoint 0, stratum 2 endpoint 1.
        let keys = [(0, Some(1)), (0, Some(2)), (1, None)];
        let mut obs = vec![
            ob(0, Some(Lloq::Below(2.0))),
            ob(1, Some(Lloq::Below(1.0))),
            ob(0, None),
            ob(2, None),
        ];
        fill_limits(&mut obs, &keys);
        let lloq: Vec<Option<Lloq>> = obs.iter().map(|o| o.lloq).collect();
        assert_eq!(
            lloq,
            vec![
                Some(Lloq::Below(2.0)),
                Some(Lloq::Below(1.0)),
                Some(Lloq::Quantified(1.0)),
                None
            ]
        );
    }
}

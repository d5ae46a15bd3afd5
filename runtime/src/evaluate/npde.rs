//! Normalized prediction distribution errors (NPDE; Brendel et al. 2006,
//! Pharm Res 23:2036–2049; Comets et al. 2008, Comput Methods Programs
//! Biomed 90:154–166).
//!
//! For each subject `i` the design is simulated `K` times from the model
//! (new random effects and residual errors). With `E_i` and `V_i` the
//! empirical mean and covariance of the simulated observation vectors and
//! `L_i` the lower Cholesky factor of `V_i`, the observations and every
//! simulated vector are decorrelated, `y* = L_i⁻¹(y − E_i)`; the
//! prediction discrepancy of observation `j` is the share of simulations
//! whose decorrelated value lies below the observed one,
//! `pde_ij = (1/K) Σ_k 1[y*sim_ikj < y*_ij]`, moved to `1/(2K)` or
//! `1 − 1/(2K)` at 0 or 1, and `npde_ij = Φ⁻¹(pde_ij)`. Under the model the
//! NPDE of a subject are independent N(0, 1): their mean, variance,
//! skewness and trends against time or predictions test the model.
//!
//! A subject whose simulated covariance is singular (e.g. two observations
//! at the same time without residual error) is reported without
//! decorrelation (`decorrelated = false`), as the npde package does.
//!
//! Replicate `k` simulates with its own seed derived from the seed and `k`,
//! so the result does not depend on the number of threads.

use crate::data::{Dataset, Evid};
use crate::model::Model;
use crate::random::mix;
use crate::simulate::{simulate, SimError, SimOptions};
use crate::solver::SolverOptions;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NpdeOptions {
    /// Simulated replicates `K`.
    pub samples: usize,
    pub seed: u64,
    pub solver: SolverOptions,
    pub closed_form: bool,
}

impl Default for NpdeOptions {
    fn default() -> Self {
        NpdeOptions {
            samples: 1000,
            seed: 1,
            solver: SolverOptions::default(),
            closed_form: true,
        }
    }
}

/// The NPDE of one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NpdeValue {
    /// Index of the subject in the dataset.
    pub subject: usize,
    /// Index of the record in the subject.
    pub record: usize,
    /// Prediction discrepancy without decorrelation (`pd`).
    pub pd: f64,
    pub pde: f64,
    pub npde: f64,
    /// Whether the subject's observations could be decorrelated.
    pub decorrelated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NpdeError {
    TooFewSamples(usize),
    Simulation(SimError),
}

impl std::fmt::Display for NpdeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NpdeError::TooFewSamples(k) => write!(
                f,
                "NPDE need at least 100 simulations per subject ({k} asked)"
            ),
            NpdeError::Simulation(e) => write!(f, "simulating for the NPDE failed: {e}"),
        }
    }
}

impl std::error::Error for NpdeError {}

/// The seed of replicate `k` (its own family of streams).
fn replicate_seed(seed: u64, k: usize) -> u64 {
    mix(seed ^ mix(0x6E70_6465 ^ k as u64))
}

/// NPDE of every observation (EVID 0, MDV 0, with a DV) of `data`, in
/// data order, for `model` with its parameter values.
pub fn npde(
    model: &dyn Model,
    data: &Dataset,
    theta: &[f64],
    opts: &NpdeOptions,
) -> Result<Vec<NpdeValue>, NpdeError> {
    let k_sims = opts.samples;
    if k_sims < 100 {
        return Err(NpdeError::TooFewSamples(k_sims));
    }
    // Observations: (subject, record, row among all records, DV).
    let mut obs = Vec::new();
    let mut row = 0;
    for (i, s) in data.subjects.iter().enumerate() {
        for (j, r) in s.records.iter().enumerate() {
            if let (Evid::Observation, false, Some(dv)) = (&r.evid, r.mdv, r.dv) {
                obs.push((i, j, row, dv));
            }
            row += 1;
        }
    }
    let sims: Vec<Vec<f64>> = (0..k_sims)
        .into_par_iter()
        .map(|k| {
            let sim_opts = SimOptions {
                seed: replicate_seed(opts.seed, k),
                typical: false,
                solver: opts.solver,
                closed_form: opts.closed_form,
            };
            let table = simulate(model, data, theta, &sim_opts).map_err(NpdeError::Simulation)?;
            Ok(obs
                .iter()
                .map(|o| table.rows.get(o.2).and_then(|r| r.dv).unwrap_or(f64::NAN))
                .collect())
        })
        .collect::<Result<_, NpdeError>>()?;

    let mut out = Vec::with_capacity(obs.len());
    let mut start = 0;
    while start < obs.len() {
        let subject = obs[start].0;
        let end = start + obs[start..].iter().take_while(|o| o.0 == subject).count();
        let idx: Vec<usize> = (start..end).collect();
        out.extend(subject_npde(&obs, &sims, &idx, k_sims));
        start = end;
    }
    Ok(out)
}

/// The NPDE of one subject's observations `idx`.
fn subject_npde(
    obs: &[(usize, usize, usize, f64)],
    sims: &[Vec<f64>],
    idx: &[usize],
    k_sims: usize,
) -> Vec<NpdeValue> {
    let n = idx.len();
    let kf = k_sims as f64;
    let y = DVector::from_iterator(n, idx.iter().map(|&j| obs[j].3));
    let sim = DMatrix::from_fn(n, k_sims, |a, k| sims[k][idx[a]]);
    let mean = DVector::from_iterator(n, sim.row_iter().map(|r| r.sum() / kf));
    let centred = DMatrix::from_fn(n, k_sims, |a, k| sim[(a, k)] - mean[a]);
    let cov = &centred * centred.transpose() / (kf - 1.0);
    let bound = |p: f64| p.clamp(0.5 / kf, 1.0 - 0.5 / kf);
    let share_below = |row: &[f64], v: f64| row.iter().filter(|&&s| s < v).count() as f64 / kf;
    let pd: Vec<f64> = (0..n)
        .map(|a| {
            let row: Vec<f64> = sim.row(a).iter().copied().collect();
            bound(share_below(&row, y[a]))
        })
        .collect();
    let chol = cov.clone().cholesky();
    let (decorrelated, y_star, sim_star) = match &chol {
        Some(c) if cov.iter().all(|v| v.is_finite()) => {
            let l = c.l();
            match (
                l.solve_lower_triangular(&(&y - &mean)),
                l.solve_lower_triangular(&centred),
            ) {
                (Some(ys), Some(ss)) => (true, ys, ss),
                _ => (false, &y - &mean, centred.clone()),
            }
        }
        _ => (false, &y - &mean, centred.clone()),
    };
    (0..n)
        .map(|a| {
            let row: Vec<f64> = sim_star.row(a).iter().copied().collect();
            let pde = bound(share_below(&row, y_star[a]));
            let (subject, record, _, _) = obs[idx[a]];
            NpdeValue {
                subject,
                record,
                pd: pd[a],
                pde,
                npde: normal_quantile(pde),
                decorrelated,
            }
        })
        .collect()
}

/// `Φ⁻¹(p)`, the standard normal quantile: Wichura's AS 241 (PPND16),
/// relative accuracy about 1e-16. The coefficients are written as
/// published.
#[allow(clippy::inconsistent_digit_grouping, clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return match p {
            0.0 => f64::NEG_INFINITY,
            1.0 => f64::INFINITY,
            _ => f64::NAN,
        };
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2509.080_928_730_122_7 * r + 33430.575_583_588_128) * r
                + 67265.770_927_008_7)
                * r
                + 45921.953_931_549_87)
                * r
                + 13731.693_765_509_461)
                * r
                + 1971.590_950_306_551_3)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((5226.495_278_852_545 * r + 28729.085_735_721_943) * r
                + 39307.895_800_092_71)
                * r
                + 21213.794_301_586_597)
                * r
                + 5394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_91)
                * r
                + 1.0);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        (((((((7.745_450_142_783_414e-4 * r + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_546)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((1.050_750_071_644_416_9e-9 * r + 5.475_938_084_995_345e-4) * r
                + 0.015_198_666_563_616_457)
                * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0)
    } else {
        let r = r - 5.0;
        (((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103)
            / (((((((2.044_263_103_389_939_7e-15 * r + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_888)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantiles from any normal table (R: `qnorm(p)`).
    #[test]
    fn normal_quantiles_match_tables() {
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.95, 1.644_853_626_951_472_2),
            (0.841_344_746_068_542_9, 1.0),
            (0.001, -3.090_232_306_167_813_5),
            (1e-10, -6.361_340_902_404_056),
            (0.3, -0.524_400_512_708_041),
        ];
        for (p, x) in cases {
            let q = normal_quantile(p);
            assert!(
                (q - x).abs() <= 1e-14 * x.abs().max(1.0),
                "qnorm({p}) = {q}, want {x}"
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert!(normal_quantile(1.5).is_nan());
    }
}

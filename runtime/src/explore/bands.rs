//! Percentile bands of a variable's profile over time: for each regimen ×
//! population (and subgroup), chosen percentiles of an `observe` variable
//! across the virtual subjects at every time of the observation grid.
//!
//! # Memory
//!
//! Percentiles are exact order statistics (R's type 7, like every other
//! percentile of the report), so every subject's value at every band time
//! is kept, as `f32`, while one regimen × population is summarized, and
//! dropped once its bands are computed. For issue 6's workload (10,000
//! subjects × 337 hourly samples) that is 13.5 MB per variable. `f32`
//! keeps 7 significant digits, far below the sampling error of a
//! percentile of thousands of subjects. Streaming estimators (P², t-digest)
//! would bound memory further but are approximate and depend on the order
//! in which subjects arrive, which would make results depend on the number
//! of threads; fixed histograms need the range before the simulation. The
//! matrix is refused beyond [`MAX_BAND_BYTES`]
//! ([`super::ExploreError::BandsTooLarge`]) instead of exhausting memory.
//!
//! # Times
//!
//! Band times are the observation grid (every [`super::Sampling::step`]
//! from 0 to the end of the course) and the regimen's dose times. At a
//! dose time the profile has two values, just before and just after the
//! dose (an IV bolus jumps): the band lists that time twice, the value
//! before the dose first, so a line through the points draws the jump.
//! Values come from the recorded profile, so with residual variability an
//! endpoint's bands are those of simulated observations (a prediction
//! interval, as in a VPC) and a model variable's those of predictions.

use super::metrics::Profile;
use super::results::quantile_sorted;
use rayon::prelude::*;
use serde::Serialize;

/// Largest matrix of per-subject band values (bytes) one regimen ×
/// population may need.
pub const MAX_BAND_BYTES: usize = 4 << 30;

/// Which variable to summarize over time, and at which percentiles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandSpec {
    /// An `observe` variable of the model or an endpoint name.
    pub variable: String,
    /// Percentiles in percent (0–100), e.g. `[5, 50, 95]`.
    pub percentiles: Vec<f64>,
}

impl BandSpec {
    /// The 5th, 50th and 95th percentiles of `variable`.
    pub fn new(variable: &str) -> Self {
        BandSpec {
            variable: variable.to_string(),
            percentiles: vec![5.0, 50.0, 95.0],
        }
    }
}

/// The bands of one variable for one regimen in one population or subgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileBands {
    pub regimen: String,
    pub population: String,
    /// `None` for the whole population.
    pub subgroup: Option<String>,
    pub variable: String,
    /// Subjects summarized (all replicates).
    pub subjects: usize,
    /// The percentiles, in percent, in the order of `values`.
    pub percentiles: Vec<f64>,
    /// Band times in order; a dose time appears twice, before then after
    /// the dose.
    pub times: Vec<f64>,
    /// Per percentile, its value at every time (NaN where no subject has a
    /// finite value).
    pub values: Vec<Vec<f64>>,
}

/// A band time: the value just before the events at `time`, or after them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BandPoint {
    pub time: f64,
    pub before: bool,
}

/// The band times of a course: the grid `0, step, …` up to `end`, `end`
/// itself, and every dose time, a dose time twice (before, after).
pub(crate) fn band_points(step: f64, end: f64, dose_times: &[f64]) -> Vec<BandPoint> {
    let tol = 1e-9 * end.abs().max(1.0);
    let n = (end / step + 1e-9).floor() as usize;
    let mut times: Vec<f64> = (0..=n).map(|k| k as f64 * step).collect();
    times.push(end);
    times.extend(dose_times.iter().filter(|&&t| t <= end + tol));
    times.sort_by(f64::total_cmp);
    times.dedup_by(|a, b| (*a - *b).abs() <= tol);
    let mut points = Vec::with_capacity(times.len() + dose_times.len());
    let mut d = 0;
    for t in times {
        while d < dose_times.len() && dose_times[d] < t - tol {
            d += 1;
        }
        if dose_times.get(d).is_some_and(|&td| (td - t).abs() <= tol) {
            points.push(BandPoint {
                time: t,
                before: true,
            });
        }
        points.push(BandPoint {
            time: t,
            before: false,
        });
    }
    points
}

/// Writes the values of the variables `vars` (indices into the profile's
/// variables) at `points` into `out` (`vars × points`, variable-major);
/// NaN where the profile has no sample at a point's time.
pub(crate) fn extract(profile: &Profile, points: &[BandPoint], vars: &[usize], out: &mut [f32]) {
    let np = points.len();
    let mut i = 0;
    for (p, point) in points.iter().enumerate() {
        let tol = 1e-9 * point.time.abs().max(1.0);
        while i < profile.times.len() && profile.times[i] < point.time - tol {
            i += 1;
        }
        let found = profile
            .times
            .get(i)
            .is_some_and(|&t| (t - point.time).abs() <= tol);
        for (j, &v) in vars.iter().enumerate() {
            let x = if !found {
                f64::NAN
            } else if point.before {
                profile.pre(i, v)
            } else {
                profile.post(i, v)
            };
            if let Some(o) = out.get_mut(j * np + p) {
                *o = x as f32;
            }
        }
    }
}

/// The percentiles (`qs`, fractions in [0, 1]) of column `offset + p` of
/// every member's row of `matrix` (rows of `width`), for each of `np`
/// points: `qs.len()` series of `np` values.
pub(crate) fn percentiles(
    matrix: &[f32],
    width: usize,
    offset: usize,
    np: usize,
    members: &[usize],
    qs: &[f64],
) -> Vec<Vec<f64>> {
    let columns: Vec<Vec<f64>> = (0..np)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(members.len()),
            |scratch: &mut Vec<f64>, p| {
                scratch.clear();
                scratch.extend(
                    members
                        .iter()
                        .filter_map(|&k| matrix.get(k * width + offset + p))
                        .map(|&x| f64::from(x))
                        .filter(|x| x.is_finite()),
                );
                qs.iter().map(|&q| quantile_select(scratch, q)).collect()
            },
        )
        .collect();
    (0..qs.len())
        .map(|j| columns.iter().map(|c| c[j]).collect())
        .collect()
}

/// The `q`-quantile (R type 7) of unsorted values, by selection: the same
/// number [`quantile_sorted`] gives on the sorted values, in linear time.
/// Reorders `values`.
pub(crate) fn quantile_select(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    if n < 2 {
        return quantile_sorted(values, q);
    }
    let h = (n - 1) as f64 * q;
    let lo = (h.floor() as usize).min(n - 1);
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    if b.is_finite() {
        a + (h - lo as f64) * (b - a)
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_equals_the_sorted_quantile() {
        let mut x: Vec<f64> = (0..101).map(|i| ((i * 37) % 101) as f64 * 0.5).collect();
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.05, 0.1, 0.5, 0.95, 0.975, 1.0] {
            assert_eq!(quantile_select(&mut x, q), quantile_sorted(&sorted, q));
        }
        assert!(quantile_select(&mut [], 0.5).is_nan());
        assert_eq!(quantile_select(&mut [3.0], 0.9), 3.0);
    }

    #[test]
    fn dose_times_appear_before_and_after() {
        let p = band_points(1.0, 3.0, &[0.0, 1.5]);
        let got: Vec<(f64, bool)> = p.iter().map(|p| (p.time, p.before)).collect();
        assert_eq!(
            got,
            vec![
                (0.0, true),
                (0.0, false),
                (1.0, false),
                (1.5, true),
                (1.5, false),
                (2.0, false),
                (3.0, false)
            ]
        );
    }
}

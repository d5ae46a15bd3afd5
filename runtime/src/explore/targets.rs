//! Targets (probability of target attainment), exposure overlap between
//! dose levels, and subgroup exposure ratios.
//!
//! # Overlap
//!
//! For each metric, the regimens of a population ordered by mean total
//! dose; for each adjacent pair, the share of their 5–95% intervals that
//! overlap: `|A ∩ B| / |A ∪ B|` on the log scale when every bound is
//! positive (exposures are roughly log-normal, so a doubling is the same
//! distance at every level), on the linear scale otherwise. 1 means the
//! two levels give the same exposure range, 0 that they are separated.
//!
//! # Subgroup ratios
//!
//! For a metric and a reference subgroup, each other subgroup's geometric
//! mean ratio `GMR = exp(mean ln x_g − mean ln x_ref)` with its 90%
//! confidence interval `exp(d ± 1.645·√(s_g²/n_g + s_ref²/n_ref))` (Welch, normal
//! quantile: virtual populations are large), judged against the 0.80–1.25
//! band, and the dose factor `1/GMR` that brings the subgroup's geometric
//! mean to the reference's when exposure is proportional to dose (linear
//! pharmacokinetics; for a nonlinear model check the scaled regimen with
//! another run).

use serde::Serialize;

/// Whether meeting the target is good (efficacy) or the limit of harm (safety).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TargetKind {
    Efficacy,
    Safety,
}

/// A condition on a metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Condition {
    AtLeast(f64),
    AtMost(f64),
    /// Inclusive on both ends.
    Between(f64, f64),
}

impl Condition {
    pub fn holds(self, x: f64) -> bool {
        match self {
            Condition::AtLeast(a) => x >= a,
            Condition::AtMost(b) => x <= b,
            Condition::Between(a, b) => a <= x && x <= b,
        }
    }

    /// Why no value can satisfy the condition, if none can.
    pub(crate) fn impossible(self) -> Option<&'static str> {
        match self {
            Condition::AtLeast(a) | Condition::AtMost(a) if a.is_nan() => {
                Some("the threshold is not a number")
            }
            Condition::AtLeast(a) if a == f64::INFINITY => Some("no exposure is at least infinity"),
            Condition::AtMost(b) if b == f64::NEG_INFINITY => {
                Some("no exposure is at most -infinity")
            }
            Condition::Between(a, b) if a.is_nan() || b.is_nan() || a > b => {
                Some("the range is empty (lower bound above upper)")
            }
            _ => None,
        }
    }
}

/// "`metric` satisfies `condition` in at least `fraction` of subjects".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub metric: String,
    pub condition: Condition,
    /// Required share of subjects, in (0, 1].
    pub fraction: f64,
}

/// Exposure overlap of two adjacent dose levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    pub population: String,
    pub metric: String,
    pub lower: String,
    pub upper: String,
    pub share: f64,
}

/// Share of two intervals that overlap (see the module documentation).
pub fn overlap_share(a: (f64, f64), b: (f64, f64)) -> f64 {
    let log = a.0 > 0.0 && b.0 > 0.0;
    let tr = |x: f64| if log { x.ln() } else { x };
    let (a0, a1, b0, b1) = (tr(a.0), tr(a.1), tr(b.0), tr(b.1));
    let inter = (a1.min(b1) - a0.max(b0)).max(0.0);
    let union = a1.max(b1) - a0.min(b0);
    if union > 0.0 {
        inter / union
    } else if inter == 0.0 && a0 == b0 {
        1.0
    } else {
        0.0
    }
}

/// A subgroup's exposure against the reference subgroup's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgroupRatio {
    pub regimen: String,
    pub population: String,
    pub metric: String,
    pub subgroup: String,
    pub reference: String,
    pub subjects: usize,
    pub gmr: f64,
    pub ci90: (f64, f64),
    /// Whether the whole 90% interval lies within 0.80–1.25.
    pub within_band: bool,
    /// Dose multiplier bringing the geometric mean back to the reference's.
    pub dose_factor: f64,
    /// The range of dose multipliers that puts the whole scaled interval
    /// inside the band (`None` when the interval is wider than the band).
    pub dose_factor_range: Option<(f64, f64)>,
}

/// Standard normal 95th percentile, for two-sided 90% intervals.
const Z95: f64 = 1.644_853_626_951_472_2;

/// Mean and variance of the logs of the positive, finite values; `None`
/// with fewer than two.
fn log_moments(values: impl Iterator<Item = f64>) -> Option<(f64, f64, usize)> {
    let (mut n, mut mean, mut m2) = (0usize, 0.0, 0.0);
    for x in values.filter(|x| x.is_finite() && *x > 0.0) {
        // Welford's update: stable for any count.
        n += 1;
        let l = x.ln();
        let d = l - mean;
        mean += d / n as f64;
        m2 += d * (l - mean);
    }
    (n >= 2).then(|| (mean, m2 / (n - 1) as f64, n))
}

/// The ratio of a subgroup to a reference; `None` without two positive
/// values in each.
pub(crate) fn gmr(
    subgroup: impl Iterator<Item = f64>,
    reference: impl Iterator<Item = f64>,
) -> Option<(f64, (f64, f64), usize)> {
    let (mg, vg, ng) = log_moments(subgroup)?;
    let (mr, vr, nr) = log_moments(reference)?;
    let d = mg - mr;
    let se = (vg / ng as f64 + vr / nr as f64).sqrt();
    Some((d.exp(), ((d - Z95 * se).exp(), (d + Z95 * se).exp()), ng))
}

/// [`SubgroupRatio`]'s band check and dose factors for a GMR and its interval.
pub(crate) fn band(gmr: f64, ci: (f64, f64)) -> (bool, f64, Option<(f64, f64)>) {
    let (lo, hi) = (0.8, 1.25);
    let within = ci.0 >= lo && ci.1 <= hi;
    let range = (lo / ci.0, hi / ci.1);
    (within, 1.0 / gmr, (range.0 <= range.1).then_some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_on_the_log_scale() {
        assert_eq!(overlap_share((1.0, 4.0), (1.0, 4.0)), 1.0);
        assert_eq!(overlap_share((1.0, 2.0), (4.0, 8.0)), 0.0);
        // [1, 4] and [2, 8]: log-overlap ln 2 of log-union ln 8.
        assert!((overlap_share((1.0, 4.0), (2.0, 8.0)) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn gmr_of_scaled_values_is_the_scale() {
        let a: Vec<f64> = (1..=100).map(f64::from).collect();
        let (g, (lo, hi), n) =
            gmr(a.iter().map(|x| 2.0 * x), a.iter().copied()).expect("enough values");
        assert_eq!(n, 100);
        assert!((g - 2.0).abs() < 1e-12);
        assert!(lo < 2.0 && hi > 2.0);
        let (within, factor, _) = band(g, (lo, hi));
        assert!(!within);
        assert!((factor - 0.5).abs() < 1e-12);
    }

    #[test]
    fn impossible_conditions() {
        assert!(Condition::AtLeast(f64::INFINITY).impossible().is_some());
        assert!(Condition::Between(2.0, 1.0).impossible().is_some());
        assert!(Condition::AtMost(3.0).impossible().is_none());
    }
}

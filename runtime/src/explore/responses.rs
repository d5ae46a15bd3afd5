//! Exposure–response probabilities: the expected share of subjects with an
//! event (a response, an adverse event) when the model gives each subject
//! its probability as a function of exposure.
//!
//! The probability is an `observe` variable of the model, e.g.
//! `p_ae = 1 / (1 + exp(-(b0 + b1 * cp)))`, taken per subject by a metric
//! like any other variable: `Max` of `p_ae` over the last interval is the
//! probability at Cmax (the logistic is increasing in `cp`), `Average` the
//! time-averaged probability, `ValueAt` the probability at a visit. A
//! [`Response`] names that metric and is summarized per result row as the
//! **mean probability across subjects** — the expected fraction of
//! subjects with the event, which is what a trial of that population would
//! observe on average — with the 5th–95th percentiles of the per-replicate
//! means (the spread between simulated trials; equal to the mean with one
//! replicate). Attainment of a metric threshold (targets) answers "how
//! many subjects reach the exposure"; a response answers "how many
//! subjects are expected to respond" without a threshold.
//!
//! Every subject's value must lie in [0, 1]
//! ([`super::ExploreError::NotAProbability`] otherwise): a metric that is
//! not a probability averaged as one would give a meaningless rate.

use super::results::quantile_sorted;
use serde::Serialize;

/// An exposure–response probability: `metric` (a metric of the scenario)
/// holds each subject's probability of the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub name: String,
    pub metric: String,
}

/// A response over the subjects of a result row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseSummary {
    pub name: String,
    /// Mean probability over the subjects (all replicates): the expected
    /// fraction of subjects with the event.
    pub probability: f64,
    /// 5th and 95th percentiles of the per-replicate means.
    pub replicate_p5: f64,
    pub replicate_p95: f64,
}

/// Rounding slack when checking that values are probabilities.
const SLACK: f64 = 1e-12;

/// The first finite value outside [0, 1], if any.
pub(crate) fn not_a_probability(values: impl Iterator<Item = f64>) -> Option<f64> {
    values
        .filter(|x| x.is_finite())
        .find(|&x| !(-SLACK..=1.0 + SLACK).contains(&x))
}

/// Summarizes `value(k)` over `members` (subject indices, replicate-major
/// with `per_rep` subjects per replicate); non-finite values are left out.
pub(crate) fn summarize(
    name: &str,
    value: impl Fn(usize) -> f64,
    members: &[usize],
    n_rep: usize,
    per_rep: usize,
) -> ResponseSummary {
    let mut sums = vec![(0.0f64, 0usize); n_rep];
    for &k in members {
        let x = value(k);
        if let (true, Some(s)) = (x.is_finite(), sums.get_mut(k / per_rep.max(1))) {
            s.0 += x;
            s.1 += 1;
        }
    }
    let (total, count) = sums
        .iter()
        .fold((0.0, 0usize), |(a, n), (s, c)| (a + s, n + c));
    let mut means: Vec<f64> = sums
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| s / *c as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    ResponseSummary {
        name: name.to_string(),
        probability: if count > 0 {
            total / count as f64
        } else {
            f64::NAN
        },
        replicate_p5: quantile_sorted(&means, 0.05),
        replicate_p95: quantile_sorted(&means, 0.95),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_replicate_spread() {
        // Two replicates of two subjects: means 0.2 and 0.6.
        let v = [0.1, 0.3, 0.5, 0.7];
        let s = summarize("ae", |k| v[k], &[0, 1, 2, 3], 2, 2);
        assert!((s.probability - 0.4).abs() < 1e-15);
        assert!((s.replicate_p5 - (0.2 + 0.05 * 0.4)).abs() < 1e-15);
        assert!((s.replicate_p95 - (0.2 + 0.95 * 0.4)).abs() < 1e-15);
        assert_eq!(not_a_probability(v.into_iter()), None);
        assert_eq!(not_a_probability([0.5, 1.5].into_iter()), Some(1.5));
    }
}

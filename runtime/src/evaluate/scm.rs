//! Stepwise covariate modeling (SCM): forward inclusion, then backward
//! elimination, by likelihood-ratio tests.
//!
//! This is the search alone, over a function that fits the model with a
//! given set of candidate effects and returns its objective; building and
//! fitting the variants is the caller's (the compiler writes them).
//!
//! **Forward**: every candidate not yet in the model (and whose
//! parameter–covariate pair is not already there in another shape) is
//! added in turn; the one with the smallest p-value below `alpha_forward`
//! (ΔOFV against χ² with the candidate's number of new parameters) enters,
//! and the step repeats until none is significant. **Backward**: every
//! included effect is removed in turn; the one with the largest p-value
//! above `alpha_backward` leaves, until every remaining effect is
//! significant at that level. A candidate whose fit fails is logged and
//! never chosen.

use super::lrt::chi2_sf;
use rayon::prelude::*;

/// One candidate effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// E.g. `cl~WT (power)`.
    pub label: String,
    /// Parameter and covariate: one shape per pair may be in the model.
    pub pair: (String, String),
    /// Number of parameters the effect adds.
    pub df: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// One model tested in a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub candidate: usize,
    /// The fit's objective, or why it failed.
    pub ofv: Result<f64, String>,
    /// Forward: OFV(base) − OFV(with); backward: OFV(without) − OFV(base).
    pub delta: f64,
    pub p_value: f64,
}

impl Test {
    /// A tested model with the p-value of its ΔOFV (NaN when it failed).
    fn new(candidate: usize, ofv: Result<f64, String>, delta: f64, df: usize) -> Test {
        let p_value = if delta.is_nan() {
            f64::NAN
        } else {
            chi2_sf(delta, df as f64)
        };
        Test {
            candidate,
            ofv,
            delta,
            p_value,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub direction: Direction,
    /// Effects in the model at the start of the step.
    pub included: Vec<usize>,
    pub base_ofv: f64,
    pub tests: Vec<Test>,
    /// The candidate added (forward) or removed (backward), if any.
    pub chosen: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScmResult {
    pub steps: Vec<Step>,
    /// The final model's effects, ascending.
    pub selected: Vec<usize>,
    pub final_ofv: f64,
}

/// Why the search could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum ScmError {
    /// The model with the starting effects could not be fitted.
    BaseFit(String),
    BadAlpha(f64),
}

impl std::fmt::Display for ScmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScmError::BaseFit(e) => write!(f, "the base model could not be fitted: {e}"),
            ScmError::BadAlpha(a) => write!(f, "significance level {a} is not between 0 and 1"),
        }
    }
}

impl std::error::Error for ScmError {}

/// Runs the search. `fit(effects)` fits the model with the effects (sorted
/// ascending) and returns its OFV; it is called from several threads.
pub fn stepwise(
    candidates: &[Candidate],
    alpha_forward: f64,
    alpha_backward: f64,
    fit: &(dyn Fn(&[usize]) -> Result<f64, String> + Sync),
) -> Result<ScmResult, ScmError> {
    for a in [alpha_forward, alpha_backward] {
        if !(a > 0.0 && a < 1.0) {
            return Err(ScmError::BadAlpha(a));
        }
    }
    let with = |set: &[usize], extra: Option<usize>, without: Option<usize>| -> Vec<usize> {
        let mut v: Vec<usize> = set
            .iter()
            .copied()
            .filter(|&c| Some(c) != without)
            .collect();
        v.extend(extra);
        v.sort_unstable();
        v
    };
    let mut included: Vec<usize> = Vec::new();
    let mut base = fit(&included).map_err(ScmError::BaseFit)?;
    let mut steps = Vec::new();
    loop {
        let open: Vec<usize> = (0..candidates.len())
            .filter(|c| !included.contains(c))
            .filter(|&c| {
                included
                    .iter()
                    .all(|&i| candidates[i].pair != candidates[c].pair)
            })
            .collect();
        if open.is_empty() {
            break;
        }
        let tests: Vec<Test> = open
            .par_iter()
            .map(|&c| {
                let ofv = fit(&with(&included, Some(c), None));
                let delta = ofv.as_ref().map_or(f64::NAN, |o| base - o);
                Test::new(c, ofv, delta, candidates[c].df)
            })
            .collect();
        let best = tests
            .iter()
            .filter(|t| t.p_value < alpha_forward)
            .min_by(|a, b| {
                a.p_value
                    .total_cmp(&b.p_value)
                    .then(b.delta.total_cmp(&a.delta))
            });
        let chosen = best.map(|t| t.candidate);
        let next_base = best.and_then(|t| t.ofv.as_ref().ok().copied());
        steps.push(Step {
            direction: Direction::Forward,
            included: included.clone(),
            base_ofv: base,
            tests,
            chosen,
        });
        match (chosen, next_base) {
            (Some(c), Some(o)) => {
                included = with(&included, Some(c), None);
                base = o;
            }
            _ => break,
        }
    }
    while !included.is_empty() {
        let tests: Vec<Test> = included
            .par_iter()
            .map(|&c| {
                let ofv = fit(&with(&included, None, Some(c)));
                let delta = ofv.as_ref().map_or(f64::NAN, |o| o - base);
                Test::new(c, ofv, delta, candidates[c].df)
            })
            .collect();
        let worst = tests
            .iter()
            .filter(|t| t.p_value > alpha_backward)
            .max_by(|a, b| a.p_value.total_cmp(&b.p_value));
        let chosen = worst.map(|t| t.candidate);
        let next_base = worst.and_then(|t| t.ofv.as_ref().ok().copied());
        steps.push(Step {
            direction: Direction::Backward,
            included: included.clone(),
            base_ofv: base,
            tests,
            chosen,
        });
        match (chosen, next_base) {
            (Some(c), Some(o)) => {
                included = with(&included, None, Some(c));
                base = o;
            }
            _ => break,
        }
    }
    Ok(ScmResult {
        steps,
        selected: included,
        final_ofv: base,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(label: &str, pair: (&str, &str)) -> Candidate {
        Candidate {
            label: label.into(),
            pair: (pair.0.into(), pair.1.into()),
            df: 1,
        }
    }

    /// An objective with known effect sizes: each effect lowers the OFV by
    /// its own amount, and effects on the same pair do not add up.
    #[test]
    fn selects_the_strong_effects_and_drops_the_weak() {
        let cands = vec![
            cand("cl~WT (power)", ("cl", "WT")),
            cand("cl~WT (linear)", ("cl", "WT")),
            cand("v~WT (power)", ("v", "WT")),
            cand("cl~RND (power)", ("cl", "RND")),
            cand("cl~AGE (power)", ("cl", "AGE")),
        ];
        // Drops: 30, 25, 12, 0.5, 4.5 (AGE is significant at 0.05 alone
        // but not at 0.01 once included).
        let drop = [30.0, 25.0, 12.0, 0.5, 4.5];
        let fit = |set: &[usize]| -> Result<f64, String> {
            Ok(500.0 - set.iter().map(|&c| drop[c]).sum::<f64>())
        };
        let r = stepwise(&cands, 0.05, 0.01, &fit).expect("runs");
        // Forward: WT power (30), then v~WT (12), then AGE (4.5 > 3.84),
        // then nothing (RND 0.5). Backward: AGE leaves (p 0.034 > 0.01).
        let forward: Vec<Option<usize>> = r
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Forward)
            .map(|s| s.chosen)
            .collect();
        assert_eq!(forward, vec![Some(0), Some(2), Some(4), None]);
        let backward: Vec<Option<usize>> = r
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Backward)
            .map(|s| s.chosen)
            .collect();
        assert_eq!(backward, vec![Some(4), None]);
        assert_eq!(r.selected, vec![0, 2]);
        assert_eq!(r.final_ofv, 458.0);
        // The linear shape of a pair already in the model is not tested.
        assert!(r.steps[1].tests.iter().all(|t| t.candidate != 1));
    }

    #[test]
    fn a_failed_fit_is_logged_and_never_chosen() {
        let cands = vec![cand("a", ("p", "A")), cand("b", ("p", "B"))];
        let fit = |set: &[usize]| -> Result<f64, String> {
            if set.contains(&0) {
                Err("did not converge".into())
            } else {
                Ok(100.0 - 10.0 * set.len() as f64)
            }
        };
        let r = stepwise(&cands, 0.05, 0.01, &fit).expect("runs");
        assert_eq!(r.selected, vec![1]);
        let first = &r.steps[0];
        let failed = first
            .tests
            .iter()
            .find(|t| t.candidate == 0)
            .expect("tested");
        assert!(failed.ofv.is_err() && failed.p_value.is_nan());
    }
}

//! Dose search: the dose of a template regimen that maximizes attainment
//! of an efficacy target while a safety target is still met.
//!
//! Candidates scale every amount of the template: a candidate dose `d`
//! multiplies the template's amounts by `d / a₀`, `a₀` being the first
//! phase's amount (per unit for mg/kg dosing, the first band's for bands),
//! so a loading dose keeps its ratio to the maintenance dose. Every
//! candidate is simulated on the same virtual subjects (common random
//! numbers), so attainment changes between candidates only through the dose.
//!
//! # Continuous search
//!
//! Efficacy attainment rises and safety attainment falls with the dose
//! when each subject's metrics are monotone in it (as for any linear
//! model). Bisection finds the highest dose in `[lo, hi]` that meets the
//! safety target; if the efficacy target is met there, a second bisection
//! finds the lowest dose that meets it, which is recommended (the lowest
//! dose meeting both: same efficacy attainment requirement at less
//! exposure); otherwise the highest safe dose is recommended, as the one
//! maximizing efficacy attainment under the safety constraint. Each
//! bisection stops when the bracket is narrower than `tolerance` (relative).
//!
//! # Available strengths
//!
//! Every listed dose is simulated; among those meeting the safety target
//! the one with the highest efficacy attainment wins, the lowest dose on a tie.

use super::error::ExploreError;
use super::regimen::CompiledAmount;
use super::targets::TargetKind;
use super::{Prepared, Scenario};
use crate::model::Model;
use serde::Serialize;

/// What to search.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseSearch {
    /// The template regimen (a name in the scenario).
    pub regimen: String,
    /// The population (a name in the scenario).
    pub population: String,
    /// An efficacy target and a safety target of the scenario.
    pub efficacy: String,
    pub safety: String,
    pub space: SearchSpace,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SearchSpace {
    Continuous { lo: f64, hi: f64, tolerance: f64 },
    Strengths(Vec<f64>),
}

/// One simulated candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchPoint {
    pub dose: f64,
    pub efficacy: f64,
    pub safety: f64,
    pub safe: bool,
    pub effective: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchOutcome {
    /// The recommended dose; `None` when no candidate meets the safety target.
    pub dose: Option<f64>,
    /// Whether the recommended dose also meets the efficacy target.
    pub effective: bool,
    /// Every candidate simulated, in the order tried.
    pub evaluated: Vec<SearchPoint>,
}

/// Runs a dose search (see the module documentation).
pub fn optimize(
    model: &dyn Model,
    scenario: &Scenario,
    search: &DoseSearch,
) -> Result<SearchOutcome, ExploreError> {
    let bad = |reason: &str| ExploreError::Search {
        reason: reason.to_string(),
    };
    let prepared = Prepared::new(model, scenario)?;
    let template = scenario
        .regimens
        .iter()
        .find(|r| r.name == search.regimen)
        .ok_or_else(|| bad(&format!("no regimen named `{}`", search.regimen)))?;
    let pi = scenario
        .populations
        .iter()
        .position(|p| p.name == search.population)
        .ok_or_else(|| bad(&format!("no population named `{}`", search.population)))?;
    let target = |name: &str, kind: TargetKind| {
        scenario
            .targets
            .iter()
            .position(|t| t.name == name && t.kind == kind)
            .ok_or_else(|| bad(&format!("no {kind:?} target named `{name}`").to_lowercase()))
    };
    let (ei, si) = (
        target(&search.efficacy, TargetKind::Efficacy)?,
        target(&search.safety, TargetKind::Safety)?,
    );
    let base = prepared.plan(template)?.regimen;
    let a0 = match base.phases.first().map(|p| &p.amount) {
        Some(CompiledAmount::Fixed(a)) => *a,
        Some(CompiledAmount::PerUnit { per_unit, .. }) => *per_unit,
        Some(CompiledAmount::Bands { bands, .. }) => bands.first().map_or(0.0, |b| b.amount),
        None => 0.0,
    };
    if a0.is_nan() || a0 <= 0.0 {
        return Err(bad(
            "the template's first dose must be positive to be scaled",
        ));
    }
    let cohort = &prepared.cohorts[pi];
    let everyone: Vec<usize> = (0..cohort.len()).collect();
    let mut evaluated = Vec::new();
    let mut eval = |dose: f64| -> Result<SearchPoint, ExploreError> {
        let mut plan = prepared.plan_compiled(base.scaled(dose / a0))?;
        plan.band_points.clear();
        let values = prepared.simulate(&plan, pi)?.values;
        let att = prepared.attainment(&values, &everyone, cohort.theta.len(), cohort.per_replicate);
        let p = SearchPoint {
            dose,
            efficacy: att[ei].fraction,
            safety: att[si].fraction,
            effective: att[ei].met,
            safe: att[si].met,
        };
        evaluated.push(p);
        Ok(p)
    };
    match &search.space {
        SearchSpace::Strengths(doses) => {
            if doses.is_empty() || doses.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
                return Err(bad("strengths must be a non-empty list of positive doses"));
            }
            let mut sorted = doses.clone();
            sorted.sort_by(f64::total_cmp);
            let mut best: Option<SearchPoint> = None;
            for d in sorted {
                let p = eval(d)?;
                if p.safe && best.is_none_or(|b| p.efficacy > b.efficacy) {
                    best = Some(p);
                }
            }
            Ok(SearchOutcome {
                dose: best.map(|b| b.dose),
                effective: best.is_some_and(|b| b.effective),
                evaluated,
            })
        }
        &SearchSpace::Continuous { lo, hi, tolerance } => {
            if !(lo > 0.0 && hi > lo && hi.is_finite() && tolerance > 0.0) {
                return Err(bad(
                    "a continuous search needs 0 < lo < hi and a tolerance > 0",
                ));
            }
            let at_lo = eval(lo)?;
            if !at_lo.safe {
                return Ok(SearchOutcome {
                    dose: None,
                    effective: false,
                    evaluated,
                });
            }
            // Highest safe dose.
            let at_hi = eval(hi)?;
            let mut safe = at_lo;
            if at_hi.safe {
                safe = at_hi;
            } else {
                let (mut a, mut b) = (lo, hi);
                while b - a > tolerance * b {
                    let mid = 0.5 * (a + b);
                    let p = eval(mid)?;
                    if p.safe {
                        a = mid;
                        safe = p;
                    } else {
                        b = mid;
                    }
                }
            }
            if !safe.effective {
                return Ok(SearchOutcome {
                    dose: Some(safe.dose),
                    effective: false,
                    evaluated,
                });
            }
            // Lowest effective dose below it.
            if at_lo.effective {
                return Ok(SearchOutcome {
                    dose: Some(lo),
                    effective: true,
                    evaluated,
                });
            }
            let (mut a, mut b) = (lo, safe.dose);
            while b - a > tolerance * b {
                let mid = 0.5 * (a + b);
                if eval(mid)?.effective {
                    b = mid;
                } else {
                    a = mid;
                }
            }
            Ok(SearchOutcome {
                dose: Some(b),
                effective: true,
                evaluated,
            })
        }
    }
}

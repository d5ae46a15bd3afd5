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
//!
//! # Dosing interval
//!
//! With candidate intervals ([`DoseSearch::intervals`]), the last phase of
//! the template (the maintenance phase, whose steady state the
//! `SteadyState` window reports) takes each interval in turn, keeping its
//! duration (`Doses(14)` every 24 h becomes 28 doses every 12 h; earlier
//! phases, such as a loading dose, are unchanged), and the dose search runs
//! at each, on the same subjects. The interval chosen is the **longest one
//! at which a dose meets both targets**: fewer administrations for the same
//! attainment requirements (adherence, convenience), which is how a
//! modeler breaks that tie. When no interval has such a dose, the interval
//! whose recommended (safe) dose has the highest efficacy attainment wins,
//! the longer on a tie. Every interval's outcome is reported
//! ([`SearchOutcome::intervals`]), so another choice (the lowest daily
//! dose, say) can be read off the table.

use super::error::ExploreError;
use super::regimen::{Block, CompiledAmount, DoseCount, Phase, Regimen};
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
    /// Candidate dosing intervals of the template's last phase; empty to
    /// keep the template's interval.
    pub intervals: Vec<f64>,
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
    /// The dosing interval of the template's last phase.
    pub interval: f64,
    pub efficacy: f64,
    pub safety: f64,
    pub safe: bool,
    pub effective: bool,
}

/// The dose search at one candidate interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IntervalOutcome {
    pub interval: f64,
    /// The dose recommended at this interval; `None` when none is safe.
    pub dose: Option<f64>,
    /// Whether that dose also meets the efficacy target.
    pub effective: bool,
    /// Efficacy and safety attainment at that dose (NaN without one).
    pub efficacy: f64,
    pub safety: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchOutcome {
    /// The recommended dose; `None` when no candidate meets the safety target.
    pub dose: Option<f64>,
    /// The interval of the recommended dose (the template's when no
    /// interval was searched); `None` without a recommendation.
    pub interval: Option<f64>,
    /// Whether the recommended dose also meets the efficacy target.
    pub effective: bool,
    /// The outcome at each candidate interval, shortest first (one entry,
    /// the template's interval, when no interval was searched).
    pub intervals: Vec<IntervalOutcome>,
    /// Every candidate simulated, in the order tried.
    pub evaluated: Vec<SearchPoint>,
}

/// Runs a dose search (see the module documentation).
pub fn optimize(
    model: &dyn Model,
    scenario: &Scenario,
    search: &DoseSearch,
) -> Result<SearchOutcome, ExploreError> {
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
    match &search.space {
        SearchSpace::Strengths(doses) => {
            if doses.is_empty() || doses.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
                return Err(bad("strengths must be a non-empty list of positive doses"));
            }
        }
        &SearchSpace::Continuous { lo, hi, tolerance } => {
            if !(lo > 0.0 && hi > lo && hi.is_finite() && tolerance > 0.0) {
                return Err(bad(
                    "a continuous search needs 0 < lo < hi and a tolerance > 0",
                ));
            }
        }
    }
    if search
        .intervals
        .iter()
        .any(|t| !(t.is_finite() && *t > 0.0))
    {
        return Err(bad("candidate intervals must be finite and > 0"));
    }
    let mut intervals: Vec<Option<f64>> = search.intervals.iter().copied().map(Some).collect();
    intervals.sort_by(|a, b| a.unwrap_or(0.0).total_cmp(&b.unwrap_or(0.0)));
    intervals.dedup();
    if intervals.is_empty() {
        intervals.push(None);
    }
    let cohort = &prepared.cohorts[pi];
    let everyone: Vec<usize> = (0..cohort.len()).collect();
    let mut evaluated = Vec::new();
    let mut outcomes = Vec::new();
    let mut best: Vec<Option<SearchPoint>> = Vec::new();
    for tau in intervals {
        let regimen = match tau {
            Some(tau) => with_interval(template, tau)?,
            None => template.clone(),
        };
        let base = prepared.plan(&regimen)?.regimen;
        let interval = base.last_phase().map_or(f64::NAN, |p| p.interval);
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
        let mut eval = |dose: f64| -> Result<SearchPoint, ExploreError> {
            let mut plan = prepared.plan_compiled(base.scaled(dose / a0))?;
            plan.band_points.clear();
            let values = prepared.simulate(&plan, pi)?.values;
            let att =
                prepared.attainment(&values, &everyone, cohort.theta.len(), cohort.per_replicate);
            let p = SearchPoint {
                dose,
                interval,
                efficacy: att[ei].fraction,
                safety: att[si].fraction,
                effective: att[ei].met,
                safe: att[si].met,
            };
            evaluated.push(p);
            Ok(p)
        };
        let point = match &search.space {
            SearchSpace::Strengths(doses) => strengths(doses, &mut eval)?,
            &SearchSpace::Continuous { lo, hi, tolerance } => {
                bisection(lo, hi, tolerance, &mut eval)?
            }
        };
        outcomes.push(IntervalOutcome {
            interval,
            dose: point.map(|p| p.dose),
            effective: point.is_some_and(|p| p.effective),
            efficacy: point.map_or(f64::NAN, |p| p.efficacy),
            safety: point.map_or(f64::NAN, |p| p.safety),
        });
        best.push(point);
    }
    // The longest interval with an effective safe dose, else the highest
    // efficacy attainment (the longer interval on a tie).
    let chosen = best.iter().flatten().copied().max_by(|a, b| {
        (a.effective.cmp(&b.effective))
            .then_with(|| {
                if a.effective {
                    std::cmp::Ordering::Equal
                } else {
                    a.efficacy.total_cmp(&b.efficacy)
                }
            })
            .then_with(|| a.interval.total_cmp(&b.interval))
    });
    Ok(SearchOutcome {
        dose: chosen.map(|p| p.dose),
        interval: chosen.map(|p| p.interval),
        effective: chosen.is_some_and(|p| p.effective),
        intervals: outcomes,
        evaluated,
    })
}

fn bad(reason: &str) -> ExploreError {
    ExploreError::Search {
        reason: reason.to_string(),
    }
}

/// The template with its last phase given every `interval`, for as long as
/// before.
fn with_interval(template: &Regimen, interval: f64) -> Result<Regimen, ExploreError> {
    let mut r = template.clone();
    let phase: Option<&mut Phase> = match r.blocks.last_mut() {
        Some(Block::Phase(p)) => Some(p),
        Some(Block::Cycle { phases, .. }) => phases.last_mut(),
        None => None,
    };
    let Some(p) = phase else {
        return Err(bad("the template has no phase whose interval can change"));
    };
    let duration = match p.count {
        DoseCount::Doses(n) => f64::from(n) * p.interval,
        DoseCount::Duration(d) => d,
    };
    p.interval = interval;
    p.count = DoseCount::Duration(duration);
    Ok(r)
}

/// Every strength; the safe one with the highest efficacy attainment, the
/// lowest dose on a tie.
fn strengths(
    doses: &[f64],
    eval: &mut dyn FnMut(f64) -> Result<SearchPoint, ExploreError>,
) -> Result<Option<SearchPoint>, ExploreError> {
    let mut sorted = doses.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut best: Option<SearchPoint> = None;
    for d in sorted {
        let p = eval(d)?;
        if p.safe && best.is_none_or(|b| p.efficacy > b.efficacy) {
            best = Some(p);
        }
    }
    Ok(best)
}

/// The highest safe dose in `[lo, hi]`, then, if it is effective, the
/// lowest effective dose below it (see the module documentation).
fn bisection(
    lo: f64,
    hi: f64,
    tolerance: f64,
    eval: &mut dyn FnMut(f64) -> Result<SearchPoint, ExploreError>,
) -> Result<Option<SearchPoint>, ExploreError> {
    let at_lo = eval(lo)?;
    if !at_lo.safe {
        return Ok(None);
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
    if !safe.effective || at_lo.effective {
        return Ok(Some(if at_lo.effective { at_lo } else { safe }));
    }
    // Lowest effective dose below it.
    let (mut a, mut b) = (lo, safe.dose);
    let mut effective = safe;
    while b - a > tolerance * b {
        let mid = 0.5 * (a + b);
        let p = eval(mid)?;
        if p.effective {
            b = mid;
            effective = p;
        } else {
            a = mid;
        }
    }
    Ok(Some(effective))
}

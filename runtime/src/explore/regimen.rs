//! Dosing regimens: what is given, into which compartment, when.
//!
//! A [`Regimen`] is a sequence of [`Block`]s that follow each other in time:
//! a [`Phase`] (one amount repeated every interval, a number of times or
//! for a duration: a loading dose is a phase of one dose, titration is a
//! sequence of phases) or a cycle (phases repeated every cycle length, e.g.
//! 21 days on and 7 off, six times). Amounts may depend on a covariate (mg
//! per kg, dose bands), and a [`DoseRule`] may change doses during the
//! simulation from a simulated quantity just before each dose.
//!
//! Validation ([`Regimen::compile`]) resolves compartment and covariate
//! names and turns the blocks into the list of dose times shared by every
//! subject: the per-subject simulation walks that list and evaluates each
//! amount from the subject's covariates as it goes, so it allocates nothing
//! per dose.

use super::error::RegimenError;
use crate::model::ModelInfo;
use serde::Serialize;

/// A named regimen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regimen {
    pub name: String,
    /// Time of the first dose (the simulation starts at 0).
    pub start: f64,
    pub blocks: Vec<Block>,
    /// Rules that change doses from simulated quantities, evaluated in
    /// this order before every dose but the first (see [`DoseRule`]).
    pub rules: Vec<DoseRule>,
}

/// One part of a regimen; blocks follow each other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Block {
    Phase(Phase),
    /// `phases` (one after the other) at the start of every cycle of
    /// `length`, `repeat` times; the rest of each cycle is dose-free.
    Cycle {
        length: f64,
        repeat: u32,
        phases: Vec<Phase>,
    },
}

/// One amount repeated every `interval`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub amount: DoseAmount,
    /// The compartment (a state name of the model) the doses go into.
    pub into: String,
    pub interval: f64,
    pub count: DoseCount,
    /// Zero-order infusion of this duration; `None` for a bolus (or an
    /// oral dose into a depot).
    pub infusion: Option<f64>,
}

/// How many doses a phase gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum DoseCount {
    Doses(u32),
    /// As many intervals as fit in the duration (rounded up), e.g. 28 doses
    /// for "every 24 h for 28 days".
    Duration(f64),
}

/// A dose's amount, possibly from the subject's covariates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DoseAmount {
    Fixed(f64),
    /// `per_unit · covariate` (mg/kg: `per_unit` mg per kg of weight).
    PerUnit {
        covariate: String,
        per_unit: f64,
    },
    /// The amount of the band the covariate falls in: the last band whose
    /// `from` is ≤ the value (the first band also takes every smaller value).
    Bands {
        covariate: String,
        bands: Vec<DoseBand>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DoseBand {
    pub from: f64,
    pub amount: f64,
}

/// Before every dose but the first, the value of `variable` (the trough:
/// the prediction just before the dose) is compared with `limit`; when the
/// condition holds, `action` changes that dose (and, for reductions, every
/// later one).
///
/// A regimen's rules are evaluated in order at each dose, all on the same
/// pre-dose values, and every rule whose condition holds acts. Reductions
/// compose in that order: the dose given is `a·nominal + b`, each
/// `ReduceBy(s)` doing `b ← b − s` and each `ScaleBy(f)` doing
/// `a ← f·a, b ← f·b` (scaling a dose that was already reduced scales the
/// reduced dose); `Skip` withholds this dose only, whatever the others do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoseRule {
    pub variable: String,
    pub comparison: Comparison,
    pub limit: f64,
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    Above,
    Below,
}

impl Comparison {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Comparison::Above => value > limit,
            Comparison::Below => value < limit,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RuleAction {
    /// Withhold this dose; later doses are unchanged.
    Skip,
    /// Lower this and every later dose by `step` (cumulative; a dose
    /// reduced to zero or below is not given).
    ReduceBy(f64),
    /// Multiply this and every later dose by `factor` (cumulative).
    ScaleBy(f64),
}

/// A phase with names resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledPhase {
    pub amount: CompiledAmount,
    pub state: usize,
    pub interval: f64,
    pub infusion: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CompiledAmount {
    Fixed(f64),
    PerUnit {
        covariate: usize,
        per_unit: f64,
    },
    Bands {
        covariate: usize,
        bands: Vec<DoseBand>,
    },
}

impl CompiledAmount {
    /// The amount for a subject with covariates `cov` (model order).
    pub fn amount(&self, cov: &[f64]) -> f64 {
        match self {
            CompiledAmount::Fixed(a) => *a,
            CompiledAmount::PerUnit {
                covariate,
                per_unit,
            } => per_unit * cov.get(*covariate).copied().unwrap_or(f64::NAN),
            CompiledAmount::Bands { covariate, bands } => {
                let x = cov.get(*covariate).copied().unwrap_or(f64::NAN);
                bands
                    .iter()
                    .rev()
                    .find(|b| b.from <= x)
                    .or(bands.first())
                    .map_or(f64::NAN, |b| b.amount)
            }
        }
    }

    fn scale(&mut self, factor: f64) {
        match self {
            CompiledAmount::Fixed(a) => *a *= factor,
            CompiledAmount::PerUnit { per_unit, .. } => *per_unit *= factor,
            CompiledAmount::Bands { bands, .. } => {
                for b in bands {
                    b.amount *= factor;
                }
            }
        }
    }
}

/// A dose time of the plan and the phase it belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlannedDose {
    pub time: f64,
    pub phase: usize,
}

/// A validated regimen: dose times in order, shared by every subject.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledRegimen {
    pub name: String,
    pub phases: Vec<CompiledPhase>,
    pub doses: Vec<PlannedDose>,
    /// End of the course: the end of the last block.
    pub end: f64,
    pub rules: Vec<DoseRule>,
}

impl CompiledRegimen {
    /// `[first dose, first dose + its interval]`.
    pub fn first_interval(&self) -> (f64, f64) {
        self.interval_of(self.doses.first())
    }

    /// `[last dose, last dose + its interval]`.
    pub fn last_interval(&self) -> (f64, f64) {
        self.interval_of(self.doses.last())
    }

    fn interval_of(&self, d: Option<&PlannedDose>) -> (f64, f64) {
        match d {
            Some(d) => {
                let tau = self.phases.get(d.phase).map_or(0.0, |p| p.interval);
                (d.time, d.time + tau)
            }
            None => (0.0, 0.0),
        }
    }

    /// The phase of the last dose (the one a steady state repeats).
    pub fn last_phase(&self) -> Option<&CompiledPhase> {
        self.doses.last().and_then(|d| self.phases.get(d.phase))
    }

    /// The nominal total amount a subject with covariates `cov` receives.
    #[cfg(test)]
    pub fn total_dose(&self, cov: &[f64]) -> f64 {
        self.doses
            .iter()
            .filter_map(|d| self.phases.get(d.phase))
            .map(|p| p.amount.amount(cov))
            .sum()
    }

    /// The same plan with every amount multiplied by `factor` (dose search).
    pub fn scaled(&self, factor: f64) -> Self {
        let mut r = self.clone();
        for p in &mut r.phases {
            p.amount.scale(factor);
        }
        r
    }
}

impl Regimen {
    /// One phase: `amount` into `into` every `interval`, `doses` times, from 0.
    pub fn repeated(name: &str, amount: f64, into: &str, interval: f64, doses: u32) -> Self {
        Regimen {
            name: name.to_string(),
            start: 0.0,
            blocks: vec![Block::Phase(Phase {
                amount: DoseAmount::Fixed(amount),
                into: into.to_string(),
                interval,
                count: DoseCount::Doses(doses),
                infusion: None,
            })],
            rules: vec![],
        }
    }

    /// Validates the regimen against the model and lists its dose times.
    pub(crate) fn compile(&self, info: &ModelInfo) -> Result<CompiledRegimen, RegimenError> {
        if !(self.start.is_finite() && self.start >= 0.0) {
            return Err(RegimenError::InvalidStart { start: self.start });
        }
        if self.blocks.is_empty() {
            return Err(RegimenError::Empty);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            validate_rule(rule).map_err(|reason| RegimenError::InvalidRule { rule: i, reason })?;
        }
        let mut phases = Vec::new();
        let mut doses = Vec::new();
        let mut cursor = self.start;
        for (b, block) in self.blocks.iter().enumerate() {
            match block {
                Block::Phase(p) => {
                    let compiled = compile_phase(p, phases.len(), info)?;
                    let n = dose_count(p, phases.len())?;
                    let index = phases.len();
                    for k in 0..n {
                        doses.push(PlannedDose {
                            time: cursor + f64::from(k) * compiled.interval,
                            phase: index,
                        });
                    }
                    cursor += f64::from(n) * compiled.interval;
                    phases.push(compiled);
                }
                Block::Cycle {
                    length,
                    repeat,
                    phases: inner,
                } => {
                    if !(length.is_finite() && *length > 0.0) || *repeat == 0 || inner.is_empty() {
                        return Err(RegimenError::InvalidCycle { block: b });
                    }
                    let first = phases.len();
                    let mut counts = Vec::with_capacity(inner.len());
                    let mut needed = 0.0;
                    for p in inner {
                        let index = phases.len();
                        let compiled = compile_phase(p, index, info)?;
                        let n = dose_count(p, index)?;
                        needed += f64::from(n) * compiled.interval;
                        counts.push(n);
                        phases.push(compiled);
                    }
                    // Doses may end exactly at the cycle's end, not after it.
                    if needed > *length * (1.0 + 1e-12) {
                        return Err(RegimenError::CycleTooShort {
                            block: b,
                            length: *length,
                            needed,
                        });
                    }
                    for r in 0..*repeat {
                        let mut t = cursor + f64::from(r) * length;
                        for (j, &n) in counts.iter().enumerate() {
                            let tau = phases[first + j].interval;
                            for k in 0..n {
                                doses.push(PlannedDose {
                                    time: t + f64::from(k) * tau,
                                    phase: first + j,
                                });
                            }
                            t += f64::from(n) * tau;
                        }
                    }
                    cursor += f64::from(*repeat) * length;
                }
            }
        }
        Ok(CompiledRegimen {
            name: self.name.clone(),
            phases,
            doses,
            end: cursor,
            rules: self.rules.clone(),
        })
    }
}

fn validate_rule(rule: &DoseRule) -> Result<(), &'static str> {
    if !rule.limit.is_finite() {
        return Err("the limit must be finite");
    }
    match rule.action {
        RuleAction::ReduceBy(step) if !(step.is_finite() && step > 0.0) => {
            Err("a reduction step must be finite and > 0")
        }
        RuleAction::ScaleBy(f) if !(f.is_finite() && (0.0..1.0).contains(&f)) => {
            Err("a reduction factor must be in [0, 1)")
        }
        _ => Ok(()),
    }
}

fn dose_count(p: &Phase, phase: usize) -> Result<u32, RegimenError> {
    let n = match p.count {
        DoseCount::Doses(n) => n,
        DoseCount::Duration(d) => {
            if !(d.is_finite() && d > 0.0) {
                return Err(RegimenError::NoDoses { phase });
            }
            // A relative slack so that 28 days of 24 h doses is 28 doses,
            // not 29 after rounding.
            let n = (d / p.interval * (1.0 - 1e-12)).ceil();
            if n > f64::from(u32::MAX) {
                return Err(RegimenError::InvalidInterval {
                    phase,
                    interval: p.interval,
                });
            }
            n as u32
        }
    };
    if n == 0 {
        return Err(RegimenError::NoDoses { phase });
    }
    Ok(n)
}

fn compile_phase(p: &Phase, phase: usize, info: &ModelInfo) -> Result<CompiledPhase, RegimenError> {
    if !(p.interval.is_finite() && p.interval > 0.0) {
        return Err(RegimenError::InvalidInterval {
            phase,
            interval: p.interval,
        });
    }
    if let Some(d) = p.infusion {
        if !(d.is_finite() && d > 0.0) {
            return Err(RegimenError::InvalidInfusion { phase, duration: d });
        }
    }
    let state = info
        .states
        .iter()
        .position(|s| s.name == p.into)
        .ok_or_else(|| RegimenError::UnknownCompartment {
            phase,
            name: p.into.clone(),
        })?;
    if !info.states[state].dosable {
        return Err(RegimenError::NotDosable {
            phase,
            name: p.into.clone(),
        });
    }
    let valid = |a: f64| a.is_finite() && a >= 0.0;
    let covariate = |name: &str| {
        info.covariates
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| RegimenError::UnknownCovariate {
                phase,
                name: name.to_string(),
            })
    };
    let amount = match &p.amount {
        DoseAmount::Fixed(a) => {
            if !valid(*a) {
                return Err(RegimenError::NegativeDose { phase, amount: *a });
            }
            CompiledAmount::Fixed(*a)
        }
        DoseAmount::PerUnit {
            covariate: c,
            per_unit,
        } => {
            if !valid(*per_unit) {
                return Err(RegimenError::NegativeDose {
                    phase,
                    amount: *per_unit,
                });
            }
            CompiledAmount::PerUnit {
                covariate: covariate(c)?,
                per_unit: *per_unit,
            }
        }
        DoseAmount::Bands {
            covariate: c,
            bands,
        } => {
            if bands.is_empty()
                || bands.windows(2).any(|w| w[0].from >= w[1].from)
                || bands.iter().any(|b| b.from.is_nan())
            {
                return Err(RegimenError::InvalidBands { phase });
            }
            if let Some(b) = bands.iter().find(|b| !valid(b.amount)) {
                return Err(RegimenError::NegativeDose {
                    phase,
                    amount: b.amount,
                });
            }
            CompiledAmount::Bands {
                covariate: covariate(c)?,
                bands: bands.clone(),
            }
        }
    };
    Ok(CompiledPhase {
        amount,
        state,
        interval: p.interval,
        infusion: p.infusion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CovariateInfo, CovariateKind, StateInfo};

    fn info() -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            data_file: None,
            covariates: vec![CovariateInfo {
                name: "WT".into(),
                kind: CovariateKind::Real,
                time_varying: false,
                locf: false,
            }],
            thetas: vec![],
            etas: vec![],
            omegas: vec![],
            params: vec![],
            states: vec![
                StateInfo {
                    name: "depot".into(),
                    dosable: true,
                },
                StateInfo {
                    name: "central".into(),
                    dosable: false,
                },
            ],
            outputs: vec![],
            endpoints: vec![],
            linear: None,
        }
    }

    fn phase(amount: f64, interval: f64, count: DoseCount) -> Phase {
        Phase {
            amount: DoseAmount::Fixed(amount),
            into: "depot".into(),
            interval,
            count,
            infusion: None,
        }
    }

    #[test]
    fn loading_then_maintenance_follow_each_other() {
        let r = Regimen {
            name: "load".into(),
            start: 0.0,
            blocks: vec![
                Block::Phase(phase(10.0, 24.0, DoseCount::Doses(1))),
                Block::Phase(phase(5.0, 24.0, DoseCount::Duration(27.0 * 24.0))),
            ],
            rules: vec![],
        };
        let c = r.compile(&info()).expect("valid");
        assert_eq!(c.doses.len(), 28);
        assert_eq!(c.doses[1].time, 24.0);
        assert_eq!(c.doses[27].time, 27.0 * 24.0);
        assert_eq!(c.end, 28.0 * 24.0);
        assert_eq!(c.total_dose(&[70.0]), 10.0 + 27.0 * 5.0);
        assert_eq!(c.last_interval(), (27.0 * 24.0, 28.0 * 24.0));
    }

    #[test]
    fn cycles_leave_the_off_period_free() {
        let r = Regimen {
            name: "3 on 1 off".into(),
            start: 0.0,
            blocks: vec![Block::Cycle {
                length: 28.0,
                repeat: 3,
                phases: vec![phase(100.0, 1.0, DoseCount::Duration(21.0))],
            }],
            rules: vec![],
        };
        let c = r.compile(&info()).expect("valid");
        assert_eq!(c.doses.len(), 63);
        assert_eq!(c.doses[20].time, 20.0);
        assert_eq!(c.doses[21].time, 28.0);
        assert_eq!(c.end, 84.0);
    }

    #[test]
    fn covariate_doses_and_bands() {
        let per_kg = CompiledAmount::PerUnit {
            covariate: 0,
            per_unit: 2.0,
        };
        assert_eq!(per_kg.amount(&[70.0]), 140.0);
        let bands = CompiledAmount::Bands {
            covariate: 0,
            bands: vec![
                DoseBand {
                    from: 0.0,
                    amount: 5.0,
                },
                DoseBand {
                    from: 60.0,
                    amount: 7.5,
                },
            ],
        };
        assert_eq!(bands.amount(&[59.9]), 5.0);
        assert_eq!(bands.amount(&[60.0]), 7.5);
        assert_eq!(bands.amount(&[-1.0]), 5.0);
    }

    #[test]
    fn invalid_regimens_are_typed_errors() {
        let one = |p: Phase| Regimen {
            name: "r".into(),
            start: 0.0,
            blocks: vec![Block::Phase(p)],
            rules: vec![],
        };
        let i = info();
        assert_eq!(
            one(phase(-5.0, 24.0, DoseCount::Doses(3))).compile(&i),
            Err(RegimenError::NegativeDose {
                phase: 0,
                amount: -5.0
            })
        );
        assert_eq!(
            one(phase(5.0, 0.0, DoseCount::Doses(3))).compile(&i),
            Err(RegimenError::InvalidInterval {
                phase: 0,
                interval: 0.0
            })
        );
        assert_eq!(
            one(phase(5.0, 24.0, DoseCount::Doses(0))).compile(&i),
            Err(RegimenError::NoDoses { phase: 0 })
        );
        let mut p = phase(5.0, 24.0, DoseCount::Doses(1));
        p.into = "central".into();
        assert!(matches!(
            one(p).compile(&i),
            Err(RegimenError::NotDosable { .. })
        ));
        let mut p = phase(5.0, 24.0, DoseCount::Doses(1));
        p.into = "gut".into();
        let e = one(p).compile(&i).expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "phase 1: the model has no compartment `gut` to dose into"
        );
        let r = Regimen {
            name: "c".into(),
            start: 0.0,
            blocks: vec![Block::Cycle {
                length: 20.0,
                repeat: 2,
                phases: vec![phase(1.0, 1.0, DoseCount::Doses(21))],
            }],
            rules: vec![],
        };
        assert!(matches!(
            r.compile(&i),
            Err(RegimenError::CycleTooShort { .. })
        ));
    }
}

//! The event schedule of one subject: what happens to the ODE system, when.
//!
//! A subject's records expand into actions: boluses, infusion starts and
//! ends, and record points where predictions are taken. Additional doses
//! (ADDL/II) fall at `t + k·II`, `k = 1..=ADDL`; a lag delays a dose's
//! arrival to `t + lag`; bioavailability F scales the amount. An infusion
//! with a data RATE keeps its rate, so F changes its duration:
//! `duration = AMT·F / RATE`.
//!
//! # Ordering
//!
//! Actions are sorted by time. Records at the same time are processed in file
//! order, each record's own dose (without lag) before its prediction point,
//! so an observation row after a bolus row at the same time sees the dose.
//! Implied actions (additional doses, lagged doses, infusion ends) falling
//! at the same time as a record are applied before that record; among
//! themselves they keep the order they were generated in (record order, then
//! dose number, start before end).
//!
//! Actions after the last record are dropped: nothing is predicted there.
//!
//! # Parameters
//!
//! NONMEM's convention: the individual parameters computed at record `i`
//! (its time, covariates and occasion) govern the advance from the previous
//! action up to record `i`. The schedule only orders actions; the simulation
//! applies this rule.

use crate::data::{DoseKind, Record};
use crate::model::DoseProps;
use std::fmt;

/// What happens at an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Add `amount` to a state.
    Bolus { state: usize, amount: f64 },
    /// Start a zero-order input of `rate` into a state.
    InfusionStart { state: usize, rate: f64 },
    /// Stop an input started with the same `rate`.
    InfusionEnd { state: usize, rate: f64 },
    /// Take predictions for the subject's record number `index`.
    Record { index: usize },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub time: f64,
    pub action: Action,
    /// Implied actions sort before records at the same time.
    implied: bool,
    /// Generation order, the final tie-breaker.
    seq: u32,
}

/// Dose properties a model returned that no dose can have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventError {
    /// F negative or not finite, at the dose record on line `row`.
    InvalidBioavailability { row: usize, value: f64 },
    /// Lag negative or not finite, at the dose record on line `row`.
    InvalidLag { row: usize, value: f64 },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::InvalidBioavailability { row, value } => write!(
                f,
                "bioavailability is {value} for the dose at data row {row}; it must be finite and ≥ 0"
            ),
            EventError::InvalidLag { row, value } => write!(
                f,
                "lag time is {value} for the dose at data row {row}; it must be finite and ≥ 0"
            ),
        }
    }
}

impl std::error::Error for EventError {}

/// A reusable, sorted event list (cleared and refilled per subject run).
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    events: Vec<Event>,
}

impl Schedule {
    pub fn new() -> Self {
        Schedule::default()
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Builds the schedule of `records`. `props[i]` holds the dose
    /// properties of record `i`'s dose compartment, evaluated at that record
    /// (ignored for records without a dose; defaults when missing).
    pub fn build(&mut self, records: &[Record], props: &[DoseProps]) -> Result<(), EventError> {
        self.events.clear();
        let Some(end) = records.last().map(|r| r.time) else {
            return Ok(());
        };
        let mut seq = 0u32;
        let mut push = |events: &mut Vec<Event>, time, action, implied| {
            events.push(Event {
                time,
                action,
                implied,
                seq,
            });
            seq = seq.wrapping_add(1);
        };
        for (index, record) in records.iter().enumerate() {
            if let Some(dose) = record.dose() {
                let p = props.get(index).copied().unwrap_or_default();
                let f = p.bioavailability;
                if !(f.is_finite() && f >= 0.0) {
                    return Err(EventError::InvalidBioavailability {
                        row: record.row,
                        value: f,
                    });
                }
                if !(p.lag.is_finite() && p.lag >= 0.0) {
                    return Err(EventError::InvalidLag {
                        row: record.row,
                        value: p.lag,
                    });
                }
                let amount = dose.amount * f;
                let (interval, additional) =
                    dose.repeat.map_or((0.0, 0), |r| (r.interval, r.additional));
                for k in 0..=additional {
                    if amount <= 0.0 {
                        break;
                    }
                    let arrival = record.time + f64::from(k) * interval + p.lag;
                    if arrival > end {
                        break;
                    }
                    let implied = k > 0 || p.lag > 0.0;
                    let state = dose.cmt;
                    match dose.kind {
                        DoseKind::Bolus => push(
                            &mut self.events,
                            arrival,
                            Action::Bolus { state, amount },
                            implied,
                        ),
                        DoseKind::Infusion { rate } => {
                            push(
                                &mut self.events,
                                arrival,
                                Action::InfusionStart { state, rate },
                                implied,
                            );
                            let stop = arrival + amount / rate;
                            if stop <= end {
                                push(
                                    &mut self.events,
                                    stop,
                                    Action::InfusionEnd { state, rate },
                                    true,
                                );
                            }
                        }
                    }
                }
            }
            push(
                &mut self.events,
                record.time,
                Action::Record { index },
                false,
            );
        }
        self.events.sort_unstable_by(|a, b| {
            a.time
                .total_cmp(&b.time)
                .then(b.implied.cmp(&a.implied))
                .then(a.seq.cmp(&b.seq))
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dose, Evid, Repeat};

    fn rec(row: usize, time: f64, evid: Evid) -> Record {
        Record {
            row,
            time,
            evid,
            dv: None,
            mdv: false,
            occ: 0.0,
        }
    }

    fn bolus(amount: f64, repeat: Option<Repeat>) -> Evid {
        Evid::Dose(Dose {
            amount,
            cmt: 0,
            kind: DoseKind::Bolus,
            repeat,
        })
    }

    #[test]
    fn implied_doses_precede_records_at_same_time_and_records_keep_file_order() {
        let records = vec![
            rec(2, 0.0, Evid::Observation),
            rec(
                3,
                0.0,
                bolus(
                    10.0,
                    Some(Repeat {
                        interval: 12.0,
                        additional: 1,
                    }),
                ),
            ),
            rec(4, 0.0, Evid::Observation),
            rec(5, 12.0, Evid::Observation),
            rec(6, 30.0, Evid::Observation),
        ];
        let mut s = Schedule::new();
        s.build(&records, &[]).expect("valid");
        let actions: Vec<Action> = s.events().iter().map(|e| e.action).collect();
        use Action::*;
        assert_eq!(
            actions,
            vec![
                Record { index: 0 },
                Bolus {
                    state: 0,
                    amount: 10.0
                },
                Record { index: 1 },
                Record { index: 2 },
                Bolus {
                    state: 0,
                    amount: 10.0
                },
                Record { index: 3 },
                Record { index: 4 },
            ]
        );
    }

    #[test]
    fn doses_after_last_record_are_dropped_and_lag_makes_dose_implied() {
        let records = vec![
            rec(
                2,
                0.0,
                bolus(
                    5.0,
                    Some(Repeat {
                        interval: 24.0,
                        additional: 1000,
                    }),
                ),
            ),
            rec(3, 48.0, Evid::Observation),
        ];
        let props = [
            DoseProps {
                bioavailability: 0.5,
                lag: 1.0,
                ..DoseProps::default()
            },
            DoseProps::default(),
        ];
        let mut s = Schedule::new();
        s.build(&records, &props).expect("valid");
        let times: Vec<f64> = s.events().iter().map(|e| e.time).collect();
        assert_eq!(times, vec![0.0, 1.0, 25.0, 48.0]);
        assert_eq!(
            s.events()[1].action,
            Action::Bolus {
                state: 0,
                amount: 2.5
            }
        );
    }

    #[test]
    fn negative_lag_is_an_error() {
        let records = vec![rec(7, 0.0, bolus(5.0, None))];
        let props = [DoseProps {
            lag: -1.0,
            ..DoseProps::default()
        }];
        let e = Schedule::new().build(&records, &props);
        assert_eq!(
            e,
            Err(EventError::InvalidLag {
                row: 7,
                value: -1.0
            })
        );
    }
}

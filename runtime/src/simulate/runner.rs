//! One run of one subject: parameters per record, the event schedule, and
//! the ODE integration between events.

use crate::data::Subject;
use crate::events::{Action, EventError, Schedule};
use crate::model::{DoseProps, Model};
use crate::solver::{Dopri5, SolverError, SolverOptions};

/// The etas of one subject: subject-level values, and per occasion the full
/// vector with that occasion's values filled in.
#[derive(Debug, Clone)]
pub(crate) struct SubjectEtas {
    pub base: Vec<f64>,
    /// `(OCC value, full eta vector)` in order of appearance.
    pub occasions: Vec<(f64, Vec<f64>)>,
}

impl SubjectEtas {
    pub fn zeros(n: usize) -> Self {
        SubjectEtas {
            base: vec![0.0; n],
            occasions: Vec::new(),
        }
    }

    fn for_occasion(&self, occ: f64) -> &[f64] {
        self.occasions
            .iter()
            .find(|(o, _)| *o == occ)
            .map_or(&self.base, |(_, eta)| eta)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RunError {
    Events(EventError),
    Solver {
        from: f64,
        to: f64,
        source: SolverError,
    },
}

/// Buffers reused across subjects, so a run allocates only when a subject
/// has more records than any before.
pub(crate) struct Runner<'m> {
    model: &'m dyn Model,
    params: Vec<f64>,
    dose_props: Vec<DoseProps>,
    record_props: Vec<DoseProps>,
    schedule: Schedule,
    y: Vec<f64>,
    rates: Vec<f64>,
    active: Vec<u32>,
    pub solver: Dopri5,
}

impl<'m> Runner<'m> {
    pub fn new(model: &'m dyn Model, opts: SolverOptions) -> Self {
        let ns = model.info().states.len();
        Runner {
            model,
            params: Vec::new(),
            dose_props: vec![DoseProps::default(); ns],
            record_props: Vec::new(),
            schedule: Schedule::new(),
            y: vec![0.0; ns],
            rates: vec![0.0; ns],
            active: vec![0; ns],
            solver: Dopri5::new(ns, opts),
        }
    }

    /// Simulates `subject` from zero states at its first record; fills
    /// `obs` with `observe_len` values per record (after the record's own
    /// dose).
    pub fn run(
        &mut self,
        theta: &[f64],
        subject: &Subject,
        etas: &SubjectEtas,
        obs: &mut Vec<f64>,
    ) -> Result<(), RunError> {
        let model = self.model;
        let info = model.info();
        let (np, nobs) = (info.params.len(), info.observe_len());
        let records = &subject.records;
        let cov = subject.covariates.as_slice();
        self.params.clear();
        self.params.resize(records.len() * np, 0.0);
        obs.clear();
        obs.resize(records.len() * nobs, f64::NAN);
        self.record_props.clear();
        for (i, r) in records.iter().enumerate() {
            let p = &mut self.params[i * np..(i + 1) * np];
            model.individual(theta, etas.for_occasion(r.occ), cov, r.time, p);
            let props = match r.dose() {
                Some(d) => {
                    model.dose_props(r.time, p, cov, &mut self.dose_props);
                    self.dose_props.get(d.cmt).copied().unwrap_or_default()
                }
                None => DoseProps::default(),
            };
            self.record_props.push(props);
        }
        self.schedule
            .build(records, &self.record_props)
            .map_err(RunError::Events)?;

        let Runner {
            params,
            schedule,
            y,
            rates,
            active,
            solver,
            ..
        } = self;
        y.fill(0.0);
        rates.fill(0.0);
        active.fill(0);
        solver.reset();
        let Some(mut t) = records.first().map(|r| r.time) else {
            return Ok(());
        };
        // Index of the next record: its parameters govern the advance to it.
        let mut next = 0usize;
        for ev in schedule.events() {
            if ev.time > t {
                let Some(p) = params.get(next * np..(next + 1) * np) else {
                    break;
                };
                let rates: &[f64] = rates;
                let mut f = |tt: f64, yy: &[f64], dy: &mut [f64]| {
                    model.rhs(tt, yy, p, cov, dy);
                    for (d, r) in dy.iter_mut().zip(rates) {
                        *d += r;
                    }
                };
                solver
                    .integrate(&mut f, t, ev.time, y)
                    .map_err(|source| RunError::Solver {
                        from: t,
                        to: ev.time,
                        source,
                    })?;
                t = ev.time;
            }
            match ev.action {
                Action::Bolus { state, amount } => {
                    if let Some(v) = y.get_mut(state) {
                        *v += amount;
                    }
                }
                Action::InfusionStart { state, rate } => {
                    if let (Some(r), Some(n)) = (rates.get_mut(state), active.get_mut(state)) {
                        *r += rate;
                        *n += 1;
                    }
                }
                Action::InfusionEnd { state, rate } => {
                    if let (Some(r), Some(n)) = (rates.get_mut(state), active.get_mut(state)) {
                        *n = n.saturating_sub(1);
                        // Reset exactly to 0 so rounding leaves no phantom input.
                        *r = if *n == 0 { 0.0 } else { *r - rate };
                    }
                }
                Action::Record { index } => {
                    if let (Some(p), Some(out)) = (
                        params.get(index * np..(index + 1) * np),
                        obs.get_mut(index * nobs..(index + 1) * nobs),
                    ) {
                        model.observe(t, y, p, cov, out);
                    }
                    next = index + 1;
                }
            }
        }
        Ok(())
    }
}

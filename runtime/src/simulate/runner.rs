//! One run of one subject: parameters per record, the event schedule, and
//! the ODE integration between events.

use crate::data::{SsMode, Subject};
use crate::events::{resolve, Action, EventError, ResolvedDose, Schedule};
use crate::model::{BoundRhs, DoseProps, Model};
use crate::pk::{PkError, Propagator};
use crate::solver::{OdeSolver, SolverError, SolverOptions};

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

    /// Subject-level etas only (no occasion varies them).
    pub fn subject_level(eta: &[f64]) -> Self {
        SubjectEtas {
            base: eta.to_vec(),
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
    /// The closed-form solution rejected the subject's parameters.
    ClosedForm {
        from: f64,
        to: f64,
        source: PkError,
    },
    /// The steady state of the dose at data row `row` was not reached.
    SteadyState {
        row: usize,
        reason: SteadyStateFailure,
    },
}

/// Why a steady state could not be computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SteadyStateFailure {
    /// The repeated-dosing iteration did not settle within its budget.
    NotConverged { iterations: usize, change: f64 },
    /// The system has no steady state under a constant input (a
    /// compartment without elimination: singular Jacobian).
    Singular,
}

impl std::fmt::Display for SteadyStateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SteadyStateFailure::NotConverged { iterations, change } => write!(
                f,
                "the amounts still changed by {change:.3e} (relative) after {iterations} dosing intervals"
            ),
            SteadyStateFailure::Singular => write!(
                f,
                "the system has no steady state under a constant input (a compartment is never eliminated)"
            ),
        }
    }
}

/// Dosing intervals the steady-state iteration may take.
const SS_MAX_INTERVALS: usize = 5000;

/// Buffers reused across subjects, so a run allocates only when a subject
/// has more records than any before.
pub(crate) struct Runner<'m> {
    model: &'m dyn Model,
    params: Vec<f64>,
    dose_props: Vec<DoseProps>,
    doses: Vec<Option<ResolvedDose>>,
    schedule: Schedule,
    y: Vec<f64>,
    rates: Vec<f64>,
    active: Vec<u32>,
    pub solver: OdeSolver,
    opts: SolverOptions,
    /// For closed-form models advanced analytically: the propagator of the
    /// last parameter values, reused while they do not change.
    closed_form: Option<LinearCache>,
    /// With last-observation-carried-forward covariates: per record, the
    /// covariates and parameters that govern the advance *to* it (earlier
    /// values for the carried-forward covariates). Empty otherwise.
    advance_cov: Vec<f64>,
    advance_params: Vec<f64>,
    /// Every record's covariates, flattened (records × covariates).
    record_cov: Vec<f64>,
}

/// The closed-form propagator of the parameter values it was built for.
#[derive(Default)]
pub(crate) struct LinearCache {
    values: Vec<f64>,
    propagator: Option<Propagator>,
    /// Scratch for sensitivity runs: ∂(linear parameters)/∂direction and
    /// zero rate derivatives.
    dp: Vec<f64>,
    drates: Vec<f64>,
}

impl<'m> Runner<'m> {
    pub fn new(model: &'m dyn Model, opts: SolverOptions, closed_form: bool) -> Self {
        let ns = model.info().states.len();
        Runner {
            model,
            params: Vec::new(),
            dose_props: vec![DoseProps::default(); ns],
            doses: Vec::new(),
            schedule: Schedule::new(),
            y: vec![0.0; ns],
            rates: vec![0.0; ns],
            active: vec![0; ns],
            solver: OdeSolver::new(ns, opts),
            opts,
            closed_form: (closed_form && model.info().linear.is_some()).then(LinearCache::default),
            advance_cov: Vec::new(),
            advance_params: Vec::new(),
            record_cov: Vec::new(),
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
        let nobs = model.info().observe_len();
        obs.clear();
        obs.resize(subject.records.len() * nobs, f64::NAN);
        self.run_with(theta, subject, etas, |index, t, y, p, cov| {
            if let Some(out) = obs.get_mut(index * nobs..(index + 1) * nobs) {
                model.observe(t, y, p, cov, out);
            }
        })
    }

    /// Simulates `subject` from zero states at its first record and calls
    /// `visit(record index, time, states, params, covariates)` at every
    /// record, after the record's own dose.
    pub fn run_with(
        &mut self,
        theta: &[f64],
        subject: &Subject,
        etas: &SubjectEtas,
        mut visit: impl FnMut(usize, f64, &[f64], &[f64], &[f64]),
    ) -> Result<(), RunError> {
        let model = self.model;
        let info = model.info();
        let np = info.params.len();
        let records = &subject.records;
        self.params.clear();
        self.params.resize(records.len() * np, 0.0);
        self.doses.clear();
        let uses_time = model.individual_uses_time();
        for (i, r) in records.iter().enumerate() {
            // Parameters that depend on neither time nor a changed
            // covariate or occasion are the previous record's.
            let same = i > 0 && !uses_time && records[i - 1].same_inputs(r);
            if same {
                self.params.copy_within((i - 1) * np..i * np, i * np);
            } else {
                let p = &mut self.params[i * np..(i + 1) * np];
                model.individual(theta, etas.for_occasion(r.occ), &r.covariates, r.time, p);
            }
            let p = &self.params[i * np..(i + 1) * np];
            let props = match r.dose() {
                Some(d) => {
                    model.dose_props(r.time, p, &r.covariates, &mut self.dose_props);
                    self.dose_props.get(d.cmt).copied().unwrap_or_default()
                }
                None => DoseProps::default(),
            };
            self.doses
                .push(resolve(r, &props).map_err(RunError::Events)?);
        }
        self.carry_forward(theta, records, etas);
        self.schedule.build(records, &self.doses);

        self.y.fill(0.0);
        self.rates.fill(0.0);
        self.active.fill(0);
        self.solver.reset();
        let Some(mut t) = records.first().map(|r| r.time) else {
            return Ok(());
        };
        // Index of the next record: its parameters and covariates govern
        // the advance to it (NONMEM's convention).
        let mut next = 0usize;
        let mut epoch = 0u32;
        let events = std::mem::take(&mut self.schedule);
        let result = (|| {
            for ev in events.events() {
                if ev.epoch < epoch {
                    continue;
                }
                if ev.time > t {
                    if next >= records.len() {
                        break;
                    }
                    self.advance(next, t, ev.time)?;
                    t = ev.time;
                }
                match ev.action {
                    Action::Bolus { state, amount } => {
                        if let Some(v) = self.y.get_mut(state) {
                            *v += amount;
                        }
                    }
                    Action::InfusionStart { state, rate } => {
                        if let (Some(r), Some(n)) =
                            (self.rates.get_mut(state), self.active.get_mut(state))
                        {
                            *r += rate;
                            *n += 1;
                        }
                    }
                    Action::InfusionEnd { state, rate } => {
                        if let (Some(r), Some(n)) =
                            (self.rates.get_mut(state), self.active.get_mut(state))
                        {
                            *n = n.saturating_sub(1);
                            // Reset exactly to 0 so rounding leaves no phantom input.
                            *r = if *n == 0 { 0.0 } else { *r - rate };
                        }
                    }
                    Action::Reset => {
                        epoch = ev.epoch;
                        self.y.fill(0.0);
                        self.rates.fill(0.0);
                        self.active.fill(0);
                    }
                    Action::SteadyState { index } => self.steady_state(records, index, t)?,
                    Action::Record { index } => {
                        if let (Some(p), Some(r)) = (
                            self.params.get(index * np..(index + 1) * np),
                            records.get(index),
                        ) {
                            visit(index, t, &self.y, p, &r.covariates);
                        }
                        next = index + 1;
                    }
                }
            }
            Ok(())
        })();
        self.schedule = events;
        result
    }

    /// Integrates the current state from `t0` to `t1` with the parameters
    /// of record `index` and the current infusion rates.
    fn advance(&mut self, index: usize, t0: f64, t1: f64) -> Result<(), RunError> {
        let info = self.model.info();
        let (np, nc) = (info.params.len(), info.covariates.len());
        let (params, covs): (&[f64], &[f64]) = if self.advance_params.is_empty() {
            (&self.params, &self.record_cov)
        } else {
            (&self.advance_params, &self.advance_cov)
        };
        let (Some(p), Some(cov)) = (
            params.get(index * np..(index + 1) * np),
            covs.get(index * nc..(index + 1) * nc),
        ) else {
            return Ok(());
        };
        integrate(
            self.model,
            &mut self.closed_form,
            &mut self.solver,
            p,
            cov,
            &self.rates,
            t0,
            t1,
            &mut self.y,
        )
    }

    /// Covariates and parameters for the advance to each record when some
    /// covariate is carried forward: such a covariate keeps the previous
    /// record's value up to (not including) the record where it changes.
    fn carry_forward(
        &mut self,
        theta: &[f64],
        records: &[crate::data::Record],
        etas: &SubjectEtas,
    ) {
        let info = self.model.info();
        let (np, nc) = (info.params.len(), info.covariates.len());
        self.record_cov.clear();
        for r in records {
            let start = self.record_cov.len();
            self.record_cov.extend(r.covariates.iter().take(nc));
            self.record_cov.resize(start + nc, 0.0);
        }
        self.advance_cov.clear();
        self.advance_params.clear();
        if !info.covariates.iter().any(|c| c.locf) {
            return;
        }
        for (i, r) in records.iter().enumerate() {
            let previous = if i > 0 { &records[i - 1] } else { r };
            for (c, info_c) in info.covariates.iter().enumerate() {
                let source = if info_c.locf { previous } else { r };
                self.advance_cov
                    .push(source.covariates.get(c).copied().unwrap_or(0.0));
            }
        }
        self.advance_params.resize(records.len() * np, 0.0);
        for (i, r) in records.iter().enumerate() {
            let cov = &self.advance_cov[i * nc..(i + 1) * nc];
            let p = &mut self.advance_params[i * np..(i + 1) * np];
            self.model
                .individual(theta, etas.for_occasion(r.occ), cov, r.time, p);
        }
    }

    /// Replaces (SS = 1, 3) or augments (SS = 2) the state at time `t` with
    /// the steady state of record `index`'s dose: the amounts just before
    /// that dose after infinitely many identical doses every II.
    fn steady_state(
        &mut self,
        records: &[crate::data::Record],
        index: usize,
        t: f64,
    ) -> Result<(), RunError> {
        let (Some(record), Some(Some(dose))) = (records.get(index), self.doses.get(index).copied())
        else {
            return Ok(());
        };
        let Some(ss) = record.dose().and_then(|d| d.steady_state) else {
            return Ok(());
        };
        let np = self.model.info().params.len();
        let p = self.params[index * np..(index + 1) * np].to_vec();
        let cov = &record.covariates;
        let n = self.y.len();
        let fail = |reason| RunError::SteadyState {
            row: record.row,
            reason,
        };
        let x = if ss.interval == 0.0 {
            let mut rates = vec![0.0; n];
            rates[dose.state] = dose.rate.unwrap_or(0.0);
            constant_input_steady_state(self.model, &p, cov, t, &rates).map_err(fail)?
        } else {
            self.periodic_steady_state(&p, cov, &dose, ss.interval, t)
                .and_then(|r| r.map_err(fail))?
        };
        match ss.mode {
            SsMode::Add => {
                for (y, x) in self.y.iter_mut().zip(&x) {
                    *y += x;
                }
            }
            SsMode::Reset | SsMode::ResetFromCurrent => self.y.copy_from_slice(&x),
        }
        Ok(())
    }

    /// The fixed point of one dosing interval [t, t + II): the state at the
    /// start of an interval whose dose arrives at phase `lag mod II`, with
    /// infusions longer than II overlapping.
    fn periodic_steady_state(
        &mut self,
        p: &[f64],
        cov: &[f64],
        dose: &ResolvedDose,
        ii: f64,
        t: f64,
    ) -> Result<Result<Vec<f64>, SteadyStateFailure>, RunError> {
        let n = self.y.len();
        let phase = dose.lag % ii;
        // Piecewise-constant input over one interval: (start, end, rate).
        let mut pieces: Vec<(f64, f64, f64)> = Vec::new();
        let mut bolus_at: Option<f64> = None;
        match dose.rate {
            None => bolus_at = Some(phase),
            Some(rate) => {
                let full = (dose.duration / ii).floor();
                let rem = dose.duration - full * ii;
                let base = rate * full;
                let mut cuts = vec![0.0, ii, phase];
                let wrap_end = phase + rem;
                if rem > 0.0 {
                    cuts.push(if wrap_end > ii {
                        wrap_end - ii
                    } else {
                        wrap_end
                    });
                }
                cuts.sort_by(f64::total_cmp);
                cuts.dedup();
                for w in cuts.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    if b <= a {
                        continue;
                    }
                    let mid = 0.5 * (a + b);
                    let inside = rem > 0.0
                        && if wrap_end <= ii {
                            mid >= phase && mid < wrap_end
                        } else {
                            mid >= phase || mid < wrap_end - ii
                        };
                    pieces.push((a, b, base + if inside { rate } else { 0.0 }));
                }
            }
        }
        let period = Period {
            bolus_at,
            pieces,
            state: dose.state,
            amount: dose.amount,
        };
        let tol_r = (self.opts.rtol * 10.0).max(1e-12);
        let tol_a = self.opts.atol * 10.0;
        let change = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(a, b)| (a - b).abs() / (tol_a + tol_r * a.abs().max(b.abs())))
                .fold(0.0, f64::max)
        };
        let found = periodic_fixed_point(
            n,
            |y| self.one_period(p, cov, &period, t, ii, y),
            change,
            SS_MAX_INTERVALS,
        )?;
        Ok(found.map_err(|change| SteadyStateFailure::NotConverged {
            iterations: SS_MAX_INTERVALS,
            change: change * tol_r,
        }))
    }

    /// The amounts after one dosing interval of `period` starting from `x`.
    fn one_period(
        &mut self,
        p: &[f64],
        cov: &[f64],
        period: &Period,
        t: f64,
        ii: f64,
        x: &mut [f64],
    ) -> Result<(), RunError> {
        let n = x.len();
        let mut rates = vec![0.0; n];
        match period.bolus_at {
            Some(ph) => {
                integrate(
                    self.model,
                    &mut self.closed_form,
                    &mut self.solver,
                    p,
                    cov,
                    &rates,
                    t,
                    t + ph,
                    x,
                )?;
                x[period.state] += period.amount;
                integrate(
                    self.model,
                    &mut self.closed_form,
                    &mut self.solver,
                    p,
                    cov,
                    &rates,
                    t + ph,
                    t + ii,
                    x,
                )?;
            }
            None => {
                for &(a, b, r) in &period.pieces {
                    rates.fill(0.0);
                    rates[period.state] = r;
                    integrate(
                        self.model,
                        &mut self.closed_form,
                        &mut self.solver,
                        p,
                        cov,
                        &rates,
                        t + a,
                        t + b,
                        x,
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// One dosing interval of a steady-state regimen: a bolus at a phase, or
/// piecewise-constant input (start, end, rate) into `state`.
struct Period {
    bolus_at: Option<f64>,
    pieces: Vec<(f64, f64, f64)>,
    state: usize,
    amount: f64,
}

/// Newton steps tried before plain repeated dosing takes over.
const SS_NEWTON_ITERATIONS: usize = 20;

/// The fixed point `x = Φ(x)` of one dosing interval (`phi` maps a state
/// to the state one interval later, in place), from zero amounts: Newton
/// on `x ↦ Φ(x)` — `(I − Φ'(x))·dx = Φ(x) − x`, `Φ'` by forward
/// differences, exact for linear models so that one step lands on the
/// fixed point — for the first [`SS_NEWTON_ITERATIONS`] intervals, plain
/// repeated dosing after that or when a Newton step fails. Converged when
/// `change(x, Φ(x)) ≤ 1`; otherwise, after `max_intervals`, the last
/// change. Shared by the dataset runner and the dose-exploration engine.
pub(crate) fn periodic_fixed_point<E>(
    n: usize,
    mut phi: impl FnMut(&mut [f64]) -> Result<(), E>,
    change: impl Fn(&[f64], &[f64]) -> f64,
    max_intervals: usize,
) -> Result<Result<Vec<f64>, f64>, E> {
    let mut x = vec![0.0; n];
    let mut last = f64::INFINITY;
    for iteration in 0..max_intervals {
        let mut fx = x.clone();
        phi(&mut fx)?;
        last = change(&fx, &x);
        if last <= 1.0 {
            return Ok(Ok(fx));
        }
        x = if iteration < SS_NEWTON_ITERATIONS {
            newton_step(&mut phi, &x, &fx)?.unwrap_or(fx)
        } else {
            fx
        };
    }
    Ok(Err(last))
}

/// One Newton step towards the fixed point of `phi` from `x` (with
/// `fx = Φ(x)`), or `None` when the linear system is singular or the step
/// is not finite.
fn newton_step<E>(
    phi: &mut impl FnMut(&mut [f64]) -> Result<(), E>,
    x: &[f64],
    fx: &[f64],
) -> Result<Option<Vec<f64>>, E> {
    let n = x.len();
    let scale = fx.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // Row-major I − Φ'(x).
    let mut a = vec![0.0; n * n];
    let mut xj = vec![0.0; n];
    for j in 0..n {
        let h = 1e-6 * x[j].abs().max(1e-3 * scale).max(1e-10);
        xj.copy_from_slice(x);
        xj[j] += h;
        phi(&mut xj)?;
        for i in 0..n {
            let d = (xj[i] - fx[i]) / h;
            a[i * n + j] = f64::from(u8::from(i == j)) - d;
        }
    }
    let mut b: Vec<f64> = fx.iter().zip(x).map(|(f, x)| f - x).collect();
    if !solve_dense(&mut a, &mut b, n) {
        return Ok(None);
    }
    let next: Vec<f64> = x.iter().zip(&b).map(|(x, d)| x + d).collect();
    Ok(next.iter().all(|v| v.is_finite()).then_some(next))
}

/// Solves `a·x = b` in place (`a` row-major `n × n`, `x` into `b`) by
/// Gaussian elimination with partial pivoting; false when singular.
pub(crate) fn solve_dense(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    let scale = a
        .iter()
        .map(|v| v.abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        let pivot = a[piv * n + col].abs();
        if pivot.is_nan() || pivot <= 1e-13 * scale {
            return false;
        }
        for k in 0..n {
            a.swap(col * n + k, piv * n + k);
        }
        b.swap(col, piv);
        for i in col + 1..n {
            let m = a[i * n + col] / a[col * n + col];
            for k in col..n {
                a[i * n + k] -= m * a[col * n + k];
            }
            b[i] -= m * b[col];
        }
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / a[i * n + i];
    }
    true
}

/// One ODE integration with constant extra inputs `rates`.
#[allow(clippy::too_many_arguments)]
fn integrate(
    model: &dyn Model,
    closed_form: &mut Option<LinearCache>,
    solver: &mut OdeSolver,
    p: &[f64],
    cov: &[f64],
    rates: &[f64],
    t0: f64,
    t1: f64,
    y: &mut [f64],
) -> Result<(), RunError> {
    if t1 <= t0 {
        return Ok(());
    }
    if let (Some(cache), Some(linear)) = (closed_form.as_mut(), &model.info().linear) {
        // The model is a closed-form linear model: advance exactly, with the
        // propagator rebuilt only when the parameters change.
        let same = cache.propagator.is_some()
            && cache.values.len() == linear.params.len()
            && linear
                .params
                .iter()
                .zip(&cache.values)
                .all(|(&i, v)| p.get(i) == Some(v));
        if !same {
            cache.values.clear();
            cache.values.extend(
                linear
                    .params
                    .iter()
                    .map(|&i| p.get(i).copied().unwrap_or(f64::NAN)),
            );
            let built = linear
                .kind
                .model(&cache.values)
                .ok_or(PkError::StateLength {
                    expected: linear.params.len(),
                    got: cache.values.len(),
                })
                .and_then(|m| m.propagator());
            match built {
                Ok(prop) => cache.propagator = Some(prop),
                Err(source) => {
                    cache.propagator = None;
                    return Err(RunError::ClosedForm {
                        from: t0,
                        to: t1,
                        source,
                    });
                }
            }
        }
        let advanced = match &cache.propagator {
            Some(prop) if linear.directions > 0 => {
                let scratch = (&mut cache.dp, &mut cache.drates);
                advance_sensitivity(prop, linear, scratch, p, rates, t1 - t0, y)
            }
            Some(prop) => prop.advance(y, rates, t1 - t0),
            None => Err(PkError::NoSteadyState),
        };
        return advanced.map_err(|source| RunError::ClosedForm {
            from: t0,
            to: t1,
            source,
        });
    }
    let rhs = BoundRhs::new(model, p, cov);
    let mut f = |tt: f64, yy: &[f64], dy: &mut [f64]| {
        rhs.call(tt, yy, dy);
        for (d, r) in dy.iter_mut().zip(rates) {
            *d += r;
        }
    };
    // The Jacobian of the inputs-augmented system is the model's: constant
    // rates do not depend on the amounts.
    let mut jac = |tt: f64, yy: &[f64], j: &mut [f64]| model.rhs_jac_y(tt, yy, p, cov, j);
    solver
        .integrate(&mut f, &mut jac, t0, t1, y)
        .map_err(|source| RunError::Solver {
            from: t0,
            to: t1,
            source,
        })
}

/// Advances amounts and their sensitivities (state layout of
/// [`crate::estimate::Sensitized`]) exactly. Input rates do not depend on
/// the directions: doses whose timing or size does are handled by the
/// caller.
fn advance_sensitivity(
    prop: &Propagator,
    linear: &crate::model::LinearInfo,
    (dp, drates): (&mut Vec<f64>, &mut Vec<f64>),
    p: &[f64],
    rates: &[f64],
    dt: f64,
    y: &mut [f64],
) -> Result<(), PkError> {
    let n = prop.n_states();
    let m = linear.directions;
    let np = p.len() / (1 + m);
    dp.clear();
    for j in 0..m {
        for &i in &linear.params {
            dp.push(p.get(np + j * np + i).copied().unwrap_or(f64::NAN));
        }
    }
    drates.clear();
    drates.resize(n * m, 0.0);
    let (a, s) = y.split_at_mut(n.min(y.len()));
    let s_len = (n * m).min(s.len());
    prop.advance_sensitivity(
        a,
        &mut s[..s_len],
        &rates[..n.min(rates.len())],
        drates,
        dp,
        dt,
    )
}

/// The state where `rhs(x) + rates = 0`, by Newton's method on the model's
/// Jacobian (exact in one step for linear models).
fn constant_input_steady_state(
    model: &dyn Model,
    p: &[f64],
    cov: &[f64],
    t: f64,
    rates: &[f64],
) -> Result<Vec<f64>, SteadyStateFailure> {
    let n = rates.len();
    let mut x = vec![0.0; n];
    let mut f = vec![0.0; n];
    let mut jac = vec![0.0; n * n];
    for iteration in 0..100 {
        model.rhs(t, &x, p, cov, &mut f);
        for (fi, r) in f.iter_mut().zip(rates) {
            *fi += r;
        }
        model.rhs_jac_y(t, &x, p, cov, &mut jac);
        // Solve J·dx = -f (J column-major, so transpose into row-major).
        let mut a: Vec<f64> = (0..n * n).map(|k| jac[(k % n) * n + k / n]).collect();
        let mut dx: Vec<f64> = f.iter().map(|v| -v).collect();
        if !solve_dense(&mut a, &mut dx, n) {
            return Err(SteadyStateFailure::Singular);
        }
        let mut biggest: f64 = 0.0;
        for (xi, d) in x.iter_mut().zip(&dx) {
            *xi += d;
            biggest = biggest.max(d.abs() / xi.abs().max(1e-300));
        }
        if biggest < 1e-12 || (iteration > 0 && dx.iter().all(|d| *d == 0.0)) {
            return Ok(x);
        }
    }
    Err(SteadyStateFailure::NotConverged {
        iterations: 100,
        change: f64::NAN,
    })
}

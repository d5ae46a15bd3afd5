//! One virtual subject under one regimen: the event loop from time 0 to
//! the end of the course, recording a [`Profile`].
//!
//! Unlike [`crate::simulate::runner`], which replays a dataset's records,
//! this loop walks a regimen's planned doses and can change them while it
//! runs: a [`DoseRule`] reads the simulated trough just before each dose.
//! Doses are resolved with the model's bioavailability and lag
//! ([`Model::dose_props`]) as the runner does; infusions keep their
//! duration (F scales the rate). Events at the same time are applied in
//! the order: infusion ends, dose administrations, dose arrivals.
//!
//! Closed-form models advance with their propagator; on the grid, where
//! the same step recurs, with the cached matrices of that step
//! (`exp(K·dt)` and its input term, from [`Transition`]): one small
//! matrix–vector product per step, the hand-written floor's arithmetic. Parameters
//! are computed once per subject when `individual` does not read `time`,
//! otherwise at the end of every advance (NONMEM's convention).
//!
//! Nothing here allocates per dose or per sample once the buffers have
//! grown to the largest subject: a [`Sim`] is per-thread scratch.

use super::error::SubjectFailure;
use super::metrics::{Continuous, Profile};
use super::regimen::{CompiledPhase, DoseRule, PlannedDose, RuleAction};
use crate::model::{BoundRhs, DoseProps, ErrorModel, Model};
use crate::pk::{LinearKind, PkError, Propagator, Transition, MAX_STATES};
use crate::simulate::runner::periodic_fixed_point;
use crate::solver::{OdeSolver, SolverOptions, SolverStats};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A variable recorded in the profile: its slot in `observe`'s output,
/// and for an endpoint's prediction its error model and parameter slots
/// (residual variability).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VarSlot {
    pub slot: usize,
    pub error: Option<(ErrorModel, std::ops::Range<usize>)>,
}

/// What one run needs besides the subject.
pub(crate) struct Course<'a> {
    pub phases: &'a [CompiledPhase],
    pub doses: &'a [PlannedDose],
    /// Sample times (sorted), at least up to `end`.
    pub grid: &'a [f64],
    pub start: f64,
    pub end: f64,
    /// The rules, in order, and per rule the index (into the variables)
    /// of what it reads.
    pub rules: &'a [DoseRule],
    pub rule_vars: &'a [usize],
    /// Record the states and rates of every sample (needed only by metrics
    /// that evaluate the continuous solution between samples).
    pub keep_states: bool,
}

/// A failure with the time it happened.
pub(crate) type Failure = (f64, SubjectFailure);

struct Arrival {
    time: f64,
    state: usize,
    amount: f64,
    /// Infusion rate and duration; `None` for a bolus.
    infusion: Option<(f64, f64)>,
}

/// The closed-form propagator of the current parameters and the
/// one-step matrices of the grid steps seen since it was built.
struct ClosedForm {
    kind: LinearKind,
    indices: Vec<usize>,
    values: Vec<f64>,
    propagator: Option<Propagator>,
    /// Whether `values` are known to be the current parameters' (cleared
    /// when the subject or, for time-dependent parameters, the time changes).
    checked: bool,
    /// Round-robin cache of one-step matrices (a uniform grid needs one,
    /// a grid with dose times off the grid a few).
    steps: Vec<Step>,
    next_slot: usize,
}

// `Step::apply` spells out four columns.
const _: () = assert!(MAX_STATES == 4);

/// Most grid steps whose matrices are kept.
const CACHED_STEPS: usize = 4;
/// Intervals of repeated dosing before a steady state is given up.
const SS_MAX_INTERVALS: usize = 2000;

/// `exp(K·dt)` and `K⁻¹(exp(K·dt) − I)` of one step as plain arrays: the
/// loop over `n ≤ 4` states is then a few multiply-adds, and the input
/// term is skipped while no infusion runs.
#[derive(Clone, Copy)]
struct Step {
    dt: f64,
    n: usize,
    e: [[f64; MAX_STATES]; MAX_STATES],
    g: [[f64; MAX_STATES]; MAX_STATES],
}

impl Step {
    fn new(tr: &Transition) -> Self {
        let n = tr.n_states().min(MAX_STATES);
        let mut e = [[0.0; MAX_STATES]; MAX_STATES];
        let mut g = [[0.0; MAX_STATES]; MAX_STATES];
        for i in 0..n {
            for j in 0..n {
                e[i][j] = tr.exp(i, j);
                g[i][j] = tr.input(i, j);
            }
        }
        Step {
            dt: tr.dt(),
            n,
            e,
            g,
        }
    }

    /// `y ← E·y (+ G·rates)`, on zero-padded 4-vectors: the unused rows
    /// and columns of `E` and `G` are zero, so the loops have a fixed
    /// length, no branches, and compile to a few vector operations.
    #[inline]
    fn apply(&self, y: &mut [f64], rates: &[f64]) {
        let n = self.n.min(y.len()).min(rates.len());
        let mut a = [0.0; MAX_STATES];
        let mut r = [0.0; MAX_STATES];
        for ((a, r), (y, rate)) in a
            .iter_mut()
            .zip(r.iter_mut())
            .zip(y.iter().zip(rates))
            .take(n)
        {
            *a = *y;
            *r = *rate;
        }
        let input = r.iter().any(|x| *x != 0.0);
        let mut out = [0.0; MAX_STATES];
        for (o, row) in out.iter_mut().zip(&self.e) {
            *o = row[0] * a[0] + row[1] * a[1] + row[2] * a[2] + row[3] * a[3];
        }
        if input {
            for (o, row) in out.iter_mut().zip(&self.g) {
                *o += row[0] * r[0] + row[1] * r[1] + row[2] * r[2] + row[3] * r[3];
            }
        }
        for (y, o) in y.iter_mut().zip(out).take(n) {
            *y = o;
        }
    }
}

impl ClosedForm {
    fn ensure(&mut self, p: &[f64]) -> Result<&Propagator, PkError> {
        let same = self.checked
            || (self.propagator.is_some()
                && self
                    .indices
                    .iter()
                    .zip(&self.values)
                    .all(|(&i, v)| p.get(i) == Some(v)));
        if !same {
            self.values.clear();
            self.values.extend(
                self.indices
                    .iter()
                    .map(|&i| p.get(i).copied().unwrap_or(f64::NAN)),
            );
            self.steps.clear();
            self.propagator = None;
            let model = self.kind.model(&self.values).ok_or(PkError::StateLength {
                expected: self.indices.len(),
                got: self.values.len(),
            })?;
            self.propagator = Some(model.propagator()?);
        }
        self.checked = true;
        self.propagator.as_ref().ok_or(PkError::NoSteadyState)
    }

    /// Advances over a grid step, through the cached matrices of `dt`.
    #[inline]
    fn step(&mut self, p: &[f64], y: &mut [f64], rates: &[f64], dt: f64) -> Result<(), PkError> {
        if !self.checked {
            self.ensure(p)?;
        }
        if let Some(step) = self.steps.iter().find(|s| s.dt == dt) {
            step.apply(y, rates);
            return Ok(());
        }
        let prop = self.propagator.as_ref().ok_or(PkError::NoSteadyState)?;
        if y.len() != prop.n_states() || rates.len() != prop.n_states() {
            return Err(PkError::StateLength {
                expected: prop.n_states(),
                got: y.len(),
            });
        }
        let step = Step::new(&prop.transition(dt));
        step.apply(y, rates);
        if self.steps.len() < CACHED_STEPS {
            self.steps.push(step);
        } else {
            self.steps[self.next_slot] = step;
            self.next_slot = (self.next_slot + 1) % CACHED_STEPS;
        }
        Ok(())
    }

    /// Advances over an arbitrary interval (refinement, quadrature).
    fn advance(&mut self, p: &[f64], y: &mut [f64], rates: &[f64], dt: f64) -> Result<(), PkError> {
        self.ensure(p)?.advance(y, rates, dt)
    }
}

/// Per-thread scratch for simulating subjects of one model.
pub(crate) struct Sim<'m> {
    model: &'m dyn Model,
    closed: Option<ClosedForm>,
    solver: OdeSolver,
    uses_time: bool,
    theta: Vec<f64>,
    eta: Vec<f64>,
    cov: Vec<f64>,
    params: Vec<f64>,
    props: Vec<DoseProps>,
    obs: Vec<f64>,
    y: Vec<f64>,
    rates: Vec<f64>,
    /// Running infusions: (end time, state, rate).
    infusions: Vec<(f64, usize, f64)>,
    pending: Vec<Arrival>,
    /// Dense-output states of the grid samples of one ODE segment
    /// (`samples × states`), and the state at the segment's end.
    dense: Vec<f64>,
    y_end: Vec<f64>,
    vars: Vec<VarSlot>,
    /// Amount administered in the last run (before F).
    pub administered: f64,
}

impl<'m> Sim<'m> {
    pub fn new(
        model: &'m dyn Model,
        solver: SolverOptions,
        closed_form: bool,
        vars: Vec<VarSlot>,
    ) -> Self {
        let info = model.info();
        let ns = info.states.len();
        let closed = match &info.linear {
            Some(l) if closed_form && l.directions == 0 => Some(ClosedForm {
                kind: l.kind,
                indices: l.params.clone(),
                values: Vec::new(),
                propagator: None,
                checked: false,
                steps: Vec::with_capacity(CACHED_STEPS),
                next_slot: 0,
            }),
            _ => None,
        };
        Sim {
            model,
            closed,
            solver: OdeSolver::new(ns, solver),
            uses_time: model.individual_uses_time(),
            theta: Vec::new(),
            eta: Vec::new(),
            cov: Vec::new(),
            params: vec![0.0; info.params.len()],
            props: vec![DoseProps::default(); ns],
            obs: vec![0.0; info.observe_len()],
            y: vec![0.0; ns],
            rates: vec![0.0; ns],
            infusions: Vec::new(),
            pending: Vec::new(),
            dense: Vec::new(),
            y_end: Vec::new(),
            vars,
            administered: 0.0,
        }
    }

    /// The ODE solver's work counters since this scratch was made.
    pub fn solver_stats(&self) -> SolverStats {
        self.solver.stats()
    }

    /// Sets the subject: fixed effects, random effects, covariates.
    pub fn subject(&mut self, theta: &[f64], eta: &[f64], cov: &[f64]) {
        self.theta.clear();
        self.theta.extend_from_slice(theta);
        self.eta.clear();
        self.eta.extend_from_slice(eta);
        self.cov.clear();
        self.cov.extend_from_slice(cov);
        self.model
            .individual(&self.theta, &self.eta, &self.cov, 0.0, &mut self.params);
        self.solver.reset();
        if let Some(cf) = self.closed.as_mut() {
            cf.checked = false;
        }
    }

    fn params_at(&mut self, t: f64) {
        if self.uses_time {
            self.model
                .individual(&self.theta, &self.eta, &self.cov, t, &mut self.params);
            if let Some(cf) = self.closed.as_mut() {
                cf.checked = false;
            }
        }
    }

    /// Advances `y` from `t0` to `t1` under `rates`; `grid` marks a step
    /// of the main loop (cached transitions).
    fn advance_state(&mut self, t0: f64, t1: f64, grid: bool) -> Result<(), Failure> {
        if t1 <= t0 {
            return Ok(());
        }
        self.params_at(t1);
        let (p, cov, rates) = (&self.params, &self.cov, &self.rates);
        let y = &mut self.y;
        if let Some(cf) = self.closed.as_mut() {
            let r = if grid {
                cf.step(p, y, rates, t1 - t0)
            } else {
                cf.advance(p, y, rates, t1 - t0)
            };
            return r.map_err(|e| (t0, SubjectFailure::ClosedForm(e)));
        }
        let model = self.model;
        let rhs = BoundRhs::new(model, p, cov);
        let mut f = with_inputs(&rhs, rates);
        let mut jac = |tt: f64, yy: &[f64], j: &mut [f64]| model.rhs_jac_y(tt, yy, p, cov, j);
        self.solver
            .integrate(&mut f, &mut jac, t0, t1, y)
            .map_err(|e| (t0, SubjectFailure::Solver(e)))
    }

    /// Whether the ODE path reports grid samples from the solver's dense
    /// output. Not when `individual` reads `time`: parameters then change
    /// at every sample (NONMEM's convention), so each grid interval is
    /// integrated on its own.
    fn dense_ode(&self) -> bool {
        self.closed.is_none() && !self.uses_time
    }

    /// The ODE path's hot loop: integrates from `t` across the grid points
    /// before `stop` to the point the event loop stops at next (the next
    /// event or grid point at or after `stop`, or the last grid point when
    /// nothing follows) in one call, with the samples from the solver's
    /// dense output, and records them; the integrator restarts only at
    /// events. Returns the index of the first grid point not consumed.
    #[allow(clippy::too_many_arguments)]
    fn run_dense(
        &mut self,
        course: &Course,
        profile: &mut Profile,
        mut gi: usize,
        stop: f64,
        next_event: f64,
        t: &mut f64,
        rng: &mut Option<&mut ChaCha8Rng>,
    ) -> Result<usize, Failure> {
        let tol = 1e-12 * course.end.abs().max(1.0);
        let rest = course.grid.get(gi..).unwrap_or(&[]);
        let gj = gi + rest.partition_point(|&g| g < stop);
        // Grid points at the current time: recorded without advancing.
        while gi < gj && course.grid[gi] <= *t {
            gi += 1;
            let row = profile.pre.len();
            self.observe_into(*t, &mut profile.pre);
            self.record(course, profile, row, false, *t, rng.as_deref_mut());
        }
        if gi == gj {
            return Ok(gj);
        }
        let samples = &course.grid[gi..gj];
        let mut end = next_event;
        if let Some(&g) = course.grid.get(gj) {
            end = end.min(g);
        }
        if !(end.is_finite() && end <= course.end + tol) {
            end = samples[samples.len() - 1];
        }
        let ns = self.y.len();
        self.dense.clear();
        self.dense.resize(samples.len() * ns, 0.0);
        {
            let (p, cov, rates) = (&self.params, &self.cov, &self.rates);
            let model = self.model;
            let rhs = BoundRhs::new(model, p, cov);
            let mut f = with_inputs(&rhs, rates);
            let mut jac = |tt: f64, yy: &[f64], j: &mut [f64]| model.rhs_jac_y(tt, yy, p, cov, j);
            self.solver
                .integrate_dense(
                    &mut f,
                    &mut jac,
                    *t,
                    end,
                    &mut self.y,
                    samples,
                    &mut self.dense,
                )
                .map_err(|e| (*t, SubjectFailure::Solver(e)))?;
        }
        // Record each sample from its state, then restore the end state.
        self.y_end.clear();
        self.y_end.extend_from_slice(&self.y);
        for (k, &g) in samples.iter().enumerate() {
            for (y, v) in self.y.iter_mut().zip(&self.dense[k * ns..(k + 1) * ns]) {
                *y = *v;
            }
            let row = profile.pre.len();
            self.observe_into(g, &mut profile.pre);
            self.record(course, profile, row, false, g, rng.as_deref_mut());
        }
        self.y.copy_from_slice(&self.y_end);
        *t = end;
        Ok(gj)
    }

    /// Evaluates the recorded variables at the current state into `out`.
    fn observe_into(&mut self, t: f64, out: &mut Vec<f64>) {
        self.model
            .observe(t, &self.y, &self.params, &self.cov, &mut self.obs);
        for v in &self.vars {
            out.push(self.obs.get(v.slot).copied().unwrap_or(f64::NAN));
        }
    }

    /// Runs `course` from the state `y0` (zeros when `None`) at
    /// `course.start`, recording into `profile`; with `rng`, endpoint
    /// predictions get residual error.
    pub fn run(
        &mut self,
        course: &Course,
        y0: Option<&[f64]>,
        profile: &mut Profile,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> Result<(), Failure> {
        let ns = self.y.len();
        let nv = self.vars.len();
        profile.clear(nv, ns);
        if rng.is_some() {
            for (n, v) in profile.noisy.iter_mut().zip(&self.vars) {
                *n = v.error.is_some();
            }
        }
        self.y.fill(0.0);
        if let Some(y0) = y0 {
            for (y, v) in self.y.iter_mut().zip(y0) {
                *y = *v;
            }
        }
        self.rates.fill(0.0);
        self.infusions.clear();
        self.pending.clear();
        self.administered = 0.0;
        // Cumulative effect of the reducing rules: amount·scale − reduce.
        let (mut scale, mut reduce) = (1.0f64, 0.0f64);
        let mut t = course.start;
        let (mut gi, mut di) = (0usize, 0usize);
        let tol = 1e-12 * course.end.abs().max(1.0);
        while gi < course.grid.len() && course.grid[gi] < t - tol {
            gi += 1;
        }
        loop {
            let mut next_event = f64::INFINITY;
            if let Some(d) = course.doses.get(di) {
                next_event = next_event.min(d.time);
            }
            for a in &self.pending {
                next_event = next_event.min(a.time);
            }
            for &(end, _, _) in &self.infusions {
                next_event = next_event.min(end);
            }
            // Grid points before the next event: advance and record, with
            // nothing else to check (the hot loop of a simulation).
            let stop = next_event.min(course.end) - tol;
            if self.dense_ode() {
                gi = self.run_dense(course, profile, gi, stop, next_event, &mut t, &mut rng)?;
            }
            while let Some(&g) = course.grid.get(gi) {
                if g >= stop {
                    break;
                }
                gi += 1;
                if g > t {
                    self.advance_state(t, g, true)?;
                    t = g;
                }
                let row = profile.pre.len();
                self.observe_into(t, &mut profile.pre);
                self.record(course, profile, row, false, t, rng.as_deref_mut());
            }
            let mut next = next_event;
            if let Some(&g) = course.grid.get(gi) {
                next = next.min(g);
            }
            if !next.is_finite() || next > course.end + tol {
                break;
            }
            // A grid point within rounding of an event is that event's time.
            while course
                .grid
                .get(gi)
                .is_some_and(|&g| (g - next).abs() <= tol)
            {
                gi += 1;
            }
            if next > t {
                self.advance_state(t, next, true)?;
                t = next;
            }
            let row = profile.pre.len();
            self.observe_into(t, &mut profile.pre);
            let mut changed = false;
            // Infusion ends.
            let mut k = 0;
            while k < self.infusions.len() {
                let (end, state, rate) = self.infusions[k];
                if end <= t {
                    self.infusions.swap_remove(k);
                    let still = self.infusions.iter().any(|i| i.1 == state);
                    // Exactly 0 when none runs, so rounding leaves no input.
                    self.rates[state] = if still { self.rates[state] - rate } else { 0.0 };
                    changed = true;
                } else {
                    k += 1;
                }
            }
            // Administrations.
            while let Some(d) = course.doses.get(di).filter(|d| d.time <= t + tol) {
                let is_first = di == 0;
                di += 1;
                let Some(phase) = course.phases.get(d.phase) else {
                    continue;
                };
                let nominal = phase.amount.amount(&self.cov);
                let mut skip = false;
                if !is_first {
                    for (rule, &var) in course.rules.iter().zip(course.rule_vars) {
                        let trough = profile.pre.get(row + var).copied().unwrap_or(f64::NAN);
                        if rule.comparison.holds(trough, rule.limit) {
                            match rule.action {
                                RuleAction::Skip => skip = true,
                                RuleAction::ReduceBy(step) => reduce += step,
                                RuleAction::ScaleBy(f) => {
                                    scale *= f;
                                    reduce *= f;
                                }
                            }
                        }
                    }
                }
                let amount = if skip { 0.0 } else { nominal * scale - reduce };
                if amount.is_nan() || amount <= 0.0 {
                    continue;
                }
                self.administered += amount;
                self.model
                    .dose_props(t, &self.params, &self.cov, &mut self.props);
                let props = self.props.get(phase.state).copied().unwrap_or_default();
                let resolved = resolve(phase, amount, &props).map_err(|e| (t, e))?;
                self.pending.push(Arrival {
                    time: t + props.lag,
                    ..resolved
                });
            }
            // Arrivals.
            let mut k = 0;
            while k < self.pending.len() {
                if self.pending[k].time <= t {
                    let a = self.pending.swap_remove(k);
                    match a.infusion {
                        None => self.y[a.state] += a.amount,
                        Some((rate, duration)) => {
                            self.rates[a.state] += rate;
                            self.infusions.push((t + duration, a.state, rate));
                        }
                    }
                    changed = true;
                } else {
                    k += 1;
                }
            }
            self.record(course, profile, row, changed, t, rng.as_deref_mut());
        }
        Ok(())
    }

    /// Completes the sample whose `pre` values start at `row`: its `post`
    /// values (observed again when an event `changed` the state), residual
    /// error, time, and states when the course keeps them.
    fn record(
        &mut self,
        course: &Course,
        profile: &mut Profile,
        row: usize,
        changed: bool,
        t: f64,
        rng: Option<&mut ChaCha8Rng>,
    ) {
        if changed {
            self.observe_into(t, &mut profile.post);
        } else {
            for j in row..row + self.vars.len() {
                let v = profile.pre.get(j).copied().unwrap_or(f64::NAN);
                profile.post.push(v);
            }
        }
        if let Some(rng) = rng {
            self.add_noise(profile, row, rng);
        }
        profile.times.push(t);
        if course.keep_states {
            // Element by element: a call to memcpy costs more than 3 copies.
            for &v in &self.y {
                profile.states.push(v);
            }
            for &v in &self.rates {
                profile.rates.push(v);
            }
        }
    }

    /// Residual error on the endpoint predictions of the last sample: one
    /// ε per variable and time, the same before and after an event there.
    fn add_noise(&mut self, profile: &mut Profile, row: usize, rng: &mut ChaCha8Rng) {
        for (j, v) in self.vars.iter().enumerate() {
            let Some((model, params)) = &v.error else {
                continue;
            };
            let eps: f64 = rng.sample(StandardNormal);
            let Some(ep) = self.obs.get(params.clone()) else {
                continue;
            };
            for values in [&mut profile.pre, &mut profile.post] {
                if let Some(x) = values.get_mut(row + j) {
                    *x = model.sample(*x, ep, eps);
                }
            }
        }
    }

    /// The state at the start of one interval of `phase` at steady state
    /// (just before its dose at `start`), by Newton's method on the
    /// one-interval map (exact in one step for linear models), then plain
    /// repeated dosing if Newton does not settle.
    pub fn steady_state(
        &mut self,
        phase: &[CompiledPhase],
        start: f64,
        scratch: &mut Profile,
        out: &mut Vec<f64>,
    ) -> Result<(), Failure> {
        let ns = self.y.len();
        let Some(p) = phase.first() else {
            return Err((start, SubjectFailure::SteadyState));
        };
        let tau = p.interval;
        let dose = [PlannedDose {
            time: start,
            phase: 0,
        }];
        let grid = [start + tau];
        let course = Course {
            phases: phase,
            doses: &dose,
            grid: &grid,
            start,
            end: start + tau,
            rules: &[],
            rule_vars: &[],
            keep_states: false,
        };
        let fail = (start, SubjectFailure::SteadyState);
        // The interval's doses must be over within it.
        self.model
            .dose_props(start, &self.params, &self.cov, &mut self.props);
        let props = self.props.get(p.state).copied().unwrap_or_default();
        if props.lag + p.infusion.unwrap_or(0.0) > tau {
            return Err(fail);
        }
        let change = |a: &[f64], b: &[f64]| {
            let scale = a.iter().chain(b).fold(0.0f64, |m, v| m.max(v.abs()));
            let diff = a
                .iter()
                .zip(b)
                .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()));
            diff / (1e-12 * scale + 1e-300)
        };
        let found = periodic_fixed_point(
            ns,
            |y| {
                self.run(&course, Some(&*y), scratch, None)?;
                y.copy_from_slice(&self.y);
                Ok(())
            },
            change,
            SS_MAX_INTERVALS,
        )?;
        let x = found.map_err(|_| fail)?;
        out.clear();
        out.extend_from_slice(&x);
        Ok(())
    }
}

/// F applied to the amount; an infusion keeps its duration.
fn resolve(
    phase: &CompiledPhase,
    amount: f64,
    props: &DoseProps,
) -> Result<Arrival, SubjectFailure> {
    let f = props.bioavailability;
    if !(f.is_finite() && f >= 0.0) {
        return Err(SubjectFailure::InvalidBioavailability { value: f });
    }
    if !(props.lag.is_finite() && props.lag >= 0.0) {
        return Err(SubjectFailure::InvalidLag { value: props.lag });
    }
    let amount = amount * f;
    Ok(Arrival {
        time: 0.0,
        state: phase.state,
        amount,
        infusion: phase.infusion.map(|d| (amount / d, d)),
    })
}

impl Continuous for Sim<'_> {
    fn value_at(
        &mut self,
        profile: &Profile,
        seg: usize,
        t: f64,
        var: usize,
    ) -> Result<f64, Failure> {
        let ns = profile.ns;
        let (Some(&t0), Some(y0), Some(r0)) = (
            profile.times.get(seg),
            profile.states.get(seg * ns..(seg + 1) * ns),
            profile.rates.get(seg * ns..(seg + 1) * ns),
        ) else {
            return Ok(f64::NAN);
        };
        self.y.copy_from_slice(y0);
        self.rates.copy_from_slice(r0);
        self.advance_state(t0, t, false)?;
        self.model
            .observe(t, &self.y, &self.params, &self.cov, &mut self.obs);
        Ok(self
            .vars
            .get(var)
            .and_then(|v| self.obs.get(v.slot))
            .copied()
            .unwrap_or(f64::NAN))
    }
}

/// The right-hand side plus the constant input rates of running infusions
/// (the rates are checked once, not at every call, for the common case of
/// none).
fn with_inputs<'a>(
    rhs: &'a BoundRhs<'a>,
    rates: &'a [f64],
) -> impl FnMut(f64, &[f64], &mut [f64]) + 'a {
    let infusing = rates.iter().any(|&r| r != 0.0);
    move |t, y, dy| {
        rhs.call(t, y, dy);
        if infusing {
            for (d, r) in dy.iter_mut().zip(rates) {
                *d += r;
            }
        }
    }
}

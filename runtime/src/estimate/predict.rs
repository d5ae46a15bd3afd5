//! Predictions of one subject's observations and their derivatives with
//! respect to the subject's random effects.

use super::analytic::{OneCompartment, Outcome};
use super::residual::{residual_sensitivity, Residual};
use super::sensitivity::{depends_on_eta, Sensitized};
use super::FitError;
use crate::data::{Evid, Record, Subject};
use crate::model::{ErrorModel, Model, ModelInfo};
use crate::simulate::runner::{RunError, Runner, SubjectEtas};
use crate::solver::SolverOptions;

/// The endpoint a record is observed through: index of its prediction in
/// the `observe` slice, and its error model.
pub(crate) fn endpoint(info: &ModelInfo, record: &Record) -> (usize, ErrorModel) {
    let e = info
        .endpoints
        .get(record.endpoint)
        .unwrap_or(&info.endpoints[0]);
    (e.prediction, e.error_model)
}

/// The observations of one subject that enter the likelihood: EVID 0
/// records with a DV and MDV = 0.
#[derive(Debug, Clone)]
pub(crate) struct Observations {
    /// Record indices.
    pub records: Vec<usize>,
    pub dv: Vec<f64>,
    /// Per record of the subject: whether it is one of `records`.
    pub wanted: Vec<bool>,
    /// Whether every record has the first's covariates and occasion, so
    /// that a model whose individual parameters ignore time has one
    /// parameter set for the whole subject.
    pub uniform_inputs: bool,
}

impl Observations {
    pub fn of(subject: &Subject) -> Self {
        let mut records = Vec::new();
        let mut dv = Vec::new();
        let mut wanted = vec![false; subject.records.len()];
        for (i, r) in subject.records.iter().enumerate() {
            if let (Evid::Observation, false, Some(y)) = (&r.evid, r.mdv, r.dv) {
                records.push(i);
                dv.push(y);
                wanted[i] = true;
            }
        }
        let uniform_inputs = subject
            .records
            .first()
            .is_some_and(|first| subject.records.iter().all(|r| r.same_inputs(first)));
        Observations {
            records,
            dv,
            wanted,
            uniform_inputs,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }
}

/// Residuals of a subject's observations at one eta, with (when asked)
/// their derivatives: `g` = ∂f/∂η and `dv` = ∂V/∂η, each observations ×
/// etas, row-major.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evaluation {
    pub res: Vec<Residual>,
    pub g: Vec<f64>,
    pub dv: Vec<f64>,
}

/// How a subject's derivatives are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derivatives {
    /// Forward sensitivity equations (exact to solver tolerance).
    Sensitivity,
    /// Central differences of the predictions: for subjects whose doses
    /// depend on the random effects (see [`depends_on_eta`]).
    FiniteDifference,
}

/// Step of the central differences in eta.
const FD_STEP: f64 = 1e-5;

/// Buffers and runners of one worker thread.
pub(crate) struct Workspace<'m> {
    plain: Runner<'m>,
    sens: Runner<'m>,
    /// The one-compartment closed forms' own path (subjects it declines
    /// take the runners).
    analytic: Option<OneCompartment<'m>>,
    model: &'m dyn Model,
    obs: Vec<f64>,
    jy: Vec<f64>,
    jp: Vec<f64>,
    /// Evaluations handed back by the inner problem, reused so that their
    /// buffers are not allocated again for every subject.
    spare: Vec<Evaluation>,
    /// Outputs per observation (plain runs), for finite differences.
    fd_lo: Vec<f64>,
    fd_hi: Vec<f64>,
}

impl<'m> Workspace<'m> {
    pub fn new(
        model: &'m dyn Model,
        sensitized: &'m Sensitized<'m>,
        opts: SolverOptions,
        closed_form: bool,
    ) -> Self {
        Workspace {
            plain: Runner::new(model, opts, closed_form),
            sens: Runner::new(sensitized, opts, closed_form),
            analytic: closed_form
                .then(|| OneCompartment::for_model(model))
                .flatten(),
            model,
            obs: Vec::new(),
            jy: Vec::new(),
            jp: Vec::new(),
            spare: Vec::new(),
            fd_lo: Vec::new(),
            fd_hi: Vec::new(),
        }
    }

    /// This workspace without the one-compartment path: every subject
    /// through the runners (the reference the path is tested against).
    #[cfg(test)]
    pub fn general_only(mut self) -> Self {
        self.analytic = None;
        self
    }

    /// An evaluation to fill (with the buffers of one given back).
    pub fn take_evaluation(&mut self) -> Evaluation {
        self.spare.pop().unwrap_or_default()
    }

    /// Keeps `ev`'s buffers for the next [`Workspace::take_evaluation`].
    pub fn give_back(&mut self, ev: Evaluation) {
        self.spare.push(ev);
    }

    /// Number of random effects of the model.
    pub fn n_eta(&self) -> usize {
        self.model.info().etas.len()
    }

    /// How derivatives of `subject` are computed at `theta`.
    pub fn derivatives(&self, theta: &[f64], subject: &Subject) -> Derivatives {
        let eta = vec![0.0; self.model.info().etas.len()];
        if depends_on_eta(self.model, theta, &eta, &subject.records) {
            Derivatives::FiniteDifference
        } else {
            Derivatives::Sensitivity
        }
    }

    /// Residuals at `eta`, without derivatives.
    pub fn residuals(
        &mut self,
        theta: &[f64],
        eta: &[f64],
        subject: &Subject,
        obs: &Observations,
        out: &mut Evaluation,
    ) -> Result<(), FitError> {
        let info = self.model.info();
        let nobs = info.observe_len();
        let analytic = self
            .analytic
            .as_mut()
            .map(|k| k.run(theta, eta, subject, obs, false, &mut self.obs));
        if analytic != Some(Outcome::Done) {
            let etas = SubjectEtas::subject_level(eta);
            self.plain
                .run(theta, subject, &etas, &mut self.obs)
                .map_err(|e| run_error(subject, e))?;
        }
        out.res.clear();
        out.g.clear();
        out.dv.clear();
        for (&i, &y) in obs.records.iter().zip(&obs.dv) {
            let (pi, em) = endpoint(info, &subject.records[i]);
            let o = &self.obs[i * nobs..(i + 1) * nobs];
            out.res
                .push(residual_sensitivity(em, y, o[pi], &o[pi + 1..]).0);
        }
        Ok(())
    }

    /// Residuals at `eta` with their derivatives.
    pub fn evaluate(
        &mut self,
        theta: &[f64],
        eta: &[f64],
        subject: &Subject,
        obs: &Observations,
        how: Derivatives,
        out: &mut Evaluation,
    ) -> Result<(), FitError> {
        match how {
            Derivatives::Sensitivity => self.evaluate_sensitivity(theta, eta, subject, obs, out),
            Derivatives::FiniteDifference => self.evaluate_fd(theta, eta, subject, obs, out),
        }
    }

    fn evaluate_sensitivity(
        &mut self,
        theta: &[f64],
        eta: &[f64],
        subject: &Subject,
        obs: &Observations,
        out: &mut Evaluation,
    ) -> Result<(), FitError> {
        let model = self.model;
        let info = model.info();
        let (ns, np, ne, nobs) = (
            info.states.len(),
            info.params.len(),
            info.etas.len(),
            info.observe_len(),
        );
        // Per record: the observe slice, then its derivative per eta.
        let width = nobs * (1 + ne);
        if let Some(k) = self.analytic.as_mut() {
            if k.run(theta, eta, subject, obs, true, &mut self.obs) == Outcome::Done {
                self.collect(subject, obs, width, out);
                return Ok(());
            }
        }
        let etas = SubjectEtas::subject_level(eta);
        self.obs.clear();
        self.obs.resize(subject.records.len() * width, f64::NAN);
        self.jy.resize(nobs * ns, 0.0);
        self.jp.resize(nobs * np, 0.0);
        let (buf, jy, jp) = (&mut self.obs, &mut self.jy, &mut self.jp);
        let wanted = &obs.wanted;
        self.sens
            .run_with(theta, subject, &etas, |index, t, y, p, cov| {
                if !wanted[index] {
                    return;
                }
                let (x, s) = y.split_at(ns);
                let (pp, dp) = p.split_at(np);
                let rec = &mut buf[index * width..(index + 1) * width];
                let (o, d) = rec.split_at_mut(nobs);
                model.observe(t, x, pp, cov, o);
                model.observe_jac_y(t, x, pp, cov, jy);
                model.observe_jac_p(t, x, pp, cov, jp);
                for k in 0..ne {
                    let dk = &mut d[k * nobs..(k + 1) * nobs];
                    dk.fill(0.0);
                    for j in 0..ns {
                        let sj = s[k * ns + j];
                        if sj != 0.0 {
                            for (l, v) in dk.iter_mut().enumerate() {
                                *v += jy[j * nobs + l] * sj;
                            }
                        }
                    }
                    for m in 0..np {
                        let dm = dp[k * np + m];
                        if dm != 0.0 {
                            for (l, v) in dk.iter_mut().enumerate() {
                                *v += jp[m * nobs + l] * dm;
                            }
                        }
                    }
                }
            })
            .map_err(|e| run_error(subject, e))?;
        self.collect(subject, obs, width, out);
        Ok(())
    }

    fn evaluate_fd(
        &mut self,
        theta: &[f64],
        eta: &[f64],
        subject: &Subject,
        obs: &Observations,
        out: &mut Evaluation,
    ) -> Result<(), FitError> {
        let info = self.model.info();
        let (ne, nobs) = (info.etas.len(), info.observe_len());
        let nrec = subject.records.len();
        let width = nobs * (1 + ne);
        let mut etas = SubjectEtas::subject_level(eta);
        let wrap = |e| run_error(subject, e);
        self.plain
            .run(theta, subject, &etas, &mut self.fd_lo)
            .map_err(wrap)?;
        let mut buf = vec![f64::NAN; nrec * width];
        for i in 0..nrec {
            buf[i * width..i * width + nobs].copy_from_slice(&self.fd_lo[i * nobs..(i + 1) * nobs]);
        }
        for k in 0..ne {
            let h = FD_STEP * eta[k].abs().max(1.0);
            etas.base[k] = eta[k] + h;
            self.plain
                .run(theta, subject, &etas, &mut self.fd_hi)
                .map_err(wrap)?;
            etas.base[k] = eta[k] - h;
            self.plain
                .run(theta, subject, &etas, &mut self.fd_lo)
                .map_err(wrap)?;
            etas.base[k] = eta[k];
            for i in 0..nrec {
                for l in 0..nobs {
                    buf[i * width + nobs * (1 + k) + l] =
                        (self.fd_hi[i * nobs + l] - self.fd_lo[i * nobs + l]) / (2.0 * h);
                }
            }
        }
        self.obs = buf;
        self.collect(subject, obs, width, out);
        Ok(())
    }

    /// Residuals and their derivatives from per-record observe slices and
    /// their eta derivatives (`width` values per record).
    fn collect(
        &mut self,
        subject: &Subject,
        obs: &Observations,
        width: usize,
        out: &mut Evaluation,
    ) {
        let info = self.model.info();
        let (ne, nobs) = (info.etas.len(), info.observe_len());
        out.res.clear();
        out.g.clear();
        out.g.resize(obs.len() * ne, 0.0);
        out.dv.clear();
        out.dv.resize(obs.len() * ne, 0.0);
        for (j, (&i, &y)) in obs.records.iter().zip(&obs.dv).enumerate() {
            let (pi, em) = endpoint(info, &subject.records[i]);
            let rec = &self.obs[i * width..(i + 1) * width];
            let o = &rec[..nobs];
            let (res, sens) = residual_sensitivity(em, y, o[pi], &o[pi + 1..]);
            out.res.push(res);
            // ∂(observe slice entry l)/∂η_k = rec[nobs·(1+k) + l]: the
            // prediction's at l = pi, its error parameters' after it (zero
            // when the error model has fewer).
            let used = em.n_params();
            let gf = &mut out.g[j * ne..(j + 1) * ne];
            let gv = &mut out.dv[j * ne..(j + 1) * ne];
            for (k, (gf, gv)) in gf.iter_mut().zip(gv.iter_mut()).enumerate() {
                let d = &rec[nobs * (1 + k) + pi..];
                let d0 = if used >= 1 { d[1] } else { 0.0 };
                let d1 = if used >= 2 { d[2] } else { 0.0 };
                (*gf, *gv) = sens.along(d[0], d0, d1);
            }
        }
    }
}

fn run_error(subject: &Subject, e: RunError) -> FitError {
    FitError::Simulation(crate::simulate::run_error(subject, e))
}

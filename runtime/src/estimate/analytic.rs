//! The purpose-built path of the estimation's most common models: the
//! one-compartment closed forms (IV, and oral with first-order absorption)
//! advanced with their exact derivatives with respect to the two rate
//! constants, instead of the general propagator's Fréchet derivatives.
//!
//! The general path ([`super::sensitivity::Sensitized`] through the
//! simulation runner) carries `∂amounts/∂η` for every eta through a matrix
//! exponential and its Fréchet derivative per interval. For one
//! compartment the amounts depend on the individual parameters only
//! through `k = CL/V` and `ka`, so the kernel carries each amount with its
//! two partial derivatives `∂/∂ka`, `∂/∂k`, updated by the scalar formulas
//!
//! ```text
//! depot   A_d ← A_d·e^{−ka·dt}
//! central A_c ← A_c·e^{−k·dt} + ka·A_d·φ(ka, k, dt) + R_c·γ(k, dt)
//! φ(ka, k, dt) = (e^{−k·dt} − e^{−ka·dt}) / (ka − k) = e^{−m·dt}·γ(|ka − k|, dt),  m = min(ka, k)
//! γ(x, dt)     = (1 − e^{−x·dt}) / x = −expm1(−x·dt)/x                 (dt at x = 0)
//! ```
//!
//! (`R_c` the infusion rate into the central compartment), written so that
//! nothing cancels: `φ` is the Bateman function in the form that stays
//! accurate as `ka → k` and over short intervals, where the difference of
//! exponentials would lose digits. At an observation the chain rule turns
//! `∂A/∂(ka, k)` into `∂A/∂η` through `∂(ka, CL, V)/∂η` from the compiled
//! `individual_jac_eta`; the observation's derivatives then follow exactly
//! as on the general path.
//!
//! A subject takes this path when its individual parameters are the same at
//! every record (the model's `individual` ignores time and the subject's
//! covariates and occasion do not change), and its doses are boluses or
//! infusions into the central compartment and boluses into the depot,
//! without resets or steady-state doses; every other subject, and every
//! parameter set the closed form rejects, takes the general path, which
//! then reports the error. Tests compare both paths on every dosing form
//! the kernel takes.

use super::predict::Observations;
use crate::data::Subject;
use crate::events::{resolve, Action, ResolvedDose, Schedule};
use crate::model::{DoseProps, Model};
use crate::pk::LinearKind;
use std::collections::HashMap;

/// A value with its partial derivatives with respect to `ka` and `k`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sens {
    v: f64,
    d_ka: f64,
    d_k: f64,
}

/// `γ(x, dt) = (1 − e^{−x·dt})/x`, `∂γ/∂x` and `e^{−x·dt}`, accurate for
/// every `x·dt ≥ 0` (series below 1e-2, where the closed forms cancel).
/// The exponential comes from the same `expm1` (absolute error ε, which is
/// all `∂γ/∂x = (dt·e^{−x·dt} − γ)/x` needs), so one transcendental call
/// serves all three.
fn gamma(x: f64, dt: f64) -> (f64, f64, f64) {
    let z = x * dt;
    if z < 1e-2 {
        // γ = dt·Σ (−z)^n/(n+1)!, ∂γ/∂x = −dt²·Σ (n+1)(−z)^n/(n+2)!.
        // Six terms: the first omitted is below 2e-16 relative.
        let g = dt
            * (1.0
                - z * (1.0 / 2.0
                    - z * (1.0 / 6.0 - z * (1.0 / 24.0 - z * (1.0 / 120.0 - z / 720.0)))));
        let dg = -dt
            * dt
            * (1.0 / 2.0
                - z * (1.0 / 3.0
                    - z * (1.0 / 8.0 - z * (1.0 / 30.0 - z * (1.0 / 144.0 - z / 840.0)))));
        (g, dg, 1.0 - x * g)
    } else {
        let em1 = (-z).exp_m1();
        let g = -em1 / x;
        let e = 1.0 + em1;
        let dg = (dt * e - g) / x;
        (g, dg, e)
    }
}

/// The rate constants of one subject and what an interval needs of them.
#[derive(Debug, Clone, Copy)]
struct Rates {
    ka: f64,
    k: f64,
}

impl Rates {
    /// Advances `(depot, central)` by `dt` with a zero-order input `rc`
    /// into the central compartment.
    fn advance(&self, depot: &mut Sens, central: &mut Sens, rc: f64, dt: f64) {
        let Rates { ka, k } = *self;
        let ek = (-k * dt).exp();
        let mut c = Sens {
            v: central.v * ek,
            d_ka: central.d_ka * ek,
            d_k: central.d_k * ek - dt * central.v * ek,
        };
        if depot.v != 0.0 || depot.d_ka != 0.0 || depot.d_k != 0.0 {
            // φ = e^{−m·dt}·γ(δ, dt) with m = min(ka, k), δ = |ka − k|.
            let (m_is_k, delta) = if ka >= k {
                (true, ka - k)
            } else {
                (false, k - ka)
            };
            let (g, dg, ed) = gamma(delta, dt);
            // e^{−ka·dt} = e^{−k·dt}·e^{−δ·dt} when ka ≥ k, to full relative
            // accuracy while e^{−δ·dt} is not small (it is ≥ 1/e here).
            let ea = if m_is_k && delta * dt <= 1.0 {
                ek * ed
            } else {
                (-ka * dt).exp()
            };
            let em = if m_is_k { ek } else { ea };
            let phi = em * g;
            // ∂φ/∂m = −dt·φ, ∂φ/∂δ = e^{−m·dt}·∂γ/∂δ.
            let dphi_dm = -dt * phi;
            let dphi_dd = em * dg;
            let (dphi_dka, dphi_dk) = if m_is_k {
                (dphi_dd, dphi_dm - dphi_dd)
            } else {
                (dphi_dm - dphi_dd, dphi_dd)
            };
            let moved = ka * phi;
            c.v += depot.v * moved;
            c.d_ka += depot.d_ka * moved + depot.v * (phi + ka * dphi_dka);
            c.d_k += depot.d_k * moved + depot.v * ka * dphi_dk;
            *depot = Sens {
                v: depot.v * ea,
                d_ka: depot.d_ka * ea - dt * depot.v * ea,
                d_k: depot.d_k * ea,
            };
        }
        if rc != 0.0 {
            let (g, dg, _) = gamma(k, dt);
            c.v += rc * g;
            c.d_k += rc * dg;
        }
        *central = c;
    }
}

/// The path for one model, with the scratch of one worker thread.
pub(crate) struct OneCompartment<'m> {
    model: &'m dyn Model,
    kind: LinearKind,
    /// Indices of ka (unused for the IV model), CL and V among the
    /// individual parameters.
    idx: [usize; 3],
    params: Vec<f64>,
    /// `∂params/∂η`, params × etas, column-major (`[k·np + m]`).
    dparams: Vec<f64>,
    /// Per eta: `(∂ka/∂η, ∂k/∂η)`, and the range of its nonzero
    /// `∂params/∂η` in `nonzero` (`(param, value)`).
    per_eta: Vec<EtaSlopes>,
    nonzero: Vec<(usize, f64)>,
    props: Vec<DoseProps>,
    doses: Vec<Option<ResolvedDose>>,
    /// The schedules of the subjects this worker has run: a subject's
    /// doses on this path do not depend on eta, and in most models not on
    /// theta either, so its schedule is built once per fit instead of once
    /// per run.
    schedules: HashMap<(usize, usize), CachedSchedule>,
    jy: Vec<f64>,
    jp: Vec<f64>,
}

/// A subject's schedule, for the doses it was built with, keyed by the
/// address and length of the subject's records (stable while the data is
/// borrowed by the fit).
#[derive(Debug)]
struct CachedSchedule {
    doses: Vec<Option<ResolvedDose>>,
    schedule: Schedule,
}

/// Most schedules one worker keeps (a dataset larger than this rebuilds
/// them as it goes, as if uncached).
const MAX_CACHED_SCHEDULES: usize = 4096;

/// One eta's effect on the rate constants and the parameters.
#[derive(Debug, Clone, Copy, Default)]
struct EtaSlopes {
    d_ka: f64,
    d_k: f64,
    /// `nonzero[from..to]` are its nonzero `∂params/∂η`.
    from: usize,
    to: usize,
}

impl EtaSlopes {
    /// `(∂A_c/∂η, ∂A_d/∂η)` from the amounts' partials in `(ka, k)` (the
    /// depot's is 0 for the IV model).
    fn state_slopes(&self, cent: &Sens, depot: &Sens, oral: bool) -> (f64, f64) {
        let sc = cent.d_ka * self.d_ka + cent.d_k * self.d_k;
        let sd = if oral {
            depot.d_ka * self.d_ka + depot.d_k * self.d_k
        } else {
            0.0
        };
        (sc, sd)
    }
}

/// What the kernel made of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The per-record observe slices (and derivatives) are written.
    Done,
    /// The subject (or its parameters) needs the general path.
    Declined,
}

impl<'m> OneCompartment<'m> {
    /// The kernel for `model` when it declares a one-compartment closed
    /// form and its parameters do not depend on time; `None` otherwise.
    pub fn for_model(model: &'m dyn Model) -> Option<Self> {
        let info = model.info();
        let linear = info.linear.as_ref()?;
        if model.individual_uses_time() || linear.directions != 0 {
            return None;
        }
        // Indices of (ka, cl, v) among the individual parameters; ka unused
        // for the IV model.
        let idx = match (linear.kind, linear.params.as_slice()) {
            (LinearKind::OneCpt, &[cl, v]) => [usize::MAX, cl, v],
            (LinearKind::OneCptOral, &[ka, cl, v]) => [ka, cl, v],
            _ => return None,
        };
        Some(OneCompartment {
            model,
            kind: linear.kind,
            idx,
            params: Vec::new(),
            dparams: Vec::new(),
            per_eta: Vec::new(),
            nonzero: Vec::new(),
            props: Vec::new(),
            doses: Vec::new(),
            schedules: HashMap::new(),
            jy: Vec::new(),
            jp: Vec::new(),
        })
    }

    /// Fills `buf` with, per record of `subject`, its `observe` slice and
    /// (when `ne > 0`, i.e. `with_derivatives`) that slice's derivative per
    /// eta: `width = nobs·(1 + ne)` values per record, as the general path
    /// lays them out. Only the records of `obs` are written.
    pub fn run(
        &mut self,
        theta: &[f64],
        eta: &[f64],
        subject: &Subject,
        obs: &Observations,
        with_derivatives: bool,
        buf: &mut Vec<f64>,
    ) -> Outcome {
        let (model, kind, [ika, icl, iv]) = (self.model, self.kind, self.idx);
        let info = model.info();
        let records = &subject.records;
        let (ns, np, nobs) = (info.states.len(), info.params.len(), info.observe_len());
        let ne = if with_derivatives { info.etas.len() } else { 0 };
        let Some(first) = records.first() else {
            return Outcome::Declined;
        };
        // One parameter set for the whole subject.
        if !obs.uniform_inputs {
            return Outcome::Declined;
        }
        let cov = &first.covariates[..];
        self.params.resize(np, 0.0);
        model.individual(theta, eta, cov, first.time, &mut self.params);
        let p = &self.params;
        let (cl, v) = (p[icl], p[iv]);
        let ka = if kind == LinearKind::OneCptOral {
            p[ika]
        } else {
            0.0
        };
        let k = cl / v;
        if !(k.is_finite() && k >= 0.0 && v > 0.0 && ka.is_finite() && ka >= 0.0) {
            return Outcome::Declined;
        }
        let rates = Rates { ka, k };
        let central = usize::from(kind == LinearKind::OneCptOral);
        if ne > 0 {
            self.dparams.resize(np * ne, 0.0);
            model.individual_jac_eta(theta, eta, cov, first.time, &mut self.dparams);
            self.per_eta.clear();
            self.nonzero.clear();
            for dp in self.dparams.chunks_exact(np) {
                let from = self.nonzero.len();
                self.nonzero.extend(
                    dp.iter()
                        .enumerate()
                        .filter(|(_, &d)| d != 0.0)
                        .map(|(m, &d)| (m, d)),
                );
                self.per_eta.push(EtaSlopes {
                    // ∂k/∂η = (∂CL/∂η − k·∂V/∂η)/V.
                    d_k: (dp[icl] - k * dp[iv]) / v,
                    d_ka: if kind == LinearKind::OneCptOral {
                        dp[ika]
                    } else {
                        0.0
                    },
                    from,
                    to: self.nonzero.len(),
                });
            }
            self.jy.resize(nobs * ns, 0.0);
            self.jp.resize(nobs * np, 0.0);
        }

        // Doses: resolved with the subject's parameters; a dose the kernel
        // does not take sends the subject to the general path, which also
        // reports invalid dose properties.
        self.props.resize(ns, DoseProps::default());
        self.doses.clear();
        for r in records {
            if r.resets() || r.dose().is_some_and(|d| d.steady_state.is_some()) {
                return Outcome::Declined;
            }
            let dose = match r.dose() {
                Some(d) => {
                    model.dose_props(r.time, p, &r.covariates, &mut self.props);
                    let props = self.props.get(d.cmt).copied().unwrap_or_default();
                    match resolve(r, &props) {
                        Ok(Some(rd)) if rd.rate.is_some() && rd.state != central => {
                            return Outcome::Declined
                        }
                        Ok(rd) => rd,
                        Err(_) => return Outcome::Declined,
                    }
                }
                None => None,
            };
            self.doses.push(dose);
        }
        let key = (records.as_ptr() as usize, records.len());
        if self.schedules.len() >= MAX_CACHED_SCHEDULES && !self.schedules.contains_key(&key) {
            self.schedules.clear();
        }
        let cached = self.schedules.entry(key).or_insert_with(|| {
            let mut schedule = Schedule::new();
            schedule.build(records, &self.doses);
            CachedSchedule {
                doses: self.doses.clone(),
                schedule,
            }
        });
        if cached.doses != self.doses {
            cached.schedule.build(records, &self.doses);
            cached.doses.clone_from(&self.doses);
        }
        let schedule = &cached.schedule;

        let width = nobs * (1 + ne);
        buf.clear();
        buf.resize(records.len() * width, f64::NAN);
        let mut depot = Sens::default();
        let mut cent = Sens::default();
        let (mut rc, mut active) = (0.0, 0u32);
        let mut t = first.time;
        let mut remaining = obs.records.len();
        let mut y = [0.0; 2];
        for ev in schedule.events() {
            if ev.time > t {
                rates.advance(&mut depot, &mut cent, rc, ev.time - t);
                t = ev.time;
            }
            match ev.action {
                Action::Bolus { state, amount } => {
                    if state == central {
                        cent.v += amount;
                    } else {
                        depot.v += amount;
                    }
                }
                Action::InfusionStart { rate, .. } => {
                    rc += rate;
                    active += 1;
                }
                Action::InfusionEnd { rate, .. } => {
                    active = active.saturating_sub(1);
                    rc = if active == 0 { 0.0 } else { rc - rate };
                }
                Action::Reset | Action::SteadyState { .. } => return Outcome::Declined,
                Action::Record { index } => {
                    if !obs.wanted[index] {
                        continue;
                    }
                    remaining -= 1;
                    y[central] = cent.v;
                    if central == 1 {
                        y[0] = depot.v;
                    }
                    let x = &y[..ns];
                    let rec = &mut buf[index * width..(index + 1) * width];
                    let (o, d) = rec.split_at_mut(nobs);
                    let r = &records[index];
                    model.observe(t, x, p, &r.covariates, o);
                    if ne == 0 {
                        continue;
                    }
                    model.observe_jac_y(t, x, p, &r.covariates, &mut self.jy);
                    model.observe_jac_p(t, x, p, &r.covariates, &mut self.jp);
                    let partials = Partials {
                        per_eta: &self.per_eta,
                        nonzero: &self.nonzero,
                        jy: &self.jy,
                        jp: &self.jp,
                        central,
                        nobs,
                    };
                    partials.chain(&depot, &cent, d);
                }
            }
            if remaining == 0 {
                break;
            }
        }
        Outcome::Done
    }
}

/// What the chain rule from `∂amounts/∂(ka, k)` to an observation's
/// `∂observe/∂η` needs.
struct Partials<'a> {
    per_eta: &'a [EtaSlopes],
    nonzero: &'a [(usize, f64)],
    /// `∂observe/∂states` and `∂observe/∂params`, column-major.
    jy: &'a [f64],
    jp: &'a [f64],
    central: usize,
    /// Length of the `observe` slice.
    nobs: usize,
}

impl Partials<'_> {
    /// The derivatives of one observation's `observe` slice per eta into
    /// `d` (etas × nobs): `∂o/∂η = J_y·∂A/∂η + J_p·∂p/∂η`.
    fn chain(&self, depot: &Sens, cent: &Sens, d: &mut [f64]) {
        // Unrolled for the usual lengths of the observe slice (an output,
        // a prediction and one or two error parameters).
        match self.nobs {
            1 => self.chain_n::<1>(depot, cent, d),
            2 => self.chain_n::<2>(depot, cent, d),
            3 => self.chain_n::<3>(depot, cent, d),
            4 => self.chain_n::<4>(depot, cent, d),
            5 => self.chain_n::<5>(depot, cent, d),
            _ => self.chain_any(depot, cent, d),
        }
    }

    fn chain_n<const N: usize>(&self, depot: &Sens, cent: &Sens, d: &mut [f64]) {
        let c = self.central;
        let column = |j: &[f64], i: usize| -> [f64; N] {
            j[i * N..(i + 1) * N].try_into().unwrap_or([0.0; N])
        };
        let jy_c = column(self.jy, c);
        let jy_d = column(self.jy, 0);
        for (e, out) in self.per_eta.iter().zip(d.chunks_exact_mut(N)) {
            let (sc, sd) = e.state_slopes(cent, depot, c == 1);
            let mut acc = [0.0; N];
            for l in 0..N {
                acc[l] = jy_c[l] * sc + jy_d[l] * sd;
            }
            for &(m, dm) in &self.nonzero[e.from..e.to] {
                let col = column(self.jp, m);
                for l in 0..N {
                    acc[l] += col[l] * dm;
                }
            }
            out.copy_from_slice(&acc);
        }
    }

    fn chain_any(&self, depot: &Sens, cent: &Sens, d: &mut [f64]) {
        let nobs = self.nobs;
        let c = self.central;
        let jy_c = &self.jy[c * nobs..(c + 1) * nobs];
        let jy_d = &self.jy[..nobs];
        for (e, out) in self.per_eta.iter().zip(d.chunks_exact_mut(nobs)) {
            let (sc, sd) = e.state_slopes(cent, depot, c == 1);
            for l in 0..nobs {
                out[l] = jy_c[l] * sc + jy_d[l] * sd;
            }
            for &(m, dm) in &self.nonzero[e.from..e.to] {
                let col = &self.jp[m * nobs..(m + 1) * nobs];
                for l in 0..nobs {
                    out[l] += col[l] * dm;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{DataSpec, Dataset};
    use crate::estimate::predict::{Derivatives, Evaluation, Workspace};
    use crate::estimate::Sensitized;
    use crate::model::{
        EndpointInfo, ErrorModel, EtaInfo, LinearInfo, ModelInfo, RandomLevel, StateInfo, ThetaInfo,
    };
    use crate::solver::SolverOptions;

    /// A hand-written one-compartment model, oral or IV: thetas CL, V, KA,
    /// SD, F, LAG; log-normal etas on CL, V, KA; params in theta order;
    /// the dosed compartment takes F and LAG; `cp = central/V` with
    /// additive error. Its Jacobians are exact.
    pub(crate) struct OneCptModel {
        oral: bool,
        info: ModelInfo,
    }

    impl OneCptModel {
        pub(crate) fn new(oral: bool) -> Self {
            let theta = |name: &str, init: f64| ThetaInfo {
                name: name.into(),
                init,
                lower: 0.0,
                upper: f64::INFINITY,
                fixed: false,
            };
            let eta = |name: &str| EtaInfo {
                name: name.into(),
                level: RandomLevel::Subject,
            };
            let state = |name: &str| StateInfo {
                name: name.into(),
                dosable: true,
            };
            let info = ModelInfo {
                name: "one_cpt".into(),
                data_file: None,
                covariates: Vec::new(),
                thetas: vec![
                    theta("cl", 2.0),
                    theta("v", 30.0),
                    theta("ka", 1.5),
                    theta("sd", 0.5),
                    theta("f", 0.8),
                    theta("lag", 0.25),
                ],
                etas: vec![eta("eta_cl"), eta("eta_v"), eta("eta_ka")],
                omegas: Vec::new(),
                params: ["cl", "v", "ka", "sd", "f", "lag"]
                    .map(String::from)
                    .to_vec(),
                states: if oral {
                    vec![state("depot"), state("central")]
                } else {
                    vec![state("central")]
                },
                outputs: vec!["cp".into()],
                endpoints: vec![EndpointInfo::single(ErrorModel::Additive, 1)],
                linear: Some(if oral {
                    LinearInfo {
                        kind: LinearKind::OneCptOral,
                        params: vec![2, 0, 1],
                        directions: 0,
                    }
                } else {
                    LinearInfo {
                        kind: LinearKind::OneCpt,
                        params: vec![0, 1],
                        directions: 0,
                    }
                }),
            };
            OneCptModel { oral, info }
        }

        fn central(&self) -> usize {
            usize::from(self.oral)
        }
    }

    impl Model for OneCptModel {
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        fn individual(&self, th: &[f64], eta: &[f64], _: &[f64], _: f64, p: &mut [f64]) {
            p[0] = th[0] * eta[0].exp();
            p[1] = th[1] * eta[1].exp();
            p[2] = th[2] * eta[2].exp();
            p[3..6].copy_from_slice(&th[3..6]);
        }
        fn individual_uses_time(&self) -> bool {
            false
        }
        fn individual_jac_eta(&self, th: &[f64], eta: &[f64], _: &[f64], _: f64, jac: &mut [f64]) {
            jac.fill(0.0);
            for k in 0..3 {
                jac[k * 6 + k] = th[k] * eta[k].exp();
            }
        }
        fn rhs(&self, _: f64, y: &[f64], p: &[f64], _: &[f64], dydt: &mut [f64]) {
            let c = self.central();
            dydt[c] = -p[0] / p[1] * y[c];
            if self.oral {
                dydt[0] = -p[2] * y[0];
                dydt[1] += p[2] * y[0];
            }
        }
        fn dose_props(&self, _: f64, p: &[f64], _: &[f64], out: &mut [DoseProps]) {
            out.fill(DoseProps::default());
            out[0].bioavailability = p[4];
            out[0].lag = p[5];
        }
        fn observe(&self, _: f64, y: &[f64], p: &[f64], _: &[f64], out: &mut [f64]) {
            let cp = y[self.central()] / p[1];
            out.copy_from_slice(&[cp, cp, p[3]]);
        }
        fn observe_jac_y(&self, _: f64, _: &[f64], p: &[f64], _: &[f64], jac: &mut [f64]) {
            jac.fill(0.0);
            let c = self.central();
            jac[c * 3] = 1.0 / p[1];
            jac[c * 3 + 1] = 1.0 / p[1];
        }
        fn observe_jac_p(&self, _: f64, y: &[f64], p: &[f64], _: &[f64], jac: &mut [f64]) {
            jac.fill(0.0);
            let d = -y[self.central()] / (p[1] * p[1]);
            jac[3] = d;
            jac[4] = d;
            jac[3 * 3 + 2] = 1.0;
        }
    }

    /// Every dosing form the path takes, per model: single and repeated
    /// (ADDL/II) oral doses with observations at and between doses, IV
    /// boluses and infusions into the central compartment (overlapping),
    /// and a dose after the last observation.
    pub(crate) const ORAL_DATA: &str = "ID,TIME,AMT,DV,CMT,EVID,RATE,ADDL,II
1,0,320,.,1,1,.,.,.
1,0.25,.,1.1,2,0,.,.,.
1,0.5,.,3.2,2,0,.,.,.
1,1,.,6.0,2,0,.,.,.
1,3,.,7.5,2,0,.,.,.
1,12,.,4.0,2,0,.,.,.
1,24,.,1.5,2,0,.,.,.
2,0,100,.,1,1,.,3,12
2,0,.,0.1,2,0,.,.,.
2,6,.,2.1,2,0,.,.,.
2,12,.,1.3,2,0,.,.,.
2,12.1,.,1.6,2,0,.,.,.
2,30,.,2.7,2,0,.,.,.
2,40,.,2.0,2,0,.,.,.
2,47,.,1.9,2,0,.,.,.
3,0,100,.,1,1,.,.,.
3,0.5,50,.,2,1,.,.,.
3,2,.,3.4,2,0,.,.,.
3,4,60,.,2,1,20,.,.
3,5,30,.,2,1,15,.,.
3,5.5,.,5.0,2,0,.,.,.
3,8,.,4.0,2,0,.,.,.
3,20,.,1.0,2,0,.,.,.
3,30,100,.,1,1,.,.,.
";

    const IV_DATA: &str = "ID,TIME,AMT,DV,CMT,EVID,RATE,ADDL,II
1,0,500,.,1,1,100,.,.
1,1,.,12.0,1,0,.,.,.
1,5,.,14.0,1,0,.,.,.
1,8,.,10.0,1,0,.,.,.
1,8,200,.,1,1,.,.,.
1,9,.,15.0,1,0,.,.,.
2,0,100,.,1,1,.,4,6
2,3,.,2.0,1,0,.,.,.
2,20,.,3.0,1,0,.,.,.
";

    fn compare(oral: bool, data: &str, etas: &[[f64; 3]], theta: &[f64]) {
        let model = OneCptModel::new(oral);
        let spec = DataSpec::from_info(model.info());
        let data = Dataset::parse(data, "test", &spec).expect("valid data");
        let sens = Sensitized::new(&model);
        let opts = SolverOptions::default();
        let mut fast = Workspace::new(&model, &sens, opts, true);
        let mut general = Workspace::new(&model, &sens, opts, true).general_only();
        let mut kernel = OneCompartment::for_model(&model).expect("one compartment");
        for subject in &data.subjects {
            let obs = Observations::of(subject);
            for eta in etas {
                let mut buf = Vec::new();
                let taken = kernel.run(theta, eta, subject, &obs, true, &mut buf);
                assert_eq!(taken, Outcome::Done, "subject {}", subject.label);
                let (mut a, mut b) = (Evaluation::default(), Evaluation::default());
                let how = Derivatives::Sensitivity;
                fast.evaluate(theta, eta, subject, &obs, how, &mut a)
                    .expect("runs");
                general
                    .evaluate(theta, eta, subject, &obs, how, &mut b)
                    .expect("runs");
                let close = |x: f64, y: f64, what: &str| {
                    assert!(
                        (x - y).abs() <= 1e-10 * y.abs().max(1e-3),
                        "subject {} eta {eta:?} {what}: {x} vs {y}",
                        subject.label
                    )
                };
                assert_eq!(a.res.len(), obs.len());
                for (ra, rb) in a.res.iter().zip(&b.res) {
                    close(ra.f, rb.f, "prediction");
                    close(ra.v, rb.v, "variance");
                }
                for (ga, gb) in a.g.iter().zip(&b.g) {
                    close(*ga, *gb, "∂f/∂η");
                }
                // Without derivatives: the same predictions.
                let mut c = Evaluation::default();
                fast.residuals(theta, eta, subject, &obs, &mut c)
                    .expect("runs");
                for (rc, rb) in c.res.iter().zip(&b.res) {
                    close(rc.f, rb.f, "prediction without derivatives");
                }
            }
        }
    }

    #[test]
    fn the_oral_path_agrees_with_the_general_closed_form_on_every_dosing_form() {
        let theta = [2.0, 30.0, 1.5, 0.5, 0.8, 0.25];
        let etas = [[0.0; 3], [0.3, -0.2, 0.5], [-0.4, 0.1, -1.2]];
        compare(true, ORAL_DATA, &etas, &theta);
    }

    #[test]
    fn the_oral_path_agrees_near_ka_equal_to_k() {
        // k = CL/V = 0.1; ka = 0.1·(1 + δ).
        for delta in [0.0, 1e-9, 1e-6, 1e-3] {
            let theta = [3.0, 30.0, 0.1 * (1.0 + delta), 0.5, 1.0, 0.0];
            compare(true, ORAL_DATA, &[[0.0; 3]], &theta);
        }
    }

    #[test]
    fn the_iv_path_agrees_with_the_general_closed_form_on_boluses_and_infusions() {
        let theta = [2.0, 30.0, 1.5, 0.5, 1.0, 0.5];
        let etas = [[0.0; 3], [0.3, -0.2, 0.0], [-0.4, 0.1, 0.0]];
        compare(false, IV_DATA, &etas, &theta);
    }

    /// `(e^{−k·dt} − e^{−ka·dt})/(ka − k)` and its partials by the direct
    /// formula, for well-separated rates.
    fn bateman(ka: f64, k: f64, dt: f64) -> (f64, f64, f64) {
        let (ek, ea) = ((-k * dt).exp(), (-ka * dt).exp());
        let phi = (ek - ea) / (ka - k);
        let d_ka = (dt * ea - phi) / (ka - k);
        let d_k = (-dt * ek + phi) / (ka - k);
        (phi, d_ka, d_k)
    }

    #[test]
    fn gamma_matches_its_closed_form_and_derivative_on_both_sides_of_the_series_switch() {
        for &(x, dt) in &[
            (0.5, 3.0),
            (1e-3, 2.0),
            (0.004999, 2.0),
            (0.005001, 2.0),
            (2.0, 0.1),
            (3.0, 10.0),
        ] {
            let (g, dg, e) = gamma(x, dt);
            let exp = (-x * dt).exp();
            let exact = (1.0 - exp) / x;
            // γ'(x) = (dt·e^{−x·dt} − γ)/x, accurate away from x·dt = 0.
            let exact_d = (dt * exp - exact) / x;
            assert!((e - exp).abs() <= 4e-16, "e^(-{x}·{dt}) = {e} vs {exp}");
            assert!(
                (g - exact).abs() <= 1e-14 * exact,
                "γ({x}, {dt}) = {g} vs {exact}"
            );
            let tol = if x * dt < 0.05 { 1e-8 } else { 1e-12 };
            assert!(
                (dg - exact_d).abs() <= tol * exact_d.abs(),
                "γ'({x}, {dt}) = {dg} vs {exact_d}"
            );
        }
        assert_eq!(gamma(0.0, 2.5), (2.5, -2.5 * 2.5 / 2.0, 1.0));
    }

    #[test]
    fn one_oral_dose_gives_the_bateman_function_and_its_partials() {
        for &(ka, k) in &[(1.5, 0.1), (0.1, 1.5), (0.8, 0.79)] {
            let rates = Rates { ka, k };
            let mut depot = Sens {
                v: 100.0,
                ..Sens::default()
            };
            let mut cent = Sens::default();
            // Three intervals summing to 5 h: the result must not depend on
            // how the time is cut.
            for dt in [0.3, 1.7, 3.0] {
                rates.advance(&mut depot, &mut cent, 0.0, dt);
            }
            let (phi, d_ka, d_k) = bateman(ka, k, 5.0);
            let want = Sens {
                v: 100.0 * ka * phi,
                d_ka: 100.0 * (phi + ka * d_ka),
                d_k: 100.0 * ka * d_k,
            };
            let tol = if (ka - k).abs() < 0.1 { 1e-9 } else { 1e-13 };
            for (got, want) in [
                (cent.v, want.v),
                (cent.d_ka, want.d_ka),
                (cent.d_k, want.d_k),
            ] {
                assert!(
                    (got - want).abs() <= tol * want.abs().max(1.0),
                    "ka {ka} k {k}: {got} vs {want}"
                );
            }
            assert!((depot.v - 100.0 * (-ka * 5.0f64).exp()).abs() < 1e-12);
            assert!((depot.d_ka + 5.0 * 100.0 * (-ka * 5.0f64).exp()).abs() < 1e-12);
        }
    }

    #[test]
    fn ka_equal_to_k_gives_the_limit_of_the_bateman_function() {
        // At ka = k: A_c = D·k·t·e^{−kt}.
        let (k, t, dose) = (0.7, 3.0, 50.0);
        let rates = Rates { ka: k, k };
        let mut depot = Sens {
            v: dose,
            ..Sens::default()
        };
        let mut cent = Sens::default();
        rates.advance(&mut depot, &mut cent, 0.0, t);
        let want = dose * k * t * (-k * t).exp();
        assert!((cent.v - want).abs() < 1e-13 * want);
        // The sum of the partials is the derivative along ka = k = x:
        // d/dx [D·x·t·e^{−xt}] = D·t·e^{−xt}·(1 − x·t).
        let along = dose * t * (-k * t).exp() * (1.0 - k * t);
        assert!((cent.d_ka + cent.d_k - along).abs() < 1e-12 * along.abs());
    }

    #[test]
    fn an_infusion_into_the_central_compartment_follows_its_closed_form() {
        // Rate R for 2 h from empty, observed at 5 h: A = R·γ(k, 2)·e^{−3k}.
        let (k, r) = (0.3, 10.0);
        let rates = Rates { ka: 0.0, k };
        let mut depot = Sens::default();
        let mut cent = Sens::default();
        rates.advance(&mut depot, &mut cent, r, 2.0);
        rates.advance(&mut depot, &mut cent, 0.0, 3.0);
        let g = (1.0 - (-2.0 * k).exp()) / k;
        let want = r * g * (-3.0 * k).exp();
        assert!((cent.v - want).abs() < 1e-13 * want);
        let dg = (2.0 * (-2.0 * k).exp() - g) / k;
        let want_d = r * (dg - 3.0 * g) * (-3.0 * k).exp();
        assert!((cent.d_k - want_d).abs() < 1e-12 * want_d.abs());
    }
}

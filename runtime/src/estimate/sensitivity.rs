//! Forward sensitivities of a model's states with respect to its random
//! effects, as a model of its own.
//!
//! [`Sensitized`] wraps a model and extends it with, for every eta `k`, the
//! state sensitivities `S_k = ∂y/∂η_k`, which follow
//!
//! ```text
//! dS_k/dt = J_y·S_k + J_p·∂p/∂η_k
//! ```
//!
//! (`J_y`, `J_p` the model's compiled Jacobians ∂rhs/∂y and ∂rhs/∂params).
//! Its parameters are the model's followed by `∂p/∂η` (params × etas,
//! column-major), from the compiled `individual_jac_eta`. Running it through
//! the ordinary simulation runner gives exact (to solver tolerance) state
//! sensitivities at every record, with every dosing event, reset and
//! steady state handled by the same code as simulation — steady states
//! included, since the periodic state of the augmented system carries the
//! sensitivities of the periodic state.
//!
//! What it does not see: a dose whose amount, timing or rate depends on the
//! random effects (bioavailability, lag, modeled rate or duration that
//! depend on eta). Boluses and infusions add to `y` only, so those
//! dependencies are missing from `S`; [`depends_on_eta`] detects them so
//! that the caller can use finite differences for such subjects.
//!
//! The Jacobian offered to stiff solvers is block diagonal (`J_y` in every
//! block): the coupling `∂(J_y·S)/∂y` needs second derivatives. Rosenbrock
//! steps then use an approximate Jacobian, which costs accuracy per step but
//! not correctness: error control still bounds the local error.

use crate::data::Record;
use crate::model::{DoseProps, LinearInfo, Model, ModelInfo, StateInfo};

/// A model extended with forward sensitivities of its states to its etas.
pub struct Sensitized<'m> {
    inner: &'m dyn Model,
    info: ModelInfo,
    ns: usize,
    np: usize,
    ne: usize,
}

impl<'m> Sensitized<'m> {
    pub fn new(inner: &'m dyn Model) -> Self {
        let base = inner.info();
        let (ns, np, ne) = (base.states.len(), base.params.len(), base.etas.len());
        let mut info = base.clone();
        // A closed-form model advances its sensitivities analytically too
        // (the runner's closed-form path, `Propagator::advance_sensitivity`).
        info.linear = base.linear.clone().map(|l| LinearInfo {
            directions: ne,
            ..l
        });
        for k in 0..ne {
            for s in &base.states {
                info.states.push(StateInfo {
                    name: format!("d{}/d{}", s.name, base.etas[k].name),
                    dosable: false,
                });
            }
        }
        for k in 0..ne {
            for p in &base.params {
                info.params.push(format!("d{}/d{}", p, base.etas[k].name));
            }
        }
        Sensitized {
            inner,
            info,
            ns,
            np,
            ne,
        }
    }
}

thread_local! {
    /// Scratch for the Jacobians of one right-hand side evaluation, reused
    /// across calls: the right-hand side runs millions of times per fit,
    /// and clearing a large stack buffer on each call cost more than the
    /// products it holds.
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with a zeroed scratch buffer of `n` values (the thread's
/// reused one; a fresh one if that is already in use).
fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            buf.resize(n, 0.0);
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0.0; n]),
    })
}

impl Model for Sensitized<'_> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn individual(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, params: &mut [f64]) {
        let (np, ne) = (self.np, self.ne);
        let (p, dp) = params.split_at_mut(np);
        self.inner.individual(theta, eta, cov, t, p);
        self.inner
            .individual_jac_eta(theta, eta, cov, t, &mut dp[..np * ne]);
    }

    fn individual_uses_time(&self) -> bool {
        self.inner.individual_uses_time()
    }

    fn rhs(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], dydt: &mut [f64]) {
        let (ns, np, ne) = (self.ns, self.np, self.ne);
        let (x, s) = y.split_at(ns);
        let (p, dp) = params.split_at(np);
        let (dx, ds) = dydt.split_at_mut(ns);
        self.inner.rhs(t, x, p, cov, dx);
        with_scratch(ns * ns + ns * np, |buf| {
            let (jy, jp) = buf.split_at_mut(ns * ns);
            self.inner.rhs_jac_y(t, x, p, cov, jy);
            self.inner.rhs_jac_p(t, x, p, cov, jp);
            for k in 0..ne {
                let sk = &s[k * ns..(k + 1) * ns];
                let dpk = &dp[k * np..(k + 1) * np];
                let out = &mut ds[k * ns..(k + 1) * ns];
                out.fill(0.0);
                // Dense in S (no test on zero: its pattern changes along the
                // solution and the branch costs more than the product);
                // `∂p/∂η` below is sparse with a fixed pattern.
                for (&sj, col) in sk.iter().zip(jy.chunks_exact(ns)) {
                    for (o, c) in out.iter_mut().zip(col) {
                        *o += c * sj;
                    }
                }
                for (j, &dj) in dpk.iter().enumerate() {
                    if dj != 0.0 {
                        let col = &jp[j * ns..(j + 1) * ns];
                        for (o, c) in out.iter_mut().zip(col) {
                            *o += c * dj;
                        }
                    }
                }
            }
        });
    }

    fn rhs_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        let (ns, np) = (self.ns, self.np);
        let n = ns * (1 + self.ne);
        jac.fill(0.0);
        with_scratch(ns * ns, |jy| {
            self.inner.rhs_jac_y(t, &y[..ns], &params[..np], cov, jy);
            for b in 0..=self.ne {
                for j in 0..ns {
                    for i in 0..ns {
                        jac[(b * ns + j) * n + b * ns + i] = jy[j * ns + i];
                    }
                }
            }
        });
    }

    fn dose_props(&self, t: f64, params: &[f64], cov: &[f64], out: &mut [DoseProps]) {
        let ns = self.ns;
        out.fill(DoseProps::default());
        self.inner
            .dose_props(t, &params[..self.np], cov, &mut out[..ns]);
    }

    fn observe(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], out: &mut [f64]) {
        self.inner
            .observe(t, &y[..self.ns], &params[..self.np], cov, out);
    }
}

/// Whether any dose of `records` has a bioavailability, lag, modeled rate
/// or modeled duration that changes with the random effects (probed by a
/// step of 1e-4 in each eta): the dependencies [`Sensitized`] cannot carry.
pub fn depends_on_eta(model: &dyn Model, theta: &[f64], eta: &[f64], records: &[Record]) -> bool {
    let info = model.info();
    let (ns, np) = (info.states.len(), info.params.len());
    let mut p = vec![0.0; np];
    let mut base = vec![DoseProps::default(); ns];
    let mut probe = vec![DoseProps::default(); ns];
    let mut e = eta.to_vec();
    let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
    for r in records {
        let Some(dose) = r.dose() else { continue };
        model.individual(theta, eta, &r.covariates, r.time, &mut p);
        model.dose_props(r.time, &p, &r.covariates, &mut base);
        for k in 0..e.len() {
            e[k] = eta[k] + 1e-4;
            model.individual(theta, &e, &r.covariates, r.time, &mut p);
            model.dose_props(r.time, &p, &r.covariates, &mut probe);
            e[k] = eta[k];
            let (a, b) = (base[dose.cmt], probe[dose.cmt]);
            if !(same(a.bioavailability, b.bioavailability)
                && same(a.lag, b.lag)
                && same(a.rate, b.rate)
                && same(a.duration, b.duration))
            {
                return true;
            }
        }
    }
    false
}

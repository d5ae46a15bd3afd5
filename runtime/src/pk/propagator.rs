//! The propagator: `exp(K·dt)` and `K⁻¹(exp(K·dt) − I)` of a linear model,
//! advancing amounts exactly over an interval with constant input rates,
//! and the steady states of repeated dosing.

use super::eigen;
use super::linalg::{self, Mat, Vector, ZERO};
use super::{Amounts, LinearModel, PkError, MAX_STATES};

/// Eigenvalues closer than this, relative to the larger magnitude of the
/// pair, count as coincident: the spectral form would lose about
/// `log10(1/gap)` digits to cancellation, so the propagator switches to the
/// matrix exponential instead.
pub const DEGENERATE_GAP: f64 = 1e-4;

/// Largest cancellation the spectral sum may show: when, for some output,
/// `Σᵢ |term_i| > MAX_CANCELLATION · |Σᵢ term_i|`, the sum is recomputed by
/// the dense exponential. The terms `e^{λᵢ·dt}·Pᵢ·u` of nearby eigenvalues
/// cancel over intervals short compared with `1/|λᵢ − λⱼ|` (the amount moved
/// into an empty compartment, `≈ ka·dt·D`, is a difference of terms
/// `≈ ka·D/(ka − k)`), and the rounding error of the sum is about
/// `ε·Σᵢ |term_i|`; the check bounds the relative error by about
/// `MAX_CANCELLATION·ε ≈ 2e-13`.
pub const MAX_CANCELLATION: f64 = 1e3;

/// First-order rate constants of a model (`k_ij`: from `i` to `j`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Micro {
    /// Absorption rate from the depot; `None` for IV models.
    pub ka: Option<f64>,
    /// Elimination from the central compartment.
    pub k10: f64,
    /// `(k_cp, k_pc)` of each peripheral compartment.
    pub periph: [(f64, f64); 2],
    pub n_periph: usize,
}

impl Micro {
    pub fn central(&self) -> usize {
        usize::from(self.ka.is_some())
    }

    pub fn n_states(&self) -> usize {
        self.central() + 1 + self.n_periph
    }

    /// The system matrix `K` of `dA/dt = K·A + R`.
    pub fn system_matrix(&self) -> Mat {
        let mut k = ZERO;
        let c = self.central();
        if let Some(ka) = self.ka {
            k[0][0] = -ka;
            k[c][0] = ka;
        }
        k[c][c] = -self.k10;
        for (i, &(kcp, kpc)) in self.periph.iter().enumerate().take(self.n_periph) {
            let p = c + 1 + i;
            k[c][c] -= kcp;
            k[p][c] = kcp;
            k[c][p] = kpc;
            k[p][p] = -kpc;
        }
        k
    }

    /// Eigenvalues of the system matrix (all ≤ 0), unsorted.
    pub fn eigenvalues(&self) -> Vector {
        let mut lambda = [0.0; MAX_STATES];
        let c = self.central();
        if let Some(ka) = self.ka {
            lambda[0] = -ka;
        }
        match self.n_periph {
            0 => lambda[c] = -self.k10,
            1 => {
                let [(k12, k21), _] = self.periph;
                let [a, b] = eigen::two_cpt(self.k10, k12, k21);
                lambda[c] = -a;
                lambda[c + 1] = -b;
            }
            _ => {
                let [(k12, k21), (k13, k31)] = self.periph;
                let [a, b, g] = eigen::three_cpt(self.k10, k12, k21, k13, k31);
                lambda[c] = -a;
                lambda[c + 1] = -b;
                lambda[c + 2] = -g;
            }
        }
        lambda
    }

    /// Whether every rate constant is positive, so that every eigenvalue is
    /// negative and repeated dosing converges to a steady state.
    pub fn decays(&self) -> bool {
        let ka_ok = match self.ka {
            Some(ka) => ka > 0.0,
            None => true,
        };
        ka_ok
            && self.k10 > 0.0
            && self
                .periph
                .iter()
                .take(self.n_periph)
                .all(|&(a, b)| a > 0.0 && b > 0.0)
    }
}

/// `(e^{λ·dt} − 1) / λ`, equal to `dt` at `λ = 0`, accurate for any `λ·dt`.
fn phi_dt(lambda: f64, dt: f64) -> f64 {
    phi_dt_with(lambda, dt, (lambda * dt).exp())
}

/// [`phi_dt`] given `e = e^{λ·dt}`: `(e − 1)/λ` where that does not cancel
/// (`|λ·dt| > 1/2`), `expm1(λ·dt)/λ` otherwise.
fn phi_dt_with(lambda: f64, dt: f64, e: f64) -> f64 {
    let x = lambda * dt;
    if x == 0.0 {
        dt
    } else if x.abs() > 0.5 {
        (e - 1.0) / lambda
    } else {
        x.exp_m1() / lambda
    }
}

/// The spectral form for distinct eigenvalues: `exp(K·dt) = Σᵢ e^{λᵢ·dt}·Pᵢ`
/// with the spectral projectors `Pᵢ = Π_{j≠i} (K − λⱼI) / (λᵢ − λⱼ)`
/// (Sylvester's formula; `Pᵢ = vᵢ·wᵢᵀ / (wᵢᵀvᵢ)` for right and left
/// eigenvectors `vᵢ`, `wᵢ`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spectral {
    pub(super) lambda: Vector,
    pub(super) proj: [Mat; MAX_STATES],
}

/// A linear model with everything that depends only on its parameters
/// precomputed: advancing an interval then costs `n` exponentials and about
/// `n³` multiply-adds (`n` ≤ 4 states), with no allocation. Intervals
/// whose spectral sum cancels (see [`MAX_CANCELLATION`]), and every interval
/// of a degenerate spectrum, take a small dense matrix exponential instead
/// (a few `(n+1) × (n+1)` products; no allocation either).
#[derive(Debug, Clone, PartialEq)]
pub struct Propagator {
    pub(super) model: LinearModel,
    pub(super) micro: Micro,
    pub(super) n: usize,
    pub(super) k: Mat,
    /// `None` for coincident or nearly coincident eigenvalues: every
    /// interval then takes a matrix exponential of the augmented system
    /// matrix.
    pub(super) spectral: Option<Spectral>,
}

/// `exp(K·dt)` and `K⁻¹(exp(K·dt) − I)` for one fixed interval `dt`: applying
/// it costs `2n²` multiply-adds, for grids with a constant step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    n: usize,
    dt: f64,
    pub(super) e: Mat,
    pub(super) g: Mat,
}

impl Transition {
    pub fn n_states(&self) -> usize {
        self.n
    }

    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// Entry `(i, j)` of `exp(K·dt)`: the amount in `i` after `dt` per unit
    /// amount in `j` at the start (0 when out of range).
    pub fn exp(&self, i: usize, j: usize) -> f64 {
        self.e.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0)
    }

    /// Entry `(i, j)` of `K⁻¹(exp(K·dt) − I)`: the amount in `i` after `dt`
    /// per unit rate into `j` over the interval (0 when out of range).
    pub fn input(&self, i: usize, j: usize) -> f64 {
        self.g.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0)
    }

    /// Overwrites `amounts` with `exp(K·dt)·amounts + K⁻¹(exp(K·dt) − I)·rates`.
    pub fn apply(&self, amounts: &mut [f64], rates: &[f64]) -> Result<(), PkError> {
        let (a, r) = load(self.n, amounts, rates)?;
        let mut out = linalg::mat_vec(&self.e, &a);
        let gr = linalg::mat_vec(&self.g, &r);
        for (o, x) in out.iter_mut().zip(gr) {
            *o += x;
        }
        store(self.n, &out, amounts);
        Ok(())
    }
}

/// Copies the state and rate slices into fixed arrays after checking their
/// lengths.
pub(super) fn load(n: usize, amounts: &[f64], rates: &[f64]) -> Result<(Vector, Vector), PkError> {
    for len in [amounts.len(), rates.len()] {
        if len != n {
            return Err(PkError::StateLength {
                expected: n,
                got: len,
            });
        }
    }
    let mut a = [0.0; MAX_STATES];
    let mut r = [0.0; MAX_STATES];
    for (d, s) in a.iter_mut().zip(amounts) {
        *d = *s;
    }
    for (d, s) in r.iter_mut().zip(rates) {
        *d = *s;
    }
    Ok((a, r))
}

pub(super) fn store(n: usize, values: &Vector, out: &mut [f64]) {
    for (d, s) in out.iter_mut().zip(values).take(n) {
        *d = *s;
    }
}

/// `duration = N·τ + δ` with `N` whole and `0 ≤ δ < τ`: `N + 1` infusions
/// of a regimen overlap during the first `δ` of each interval, `N` after.
pub(super) fn overlap_split(duration: f64, tau: f64) -> (f64, f64) {
    let overlap = (duration / tau).floor();
    (overlap, (duration - overlap * tau).clamp(0.0, tau))
}

pub(super) fn check_interval(tau: f64) -> Result<(), PkError> {
    if tau.is_finite() && tau > 0.0 {
        Ok(())
    } else {
        Err(PkError::InvalidInterval { tau })
    }
}

impl Propagator {
    /// Validates the parameters and precomputes the eigenvalues and spectral
    /// projectors (or detects a degenerate spectrum).
    pub fn new(model: LinearModel) -> Result<Self, PkError> {
        model.validate()?;
        let micro = model.micro();
        let n = micro.n_states();
        let k = micro.system_matrix();
        if k.iter().flatten().any(|x| !x.is_finite()) {
            return Err(PkError::Overflow);
        }
        let mut lambda = micro.eigenvalues();
        if lambda.iter().any(|x| !x.is_finite()) {
            return Err(PkError::Overflow);
        }
        lambda[..n].sort_by(|a, b| a.total_cmp(b));
        let degenerate = (0..n).any(|i| {
            (i + 1..n).any(|j| {
                let (a, b) = (lambda[i], lambda[j]);
                (a - b).abs() <= DEGENERATE_GAP * a.abs().max(b.abs())
            })
        });
        let spectral = if degenerate {
            None
        } else {
            let mut proj = [ZERO; MAX_STATES];
            for (i, p) in proj.iter_mut().enumerate().take(n) {
                let mut m = linalg::identity();
                for j in (0..n).filter(|&j| j != i) {
                    let mut f = k;
                    let denom = lambda[i] - lambda[j];
                    for (r, row) in f.iter_mut().enumerate().take(n) {
                        row[r] -= lambda[j];
                        for x in row.iter_mut() {
                            *x /= denom;
                        }
                    }
                    m = linalg::mat_mul(&m, &f);
                }
                *p = m;
            }
            if proj.iter().flatten().flatten().any(|x| !x.is_finite()) {
                return Err(PkError::Overflow);
            }
            Some(Spectral { lambda, proj })
        };
        Ok(Propagator {
            model,
            micro,
            n,
            k,
            spectral,
        })
    }

    pub fn model(&self) -> &LinearModel {
        &self.model
    }

    pub fn n_states(&self) -> usize {
        self.n
    }

    /// Whether the spectrum is (nearly) degenerate, so that every interval
    /// takes a dense matrix exponential instead of the spectral form.
    pub fn is_degenerate(&self) -> bool {
        self.spectral.is_none()
    }

    /// `Σᵢ coef(λᵢ)·Pᵢ` by the spectral form, or `None` when the spectrum
    /// is degenerate or some entry cancels beyond [`MAX_CANCELLATION`].
    fn spectral_sum(&self, coef: impl Fn(f64) -> f64) -> Option<Mat> {
        let s = self.spectral.as_ref()?;
        let n = self.n;
        let mut m = ZERO;
        let mut mag = ZERO;
        // Only the leading n × n block: the rest is zero padding.
        for (&l, p) in s.lambda.iter().zip(&s.proj).take(n) {
            let c = coef(l);
            for ((mr, ar), pr) in m.iter_mut().zip(mag.iter_mut()).zip(p).take(n) {
                for ((mx, ax), px) in mr.iter_mut().zip(ar.iter_mut()).zip(pr).take(n) {
                    let t = c * px;
                    *mx += t;
                    *ax += t.abs();
                }
            }
        }
        let cancels = m
            .iter()
            .zip(&mag)
            .take(n)
            .flat_map(|(mr, ar)| mr.iter().zip(ar).take(n))
            .any(|(x, a)| *a > MAX_CANCELLATION * x.abs());
        (!cancels).then_some(m)
    }

    /// The eigenvalues of the system matrix, ascending (all ≤ 0).
    pub fn eigenvalues(&self) -> Amounts {
        let mut lambda = self.micro.eigenvalues();
        lambda[..self.n].sort_by(|a, b| a.total_cmp(b));
        Amounts::new(lambda, self.n)
    }

    /// Advances `amounts` (at `t`) to `t + dt` under the constant input
    /// `rates` (amount per time into each state), exactly:
    /// `A(t+dt) = exp(K·dt)·A(t) + K⁻¹(exp(K·dt) − I)·R`.
    ///
    /// Both slices must have [`Propagator::n_states`] entries. `dt` is meant
    /// to be ≥ 0; a negative `dt` runs the system backwards, a non-finite one
    /// gives non-finite amounts.
    pub fn advance(&self, amounts: &mut [f64], rates: &[f64], dt: f64) -> Result<(), PkError> {
        let (a, r) = load(self.n, amounts, rates)?;
        let out = self
            .advance_spectral(&a, &r, dt)
            .unwrap_or_else(|| linalg::expm_apply(&self.k, self.n, dt, &a, &r));
        store(self.n, &out, amounts);
        Ok(())
    }

    /// The spectral form of [`Propagator::advance`]; `None` when it does not
    /// apply or cancels (see [`MAX_CANCELLATION`]).
    fn advance_spectral(&self, a: &Vector, r: &Vector, dt: f64) -> Option<Vector> {
        let s = self.spectral.as_ref()?;
        let mut out = [0.0; MAX_STATES];
        let mut mag = [0.0; MAX_STATES];
        let has_input = r.iter().any(|&x| x != 0.0);
        for (&l, p) in s.lambda.iter().zip(&s.proj).take(self.n) {
            let e = (l * dt).exp();
            let g = if has_input {
                phi_dt_with(l, dt, e)
            } else {
                0.0
            };
            let mut u = [0.0; MAX_STATES];
            for ((u, a), r) in u.iter_mut().zip(a).zip(r).take(self.n) {
                *u = e * a + g * r;
            }
            for ((o, m), row) in out.iter_mut().zip(mag.iter_mut()).zip(p).take(self.n) {
                for (p, u) in row.iter().zip(u).take(self.n) {
                    let t = p * u;
                    *o += t;
                    *m += t.abs();
                }
            }
        }
        let cancels = out
            .iter()
            .zip(mag)
            .any(|(x, m)| m > MAX_CANCELLATION * x.abs());
        (!cancels).then_some(out)
    }

    /// The matrices of one interval `dt`, for repeated use.
    pub fn transition(&self, dt: f64) -> Transition {
        let spectral = self
            .spectral_sum(|l| (l * dt).exp())
            .zip(self.spectral_sum(|l| phi_dt(l, dt)));
        let (e, g) = spectral.unwrap_or_else(|| linalg::expm_pair(&self.k, self.n, dt));
        Transition {
            n: self.n,
            dt,
            e,
            g,
        }
    }

    /// `I − exp(K·τ)`, without the cancellation of forming `exp(K·τ)` first.
    pub(super) fn one_minus_exp(&self, tau: f64) -> Mat {
        self.spectral_sum(|l| -(l * tau).exp_m1())
            .unwrap_or_else(|| {
                // I − exp(Kτ) = −K · K⁻¹(exp(Kτ) − I).
                let (_, g) = linalg::expm_pair(&self.k, self.n, tau);
                let mut m = linalg::mat_mul(&self.k, &g);
                for x in m.iter_mut().flatten() {
                    *x = -*x;
                }
                m
            })
    }

    pub(super) fn check_cmt(&self, cmt: usize) -> Result<(), PkError> {
        if cmt < self.n {
            Ok(())
        } else {
            Err(PkError::InvalidCompartment {
                cmt,
                n_states: self.n,
            })
        }
    }

    pub(super) fn check_decays(&self) -> Result<(), PkError> {
        if self.micro.decays() {
            Ok(())
        } else {
            Err(PkError::NoSteadyState)
        }
    }

    /// Solves the periodicity condition `A₀ = exp(K·τ)·A₀ + s` for the
    /// steady-state amounts `A₀`, given the response `s` of one interval
    /// from zero amounts.
    fn periodic(&self, tau: f64, s: Vector) -> Result<Amounts, PkError> {
        let m = self.one_minus_exp(tau);
        linalg::solve(m, s, self.n)
            .map(|x| Amounts::new(x, self.n))
            .ok_or(PkError::NoSteadyState)
    }

    /// Amounts just after a dose of `amount` into state `cmt`, at steady
    /// state of a dose every `tau`: `(I − exp(K·τ))⁻¹·amount·e_cmt`.
    pub fn steady_state_bolus(
        &self,
        cmt: usize,
        amount: f64,
        tau: f64,
    ) -> Result<Amounts, PkError> {
        self.check_cmt(cmt)?;
        check_interval(tau)?;
        check_finite("amount", amount)?;
        self.check_decays()?;
        let mut s = [0.0; MAX_STATES];
        s[cmt] = amount;
        self.periodic(tau, s)
    }

    /// Amounts at the start of an interval (when an infusion starts) at
    /// steady state of infusions of `rate` for `duration` into `cmt`, one
    /// starting every `tau`.
    ///
    /// `duration` may exceed `tau`: with `duration = N·τ + δ` (`0 ≤ δ < τ`),
    /// `N + 1` infusions overlap during the first `δ` of each interval and
    /// `N` during the rest (superposition), so the periodic input is
    /// `(N+1)·rate` on `[0, δ)` and `N·rate` on `[δ, τ)`.
    pub fn steady_state_infusion(
        &self,
        cmt: usize,
        rate: f64,
        duration: f64,
        tau: f64,
    ) -> Result<Amounts, PkError> {
        self.check_cmt(cmt)?;
        check_interval(tau)?;
        check_finite("rate", rate)?;
        if !(duration.is_finite() && duration >= 0.0) {
            return Err(PkError::InvalidDuration { duration });
        }
        self.check_decays()?;
        let (overlap, delta) = overlap_split(duration, tau);
        // One interval from zero: (N+1)·rate for δ, then N·rate for τ − δ.
        let first = self.transition(delta);
        let rest = self.transition(tau - delta);
        let mut s = linalg::column(&first.g, cmt);
        for x in s.iter_mut() {
            *x *= (overlap + 1.0) * rate;
        }
        let mut s = linalg::mat_vec(&rest.e, &s);
        let tail = linalg::column(&rest.g, cmt);
        for (x, t) in s.iter_mut().zip(tail) {
            *x += overlap * rate * t;
        }
        self.periodic(tau, s)
    }

    /// Steady state of constant input `rates` that never stop: `−K⁻¹·R`, in
    /// closed form: `A_depot = R_depot/ka`, `A_central = ΣR / k10`,
    /// `A_p = (k_cp·A_central + R_p) / k_pc`.
    pub fn steady_state_constant(&self, rates: &[f64]) -> Result<Amounts, PkError> {
        let (_, r) = load(self.n, rates, rates)?;
        self.check_decays()?;
        let m = &self.micro;
        let c = m.central();
        let mut a = [0.0; MAX_STATES];
        if let Some(ka) = m.ka {
            a[0] = r[0] / ka;
        }
        let total: f64 = r.iter().take(self.n).sum();
        a[c] = total / m.k10;
        for (i, &(kcp, kpc)) in m.periph.iter().enumerate().take(m.n_periph) {
            let p = c + 1 + i;
            a[p] = (kcp * a[c] + r[p]) / kpc;
        }
        Ok(Amounts::new(a, self.n))
    }
}

pub(super) fn check_finite(name: &'static str, value: f64) -> Result<(), PkError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(PkError::InvalidInput { name, value })
    }
}

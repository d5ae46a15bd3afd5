//! Exact derivatives of the closed-form solutions with respect to the model
//! parameters, the initial amounts and the inputs, for estimation (FOCE needs
//! `∂A/∂η` at every observation).
//!
//! # Layout
//!
//! Derivatives are taken along `m` arbitrary directions `u_j` (random
//! effects, or anything else the caller differentiates by). Every matrix is
//! a column-major slice, one column per direction:
//!
//! | slice | shape | entry |
//! |---|---|---|
//! | `s` (sensitivities) | `n × m` | `s[j·n + i] = ∂A_i/∂u_j` |
//! | `drates` | `n × m` | `drates[j·n + i] = ∂R_i/∂u_j` |
//! | `dp` | `n_params × m` | `dp[j·n_params + k] = ∂p_k/∂u_j`, `p` in [`LinearKind::param_names`](super::LinearKind::param_names) order |
//!
//! `n` is [`Propagator::n_states`] and `m` is read off the slice lengths.
//!
//! # Math
//!
//! With `E = exp(K·dt)` and `G = K⁻¹(E − I)`, one interval is
//! `A' = E·A + G·R`, so along direction `j`
//!
//! ```text
//! S'_j = E·S_j + G·dR_j + Σ_μ (D E[∂K/∂μ]·A + D G[∂K/∂μ]·R) · dμ_j
//! ```
//!
//! where `μ` runs over the micro-constants (`ka`, `k10`, `k_cp`, `k_pc`),
//! each entering `K` in at most two entries (±1), and
//! `dμ_j = Σ_k ∂μ/∂p_k · dp[k, j]` (`k10 = CL/V1`, `k_cp = Q/V1`,
//! `k_pc = Q/V_p`). Working per micro-constant (at most six) rather than per
//! direction bounds the cost of the Fréchet derivatives whatever `m`.
//!
//! For the spectral form (distinct eigenvalues, `K = Σᵢ λᵢ·Pᵢ`), the
//! Fréchet derivative of a matrix function `F(K) = Σᵢ F(λᵢ)·Pᵢ` is the
//! Daleckii–Krein formula
//!
//! ```text
//! D F[Δ] = Σᵢ Σⱼ F[λᵢ, λⱼ] · Pᵢ·Δ·Pⱼ
//! ```
//!
//! with the divided differences `F[λᵢ, λⱼ] = (F(λᵢ) − F(λⱼ))/(λᵢ − λⱼ)`
//! (`F'(λᵢ)` at `i = j`). With `x = λ·dt` these are divided differences of
//! the exponential: `E[λᵢ, λⱼ] = dt·exp[xᵢ, xⱼ]` and, since
//! `G(λ) = dt·exp[0, x]`, `G[λᵢ, λⱼ] = dt²·exp[0, xᵢ, xⱼ]`. Both are computed
//! without cancellation (see [`exp_dd`] and [`exp_dd0`]). As in
//! [`Propagator::advance`], every output also sums the magnitudes of its
//! terms; a sum cancelling by more than [`FRECHET_MAX_CANCELLATION`] (nearly
//! coincident eigenvalues, whose projectors are large, or an amount two
//! transfers away over a very short interval) is recomputed densely.
//!
//! The dense path (degenerate spectra, cancelling sums) is the
//! block-triangular form of Van Loan for the Fréchet derivative: the
//! forward sensitivity system `y' = K·y + R`, `s' = K·s + Δ·y` is linear
//! with constant coefficients, so one exponential of a `(2n+1)`-square
//! matrix gives `D E[Δ]·A + D G[Δ]·R` exactly, for defective `K` too.
//!
//! # Steady state
//!
//! The periodicity condition `(I − E_τ)·A₀ = s` (see
//! [`Propagator::steady_state_bolus`]) differentiates implicitly to
//!
//! ```text
//! (I − E_τ)·dA₀ = D E_τ[ΔK_j]·A₀ + ds_j
//! ```
//!
//! with `ds_j` the derivative of the one-interval response: the dose
//! amount's for a bolus, and for an infusion the sensitivities of the two
//! sub-intervals of [`Propagator::steady_state_infusion`] plus, when the
//! duration depends on `u_j`, `rate·E_{τ−δ}·e_cmt·∂duration/∂u_j` (stretching
//! the infusion adds `rate·dδ` at `δ`, which then evolves to `τ`; at an exact
//! multiple of `τ` this is the right derivative). The constant-rate steady
//! state `−K⁻¹·R` is differentiated in its closed form.

// Index loops read best for dense matrix code; every index is below
// MAX_STATES or MAX_MICRO by construction.
#![allow(clippy::needless_range_loop)]

use super::linalg::{self, Mat, Vector, ZERO};
use super::propagator::{load, overlap_split, store};
use super::{Amounts, LinearModel, PkError, Propagator, MAX_STATES};

/// Largest cancellation a Daleckii–Krein sum may show before it is
/// recomputed densely (bounding its relative error by about `1e5·ε ≈
/// 1e-11`). Looser than the values' [`MAX_CANCELLATION`]: the bound
/// `Σ |Pᵢ|·|Δ|·|Pⱼ|·|u|` counts the projectors twice and is 10²–10⁴ times
/// the result for typical oral models even where the sum is accurate
/// (measured against RK4: 1e-13), and the dense fallback costs 10–50 times
/// the spectral form.
///
/// [`MAX_CANCELLATION`]: super::propagator::MAX_CANCELLATION
pub const FRECHET_MAX_CANCELLATION: f64 = 1e5;

/// Largest projector entry for which the Daleckii–Krein form is used.
/// Projectors grow as `1/(λᵢ − λⱼ)` and carry the eigenvalues' rounding
/// amplified by the same factor, an error the magnitude check cannot see
/// (it bounds only the rounding of the sum): with `ka` within 2e-4 of an
/// eigenvalue of a three-compartment model (projectors ~1e4) the spectral
/// derivatives were off by 4e-8 relative. `100` (eigenvalues within about
/// 1% of each other) keeps that error below about `1e4·ε`.
const MAX_PROJECTOR: f64 = 100.0;

/// Most micro-constants of any model (three compartments, oral: `ka`,
/// `k10`, `k12`, `k21`, `k13`, `k31`).
const MAX_MICRO: usize = 6;

/// `exp[x, y] = (eˣ − eʸ)/(x − y)` (`eˣ` at `x = y`), as
/// `e^{max}·expm1(d)/d` with `d = min − max ≤ 0`: no cancellation, no
/// overflow beyond that of `e^{max}`.
pub(crate) fn exp_dd(x: f64, y: f64) -> f64 {
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    hi.exp() * phi1(lo - hi)
}

/// `φ₁(x) = (eˣ − 1)/x = exp[0, x]`, 1 at 0.
fn phi1(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x.exp_m1() / x
    }
}

/// Taylor terms for [`exp_dd0`] with both nodes in `[−1, 1]`: the first
/// omitted term is below `23/24! ≈ 4e-23`.
const DD0_TERMS: usize = 22;

/// `exp[0, x, y]`, the second divided difference of the exponential, for
/// `x`, `y` of the same sign (both `λ·dt` with `λ ≤ 0`).
///
/// With `x` the larger magnitude, `|x| ≥ 1`: `(exp[x, y] − φ₁(y))/x`; the
/// two terms then differ by at least a factor of about 1.25, so the
/// subtraction loses under three bits. Otherwise the Taylor series
/// `Σ_k h_k(x, y)/(k + 2)!` with `h_k = Σ_{i≤k} xⁱ·y^{k−i}`, whose terms sum
/// to at most `e/2` against a value of at least `e⁻¹/2`.
pub(crate) fn exp_dd0(x: f64, y: f64) -> f64 {
    let (big, small) = if x.abs() >= y.abs() { (x, y) } else { (y, x) };
    if big.abs() >= 1.0 {
        return (exp_dd(big, small) - phi1(small)) / big;
    }
    let mut sum = 0.0;
    let mut h = 1.0; // h_k
    let mut xk = 1.0; // x^k
    let mut fact = 2.0; // (k + 2)!
    for k in 0..DD0_TERMS {
        sum += h / fact;
        xk *= big;
        h = h * small + xk;
        fact *= (k + 3) as f64;
    }
    sum
}

/// One micro-constant `μ`: where it enters `K` and how it depends on the
/// model parameters.
#[derive(Debug, Clone, Copy, Default)]
struct MicroPartial {
    /// `(row, column, value)` of the nonzero entries of `∂K/∂μ`; value 0
    /// pads.
    dk: [(usize, usize, f64); 2],
    /// `(parameter index, ∂μ/∂p)`; value 0 pads.
    dp: [(usize, f64); 2],
}

impl MicroPartial {
    /// `∂K/∂μ · u` and `|∂K/∂μ| · mag`.
    fn apply(&self, u: &Vector, mag: &Vector) -> (Vector, Vector) {
        let mut out = [0.0; MAX_STATES];
        let mut out_mag = [0.0; MAX_STATES];
        for &(row, col, v) in &self.dk {
            if v != 0.0 && row < MAX_STATES && col < MAX_STATES {
                out[row] += v * u[col];
                out_mag[row] += v.abs() * mag[col];
            }
        }
        (out, out_mag)
    }

    /// `∂K/∂μ` as a dense matrix.
    fn delta(&self) -> Mat {
        let mut d = ZERO;
        for &(row, col, v) in &self.dk {
            if row < MAX_STATES && col < MAX_STATES {
                d[row][col] += v;
            }
        }
        d
    }
}

/// The micro-constants of a model with their partial derivatives.
#[derive(Debug, Clone, Copy)]
struct Partials {
    list: [MicroPartial; MAX_MICRO],
    len: usize,
    n_params: usize,
}

impl Partials {
    /// Order: `ka` (oral models), `k10`, then `k_cp`, `k_pc` of each
    /// peripheral compartment.
    fn of(model: &LinearModel) -> Self {
        let none = [(0.0, 0.0); 2];
        let (ka, cl, v1, periph, n_periph) = match *model {
            LinearModel::OneCpt { cl, v } => (None, cl, v, none, 0),
            LinearModel::OneCptOral { ka, cl, v } => (Some(ka), cl, v, none, 0),
            LinearModel::TwoCpt { cl, v1, q, v2 } => (None, cl, v1, [(q, v2), (0.0, 0.0)], 1),
            LinearModel::TwoCptOral { ka, cl, v1, q, v2 } => {
                (Some(ka), cl, v1, [(q, v2), (0.0, 0.0)], 1)
            }
            LinearModel::ThreeCpt {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => (None, cl, v1, [(q2, v2), (q3, v3)], 2),
            LinearModel::ThreeCptOral {
                ka,
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => (Some(ka), cl, v1, [(q2, v2), (q3, v3)], 2),
        };
        // The central compartment's state index equals the index of `cl`
        // among the parameters: both are 1 for oral models, 0 otherwise.
        let c = usize::from(ka.is_some());
        let mut list = [MicroPartial::default(); MAX_MICRO];
        let mut len = 0;
        let mut push = |m: MicroPartial| {
            if let Some(slot) = list.get_mut(len) {
                *slot = m;
                len += 1;
            }
        };
        if ka.is_some() {
            push(MicroPartial {
                dk: [(0, 0, -1.0), (c, 0, 1.0)],
                dp: [(0, 1.0), (0, 0.0)],
            });
        }
        push(MicroPartial {
            dk: [(c, c, -1.0), (0, 0, 0.0)],
            dp: [(c, 1.0 / v1), (c + 1, -cl / (v1 * v1))],
        });
        for (i, &(q, vp)) in periph.iter().enumerate().take(n_periph) {
            let p = c + 1 + i; // state
            let (iq, iv) = (c + 2 + 2 * i, c + 3 + 2 * i); // parameters
            push(MicroPartial {
                dk: [(c, c, -1.0), (p, c, 1.0)],
                dp: [(iq, 1.0 / v1), (c + 1, -q / (v1 * v1))],
            });
            push(MicroPartial {
                dk: [(c, p, 1.0), (p, p, -1.0)],
                dp: [(iq, 1.0 / vp), (iv, -q / (vp * vp))],
            });
        }
        Partials {
            list,
            len,
            n_params: c + 2 + 2 * n_periph,
        }
    }

    fn as_slice(&self) -> &[MicroPartial] {
        self.list.get(..self.len).unwrap_or(&[])
    }

    /// `dμ = Σ_k ∂μ/∂p_k · dp_k` of each micro-constant along one direction.
    fn dmicro(&self, dp: &[f64]) -> [f64; MAX_MICRO] {
        let mut d = [0.0; MAX_MICRO];
        for (dl, mp) in d.iter_mut().zip(self.as_slice()) {
            for &(k, v) in &mp.dp {
                if v != 0.0 {
                    *dl += v * dp.get(k).copied().unwrap_or(0.0);
                }
            }
        }
        d
    }
}

/// Checks a column-major `rows × m` slice.
fn check_len(what: &'static str, got: usize, rows: usize, m: usize) -> Result<(), PkError> {
    let expected = rows * m;
    if got == expected {
        Ok(())
    } else {
        Err(PkError::SensitivityLength {
            what,
            expected,
            got,
        })
    }
}

impl Propagator {
    /// Number of directions `m` of an `n × m` sensitivity slice of length
    /// `len`, checking that it is a whole number of columns.
    fn directions(&self, what: &'static str, len: usize) -> Result<usize, PkError> {
        let m = len / self.n.max(1);
        check_len(what, len, self.n, m)?;
        Ok(m)
    }

    /// `D E[∂K/∂μ]·a + D G[∂K/∂μ]·r` for each micro-constant `μ` of the
    /// model (`E = exp(K·dt)`, `G = K⁻¹(E − I)`): spectral when possible,
    /// dense otherwise.
    fn frechet(&self, parts: &Partials, a: &Vector, r: &Vector, dt: f64) -> [Vector; MAX_MICRO] {
        self.frechet_spectral(parts, a, r, dt).unwrap_or_else(|| {
            let mut v = [[0.0; MAX_STATES]; MAX_MICRO];
            for (vl, mp) in v.iter_mut().zip(parts.as_slice()) {
                *vl = linalg::expm_frechet_apply(&self.k, &mp.delta(), self.n, dt, a, r);
            }
            v
        })
    }

    /// [`Propagator::frechet`] by the Daleckii–Krein formula
    /// `Σᵢ Pᵢ·Δ·uᵢ` with `uᵢ = Σⱼ (E[λᵢ, λⱼ]·Pⱼ·a + G[λᵢ, λⱼ]·Pⱼ·r)`; `None`
    /// when the spectrum is degenerate or some output cancels beyond
    /// [`FRECHET_MAX_CANCELLATION`].
    fn frechet_spectral(
        &self,
        parts: &Partials,
        a: &Vector,
        r: &Vector,
        dt: f64,
    ) -> Option<[Vector; MAX_MICRO]> {
        let s = self.spectral.as_ref()?;
        let n = self.n.min(MAX_STATES);
        let large = s.proj.iter().take(n).flatten().flatten();
        if large.fold(0.0f64, |m, x| m.max(x.abs())) > MAX_PROJECTOR {
            return None;
        }
        let has_input = r.iter().any(|&x| x != 0.0);
        // Pⱼ·a, Pⱼ·r and the magnitudes |Pⱼ|·|a|, |Pⱼ|·|r|.
        let mut pa = [[0.0; MAX_STATES]; MAX_STATES];
        let mut pa_mag = pa;
        let mut pr = pa;
        let mut pr_mag = pa;
        for j in 0..n {
            let p = &s.proj[j];
            for row in 0..n {
                for col in 0..n {
                    pa[j][row] += p[row][col] * a[col];
                    pa_mag[j][row] += (p[row][col] * a[col]).abs();
                    pr[j][row] += p[row][col] * r[col];
                    pr_mag[j][row] += (p[row][col] * r[col]).abs();
                }
            }
        }
        // Divided differences of E and G at each pair of eigenvalues.
        let mut fdd = [[0.0; MAX_STATES]; MAX_STATES];
        let mut gdd = fdd;
        for i in 0..n {
            for j in i..n {
                let (x, y) = (s.lambda[i] * dt, s.lambda[j] * dt);
                let f = dt * exp_dd(x, y);
                let g = if has_input {
                    dt * dt * exp_dd0(x, y)
                } else {
                    0.0
                };
                fdd[i][j] = f;
                fdd[j][i] = f;
                gdd[i][j] = g;
                gdd[j][i] = g;
            }
        }
        let mut u = [[0.0; MAX_STATES]; MAX_STATES];
        let mut u_mag = u;
        for i in 0..n {
            for j in 0..n {
                let (f, g) = (fdd[i][j], gdd[i][j]);
                for row in 0..n {
                    u[i][row] += f * pa[j][row] + g * pr[j][row];
                    u_mag[i][row] += f.abs() * pa_mag[j][row] + g.abs() * pr_mag[j][row];
                }
            }
        }
        let mut out = [[0.0; MAX_STATES]; MAX_MICRO];
        for (o, mp) in out.iter_mut().zip(parts.as_slice()) {
            let mut mag = [0.0; MAX_STATES];
            for i in 0..n {
                let (du, du_mag) = mp.apply(&u[i], &u_mag[i]);
                let p = &s.proj[i];
                for row in 0..n {
                    for col in 0..n {
                        o[row] += p[row][col] * du[col];
                        mag[row] += p[row][col].abs() * du_mag[col];
                    }
                }
            }
            if o.iter()
                .zip(mag)
                .any(|(x, m)| m > FRECHET_MAX_CANCELLATION * x.abs())
            {
                return None;
            }
        }
        Some(out)
    }

    /// [`Propagator::advance`] with sensitivities: overwrites `amounts` with
    /// `A' = E·A + G·R` and the sensitivities `s` (`n × m`, column-major,
    /// `s[j·n + i] = ∂A_i/∂u_j`) with
    /// `S'_j = E·S_j + G·dR_j + Σ_k (∂E/∂p_k·A + ∂G/∂p_k·R)·dp[k, j]`, exact
    /// to rounding (see the [module documentation](self)).
    ///
    /// `drates` (`n × m`) holds `∂R/∂u_j`, `dp` (`n_params × m`) holds
    /// `∂p/∂u_j` in [`LinearKind::param_names`](super::LinearKind::param_names)
    /// order; `m` is `s.len() / n`. A bolus is the caller's, as for
    /// `advance`: add the dose to `A[cmt]` and its derivatives to `s`.
    pub fn advance_sensitivity(
        &self,
        amounts: &mut [f64],
        s: &mut [f64],
        rates: &[f64],
        drates: &[f64],
        dp: &[f64],
        dt: f64,
    ) -> Result<(), PkError> {
        let (a, r) = load(self.n, amounts, rates)?;
        let parts = Partials::of(&self.model);
        let m = self.directions("sensitivities", s.len())?;
        check_len("rate derivatives", drates.len(), self.n, m)?;
        check_len("parameter derivatives", dp.len(), parts.n_params, m)?;
        if m > 0 {
            let v = self.frechet(&parts, &a, &r, dt);
            let tr = self.transition(dt);
            let n = self.n.max(1);
            let columns = s
                .chunks_exact_mut(n)
                .zip(drates.chunks_exact(n))
                .zip(dp.chunks_exact(parts.n_params.max(1)));
            for ((sj, drj), dpj) in columns {
                let (x, dr) = load(self.n, sj, drj)?;
                let mut out = linalg::mat_vec(&tr.e, &x);
                for (o, y) in out.iter_mut().zip(linalg::mat_vec(&tr.g, &dr)) {
                    *o += y;
                }
                for (vl, dmu) in v.iter().zip(parts.dmicro(dpj)) {
                    if dmu != 0.0 {
                        for (o, y) in out.iter_mut().zip(vl) {
                            *o += y * dmu;
                        }
                    }
                }
                store(self.n, &out, sj);
            }
        }
        self.advance(amounts, rates, dt)
    }

    /// Turns `ds`, holding the derivatives `ds_j` of the one-interval
    /// response `s`, into `∂A₀/∂u_j` by solving
    /// `(I − E_τ)·dA₀ = D E_τ[ΔK_j]·A₀ + ds_j`.
    fn periodic_sensitivity(
        &self,
        parts: &Partials,
        tau: f64,
        a0: &Amounts,
        dp: &[f64],
        ds: &mut [f64],
    ) -> Result<(), PkError> {
        let (a0, _) = load(self.n, a0, a0)?;
        let v = self.frechet(parts, &a0, &[0.0; MAX_STATES], tau);
        let mat = self.one_minus_exp(tau);
        let n = self.n.max(1);
        for (dsj, dpj) in ds
            .chunks_exact_mut(n)
            .zip(dp.chunks_exact(parts.n_params.max(1)))
        {
            let (mut rhs, _) = load(self.n, dsj, dsj)?;
            for (vl, dmu) in v.iter().zip(parts.dmicro(dpj)) {
                for (x, y) in rhs.iter_mut().zip(vl) {
                    *x += y * dmu;
                }
            }
            let x = linalg::solve(mat, rhs, self.n).ok_or(PkError::NoSteadyState)?;
            store(self.n, &x, dsj);
        }
        Ok(())
    }

    /// [`Propagator::steady_state_bolus`] with its derivatives: returns
    /// `A₀` and writes `ds[j·n + i] = ∂A₀_i/∂u_j` (`n × m`), given
    /// `damount[j] = ∂amount/∂u_j` (length `m`) and `dp` (`n_params × m`,
    /// as for [`Propagator::advance_sensitivity`]).
    pub fn steady_state_bolus_sensitivity(
        &self,
        cmt: usize,
        amount: f64,
        tau: f64,
        damount: &[f64],
        dp: &[f64],
        ds: &mut [f64],
    ) -> Result<Amounts, PkError> {
        let a0 = self.steady_state_bolus(cmt, amount, tau)?;
        let parts = Partials::of(&self.model);
        let m = damount.len();
        check_len("steady-state sensitivities", ds.len(), self.n, m)?;
        check_len("parameter derivatives", dp.len(), parts.n_params, m)?;
        let n = self.n.max(1);
        for (dsj, &d) in ds.chunks_exact_mut(n).zip(damount) {
            dsj.fill(0.0);
            if let Some(x) = dsj.get_mut(cmt) {
                *x = d;
            }
        }
        self.periodic_sensitivity(&parts, tau, &a0, dp, ds)?;
        Ok(a0)
    }

    /// [`Propagator::steady_state_infusion`] with its derivatives: returns
    /// `A₀` and writes `ds[j·n + i] = ∂A₀_i/∂u_j` (`n × m`), given
    /// `drate[j] = ∂rate/∂u_j` (length `m`), `dduration[j] =
    /// ∂duration/∂u_j` (length `m`, or empty for a fixed duration) and `dp`
    /// (`n_params × m`). At a duration that is an exact multiple of `tau`,
    /// `A₀` has a kink in the duration; the derivative is the right one.
    // One argument per input of `steady_state_infusion` and one derivative
    // per input: grouping them would only rename the same list.
    #[allow(clippy::too_many_arguments)]
    pub fn steady_state_infusion_sensitivity(
        &self,
        cmt: usize,
        rate: f64,
        duration: f64,
        tau: f64,
        drate: &[f64],
        dduration: &[f64],
        dp: &[f64],
        ds: &mut [f64],
    ) -> Result<Amounts, PkError> {
        let a0 = self.steady_state_infusion(cmt, rate, duration, tau)?;
        let parts = Partials::of(&self.model);
        let m = drate.len();
        if !dduration.is_empty() {
            check_len("duration derivatives", dduration.len(), 1, m)?;
        }
        check_len("steady-state sensitivities", ds.len(), self.n, m)?;
        check_len("parameter derivatives", dp.len(), parts.n_params, m)?;
        let n = self.n;
        let (overlap, delta) = overlap_split(duration, tau);
        // The one-interval response from zero and its derivatives:
        // (N+1)·rate for δ, then N·rate for τ − δ.
        let mut y = vec![0.0; n];
        let mut r = vec![0.0; n];
        let mut dr = vec![0.0; n * m];
        ds.fill(0.0);
        for (times, dt) in [(overlap + 1.0, delta), (overlap, tau - delta)] {
            if let Some(x) = r.get_mut(cmt) {
                *x = times * rate;
            }
            for (drj, &d) in dr.chunks_exact_mut(n.max(1)).zip(drate) {
                if let Some(x) = drj.get_mut(cmt) {
                    *x = times * d;
                }
            }
            self.advance_sensitivity(&mut y, ds, &r, &dr, dp, dt)?;
        }
        if !dduration.is_empty() {
            let col = linalg::column(&self.transition(tau - delta).e, cmt);
            for (dsj, &d) in ds.chunks_exact_mut(n.max(1)).zip(dduration) {
                for (x, c) in dsj.iter_mut().zip(col) {
                    *x += d * rate * c;
                }
            }
        }
        self.periodic_sensitivity(&parts, tau, &a0, dp, ds)?;
        Ok(a0)
    }

    /// [`Propagator::steady_state_constant`] with its derivatives: returns
    /// `A = −K⁻¹·R` and writes `ds[j·n + i] = ∂A_i/∂u_j` (`n × m`) from the
    /// closed form, given `drates` (`n × m`) and `dp` (`n_params × m`).
    pub fn steady_state_constant_sensitivity(
        &self,
        rates: &[f64],
        drates: &[f64],
        dp: &[f64],
        ds: &mut [f64],
    ) -> Result<Amounts, PkError> {
        let a = self.steady_state_constant(rates)?;
        let parts = Partials::of(&self.model);
        let m = self.directions("rate derivatives", drates.len())?;
        check_len("steady-state sensitivities", ds.len(), self.n, m)?;
        check_len("parameter derivatives", dp.len(), parts.n_params, m)?;
        let micro = &self.micro;
        let c = micro.central();
        let n = self.n.max(1);
        let columns = ds
            .chunks_exact_mut(n)
            .zip(drates.chunks_exact(n))
            .zip(dp.chunks_exact(parts.n_params.max(1)));
        for ((dsj, drj), dpj) in columns {
            // Micro-constant derivatives in `Partials::of` order.
            let dmu = parts.dmicro(dpj);
            let mut d = [0.0; MAX_STATES];
            if let Some(ka) = micro.ka {
                // A_d = R_d / ka.
                d[0] = (drj[0] - a[0] * dmu[0]) / ka;
            }
            // A_c = ΣR / k10.
            let dtotal: f64 = drj.iter().sum();
            d[c] = (dtotal - a[c] * dmu[c]) / micro.k10;
            // A_p = (k_cp·A_c + R_p) / k_pc.
            for (i, &(kcp, kpc)) in micro.periph.iter().enumerate().take(micro.n_periph) {
                let p = c + 1 + i;
                let (dkcp, dkpc) = (dmu[c + 1 + 2 * i], dmu[c + 2 + 2 * i]);
                let drp = drj.get(p).copied().unwrap_or(0.0);
                d[p] = (dkcp * a[c] + kcp * d[c] + drp - a[p] * dkpc) / kpc;
            }
            store(self.n, &d, dsj);
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_dd, exp_dd0, phi1};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn first_divided_difference() {
        // Coincident nodes give the derivative; distant ones the quotient.
        for x in [-50.0, -3.0, -0.5, -1e-9, 0.0] {
            assert_eq!(exp_dd(x, x), f64::exp(x));
        }
        for (x, y) in [(-3.0, -0.5), (-40.0, -1.0), (-0.5, 0.0)] {
            let want = (f64::exp(x) - f64::exp(y)) / (x - y);
            assert!(rel(exp_dd(x, y), want) < 1e-15);
            assert_eq!(exp_dd(x, y), exp_dd(y, x));
        }
        // Nearly coincident: e^x·(1 + d/2 + d²/6) with d = y − x.
        let (x, d) = (-2.0, 1e-7);
        let want = f64::exp(x) * (1.0 + d / 2.0 + d * d / 6.0);
        assert!(rel(exp_dd(x, x + d), want) < 1e-15);
    }

    #[test]
    fn second_divided_difference_with_zero() {
        // At 0: 1/2; at coincident x: φ₁'(x) = (x·eˣ − eˣ + 1)/x², exact
        // enough for |x| ≥ 4.
        assert_eq!(exp_dd0(0.0, 0.0), 0.5);
        for x in [-4.0, -10.0, -300.0] {
            let want = (x * f64::exp(x) - f64::exp(x) + 1.0) / (x * x);
            assert!(rel(exp_dd0(x, x), want) < 1e-14, "{x}");
        }
        // Far-apart nodes: the plain quotient of φ₁ does not cancel.
        for (x, y) in [(-0.9, -0.1), (-3.0, -0.2), (-20.0, -0.5), (-0.95, -1.5)] {
            let want = (phi1(x) - phi1(y)) / (x - y);
            let got = exp_dd0(x, y);
            assert!(rel(got, want) < 1e-14, "{x} {y}: {got} vs {want}");
            assert_eq!(got, exp_dd0(y, x));
        }
        // Both sides of the switch from the series to the quotient at
        // |x| = 1, against φ₁' (which cancels only by a factor of 4 there).
        for x in [-1.0 + 1e-12, -1.0 - 1e-12, -0.999, -1.001] {
            let want = (x * f64::exp(x) - f64::exp(x) + 1.0) / (x * x);
            assert!(rel(exp_dd0(x, x), want) < 1e-14, "{x}");
        }
        // Tiny nodes: 1/2 + (x + y)/6 + (x² + xy + y²)/24 + O(x³).
        let (x, y) = (-1e-6, -3e-6);
        let want = 0.5 + (x + y) / 6.0 + (x * x + x * y + y * y) / 24.0;
        assert!(rel(exp_dd0(x, y), want) < 1e-15);
    }
}

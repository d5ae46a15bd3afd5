//! The estimated population parameters, on two scales: the optimizer's
//! unconstrained vector `x` and the natural parameters `ψ` that are reported
//! (and used by the covariance step).
//!
//! - A fixed effect with bounds `(lo, hi)` is `x = log((θ − lo)/(hi − θ))`;
//!   with a lower bound only `x = log(θ − lo)`; an upper bound only
//!   `x = log(hi − θ)`; unbounded `x = θ`. The optimizer can then never
//!   leave the bounds, and log scales make steps relative.
//! - An OMEGA block is `Ω = L·Lᵀ` with `x` = the logs of `L`'s diagonal
//!   and `L`'s entries below it, row by row; so every `x` is a positive
//!   definite `Ω`. A one-eta block is `x = ½·log ω²` (log of the SD).
//! - Fixed thetas and fixed OMEGA blocks are not in `x` or `ψ`.
//!
//! `ψ` lists the estimated thetas, then per estimated OMEGA block its lower
//! triangle (row by row: ω₁₁, ω₂₁, ω₂₂, …), as NONMEM reports them.

use crate::model::{ModelInfo, RandomLevel};
use nalgebra::DMatrix;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    None,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
}

impl Bound {
    fn of(lo: f64, hi: f64) -> Self {
        match (lo.is_finite(), hi.is_finite()) {
            (true, true) => Bound::Both(lo, hi),
            (true, false) => Bound::Lower(lo),
            (false, true) => Bound::Upper(hi),
            (false, false) => Bound::None,
        }
    }

    fn unconstrained(self, v: f64) -> f64 {
        match self {
            Bound::None => v,
            Bound::Lower(lo) => (v - lo).ln(),
            Bound::Upper(hi) => (hi - v).ln(),
            Bound::Both(lo, hi) => ((v - lo) / (hi - v)).ln(),
        }
    }

    fn constrained(self, x: f64) -> f64 {
        match self {
            Bound::None => x,
            Bound::Lower(lo) => lo + x.exp(),
            Bound::Upper(hi) => hi - x.exp(),
            Bound::Both(lo, hi) => {
                // Logistic, written to stay in (lo, hi) for any x.
                if x >= 0.0 {
                    let e = (-x).exp();
                    (lo * e + hi) / (1.0 + e)
                } else {
                    let e = x.exp();
                    (lo + hi * e) / (1.0 + e)
                }
            }
        }
    }

    /// Whether `v` is within a relative 1e-5 of the range of a bound (a fit
    /// ending there is reported as on a boundary).
    fn near(self, v: f64) -> bool {
        let close = |b: f64| (v - b).abs() <= 1e-5 * b.abs().max(1e-3 * v.abs()).max(1e-8);
        match self {
            Bound::None => false,
            Bound::Lower(lo) => close(lo),
            Bound::Upper(hi) => close(hi),
            Bound::Both(lo, hi) => close(lo) || close(hi),
        }
    }
}

/// An estimated OMEGA block.
#[derive(Debug, Clone, PartialEq)]
struct Block {
    /// Eta indices, in order.
    etas: Vec<usize>,
}

/// Why the model cannot be fitted as declared.
#[derive(Debug, Clone, PartialEq)]
pub enum PackError {
    /// An initial value is on or outside its bounds.
    ThetaOutOfBounds { name: String, value: f64 },
    /// An initial OMEGA block is not positive definite.
    OmegaNotPositiveDefinite { etas: Vec<String> },
    /// Occasion-level random effects are not estimated yet.
    OccasionLevel { eta: String },
}

/// The map between the optimizer's vector and the model's parameters.
#[derive(Debug, Clone)]
pub struct Packing {
    n_theta: usize,
    /// (theta index, bound) of every estimated theta.
    thetas: Vec<(usize, Bound)>,
    blocks: Vec<Block>,
    /// Fixed values: all thetas and the full initial OMEGA.
    theta0: Vec<f64>,
    omega0: DMatrix<f64>,
}

impl Packing {
    pub fn new(info: &ModelInfo) -> Result<Self, PackError> {
        if let Some(e) = info.etas.iter().find(|e| e.level == RandomLevel::Occasion) {
            return Err(PackError::OccasionLevel {
                eta: e.name.clone(),
            });
        }
        let n_eta = info.etas.len();
        let omega0 = DMatrix::from_row_slice(n_eta, n_eta, &info.omega_matrix());
        let mut thetas = Vec::new();
        for (i, t) in info.thetas.iter().enumerate() {
            if t.fixed {
                continue;
            }
            let b = Bound::of(t.lower, t.upper);
            if !b.unconstrained(t.init).is_finite() {
                return Err(PackError::ThetaOutOfBounds {
                    name: t.name.clone(),
                    value: t.init,
                });
            }
            thetas.push((i, b));
        }
        let mut blocks = Vec::new();
        for b in &info.omegas {
            let k = b.etas.len();
            let m = DMatrix::from_row_slice(k, k, &b.covariance);
            if m.cholesky().is_none() {
                return Err(PackError::OmegaNotPositiveDefinite {
                    etas: b.etas.iter().map(|&e| info.etas[e].name.clone()).collect(),
                });
            }
            if !b.fixed {
                blocks.push(Block {
                    etas: b.etas.clone(),
                });
            }
        }
        Ok(Packing {
            n_theta: info.thetas.len(),
            thetas,
            blocks,
            theta0: info.theta_init(),
            omega0,
        })
    }

    /// Length of `x` (and of `ψ`).
    pub fn len(&self) -> usize {
        self.thetas.len()
            + self
                .blocks
                .iter()
                .map(|b| b.etas.len() * (b.etas.len() + 1) / 2)
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the starting values (e.g. from an earlier fit).
    pub fn set_start(&mut self, theta: &[f64], omega: &DMatrix<f64>) {
        self.theta0.copy_from_slice(&theta[..self.n_theta]);
        self.omega0.copy_from(omega);
    }

    pub fn start_theta(&self) -> &[f64] {
        &self.theta0
    }

    pub fn start_omega(&self) -> &DMatrix<f64> {
        &self.omega0
    }

    /// The optimizer's vector of `theta` and `omega`.
    pub fn to_x(&self, theta: &[f64], omega: &DMatrix<f64>) -> Vec<f64> {
        let mut x: Vec<f64> = self
            .thetas
            .iter()
            .map(|&(i, b)| b.unconstrained(theta[i]))
            .collect();
        for b in &self.blocks {
            let sub = self.sub(omega, b);
            let l = sub
                .cholesky()
                .map_or_else(|| DMatrix::identity(b.etas.len(), b.etas.len()), |c| c.l());
            for i in 0..b.etas.len() {
                for j in 0..i {
                    x.push(l[(i, j)]);
                }
                x.push(l[(i, i)].ln());
            }
        }
        x
    }

    /// The thetas and OMEGA of `x`.
    pub fn from_x(&self, x: &[f64]) -> (Vec<f64>, DMatrix<f64>) {
        let mut theta = self.theta0.clone();
        let mut omega = self.omega0.clone();
        let mut it = x.iter().copied();
        for &(i, b) in &self.thetas {
            theta[i] = b.constrained(it.next().unwrap_or(0.0));
        }
        for b in &self.blocks {
            let k = b.etas.len();
            let mut l = DMatrix::zeros(k, k);
            for i in 0..k {
                for j in 0..i {
                    l[(i, j)] = it.next().unwrap_or(0.0);
                }
                l[(i, i)] = it.next().unwrap_or(0.0).exp();
            }
            let sub = &l * l.transpose();
            for (a, &ea) in b.etas.iter().enumerate() {
                for (c, &ec) in b.etas.iter().enumerate() {
                    omega[(ea, ec)] = sub[(a, c)];
                }
            }
        }
        (theta, omega)
    }

    /// The natural parameters `ψ` of `theta` and `omega`.
    pub fn to_psi(&self, theta: &[f64], omega: &DMatrix<f64>) -> Vec<f64> {
        let mut psi: Vec<f64> = self.thetas.iter().map(|&(i, _)| theta[i]).collect();
        for b in &self.blocks {
            for (a, &ea) in b.etas.iter().enumerate() {
                for &ec in &b.etas[..=a] {
                    psi.push(omega[(ea, ec)]);
                }
            }
        }
        psi
    }

    /// The thetas and OMEGA of natural parameters `psi`.
    pub fn from_psi(&self, psi: &[f64]) -> (Vec<f64>, DMatrix<f64>) {
        let mut theta = self.theta0.clone();
        let mut omega = self.omega0.clone();
        let mut it = psi.iter().copied();
        for &(i, _) in &self.thetas {
            theta[i] = it.next().unwrap_or(f64::NAN);
        }
        for b in &self.blocks {
            for (a, &ea) in b.etas.iter().enumerate() {
                for &ec in &b.etas[..=a] {
                    let v = it.next().unwrap_or(f64::NAN);
                    omega[(ea, ec)] = v;
                    omega[(ec, ea)] = v;
                }
            }
        }
        (theta, omega)
    }

    /// What each entry of `ψ` is: `Theta(i)` or `Omega(row eta, column eta)`.
    pub fn psi_labels(&self) -> Vec<PsiEntry> {
        let mut out: Vec<PsiEntry> = self
            .thetas
            .iter()
            .map(|&(i, _)| PsiEntry::Theta(i))
            .collect();
        for b in &self.blocks {
            for (a, &ea) in b.etas.iter().enumerate() {
                for &ec in &b.etas[..=a] {
                    out.push(PsiEntry::Omega(ea, ec));
                }
            }
        }
        out
    }

    /// Finite-difference steps for `ψ`: the change of `ψ_k` that a step of
    /// `rel·max(|x_k|, 1)` makes on the unconstrained scale (so relative to
    /// the distance from a bound, or to `max(|θ|, 1)` when unbounded); for
    /// OMEGA, `2·rel·ω` on the diagonal and `rel·√(ω_aa·ω_bb)` off it.
    pub fn psi_steps(&self, psi: &[f64], rel: f64) -> Vec<f64> {
        let mut steps = Vec::with_capacity(psi.len());
        for (&(_, b), &v) in self.thetas.iter().zip(psi) {
            let x = b.unconstrained(v);
            let h = rel * x.abs().max(1.0);
            // dθ/dx of the bound's transform, at v.
            let slope = match b {
                Bound::None => 1.0,
                Bound::Lower(lo) => v - lo,
                Bound::Upper(hi) => hi - v,
                Bound::Both(lo, hi) => (v - lo) * (hi - v) / (hi - lo),
            };
            steps.push(h * slope.abs().max(f64::MIN_POSITIVE));
        }
        let (_, omega) = self.from_psi(psi);
        for e in self.psi_labels().into_iter().skip(self.thetas.len()) {
            if let PsiEntry::Omega(a, c) = e {
                steps.push(if a == c {
                    2.0 * rel * omega[(a, a)].abs()
                } else {
                    rel * (omega[(a, a)] * omega[(c, c)]).abs().sqrt()
                });
            }
        }
        steps
    }

    /// Estimated thetas within a relative 1e-5 of a bound.
    pub fn thetas_on_bounds(&self, theta: &[f64]) -> Vec<usize> {
        self.thetas
            .iter()
            .filter(|&&(i, b)| b.near(theta[i]))
            .map(|&(i, _)| i)
            .collect()
    }

    fn sub(&self, omega: &DMatrix<f64>, b: &Block) -> DMatrix<f64> {
        let k = b.etas.len();
        DMatrix::from_fn(k, k, |a, c| omega[(b.etas[a], b.etas[c])])
    }
}

/// One entry of the natural parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsiEntry {
    Theta(usize),
    /// OMEGA(row, column), row ≥ column, eta indices.
    Omega(usize, usize),
}

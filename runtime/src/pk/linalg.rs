//! Fixed-size dense linear algebra for systems of at most [`MAX_STATES`]
//! states: products, a small linear solve, and a scaling-and-squaring
//! matrix exponential used for (near-)degenerate spectra.
//!
//! Every index here is bounded by the array sizes, so nothing can panic.

// Index loops read best for dense matrix code.
#![allow(clippy::needless_range_loop)]

use super::MAX_STATES;

/// A square matrix of up to `MAX_STATES` rows, row-major (`m[row][col]`).
pub(crate) type Mat = [[f64; MAX_STATES]; MAX_STATES];

/// A vector of up to `MAX_STATES` entries.
pub(crate) type Vector = [f64; MAX_STATES];

/// Size of the largest augmented matrix: `[[K·dt, I·dt], [0, 0]]` (`2n`) and
/// the sensitivity system of [`expm_frechet_apply`] (`2n + 1`).
const AUG: usize = 2 * MAX_STATES + 1;
type AugMat = [[f64; AUG]; AUG];

pub(crate) const ZERO: Mat = [[0.0; MAX_STATES]; MAX_STATES];

pub(crate) fn identity() -> Mat {
    let mut m = ZERO;
    for (i, row) in m.iter_mut().enumerate() {
        if let Some(x) = row.get_mut(i) {
            *x = 1.0;
        }
    }
    m
}

/// `a · b` (entries outside the leading `n × n` block are zero in both).
pub(crate) fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let mut c = ZERO;
    for (ci, ai) in c.iter_mut().zip(a) {
        for (&aik, bk) in ai.iter().zip(b) {
            if aik != 0.0 {
                for (cij, &bkj) in ci.iter_mut().zip(bk) {
                    *cij += aik * bkj;
                }
            }
        }
    }
    c
}

/// `a · x`.
pub(crate) fn mat_vec(a: &Mat, x: &Vector) -> Vector {
    let mut y = [0.0; MAX_STATES];
    for (yi, ai) in y.iter_mut().zip(a) {
        *yi = ai.iter().zip(x).map(|(a, x)| a * x).sum();
    }
    y
}

/// Column `j` of `a` (zero when out of range).
pub(crate) fn column(a: &Mat, j: usize) -> Vector {
    let mut v = [0.0; MAX_STATES];
    for (vi, row) in v.iter_mut().zip(a) {
        *vi = row.get(j).copied().unwrap_or(0.0);
    }
    v
}

/// Solves `a·x = b` on the leading `n × n` block by Gaussian elimination
/// with partial pivoting. `None` when the block is singular or the result is
/// not finite.
pub(crate) fn solve(mut a: Mat, mut b: Vector, n: usize) -> Option<Vector> {
    let n = n.min(MAX_STATES);
    for col in 0..n {
        // Pivot: the largest remaining entry of the column.
        let mut piv = col;
        for row in col + 1..n {
            if a[row][col].abs() > a[piv][col].abs() {
                piv = row;
            }
        }
        let p = a[piv][col];
        if p == 0.0 || !p.is_finite() {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / p;
            if f != 0.0 {
                for j in col..n {
                    a[row][j] -= f * a[col][j];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = [0.0; MAX_STATES];
    for row in (0..n).rev() {
        let mut s = b[row];
        for j in row + 1..n {
            s -= a[row][j] * x[j];
        }
        x[row] = s / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

fn aug_mul(a: &AugMat, b: &AugMat, m: usize) -> AugMat {
    let m = m.min(AUG);
    let mut c = [[0.0; AUG]; AUG];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i][k];
            if aik != 0.0 {
                for j in 0..m {
                    c[i][j] += aik * b[k][j];
                }
            }
        }
    }
    c
}

/// Norm below which the Taylor series is summed (after scaling).
const TAYLOR_NORM: f64 = 0.25;
/// Highest degree of the Taylor polynomial: `0.25^19 / 19! < 1e-27`.
const TAYLOR_DEGREE: u32 = 18;
/// Bound on the number of squarings (reached only for absurd `‖K·dt‖`).
const MAX_SQUARINGS: u32 = 1100;

/// `exp(a)` of the leading `m × m` block by scaling and squaring of a
/// Taylor polynomial: `exp(a) = (T(a / 2ˢ))^(2ˢ)` with `s` the smallest
/// integer for which `ν = ‖a / 2ˢ‖₁ ≤ 1/4`. The degree (at most 18) is the
/// lowest whose first omitted term `ν^(d+1)/(d+1)!` is below
/// `1e-18·ν²/2`, so even entries of order `ν²` (two transfers away) carry
/// only rounding error; small `‖a‖` thus costs only a few products.
fn expm(a: &AugMat, m: usize) -> AugMat {
    let m = m.min(AUG);
    let mut norm = 0.0f64;
    for j in 0..m {
        let col: f64 = (0..m).map(|i| a[i][j].abs()).sum();
        norm = norm.max(col);
    }
    let mut s = 0u32;
    let mut scale = 1.0;
    // Also stops on NaN norms (the result is then NaN).
    while norm > TAYLOR_NORM && s < MAX_SQUARINGS {
        norm *= 0.5;
        scale *= 0.5;
        s += 1;
    }
    let target = 1e-18 * (0.5 * norm * norm).min(1.0);
    let mut degree = 0u32;
    let mut term = 1.0;
    while degree < TAYLOR_DEGREE && term > target {
        degree += 1;
        term *= norm / f64::from(degree);
    }
    let mut x = [[0.0; AUG]; AUG];
    for i in 0..m {
        for j in 0..m {
            x[i][j] = a[i][j] * scale;
        }
    }
    // Horner: P = I + X/1·(I + X/2·(… (I + X/d))).
    let mut p = [[0.0; AUG]; AUG];
    for (i, row) in p.iter_mut().enumerate().take(m) {
        row[i] = 1.0;
    }
    for k in (1..=degree).rev() {
        let xp = aug_mul(&x, &p, m);
        let inv = 1.0 / f64::from(k);
        for i in 0..m {
            for j in 0..m {
                p[i][j] = xp[i][j] * inv + if i == j { 1.0 } else { 0.0 };
            }
        }
    }
    for _ in 0..s {
        p = aug_mul(&p, &p, m);
    }
    p
}

/// `‖K·dt‖₁` of the leading `n × n` block.
fn norm1(k: &Mat, n: usize, dt: f64) -> f64 {
    (0..n)
        .map(|j| (0..n).map(|i| (k[i][j] * dt).abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// Factor `c` for the input block of an augmented matrix, so that its norm
/// (`c·input_norm`) does not exceed `‖K·dt‖₁` and force needless
/// squarings; the exponential's input block is then divided by `c`.
fn input_scale(k_norm: f64, input_norm: f64) -> f64 {
    let c = k_norm / input_norm;
    if input_norm > k_norm && c.is_finite() && c > 0.0 {
        c
    } else {
        1.0
    }
}

/// `exp(K·dt)·a + K⁻¹(exp(K·dt) − I)·r` from one exponential of the
/// `(n+1) × (n+1)` augmented matrix `[[K·dt, c·r·dt], [0, 0]]`, whose
/// exponential is `[[exp(K·dt), c·K⁻¹(exp(K·dt) − I)·r], [0, 1]]` (Van Loan
/// 1978). Valid for any `K`, singular or defective.
pub(crate) fn expm_apply(k: &Mat, n: usize, dt: f64, a: &Vector, r: &Vector) -> Vector {
    let n = n.min(MAX_STATES);
    let r_norm = (0..n).map(|i| (r[i] * dt).abs()).sum::<f64>();
    let c = input_scale(norm1(k, n, dt), r_norm);
    let mut m = [[0.0; AUG]; AUG];
    for i in 0..n {
        for j in 0..n {
            m[i][j] = k[i][j] * dt;
        }
        m[i][n] = c * r[i] * dt;
    }
    let p = expm(&m, n + 1);
    let mut y = [0.0; MAX_STATES];
    for i in 0..n {
        y[i] = p[i][n] / c + (0..n).map(|j| p[i][j] * a[j]).sum::<f64>();
    }
    y
}

/// `(exp(K·dt), K⁻¹(exp(K·dt) − I))` of the leading `n × n` block from one
/// exponential of the augmented matrix `[[K·dt, c·I·dt], [0, 0]]`, whose
/// exponential is `[[exp(K·dt), c·∫₀^dt exp(K·s) ds], [0, I]]`.
pub(crate) fn expm_pair(k: &Mat, n: usize, dt: f64) -> (Mat, Mat) {
    let n = n.min(MAX_STATES);
    let c = input_scale(norm1(k, n, dt), dt.abs());
    let mut a = [[0.0; AUG]; AUG];
    for i in 0..n {
        for j in 0..n {
            a[i][j] = k[i][j] * dt;
        }
        a[i][n + i] = c * dt;
    }
    let p = expm(&a, 2 * n);
    let mut e = ZERO;
    let mut g = ZERO;
    for i in 0..n {
        for j in 0..n {
            e[i][j] = p[i][j];
            g[i][j] = p[i][n + j] / c;
        }
    }
    (e, g)
}

/// `D exp(K·dt)[Δ]·a + D G[Δ]·r` with `G = K⁻¹(exp(K·dt) − I)`: the
/// derivative of `exp(K·dt)·a + G·r` along `K → K + εΔ`, exact for any `K`
/// (defective, singular). It is the block-triangular form of Van Loan
/// (1978) for the Fréchet derivative, written as the forward sensitivity
/// system `y' = K·y + r`, `s' = K·s + Δ·y` over `dt` from `y = a`, `s = 0`:
/// the exponential of the `(2n+1)`-square matrix
/// `[[K·dt, 0, c·r·dt], [d·Δ·dt, K·dt, 0], [0, 0, 0]]` applied to `[a; 0; 1]`
/// has `d·s(dt)` in the middle block (with `r` scaled by `c`). `c` and `d`
/// keep the input blocks no larger than `‖K·dt‖₁` (see [`input_scale`]).
pub(crate) fn expm_frechet_apply(
    k: &Mat,
    delta: &Mat,
    n: usize,
    dt: f64,
    a: &Vector,
    r: &Vector,
) -> Vector {
    let n = n.min(MAX_STATES);
    let k_norm = norm1(k, n, dt);
    let r_norm = (0..n).map(|i| (r[i] * dt).abs()).sum::<f64>();
    let c = input_scale(k_norm, r_norm);
    let d = input_scale(k_norm, norm1(delta, n, dt));
    let one = 2 * n;
    let mut x = [[0.0; AUG]; AUG];
    for i in 0..n {
        for j in 0..n {
            x[i][j] = k[i][j] * dt;
            x[n + i][n + j] = k[i][j] * dt;
            x[n + i][j] = d * delta[i][j] * dt;
        }
        x[i][one] = c * r[i] * dt;
    }
    let p = expm(&x, one + 1);
    let mut y = [0.0; MAX_STATES];
    for i in 0..n {
        let from_a: f64 = (0..n).map(|j| p[n + i][j] * a[j]).sum();
        y[i] = from_a / d + p[n + i][one] / c / d;
    }
    y
}

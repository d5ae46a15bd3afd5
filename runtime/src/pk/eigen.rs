//! Closed-form macro rate constants (minus the eigenvalues of the system
//! matrix) of the mammillary disposition models.
//!
//! All functions return the rates in decreasing order (`α ≥ β ≥ γ ≥ 0`);
//! the eigenvalues are their negatives.

use std::f64::consts::PI;

/// Two compartments: the roots of `r² − (k10 + k12 + k21)·r + k10·k21 = 0`.
///
/// `α = (s + √d) / 2` with the discriminant written as the sum of squares
/// `d = (k10 + k12 − k21)² + 4·k12·k21` (no cancellation, never negative),
/// and `β = k10·k21 / α` (Vieta; avoids the cancellation of `(s − √d)/2`).
pub(crate) fn two_cpt(k10: f64, k12: f64, k21: f64) -> [f64; 2] {
    let s = k10 + k12 + k21;
    let diff = k10 + k12 - k21;
    let d = diff * diff + 4.0 * k12 * k21;
    let alpha = 0.5 * (s + d.sqrt());
    let beta = if alpha > 0.0 { k10 * k21 / alpha } else { 0.0 };
    [alpha, beta]
}

/// Three compartments: the roots of
/// `r³ − a₂·r² + a₁·r − a₀ = 0` with
/// `a₀ = k10·k21·k31`,
/// `a₁ = k10·k31 + k21·k31 + k21·k13 + k10·k21 + k31·k12`,
/// `a₂ = k10 + k12 + k13 + k21 + k31`
/// (the coefficients of NONMEM ADVAN11 and of Abuhelwa et al. 2015), by the
/// trigonometric (Viète) method for three real roots: with `r = y + a₂/3`,
/// `y³ + p·y + q = 0`, `p = a₁ − a₂²/3`, `q = −2a₂³/27 + a₁a₂/3 − a₀`, and
/// `y_k = 2√(−p/3)·cos((θ − 2πk)/3)`, `θ = acos((3q / 2p)·√(−3/p))`.
/// Each root is then polished by at most three Newton steps on the cubic
/// (kept only while they reduce the residual), which restores full relative
/// accuracy to the small roots that the `a₂/3 + …` form computes with
/// cancellation.
pub(crate) fn three_cpt(k10: f64, k12: f64, k21: f64, k13: f64, k31: f64) -> [f64; 3] {
    let a0 = k10 * k21 * k31;
    let a1 = k10 * k31 + k21 * k31 + k21 * k13 + k10 * k21 + k31 * k12;
    let a2 = k10 + k12 + k13 + k21 + k31;
    let p = a1 - a2 * a2 / 3.0;
    let q = -2.0 * a2 * a2 * a2 / 27.0 + a1 * a2 / 3.0 - a0;
    // p ≤ 0 for three real roots; rounding may push it slightly above.
    let m = (-p / 3.0).max(0.0).sqrt();
    let mut roots = [a2 / 3.0; 3];
    if m > 0.0 {
        // (3q / 2p)·√(−3/p) = −q / (2·m³).
        let z = (-q / (2.0 * m * m * m)).clamp(-1.0, 1.0);
        let theta = z.acos();
        for (k, r) in roots.iter_mut().enumerate() {
            let angle = (theta - 2.0 * PI * k as f64) / 3.0;
            *r = a2 / 3.0 + 2.0 * m * angle.cos();
        }
    }
    let f = |r: f64| ((r - a2) * r + a1) * r - a0;
    let df = |r: f64| (3.0 * r - 2.0 * a2) * r + a1;
    for r in roots.iter_mut() {
        for _ in 0..3 {
            let fr = f(*r);
            let d = df(*r);
            if fr == 0.0 || d == 0.0 || !d.is_finite() {
                break;
            }
            let next = *r - fr / d;
            if next.is_finite() && f(next).abs() < fr.abs() {
                *r = next;
            } else {
                break;
            }
        }
        *r = r.max(0.0);
    }
    roots.sort_by(|a, b| b.total_cmp(a));
    roots
}

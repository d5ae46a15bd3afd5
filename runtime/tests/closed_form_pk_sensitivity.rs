//! Exact sensitivities of the closed-form linear PK solutions
//! (`Propagator::advance_sensitivity` and the steady-state variants) against
//! two independent references: central finite differences of the values,
//! and RK4 integration of the forward sensitivity ODE
//! `dS/dt = K·S + (∂K/∂p)·A + ∂R`, done by running RK4 on dual numbers
//! through a right-hand side written from clearances and concentrations
//! (not from the module's system matrix).
//!
//! Run with `--nocapture` to see the largest errors measured.

use mido_runtime::pk::{LinearKind, LinearModel, PkError, Propagator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::{Add, Div, Mul, Sub};

// ---------------------------------------------------------------------------
// Reference machinery.

/// Forward-mode dual number `v + d·ε`, `ε² = 0`.
#[derive(Debug, Clone, Copy)]
struct Dual {
    v: f64,
    d: f64,
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual {
            v: self.v / o.v,
            d: (self.d * o.v - self.v * o.d) / (o.v * o.v),
        }
    }
}

fn dual(v: f64, d: f64) -> Dual {
    Dual { v, d }
}

fn is_oral(kind: LinearKind) -> bool {
    matches!(
        kind,
        LinearKind::OneCptOral | LinearKind::TwoCptOral | LinearKind::ThreeCptOral
    )
}

/// `dA/dt` from clearances and concentrations, parameters `p` in
/// `param_names` order: absorption `ka·A_depot`, elimination `CL·C1`,
/// distribution `Q·(C1 − C_p)`.
fn rhs(kind: LinearKind, p: &[Dual], a: &[Dual], r: &[Dual]) -> Vec<Dual> {
    let o = usize::from(is_oral(kind));
    let n_periph = (p.len() - o - 2) / 2;
    let mut out = r.to_vec();
    let c1 = a[o] / p[o + 1];
    out[o] = out[o] - p[o] * c1;
    if o == 1 {
        let absorbed = p[0] * a[0];
        out[0] = out[0] - absorbed;
        out[1] = out[1] + absorbed;
    }
    for i in 0..n_periph {
        let (q, vp, s) = (p[o + 2 + 2 * i], p[o + 3 + 2 * i], o + 1 + i);
        let flow = q * (c1 - a[s] / vp);
        out[o] = out[o] - flow;
        out[s] = out[s] + flow;
    }
    out
}

/// Classical RK4 with `steps` equal steps over `[0, t]`, on dual numbers:
/// the values integrate the model, the tangents its sensitivity ODE.
fn rk4(kind: LinearKind, p: &[Dual], a0: &[Dual], r: &[Dual], t: f64, steps: usize) -> Vec<Dual> {
    let n = a0.len();
    let h = dual(t / steps as f64, 0.0);
    let half = dual(0.5, 0.0);
    let sixth = dual(1.0 / 6.0, 0.0);
    let two = dual(2.0, 0.0);
    let mut y = a0.to_vec();
    for _ in 0..steps {
        let k1 = rhs(kind, p, &y, r);
        let y2: Vec<Dual> = (0..n).map(|i| y[i] + half * h * k1[i]).collect();
        let k2 = rhs(kind, p, &y2, r);
        let y3: Vec<Dual> = (0..n).map(|i| y[i] + half * h * k2[i]).collect();
        let k3 = rhs(kind, p, &y3, r);
        let y4: Vec<Dual> = (0..n).map(|i| y[i] + h * k3[i]).collect();
        let k4 = rhs(kind, p, &y4, r);
        for i in 0..n {
            y[i] = y[i] + sixth * h * (k1[i] + two * k2[i] + two * k3[i] + k4[i]);
        }
    }
    y
}

fn amax(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn prop(kind: LinearKind, p: &[f64]) -> Propagator {
    let model = kind.model(p).expect("parameter count");
    Propagator::new(model).unwrap_or_else(|e| panic!("{model:?}: {e}"))
}

/// Random positive parameters, log-uniform over typical ranges.
fn random_params(kind: LinearKind, rng: &mut ChaCha8Rng) -> Vec<f64> {
    kind.param_names()
        .iter()
        .map(|name| {
            let (lo, hi): (f64, f64) = match name.as_bytes()[0] {
                b'k' => (0.3, 3.0),
                b'c' => (0.5, 8.0),
                b'q' => (0.5, 8.0),
                _ if *name == "v" || *name == "v1" => (5.0, 40.0),
                _ => (10.0, 100.0),
            };
            (lo.ln() + rng.random::<f64>() * (hi / lo).ln()).exp()
        })
        .collect()
}

/// Directions for a model with parameters `p`, `n` states: one per
/// parameter (`dp = p_k·e_k`, a relative change), one moving only the
/// initial sensitivities and the rate derivatives, and one moving
/// everything. Returns `(dp, s0, drates)`, column-major.
fn directions(p: &[f64], n: usize, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let np = p.len();
    let m = np + 2;
    let mut dp = vec![0.0; np * m];
    let mut s0 = vec![0.0; n * m];
    let mut dr = vec![0.0; n * m];
    for k in 0..np {
        dp[k * np + k] = p[k];
    }
    for j in [np, np + 1] {
        for i in 0..n {
            s0[j * n + i] = rng.random_range(-20.0..20.0);
            dr[j * n + i] = rng.random_range(-5.0..5.0);
        }
    }
    for k in 0..np {
        dp[(np + 1) * np + k] = p[k] * rng.random_range(-1.0..1.0);
    }
    (dp, s0, dr)
}

/// Largest `|got − want| / (|want| + floor·colmax + abs_floor)` over every
/// entry, with `colmax` the largest `|want|` of the entry's column (`n`
/// rows).
fn max_error(got: &[f64], want: &[f64], n: usize, floor: f64, abs_floor: f64) -> f64 {
    assert_eq!(got.len(), want.len());
    let mut worst = 0.0f64;
    for (g, w) in got.chunks(n).zip(want.chunks(n)) {
        let colmax = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (g, w) in g.iter().zip(w) {
            let scale = w.abs() + floor * colmax + abs_floor;
            let err = if scale > 0.0 {
                (g - w).abs() / scale
            } else {
                (g - w).abs()
            };
            worst = worst.max(err);
        }
    }
    worst
}

/// Our sensitivities over one interval.
fn ours(
    pr: &Propagator,
    a: &[f64],
    r: &[f64],
    s0: &[f64],
    dr: &[f64],
    dp: &[f64],
    dt: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut s = s0.to_vec();
    pr.advance_sensitivity(&mut a, &mut s, r, dr, dp, dt)
        .expect("lengths");
    (a, s)
}

/// Step of the central differences (directions are relative changes).
const H: f64 = 1e-5;

/// Fourth-order central difference `(8·(f(h) − f(−h)) − (f(2h) − f(−2h)))/(12h)`
/// of a vector function: truncation `O(h⁴) ≈ 1e-20`, rounding about
/// `ε·|f|/h ≈ 1e-11·|f|`. `2h` stays below the propagator's degenerate gap
/// (`1e-4`), so that a parameter set on one side of it is differenced on
/// that side only.
fn central_difference(f: impl Fn(f64) -> Vec<f64>) -> Vec<f64> {
    let (p1, m1, p2, m2) = (f(H), f(-H), f(2.0 * H), f(-2.0 * H));
    (0..p1.len())
        .map(|i| (8.0 * (p1[i] - m1[i]) - (p2[i] - m2[i])) / (12.0 * H))
        .collect()
}

/// Floor of the comparisons with finite differences, relative to the
/// largest amount (an absolute tolerance of `1e-6·FD_FLOOR·|A| = 1e-8·|A|`):
/// their rounding error is about `1.5·ε_A·|A|/H`, with `ε_A` the relative
/// accuracy of the values, measured up to `3e-10·|A|` for three
/// compartments (where the sensitivities agree with RK4 to `1e-13`).
const FD_FLOOR: f64 = 1e-2;

/// Central finite differences of `advance` along each direction.
#[allow(clippy::too_many_arguments)]
fn finite_differences(
    kind: LinearKind,
    p: &[f64],
    a: &[f64],
    r: &[f64],
    s0: &[f64],
    dr: &[f64],
    dp: &[f64],
    dt: f64,
) -> Vec<f64> {
    let (n, np) = (a.len(), p.len());
    let m = s0.len() / n;
    let mut out = vec![0.0; n * m];
    for j in 0..m {
        let at = |h: f64| {
            let pp: Vec<f64> = (0..np).map(|k| p[k] + h * dp[j * np + k]).collect();
            let mut y: Vec<f64> = (0..n).map(|i| a[i] + h * s0[j * n + i]).collect();
            let rr: Vec<f64> = (0..n).map(|i| r[i] + h * dr[j * n + i]).collect();
            prop(kind, &pp).advance(&mut y, &rr, dt).expect("lengths");
            y
        };
        let d = central_difference(at);
        out[j * n..(j + 1) * n].copy_from_slice(&d);
    }
    out
}

/// RK4 (dual numbers) of the sensitivity ODE along each direction, with
/// steps of at most `0.001/|λ_max|` (global error about `1e-12` relative).
#[allow(clippy::too_many_arguments)]
fn rk4_sensitivities(
    kind: LinearKind,
    p: &[f64],
    a: &[f64],
    r: &[f64],
    s0: &[f64],
    dr: &[f64],
    dp: &[f64],
    dt: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (n, np) = (a.len(), p.len());
    let m = s0.len() / n;
    let lmax = prop(kind, p)
        .eigenvalues()
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let steps = ((dt * lmax / 0.001).ceil() as usize).max(400);
    let mut values = vec![0.0; n];
    let mut out = vec![0.0; n * m];
    for j in 0..m {
        let pd: Vec<Dual> = (0..np).map(|k| dual(p[k], dp[j * np + k])).collect();
        let ad: Vec<Dual> = (0..n).map(|i| dual(a[i], s0[j * n + i])).collect();
        let rd: Vec<Dual> = (0..n).map(|i| dual(r[i], dr[j * n + i])).collect();
        let y = rk4(kind, &pd, &ad, &rd, dt, steps);
        for i in 0..n {
            values[i] = y[i].v;
            out[j * n + i] = y[i].d;
        }
    }
    (values, out)
}

const KINDS: [LinearKind; 6] = [
    LinearKind::OneCpt,
    LinearKind::OneCptOral,
    LinearKind::TwoCpt,
    LinearKind::TwoCptOral,
    LinearKind::ThreeCpt,
    LinearKind::ThreeCptOral,
];

const DTS: [f64; 5] = [1e-3, 0.05, 0.5, 3.0, 24.0];

/// Starting amounts and rates: a dose into the first state alone (oral:
/// the depot) with no input, amounts everywhere with an infusion into the
/// central compartment, and amounts and inputs everywhere.
fn scenarios(kind: LinearKind, rng: &mut ChaCha8Rng) -> Vec<(&'static str, Vec<f64>, Vec<f64>)> {
    let n = kind.n_states();
    let c = usize::from(is_oral(kind));
    let mut dose = vec![0.0; n];
    dose[0] = 100.0;
    let some: Vec<f64> = (0..n).map(|_| rng.random_range(1.0..50.0)).collect();
    let mut central = vec![0.0; n];
    central[c] = 20.0;
    let everywhere: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..10.0)).collect();
    vec![
        ("bolus", dose, vec![0.0; n]),
        ("infusion", some.clone(), central),
        ("inputs everywhere", some, everywhere),
    ]
}

/// Checks one parameter set over every scenario and interval against RK4
/// and, with `fd_tol`, finite differences; returns the largest errors
/// `(fd, rk4)`.
fn check_model(
    kind: LinearKind,
    p: &[f64],
    fd_tol: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    let pr = prop(kind, p);
    let n = kind.n_states();
    let (dp, s0, dr) = directions(p, n, rng);
    let (mut worst_fd, mut worst_rk) = (0.0f64, 0.0f64);
    for (name, a, r) in scenarios(kind, rng) {
        for dt in DTS {
            let (values, s) = ours(&pr, &a, &r, &s0, &dr, &dp, dt);
            let scale = amax(&a).max(amax(&values));
            let (fd, err_fd) = match fd_tol {
                Some(_) => {
                    let fd = finite_differences(kind, p, &a, &r, &s0, &dr, &dp, dt);
                    let err = max_error(&s, &fd, n, 1e-3, FD_FLOOR * scale);
                    (fd, err)
                }
                None => (vec![], 0.0),
            };
            let (rk_values, rk) = rk4_sensitivities(kind, p, &a, &r, &s0, &dr, &dp, dt);
            let err_rk = max_error(&s, &rk, n, 1e-6, 0.0);
            let err_values = max_error(&values, &rk_values, n, 1e-6, 0.0);
            let what = format!("{kind:?} {p:?} {name} dt {dt}");
            assert!(
                err_rk <= 1e-8,
                "{what}: vs RK4 {err_rk:e} (FD {err_fd:e})\n{s:?}\n{rk:?}"
            );
            assert!(
                err_fd <= fd_tol.unwrap_or(0.0),
                "{what}: vs finite differences {err_fd:e} (RK4 {err_rk:e})\n{s:?}\n{fd:?}"
            );
            assert!(err_values <= 1e-8, "{what}: values vs RK4 {err_values:e}");
            worst_fd = worst_fd.max(err_fd);
            worst_rk = worst_rk.max(err_rk);
        }
    }
    (worst_fd, worst_rk)
}

// ---------------------------------------------------------------------------
// One interval.

#[test]
fn every_model_against_finite_differences_and_rk4() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut fd, mut rk) = (0.0f64, 0.0f64);
    for kind in KINDS {
        for _ in 0..2 {
            let p = random_params(kind, &mut rng);
            let (a, b) = check_model(kind, &p, Some(1e-6), &mut rng);
            fd = fd.max(a);
            rk = rk.max(b);
        }
    }
    println!("random parameters: max error vs FD {fd:.2e}, vs RK4 {rk:.2e}");
}

#[test]
fn degenerate_and_nearly_degenerate_spectra() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (cl, v) = (2.0, 10.0);
    let k = cl / v;
    let (mut fd, mut rk) = (0.0f64, 0.0f64);
    let mut record = |(a, b): (f64, f64)| {
        fd = fd.max(a);
        rk = rk.max(b);
    };
    // ka = k10 exactly (defective K), 1e-9 apart (dense path), 2e-4 apart
    // (spectral, just outside the degenerate gap: projectors ~ 5e3).
    for (rel, degenerate) in [(0.0, true), (1e-9, true), (2e-4, false)] {
        let p = [k * (1.0 + rel), cl, v];
        assert_eq!(prop(LinearKind::OneCptOral, &p).is_degenerate(), degenerate);
        record(check_model(
            LinearKind::OneCptOral,
            &p,
            Some(1e-6),
            &mut rng,
        ));
    }
    // ka equal to α or β of a two-compartment model.
    let two = [3.0, 10.0, 2.0, 25.0];
    let eig = prop(LinearKind::TwoCpt, &two).eigenvalues();
    for lambda in eig.iter() {
        let p = [-lambda, 3.0, 10.0, 2.0, 25.0];
        assert!(prop(LinearKind::TwoCptOral, &p).is_degenerate());
        record(check_model(
            LinearKind::TwoCptOral,
            &p,
            Some(1e-6),
            &mut rng,
        ));
    }
    // Just outside the gap from β (2e-4): spectral, with projectors ~ 1e4
    // built from computed (not exact) eigenvalues. The values of `advance`
    // carry about 1e-12 relative noise there, which differences at H
    // amplify to 1e-7·|A|: RK4 only.
    let p = [-eig[1] * (1.0 + 2e-4), 3.0, 10.0, 2.0, 25.0];
    assert!(!prop(LinearKind::TwoCptOral, &p).is_degenerate());
    record(check_model(LinearKind::TwoCptOral, &p, None, &mut rng));
    // ka equal to the slowest rate of a three-compartment model.
    let three = [3.0, 10.0, 4.0, 20.0, 0.8, 60.0];
    let gamma = -prop(LinearKind::ThreeCpt, &three).eigenvalues()[2];
    let p = [gamma, 3.0, 10.0, 4.0, 20.0, 0.8, 60.0];
    assert!(prop(LinearKind::ThreeCptOral, &p).is_degenerate());
    record(check_model(
        LinearKind::ThreeCptOral,
        &p,
        Some(1e-6),
        &mut rng,
    ));
    let p = [gamma * (1.0 + 2e-4), 3.0, 10.0, 4.0, 20.0, 0.8, 60.0];
    assert!(!prop(LinearKind::ThreeCptOral, &p).is_degenerate());
    record(check_model(LinearKind::ThreeCptOral, &p, None, &mut rng));
    println!("degenerate spectra: max error vs FD {fd:.2e}, vs RK4 {rk:.2e}");
}

#[test]
fn amounts_equal_advance_bit_for_bit_and_structural_zeros_stay_zero() {
    let p = [1.3, 3.0, 10.0, 2.0, 25.0];
    let pr = prop(LinearKind::TwoCptOral, &p);
    let (a0, r) = ([100.0, 3.0, 1.0], [2.0, 1.0, 0.0]);
    for dt in DTS {
        let mut plain = a0.to_vec();
        pr.advance(&mut plain, &r, dt).expect("lengths");
        // Directions: cl, v1, q, v2 (the depot does not depend on them).
        let mut dp = vec![0.0; 5 * 4];
        for j in 0..4 {
            dp[j * 5 + 1 + j] = 1.0;
        }
        let (a, s) = ours(&pr, &a0, &r, &[0.0; 12], &[0.0; 12], &dp, dt);
        assert_eq!(a, plain, "dt {dt}");
        for j in 0..4 {
            assert_eq!(
                s[j * 3],
                0.0,
                "∂depot/∂{} at dt {dt}",
                ["cl", "v1", "q", "v2"][j]
            );
            assert!(s[j * 3 + 1] != 0.0);
        }
    }
}

#[test]
fn no_directions_and_zero_interval() {
    let pr = prop(LinearKind::OneCptOral, &[1.0, 2.0, 10.0]);
    let mut a = vec![100.0, 0.0];
    let mut s: Vec<f64> = vec![];
    pr.advance_sensitivity(&mut a, &mut s, &[0.0, 0.0], &[], &[], 1.0)
        .expect("m = 0");
    let mut b = vec![100.0, 0.0];
    pr.advance(&mut b, &[0.0, 0.0], 1.0).expect("lengths");
    assert_eq!(a, b);
    // dt = 0 leaves the sensitivities unchanged.
    let s0 = [1.0, 2.0, 3.0, 4.0];
    let (_, s) = ours(&pr, &a, &[1.0, 1.0], &s0, &[5.0; 4], &[1.0; 6], 0.0);
    assert_eq!(s, s0);
}

#[test]
fn wrong_lengths_are_typed_errors() {
    fn err<T>(e: Result<T, PkError>) -> Option<PkError> {
        e.err()
    }
    let pr = prop(LinearKind::TwoCpt, &[3.0, 10.0, 2.0, 25.0]);
    let mut a = vec![1.0, 2.0];
    let r = [0.0, 0.0];
    // s not a whole number of columns.
    let mut s = vec![0.0; 3];
    assert!(matches!(
        err(pr.advance_sensitivity(&mut a, &mut s, &r, &[0.0; 3], &[0.0; 4], 1.0)),
        Some(PkError::SensitivityLength { got: 3, .. })
    ));
    // drates and dp must have m columns.
    let mut s = vec![0.0; 4];
    assert!(matches!(
        err(pr.advance_sensitivity(&mut a, &mut s, &r, &[0.0; 2], &[0.0; 8], 1.0)),
        Some(PkError::SensitivityLength {
            expected: 4,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        err(pr.advance_sensitivity(&mut a, &mut s, &r, &[0.0; 4], &[0.0; 4], 1.0)),
        Some(PkError::SensitivityLength {
            expected: 8,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        err(pr.advance_sensitivity(&mut a, &mut s, &[0.0], &[0.0; 4], &[0.0; 8], 1.0)),
        Some(PkError::StateLength { .. })
    ));
    // Nothing was modified by the failed calls.
    assert_eq!(a, [1.0, 2.0]);
    let mut ds = vec![0.0; 2];
    assert!(matches!(
        err(pr.steady_state_bolus_sensitivity(0, 100.0, 12.0, &[1.0, 2.0], &[0.0; 8], &mut ds)),
        Some(PkError::SensitivityLength {
            expected: 4,
            got: 2,
            ..
        })
    ));
    let mut ds = vec![0.0; 2];
    assert!(matches!(
        err(pr.steady_state_infusion_sensitivity(
            0,
            10.0,
            2.0,
            12.0,
            &[1.0],
            &[1.0, 2.0],
            &[0.0; 4],
            &mut ds
        )),
        Some(PkError::SensitivityLength { expected: 1, .. })
    ));
    let zero_cl = prop(LinearKind::TwoCpt, &[0.0, 10.0, 2.0, 25.0]);
    assert!(matches!(
        err(zero_cl.steady_state_bolus_sensitivity(0, 100.0, 12.0, &[1.0], &[0.0; 4], &mut ds)),
        Some(PkError::NoSteadyState)
    ));
}

// ---------------------------------------------------------------------------
// Steady state.

/// Parameter sets for the steady-state tests: the six models at random
/// parameters and a defective one (ka = k10).
fn steady_state_models(rng: &mut ChaCha8Rng) -> Vec<(LinearKind, Vec<f64>)> {
    let mut out: Vec<_> = KINDS.iter().map(|&k| (k, random_params(k, rng))).collect();
    out.push((LinearKind::OneCptOral, vec![0.2, 2.0, 10.0]));
    out
}

/// Log-parameter directions plus one random mix, with a random derivative
/// of the dose input per direction.
fn ss_directions(p: &[f64], rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>, usize) {
    let np = p.len();
    let m = np + 1;
    let mut dp = vec![0.0; np * m];
    for k in 0..np {
        dp[k * np + k] = p[k];
        dp[np * np + k] = p[k] * rng.random_range(-1.0..1.0);
    }
    let dinput: Vec<f64> = (0..m).map(|_| rng.random_range(-3.0..3.0)).collect();
    (dp, dinput, m)
}

/// Central differences of a steady state along each direction.
fn ss_fd(
    kind: LinearKind,
    p: &[f64],
    dp: &[f64],
    m: usize,
    ss: impl Fn(&Propagator, f64, usize) -> Vec<f64>,
) -> Vec<f64> {
    let np = p.len();
    let mut out = vec![];
    for j in 0..m {
        let at = |h: f64| {
            let pp: Vec<f64> = (0..np).map(|k| p[k] + h * dp[j * np + k]).collect();
            ss(&prop(kind, &pp), h, j)
        };
        out.extend(central_difference(at));
    }
    out
}

#[test]
fn steady_state_bolus_against_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut worst = 0.0f64;
    for (kind, p) in steady_state_models(&mut rng) {
        let pr = prop(kind, &p);
        let n = kind.n_states();
        let (dp, damount, m) = ss_directions(&p, &mut rng);
        for cmt in [0, n - 1] {
            for tau in [0.5, 12.0, 100.0] {
                let mut ds = vec![0.0; n * m];
                let a0 = pr
                    .steady_state_bolus_sensitivity(cmt, 100.0, tau, &damount, &dp, &mut ds)
                    .expect("steady state");
                let plain = pr.steady_state_bolus(cmt, 100.0, tau).expect("ss");
                assert_eq!(&a0[..], &plain[..]);
                let fd = ss_fd(kind, &p, &dp, m, |pr, h, j| {
                    let amount = 100.0 + h * damount[j];
                    pr.steady_state_bolus(cmt, amount, tau)
                        .expect("ss")
                        .to_vec()
                });
                let err = max_error(&ds, &fd, n, 1e-3, FD_FLOOR * amax(&a0));
                assert!(
                    err <= 1e-6,
                    "{kind:?} cmt {cmt} tau {tau}: {err:e}\n{ds:?}\n{fd:?}"
                );
                worst = worst.max(err);
            }
        }
    }
    println!("steady-state bolus: max error vs FD {worst:.2e}");
}

#[test]
fn steady_state_infusion_against_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut worst = 0.0f64;
    let tau = 12.0;
    for (kind, p) in steady_state_models(&mut rng) {
        let pr = prop(kind, &p);
        let n = kind.n_states();
        let (dp, drate, m) = ss_directions(&p, &mut rng);
        let ddur: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
        for cmt in [0, n - 1] {
            // Shorter than tau, and overlapping (2.5 tau).
            for dur in [1.5, 7.0, 30.0] {
                let rate = 40.0;
                let mut ds = vec![0.0; n * m];
                let a0 = pr
                    .steady_state_infusion_sensitivity(
                        cmt, rate, dur, tau, &drate, &ddur, &dp, &mut ds,
                    )
                    .expect("steady state");
                let fd = ss_fd(kind, &p, &dp, m, |pr, h, j| {
                    pr.steady_state_infusion(cmt, rate + h * drate[j], dur + h * ddur[j], tau)
                        .expect("ss")
                        .to_vec()
                });
                let err = max_error(&ds, &fd, n, 1e-3, FD_FLOOR * amax(&a0));
                assert!(err <= 1e-6, "{kind:?} cmt {cmt} dur {dur}: {err:e}");
                worst = worst.max(err);
                // A fixed duration may be given as an empty slice.
                let mut fixed = vec![0.0; n * m];
                pr.steady_state_infusion_sensitivity(
                    cmt,
                    rate,
                    dur,
                    tau,
                    &drate,
                    &[],
                    &dp,
                    &mut fixed,
                )
                .expect("steady state");
                let zero = vec![0.0; m];
                let mut zeroed = vec![0.0; n * m];
                pr.steady_state_infusion_sensitivity(
                    cmt,
                    rate,
                    dur,
                    tau,
                    &drate,
                    &zero,
                    &dp,
                    &mut zeroed,
                )
                .expect("steady state");
                assert_eq!(fixed, zeroed);
            }
        }
    }
    println!("steady-state infusion: max error vs FD {worst:.2e}");
}

#[test]
fn steady_state_infusion_duration_kink_takes_the_right_derivative() {
    let (tau, rate) = (12.0, 40.0);
    let p = [3.0, 10.0, 2.0, 25.0];
    let pr = prop(LinearKind::TwoCpt, &p);
    for dur in [12.0, 24.0] {
        let mut ds = vec![0.0; 2];
        pr.steady_state_infusion_sensitivity(0, rate, dur, tau, &[0.0], &[1.0], &[0.0; 4], &mut ds)
            .expect("ss");
        // Second-order one-sided differences from the right.
        let at = |d: f64| pr.steady_state_infusion(0, rate, d, tau).expect("ss");
        let (a0, a1, a2) = (at(dur), at(dur + 1e-4), at(dur + 2e-4));
        for i in 0..2 {
            let fd = (-3.0 * a0[i] + 4.0 * a1[i] - a2[i]) / 2e-4;
            let err = (ds[i] - fd).abs() / fd.abs();
            assert!(
                err < 1e-5,
                "dur {dur} state {i}: {} vs {fd}: {err:e}",
                ds[i]
            );
        }
    }
}

#[test]
fn steady_state_constant_against_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut worst = 0.0f64;
    for (kind, p) in steady_state_models(&mut rng) {
        let pr = prop(kind, &p);
        let n = kind.n_states();
        let (dp, _, m) = ss_directions(&p, &mut rng);
        let rates: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..10.0)).collect();
        let drates: Vec<f64> = (0..n * m).map(|_| rng.random_range(-2.0..2.0)).collect();
        let mut ds = vec![0.0; n * m];
        let a = pr
            .steady_state_constant_sensitivity(&rates, &drates, &dp, &mut ds)
            .expect("ss");
        let fd = ss_fd(kind, &p, &dp, m, |pr, h, j| {
            let r: Vec<f64> = (0..n).map(|i| rates[i] + h * drates[j * n + i]).collect();
            pr.steady_state_constant(&r).expect("ss").to_vec()
        });
        let err = max_error(&ds, &fd, n, 1e-3, FD_FLOOR * amax(&a));
        assert!(err <= 1e-6, "{kind:?}: {err:e}");
        worst = worst.max(err);
    }
    println!("steady-state constant rate: max error vs FD {worst:.2e}");
}

#[test]
fn steady_state_sensitivity_is_the_limit_of_chained_doses() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let tau = 12.0;
    let mut worst = 0.0f64;
    for (kind, p) in steady_state_models(&mut rng) {
        let pr = prop(kind, &p);
        let n = kind.n_states();
        let (dp, damount, m) = ss_directions(&p, &mut rng);
        let mut a = vec![0.0; n];
        let mut s = vec![0.0; n * m];
        let (zero, dzero) = (vec![0.0; n], vec![0.0; n * m]);
        for _ in 0..1000 {
            a[0] += 100.0;
            for j in 0..m {
                s[j * n] += damount[j];
            }
            pr.advance_sensitivity(&mut a, &mut s, &zero, &dzero, &dp, tau)
                .expect("lengths");
        }
        a[0] += 100.0;
        for j in 0..m {
            s[j * n] += damount[j];
        }
        let mut ds = vec![0.0; n * m];
        pr.steady_state_bolus_sensitivity(0, 100.0, tau, &damount, &dp, &mut ds)
            .expect("ss");
        let err = max_error(&ds, &s, n, 1e-6, 0.0);
        assert!(err <= 1e-9, "{kind:?}: {err:e}");
        worst = worst.max(err);
    }
    println!("steady state vs 1000 chained doses: max error {worst:.2e}");
}

// ---------------------------------------------------------------------------
// A whole dosing profile.

/// A regimen: a bolus of `F·100` into the first state every 24 h, and
/// infusions of `rate` into the central compartment over [6, 8) and
/// [30, 33); observations every 1.7 h up to 96 h.
struct Regimen {
    f: f64,
    rate: f64,
}

const BOLUS_TIMES: [f64; 4] = [0.0, 24.0, 48.0, 72.0];
const INFUSIONS: [(f64, f64); 2] = [(6.0, 8.0), (30.0, 33.0)];

fn breakpoints() -> (Vec<f64>, Vec<f64>) {
    let obs: Vec<f64> = (1..=56).map(|i| i as f64 * 1.7).collect();
    let mut t: Vec<f64> = obs.clone();
    t.extend(BOLUS_TIMES);
    t.extend(INFUSIONS.iter().flat_map(|&(a, b)| [a, b]));
    t.push(0.0);
    t.sort_by(f64::total_cmp);
    t.dedup();
    (t, obs)
}

/// Amounts (and, with `sens = Some((dp, df, drate))`, sensitivities) at
/// every observation.
fn run_profile(
    pr: &Propagator,
    central: usize,
    reg: &Regimen,
    sens: Option<(&[f64], &[f64], &[f64])>,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let n = pr.n_states();
    let (times, obs) = breakpoints();
    let m = sens.map_or(0, |(_, df, _)| df.len());
    let mut a = vec![0.0; n];
    let mut s = vec![0.0; n * m];
    let (mut values, mut sensitivities) = (vec![], vec![]);
    for w in times.windows(2) {
        let (t0, t1) = (w[0], w[1]);
        if BOLUS_TIMES.contains(&t0) {
            a[0] += reg.f * 100.0;
            if let Some((_, df, _)) = sens {
                for j in 0..m {
                    s[j * n] += df[j] * 100.0;
                }
            }
        }
        let mid = 0.5 * (t0 + t1);
        let on = INFUSIONS.iter().any(|&(a, b)| a <= mid && mid < b);
        let mut r = vec![0.0; n];
        let mut dr = vec![0.0; n * m];
        if on {
            r[central] = reg.rate;
            if let Some((_, _, drate)) = sens {
                for j in 0..m {
                    dr[j * n + central] = drate[j];
                }
            }
        }
        match sens {
            Some((dp, _, _)) => pr
                .advance_sensitivity(&mut a, &mut s, &r, &dr, dp, t1 - t0)
                .expect("lengths"),
            None => pr.advance(&mut a, &r, t1 - t0).expect("lengths"),
        }
        if obs.contains(&t1) {
            values.push(a.clone());
            sensitivities.push(s.clone());
        }
    }
    (values, sensitivities)
}

#[test]
fn dosing_profile_against_finite_differences_of_the_whole_profile() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut worst = 0.0f64;
    let mut models = steady_state_models(&mut rng);
    models.push((LinearKind::OneCptOral, vec![0.2 * (1.0 + 1e-9), 2.0, 10.0]));
    for (kind, p) in models {
        let pr = prop(kind, &p);
        let n = kind.n_states();
        let central = usize::from(is_oral(kind));
        let (dp, df, m) = ss_directions(&p, &mut rng);
        let df: Vec<f64> = df.iter().map(|x| x * 0.1).collect();
        let drate: Vec<f64> = (0..m).map(|_| rng.random_range(-5.0..5.0)).collect();
        let reg = Regimen { f: 0.8, rate: 25.0 };
        let (values, sens) = run_profile(&pr, central, &reg, Some((&dp, &df, &drate)));
        let np = p.len();
        for j in 0..m {
            let at = |h: f64| {
                let pp: Vec<f64> = (0..np).map(|k| p[k] + h * dp[j * np + k]).collect();
                let reg = Regimen {
                    f: reg.f + h * df[j],
                    rate: reg.rate + h * drate[j],
                };
                run_profile(&prop(kind, &pp), central, &reg, None)
                    .0
                    .concat()
            };
            let fd = central_difference(at);
            for (o, s) in sens.iter().enumerate() {
                let got = &s[j * n..(j + 1) * n];
                let floor = FD_FLOOR * amax(&values[o]);
                let err = max_error(got, &fd[o * n..(o + 1) * n], n, 1e-3, floor);
                assert!(
                    err <= 1e-6,
                    "{kind:?} direction {j} observation {o}: {err:e}"
                );
                worst = worst.max(err);
            }
        }
    }
    println!("dosing profile: max error vs FD of the whole profile {worst:.2e}");
}

#[test]
fn every_kind_has_consistent_parameter_counts() {
    // The dp layout follows param_names; a LinearModel round-trips.
    for kind in KINDS {
        let p: Vec<f64> = (1..=kind.param_names().len()).map(|i| i as f64).collect();
        let model: LinearModel = kind.model(&p).expect("count");
        let names: Vec<&str> = model.params().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, kind.param_names());
    }
}

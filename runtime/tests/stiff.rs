//! The stiff solver (Rodas4) and automatic method choice, against reference
//! values that do not come from the solvers under test.
//!
//! Reference sources:
//! * Robertson at t = 40: Hairer & Wanner, *Solving ODEs II*, §IV.10 (also
//!   quoted by many stiff-solver test suites); cross-checked, and extended to
//!   t = 4e5, by an implicit Euler + Richardson extrapolation written only
//!   here ([`robertson_reference`]).
//! * Van der Pol: the IVP test set of Mazzia & Magherini (Bari), problem
//!   VDPOL, ε = 1e-6 on [0, 2], reference computed with RADAU in extended
//!   precision (rtol = atol = 1.1e-18). With t = μ·τ and ε = 1/μ² it is the
//!   classical `x'' − μ(1 − x²)x' + x = 0`, μ = 1000, at t = 2000, with
//!   `x' = y2/μ`.
//! * Linear and one-compartment problems: closed forms.
//! * TMDD: mass balance (an eliminated-amount state) and Dopri5 at rtol 1e-12.

use mido_runtime::solver::{Method, OdeSolver, Rodas, SolverOptions, SolverStats};

fn opts(method: Method) -> SolverOptions {
    SolverOptions {
        method,
        ..SolverOptions::default()
    }
}

fn rel_err(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

// ---------------------------------------------------------------- Robertson

const RK1: f64 = 0.04;
const RK2: f64 = 3e7;
const RK3: f64 = 1e4;

fn robertson(_t: f64, y: &[f64], d: &mut [f64]) {
    d[0] = -RK1 * y[0] + RK3 * y[1] * y[2];
    d[1] = RK1 * y[0] - RK3 * y[1] * y[2] - RK2 * y[1] * y[1];
    d[2] = RK2 * y[1] * y[1];
}

fn robertson_jac(_t: f64, y: &[f64], j: &mut [f64]) {
    // Column-major: j[col * 3 + row].
    j[0] = -RK1;
    j[1] = RK1;
    j[2] = 0.0;
    j[3] = RK3 * y[2];
    j[4] = -RK3 * y[2] - 2.0 * RK2 * y[1];
    j[5] = 2.0 * RK2 * y[1];
    j[6] = RK3 * y[1];
    j[7] = -RK3 * y[1];
    j[8] = 0.0;
}

/// Hairer & Wanner's reference at t = 40.
const ROBERTSON_40: [f64; 3] = [
    0.7158270687193e+00,
    0.9185534764529e-05,
    0.2841637457458e+00,
];

/// Solves the 3×3 system `a·x = b` (row-major `a`) by Gaussian elimination
/// with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> [f64; 3] {
    for k in 0..3 {
        let p = (k..3)
            .max_by(|&i, &j| a[i][k].abs().total_cmp(&a[j][k].abs()))
            .expect("non-empty");
        a.swap(k, p);
        b.swap(k, p);
        for i in k + 1..3 {
            let l = a[i][k] / a[k][k];
            let pivot_row = a[k];
            for (aij, akj) in a[i].iter_mut().zip(pivot_row).skip(k) {
                *aij -= l * akj;
            }
            b[i] -= l * b[k];
        }
    }
    let mut x = [0.0; 3];
    for i in (0..3).rev() {
        let s: f64 = (i + 1..3).map(|j| a[i][j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    x
}

/// Implicit Euler on Robertson from 0 to `t_end` on the grid
/// `t(u) = a·(e^u − 1)`, `u` uniform with `m` steps (fine steps during the
/// initial transient, geometric ones later), Newton iterated to round-off.
fn implicit_euler_robertson(t_end: f64, m: usize) -> [f64; 3] {
    let a = 1e-4;
    let u_end = (t_end / a + 1.0).ln();
    let mut y = [1.0, 0.0, 0.0];
    let mut t_prev = 0.0;
    let mut f = [0.0; 3];
    let mut jac = [0.0; 9];
    for i in 1..=m {
        let t = if i == m {
            t_end
        } else {
            a * (u_end * i as f64 / m as f64).exp_m1()
        };
        let h = t - t_prev;
        let mut z = y;
        for iter in 0.. {
            assert!(iter < 50, "Newton failed at t = {t}");
            robertson(t, &z, &mut f);
            robertson_jac(t, &z, &mut jac);
            let g = [
                z[0] - y[0] - h * f[0],
                z[1] - y[1] - h * f[1],
                z[2] - y[2] - h * f[2],
            ];
            let mut m3 = [[0.0; 3]; 3];
            for (r, row) in m3.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = f64::from(u8::from(r == c)) - h * jac[c * 3 + r];
                }
            }
            let dz = solve3(m3, g);
            let mut done = true;
            for k in 0..3 {
                z[k] -= dz[k];
                if dz[k].abs() > 1e-15 * z[k].abs() + 1e-300 {
                    done = false;
                }
            }
            if done {
                break;
            }
        }
        y = z;
        t_prev = t;
    }
    y
}

/// Robertson at `t_end` by implicit Euler on grids of `m`, `2m`, `4m`, `8m`
/// steps (each halving every step of the previous one) and Richardson
/// extrapolation for an error expansion in powers of the step size:
/// the result is accurate to O(h⁴).
fn robertson_reference(t_end: f64, m: usize) -> [f64; 3] {
    // Each refinement must split every step of the coarser grid in two. On
    // the grid t(u) with uniform u that holds by construction.
    let a: Vec<[f64; 3]> = (0..4)
        .map(|l| implicit_euler_robertson(t_end, m << l))
        .collect();
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut col: Vec<f64> = a.iter().map(|v| v[k]).collect();
        for level in 1..col.len() {
            let p = f64::from(1u32 << level);
            col = col
                .windows(2)
                .map(|w| (p * w[1] - w[0]) / (p - 1.0))
                .collect();
        }
        *o = col[0];
    }
    out
}

#[test]
fn robertson_reference_method_reproduces_published_values() {
    let r = robertson_reference(40.0, 4000);
    println!("implicit Euler + Richardson at t = 40: {r:.13?}");
    for k in 0..3 {
        let e = rel_err(r[k], ROBERTSON_40[k]);
        assert!(
            e < 1e-9,
            "component {k}: {} vs {} ({e:e})",
            r[k],
            ROBERTSON_40[k]
        );
    }
    // At t = 4e5 (no published value at hand), the extrapolation is
    // converged: halving the base grid changes it by far less than the
    // tolerance the solvers are held to.
    let (a, b) = (
        robertson_reference(4e5, 2000),
        robertson_reference(4e5, 4000),
    );
    for k in 0..3 {
        let e = rel_err(a[k], b[k]);
        assert!(
            e < 1e-9,
            "t = 4e5, component {k}: {} vs {} ({e:e})",
            a[k],
            b[k]
        );
    }
}

fn run(
    method: Method,
    o: SolverOptions,
    f: &mut impl FnMut(f64, &[f64], &mut [f64]),
    jac: &mut impl FnMut(f64, &[f64], &mut [f64]),
    y0: &[f64],
    times: &[f64],
) -> (Vec<Vec<f64>>, SolverStats, bool) {
    let o = SolverOptions { method, ..o };
    let mut s = OdeSolver::new(y0.len(), o);
    let mut y = y0.to_vec();
    let mut t = 0.0;
    let mut out = Vec::new();
    for &t1 in times {
        s.integrate(f, jac, t, t1, &mut y)
            .unwrap_or_else(|e| panic!("{method:?} failed: {e}"));
        out.push(y.clone());
        t = t1;
    }
    (out, s.stats(), s.is_stiff())
}

#[test]
fn robertson_rodas_matches_reference_at_40_and_4e5() {
    let ref_4e5 = robertson_reference(4e5, 4000);
    println!("reference at t = 4e5: {ref_4e5:.13?}");
    let (ys, st, _) = run(
        Method::Stiff,
        SolverOptions::default(),
        &mut robertson,
        &mut robertson_jac,
        &[1.0, 0.0, 0.0],
        &[40.0, 4e5],
    );
    println!("Rodas: {st:?}");
    println!(
        "Rodas at t = 40: {:.13?}, at t = 4e5: {:.13?}",
        ys[0], ys[1]
    );
    for k in 0..3 {
        let e40 = rel_err(ys[0][k], ROBERTSON_40[k]);
        let e4e5 = rel_err(ys[1][k], ref_4e5[k]);
        assert!(e40 < 1e-6, "t = 40, component {k}: {e40:e}");
        assert!(e4e5 < 1e-6, "t = 4e5, component {k}: {e4e5:e}");
    }
    assert!(st.jac_evals > 0 && st.lu_decomps >= st.accepted);
    assert!(st.accepted < 2000, "{st:?}");
}

#[test]
fn auto_switches_to_rodas_on_robertson() {
    let o = SolverOptions {
        max_steps: 10_000_000,
        ..SolverOptions::default()
    };
    let y0 = [1.0, 0.0, 0.0];
    let (ya, auto, stiff_now) = run(
        Method::Auto,
        o,
        &mut robertson,
        &mut robertson_jac,
        &y0,
        &[40.0],
    );
    let (ye, explicit, _) = run(
        Method::Explicit,
        o,
        &mut robertson,
        &mut robertson_jac,
        &y0,
        &[40.0],
    );
    println!("Robertson to t = 40, Auto:     {auto:?}");
    println!("Robertson to t = 40, Explicit: {explicit:?}");
    assert!(stiff_now, "Auto did not switch");
    assert_eq!(auto.stiff_switches, 1);
    assert!(auto.jac_evals > 0 && auto.lu_decomps > 0);
    assert_eq!(explicit.jac_evals, 0);
    let (na, ne) = (
        auto.accepted + auto.rejected,
        explicit.accepted + explicit.rejected,
    );
    println!(
        "steps: Auto {na}, Explicit {ne} (ratio {:.0})",
        ne as f64 / na as f64
    );
    assert!(ne >= 10 * na, "Auto {na} steps vs Explicit {ne}");
    for k in 0..3 {
        let (ea, ee) = (
            rel_err(ya[0][k], ROBERTSON_40[k]),
            rel_err(ye[0][k], ROBERTSON_40[k]),
        );
        println!("component {k}: rel. error Auto {ea:.1e}, Explicit {ee:.1e}");
        assert!(ea < 1e-6, "Auto, component {k}");
        // y2 ≈ 1e-5 is only resolved to atol = 1e-10 by the explicit method,
        // whose steps sit on its stability boundary.
        assert!(ee < 1e-4, "Explicit, component {k}");
    }
}

#[test]
fn auto_stays_stiff_until_reset() {
    let mut s = OdeSolver::new(3, opts(Method::Auto));
    let mut y = [1.0, 0.0, 0.0];
    s.integrate(&mut robertson, &mut robertson_jac, 0.0, 1.0, &mut y)
        .expect("integrates");
    assert!(s.is_stiff());
    s.integrate(&mut robertson, &mut robertson_jac, 1.0, 40.0, &mut y)
        .expect("integrates");
    assert!(s.is_stiff());
    let (_, rodas) = s.stats_by_method();
    assert!(rodas.accepted > 0);
    s.reset();
    assert!(!s.is_stiff());
    // Method::Stiff is stiff from the start, and stays so after reset.
    let mut s = OdeSolver::new(3, opts(Method::Stiff));
    assert!(s.is_stiff());
    s.reset();
    assert!(s.is_stiff());
}

#[test]
fn auto_hands_over_when_explicit_runs_out_of_steps() {
    // The fast mode is barely excited (w0 = −5e-7), but Dopri5's step is
    // still capped by λ2 = −1e5. With 12 steps per interval it gives up before its
    // stiffness test (15 steps at the boundary) fires; Rodas finishes.
    let o = SolverOptions {
        max_steps: 12,
        ..SolverOptions::default()
    };
    let mut y = [2.0, 2.0 + 1e-6];
    let mut explicit = OdeSolver::new(
        2,
        SolverOptions {
            method: Method::Explicit,
            ..o
        },
    );
    let e = explicit.integrate(&mut linear, &mut linear_jac, 0.0, 0.01, &mut y);
    assert!(
        matches!(
            e,
            Err(mido_runtime::solver::SolverError::TooManySteps { .. })
        ),
        "{e:?}"
    );
    let mut y = [2.0, 2.0 + 1e-6];
    let mut auto = OdeSolver::new(2, o);
    auto.integrate(&mut linear, &mut linear_jac, 0.0, 0.01, &mut y)
        .expect("Rodas takes over");
    println!("hand-over on step budget: {:?}", auto.stats_by_method());
    assert!(auto.is_stiff());
    assert_eq!(auto.stats().stiff_switches, 1);
    // u = 2 + 5e-7; the fast mode has decayed to e^{-1000}.
    let exact = (2.0 + 5e-7) * (-0.01f64).exp();
    assert!(
        rel_err(y[0], exact) < 1e-8 && rel_err(y[1], exact) < 1e-8,
        "{y:?}"
    );
}

// ------------------------------------------------------------- Van der Pol

const MU: f64 = 1000.0;
/// Mazzia & Magherini's VDPOL reference at τ = 2 (ε = 1e-6).
const VDPOL_REF: [f64; 2] = [0.1706167732170483e1, -0.8928097010247975e0];

fn vdp(_t: f64, y: &[f64], d: &mut [f64]) {
    d[0] = y[1];
    d[1] = MU * (1.0 - y[0] * y[0]) * y[1] - y[0];
}

fn vdp_jac(_t: f64, y: &[f64], j: &mut [f64]) {
    j[0] = 0.0;
    j[1] = -2.0 * MU * y[0] * y[1] - 1.0;
    j[2] = 1.0;
    j[3] = MU * (1.0 - y[0] * y[0]);
}

#[test]
fn van_der_pol_mu_1000_matches_test_set_reference() {
    for method in [Method::Stiff, Method::Auto] {
        let (ys, st, stiff_now) = run(
            method,
            SolverOptions::default(),
            &mut vdp,
            &mut vdp_jac,
            &[2.0, 0.0],
            &[2000.0],
        );
        let (y1, y2) = (ys[0][0], ys[0][1] * MU);
        let (e1, e2) = (rel_err(y1, VDPOL_REF[0]), rel_err(y2, VDPOL_REF[1]));
        println!("Van der Pol, {method:?}: {st:?}; rel. errors {e1:.2e}, {e2:.2e}");
        assert!(stiff_now);
        assert!(e1 < 1e-6 && e2 < 1e-6, "{method:?}: {y1} {y2}");
        assert!(st.accepted + st.rejected < 5000, "{st:?}");
    }
}

// -------------------------------------------------------------------- TMDD

const KON: f64 = 1.0;
const KOFF: f64 = 1e-3;
const KINT: f64 = 0.1;
const KDEG: f64 = 0.5;
const KSYN: f64 = 5.0;
const KEL: f64 = 0.1;

/// Full TMDD: free drug L, free target R, complex P, plus E = drug
/// eliminated so far (linear clearance of L and internalization of P).
fn tmdd(_t: f64, y: &[f64], d: &mut [f64]) {
    let (l, r, p) = (y[0], y[1], y[2]);
    let bind = KON * l * r - KOFF * p;
    d[0] = -KEL * l - bind;
    d[1] = KSYN - KDEG * r - bind;
    d[2] = bind - KINT * p;
    d[3] = KEL * l + KINT * p;
}

fn tmdd_jac(_t: f64, y: &[f64], j: &mut [f64]) {
    let (l, r) = (y[0], y[1]);
    j.fill(0.0);
    // ∂/∂L
    j[0] = -KEL - KON * r;
    j[1] = -KON * r;
    j[2] = KON * r;
    j[3] = KEL;
    // ∂/∂R
    j[4] = -KON * l;
    j[5] = -KDEG - KON * l;
    j[6] = KON * l;
    // ∂/∂P
    j[8] = KOFF;
    j[9] = KOFF;
    j[10] = -KOFF - KINT;
    j[11] = KINT;
}

/// Two 100 nM boluses (t = 0 and 48 h), observed over two weeks.
fn tmdd_run(o: SolverOptions) -> (Vec<Vec<f64>>, SolverStats) {
    let times = [0.5, 2.0, 8.0, 24.0, 48.0, 49.0, 72.0, 120.0, 168.0, 336.0];
    let mut s = OdeSolver::new(4, o);
    let mut y = vec![100.0, KSYN / KDEG, 0.0, 0.0];
    let mut t = 0.0;
    let mut out = Vec::new();
    for t1 in times {
        s.integrate(&mut tmdd, &mut tmdd_jac, t, t1, &mut y)
            .expect("integrates");
        out.push(y.clone());
        if t1 == 48.0 {
            y[0] += 100.0;
        }
        t = t1;
    }
    (out, s.stats())
}

#[test]
fn tmdd_conserves_drug_and_matches_explicit() {
    let tight = SolverOptions {
        rtol: 1e-12,
        atol: 1e-14,
        max_steps: 10_000_000,
        method: Method::Explicit,
    };
    let (reference, ref_stats) = tmdd_run(tight);
    println!("TMDD, Dopri5 at rtol 1e-12: {ref_stats:?}");
    for method in [Method::Stiff, Method::Auto] {
        let (ys, st) = tmdd_run(opts(method));
        println!("TMDD, {method:?}: {st:?}");
        for (i, (y, r)) in ys.iter().zip(&reference).enumerate() {
            let dosed = if i < 5 { 100.0 } else { 200.0 };
            let balance = y[0] + y[2] + y[3];
            assert!(
                (balance - dosed).abs() < 1e-9 * dosed,
                "{method:?} record {i}: mass {balance}"
            );
            for k in 0..4 {
                let e = (y[k] - r[k]).abs() / r[k].abs().max(1e-3);
                assert!(
                    e < 1e-6,
                    "{method:?} record {i} state {k}: {} vs {}",
                    y[k],
                    r[k]
                );
            }
        }
    }
}

// ------------------------------------------------------------ linear stiff

const L1: f64 = -1.0;
const L2: f64 = -1e5;

/// `y' = A y` with `A = V·diag(λ1, λ2)·V⁻¹`, `V = [[1, 1], [1, −1]]`: the
/// sum and difference of the states decay with λ1 and λ2.
fn linear(_t: f64, y: &[f64], d: &mut [f64]) {
    let (s, df) = (0.5 * (L1 + L2), 0.5 * (L1 - L2));
    d[0] = s * y[0] + df * y[1];
    d[1] = df * y[0] + s * y[1];
}

fn linear_jac(_t: f64, _y: &[f64], j: &mut [f64]) {
    let (s, df) = (0.5 * (L1 + L2), 0.5 * (L1 - L2));
    j.copy_from_slice(&[s, df, df, s]);
}

#[test]
fn linear_stiff_matches_matrix_exponential() {
    // y0 = (1, 3): u = (y1 + y2)/2 = 2, w = (y1 − y2)/2 = −1.
    let exact = |t: f64| {
        let (u, w) = (2.0 * (L1 * t).exp(), -(L2 * t).exp());
        [u + w, u - w]
    };
    let times = [1e-6, 1e-5, 1e-4, 1e-3, 0.1, 1.0, 5.0];
    for method in [Method::Stiff, Method::Auto] {
        let (ys, st, _) = run(
            method,
            SolverOptions::default(),
            &mut linear,
            &mut linear_jac,
            &[1.0, 3.0],
            &times,
        );
        println!("linear, {method:?}: {st:?}");
        for (y, &t) in ys.iter().zip(&times) {
            let x = exact(t);
            for k in 0..2 {
                let e = rel_err(y[k], x[k]);
                assert!(
                    e <= 1e-6,
                    "{method:?} t = {t} state {k}: {} vs {} ({e:e})",
                    y[k],
                    x[k]
                );
            }
        }
    }
}

// --------------------------------------------------- non-stiff: oral dose

#[test]
fn auto_never_switches_on_oral_absorption() {
    let (ka, ke, dose) = (1.0, 0.1, 100.0);
    let mut f = |_t: f64, y: &[f64], d: &mut [f64]| {
        d[0] = -ka * y[0];
        d[1] = ka * y[0] - ke * y[1];
    };
    let mut jac = |_t: f64, _y: &[f64], j: &mut [f64]| {
        j.copy_from_slice(&[-ka, ka, 0.0, -ke]);
    };
    let times = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 48.0, 72.0];
    let (ys, st, stiff_now) = run(
        Method::Auto,
        SolverOptions::default(),
        &mut f,
        &mut jac,
        &[dose, 0.0],
        &times,
    );
    println!("oral, Auto: {st:?}");
    assert!(!stiff_now);
    assert_eq!(st.stiff_switches, 0);
    assert_eq!(st.jac_evals, 0);
    assert_eq!(st.lu_decomps, 0);
    for (y, &t) in ys.iter().zip(&times) {
        let bateman = dose * ka / (ka - ke) * ((-ke * t).exp() - (-ka * t).exp());
        assert!(
            rel_err(y[1], bateman) < 1e-6,
            "t = {t}: {} vs {bateman}",
            y[1]
        );
    }
}

// --------------------------------------------------------- direct use

#[test]
fn rodas_used_directly_lands_on_interval_ends() {
    let mut s = Rodas::new(2, SolverOptions::default());
    let mut y = [1.0, 3.0];
    let mut t = 0.0;
    for i in 1..=50 {
        let t1 = 0.1 * f64::from(i);
        s.integrate(&mut linear, &mut linear_jac, t, t1, &mut y)
            .expect("integrates");
        t = t1;
    }
    let u = 2.0 * (L1 * 5.0).exp();
    assert!(rel_err(y[0], u) < 1e-6 && rel_err(y[1], u) < 1e-6, "{y:?}");
    // Nothing happens for an empty or reversed interval.
    let before = y;
    s.integrate(&mut linear, &mut linear_jac, 5.0, 5.0, &mut y)
        .expect("empty");
    s.integrate(&mut linear, &mut linear_jac, 5.0, 4.0, &mut y)
        .expect("reversed");
    assert_eq!(y, before);
}

/// Work counts of the three methods on Robertson (t = 40) and Van der Pol
/// (μ = 1000, t = 2000). Slow with `Method::Explicit` (millions of steps):
/// run with `cargo test --release --test stiff -- --ignored --nocapture`.
#[test]
#[ignore]
fn work_counts() {
    let o = SolverOptions {
        max_steps: usize::MAX,
        ..SolverOptions::default()
    };
    for method in [Method::Explicit, Method::Stiff, Method::Auto] {
        let (y, st, _) = run(
            method,
            o,
            &mut robertson,
            &mut robertson_jac,
            &[1.0, 0.0, 0.0],
            &[40.0],
        );
        let e = (0..3)
            .map(|k| rel_err(y[0][k], ROBERTSON_40[k]))
            .fold(0.0, f64::max);
        println!("Robertson t=40   {method:?}: {st:?} max rel err {e:.1e}");
    }
    for method in [Method::Explicit, Method::Stiff, Method::Auto] {
        let (y, st, _) = run(method, o, &mut vdp, &mut vdp_jac, &[2.0, 0.0], &[2000.0]);
        let e = rel_err(y[0][0], VDPOL_REF[0]).max(rel_err(y[0][1] * MU, VDPOL_REF[1]));
        println!("Van der Pol t=2000 {method:?}: {st:?} max rel err {e:.1e}");
    }
}

//! Closed-form linear PK (`mido_runtime::pk`) against independent
//! computations: textbook poly-exponential formulas, a fixed-step RK4
//! integration, repeated dosing and AUC identities.

use mido_runtime::pk::{LinearModel, PkError, Propagator};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Reference machinery, written independently of the module.

/// Right-hand side of the model's ODE, from clearances and concentrations.
fn rhs(model: &LinearModel, a: &[f64], r: &[f64], out: &mut [f64]) {
    match *model {
        LinearModel::OneCpt { cl, v } => {
            out[0] = -cl * a[0] / v + r[0];
        }
        LinearModel::OneCptOral { ka, cl, v } => {
            out[0] = -ka * a[0] + r[0];
            out[1] = ka * a[0] - cl * a[1] / v + r[1];
        }
        LinearModel::TwoCpt { cl, v1, q, v2 } => {
            let (c1, c2) = (a[0] / v1, a[1] / v2);
            out[0] = -cl * c1 - q * (c1 - c2) + r[0];
            out[1] = q * (c1 - c2) + r[1];
        }
        LinearModel::TwoCptOral { ka, cl, v1, q, v2 } => {
            let (c1, c2) = (a[1] / v1, a[2] / v2);
            out[0] = -ka * a[0] + r[0];
            out[1] = ka * a[0] - cl * c1 - q * (c1 - c2) + r[1];
            out[2] = q * (c1 - c2) + r[2];
        }
        LinearModel::ThreeCpt {
            cl,
            v1,
            q2,
            v2,
            q3,
            v3,
        } => {
            let (c1, c2, c3) = (a[0] / v1, a[1] / v2, a[2] / v3);
            out[0] = -cl * c1 - q2 * (c1 - c2) - q3 * (c1 - c3) + r[0];
            out[1] = q2 * (c1 - c2) + r[1];
            out[2] = q3 * (c1 - c3) + r[2];
        }
        LinearModel::ThreeCptOral {
            ka,
            cl,
            v1,
            q2,
            v2,
            q3,
            v3,
        } => {
            let (c1, c2, c3) = (a[1] / v1, a[2] / v2, a[3] / v3);
            out[0] = -ka * a[0] + r[0];
            out[1] = ka * a[0] - cl * c1 - q2 * (c1 - c2) - q3 * (c1 - c3) + r[1];
            out[2] = q2 * (c1 - c2) + r[2];
            out[3] = q3 * (c1 - c3) + r[3];
        }
    }
}

/// Classical RK4 with `steps` equal steps over `[0, t]`.
fn rk4(model: &LinearModel, a0: &[f64], r: &[f64], t: f64, steps: usize) -> Vec<f64> {
    let n = a0.len();
    let h = t / steps as f64;
    let mut y = a0.to_vec();
    let (mut k1, mut k2, mut k3, mut k4) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut tmp = vec![0.0; n];
    for _ in 0..steps {
        rhs(model, &y, r, &mut k1);
        for i in 0..n {
            tmp[i] = y[i] + 0.5 * h * k1[i];
        }
        rhs(model, &tmp, r, &mut k2);
        for i in 0..n {
            tmp[i] = y[i] + 0.5 * h * k2[i];
        }
        rhs(model, &tmp, r, &mut k3);
        for i in 0..n {
            tmp[i] = y[i] + h * k3[i];
        }
        rhs(model, &tmp, r, &mut k4);
        for i in 0..n {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    y
}

#[track_caller]
fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= tol || (got - want).abs() < 1e-300,
        "{what}: got {got:e}, want {want:e}, relative error {err:e} > {tol:e}"
    );
}

#[track_caller]
fn assert_all_rel(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_rel(*g, *w, tol, &format!("{what} [state {i}]"));
    }
}

fn prop(model: LinearModel) -> Propagator {
    match Propagator::new(model) {
        Ok(p) => p,
        Err(e) => panic!("{model:?}: {e}"),
    }
}

fn advanced(p: &Propagator, a: &[f64], r: &[f64], dt: f64) -> Vec<f64> {
    let mut y = a.to_vec();
    p.advance(&mut y, r, dt).expect("lengths match");
    y
}

fn unit(n: usize, i: usize, x: f64) -> Vec<f64> {
    let mut v = vec![0.0; n];
    v[i] = x;
    v
}

const ONE: LinearModel = LinearModel::OneCpt { cl: 2.0, v: 10.0 };
const ONE_ORAL: LinearModel = LinearModel::OneCptOral {
    ka: 1.2,
    cl: 2.0,
    v: 10.0,
};
const TWO: LinearModel = LinearModel::TwoCpt {
    cl: 3.0,
    v1: 10.0,
    q: 2.0,
    v2: 25.0,
};
const TWO_ORAL: LinearModel = LinearModel::TwoCptOral {
    ka: 1.5,
    cl: 3.0,
    v1: 10.0,
    q: 2.0,
    v2: 25.0,
};
const THREE: LinearModel = LinearModel::ThreeCpt {
    cl: 3.0,
    v1: 10.0,
    q2: 4.0,
    v2: 20.0,
    q3: 0.8,
    v3: 60.0,
};
const THREE_ORAL: LinearModel = LinearModel::ThreeCptOral {
    ka: 0.9,
    cl: 3.0,
    v1: 10.0,
    q2: 4.0,
    v2: 20.0,
    q3: 0.8,
    v3: 60.0,
};
const ALL: [LinearModel; 6] = [ONE, ONE_ORAL, TWO, TWO_ORAL, THREE, THREE_ORAL];
/// ka = CL/V exactly: a defective system matrix.
const DEGENERATE: LinearModel = LinearModel::OneCptOral {
    ka: 0.2,
    cl: 2.0,
    v: 10.0,
};
/// Every model above, and the degenerate one.
fn all_and_degenerate() -> impl Iterator<Item = LinearModel> {
    ALL.into_iter().chain([DEGENERATE])
}

fn cl_of(m: &LinearModel) -> f64 {
    match *m {
        LinearModel::OneCpt { cl, .. }
        | LinearModel::OneCptOral { cl, .. }
        | LinearModel::TwoCpt { cl, .. }
        | LinearModel::TwoCptOral { cl, .. }
        | LinearModel::ThreeCpt { cl, .. }
        | LinearModel::ThreeCptOral { cl, .. } => cl,
    }
}

// ---------------------------------------------------------------------------
// (a) Textbook closed forms.

#[test]
fn one_compartment_bolus() {
    let (dose, cl, v) = (100.0, 2.0, 10.0);
    let k = cl / v;
    let p = prop(ONE);
    for t in [0.0, 0.1, 1.0, 5.0, 24.0, 100.0] {
        let a = advanced(&p, &[dose], &[0.0], t);
        assert_rel(
            a[0] / v,
            dose / v * (-k * t).exp(),
            1e-13,
            &format!("C({t})"),
        );
    }
}

#[test]
fn one_compartment_infusion_during_and_after() {
    let (rate, dur, cl, v) = (50.0, 2.0, 2.0, 10.0);
    let k = cl / v;
    let p = prop(ONE);
    for t in [0.25, 1.0, 2.0] {
        let a = advanced(&p, &[0.0], &[rate], t);
        let want = rate / cl * (1.0 - (-k * t).exp());
        assert_rel(a[0] / v, want, 1e-13, &format!("during, C({t})"));
    }
    let at_end = advanced(&p, &[0.0], &[rate], dur);
    for t in [2.5, 6.0, 24.0] {
        let a = advanced(&p, &at_end, &[0.0], t - dur);
        let want = rate / cl * (1.0 - (-k * dur).exp()) * (-k * (t - dur)).exp();
        assert_rel(a[0] / v, want, 1e-13, &format!("after, C({t})"));
    }
}

#[test]
fn one_compartment_oral_bateman() {
    let (dose, ka, cl, v) = (100.0, 1.2, 2.0, 10.0);
    let k = cl / v;
    let p = prop(ONE_ORAL);
    for t in [0.1, 0.5, 1.0, 3.0, 12.0, 48.0] {
        let a = advanced(&p, &[dose, 0.0], &[0.0, 0.0], t);
        let c = dose * ka / (v * (ka - k)) * ((-k * t).exp() - (-ka * t).exp());
        assert_rel(a[1] / v, c, 1e-13, &format!("C({t})"));
        assert_rel(a[0], dose * (-ka * t).exp(), 1e-13, &format!("depot({t})"));
    }
}

/// α, β (positive) of a two-compartment model from the quadratic.
fn alpha_beta(k10: f64, k12: f64, k21: f64) -> (f64, f64) {
    let s = k10 + k12 + k21;
    let root = (s * s - 4.0 * k10 * k21).sqrt();
    ((s + root) / 2.0, (s - root) / 2.0)
}

#[test]
fn two_compartment_bolus_biexponential() {
    let (dose, cl, v1, q, v2) = (100.0, 3.0, 10.0, 2.0, 25.0);
    let (k10, k12, k21) = (cl / v1, q / v1, q / v2);
    let (alpha, beta) = alpha_beta(k10, k12, k21);
    let a_coef = (alpha - k21) / (alpha - beta);
    let b_coef = (k21 - beta) / (alpha - beta);
    let p = prop(TWO);
    for t in [0.1, 1.0, 4.0, 12.0, 48.0, 200.0] {
        let a = advanced(&p, &[dose, 0.0], &[0.0, 0.0], t);
        let c = dose / v1 * (a_coef * (-alpha * t).exp() + b_coef * (-beta * t).exp());
        assert_rel(a[0] / v1, c, 1e-12, &format!("C({t})"));
        // Peripheral: D·k12/(α − β)·(e^{−βt} − e^{−αt}).
        let p2 = dose * k12 / (alpha - beta) * ((-beta * t).exp() - (-alpha * t).exp());
        assert_rel(a[1], p2, 1e-12, &format!("peripheral({t})"));
    }
}

#[test]
fn two_compartment_oral_triexponential() {
    let (dose, ka, cl, v1, q, v2) = (100.0, 1.5, 3.0, 10.0, 2.0, 25.0);
    let (k10, k12, k21) = (cl / v1, q / v1, q / v2);
    let (alpha, beta) = alpha_beta(k10, k12, k21);
    let p = prop(TWO_ORAL);
    for t in [0.1, 0.5, 2.0, 8.0, 24.0, 96.0] {
        let a = advanced(&p, &[dose, 0.0, 0.0], &[0.0; 3], t);
        let c = ka * dose / v1
            * ((k21 - alpha) / ((ka - alpha) * (beta - alpha)) * (-alpha * t).exp()
                + (k21 - beta) / ((ka - beta) * (alpha - beta)) * (-beta * t).exp()
                + (k21 - ka) / ((alpha - ka) * (beta - ka)) * (-ka * t).exp());
        assert_rel(a[1] / v1, c, 1e-12, &format!("C({t})"));
    }
}

#[test]
fn two_compartment_infusion_against_textbook() {
    // Infusion: C(t) = R/V1·[A/α·(1 − e^{−αt}) + B/β·(1 − e^{−βt})] during.
    let (rate, cl, v1, q, v2) = (20.0, 3.0, 10.0, 2.0, 25.0);
    let (k10, k12, k21) = (cl / v1, q / v1, q / v2);
    let (alpha, beta) = alpha_beta(k10, k12, k21);
    let a_coef = (alpha - k21) / (alpha - beta);
    let b_coef = (k21 - beta) / (alpha - beta);
    let p = prop(TWO);
    for t in [0.5, 3.0, 10.0] {
        let a = advanced(&p, &[0.0, 0.0], &[rate, 0.0], t);
        let c = rate / v1
            * (a_coef / alpha * (1.0 - (-alpha * t).exp())
                + b_coef / beta * (1.0 - (-beta * t).exp()));
        assert_rel(a[0] / v1, c, 1e-12, &format!("C({t})"));
    }
}

// ---------------------------------------------------------------------------
// (b) Against RK4.

const RK_STEP: f64 = 1e-3;

fn check_rk4(model: LinearModel, a0: &[f64], r: &[f64], t: f64, tol: f64) {
    let p = prop(model);
    let got = advanced(&p, a0, r, t);
    let want = rk4(&model, a0, r, t, (t / RK_STEP).round() as usize);
    assert_all_rel(&got, &want, tol, &format!("{model:?} t={t}"));
}

#[test]
fn three_compartment_bolus_and_oral_against_rk4() {
    for t in [0.5, 3.0, 24.0] {
        check_rk4(THREE, &[100.0, 0.0, 0.0], &[0.0; 3], t, 1e-9);
        check_rk4(THREE_ORAL, &[100.0, 0.0, 0.0, 0.0], &[0.0; 4], t, 1e-9);
        check_rk4(THREE, &[0.0; 3], &[25.0, 0.0, 0.0], t, 1e-9);
        check_rk4(THREE_ORAL, &[0.0; 4], &[25.0, 0.0, 0.0, 0.0], t, 1e-9);
    }
}

#[test]
fn every_model_arbitrary_state_and_rates_against_rk4() {
    let a0 = [50.0, 20.0, 10.0, 5.0];
    let r = [3.0, 2.0, 1.0, 0.5];
    for model in ALL {
        let n = model.n_states();
        for t in [0.7, 5.0, 20.0] {
            check_rk4(model, &a0[..n], &r[..n], t, 1e-9);
        }
    }
}

#[test]
fn three_compartment_wide_spectrum_against_rk4() {
    // Fast distribution, slow terminal phase: eigenvalues over three decades.
    let model = LinearModel::ThreeCptOral {
        ka: 4.0,
        cl: 0.5,
        v1: 5.0,
        q2: 20.0,
        v2: 10.0,
        q3: 1.0,
        v3: 200.0,
    };
    check_rk4(
        model,
        &[100.0, 10.0, 5.0, 1.0],
        &[1.0, 2.0, 0.0, 0.5],
        6.0,
        1e-9,
    );
}

// ---------------------------------------------------------------------------
// (c) Semigroup: many small steps equal one step.

#[test]
fn many_small_steps_equal_one_step() {
    let a0 = [50.0, 20.0, 10.0, 5.0];
    let r = [3.0, 2.0, 1.0, 0.5];
    for model in all_and_degenerate() {
        let p = prop(model);
        let n = model.n_states();
        let (t, steps) = (12.0, 1000);
        let once = advanced(&p, &a0[..n], &r[..n], t);
        let mut many = a0[..n].to_vec();
        for _ in 0..steps {
            p.advance(&mut many, &r[..n], t / steps as f64)
                .expect("lengths");
        }
        assert_all_rel(&many, &once, 1e-11, &format!("{model:?}"));
        // A transition precomputed for a fixed step does the same.
        let step = p.transition(t / steps as f64);
        let mut fixed = a0[..n].to_vec();
        for _ in 0..steps {
            step.apply(&mut fixed, &r[..n]).expect("lengths");
        }
        assert_all_rel(&fixed, &once, 1e-11, &format!("{model:?} transition"));
        // Uneven split.
        let mid = advanced(&p, &a0[..n], &r[..n], 4.3);
        let two = advanced(&p, &mid, &r[..n], t - 4.3);
        assert_all_rel(&two, &once, 1e-13, &format!("{model:?} split"));
    }
}

// ---------------------------------------------------------------------------
// (d) Steady state equals the limit of repeated dosing.

const DOSES: usize = 2000;

#[test]
fn steady_state_bolus_is_the_limit_of_repeated_doses() {
    let tau = 12.0;
    for model in all_and_degenerate() {
        let p = prop(model);
        let n = model.n_states();
        for cmt in [0, n - 1] {
            let mut a = vec![0.0; n];
            let zero = vec![0.0; n];
            for _ in 0..DOSES {
                a[cmt] += 100.0;
                p.advance(&mut a, &zero, tau).expect("lengths");
            }
            a[cmt] += 100.0; // just after the next dose
            let ss = p.steady_state_bolus(cmt, 100.0, tau).expect("steady state");
            assert_all_rel(&ss, &a, 1e-9, &format!("{model:?} cmt {cmt}"));
        }
    }
}

/// Amounts at `DOSES·tau` after infusions of `rate` for `dur` into `cmt`
/// starting at `0, tau, 2tau, …`, by explicit superposition of the active
/// infusions.
fn repeated_infusions(
    p: &Propagator,
    n: usize,
    cmt: usize,
    rate: f64,
    dur: f64,
    tau: f64,
) -> Vec<f64> {
    let mut a = vec![0.0; n];
    for m in 0..DOSES {
        let start = m as f64 * tau;
        let mut cuts = vec![0.0, tau];
        for j in m.saturating_sub(20)..=m {
            let end = j as f64 * tau + dur - start;
            if end > 0.0 && end < tau {
                cuts.push(end);
            }
        }
        cuts.sort_by(f64::total_cmp);
        for w in cuts.windows(2) {
            let mid = start + 0.5 * (w[0] + w[1]);
            let active = (m.saturating_sub(20)..=m)
                .filter(|&j| {
                    let s = j as f64 * tau;
                    s <= mid && mid < s + dur
                })
                .count();
            let r = unit(n, cmt, rate * active as f64);
            p.advance(&mut a, &r, w[1] - w[0]).expect("lengths");
        }
    }
    a
}

#[test]
fn steady_state_infusion_is_the_limit_of_repeated_infusions() {
    let (tau, rate) = (12.0, 40.0);
    for model in all_and_degenerate() {
        let p = prop(model);
        let n = model.n_states();
        let cmt = model.central();
        // Shorter than tau, equal to tau, and overlapping (2.5 and 3 tau).
        for dur in [1.5, 12.0, 30.0, 36.0] {
            let sim = repeated_infusions(&p, n, cmt, rate, dur, tau);
            let ss = p
                .steady_state_infusion(cmt, rate, dur, tau)
                .expect("steady state");
            assert_all_rel(&ss, &sim, 1e-9, &format!("{model:?} dur {dur}"));
        }
        // Into the depot / first state too.
        let sim = repeated_infusions(&p, n, 0, rate, 30.0, tau);
        let ss = p.steady_state_infusion(0, rate, 30.0, tau).expect("ss");
        assert_all_rel(&ss, &sim, 1e-9, &format!("{model:?} state 0"));
    }
}

#[test]
fn constant_rate_steady_state() {
    let r = [3.0, 2.0, 1.0, 0.5];
    for model in all_and_degenerate() {
        let p = prop(model);
        let n = model.n_states();
        let ss = p.steady_state_constant(&r[..n]).expect("steady state");
        // dA/dt = 0 there.
        let mut d = vec![0.0; n];
        rhs(&model, &ss, &r[..n], &mut d);
        let scale: f64 = r[..n].iter().sum();
        for (i, x) in d.iter().enumerate() {
            assert!(x.abs() <= 1e-13 * scale, "{model:?} d[{i}] = {x:e}");
        }
        // And the limit of a long advance.
        let long = advanced(&p, &vec![0.0; n], &r[..n], 1e5);
        assert_all_rel(&ss, &long, 1e-9, &format!("{model:?}"));
        // An infusion lasting exactly tau is a constant rate.
        let inf = p.steady_state_infusion(0, 7.0, 24.0, 24.0).expect("ss");
        let cont = p.steady_state_constant(&unit(n, 0, 7.0)).expect("ss");
        assert_all_rel(&inf, &cont, 1e-12, &format!("{model:?} dur = tau"));
    }
}

// ---------------------------------------------------------------------------
// (e) Coincident eigenvalues.

/// Central amount of a one-compartment oral dose, stable for ka ≈ k:
/// `D·ka·e^{−kt}·(1 − e^{−(ka−k)t})/(ka − k)`, and `D·k·t·e^{−kt}` at ka = k.
fn bateman_amount(dose: f64, ka: f64, k: f64, t: f64) -> f64 {
    let d = ka - k;
    let frac = if d == 0.0 { t } else { -(-d * t).exp_m1() / d };
    dose * ka * (-k * t).exp() * frac
}

#[test]
fn ka_equal_to_k_exactly() {
    let (dose, cl, v) = (100.0, 2.0, 10.0);
    let k = cl / v;
    let model = LinearModel::OneCptOral { ka: k, cl, v };
    let p = prop(model);
    assert!(p.is_degenerate());
    for t in [1e-6, 0.1, 1.0, 5.0, 24.0, 100.0] {
        let a = advanced(&p, &[dose, 0.0], &[0.0, 0.0], t);
        assert!(a.iter().all(|x| x.is_finite()));
        assert_rel(
            a[1],
            dose * k * t * (-k * t).exp(),
            1e-12,
            &format!("A({t})"),
        );
        assert_rel(a[0], dose * (-k * t).exp(), 1e-12, &format!("depot({t})"));
    }
    // With infusion into the depot and a starting amount, against RK4.
    check_rk4(model, &[30.0, 20.0], &[5.0, 1.0], 10.0, 1e-9);
}

#[test]
fn ka_near_k_accuracy_scan() {
    let (dose, cl, v) = (100.0, 2.0, 10.0);
    let k = cl / v;
    let mut worst = 0.0f64;
    for rel in [0.0, 1e-12, 1e-9, 1e-7, 1e-5, 9e-5, 1.1e-4, 1e-3, 1e-2, 1e-1] {
        let ka = k * (1.0 + rel);
        let p = prop(LinearModel::OneCptOral { ka, cl, v });
        let mut err = 0.0f64;
        for t in [0.01, 0.5, 2.0, 10.0, 50.0] {
            let a = advanced(&p, &[dose, 0.0], &[0.0, 0.0], t);
            let want = bateman_amount(dose, ka, k, t);
            err = err.max(((a[1] - want) / want).abs());
            err = err.max(((a[0] - dose * (-ka * t).exp()) / a[0]).abs());
        }
        println!(
            "ka = k·(1 + {rel:e}): degenerate {}, max relative error {err:.2e}",
            p.is_degenerate()
        );
        worst = worst.max(err);
    }
    assert!(worst <= 1e-10, "worst relative error {worst:e}");
}

#[test]
fn ka_near_k_plus_1e_minus_9() {
    let (dose, cl, v) = (100.0, 2.0, 10.0);
    let k = cl / v;
    let ka = k * (1.0 + 1e-9);
    let p = prop(LinearModel::OneCptOral { ka, cl, v });
    for t in [0.1, 1.0, 5.0, 24.0, 100.0] {
        let a = advanced(&p, &[dose, 0.0], &[0.0, 0.0], t);
        assert_rel(
            a[1],
            bateman_amount(dose, ka, k, t),
            1e-12,
            &format!("A({t})"),
        );
    }
}

#[test]
fn absorption_coinciding_with_a_disposition_rate() {
    // ka equal to α or β of a two-compartment model, and to γ of three.
    let (cl, v1, q, v2) = (3.0, 10.0, 2.0, 25.0);
    let (alpha, beta) = alpha_beta(cl / v1, q / v1, q / v2);
    for ka in [alpha, beta, beta * (1.0 + 1e-8)] {
        let model = LinearModel::TwoCptOral { ka, cl, v1, q, v2 };
        assert!(prop(model).is_degenerate());
        check_rk4(model, &[100.0, 5.0, 1.0], &[1.0, 0.0, 0.5], 10.0, 1e-9);
    }
    let three = prop(THREE);
    let gamma = -three.eigenvalues()[2];
    let model = LinearModel::ThreeCptOral {
        ka: gamma,
        cl: 3.0,
        v1: 10.0,
        q2: 4.0,
        v2: 20.0,
        q3: 0.8,
        v3: 60.0,
    };
    assert!(prop(model).is_degenerate());
    check_rk4(
        model,
        &[100.0, 5.0, 1.0, 2.0],
        &[1.0, 0.0, 0.5, 0.0],
        10.0,
        1e-9,
    );
}

// ---------------------------------------------------------------------------
// (f) AUC over a steady-state interval equals F·Dose / CL.

/// Trapezoid AUC of the central concentration over `[0, tau]` starting from
/// `a0`, with `rate_at(t)` the input per state at `t`.
fn auc(
    p: &Propagator,
    model: &LinearModel,
    a0: &[f64],
    tau: f64,
    rate_at: impl Fn(f64) -> Vec<f64>,
) -> f64 {
    let steps = 40_000;
    let h = tau / steps as f64;
    let (c, v) = (model.central(), model.central_volume());
    let mut a = a0.to_vec();
    let mut sum = 0.0;
    let mut prev = a[c] / v;
    for i in 0..steps {
        let r = rate_at((i as f64 + 0.5) * h);
        p.advance(&mut a, &r, h).expect("lengths");
        let now = a[c] / v;
        sum += 0.5 * h * (prev + now);
        prev = now;
    }
    sum
}

#[test]
fn steady_state_auc_is_dose_over_clearance() {
    let tau = 12.0;
    let (dose, f) = (100.0, 0.7);
    let amount = f * dose;
    for model in all_and_degenerate() {
        let p = prop(model);
        let n = model.n_states();
        let cl = cl_of(&model);
        // Bolus (into the depot for oral models), bioavailable amount F·Dose.
        let ss = p.steady_state_bolus(0, amount, tau).expect("ss");
        let got = auc(&p, &model, &ss, tau, |_| vec![0.0; n]);
        assert_rel(got, amount / cl, 1e-6, &format!("{model:?} bolus"));
        // Infusions into the central compartment, short and overlapping.
        let c = model.central();
        for dur in [3.0, 30.0] {
            let rate = amount / dur;
            let ss = p.steady_state_infusion(c, rate, dur, tau).expect("ss");
            let over = (dur / tau).floor();
            let delta = dur - over * tau;
            let got = auc(&p, &model, &ss, tau, |t| {
                let active = if t < delta { over + 1.0 } else { over };
                unit(n, c, rate * active)
            });
            assert_rel(got, amount / cl, 1e-6, &format!("{model:?} infusion {dur}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Errors and robustness.

#[test]
fn invalid_inputs_are_typed_errors() {
    let bad = LinearModel::OneCpt { cl: 1.0, v: 0.0 };
    assert!(matches!(
        Propagator::new(bad),
        Err(PkError::InvalidParameter { name: "v", .. })
    ));
    let bad = LinearModel::TwoCpt {
        cl: 1.0,
        v1: 1.0,
        q: f64::NAN,
        v2: 1.0,
    };
    assert!(matches!(
        Propagator::new(bad),
        Err(PkError::InvalidParameter { name: "q", .. })
    ));
    let p = prop(TWO);
    let mut a = [1.0; 3];
    assert_eq!(
        p.advance(&mut a, &[0.0; 2], 1.0),
        Err(PkError::StateLength {
            expected: 2,
            got: 3
        })
    );
    assert!(matches!(
        p.steady_state_bolus(2, 1.0, 1.0),
        Err(PkError::InvalidCompartment { cmt: 2, .. })
    ));
    assert!(matches!(
        p.steady_state_bolus(0, 1.0, 0.0),
        Err(PkError::InvalidInterval { .. })
    ));
    assert!(matches!(
        p.steady_state_infusion(0, 1.0, -1.0, 1.0),
        Err(PkError::InvalidDuration { .. })
    ));
    // No elimination: advancing works, a steady state does not exist.
    let closed = prop(LinearModel::TwoCpt {
        cl: 0.0,
        v1: 10.0,
        q: 2.0,
        v2: 10.0,
    });
    let a = advanced(&closed, &[100.0, 0.0], &[0.0, 0.0], 1e3);
    assert_all_rel(&a, &[50.0, 50.0], 1e-12, "mass balance without elimination");
    assert_eq!(
        closed.steady_state_bolus(0, 1.0, 1.0),
        Err(PkError::NoSteadyState)
    );
    // Everything zero: the identity.
    let frozen = prop(LinearModel::ThreeCptOral {
        ka: 0.0,
        cl: 0.0,
        v1: 1.0,
        q2: 0.0,
        v2: 1.0,
        q3: 0.0,
        v3: 1.0,
    });
    let a = advanced(&frozen, &[1.0, 2.0, 3.0, 4.0], &[1.0, 0.0, 0.0, 0.0], 2.0);
    assert_all_rel(&a, &[3.0, 2.0, 3.0, 4.0], 1e-14, "frozen");
}

fn any_model() -> impl Strategy<Value = LinearModel> {
    let x = || {
        prop_oneof![
            prop::num::f64::ANY,
            0.0..10.0f64,
            Just(0.0),
            Just(1.0),
            Just(1e300),
            Just(1e-300),
        ]
    };
    (0usize..6, prop::array::uniform7(x())).prop_map(|(kind, p)| match kind {
        0 => LinearModel::OneCpt { cl: p[0], v: p[1] },
        1 => LinearModel::OneCptOral {
            ka: p[0],
            cl: p[1],
            v: p[2],
        },
        2 => LinearModel::TwoCpt {
            cl: p[0],
            v1: p[1],
            q: p[2],
            v2: p[3],
        },
        3 => LinearModel::TwoCptOral {
            ka: p[0],
            cl: p[1],
            v1: p[2],
            q: p[3],
            v2: p[4],
        },
        4 => LinearModel::ThreeCpt {
            cl: p[0],
            v1: p[1],
            q2: p[2],
            v2: p[3],
            q3: p[4],
            v3: p[5],
        },
        _ => LinearModel::ThreeCptOral {
            ka: p[0],
            cl: p[1],
            v1: p[2],
            q2: p[3],
            v2: p[4],
            q3: p[5],
            v3: p[6],
        },
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No input panics.
    #[test]
    fn no_panics(model in any_model(), dt in prop::num::f64::ANY, x in prop::num::f64::ANY, cmt in 0usize..5) {
        if let Ok(p) = Propagator::new(model) {
            let n = p.n_states();
            let mut a = vec![x; n];
            let r = vec![1.0; n];
            let _ = p.advance(&mut a, &r, dt);
            let _ = p.advance(&mut a, &r[..n - 1], dt);
            let _ = p.transition(dt).apply(&mut a, &r);
            let _ = p.steady_state_bolus(cmt, x, dt);
            let _ = p.steady_state_infusion(cmt, x, dt, 1.0);
            let _ = p.steady_state_infusion(cmt, 1.0, x, dt);
            let _ = p.steady_state_constant(&r);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Positive parameters: the closed form matches RK4.
    #[test]
    fn random_models_match_rk4(
        p in prop::array::uniform7(0.05..5.0f64),
        kind in 0usize..6,
        t in 0.1..5.0f64,
    ) {
        let model = match kind {
            0 => LinearModel::OneCpt { cl: p[0], v: p[1] },
            1 => LinearModel::OneCptOral { ka: p[0], cl: p[1], v: p[2] },
            2 => LinearModel::TwoCpt { cl: p[0], v1: p[1], q: p[2], v2: p[3] },
            3 => LinearModel::TwoCptOral { ka: p[0], cl: p[1], v1: p[2], q: p[3], v2: p[4] },
            4 => LinearModel::ThreeCpt { cl: p[0], v1: p[1], q2: p[2], v2: p[3], q3: p[4], v3: p[5] },
            _ => LinearModel::ThreeCptOral { ka: p[0], cl: p[1], v1: p[2], q2: p[3], v2: p[4], q3: p[5], v3: p[6] },
        };
        let n = model.n_states();
        let a0 = [10.0, 5.0, 2.0, 1.0];
        let r = [1.0, 0.5, 0.25, 0.1];
        let prop = Propagator::new(model).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = advanced(&prop, &a0[..n], &r[..n], t);
        let want = rk4(&model, &a0[..n], &r[..n], t, (t / 2e-4).round() as usize);
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= 1e-8 * w.abs().max(1e-3), "{model:?}: {got:?} vs {want:?}");
        }
    }
}

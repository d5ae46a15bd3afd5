//! The JIT against the reference interpreter, and every compiled derivative
//! against central finite differences, on every example, library model and
//! valid fixture, and on random expressions.

use mido_compiler::{compile_source, lower_to_engine, Engine};
use mido_runtime::model::{BoundRhs, CovariateKind, Model};
use proptest::prelude::*;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every valid model the project has: examples, fixtures, the library.
fn all_models() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rel in [
        "examples/theophylline/theo.mido",
        "examples/two_cpt_infusion/model.mido",
        "examples/warfarin/warfarin.mido",
    ] {
        out.push((
            rel.to_string(),
            std::fs::read_to_string(repo().join(rel)).expect("example"),
        ));
    }
    if let Ok(dir) = std::fs::read_dir(repo().join("tests/models/ok")) {
        let mut paths: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("fixture"),
            ));
        }
    }
    for (name, src) in mido_stdlib::MODELS {
        out.push((name.to_string(), src.to_string()));
    }
    out
}

fn engines(src: &str) -> (Box<dyn Model>, Box<dyn Model>) {
    let compiled = compile_source(src);
    let ir = compiled.model.expect("valid model");
    let jit = lower_to_engine(ir.clone(), Engine::Jit).expect("jit compiles");
    let interp = lower_to_engine(ir, Engine::Interp).expect("interpreter");
    (jit, interp)
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A random point at which to evaluate a model: values near its initial
/// estimates, plausible covariates and positive amounts.
struct Point {
    t: f64,
    theta: Vec<f64>,
    eta: Vec<f64>,
    cov: Vec<f64>,
    y: Vec<f64>,
    params: Vec<f64>,
}

fn point(m: &dyn Model, rng: &mut Lcg) -> Point {
    let info = m.info();
    let theta: Vec<f64> = info
        .thetas
        .iter()
        .map(|t| {
            let x = t.init * (1.0 + 0.05 * rng.normal());
            x.clamp(t.lower.max(-1e300), t.upper.min(1e300))
        })
        .collect();
    let eta: Vec<f64> = info.etas.iter().map(|_| 0.3 * rng.normal()).collect();
    let cov: Vec<f64> = info
        .covariates
        .iter()
        .map(|c| match &c.kind {
            CovariateKind::Real => 20.0 + 80.0 * rng.next(),
            CovariateKind::Bool => f64::from(u8::from(rng.next() < 0.5)),
            CovariateKind::Category(levels) => {
                levels[(rng.next() * levels.len() as f64) as usize % levels.len()].1
            }
        })
        .collect();
    let t = 24.0 * rng.next();
    let y: Vec<f64> = info
        .states
        .iter()
        .map(|_| 0.1 + 50.0 * rng.next())
        .collect();
    let mut params = vec![0.0; info.params.len()];
    m.individual(&theta, &eta, &cov, t, &mut params);
    Point {
        t,
        theta,
        eta,
        cov,
        y,
        params,
    }
}

/// Equal to a relative 1e-12 (both NaN counts as equal).
fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The outputs of all nine functions at a point.
fn evaluate(m: &dyn Model, p: &Point) -> Vec<Vec<f64>> {
    let info = m.info();
    let (n, np, ne, nt, no) = (
        info.states.len(),
        info.params.len(),
        info.etas.len(),
        info.thetas.len(),
        info.observe_len(),
    );
    let mut out = Vec::new();
    let mut v = vec![0.0; np];
    m.individual(&p.theta, &p.eta, &p.cov, p.t, &mut v);
    out.push(v);
    let mut v = vec![0.0; n];
    m.rhs(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    let mut v = vec![0.0; no];
    m.observe(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    let mut v = vec![0.0; n * n];
    m.rhs_jac_y(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    let mut v = vec![0.0; n * np];
    m.rhs_jac_p(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    let mut v = vec![0.0; np * ne];
    m.individual_jac_eta(&p.theta, &p.eta, &p.cov, p.t, &mut v);
    out.push(v);
    let mut v = vec![0.0; np * nt];
    m.individual_jac_theta(&p.theta, &p.eta, &p.cov, p.t, &mut v);
    out.push(v);
    let mut v = vec![0.0; no * n];
    m.observe_jac_y(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    let mut v = vec![0.0; no * np];
    m.observe_jac_p(p.t, &p.y, &p.params, &p.cov, &mut v);
    out.push(v);
    out
}

const NAMES: [&str; 9] = [
    "individual",
    "rhs",
    "observe",
    "rhs_jac_y",
    "rhs_jac_p",
    "individual_jac_eta",
    "individual_jac_theta",
    "observe_jac_y",
    "observe_jac_p",
];

#[test]
fn jit_agrees_with_the_interpreter_on_every_model() {
    let models = all_models();
    assert!(models.len() >= 2);
    for (name, src) in &models {
        let (jit, interp) = engines(src);
        let mut rng = Lcg(17);
        for _ in 0..20 {
            let p = point(interp.as_ref(), &mut rng);
            let a = evaluate(jit.as_ref(), &p);
            let b = evaluate(interp.as_ref(), &p);
            for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    assert!(
                        close(*u, *v),
                        "{name}: {}[{i}]: jit {u} vs interpreter {v}",
                        NAMES[k]
                    );
                }
            }
        }
    }
}

/// What a solver calls (`BoundRhs`: the JIT's right-hand side with its
/// parameter-only operations hoisted and computed once) gives the model's
/// `rhs` to the bit, on every model, and at least one model (every `cl/v`
/// in a right-hand side) has something hoisted.
#[test]
fn the_bound_right_hand_side_is_the_models_to_the_bit() {
    let mut split = 0;
    for (name, src) in &all_models() {
        let (jit, interp) = engines(src);
        let n = jit.info().states.len();
        let mut rng = Lcg(29);
        for _ in 0..20 {
            let p = point(interp.as_ref(), &mut rng);
            let bound = BoundRhs::new(jit.as_ref(), &p.params, &p.cov);
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            bound.call(p.t, &p.y, &mut a);
            jit.rhs(p.t, &p.y, &p.params, &p.cov, &mut b);
            assert_eq!(
                a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{name}: {a:?} vs {b:?}"
            );
        }
        split += usize::from(jit.native_rhs().is_some_and(|r| r.hoists()));
    }
    assert!(split > 0);
}

/// Central difference of `f` at `x` along coordinate `j`.
fn fd(x: &[f64], j: usize, rows: usize, f: &dyn Fn(&[f64], &mut [f64])) -> (Vec<f64>, Vec<f64>) {
    let h = 1e-6 * x[j].abs().max(1.0);
    let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
    xp[j] += h;
    xm[j] -= h;
    let (mut fp, mut fm) = (vec![0.0; rows], vec![0.0; rows]);
    f(&xp, &mut fp);
    f(&xm, &mut fm);
    let d = fp
        .iter()
        .zip(&fm)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    let scale = fp
        .iter()
        .zip(&fm)
        .map(|(a, b)| a.abs().max(b.abs()) / h)
        .collect();
    (d, scale)
}

/// Checks a column-major Jacobian against central differences: relative
/// 1e-6, with an absolute floor for the round-off of the difference itself
/// (about 1e-16 · |f| / h).
fn check_jacobian(
    name: &str,
    what: &str,
    jac: &[f64],
    x: &[f64],
    rows: usize,
    f: &dyn Fn(&[f64], &mut [f64]),
) {
    for j in 0..x.len() {
        let (d, scale) = fd(x, j, rows, f);
        for i in 0..rows {
            let exact = jac[j * rows + i];
            let tol = 1e-6 * exact.abs().max(d[i].abs()) + 1e-9 * scale[i];
            assert!(
                (exact - d[i]).abs() <= tol || (exact.is_nan() && d[i].is_nan()),
                "{name}: {what}[{i},{j}]: symbolic {exact} vs finite difference {}",
                d[i]
            );
        }
    }
}

#[test]
fn compiled_derivatives_match_finite_differences() {
    for (name, src) in &all_models() {
        let (jit, _) = engines(src);
        let m = jit.as_ref();
        let info = m.info();
        let (n, np, no) = (info.states.len(), info.params.len(), info.observe_len());
        let mut rng = Lcg(99);
        for _ in 0..10 {
            let p = point(m, &mut rng);
            let all = evaluate(m, &p);
            check_jacobian(name, "rhs_jac_y", &all[3], &p.y, n, &|y, out| {
                m.rhs(p.t, y, &p.params, &p.cov, out)
            });
            check_jacobian(name, "rhs_jac_p", &all[4], &p.params, n, &|q, out| {
                m.rhs(p.t, &p.y, q, &p.cov, out)
            });
            check_jacobian(
                name,
                "individual_jac_eta",
                &all[5],
                &p.eta,
                np,
                &|e, out| m.individual(&p.theta, e, &p.cov, p.t, out),
            );
            check_jacobian(
                name,
                "individual_jac_theta",
                &all[6],
                &p.theta,
                np,
                &|th, out| m.individual(th, &p.eta, &p.cov, p.t, out),
            );
            check_jacobian(name, "observe_jac_y", &all[7], &p.y, no, &|y, out| {
                m.observe(p.t, y, &p.params, &p.cov, out)
            });
            check_jacobian(name, "observe_jac_p", &all[8], &p.params, no, &|q, out| {
                m.observe(p.t, &p.y, q, &p.cov, out)
            });
        }
    }
}

/// Random expressions over two fixed effects, a random effect and a
/// covariate, using every operator and builtin.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("e".to_string()),
        Just("X".to_string()),
        Just("time".to_string()),
        (0.1f64..10.0).prop_map(|x| format!("{x:.3}")),
        (2i32..5).prop_map(|k| k.to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let bin = |op: &'static str| {
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| format!("({x} {op} {y})"))
        };
        let f1 = |f: &'static str| inner.clone().prop_map(move |x| format!("{f}({x})"));
        prop_oneof![
            bin("+"),
            bin("-"),
            bin("*"),
            bin("/"),
            (
                inner.clone(),
                prop_oneof![Just("2"), Just("3"), Just("-2"), Just("0.5"), Just("b")]
            )
                .prop_map(|(x, k)| format!("({x}) ^ {k}")),
            inner.clone().prop_map(|x| format!("-{x}")),
            f1("exp"),
            f1("log"),
            f1("log10"),
            f1("sqrt"),
            f1("abs"),
            f1("expit"),
            f1("logit"),
            f1("phi"),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("min({x}, {y})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("max({x}, {y})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("pow({x}, {y})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, x, y)| format!(
                "(if {c} > a and not ({x} == b) or X < 50 then {x} else {y})"
            )),
        ]
    })
}

fn random_model(expr: &str) -> String {
    format!(
        "model r\ncovariates {{ X: real }}\nfixed {{ a = 1.3 fixed  b = 0.7 fixed }}\n\
         random subject {{ e ~ normal(0, 0.1) }}\nindividual {{ p = {expr} + e }}\n\
         compartments {{ c dose }}\ndynamics {{ d/dt(c) = -p * c + {expr} }}\n\
         observe {{ DV ~ normal(c * p, 1) }}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn jit_agrees_with_the_interpreter_on_random_expressions(expr in expression(), seed in 0u64..1000) {
        let src = random_model(&expr);
        let (jit, interp) = engines(&src);
        let mut rng = Lcg(seed);
        let p = point(interp.as_ref(), &mut rng);
        let a = evaluate(jit.as_ref(), &p);
        let b = evaluate(interp.as_ref(), &p);
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                prop_assert!(close(*u, *v), "{}: {}[{}]: jit {} vs interpreter {}", expr, NAMES[k], i, u, v);
            }
        }
    }
}

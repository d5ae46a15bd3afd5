//! Engine benchmarks, side by side in one run: the right-hand side and its
//! Jacobian through the JIT, a hand-written Rust model of the same equations
//! (the baseline) and the interpreter; and compile time (parse → native).
//!
//! `cargo bench -p mido-compiler --bench engines`

mod models;

use criterion::{criterion_group, criterion_main, Criterion};
use mido_compiler::{compile_source, lower_to_engine, Engine};
use mido_runtime::model::Model;
use models::{HandQsp, HandTheo, HandTwoCpt, QSP_STATES};
use std::hint::black_box;

struct Case {
    name: &'static str,
    source: String,
    hand: Box<dyn Model>,
    /// Names of the hand-written model's parameters, in its order.
    hand_params: Vec<String>,
}

fn cases() -> Vec<Case> {
    let mut qsp_params: Vec<String> = (1..=QSP_STATES).map(|i| format!("k{i}")).collect();
    qsp_params.extend(["vmax", "km", "kc", "kfb"].map(String::from));
    vec![
        Case {
            name: "theophylline",
            source: models::THEOPHYLLINE.to_string(),
            hand: Box::new(HandTheo::new()),
            hand_params: ["cl", "v", "ka"].map(String::from).to_vec(),
        },
        Case {
            name: "two_cpt_oral",
            source: models::TWO_CPT_ORAL.to_string(),
            hand: Box::new(HandTwoCpt::new()),
            hand_params: ["ka", "cl", "v1", "q", "v2"].map(String::from).to_vec(),
        },
        Case {
            name: "qsp_50",
            source: models::qsp_source(QSP_STATES),
            hand: Box::new(HandQsp::new(QSP_STATES)),
            hand_params: qsp_params,
        },
    ]
}

/// A state, the compiled model's parameters, and the same values laid out
/// for the hand-written model; checks that both compute the same thing.
fn inputs(case: &Case, jit: &dyn Model) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let info = jit.info();
    let theta = info.theta_init();
    let eta = vec![0.1; info.etas.len()];
    let cov = vec![70.0; info.covariates.len()];
    let mut params = vec![0.0; info.params.len()];
    jit.individual(&theta, &eta, &cov, 0.0, &mut params);
    let hand: Vec<f64> = case
        .hand_params
        .iter()
        .map(|n| {
            params[info
                .params
                .iter()
                .position(|p| p == n)
                .expect("parameter exists")]
        })
        .collect();
    let y: Vec<f64> = (0..info.states.len())
        .map(|i| 1.0 + i as f64 * 0.37)
        .collect();
    let n = y.len();
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    jit.rhs(1.0, &y, &params, &cov, &mut a);
    case.hand.rhs(1.0, &y, &hand, &cov, &mut b);
    for i in 0..n {
        assert!(
            (a[i] - b[i]).abs() <= 1e-12 * a[i].abs().max(1.0),
            "{}: rhs[{i}] {} vs {}",
            case.name,
            a[i],
            b[i]
        );
    }
    let (mut ja, mut jb) = (vec![0.0; n * n], vec![0.0; n * n]);
    jit.rhs_jac_y(1.0, &y, &params, &cov, &mut ja);
    case.hand.rhs_jac_y(1.0, &y, &hand, &cov, &mut jb);
    for i in 0..n * n {
        assert!(
            (ja[i] - jb[i]).abs() <= 1e-12 * ja[i].abs().max(1.0),
            "{}: jac[{i}] {} vs {}",
            case.name,
            ja[i],
            jb[i]
        );
    }
    (y, params, hand, cov)
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let ir = compile_source(&case.source).model.expect("valid model");
        let jit = lower_to_engine(ir.clone(), Engine::Jit).expect("jit");
        let interp = lower_to_engine(ir, Engine::Interp).expect("interp");
        let (y, params, hand, cov) = inputs(&case, jit.as_ref());
        let n = y.len();
        let mut dy = vec![0.0; n];
        let mut jac = vec![0.0; n * n];

        let mut g = c.benchmark_group(format!("rhs/{}", case.name));
        g.bench_function("jit", |b| {
            b.iter(|| {
                jit.rhs(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&params),
                    &cov,
                    &mut dy,
                )
            })
        });
        g.bench_function("hand", |b| {
            b.iter(|| {
                case.hand.rhs(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&hand),
                    &cov,
                    &mut dy,
                )
            })
        });
        g.bench_function("interp", |b| {
            b.iter(|| {
                interp.rhs(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&params),
                    &cov,
                    &mut dy,
                )
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("jacobian/{}", case.name));
        g.bench_function("jit", |b| {
            b.iter(|| {
                jit.rhs_jac_y(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&params),
                    &cov,
                    &mut jac,
                )
            })
        });
        g.bench_function("hand", |b| {
            b.iter(|| {
                case.hand.rhs_jac_y(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&hand),
                    &cov,
                    &mut jac,
                )
            })
        });
        g.bench_function("interp", |b| {
            b.iter(|| {
                interp.rhs_jac_y(
                    black_box(1.0),
                    black_box(&y),
                    black_box(&params),
                    &cov,
                    &mut jac,
                )
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("compile/{}", case.name));
        g.sample_size(10);
        g.bench_function("parse_to_native", |b| {
            b.iter(|| {
                let ir = compile_source(black_box(&case.source))
                    .model
                    .expect("valid");
                lower_to_engine(ir, Engine::Jit).expect("jit")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The estimation methods against an independent computation: for a model
//! whose predictions are linear in the random effects, with additive error,
//! the marginal likelihood is Gaussian in closed form, and FO, FOCE, FOCEI
//! and Laplace must all give it exactly (the first-order linearization and
//! the Laplace approximation are then exact).

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::estimate::{fit, objective_at, FitOptions, Method};
use nalgebra::{DMatrix, DVector};

const MODEL: &str = r#"
model linear_growth
fixed {
  tv_a = 2.0
  tv_b = 0.5
  sd = 0.3 in (0, )
}
random subject {
  [eta_a, eta_b] ~ normal(0, block[0.2; 0.05, 0.1])
}
individual {
  a = tv_a + eta_a
  b = tv_b + eta_b
}
compartments {
  x
  clock
}
dynamics {
  d/dt(clock) = 1
  d/dt(x) = a + 2 * b * clock
}
observe {
  y = x
  DV ~ normal(y, sd)
}
"#;

/// Observations y(t) = a·t + b·t² + noise for a few subjects (fixed
/// pseudo-random values: no generator needed for a likelihood check).
fn data() -> String {
    let mut rows = vec!["ID,TIME,DV,EVID".to_string()];
    let noise = [
        0.31, -0.52, 0.12, 0.77, -0.25, 0.05, -0.61, 0.44, 0.18, -0.09,
    ];
    for id in 1..=6u32 {
        let a = 2.0 + 0.3 * (f64::from(id) - 3.5);
        let b = 0.5 - 0.1 * (f64::from(id % 3) - 1.0);
        rows.push(format!("{id},0,.,2"));
        for (k, t) in [0.5, 1.0, 2.0, 3.0, 5.0].iter().enumerate() {
            let y = a * t + b * t * t + noise[(id as usize + k) % noise.len()];
            rows.push(format!("{id},{t},{y},0"));
        }
    }
    rows.join("\n") + "\n"
}

/// −2 log-likelihood without n·log 2π: Σ_i log|C_i| + r_iᵀ C_i⁻¹ r_i with
/// C_i = Z Ω Zᵀ + sd² I, Z the rows (t, t²), r = y − (tv_a·t + tv_b·t²).
fn exact(theta: &[f64], omega: &[f64], d: &Dataset) -> f64 {
    let om = DMatrix::from_row_slice(2, 2, omega);
    let mut total = 0.0;
    for s in &d.subjects {
        let obs: Vec<(f64, f64)> = s
            .records
            .iter()
            .filter_map(|r| r.dv.filter(|_| !r.mdv).map(|y| (r.time, y)))
            .collect();
        let n = obs.len();
        let z = DMatrix::from_fn(n, 2, |i, j| obs[i].0.powi(j as i32 + 1));
        let c = &z * &om * z.transpose() + DMatrix::identity(n, n) * theta[2] * theta[2];
        let r = DVector::from_fn(n, |i, _| {
            let t = obs[i].0;
            obs[i].1 - (theta[0] * t + theta[1] * t * t)
        });
        let chol = c.cholesky().expect("positive definite");
        let logdet = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        total += logdet + r.dot(&chol.solve(&r));
    }
    total
}

#[test]
fn every_method_gives_the_exact_likelihood_of_a_linear_model() {
    let m = compile_model(MODEL, Engine::Jit).expect("compiles");
    let d = Dataset::parse(&data(), "linear.csv", &DataSpec::from_info(m.info())).expect("reads");
    let solver = FitOptions::default().solver;
    for (theta, omega) in [
        (vec![2.0, 0.5, 0.3], vec![0.2, 0.05, 0.05, 0.1]),
        (vec![1.7, 0.62, 0.45], vec![0.5, -0.1, -0.1, 0.08]),
    ] {
        let want = exact(&theta, &omega, &d);
        for method in [Method::Fo, Method::Foce, Method::Focei, Method::Laplace] {
            let got =
                objective_at(m.as_ref(), &d, method, solver, &theta, &omega).expect("evaluates");
            println!("{method:?}: {got:.10} exact {want:.10}");
            let tol = if method == Method::Laplace {
                1e-5
            } else {
                1e-7
            };
            assert!(
                (got - want).abs() < tol * want.abs().max(1.0),
                "{method:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn fit_reaches_the_maximum_of_the_exact_likelihood() {
    let m = compile_model(MODEL, Engine::Jit).expect("compiles");
    let d = Dataset::parse(&data(), "linear.csv", &DataSpec::from_info(m.info())).expect("reads");
    let r = fit(m.as_ref(), &d, &FitOptions::default(), &mut |_| {}).expect("fits");
    assert_eq!(r.status, mido::runtime::estimate::Status::Converged);
    // At the estimates the exact likelihood is at its maximum: no step in
    // any parameter direction lowers it.
    let f0 = exact(&r.theta, &r.omega, &d);
    assert!((r.ofv - f0).abs() < 1e-6, "{} vs {f0}", r.ofv);
    for k in 0..3 {
        for h in [1e-3, -1e-3] {
            let mut t = r.theta.clone();
            t[k] += h * t[k].abs().max(0.1);
            assert!(exact(&t, &r.omega, &d) > f0 - 1e-7, "theta {k} {h}");
        }
    }
    for (i, j) in [(0, 0), (1, 1), (0, 1)] {
        for h in [1e-3, -1e-3] {
            let mut o = r.omega.clone();
            let step = h * o[i * 2 + j].abs().max(0.01);
            o[i * 2 + j] += step;
            if i != j {
                o[j * 2 + i] += step;
            }
            assert!(exact(&r.theta, &o, &d) > f0 - 1e-7, "omega ({i},{j}) {h}");
        }
    }
    // Shrinkage and diagnostics exist for every observation.
    assert_eq!(r.diagnostics.rows.len(), 30);
    assert!(r
        .diagnostics
        .rows
        .iter()
        .all(|row| row.cwres.is_some_and(f64::is_finite)));
}

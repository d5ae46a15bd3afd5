//! Simulate-and-re-estimate: 200 subjects simulated by mido itself from
//! known parameters (one-compartment oral, log-normal CL, V and KA with a
//! CL–V correlation, combined residual error), re-estimated by FOCEI from
//! a start away from the truth. Every true value must lie inside the
//! estimate's 95% confidence interval (sandwich covariance), and the fit
//! must converge.
//!
//! The seed is fixed, so the test is deterministic; with 9 parameters and
//! nominal 95% intervals a miss somewhere would have about a 37% chance per seed if
//! the intervals were exact, so the test also checks, for every parameter,
//! the weaker and seed-robust property that the estimate is within 3 SE.

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::estimate::{fit, FitOptions, PsiEntry, Status};
use mido::runtime::simulate::{simulate, SimOptions};

const MODEL: &str = r#"
model recovery
fixed {
  tv_cl   = 2.5 in (0, ) [L/h]
  tv_v    = 30 in (0, ) [L]
  tv_ka   = 1.2 in (0, 50) [1/h]
  add_sd  = 0.2 in (0, ) [mg/L]
  prop_cv = 0.1 in (0, )
}
random subject {
  [eta_cl, eta_v] ~ normal(0, block[0.09; 0.03, 0.04])
  eta_ka ~ normal(0, 0.25)
}
individual {
  cl = tv_cl * exp(eta_cl)
  v  = tv_v * exp(eta_v)
  ka = tv_ka * exp(eta_ka)
}
compartments {
  depot [mg] dose
  center [mg]
}
pk one_compartment_oral(ka = ka, cl = cl, v = v)
observe {
  cp [mg/L] = center / v
  DV ~ combined(cp, add_sd, prop_cv)
}
"#;

const SUBJECTS: u32 = 200;
const TIMES: [f64; 10] = [0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 7.0, 9.0, 12.0, 24.0];

/// The design: 320 mg at time 0, ten samples, DV to be simulated.
fn design() -> String {
    let mut rows = vec!["ID,TIME,AMT,DV,EVID,MDV,CMT".to_string()];
    for id in 1..=SUBJECTS {
        rows.push(format!("{id},0,320,.,1,1,1"));
        for t in TIMES {
            rows.push(format!("{id},{t},.,0,0,0,2"));
        }
    }
    rows.join("\n") + "\n"
}

#[test]
fn true_parameters_lie_in_the_confidence_intervals() {
    let model = compile_model(MODEL, Engine::Jit).expect("compiles");
    let spec = DataSpec::from_info(model.info());
    let design = Dataset::parse(&design(), "design.csv", &spec).expect("design reads");
    let truth_theta = model.info().theta_init();
    let truth_omega = model.info().omega_matrix();
    let opts = SimOptions {
        seed: 20261126,
        ..SimOptions::default()
    };
    let sim = simulate(model.as_ref(), &design, &truth_theta, &opts).expect("simulates");

    // The simulated DVs as a NONMEM dataset.
    let mut rows = vec!["ID,TIME,AMT,DV,EVID,MDV,CMT".to_string()];
    for r in &sim.rows {
        match r.dv {
            Some(dv) if r.evid == 0 => rows.push(format!("{},{},.,{dv},0,0,2", r.id, r.time)),
            _ => rows.push(format!("{},{},320,.,1,1,1", r.id, r.time)),
        }
    }
    let data = Dataset::parse(&(rows.join("\n") + "\n"), "simulated.csv", &spec)
        .expect("simulated data reads");
    assert_eq!(data.subjects.len(), SUBJECTS as usize);

    // Start away from the truth: thetas ×1.5 or ×0.6, omega diagonal ×2
    // with no correlation.
    let start_theta: Vec<f64> = truth_theta
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { v * 1.5 } else { v * 0.6 })
        .collect();
    let ne = model.info().etas.len();
    let start_omega: Vec<f64> = (0..ne * ne)
        .map(|k| {
            if k / ne == k % ne {
                2.0 * truth_omega[k]
            } else {
                0.0
            }
        })
        .collect();
    let options = FitOptions {
        start: Some((start_theta, start_omega)),
        ..FitOptions::default()
    };
    let result = fit(model.as_ref(), &data, &options, &mut |_| {}).expect("fits");
    assert_eq!(result.status, Status::Converged, "{:?}", result.status);
    let cov = result
        .covariance
        .as_ref()
        .expect("covariance step requested")
        .as_ref()
        .expect("covariance step succeeds");

    let names: Vec<String> = model.info().thetas.iter().map(|t| t.name.clone()).collect();
    let mut misses = Vec::new();
    for (k, entry) in result.psi_labels.iter().enumerate() {
        let (label, truth) = match *entry {
            PsiEntry::Theta(i) => (names[i].clone(), truth_theta[i]),
            PsiEntry::Omega(r, c) => (
                format!("OMEGA({},{})", r + 1, c + 1),
                truth_omega[r * ne + c],
            ),
        };
        let (est, se) = (result.psi[k], cov.se[k]);
        let (lo, hi) = (est - 1.959964 * se, est + 1.959964 * se);
        println!(
            "{label:12} truth {truth:10.5} estimate {est:10.5} SE {se:9.5} CI [{lo:.5}, {hi:.5}]"
        );
        assert!(se.is_finite() && se > 0.0, "{label}: SE {se}");
        assert!(
            (est - truth).abs() < 3.0 * se,
            "{label}: estimate {est} is more than 3 SE ({se}) from the truth {truth}"
        );
        if !(lo..=hi).contains(&truth) {
            misses.push(label);
        }
    }
    assert_eq!(
        result.psi.len(),
        9,
        "5 thetas, 3 OMEGA block entries, 1 OMEGA"
    );
    assert!(
        misses.is_empty(),
        "true values outside the 95% CI: {misses:?}"
    );
}

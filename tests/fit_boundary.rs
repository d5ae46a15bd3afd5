//! A variance estimated at zero. Bootstrap replicate 29 (seed 1) of the
//! theophylline data drives OMEGA(V) to the boundary: the prior's Ω⁻¹
//! becomes huge in one direction of every inner problem. Before the inner
//! Newton metric was split into the data's differenced Hessian plus the
//! exact Ω⁻¹, that stalled every inner problem at its iteration limit: the
//! fit took 1511 objective evaluations, 30 s, and reported an OFV 0.09
//! below the true one (inner problems stopped short of their modes).

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::estimate::{fit, objective_at, CovarianceKind, FitOptions, Method, Status};
use mido::runtime::evaluate::bootstrap::{resample, Resampling};

#[test]
fn a_variance_at_zero_converges_to_the_true_minimum() {
    let root = env!("CARGO_MANIFEST_DIR");
    let src = std::fs::read_to_string(format!(
        "{root}/examples/theophylline/theo_closed_form.mido"
    ))
    .expect("model");
    let model = compile_model(&src, Engine::Jit).expect("compiles");
    let text = std::fs::read_to_string(format!("{root}/examples/theophylline/theoph_nm.csv"))
        .expect("data");
    let data = Dataset::parse(&text, "theo", &DataSpec::from_info(model.info())).expect("reads");
    let how = Resampling {
        seed: 1,
        stratum: None,
    };
    let sample = resample(&data, how, 28).expect("resamples");
    let ids: Vec<&str> = sample
        .subjects
        .iter()
        .map(|s| s.label.split(' ').next().expect("label"))
        .collect();
    assert_eq!(
        ids,
        ["8", "4", "7", "7", "8", "2", "7", "9", "4", "9", "9", "9"]
    );
    let opts = FitOptions {
        covariance: CovarianceKind::None,
        ..FitOptions::default()
    };
    let r = fit(model.as_ref(), &sample, &opts, &mut |_| {}).expect("fits");
    assert_eq!(r.status, Status::Converged);
    assert!((r.ofv - 55.168_892).abs() < 1e-4, "OFV {}", r.ofv);
    assert!(
        r.omega[4] < 1e-6,
        "OMEGA(V) {} is at its boundary",
        r.omega[4]
    );
    assert!(r.evaluations < 800, "{} evaluations", r.evaluations);
    // The point the stalled search reported (OFV 55.0802 then), evaluated
    // with converged inner problems, lies above the minimum found.
    let stalled = objective_at(
        model.as_ref(),
        &sample,
        Method::Focei,
        opts.solver,
        &[3.038_509_5, 32.768_81, 2.164_887_5, 0.622_448_13],
        &[0.003_848_48, 0.0, 0.0, 0.0, 1e-12, 0.0, 0.0, 0.0, 1.036_055],
    )
    .expect("evaluates");
    assert!((stalled - 55.215_13).abs() < 1e-3, "OFV there {stalled}");
    assert!(stalled > r.ofv);
}

//! Every mistake in a scenario is a typed error with a clear message, found
//! before any subject is simulated; numerical failures name the subject.

use mido::compiler::{compile_model, Engine};
use mido::runtime::explore::*;
use mido::runtime::model::Model;

const MODEL: &str = r#"model oral
covariates { WT: real [kg] }
fixed {
  tv_ka = 1 in (0, )
  tv_cl = 2
  tv_v = 10 in (0, )
  sd = 0.1 fixed
}
random subject { eta_cl ~ normal(0, 0.09) }
individual {
  ka = tv_ka
  cl = tv_cl * exp(eta_cl)
  v = tv_v
}
compartments {
  depot [mg] dose
  central [mg]
}
pk one_compartment_oral(ka = ka, cl = cl, v = v)
observe {
  cp = central / v
  DV ~ normal(cp, sd)
}
"#;

fn model() -> Box<dyn Model> {
    compile_model(MODEL, Engine::Jit).unwrap_or_else(|_| panic!("model compiles"))
}

fn scenario(model: &dyn Model) -> Scenario {
    Scenario {
        parameters: Parameters::from_model(model.info()),
        populations: vec![Population {
            name: "adults".into(),
            size: 20,
            covariates: CovariateSource::Distributions {
                covariates: vec![CovariateSpec {
                    name: "WT".into(),
                    distribution: Distribution::LogNormal {
                        median: 70.0,
                        cv: 0.2,
                    },
                    within: None,
                }],
                correlations: vec![],
            },
            subgroups: vec![],
        }],
        regimens: vec![Regimen::repeated("5 mg qd", 5.0, "depot", 24.0, 7)],
        metrics: vec![MetricSpec {
            name: "cmax_ss".into(),
            variable: "cp".into(),
            kind: MetricKind::Max,
            window: Window::LastInterval,
        }],
        targets: vec![Target {
            name: "safety".into(),
            kind: TargetKind::Safety,
            metric: "cmax_ss".into(),
            condition: Condition::AtMost(8.0),
            fraction: 0.95,
        }],
        subgroup_comparisons: vec![],
        responses: vec![],
        bands: vec![],
        variability: Variability::default(),
        sampling: Sampling::default(),
        options: EngineOptions::default(),
        seed: 1,
    }
}

fn error(s: &Scenario) -> ExploreError {
    let m = model();
    explore(m.as_ref(), s).expect_err("the scenario is rejected")
}

#[test]
fn the_valid_scenario_runs() {
    let m = model();
    let e = explore(m.as_ref(), &scenario(m.as_ref())).expect("runs");
    assert_eq!(e.rows.len(), 1);
}

#[test]
fn negative_dose() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.regimens[0] = Regimen::repeated("bad", -5.0, "depot", 24.0, 7);
    let e = error(&s);
    assert_eq!(
        e,
        ExploreError::Regimen {
            regimen: "bad".into(),
            source: RegimenError::NegativeDose {
                phase: 0,
                amount: -5.0
            }
        }
    );
    assert_eq!(
        e.to_string(),
        "regimen `bad`: phase 1: the dose is -5; a dose must be finite and ≥ 0"
    );
}

#[test]
fn zero_interval() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.regimens[0] = Regimen::repeated("bad", 5.0, "depot", 0.0, 7);
    assert_eq!(
        error(&s).to_string(),
        "regimen `bad`: phase 1: the dosing interval is 0; it must be finite and > 0"
    );
}

#[test]
fn window_outside_the_regimen() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.metrics[0].window = Window::Range {
        from: 100.0,
        to: 400.0,
    };
    let e = error(&s);
    assert!(matches!(e, ExploreError::WindowOutsideRegimen { .. }));
    assert_eq!(
        e.to_string(),
        "metric `cmax_ss`: its window [100, 400] is outside regimen `5 mg qd`, which is simulated over [0, 168]"
    );
    s.metrics[0].window = Window::LastInterval;
    s.metrics[0].kind = MetricKind::ValueAt(30.0);
    assert!(matches!(
        error(&s),
        ExploreError::WindowOutsideRegimen { .. }
    ));
}

#[test]
fn unknown_variable() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.metrics[0].variable = "conc".into();
    let e = error(&s);
    assert_eq!(
        e.to_string(),
        "metric `cmax_ss`: the model has no variable `conc` (observe variables: cp)"
    );
    let mut s = scenario(m.as_ref());
    s.regimens[0].rules = vec![DoseRule {
        variable: "trough".into(),
        comparison: Comparison::Above,
        limit: 3.0,
        action: RuleAction::ReduceBy(2.5),
    }];
    assert_eq!(
        error(&s).to_string(),
        "regimen `5 mg qd`: dose rule 1: the model has no variable `trough` (observe variables: cp)"
    );
}

#[test]
fn impossible_targets() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.targets[0].fraction = 1.5;
    assert_eq!(
        error(&s).to_string(),
        "target `safety` can never be met: the required fraction must be in (0, 1]"
    );
    s.targets[0].fraction = 0.9;
    s.targets[0].condition = Condition::Between(5.0, 1.0);
    assert_eq!(
        error(&s).to_string(),
        "target `safety` can never be met: the range is empty (lower bound above upper)"
    );
    s.targets[0].condition = Condition::AtLeast(f64::INFINITY);
    assert!(matches!(error(&s), ExploreError::ImpossibleTarget { .. }));
    s.targets[0].condition = Condition::AtMost(8.0);
    s.targets[0].metric = "auc".into();
    assert_eq!(
        error(&s).to_string(),
        "target `safety` uses metric `auc`, which the scenario does not define"
    );
}

#[test]
fn population_errors() {
    let m = model();
    let with = |spec: CovariateSpec| {
        let mut s = scenario(m.as_ref());
        s.populations[0].covariates = CovariateSource::Distributions {
            covariates: vec![spec],
            correlations: vec![],
        };
        error(&s).to_string()
    };
    assert_eq!(
        with(CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::Normal {
                mean: 70.0,
                sd: 1.0
            },
            within: Some((100.0, 120.0)),
        }),
        "population `adults`: covariate `WT`: no draw fell within (100, 120) in 1000 tries; \
         the truncation range holds almost none of the distribution"
    );
    assert_eq!(
        with(CovariateSpec {
            name: "HT".into(),
            distribution: Distribution::Fixed(170.0),
            within: None,
        }),
        "population `adults`: the model has no covariate `HT`"
    );
    assert_eq!(
        with(CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::LogNormal {
                median: -1.0,
                cv: 0.2
            },
            within: None,
        }),
        "population `adults`: covariate `WT`: a log-normal needs a median > 0 and a cv ≥ 0"
    );
    let mut s = scenario(m.as_ref());
    s.populations[0].covariates = CovariateSource::Distributions {
        covariates: vec![],
        correlations: vec![],
    };
    assert_eq!(
        error(&s).to_string(),
        "population `adults`: covariate `WT` of the model has no distribution in the population"
    );
}

#[test]
fn parameter_uncertainty_needs_a_covariance() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.variability.parameter_uncertainty = true;
    assert!(error(&s)
        .to_string()
        .starts_with("parameters: parameter uncertainty needs the covariance"));
}

#[test]
fn a_failing_subject_is_named() {
    let m = model();
    let mut s = scenario(m.as_ref());
    // A negative clearance: the closed form refuses the parameters.
    s.parameters.theta[1] = -2.0;
    let e = error(&s);
    assert!(matches!(
        e,
        ExploreError::Subject {
            subject: 0,
            replicate: 0,
            source: SubjectFailure::ClosedForm(_),
            ..
        }
    ));
    assert!(
        e.to_string().starts_with(
            "regimen `5 mg qd`, population `adults`, replicate 1, subject 1: failed at t = 0:"
        ),
        "{e}"
    );
}

#[test]
fn an_impossible_bioavailability_is_named() {
    let src = MODEL
        .replace("  sd = 0.1 fixed\n", "  sd = 0.1 fixed\n  tv_f = 0.8\n")
        .replace(
            "depot [mg] dose\n",
            "depot [mg] dose { bioavailability = tv_f }\n",
        );
    let m = compile_model(&src, Engine::Jit).unwrap_or_else(|_| panic!("model compiles"));
    let mut s = scenario(m.as_ref());
    let f = m
        .info()
        .thetas
        .iter()
        .position(|t| t.name == "tv_f")
        .expect("tv_f");
    s.parameters.theta[f] = -0.5;
    let e = explore(m.as_ref(), &s).expect_err("rejected");
    assert!(matches!(
        e,
        ExploreError::Subject {
            source: SubjectFailure::InvalidBioavailability { value: -0.5 },
            ..
        }
    ));
    assert!(e.to_string().ends_with(
        "failed at t = 0: the model's bioavailability for the dose is -0.5; it must be finite and ≥ 0"
    ), "{e}");
}

#[test]
fn bands_and_responses_are_checked() {
    let m = model();
    let mut s = scenario(m.as_ref());
    s.bands = vec![BandSpec {
        variable: "cp".into(),
        percentiles: vec![5.0, 105.0],
    }];
    assert_eq!(
        error(&s).to_string(),
        "percentile bands of `cp`: percentiles must be between 0 and 100"
    );
    s.bands = vec![BandSpec::new("conc")];
    assert_eq!(
        error(&s).to_string(),
        "percentile bands of `conc`: the model has no variable `conc` (observe variables: cp)"
    );
    let mut s = scenario(m.as_ref());
    s.responses = vec![Response {
        name: "ae".into(),
        metric: "p_ae".into(),
    }];
    assert_eq!(
        error(&s),
        ExploreError::UnknownResponseMetric {
            response: "ae".into(),
            metric: "p_ae".into()
        }
    );
    // An AUC is not a probability.
    s.metrics.push(MetricSpec {
        name: "auc".into(),
        variable: "cp".into(),
        kind: MetricKind::Auc,
        window: Window::LastInterval,
    });
    s.responses[0].metric = "auc".into();
    let e = error(&s);
    assert!(
        matches!(&e, ExploreError::NotAProbability { value, .. } if *value > 1.0),
        "{e:?}"
    );
    assert!(e.to_string().starts_with(
        "response `ae`: regimen `5 mg qd` in population `adults` gives a subject the value "
    ));
}

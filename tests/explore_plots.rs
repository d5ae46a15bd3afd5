//! The plots of `src/cli/explore_plots.rs` on a real exploration (the
//! module is private to the command line, so it is compiled here too).

#[path = "../src/cli/explore_plots.rs"]
mod plots;

use mido::compiler::{compile_model, Engine};
use mido::runtime::explore::*;

const MODEL: &str = r#"model iv_wt
covariates { WT: real [kg] }
fixed {
  tv_cl = 2 fixed
  tv_v = 10 fixed
  sd = 0.1 fixed
}
random subject { eta_cl ~ normal(0, 0.09) }
individual {
  cl = tv_cl * (WT / 70) ^ 0.75 * exp(eta_cl)
  v = tv_v
}
compartments { central [mg] dose }
pk one_compartment(cl = cl, v = v)
observe {
  cp = central / v
  DV ~ proportional(cp, sd)
}
"#;

#[test]
fn every_plot_of_an_exploration_is_written() {
    let model = compile_model(MODEL, Engine::Jit).unwrap_or_else(|_| panic!("compiles"));
    let band = |name: &str, from: f64, to: f64| Subgroup {
        name: name.into(),
        predicate: Predicate::Range {
            covariate: "WT".into(),
            from,
            to,
        },
    };
    let metric = |name: &str, kind| MetricSpec {
        name: name.into(),
        variable: "cp".into(),
        kind,
        window: Window::LastInterval,
    };
    let s = Scenario {
        parameters: Parameters::from_model(model.info()),
        populations: vec![Population {
            name: "adults".into(),
            size: 300,
            covariates: CovariateSource::Distributions {
                covariates: vec![CovariateSpec {
                    name: "WT".into(),
                    distribution: Distribution::LogNormal {
                        median: 70.0,
                        cv: 0.25,
                    },
                    within: None,
                }],
                correlations: vec![],
            },
            subgroups: vec![
                band("light", 0.0, 60.0),
                band("typical", 60.0, 90.0),
                band("heavy", 90.0, 1e9),
            ],
        }],
        regimens: vec![
            Regimen::repeated("50 mg q12h", 50.0, "central", 12.0, 6),
            Regimen::repeated("100 mg q24h", 100.0, "central", 24.0, 3),
        ],
        metrics: vec![
            metric("cmax", MetricKind::Max),
            metric("auc", MetricKind::Auc),
        ],
        targets: vec![],
        subgroup_comparisons: vec![SubgroupComparison {
            metric: "auc".into(),
            reference: "typical".into(),
        }],
        responses: vec![],
        bands: vec![BandSpec::new("cp")],
        variability: Variability::default(),
        sampling: Sampling::default(),
        options: EngineOptions::default(),
        seed: 3,
    };
    let e = explore(model.as_ref(), &s).expect("runs");
    let plots = plots::render_all(&e).expect("renders");
    let names: Vec<String> = plots.iter().map(|p| p.file.clone()).collect();
    // The whole population and each subgroup's bands, the metrics, the forest.
    for want in [
        "bands_cp_adults.svg",
        "bands_cp_adults_light.svg",
        "bands_cp_adults_heavy.svg",
        "metrics_adults.svg",
        "forest_adults_auc.svg",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let forest = &plots
        .iter()
        .find(|p| p.file == "forest_adults_auc.svg")
        .expect("forest plot")
        .svg;
    assert!(forest.contains("light (50 mg q12h)") && forest.contains("heavy (100 mg q24h)"));
}

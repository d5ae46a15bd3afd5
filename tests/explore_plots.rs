//! The plots of `src/cli/plots.rs` (their unit tests, and every plot of a
//! real exploration), compiled here until the `explore` command declares
//! the module; then its unit tests run with the crate's and this file can
//! keep only the end-to-end test.

#[path = "../src/cli/plots.rs"]
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
    let dir = std::env::temp_dir().join(format!("mido-explore-plots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let paths = plots::write_all(&e, &dir).expect("writes");
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
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
    let forest = std::fs::read_to_string(dir.join("forest_adults_auc.svg")).expect("readable");
    assert!(forest.contains("light (50 mg q12h)") && forest.contains("heavy (100 mg q24h)"));
    let _ = std::fs::remove_dir_all(&dir);
}

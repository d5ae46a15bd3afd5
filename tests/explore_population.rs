//! Virtual populations through the explore engine: target attainment
//! against an independent Monte Carlo, covariate distributions and
//! correlation, weight-based dosing, subgroups, common random numbers,
//! reproducibility across thread counts, dose search, estimates files.

use mido::compiler::{compile_model, Engine};
use mido::runtime::explore::*;
use mido::runtime::model::Model;

/// IV bolus, one compartment; CL scales with weight (allometric 0.75) and
/// has 30% log-normal variability.
const IV_WT: &str = r#"model iv_wt
covariates {
  WT: real [kg]
  AGE: real
  SEX: category { male = 0, female = 1 }
}
fixed {
  tv_cl = 2 in (0, )
  tv_v = 10 in (0, )
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

const TAU: f64 = 12.0;
const V: f64 = 10.0;

fn compile(src: &str) -> Box<dyn Model> {
    compile_model(src, Engine::Jit).unwrap_or_else(|_| panic!("model compiles"))
}

fn metric(name: &str, kind: MetricKind, window: Window) -> MetricSpec {
    MetricSpec {
        name: name.into(),
        variable: "cp".into(),
        kind,
        window,
    }
}

fn fixed_covariates(wt: f64) -> Vec<CovariateSpec> {
    vec![
        CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::Fixed(wt),
            within: None,
        },
        CovariateSpec {
            name: "AGE".into(),
            distribution: Distribution::Fixed(50.0),
            within: None,
        },
        CovariateSpec {
            name: "SEX".into(),
            distribution: Distribution::Categorical(vec![("male".into(), 1.0)]),
            within: None,
        },
    ]
}

fn population(
    name: &str,
    size: usize,
    covariates: Vec<CovariateSpec>,
    correlations: Vec<Correlation>,
) -> Population {
    Population {
        name: name.into(),
        size,
        covariates: CovariateSource::Distributions {
            covariates,
            correlations,
        },
        subgroups: vec![],
    }
}

fn base(model: &dyn Model, populations: Vec<Population>, regimens: Vec<Regimen>) -> Scenario {
    Scenario {
        parameters: Parameters::from_model(model.info()),
        populations,
        regimens,
        metrics: vec![
            metric("trough", MetricKind::Trough, Window::SteadyState),
            metric("cmax", MetricKind::Max, Window::SteadyState),
            metric("auc", MetricKind::Auc, Window::SteadyState),
        ],
        targets: vec![Target {
            name: "efficacy".into(),
            kind: TargetKind::Efficacy,
            metric: "trough".into(),
            condition: Condition::AtLeast(0.8),
            fraction: 0.5,
        }],
        subgroup_comparisons: vec![],
        responses: vec![],
        bands: vec![],
        variability: Variability::default(),
        sampling: Sampling {
            step: 1.0,
            end: None,
        },
        options: EngineOptions {
            metrics: MetricOptions {
                auc: AucMethod::Exact,
                refine_extrema: true,
            },
            ..EngineOptions::default()
        },
        seed: 20261126,
    }
}

/// A small deterministic generator for the independent Monte Carlo
/// (SplitMix64 and Box–Muller): nothing shared with the engine's streams.
struct Independent(u64);

impl Independent {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Steady-state trough of a 100 mg bolus every 12 h for a clearance.
fn trough(cl: f64, dose: f64) -> f64 {
    let k = cl / V;
    dose / V * (-k * TAU).exp() / (1.0 - (-k * TAU).exp())
}

#[test]
fn attainment_matches_an_independent_monte_carlo() {
    let model = compile(IV_WT);
    let n = 4000;
    let s = base(
        model.as_ref(),
        vec![population("adults", n, fixed_covariates(70.0), vec![])],
        vec![Regimen::repeated("100 mg q12h", 100.0, "central", TAU, 10)],
    );
    let e = explore(model.as_ref(), &s).expect("runs");
    let engine = e.rows[0].targets[0].fraction;

    // Same draws: each subject's clearance is D/AUCτ; its trough from the
    // formula equals the engine's, and so does the attainment, exactly.
    let v = &e.values[0];
    let mut hits = 0;
    let mut log_cl = Vec::with_capacity(n);
    for k in 0..n {
        let (t, auc) = (v.metrics[k * 3], v.metrics[k * 3 + 2]);
        let cl = 100.0 / auc;
        log_cl.push(cl.ln());
        assert!(
            (t - trough(cl, 100.0)).abs() <= 1e-9 * t,
            "subject {k}: {t} vs {}",
            trough(cl, 100.0)
        );
        hits += usize::from(trough(cl, 100.0) >= 0.8);
    }
    assert_eq!(hits as f64 / n as f64, engine);
    // The engine's clearances are log-normal around 2 with sd 0.3.
    let mean = log_cl.iter().sum::<f64>() / n as f64;
    let sd = (log_cl.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert!(
        (mean - 2f64.ln()).abs() < 4.0 * 0.3 / (n as f64).sqrt(),
        "mean log CL {mean}"
    );
    assert!(
        (sd - 0.3).abs() < 4.0 * 0.3 / (2.0 * n as f64).sqrt(),
        "sd log CL {sd}"
    );

    // Independent draws: 400,000 clearances of our own.
    let mut g = Independent(42);
    let m = 400_000;
    let mc = (0..m)
        .filter(|_| trough(2.0 * (0.3 * g.normal()).exp(), 100.0) >= 0.8)
        .count() as f64
        / m as f64;
    let se = (mc * (1.0 - mc) / n as f64).sqrt();
    assert!(
        (engine - mc).abs() < 4.0 * se,
        "engine {engine} vs Monte Carlo {mc} (4 SE = {})",
        4.0 * se
    );
}

#[test]
fn common_random_numbers_make_exposure_proportional_to_dose() {
    let model = compile(IV_WT);
    let s = base(
        model.as_ref(),
        vec![population("adults", 500, fixed_covariates(70.0), vec![])],
        vec![
            Regimen::repeated("50 mg", 50.0, "central", TAU, 10),
            Regimen::repeated("100 mg", 100.0, "central", TAU, 10),
            Regimen::repeated("200 mg", 200.0, "central", TAU, 10),
        ],
    );
    let e = explore(model.as_ref(), &s).expect("runs");
    // Same subjects in every regimen: AUC doubles subject by subject.
    for (lo, hi) in [(0, 1), (1, 2)] {
        for (a, b) in e.values[lo].metrics.iter().zip(&e.values[hi].metrics) {
            assert!((b / a - 2.0).abs() < 1e-9, "{a} → {b}");
        }
    }
    // The recommendation: the lowest total dose meeting the target.
    let meeting: Vec<&ResultRow> = e.rows.iter().filter(|r| r.meets_all_targets).collect();
    let lowest = meeting
        .iter()
        .min_by(|a, b| a.total_dose.total_cmp(&b.total_dose))
        .expect("one meets it");
    assert_eq!(
        e.recommendations[0].regimen.as_deref(),
        Some(lowest.regimen.as_str())
    );
    assert_eq!(e.rows[1].total_dose, 1000.0);
    // Overlap of adjacent levels: doubling a log-normal's 5–95% interval.
    let o = e
        .overlap
        .iter()
        .find(|o| o.metric == "auc" && o.lower == "50 mg")
        .expect("overlap");
    let (a, b) = (&e.rows[0].metrics[2], &e.rows[1].metrics[2]);
    let expected = overlap_share((a.p5, a.p95), (b.p5, b.p95));
    assert_eq!(o.share, expected);
    let w = (a.p95 / a.p5).ln();
    assert!((o.share - (w - 2f64.ln()) / (w + 2f64.ln())).abs() < 1e-9);
}

#[test]
fn covariate_distributions_correlation_and_truncation() {
    let model = compile(IV_WT);
    let covariates = vec![
        CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::LogNormal {
                median: 70.0,
                cv: 0.2,
            },
            within: Some((50.0, 100.0)),
        },
        CovariateSpec {
            name: "AGE".into(),
            distribution: Distribution::Normal {
                mean: 50.0,
                sd: 10.0,
            },
            within: None,
        },
        CovariateSpec {
            name: "SEX".into(),
            distribution: Distribution::Categorical(vec![
                ("male".into(), 0.3),
                ("female".into(), 0.7),
            ]),
            within: None,
        },
    ];
    let correlations = vec![Correlation {
        a: "WT".into(),
        b: "AGE".into(),
        rho: 0.6,
    }];
    let n = 20_000;
    let mut s = base(
        model.as_ref(),
        vec![population("adults", n, covariates, correlations)],
        vec![Regimen::repeated("100 mg", 100.0, "central", TAU, 2)],
    );
    s.metrics = vec![metric("cmax", MetricKind::Max, Window::FirstInterval)];
    s.targets.clear();
    let e = explore(model.as_ref(), &s).expect("runs");
    let cov = &e.values[0].covariates;
    let wt: Vec<f64> = cov.chunks(3).map(|c| c[0]).collect();
    let age: Vec<f64> = cov.chunks(3).map(|c| c[1]).collect();
    assert!(
        wt.iter().all(|w| *w > 50.0 && *w < 100.0),
        "truncation holds"
    );
    let female = cov.chunks(3).filter(|c| c[2] == 1.0).count() as f64 / n as f64;
    assert!(
        (female - 0.7).abs() < 4.0 * (0.21 / n as f64).sqrt(),
        "female share {female}"
    );
    // Truncation (50, 100) of a log-normal with median 70 is nearly
    // symmetric on the log scale: the median stays close to 70.
    let mut sorted = wt.clone();
    sorted.sort_by(f64::total_cmp);
    let median = quantile_sorted(&sorted, 0.5);
    assert!((median - 70.0).abs() < 1.0, "median WT {median}");
    // Pearson correlation of ln WT and AGE: ρ for the untruncated copula,
    // a little less under truncation.
    let lw: Vec<f64> = wt.iter().map(|w| w.ln()).collect();
    let r = pearson(&lw, &age);
    assert!(r > 0.5 && r < 0.6, "correlation {r}");
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

#[test]
fn weight_based_dosing_and_subgroup_ratios() {
    let model = compile(IV_WT);
    let covariates = vec![
        CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::Uniform {
                lo: 40.0,
                hi: 120.0,
            },
            within: None,
        },
        CovariateSpec {
            name: "AGE".into(),
            distribution: Distribution::Fixed(50.0),
            within: None,
        },
        CovariateSpec {
            name: "SEX".into(),
            distribution: Distribution::Categorical(vec![
                ("male".into(), 1.0),
                ("female".into(), 1.0),
            ]),
            within: None,
        },
    ];
    let mut pop = population("adults", 3000, covariates, vec![]);
    let band = |name: &str, from: f64, to: f64| Subgroup {
        name: name.into(),
        predicate: Predicate::Range {
            covariate: "WT".into(),
            from,
            to,
        },
    };
    let extremes = Subgroup {
        name: "extremes".into(),
        predicate: Predicate::Any(vec![
            band("", 40.0, 50.0).predicate,
            band("", 110.0, 120.0).predicate,
        ]),
    };
    pop.subgroups = vec![
        band("light", 40.0, 60.0),
        band("reference", 60.0, 80.0),
        band("heavy", 80.0, 120.0),
        extremes,
    ];
    let per_kg = Regimen {
        name: "1.5 mg/kg".into(),
        start: 0.0,
        blocks: vec![Block::Phase(Phase {
            amount: DoseAmount::PerUnit {
                covariate: "WT".into(),
                per_unit: 1.5,
            },
            into: "central".into(),
            interval: TAU,
            count: DoseCount::Doses(10),
            infusion: None,
        })],
        rules: vec![],
    };
    let mut s = base(
        model.as_ref(),
        vec![pop],
        vec![
            Regimen::repeated("100 mg", 100.0, "central", TAU, 10),
            per_kg,
        ],
    );
    s.variability.between_subject = false;
    s.subgroup_comparisons = vec![SubgroupComparison {
        metric: "auc".into(),
        reference: "reference".into(),
    }];
    let e = explore(model.as_ref(), &s).expect("runs");
    // No variability: AUCτ = dose / CL with CL = 2·(WT/70)^0.75.
    for vals in &e.values {
        for (k, c) in vals.covariates.chunks(3).enumerate() {
            let cl = 2.0 * (c[0] / 70.0).powf(0.75);
            let dose = if vals.regimen == "100 mg" {
                100.0
            } else {
                1.5 * c[0]
            };
            let auc = vals.metrics[k * 3 + 2];
            assert!(
                (auc - dose / cl).abs() < 1e-9 * auc,
                "{}: {auc} vs {}",
                vals.regimen,
                dose / cl
            );
            assert!((vals.administered[k] - 10.0 * dose).abs() < 1e-9 * dose);
        }
    }
    // Subgroup ratios against an independent geometric-mean computation.
    for r in &e.subgroup_ratios {
        let vals = e
            .values
            .iter()
            .find(|v| v.regimen == r.regimen)
            .expect("values");
        let in_band = |name: &str, w: f64| match name {
            "light" => (40.0..60.0).contains(&w),
            "reference" => (60.0..80.0).contains(&w),
            "extremes" => (40.0..50.0).contains(&w) || (110.0..120.0).contains(&w),
            _ => (80.0..120.0).contains(&w),
        };
        // Each subgroup holds exactly the subjects its predicate selects
        // (for "extremes" either band: `Any`).
        let row = e
            .rows
            .iter()
            .find(|row| row.regimen == r.regimen && row.subgroup.as_deref() == Some(&r.subgroup))
            .expect("the subgroup's row");
        let members = vals
            .covariates
            .chunks(3)
            .filter(|c| in_band(&r.subgroup, c[0]))
            .count();
        assert_eq!(row.subjects, members, "{}", r.subgroup);
        let gm = |name: &str| {
            let logs: Vec<f64> = vals
                .covariates
                .chunks(3)
                .enumerate()
                .filter(|(_, c)| in_band(name, c[0]))
                .map(|(k, _)| vals.metrics[k * 3 + 2].ln())
                .collect();
            logs.iter().sum::<f64>() / logs.len() as f64
        };
        let gmr = (gm(&r.subgroup) - gm("reference")).exp();
        assert!((r.gmr - gmr).abs() < 1e-12 * gmr);
        assert!(r.ci90.0 < r.gmr && r.gmr < r.ci90.1);
        assert!((r.dose_factor * r.gmr - 1.0).abs() < 1e-12);
    }
    // Flat dosing over-exposes light subjects ((50/70)^-0.75 ≈ 1.29), mg/kg
    // under-exposes them ((50/70)^0.25 ≈ 0.92).
    let ratio = |regimen: &str, g: &str| {
        e.subgroup_ratios
            .iter()
            .find(|r| r.regimen == regimen && r.subgroup == g)
            .expect("ratio")
            .gmr
    };
    assert!(ratio("100 mg", "light") > 1.25);
    assert!(ratio("1.5 mg/kg", "light") < 0.95);
    // Rows exist for each subgroup (4 subgroups × 2 regimens).
    assert_eq!(e.rows.iter().filter(|r| r.subgroup.is_some()).count(), 8);
}

fn reproducible_scenario(model: &dyn Model) -> Scenario {
    let covariates = vec![
        CovariateSpec {
            name: "WT".into(),
            distribution: Distribution::LogNormal {
                median: 70.0,
                cv: 0.25,
            },
            within: Some((40.0, 150.0)),
        },
        CovariateSpec {
            name: "AGE".into(),
            distribution: Distribution::Uniform { lo: 18.0, hi: 80.0 },
            within: None,
        },
        CovariateSpec {
            name: "SEX".into(),
            distribution: Distribution::Categorical(vec![
                ("male".into(), 1.0),
                ("female".into(), 1.0),
            ]),
            within: None,
        },
    ];
    let mut s = base(
        model,
        vec![
            population(
                "adults",
                301,
                covariates,
                vec![Correlation {
                    a: "WT".into(),
                    b: "AGE".into(),
                    rho: 0.3,
                }],
            ),
            population("70 kg", 57, fixed_covariates(70.0), vec![]),
        ],
        vec![
            Regimen::repeated("50 mg", 50.0, "central", TAU, 6),
            Regimen::repeated("100 mg", 100.0, "central", TAU, 6),
        ],
    );
    s.metrics.push(MetricSpec {
        name: "dv_max".into(),
        variable: "DV".into(),
        kind: MetricKind::Max,
        window: Window::LastInterval,
    });
    s.variability = Variability {
        between_subject: true,
        residual: true,
        parameter_uncertainty: true,
        replicates: 3,
    };
    s.parameters.theta_covariance = Some(ThetaCovariance {
        thetas: vec![0, 1],
        matrix: vec![0.04, 0.01, 0.01, 0.25],
    });
    s
}

#[test]
fn same_seed_gives_identical_tables_on_one_and_two_threads() {
    let model = compile(IV_WT);
    let s = reproducible_scenario(model.as_ref());
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| explore(model.as_ref(), &s).expect("runs"))
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    let table = |e: &Exploration| {
        let mut csv = Vec::new();
        e.write_csv(&mut csv).expect("csv");
        let mut json = Vec::new();
        e.write_json(&mut json).expect("json");
        (csv, json)
    };
    assert_eq!(table(&one), table(&two));
    // Exactly equal metric values, subject by subject.
    for (a, b) in one.values.iter().zip(&two.values) {
        assert_eq!(
            a.metrics.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.metrics.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
    // Another seed gives other subjects.
    let mut other = s.clone();
    other.seed += 1;
    let three = explore(model.as_ref(), &other).expect("runs");
    assert_ne!(one.values[0].metrics, three.values[0].metrics);
    // Replicates differ in their fixed effects: the per-replicate attainment spreads.
    let row = &one.rows[0];
    assert_eq!(row.subjects, 3 * 301);
    assert!(
        row.targets[0].replicate_p5 <= row.targets[0].fraction
            && row.targets[0].fraction <= row.targets[0].replicate_p95
    );
    let csv = String::from_utf8(table(&one).0).expect("utf8");
    assert!(csv.starts_with(
        "regimen,population,subgroup,subjects,total_dose,trough_median,trough_p5,trough_p95,"
    ));
}

#[test]
fn dose_search_finds_the_lowest_effective_safe_dose() {
    let model = compile(IV_WT);
    let mut s = base(
        model.as_ref(),
        vec![population("adults", 2000, fixed_covariates(70.0), vec![])],
        vec![Regimen::repeated("template", 100.0, "central", TAU, 10)],
    );
    s.targets = vec![
        Target {
            name: "efficacy".into(),
            kind: TargetKind::Efficacy,
            metric: "trough".into(),
            condition: Condition::AtLeast(1.0),
            fraction: 0.9,
        },
        Target {
            name: "safety".into(),
            kind: TargetKind::Safety,
            metric: "cmax".into(),
            condition: Condition::AtMost(60.0),
            fraction: 0.95,
        },
    ];
    // Independent answer from the template's per-subject values: exposure is
    // proportional to dose, so the lowest dose with 90% of troughs ≥ 1 is
    // 100 / (the 10% quantile of the troughs at 100 mg), from order statistics.
    let e = explore(model.as_ref(), &s).expect("runs");
    let mut troughs: Vec<f64> = e.values[0].metric(0).collect();
    troughs.sort_by(f64::total_cmp);
    let n = troughs.len();
    // Need at least 0.9·n subjects with d·t ≥ 1: d ≥ 1/t at the (n − 0.9n)-th smallest.
    let need = (0.9 * n as f64).ceil() as usize;
    let d_eff = 100.0 / troughs[n - need];
    let mut cmaxes: Vec<f64> = e.values[0].metric(1).collect();
    cmaxes.sort_by(f64::total_cmp);
    let allowed = (0.95 * n as f64).ceil() as usize;
    let d_safe = 100.0 * 60.0 / cmaxes[allowed - 1];
    assert!(
        d_eff < d_safe,
        "a therapeutic window exists: {d_eff} < {d_safe}"
    );

    let search = DoseSearch {
        regimen: "template".into(),
        population: "adults".into(),
        efficacy: "efficacy".into(),
        safety: "safety".into(),
        space: SearchSpace::Continuous {
            lo: 10.0,
            hi: 1000.0,
            tolerance: 1e-4,
        },
        intervals: vec![],
    };
    let out = optimize(model.as_ref(), &s, &search).expect("search runs");
    let dose = out.dose.expect("a dose");
    assert!(out.effective);
    assert!(
        (dose - d_eff).abs() < 2e-4 * d_eff,
        "bisection {dose} vs order statistics {d_eff}"
    );

    let grid = DoseSearch {
        space: SearchSpace::Strengths(vec![25.0, 50.0, 100.0, 150.0, 200.0, 400.0, 800.0]),
        ..search
    };
    let out = optimize(model.as_ref(), &s, &grid).expect("search runs");
    // The best efficacy among safe strengths, lowest on a tie.
    let best = out
        .evaluated
        .iter()
        .filter(|p| p.safe)
        .fold(None::<&SearchPoint>, |b, p| match b {
            Some(b) if b.efficacy >= p.efficacy => Some(b),
            _ => Some(p),
        })
        .expect("a safe strength");
    assert_eq!(out.dose, Some(best.dose));
    assert!(out.evaluated.iter().all(|p| p.safe == (p.dose <= d_safe)));
}

#[test]
fn parameters_from_an_estimates_file() {
    let model = compile(IV_WT);
    let json = r#"{
      "format": "mido-estimates-1",
      "theta": [
        {"name": "tv_cl", "estimate": 2.5, "fixed": false},
        {"name": "tv_v", "estimate": 12.0, "fixed": false},
        {"name": "sd", "estimate": 0.1, "fixed": true}
      ],
      "omega_matrix": {"etas": ["eta_cl"], "values": [[0.16]]},
      "covariance": {
        "status": "ok",
        "parameters": ["tv_cl", "tv_v", "omega(eta_cl)"],
        "matrix": [[0.01, 0.002, 0.0], [0.002, 0.09, 0.0], [0.0, 0.0, 0.0004]]
      }
    }"#;
    let p = Parameters::from_estimates(json, model.info()).expect("reads");
    assert_eq!(p.theta, vec![2.5, 12.0, 0.1]);
    assert_eq!(p.omega, vec![0.16]);
    let c = p.theta_covariance.expect("covariance");
    assert_eq!(c.thetas, vec![0, 1]);
    assert_eq!(c.matrix, vec![0.01, 0.002, 0.002, 0.09]);
    assert!(p.missing.is_empty());
    assert!(matches!(
        Parameters::from_estimates("{}", model.info()),
        Err(EstimatesError::Malformed(_))
    ));
}

/// `mido fit` writes estimates.json; its values, OMEGA and covariance
/// drive an exploration with parameter uncertainty, on a population
/// resampled from the fitted dataset.
#[test]
fn a_fit_drives_an_exploration_with_uncertainty_and_resampled_covariates() {
    use mido::runtime::data::{DataSpec, Dataset};
    use std::path::PathBuf;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("mido-explore-{}-fit", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("fit");
    let model_path = "examples/theophylline/theo_closed_form.mido";
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mido"))
        .args([
            "fit",
            model_path,
            "--out",
            out.to_str().expect("utf8"),
            "--quiet",
        ])
        .current_dir(&repo)
        .output()
        .expect("mido runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(out.join("estimates.json")).expect("estimates");
    let model = compile(&std::fs::read_to_string(repo.join(model_path)).expect("model"));
    let info = model.info();
    let p = Parameters::from_estimates(&text, info).expect("reads the fit's file");
    // The values are the file's.
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    for (i, t) in info.thetas.iter().enumerate() {
        let entry = json["theta"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == t.name.as_str()))
            .expect("theta in file");
        assert_eq!(Some(p.theta[i]), entry["estimate"].as_f64());
    }
    assert_eq!(
        Some(p.omega[0]),
        json["omega_matrix"]["values"][0][0].as_f64()
    );
    let cov = p
        .theta_covariance
        .clone()
        .expect("the fit ran its covariance step");
    assert_eq!(cov.thetas, vec![0, 1, 2, 3]);
    assert!(
        cov.matrix.iter().step_by(5).all(|v| *v > 0.0),
        "positive variances"
    );

    let data = Dataset::read(
        &repo.join("examples/theophylline/theoph_nm.csv"),
        &DataSpec::from_info(info),
    )
    .expect("dataset");
    let weights: Vec<f64> = data.subjects.iter().map(|s| s.covariates[0]).collect();
    let scenario = Scenario {
        parameters: p,
        populations: vec![Population {
            name: "theophylline subjects".into(),
            size: 200,
            covariates: CovariateSource::Resample(data),
            subgroups: vec![],
        }],
        regimens: vec![Regimen::repeated("320 mg q12h", 320.0, "depot", 12.0, 10)],
        metrics: vec![metric("trough", MetricKind::Trough, Window::SteadyState)],
        targets: vec![Target {
            name: "within 5–15 mg/L".into(),
            kind: TargetKind::Efficacy,
            metric: "trough".into(),
            condition: Condition::Between(5.0, 15.0),
            fraction: 0.5,
        }],
        subgroup_comparisons: vec![],
        responses: vec![],
        bands: vec![],
        variability: Variability {
            between_subject: true,
            residual: false,
            parameter_uncertainty: true,
            replicates: 4,
        },
        sampling: Sampling {
            step: 1.0,
            end: None,
        },
        options: EngineOptions::default(),
        seed: 3,
    };
    let e = explore(model.as_ref(), &scenario).expect("runs");
    assert_eq!(e.rows[0].subjects, 800);
    // Every virtual subject's weight is one of the dataset's.
    assert!(e.values[0].covariates.iter().all(|w| weights.contains(w)));
    let a = &e.rows[0].targets[0];
    assert!(a.replicate_p5 <= a.fraction && a.fraction <= a.replicate_p95);
    let _ = std::fs::remove_dir_all(&dir);
}

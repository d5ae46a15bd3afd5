//! Concentration–time percentile bands and exposure–response probabilities
//! of the explore engine, against computations done here: closed-form
//! profiles of every virtual subject (from its covariates) and their order
//! statistics; a response rate as the mean of closed-form probabilities,
//! and as a one-dimensional integral over the random effect.

use mido::compiler::{compile_model, Engine};
use mido::runtime::explore::*;
use mido::runtime::model::Model;

/// IV bolus, one compartment; CL scales with weight and may vary between
/// subjects; `p_ae` is a logistic function of the concentration.
const MODEL: &str = r#"model iv_ae
covariates { WT: real [kg] }
fixed {
  tv_cl = 2 fixed
  tv_v = 10 fixed
  b0 = -2 fixed
  b1 = 2 fixed
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
  p_ae = 1 / (1 + exp(-(b0 + b1 * cp)))
  DV ~ proportional(cp, sd)
}
"#;

const DOSE: f64 = 100.0;
const TAU: f64 = 12.0;
const N_DOSES: u32 = 4;
const V: f64 = 10.0;
const B0: f64 = -2.0;
const B1: f64 = 2.0;

fn model() -> Box<dyn Model> {
    compile_model(MODEL, Engine::Jit).unwrap_or_else(|_| panic!("model compiles"))
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The concentration at `t` of a subject with clearance `cl`; `before`
/// leaves out a dose given exactly at `t`.
fn conc(cl: f64, t: f64, before: bool) -> f64 {
    let k = cl / V;
    (0..N_DOSES)
        .map(|j| f64::from(j) * TAU)
        .filter(|&td| td < t || (td == t && !before))
        .map(|td| DOSE / V * (-k * (t - td)).exp())
        .sum()
}

fn scenario(model: &dyn Model, size: usize, wt: Distribution, between_subject: bool) -> Scenario {
    Scenario {
        parameters: Parameters::from_model(model.info()),
        populations: vec![Population {
            name: "adults".into(),
            size,
            covariates: CovariateSource::Distributions {
                covariates: vec![CovariateSpec {
                    name: "WT".into(),
                    distribution: wt,
                    within: None,
                }],
                correlations: vec![],
            },
            subgroups: vec![Subgroup {
                name: "light".into(),
                predicate: Predicate::Range {
                    covariate: "WT".into(),
                    from: 0.0,
                    to: 60.0,
                },
            }],
        }],
        regimens: vec![Regimen::repeated(
            "100 mg q12h",
            DOSE,
            "central",
            TAU,
            N_DOSES,
        )],
        metrics: vec![
            MetricSpec {
                name: "p_trough".into(),
                variable: "p_ae".into(),
                kind: MetricKind::Trough,
                window: Window::LastInterval,
            },
            MetricSpec {
                name: "p_trough_ss".into(),
                variable: "p_ae".into(),
                kind: MetricKind::Trough,
                window: Window::SteadyState,
            },
        ],
        targets: vec![],
        subgroup_comparisons: vec![],
        responses: vec![
            Response {
                name: "ae".into(),
                metric: "p_trough".into(),
            },
            Response {
                name: "ae_ss".into(),
                metric: "p_trough_ss".into(),
            },
        ],
        bands: vec![
            BandSpec::new("cp"),
            BandSpec {
                variable: "p_ae".into(),
                percentiles: vec![10.0, 90.0],
            },
        ],
        variability: Variability {
            between_subject,
            ..Variability::default()
        },
        sampling: Sampling::default(),
        options: EngineOptions::default(),
        seed: 61,
    }
}

fn clearance(wt: f64) -> f64 {
    2.0 * (wt / 70.0).powf(0.75)
}

/// R's type 7 on sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[test]
fn bands_are_the_order_statistics_of_every_subjects_profile() {
    let m = model();
    let s = scenario(
        m.as_ref(),
        301,
        Distribution::Uniform {
            lo: 40.0,
            hi: 120.0,
        },
        false,
    );
    let e = explore(m.as_ref(), &s).expect("runs");
    let weights: Vec<f64> = e.values[0].covariates.clone();
    let light: Vec<f64> = weights.iter().copied().filter(|&w| w < 60.0).collect();
    assert!(light.len() > 30 && light.len() < weights.len());
    // Whole population then the subgroup, for each spec in order.
    assert_eq!(e.bands.len(), 4);
    for band in &e.bands {
        let group = match band.subgroup.as_deref() {
            None => &weights,
            Some("light") => &light,
            Some(other) => panic!("unexpected subgroup {other}"),
        };
        assert_eq!(band.subjects, group.len());
        // Grid 0..=48 h, dose times twice (before, after).
        assert_eq!(band.times.len(), 49 + 4);
        assert_eq!(&band.times[..4], &[0.0, 0.0, 1.0, 2.0]);
        assert_eq!(&band.times[13..16], &[12.0, 12.0, 13.0]);
        let mut seen = Vec::new();
        for (i, &t) in band.times.iter().enumerate() {
            let before = i + 1 < band.times.len() && band.times[i + 1] == t;
            let mut values: Vec<f64> = group
                .iter()
                .map(|&wt| {
                    let c = conc(clearance(wt), t, before);
                    if band.variable == "p_ae" {
                        logistic(B0 + B1 * c)
                    } else {
                        c
                    }
                })
                .collect();
            values.sort_by(f64::total_cmp);
            for (j, p) in band.percentiles.iter().enumerate() {
                let want = quantile(&values, p / 100.0);
                let got = band.values[j][i];
                // Values are kept as f32.
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs() + 1e-12,
                    "{} p{p} at t = {t}{}: {got} vs {want}",
                    band.variable,
                    if before { " (before the dose)" } else { "" }
                );
            }
            seen.push(t);
        }
        if band.variable == "cp" {
            // The bolus makes the band jump at a dose time.
            assert!(band.values[1][14] > 5.0 * band.values[1][13]);
        }
    }
    // profiles.csv: one line per band time, columns p5 p10 p50 p90 p95.
    let mut buf = Vec::new();
    e.write_profiles_csv(&mut buf).expect("writes");
    let text = String::from_utf8(buf).expect("utf8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("regimen,population,subgroup,variable,subjects,time,p5,p10,p50,p90,p95")
    );
    assert_eq!(lines.count(), 4 * 53);
    let cp_row = text
        .lines()
        .find(|l| l.starts_with("100 mg q12h,adults,light,cp,") && l.contains(",24,"))
        .expect("a row of the subgroup at 24 h");
    let fields: Vec<&str> = cp_row.split(',').collect();
    assert_eq!(fields[7], "", "the cp band has no 10th percentile");
    let mut json = Vec::new();
    e.write_json(&mut json).expect("writes");
    assert!(String::from_utf8(json).expect("utf8").contains("\"bands\""));
}

#[test]
fn response_rate_is_the_mean_probability_of_the_subjects() {
    let m = model();
    let s = scenario(
        m.as_ref(),
        400,
        Distribution::Uniform {
            lo: 40.0,
            hi: 120.0,
        },
        false,
    );
    let e = explore(m.as_ref(), &s).expect("runs");
    let weights = &e.values[0].covariates;
    let end = f64::from(N_DOSES) * TAU;
    let p = |wt: f64| logistic(B0 + B1 * conc(clearance(wt), end, true));
    let mean = |ws: &mut dyn Iterator<Item = &f64>| {
        let v: Vec<f64> = ws.map(|&w| p(w)).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let whole = mean(&mut weights.iter());
    let light = mean(&mut weights.iter().filter(|&&w| w < 60.0));
    let row = |g: Option<&str>| {
        e.rows
            .iter()
            .find(|r| r.subgroup.as_deref() == g)
            .expect("row")
    };
    let r = &row(None).responses[0];
    assert_eq!(r.name, "ae");
    assert!((r.probability - whole).abs() < 1e-10, "{r:?} vs {whole}");
    // One replicate: the replicate interval is the estimate itself.
    assert_eq!(
        (r.replicate_p5, r.replicate_p95),
        (r.probability, r.probability)
    );
    let rl = &row(Some("light")).responses[0];
    assert!((rl.probability - light).abs() < 1e-10);
    assert!(
        light > whole,
        "light subjects clear less and have more events"
    );
    let mut buf = Vec::new();
    e.write_csv(&mut buf).expect("writes");
    let header = String::from_utf8(buf).expect("utf8");
    assert!(header
        .lines()
        .next()
        .is_some_and(|h| h.ends_with(",ae_probability,ae_probability_p5,ae_probability_p95,ae_ss_probability,ae_ss_probability_p5,ae_ss_probability_p95,meets_all_targets")));
}

/// With between-subject variability the response rate estimates
/// `E[logistic(b0 + b1·Ctrough,ss(η))]`, `η ~ N(0, 0.09)`, computed here by
/// quadrature; the estimate is within four standard errors of it, and the
/// replicate interval is the 5th–95th percentile of the replicates' means.
#[test]
fn response_rate_with_variability_matches_the_integral() {
    let m = model();
    let mut s = scenario(m.as_ref(), 2000, Distribution::Fixed(70.0), true);
    s.variability.replicates = 5;
    s.bands.clear();
    let e = explore(m.as_ref(), &s).expect("runs");
    let trough_ss = |eta: f64| {
        let k = 2.0 * eta.exp() / V;
        DOSE / V * (-k * TAU).exp() / (1.0 - (-k * TAU).exp())
    };
    // E[g(η)] and Var[g(η)] by the trapezoid rule on ±10 sd (error ≪ 1e-10).
    let (omega, steps) = (0.3f64, 20_000);
    let (mut m1, mut m2) = (0.0, 0.0);
    let h = 20.0 / f64::from(steps);
    for i in 0..=steps {
        let z = -10.0 + f64::from(i) * h;
        let w = if i == 0 || i == steps { 0.5 } else { 1.0 } * h;
        let dens = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let g = logistic(B0 + B1 * trough_ss(omega * z));
        m1 += w * dens * g;
        m2 += w * dens * g * g;
    }
    let n = 2000.0 * 5.0;
    let se = ((m2 - m1 * m1) / n).sqrt();
    let r = &e.rows[0].responses[1];
    assert_eq!(r.name, "ae_ss");
    assert!(
        (r.probability - m1).abs() < 4.0 * se,
        "simulated {} vs integral {m1} (se {se})",
        r.probability
    );
    // The replicate interval from the subjects' own values.
    let v = &e.values[0];
    let mut means: Vec<f64> = (0..5)
        .map(|rep| {
            let vals: Vec<f64> = v.metric(1).skip(rep * 2000).take(2000).collect();
            vals.iter().sum::<f64>() / 2000.0
        })
        .collect();
    means.sort_by(f64::total_cmp);
    assert!((r.replicate_p5 - quantile(&means, 0.05)).abs() < 1e-12);
    assert!((r.replicate_p95 - quantile(&means, 0.95)).abs() < 1e-12);
    assert!(r.replicate_p5 < r.probability && r.probability < r.replicate_p95);
}

//! Scenario files through parse, check and lowering: the engine values
//! each statement becomes, unit conversions, and a closed-form check of
//! the whole path (language → engine → metrics).

use mido::compiler::render_plain;
use mido::compiler::scenario::compile_scenario;
use mido::runtime::explore::*;
use mido::runtime::model::Model;
use mido::scenario::{lower, read_inputs, Lowered};
use std::path::Path;

/// Checks and lowers scenario text whose model is `model_src`.
fn lowered(scenario: &str, model_src: &str) -> (Lowered, Box<dyn Model>) {
    let checked = compile_scenario(scenario, |_| {
        mido::compiler::compile_source(model_src)
            .model
            .ok_or_else(|| "model errors".to_string())
    });
    assert!(
        !checked.has_errors(),
        "{}",
        render_plain(&checked.diagnostics, "scenario.mido", scenario)
    );
    let (Some(s), Some(ir)) = (checked.scenario, checked.model) else {
        panic!("no scenario")
    };
    let model = mido::compiler::lower_to_engine(ir, mido::compiler::Engine::Jit)
        .unwrap_or_else(|_| panic!("model compiles"));
    let inputs = read_inputs(&s, model.info(), Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    (lower(&s, inputs), model)
}

fn fixture(path: &str) -> (Lowered, Box<dyn Model>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let src = std::fs::read_to_string(dir.join(path)).expect("fixture");
    let model = std::fs::read_to_string(dir.join("model.mido")).expect("model");
    lowered(&src, &model)
}

fn regimen<'a>(s: &'a Scenario, name: &str) -> &'a Regimen {
    s.regimens
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no regimen {name}"))
}

fn phase(amount: DoseAmount, interval: f64, doses: u32, infusion: Option<f64>) -> Phase {
    Phase {
        amount,
        into: "depot".into(),
        interval,
        count: DoseCount::Doses(doses),
        infusion,
    }
}

#[test]
fn every_statement_lowers_to_its_engine_value() {
    let (l, _) = fixture("ok/every_statement.mido");
    let s = &l.scenario;
    assert_eq!(s.seed, 7);
    assert_eq!(
        s.variability,
        Variability {
            between_subject: true,
            residual: true,
            parameter_uncertainty: false,
            replicates: 2
        }
    );
    assert_eq!(
        s.sampling,
        Sampling {
            step: 1.0,
            end: Some(720.0)
        }
    );
    assert_eq!(s.options.metrics.auc, AucMethod::Exact);

    let fixed = DoseAmount::Fixed;
    assert_eq!(
        regimen(s, "QD").blocks,
        vec![Block::Phase(phase(fixed(5.0), 24.0, 28, None))]
    );
    // A loading dose lasts until the maintenance starts, one interval later.
    assert_eq!(
        regimen(s, "load").blocks,
        vec![
            Block::Phase(phase(fixed(10.0), 24.0, 1, None)),
            Block::Phase(phase(fixed(5.0), 24.0, 27, None)),
        ]
    );
    // `then` keeps the compartment and interval.
    assert_eq!(
        regimen(s, "titrate").blocks,
        vec![
            Block::Phase(phase(fixed(2.5), 24.0, 7, None)),
            Block::Phase(phase(fixed(5.0), 24.0, 21, None)),
        ]
    );
    assert_eq!(
        regimen(s, "3 on 1 off").blocks,
        vec![Block::Cycle {
            length: 672.0,
            repeat: 1,
            phases: vec![phase(fixed(10.0), 24.0, 21, None)]
        }]
    );
    assert_eq!(
        regimen(s, "infusion").blocks,
        vec![Block::Phase(phase(fixed(60.0), 168.0, 4, Some(1.0)))]
    );
    assert_eq!(
        regimen(s, "per kg").blocks,
        vec![Block::Phase(phase(
            DoseAmount::PerUnit {
                covariate: "WT".into(),
                per_unit: 0.1
            },
            24.0,
            28,
            None
        ))]
    );
    let Block::Phase(bands) = &regimen(s, "bands").blocks[0] else {
        panic!("not a phase")
    };
    assert_eq!(
        bands.amount,
        DoseAmount::Bands {
            covariate: "WT".into(),
            bands: vec![
                DoseBand {
                    from: f64::NEG_INFINITY,
                    amount: 4.0
                },
                DoseBand {
                    from: 60.0,
                    amount: 5.0
                },
                DoseBand {
                    from: 90.0,
                    amount: 6.0
                },
            ]
        }
    );
    assert_eq!(
        regimen(s, "adjust").rules,
        vec![DoseRule {
            variable: "cp".into(),
            comparison: Comparison::Above,
            limit: 0.2,
            action: RuleAction::ReduceBy(2.5)
        }]
    );
    // A single dose in a cycle lasts to the cycle's end.
    assert_eq!(
        regimen(s, "q3w").blocks,
        vec![Block::Cycle {
            length: 504.0,
            repeat: 2,
            phases: vec![phase(fixed(60.0), 504.0, 1, Some(1.0))]
        }]
    );
    assert_eq!(
        regimen(s, "interrupt").rules,
        vec![DoseRule {
            variable: "p_ae".into(),
            comparison: Comparison::Above,
            limit: 0.018,
            action: RuleAction::Skip
        }]
    );
    // A later start leaves a pause: the first phase becomes a one-repeat cycle.
    assert_eq!(
        regimen(s, "pause").blocks,
        vec![
            Block::Cycle {
                length: 336.0,
                repeat: 1,
                phases: vec![phase(fixed(5.0), 24.0, 7, None)]
            },
            Block::Phase(phase(fixed(5.0), 24.0, 14, None)),
        ]
    );

    let metric = |name: &str| {
        s.metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(metric("above").kind, MetricKind::TimeAbove(0.05));
    assert_eq!(
        metric("below").window,
        Window::Range {
            from: 0.0,
            to: 48.0
        }
    );
    assert_eq!(metric("c2h").kind, MetricKind::ValueAt(2.0));
    assert_eq!(metric("ctrough_ss").window, Window::SteadyState);
    assert_eq!(metric("tmax_1").kind, MetricKind::TimeOfMax);
    assert_eq!(metric("p_ae_peak").variable, "p_ae");

    let target = |name: &str| {
        s.targets
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(target("exposure").condition, Condition::Between(1.0, 10.0));
    assert_eq!(target("exposure").fraction, 0.5);
    assert_eq!(target("safety").kind, TargetKind::Safety);
    assert_eq!(target("safety").fraction, 0.95);

    let adults = &s.populations[0];
    assert_eq!(adults.size, 50);
    assert_eq!(
        adults.subgroups[0].predicate,
        Predicate::All(vec![
            Predicate::Range {
                covariate: "WT".into(),
                from: f64::NEG_INFINITY,
                to: 60.0
            },
            Predicate::Level {
                covariate: "SEX".into(),
                level: "female".into()
            },
        ])
    );
    // `(A or B) and C` in disjunctive normal form: `(A and C) or (B and C)`.
    let female = Predicate::Level {
        covariate: "SEX".into(),
        level: "female".into(),
    };
    let wt = |from: f64, to: f64| Predicate::Range {
        covariate: "WT".into(),
        from,
        to,
    };
    assert_eq!(
        adults.subgroups[3].predicate,
        Predicate::Any(vec![
            Predicate::All(vec![wt(f64::NEG_INFINITY, 50.0), female.clone()]),
            Predicate::All(vec![
                wt(f64::from_bits(100f64.to_bits() + 1), f64::INFINITY),
                female
            ]),
        ])
    );
    let CovariateSource::Distributions { covariates, .. } = &adults.covariates else {
        panic!("not drawn")
    };
    assert_eq!(
        covariates[0].distribution,
        Distribution::LogNormal {
            median: 70.0,
            cv: 0.2
        }
    );
    assert_eq!(covariates[0].within, Some((40.0, 150.0)));
    assert_eq!(
        s.subgroup_comparisons,
        vec![SubgroupComparison {
            metric: "auc_ss".into(),
            reference: "others".into()
        }]
    );
    let (name, search) = &l.searches[0];
    assert_eq!(name, "dose_finding");
    assert_eq!(search.space, SearchSpace::Strengths(vec![2.5, 5.0, 10.0]));
    assert_eq!(
        (search.efficacy.as_str(), search.safety.as_str()),
        ("efficacy", "safety")
    );
}

const IV: &str = r#"model iv
fixed {
  tv_cl = 2 in (0, ) [L/h]
  tv_v  = 10 in (0, ) [L]
  sd = 0.1 in (0, )
}
individual {
  cl = tv_cl
  v = tv_v
}
compartments { central [mg] dose }
pk one_compartment(cl = cl, v = v)
observe {
  cp [mg/L] = central / v
  DV ~ proportional(cp, sd)
}
"#;

#[test]
fn units_convert_to_the_models() {
    let src = r#"scenario units {
      model = "iv.mido"
      time_unit = d
      variability = none
      population one 1 {}
      regimen "BID" { dose 0.1 [g] every 12 [h] for 2 [wk] }
      metrics { c = trough(cp) over last interval }
      targets { efficacy: c >= 200 [ng/mL] in at least 50% }
    }"#;
    let (l, _) = lowered(src, IV);
    let s = &l.scenario;
    assert_eq!(
        s.regimens[0].blocks,
        vec![Block::Phase(Phase {
            amount: DoseAmount::Fixed(100.0),
            into: "central".into(),
            interval: 0.5,
            count: DoseCount::Doses(28),
            infusion: None,
        })]
    );
    let Condition::AtLeast(limit) = s.targets[0].condition else {
        panic!("not at least")
    };
    assert!(
        (limit - 0.2).abs() < 1e-15,
        "200 ng/mL is 0.2 mg/L, got {limit}"
    );
    assert_eq!(s.sampling.step, 1.0 / 24.0);
}

#[test]
fn steady_state_metrics_equal_their_closed_forms_through_the_language() {
    let src = r#"scenario closed_form {
      model = "iv.mido"
      variability = none
      auc = exact
      sampling = 1 [h]
      population typical 3 {}
      regimen "100 mg q12h" { dose 100 [mg] every 12 [h] for 10 [d] }
      metrics {
        auc_tau = auc(cp) over steady state
        cmax    = max(cp) over steady state
        ctrough = trough(cp) over steady state
        cavg    = cavg(cp) over steady state
      }
    }"#;
    let (l, model) = lowered(src, IV);
    let x = explore(model.as_ref(), &l.scenario).expect("explores");
    let row = &x.rows[0];
    let (dose, cl, v, tau): (f64, f64, f64, f64) = (100.0, 2.0, 10.0, 12.0);
    let k = cl / v;
    let cmax = dose / v / (1.0 - (-k * tau).exp());
    let expected = [
        ("auc_tau", dose / cl),
        ("cmax", cmax),
        ("ctrough", cmax * (-k * tau).exp()),
        ("cavg", dose / cl / tau),
    ];
    for (name, want) in expected {
        let m = row.metrics.iter().find(|m| m.name == name).expect("metric");
        assert!(
            ((m.median - want) / want).abs() < 1e-6,
            "{name}: {} vs closed form {want}",
            m.median
        );
        // No variability: every subject is the same.
        assert_eq!(m.p5, m.p95);
    }
}

#[test]
fn every_statement_runs_in_the_engine() {
    let (l, model) = fixture("ok/every_statement.mido");
    let x = explore(model.as_ref(), &l.scenario).unwrap_or_else(|e| panic!("{e}"));
    // 11 regimens × (adults, its 4 subgroups, fixed weight).
    assert_eq!(x.rows.len(), 11 * 6);
    assert_eq!(x.recommendations.len(), 2);
    // Rules act: the interrupted regimen gives less than the plain one.
    let dose = |r: &str| {
        x.rows
            .iter()
            .find(|row| row.regimen == r && row.subgroup.is_none())
            .map(|row| row.total_dose)
    };
    assert_eq!(dose("QD"), Some(5.0 * 28.0));
    assert!(dose("interrupt").expect("row") < 5.0 * 28.0);
    assert_eq!(dose("q3w"), Some(120.0));
    let (_, search) = &l.searches[0];
    let outcome = optimize(model.as_ref(), &l.scenario, search).expect("search");
    assert_eq!(outcome.evaluated.len(), 3);
}

/// An estimates.json as `mido fit` writes it, for the IV model.
fn estimates(with_covariance: bool) -> String {
    let covariance = if with_covariance {
        r#"{"status": "ok", "kind": "sandwich", "parameters": ["tv_cl", "tv_v"], "matrix": [[0.01, 0.0], [0.0, 0.25]]}"#
    } else {
        r#"{"status": "not requested"}"#
    };
    format!(
        r#"{{"format": "mido-estimates-1",
  "theta": [{{"name": "tv_cl", "estimate": 2.5}}, {{"name": "tv_v", "estimate": 12}}, {{"name": "sd", "estimate": 0.2}}],
  "omega_matrix": {{"etas": [], "values": []}},
  "covariance": {covariance}}}"#
    )
}

#[test]
fn parameters_come_from_the_estimates_file() {
    let dir = std::env::temp_dir().join(format!("mido-lowering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("fit.json"), estimates(true)).expect("write");
    std::fs::write(dir.join("plain.json"), estimates(false)).expect("write");
    let scenario = |params: &str| {
        format!(
            r#"scenario fitted {{
      model = "iv.mido"
      params = "{params}"
      uncertainty = covariance 5
      population one 2 {{}}
      regimen "QD" {{ dose 100 [mg] every 24 [h] for 2 [d] }}
      metrics {{ auc = auc(cp) over last interval }}
    }}"#
        )
    };
    let load = |src: &str| {
        let checked = compile_scenario(src, |_| {
            mido::compiler::compile_source(IV)
                .model
                .ok_or_else(|| "model".to_string())
        });
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let (Some(s), Some(ir)) = (checked.scenario, checked.model) else {
            panic!("no scenario")
        };
        let model = mido::compiler::lower_to_engine(ir, mido::compiler::Engine::Jit)
            .unwrap_or_else(|_| panic!("model"));
        let inputs = read_inputs(&s, model.info(), &dir);
        (s, model, inputs)
    };
    let (s, _, inputs) = load(&scenario("fit.json"));
    let inputs = inputs.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(inputs.parameters.theta, vec![2.5, 12.0, 0.2]);
    assert!(inputs
        .params_file
        .as_ref()
        .is_some_and(|f| f.sha256.len() == 64));
    let l = lower(&s, inputs);
    assert!(l.scenario.variability.parameter_uncertainty);
    assert_eq!(l.scenario.variability.replicates, 5);
    let cov = l
        .scenario
        .parameters
        .theta_covariance
        .as_ref()
        .expect("covariance");
    assert_eq!(cov.thetas, vec![0, 1]);
    // Uncertainty without a covariance step is a diagnostic at the path.
    let (_, _, inputs) = load(&scenario("plain.json"));
    let Err(errors) = inputs else {
        panic!("accepted a fit without covariance")
    };
    let text = errors[0].diagnostic().message;
    assert!(text.contains("plain.json"), "{text}");
    // So is a missing file.
    let (_, _, inputs) = load(&scenario("absent.json"));
    assert!(matches!(inputs.as_ref().map(|_| ()), Err(e) if e[0].code() == "E0533"));
}

/// `intervals` in `optimize`: with no variability the longest interval at
/// which some dose meets both targets follows from the closed forms.
/// Steady state of a one-compartment IV bolus every τ: Ctrough ≥ 1 mg/L
/// needs D ≥ V(e^{kτ} − 1), Cmax ≤ 20 mg/L needs D ≤ 20·V(1 − e^{−kτ});
/// both hold for some D iff e^{kτ} ≤ 20, τ ≤ ln 20 / k = 14.98 h (k = 0.2/h).
#[test]
fn the_dose_search_chooses_the_longest_feasible_interval() {
    let src = r#"scenario interval_search {
      model = "iv.mido"
      variability = none
      population typical 2 {}
      regimen "q24" { dose 50 [mg] every 24 [h] for 10 [d] }
      metrics {
        ctrough = trough(cp) over last interval
        cmax    = max(cp) over last interval
      }
      targets {
        efficacy: ctrough >= 1 [mg/L] in at least 90%
        safety:   cmax <= 20 [mg/L] in at least 90%
      }
      optimize "interval" {
        regimen = "q24"
        efficacy = efficacy
        safety = safety
        doses = 1 [mg] to 500 [mg]
        intervals = 8 [h], 0.5 [d], 24 [h]
      }
    }"#;
    let (l, model) = lowered(src, IV);
    let (_, search) = &l.searches[0];
    assert_eq!(search.intervals, vec![8.0, 12.0, 24.0]);
    let outcome = optimize(model.as_ref(), &l.scenario, search).expect("search");
    assert_eq!(outcome.interval, Some(12.0));
    assert!(outcome.effective);
    let (v, k) = (10.0f64, 0.2f64);
    for io in &outcome.intervals {
        let lowest = v * ((k * io.interval).exp() - 1.0);
        let highest = 20.0 * v * (1.0 - (-k * io.interval).exp());
        assert_eq!(
            io.effective,
            lowest <= highest,
            "τ = {}: {io:?}",
            io.interval
        );
    }
}

/// `responses = METRIC`: the metric's per-subject values are
/// probabilities, summarized per row as their mean (the expected fraction
/// of subjects with the event). Here a logistic adverse-event probability
/// of the concentration, with 30% variability on clearance.
#[test]
fn responses_summarize_probability_metrics() {
    let model = IV
        .replace(
            "individual {\n  cl = tv_cl\n",
            "random subject { eta_cl ~ normal(0, 0.09) }\nindividual {\n  cl = tv_cl * exp(eta_cl)\n",
        )
        .replace(
            "  cp [mg/L] = central / v\n",
            "  cp [mg/L] = central / v\n  p_ae = 1 / (1 + exp(-(cp / 1 [mg/L] - 8)))\n",
        );
    let src = r#"scenario responses {
      model = "iv.mido"
      responses = p_ae_max
      population adults 200 {}
      regimen "100 mg q12h" { dose 100 [mg] every 12 [h] for 5 [d] }
      metrics {
        p_ae_max = max(p_ae) over last interval
        cmax = max(cp) over last interval
      }
    }"#;
    let (l, model) = lowered(src, &model);
    assert_eq!(
        l.scenario.responses,
        vec![Response {
            name: "p_ae_max".into(),
            metric: "p_ae_max".into()
        }]
    );
    let x = explore(model.as_ref(), &l.scenario).expect("explores");
    let row = &x.rows[0];
    let mean = row
        .metrics
        .iter()
        .find(|m| m.name == "p_ae_max")
        .expect("metric")
        .mean;
    let r = &row.responses[0];
    assert_eq!(r.name, "p_ae_max");
    assert!(
        (r.probability - mean).abs() < 1e-12,
        "{} vs {mean}",
        r.probability
    );
    assert!(r.probability > 0.0 && r.probability < 1.0);

    // A response naming no metric is reported where it is written.
    let bad = src.replace("responses = p_ae_max", "responses = p_ae_mx");
    let checked = compile_scenario(&bad, |_| {
        mido::compiler::compile_source(&model_text_for_errors())
            .model
            .ok_or_else(|| "model errors".to_string())
    });
    let text = render_plain(&checked.diagnostics, "scenario.mido", &bad);
    assert!(
        text.contains("p_ae_mx") && text.contains("p_ae_max"),
        "{text}"
    );
}

/// The model of `responses_summarize_probability_metrics`, for the error
/// check (the scenario checker needs `p_ae` to exist).
fn model_text_for_errors() -> String {
    IV.replace(
        "  cp [mg/L] = central / v\n",
        "  cp [mg/L] = central / v\n  p_ae = 1 / (1 + exp(-(cp / 1 [mg/L] - 8)))\n",
    )
}

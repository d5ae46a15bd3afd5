//! Closed-form linear models (`pk ...`) against the ODEs they generate:
//! every kind, on a design with boluses, infusions, ADDL, lag and steady
//! state, agrees to 1e-6 relative.

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::simulate::{simulate, SimOptions};
use mido::runtime::solver::SolverOptions;

fn model(kind: &str, args: &str, compartments: &[&str]) -> String {
    let cmts: String = compartments
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                format!("  {c} dose {{ lag = 0.5 }}\n")
            } else {
                format!("  {c} dose\n")
            }
        })
        .collect();
    let central = if kind.ends_with("_oral") {
        compartments[1]
    } else {
        compartments[0]
    };
    format!(
        "model m\nfixed {{\n  tv_cl = 3 in (0, )\n  tv_v = 20 in (0, )\n  sd = 0.1 fixed\n}}\n\
         random subject {{ eta_cl ~ normal(0, 0.1) }}\n\
         individual {{\n  ka = 1.3\n  cl = tv_cl * exp(eta_cl)\n  v = tv_v\n  v1 = tv_v\n  q = 2\n  v2 = 40\n  q2 = 2\n  q3 = 0.5\n  v3 = 100\n}}\n\
         compartments {{\n{cmts}}}\n\
         pk {kind}({args})\n\
         observe {{\n  cp = {central} / v\n  DV ~ normal(cp, sd)\n}}\n"
    )
}

/// Doses into CMT 1 (with its lag) and CMT 2, bolus and infusion, ADDL and
/// steady state, observed densely.
fn design(n_states: usize) -> String {
    let mut rows = vec!["ID,TIME,AMT,RATE,II,ADDL,SS,EVID,CMT".to_string()];
    for id in 1..=3 {
        let mut timed: Vec<(f64, String)> = vec![
            (0.0, format!("{id},0,100,0,12,3,0,1,1")),
            (30.0, format!("{id},30,50,25,0,0,0,1,{}", n_states.min(2))),
            (60.0, format!("{id},60,80,0,24,1,1,1,1")),
        ];
        for k in 0..=110 {
            let t = f64::from(k) * 0.9;
            timed.push((t, format!("{id},{t},.,.,.,.,.,0,1")));
        }
        // Stable: at equal times the dose rows, listed first, stay first.
        timed.sort_by(|a, b| a.0.total_cmp(&b.0));
        rows.extend(timed.into_iter().map(|(_, r)| r));
    }
    rows.join("\n") + "\n"
}

fn agree(kind: &str, args: &str, compartments: &[&str]) {
    let src = model(kind, args, compartments);
    let m = compile_model(&src, Engine::Jit).unwrap_or_else(|_| panic!("{kind} compiles:\n{src}"));
    let text = design(compartments.len());
    let data = Dataset::parse(&text, "design.csv", &DataSpec::from_info(m.info()))
        .unwrap_or_else(|e| panic!("invalid design: {e}"));
    let theta = m.info().theta_init();
    let run = |closed_form| {
        let opts = SimOptions {
            seed: 5,
            closed_form,
            solver: SolverOptions {
                rtol: 1e-11,
                atol: 1e-13,
                ..SolverOptions::default()
            },
            ..SimOptions::default()
        };
        simulate(m.as_ref(), &data, &theta, &opts).expect("simulates")
    };
    let (exact, ode) = (run(true), run(false));
    for (a, b) in exact.rows.iter().zip(&ode.rows) {
        let tol = 1e-6 * a.ipred.abs().max(b.ipred.abs()) + 1e-10;
        assert!(
            (a.ipred - b.ipred).abs() <= tol,
            "{kind}: ID {} t {}: closed form {} vs ODE {}",
            a.id,
            a.time,
            a.ipred,
            b.ipred
        );
        assert!(
            (a.pred - b.pred).abs() <= 1e-6 * a.pred.abs().max(b.pred.abs()) + 1e-10,
            "{kind} PRED"
        );
    }
    assert!(
        exact.rows.iter().any(|r| r.ipred > 1.0),
        "{kind}: the design produces concentrations"
    );
    assert_eq!(
        exact.stats.rhs_evals, 0,
        "{kind}: the closed form never evaluates the ODEs"
    );
}

#[test]
fn one_compartment_closed_form_matches_its_odes() {
    agree("one_compartment", "cl = cl, v = v", &["central"]);
}

#[test]
fn one_compartment_oral_closed_form_matches_its_odes() {
    agree(
        "one_compartment_oral",
        "ka = ka, cl = cl, v = v",
        &["depot", "central"],
    );
}

#[test]
fn two_compartment_closed_form_matches_its_odes() {
    agree(
        "two_compartment",
        "cl = cl, v1 = v1, q = q, v2 = v2",
        &["central", "periph"],
    );
}

#[test]
fn two_compartment_oral_closed_form_matches_its_odes() {
    agree(
        "two_compartment_oral",
        "ka = ka, cl = cl, v1 = v1, q = q, v2 = v2",
        &["depot", "central", "periph"],
    );
}

#[test]
fn three_compartment_closed_form_matches_its_odes() {
    agree(
        "three_compartment",
        "cl = cl, v1 = v1, q2 = q2, v2 = v2, q3 = q3, v3 = v3",
        &["central", "p2", "p3"],
    );
}

#[test]
fn three_compartment_oral_closed_form_matches_its_odes() {
    agree(
        "three_compartment_oral",
        "ka = ka, cl = cl, v1 = v1, q2 = q2, v2 = v2, q3 = q3, v3 = v3",
        &["depot", "central", "p2", "p3"],
    );
}

//! Simulation benchmark, every path in one run (`cargo bench --bench
//! simulate`):
//!
//! 1. 1,000 subjects of a two-compartment oral model (30% variability on CL
//!    and V1), 100 mg daily for 28 days, hourly observations (673 per
//!    subject): the closed form (`pk two_compartment_oral`) against the same
//!    model's generated ODEs with the explicit (DOP853) and the
//!    stiff (Rodas4) solver.
//! 2. A stiff full target-mediated disposition model (fast binding), 100
//!    subjects: explicit against stiff and automatic.
//!
//! Each configuration runs three times; the median wall time is reported
//! with the solver's work counts and the ratio to the first row.

use mido::compiler::{compile_model, Engine};
use mido::runtime::data::{DataSpec, Dataset};
use mido::runtime::model::Model;
use mido::runtime::simulate::{simulate, SimOptions};
use mido::runtime::solver::{Method, SolverOptions};
use std::time::Instant;

/// The issue-6 two-compartment oral model (closed form), shared with
/// benches/explore.rs.
const TWO_CPT: &str = include_str!("two_cpt_oral.mido");

const TMDD: &str = r#"model tmdd_full
  "Full TMDD with fast binding: free drug (amount), free target (deviation
   from its baseline r0) and complex, in nM and hours."
fixed {
  tv_kel = 0.1 fixed
  tv_v = 3 fixed
  kon = 100 fixed
  koff = 1 fixed
  kint = 0.1 fixed
  kdeg = 0.5 fixed
  tv_r0 = 10 fixed
  sd = 0.1 fixed
}
random subject {
  eta_kel ~ normal(0, 0.09)
  eta_r0 ~ normal(0, 0.09)
}
individual {
  kel = tv_kel * exp(eta_kel)
  v = tv_v
  r0 = tv_r0 * exp(eta_r0)
}
compartments {
  drug dose
  target
  complex
}
dynamics {
  c = drug / v
  r = r0 + target
  binding = kon * c * r - koff * complex
  d/dt(drug)    = -kel * drug - binding * v
  d/dt(target)  = -kdeg * target - binding
  d/dt(complex) = binding - kint * complex
}
observe {
  cfree = drug / v
  DV ~ normal(cfree, sd)
}
"#;

fn design(
    subjects: usize,
    dose: f64,
    interval: f64,
    doses: u32,
    obs_step: f64,
    obs_end: f64,
) -> String {
    let mut rows = vec!["ID,TIME,AMT,II,ADDL,EVID,CMT".to_string()];
    let n_obs = (obs_end / obs_step).round() as usize;
    for id in 1..=subjects {
        rows.push(format!("{id},0,{dose},{interval},{},1,1", doses - 1));
        for k in 0..=n_obs {
            rows.push(format!("{id},{},.,.,.,0,1", k as f64 * obs_step));
        }
    }
    rows.join("\n") + "\n"
}

struct Row {
    label: &'static str,
    seconds: f64,
    accepted: u64,
    rhs: u64,
    jac: u64,
}

fn run(
    model: &dyn Model,
    data: &Dataset,
    label: &'static str,
    closed_form: bool,
    method: Method,
) -> Row {
    let opts = SimOptions {
        seed: 1,
        closed_form,
        solver: SolverOptions {
            rtol: 1e-6,
            atol: 1e-9,
            method,
            ..SolverOptions::default()
        },
        ..SimOptions::default()
    };
    let theta = model.info().theta_init();
    let mut times = Vec::new();
    let mut stats = None;
    for _ in 0..3 {
        let start = Instant::now();
        let table = simulate(model, data, &theta, &opts).expect("simulates");
        times.push(start.elapsed().as_secs_f64());
        stats = Some(table.stats);
    }
    times.sort_by(f64::total_cmp);
    let s = stats.unwrap_or_default();
    Row {
        label,
        seconds: times[1],
        accepted: s.accepted,
        rhs: s.rhs_evals,
        jac: s.jac_evals,
    }
}

fn print(title: &str, rows: &[Row]) {
    println!("\n{title}\n");
    println!("| path | median time | ratio | accepted steps | RHS evaluations | Jacobians |");
    println!("|---|---|---|---|---|---|");
    let base = rows[0].seconds;
    for r in rows {
        println!(
            "| {} | {:.3} s | {:.1} | {} | {} | {} |",
            r.label,
            r.seconds,
            r.seconds / base,
            r.accepted,
            r.rhs,
            r.jac
        );
    }
}

fn main() {
    let two = compile_model(TWO_CPT, Engine::Jit).unwrap_or_else(|_| panic!("two_cpt compiles"));
    let text = design(1000, 100.0, 24.0, 28, 1.0, 672.0);
    let data = Dataset::parse(&text, "design", &DataSpec::from_info(two.info())).expect("design");
    let rows = vec![
        run(two.as_ref(), &data, "closed form", true, Method::Auto),
        run(
            two.as_ref(),
            &data,
            "ODE, explicit (DOP853)",
            false,
            Method::Explicit,
        ),
        run(
            two.as_ref(),
            &data,
            "ODE, stiff (Rodas4)",
            false,
            Method::Stiff,
        ),
    ];
    print(
        "Two-compartment oral, 1,000 subjects, 100 mg every 24 h for 28 days, 673 observations each (rtol 1e-6)",
        &rows,
    );

    let tmdd = compile_model(TMDD, Engine::Jit).unwrap_or_else(|_| panic!("tmdd compiles"));
    let text = design(100, 300.0, 168.0, 4, 2.0, 672.0);
    let data = Dataset::parse(&text, "design", &DataSpec::from_info(tmdd.info())).expect("design");
    let rows = vec![
        run(tmdd.as_ref(), &data, "stiff (Rodas4)", false, Method::Stiff),
        run(tmdd.as_ref(), &data, "automatic", false, Method::Auto),
        run(
            tmdd.as_ref(),
            &data,
            "explicit (DOP853)",
            false,
            Method::Explicit,
        ),
    ];
    print("Full TMDD (kon 100 /nM/h), 100 subjects, 300 nmol weekly ×4, every 2 h to 672 h (rtol 1e-6)", &rows);
}

//! Simulated typical predictions against closed-form PK solutions.

mod common;

use common::{assert_close, typical, OneCompIv, OneCompOral};

// OneCompIv typical values: CL 2, V 10 → k = 0.2.
const CL: f64 = 2.0;
const V: f64 = 10.0;
const K: f64 = CL / V;
const KA: f64 = 1.2;

fn bolus_conc(dose: f64, t: f64) -> f64 {
    if t < 0.0 {
        0.0
    } else {
        dose / V * (-K * t).exp()
    }
}

/// Concentration `t` after the start of an infusion of `rate` lasting `dur`.
fn infusion_conc(rate: f64, dur: f64, t: f64) -> f64 {
    if t <= 0.0 {
        0.0
    } else if t <= dur {
        rate / (K * V) * (1.0 - (-K * t).exp())
    } else {
        rate / (K * V) * (1.0 - (-K * dur).exp()) * (-K * (t - dur)).exp()
    }
}

/// Bateman function: oral dose `dose` (after F), `t` after arrival.
fn bateman(dose: f64, t: f64) -> f64 {
    if t <= 0.0 {
        0.0
    } else {
        dose * KA / (V * (KA - K)) * ((-K * t).exp() - (-KA * t).exp())
    }
}

const TIMES: [f64; 9] = [0.25, 0.5, 1.0, 2.0, 3.5, 6.0, 12.0, 24.0, 48.0];

fn obs_rows(times: &[f64]) -> String {
    times.iter().map(|t| format!("1,{t},.,0,0\n")).collect()
}

#[test]
fn one_compartment_bolus_matches_exponential_decay() {
    let model = OneCompIv::new();
    let csv = format!("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n{}", obs_rows(&TIMES));
    let table = typical(&model, &csv);
    assert_close(
        table.rows[0].pred,
        bolus_conc(100.0, 0.0),
        "dose row sees its dose",
    );
    for row in &table.rows[1..] {
        assert_close(row.pred, bolus_conc(100.0, row.time), "bolus");
        assert_close(row.outputs[0], row.pred, "CONC output");
    }
}

#[test]
fn zero_order_infusion_matches_closed_form_during_and_after() {
    let model = OneCompIv::new();
    // 100 over 2 h at rate 50.
    let csv = format!("ID,TIME,DV,AMT,EVID,RATE\n1,0,.,100,1,50\n{}", {
        TIMES
            .iter()
            .chain(&[2.0, 2.0001])
            .map(|t| format!("1,{t},.,0,0,.\n"))
            .collect::<String>()
    });
    let csv = sort_rows(&csv);
    let table = typical(&model, &csv);
    for row in &table.rows {
        assert_close(row.pred, infusion_conc(50.0, 2.0, row.time), "infusion");
    }
}

#[test]
fn first_order_absorption_matches_bateman() {
    let model = OneCompOral::new(1.0, 0.0);
    let csv = format!("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n{}", obs_rows(&TIMES));
    let table = typical(&model, &csv);
    for row in &table.rows[1..] {
        assert_close(row.pred, bateman(100.0, row.time), "bateman");
        let depot = 100.0 * (-KA * row.time).exp();
        // Below atol (1e-10) only absolute accuracy is promised.
        if depot > 1e-3 {
            assert_close(row.outputs[1], depot, "depot amount");
        } else {
            assert!((row.outputs[1] - depot).abs() < 1e-8, "depot near 0");
        }
    }
}

#[test]
fn multiple_bolus_doses_via_addl_match_superposition() {
    let model = OneCompIv::new();
    let times = [1.0, 11.999, 12.0, 13.0, 30.0, 36.0, 47.5, 60.0];
    // An observation at exactly a dose time (12) sees the implied dose.
    let csv = format!(
        "ID,TIME,DV,AMT,EVID,II,ADDL\n1,0,.,100,1,12,3\n{}",
        times
            .iter()
            .map(|t| format!("1,{t},.,0,0,.,.\n"))
            .collect::<String>()
    );
    let table = typical(&model, &csv);
    for row in &table.rows[1..] {
        let want: f64 = (0..4)
            .map(|k| bolus_conc(100.0, row.time - 12.0 * k as f64))
            .sum();
        assert_close(row.pred, want, &format!("superposition at t={}", row.time));
    }
}

#[test]
fn infusion_with_addl_matches_superposition() {
    let model = OneCompIv::new();
    // 60 at rate 20 (3 h) every 8 h, 4 doses.
    let times = [1.0, 3.0, 5.0, 8.0, 9.5, 16.0, 26.0, 30.0, 40.0];
    let csv = format!(
        "ID,TIME,DV,AMT,EVID,RATE,II,ADDL\n1,0,.,60,1,20,8,3\n{}",
        times
            .iter()
            .map(|t| format!("1,{t},.,0,0,.,.,.\n"))
            .collect::<String>()
    );
    let table = typical(&model, &csv);
    for row in &table.rows[1..] {
        let want: f64 = (0..4)
            .map(|k| infusion_conc(20.0, 3.0, row.time - 8.0 * k as f64))
            .sum();
        assert_close(
            row.pred,
            want,
            &format!("infusion superposition at t={}", row.time),
        );
    }
}

#[test]
fn bioavailability_scales_and_lag_delays_an_oral_bolus() {
    let model = OneCompOral::new(0.6, 0.75);
    let times = [0.5, 0.75, 1.0, 2.0, 6.0, 24.0];
    let csv = format!("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n{}", obs_rows(&times));
    let table = typical(&model, &csv);
    assert_close(table.rows[0].pred, 0.0, "nothing arrives before the lag");
    for row in &table.rows[1..] {
        assert_close(row.pred, bateman(60.0, row.time - 0.75), "F and lag");
    }
    // The lagged dose arrives before the observation at the arrival time.
    assert_close(table.rows[2].outputs[1], 60.0, "depot at arrival");
}

#[test]
fn bioavailability_and_lag_on_iv_bolus() {
    let mut model = OneCompIv::new();
    model.f = 0.5;
    model.lag = 2.0;
    let csv = format!("ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n{}", obs_rows(&TIMES));
    let table = typical(&model, &csv);
    for row in &table.rows[1..] {
        assert_close(row.pred, bolus_conc(50.0, row.time - 2.0), "F·dose, lagged");
    }
}

#[test]
fn infusion_with_bioavailability_lengthens_duration() {
    let mut model = OneCompIv::new();
    model.f = 1.5;
    // 100 at rate 50: 2 h nominally, 3 h with F = 1.5 (rate unchanged).
    let times = [1.0, 2.0, 2.5, 3.0, 4.0, 10.0];
    let csv = format!(
        "ID,TIME,DV,AMT,EVID,RATE\n1,0,.,100,1,50\n{}",
        times
            .iter()
            .map(|t| format!("1,{t},.,0,0,.\n"))
            .collect::<String>()
    );
    let table = typical(&model, &csv);
    for row in &table.rows[1..] {
        assert_close(
            row.pred,
            infusion_conc(50.0, 3.0, row.time),
            "F lengthens infusion",
        );
    }
}

#[test]
fn observation_before_a_bolus_at_same_time_does_not_see_it() {
    let model = OneCompIv::new();
    let csv = "ID,TIME,AMT,EVID\n1,0,100,1\n1,5,0,0\n1,5,100,1\n1,5,0,0\n";
    let table = typical(&model, csv);
    let before = bolus_conc(100.0, 5.0);
    assert_close(table.rows[1].pred, before, "before second dose");
    assert_close(
        table.rows[2].pred,
        before + 10.0,
        "dose row includes its dose",
    );
    assert_close(table.rows[3].pred, before + 10.0, "after second dose");
}

#[test]
fn dose_into_second_compartment_bypasses_absorption() {
    let model = OneCompOral::new(0.3, 1.0);
    // CMT 2 (central) has default dose props: F 1, no lag.
    let csv = "ID,TIME,AMT,CMT,EVID\n1,0,100,2,1\n1,4,.,.,0\n";
    let table = typical(&model, csv);
    assert_close(
        table.rows[1].pred,
        bolus_conc(100.0, 4.0),
        "IV into central",
    );
}

/// Sorts data rows (after the header) by TIME, keeping dose rows first.
fn sort_rows(csv: &str) -> String {
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows: Vec<&str> = lines.collect();
    let time = |l: &str| l.split(',').nth(1).and_then(|t| t.parse::<f64>().ok());
    rows.sort_by(|a, b| time(a).partial_cmp(&time(b)).expect("numeric times"));
    std::iter::once(header.as_str())
        .chain(rows)
        .map(|l| format!("{l}\n"))
        .collect()
}

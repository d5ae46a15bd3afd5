//! Validation of the dosing-event semantics (docs/data.md) against
//! closed-form superposition computed independently here.
//!
//! Every test runs a small NONMEM-format dataset through
//! `mido_runtime::simulate::simulate` for the typical subject and compares
//! the predictions with textbook one-compartment formulas: bolus
//! `C = D/V·e^{-kt}`, zero-order infusion during and after, the Bateman
//! function for first-order absorption, superposition over every dose, and
//! the steady-state (geometric-series) forms. Tolerance: 1e-6 relative, or
//! 1e-9 absolute near zero.

mod common;

use common::{dataset, typical, OneCompIv, OneCompOral};
use mido_runtime::data::{DataErrorKind, DataSpec, Dataset};
use mido_runtime::events::EventError;
use mido_runtime::model::*;
use mido_runtime::simulate::{simulate, SimError, SimOptions, SimTable};

// Typical values of every model used here: CL 2, V 10 → k = 0.2; KA 1.2.
const CL: f64 = 2.0;
const V: f64 = 10.0;
const K: f64 = CL / V;
const KA: f64 = 1.2;

// ---------------------------------------------------------------------------
// Closed forms
// ---------------------------------------------------------------------------

/// Concentration `s` after a bolus of `d` arrived (the arrival itself
/// included: a dose arriving at a record's time is seen by it).
fn bolus(d: f64, s: f64) -> f64 {
    if s < 0.0 {
        0.0
    } else {
        d / V * (-K * s).exp()
    }
}

/// Concentration `s` after the start of an infusion of `rate` for `dur`.
fn infusion(rate: f64, dur: f64, s: f64) -> f64 {
    if s <= 0.0 {
        0.0
    } else if s <= dur {
        rate / CL * (1.0 - (-K * s).exp())
    } else {
        rate / CL * (1.0 - (-K * dur).exp()) * (-K * (s - dur)).exp()
    }
}

/// Bateman function: oral dose `d` (after F), `s` after it reached the depot.
fn oral(d: f64, s: f64) -> f64 {
    if s <= 0.0 {
        0.0
    } else {
        d * KA / (V * (KA - K)) * ((-K * s).exp() - (-KA * s).exp())
    }
}

/// Time since the latest arrival of a steady-state series whose doses
/// arrive at `u0 + j·tau` relative to now, for all integers j ≤ 0, where
/// `u` is the time since the record's own dose would arrive (negative when
/// it has not yet). Arrivals exactly now count as arrived.
fn since_last_arrival(tau: f64, u: f64) -> f64 {
    let j0 = if u >= 0.0 { 0.0 } else { (-u / tau).ceil() };
    u + j0 * tau
}

/// Steady-state bolus: `D/V·e^{-ks}/(1 - e^{-kτ})`, `s` since the latest
/// arrival (all earlier doses of the infinite series summed).
fn ss_bolus(d: f64, tau: f64, u: f64) -> f64 {
    let s = since_last_arrival(tau, u);
    d / V * (-K * s).exp() / (1.0 - (-K * tau).exp())
}

/// Steady-state first-order absorption:
/// `D·ka/(V(ka-k))·(e^{-ks}/(1-e^{-kτ}) - e^{-ka s}/(1-e^{-ka τ}))`.
fn ss_oral(d: f64, tau: f64, u: f64) -> f64 {
    let s = since_last_arrival(tau, u);
    d * KA / (V * (KA - K))
        * ((-K * s).exp() / (1.0 - (-K * tau).exp()) - (-KA * s).exp() / (1.0 - (-KA * tau).exp()))
}

/// Depot amount at steady state of first-order absorption.
fn ss_depot(d: f64, tau: f64, u: f64) -> f64 {
    let s = since_last_arrival(tau, u);
    d * (-KA * s).exp() / (1.0 - (-KA * tau).exp())
}

/// Steady-state infusion (any duration, overlapping when `dur > tau`): the
/// sum over the series `Σ_j infusion(u + j·τ)`; the members still running
/// (started less than `dur` ago) are added one by one, the finished ones by
/// the geometric series of their post-infusion decay.
fn ss_infusion(rate: f64, dur: f64, tau: f64, u: f64) -> f64 {
    let mut c = 0.0;
    let mut j = 0.0;
    while u + j * tau < dur {
        c += infusion(rate, dur, u + j * tau);
        j += 1.0;
    }
    let s = u + j * tau; // the most recent finished infusion started s ago
    c + rate / CL * (1.0 - (-K * dur).exp()) * (-K * (s - dur)).exp() / (1.0 - (-K * tau).exp())
}

// ---------------------------------------------------------------------------
// Data and checks
// ---------------------------------------------------------------------------

const HDR: &str = "ID,TIME,AMT,RATE,II,ADDL,SS,EVID,CMT";

/// A record of subject 1 with every item of `HDR`.
#[allow(clippy::too_many_arguments)]
fn rec(t: f64, amt: f64, rate: f64, ii: f64, addl: u32, ss: u8, evid: u8, cmt: &str) -> String {
    format!("1,{t},{amt},{rate},{ii},{addl},{ss},{evid},{cmt}")
}

/// A dose (EVID 1) into the default compartment.
fn dose(t: f64, amt: f64, rate: f64, ii: f64, addl: u32, ss: u8) -> String {
    rec(t, amt, rate, ii, addl, ss, 1, ".")
}

fn obs(t: f64) -> String {
    format!("1,{t},.,.,.,.,.,0,.")
}

/// `HDR`, then the given rows in the given order.
fn csv(rows: &[String]) -> String {
    let mut s = format!("{HDR}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// The dose rows merged with observations at `times`, ordered by time
/// (stable: at equal times the dose rows come first).
fn with_obs(doses: &[String], times: &[f64]) -> String {
    let time = |r: &String| -> f64 { r.split(',').nth(1).unwrap().parse().unwrap() };
    let mut rows: Vec<String> = doses.to_vec();
    rows.extend(times.iter().map(|&t| obs(t)));
    rows.sort_by(|a, b| time(a).total_cmp(&time(b)));
    csv(&rows)
}

fn check(got: f64, want: f64, what: &str) {
    let err = (got - want).abs();
    assert!(
        got.is_finite() && (err <= 1e-9 || err <= 1e-6 * want.abs()),
        "{what}: got {got}, want {want} (abs err {err:e}, rel err {:e})",
        err / want.abs()
    );
}

/// Checks the prediction of every row against `want(time)`.
fn check_rows(table: &SimTable, want: impl Fn(f64) -> f64, what: &str) {
    assert!(!table.rows.is_empty());
    for (i, row) in table.rows.iter().enumerate() {
        check(
            row.pred,
            want(row.time),
            &format!("{what}: record {i} at t = {}", row.time),
        );
    }
}

fn run(model: &dyn Model, csv: &str) -> Result<SimTable, SimError> {
    let data = dataset(model, csv);
    let opts = SimOptions {
        typical: true,
        ..SimOptions::default()
    };
    simulate(model, &data, &model.info().theta_init(), &opts)
}

// ---------------------------------------------------------------------------
// A hand-written model with every dose property (and a time-varying
// covariate on CL) — what OneCompIv lacks.
// ---------------------------------------------------------------------------

/// One-compartment IV. Thetas CL 2, V 10, SD 0.5; no etas. With the CRCL
/// covariate (time-varying), `CL = 2·CRCL/100`. Dose properties of central:
/// F (or `CRCL/100` when `f_from_crcl`), lag, modeled rate and duration.
struct Iv {
    info: ModelInfo,
    f: f64,
    lag: f64,
    rate: f64,
    duration: f64,
    f_from_crcl: bool,
}

impl Iv {
    fn new() -> Self {
        Iv::build(vec![])
    }

    fn with_crcl() -> Self {
        Iv::build(vec![CovariateInfo {
            name: "CRCL".into(),
            kind: CovariateKind::Real,
            time_varying: true,
            locf: false,
        }])
    }

    /// As `with_crcl`, with CRCL carried forward (LOCF).
    fn with_crcl_locf() -> Self {
        Iv::build(vec![CovariateInfo {
            name: "CRCL".into(),
            kind: CovariateKind::Real,
            time_varying: true,
            locf: true,
        }])
    }

    fn build(covariates: Vec<CovariateInfo>) -> Self {
        let theta = |name: &str, init: f64| ThetaInfo {
            name: name.into(),
            init,
            lower: 0.0,
            upper: f64::INFINITY,
            fixed: false,
        };
        Iv {
            info: ModelInfo {
                name: "iv_dose_props".into(),
                data_file: None,
                covariates,
                thetas: vec![theta("CL", CL), theta("V", V), theta("SD", 0.5)],
                etas: vec![],
                omegas: vec![],
                params: vec!["cl".into(), "v".into(), "sd".into()],
                states: vec![StateInfo {
                    name: "central".into(),
                    dosable: true,
                }],
                outputs: vec!["CONC".into()],
                endpoints: vec![EndpointInfo::single(ErrorModel::Additive, 1)],
                linear: None,
            },
            f: 1.0,
            lag: 0.0,
            rate: f64::NAN,
            duration: f64::NAN,
            f_from_crcl: false,
        }
    }
}

impl Model for Iv {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, theta: &[f64], _eta: &[f64], cov: &[f64], _t: f64, p: &mut [f64]) {
        p[0] = theta[0] * cov.first().map_or(1.0, |c| c / 100.0);
        p[1] = theta[1];
        p[2] = theta[2];
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dydt: &mut [f64]) {
        dydt[0] = -p[0] / p[1] * y[0];
    }
    fn rhs_jac_y(&self, _t: f64, _y: &[f64], p: &[f64], _cov: &[f64], jac: &mut [f64]) {
        jac[0] = -p[0] / p[1];
    }
    fn dose_props(&self, _t: f64, _p: &[f64], cov: &[f64], out: &mut [DoseProps]) {
        out[0] = DoseProps {
            bioavailability: if self.f_from_crcl {
                cov[0] / 100.0
            } else {
                self.f
            },
            lag: self.lag,
            rate: self.rate,
            duration: self.duration,
        };
    }
    fn observe(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], out: &mut [f64]) {
        let c = y[0] / p[1];
        out[0] = c;
        out[1] = c;
        out[2] = p[2];
    }
}

// ---------------------------------------------------------------------------
// Steady state (SS = 1, 2, 3)
// ---------------------------------------------------------------------------

#[test]
fn ss1_bolus_matches_geometric_series() {
    let model = OneCompIv::new();
    let times = [0.0, 1.0, 6.0, 11.999, 12.0, 20.0, 48.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 0, 1)], &times),
    );
    check_rows(&table, |t| ss_bolus(100.0, 12.0, t), "SS=1 bolus");
    // The dose row itself shows the peak D/V/(1 - e^{-kτ}).
    check(table.rows[0].pred, 10.0 / (1.0 - (-K * 12.0).exp()), "peak");
}

#[test]
fn ss1_bolus_at_a_later_record_time() {
    let model = OneCompIv::new();
    let times = [0.0, 50.0, 51.0, 59.0, 62.0, 80.0];
    let table = typical(
        &model,
        &with_obs(&[dose(50.0, 100.0, 0.0, 8.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| {
            if t < 50.0 {
                0.0
            } else {
                ss_bolus(100.0, 8.0, t - 50.0)
            }
        },
        "SS=1 bolus at t=50",
    );
}

#[test]
fn ss1_bolus_with_lag_shorter_than_interval() {
    let mut model = OneCompIv::new();
    model.lag = 3.0;
    let times = [0.0, 1.0, 2.999, 3.0, 5.0, 12.0, 15.0, 30.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 0, 1)], &times),
    );
    // At the record the latest arrival of the series was 9 h earlier.
    check_rows(
        &table,
        |t| ss_bolus(100.0, 12.0, t - 3.0),
        "SS=1, lag 3 < II 12",
    );
    let trough = 10.0 * (-K * 9.0).exp() / (1.0 - (-K * 12.0).exp());
    check(
        table.rows[0].pred,
        trough,
        "trough at the record: last arrival 9 h ago",
    );
}

#[test]
fn ss1_bolus_with_lag_longer_than_interval() {
    let mut model = OneCompIv::new();
    model.lag = 15.0;
    // Series doses still arrive after the record (at 3 h), then the
    // record's own dose at 15 h.
    let times = [0.0, 2.0, 3.0, 4.0, 14.0, 15.0, 16.0, 27.0, 40.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_bolus(100.0, 12.0, t - 15.0),
        "SS=1, lag 15 > II 12",
    );
}

#[test]
fn ss1_bolus_with_lag_equal_to_interval() {
    let mut model = OneCompIv::new();
    model.lag = 12.0;
    // The dose given 12 h before the record arrives exactly at the record:
    // an implied event at the record's time, so the record sees it.
    let times = [0.0, 6.0, 12.0, 18.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_bolus(100.0, 12.0, t - 12.0),
        "SS=1, lag = II",
    );
}

#[test]
fn ss1_bolus_with_bioavailability() {
    let mut model = OneCompIv::new();
    model.f = 0.4;
    let times = [0.0, 2.0, 7.0, 12.0, 24.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 6.0, 0, 1)], &times),
    );
    check_rows(&table, |t| ss_bolus(40.0, 6.0, t), "SS=1, F 0.4");
}

#[test]
fn ss1_infusion_shorter_than_interval() {
    let model = OneCompIv::new();
    // 100 at 20/h: 5 h every 12 h.
    let times = [0.0, 1.0, 5.0, 7.0, 11.5, 12.0, 17.0, 30.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 20.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(20.0, 5.0, 12.0, t),
        "SS=1 infusion 5 h / 12 h",
    );
    // Geometric closed form of the trough: R/CL·(1-e^{-k·dur})·e^{-k(τ-dur)}/(1-e^{-kτ}).
    let trough =
        20.0 / CL * (1.0 - (-K * 5.0).exp()) * (-K * 7.0).exp() / (1.0 - (-K * 12.0).exp());
    check(table.rows[0].pred, trough, "trough at the SS record");
}

#[test]
fn ss1_infusion_longer_than_interval_overlaps() {
    let model = OneCompIv::new();
    // 300 at 10/h: 30 h every 12 h, so 2–3 infusions always run.
    let times = [
        0.0, 3.0, 6.0, 11.0, 18.0, 24.0, 29.0, 30.0, 36.0, 45.0, 60.0,
    ];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 300.0, 10.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(10.0, 30.0, 12.0, t),
        "SS=1 infusion 30 h / 12 h",
    );
}

#[test]
fn ss1_infusion_with_duration_equal_to_interval_is_a_constant_infusion() {
    let model = OneCompIv::new();
    // 120 at 10/h: 12 h every 12 h = constant input 10/h: C = R/CL until 12 h.
    let times = [0.0, 3.0, 6.0, 12.0, 15.0, 30.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 120.0, 10.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(10.0, 12.0, 12.0, t),
        "SS=1 infusion II = duration",
    );
    for row in table.rows.iter().filter(|r| r.time <= 12.0) {
        check(row.pred, 10.0 / CL, "plateau R/CL");
    }
}

#[test]
fn ss1_infusion_with_bioavailability_lengthens_beyond_interval() {
    let mut model = OneCompIv::new();
    model.f = 1.5;
    // 100·1.5 at 10/h: 15 h every 12 h (the rate stays 10).
    let times = [0.0, 2.0, 3.0, 10.0, 15.0, 20.0, 40.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 10.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(10.0, 15.0, 12.0, t),
        "SS=1 infusion, F 1.5",
    );
}

#[test]
fn ss1_infusion_with_lag_wrapping_the_interval() {
    let mut model = OneCompIv::new();
    model.lag = 9.0;
    // 50 at 10/h (5 h) every 12 h, arriving 9 h late: the previous
    // infusion runs from -3 to 2 h.
    let times = [0.0, 1.0, 2.0, 5.0, 9.0, 12.0, 14.0, 20.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 50.0, 10.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(10.0, 5.0, 12.0, t - 9.0),
        "SS=1 infusion with lag",
    );
}

#[test]
fn ss1_overlapping_infusion_with_lag_longer_than_interval() {
    let mut model = OneCompIv::new();
    model.lag = 15.0;
    // 300 at 10/h (30 h) every 12 h, arriving 15 h late.
    let times = [0.0, 2.0, 3.0, 9.0, 15.0, 21.0, 33.0, 50.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 300.0, 10.0, 12.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_infusion(10.0, 30.0, 12.0, t - 15.0),
        "SS=1 long infusion, lag 15",
    );
}

#[test]
fn ss1_oral_matches_steady_state_bateman() {
    let model = OneCompOral::new(1.0, 0.0);
    let times = [0.0, 0.5, 1.0, 2.0, 6.0, 12.0, 13.0, 24.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 0, 1)], &times),
    );
    check_rows(&table, |t| ss_oral(100.0, 12.0, t), "SS=1 oral");
    for row in &table.rows {
        check(
            row.outputs[1],
            ss_depot(100.0, 12.0, row.time),
            "SS depot amount",
        );
    }
}

#[test]
fn ss1_oral_with_bioavailability_and_lag() {
    let model = OneCompOral::new(0.8, 2.0);
    let times = [0.0, 1.0, 2.0, 3.0, 8.0, 9.0, 20.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 8.0, 0, 1)], &times),
    );
    check_rows(
        &table,
        |t| ss_oral(80.0, 8.0, t - 2.0),
        "SS=1 oral, F 0.8, lag 2",
    );
}

#[test]
fn ss1_modeled_duration() {
    let mut model = Iv::new();
    model.duration = 4.0;
    // RATE = -2: 100 over 4 h (25/h) every 6 h.
    let times = [0.0, 2.0, 4.0, 5.0, 8.0, 20.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -2.0, 6.0, 0, 1)], &times),
    );
    check_rows(&table, |t| ss_infusion(25.0, 4.0, 6.0, t), "SS=1, RATE=-2");
}

#[test]
fn ss1_discards_earlier_doses_and_their_addl() {
    let model = OneCompIv::new();
    let doses = [
        dose(0.0, 1000.0, 0.0, 6.0, 10, 0),
        dose(24.0, 100.0, 0.0, 12.0, 0, 1),
    ];
    let times = [0.0, 12.0, 23.0, 24.0, 30.0, 36.0, 48.0];
    let table = typical(&model, &with_obs(&doses, &times));
    check_rows(
        &table,
        |t| {
            if t < 24.0 {
                (0..=10).map(|m| bolus(1000.0, t - 6.0 * m as f64)).sum()
            } else {
                ss_bolus(100.0, 12.0, t - 24.0)
            }
        },
        "SS=1 resets",
    );
}

#[test]
fn ss3_behaves_as_ss1() {
    let model = OneCompIv::new();
    let doses = [
        dose(0.0, 500.0, 0.0, 0.0, 0, 0),
        dose(5.0, 100.0, 20.0, 12.0, 0, 3),
    ];
    let times = [1.0, 5.0, 8.0, 17.0, 30.0];
    let table = typical(&model, &with_obs(&doses, &times));
    check_rows(
        &table,
        |t| {
            if t < 5.0 {
                bolus(500.0, t)
            } else {
                ss_infusion(20.0, 5.0, 12.0, t - 5.0)
            }
        },
        "SS=3",
    );
}

#[test]
fn ss2_adds_steady_state_to_existing_profile() {
    let model = OneCompIv::new();
    let doses = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        dose(6.0, 50.0, 0.0, 12.0, 0, 2),
    ];
    let times = [0.0, 3.0, 6.0, 10.0, 18.0, 30.0];
    let table = typical(&model, &with_obs(&doses, &times));
    check_rows(
        &table,
        |t| {
            bolus(100.0, t)
                + if t < 6.0 {
                    0.0
                } else {
                    ss_bolus(50.0, 12.0, t - 6.0)
                }
        },
        "SS=2 on top of a bolus",
    );
}

#[test]
fn ss2_infusion_added_to_steady_state_bolus() {
    let model = OneCompIv::new();
    // SS=1 bolus at 0, then an SS=2 infusion (another regimen) at 0 too.
    let doses = [
        dose(0.0, 100.0, 0.0, 12.0, 0, 1),
        dose(0.0, 60.0, 10.0, 24.0, 0, 2),
    ];
    let times = [0.0, 3.0, 6.0, 12.0, 20.0, 30.0];
    let table = typical(&model, &with_obs(&doses, &times));
    // Row 0 is the SS=1 record alone, before the SS=2 record.
    check(
        table.rows[0].pred,
        ss_bolus(100.0, 12.0, 0.0),
        "first record",
    );
    for row in &table.rows[1..] {
        let want = ss_bolus(100.0, 12.0, row.time) + ss_infusion(10.0, 6.0, 24.0, row.time);
        check(row.pred, want, &format!("SS=1 + SS=2 at t = {}", row.time));
    }
}

#[test]
fn ss1_followed_by_addl_doses() {
    let model = OneCompIv::new();
    let times = [0.0, 5.0, 12.0, 13.0, 24.0, 30.0, 36.0, 40.0, 60.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 3, 1)], &times),
    );
    check_rows(
        &table,
        |t| {
            ss_bolus(100.0, 12.0, t)
                + (1..=3)
                    .map(|m| bolus(100.0, t - 12.0 * m as f64))
                    .sum::<f64>()
        },
        "SS=1 then ADDL 3",
    );
}

#[test]
fn ss1_overlapping_infusion_followed_by_addl() {
    let model = OneCompIv::new();
    // 150 at 10/h (15 h) every 12 h, SS then 2 more.
    let times = [0.0, 3.0, 12.0, 15.0, 27.0, 39.0, 50.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 150.0, 10.0, 12.0, 2, 1)], &times),
    );
    check_rows(
        &table,
        |t| {
            ss_infusion(10.0, 15.0, 12.0, t)
                + (1..=2)
                    .map(|m| infusion(10.0, 15.0, t - 12.0 * m as f64))
                    .sum::<f64>()
        },
        "SS=1 infusion then ADDL 2",
    );
}

#[test]
fn ss_constant_infusion_gives_r_over_cl_then_declines() {
    let model = Iv::new();
    // AMT = 0, RATE = 10, II = 0, SS = 1 at t = 4: C = R/CL at the record,
    // then the input stops (NONMEM's dosing case 29).
    let doses = [dose(4.0, 0.0, 10.0, 0.0, 0, 1)];
    let times = [0.0, 4.0, 5.0, 10.0, 30.0];
    let table = typical(&model, &with_obs(&doses, &times));
    check_rows(
        &table,
        |t| {
            if t < 4.0 {
                0.0
            } else {
                10.0 / CL * (-K * (t - 4.0)).exp()
            }
        },
        "constant infusion at steady state",
    );
    check(table.rows[1].pred, 5.0, "R/CL at the record");
}

#[test]
fn ss_constant_infusion_rate_scaled_by_bioavailability() {
    let mut model = Iv::new();
    model.f = 0.5;
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 0.0, 10.0, 0.0, 0, 1)], &[0.0, 3.0]),
    );
    check_rows(&table, |t| 0.5 * 10.0 / CL * (-K * t).exp(), "F·R/CL");
}

#[test]
fn ss_constant_infusion_into_depot() {
    let model = OneCompOral::new(1.0, 0.0);
    // Steady state of a constant input into the depot: A_depot = R/ka,
    // A_central = R/k; both decline after the record.
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 0.0, 6.0, 0.0, 0, 1)], &[0.0, 1.0, 5.0, 20.0]),
    );
    let (ad, ac) = (6.0 / KA, 6.0 / K);
    check_rows(
        &table,
        |s| (ac * (-K * s).exp() + ad * KA / (KA - K) * ((-K * s).exp() - (-KA * s).exp())) / V,
        "constant infusion into the depot",
    );
    check(table.rows[0].pred, 6.0 / CL, "R/CL");
    check(table.rows[0].outputs[1], ad, "depot R/ka");
}

// ---------------------------------------------------------------------------
// Additional doses, lag, bioavailability, modeled rate and duration
// ---------------------------------------------------------------------------

#[test]
fn addl_bolus_superposition() {
    let model = OneCompIv::new();
    let times = [0.0, 4.0, 8.0, 9.0, 16.0, 23.9, 24.0, 40.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 80.0, 0.0, 8.0, 3, 0)], &times),
    );
    check_rows(
        &table,
        |t| (0..=3).map(|m| bolus(80.0, t - 8.0 * m as f64)).sum(),
        "ADDL bolus",
    );
}

#[test]
fn addl_overlapping_infusions_in_one_compartment() {
    let model = OneCompIv::new();
    // 100 at 10/h (10 h) every 6 h: up to two infusions at once.
    let times = [0.0, 3.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 28.0, 40.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 10.0, 6.0, 3, 0)], &times),
    );
    check_rows(
        &table,
        |t| {
            (0..=3)
                .map(|m| infusion(10.0, 10.0, t - 6.0 * m as f64))
                .sum()
        },
        "overlapping ADDL infusions",
    );
}

#[test]
fn addl_with_lag() {
    let mut model = OneCompIv::new();
    model.lag = 1.5;
    // Arrivals at 1.5, 13.5, 25.5; observations exactly at arrivals see them.
    let times = [0.0, 1.0, 1.5, 6.0, 13.5, 20.0, 25.5, 30.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 12.0, 2, 0)], &times),
    );
    check_rows(
        &table,
        |t| {
            (0..=2)
                .map(|m| bolus(100.0, t - 1.5 - 12.0 * m as f64))
                .sum()
        },
        "ADDL with lag",
    );
}

#[test]
fn addl_infusion_with_lag_and_bioavailability() {
    let mut model = OneCompIv::new();
    model.f = 0.5;
    model.lag = 2.0;
    // docs/data.md's worked example: four infusions at 10/h for 5 h,
    // starting at 2, 26, 50, 74.
    let times = [1.0, 2.0, 4.0, 7.0, 26.0, 31.0, 52.0, 74.0, 79.0, 90.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 10.0, 24.0, 3, 0)], &times),
    );
    check_rows(
        &table,
        |t| {
            (0..=3)
                .map(|m| infusion(10.0, 5.0, t - 2.0 - 24.0 * m as f64))
                .sum()
        },
        "worked example",
    );
}

#[test]
fn infusion_with_bioavailability_and_fixed_rate_lasts_longer() {
    let mut model = OneCompIv::new();
    model.f = 1.25;
    // 100·1.25 at 25/h: 5 h instead of 4.
    let times = [0.0, 2.0, 4.0, 4.5, 5.0, 6.0, 12.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 25.0, 0.0, 0, 0)], &times),
    );
    check_rows(
        &table,
        |t| infusion(25.0, 5.0, t),
        "F lengthens the infusion",
    );
}

#[test]
fn modeled_rate_rate_minus_1() {
    let mut model = Iv::new();
    model.rate = 20.0;
    let times = [0.0, 2.0, 5.0, 6.0, 12.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -1.0, 0.0, 0, 0)], &times),
    );
    check_rows(&table, |t| infusion(20.0, 5.0, t), "RATE=-1: 20/h for 5 h");
}

#[test]
fn modeled_rate_with_bioavailability_shortens_duration() {
    let mut model = Iv::new();
    model.rate = 20.0;
    model.f = 0.6;
    let times = [0.0, 2.0, 3.0, 5.0, 12.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -1.0, 0.0, 0, 0)], &times),
    );
    check_rows(
        &table,
        |t| infusion(20.0, 3.0, t),
        "RATE=-1, F 0.6: 20/h for 3 h",
    );
}

#[test]
fn modeled_duration_rate_minus_2() {
    let mut model = Iv::new();
    model.duration = 4.0;
    let times = [0.0, 1.0, 4.0, 6.0, 12.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -2.0, 0.0, 0, 0)], &times),
    );
    check_rows(&table, |t| infusion(25.0, 4.0, t), "RATE=-2: 25/h for 4 h");
}

#[test]
fn modeled_duration_with_bioavailability_lowers_rate() {
    let mut model = Iv::new();
    model.duration = 4.0;
    model.f = 0.6;
    let times = [0.0, 1.0, 4.0, 6.0, 12.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -2.0, 0.0, 0, 0)], &times),
    );
    check_rows(
        &table,
        |t| infusion(15.0, 4.0, t),
        "RATE=-2, F 0.6: 15/h for 4 h",
    );
}

#[test]
fn modeled_rate_with_addl_and_lag() {
    let mut model = Iv::new();
    model.rate = 50.0;
    model.lag = 1.0;
    // 100 at 50/h (2 h) arriving at 1, 9, 17.
    let times = [0.0, 1.0, 2.0, 3.0, 9.0, 10.0, 17.0, 25.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, -1.0, 8.0, 2, 0)], &times),
    );
    check_rows(
        &table,
        |t| {
            (0..=2)
                .map(|m| infusion(50.0, 2.0, t - 1.0 - 8.0 * m as f64))
                .sum()
        },
        "RATE=-1 with ADDL and lag",
    );
}

// ---------------------------------------------------------------------------
// Resets (EVID 3, 4)
// ---------------------------------------------------------------------------

#[test]
fn evid3_empties_and_cancels_earlier_addl() {
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 0.0, 6.0, 5, 0),
        obs(4.0),
        rec(8.0, 0.0, 0.0, 0.0, 0, 0, 3, "."),
        obs(9.0),
        obs(12.0),
        obs(20.0),
        dose(24.0, 50.0, 0.0, 0.0, 0, 0),
        obs(26.0),
        obs(30.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| {
            if t < 8.0 {
                bolus(100.0, t) + bolus(100.0, t - 6.0)
            } else {
                bolus(50.0, t - 24.0)
            }
        },
        "EVID 3",
    );
    assert_eq!(table.rows[2].evid, 3);
}

#[test]
fn evid3_cancels_a_lagged_dose_not_yet_arrived() {
    let mut model = OneCompIv::new();
    model.lag = 5.0;
    let rows = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        rec(2.0, 0.0, 0.0, 0.0, 0, 0, 3, "."),
        obs(5.0),
        obs(8.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(&table, |_| 0.0, "lagged dose cancelled");
}

#[test]
fn evid3_stops_a_running_infusion_and_its_end_does_not_stop_a_later_one() {
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 10.0, 0.0, 0, 0), // 0–10 h, cancelled at 4
        obs(3.0),
        rec(4.0, 0.0, 0.0, 0.0, 0, 0, 3, "."),
        obs(6.0),
        dose(8.0, 40.0, 10.0, 0.0, 0, 0), // 8–12 h: the old end at 10 is void
        obs(10.0),
        obs(11.0),
        obs(12.0),
        obs(15.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| {
            if t < 4.0 {
                infusion(10.0, 10.0, t)
            } else {
                infusion(10.0, 4.0, t - 8.0)
            }
        },
        "EVID 3 stops infusion",
    );
}

#[test]
fn evid4_resets_and_doses() {
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 0.0, 12.0, 3, 0),
        obs(12.0),
        obs(17.0),
        rec(18.0, 50.0, 0.0, 0.0, 0, 0, 4, "."),
        obs(24.0),
        obs(36.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| {
            if t < 18.0 {
                bolus(100.0, t) + bolus(100.0, t - 12.0)
            } else {
                bolus(50.0, t - 18.0)
            }
        },
        "EVID 4",
    );
    assert_eq!(table.rows[3].evid, 4);
}

#[test]
fn evid4_with_addl_and_lag_restarts_the_regimen() {
    let mut model = OneCompIv::new();
    model.lag = 2.0;
    let rows = [
        dose(0.0, 100.0, 0.0, 6.0, 5, 0),
        rec(10.0, 60.0, 0.0, 8.0, 2, 0, 4, "."),
        obs(11.0),
        obs(12.0),
        obs(20.0),
        obs(30.0),
        obs(40.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| {
            if t < 10.0 {
                bolus(100.0, t - 2.0) + bolus(100.0, t - 8.0)
            } else {
                (0..=2)
                    .map(|m| bolus(60.0, t - 12.0 - 8.0 * m as f64))
                    .sum()
            }
        },
        "EVID 4 with ADDL and lag",
    );
}

// ---------------------------------------------------------------------------
// Order of events at the same time
// ---------------------------------------------------------------------------

#[test]
fn two_doses_at_the_same_time_are_both_applied() {
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        dose(0.0, 50.0, 0.0, 0.0, 0, 0),
        obs(0.0),
        obs(5.0),
    ];
    let table = typical(&model, &csv(&rows));
    check(
        table.rows[0].pred,
        10.0,
        "first dose row: its own dose only",
    );
    for row in &table.rows[1..] {
        check(row.pred, bolus(150.0, row.time), "both doses");
    }
}

#[test]
fn bolus_and_infusion_at_the_same_time_into_one_compartment() {
    let model = OneCompIv::new();
    let doses = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        dose(0.0, 60.0, 20.0, 0.0, 0, 0),
    ];
    let times = [0.0, 1.0, 3.0, 7.0];
    let table = typical(&model, &with_obs(&doses, &times));
    for row in &table.rows[1..] {
        check(
            row.pred,
            bolus(100.0, row.time) + infusion(20.0, 3.0, row.time),
            &format!("bolus + infusion at t = {}", row.time),
        );
    }
}

#[test]
fn observation_after_a_dose_row_at_the_same_time_sees_the_dose() {
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        dose(5.0, 100.0, 0.0, 0.0, 0, 0),
        obs(5.0),
    ];
    let table = typical(&model, &csv(&rows));
    let want = bolus(100.0, 5.0) + 10.0;
    check(table.rows[1].pred, want, "dose row includes its own dose");
    check(table.rows[2].pred, want, "observation after the dose row");
}

#[test]
fn observation_before_a_dose_row_at_the_same_time_does_not_see_it() {
    // docs/data.md: records at the same time are processed in file order
    // and each record's prediction is taken after *its own* actions, so an
    // observation written before the dose row precedes the dose.
    let model = OneCompIv::new();
    let rows = [
        dose(0.0, 100.0, 0.0, 0.0, 0, 0),
        obs(5.0),
        dose(5.0, 100.0, 0.0, 0.0, 0, 0),
    ];
    let table = typical(&model, &csv(&rows));
    check(
        table.rows[1].pred,
        bolus(100.0, 5.0),
        "observation before the dose row",
    );
    check(table.rows[2].pred, bolus(100.0, 5.0) + 10.0, "dose row");
}

#[test]
fn observation_row_before_an_infusion_row_at_the_same_time() {
    let model = OneCompIv::new();
    let rows = [
        obs(0.0),
        dose(0.0, 40.0, 10.0, 0.0, 0, 0),
        obs(0.0),
        obs(2.0),
        obs(6.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(&table, |t| infusion(10.0, 4.0, t), "infusion from 0");
}

#[test]
fn evid2_row_gives_a_prediction() {
    let model = OneCompIv::new();
    let rows = [
        rec(0.0, 0.0, 0.0, 0.0, 0, 0, 2, "."),
        dose(1.0, 100.0, 0.0, 0.0, 0, 0),
        rec(4.0, 0.0, 0.0, 0.0, 0, 0, 2, "."),
        obs(7.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(&table, |t| bolus(100.0, t - 1.0), "EVID 2");
    assert_eq!(table.rows[2].evid, 2);
    assert_eq!(table.rows[2].dv, None, "EVID 2 has no simulated DV");
    assert!(table.rows[3].dv.is_some(), "an observation has a DV");
}

#[test]
fn lagged_dose_arriving_exactly_at_an_observation_is_seen() {
    let model = OneCompOral::new(1.0, 2.5);
    let times = [0.0, 2.4, 2.5, 3.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 0.0, 0, 0)], &times),
    );
    check_rows(&table, |t| oral(100.0, t - 2.5), "lagged oral dose");
    // Rows: dose at 0, observations at 0, 2.4, 2.5, 3.
    check(
        table.rows[3].outputs[1],
        100.0,
        "depot holds the dose at its arrival",
    );
    check(table.rows[2].outputs[1], 0.0, "depot empty before arrival");
}

#[test]
fn infusion_ending_exactly_at_an_observation_and_the_next_starting_there() {
    let model = OneCompIv::new();
    // 100 at 25/h (4 h) every 4 h: one ends as the next starts.
    let times = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0];
    let table = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 25.0, 4.0, 1, 0)], &times),
    );
    check_rows(
        &table,
        |t| infusion(25.0, 4.0, t) + infusion(25.0, 4.0, t - 4.0),
        "back-to-back infusions",
    );
    // Rows: dose at 0, observations at 0, 2, 4, ...
    check(
        table.rows[3].pred,
        25.0 / CL * (1.0 - (-K * 4.0).exp()),
        "at the end of the first",
    );
}

#[test]
fn observations_before_any_dose_are_zero() {
    let model = OneCompOral::new(1.0, 0.0);
    let rows = [
        obs(0.0),
        obs(1.5),
        dose(2.0, 100.0, 0.0, 0.0, 0, 0),
        obs(3.0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(&table, |t| oral(100.0, t - 2.0), "before the first dose");
    assert_eq!(table.rows[0].pred, 0.0);
    assert_eq!(table.rows[1].pred, 0.0);
}

#[test]
fn dose_into_depot_versus_central_by_cmt() {
    let model = OneCompOral::new(1.0, 0.0);
    let rows = [
        rec(0.0, 100.0, 0.0, 0.0, 0, 0, 1, "1"),
        rec(0.0, 50.0, 0.0, 0.0, 0, 0, 1, "2"),
        obs(1.0),
        obs(4.0),
        obs(12.0),
    ];
    let table = typical(&model, &csv(&rows));
    for row in &table.rows[1..] {
        check(
            row.pred,
            oral(100.0, row.time) + bolus(50.0, row.time),
            "depot + central",
        );
        check(
            row.outputs[1],
            100.0 * (-KA * row.time).exp(),
            "depot amount",
        );
    }
    // The default compartment is the first dosable one: the depot.
    let default = typical(
        &model,
        &with_obs(&[dose(0.0, 100.0, 0.0, 0.0, 0, 0)], &[4.0]),
    );
    check(
        default.rows[1].pred,
        oral(100.0, 4.0),
        "default CMT = depot",
    );
}

#[test]
fn doses_after_the_last_record_are_ignored() {
    let mut model = OneCompIv::new();
    model.lag = 5.0;
    // ADDL 1000 every 12 h and a last record whose own dose arrives after it.
    let rows = [
        dose(0.0, 100.0, 0.0, 12.0, 1000, 0),
        obs(30.0),
        dose(36.0, 100.0, 0.0, 0.0, 0, 0),
    ];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| {
            (0..=2)
                .map(|m| bolus(100.0, t - 5.0 - 12.0 * m as f64))
                .sum()
        },
        "only arrivals up to the last record",
    );
}

#[test]
fn addl_dose_at_the_last_record_time_is_seen() {
    let model = OneCompIv::new();
    let rows = [dose(0.0, 100.0, 0.0, 12.0, 1000, 0), obs(24.0)];
    let table = typical(&model, &csv(&rows));
    check_rows(
        &table,
        |t| (0..=2).map(|m| bolus(100.0, t - 12.0 * m as f64)).sum(),
        "ADDL at the last record",
    );
}

// ---------------------------------------------------------------------------
// Time-varying covariates (NONMEM's convention)
// ---------------------------------------------------------------------------

fn crcl_csv(rows: &[&str]) -> String {
    let mut s = "ID,TIME,AMT,EVID,II,ADDL,CRCL\n".to_string();
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn time_varying_covariate_applies_over_the_interval_ending_at_its_row() {
    let model = Iv::with_crcl();
    // CL = 2·CRCL/100: k = 0.2 (CRCL 100), 0.1 (50), 0.05 (25).
    let csv = crcl_csv(&[
        "1,0,100,1,.,.,100",
        "1,6,.,0,.,.,100",
        "1,12,.,0,.,.,50",
        "1,18,.,2,.,.,50",
        "1,24,.,0,.,.,25",
        "1,30,.,0,.,.,25",
    ]);
    let table = typical(&model, &csv);
    // Piecewise closed form: each interval decays with the k of the row
    // that ends it.
    let c0 = 10.0;
    let c6 = c0 * (-0.2f64 * 6.0).exp();
    let c12 = c6 * (-0.1f64 * 6.0).exp();
    let c18 = c12 * (-0.1f64 * 6.0).exp();
    let c24 = c18 * (-0.05f64 * 6.0).exp();
    let c30 = c24 * (-0.05f64 * 6.0).exp();
    for (row, want) in table.rows.iter().zip([c0, c6, c12, c18, c24, c30]) {
        check(
            row.pred,
            want,
            &format!("NOCB covariate at t = {}", row.time),
        );
    }
}

#[test]
fn carried_forward_covariate_applies_from_its_row_on() {
    let model = Iv::with_crcl_locf();
    // Same rows as the NOCB case; with LOCF each interval decays with the
    // k of the row that starts it, and an observation on the row where the
    // value changes uses the new value only after it.
    let csv = crcl_csv(&[
        "1,0,100,1,.,.,100",
        "1,6,.,0,.,.,100",
        "1,12,.,0,.,.,50",
        "1,18,.,2,.,.,50",
        "1,24,.,0,.,.,25",
        "1,30,.,0,.,.,25",
    ]);
    let table = typical(&model, &csv);
    let c0 = 10.0;
    let c6 = c0 * (-0.2f64 * 6.0).exp();
    let c12 = c6 * (-0.2f64 * 6.0).exp();
    let c18 = c12 * (-0.1f64 * 6.0).exp();
    let c24 = c18 * (-0.1f64 * 6.0).exp();
    let c30 = c24 * (-0.05f64 * 6.0).exp();
    for (row, want) in table.rows.iter().zip([c0, c6, c12, c18, c24, c30]) {
        check(
            row.pred,
            want,
            &format!("LOCF covariate at t = {}", row.time),
        );
    }
}

#[test]
fn time_varying_covariate_governs_an_addl_dose_inside_the_interval() {
    let model = Iv::with_crcl();
    // Second dose (ADDL) at 9, between rows at 6 (CRCL 100) and 12 (CRCL 50):
    // the whole interval 6–12 uses CRCL 50 (k = 0.1).
    let csv = crcl_csv(&["1,0,100,1,9,1,100", "1,6,.,0,.,.,100", "1,12,.,0,.,.,50"]);
    let table = typical(&model, &csv);
    let c6 = 10.0 * (-0.2f64 * 6.0).exp();
    let c12 = (c6 * (-0.1f64 * 3.0).exp() + 10.0) * (-0.1f64 * 3.0).exp();
    check(table.rows[1].pred, c6, "t = 6");
    check(table.rows[2].pred, c12, "t = 12");
}

#[test]
fn addl_dose_keeps_the_bioavailability_of_its_record() {
    let mut model = Iv::with_crcl();
    model.f_from_crcl = true;
    // F = CRCL/100 at the dose record (0.5); the ADDL dose at 12 keeps it
    // although CRCL is 100 by then. CL is 2·CRCL/100: k = 0.1 up to 6 h
    // (row at 6 has CRCL 50), then 0.2.
    let csv = crcl_csv(&["1,0,100,1,12,1,50", "1,6,.,0,.,.,50", "1,18,.,0,.,.,100"]);
    let table = typical(&model, &csv);
    let c6 = 5.0 * (-0.1f64 * 6.0).exp();
    let c18 = c6 * (-0.2f64 * 12.0).exp() + 5.0 * (-0.2f64 * 6.0).exp();
    check(table.rows[0].pred, 5.0, "F·AMT at the dose");
    check(table.rows[1].pred, c6, "t = 6");
    check(table.rows[2].pred, c18, "t = 18: ADDL dose with F 0.5");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn modeled_rate_undefined_is_an_error_naming_the_row() {
    let model = Iv::new(); // rate NaN
    let csv = csv(&[obs(0.0), dose(1.0, 100.0, -1.0, 0.0, 0, 0), obs(2.0)]);
    let err = run(&model, &csv).expect_err("RATE=-1 without a modeled rate");
    match &err {
        SimError::Dose {
            subject,
            source: EventError::InvalidModeledRate { row, value },
        } => {
            assert_eq!(subject, "1");
            assert_eq!(*row, 3, "line of the dose record");
            assert!(value.is_nan());
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("row 3") && msg.contains("RATE = -1"), "{msg}");
}

#[test]
fn modeled_duration_undefined_is_an_error_naming_the_row() {
    let mut model = Iv::new();
    model.duration = 0.0;
    let csv = csv(&[dose(0.0, 100.0, -2.0, 0.0, 0, 0), obs(2.0)]);
    let err = run(&model, &csv).expect_err("RATE=-2 with duration 0");
    assert!(
        matches!(
            err,
            SimError::Dose {
                source: EventError::InvalidModeledDuration { row: 2, value },
                ..
            } if value == 0.0
        ),
        "{err:?}"
    );
}

#[test]
fn negative_lag_from_the_model_is_an_error() {
    let mut model = Iv::new();
    model.lag = -1.0;
    let csv = csv(&[
        obs(0.0),
        obs(1.0),
        dose(2.0, 100.0, 0.0, 0.0, 0, 0),
        obs(3.0),
    ]);
    let err = run(&model, &csv).expect_err("negative lag");
    assert!(
        matches!(
            err,
            SimError::Dose {
                source: EventError::InvalidLag { row: 4, value },
                ..
            } if value == -1.0
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("row 4"), "{err}");
}

#[test]
fn negative_bioavailability_from_the_model_is_an_error() {
    let mut model = Iv::new();
    model.f = -0.5;
    let err = run(&model, &csv(&[dose(0.0, 100.0, 0.0, 0.0, 0, 0)])).expect_err("negative F");
    assert!(
        matches!(
            err,
            SimError::Dose {
                source: EventError::InvalidBioavailability { row: 2, .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn steady_state_without_ii_is_a_data_error_naming_row_and_column() {
    let model = OneCompIv::new();
    for ii in ["0", "."] {
        let text = format!("{HDR}\n{}\n1,0,100,0,{ii},0,1,1,.\n", obs(0.0));
        let errs = Dataset::parse(&text, "test.csv", &DataSpec::from_info(model.info()))
            .expect_err("SS=1 with II missing or 0");
        let e = errs
            .iter()
            .find(|e| e.kind == DataErrorKind::SteadyStateWithoutInterval)
            .unwrap_or_else(|| panic!("no SS-without-II error in {errs}"));
        assert_eq!(e.row, Some(3));
        assert_eq!(e.column.as_deref(), Some("II"));
        let msg = e.to_string();
        assert!(msg.contains("row 3") && msg.contains("column II"), "{msg}");
    }
}

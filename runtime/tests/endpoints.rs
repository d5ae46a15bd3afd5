//! Several endpoints selected by DVID: the data reader assigns each record
//! its endpoint, and the simulation predicts and samples each record with
//! its endpoint's prediction and residual error.

mod common;

use common::assert_close;
use mido_runtime::data::{DataErrorKind, DataSpec, Dataset};
use mido_runtime::model::*;
use mido_runtime::simulate::{simulate, SimOptions};

/// One-compartment IV bolus (CL 2, V 10) with two endpoints: `cp`
/// (DVID 1, additive, sd theta 3) on the concentration and `pd` (DVID 2,
/// proportional, cv theta 4) on an Emax effect `100 - 50·c/(1 + c)`.
/// `observe` writes `[conc, effect, conc, sd, effect, cv]`.
struct TwoEndpoints {
    info: ModelInfo,
}

impl TwoEndpoints {
    fn new(sd: f64, cv: f64) -> Self {
        let theta = |name: &str, init: f64| ThetaInfo {
            name: name.into(),
            init,
            lower: 0.0,
            upper: f64::INFINITY,
            fixed: false,
        };
        TwoEndpoints {
            info: ModelInfo {
                name: "two_endpoints".into(),
                data_file: None,
                covariates: vec![],
                thetas: vec![
                    theta("CL", 2.0),
                    theta("V", 10.0),
                    theta("SD", sd),
                    theta("CV", cv),
                ],
                etas: vec![EtaInfo {
                    name: "ETA_CL".into(),
                    level: RandomLevel::Subject,
                }],
                omegas: vec![OmegaBlock {
                    level: RandomLevel::Subject,
                    etas: vec![0],
                    covariance: vec![0.1],
                    fixed: false,
                }],
                params: vec!["cl".into(), "v".into(), "sd".into(), "cv".into()],
                states: vec![StateInfo {
                    name: "central".into(),
                    dosable: true,
                }],
                outputs: vec!["conc".into(), "effect".into()],
                endpoints: vec![
                    EndpointInfo {
                        name: "cp".into(),
                        dvid: Some(1.0),
                        error_model: ErrorModel::Additive,
                        prediction: 2,
                    },
                    EndpointInfo {
                        name: "pd".into(),
                        dvid: Some(2.0),
                        error_model: ErrorModel::Proportional,
                        prediction: 4,
                    },
                ],
                linear: None,
            },
        }
    }
}

impl Model for TwoEndpoints {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, theta: &[f64], eta: &[f64], _cov: &[f64], _t: f64, p: &mut [f64]) {
        p[0] = theta[0] * eta[0].exp();
        p[1] = theta[1];
        p[2] = theta[2];
        p[3] = theta[3];
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dydt: &mut [f64]) {
        dydt[0] = -p[0] / p[1] * y[0];
    }
    fn dose_props(&self, _t: f64, _p: &[f64], _cov: &[f64], out: &mut [DoseProps]) {
        out[0] = DoseProps::default();
    }
    fn observe(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], out: &mut [f64]) {
        let c = y[0] / p[1];
        let effect = 100.0 - 50.0 * c / (1.0 + c);
        out.copy_from_slice(&[c, effect, c, p[2], effect, p[3]]);
    }
}

const DESIGN: &str = "ID,TIME,AMT,EVID,DVID
1,0,100,1,.
1,1,.,0,1
1,1,.,0,2
1,4,.,0,2
1,4,.,0,1
1,6,.,2,2
1,8,.,2,.
";

fn parse(model: &dyn Model, csv: &str) -> Result<Dataset, mido_runtime::data::DataErrors> {
    Dataset::parse(csv, "test.csv", &DataSpec::from_info(model.info()))
}

#[test]
fn model_info_finds_endpoints_by_dvid() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let info = m.info();
    assert_eq!(info.observe_len(), 6);
    assert_eq!(info.endpoint_for_dvid(1.0), Some(0));
    assert_eq!(info.endpoint_for_dvid(2.0), Some(1));
    assert_eq!(info.endpoint_for_dvid(3.0), None);
    assert_eq!(info.endpoints[0].error_params(), 3..4);
    assert_eq!(info.endpoints[1].error_params(), 5..6);
}

#[test]
fn dvid_assigns_each_record_its_endpoint() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let data = parse(&m, DESIGN).expect("valid");
    let endpoints: Vec<usize> = data.subjects[0]
        .records
        .iter()
        .map(|r| r.endpoint)
        .collect();
    // Dose: 0; observations by DVID; EVID 2 by DVID when given, else 0.
    assert_eq!(endpoints, [0, 0, 1, 1, 0, 1, 0]);
}

#[test]
fn text_dvid_names_an_endpoint_in_any_case() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let numeric = parse(&m, DESIGN).expect("valid");
    let text = DESIGN
        .replace(",0,1\n", ",0,cp\n")
        .replace(",0,2\n", ",0,PD\n")
        .replace(",2,2\n", ",2,Pd\n");
    assert_ne!(text, DESIGN);
    let named = parse(&m, &text).expect("valid");
    assert_eq!(named, numeric);
}

#[test]
fn typical_prediction_comes_from_the_records_endpoint() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let table = common::typical(&m, DESIGN);
    assert!(table.dvid_column);
    let dvids: Vec<Option<f64>> = table.rows.iter().map(|r| r.dvid).collect();
    let (one, two) = (Some(1.0), Some(2.0));
    assert_eq!(dvids, [one, one, two, two, one, two, one]);
    for r in &table.rows {
        let c = 10.0 * (-0.2 * r.time).exp();
        let effect = 100.0 - 50.0 * c / (1.0 + c);
        assert_close(r.outputs[0], c, "conc output");
        assert_close(r.outputs[1], effect, "effect output");
        let want = if r.dvid == two { effect } else { c };
        assert_eq!(r.pred, r.outputs[if r.dvid == two { 1 } else { 0 }]);
        assert_close(r.pred, want, "PRED of the record's endpoint");
        assert_eq!(r.ipred, r.pred);
        if r.evid == 0 {
            assert_eq!(r.dv, Some(r.ipred), "typical DV = IPRED");
        }
    }
    let mut csv = Vec::new();
    table.write_csv(&mut csv).expect("csv");
    let csv = String::from_utf8(csv).expect("utf8");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ID,TIME,EVID,DVID,PRED,IPRED,DV,conc,effect")
    );
    assert!(lines.nth(2).expect("row").starts_with("1,1,0,2,"), "{csv}");
}

#[test]
fn simulated_dv_uses_the_records_error_model() {
    // A huge additive sd on `cp` and a negligible cv on `pd`: only the
    // DVID 1 observations scatter.
    let m = TwoEndpoints::new(100.0, 1e-12);
    let data = parse(&m, DESIGN).expect("valid");
    let opts = SimOptions {
        seed: 7,
        ..SimOptions::default()
    };
    let table = simulate(&m, &data, &m.info().theta_init(), &opts).expect("simulates");
    for r in table.rows.iter().filter(|r| r.evid == 0) {
        let dv = r.dv.expect("observation");
        if r.dvid == Some(2.0) {
            assert!(
                (dv - r.ipred).abs() < 1e-9 * r.ipred,
                "pd: {dv} vs {}",
                r.ipred
            );
        } else {
            assert!(
                (dv - r.ipred).abs() > 1e-3,
                "cp scatters: {dv} vs {}",
                r.ipred
            );
        }
    }
}

#[test]
fn an_observation_without_a_matching_dvid_is_a_row_error() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let csv = "ID,TIME,AMT,EVID,DVID\n1,0,100,1,7\n1,1,.,0,3\n1,2,.,0,.\n1,3,.,0,pk\n1,4,.,2,9\n1,5,.,0,1\n";
    let errors = parse(&m, csv).expect_err("invalid");
    let located: Vec<(Option<usize>, Option<&str>, Option<&str>)> = errors
        .iter()
        .map(|e| (e.row, e.column.as_deref(), e.value.as_deref()))
        .collect();
    // The dose row's DVID is ignored; rows 3–6 name no endpoint.
    assert_eq!(
        located,
        [
            (Some(3), Some("DVID"), Some("3")),
            (Some(4), Some("DVID"), Some(".")),
            (Some(5), Some("DVID"), Some("pk")),
            (Some(6), Some("DVID"), Some("9")),
        ]
    );
    let expected = vec![("cp".to_string(), 1.0), ("pd".to_string(), 2.0)];
    for e in errors.iter() {
        assert_eq!(
            e.kind,
            DataErrorKind::UnknownEndpoint {
                endpoints: expected.clone()
            }
        );
    }
    let message = errors.to_string();
    assert!(
        message.contains("test.csv, row 3, column DVID = \"3\"")
            && message.contains("1 (cp), 2 (pd)"),
        "{message}"
    );
}

#[test]
fn a_missing_dvid_column_is_a_file_error() {
    let m = TwoEndpoints::new(0.1, 0.1);
    let errors = parse(&m, "ID,TIME,AMT,EVID\n1,0,100,1\n1,1,.,0\n").expect_err("invalid");
    assert_eq!(errors.len(), 1);
    let e = &errors.0[0];
    assert_eq!((e.row, e.column.as_deref()), (None, Some("DVID")));
    assert!(matches!(e.kind, DataErrorKind::DvidColumnRequired { .. }));
    assert!(
        errors.to_string().contains("needs a DVID column"),
        "{errors}"
    );
}

#[test]
fn a_single_unnamed_endpoint_ignores_dvid() {
    let m = common::OneCompIv::new();
    let data = parse(
        &m,
        "ID,TIME,AMT,EVID,DVID\n1,0,100,1,x\n1,1,.,0,42\n1,2,.,0,.\n",
    )
    .expect("DVID is ignored");
    assert!(data.subjects[0].records.iter().all(|r| r.endpoint == 0));
    let table = common::typical(&m, "ID,TIME,AMT,EVID\n1,0,100,1\n1,1,.,0\n");
    assert!(!table.dvid_column);
    assert!(table.rows.iter().all(|r| r.dvid.is_none()));
}

#[test]
fn a_dataset_read_for_more_endpoints_is_rejected_not_indexed() {
    let two = TwoEndpoints::new(0.1, 0.1);
    let data = parse(&two, DESIGN).expect("valid");
    let mut one = TwoEndpoints::new(0.1, 0.1);
    one.info.endpoints.truncate(1);
    let err = simulate(&one, &data, &one.info.theta_init(), &SimOptions::default())
        .expect_err("record names endpoint 1");
    assert!(
        matches!(
            err,
            mido_runtime::simulate::SimError::Endpoint { row: 4, .. }
        ),
        "{err}"
    );
}

//! Hand-written models and helpers shared by the integration tests.
#![allow(dead_code)]

use mido_runtime::data::{DataSpec, Dataset};
use mido_runtime::model::*;
use mido_runtime::simulate::{simulate, SimOptions, SimTable};

fn theta(name: &str, init: f64) -> ThetaInfo {
    ThetaInfo {
        name: name.into(),
        init,
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        fixed: false,
    }
}

fn state(name: &str, dosable: bool) -> StateInfo {
    StateInfo {
        name: name.into(),
        dosable,
    }
}

/// One-compartment IV model. Thetas: CL, V, SD. Etas: ETA_CL (subject,
/// variance `omega`), ETA_V (occasion, variance `omega_occ`). Params: cl,
/// v, sd. Output CONC. Bioavailability `f` and lag `lag` on central.
pub struct OneCompIv {
    pub info: ModelInfo,
    pub f: f64,
    pub lag: f64,
}

impl OneCompIv {
    pub fn new() -> Self {
        OneCompIv::with(0.09, None, vec![])
    }

    /// `omega_occ`: variance of an occasion-level eta on V, if any.
    pub fn with(omega: f64, omega_occ: Option<f64>, covariates: Vec<CovariateInfo>) -> Self {
        let mut m = OneCompIv {
            info: ModelInfo {
                name: "onecomp_iv".into(),
                data_file: None,
                covariates,
                thetas: vec![theta("CL", 2.0), theta("V", 10.0), theta("SD", 0.5)],
                etas: vec![
                    EtaInfo {
                        name: "ETA_CL".into(),
                        level: RandomLevel::Subject,
                    },
                    EtaInfo {
                        name: "ETA_V".into(),
                        level: RandomLevel::Occasion,
                    },
                ],
                omegas: vec![
                    OmegaBlock {
                        level: RandomLevel::Subject,
                        etas: vec![0],
                        covariance: vec![omega],
                        fixed: false,
                    },
                    OmegaBlock {
                        level: RandomLevel::Occasion,
                        etas: vec![1],
                        covariance: vec![0.0],
                        fixed: false,
                    },
                ],
                params: vec!["cl".into(), "v".into(), "sd".into()],
                states: vec![state("central", true)],
                outputs: vec!["CONC".into()],
                endpoints: vec![EndpointInfo::single(ErrorModel::Additive, 1)],
                linear: None,
            },
            f: 1.0,
            lag: 0.0,
        };
        match omega_occ {
            Some(w) => m.info.omegas[1].covariance = vec![w],
            None => {
                m.info.etas.pop();
                m.info.omegas.pop();
            }
        }
        m
    }
}

impl Model for OneCompIv {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, theta: &[f64], eta: &[f64], _cov: &[f64], _t: f64, p: &mut [f64]) {
        p[0] = theta[0] * eta[0].exp();
        p[1] = theta[1] * eta.get(1).map_or(1.0, |e| e.exp());
        p[2] = theta[2];
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dydt: &mut [f64]) {
        dydt[0] = -p[0] / p[1] * y[0];
    }
    fn dose_props(&self, _t: f64, _p: &[f64], _cov: &[f64], out: &mut [DoseProps]) {
        out[0] = DoseProps {
            bioavailability: self.f,
            lag: self.lag,
            ..DoseProps::default()
        };
    }
    fn observe(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], out: &mut [f64]) {
        let c = y[0] / p[1];
        out[0] = c;
        out[1] = c;
        out[2] = p[2];
    }
}

/// One-compartment model with first-order absorption. Thetas: KA, CL, V, SD
/// (no etas). States depot → central (both dosable). F and lag on depot.
pub struct OneCompOral {
    pub info: ModelInfo,
    pub f: f64,
    pub lag: f64,
}

impl OneCompOral {
    pub fn new(f: f64, lag: f64) -> Self {
        OneCompOral {
            info: ModelInfo {
                name: "onecomp_oral".into(),
                data_file: None,
                covariates: vec![],
                thetas: vec![
                    theta("KA", 1.2),
                    theta("CL", 2.0),
                    theta("V", 10.0),
                    theta("SD", 0.1),
                ],
                etas: vec![],
                omegas: vec![],
                params: vec!["ka".into(), "cl".into(), "v".into(), "sd".into()],
                states: vec![state("depot", true), state("central", true)],
                outputs: vec!["CONC".into(), "DEPOT".into()],
                endpoints: vec![EndpointInfo::single(ErrorModel::Proportional, 2)],
                linear: None,
            },
            f,
            lag,
        }
    }
}

impl Model for OneCompOral {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, theta: &[f64], _eta: &[f64], _cov: &[f64], _t: f64, p: &mut [f64]) {
        p.copy_from_slice(&theta[..4]);
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dydt: &mut [f64]) {
        dydt[0] = -p[0] * y[0];
        dydt[1] = p[0] * y[0] - p[1] / p[2] * y[1];
    }
    fn dose_props(&self, _t: f64, _p: &[f64], _cov: &[f64], out: &mut [DoseProps]) {
        out[0] = DoseProps {
            bioavailability: self.f,
            lag: self.lag,
            ..DoseProps::default()
        };
        out[1] = DoseProps::default();
    }
    fn observe(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], out: &mut [f64]) {
        let c = y[1] / p[2];
        out[0] = c;
        out[1] = y[0];
        out[2] = c;
        out[3] = p[3];
    }
}

pub fn dataset(model: &dyn Model, csv: &str) -> Dataset {
    Dataset::parse(csv, "test.csv", &DataSpec::from_info(model.info()))
        .unwrap_or_else(|e| panic!("dataset should be valid:\n{e}"))
}

/// Typical-subject simulation at the model's initial thetas.
pub fn typical(model: &dyn Model, csv: &str) -> SimTable {
    let data = dataset(model, csv);
    let opts = SimOptions {
        typical: true,
        ..SimOptions::default()
    };
    simulate(model, &data, &model.info().theta_init(), &opts).expect("simulates")
}

pub fn assert_close(got: f64, want: f64, what: &str) {
    let rel = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    assert!(
        rel <= 1e-6,
        "{what}: got {got}, want {want} (rel err {rel:e})"
    );
}

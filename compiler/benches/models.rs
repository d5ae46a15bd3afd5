//! The benchmark models, each as mido source and as a hand-written Rust
//! right-hand side and Jacobian of the same equations (the baseline).

#![allow(dead_code, clippy::new_without_default)]

use mido_runtime::model::{EndpointInfo, ErrorModel, Model, ModelInfo};

pub const THEOPHYLLINE: &str = include_str!("../../examples/theophylline/theo.mido");

pub const TWO_CPT_ORAL: &str = r#"model two_cpt_oral
fixed {
  tv_ka = 1.0 in (0, ) [1/h]
  tv_cl = 5.0 in (0, ) [L/h]
  tv_v1 = 20 in (0, ) [L]
  tv_q  = 3.0 in (0, ) [L/h]
  tv_v2 = 50 in (0, ) [L]
  prop  = 0.1 in (0, )
}
random subject {
  eta_cl ~ normal(0, 0.09)
  eta_v1 ~ normal(0, 0.09)
}
individual {
  ka = tv_ka
  cl = tv_cl * exp(eta_cl)
  v1 = tv_v1 * exp(eta_v1)
  q  = tv_q
  v2 = tv_v2
}
compartments {
  depot [mg] dose
  central [mg]
  periph [mg]
}
dynamics {
  d/dt(depot)   = -ka * depot
  d/dt(central) =  ka * depot - (cl + q) / v1 * central + q / v2 * periph
  d/dt(periph)  =  q / v1 * central - q / v2 * periph
}
observe {
  cp = central / v1
  DV ~ proportional(cp, prop)
}
"#;

/// States of the generated QSP-style model.
pub const QSP_STATES: usize = 50;

/// A QSP-style network of `n` species: a chain of first-order transfers,
/// saturable elimination of every species, a bimolecular coupling of each
/// species with another one, and feedback from the last species to the
/// first. Parameters: one rate constant per species (with a random effect),
/// plus shared vmax, km and coupling constants.
pub fn qsp_source(n: usize) -> String {
    let mut s =
        String::from("model qsp_chain\n  \"Generated QSP-style reaction network\"\nfixed {\n");
    for i in 1..=n {
        s += &format!("  tv_k{i} = {:.3} in (0, )\n", 0.1 + 0.01 * i as f64);
    }
    s += "  vmax = 2.0 in (0, )\n  km = 5.0 in (0, )\n  kc = 0.01 in (0, )\n  kfb = 0.1 in (0, )\n  sd = 0.1 in (0, )\n}\n";
    s += "random subject {\n  eta_k ~ normal(0, 0.1)\n}\nindividual {\n";
    for i in 1..=n {
        s += &format!("  k{i} = tv_k{i} * exp(eta_k)\n");
    }
    s += "}\ncompartments {\n  x1 dose\n";
    for i in 2..=n {
        s += &format!("  x{i}\n");
    }
    s += "}\ndynamics {\n";
    for i in 1..=n {
        s += &format!("  sat{i} = vmax * x{i} / (km + x{i})\n");
    }
    for i in 1..=n {
        let partner = (i * 7) % n + 1;
        let input = if i == 1 {
            format!("kfb * x{n} / (1 + x{n})")
        } else {
            format!("k{} * x{}", i - 1, i - 1)
        };
        s += &format!("  d/dt(x{i}) = {input} - k{i} * x{i} - sat{i} - kc * x{i} * x{partner}\n");
    }
    s += &format!("}}\nobserve {{\n  cp = x{n}\n  DV ~ normal(cp, sd)\n}}\n");
    s
}

fn info_stub(n_states: usize) -> ModelInfo {
    ModelInfo {
        name: "hand".into(),
        data_file: None,
        covariates: vec![],
        thetas: vec![],
        etas: vec![],
        omegas: vec![],
        params: vec![],
        states: vec![],
        outputs: vec![],
        endpoints: vec![EndpointInfo::single(ErrorModel::Additive, 0)],
        linear: None,
    }
    .with_states(n_states)
}

trait WithStates {
    fn with_states(self, n: usize) -> Self;
}

impl WithStates for ModelInfo {
    fn with_states(mut self, n: usize) -> Self {
        self.states = (0..n)
            .map(|i| mido_runtime::model::StateInfo {
                name: format!("x{i}"),
                dosable: i == 0,
            })
            .collect();
        self
    }
}

/// Hand-written theophylline: params = [cl, v, ka, add_sd].
pub struct HandTheo(ModelInfo);
impl HandTheo {
    pub fn new() -> Self {
        HandTheo(info_stub(2))
    }
}
impl Model for HandTheo {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    fn individual(&self, _: &[f64], _: &[f64], _: &[f64], _: f64, _: &mut [f64]) {}
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dy: &mut [f64]) {
        let (cl, v, ka) = (p[0], p[1], p[2]);
        dy[0] = -ka * y[0];
        dy[1] = ka * y[0] - cl / v * y[1];
    }
    fn dose_props(&self, _: f64, _: &[f64], _: &[f64], _: &mut [mido_runtime::model::DoseProps]) {}
    fn observe(&self, _: f64, _: &[f64], _: &[f64], _: &[f64], _: &mut [f64]) {}
    fn rhs_jac_y(&self, _t: f64, _y: &[f64], p: &[f64], _cov: &[f64], j: &mut [f64]) {
        let (cl, v, ka) = (p[0], p[1], p[2]);
        j[0] = -ka;
        j[1] = ka;
        j[2] = 0.0;
        j[3] = -cl / v;
    }
}

/// Hand-written two-compartment oral: params = [ka, cl, v1, q, v2, prop].
pub struct HandTwoCpt(ModelInfo);
impl HandTwoCpt {
    pub fn new() -> Self {
        HandTwoCpt(info_stub(3))
    }
}
impl Model for HandTwoCpt {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    fn individual(&self, _: &[f64], _: &[f64], _: &[f64], _: f64, _: &mut [f64]) {}
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dy: &mut [f64]) {
        let (ka, cl, v1, q, v2) = (p[0], p[1], p[2], p[3], p[4]);
        dy[0] = -ka * y[0];
        dy[1] = ka * y[0] - (cl + q) / v1 * y[1] + q / v2 * y[2];
        dy[2] = q / v1 * y[1] - q / v2 * y[2];
    }
    fn dose_props(&self, _: f64, _: &[f64], _: &[f64], _: &mut [mido_runtime::model::DoseProps]) {}
    fn observe(&self, _: f64, _: &[f64], _: &[f64], _: &[f64], _: &mut [f64]) {}
    fn rhs_jac_y(&self, _t: f64, _y: &[f64], p: &[f64], _cov: &[f64], j: &mut [f64]) {
        let (ka, cl, v1, q, v2) = (p[0], p[1], p[2], p[3], p[4]);
        j.fill(0.0);
        j[0] = -ka;
        j[1] = ka;
        j[4] = -(cl + q) / v1;
        j[5] = q / v1;
        j[7] = q / v2;
        j[8] = -q / v2;
    }
}

/// Hand-written QSP chain: params = [k1..kn, then the lifted vmax, km, kc,
/// kfb, sd] in the order the compiler lifts them (checked by a test).
pub struct HandQsp {
    info: ModelInfo,
    n: usize,
}
impl HandQsp {
    pub fn new(n: usize) -> Self {
        HandQsp {
            info: info_stub(n),
            n,
        }
    }
}
impl Model for HandQsp {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn individual(&self, _: &[f64], _: &[f64], _: &[f64], _: f64, _: &mut [f64]) {}
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], dy: &mut [f64]) {
        let n = self.n;
        let (k, rest) = p.split_at(n);
        let (vmax, km, kc, kfb) = (rest[0], rest[1], rest[2], rest[3]);
        for i in 0..n {
            let partner = ((i + 1) * 7) % n;
            let input = if i == 0 {
                kfb * y[n - 1] / (1.0 + y[n - 1])
            } else {
                k[i - 1] * y[i - 1]
            };
            let sat = vmax * y[i] / (km + y[i]);
            dy[i] = input - k[i] * y[i] - sat - kc * y[i] * y[partner];
        }
    }
    fn dose_props(&self, _: f64, _: &[f64], _: &[f64], _: &mut [mido_runtime::model::DoseProps]) {}
    fn observe(&self, _: f64, _: &[f64], _: &[f64], _: &[f64], _: &mut [f64]) {}
    fn rhs_jac_y(&self, _t: f64, y: &[f64], p: &[f64], _cov: &[f64], j: &mut [f64]) {
        let n = self.n;
        let (k, rest) = p.split_at(n);
        let (vmax, km, kc, kfb) = (rest[0], rest[1], rest[2], rest[3]);
        j.fill(0.0);
        for i in 0..n {
            let partner = ((i + 1) * 7) % n;
            // Column-major: ∂dy_i/∂y_c at j[c * n + i].
            if i == 0 {
                let d = 1.0 + y[n - 1];
                j[(n - 1) * n] += kfb / (d * d);
            } else {
                j[(i - 1) * n + i] += k[i - 1];
            }
            let den = km + y[i];
            j[i * n + i] += -k[i] - vmax * km / (den * den) - kc * y[partner];
            j[partner * n + i] += -kc * y[i];
        }
    }
}

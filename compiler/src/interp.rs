//! The reference interpreter: evaluates the typed IR directly.
//!
//! It is the test oracle for the code generator to come and the fallback
//! engine; it favours obviousness over speed. Bools are 1.0 and 0.0.

use crate::dag::{self, eval::Inputs};
use crate::functions::{FnKind, ModelFunctions};
use crate::ir::{self, BinOp, Builtin, ExprKind, UnOp};
use mido_runtime::model::{
    CovariateInfo, DoseProps, EndpointInfo, EtaInfo, Model, ModelInfo, OmegaBlock, StateInfo,
    ThetaInfo,
};

/// What an expression can see while it is evaluated.
struct Env<'a> {
    theta: &'a [f64],
    eta: &'a [f64],
    cov: &'a [f64],
    t: f64,
    y: &'a [f64],
    params: &'a [f64],
    locals: &'a [f64],
}

fn truth(x: bool) -> f64 {
    if x {
        1.0
    } else {
        0.0
    }
}

/// The standard normal CDF, via the complementary error function.
pub fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function to near machine precision: the Taylor
/// series of erf below 2, a continued fraction (modified Lentz) above.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf by its Taylor series, converging fast for |x| < 2.
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // Continued fraction (Lentz) for erfc, accurate for x >= 2.
        let tiny = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        let mut i = 1.0;
        loop {
            let a = i / 2.0;
            d = x + a * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = x + a / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 || i > 500.0 {
                break;
            }
            i += 1.0;
        }
        (-x * x).exp() / f / std::f64::consts::PI.sqrt()
    }
}

/// A one-argument builtin. Code generation calls these same functions, so
/// the engines agree to the bit.
pub fn builtin1(f: Builtin, x: f64) -> f64 {
    match f {
        Builtin::Exp => x.exp(),
        Builtin::Log => x.ln(),
        Builtin::Log10 => x.log10(),
        Builtin::Sqrt => x.sqrt(),
        Builtin::Abs => x.abs(),
        Builtin::Logit => (x / (1.0 - x)).ln(),
        Builtin::Expit => 1.0 / (1.0 + (-x).exp()),
        Builtin::Phi => phi(x),
        // Two-argument builtins never reach here; NaN marks the misuse.
        Builtin::Min | Builtin::Max => f64::NAN,
    }
}

/// A two-argument builtin: `min` and `max` propagate NaN (IEEE minimum and
/// maximum, as the machine instructions do), unlike `f64::min`.
pub fn builtin2(f: Builtin, x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    match f {
        Builtin::Min => x.min(y),
        Builtin::Max => x.max(y),
        _ => f64::NAN,
    }
}

/// `x^k` for a small integer `k` by repeated multiplication (left to
/// right), as generated code computes it.
pub fn powi(x: f64, k: i32) -> f64 {
    let mut p = x;
    for _ in 1..k.unsigned_abs() {
        p *= x;
    }
    if k < 0 {
        1.0 / p
    } else {
        p
    }
}

fn eval(e: &ir::Expr, env: &Env<'_>) -> f64 {
    match &e.kind {
        ExprKind::Const(v) => *v,
        ExprKind::Theta(id) => env.theta[id.index()],
        ExprKind::Eta(id) => env.eta[id.index()],
        ExprKind::Cov(id) => env.cov[id.index()],
        ExprKind::Time => env.t,
        ExprKind::State(id) => env.y[id.index()],
        ExprKind::Param(id) => env.params[id.index()],
        ExprKind::Local(id) => env.locals[id.index()],
        ExprKind::Unary(op, x) => {
            let x = eval(x, env);
            match op {
                UnOp::Neg => -x,
                UnOp::Not => truth(x == 0.0),
            }
        }
        ExprKind::Binary(op, a, b) => {
            let x = eval(a, env);
            // `and`/`or` short-circuit like `if`.
            match op {
                BinOp::And => return truth(x != 0.0 && eval(b, env) != 0.0),
                BinOp::Or => return truth(x != 0.0 || eval(b, env) != 0.0),
                _ => {}
            }
            let y = eval(b, env);
            match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Pow => x.powf(y),
                BinOp::Lt => truth(x < y),
                BinOp::Le => truth(x <= y),
                BinOp::Gt => truth(x > y),
                BinOp::Ge => truth(x >= y),
                BinOp::Eq => truth(x == y),
                BinOp::Ne => truth(x != y),
                BinOp::And | BinOp::Or => unreachable!("handled above"),
            }
        }
        ExprKind::If(c, a, b) => {
            if eval(c, env) != 0.0 {
                eval(a, env)
            } else {
                eval(b, env)
            }
        }
        ExprKind::Call(f, args) => {
            let x = eval(&args[0], env);
            match args.get(1) {
                Some(b) => builtin2(*f, x, eval(b, env)),
                None => builtin1(*f, x),
            }
        }
    }
}

/// A model run by interpreting its IR. Derivatives, which the typed IR
/// does not hold, are evaluated from their DAGs by [`crate::dag::eval`].
pub struct Interpreter {
    model: ir::Model,
    info: ModelInfo,
    functions: ModelFunctions,
}

impl Interpreter {
    pub fn new(model: ir::Model) -> Self {
        let info = model_info(&model);
        let functions = ModelFunctions::new(&model);
        Interpreter {
            model,
            info,
            functions,
        }
    }

    fn eval_dag(&self, kind: FnKind, inputs: Inputs<'_>, out: &mut [f64]) {
        dag::eval::eval(self.functions.get(kind), &inputs, out);
    }

    pub fn ir(&self) -> &ir::Model {
        &self.model
    }

    fn locals(&self, defs: &[ir::Local], env: &mut Env<'_>, buf: &mut Vec<f64>) {
        buf.clear();
        for local in defs {
            let v = eval(
                &local.expr,
                &Env {
                    locals: buf,
                    ..*env
                },
            );
            buf.push(v);
        }
    }
}

/// The endpoints in the runtime's terms: where each one's prediction sits
/// in the `observe` slice (after the outputs, endpoint after endpoint).
fn endpoints(model: &ir::Model) -> Vec<EndpointInfo> {
    let mut next = model.observe.len();
    model
        .endpoints
        .iter()
        .map(|e| {
            let info = EndpointInfo {
                name: e.label().to_string(),
                dvid: e.dvid,
                error_model: e.error_model,
                prediction: next,
            };
            next += 1 + e.params.len();
            info
        })
        .collect()
}

/// The runtime's view of a model's metadata.
pub fn model_info(model: &ir::Model) -> ModelInfo {
    ModelInfo {
        name: model.name.clone(),
        data_file: model.data_file.clone(),
        covariates: model
            .covariates
            .iter()
            .map(|c| CovariateInfo {
                name: c.name.clone(),
                kind: c.kind.clone(),
                time_varying: c.time_varying,
                locf: c.locf,
            })
            .collect(),
        thetas: model
            .thetas
            .iter()
            .map(|t| ThetaInfo {
                name: t.name.clone(),
                init: t.init,
                lower: t.lower,
                upper: t.upper,
                fixed: t.fixed,
            })
            .collect(),
        etas: model
            .etas
            .iter()
            .map(|e| EtaInfo {
                name: e.name.clone(),
                level: e.level,
            })
            .collect(),
        omegas: model
            .omegas
            .iter()
            .map(|b| OmegaBlock {
                level: b.level,
                etas: b.etas.iter().map(|e| e.index()).collect(),
                covariance: b.covariance.clone(),
                fixed: b.fixed,
            })
            .collect(),
        params: model.params.iter().map(|p| p.name.clone()).collect(),
        states: model
            .states
            .iter()
            .map(|s| StateInfo {
                name: s.name.clone(),
                dosable: s.dosable,
            })
            .collect(),
        outputs: model.output_names(),
        endpoints: endpoints(model),
        linear: model
            .linear
            .as_ref()
            .map(|l| mido_runtime::model::LinearInfo {
                kind: l.kind,
                params: l.params.iter().map(|p| p.index()).collect(),
                directions: 0,
            }),
    }
}

impl Model for Interpreter {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn individual_uses_time(&self) -> bool {
        self.functions.individual_uses_time()
    }

    fn individual(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, params: &mut [f64]) {
        for (i, p) in self.model.params.iter().enumerate() {
            let (done, _) = params.split_at(i);
            let v = eval(
                &p.expr,
                &Env {
                    theta,
                    eta,
                    cov,
                    t,
                    y: &[],
                    params: done,
                    locals: &[],
                },
            );
            params[i] = v;
        }
    }

    fn rhs(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], dydt: &mut [f64]) {
        let mut env = Env {
            theta: &[],
            eta: &[],
            cov,
            t,
            y,
            params,
            locals: &[],
        };
        let mut locals = Vec::with_capacity(self.model.dynamics.len());
        self.locals(&self.model.dynamics, &mut env, &mut locals);
        let env = Env {
            locals: &locals,
            ..env
        };
        for (d, e) in dydt.iter_mut().zip(&self.model.derivs) {
            *d = eval(e, &env);
        }
    }

    fn dose_props(&self, _t: f64, params: &[f64], _cov: &[f64], out: &mut [DoseProps]) {
        for (state, props) in self.model.states.iter().zip(out.iter_mut()) {
            *props = DoseProps::default();
            for (prop, id) in &state.dose_props {
                let v = params[id.index()];
                match prop {
                    ir::DoseProp::Bioavailability => props.bioavailability = v,
                    ir::DoseProp::Lag => props.lag = v,
                    ir::DoseProp::Rate => props.rate = v,
                    ir::DoseProp::Duration => props.duration = v,
                }
            }
        }
    }

    fn observe(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], out: &mut [f64]) {
        let mut env = Env {
            theta: &[],
            eta: &[],
            cov,
            t,
            y,
            params,
            locals: &[],
        };
        let mut locals = Vec::with_capacity(self.model.observe.len());
        self.locals(&self.model.observe, &mut env, &mut locals);
        let env = Env {
            locals: &locals,
            ..env
        };
        let n = locals.len();
        out[..n].copy_from_slice(&locals);
        let values = self
            .model
            .endpoints
            .iter()
            .flat_map(|e| std::iter::once(&e.prediction).chain(&e.params));
        for (o, e) in out[n..].iter_mut().zip(values) {
            *o = eval(e, &env);
        }
    }

    fn rhs_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.eval_dag(FnKind::RhsJacY, per_state(t, y, params, cov), jac);
    }

    fn rhs_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.eval_dag(FnKind::RhsJacP, per_state(t, y, params, cov), jac);
    }

    fn individual_jac_eta(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, jac: &mut [f64]) {
        self.eval_dag(
            FnKind::IndividualJacEta,
            per_subject(t, theta, eta, cov),
            jac,
        );
    }

    fn individual_jac_theta(
        &self,
        theta: &[f64],
        eta: &[f64],
        cov: &[f64],
        t: f64,
        jac: &mut [f64],
    ) {
        self.eval_dag(
            FnKind::IndividualJacTheta,
            per_subject(t, theta, eta, cov),
            jac,
        );
    }

    fn observe_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.eval_dag(FnKind::ObserveJacY, per_state(t, y, params, cov), jac);
    }

    fn observe_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.eval_dag(FnKind::ObserveJacP, per_state(t, y, params, cov), jac);
    }
}

/// The inputs of a per-state function (rhs, observe and their Jacobians).
fn per_state<'a>(t: f64, y: &'a [f64], params: &'a [f64], cov: &'a [f64]) -> Inputs<'a> {
    Inputs {
        t,
        y,
        params,
        cov,
        ..Inputs::default()
    }
}

/// The inputs of a per-subject function (individual and its Jacobians).
fn per_subject<'a>(t: f64, theta: &'a [f64], eta: &'a [f64], cov: &'a [f64]) -> Inputs<'a> {
    Inputs {
        t,
        theta,
        eta,
        cov,
        ..Inputs::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_matches_known_values() {
        // Values of the standard normal CDF from tables (15 digits).
        let cases = [
            (0.0, 0.5),
            (1.0, 0.841344746068543),
            (-1.96, 0.0249978951482204),
            (3.0, 0.998650101968370),
            (-5.0, 2.86651571879194e-7),
        ];
        for (x, want) in cases {
            let got = phi(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "phi({x}) = {got}, want {want}"
            );
        }
    }
}

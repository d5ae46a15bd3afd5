//! The compiled-model interface: the only view of a model the runtime has.
//!
//! A model is a set of functions over flat `f64` slices plus the metadata
//! ([`ModelInfo`]) that says what every index means. The compiler's IR
//! interpreter implements [`Model`] today; the Cranelift JIT will implement the
//! same trait, so solvers, estimation and simulation never know which engine
//! runs.
//!
//! Architecture invariant: nothing here knows the model language. The runtime
//! depends on this module, never on the AST or the IR.

/// Level of variability a random effect varies at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomLevel {
    /// Between subjects: one value per subject.
    Subject,
    /// Between occasions: one value per subject and occasion (OCC item).
    Occasion,
}

/// How a covariate's values are read from a data column.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariateKind {
    Real,
    /// Coded categories: `(level name, code in the data)`.
    Category(Vec<(String, f64)>),
    /// 0 or 1 in the data.
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CovariateInfo {
    /// The name in the model, matched case-insensitively to a data column.
    pub name: String,
    pub kind: CovariateKind,
    pub time_varying: bool,
    /// For a time-varying covariate: the value on a record applies from that
    /// record on (last observation carried forward), instead of NONMEM's
    /// default, over the interval that ends at the record.
    pub locf: bool,
}

/// A fixed effect (THETA) with its initial value and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ThetaInfo {
    pub name: String,
    pub init: f64,
    /// `-inf` when open.
    pub lower: f64,
    /// `+inf` when open.
    pub upper: f64,
    pub fixed: bool,
}

/// A random effect (ETA).
#[derive(Debug, Clone, PartialEq)]
pub struct EtaInfo {
    pub name: String,
    pub level: RandomLevel,
}

/// A block of the OMEGA matrix: the random effects it covers and their
/// covariance (row-major, full symmetric `n × n`).
#[derive(Debug, Clone, PartialEq)]
pub struct OmegaBlock {
    pub level: RandomLevel,
    /// Indices into [`ModelInfo::etas`].
    pub etas: Vec<usize>,
    pub covariance: Vec<f64>,
    pub fixed: bool,
}

/// A compartment (ODE state). CMT numbers in the data are 1-based positions
/// in [`ModelInfo::states`].
#[derive(Debug, Clone, PartialEq)]
pub struct StateInfo {
    pub name: String,
    /// Whether doses may go into it.
    pub dosable: bool,
}

/// Residual-error model of an endpoint. `f` is the prediction, `ε ~ N(0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorModel {
    /// `Y = f + sd·ε` (parameters: sd).
    Additive,
    /// `Y = f + sd·f·ε` (parameters: sd, a coefficient of variation).
    Proportional,
    /// `Y = f + sqrt(add² + (prop·f)²)·ε` (parameters: add sd, prop sd).
    Combined,
    /// `log Y = log f + sd·ε` (parameters: sd on the log scale).
    LogNormal,
}

impl ErrorModel {
    /// Number of error parameters after the prediction.
    pub fn n_params(self) -> usize {
        match self {
            ErrorModel::Combined => 2,
            _ => 1,
        }
    }

    /// Standard deviation of `Y` around `f` (of `log Y` for log-normal).
    pub fn sd(self, f: f64, params: &[f64]) -> f64 {
        match self {
            ErrorModel::Additive | ErrorModel::LogNormal => params[0],
            ErrorModel::Proportional => params[0] * f.abs(),
            ErrorModel::Combined => params[0].hypot(params[1] * f),
        }
    }

    /// A draw of `Y` given the prediction and a standard-normal `eps`.
    pub fn sample(self, f: f64, params: &[f64], eps: f64) -> f64 {
        match self {
            ErrorModel::LogNormal => f * (params[0] * eps).exp(),
            _ => f + self.sd(f, params) * eps,
        }
    }
}

/// One endpoint (an `observe` block): which records it applies to and its residual error.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInfo {
    /// Block name; "DV" for the single unnamed block.
    pub name: String,
    /// The DVID value selecting it; None for the single unnamed block (applies to every record).
    pub dvid: Option<f64>,
    pub error_model: ErrorModel,
    /// Index in the `observe` slice of this endpoint's prediction; its error parameters follow it.
    pub prediction: usize,
}

impl EndpointInfo {
    /// The single unnamed endpoint (applies to every record), with its
    /// prediction at `prediction` (the number of outputs).
    pub fn single(error_model: ErrorModel, prediction: usize) -> Self {
        EndpointInfo {
            name: "DV".to_string(),
            dvid: None,
            error_model,
            prediction,
        }
    }

    /// The range of its error parameters in the `observe` slice.
    pub fn error_params(&self) -> std::ops::Range<usize> {
        self.prediction + 1..self.prediction + 1 + self.error_model.n_params()
    }
}

/// Dose properties of one compartment, evaluated for a subject at a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoseProps {
    /// Fraction of the amount that arrives (F); default 1.
    pub bioavailability: f64,
    /// Delay between the dose record and its arrival (ALAG); default 0.
    pub lag: f64,
    /// Modeled zero-order rate, used by RATE = -1 records; NaN when undefined.
    pub rate: f64,
    /// Modeled infusion duration, used by RATE = -2 records; NaN when undefined.
    pub duration: f64,
}

impl Default for DoseProps {
    fn default() -> Self {
        DoseProps {
            bioavailability: 1.0,
            lag: 0.0,
            rate: f64::NAN,
            duration: f64::NAN,
        }
    }
}

/// Everything the runtime needs to know about a model's slices.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    /// Dataset named by the model file, relative to it.
    pub data_file: Option<String>,
    pub covariates: Vec<CovariateInfo>,
    pub thetas: Vec<ThetaInfo>,
    pub etas: Vec<EtaInfo>,
    pub omegas: Vec<OmegaBlock>,
    /// Names of the individual parameters `individual` writes, in order.
    pub params: Vec<String>,
    pub states: Vec<StateInfo>,
    /// Names of the observation variables `observe` writes first, in order
    /// (every endpoint's, in block order; `endpoint.name` where two
    /// endpoints use the same name).
    pub outputs: Vec<String>,
    /// The endpoints, in block order (never empty); each record is
    /// predicted by one of them (`data::Record::endpoint`).
    pub endpoints: Vec<EndpointInfo>,
    /// A closed-form linear model the ODEs are equivalent to, if the model
    /// declares one (`pk ...`): the runtime may then advance the amounts
    /// analytically instead of integrating `rhs`.
    pub linear: Option<LinearInfo>,
}

/// A model's closed-form structure: the kind and, for each of its
/// parameters (in [`crate::pk::LinearKind::param_names`] order), the index
/// of the individual parameter holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearInfo {
    pub kind: crate::pk::LinearKind,
    pub params: Vec<usize>,
    /// Sensitivity directions the state carries after the amounts (0 for a
    /// plain model; the number of etas for
    /// [`crate::estimate::Sensitized`], whose states are the amounts then
    /// `∂amounts/∂η_k` per eta and whose parameters are the model's then
    /// `∂params/∂η_k` per eta).
    pub directions: usize,
}

impl ModelInfo {
    /// Length of the slice `observe` fills: the outputs, then for each
    /// endpoint in order its prediction followed by its error parameters.
    pub fn observe_len(&self) -> usize {
        self.outputs.len()
            + self
                .endpoints
                .iter()
                .map(|e| 1 + e.error_model.n_params())
                .sum::<usize>()
    }

    /// The endpoint a record with this DVID belongs to: the single unnamed
    /// endpoint whatever the value, otherwise the one whose selector equals
    /// it; `None` when no selector matches.
    pub fn endpoint_for_dvid(&self, dvid: f64) -> Option<usize> {
        self.endpoints.iter().position(|e| match e.dvid {
            None => true,
            Some(v) => v == dvid,
        })
    }

    /// The full OMEGA matrix (row-major, `n_eta × n_eta`), zero outside blocks.
    pub fn omega_matrix(&self) -> Vec<f64> {
        let n = self.etas.len();
        let mut m = vec![0.0; n * n];
        for block in &self.omegas {
            let k = block.etas.len();
            for (i, &ei) in block.etas.iter().enumerate() {
                for (j, &ej) in block.etas.iter().enumerate() {
                    m[ei * n + ej] = block.covariance[i * k + j];
                }
            }
        }
        m
    }

    /// Initial values of all fixed effects.
    pub fn theta_init(&self) -> Vec<f64> {
        self.thetas.iter().map(|t| t.init).collect()
    }
}

/// A model ready to run. Implementations must be pure functions of their
/// arguments (no hidden state), so that subjects can run on any thread.
///
/// Slices have the lengths the metadata gives: `theta` = thetas, `eta` = etas
/// (occasion-level entries hold the current occasion's values), `cov` =
/// covariates (category and bool covariates as their codes), `y` and `dydt` =
/// states, `params` = params.
pub trait Model: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// Individual parameters of a subject at a record at time `t`.
    fn individual(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, params: &mut [f64]);

    /// Whether `individual` may depend on its `t` argument. When it does
    /// not, a simulation may compute a subject's parameters once instead
    /// of at every record. The default is the safe answer; compiled models
    /// know it from their code.
    fn individual_uses_time(&self) -> bool {
        true
    }

    /// Right-hand side of the ODE system, without dose inputs.
    fn rhs(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], dydt: &mut [f64]);

    /// The right-hand side as native code a solver may call directly, for
    /// engines that generate it (see [`BoundRhs`]). The default, none,
    /// makes solvers call [`Model::rhs`].
    fn native_rhs(&self) -> Option<NativeRhs> {
        None
    }

    /// Dose properties of every state (`out.len()` = number of states).
    fn dose_props(&self, t: f64, params: &[f64], cov: &[f64], out: &mut [DoseProps]);

    /// Observation variables, prediction and error parameters (see
    /// [`ModelInfo::observe_len`]).
    fn observe(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], out: &mut [f64]);

    // Derivatives. Every Jacobian is dense and column-major: entry
    // `(i, j)` = ∂out_i/∂x_j is at `jac[j * rows + i]`. Compiled models
    // override all of them with exact derivatives; the defaults use central
    // differences (step `1e-6·max(|x|, 1)`), for hand-written models such as
    // test fixtures.

    /// ∂rhs/∂y: states × states.
    fn rhs_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        let n = self.info().states.len();
        central_difference(y, n, jac, |y, out| self.rhs(t, y, params, cov, out));
    }

    /// ∂rhs/∂params: states × params.
    fn rhs_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        let n = self.info().states.len();
        central_difference(params, n, jac, |p, out| self.rhs(t, y, p, cov, out));
    }

    /// ∂params/∂eta: params × etas.
    fn individual_jac_eta(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, jac: &mut [f64]) {
        let n = self.info().params.len();
        central_difference(eta, n, jac, |e, out| self.individual(theta, e, cov, t, out));
    }

    /// ∂params/∂theta: params × thetas.
    fn individual_jac_theta(
        &self,
        theta: &[f64],
        eta: &[f64],
        cov: &[f64],
        t: f64,
        jac: &mut [f64],
    ) {
        let n = self.info().params.len();
        central_difference(theta, n, jac, |th, out| {
            self.individual(th, eta, cov, t, out)
        });
    }

    /// ∂observe/∂y: observe_len × states.
    fn observe_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        let n = self.info().observe_len();
        central_difference(y, n, jac, |y, out| self.observe(t, y, params, cov, out));
    }

    /// ∂observe/∂params: observe_len × params.
    fn observe_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        let n = self.info().observe_len();
        central_difference(params, n, jac, |p, out| self.observe(t, y, p, cov, out));
    }
}

/// Column-major Jacobian of `f: x -> out (rows values)` by central
/// differences.
pub fn central_difference(
    x: &[f64],
    rows: usize,
    jac: &mut [f64],
    mut f: impl FnMut(&[f64], &mut [f64]),
) {
    let mut xp = x.to_vec();
    let mut hi = vec![0.0; rows];
    let mut lo = vec![0.0; rows];
    for j in 0..x.len() {
        let h = 1e-6 * x[j].abs().max(1.0);
        xp[j] = x[j] + h;
        f(&xp, &mut hi);
        xp[j] = x[j] - h;
        f(&xp, &mut lo);
        xp[j] = x[j];
        for i in 0..rows {
            jac[j * rows + i] = (hi[i] - lo[i]) / (2.0 * h);
        }
    }
}

/// The calling convention of generated code, as the runtime sees it: `(t,
/// theta, eta, cov, y, params, out)`; inputs a function does not read may
/// be null.
pub type NativeFn = unsafe extern "C" fn(
    t: f64,
    theta: *const f64,
    eta: *const f64,
    cov: *const f64,
    y: *const f64,
    params: *const f64,
    out: *mut f64,
);

/// The most parameter-only values a [`NativeRhs`] may precompute (kept on
/// the stack of a [`BoundRhs`]).
pub const MAX_INVARIANTS: usize = 32;

/// A model's right-hand side as native code, with how much of each input it
/// reads, and optionally split so that its parameter-only operations run
/// once per parameter set rather than at every call.
#[derive(Debug, Clone, Copy)]
pub struct NativeRhs {
    f: NativeFn,
    /// Computes the values `f` then reads through its theta pointer.
    invariants: Option<(NativeFn, usize)>,
    params: usize,
    cov: usize,
    states: usize,
}

impl NativeRhs {
    /// # Safety
    ///
    /// `f` must compute the model's right-hand side, read nothing through
    /// its theta and eta pointers, read at most `params` parameters, `cov`
    /// covariates and `states` amounts, and write exactly `states` values.
    pub unsafe fn new(f: NativeFn, params: usize, cov: usize, states: usize) -> Self {
        NativeRhs {
            f,
            invariants: None,
            params,
            cov,
            states,
        }
    }

    /// Whether parameter-only operations are computed apart, once per
    /// binding.
    pub fn hoists(&self) -> bool {
        self.invariants.is_some()
    }

    /// # Safety
    ///
    /// As [`NativeRhs::new`], except that `f` reads `count` (at most
    /// [`MAX_INVARIANTS`]) values through its theta pointer: those that
    /// `g` writes, reading at most `params` parameters and `cov`
    /// covariates and nothing else.
    pub unsafe fn with_invariants(
        f: NativeFn,
        (g, count): (NativeFn, usize),
        params: usize,
        cov: usize,
        states: usize,
    ) -> Self {
        assert!(count <= MAX_INVARIANTS, "{count} invariants");
        NativeRhs {
            f,
            invariants: Some((g, count)),
            params,
            cov,
            states,
        }
    }
}

/// The right-hand side at fixed parameters and covariates: what an ODE
/// solver calls at every stage. With native code the parameter and
/// covariate slices are checked once, here, the parameter-only operations
/// computed once, and each call is a direct call (no dynamic dispatch, two
/// length comparisons); otherwise it calls [`Model::rhs`].
#[derive(Clone, Copy)]
pub struct BoundRhs<'a> {
    model: &'a dyn Model,
    params: &'a [f64],
    cov: &'a [f64],
    native: Option<(NativeFn, usize)>,
    invariants: [f64; MAX_INVARIANTS],
}

impl<'a> BoundRhs<'a> {
    pub fn new(model: &'a dyn Model, params: &'a [f64], cov: &'a [f64]) -> Self {
        let mut invariants = [0.0; MAX_INVARIANTS];
        let native = model
            .native_rhs()
            .filter(|n| params.len() >= n.params && cov.len() >= n.cov)
            .map(|n| {
                if let Some((g, _)) = n.invariants {
                    // SAFETY: `with_invariants`' contract: `g` reads the
                    // parameters and covariates checked above and writes at
                    // most `MAX_INVARIANTS` values.
                    unsafe {
                        g(
                            0.0,
                            std::ptr::null(),
                            std::ptr::null(),
                            cov.as_ptr(),
                            std::ptr::null(),
                            params.as_ptr(),
                            invariants.as_mut_ptr(),
                        )
                    }
                }
                (n.f, n.states)
            });
        BoundRhs {
            model,
            params,
            cov,
            native,
            invariants,
        }
    }

    /// `dydt = f(t, y)`.
    #[inline]
    pub fn call(&self, t: f64, y: &[f64], dydt: &mut [f64]) {
        match self.native {
            Some((f, states)) if y.len() >= states && dydt.len() >= states => {
                // SAFETY: `NativeRhs`' contract bounds what `f` reads and
                // writes; the parameter and covariate slices were checked
                // when bound, the invariants computed then, the amounts and
                // output checked just now.
                unsafe {
                    f(
                        t,
                        self.invariants.as_ptr(),
                        std::ptr::null(),
                        self.cov.as_ptr(),
                        y.as_ptr(),
                        self.params.as_ptr(),
                        dydt.as_mut_ptr(),
                    )
                }
            }
            _ => self.model.rhs(t, y, self.params, self.cov, dydt),
        }
    }
}

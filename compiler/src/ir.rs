//! The typed IR: a model with every name resolved to an id.
//!
//! No strings name anything past the checker: expressions refer to fixed
//! effects, random effects, covariates, states, individual parameters and
//! block-local variables through newtype ids, operators and functions are
//! enums, and every expression carries its type and source span.
//!
//! Definitions are grouped by what they depend on, which is also when the
//! runtime evaluates them: `params` once per subject and record (theta, eta,
//! covariates, time), `dynamics` at every right-hand-side evaluation (adds
//! states), `observe` at every record. Fixed and random effects referenced
//! from `dynamics` or `observe` are lifted into hidden parameters, and so are
//! dose properties, so the runtime's per-state functions see only `params`.

use mido_grammar::ast::Unit;
use mido_grammar::Span;
use mido_runtime::model::{CovariateKind, ErrorModel, RandomLevel};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type!(
    /// A fixed effect (THETA).
    ThetaId,
    /// A random effect (ETA).
    EtaId,
    /// A covariate.
    CovId,
    /// A compartment.
    StateId,
    /// An individual parameter (including hidden, lifted ones).
    ParamId,
    /// A variable local to `dynamics` or `observe` (which one is known from context).
    LocalId,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Real,
    Bool,
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Type::Real => "real",
            Type::Bool => "bool",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

/// Functions the language provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Exp,
    Log,
    Log10,
    Sqrt,
    Abs,
    Min,
    Max,
    Logit,
    Expit,
    /// The standard normal cumulative distribution function.
    Phi,
}

impl Builtin {
    /// Every builtin with its name in the language and its arity.
    /// `pow(a, b)` is not here: it lowers to the `^` operator.
    pub const ALL: [(Builtin, &'static str, usize); 10] = [
        (Builtin::Exp, "exp", 1),
        (Builtin::Log, "log", 1),
        (Builtin::Log10, "log10", 1),
        (Builtin::Sqrt, "sqrt", 1),
        (Builtin::Abs, "abs", 1),
        (Builtin::Min, "min", 2),
        (Builtin::Max, "max", 2),
        (Builtin::Logit, "logit", 1),
        (Builtin::Expit, "expit", 1),
        (Builtin::Phi, "phi", 1),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(b, _, _)| *b == self)
            .map_or("?", |(_, n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Const(f64),
    Theta(ThetaId),
    Eta(EtaId),
    Cov(CovId),
    Time,
    State(StateId),
    Param(ParamId),
    Local(LocalId),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Builtin, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Covariate {
    pub name: String,
    pub kind: CovariateKind,
    pub unit: Option<Unit>,
    pub time_varying: bool,
    /// Last observation carried forward (`time-varying(locf)`).
    pub locf: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theta {
    pub name: String,
    pub init: f64,
    pub lower: f64,
    pub upper: f64,
    pub fixed: bool,
    pub unit: Option<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Eta {
    pub name: String,
    pub level: RandomLevel,
}

/// A block of OMEGA: the random effects it covers and their full covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct OmegaBlock {
    pub level: RandomLevel,
    pub etas: Vec<EtaId>,
    /// Row-major `n × n`.
    pub covariance: Vec<f64>,
    pub fixed: bool,
}

/// Why an individual parameter exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamOrigin {
    /// Written in `individual`.
    Individual,
    /// A fixed or random effect used in `dynamics` or `observe`.
    Lifted,
    /// A dose property of a compartment.
    DoseProp(StateId, DoseProp),
    /// A parameter of the closed-form model (`pk ...`).
    Pk,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub expr: Expr,
    pub origin: ParamOrigin,
    pub unit: Option<Unit>,
}

/// A variable of `dynamics` or `observe`.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub unit: Option<Unit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoseProp {
    Bioavailability,
    Lag,
    Rate,
    Duration,
}

impl DoseProp {
    pub const ALL: [(DoseProp, &'static str); 4] = [
        (DoseProp::Bioavailability, "bioavailability"),
        (DoseProp::Lag, "lag"),
        (DoseProp::Rate, "rate"),
        (DoseProp::Duration, "duration"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("?", |(_, n)| n)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub unit: Option<Unit>,
    pub dosable: bool,
    /// Dose properties, each computed by a (hidden) parameter.
    pub dose_props: Vec<(DoseProp, ParamId)>,
}

/// An endpoint, one `observe` block: its variables and
/// `DV ~ error_model(prediction, params...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The block's name; `None` for the single unnamed `observe { ... }`.
    pub name: Option<String>,
    /// `DVID == value`: the records it applies to; `None`: every record.
    pub dvid: Option<f64>,
    /// Its variables: this range of [`Model::observe`].
    pub locals: std::ops::Range<usize>,
    pub error_model: ErrorModel,
    pub prediction: Expr,
    pub params: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub doc: Option<String>,
    pub data_file: Option<String>,
    pub covariates: Vec<Covariate>,
    pub thetas: Vec<Theta>,
    pub etas: Vec<Eta>,
    pub omegas: Vec<OmegaBlock>,
    pub params: Vec<Param>,
    pub states: Vec<State>,
    pub dynamics: Vec<Local>,
    /// One per state, in state order.
    pub derivs: Vec<Expr>,
    /// The variables of every `observe` block, in block order (each block's
    /// are a contiguous range, [`Endpoint::locals`]).
    pub observe: Vec<Local>,
    /// The endpoints in block order; never empty.
    pub endpoints: Vec<Endpoint>,
    /// The closed-form model the `derivs` were generated from, if any.
    pub linear: Option<LinearPk>,
}

impl Endpoint {
    /// The name the runtime knows it by: "DV" for the unnamed endpoint.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("DV")
    }
}

impl Model {
    /// The output column of each `observe` variable, in order: its name, or
    /// `endpoint.name` when variables of several endpoints share that name.
    pub fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.observe.iter().map(|l| l.name.clone()).collect();
        for e in &self.endpoints {
            for i in e.locals.clone() {
                let name = &self.observe[i].name;
                let shared = self
                    .endpoints
                    .iter()
                    .filter(|o| o.locals.clone().any(|j| self.observe[j].name == *name))
                    .count()
                    > 1;
                if shared {
                    names[i] = format!("{}.{name}", e.label());
                }
            }
        }
        names
    }
}

/// A closed-form linear model: its kind and the parameters holding its
/// arguments, in the kind's parameter order.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearPk {
    pub kind: mido_runtime::pk::LinearKind,
    pub params: Vec<ParamId>,
}

//! The untyped syntax tree, as written, with byte spans.
//!
//! Nothing here knows what a name refers to or whether a block makes sense:
//! that is the compiler's job. Parse errors leave `Error` nodes so that later
//! stages can keep going over the rest of the file.

use crate::Span;

pub mod scenario;

/// An identifier as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A numeric literal (sign folded in where the grammar allows one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    pub value: f64,
    pub span: Span,
}

/// A string literal without its quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A unit annotation `[mg/L]`, kept structurally for the unit checker to come.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub expr: UnitExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UnitExpr {
    Name(String),
    Number(f64),
    Mul(Box<UnitExpr>, Box<UnitExpr>),
    Div(Box<UnitExpr>, Box<UnitExpr>),
    Pow(Box<UnitExpr>, i32),
}

impl std::fmt::Display for UnitExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitExpr::Name(n) => write!(f, "{n}"),
            UnitExpr::Number(x) => write!(f, "{x}"),
            UnitExpr::Mul(a, b) => write!(f, "{a}*{b}"),
            UnitExpr::Div(a, b) => match **b {
                UnitExpr::Mul(..) | UnitExpr::Div(..) => write!(f, "{a}/({b})"),
                _ => write!(f, "{a}/{b}"),
            },
            UnitExpr::Pow(a, n) => write!(f, "{a}^{n}"),
        }
    }
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub name: Name,
    pub doc: Option<StrLit>,
    pub items: Vec<Item>,
    pub span: Span,
}

/// A top-level block, keyed by the keyword that opens it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Data(StrLit, Span),
    Covariates(Block<CovariateDecl>),
    Fixed(Block<FixedDecl>),
    Random(Name, Block<RandomDecl>),
    Individual(Block<Stmt>),
    Compartments(Block<CompartmentDecl>),
    Dynamics(Block<Stmt>),
    Observe(ObserveBlock),
    /// `pk two_compartment_oral(ka = ka, cl = cl, ...)`: a closed-form model.
    Pk(PkDecl),
    /// Text the parser could not make sense of (already reported).
    Error(Span),
}

/// An `observe` block: `observe { ... }`, or one endpoint of several,
/// `observe pca (DVID == 2) { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObserveBlock {
    /// The endpoint's name, if written.
    pub name: Option<Name>,
    /// The record selector in parentheses, as written (the checker requires
    /// `DVID == <number>`); its span covers the parentheses.
    pub selector: Option<Expr>,
    pub block: Block<Stmt>,
}

/// A closed-form linear model in place of `dynamics`.
#[derive(Debug, Clone, PartialEq)]
pub struct PkDecl {
    pub keyword: Span,
    pub kind: Name,
    pub args: Vec<PropAssign>,
    pub span: Span,
}

/// The entries of a braced block, with the span of its keyword and the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Block<T> {
    pub keyword: Span,
    pub entries: Vec<T>,
    pub span: Span,
}

/// `WT: real [kg] time-varying`, `SEX: category { male = 0, female = 1 }`.
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateDecl {
    pub name: Name,
    pub ty: Name,
    pub levels: Option<Vec<(Name, Number)>>,
    pub unit: Option<Unit>,
    pub time_varying: bool,
    /// `time-varying(locf)`: how values carry between records.
    pub carry: Option<Name>,
    pub span: Span,
}

/// `tv_cl = 2.8 in (0, ) [L/h] fixed`.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedDecl {
    pub name: Name,
    pub init: Number,
    pub bounds: Option<Bounds>,
    pub unit: Option<Unit>,
    pub fixed: bool,
    pub span: Span,
}

/// `in (lower, upper)`, either side may be left open.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub lower: Option<Number>,
    pub upper: Option<Number>,
    pub span: Span,
}

/// `eta_ka ~ normal(0, 0.6)` or `[eta_cl, eta_v] ~ normal(0, block[...])`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomDecl {
    pub names: Vec<Name>,
    /// Whether the names were written as a bracketed list.
    pub bracketed: bool,
    pub dist: Name,
    pub args: Vec<Arg>,
    pub fixed: bool,
    pub span: Span,
}

/// An argument of a random-effect distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Expr(Expr),
    /// `block[a; b, c]`: the rows of a lower triangle.
    Block(Vec<Vec<Number>>, Span),
}

impl Arg {
    pub fn span(&self) -> Span {
        match self {
            Arg::Expr(e) => e.span,
            Arg::Block(_, s) => *s,
        }
    }
}

/// `depot [mg] dose { bioavailability = f1, lag = tlag }`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompartmentDecl {
    pub name: Name,
    pub unit: Option<Unit>,
    /// The span of the `dose` keyword when the compartment receives doses.
    pub dose: Option<Span>,
    pub props: Vec<PropAssign>,
    pub span: Span,
}

/// `lag = tlag` inside a compartment's dose block.
#[derive(Debug, Clone, PartialEq)]
pub struct PropAssign {
    pub prop: Name,
    pub value: Expr,
    pub span: Span,
}

/// A statement of `individual`, `dynamics` or `observe`. Every form parses in
/// every block; the checker says which belongs where.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `cl = tv_cl * exp(eta_cl)` or `cp [mg/L] = center / v`.
    Assign {
        name: Name,
        unit: Option<Unit>,
        value: Expr,
        span: Span,
    },
    /// `d/dt(center) = ...`.
    Deriv {
        state: Name,
        value: Expr,
        span: Span,
    },
    /// `lag(depot) = tlag`: a dose property of a compartment.
    DoseProp {
        prop: Name,
        cmt: Name,
        value: Expr,
        span: Span,
    },
    /// `DV ~ normal(cp, add_sd)`.
    Sample {
        target: Name,
        dist: Name,
        args: Vec<Expr>,
        span: Span,
    },
    Error(Span),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Assign { span, .. }
            | Stmt::Deriv { span, .. }
            | Stmt::DoseProp { span, .. }
            | Stmt::Sample { span, .. }
            | Stmt::Error(span) => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64, Option<Unit>),
    Bool(bool),
    Name(String),
    Call(Name, Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
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

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

/// Builds a binary node spanning `l..r` (used by the grammar's actions).
pub(crate) fn bin(op: BinaryOp, a: Expr, b: Expr, l: usize, r: usize) -> Expr {
    Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        span: Span::new(l, r),
    }
}

/// The lexer only lets through text that `f64::from_str` accepts (digits,
/// optional fraction and exponent), so this never sees anything else; an
/// out-of-range literal saturates to infinity as `from_str` does.
pub(crate) fn parse_number(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

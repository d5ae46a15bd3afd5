//! The untyped tree of a scenario file: populations × regimens, metrics,
//! targets, subgroup comparisons and dose searches, as written.
//!
//! Like the model tree it knows no meaning: setting names, distribution
//! names, window words and rule actions are plain names here, and
//! expressions are the model language's; the compiler's scenario checker
//! says what they mean and which are wrong.

use super::{Expr, Name, StrLit};
use crate::Span;

/// `scenario NAME "doc" { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    pub name: Name,
    pub doc: Option<StrLit>,
    pub items: Vec<ScenarioItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioItem {
    Setting(Setting),
    Population(PopulationDecl),
    Regimen(RegimenDecl),
    Metrics(Vec<MetricDecl>, Span),
    Targets(Vec<TargetDecl>, Span),
    /// `compare auc_ss to "normal renal function"`.
    Compare {
        metric: Name,
        reference: Label,
        span: Span,
    },
    Optimize(OptimizeDecl),
    /// Text the parser could not make sense of (already reported).
    Error(Span),
}

/// A population, regimen or subgroup name: an identifier or a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub text: String,
    pub span: Span,
}

/// `NAME = value, value, ...`: `model = "warfarin.mido"`, `seed = 42`,
/// `variability = subject, residual`, `uncertainty = covariance 200`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: Name,
    pub values: Vec<SettingValue>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    Str(StrLit),
    Expr(Expr),
    /// `1 [mg] to 20 [mg]`.
    Range(Expr, Expr),
    /// A word and a number: `covariance 200`.
    Tagged(Name, Expr),
}

impl SettingValue {
    pub fn span(&self) -> Span {
        match self {
            SettingValue::Str(s) => s.span,
            SettingValue::Expr(e) => e.span,
            SettingValue::Range(a, b) => a.span.to(b.span),
            SettingValue::Tagged(n, e) => n.span.to(e.span),
        }
    }
}

/// `population adults 1000 { ... }` or `population observed from "data.csv"`.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationDecl {
    pub keyword: Span,
    pub name: Label,
    pub size: Option<Expr>,
    pub from: Option<StrLit>,
    pub entries: Vec<PopulationEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PopulationEntry {
    /// `WT ~ lognormal(median = 70, cv = 0.2) within (40, 150)`.
    Distribution {
        covariate: Name,
        dist: Name,
        args: Vec<NamedArg>,
        within: Option<(Expr, Expr, Span)>,
        span: Span,
    },
    /// `DIABETES = false`: every subject has this value.
    Fixed {
        covariate: Name,
        value: Expr,
        span: Span,
    },
    /// `correlation(WT, CRCL) = 0.4`.
    Correlation {
        a: Name,
        b: Name,
        rho: Expr,
        span: Span,
    },
    /// `subgroup "renal impaired" when CRCL < 60`.
    Subgroup {
        name: Label,
        when: Expr,
        span: Span,
    },
    Error(Span),
}

/// A distribution argument, named (`median = 70`, `female = 0.5`) or not.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArg {
    pub name: Option<Name>,
    pub value: Expr,
    pub span: Span,
}

/// `regimen "5 mg QD" { dose 5 [mg] into depot every 24 [h] for 28 [d] }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegimenDecl {
    pub keyword: Span,
    pub name: Label,
    pub entries: Vec<RegimenEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RegimenEntry {
    /// `dose AMOUNT clauses` or, continuing the previous dose, `then AMOUNT clauses`.
    Dose(DoseStmt),
    /// `cycle 28 [d] repeat 6 { ... }`.
    Cycle {
        length: Expr,
        repeat: Expr,
        entries: Vec<RegimenEntry>,
        span: Span,
    },
    /// `when cp(trough) > 3 [mg/L] reduce by 2.5 [mg]`.
    Rule {
        condition: Expr,
        action: Name,
        by: Option<Expr>,
        span: Span,
    },
    Error(Span),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoseStmt {
    /// Written with `then`: a step that keeps the previous dose's
    /// compartment, interval and infusion unless it says otherwise.
    pub then: bool,
    pub amount: Expr,
    pub clauses: Vec<DoseClause>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DoseClause {
    Into(Name, Span),
    Over(Expr, Span),
    Every(Expr, Span),
    /// `for 28 [d]`, `for 4`, `for 4 doses`.
    For(Expr, Option<Name>, Span),
    At(Expr, Span),
    From(Expr, Span),
}

impl DoseClause {
    pub fn span(&self) -> Span {
        match self {
            DoseClause::Into(_, s)
            | DoseClause::Over(_, s)
            | DoseClause::Every(_, s)
            | DoseClause::For(_, _, s)
            | DoseClause::At(_, s)
            | DoseClause::From(_, s) => *s,
        }
    }

    /// The keyword that opens the clause.
    pub fn keyword(&self) -> &'static str {
        match self {
            DoseClause::Into(..) => "into",
            DoseClause::Over(..) => "over",
            DoseClause::Every(..) => "every",
            DoseClause::For(..) => "for",
            DoseClause::At(..) => "at",
            DoseClause::From(..) => "from",
        }
    }
}

/// `cmax_ss = max(cp) over last interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDecl {
    pub name: Name,
    pub value: Expr,
    pub window: WindowDecl,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WindowDecl {
    /// Two words: `last interval`, `steady state`, `whole course`.
    Words(Name, Name),
    /// `144 [h] to 168 [h]`.
    Range(Expr, Expr),
    /// A metric line the parser could not read (already reported).
    Error(Span),
}

impl WindowDecl {
    pub fn span(&self) -> Span {
        match self {
            WindowDecl::Words(a, b) => a.span.to(b.span),
            WindowDecl::Range(a, b) => a.span.to(b.span),
            WindowDecl::Error(s) => *s,
        }
    }
}

/// `efficacy trough_ok: ctrough_ss >= 1 [mg/L] in at least 90%`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDecl {
    pub kind: Name,
    pub name: Option<Name>,
    pub condition: Expr,
    pub fraction: Expr,
    /// Whether the fraction was written with `%`.
    pub percent: bool,
    pub span: Span,
}

/// `optimize { regimen = "QD" population = adults ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeDecl {
    pub keyword: Span,
    pub name: Option<Label>,
    pub settings: Vec<Setting>,
    pub span: Span,
}

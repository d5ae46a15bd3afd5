//! Populations: covariate distributions (in the covariates' units),
//! correlations, a dataset to resample, and subgroups.

use super::error::ScenarioError;
use super::ir::{
    Condition, CovariateDraw, CovariateSource, Distribution, FileRef, Population, Subgroup,
};
use super::units::{self, Quantity};
use super::{duplicates, Cx};
use crate::ir::Covariate;
use crate::suggest::similar;
use mido_grammar::ast::scenario::{
    NamedArg, PopulationDecl, PopulationEntry, ScenarioFile, ScenarioItem,
};
use mido_grammar::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use mido_grammar::Span;
use mido_runtime::model::CovariateKind;

/// A checked population with the spans later checks point at.
pub(crate) struct Checked {
    pub checked: Population,
    pub span: Span,
    pub subgroups: Vec<(String, Span)>,
}

const DISTRIBUTIONS: &[&str] = &["normal", "lognormal", "uniform", "categorical"];

pub(crate) fn check_all(cx: &mut Cx, file: &ScenarioFile) -> Vec<Checked> {
    let decls: Vec<&PopulationDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Population(p) => Some(p),
            _ => None,
        })
        .collect();
    duplicates(
        cx,
        "population",
        decls.iter().map(|p| (p.name.text.as_str(), p.name.span)),
    );
    decls.into_iter().filter_map(|p| check_one(cx, p)).collect()
}

fn check_one(cx: &mut Cx, p: &PopulationDecl) -> Option<Checked> {
    let size = match &p.size {
        Some(e) => match units::count(e, "the population size", 1) {
            Ok(n) => Some(n as usize),
            Err(_) => {
                cx.error(ScenarioError::InvalidPopulationSize {
                    span: e.span,
                    reason: "the size is a whole number of subjects ≥ 1",
                });
                None
            }
        },
        None if p.from.is_none() => {
            cx.error(ScenarioError::InvalidPopulationSize {
                span: p.name.span,
                reason: "give the number of virtual subjects: `population adults 1000 { ... }`",
            });
            None
        }
        None => None,
    };
    let mut draws: Vec<(CovariateDraw, Span)> = Vec::new();
    let mut correlations = Vec::new();
    let mut subgroups = Vec::new();
    let mut subgroup_spans = Vec::new();
    // Covariates an entry names, valid or not: a broken entry is reported
    // as such, not again as a missing covariate.
    let mut mentioned: Vec<String> = Vec::new();
    for entry in &p.entries {
        if let PopulationEntry::Distribution { covariate, .. }
        | PopulationEntry::Fixed { covariate, .. } = entry
        {
            mentioned.push(covariate.text.to_ascii_lowercase());
        }
        match entry {
            PopulationEntry::Distribution {
                covariate,
                dist,
                args,
                within,
                span,
            } => {
                if let Some(cov) = cx.covariate(&covariate.text, covariate.span) {
                    let d = distribution(cov, &dist.text, dist.span, args, *span);
                    let w = within.as_ref().map(|(a, b, wspan)| {
                        let lo =
                            units::constant(a, "a truncation bound").and_then(|q| to_cov(&q, cov));
                        let hi =
                            units::constant(b, "a truncation bound").and_then(|q| to_cov(&q, cov));
                        match (lo, hi) {
                            (Ok(lo), Ok(hi)) if lo < hi => Ok((lo, hi)),
                            (Ok(_), Ok(_)) => Err(ScenarioError::InvalidDistribution {
                                covariate: cov.name.clone(),
                                span: *wspan,
                                reason:
                                    "the truncation range is empty (lower bound not below upper)"
                                        .into(),
                            }),
                            (Err(e), _) | (_, Err(e)) => Err(e),
                        }
                    });
                    let w = match w {
                        Some(r) => cx.ok(r).map(Some),
                        None => Some(None),
                    };
                    if let (Some(d), Some(within)) = (cx.ok(d), w) {
                        draws.push((
                            CovariateDraw {
                                name: cov.name.clone(),
                                distribution: d,
                                within,
                            },
                            covariate.span,
                        ));
                    }
                }
            }
            PopulationEntry::Fixed {
                covariate, value, ..
            } => {
                if let Some(cov) = cx.covariate(&covariate.text, covariate.span) {
                    if let Some(d) = cx.ok(fixed(cov, value)) {
                        draws.push((
                            CovariateDraw {
                                name: cov.name.clone(),
                                distribution: d,
                                within: None,
                            },
                            covariate.span,
                        ));
                    }
                }
            }
            PopulationEntry::Correlation {
                a,
                b,
                rho: rho_expr,
                span,
            } => {
                let ca = cx.covariate(&a.text, a.span).map(|c| c.name.clone());
                let cb = cx.covariate(&b.text, b.span).map(|c| c.name.clone());
                let r = units::plain(rho_expr, "a correlation");
                match (ca, cb, r) {
                    (_, _, Err(e)) => cx.error(e),
                    (Some(a), Some(b), Ok(rho)) => {
                        if a == b {
                            cx.error(ScenarioError::InvalidCorrelation {
                                span: *span,
                                reason: "a covariate with itself".into(),
                            });
                        } else if !(rho > -1.0 && rho < 1.0) {
                            cx.error(ScenarioError::InvalidCorrelation {
                                span: rho_expr.span,
                                reason: format!("ρ = {rho} is not strictly between -1 and 1"),
                            });
                        } else {
                            correlations.push((super::ir::Correlation { a, b, rho }, *span));
                        }
                    }
                    _ => {}
                }
            }
            PopulationEntry::Subgroup { name, when, .. } => {
                subgroup_spans.push((name.text.clone(), name.span));
                if let Some(alternatives) = alternatives_of(cx, when) {
                    subgroups.push(Subgroup {
                        name: name.text.clone(),
                        alternatives,
                    });
                }
            }
            PopulationEntry::Error(_) => {}
        }
    }
    duplicates(
        cx,
        "subgroup",
        subgroup_spans.iter().map(|(n, s)| (n.as_str(), *s)),
    );
    duplicates(
        cx,
        "covariate distribution",
        draws.iter().map(|(d, s)| (d.name.as_str(), *s)),
    );
    let source = match &p.from {
        Some(path) => {
            if let Some((_, span)) = draws.first() {
                cx.error(ScenarioError::InvalidDistribution {
                    covariate: draws[0].0.name.clone(),
                    span: *span,
                    reason: "a population resampled from a dataset takes every covariate from it"
                        .into(),
                });
            }
            CovariateSource::Dataset(FileRef {
                path: path.value.clone(),
                span: path.span,
            })
        }
        None => {
            if let Some(model) = cx.model {
                let missing: Vec<String> = model
                    .covariates
                    .iter()
                    .filter(|c| !mentioned.contains(&c.name.to_ascii_lowercase()))
                    .map(|c| c.name.clone())
                    .collect();
                if !missing.is_empty() {
                    cx.error(ScenarioError::MissingCovariates {
                        population: p.name.text.clone(),
                        span: p.keyword.to(p.name.span),
                        names: missing,
                    });
                }
            }
            for (c, span) in &correlations {
                for name in [&c.a, &c.b] {
                    let continuous = draws.iter().any(|(d, _)| {
                        d.name == *name
                            && matches!(
                                d.distribution,
                                Distribution::Normal { .. }
                                    | Distribution::LogNormal { .. }
                                    | Distribution::Uniform { .. }
                            )
                    });
                    if !continuous {
                        cx.error(ScenarioError::InvalidCorrelation {
                            span: *span,
                            reason: format!(
                                "`{name}` needs a normal, log-normal or uniform distribution in this population"
                            ),
                        });
                    }
                }
            }
            CovariateSource::Distributions {
                covariates: draws.into_iter().map(|(d, _)| d).collect(),
                correlations: correlations.into_iter().map(|(c, _)| c).collect(),
            }
        }
    };
    Some(Checked {
        checked: Population {
            name: p.name.text.clone(),
            size,
            source,
            subgroups,
        },
        span: p.name.span,
        subgroups: subgroup_spans,
    })
}

fn to_cov(q: &Quantity, cov: &Covariate) -> Result<f64, ScenarioError> {
    q.convert_to(
        cov.unit.as_ref(),
        &format!(
            "covariate `{}` is declared in the model with this unit",
            cov.name
        ),
    )
}

/// The level names of a category or bool covariate; `None` for a real one.
fn levels(cov: &Covariate) -> Option<Vec<String>> {
    match &cov.kind {
        CovariateKind::Category(levels) => Some(levels.iter().map(|(n, _)| n.clone()).collect()),
        CovariateKind::Bool => Some(vec!["true".into(), "false".into()]),
        CovariateKind::Real => None,
    }
}

fn level_of(cov: &Covariate, name: &str, span: Span) -> Result<String, ScenarioError> {
    let all = levels(cov).unwrap_or_default();
    all.iter()
        .find(|l| l.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| ScenarioError::UnknownLevel {
            covariate: cov.name.clone(),
            level: name.to_string(),
            span,
            levels: all.clone(),
        })
}

/// `COV = value`.
fn fixed(cov: &Covariate, value: &Expr) -> Result<Distribution, ScenarioError> {
    match (&value.kind, levels(cov)) {
        (ExprKind::Name(n), Some(_)) => Ok(Distribution::Categorical(vec![(
            level_of(cov, n, value.span)?,
            1.0,
        )])),
        (ExprKind::Bool(b), Some(_)) => Ok(Distribution::Categorical(vec![(
            level_of(cov, &b.to_string(), value.span)?,
            1.0,
        )])),
        (_, Some(l)) => Err(ScenarioError::InvalidDistribution {
            covariate: cov.name.clone(),
            span: value.span,
            reason: format!("the value is one of its levels: {}", l.join(", ")),
        }),
        (_, None) => Ok(Distribution::Fixed(to_cov(
            &units::constant(value, "a covariate value")?,
            cov,
        )?)),
    }
}

/// `COV ~ dist(args)`.
fn distribution(
    cov: &Covariate,
    dist: &str,
    dist_span: Span,
    args: &[NamedArg],
    span: Span,
) -> Result<Distribution, ScenarioError> {
    let bad = |reason: String, span: Span| ScenarioError::InvalidDistribution {
        covariate: cov.name.clone(),
        span,
        reason,
    };
    if dist == "categorical" {
        let Some(_) = levels(cov) else {
            return Err(bad(
                "`categorical` needs a category or bool covariate".into(),
                dist_span,
            ));
        };
        let mut out = Vec::new();
        for a in args {
            let Some(level) = &a.name else {
                return Err(bad(
                    "each weight is named by its level: `female = 0.5`".into(),
                    a.span,
                ));
            };
            let w = units::plain(&a.value, "a weight")?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(bad(
                    format!("the weight of `{}` is {w}; weights are ≥ 0", level.text),
                    a.value.span,
                ));
            }
            out.push((level_of(cov, &level.text, level.span)?, w));
        }
        if out.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(bad("the weights need a positive sum".into(), span));
        }
        return Ok(Distribution::Categorical(out));
    }
    let names: &[&str] = match dist {
        "normal" => &["mean", "sd"],
        "lognormal" => &["median", "cv"],
        "uniform" => &["lo", "hi"],
        _ => {
            return Err(ScenarioError::UnknownDistribution {
                name: dist.to_string(),
                span: dist_span,
                candidates: similar(dist, DISTRIBUTIONS.iter().copied()),
            })
        }
    };
    if let Some(l) = levels(cov) {
        return Err(bad(
            format!(
                "a category or bool covariate takes `categorical(...)` over its levels ({})",
                l.join(", ")
            ),
            dist_span,
        ));
    }
    if args.len() != 2 {
        return Err(bad(
            format!("`{dist}` takes {} and {}", names[0], names[1]),
            span,
        ));
    }
    let mut values = [f64::NAN; 2];
    for (k, a) in args.iter().enumerate() {
        let slot = match &a.name {
            Some(n) => names.iter().position(|x| *x == n.text).ok_or_else(|| {
                bad(
                    format!(
                        "`{dist}` takes {} and {}, not `{}`",
                        names[0], names[1], n.text
                    ),
                    n.span,
                )
            })?,
            None => k,
        };
        let q = units::constant(&a.value, "a distribution parameter")?;
        // A coefficient of variation is a fraction without a unit.
        values[slot] = if names[slot] == "cv" {
            units::plain(&a.value, "a cv")?
        } else {
            to_cov(&q, cov)?
        };
    }
    if values.iter().any(|v| v.is_nan()) {
        return Err(bad(
            format!("`{dist}` takes {} and {}", names[0], names[1]),
            span,
        ));
    }
    let [a, b] = values;
    match dist {
        "normal" if b >= 0.0 => Ok(Distribution::Normal { mean: a, sd: b }),
        "normal" => Err(bad(
            format!("the standard deviation is {b}; it must be ≥ 0"),
            span,
        )),
        "lognormal" if a > 0.0 && b >= 0.0 => Ok(Distribution::LogNormal { median: a, cv: b }),
        "lognormal" => Err(bad(
            "a log-normal needs a median > 0 and a cv ≥ 0".into(),
            span,
        )),
        _ if a < b => Ok(Distribution::Uniform { lo: a, hi: b }),
        _ => Err(bad("a uniform needs lo < hi".into(), span)),
    }
}

/// The next larger double: `x <= b` is `x < next_up(b)`.
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        x
    } else if x == 0.0 {
        f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}

/// Most alternatives a subgroup's `when` may expand to: `(A or B) and (C
/// or D)` is four; a condition that needs more is better written as
/// several subgroups.
const MAX_ALTERNATIVES: usize = 64;

/// A subgroup's `when` in disjunctive normal form (see
/// [`Subgroup::alternatives`]); `None` after an error.
fn alternatives_of(cx: &mut Cx, e: &Expr) -> Option<Vec<Vec<Condition>>> {
    match &e.kind {
        ExprKind::Binary(BinaryOp::Or, a, b) => {
            let a = alternatives_of(cx, a);
            let b = alternatives_of(cx, b);
            let (mut a, b) = (a?, b?);
            a.extend(b);
            Some(a)
        }
        ExprKind::Binary(BinaryOp::And, a, b) => {
            let a = alternatives_of(cx, a);
            let b = alternatives_of(cx, b);
            let (a, b) = (a?, b?);
            if a.len() * b.len() > MAX_ALTERNATIVES {
                cx.error(ScenarioError::InvalidSubgroup {
                    span: e.span,
                    reason: format!(
                        "this condition expands to {} alternatives (`and` of `or`s), more than {MAX_ALTERNATIVES}; split it into several subgroups",
                        a.len() * b.len()
                    ),
                });
                return None;
            }
            Some(
                a.iter()
                    .flat_map(|x| {
                        b.iter().map(move |y| {
                            let mut both = x.clone();
                            both.extend(y.iter().cloned());
                            both
                        })
                    })
                    .collect(),
            )
        }
        _ => {
            let mut one = Vec::new();
            conditions_of(cx, e, &mut one).then_some(vec![one])
        }
    }
}

/// Adds the condition one comparison (or bool covariate) of a subgroup's
/// `when` states to `out` (`and` and `or` are [`alternatives_of`]'s);
/// false after an error.
fn conditions_of(cx: &mut Cx, e: &Expr, out: &mut Vec<Condition>) -> bool {
    let bad = |reason: &str| ScenarioError::InvalidSubgroup {
        span: e.span,
        reason: reason.to_string(),
    };
    match &e.kind {
        ExprKind::Name(n) => bool_level(cx, e, n, "true", out),
        ExprKind::Unary(UnaryOp::Not, x) => match &x.kind {
            ExprKind::Name(n) => bool_level(cx, e, n, "false", out),
            _ => {
                cx.error(bad("not a comparison of a covariate with a value"));
                false
            }
        },
        ExprKind::Binary(op, a, b)
            if matches!(
                op,
                BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
                    | BinaryOp::Eq
                    | BinaryOp::Ne
            ) =>
        {
            // The covariate on the left; `60 > CRCL` is `CRCL < 60`.
            let (name, value, op) = match (&a.kind, &b.kind) {
                (ExprKind::Name(n), _) => (n, b.as_ref(), *op),
                (_, ExprKind::Name(n)) => (n, a.as_ref(), flip(*op)),
                _ => {
                    cx.error(bad("compare a covariate with a value"));
                    return false;
                }
            };
            let Some(cov) = cx.covariate(name, e.span) else {
                return false;
            };
            let covariate = cov.name.clone();
            if levels(cov).is_some() {
                let level = match &value.kind {
                    ExprKind::Name(l) => l.clone(),
                    ExprKind::Bool(v) => v.to_string(),
                    _ => {
                        cx.error(bad(&format!(
                            "`{covariate}` is compared with one of its levels"
                        )));
                        return false;
                    }
                };
                let Some(level) = cx.ok(level_of(cov, &level, value.span)) else {
                    return false;
                };
                match op {
                    BinaryOp::Eq => out.push(Condition::Level { covariate, level }),
                    BinaryOp::Ne => {
                        let others: Vec<String> = levels(cov)
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|l| *l != level)
                            .collect();
                        match others.as_slice() {
                            [other] => out.push(Condition::Level {
                                covariate,
                                level: other.clone(),
                            }),
                            _ => {
                                cx.error(bad("`!=` on a category of more than two levels: name the level with `==`"));
                                return false;
                            }
                        }
                    }
                    _ => {
                        cx.error(bad("levels are compared with `==` or `!=`"));
                        return false;
                    }
                }
                return true;
            }
            let Some(x) =
                cx.ok(units::constant(value, "a subgroup bound").and_then(|q| to_cov(&q, cov)))
            else {
                return false;
            };
            let (from, to) = match op {
                BinaryOp::Lt => (f64::NEG_INFINITY, x),
                BinaryOp::Le => (f64::NEG_INFINITY, next_up(x)),
                BinaryOp::Gt => (next_up(x), f64::INFINITY),
                BinaryOp::Ge => (x, f64::INFINITY),
                BinaryOp::Eq => (x, next_up(x)),
                _ => {
                    cx.error(bad("`!=` on a real covariate: write `< x or > x`"));
                    return false;
                }
            };
            out.push(Condition::Range {
                covariate,
                from,
                to,
            });
            true
        }
        _ => {
            cx.error(bad("not a comparison of a covariate with a value"));
            false
        }
    }
}

/// `when DIABETES` / `when not DIABETES` on a bool covariate.
fn bool_level(cx: &mut Cx, e: &Expr, name: &str, level: &str, out: &mut Vec<Condition>) -> bool {
    let Some(cov) = cx.covariate(name, e.span) else {
        return false;
    };
    if cov.kind != CovariateKind::Bool {
        cx.error(ScenarioError::InvalidSubgroup {
            span: e.span,
            reason: format!(
                "`{}` is not a bool covariate; compare it with a value",
                cov.name
            ),
        });
        return false;
    }
    out.push(Condition::Level {
        covariate: cov.name.clone(),
        level: level.into(),
    });
    true
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

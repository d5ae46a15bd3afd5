//! Targets (what counts as success, in what share of subjects), subgroup
//! comparisons and dose searches: the parts of a scenario that refer to
//! its metrics, populations and regimens by name.

use super::error::ScenarioError;
use super::ir::{Comparison, Search, SearchSpace, Target, TargetCondition, TargetKind};
use super::metrics::{Checked as Metric, Measure};
use super::population::Checked as Population;
use super::regimen::Checked as Regimen;
use super::units::{self, Quantity};
use super::{duplicates, Cx};
use crate::suggest::similar;
use mido_grammar::ast::scenario::{
    OptimizeDecl, ScenarioFile, ScenarioItem, SettingValue, TargetDecl,
};
use mido_grammar::ast::{BinaryOp, Expr, ExprKind};
use mido_grammar::Span;

fn unknown<'a>(
    kind: &'static str,
    name: &str,
    span: Span,
    known: impl IntoIterator<Item = &'a str>,
) -> ScenarioError {
    ScenarioError::UnknownReference {
        kind,
        name: name.to_string(),
        span,
        candidates: similar(name, known),
    }
}

pub(crate) fn check_targets(cx: &mut Cx, file: &ScenarioFile, metrics: &[Metric]) -> Vec<Target> {
    let decls: Vec<&TargetDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Targets(t, _) => Some(t.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    let name_of = |t: &TargetDecl| t.name.as_ref().unwrap_or(&t.kind).clone();
    duplicates(
        cx,
        "target",
        decls.iter().map(|t| {
            let n = t.name.as_ref().unwrap_or(&t.kind);
            (n.text.as_str(), n.span)
        }),
    );
    let mut out = Vec::new();
    for t in decls {
        let kind = match t.kind.text.as_str() {
            "efficacy" => Some(TargetKind::Efficacy),
            "safety" => Some(TargetKind::Safety),
            other => {
                cx.error(ScenarioError::UnknownTargetKind {
                    name: other.to_string(),
                    span: t.kind.span,
                    candidates: similar(other, ["efficacy", "safety"]),
                });
                None
            }
        };
        let condition = condition(cx, &t.condition, metrics);
        let fraction = fraction(cx, t);
        if let (Some(kind), Some((metric, condition)), Some(fraction)) = (kind, condition, fraction)
        {
            out.push(Target {
                name: name_of(t).text,
                kind,
                metric,
                condition,
                fraction,
            });
        }
    }
    out
}

fn fraction(cx: &mut Cx, t: &TargetDecl) -> Option<f64> {
    let x = cx.ok(units::plain(&t.fraction, "the required share of subjects"))?;
    let f = if t.percent { x / 100.0 } else { x };
    if f > 0.0 && f <= 1.0 {
        return Some(f);
    }
    let hint = (!t.percent && x > 1.0 && x <= 100.0)
        .then(|| format!("a share is written `{x}%` or as a fraction `{}`", x / 100.0));
    cx.error(ScenarioError::ImpossibleTarget {
        span: t.fraction.span,
        reason: format!(
            "the required share of subjects is {}; it must be more than 0 and at most 100%",
            if t.percent {
                format!("{x}%")
            } else {
                format!("{x}")
            }
        ),
        hint,
    });
    None
}

/// `m >= x`, `m <= x` (either side), or both joined by `and`.
fn condition(cx: &mut Cx, e: &Expr, metrics: &[Metric]) -> Option<(String, TargetCondition)> {
    let bad = |span: Span, reason: &str| ScenarioError::InvalidTarget {
        span,
        reason: reason.into(),
    };
    if let ExprKind::Binary(BinaryOp::And, a, b) = &e.kind {
        let (ma, ca) = condition(cx, a, metrics)?;
        let (mb, cb) = condition(cx, b, metrics)?;
        if ma != mb {
            cx.error(bad(e.span, "both sides of `and` are about the same metric"));
            return None;
        }
        let (lo, hi) = match (ca, cb) {
            (TargetCondition::AtLeast(lo), TargetCondition::AtMost(hi))
            | (TargetCondition::AtMost(hi), TargetCondition::AtLeast(lo)) => (lo, hi),
            _ => {
                cx.error(bad(
                    e.span,
                    "a range is one lower (`>=`) and one upper (`<=`) bound",
                ));
                return None;
            }
        };
        if lo > hi {
            cx.error(ScenarioError::ImpossibleTarget {
                span: e.span,
                reason: format!("no value is at least {lo} and at most {hi}"),
                hint: None,
            });
            return None;
        }
        return Some((ma, TargetCondition::Between(lo, hi)));
    }
    let ExprKind::Binary(op, a, b) = &e.kind else {
        cx.error(bad(e.span, "a target compares a metric with a value"));
        return None;
    };
    let (name, name_span, value, at_least) = match (&a.kind, &b.kind, op) {
        (ExprKind::Name(n), _, BinaryOp::Ge) => (n, a.span, b, true),
        (ExprKind::Name(n), _, BinaryOp::Le) => (n, a.span, b, false),
        (_, ExprKind::Name(n), BinaryOp::Le) => (n, b.span, a, true),
        (_, ExprKind::Name(n), BinaryOp::Ge) => (n, b.span, a, false),
        (_, _, BinaryOp::Gt | BinaryOp::Lt) => {
            cx.error(bad(e.span, "targets include their limit: use `>=` or `<=`"));
            return None;
        }
        _ => {
            cx.error(bad(e.span, "a target compares a metric with `>=` or `<=`"));
            return None;
        }
    };
    let Some(metric) = metrics.iter().find(|m| m.checked.name == *name) else {
        cx.error(unknown(
            "metric",
            name,
            name_span,
            metrics.iter().map(|m| m.checked.name.as_str()),
        ));
        return None;
    };
    let q: Quantity = cx.ok(units::constant(value, "a target's limit"))?;
    let x = cx.ok(metric.measure.convert(&q, &cx.time))?;
    if !x.is_finite() {
        cx.error(ScenarioError::ImpossibleTarget {
            span: value.span,
            reason: "the limit is not a finite number".into(),
            hint: None,
        });
        return None;
    }
    if matches!(metric.measure, Measure::Time) && !at_least && x < 0.0 {
        cx.error(ScenarioError::ImpossibleTarget {
            span: e.span,
            reason: format!("`{name}` is a time, never below 0, so never at most {x}"),
            hint: None,
        });
        return None;
    }
    let c = if at_least {
        TargetCondition::AtLeast(x)
    } else {
        TargetCondition::AtMost(x)
    };
    Some((name.clone(), c))
}

pub(crate) fn check_comparisons(
    cx: &mut Cx,
    file: &ScenarioFile,
    metrics: &[Metric],
    populations: &[Population],
) -> Vec<Comparison> {
    let mut out = Vec::new();
    for item in &file.items {
        let ScenarioItem::Compare {
            metric, reference, ..
        } = item
        else {
            continue;
        };
        let m = metrics.iter().any(|m| m.checked.name == metric.text);
        if !m {
            cx.error(unknown(
                "metric",
                &metric.text,
                metric.span,
                metrics.iter().map(|m| m.checked.name.as_str()),
            ));
        }
        let subgroups = populations
            .iter()
            .flat_map(|p| p.subgroups.iter().map(|(n, _)| n.as_str()));
        let r = populations
            .iter()
            .any(|p| p.subgroups.iter().any(|(n, _)| *n == reference.text));
        if !r {
            cx.error(unknown(
                "subgroup",
                &reference.text,
                reference.span,
                subgroups,
            ));
        }
        if m && r {
            out.push(Comparison {
                metric: metric.text.clone(),
                reference: reference.text.clone(),
            });
        }
    }
    out
}

fn text(v: &SettingValue) -> Option<(&str, Span)> {
    match v {
        SettingValue::Str(s) => Some((&s.value, s.span)),
        SettingValue::Expr(Expr {
            kind: ExprKind::Name(n),
            span,
        }) => Some((n, *span)),
        _ => None,
    }
}

pub(crate) fn check_searches(
    cx: &mut Cx,
    file: &ScenarioFile,
    regimens: &[Regimen],
    populations: &[Population],
    targets: &[Target],
) -> Vec<Search> {
    let decls: Vec<&OptimizeDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Optimize(o) => Some(o),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (k, o) in decls.into_iter().enumerate() {
        if let Some(s) = search(cx, o, k, regimens, populations, targets) {
            out.push(s);
        }
    }
    out
}

fn search(
    cx: &mut Cx,
    o: &OptimizeDecl,
    k: usize,
    regimens: &[Regimen],
    populations: &[Population],
    targets: &[Target],
) -> Option<Search> {
    let bad = |span: Span, reason: String| ScenarioError::InvalidSearch { span, reason };
    duplicates(
        cx,
        "setting",
        o.settings
            .iter()
            .map(|s| (s.name.text.as_str(), s.name.span)),
    );
    let mut regimen = None;
    let mut population = None;
    let mut efficacy = None;
    let mut safety = None;
    let mut space: Option<(Vec<Quantity>, bool, Span)> = None;
    let mut tolerance = 0.01;
    let mut intervals: Vec<f64> = Vec::new();
    let errors = cx.errors.len();
    for s in &o.settings {
        let one = match s.values.as_slice() {
            [v] => Some(v),
            _ => None,
        };
        match s.name.text.as_str() {
            "regimen" => match one.and_then(text) {
                Some((n, span)) => match regimens.iter().find(|r| r.checked.name == n) {
                    Some(r) => regimen = Some(r),
                    None => cx.error(unknown(
                        "regimen",
                        n,
                        span,
                        regimens.iter().map(|r| r.checked.name.as_str()),
                    )),
                },
                None => cx.error(bad(s.span, "`regimen = \"name\"`".into())),
            },
            "population" => match one.and_then(text) {
                Some((n, span)) => match populations.iter().find(|p| p.checked.name == n) {
                    Some(p) => population = Some(p.checked.name.clone()),
                    None => cx.error(unknown(
                        "population",
                        n,
                        span,
                        populations.iter().map(|p| p.checked.name.as_str()),
                    )),
                },
                None => cx.error(bad(s.span, "`population = name`".into())),
            },
            which @ ("efficacy" | "safety") => match one.and_then(text) {
                Some((n, span)) => {
                    let kind = if which == "efficacy" {
                        TargetKind::Efficacy
                    } else {
                        TargetKind::Safety
                    };
                    match targets.iter().find(|t| t.name == n) {
                        Some(t) if t.kind == kind => {
                            if which == "efficacy" {
                                efficacy = Some(n.to_string());
                            } else {
                                safety = Some(n.to_string());
                            }
                        }
                        Some(_) => {
                            cx.error(bad(span, format!("target `{n}` is not a {which} target")))
                        }
                        None => cx.error(unknown(
                            "target",
                            n,
                            span,
                            targets
                                .iter()
                                .filter(|t| t.kind == kind)
                                .map(|t| t.name.as_str()),
                        )),
                    }
                }
                None => cx.error(bad(s.span, format!("`{which} = target_name`"))),
            },
            "doses" => match one {
                Some(SettingValue::Range(a, b)) => {
                    let lo = cx.ok(units::constant(a, "the lowest dose"));
                    let hi = cx.ok(units::constant(b, "the highest dose"));
                    if let (Some(lo), Some(hi)) = (lo, hi) {
                        space = Some((vec![lo, hi], true, s.span));
                    }
                }
                _ => cx.error(bad(s.span, "`doses = 1 [mg] to 20 [mg]`".into())),
            },
            "strengths" => {
                let mut qs = Vec::new();
                for v in &s.values {
                    match v {
                        SettingValue::Expr(e) => {
                            if let Some(q) = cx.ok(units::constant(e, "a strength")) {
                                qs.push(q);
                            }
                        }
                        _ => cx.error(bad(
                            v.span(),
                            "strengths are amounts: `strengths = 2.5 [mg], 5 [mg]`".into(),
                        )),
                    }
                }
                space = Some((qs, false, s.span));
            }
            "intervals" => {
                for v in &s.values {
                    match v {
                        SettingValue::Expr(e) => {
                            let t = cx.ok(units::constant(e, "a dosing interval")
                                .and_then(|q| q.time(&cx.time)));
                            match t {
                                Some(t) if t > 0.0 && t.is_finite() => intervals.push(t),
                                Some(_) => cx.error(bad(
                                    e.span,
                                    "a dosing interval is a positive time".into(),
                                )),
                                None => {}
                            }
                        }
                        _ => cx.error(bad(
                            v.span(),
                            "intervals are times: `intervals = 8 [h], 12 [h], 24 [h]`".into(),
                        )),
                    }
                }
            }
            "tolerance" => match one {
                Some(SettingValue::Expr(e)) => match cx.ok(units::plain(e, "the tolerance")) {
                    Some(t) if t > 0.0 && t < 1.0 => tolerance = t,
                    Some(_) => cx.error(bad(
                        e.span,
                        "the tolerance is a relative width in (0, 1)".into(),
                    )),
                    None => {}
                },
                _ => cx.error(bad(s.span, "`tolerance = 0.01`".into())),
            },
            other => cx.error(ScenarioError::UnknownSetting {
                name: other.to_string(),
                span: s.name.span,
                candidates: similar(
                    other,
                    [
                        "regimen",
                        "population",
                        "efficacy",
                        "safety",
                        "doses",
                        "strengths",
                        "intervals",
                        "tolerance",
                    ],
                ),
            }),
        }
    }
    if cx.errors.len() > errors {
        return None;
    }
    let population = population.or_else(|| match populations {
        [only] => Some(only.checked.name.clone()),
        _ => None,
    });
    let mut missing = Vec::new();
    if regimen.is_none() {
        missing.push("`regimen`");
    }
    if population.is_none() {
        missing.push("`population` (the scenario has several)");
    }
    if efficacy.is_none() {
        missing.push("`efficacy`");
    }
    if safety.is_none() {
        missing.push("`safety`");
    }
    if space.is_none() {
        missing.push("`doses` or `strengths`");
    }
    if !missing.is_empty() {
        cx.error(bad(o.keyword, format!("missing {}", missing.join(", "))));
        return None;
    }
    let (regimen, (qs, continuous, span)) = (regimen?, space?);
    let unit = regimen.first_unit.as_ref();
    let doses: Vec<f64> = qs
        .iter()
        .filter_map(|q| {
            cx.ok(q.convert_to(
                unit,
                "the regimen's first dose goes into a compartment with this unit",
            ))
        })
        .collect();
    if doses.len() != qs.len() {
        return None;
    }
    if doses.iter().any(|d| !(*d > 0.0 && d.is_finite())) || doses.is_empty() {
        cx.error(bad(span, "doses must be positive".into()));
        return None;
    }
    let space = if continuous {
        if doses[0] >= doses[1] {
            cx.error(bad(
                span,
                "the range goes from a lower to a higher dose".into(),
            ));
            return None;
        }
        SearchSpace::Continuous {
            lo: doses[0],
            hi: doses[1],
            tolerance,
        }
    } else {
        SearchSpace::Strengths(doses)
    };
    Some(Search {
        name: o
            .name
            .as_ref()
            .map_or_else(|| format!("search {}", k + 1), |l| l.text.clone()),
        regimen: regimen.checked.name.clone(),
        population: population?,
        efficacy: efficacy?,
        safety: safety?,
        space,
        intervals,
    })
}

//! Metrics: a kind of a model variable over a window, checked against every
//! regimen (a window a regimen never reaches is an error, not a NaN column).

use super::error::ScenarioError;
use super::ir::{Metric, MetricKind, Window};
use super::regimen::Checked as Regimen;
use super::settings::Settings;
use super::units::{self, Dim, Quantity};
use super::{duplicates, Cx};
use crate::suggest::similar;
use mido_grammar::ast::scenario::{MetricDecl, ScenarioFile, ScenarioItem, WindowDecl};
use mido_grammar::ast::{BinaryOp, Expr, ExprKind, Unit};

const KINDS: &[&str] = &[
    "max", "min", "tmax", "trough", "auc", "cavg", "time", "value",
];
const WINDOWS: &[&str] = &[
    "first interval",
    "last interval",
    "steady state",
    "whole course",
];

/// What a metric's values are measured in, to read target thresholds.
#[derive(Debug, Clone)]
pub(crate) enum Measure {
    /// The variable's own unit (Cmax, Ctrough, ...).
    Variable(Option<Unit>),
    /// A time (Tmax, time above).
    Time,
    /// The variable's unit times time.
    Area(Option<Unit>),
}

pub(crate) struct Checked {
    pub checked: Metric,
    pub measure: Measure,
}

impl Measure {
    /// A threshold in the metric's unit.
    pub fn convert(&self, q: &Quantity, time: &Dim) -> Result<f64, ScenarioError> {
        let context = "the metric's unit comes from the model variable it measures";
        match self {
            Measure::Variable(u) => q.convert_to(u.as_ref(), context),
            Measure::Time => q.time(time),
            Measure::Area(u) => match (&q.unit, u) {
                (Some(qu), Some(vu)) => {
                    let want = Dim::of(&vu.expr).times(time, 1);
                    let got = Dim::of(&qu.expr);
                    if got.powers != want.powers {
                        return Err(ScenarioError::UnitMismatch {
                            span: qu.span,
                            found: qu.expr.to_string(),
                            expected: format!("{}*h", vu.expr),
                            context: "an AUC is in the variable's unit times time".into(),
                        });
                    }
                    Ok(q.value * got.factor / want.factor)
                }
                _ => Ok(q.value),
            },
        }
    }
}

pub(crate) fn check_all(
    cx: &mut Cx,
    file: &ScenarioFile,
    regimens: &[Regimen],
    settings: &Settings,
) -> Vec<Checked> {
    let decls: Vec<&MetricDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Metrics(m, _) => Some(m.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    duplicates(
        cx,
        "metric",
        decls.iter().map(|m| (m.name.text.as_str(), m.name.span)),
    );
    decls
        .into_iter()
        .filter_map(|m| check_one(cx, m, regimens, settings))
        .collect()
}

fn check_one(
    cx: &mut Cx,
    m: &MetricDecl,
    regimens: &[Regimen],
    settings: &Settings,
) -> Option<Checked> {
    let (kind, variable, measure) = kind(cx, &m.value)?;
    let window = match &m.window {
        WindowDecl::Words(a, b) => {
            let words = format!("{} {}", a.text, b.text);
            match words.as_str() {
                "first interval" => Window::FirstInterval,
                "last interval" => Window::LastInterval,
                "steady state" => Window::SteadyState,
                "whole course" => Window::Whole,
                _ => {
                    cx.error(ScenarioError::UnknownWindow {
                        candidates: similar(&words, WINDOWS.iter().copied()),
                        words,
                        span: m.window.span(),
                    });
                    return None;
                }
            }
        }
        WindowDecl::Range(a, b) => {
            let from =
                cx.ok(units::constant(a, "the window's start").and_then(|q| q.time(&cx.time)))?;
            let to = cx.ok(units::constant(b, "the window's end").and_then(|q| q.time(&cx.time)))?;
            if !(from >= 0.0 && to > from) {
                cx.error(ScenarioError::UnknownWindow {
                    words: format!("{from} to {to}"),
                    span: m.window.span(),
                    candidates: vec![],
                });
                return None;
            }
            Window::Range { from, to }
        }
        WindowDecl::Error(_) => return None,
    };
    let mut ok = true;
    for r in regimens {
        let end = r.checked.end.max(settings.horizon.unwrap_or(0.0));
        let outside = |reason: String| ScenarioError::WindowOutsideRegimen {
            metric: m.name.text.clone(),
            span: m.window.span(),
            regimen: r.checked.name.clone(),
            regimen_span: r.span,
            reason,
        };
        let range = match window {
            Window::FirstInterval => r.first_interval.ok_or_else(|| {
                outside("its first dose is a single dose, so it has no first dosing interval; use a time range or `whole course`".into())
            }),
            Window::LastInterval | Window::SteadyState => r.last_interval.ok_or_else(|| {
                outside("it ends with a single dose, not repeated dosing, so it has no last interval or steady state; use a time range or `whole course`".into())
            }),
            Window::Whole => Ok((0.0, end)),
            Window::Range { to, .. } if to > end * (1.0 + 1e-12) => Err(outside(format!(
                "the window ends at {to} but the regimen is simulated until {end} (model time units); set `horizon` to simulate longer"
            ))),
            Window::Range { from, to } => Ok((from, to)),
        };
        match range {
            Ok((from, to)) => {
                if let MetricKind::ValueAt(dt) = kind {
                    if from + dt > to {
                        cx.error(outside(format!("the value is taken {dt} after the window's start, past its end ({} long)", to - from)));
                        ok = false;
                    }
                }
            }
            Err(e) => {
                cx.error(e);
                ok = false;
            }
        }
    }
    ok.then(|| Checked {
        checked: Metric {
            name: m.name.text.clone(),
            variable,
            kind,
            window,
        },
        measure,
    })
}

/// `max(cp)`, `time(cp > 2 [mg/L])`, `value(cp, 2 [h])`, ...
fn kind(cx: &mut Cx, e: &Expr) -> Option<(MetricKind, String, Measure)> {
    let bad = |reason: &str, candidates: Vec<String>| ScenarioError::InvalidMetric {
        span: e.span,
        reason: reason.to_string(),
        candidates,
    };
    let ExprKind::Call(f, args) = &e.kind else {
        cx.error(bad(
            "a metric is a function of a model variable, e.g. `max(cp)`",
            vec![],
        ));
        return None;
    };
    let var = |cx: &mut Cx, a: &Expr| -> Option<(String, Option<Unit>)> {
        match &a.kind {
            ExprKind::Name(n) => cx.variable(n, a.span).map(|u| (n.clone(), u.cloned())),
            _ => {
                cx.error(ScenarioError::InvalidMetric {
                    span: a.span,
                    reason: "expected the name of a model variable".into(),
                    candidates: vec![],
                });
                None
            }
        }
    };
    match (f.text.as_str(), args.as_slice()) {
        (name @ ("max" | "min" | "tmax" | "trough" | "auc" | "cavg"), [a]) => {
            let (v, unit) = var(cx, a)?;
            let (kind, measure) = match name {
                "max" => (MetricKind::Max, Measure::Variable(unit)),
                "min" => (MetricKind::Min, Measure::Variable(unit)),
                "tmax" => (MetricKind::TimeOfMax, Measure::Time),
                "trough" => (MetricKind::Trough, Measure::Variable(unit)),
                "auc" => (MetricKind::Auc, Measure::Area(unit)),
                _ => (MetricKind::Average, Measure::Variable(unit)),
            };
            Some((kind, v, measure))
        }
        ("time", [c]) => {
            let ExprKind::Binary(op, a, limit) = &c.kind else {
                cx.error(bad(
                    "`time` takes a comparison: `time(cp > 2 [mg/L])`",
                    vec![],
                ));
                return None;
            };
            let (v, unit) = var(cx, a)?;
            let x = cx.ok(units::constant(limit, "a threshold").and_then(|q| {
                q.convert_to(unit.as_ref(), "the variable is declared with this unit")
            }))?;
            let kind = match op {
                BinaryOp::Gt | BinaryOp::Ge => MetricKind::TimeAbove(x),
                BinaryOp::Lt | BinaryOp::Le => MetricKind::TimeBelow(x),
                _ => {
                    cx.error(bad(
                        "`time` counts the time above (`>`) or below (`<`) a threshold",
                        vec![],
                    ));
                    return None;
                }
            };
            Some((kind, v, Measure::Time))
        }
        ("value", [a, t]) => {
            let (v, unit) = var(cx, a)?;
            let dt = cx.ok(units::constant(t, "a time after the window's start")
                .and_then(|q| q.time(&cx.time)))?;
            if dt < 0.0 {
                cx.error(bad(
                    "the time is counted from the window's start and cannot be negative",
                    vec![],
                ));
                return None;
            }
            Some((MetricKind::ValueAt(dt), v, Measure::Variable(unit)))
        }
        (name, _) if KINDS.contains(&name) => {
            let n = if matches!(name, "value") { 2 } else { 1 };
            cx.error(bad(
                &format!(
                    "`{name}` takes {n} argument{}",
                    if n == 1 { "" } else { "s" }
                ),
                vec![],
            ));
            None
        }
        (name, _) => {
            cx.error(ScenarioError::InvalidMetric {
                span: f.span,
                reason: format!("unknown metric `{name}`"),
                candidates: similar(name, KINDS.iter().copied()),
            });
            None
        }
    }
}

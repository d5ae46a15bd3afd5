//! The `NAME = value` lines of a scenario: the model and its parameter
//! source, the seed, variability, replicates, the sampling grid.

use super::error::ScenarioError;
use super::ir::FileRef;
use super::units::{self, Dim};
use super::{duplicates, Cx};
use crate::suggest::similar;
use mido_grammar::ast::scenario::{ScenarioFile, ScenarioItem, Setting, SettingValue};
use mido_grammar::ast::{ExprKind, UnitExpr};

/// Every setting a scenario may have.
pub(crate) const NAMES: &[&str] = &[
    "model",
    "params",
    "seed",
    "replicates",
    "uncertainty",
    "variability",
    "sampling",
    "horizon",
    "auc",
    "time_unit",
    "responses",
];

/// Time units the model's time may be in.
const TIME_UNITS: &[&str] = &["min", "h", "d", "wk"];

pub(crate) struct Settings {
    pub model: Option<FileRef>,
    pub params: Option<FileRef>,
    pub seed: u64,
    pub replicates: usize,
    pub between_subject: bool,
    pub residual: bool,
    pub parameter_uncertainty: bool,
    pub sampling: f64,
    pub horizon: Option<f64>,
    pub exact_auc: bool,
    /// Metrics whose per-subject values are probabilities, summarized as
    /// expected fractions responding (resolved after the metrics).
    pub responses: Vec<(String, mido_grammar::Span)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: None,
            params: None,
            seed: 1,
            replicates: 1,
            between_subject: true,
            residual: false,
            parameter_uncertainty: false,
            sampling: 1.0,
            horizon: None,
            exact_auc: false,
            responses: Vec::new(),
        }
    }
}

fn word(v: &SettingValue) -> Option<&str> {
    match v {
        SettingValue::Expr(e) => match &e.kind {
            ExprKind::Name(n) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn check(cx: &mut Cx, file: &ScenarioFile) -> Settings {
    let settings: Vec<&Setting> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Setting(s) => Some(s),
            _ => None,
        })
        .collect();
    duplicates(
        cx,
        "setting",
        settings.iter().map(|s| (s.name.text.as_str(), s.name.span)),
    );
    // The model's time unit first: every other time converts to it.
    for s in settings.iter().filter(|s| s.name.text == "time_unit") {
        match s.values.as_slice() {
            [v] if word(v).is_some_and(|w| TIME_UNITS.contains(&w)) => {
                cx.time = Dim::of(&UnitExpr::Name(word(v).unwrap_or("h").to_string()));
            }
            _ => cx.error(invalid(s, "one of `min`, `h`, `d`, `wk`: `time_unit = d`")),
        }
    }
    let mut out = Settings {
        // The default grid is one hour, in the model's time unit.
        sampling: 1.0 / cx.time.factor,
        ..Settings::default()
    };
    let mut replicates_from_uncertainty = None;
    for s in settings {
        let name = s.name.text.as_str();
        let one = match s.values.as_slice() {
            [v] => Some(v),
            _ => None,
        };
        match name {
            "model" | "params" => match one {
                Some(SettingValue::Str(path)) => {
                    let r = FileRef {
                        path: path.value.clone(),
                        span: path.span,
                    };
                    if name == "model" {
                        out.model = Some(r);
                    } else {
                        out.params = Some(r);
                    }
                }
                _ => cx.error(invalid(s, "a path in quotes: `model = \"model.mido\"`")),
            },
            "seed" => match one {
                Some(SettingValue::Expr(e)) => {
                    let x = units::plain(e, "the seed");
                    match x {
                        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 => out.seed = x as u64,
                        Ok(_) => cx.error(invalid(s, "a whole number ≥ 0: `seed = 42`")),
                        Err(e) => cx.error(e),
                    }
                }
                _ => cx.error(invalid(s, "a whole number ≥ 0: `seed = 42`")),
            },
            "replicates" => match one {
                Some(SettingValue::Expr(e)) => {
                    if let Some(n) = cx.ok(units::count(e, "the number of replicates", 1)) {
                        out.replicates = n as usize;
                    }
                }
                _ => cx.error(invalid(s, "a whole number ≥ 1: `replicates = 20`")),
            },
            "uncertainty" => match one {
                Some(v) if word(v) == Some("none") => out.parameter_uncertainty = false,
                Some(v) if word(v) == Some("covariance") => out.parameter_uncertainty = true,
                Some(SettingValue::Tagged(w, n)) if w.text == "covariance" => {
                    out.parameter_uncertainty = true;
                    if let Some(n) = cx.ok(units::count(n, "the number of replicates", 1)) {
                        replicates_from_uncertainty = Some((n as usize, s));
                    }
                }
                _ => cx.error(invalid(
                    s,
                    "`none`, `covariance` (one draw of the fixed effects per replicate) or `covariance 200` (200 replicates)",
                )),
            },
            "variability" => {
                let mut subject = false;
                let mut residual = false;
                let mut ok = true;
                for v in &s.values {
                    match word(v) {
                        Some("subject") => subject = true,
                        Some("residual") => residual = true,
                        Some("none") if s.values.len() == 1 => {}
                        _ => ok = false,
                    }
                }
                if ok {
                    out.between_subject = subject;
                    out.residual = residual;
                } else {
                    cx.error(invalid(s, "`none`, or `subject`, `residual` or both: `variability = subject, residual`"));
                }
            }
            "sampling" | "horizon" => {
                let what = if name == "sampling" { "the sampling step" } else { "the horizon" };
                let t = match one {
                    Some(SettingValue::Expr(e)) => units::constant(e, what)
                        .and_then(|q| q.time(&cx.time))
                        .map(|t| (t, e.span)),
                    _ => {
                        cx.error(invalid(s, "a time: `sampling = 0.5 [h]`"));
                        continue;
                    }
                };
                match t {
                    Ok((t, _)) if t > 0.0 && t.is_finite() => {
                        if name == "sampling" {
                            out.sampling = t;
                        } else {
                            out.horizon = Some(t);
                        }
                    }
                    Ok(_) => cx.error(invalid(s, "a positive time: `sampling = 0.5 [h]`")),
                    Err(e) => cx.error(e),
                }
            }
            "auc" => match one.and_then(word) {
                Some("exact") => out.exact_auc = true,
                Some("trapezoid") => out.exact_auc = false,
                _ => cx.error(invalid(
                    s,
                    "`trapezoid` (linear up, log down, on the grid) or `exact` (quadrature of the solution)",
                )),
            },
            "time_unit" => {}
            "responses" => {
                for v in &s.values {
                    match word(v) {
                        Some(w) => out.responses.push((w.to_string(), v.span())),
                        None => cx.error(invalid(
                            s,
                            "names of metrics whose values are probabilities: `responses = p_ae_max`",
                        )),
                    }
                }
            }
            _ => cx.error(ScenarioError::UnknownSetting {
                name: name.to_string(),
                span: s.name.span,
                candidates: similar(name, NAMES.iter().copied()),
            }),
        }
    }
    if out.parameter_uncertainty && out.params.is_none() {
        if let Some(s) = file.items.iter().find_map(|i| match i {
            ScenarioItem::Setting(s) if s.name.text == "uncertainty" => Some(s),
            _ => None,
        }) {
            cx.error(invalid(
                s,
                "`params = \"estimates.json\"` too: parameter uncertainty draws the fixed effects from the covariance of a fit's estimates",
            ));
        }
    }
    if let Some((n, s)) = replicates_from_uncertainty {
        let explicit = file
            .items
            .iter()
            .any(|i| matches!(i, ScenarioItem::Setting(r) if r.name.text == "replicates"));
        if explicit && out.replicates != n {
            cx.error(invalid(
                s,
                "either `uncertainty = covariance N` or `replicates = N`, not two different numbers",
            ));
        }
        out.replicates = n;
    }
    out
}

fn invalid(s: &Setting, expected: &'static str) -> ScenarioError {
    ScenarioError::InvalidSetting {
        name: s.name.text.clone(),
        span: s.span,
        expected,
    }
}

//! The scenario checker: a parsed scenario file and its compiled model →
//! a checked [`ir::Scenario`], with every mistake as a [`ScenarioError`].
//!
//! One file per concern: `settings` (the `NAME = value` lines), `population`
//! (covariate distributions and subgroups), `regimen` (doses and their
//! timeline), `metrics` (what is measured, and where), `targets` (targets,
//! subgroup comparisons, dose searches), `units` (constants and their
//! conversion). Like the model checker it never stops at the first error,
//! and it reads no file: the caller hands it the model (or why there is
//! none), and the `mido` package reads the files the scenario names.

pub mod error;
pub mod ir;
mod metrics;
mod population;
mod regimen;
pub(crate) mod settings;
mod targets;
pub mod units;

pub use error::ScenarioError;

use crate::diagnostic::Diagnostic;
use crate::ir as model_ir;
use crate::suggest::similar;
use mido_grammar::ast::scenario::{ScenarioFile, ScenarioItem, SettingValue};
use mido_grammar::ast::Unit;
use mido_grammar::Span;
use units::Dim;

/// The outcome of checking a scenario file.
#[derive(Debug)]
pub struct CheckedScenario {
    /// The checked scenario, when there is no error.
    pub scenario: Option<ir::Scenario>,
    /// The model it runs, when it could be loaded.
    pub model: Option<model_ir::Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedScenario {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

fn has_setting(file: &ScenarioFile, name: &str) -> bool {
    file.items
        .iter()
        .any(|i| matches!(i, ScenarioItem::Setting(s) if s.name.text == name))
}

/// Whether a file's text is a scenario (its first word is `scenario`)
/// rather than a model.
pub fn is_scenario(source: &str) -> bool {
    use mido_grammar::lexer::{Keyword, Lexer, Tok};
    matches!(
        Lexer::scenario(source).next(),
        Some((_, Tok::Kw(Keyword::Scenario), _))
    )
}

/// The `model = "..."` path of a parsed scenario, with its span.
pub fn model_file(file: &ScenarioFile) -> Option<(&str, Span)> {
    file.items.iter().find_map(|item| match item {
        ScenarioItem::Setting(s) if s.name.text == "model" => match s.values.as_slice() {
            [SettingValue::Str(path)] => Some((path.value.as_str(), path.span)),
            _ => None,
        },
        _ => None,
    })
}

/// Parses and checks a scenario's text. `load` is given the `model` path
/// (as written) and returns the checked model, or why there is none (its
/// own diagnostics are the caller's to report); it is not called when the
/// scenario names no model.
pub fn compile_scenario(
    source: &str,
    load: impl FnOnce(&str) -> Result<model_ir::Model, String>,
) -> CheckedScenario {
    let (file, syntax) = mido_grammar::parse_scenario(source);
    let mut diagnostics: Vec<Diagnostic> = syntax
        .into_iter()
        .map(|e| crate::Error::Syntax(e).diagnostic())
        .collect();
    let Some(file) = file else {
        return CheckedScenario {
            scenario: None,
            model: None,
            diagnostics,
        };
    };
    let loaded = model_file(&file).map(|(path, span)| (path.to_string(), span, load(path)));
    let (scenario, errors, model) = match loaded {
        Some((_, _, Ok(model))) => {
            let (s, e) = check(&file, Some(&model));
            (s, e, Some(model))
        }
        Some((path, span, Err(reason))) => {
            let (_, mut errors) = check(&file, None);
            errors.insert(0, ScenarioError::ModelUnavailable { path, span, reason });
            (None, errors, None)
        }
        None => {
            let (s, e) = check(&file, None);
            (s, e, None)
        }
    };
    let syntax_errors = !diagnostics.is_empty();
    diagnostics.extend(
        errors
            .iter()
            .filter(|e| !syntax_errors || survives_syntax_errors(e))
            .map(ScenarioError::diagnostic),
    );
    // In the order of the text, as a reader goes through it.
    diagnostics.sort_by_key(|d| d.labels.iter().find(|l| l.primary).map(|l| l.span.start));
    CheckedScenario {
        scenario: scenario.filter(|_| !syntax_errors),
        model,
        diagnostics,
    }
}

/// Most virtual subjects of one population, over all replicates.
const MAX_SUBJECTS: f64 = 1e7;

/// Most grid samples per subject and regimen (each is kept in memory).
const MAX_SAMPLES: f64 = 1e7;

/// Errors still worth reporting after a syntax error: those that cannot be
/// echoes of the entries the parser dropped.
fn survives_syntax_errors(e: &ScenarioError) -> bool {
    !matches!(
        e,
        ScenarioError::EmptyRegimen { .. }
            | ScenarioError::MissingModel { .. }
            | ScenarioError::MissingCovariates { .. }
            | ScenarioError::UnknownReference { .. }
    )
}

/// Checks a parsed scenario against its model (`None`: the model could not
/// be had; names that need it are then not checked). Returns the checked
/// scenario only when there is no error.
pub fn check(
    file: &ScenarioFile,
    model: Option<&model_ir::Model>,
) -> (Option<ir::Scenario>, Vec<ScenarioError>) {
    let mut cx = Cx {
        model,
        time: Dim::of(&mido_grammar::ast::UnitExpr::Name("h".into())),
        errors: Vec::new(),
    };
    let settings = settings::check(&mut cx, file);
    let populations = population::check_all(&mut cx, file);
    for p in &populations {
        let subjects = p.checked.size.unwrap_or(0) as f64 * settings.replicates as f64;
        if subjects > MAX_SUBJECTS {
            cx.error(ScenarioError::InvalidPopulationSize {
                span: p.span,
                reason: "at most 10 million virtual subjects per population (size × replicates)",
            });
        }
    }
    let regimens = regimen::check_all(&mut cx, file, &settings);
    for r in &regimens {
        let end = r.checked.end.max(settings.horizon.unwrap_or(0.0));
        let samples = end / settings.sampling;
        if samples > MAX_SAMPLES {
            cx.error(ScenarioError::InvalidSchedule {
                span: r.span,
                reason: format!(
                    "simulated until {end} with a grid step of {}, each subject would have {samples:.0} samples (at most {MAX_SAMPLES}); use a coarser `sampling`",
                    settings.sampling
                ),
            });
        }
    }
    let metrics = metrics::check_all(&mut cx, file, &regimens, &settings);
    let targets = targets::check_targets(&mut cx, file, &metrics);
    let comparisons = targets::check_comparisons(&mut cx, file, &metrics, &populations);
    let searches = targets::check_searches(&mut cx, file, &regimens, &populations, &targets);
    for (name, span) in &settings.responses {
        if !metrics.iter().any(|m| m.checked.name == *name) {
            cx.error(ScenarioError::UnknownReference {
                kind: "metric",
                name: name.clone(),
                span: *span,
                candidates: crate::suggest::similar(
                    name,
                    metrics.iter().map(|m| m.checked.name.as_str()),
                ),
            });
        }
    }
    if cx.model.is_none() && settings.model.is_some() {
        // The caller reports why; nothing can be produced without a model.
        return (None, cx.errors);
    }
    let Some(model_ref) = settings.model.clone() else {
        // A `model` line of the wrong form is already reported as such.
        if model_file(file).is_none() && !has_setting(file, "model") {
            cx.errors.insert(
                0,
                ScenarioError::MissingModel {
                    span: file.name.span,
                },
            );
        }
        return (None, cx.errors);
    };
    if !cx.errors.is_empty() {
        return (None, cx.errors);
    }
    let scenario = ir::Scenario {
        name: file.name.text.clone(),
        model: model_ref,
        params: settings.params,
        seed: settings.seed,
        replicates: settings.replicates,
        between_subject: settings.between_subject,
        residual: settings.residual,
        parameter_uncertainty: settings.parameter_uncertainty,
        sampling: settings.sampling,
        horizon: settings.horizon,
        exact_auc: settings.exact_auc,
        populations: populations.into_iter().map(|p| p.checked).collect(),
        regimens: regimens.into_iter().map(|r| r.checked).collect(),
        metrics: metrics.into_iter().map(|m| m.checked).collect(),
        targets,
        comparisons,
        searches,
        responses: settings.responses.iter().map(|(n, _)| n.clone()).collect(),
    };
    (Some(scenario), cx.errors)
}

/// What the checker carries: the model's names and the errors so far.
pub(crate) struct Cx<'m> {
    model: Option<&'m model_ir::Model>,
    /// The model's time unit.
    time: Dim,
    errors: Vec<ScenarioError>,
}

impl<'m> Cx<'m> {
    fn error(&mut self, e: ScenarioError) {
        self.errors.push(e);
    }

    /// Keeps the value or records the error.
    fn ok<T>(&mut self, r: Result<T, ScenarioError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// A covariate of the model by name (case-insensitive, as data columns
    /// are matched), reporting an unknown one. `Err(())` when the model is
    /// missing: nothing can be said.
    fn covariate(&mut self, name: &str, span: Span) -> Option<&'m model_ir::Covariate> {
        let model = self.model?;
        let found = model
            .covariates
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name));
        if found.is_none() {
            self.error(ScenarioError::UnknownCovariate {
                name: name.to_string(),
                span,
                candidates: similar(name, model.covariates.iter().map(|c| c.name.as_str())),
            });
        }
        found
    }

    /// An `observe` variable or endpoint of the model, with its unit.
    fn variable(&mut self, name: &str, span: Span) -> Option<Option<&'m Unit>> {
        let model = self.model?;
        let outputs = model.output_names();
        if let Some(i) = outputs.iter().position(|o| o == name) {
            return Some(model.observe[i].unit.as_ref());
        }
        if model.endpoints.iter().any(|e| e.label() == name) {
            return Some(None);
        }
        let known = outputs
            .iter()
            .map(String::as_str)
            .chain(model.endpoints.iter().map(|e| e.label()));
        let candidates = similar(name, known);
        self.error(ScenarioError::UnknownVariable {
            name: name.to_string(),
            span,
            candidates,
        });
        None
    }
}

/// Reports names given twice; `items` are `(name, span)` in order.
fn duplicates<'a>(
    cx: &mut Cx,
    kind: &'static str,
    items: impl IntoIterator<Item = (&'a str, Span)>,
) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for (name, span) in items {
        match seen.iter().find(|(n, _)| *n == name) {
            Some((_, first)) => cx.error(ScenarioError::DuplicateName {
                kind,
                name: name.to_string(),
                span,
                first: *first,
            }),
            None => seen.push((name, span)),
        }
    }
}

//! Every mistake a scenario file can hold, as data (codes E05xx, in
//! docs/errors.md); [`ScenarioError::diagnostic`] is the one place they
//! become words. Spans point into the scenario file.

use crate::diagnostic::{Diagnostic, Label};
use mido_grammar::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioError {
    UnknownSetting {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// A setting whose value has the wrong form; `expected` says the right one.
    InvalidSetting {
        name: String,
        span: Span,
        expected: &'static str,
    },
    /// Two settings, populations, regimens, metrics, targets, subgroups or
    /// covariate distributions with the same name.
    DuplicateName {
        kind: &'static str,
        name: String,
        span: Span,
        first: Span,
    },
    MissingModel {
        span: Span,
    },
    /// The model file cannot be read, or has errors (reported with it).
    ModelUnavailable {
        path: String,
        span: Span,
        reason: String,
    },
    NotAConstant {
        span: Span,
        what: &'static str,
    },
    UnitMismatch {
        span: Span,
        found: String,
        expected: String,
        context: String,
    },
    MissingTimeUnit {
        span: Span,
    },
    UnknownCovariate {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// Model covariates a population gives no value.
    MissingCovariates {
        population: String,
        span: Span,
        names: Vec<String>,
    },
    UnknownDistribution {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    InvalidDistribution {
        covariate: String,
        span: Span,
        reason: String,
    },
    UnknownLevel {
        covariate: String,
        level: String,
        span: Span,
        levels: Vec<String>,
    },
    InvalidCorrelation {
        span: Span,
        reason: String,
    },
    /// A subgroup condition that is not a conjunction of comparisons of a
    /// covariate with a value.
    InvalidSubgroup {
        span: Span,
        reason: String,
    },
    InvalidPopulationSize {
        span: Span,
        reason: &'static str,
    },
    UnknownCompartment {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    NotDosable {
        name: String,
        span: Span,
        dosable: Vec<String>,
    },
    NonPositiveDose {
        amount: f64,
        span: Span,
    },
    InvalidDoseAmount {
        span: Span,
        reason: String,
    },
    InvalidSchedule {
        span: Span,
        reason: String,
    },
    InvalidCycle {
        span: Span,
        reason: String,
    },
    InvalidRule {
        span: Span,
        reason: String,
    },
    EmptyRegimen {
        name: String,
        span: Span,
    },
    UnknownVariable {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    InvalidMetric {
        span: Span,
        reason: String,
        candidates: Vec<String>,
    },
    UnknownWindow {
        words: String,
        span: Span,
        candidates: Vec<String>,
    },
    WindowOutsideRegimen {
        metric: String,
        span: Span,
        regimen: String,
        regimen_span: Span,
        reason: String,
    },
    /// A target, comparison or search naming a metric, subgroup, regimen,
    /// population or target the scenario does not define.
    UnknownReference {
        kind: &'static str,
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    UnknownTargetKind {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    ImpossibleTarget {
        span: Span,
        reason: String,
        hint: Option<String>,
    },
    InvalidSearch {
        span: Span,
        reason: String,
    },
    /// A target condition of the wrong form.
    InvalidTarget {
        span: Span,
        reason: String,
    },
    /// A file the scenario names (estimates, dataset) cannot be read.
    UnreadableFile {
        path: String,
        span: Span,
        reason: String,
    },
    /// A file the scenario names has the wrong content.
    InvalidFile {
        path: String,
        span: Span,
        reason: String,
    },
}

impl ScenarioError {
    pub fn code(&self) -> &'static str {
        use ScenarioError::*;
        match self {
            UnknownSetting { .. } => "E0501",
            InvalidSetting { .. } => "E0502",
            DuplicateName { .. } => "E0503",
            MissingModel { .. } => "E0504",
            ModelUnavailable { .. } => "E0505",
            NotAConstant { .. } => "E0506",
            UnitMismatch { .. } => "E0507",
            MissingTimeUnit { .. } => "E0508",
            UnknownCovariate { .. } => "E0509",
            MissingCovariates { .. } => "E0510",
            UnknownDistribution { .. } => "E0511",
            InvalidDistribution { .. } => "E0512",
            UnknownLevel { .. } => "E0513",
            InvalidCorrelation { .. } => "E0514",
            InvalidSubgroup { .. } => "E0515",
            InvalidPopulationSize { .. } => "E0516",
            UnknownCompartment { .. } => "E0517",
            NotDosable { .. } => "E0518",
            NonPositiveDose { .. } => "E0519",
            InvalidDoseAmount { .. } => "E0520",
            InvalidSchedule { .. } => "E0521",
            InvalidCycle { .. } => "E0522",
            InvalidRule { .. } => "E0523",
            EmptyRegimen { .. } => "E0524",
            UnknownVariable { .. } => "E0525",
            InvalidMetric { .. } => "E0526",
            UnknownWindow { .. } => "E0527",
            WindowOutsideRegimen { .. } => "E0528",
            UnknownReference { .. } => "E0529",
            UnknownTargetKind { .. } => "E0530",
            ImpossibleTarget { .. } => "E0531",
            InvalidSearch { .. } => "E0532",
            UnreadableFile { .. } => "E0533",
            InvalidFile { .. } => "E0534",
            InvalidTarget { .. } => "E0535",
        }
    }

    /// The error in words, with labeled spans and a hint where one helps.
    pub fn diagnostic(&self) -> Diagnostic {
        use ScenarioError::*;
        let d = |message: String, span: Span, label: &str| {
            Diagnostic::error(self.code(), message).with_label(Label::primary(span, label))
        };
        match self {
            UnknownSetting {
                name,
                span,
                candidates,
            } => d(format!("unknown setting `{name}`"), *span, "not a setting")
                .with_suggestion(candidates)
                .with_note(format!("the settings are: {}", super::settings::NAMES.join(", "))),
            InvalidSetting {
                name,
                span,
                expected,
            } => d(format!("invalid value for `{name}`"), *span, "not valid here")
                .with_help(format!("write {expected}")),
            DuplicateName {
                kind,
                name,
                span,
                first,
            } => d(format!("{kind} `{name}` is given more than once"), *span, "again here")
                .with_label(Label::secondary(*first, "first here"))
                .with_help(format!("every {kind} of a scenario has its own name")),
            MissingModel { span } => d(
                "the scenario names no model".to_string(),
                *span,
                "in this scenario",
            )
            .with_help("add `model = \"file.mido\"` (a path relative to the scenario file)"),
            ModelUnavailable { path, span, reason } => {
                d(format!("cannot use model `{path}`"), *span, "this model")
                    .with_note(reason.clone())
                    .with_note("names the scenario uses from the model are not checked until it compiles")
            }
            NotAConstant { span, what } => d(
                format!("expected a number for {what}"),
                *span,
                "not a number",
            )
            .with_help("write a number, with its unit in brackets where it has one: `24 [h]`"),
            UnitMismatch {
                span,
                found,
                expected,
                context,
            } => d(
                format!("unit [{found}] does not match [{expected}]"),
                *span,
                &format!("[{found}] here"),
            )
            .with_note(context.clone())
            .with_help("units of the same dimension are converted (h, d, min, wk; mg, g, ug, ng, kg; L, dL, mL, uL); different dimensions cannot be"),
            MissingTimeUnit { span } => d(
                "a time needs a unit".to_string(),
                *span,
                "no unit",
            )
            .with_help("write the unit in brackets: `24 [h]`, `28 [d]`, `30 [min]`, `2 [wk]`"),
            UnknownCovariate {
                name,
                span,
                candidates,
            } => d(format!("the model has no covariate `{name}`"), *span, "not a covariate")
                .with_suggestion(candidates),
            MissingCovariates {
                population,
                span,
                names,
            } => d(
                format!(
                    "population `{population}` gives no value to {}",
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
                *span,
                "in this population",
            )
            .with_note("every covariate of the model needs a distribution or a fixed value")
            .with_help(format!("give `{}` a distribution (`~ lognormal(...)`, `~ categorical(...)`, ...) or a value (`= ...`)", names[0])),
            UnknownDistribution {
                name,
                span,
                candidates,
            } => d(format!("unknown distribution `{name}`"), *span, "not a distribution")
                .with_suggestion(candidates)
                .with_note("distributions: normal(mean, sd), lognormal(median, cv), uniform(lo, hi), categorical(level = weight, ...)"),
            InvalidDistribution {
                covariate,
                span,
                reason,
            } => d(format!("invalid distribution for `{covariate}`: {reason}"), *span, "here"),
            UnknownLevel {
                covariate,
                level,
                span,
                levels,
            } => d(
                format!("`{level}` is not a level of `{covariate}`"),
                *span,
                "unknown level",
            )
            .with_note(format!("the levels of `{covariate}` are: {}", levels.join(", "))),
            InvalidCorrelation { span, reason } => {
                d(format!("invalid correlation: {reason}"), *span, "here")
            }
            InvalidSubgroup { span, reason } => d(
                format!("invalid subgroup condition: {reason}"),
                *span,
                "here",
            )
            .with_help("a subgroup is comparisons of covariates with values joined by `and` and `or`: `CRCL >= 30 and CRCL < 60`, `SEX == female`, `WT < 50 or WT > 100`"),
            InvalidPopulationSize { span, reason } => {
                d(format!("invalid population size: {reason}"), *span, "here")
            }
            UnknownCompartment {
                name,
                span,
                candidates,
            } => d(format!("the model has no compartment `{name}`"), *span, "not a compartment")
                .with_suggestion(candidates),
            NotDosable {
                name,
                span,
                dosable,
            } => d(
                format!("compartment `{name}` does not receive doses"),
                *span,
                "not declared `dose` in the model",
            )
            .with_note(if dosable.is_empty() {
                "the model declares no compartment with `dose`".to_string()
            } else {
                format!("doses go into: {}", dosable.join(", "))
            }),
            NonPositiveDose { amount, span } => d(
                format!("a dose must be positive, found {amount}"),
                *span,
                "not a positive dose",
            ),
            InvalidDoseAmount { span, reason } => d(
                format!("invalid dose: {reason}"),
                *span,
                "here",
            )
            .with_help("a dose is an amount (`5 [mg]`), an amount per unit of a covariate (`2 [mg/kg] * WT`), or bands (`if WT < 60 [kg] then 5 [mg] else 7.5 [mg]`)"),
            InvalidSchedule { span, reason } => {
                d(format!("invalid dosing schedule: {reason}"), *span, "here")
            }
            InvalidCycle { span, reason } => d(format!("invalid cycle: {reason}"), *span, "here"),
            InvalidRule { span, reason } => d(format!("invalid dose rule: {reason}"), *span, "here")
                .with_help("a rule compares the value just before each dose and acts: `when cp(trough) > 3 [mg/L] reduce by 2.5 [mg]` (or `skip`, `scale by 0.5`)"),
            EmptyRegimen { name, span } => d(
                format!("regimen `{name}` gives no dose"),
                *span,
                "no `dose` here",
            )
            .with_help("add e.g. `dose 5 [mg] into depot every 24 [h] for 7 [d]`"),
            UnknownVariable {
                name,
                span,
                candidates,
            } => d(
                format!("the model has no variable `{name}`"),
                *span,
                "not an `observe` variable or endpoint",
            )
            .with_suggestion(candidates)
            .with_note("metrics and rules use the model's `observe` variables and endpoint names"),
            InvalidMetric {
                span,
                reason,
                candidates,
            } => d(format!("invalid metric: {reason}"), *span, "here")
                .with_suggestion(candidates)
                .with_note("metrics: max(v), min(v), tmax(v), trough(v), auc(v), cavg(v), time(v > x), time(v < x), value(v, t)"),
            UnknownWindow {
                words,
                span,
                candidates,
            } => d(format!("unknown window `{words}`"), *span, "not a window")
                .with_suggestion(candidates)
                .with_note("windows: first interval, last interval, steady state, whole course, or a range `24 [h] to 48 [h]`"),
            WindowOutsideRegimen {
                metric,
                span,
                regimen,
                regimen_span,
                reason,
            } => d(
                format!("the window of metric `{metric}` is outside regimen `{regimen}`"),
                *span,
                "this window",
            )
            .with_label(Label::secondary(*regimen_span, "this regimen"))
            .with_note(reason.clone()),
            UnknownReference {
                kind,
                name,
                span,
                candidates,
            } => d(
                format!("the scenario has no {kind} `{name}`"),
                *span,
                &format!("not a {kind}"),
            )
            .with_suggestion(candidates),
            UnknownTargetKind {
                name,
                span,
                candidates,
            } => d(format!("unknown kind of target `{name}`"), *span, "not a kind")
                .with_suggestion(candidates)
                .with_note("a target is `efficacy` or `safety`, optionally followed by its name: `safety peak: ...`"),
            ImpossibleTarget { span, reason, hint } => {
                let diag = d(format!("this target can never be met: {reason}"), *span, "impossible");
                match hint {
                    Some(h) => diag.with_help(h.clone()),
                    None => diag,
                }
            }
            InvalidSearch { span, reason } => d(format!("invalid dose search: {reason}"), *span, "here")
                .with_note("`optimize { regimen = \"...\" population = ... efficacy = ... safety = ... doses = 1 [mg] to 20 [mg] }`, or `strengths = 2.5 [mg], 5 [mg]` instead of `doses`"),
            InvalidTarget { span, reason } => d(format!("invalid target: {reason}"), *span, "here")
                .with_help("a target is `METRIC >= x`, `METRIC <= x` or `METRIC >= a and METRIC <= b`, then `in at least 90%`"),
            UnreadableFile { path, span, reason } => {
                d(format!("cannot read `{path}`"), *span, "this file").with_note(reason.clone())
            }
            InvalidFile { path, span, reason } => {
                d(format!("`{path}` cannot be used"), *span, "this file").with_note(reason.clone())
            }
        }
    }
}

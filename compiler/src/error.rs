//! Every mistake the front end can find, as data.
//!
//! Each variant carries the spans and names it needs; [`Error::code`] gives
//! its stable code (documented in docs/errors.md) and [`Error::diagnostic`]
//! is the one place that turns it into words.

use crate::diagnostic::{Diagnostic, Label};
use mido_grammar::{Span, SyntaxError, SyntaxErrorKind};

/// What kind of thing a name denotes, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Covariate,
    FixedEffect,
    RandomEffect,
    Compartment,
    Parameter,
    DynamicsVariable,
    ObserveVariable,
    Builtin,
}

impl NameKind {
    pub fn describe(self) -> &'static str {
        match self {
            NameKind::Covariate => "covariate",
            NameKind::FixedEffect => "fixed effect",
            NameKind::RandomEffect => "random effect",
            NameKind::Compartment => "compartment",
            NameKind::Parameter => "individual parameter",
            NameKind::DynamicsVariable => "variable of `dynamics`",
            NameKind::ObserveVariable => "variable of `observe`",
            NameKind::Builtin => "built-in name",
        }
    }
}

/// The blocks whose statements are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Individual,
    Dynamics,
    Observe,
    Compartments,
    Random,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Individual => "individual",
            BlockKind::Dynamics => "dynamics",
            BlockKind::Observe => "observe",
            BlockKind::Compartments => "compartments",
            BlockKind::Random => "random",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Syntax(SyntaxError),
    UnknownName {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    DuplicateDefinition {
        name: String,
        span: Span,
        first: Option<Span>,
    },
    UseBeforeDefinition {
        name: String,
        span: Span,
        definition: Span,
    },
    AssignToNonVariable {
        name: String,
        kind: NameKind,
        span: Span,
        declaration: Option<Span>,
    },
    NotVisibleHere {
        name: String,
        kind: NameKind,
        block: BlockKind,
        span: Span,
        definition: Option<Span>,
    },
    UnknownFunction {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    UnknownCategoryLevel {
        covariate: String,
        level: String,
        span: Span,
        levels: Vec<String>,
    },
    CompartmentWithoutOde {
        name: String,
        span: Span,
    },
    OdeWithoutCompartment {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    DuplicateOde {
        name: String,
        span: Span,
        first: Span,
    },
    DosePropUnknownCompartment {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    UnknownDoseProp {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    DosePropWithoutDose {
        compartment: String,
        span: Span,
        declaration: Span,
    },
    DuplicateDoseProp {
        prop: String,
        compartment: String,
        span: Span,
        first: Span,
    },
    MisplacedStatement {
        what: &'static str,
        block: BlockKind,
        belongs: BlockKind,
        span: Span,
    },
    MissingBlock {
        block: &'static str,
        span: Span,
    },
    DuplicateBlock {
        block: &'static str,
        span: Span,
        first: Span,
    },
    ObservationCount {
        found: usize,
        span: Span,
        extra: Option<Span>,
    },
    UnknownObservationTarget {
        name: String,
        span: Span,
    },
    /// An `observe` block without the name or DVID selector it needs: with
    /// several blocks every one needs both; a selector needs a name.
    EndpointUnnamed {
        /// The block's header (`observe` and what follows up to `{`).
        span: Span,
        missing_name: bool,
        missing_selector: bool,
        /// Another `observe` block, when there are several.
        other: Option<Span>,
    },
    DuplicateEndpoint {
        name: String,
        span: Span,
        first: Span,
    },
    DuplicateDvid {
        value: f64,
        span: Span,
        first: Span,
    },
    InvalidSelector {
        span: Span,
        problem: &'static str,
    },
    UnusedRandomEffect {
        name: String,
        span: Span,
    },
    UnusedFixedEffect {
        name: String,
        span: Span,
    },
    UnknownCovariateType {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    LevelsMismatch {
        covariate: String,
        ty: String,
        span: Span,
    },
    UnknownRandomLevel {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    PkWithDynamics {
        span: Span,
        dynamics: Span,
    },
    UnknownCarryRule {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    UnknownPkModel {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    PkArguments {
        model: &'static str,
        span: Span,
        problem: String,
        expected: &'static [&'static str],
    },
    PkCompartmentCount {
        model: &'static str,
        expected: usize,
        found: usize,
        span: Span,
    },
    TypeMismatch {
        expected: String,
        found: String,
        context: String,
        span: Span,
        hint: Option<String>,
    },
    WrongArity {
        function: String,
        expected: usize,
        found: usize,
        span: Span,
    },
    UnknownDistribution {
        name: String,
        span: Span,
        allowed: &'static [&'static str],
        candidates: Vec<String>,
    },
    InitOutsideBounds {
        name: String,
        init: f64,
        span: Span,
        bounds: Span,
    },
    EmptyBounds {
        name: String,
        span: Span,
    },
    NonPositiveVariance {
        name: String,
        value: f64,
        span: Span,
    },
    NotPositiveDefinite {
        names: Vec<String>,
        span: Span,
    },
    BlockShape {
        names: usize,
        span: Span,
        detail: String,
    },
    NonZeroMean {
        span: Span,
    },
    NotConstant {
        span: Span,
    },
}

impl Error {
    /// The stable code of this kind of mistake.
    pub fn code(&self) -> &'static str {
        use Error::*;
        match self {
            Syntax(e) => match e.kind {
                SyntaxErrorKind::InvalidCharacter | SyntaxErrorKind::HashComment => "E0001",
                SyntaxErrorKind::UnterminatedComment => "E0002",
                SyntaxErrorKind::UnterminatedString => "E0003",
                SyntaxErrorKind::UnexpectedToken { .. } => "E0004",
                SyntaxErrorKind::UnexpectedEof { .. } => "E0005",
            },
            UnknownName { .. } => "E0101",
            DuplicateDefinition { .. } => "E0102",
            UseBeforeDefinition { .. } => "E0103",
            AssignToNonVariable { .. } => "E0104",
            NotVisibleHere { .. } => "E0105",
            UnknownFunction { .. } => "E0106",
            UnknownCategoryLevel { .. } => "E0107",
            CompartmentWithoutOde { .. } => "E0201",
            OdeWithoutCompartment { .. } => "E0202",
            DuplicateOde { .. } => "E0203",
            DosePropUnknownCompartment { .. } => "E0204",
            UnknownDoseProp { .. } => "E0205",
            DosePropWithoutDose { .. } => "E0206",
            DuplicateDoseProp { .. } => "E0207",
            MisplacedStatement { .. } => "E0208",
            MissingBlock { .. } => "E0209",
            DuplicateBlock { .. } => "E0210",
            ObservationCount { .. } => "E0211",
            UnknownObservationTarget { .. } => "E0212",
            UnusedRandomEffect { .. } => "E0213",
            UnusedFixedEffect { .. } => "E0214",
            UnknownCovariateType { .. } => "E0215",
            LevelsMismatch { .. } => "E0216",
            UnknownRandomLevel { .. } => "E0217",
            PkWithDynamics { .. } => "E0218",
            UnknownCarryRule { .. } => "E0222",
            EndpointUnnamed { .. } => "E0223",
            DuplicateEndpoint { .. } => "E0224",
            DuplicateDvid { .. } => "E0225",
            InvalidSelector { .. } => "E0226",
            UnknownPkModel { .. } => "E0219",
            PkArguments { .. } => "E0220",
            PkCompartmentCount { .. } => "E0221",
            TypeMismatch { .. } => "E0301",
            WrongArity { .. } => "E0302",
            UnknownDistribution { .. } => "E0303",
            InitOutsideBounds { .. } => "E0401",
            EmptyBounds { .. } => "E0402",
            NonPositiveVariance { .. } => "E0403",
            NotPositiveDefinite { .. } => "E0404",
            BlockShape { .. } => "E0405",
            NonZeroMean { .. } => "E0406",
            NotConstant { .. } => "E0407",
        }
    }

    /// The error in words, with labeled spans and a hint where one helps.
    pub fn diagnostic(&self) -> Diagnostic {
        use Error::*;
        let d = |message: String, span: Span, label: &str| {
            Diagnostic::error(self.code(), message).with_label(Label::primary(span, label))
        };
        match self {
            Syntax(e) => syntax_diagnostic(self.code(), e),
            UnknownName {
                name,
                span,
                candidates,
            } => d(format!("unknown name `{name}`"), *span, "not defined anywhere")
                .with_suggestion(candidates)
                .with_help_if(
                    candidates.is_empty(),
                    "declare it in `fixed`, `covariates`, `random` or `compartments`, or define it with `=` before this use",
                ),
            DuplicateDefinition { name, span, first } => {
                let mut diag = d(
                    format!("`{name}` is defined more than once"),
                    *span,
                    "defined again here",
                );
                match first {
                    Some(first) => {
                        diag = diag.with_label(Label::secondary(*first, "first defined here"))
                    }
                    None => diag = diag.with_note(format!("`{name}` is a built-in name")),
                }
                diag.with_help("every name in a model is defined exactly once; rename one of them")
            }
            UseBeforeDefinition {
                name,
                span,
                definition,
            } => d(
                format!("`{name}` is used before it is defined"),
                *span,
                "used here",
            )
            .with_label(Label::secondary(*definition, "defined later here"))
            .with_help("statements run in order: move the definition above this use"),
            AssignToNonVariable {
                name,
                kind,
                span,
                declaration,
            } => {
                let mut diag = d(
                    format!("cannot assign to {} `{name}`", kind.describe()),
                    *span,
                    "assigned here",
                );
                if let Some(decl) = declaration {
                    diag = diag.with_label(Label::secondary(
                        *decl,
                        format!("declared as a {} here", kind.describe()),
                    ));
                }
                let help = match kind {
                    NameKind::Compartment => "a compartment's amount changes only through `d/dt(...)` in `dynamics`".to_string(),
                    NameKind::Builtin => format!("`{name}` is provided by the language; choose another name"),
                    _ => format!("{}s get their values from estimation or data; define a new name, e.g. `{name}_i = ...`", kind.describe()),
                };
                diag.with_help(help)
            }
            NotVisibleHere {
                name,
                kind,
                block,
                span,
                definition,
            } => {
                let message = match (kind, block) {
                    (NameKind::ObserveVariable, BlockKind::Observe) => format!(
                        "`{name}`, a variable of another `observe` block, cannot be used in this one"
                    ),
                    _ => format!(
                        "`{name}`, a {}, cannot be used in `{}`",
                        kind.describe(),
                        block.keyword()
                    ),
                };
                let mut diag = d(
                    message,
                    *span,
                    "not available here",
                );
                if let Some(def) = definition {
                    diag = diag.with_label(Label::secondary(*def, "defined here"));
                }
                let why = match (kind, block) {
                    (NameKind::Compartment, BlockKind::Compartments) => "dose properties are computed with the individual parameters, before the amounts in compartments are known".to_string(),
                    (NameKind::Compartment, BlockKind::Individual) => "individual parameters are computed once per record, before the amounts in compartments are known; use amounts in `dynamics` or `observe`".to_string(),
                    (NameKind::DynamicsVariable, _) => "variables of `dynamics` exist only while the ODEs are evaluated; compute it again where it is needed".to_string(),
                    (NameKind::ObserveVariable, BlockKind::Observe) => "each `observe` block (endpoint) has its own variables; compute it again in this block".to_string(),
                    (NameKind::ObserveVariable, _) => "variables of `observe` are computed after the ODEs; they cannot feed back into earlier blocks".to_string(),
                    (_, BlockKind::Random) | (_, BlockKind::Compartments) => "only constants are allowed here".to_string(),
                    _ => format!("`{}` cannot see this name", block.keyword()),
                };
                diag.with_note(why)
            }
            UnknownFunction {
                name,
                span,
                candidates,
            } => d(format!("unknown function `{name}`"), *span, "no such function")
                .with_suggestion(candidates)
                .with_note(format!(
                    "the functions are: pow, {}",
                    crate::ir::Builtin::ALL
                        .iter()
                        .map(|(_, n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            UnknownCategoryLevel {
                covariate,
                level,
                span,
                levels,
            } => d(
                format!("`{level}` is not a level of category `{covariate}`"),
                *span,
                "unknown level",
            )
            .with_note(format!("the levels of `{covariate}` are: {}", levels.join(", "))),
            CompartmentWithoutOde { name, span } => d(
                format!("compartment `{name}` has no differential equation"),
                *span,
                "declared here",
            )
            .with_help(format!("add `d/dt({name}) = ...` to the `dynamics` block")),
            OdeWithoutCompartment {
                name,
                span,
                candidates,
            } => d(
                format!("`d/dt({name})` names no compartment"),
                *span,
                "not a compartment",
            )
            .with_suggestion(candidates)
            .with_help_if(candidates.is_empty(), format!("declare `{name}` in the `compartments` block")),
            DuplicateOde { name, span, first } => d(
                format!("compartment `{name}` has more than one differential equation"),
                *span,
                "second equation",
            )
            .with_label(Label::secondary(*first, "first equation")),
            DosePropUnknownCompartment {
                name,
                span,
                candidates,
            } => d(
                format!("dose property on unknown compartment `{name}`"),
                *span,
                "not a compartment",
            )
            .with_suggestion(candidates),
            UnknownDoseProp {
                name,
                span,
                candidates,
            } => d(format!("unknown dose property `{name}`"), *span, "not a dose property")
                .with_suggestion(candidates)
                .with_note("the dose properties are: bioavailability, lag, rate, duration"),
            DosePropWithoutDose {
                compartment,
                span,
                declaration,
            } => d(
                format!("compartment `{compartment}` does not receive doses, so it has no dose properties"),
                *span,
                "dose property here",
            )
            .with_label(Label::secondary(*declaration, "declared without `dose`"))
            .with_help(format!("mark it as a dose target: `{compartment} dose {{ ... }}`")),
            DuplicateDoseProp {
                prop,
                compartment,
                span,
                first,
            } => d(
                format!("`{prop}` of compartment `{compartment}` is set more than once"),
                *span,
                "set again here",
            )
            .with_label(Label::secondary(*first, "first set here")),
            MisplacedStatement {
                what,
                block,
                belongs,
                span,
            } => d(
                format!("{what} cannot appear in `{}`", block.keyword()),
                *span,
                "misplaced",
            )
            .with_help(format!("move it to the `{}` block", belongs.keyword())),
            MissingBlock { block, span } => d(
                format!("the model has no `{block}` block"),
                *span,
                "in this model",
            )
            .with_help(match *block {
                "observe" => "add `observe { DV ~ normal(prediction, sd) }` to say how the data relate to the model",
                "compartments" => "declare at least one compartment, e.g. `compartments { central [mg] dose }`",
                "dynamics" => "add `dynamics { d/dt(x) = ... }` with one equation per compartment",
                _ => "add the block",
            }),
            DuplicateBlock { block, span, first } => d(
                format!("more than one `{block}` block"),
                *span,
                "second block",
            )
            .with_label(Label::secondary(*first, "first block"))
            .with_help("merge them into one block"),
            ObservationCount { found, span, extra } => {
                if *found == 0 {
                    d(
                        "`observe` has no observation statement".to_string(),
                        *span,
                        "no `DV ~ ...` in this block",
                    )
                    .with_help("add e.g. `DV ~ normal(cp, add_sd)`")
                } else {
                    let mut diag = d(
                        "`observe` has more than one observation statement".to_string(),
                        *span,
                        "first here",
                    );
                    if let Some(extra) = extra {
                        diag = diag.with_label(Label::secondary(*extra, "another here"));
                    }
                    diag.with_note("each `observe` block has exactly one `DV ~ ...`")
                        .with_help("for a second endpoint, write another block selected by DVID: `observe pd (DVID == 2) { ... }`")
                }
            }
            EndpointUnnamed {
                span,
                missing_name,
                missing_selector,
                other,
            } => {
                let what = match (missing_name, missing_selector) {
                    (true, true) => "a name and a DVID selector",
                    (true, false) => "a name",
                    _ => "a DVID selector",
                };
                let message = if other.is_some() {
                    format!("this `observe` block needs {what}: the model has several endpoints")
                } else {
                    format!("this `observe` block needs {what}")
                };
                let mut diag = d(message, *span, &format!("{what} missing"));
                if let Some(other) = other {
                    diag = diag.with_label(Label::secondary(*other, "another endpoint"));
                }
                let note = if other.is_some() {
                    "with several `observe` blocks, DVID says which block each record belongs to"
                } else {
                    "an endpoint selected by DVID is named: the name labels it in the output and may stand for its DVID in the data"
                };
                diag.with_note(note)
                    .with_help("name the block and select its records: `observe pk (DVID == 1) { ... }`")
            }
            DuplicateEndpoint { name, span, first } => d(
                format!("endpoint `{name}` is defined more than once"),
                *span,
                "defined again here",
            )
            .with_label(Label::secondary(*first, "first defined here"))
            .with_help("give every `observe` block its own name"),
            DuplicateDvid { value, span, first } => d(
                format!("two endpoints select DVID {value}"),
                *span,
                "selected again here",
            )
            .with_label(Label::secondary(*first, "first selected here"))
            .with_note("each record belongs to exactly one endpoint, so every DVID value selects one block"),
            InvalidSelector { span, problem } => d(
                format!("invalid endpoint selector: {problem}"),
                *span,
                "not `DVID == <number>`",
            )
            .with_help("an endpoint is selected by the data's DVID item and a number: `(DVID == 2)`"),
            UnknownObservationTarget { name, span } => d(
                format!("cannot observe `{name}`"),
                *span,
                "expected `DV`",
            )
            .with_note("the observed values come from the dataset's DV column: write `DV ~ ...`"),
            UnusedRandomEffect { name, span } => d(
                format!("random effect `{name}` is never used"),
                *span,
                "declared here",
            )
            .with_note("a random effect that no parameter depends on cannot be estimated")
            .with_help(format!("use it, e.g. `cl = tv_cl * exp({name})`, or remove it")),
            UnusedFixedEffect { name, span } => d(
                format!("fixed effect `{name}` is never used"),
                *span,
                "declared here",
            )
            .with_note("a fixed effect that nothing depends on cannot be estimated")
            .with_help("use it, remove it, or mark it `fixed`"),
            UnknownCovariateType {
                name,
                span,
                candidates,
            } => d(format!("unknown covariate type `{name}`"), *span, "not a type")
                .with_suggestion(candidates)
                .with_note("covariate types are: real, bool, category { level = code, ... }"),
            LevelsMismatch {
                covariate,
                ty,
                span,
            } => {
                if ty == "category" {
                    d(
                        format!("category `{covariate}` lists no levels"),
                        *span,
                        "levels needed",
                    )
                    .with_help("list the codes: `category { male = 0, female = 1 }`")
                } else {
                    d(
                        format!("levels given for `{covariate}`, which is `{ty}`"),
                        *span,
                        "only categories have levels",
                    )
                    .with_help("declare it as `category { ... }` or drop the levels")
                }
            }
            UnknownRandomLevel {
                name,
                span,
                candidates,
            } => d(format!("unknown level of variability `{name}`"), *span, "not a level")
                .with_suggestion(candidates)
                .with_note("levels are: subject (between subjects), occasion (between occasions)"),
            PkWithDynamics { span, dynamics } => d(
                "a model has either `pk` or `dynamics`, not both".to_string(),
                *span,
                "closed-form model",
            )
            .with_label(Label::secondary(*dynamics, "differential equations"))
            .with_help("`pk` generates the equations of its compartments; remove one of the two"),
            UnknownCarryRule {
                name,
                span,
                candidates,
            } => d(format!("unknown rule `{name}` for a time-varying covariate"), *span, "not a rule")
                .with_suggestion(candidates)
                .with_note("`time-varying` carries a record's value backward over the interval ending at it (NONMEM's convention, `nocb`); `time-varying(locf)` carries it forward from the record on"),
            UnknownPkModel {
                name,
                span,
                candidates,
            } => d(format!("unknown closed-form model `{name}`"), *span, "not a model")
                .with_suggestion(candidates)
                .with_note(format!(
                    "the closed-form models are: {}",
                    mido_runtime::pk::LinearKind::ALL
                        .iter()
                        .map(|(_, n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            PkArguments {
                model,
                span,
                problem,
                expected,
            } => d(format!("wrong arguments for `{model}`: {problem}"), *span, "here")
                .with_note(format!("`{model}` takes: {}", expected.join(", "))),
            PkCompartmentCount {
                model,
                expected,
                found,
                span,
            } => d(
                format!("`{model}` has {expected} compartments, but {found} are declared"),
                *span,
                "closed-form model",
            )
            .with_help(format!(
                "declare {expected} compartments in order{}",
                if model.ends_with("_oral") { ": the depot first, then central, then peripherals" } else { ": central first, then peripherals" }
            )),
            TypeMismatch {
                expected,
                found,
                context,
                span,
                hint,
            } => {
                let diag = d(
                    format!("expected {expected}, found {found}"),
                    *span,
                    &format!("this is {found}"),
                )
                .with_note(context.clone());
                match hint {
                    Some(h) => diag.with_help(h.clone()),
                    None => diag,
                }
            }
            WrongArity {
                function,
                expected,
                found,
                span,
            } => d(
                format!(
                    "`{function}` takes {expected} argument{}, but {found} {} given",
                    if *expected == 1 { "" } else { "s" },
                    if *found == 1 { "was" } else { "were" }
                ),
                *span,
                "in this call",
            ),
            UnknownDistribution {
                name,
                span,
                allowed,
                candidates,
            } => d(format!("unknown distribution `{name}`"), *span, "not available here")
                .with_suggestion(candidates)
                .with_note(format!("allowed here: {}", allowed.join(", "))),
            InitOutsideBounds {
                name,
                init,
                span,
                bounds,
            } => d(
                format!("initial value {init} of `{name}` is outside its bounds"),
                *span,
                "initial value",
            )
            .with_label(Label::secondary(*bounds, "bounds"))
            .with_help("bounds are open intervals: choose an initial value strictly inside them"),
            EmptyBounds { name, span } => d(
                format!("the bounds of `{name}` leave no room"),
                *span,
                "lower bound is not below upper bound",
            ),
            NonPositiveVariance { name, value, span } => d(
                format!("variance of `{name}` must be positive, found {value}"),
                *span,
                "not a positive variance",
            )
            .with_note("the second argument of `normal` is a variance (as NONMEM's OMEGA), not a standard deviation"),
            NotPositiveDefinite { names, span } => d(
                format!(
                    "the covariance block of [{}] is not positive definite",
                    names.join(", ")
                ),
                *span,
                "not positive definite",
            )
            .with_note("a covariance matrix needs positive variances and correlations strictly between -1 and 1"),
            BlockShape { names, span, detail } => d(
                format!("covariance block does not fit {names} random effect{}", if *names == 1 { "" } else { "s" }),
                *span,
                detail,
            )
            .with_help("write the lower triangle row by row: `block[v1; c21, v2; c31, c32, v3]`"),
            NonZeroMean { span } => d(
                "random effects have mean 0".to_string(),
                *span,
                "must be 0",
            )
            .with_help("put typical values in `fixed` and add the random effect in `individual`"),
            NotConstant { span } => d(
                "expected a number".to_string(),
                *span,
                "not a constant",
            )
            .with_note("variances in `random` are initial estimates and must be numbers"),
        }
    }
}

fn syntax_diagnostic(code: &'static str, e: &SyntaxError) -> Diagnostic {
    let expected_note = |expected: &[String]| match expected.len() {
        0 => None,
        1 => Some(format!("expected {}", expected[0])),
        n if n <= 8 => Some(format!(
            "expected one of {} or {}",
            expected[..n - 1].join(", "),
            expected[n - 1]
        )),
        _ => None,
    };
    match &e.kind {
        SyntaxErrorKind::InvalidCharacter => Diagnostic::error(code, "invalid character")
            .with_label(Label::primary(e.span, "not part of the language"))
            .with_note("comments start with `//` or are enclosed in `/* */`"),
        SyntaxErrorKind::HashComment => Diagnostic::error(code, "`#` does not start a comment")
            .with_label(Label::primary(e.span, "not a comment"))
            .with_help("comments start with `//` or are enclosed in `/* */`"),
        SyntaxErrorKind::UnterminatedComment => {
            Diagnostic::error(code, "unterminated block comment")
                .with_label(Label::primary(e.span, "this comment never ends"))
                .with_help("close it with `*/`")
        }
        SyntaxErrorKind::UnterminatedString => Diagnostic::error(code, "unterminated string")
            .with_label(Label::primary(e.span, "this string never ends"))
            .with_help("strings end at the next `\"`: add the closing quote"),
        SyntaxErrorKind::UnexpectedToken { found, expected } => {
            let diag = Diagnostic::error(code, format!("unexpected {found}"))
                .with_label(Label::primary(e.span, "unexpected here"));
            let diag = match expected_note(expected) {
                Some(n) => diag.with_note(n),
                None => diag,
            };
            // A unit after an expression (`cp = center / v [mg/L]`).
            diag.with_help_if(
                found == "`[`",
                "a variable's unit goes before `=` (`cp [mg/L] = center / v`); inside expressions only numbers carry units (`70 [kg]`)",
            )
        }
        SyntaxErrorKind::UnexpectedEof { expected } => {
            let diag = Diagnostic::error(code, "unexpected end of file")
                .with_label(Label::primary(e.span, "the file ends here"));
            let diag = match expected_note(expected) {
                Some(n) => diag.with_note(n),
                None => diag,
            };
            diag.with_help("is a `}` missing?")
        }
    }
}

//! Model variants for covariate modeling: a covariate effect on an
//! individual parameter, written into the model by the compiler.
//!
//! The parser locates the parameter's definition in `individual`, the
//! covariate's declaration (its type and unit decide which relationships
//! apply and how the center is written) and the `fixed` block; the variant
//! is the original text with the definition's right-hand side multiplied
//! by the relationship and the new fixed effects declared, edited at
//! those spans only — comments and layout survive, and every variant is a
//! model file a modeler can read, rerun and keep. The result is checked
//! again by the compiler before it is returned.
//!
//! | shape | factor on the parameter | new fixed effect |
//! |---|---|---|
//! | linear | `1 + θ·(X/c − 1)` | `θ` bounded so the factor stays > 0 over the data |
//! | power | `(X/c)^θ` | `θ` |
//! | exponential | `exp(θ·(X/c − 1))` | `θ` |
//! | shift (category, bool) | `1 + θ_level` for each non-reference level | `θ_level > −1` |
//!
//! `c` is the center (typically the median of the data, with the
//! covariate's unit); the reference level of a category is its first.

use crate::compile_source;
use mido_grammar::ast::{Item, Stmt};
use mido_grammar::parse;

/// How a covariate acts on a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    Linear,
    Power,
    Exponential,
    /// Category or bool covariates: one proportional shift per
    /// non-reference level.
    Shift,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Linear => "linear",
            Shape::Power => "power",
            Shape::Exponential => "exponential",
            Shape::Shift => "shift",
        }
    }
}

/// A covariate effect to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub parameter: String,
    pub covariate: String,
    pub shape: Shape,
    /// Center of a continuous covariate, in its declared unit.
    pub center: f64,
    /// Smallest and largest value in the data (bounds of a linear effect).
    pub range: (f64, f64),
}

impl Effect {
    /// `cl~WT (power)`.
    pub fn label(&self) -> String {
        format!(
            "{}~{} ({})",
            self.parameter,
            self.covariate,
            self.shape.name()
        )
    }
}

/// What kind of covariate a name is.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariateKind {
    Real,
    Bool,
    Category(Vec<String>),
}

/// Why a variant cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub enum VariantError {
    /// The base model does not parse.
    Syntax,
    UnknownParameter(String),
    UnknownCovariate(String),
    /// A continuous shape on a category or bool covariate, or a shift on a
    /// real one.
    ShapeMismatch {
        covariate: String,
        shape: Shape,
    },
    /// The center or range makes the relationship undefined (e.g. a center
    /// of 0 or a linear effect on a range that does not contain it).
    BadCenter {
        covariate: String,
        center: f64,
    },
    /// A fixed effect of that name exists already.
    NameTaken(String),
    NoFixedBlock,
    /// The variant does not compile (a bug here, or an edge of the
    /// language): the rendered diagnostics.
    Invalid(String),
}

impl std::fmt::Display for VariantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VariantError::Syntax => write!(f, "the base model has syntax errors"),
            VariantError::UnknownParameter(p) => write!(
                f,
                "`{p}` is not defined in the model's `individual` block"
            ),
            VariantError::UnknownCovariate(c) => write!(f, "the model declares no covariate `{c}`"),
            VariantError::ShapeMismatch { covariate, shape } => write!(
                f,
                "a {} relationship does not apply to covariate `{covariate}` ({})",
                shape.name(),
                if *shape == Shape::Shift {
                    "it is real: use linear, power or exponential"
                } else {
                    "it is a category or bool: use shift"
                }
            ),
            VariantError::BadCenter { covariate, center } => write!(
                f,
                "covariate `{covariate}` cannot be centered at {center} (it must be positive and inside the data's range)"
            ),
            VariantError::NameTaken(n) => write!(
                f,
                "the model already has a fixed effect `{n}`, the name of the new effect"
            ),
            VariantError::NoFixedBlock => write!(f, "the model has no `fixed` block"),
            VariantError::Invalid(d) => write!(f, "the variant does not compile:\n{d}"),
        }
    }
}

impl std::error::Error for VariantError {}

/// The covariates a model declares, with their kinds, in order.
pub fn covariates(source: &str) -> Result<Vec<(String, CovariateKind)>, VariantError> {
    let (file, errors) = parse(source);
    let file = file
        .filter(|_| errors.is_empty())
        .ok_or(VariantError::Syntax)?;
    let mut out = Vec::new();
    for item in &file.items {
        if let Item::Covariates(block) = item {
            for c in &block.entries {
                let kind = match (c.ty.text.as_str(), &c.levels) {
                    ("bool", _) => CovariateKind::Bool,
                    (_, Some(levels)) => CovariateKind::Category(
                        levels.iter().map(|(n, _)| n.text.clone()).collect(),
                    ),
                    _ => CovariateKind::Real,
                };
                out.push((c.name.text.clone(), kind));
            }
        }
    }
    Ok(out)
}

/// The parameters `individual` defines, in order.
pub fn parameters(source: &str) -> Result<Vec<String>, VariantError> {
    let (file, errors) = parse(source);
    let file = file
        .filter(|_| errors.is_empty())
        .ok_or(VariantError::Syntax)?;
    Ok(file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Individual(b) => Some(b),
            _ => None,
        })
        .flat_map(|b| b.entries.iter())
        .filter_map(|s| match s {
            Stmt::Assign { name, .. } => Some(name.text.clone()),
            _ => None,
        })
        .collect())
}

/// Names of the fixed effects an effect adds.
pub fn new_thetas(effect: &Effect, kind: &CovariateKind) -> Vec<String> {
    let base = format!(
        "{}_{}",
        effect.parameter.to_lowercase(),
        effect.covariate.to_lowercase()
    );
    match kind {
        CovariateKind::Category(levels) => levels
            .iter()
            .skip(1)
            .map(|l| format!("{base}_{}", l.to_lowercase()))
            .collect(),
        _ => vec![base],
    }
}

/// Shortest text that reads back as `v`.
fn lit(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') || s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// `source` with `effect` added. The result compiles.
pub fn with_effect(source: &str, effect: &Effect) -> Result<String, VariantError> {
    let (file, errors) = parse(source);
    let file = file
        .filter(|_| errors.is_empty())
        .ok_or(VariantError::Syntax)?;
    // The covariate's declaration: kind and unit text.
    let decl = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Covariates(b) => Some(b),
            _ => None,
        })
        .flat_map(|b| b.entries.iter())
        .find(|c| c.name.text == effect.covariate)
        .ok_or_else(|| VariantError::UnknownCovariate(effect.covariate.clone()))?;
    let kind = covariates(source)?
        .into_iter()
        .find(|(n, _)| *n == effect.covariate)
        .map(|(_, k)| k)
        .ok_or_else(|| VariantError::UnknownCovariate(effect.covariate.clone()))?;
    let continuous = kind == CovariateKind::Real;
    if continuous == (effect.shape == Shape::Shift) {
        return Err(VariantError::ShapeMismatch {
            covariate: effect.covariate.clone(),
            shape: effect.shape,
        });
    }
    let unit = decl
        .unit
        .as_ref()
        .map(|u| source[u.span.start..u.span.end].to_string());
    let x = &effect.covariate;
    let c = effect.center;
    let centered = || match &unit {
        Some(u) => format!("{x} / {} {u}", lit(c)),
        None => format!("{x} / {}", lit(c)),
    };
    let names = new_thetas(effect, &kind);
    let existing: Vec<&str> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Fixed(b) => Some(b),
            _ => None,
        })
        .flat_map(|b| b.entries.iter().map(|d| d.name.text.as_str()))
        .collect();
    if let Some(n) = names.iter().find(|n| existing.contains(&n.as_str())) {
        return Err(VariantError::NameTaken(n.clone()));
    }
    if continuous && !(c > 0.0 && c.is_finite()) {
        return Err(VariantError::BadCenter {
            covariate: x.clone(),
            center: c,
        });
    }
    let (factor, decls): (String, Vec<String>) = match (&kind, effect.shape) {
        (_, Shape::Power) => (
            format!("({})^{}", centered(), names[0]),
            vec![format!("{} = 0.1", names[0])],
        ),
        (_, Shape::Exponential) => (
            format!("exp({} * ({} - 1))", names[0], centered()),
            vec![format!("{} = 0.1", names[0])],
        ),
        (_, Shape::Linear) => {
            // 1 + θ(x/c − 1) > 0 over [min, max].
            let (lo, hi) = effect.range;
            if !(lo <= c && c <= hi && lo > 0.0) {
                return Err(VariantError::BadCenter {
                    covariate: x.clone(),
                    center: c,
                });
            }
            let mut bounds = String::new();
            let lower = if hi > c {
                Some(-1.0 / (hi / c - 1.0))
            } else {
                None
            };
            let upper = if lo < c {
                Some(-1.0 / (lo / c - 1.0))
            } else {
                None
            };
            if lower.is_some() || upper.is_some() {
                // Stay 1% inside the bounds where the factor reaches 0.
                bounds = format!(
                    " in ({}, {})",
                    lower.map_or_else(String::new, |v| lit(toward_zero(0.99 * v))),
                    upper.map_or_else(String::new, |v| lit(toward_zero(0.99 * v)))
                );
            }
            (
                format!("(1 + {} * ({} - 1))", names[0], centered()),
                vec![format!("{} = 0.01{bounds}", names[0])],
            )
        }
        (CovariateKind::Bool, Shape::Shift) => (
            format!("(if {x} then 1 + {} else 1)", names[0]),
            vec![format!("{} = 0.05 in (-1, )", names[0])],
        ),
        (CovariateKind::Category(levels), Shape::Shift) => {
            let mut f = String::from("1");
            for (level, name) in levels.iter().skip(1).zip(&names) {
                f = format!("(if {x} == {level} then 1 + {name} else {f})");
            }
            (
                f,
                names
                    .iter()
                    .map(|n| format!("{n} = 0.05 in (-1, )"))
                    .collect(),
            )
        }
        (CovariateKind::Real, Shape::Shift) => {
            return Err(VariantError::ShapeMismatch {
                covariate: x.clone(),
                shape: Shape::Shift,
            })
        }
    };

    // The parameter's definition.
    let value_span = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Individual(b) => Some(b),
            _ => None,
        })
        .flat_map(|b| b.entries.iter())
        .find_map(|s| match s {
            Stmt::Assign { name, value, .. } if name.text == effect.parameter => Some(value.span),
            _ => None,
        })
        .ok_or_else(|| VariantError::UnknownParameter(effect.parameter.clone()))?;
    let fixed_end = file
        .items
        .iter()
        .find_map(|i| match i {
            Item::Fixed(b) => b.entries.last().map(|d| d.span.end),
            _ => None,
        })
        .ok_or(VariantError::NoFixedBlock)?;
    // Indentation of the fixed block's entries.
    let line_start = source[..fixed_end].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let comment = format!("covariate effect {}", effect.label());
    let insert: String = decls
        .iter()
        .map(|d| format!("\n{indent}{d}  // {comment}"))
        .collect();
    // Edits from the end of the file backwards keep earlier spans valid.
    let mut edits = [
        (value_span.end, value_span.end, format!(") * {factor}")),
        (value_span.start, value_span.start, "(".to_string()),
        (fixed_end, fixed_end, insert),
    ];
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = source.to_string();
    // Skip to the end of the fixed entry's line so the insertion follows a
    // trailing comment.
    for (start, end, text) in edits {
        let (start, end) = if text.starts_with('\n') {
            let eol = out[start..].find('\n').map_or(out.len(), |i| start + i);
            (eol, eol)
        } else {
            (start, end)
        };
        out.replace_range(start..end, &text);
    }
    let compiled = compile_source(&out);
    if compiled.has_errors() {
        return Err(VariantError::Invalid(crate::render_plain(
            &compiled.diagnostics,
            "variant.mido",
            &out,
        )));
    }
    Ok(out)
}

/// `v` cut to 4 significant digits toward zero: inside a bound that
/// straddles zero, and short to read.
fn toward_zero(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(3 - v.abs().log10().floor() as i32);
    let cut = (v * scale).trunc() / scale;
    format!("{cut:.10}").parse().unwrap_or(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"model m
covariates {
  WT: real [kg]
  SEX: category { male = 0, female = 1 }
  SMK: bool
}
fixed {
  tv_cl = 2.0 in (0, ) [L/h]   // clearance
  tv_v  = 30 in (0, ) [L]
  sd    = 0.5 in (0, ) [mg/L]
}
random subject {
  eta_cl ~ normal(0, 0.1)
}
individual {
  cl = tv_cl * exp(eta_cl)
  v  = tv_v
}
compartments {
  center [mg] dose
}
pk one_compartment(cl = cl, v = v)
observe {
  cp [mg/L] = center / v
  DV ~ normal(cp, sd)
}
"#;

    fn effect(parameter: &str, covariate: &str, shape: Shape) -> Effect {
        Effect {
            parameter: parameter.into(),
            covariate: covariate.into(),
            shape,
            center: 70.0,
            range: (40.0, 120.0),
        }
    }

    #[test]
    fn every_shape_gives_a_model_that_compiles() {
        for (p, c, s) in [
            ("cl", "WT", Shape::Power),
            ("cl", "WT", Shape::Linear),
            ("v", "WT", Shape::Exponential),
            ("cl", "SEX", Shape::Shift),
            ("cl", "SMK", Shape::Shift),
        ] {
            let out = with_effect(BASE, &effect(p, c, s)).unwrap_or_else(|e| panic!("{e}"));
            assert!(out.contains("// clearance"), "comments survive:\n{out}");
            assert!(!compile_source(&out).has_errors());
        }
        let power = with_effect(BASE, &effect("cl", "WT", Shape::Power)).expect("variant");
        assert!(
            power.contains("cl = (tv_cl * exp(eta_cl)) * (WT / 70.0 [kg])^cl_wt"),
            "{power}"
        );
        assert!(
            power.contains("  cl_wt = 0.1  // covariate effect cl~WT (power)"),
            "{power}"
        );
        let linear = with_effect(BASE, &effect("cl", "WT", Shape::Linear)).expect("variant");
        // 1 + θ(120/70 − 1) > 0 ⇔ θ > −1.4; 1 + θ(40/70 − 1) > 0 ⇔ θ < 2.333…
        assert!(
            linear.contains("cl_wt = 0.01 in (-1.386, 2.309)"),
            "{linear}"
        );
        let sex = with_effect(BASE, &effect("cl", "SEX", Shape::Shift)).expect("variant");
        assert!(
            sex.contains("(if SEX == female then 1 + cl_sex_female else 1)"),
            "{sex}"
        );
        // Effects compose: a second one on top of the first.
        let both = with_effect(&power, &effect("cl", "SEX", Shape::Shift)).expect("variant");
        assert!(!compile_source(&both).has_errors());
    }

    #[test]
    fn impossible_variants_say_why() {
        assert_eq!(
            with_effect(BASE, &effect("ka", "WT", Shape::Power)),
            Err(VariantError::UnknownParameter("ka".into()))
        );
        assert_eq!(
            with_effect(BASE, &effect("cl", "CRCL", Shape::Power)),
            Err(VariantError::UnknownCovariate("CRCL".into()))
        );
        assert!(matches!(
            with_effect(BASE, &effect("cl", "SEX", Shape::Power)),
            Err(VariantError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            with_effect(BASE, &effect("cl", "WT", Shape::Shift)),
            Err(VariantError::ShapeMismatch { .. })
        ));
        let power = with_effect(BASE, &effect("cl", "WT", Shape::Power)).expect("variant");
        assert_eq!(
            with_effect(&power, &effect("cl", "WT", Shape::Linear)),
            Err(VariantError::NameTaken("cl_wt".into()))
        );
    }
}

//! Numbers with units in scenarios: constants read from expressions and
//! converted to the model's units.
//!
//! The model language keeps units without checking them; a scenario has to
//! use them, because its times (`every 24 [h] for 28 [d]`) must reach the
//! engine in the model's time unit. A unit is a factor times a product of
//! base dimensions: time (hours), mass (mg), volume (L) are known with
//! their common multiples; any other name (`kg` aside, which is mass) is a
//! dimension of its own. Two units convert when their dimensions agree.
//! A number written without a unit takes the unit of what it is compared
//! with, except times, which must say theirs.

use super::error::ScenarioError;
use mido_grammar::ast::{Expr, ExprKind, UnaryOp, Unit, UnitExpr};
use mido_grammar::Span;
use std::collections::BTreeMap;

/// A unit resolved to a factor and dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    pub factor: f64,
    pub powers: BTreeMap<String, i32>,
}

/// Known units: name, base dimension, factor to the base.
const KNOWN: &[(&str, &str, f64)] = &[
    ("s", "time", 1.0 / 3600.0),
    ("min", "time", 1.0 / 60.0),
    ("h", "time", 1.0),
    ("d", "time", 24.0),
    ("wk", "time", 168.0),
    ("ng", "mass", 1e-6),
    ("ug", "mass", 1e-3),
    ("mcg", "mass", 1e-3),
    ("mg", "mass", 1.0),
    ("g", "mass", 1e3),
    ("kg", "mass", 1e6),
    ("uL", "volume", 1e-6),
    ("mL", "volume", 1e-3),
    ("dL", "volume", 0.1),
    ("L", "volume", 1.0),
];

impl Dim {
    fn one() -> Self {
        Dim {
            factor: 1.0,
            powers: BTreeMap::new(),
        }
    }

    pub fn of(unit: &UnitExpr) -> Dim {
        match unit {
            UnitExpr::Name(n) => match KNOWN.iter().find(|(k, _, _)| k == n) {
                Some((_, base, f)) => Dim {
                    factor: *f,
                    powers: BTreeMap::from([(base.to_string(), 1)]),
                },
                None => Dim {
                    factor: 1.0,
                    powers: BTreeMap::from([(n.clone(), 1)]),
                },
            },
            UnitExpr::Number(x) => Dim {
                factor: *x,
                ..Dim::one()
            },
            UnitExpr::Mul(a, b) => Dim::of(a).times(&Dim::of(b), 1),
            UnitExpr::Div(a, b) => Dim::of(a).times(&Dim::of(b), -1),
            UnitExpr::Pow(a, n) => {
                let a = Dim::of(a);
                Dim {
                    factor: a.factor.powi(*n),
                    powers: a.powers.into_iter().map(|(k, p)| (k, p * n)).collect(),
                }
            }
        }
    }

    /// `self · other^sign`.
    pub fn times(&self, other: &Dim, sign: i32) -> Dim {
        let mut powers = self.powers.clone();
        for (k, p) in &other.powers {
            *powers.entry(k.clone()).or_insert(0) += sign * p;
        }
        powers.retain(|_, p| *p != 0);
        Dim {
            factor: self.factor * other.factor.powi(sign),
            powers,
        }
    }

    pub fn is_time(&self) -> bool {
        self.powers.len() == 1 && self.powers.get("time") == Some(&1)
    }
}

/// A constant as written: its value and its unit, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Option<Unit>,
    pub span: Span,
}

impl Quantity {
    /// The value expressed in `target` (a unit of the model), or as written
    /// when either side has no unit.
    pub fn convert_to(&self, target: Option<&Unit>, context: &str) -> Result<f64, ScenarioError> {
        match (&self.unit, target) {
            (Some(u), Some(t)) => {
                let (a, b) = (Dim::of(&u.expr), Dim::of(&t.expr));
                if a.powers != b.powers {
                    return Err(ScenarioError::UnitMismatch {
                        span: u.span,
                        found: u.expr.to_string(),
                        expected: t.expr.to_string(),
                        context: context.to_string(),
                    });
                }
                Ok(self.value * a.factor / b.factor)
            }
            _ => Ok(self.value),
        }
    }

    /// The value as a time in `time_unit` (hours by default); the unit is
    /// required.
    pub fn time(&self, time_unit: &Dim) -> Result<f64, ScenarioError> {
        let Some(u) = &self.unit else {
            return Err(ScenarioError::MissingTimeUnit { span: self.span });
        };
        let d = Dim::of(&u.expr);
        if !d.is_time() {
            return Err(ScenarioError::UnitMismatch {
                span: u.span,
                found: u.expr.to_string(),
                expected: "h".to_string(),
                context: "a time is expected here".to_string(),
            });
        }
        Ok(self.value * d.factor / time_unit.factor)
    }
}

/// Reads a constant: a number with an optional unit, possibly negated or
/// parenthesized.
pub fn constant(e: &Expr, what: &'static str) -> Result<Quantity, ScenarioError> {
    match &e.kind {
        ExprKind::Number(v, unit) => Ok(Quantity {
            value: *v,
            unit: unit.clone(),
            span: e.span,
        }),
        ExprKind::Unary(UnaryOp::Neg, inner) => {
            let q = constant(inner, what)?;
            Ok(Quantity {
                value: -q.value,
                span: e.span,
                ..q
            })
        }
        _ => Err(ScenarioError::NotAConstant { span: e.span, what }),
    }
}

/// A plain number without a unit (a count, a fraction, a seed).
pub fn plain(e: &Expr, what: &'static str) -> Result<f64, ScenarioError> {
    let q = constant(e, what)?;
    match q.unit {
        Some(u) => Err(ScenarioError::UnitMismatch {
            span: u.span,
            found: u.expr.to_string(),
            expected: "1".to_string(),
            context: format!("{what} has no unit"),
        }),
        None => Ok(q.value),
    }
}

/// A whole number ≥ `min` (a count).
pub fn count(e: &Expr, what: &'static str, min: u64) -> Result<u64, ScenarioError> {
    let x = plain(e, what)?;
    if x.fract() != 0.0 || x < min as f64 || x > u32::MAX as f64 {
        return Err(ScenarioError::NotAConstant { span: e.span, what });
    }
    Ok(x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(text: &str) -> UnitExpr {
        let (file, errors) =
            mido_grammar::parse(&format!("model m individual {{ x = 1 [{text}] }}"));
        assert!(errors.is_empty());
        let Some(mido_grammar::ast::Item::Individual(b)) =
            file.and_then(|f| f.items.into_iter().next())
        else {
            panic!("no individual block")
        };
        let mido_grammar::ast::Stmt::Assign { value, .. } = &b.entries[0] else {
            panic!("not an assignment")
        };
        let ExprKind::Number(_, Some(u)) = &value.kind else {
            panic!("no unit")
        };
        u.expr.clone()
    }

    #[test]
    fn conversions_within_a_dimension() {
        let day = Dim::of(&unit("d"));
        assert!(day.is_time());
        assert_eq!(day.factor, 24.0);
        let a = Dim::of(&unit("ng/mL"));
        let b = Dim::of(&unit("mg/L"));
        assert_eq!(a.powers, b.powers);
        assert!((a.factor / b.factor - 1e-3).abs() < 1e-15);
        let per_kg = Dim::of(&unit("mg/kg")).times(&Dim::of(&unit("kg")), 1);
        assert_eq!(per_kg.powers, Dim::of(&unit("mg")).powers);
        assert_ne!(Dim::of(&unit("L/h")).powers, Dim::of(&unit("L")).powers);
    }
}

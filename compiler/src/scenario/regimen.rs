//! Regimens: dose statements → phases on one timeline, amounts in the
//! compartment's unit, and at most one dose rule.
//!
//! Doses follow each other: a phase starts where the previous one ends
//! (its last dose plus one interval) unless it says `at`/`from`. A later
//! start leaves a dose-free gap (the previous phase becomes a cycle of one
//! repeat, which is how the engine spells a pause). A single dose (no
//! `every`) lasts until the next phase: `dose 10 [mg]` then `dose 5 [mg]
//! every 24 [h]` is a loading dose with maintenance from 24 h; inside a
//! cycle it lasts to the cycle's end; at the end of a regimen until the
//! scenario's `horizon`.

use super::error::ScenarioError;
use super::ir::{Amount, Block, Phase, Regimen, Rule, RuleAction};
use super::settings::Settings;
use super::units::{self, Dim, Quantity};
use super::{duplicates, Cx};
use crate::ir::State;
use crate::suggest::similar;
use mido_grammar::ast::scenario::{
    DoseClause, DoseStmt, RegimenDecl, RegimenEntry, ScenarioFile, ScenarioItem,
};
use mido_grammar::ast::{BinaryOp, Expr, ExprKind, Unit};
use mido_grammar::Span;

/// Most doses a regimen gives (every dose time is kept in memory).
const MAX_DOSES: u32 = 1_000_000;

/// A checked regimen with what metrics and searches need to know.
pub(crate) struct Checked {
    pub checked: Regimen,
    pub span: Span,
    /// `[first dose, + its interval]`, when the first dose repeats.
    pub first_interval: Option<(f64, f64)>,
    /// `[last dose, + its interval]`, when the last dose repeats.
    pub last_interval: Option<(f64, f64)>,
    /// The compartment unit of the first dose (dose searches are in it).
    pub first_unit: Option<Unit>,
}

pub(crate) fn check_all(cx: &mut Cx, file: &ScenarioFile, settings: &Settings) -> Vec<Checked> {
    let decls: Vec<&RegimenDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ScenarioItem::Regimen(r) => Some(r),
            _ => None,
        })
        .collect();
    duplicates(
        cx,
        "regimen",
        decls.iter().map(|r| (r.name.text.as_str(), r.name.span)),
    );
    decls
        .into_iter()
        .filter_map(|r| check_one(cx, r, settings))
        .collect()
}

/// A dose statement read, before its place on the timeline is known.
struct Pending {
    phase: Phase,
    /// Whether `every` gave the interval (else a single dose).
    repeated: bool,
    at: Option<f64>,
    span: Span,
    unit: Option<Unit>,
}

/// What a `then` step keeps from the dose before it.
#[derive(Clone)]
struct Defaults {
    into: String,
    interval: Option<f64>,
    infusion: Option<f64>,
}

enum Planned {
    Phase(Pending),
    Cycle {
        length: f64,
        repeat: u32,
        phases: Vec<Pending>,
        span: Span,
    },
}

fn check_one(cx: &mut Cx, r: &RegimenDecl, settings: &Settings) -> Option<Checked> {
    let before = cx.errors.len();
    let mut defaults: Option<Defaults> = None;
    let mut planned = Vec::new();
    let mut rule: Option<(&RegimenEntry, Span)> = None;
    for entry in &r.entries {
        match entry {
            RegimenEntry::Dose(d) => {
                if let Some(p) = dose(cx, d, &mut defaults, false) {
                    planned.push(Planned::Phase(p));
                }
            }
            RegimenEntry::Cycle {
                length,
                repeat,
                entries,
                span,
            } => {
                let length = cx
                    .ok(units::constant(length, "the cycle length").and_then(|q| q.time(&cx.time)));
                let repeat = cx.ok(units::count(repeat, "the number of cycles", 1));
                let mut phases = Vec::new();
                for inner in entries {
                    match inner {
                        RegimenEntry::Dose(d) => {
                            if let Some(p) = dose(cx, d, &mut defaults, true) {
                                phases.push(p);
                            }
                        }
                        RegimenEntry::Cycle { span, .. } => cx.error(ScenarioError::InvalidCycle {
                            span: *span,
                            reason: "cycles do not nest".into(),
                        }),
                        RegimenEntry::Rule { span, .. } => cx.error(ScenarioError::InvalidRule {
                            span: *span,
                            reason:
                                "a rule applies to the whole regimen: write it outside the cycle"
                                    .into(),
                        }),
                        RegimenEntry::Error(_) => {}
                    }
                }
                match (length, repeat) {
                    (Some(l), _) if l <= 0.0 => cx.error(ScenarioError::InvalidCycle {
                        span: *span,
                        reason: "the cycle length must be positive".into(),
                    }),
                    (Some(length), Some(repeat)) if !phases.is_empty() => {
                        planned.push(Planned::Cycle {
                            length,
                            repeat: repeat as u32,
                            phases,
                            span: *span,
                        })
                    }
                    (Some(_), Some(_)) => cx.error(ScenarioError::InvalidCycle {
                        span: *span,
                        reason: "the cycle gives no dose".into(),
                    }),
                    _ => {}
                }
            }
            RegimenEntry::Rule { span, .. } => match rule {
                Some(_) => cx.error(ScenarioError::InvalidRule {
                    span: *span,
                    reason: "a regimen has at most one rule".into(),
                }),
                None => rule = Some((entry, *span)),
            },
            RegimenEntry::Error(_) => {}
        }
    }
    if planned.is_empty() {
        if cx.errors.len() == before {
            cx.error(ScenarioError::EmptyRegimen {
                name: r.name.text.clone(),
                span: r.name.span,
            });
        }
        return None;
    }
    let first_unit = match &planned[0] {
        Planned::Phase(p) => p.unit.clone(),
        Planned::Cycle { phases, .. } => phases.first().and_then(|p| p.unit.clone()),
    };
    let rule = rule.and_then(|(e, _)| check_rule(cx, e, first_unit.as_ref()));
    let timeline = timeline(cx, planned, settings.horizon)?;
    if cx.errors.len() > before {
        return None;
    }
    Some(Checked {
        checked: Regimen {
            name: r.name.text.clone(),
            start: timeline.start,
            blocks: timeline.blocks,
            rule,
            end: timeline.end,
            repeats: timeline.last_interval.is_some(),
        },
        span: r.name.span,
        first_interval: timeline.first_interval,
        last_interval: timeline.last_interval,
        first_unit,
    })
}

/// Reads one dose statement.
fn dose(
    cx: &mut Cx,
    d: &DoseStmt,
    defaults: &mut Option<Defaults>,
    in_cycle: bool,
) -> Option<Pending> {
    let errors = cx.errors.len();
    let mut seen: Vec<(&'static str, Span)> = Vec::new();
    for c in &d.clauses {
        if seen.iter().any(|(k, _)| *k == c.keyword()) {
            cx.error(ScenarioError::InvalidSchedule {
                span: c.span(),
                reason: format!("`{}` is given twice", c.keyword()),
            });
        }
        seen.push((c.keyword(), c.span()));
    }
    if d.then && defaults.is_none() {
        cx.error(ScenarioError::InvalidSchedule {
            span: d.span,
            reason: "`then` continues a dose, but none comes before it".into(),
        });
        return None;
    }
    let inherited = defaults.clone().filter(|_| d.then);
    let time = |cx: &mut Cx, e: &Expr, what: &'static str| {
        cx.ok(units::constant(e, what).and_then(|q| q.time(&cx.time)))
    };
    let mut into = None;
    let mut interval = inherited.as_ref().and_then(|x| x.interval);
    let mut repeated = interval.is_some();
    let mut infusion = inherited.as_ref().and_then(|x| x.infusion);
    let mut count: Option<(Result<u32, f64>, Span)> = None;
    let mut at = None;
    // An `every` that was given but wrong is reported once, not again as missing.
    let every_given = d.clauses.iter().any(|c| matches!(c, DoseClause::Every(..)));
    for c in &d.clauses {
        match c {
            DoseClause::Into(n, _) => into = Some(n),
            DoseClause::Over(e, s) => match time(cx, e, "the infusion duration") {
                Some(t) if t > 0.0 => infusion = Some(t),
                Some(_) => cx.error(ScenarioError::InvalidSchedule {
                    span: *s,
                    reason: "an infusion lasts a positive time".into(),
                }),
                None => {}
            },
            DoseClause::Every(e, s) => match time(cx, e, "the dosing interval") {
                Some(t) if t > 0.0 => {
                    interval = Some(t);
                    repeated = true;
                }
                Some(_) => cx.error(ScenarioError::InvalidSchedule {
                    span: *s,
                    reason: "the dosing interval must be positive".into(),
                }),
                None => {}
            },
            DoseClause::For(e, word, s) => {
                let q = cx.ok(units::constant(e, "a duration or a number of doses"));
                match q {
                    Some(Quantity { unit: Some(_), .. }) => {
                        if let Some(w) = word {
                            cx.error(ScenarioError::InvalidSchedule {
                                span: w.span,
                                reason: "a duration is not followed by a word".into(),
                            });
                        }
                        if let Some(t) = q.as_ref().and_then(|q| cx.ok(q.time(&cx.time))) {
                            count = Some((Err(t), *s));
                        }
                    }
                    Some(Quantity { value, .. }) => {
                        if let Some(w) = word
                            .as_ref()
                            .filter(|w| w.text != "doses" && w.text != "dose")
                        {
                            cx.error(ScenarioError::InvalidSchedule {
                                span: w.span,
                                reason: format!(
                                    "`for {value} {}`: a count of doses reads `for {value} doses`",
                                    w.text
                                ),
                            });
                        }
                        if value >= 1.0 && value.fract() == 0.0 && value <= u32::MAX as f64 {
                            count = Some((Ok(value as u32), *s));
                        } else {
                            cx.error(ScenarioError::InvalidSchedule { span: e.span, reason: format!("{value} is not a number of doses (a whole number ≥ 1; a duration needs a time unit)") });
                        }
                    }
                    None => {}
                }
            }
            DoseClause::At(e, s) | DoseClause::From(e, s) => {
                if in_cycle {
                    cx.error(ScenarioError::InvalidCycle {
                        span: *s,
                        reason:
                            "doses in a cycle follow each other from its start; `at` is not allowed"
                                .into(),
                    });
                } else {
                    match time(cx, e, "the start time") {
                        Some(t) if t >= 0.0 => at = Some(t),
                        Some(_) => cx.error(ScenarioError::InvalidSchedule {
                            span: *s,
                            reason: "a dose cannot start before time 0".into(),
                        }),
                        None => {}
                    }
                }
            }
        }
    }
    let state = resolve_compartment(cx, into, inherited.as_ref().or(defaults.as_ref()), d.span);
    let doses = match count {
        None => 1,
        Some((Ok(n), s)) if n > MAX_DOSES => {
            cx.error(ScenarioError::InvalidSchedule {
                span: s,
                reason: format!("{n} doses; a regimen gives at most {MAX_DOSES}"),
            });
            1
        }
        Some((Ok(n), s)) => {
            if n > 1 && interval.is_none() && !every_given {
                cx.error(ScenarioError::InvalidSchedule {
                    span: s,
                    reason: "several doses need an interval: add `every ...`".into(),
                });
            }
            n
        }
        Some((Err(duration), s)) => match interval {
            Some(tau) => {
                let n = ((duration / tau) * (1.0 - 1e-12)).ceil().max(1.0);
                if n > MAX_DOSES as f64 {
                    cx.error(ScenarioError::InvalidSchedule {
                        span: s,
                        reason: format!("{n} doses; a regimen gives at most {MAX_DOSES}"),
                    });
                    1
                } else {
                    n as u32
                }
            }
            None if every_given => 1,
            None => {
                cx.error(ScenarioError::InvalidSchedule {
                    span: s,
                    reason: "a duration needs an interval: add `every ...`".into(),
                });
                1
            }
        },
    };
    if repeated && count.is_none() && !d.then {
        cx.error(ScenarioError::InvalidSchedule {
            span: d.span,
            reason: "say how long the doses go on: `for 28 [d]` or `for 4 doses`".into(),
        });
    }
    let (name, unit) = match state {
        Some(s) => (s.name.clone(), s.unit.clone()),
        None => (String::new(), None),
    };
    let amount = amount(cx, &d.amount, unit.as_ref());
    let amount = cx.ok(amount);
    if let Some(s) = state {
        *defaults = Some(Defaults {
            into: s.name.clone(),
            interval,
            infusion,
        });
    }
    if cx.errors.len() > errors {
        return None;
    }
    Some(Pending {
        phase: Phase {
            amount: amount?,
            into: name,
            interval: interval.unwrap_or(f64::NAN),
            doses,
            infusion,
        },
        repeated,
        at,
        span: d.span,
        unit,
    })
}

/// The compartment of a dose: `into`, the previous dose's, or the model's
/// only dose compartment.
fn resolve_compartment<'m>(
    cx: &mut Cx<'m>,
    into: Option<&mido_grammar::ast::Name>,
    previous: Option<&Defaults>,
    span: Span,
) -> Option<&'m State> {
    let model = cx.model?;
    let dosable: Vec<&State> = model.states.iter().filter(|s| s.dosable).collect();
    let (name, span) = match (into, previous) {
        (Some(n), _) => (n.text.as_str(), n.span),
        (None, Some(p)) => return model.states.iter().find(|s| s.name == p.into),
        (None, None) => match dosable.as_slice() {
            [only] => return Some(only),
            _ => {
                cx.error(ScenarioError::InvalidSchedule {
                    span,
                    reason: "the model has several dose compartments: say which with `into`".into(),
                });
                return None;
            }
        },
    };
    match model.states.iter().find(|s| s.name == name) {
        Some(s) if s.dosable => Some(s),
        Some(s) => {
            cx.error(ScenarioError::NotDosable {
                name: s.name.clone(),
                span,
                dosable: dosable.iter().map(|s| s.name.clone()).collect(),
            });
            None
        }
        None => {
            cx.error(ScenarioError::UnknownCompartment {
                name: name.to_string(),
                span,
                candidates: similar(name, model.states.iter().map(|s| s.name.as_str())),
            });
            None
        }
    }
}

/// A dose amount: a constant, per unit of a covariate, or bands.
fn amount(cx: &mut Cx, e: &Expr, unit: Option<&Unit>) -> Result<Amount, ScenarioError> {
    let context = "the compartment the dose goes into is declared with this unit";
    let positive = |x: f64, span: Span| {
        if x > 0.0 && x.is_finite() {
            Ok(x)
        } else {
            Err(ScenarioError::NonPositiveDose { amount: x, span })
        }
    };
    match &e.kind {
        ExprKind::Number(..) | ExprKind::Unary(..) => {
            let q = units::constant(e, "a dose")?;
            Ok(Amount::Fixed(positive(
                q.convert_to(unit, context)?,
                e.span,
            )?))
        }
        ExprKind::Binary(BinaryOp::Mul, a, b) => {
            let (q, name, cov_span) = match (&a.kind, &b.kind) {
                (_, ExprKind::Name(n)) => (units::constant(a, "a dose per unit")?, n, b.span),
                (ExprKind::Name(n), _) => (units::constant(b, "a dose per unit")?, n, a.span),
                _ => {
                    return Err(ScenarioError::InvalidDoseAmount {
                        span: e.span,
                        reason: "a product is an amount per unit times a covariate".into(),
                    })
                }
            };
            let Some(cov) = cx.covariate(name, cov_span) else {
                return Ok(Amount::Fixed(1.0));
            };
            let per_unit = match (&q.unit, &cov.unit, unit) {
                (Some(qu), Some(cu), Some(target)) => {
                    let d = Dim::of(&qu.expr).times(&Dim::of(&cu.expr), 1);
                    let t = Dim::of(&target.expr);
                    if d.powers != t.powers {
                        return Err(ScenarioError::UnitMismatch {
                            span: qu.span,
                            found: format!("{}*{}", qu.expr, cu.expr),
                            expected: target.expr.to_string(),
                            context: format!("this amount per unit times `{}` [{}] must give the compartment's unit", cov.name, cu.expr),
                        });
                    }
                    q.value * d.factor / t.factor
                }
                _ => q.value,
            };
            Ok(Amount::PerUnit {
                covariate: cov.name.clone(),
                per_unit: positive(per_unit, q.span)?,
            })
        }
        ExprKind::If(..) => bands(cx, e, unit),
        _ => Err(ScenarioError::InvalidDoseAmount {
            span: e.span,
            reason: "not an amount".into(),
        }),
    }
}

/// `if WT < 60 [kg] then 5 [mg] else if WT < 90 [kg] then 7.5 [mg] else 10 [mg]`
/// (or the same with `>=` from the top band down) → bands.
fn bands(cx: &mut Cx, e: &Expr, unit: Option<&Unit>) -> Result<Amount, ScenarioError> {
    let bad = |span: Span, reason: &str| ScenarioError::InvalidDoseAmount {
        span,
        reason: reason.into(),
    };
    let mut covariate: Option<String> = None;
    let mut arms: Vec<(f64, bool, f64)> = Vec::new(); // (threshold, below, amount)
    let mut rest = e;
    while let ExprKind::If(c, then, other) = &rest.kind {
        let ExprKind::Binary(op, a, b) = &c.kind else {
            return Err(bad(c.span, "a band is a covariate compared with a value"));
        };
        let ExprKind::Name(name) = &a.kind else {
            return Err(bad(
                c.span,
                "a band compares a covariate (on the left) with a value",
            ));
        };
        let Some(cov) = cx.covariate(name, a.span) else {
            return Ok(Amount::Fixed(1.0));
        };
        if covariate.as_ref().is_some_and(|n| *n != cov.name) {
            return Err(bad(c.span, "every band compares the same covariate"));
        }
        covariate = Some(cov.name.clone());
        let x = units::constant(b, "a band limit")?.convert_to(
            cov.unit.as_ref(),
            "the covariate is declared with this unit",
        )?;
        let (threshold, below) = match op {
            BinaryOp::Lt => (x, true),
            BinaryOp::Le => (next_up(x), true),
            BinaryOp::Ge => (x, false),
            BinaryOp::Gt => (next_up(x), false),
            _ => return Err(bad(c.span, "bands use <, <=, > or >=")),
        };
        let Amount::Fixed(a) = amount(cx, then, unit)? else {
            return Err(bad(then.span, "each band gives an amount"));
        };
        arms.push((threshold, below, a));
        rest = other;
    }
    let Amount::Fixed(last) = amount(cx, rest, unit)? else {
        return Err(bad(rest.span, "the last band gives an amount"));
    };
    let below = arms[0].1;
    if arms.iter().any(|a| a.1 != below) {
        return Err(bad(e.span, "write the bands all with `<` (from the lowest up) or all with `>=` (from the highest down)"));
    }
    // Ascending: `< t1 → a1, < t2 → a2, else → last` = from -inf a1, t1 a2, t2 last.
    let mut out = Vec::new();
    if below {
        let mut from = f64::NEG_INFINITY;
        for (t, _, a) in &arms {
            out.push((from, *a));
            from = *t;
        }
        out.push((from, last));
    } else {
        out.push((f64::NEG_INFINITY, last));
        for (t, _, a) in arms.iter().rev() {
            out.push((*t, *a));
        }
    }
    if out.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(bad(
            e.span,
            "the band limits must go up (with `<`) or down (with `>=`) strictly",
        ));
    }
    Ok(Amount::Bands {
        covariate: covariate.unwrap_or_default(),
        bands: out,
    })
}

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

fn check_rule(cx: &mut Cx, e: &RegimenEntry, dose_unit: Option<&Unit>) -> Option<Rule> {
    let RegimenEntry::Rule {
        condition,
        action,
        by,
        ..
    } = e
    else {
        return None;
    };
    let bad = |span: Span, reason: &str| ScenarioError::InvalidRule {
        span,
        reason: reason.into(),
    };
    let ExprKind::Binary(op, lhs, limit) = &condition.kind else {
        cx.error(bad(
            condition.span,
            "the condition compares a variable's trough with a limit",
        ));
        return None;
    };
    let above = match op {
        BinaryOp::Gt | BinaryOp::Ge => true,
        BinaryOp::Lt | BinaryOp::Le => false,
        _ => {
            cx.error(bad(condition.span, "the condition is `>` or `<` a limit"));
            return None;
        }
    };
    let variable = match &lhs.kind {
        ExprKind::Call(v, args)
            if args.len() == 1 && matches!(&args[0].kind, ExprKind::Name(t) if t == "trough") =>
        {
            v
        }
        _ => {
            cx.error(bad(
                lhs.span,
                "the rule looks at the value just before each dose: write `cp(trough)`",
            ));
            return None;
        }
    };
    let unit = cx.variable(&variable.text, variable.span)?;
    let limit = cx.ok(units::constant(limit, "the limit")
        .and_then(|q| q.convert_to(unit, "the variable is declared with this unit")))?;
    let action = match (action.text.as_str(), by) {
        ("skip", None) => RuleAction::Skip,
        ("reduce", Some(step)) => {
            let q = cx.ok(units::constant(step, "the reduction").and_then(|q| {
                q.convert_to(dose_unit, "the dose compartment is declared with this unit")
            }))?;
            if !(q > 0.0 && q.is_finite()) {
                cx.error(bad(step.span, "a reduction step is a positive amount"));
                return None;
            }
            RuleAction::ReduceBy(q)
        }
        ("scale", Some(f)) => {
            let x = cx.ok(units::plain(f, "the factor"))?;
            if !(0.0..1.0).contains(&x) {
                cx.error(bad(
                    f.span,
                    "a scaling factor lowers the dose: it is in [0, 1)",
                ));
                return None;
            }
            RuleAction::ScaleBy(x)
        }
        ("skip", Some(b)) => {
            cx.error(bad(b.span, "`skip` takes no amount"));
            return None;
        }
        ("reduce" | "scale", None) => {
            cx.error(bad(
                action.span,
                &format!("`{}` needs `by`: `{} by ...`", action.text, action.text),
            ));
            return None;
        }
        (other, _) => {
            let candidates = similar(other, ["skip", "reduce", "scale"]);
            let mut reason =
                format!("unknown action `{other}` (skip, reduce by AMOUNT, scale by FACTOR)");
            if let Some(c) = candidates.first() {
                reason.push_str(&format!("; did you mean `{c}`?"));
            }
            cx.error(bad(action.span, &reason));
            return None;
        }
    };
    Some(Rule {
        variable: variable.text.clone(),
        above,
        limit,
        action,
    })
}

struct Timeline {
    start: f64,
    blocks: Vec<Block>,
    end: f64,
    first_interval: Option<(f64, f64)>,
    last_interval: Option<(f64, f64)>,
}

/// Places the phases one after the other (see the module documentation).
fn timeline(cx: &mut Cx, planned: Vec<Planned>, horizon: Option<f64>) -> Option<Timeline> {
    let mut blocks: Vec<(Block, f64, Span)> = Vec::new(); // block, start, span
                                                          // A single dose waiting for the next block to fix its interval.
    let mut open_single: Option<(usize, f64)> = None; // index in blocks, dose time
    let mut cursor = 0.0;
    let mut first_interval = None;
    let mut last_interval = None;
    for (k, p) in planned.into_iter().enumerate() {
        let (at, span) = match &p {
            Planned::Phase(x) => (x.at, x.span),
            Planned::Cycle { span, .. } => (None, *span),
        };
        // When the previous dose was single, its interval is the gap to this block.
        let start = match (at, open_single.take()) {
            (Some(t), Some((i, t0))) => {
                if t <= t0 {
                    cx.error(ScenarioError::InvalidSchedule {
                        span,
                        reason: format!("starts at {t}, not after the dose before it (at {t0})"),
                    });
                    return None;
                }
                set_single_interval(&mut blocks[i].0, t - t0);
                t
            }
            (None, Some((i, t0))) => {
                let tau = match &p {
                    Planned::Phase(x) if x.repeated => x.phase.interval,
                    _ => {
                        cx.error(ScenarioError::InvalidSchedule {
                            span,
                            reason: "after a single dose, say when this starts with `at`".into(),
                        });
                        return None;
                    }
                };
                set_single_interval(&mut blocks[i].0, tau);
                t0 + tau
            }
            (Some(t), None) => {
                if k > 0 && t < cursor * (1.0 - 1e-12) {
                    cx.error(ScenarioError::InvalidSchedule {
                        span,
                        reason: format!(
                            "starts at {t}, before the doses before it end (at {cursor})"
                        ),
                    });
                    return None;
                }
                if k > 0 && t > cursor * (1.0 + 1e-12) {
                    // A pause: the previous phase becomes a cycle of one repeat.
                    let (last, last_start, last_span) = blocks.pop()?;
                    match last {
                        Block::Phase(ph) => blocks.push((
                            Block::Cycle {
                                length: t - last_start,
                                repeat: 1,
                                phases: vec![ph],
                            },
                            last_start,
                            last_span,
                        )),
                        Block::Cycle { .. } => {
                            cx.error(ScenarioError::InvalidSchedule {
                                span,
                                reason: "a pause after a cycle: lengthen the cycle instead".into(),
                            });
                            return None;
                        }
                    }
                }
                t
            }
            (None, None) => cursor,
        };
        match p {
            Planned::Phase(x) => {
                if !x.repeated {
                    open_single = Some((blocks.len(), start));
                } else {
                    let tau = x.phase.interval;
                    if k == 0 {
                        first_interval = Some((start, start + tau));
                    }
                    last_interval = Some((
                        start + f64::from(x.phase.doses - 1) * tau,
                        start + f64::from(x.phase.doses) * tau,
                    ));
                    cursor = start + f64::from(x.phase.doses) * tau;
                }
                blocks.push((Block::Phase(x.phase), start, x.span));
            }
            Planned::Cycle {
                length,
                repeat,
                mut phases,
                span,
            } => {
                // A single dose inside a cycle lasts until the next dose of
                // the cycle, or to the cycle's end.
                let mut t = 0.0;
                let m = phases.len();
                for j in 0..m {
                    if !phases[j].repeated {
                        let next = phases
                            .get(j + 1)
                            .filter(|q| q.repeated)
                            .map(|q| q.phase.interval);
                        let tau = match next {
                            Some(tau) => tau,
                            None if j + 1 == m => length - t,
                            None => {
                                cx.error(ScenarioError::InvalidCycle { span: phases[j].span, reason: "two single doses in a row: give the first an interval with `every`".into() });
                                return None;
                            }
                        };
                        phases[j].phase.interval = tau;
                    }
                    t += f64::from(phases[j].phase.doses) * phases[j].phase.interval;
                }
                if t > length * (1.0 + 1e-12)
                    || phases
                        .iter()
                        .any(|q| q.phase.interval.is_nan() || q.phase.interval <= 0.0)
                {
                    cx.error(ScenarioError::InvalidCycle {
                        span,
                        reason: format!(
                            "its doses take {t} but the cycle lasts {length} (model time units)"
                        ),
                    });
                    return None;
                }
                let per_cycle: u64 = phases.iter().map(|q| u64::from(q.phase.doses)).sum();
                if per_cycle * u64::from(repeat) > u64::from(MAX_DOSES) {
                    cx.error(ScenarioError::InvalidCycle {
                        span,
                        reason: format!(
                            "{} doses in all; a regimen gives at most {MAX_DOSES}",
                            per_cycle * u64::from(repeat)
                        ),
                    });
                    return None;
                }
                let first = &phases[0].phase;
                if k == 0 {
                    first_interval = Some((start, start + first.interval));
                }
                let last_cycle = start + f64::from(repeat - 1) * length;
                let last_phase_start = last_cycle
                    + phases[..m - 1]
                        .iter()
                        .map(|q| f64::from(q.phase.doses) * q.phase.interval)
                        .sum::<f64>();
                let lp = &phases[m - 1].phase;
                last_interval = Some((
                    last_phase_start + f64::from(lp.doses - 1) * lp.interval,
                    last_phase_start + f64::from(lp.doses) * lp.interval,
                ));
                cursor = start + f64::from(repeat) * length;
                blocks.push((
                    Block::Cycle {
                        length,
                        repeat,
                        phases: phases.into_iter().map(|q| q.phase).collect(),
                    },
                    start,
                    span,
                ));
            }
        }
    }
    if let Some((i, t0)) = open_single {
        // The regimen ends with a single dose: it is followed to the horizon.
        match horizon {
            Some(h) if h > t0 => {
                set_single_interval(&mut blocks[i].0, h - t0);
                cursor = h;
                if i == 0 {
                    first_interval = None;
                }
                last_interval = None;
            }
            _ => {
                cx.error(ScenarioError::InvalidSchedule {
                    span: blocks[i].2,
                    reason: "the regimen ends with a single dose: set `horizon = ...` to say how long it is followed".into(),
                });
                return None;
            }
        }
    }
    // A loading dose's first interval is the gap to the maintenance.
    if let Some((Block::Phase(p), s, _)) = blocks.first() {
        if first_interval.is_none() && blocks.len() > 1 {
            first_interval = Some((*s, *s + p.interval));
        }
    }
    let start = blocks.first().map_or(0.0, |b| b.1);
    Some(Timeline {
        start,
        end: cursor,
        blocks: blocks.into_iter().map(|(b, _, _)| b).collect(),
        first_interval,
        last_interval,
    })
}

fn set_single_interval(b: &mut Block, tau: f64) {
    if let Block::Phase(p) = b {
        p.interval = tau;
    }
}

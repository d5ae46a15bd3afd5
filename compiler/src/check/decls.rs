//! Declarations: covariates, fixed effects, random effects (OMEGA) and
//! compartments.

use super::scope::Sym;
use super::Checker;
use crate::error::{BlockKind, Error};
use crate::ir::{self, CovId, EtaId, ParamId, ParamOrigin, StateId, ThetaId};
use crate::suggest::similar;
use mido_grammar::ast;
use mido_grammar::Span;
use mido_runtime::model::{CovariateKind, RandomLevel};

impl Checker {
    fn define(&mut self, name: &ast::Name, sym: Sym) -> bool {
        match self.scope.define(&name.text, sym, name.span) {
            Ok(()) => true,
            Err(existing) => {
                self.error(Error::DuplicateDefinition {
                    name: name.text.clone(),
                    span: name.span,
                    first: existing.span,
                });
                false
            }
        }
    }

    pub(super) fn covariates(&mut self, block: &ast::Block<ast::CovariateDecl>) {
        for decl in &block.entries {
            let kind = match decl.ty.text.as_str() {
                "real" | "bool" if decl.levels.is_some() => {
                    self.error(Error::LevelsMismatch {
                        covariate: decl.name.text.clone(),
                        ty: decl.ty.text.clone(),
                        span: decl.ty.span,
                    });
                    continue;
                }
                "real" => CovariateKind::Real,
                "bool" => CovariateKind::Bool,
                "category" => match &decl.levels {
                    Some(levels) if !levels.is_empty() => match self.category_levels(levels) {
                        Some(levels) => CovariateKind::Category(levels),
                        None => continue,
                    },
                    _ => {
                        self.error(Error::LevelsMismatch {
                            covariate: decl.name.text.clone(),
                            ty: decl.ty.text.clone(),
                            span: decl.ty.span,
                        });
                        continue;
                    }
                },
                other => {
                    self.error(Error::UnknownCovariateType {
                        name: other.to_string(),
                        span: decl.ty.span,
                        candidates: similar(other, ["real", "bool", "category"]),
                    });
                    continue;
                }
            };
            let locf = match &decl.carry {
                None => false,
                Some(rule) if rule.text == "locf" => true,
                Some(rule) if rule.text == "nocb" => false,
                Some(rule) => {
                    // Reported; the covariate is still declared so that its
                    // uses are checked without echoes.
                    self.error(Error::UnknownCarryRule {
                        name: rule.text.clone(),
                        span: rule.span,
                        candidates: similar(&rule.text, ["locf", "nocb"]),
                    });
                    false
                }
            };
            let id = CovId(self.model.covariates.len() as u32);
            if self.define(&decl.name, Sym::Cov(id)) {
                self.model.covariates.push(ir::Covariate {
                    name: decl.name.text.clone(),
                    kind,
                    unit: decl.unit.clone(),
                    time_varying: decl.time_varying,
                    locf,
                });
            }
        }
    }

    fn category_levels(
        &mut self,
        levels: &[(ast::Name, ast::Number)],
    ) -> Option<Vec<(String, f64)>> {
        let mut out: Vec<(String, f64)> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        let mut ok = true;
        for (name, code) in levels {
            if let Some(i) = out.iter().position(|(n, _)| *n == name.text) {
                self.error(Error::DuplicateDefinition {
                    name: name.text.clone(),
                    span: name.span,
                    first: Some(spans[i]),
                });
                ok = false;
                continue;
            }
            out.push((name.text.clone(), code.value));
            spans.push(name.span);
        }
        ok.then_some(out)
    }

    pub(super) fn fixed(&mut self, block: &ast::Block<ast::FixedDecl>) {
        for decl in &block.entries {
            let lower = decl
                .bounds
                .as_ref()
                .and_then(|b| b.lower)
                .map_or(f64::NEG_INFINITY, |n| n.value);
            let upper = decl
                .bounds
                .as_ref()
                .and_then(|b| b.upper)
                .map_or(f64::INFINITY, |n| n.value);
            let init = decl.init.value;
            if let Some(bounds) = &decl.bounds {
                if lower >= upper {
                    self.error(Error::EmptyBounds {
                        name: decl.name.text.clone(),
                        span: bounds.span,
                    });
                } else {
                    // Estimated parameters start strictly inside their
                    // bounds; a fixed one may sit on a bound.
                    let inside = if decl.fixed {
                        lower <= init && init <= upper
                    } else {
                        lower < init && init < upper
                    };
                    if !inside {
                        self.error(Error::InitOutsideBounds {
                            name: decl.name.text.clone(),
                            init,
                            span: decl.init.span,
                            bounds: bounds.span,
                        });
                    }
                }
            }
            let id = ThetaId(self.model.thetas.len() as u32);
            if self.define(&decl.name, Sym::Theta(id)) {
                self.model.thetas.push(ir::Theta {
                    name: decl.name.text.clone(),
                    init,
                    lower,
                    upper,
                    fixed: decl.fixed,
                    unit: decl.unit.clone(),
                });
                self.theta_spans.push(decl.name.span);
                self.theta_used.push(false);
            }
        }
    }

    pub(super) fn random(&mut self, level_name: &ast::Name, block: &ast::Block<ast::RandomDecl>) {
        let level = match level_name.text.as_str() {
            "subject" => Some(RandomLevel::Subject),
            "occasion" => Some(RandomLevel::Occasion),
            other => {
                self.error(Error::UnknownRandomLevel {
                    name: other.to_string(),
                    span: level_name.span,
                    candidates: similar(other, ["subject", "occasion"]),
                });
                None
            }
        };
        for decl in &block.entries {
            // Entries the parser could not read were reported already.
            if decl.names.is_empty() {
                continue;
            }
            let covariance = self.omega_block(decl);
            let mut ids = Vec::new();
            for name in &decl.names {
                let id = EtaId(self.model.etas.len() as u32);
                if self.define(name, Sym::Eta(id)) {
                    self.model.etas.push(ir::Eta {
                        name: name.text.clone(),
                        level: level.unwrap_or(RandomLevel::Subject),
                    });
                    self.eta_spans.push(name.span);
                    self.eta_used.push(false);
                    ids.push(id);
                }
            }
            if let (Some(level), Some(covariance)) = (level, covariance) {
                if ids.len() == decl.names.len() {
                    self.model.omegas.push(ir::OmegaBlock {
                        level,
                        etas: ids,
                        covariance,
                        fixed: decl.fixed,
                    });
                }
            }
        }
    }

    /// The covariance of one `~ normal(0, ...)` entry, checked.
    fn omega_block(&mut self, decl: &ast::RandomDecl) -> Option<Vec<f64>> {
        if decl.dist.text != "normal" {
            self.error(Error::UnknownDistribution {
                name: decl.dist.text.clone(),
                span: decl.dist.span,
                allowed: &["normal"],
                candidates: similar(&decl.dist.text, ["normal"]),
            });
            return None;
        }
        if decl.args.len() != 2 {
            self.error(Error::WrongArity {
                function: "normal".into(),
                expected: 2,
                found: decl.args.len(),
                span: decl.span,
            });
            return None;
        }
        match constant(&decl.args[0]) {
            Some(0.0) => {}
            Some(_) => self.error(Error::NonZeroMean {
                span: decl.args[0].span(),
            }),
            None => self.error(Error::NotConstant {
                span: decl.args[0].span(),
            }),
        }
        let n = decl.names.len();
        let names: Vec<String> = decl.names.iter().map(|n| n.text.clone()).collect();
        let matrix = match &decl.args[1] {
            ast::Arg::Block(rows, span) => {
                let shape_ok =
                    rows.len() == n && rows.iter().enumerate().all(|(i, r)| r.len() == i + 1);
                if !shape_ok {
                    let lens: Vec<String> = rows.iter().map(|r| r.len().to_string()).collect();
                    self.error(Error::BlockShape {
                        names: n,
                        span: *span,
                        detail: format!(
                            "rows of {} values; {n} effects need {}",
                            lens.join(", "),
                            (1..=n)
                                .map(|k| k.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                    return None;
                }
                let mut m = vec![0.0; n * n];
                for (i, row) in rows.iter().enumerate() {
                    for (j, v) in row.iter().enumerate() {
                        m[i * n + j] = v.value;
                        m[j * n + i] = v.value;
                    }
                }
                for (i, row) in rows.iter().enumerate() {
                    let v = row[i];
                    if v.value <= 0.0 {
                        self.error(Error::NonPositiveVariance {
                            name: names[i].clone(),
                            value: v.value,
                            span: v.span,
                        });
                        return None;
                    }
                }
                if !positive_definite(&m, n) {
                    self.error(Error::NotPositiveDefinite {
                        names: names.clone(),
                        span: *span,
                    });
                    return None;
                }
                m
            }
            ast::Arg::Expr(e) => {
                if n != 1 {
                    self.error(Error::BlockShape {
                        names: n,
                        span: e.span,
                        detail: format!("one variance for {n} effects"),
                    });
                    return None;
                }
                match constant(&decl.args[1]) {
                    Some(v) if v > 0.0 => vec![v],
                    Some(v) => {
                        self.error(Error::NonPositiveVariance {
                            name: names[0].clone(),
                            value: v,
                            span: e.span,
                        });
                        return None;
                    }
                    None => {
                        self.error(Error::NotConstant { span: e.span });
                        return None;
                    }
                }
            }
        };
        Some(matrix)
    }

    pub(super) fn compartments(&mut self, block: &ast::Block<ast::CompartmentDecl>) {
        for decl in &block.entries {
            let id = StateId(self.model.states.len() as u32);
            if self.define(&decl.name, Sym::State(id)) {
                self.model.states.push(ir::State {
                    name: decl.name.text.clone(),
                    unit: decl.unit.clone(),
                    dosable: decl.dose.is_some(),
                    dose_props: vec![],
                });
                self.state_spans.push(decl.name.span);
                self.deriv_spans.push(None);
                self.dose_prop_spans.push(vec![]);
            }
        }
    }

    /// Compartments inferred from `d/dt(...)` when the `compartments` block
    /// is missing (already reported), to check the rest without echoes.
    pub(super) fn implied_compartments(&mut self, dynamics: &ast::Block<ast::Stmt>) {
        for stmt in &dynamics.entries {
            if let ast::Stmt::Deriv { state, .. } = stmt {
                if self.scope.get(&state.text).is_none() {
                    let id = StateId(self.model.states.len() as u32);
                    if self
                        .scope
                        .define(&state.text, Sym::State(id), state.span)
                        .is_ok()
                    {
                        self.model.states.push(ir::State {
                            name: state.text.clone(),
                            unit: None,
                            dosable: false,
                            dose_props: vec![],
                        });
                        self.state_spans.push(state.span);
                        self.deriv_spans.push(None);
                        self.dose_prop_spans.push(vec![]);
                    }
                }
            }
        }
    }

    /// Dose properties written inside `compartments`, checked once all
    /// individual parameters are known (they may use any of them).
    pub(super) fn compartment_dose_props(&mut self, block: &ast::Block<ast::CompartmentDecl>) {
        for decl in &block.entries {
            let Some(Sym::State(state)) = self.scope.get(&decl.name.text).map(|e| e.sym) else {
                continue;
            };
            for prop in &decl.props {
                self.dose_prop(
                    state,
                    &decl.name,
                    &prop.prop,
                    &prop.value,
                    BlockKind::Compartments,
                );
            }
        }
    }

    /// One dose property of a compartment, from either place it may be written.
    pub(super) fn dose_prop(
        &mut self,
        state: StateId,
        cmt: &ast::Name,
        prop: &ast::Name,
        value: &ast::Expr,
        block: BlockKind,
    ) {
        let Some(kind) = ir::DoseProp::ALL
            .iter()
            .find(|(_, n)| *n == prop.text)
            .map(|(p, _)| *p)
        else {
            self.error(Error::UnknownDoseProp {
                name: prop.text.clone(),
                span: prop.span,
                candidates: similar(&prop.text, ir::DoseProp::ALL.iter().map(|(_, n)| *n)),
            });
            return;
        };
        let si = state.index();
        if !self.model.states[si].dosable {
            self.error(Error::DosePropWithoutDose {
                compartment: cmt.text.clone(),
                span: prop.span,
                declaration: self.state_spans[si],
            });
            return;
        }
        if let Some((_, first)) = self.dose_prop_spans[si].iter().find(|(p, _)| *p == kind) {
            self.error(Error::DuplicateDoseProp {
                prop: prop.text.clone(),
                compartment: cmt.text.clone(),
                span: prop.span,
                first: *first,
            });
            return;
        }
        self.dose_prop_spans[si].push((kind, prop.span));
        let expr = self.real_expr(
            value,
            block,
            &format!("`{}` of `{}` must be a number", prop.text, cmt.text),
        );
        let id = ParamId(self.model.params.len() as u32);
        self.model.params.push(ir::Param {
            name: format!("{}({})", kind.name(), cmt.text),
            expr,
            origin: ParamOrigin::DoseProp(state, kind),
            unit: None,
        });
        self.model.states[si].dose_props.push((kind, id));
    }
}

/// The value of a literal (possibly negated) number argument.
fn constant(arg: &ast::Arg) -> Option<f64> {
    match arg {
        ast::Arg::Expr(e) => match &e.kind {
            ast::ExprKind::Number(v, _) => Some(*v),
            ast::ExprKind::Unary(ast::UnaryOp::Neg, inner) => match inner.kind {
                ast::ExprKind::Number(v, _) => Some(-v),
                _ => None,
            },
            _ => None,
        },
        ast::Arg::Block(..) => None,
    }
}

/// Whether a symmetric `n × n` matrix is positive definite (Cholesky).
pub(crate) fn positive_definite(m: &[f64], n: usize) -> bool {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = m[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return false;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    true
}

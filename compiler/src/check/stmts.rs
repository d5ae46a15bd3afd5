//! Statement blocks: `individual`, `dynamics` and `observe`.

use super::scope::Sym;
use super::Checker;
use crate::error::{BlockKind, Error, NameKind};
use crate::ir::{self, LocalId, ParamId, ParamOrigin};
use crate::suggest::similar;
use mido_grammar::ast::{self, Stmt};
use mido_grammar::Span;
use mido_runtime::model::ErrorModel;

/// The error models of `observe`, with the number of arguments after the
/// prediction.
const ERROR_MODELS: [(&str, ErrorModel); 4] = [
    ("normal", ErrorModel::Additive),
    ("proportional", ErrorModel::Proportional),
    ("combined", ErrorModel::Combined),
    ("lognormal", ErrorModel::LogNormal),
];

impl Checker {
    /// Defines the target of an assignment, reporting assignments to
    /// declared things and duplicates.
    fn define_assigned(&mut self, name: &ast::Name, sym: Sym) -> bool {
        match self.scope.define(&name.text, sym, name.span) {
            Ok(()) => true,
            Err(existing) => {
                let kind = existing.sym.kind();
                let err = match kind {
                    NameKind::FixedEffect
                    | NameKind::RandomEffect
                    | NameKind::Covariate
                    | NameKind::Compartment
                    | NameKind::Builtin => Error::AssignToNonVariable {
                        name: name.text.clone(),
                        kind,
                        span: name.span,
                        declaration: existing.span,
                    },
                    _ => Error::DuplicateDefinition {
                        name: name.text.clone(),
                        span: name.span,
                        first: existing.span,
                    },
                };
                self.error(err);
                false
            }
        }
    }

    fn misplaced(&mut self, stmt: &Stmt, block: BlockKind) {
        if let Stmt::Deriv { state, .. } = stmt {
            self.misplaced_derivs.push(state.text.clone());
        }
        let (what, belongs) = match stmt {
            Stmt::Deriv { .. } => ("a differential equation", BlockKind::Dynamics),
            Stmt::Sample { .. } => ("an observation statement (`~`)", BlockKind::Observe),
            Stmt::DoseProp { .. } => ("a dose property", BlockKind::Individual),
            Stmt::Assign { .. } | Stmt::Error(_) => return,
        };
        self.error(Error::MisplacedStatement {
            what,
            block,
            belongs,
            span: stmt.span(),
        });
    }

    pub(super) fn individual(&mut self, block: &ast::Block<Stmt>) {
        for stmt in &block.entries {
            match stmt {
                Stmt::Assign {
                    name, unit, value, ..
                } => {
                    let expr = self.value_expr(value, BlockKind::Individual);
                    let id = ParamId(self.model.params.len() as u32);
                    if self.define_assigned(name, Sym::Param(id)) {
                        self.model.params.push(ir::Param {
                            name: name.text.clone(),
                            expr,
                            origin: ParamOrigin::Individual,
                            unit: unit.clone(),
                        });
                    }
                }
                Stmt::DoseProp {
                    prop, cmt, value, ..
                } => match self.scope.get(&cmt.text).map(|e| e.sym) {
                    Some(Sym::State(state)) => {
                        self.dose_prop(state, cmt, prop, value, BlockKind::Individual)
                    }
                    _ => {
                        let names: Vec<String> =
                            self.model.states.iter().map(|s| s.name.clone()).collect();
                        self.error(Error::DosePropUnknownCompartment {
                            name: cmt.text.clone(),
                            span: cmt.span,
                            candidates: similar(&cmt.text, names.iter().map(String::as_str)),
                        });
                    }
                },
                other => self.misplaced(other, BlockKind::Individual),
            }
        }
    }

    pub(super) fn dynamics(&mut self, block: &ast::Block<Stmt>) {
        let mut derivs: Vec<Option<ir::Expr>> = vec![None; self.model.states.len()];
        for stmt in &block.entries {
            match stmt {
                Stmt::Assign {
                    name, unit, value, ..
                } => {
                    let expr = self.value_expr(value, BlockKind::Dynamics);
                    let id = LocalId(self.model.dynamics.len() as u32);
                    if self.define_assigned(name, Sym::DynLocal(id)) {
                        self.model.dynamics.push(ir::Local {
                            name: name.text.clone(),
                            expr,
                            unit: unit.clone(),
                        });
                    }
                }
                Stmt::Deriv { state, value, span } => {
                    let expr = self.real_expr(
                        value,
                        BlockKind::Dynamics,
                        "a derivative is a rate of change: a number",
                    );
                    match self.scope.get(&state.text).map(|e| e.sym) {
                        Some(Sym::State(id)) => {
                            let i = id.index();
                            if let Some(first) = self.deriv_spans[i] {
                                self.error(Error::DuplicateOde {
                                    name: state.text.clone(),
                                    span: *span,
                                    first,
                                });
                            } else {
                                self.deriv_spans[i] = Some(*span);
                                derivs[i] = Some(expr);
                            }
                        }
                        _ => {
                            let names: Vec<String> =
                                self.model.states.iter().map(|s| s.name.clone()).collect();
                            self.error(Error::OdeWithoutCompartment {
                                name: state.text.clone(),
                                span: state.span,
                                candidates: similar(&state.text, names.iter().map(String::as_str)),
                            });
                        }
                    }
                }
                other => self.misplaced(other, BlockKind::Dynamics),
            }
        }
        // States without an equation are reported by `missing_odes` once
        // every block has been read; the IR needs one expression per state.
        for d in derivs {
            self.model.derivs.push(d.unwrap_or(ir::Expr {
                kind: ir::ExprKind::Const(f64::NAN),
                ty: ir::Type::Real,
                span: block.keyword,
            }));
        }
    }

    /// Compartments with no `d/dt`, unless the mistake is already reported
    /// another way: a misspelt `d/dt(...)` that suggests this compartment,
    /// an equation written in the wrong block, or an assignment to it.
    pub(super) fn missing_odes(&mut self) {
        let mut explained: Vec<String> = self.misplaced_derivs.clone();
        for e in &self.errors {
            match e {
                Error::OdeWithoutCompartment { candidates, .. } => {
                    explained.extend(candidates.iter().cloned())
                }
                Error::AssignToNonVariable {
                    name,
                    kind: NameKind::Compartment,
                    ..
                } => explained.push(name.clone()),
                _ => {}
            }
        }
        for i in 0..self.model.states.len() {
            let name = &self.model.states[i].name;
            if self.deriv_spans[i].is_none() && !explained.contains(name) {
                self.error(Error::CompartmentWithoutOde {
                    name: name.clone(),
                    span: self.state_spans[i],
                });
            }
        }
    }

    /// Every `observe` block, one endpoint each: names and DVID selectors
    /// checked across blocks, each block's variables in their own scope.
    pub(super) fn observe_blocks(&mut self, blocks: &[ast::ObserveBlock]) {
        let several = blocks.len() > 1;
        let mut names: Vec<(&str, Span)> = Vec::new();
        let mut dvids: Vec<(f64, Span)> = Vec::new();
        for (k, b) in blocks.iter().enumerate() {
            self.current_endpoint = k;
            let header_end = b
                .selector
                .as_ref()
                .map(|s| s.span.end)
                .or(b.name.as_ref().map(|n| n.span.end))
                .unwrap_or(b.block.keyword.end);
            let missing_name = b.name.is_none() && (several || b.selector.is_some());
            let missing_selector = b.selector.is_none() && several;
            if missing_name || missing_selector {
                let other = several.then(|| blocks[usize::from(k == 0)].block.keyword);
                self.error(Error::EndpointUnnamed {
                    span: Span::new(b.block.keyword.start, header_end),
                    missing_name,
                    missing_selector,
                    other,
                });
            }
            if let Some(name) = &b.name {
                match names.iter().find(|(n, _)| *n == name.text) {
                    Some((_, first)) => self.error(Error::DuplicateEndpoint {
                        name: name.text.clone(),
                        span: name.span,
                        first: *first,
                    }),
                    None => names.push((&name.text, name.span)),
                }
            }
            let dvid = b.selector.as_ref().and_then(|s| self.selector(s));
            if let (Some(value), Some(sel)) = (dvid, &b.selector) {
                match dvids.iter().find(|(v, _)| *v == value) {
                    Some((_, first)) => self.error(Error::DuplicateDvid {
                        value,
                        span: sel.span,
                        first: *first,
                    }),
                    None => dvids.push((value, sel.span)),
                }
            }
            let first_local = self.model.observe.len();
            let endpoint = self.observe(&b.block);
            let locals = first_local..self.model.observe.len();
            // This block's variables are not visible in the next one.
            for i in locals.clone() {
                let name = self.model.observe[i].name.clone();
                self.scope.remove(&name);
            }
            if let Some(e) = endpoint {
                self.endpoints.push(ir::Endpoint {
                    name: b.name.as_ref().map(|n| n.text.clone()),
                    dvid,
                    locals,
                    ..e
                });
            }
        }
    }

    /// The DVID value of a selector `DVID == <number>`.
    fn selector(&mut self, e: &ast::Expr) -> Option<f64> {
        use ast::ExprKind as E;
        let number = |e: &ast::Expr| match &e.kind {
            E::Number(v, None) => Some(*v),
            E::Unary(ast::UnaryOp::Neg, inner) => match inner.kind {
                E::Number(v, None) => Some(-v),
                _ => None,
            },
            _ => None,
        };
        let problem = match &e.kind {
            E::Binary(ast::BinaryOp::Eq, a, b) => match (&a.kind, number(b)) {
                (E::Name(n), Some(v)) if n == "DVID" => {
                    if v.is_finite() {
                        return Some(v);
                    }
                    "the DVID value must be a finite number"
                }
                (E::Name(n), None) if n == "DVID" => {
                    "`DVID` must be compared with a number (without a unit)"
                }
                _ => "the left side must be the data item `DVID`",
            },
            E::Binary(..) | E::Unary(..) | E::If(..) => {
                "only `DVID == <number>` selects records (no other operators)"
            }
            _ => "a selector compares the data item `DVID` with a number",
        };
        self.error(Error::InvalidSelector {
            span: e.span,
            problem,
        });
        None
    }

    fn observe(&mut self, block: &ast::Block<Stmt>) -> Option<ir::Endpoint> {
        let mut first_sample: Option<mido_grammar::Span> = None;
        let mut endpoint = None;
        let mut count = 0;
        for stmt in &block.entries {
            match stmt {
                Stmt::Assign {
                    name, unit, value, ..
                } => {
                    let expr = self.value_expr(value, BlockKind::Observe);
                    let id = LocalId(self.model.observe.len() as u32);
                    if self.define_assigned(name, Sym::ObsLocal(id)) {
                        self.model.observe.push(ir::Local {
                            name: name.text.clone(),
                            expr,
                            unit: unit.clone(),
                        });
                    }
                }
                Stmt::Sample {
                    target,
                    dist,
                    args,
                    span,
                } => {
                    count += 1;
                    match first_sample {
                        Some(first) => {
                            self.error(Error::ObservationCount {
                                found: count,
                                span: first,
                                extra: Some(*span),
                            });
                            continue;
                        }
                        None => first_sample = Some(*span),
                    }
                    if target.text != "DV" {
                        self.error(Error::UnknownObservationTarget {
                            name: target.text.clone(),
                            span: target.span,
                        });
                    }
                    endpoint = self.sample(dist, args, *span);
                }
                other => self.misplaced(other, BlockKind::Observe),
            }
        }
        if count == 0 {
            self.error(Error::ObservationCount {
                found: 0,
                span: block.keyword,
                extra: None,
            });
        }
        endpoint
    }

    fn sample(
        &mut self,
        dist: &ast::Name,
        args: &[ast::Expr],
        span: mido_grammar::Span,
    ) -> Option<ir::Endpoint> {
        let Some((_, error_model)) = ERROR_MODELS.iter().find(|(n, _)| *n == dist.text) else {
            self.error(Error::UnknownDistribution {
                name: dist.text.clone(),
                span: dist.span,
                allowed: &["normal", "proportional", "combined", "lognormal"],
                candidates: similar(&dist.text, ERROR_MODELS.iter().map(|(n, _)| *n)),
            });
            return None;
        };
        let expected = 1 + error_model.n_params();
        if args.len() != expected {
            self.error(Error::WrongArity {
                function: dist.text.clone(),
                expected,
                found: args.len(),
                span,
            });
            return None;
        }
        let prediction = self.real_expr(
            &args[0],
            BlockKind::Observe,
            "the prediction of an observation is a number",
        );
        let params = args[1..]
            .iter()
            .map(|a| {
                self.real_expr(
                    a,
                    BlockKind::Observe,
                    "the parameters of a residual error model are numbers",
                )
            })
            .collect();
        Some(ir::Endpoint {
            name: None,
            dvid: None,
            locals: 0..0,
            error_model: *error_model,
            prediction,
            params,
        })
    }
}

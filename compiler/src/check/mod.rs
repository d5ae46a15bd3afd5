//! Name resolution and type checking: AST → typed IR.
//!
//! The checker never stops at the first mistake. Each concern lives in its
//! own file: declarations ([`decls`]: covariates, fixed and random effects,
//! compartments), statements ([`stmts`]: individual, dynamics, observe) and
//! expressions ([`exprs`]). It returns the IR only when there are no errors.

mod decls;
mod exprs;
mod scope;
mod stmts;

use crate::error::{BlockKind, Error};
use crate::ir::{self, ParamId, ParamOrigin, Type};
use mido_grammar::ast::{self, Item};
use mido_grammar::Span;
use mido_runtime::model::ErrorModel;
use scope::Scope;

/// Checks a parsed file. Returns the IR when the model is valid, and every
/// error found either way.
pub fn check(file: &ast::File) -> (Option<ir::Model>, Vec<Error>) {
    let mut checker = Checker::new(file);
    checker.run(file);
    checker.finish()
}

/// The blocks of a file, each at most once.
#[derive(Default)]
struct Blocks<'a> {
    data: Option<&'a ast::StrLit>,
    covariates: Option<&'a ast::Block<ast::CovariateDecl>>,
    fixed: Option<&'a ast::Block<ast::FixedDecl>>,
    random: Vec<(&'a ast::Name, &'a ast::Block<ast::RandomDecl>)>,
    individual: Option<&'a ast::Block<ast::Stmt>>,
    compartments: Option<&'a ast::Block<ast::CompartmentDecl>>,
    dynamics: Option<&'a ast::Block<ast::Stmt>>,
    observe: Option<&'a ast::Block<ast::Stmt>>,
}

pub(crate) struct Checker {
    errors: Vec<Error>,
    scope: Scope,
    model: ir::Model,
    /// Where each fixed effect, random effect and compartment is declared.
    theta_spans: Vec<Span>,
    eta_spans: Vec<Span>,
    state_spans: Vec<Span>,
    theta_used: Vec<bool>,
    eta_used: Vec<bool>,
    /// Hidden parameters standing for fixed/random effects outside `individual`.
    lifted_theta: Vec<Option<ParamId>>,
    lifted_eta: Vec<Option<ParamId>>,
    /// Where each state's ODE and dose properties were written.
    deriv_spans: Vec<Option<Span>>,
    dose_prop_spans: Vec<Vec<(ir::DoseProp, Span)>>,
    endpoint: Option<ir::Endpoint>,
    header: Span,
}

impl Checker {
    fn new(file: &ast::File) -> Self {
        Checker {
            errors: Vec::new(),
            scope: Scope::new(),
            model: ir::Model {
                name: file.name.text.clone(),
                doc: file.doc.as_ref().map(|d| d.value.clone()),
                data_file: None,
                covariates: vec![],
                thetas: vec![],
                etas: vec![],
                omegas: vec![],
                params: vec![],
                states: vec![],
                dynamics: vec![],
                derivs: vec![],
                observe: vec![],
                endpoint: ir::Endpoint {
                    error_model: ErrorModel::Additive,
                    prediction: placeholder(),
                    params: vec![],
                },
            },
            theta_spans: vec![],
            eta_spans: vec![],
            state_spans: vec![],
            theta_used: vec![],
            eta_used: vec![],
            lifted_theta: vec![],
            lifted_eta: vec![],
            deriv_spans: vec![],
            dose_prop_spans: vec![],
            endpoint: None,
            header: file.name.span,
        }
    }

    fn error(&mut self, e: Error) {
        self.errors.push(e);
    }

    fn run(&mut self, file: &ast::File) {
        let blocks = self.collect_blocks(file);
        if let Some(data) = blocks.data {
            self.model.data_file = Some(data.value.clone());
        }
        self.register_statement_defs(&blocks);

        if let Some(b) = blocks.covariates {
            self.covariates(b);
        }
        if let Some(b) = blocks.fixed {
            self.fixed(b);
        }
        for (level, b) in &blocks.random {
            self.random(level, b);
        }
        match blocks.compartments {
            Some(b) => self.compartments(b),
            None => self.error(Error::MissingBlock {
                block: "compartments",
                span: self.header,
            }),
        }
        self.lifted_theta = vec![None; self.model.thetas.len()];
        self.lifted_eta = vec![None; self.model.etas.len()];

        if let Some(b) = blocks.individual {
            self.individual(b);
        }
        if let Some(b) = blocks.compartments {
            self.compartment_dose_props(b);
        }
        match blocks.dynamics {
            Some(b) => self.dynamics(b),
            None if !self.model.states.is_empty() => self.error(Error::MissingBlock {
                block: "dynamics",
                span: self.header,
            }),
            None => {}
        }
        match blocks.observe {
            Some(b) => self.observe(b),
            None => self.error(Error::MissingBlock {
                block: "observe",
                span: self.header,
            }),
        }
        self.unused_effects();
    }

    fn collect_blocks<'a>(&mut self, file: &'a ast::File) -> Blocks<'a> {
        let mut blocks = Blocks::default();
        let mut firsts: Vec<(&'static str, Span)> = Vec::new();
        let mut once = |this: &mut Checker, name: &'static str, span: Span| -> bool {
            if let Some((_, first)) = firsts.iter().find(|(n, _)| *n == name) {
                this.error(Error::DuplicateBlock {
                    block: name,
                    span,
                    first: *first,
                });
                false
            } else {
                firsts.push((name, span));
                true
            }
        };
        for item in &file.items {
            match item {
                Item::Data(s, span) => {
                    if once(self, "data", *span) {
                        blocks.data = Some(s);
                    }
                }
                Item::Covariates(b) => {
                    if once(self, "covariates", b.keyword) {
                        blocks.covariates = Some(b);
                    }
                }
                Item::Fixed(b) => {
                    if once(self, "fixed", b.keyword) {
                        blocks.fixed = Some(b);
                    }
                }
                Item::Random(level, b) => blocks.random.push((level, b)),
                Item::Individual(b) => {
                    if once(self, "individual", b.keyword) {
                        blocks.individual = Some(b);
                    }
                }
                Item::Compartments(b) => {
                    if once(self, "compartments", b.keyword) {
                        blocks.compartments = Some(b);
                    }
                }
                Item::Dynamics(b) => {
                    if once(self, "dynamics", b.keyword) {
                        blocks.dynamics = Some(b);
                    }
                }
                Item::Observe(b) => {
                    if once(self, "observe", b.keyword) {
                        blocks.observe = Some(b);
                    }
                }
                Item::Error(_) => {}
            }
        }
        blocks
    }

    fn register_statement_defs(&mut self, blocks: &Blocks<'_>) {
        let lists = [
            (BlockKind::Individual, blocks.individual),
            (BlockKind::Dynamics, blocks.dynamics),
            (BlockKind::Observe, blocks.observe),
        ];
        for (kind, block) in lists {
            for stmt in block.iter().flat_map(|b| &b.entries) {
                if let ast::Stmt::Assign { name, .. } = stmt {
                    self.scope
                        .statement_defs
                        .entry(name.text.clone())
                        .or_insert((kind, name.span));
                }
            }
        }
    }

    fn unused_effects(&mut self) {
        // A misspelt use is already reported with this name as a suggestion;
        // calling the effect unused as well would be the same mistake twice.
        let suggested: Vec<String> = self
            .errors
            .iter()
            .filter_map(|e| match e {
                Error::UnknownName { candidates, .. } => Some(candidates.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let suggested = |name: &str| suggested.iter().any(|c| c == name);
        for (i, used) in self.eta_used.clone().into_iter().enumerate() {
            if !used && !suggested(&self.model.etas[i].name) {
                self.error(Error::UnusedRandomEffect {
                    name: self.model.etas[i].name.clone(),
                    span: self.eta_spans[i],
                });
            }
        }
        for (i, used) in self.theta_used.clone().into_iter().enumerate() {
            if !used && !self.model.thetas[i].fixed && !suggested(&self.model.thetas[i].name) {
                self.error(Error::UnusedFixedEffect {
                    name: self.model.thetas[i].name.clone(),
                    span: self.theta_spans[i],
                });
            }
        }
    }

    /// The hidden parameter carrying a fixed or random effect into
    /// `dynamics`, `observe` or a dose property.
    fn lift(&mut self, kind: ir::ExprKind, span: Span) -> ParamId {
        let (slot, name) = match kind {
            ir::ExprKind::Theta(id) => (
                &mut self.lifted_theta[id.index()],
                self.model.thetas[id.index()].name.clone(),
            ),
            ir::ExprKind::Eta(id) => (
                &mut self.lifted_eta[id.index()],
                self.model.etas[id.index()].name.clone(),
            ),
            _ => unreachable!("only fixed and random effects are lifted"),
        };
        if let Some(id) = slot {
            return *id;
        }
        let id = ParamId(self.model.params.len() as u32);
        *slot = Some(id);
        self.model.params.push(ir::Param {
            name,
            expr: ir::Expr {
                kind,
                ty: Type::Real,
                span,
            },
            origin: ParamOrigin::Lifted,
            unit: None,
        });
        id
    }

    fn finish(mut self) -> (Option<ir::Model>, Vec<Error>) {
        self.errors
            .sort_by_key(|e| first_span(e).map(|s| (s.start, s.end)));
        if !self.errors.is_empty() {
            return (None, self.errors);
        }
        match self.endpoint.take() {
            Some(endpoint) => {
                self.model.endpoint = endpoint;
                (Some(self.model), self.errors)
            }
            // The observe block's absence or emptiness was reported above.
            None => (None, self.errors),
        }
    }
}

fn placeholder() -> ir::Expr {
    ir::Expr {
        kind: ir::ExprKind::Const(f64::NAN),
        ty: Type::Real,
        span: Span::default(),
    }
}

/// The main span of an error, to sort errors in file order.
fn first_span(e: &Error) -> Option<Span> {
    e.diagnostic()
        .labels
        .iter()
        .find(|l| l.primary)
        .map(|l| l.span)
}

//! Name resolution and type checking: AST → typed IR.
//!
//! The checker never stops at the first mistake. Each concern lives in its
//! own file: declarations ([`decls`]: covariates, fixed and random effects,
//! compartments), statements ([`stmts`]: individual, dynamics, observe) and
//! expressions ([`exprs`]). It returns the IR only when there are no errors.

mod decls;
mod exprs;
mod pk;
mod scope;
mod stmts;

use crate::error::{BlockKind, Error};
use crate::ir::{self, ParamId, ParamOrigin, Type};
use mido_grammar::ast::{self, Item};
use mido_grammar::Span;
use scope::Scope;

/// Checks a parsed file. Returns the IR when the model is valid, and every
/// error found either way.
pub fn check(file: &ast::File) -> (Option<ir::Model>, Vec<Error>) {
    let mut checker = Checker::new(file);
    checker.run(file);
    checker.finish()
}

/// The blocks of a file. A block written twice is reported and then
/// merged into the first, so its contents are still checked.
#[derive(Default)]
struct Blocks {
    data: Option<ast::StrLit>,
    covariates: Option<ast::Block<ast::CovariateDecl>>,
    fixed: Option<ast::Block<ast::FixedDecl>>,
    random: Vec<(ast::Name, ast::Block<ast::RandomDecl>)>,
    individual: Option<ast::Block<ast::Stmt>>,
    compartments: Option<ast::Block<ast::CompartmentDecl>>,
    dynamics: Option<ast::Block<ast::Stmt>>,
    /// Every `observe` block, one per endpoint.
    observe: Vec<ast::ObserveBlock>,
    pk: Option<ast::PkDecl>,
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
    /// The endpoints checked so far, and the one being checked.
    endpoints: Vec<ir::Endpoint>,
    current_endpoint: usize,
    /// States named by `d/dt` statements written outside `dynamics`.
    misplaced_derivs: Vec<String>,
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
                endpoints: vec![],
                linear: None,
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
            endpoints: vec![],
            current_endpoint: 0,
            misplaced_derivs: vec![],
            header: file.name.span,
        }
    }

    fn error(&mut self, e: Error) {
        self.errors.push(e);
    }

    fn run(&mut self, file: &ast::File) {
        let blocks = self.collect_blocks(file);
        if let Some(data) = &blocks.data {
            self.model.data_file = Some(data.value.clone());
        }
        self.register_statement_defs(&blocks);

        if let Some(b) = &blocks.covariates {
            self.covariates(b);
        }
        if let Some(b) = &blocks.fixed {
            self.fixed(b);
        }
        for (level, b) in &blocks.random {
            self.random(level, b);
        }
        match &blocks.compartments {
            Some(b) => self.compartments(b),
            None => {
                self.error(Error::MissingBlock {
                    block: "compartments",
                    span: self.header,
                });
                // Take the compartments the equations name, so that the one
                // missing block is not reported again at every use.
                if let Some(d) = &blocks.dynamics {
                    self.implied_compartments(d);
                }
            }
        }
        self.lifted_theta = vec![None; self.model.thetas.len()];
        self.lifted_eta = vec![None; self.model.etas.len()];

        if let Some(b) = &blocks.individual {
            self.individual(b);
        }
        if let Some(b) = &blocks.compartments {
            self.compartment_dose_props(b);
        }
        if let Some(p) = &blocks.pk {
            self.pk(p, blocks.dynamics.as_ref().map(|d| d.keyword));
        }
        match &blocks.dynamics {
            Some(b) if blocks.pk.is_none() => self.dynamics(b),
            Some(_) => {}
            None if blocks.pk.is_some() => {}
            None if !self.model.states.is_empty() => self.error(Error::MissingBlock {
                block: "dynamics",
                span: self.header,
            }),
            None => {}
        }
        if blocks.observe.is_empty() {
            self.error(Error::MissingBlock {
                block: "observe",
                span: self.header,
            });
        }
        self.observe_blocks(&blocks.observe);
        if blocks.dynamics.is_some() && blocks.pk.is_none() {
            self.missing_odes();
        }
        self.unused_effects();
    }

    fn collect_blocks(&mut self, file: &ast::File) -> Blocks {
        fn merge<T: Clone>(
            this: &mut Checker,
            slot: &mut Option<ast::Block<T>>,
            b: &ast::Block<T>,
            name: &'static str,
        ) {
            match slot {
                Some(first) => {
                    this.error(Error::DuplicateBlock {
                        block: name,
                        span: b.keyword,
                        first: first.keyword,
                    });
                    first.entries.extend(b.entries.iter().cloned());
                }
                None => *slot = Some(b.clone()),
            }
        }
        let mut blocks = Blocks::default();
        let mut data_span: Option<Span> = None;
        for item in &file.items {
            match item {
                Item::Data(s, span) => match data_span {
                    Some(first) => self.error(Error::DuplicateBlock {
                        block: "data",
                        span: *span,
                        first,
                    }),
                    None => {
                        data_span = Some(*span);
                        blocks.data = Some(s.clone());
                    }
                },
                Item::Covariates(b) => merge(self, &mut blocks.covariates, b, "covariates"),
                Item::Fixed(b) => merge(self, &mut blocks.fixed, b, "fixed"),
                Item::Random(level, b) => blocks.random.push((level.clone(), b.clone())),
                Item::Individual(b) => merge(self, &mut blocks.individual, b, "individual"),
                Item::Compartments(b) => merge(self, &mut blocks.compartments, b, "compartments"),
                Item::Dynamics(b) => merge(self, &mut blocks.dynamics, b, "dynamics"),
                Item::Observe(b) => blocks.observe.push(b.clone()),
                Item::Pk(p) => match &blocks.pk {
                    Some(first) => self.error(Error::DuplicateBlock {
                        block: "pk",
                        span: p.keyword,
                        first: first.keyword,
                    }),
                    None => blocks.pk = Some(p.clone()),
                },
                Item::Error(_) => {}
            }
        }
        blocks
    }

    fn register_statement_defs(&mut self, blocks: &Blocks) {
        let lists = [
            (BlockKind::Individual, 0, blocks.individual.as_ref()),
            (BlockKind::Dynamics, 0, blocks.dynamics.as_ref()),
        ]
        .into_iter()
        .chain(
            blocks
                .observe
                .iter()
                .enumerate()
                .map(|(i, o)| (BlockKind::Observe, i, Some(&o.block))),
        );
        for (block, endpoint, stmts) in lists {
            for stmt in stmts.iter().flat_map(|b| &b.entries) {
                if let ast::Stmt::Assign { name, .. } = stmt {
                    self.scope
                        .statement_defs
                        .entry(name.text.clone())
                        .or_default()
                        .push(scope::StatementDef {
                            block,
                            endpoint,
                            span: name.span,
                        });
                }
            }
        }
    }

    /// Effects nothing uses. Only reported for an otherwise valid model:
    /// after other mistakes, a use may sit in a statement that was not
    /// checked, and the report would be wrong.
    fn unused_effects(&mut self) {
        if !self.errors.is_empty() {
            return;
        }
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
            .sort_by_cached_key(|e| first_span(e).map(|s| (s.start, s.end)));
        if !self.errors.is_empty() {
            return (None, self.errors);
        }
        if self.endpoints.is_empty() {
            // The observe block's absence was reported above.
            return (None, self.errors);
        }
        self.model.endpoints = std::mem::take(&mut self.endpoints);
        (Some(self.model), self.errors)
    }
}

/// The main span of an error, to sort errors in file order (it renders the
/// diagnostic, so callers compute it once per error).
fn first_span(e: &Error) -> Option<Span> {
    e.diagnostic()
        .labels
        .iter()
        .find(|l| l.primary)
        .map(|l| l.span)
}

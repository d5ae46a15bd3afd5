//! `pk kind(name = expr, ...)`: a closed-form linear model. Its arguments
//! become hidden parameters, and its ODEs are generated, so every engine and
//! solver can run it; the runtime may instead advance it analytically.

use super::Checker;
use crate::error::{BlockKind, Error};
use crate::ir::{self, BinOp, ExprKind, LinearPk, ParamId, ParamOrigin, StateId, Type, UnOp};
use crate::suggest::similar;
use mido_grammar::ast;
use mido_grammar::Span;
use mido_runtime::pk::LinearKind;

impl Checker {
    pub(super) fn pk(&mut self, decl: &ast::PkDecl, dynamics: Option<Span>) {
        if let Some(dynamics) = dynamics {
            self.error(Error::PkWithDynamics {
                span: decl.keyword,
                dynamics,
            });
            return;
        }
        let Some((kind, name, expected)) = LinearKind::ALL
            .iter()
            .find(|(_, n, _)| *n == decl.kind.text)
            .copied()
        else {
            self.error(Error::UnknownPkModel {
                name: decl.kind.text.clone(),
                span: decl.kind.span,
                candidates: similar(&decl.kind.text, LinearKind::ALL.iter().map(|(_, n, _)| *n)),
            });
            return;
        };
        let mut values: Vec<Option<ParamId>> = vec![None; expected.len()];
        let mut ok = true;
        for arg in &decl.args {
            let Some(i) = expected.iter().position(|e| *e == arg.prop.text) else {
                let near = similar(&arg.prop.text, expected.iter().copied());
                let hint = near
                    .first()
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                self.error(Error::PkArguments {
                    model: name,
                    span: arg.prop.span,
                    problem: format!("no parameter `{}`{hint}", arg.prop.text),
                    expected,
                });
                ok = false;
                continue;
            };
            if values[i].is_some() {
                self.error(Error::PkArguments {
                    model: name,
                    span: arg.prop.span,
                    problem: format!("`{}` is given twice", arg.prop.text),
                    expected,
                });
                ok = false;
                continue;
            }
            let expr = self.real_expr(
                &arg.value,
                BlockKind::Compartments,
                &format!("`{}` of `{name}` is a number", arg.prop.text),
            );
            let id = ParamId(self.model.params.len() as u32);
            self.model.params.push(ir::Param {
                name: format!("{name}.{}", arg.prop.text),
                expr,
                origin: ParamOrigin::Pk,
                unit: None,
            });
            values[i] = Some(id);
        }
        let missing: Vec<&str> = expected
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        if ok && !missing.is_empty() {
            self.error(Error::PkArguments {
                model: name,
                span: decl.span,
                problem: format!(
                    "missing {}",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                expected,
            });
            return;
        }
        if self.model.states.len() != kind.n_states() {
            self.error(Error::PkCompartmentCount {
                model: name,
                expected: kind.n_states(),
                found: self.model.states.len(),
                span: decl.span,
            });
            return;
        }
        let params: Vec<ParamId> = values.into_iter().flatten().collect();
        if !ok || params.len() != expected.len() {
            return;
        }
        self.model.derivs = linear_odes(kind, &params, decl.span);
        for d in &mut self.deriv_spans {
            *d = Some(decl.span);
        }
        self.model.linear = Some(LinearPk { kind, params });
    }
}

fn e(kind: ExprKind, span: Span) -> ir::Expr {
    ir::Expr {
        kind,
        ty: Type::Real,
        span,
    }
}

/// The ODEs of a linear model: a depot (oral models) feeding the central
/// compartment at `ka`, elimination `cl/v1` from central, and exchange
/// `q/v1`, `q/v2` with each peripheral compartment.
fn linear_odes(kind: LinearKind, p: &[ParamId], span: Span) -> Vec<ir::Expr> {
    let param = |i: usize| e(ExprKind::Param(p[i]), span);
    let state = |i: usize| e(ExprKind::State(StateId(i as u32)), span);
    let bin =
        |op, a: ir::Expr, b: ir::Expr| e(ExprKind::Binary(op, Box::new(a), Box::new(b)), span);
    let oral = kind.name().ends_with("_oral");
    let o = usize::from(oral); // parameter offset after ka
    let central = usize::from(oral);
    // (q index, v index) of each peripheral compartment; v1 is at o + 1.
    let peripherals: Vec<(usize, usize)> = match kind.n_states() - usize::from(oral) {
        1 => vec![],
        2 => vec![(o + 2, o + 3)],
        _ => vec![(o + 2, o + 3), (o + 4, o + 5)],
    };
    let (cl, v1) = (o, o + 1);
    let mut derivs = Vec::new();
    if oral {
        derivs.push(e(
            ExprKind::Unary(UnOp::Neg, Box::new(bin(BinOp::Mul, param(0), state(0)))),
            span,
        ));
    }
    // Central: absorption in, elimination and distribution out, return in.
    let elimination = bin(
        BinOp::Mul,
        bin(BinOp::Div, param(cl), param(v1)),
        state(central),
    );
    let mut c = if oral {
        bin(BinOp::Sub, bin(BinOp::Mul, param(0), state(0)), elimination)
    } else {
        e(ExprKind::Unary(UnOp::Neg, Box::new(elimination)), span)
    };
    for (k, &(q, v)) in peripherals.iter().enumerate() {
        let out = bin(
            BinOp::Mul,
            bin(BinOp::Div, param(q), param(v1)),
            state(central),
        );
        let back = bin(
            BinOp::Mul,
            bin(BinOp::Div, param(q), param(v)),
            state(central + 1 + k),
        );
        c = bin(BinOp::Add, bin(BinOp::Sub, c, out), back);
    }
    derivs.push(c);
    for (k, &(q, v)) in peripherals.iter().enumerate() {
        let inflow = bin(
            BinOp::Mul,
            bin(BinOp::Div, param(q), param(v1)),
            state(central),
        );
        let outflow = bin(
            BinOp::Mul,
            bin(BinOp::Div, param(q), param(v)),
            state(central + 1 + k),
        );
        derivs.push(bin(BinOp::Sub, inflow, outflow));
    }
    derivs
}

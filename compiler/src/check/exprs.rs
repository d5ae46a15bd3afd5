//! Expressions: names resolved in the block's scope, types checked, lowered
//! to IR.

use super::scope::Sym;
use super::Checker;
use crate::error::{BlockKind, Error, NameKind};
use crate::ir::{self, BinOp, Builtin, CovId, ExprKind, Type, UnOp};
use crate::suggest::similar;
use mido_grammar::ast;
use mido_grammar::Span;
use mido_runtime::model::CovariateKind;

/// A type during checking: categories are kept apart from numbers until
/// compared, and `Error` silences follow-on mistakes after one is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Real,
    Bool,
    Category(CovId),
    Error,
}

impl Ty {
    /// The checking type of a value already typed in the IR.
    fn of(ty: Type) -> Ty {
        match ty {
            Type::Bool => Ty::Bool,
            Type::Real => Ty::Real,
        }
    }

    fn ir(self) -> Type {
        match self {
            Ty::Bool => Type::Bool,
            _ => Type::Real,
        }
    }
}

type Lowered = (ir::Expr, Ty);

fn node(kind: ExprKind, ty: Ty, span: Span) -> Lowered {
    (
        ir::Expr {
            kind,
            ty: ty.ir(),
            span,
        },
        ty,
    )
}

fn poison(span: Span) -> Lowered {
    node(ExprKind::Const(f64::NAN), Ty::Error, span)
}

impl Checker {
    /// Lowers an expression that must be a number; `context` says why.
    pub(super) fn real_expr(&mut self, e: &ast::Expr, block: BlockKind, context: &str) -> ir::Expr {
        let lowered = self.lower(e, block);
        self.expect(lowered, Ty::Real, context)
    }

    /// Lowers an expression that may be a number or a bool.
    pub(super) fn value_expr(&mut self, e: &ast::Expr, block: BlockKind) -> ir::Expr {
        let (expr, ty) = self.lower(e, block);
        if let Ty::Category(cov) = ty {
            self.mismatch(
                Ty::Real,
                ty,
                expr.span,
                "a variable holds a number or a bool",
                Some(cov),
            );
        }
        expr
    }

    fn expect(&mut self, (expr, ty): Lowered, want: Ty, context: &str) -> ir::Expr {
        if ty != want && ty != Ty::Error {
            let cov = match ty {
                Ty::Category(c) => Some(c),
                _ => None,
            };
            self.mismatch(want, ty, expr.span, context, cov);
        }
        expr
    }

    fn describe(&self, ty: Ty) -> String {
        match ty {
            Ty::Real => "a real number".into(),
            Ty::Bool => "a bool".into(),
            Ty::Category(c) => format!("category `{}`", self.model.covariates[c.index()].name),
            Ty::Error => "an invalid expression".into(),
        }
    }

    fn mismatch(&mut self, want: Ty, found: Ty, span: Span, context: &str, cov: Option<CovId>) {
        let hint = match (want, found) {
            (Ty::Real, Ty::Bool) => {
                Some("turn a bool into a number with `if ... then 1 else 0`".to_string())
            }
            (Ty::Real, Ty::Category(_)) => {
                cov.and_then(|c| match &self.model.covariates[c.index()].kind {
                    CovariateKind::Category(levels) => levels.first().map(|(l, _)| {
                        format!(
                            "compare a category with one of its levels, e.g. `{} == {l}`",
                            self.model.covariates[c.index()].name
                        )
                    }),
                    _ => None,
                })
            }
            (Ty::Bool, Ty::Real) => {
                Some("make a condition with a comparison, e.g. `x > 0`".to_string())
            }
            _ => None,
        };
        self.error(Error::TypeMismatch {
            expected: self.describe(want),
            found: self.describe(found),
            context: context.to_string(),
            span,
            hint,
        });
    }

    pub(super) fn lower(&mut self, e: &ast::Expr, block: BlockKind) -> Lowered {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Number(v, _) => node(ExprKind::Const(*v), Ty::Real, span),
            ast::ExprKind::Bool(b) => {
                node(ExprKind::Const(f64::from(u8::from(*b))), Ty::Bool, span)
            }
            ast::ExprKind::Name(name) => self.resolve(name, span, block),
            ast::ExprKind::Unary(op, inner) => {
                let lowered = self.lower(inner, block);
                match op {
                    ast::UnaryOp::Neg => {
                        let x = self.expect(lowered, Ty::Real, "`-` negates a number");
                        node(ExprKind::Unary(UnOp::Neg, Box::new(x)), Ty::Real, span)
                    }
                    ast::UnaryOp::Not => {
                        let x = self.expect(lowered, Ty::Bool, "`not` applies to a condition");
                        node(ExprKind::Unary(UnOp::Not, Box::new(x)), Ty::Bool, span)
                    }
                }
            }
            ast::ExprKind::Binary(op, a, b) => self.binary(*op, a, b, span, block),
            ast::ExprKind::If(c, a, b) => {
                let cond = self.lower(c, block);
                let cond = self.expect(cond, Ty::Bool, "the condition of `if` must be a bool");
                let (then, tt) = self.lower(a, block);
                let (els, te) = self.lower(b, block);
                let ty = match (tt, te) {
                    (Ty::Error, t) | (t, Ty::Error) => t,
                    (Ty::Real, Ty::Real) => Ty::Real,
                    (Ty::Bool, Ty::Bool) => Ty::Bool,
                    (t, other) => {
                        self.mismatch(
                            t,
                            other,
                            els.span,
                            "both branches of `if` must have the same type",
                            None,
                        );
                        Ty::Error
                    }
                };
                if let Ty::Category(c) = ty {
                    self.mismatch(
                        Ty::Real,
                        ty,
                        span,
                        "`if` chooses between numbers or bools",
                        Some(c),
                    );
                }
                node(
                    ExprKind::If(Box::new(cond), Box::new(then), Box::new(els)),
                    ty,
                    span,
                )
            }
            ast::ExprKind::Call(f, args) => self.call(f, args, span, block),
        }
    }

    fn binary(
        &mut self,
        op: ast::BinaryOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
        block: BlockKind,
    ) -> Lowered {
        use ast::BinaryOp as A;
        let ir_op = match op {
            A::Add => BinOp::Add,
            A::Sub => BinOp::Sub,
            A::Mul => BinOp::Mul,
            A::Div => BinOp::Div,
            A::Pow => BinOp::Pow,
            A::Lt => BinOp::Lt,
            A::Le => BinOp::Le,
            A::Gt => BinOp::Gt,
            A::Ge => BinOp::Ge,
            A::Eq => BinOp::Eq,
            A::Ne => BinOp::Ne,
            A::And => BinOp::And,
            A::Or => BinOp::Or,
        };
        let sym = op.symbol();
        // Every operator but equality has fixed operand and result types.
        let (operand, result, context) = match op {
            A::Add | A::Sub | A::Mul | A::Div | A::Pow => (
                Ty::Real,
                Ty::Real,
                format!("the operands of `{sym}` are numbers"),
            ),
            A::Lt | A::Le | A::Gt | A::Ge => {
                (Ty::Real, Ty::Bool, format!("`{sym}` compares numbers"))
            }
            A::And | A::Or => (
                Ty::Bool,
                Ty::Bool,
                format!("the operands of `{sym}` are conditions"),
            ),
            A::Eq | A::Ne => return self.equality(ir_op, sym, a, b, span, block),
        };
        let x = self.lower(a, block);
        let x = self.expect(x, operand, &context);
        let y = self.lower(b, block);
        let y = self.expect(y, operand, &context);
        node(
            ExprKind::Binary(ir_op, Box::new(x), Box::new(y)),
            result,
            span,
        )
    }

    /// `==` and `!=`: two numbers, two bools, or a category with a level
    /// name or a code.
    fn equality(
        &mut self,
        ir_op: BinOp,
        sym: &str,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
        block: BlockKind,
    ) -> Lowered {
        // A level name may stand on either side of a category.
        let ((x, tx), (y, ty)) = match (self.category_of(a), self.category_of(b)) {
            (None, Some(cov)) => {
                let y = self.lower(b, block);
                (self.level_or_expr(cov, a, block), y)
            }
            (Some(cov), _) => {
                let x = self.lower(a, block);
                (x, self.level_or_expr(cov, b, block))
            }
            (None, None) => (self.lower(a, block), self.lower(b, block)),
        };
        let numeric = |t: Ty| matches!(t, Ty::Real | Ty::Category(_));
        let ok = tx == Ty::Error
            || ty == Ty::Error
            || (numeric(tx) && numeric(ty))
            || (tx == Ty::Bool && ty == Ty::Bool);
        if !ok {
            self.mismatch(
                tx,
                ty,
                y.span,
                &format!("`{sym}` compares values of the same type"),
                None,
            );
        }
        node(
            ExprKind::Binary(ir_op, Box::new(x), Box::new(y)),
            Ty::Bool,
            span,
        )
    }

    /// The covariate an expression names, if it is a category covariate.
    fn category_of(&self, e: &ast::Expr) -> Option<CovId> {
        let ast::ExprKind::Name(name) = &e.kind else {
            return None;
        };
        match self.scope.get(name)?.sym {
            Sym::Cov(id) => match self.model.covariates[id.index()].kind {
                CovariateKind::Category(_) => Some(id),
                _ => None,
            },
            _ => None,
        }
    }

    /// The other side of a comparison with a category: a level name, or an
    /// ordinary expression.
    fn level_or_expr(&mut self, cov: CovId, e: &ast::Expr, block: BlockKind) -> Lowered {
        if let ast::ExprKind::Name(name) = &e.kind {
            if self.scope.get(name).is_none() {
                let covariate = &self.model.covariates[cov.index()];
                if let CovariateKind::Category(levels) = &covariate.kind {
                    if let Some((_, code)) = levels.iter().find(|(l, _)| l == name) {
                        return node(ExprKind::Const(*code), Ty::Category(cov), e.span);
                    }
                    let err = Error::UnknownCategoryLevel {
                        covariate: covariate.name.clone(),
                        level: name.clone(),
                        span: e.span,
                        levels: levels.iter().map(|(l, _)| l.clone()).collect(),
                    };
                    self.error(err);
                    return poison(e.span);
                }
            }
        }
        self.lower(e, block)
    }

    fn call(&mut self, f: &ast::Name, args: &[ast::Expr], span: Span, block: BlockKind) -> Lowered {
        let lowered: Vec<Lowered> = args.iter().map(|a| self.lower(a, block)).collect();
        let (builtin, arity) = if f.text == "pow" {
            (None, 2)
        } else {
            match Builtin::ALL.iter().find(|(_, n, _)| *n == f.text) {
                Some((b, _, arity)) => (Some(*b), *arity),
                None => {
                    let names = Builtin::ALL.iter().map(|(_, n, _)| *n).chain(["pow"]);
                    self.error(Error::UnknownFunction {
                        name: f.text.clone(),
                        span: f.span,
                        candidates: similar(&f.text, names),
                    });
                    return poison(span);
                }
            }
        };
        if lowered.len() != arity {
            self.error(Error::WrongArity {
                function: f.text.clone(),
                expected: arity,
                found: lowered.len(),
                span,
            });
            return poison(span);
        }
        let context = format!("the arguments of `{}` are numbers", f.text);
        let mut xs: Vec<ir::Expr> = lowered
            .into_iter()
            .map(|l| self.expect(l, Ty::Real, &context))
            .collect();
        match builtin {
            Some(b) => node(ExprKind::Call(b, xs), Ty::Real, span),
            None => {
                let y = xs.pop().map(Box::new);
                let x = xs.pop().map(Box::new);
                match (x, y) {
                    (Some(x), Some(y)) => node(ExprKind::Binary(BinOp::Pow, x, y), Ty::Real, span),
                    _ => poison(span),
                }
            }
        }
    }

    fn resolve(&mut self, name: &str, span: Span, block: BlockKind) -> Lowered {
        let Some(entry) = self.scope.get(name) else {
            self.unresolved(name, span, block);
            return poison(span);
        };
        let in_statements = matches!(block, BlockKind::Dynamics | BlockKind::Observe);
        let not_visible = |kind: NameKind| Error::NotVisibleHere {
            name: name.to_string(),
            kind,
            block,
            span,
            definition: entry.span,
        };
        match entry.sym {
            Sym::Cov(id) => {
                let ty = match self.model.covariates[id.index()].kind {
                    CovariateKind::Real => Ty::Real,
                    CovariateKind::Bool => Ty::Bool,
                    CovariateKind::Category(_) => Ty::Category(id),
                };
                node(ExprKind::Cov(id), ty, span)
            }
            Sym::Theta(id) => {
                self.theta_used[id.index()] = true;
                if in_statements {
                    let p = self.lift(ExprKind::Theta(id), span);
                    node(ExprKind::Param(p), Ty::Real, span)
                } else {
                    node(ExprKind::Theta(id), Ty::Real, span)
                }
            }
            Sym::Eta(id) => {
                self.eta_used[id.index()] = true;
                if in_statements {
                    let p = self.lift(ExprKind::Eta(id), span);
                    node(ExprKind::Param(p), Ty::Real, span)
                } else {
                    node(ExprKind::Eta(id), Ty::Real, span)
                }
            }
            Sym::Time => node(ExprKind::Time, Ty::Real, span),
            Sym::State(id) if in_statements => node(ExprKind::State(id), Ty::Real, span),
            Sym::State(_) => {
                self.error(not_visible(NameKind::Compartment));
                poison(span)
            }
            Sym::Param(id) => {
                let ty = self.model.params[id.index()].expr.ty;
                node(ExprKind::Param(id), Ty::of(ty), span)
            }
            Sym::DynLocal(id) if block == BlockKind::Dynamics => {
                let ty = self.model.dynamics[id.index()].expr.ty;
                node(ExprKind::Local(id), Ty::of(ty), span)
            }
            Sym::ObsLocal(id) if block == BlockKind::Observe => {
                let ty = self.model.observe[id.index()].expr.ty;
                node(ExprKind::Local(id), Ty::of(ty), span)
            }
            Sym::DynLocal(_) | Sym::ObsLocal(_) => {
                self.error(not_visible(entry.sym.kind()));
                poison(span)
            }
        }
    }

    fn unresolved(&mut self, name: &str, span: Span, block: BlockKind) {
        let here = match block {
            BlockKind::Compartments => BlockKind::Individual,
            b => b,
        };
        let defs = self.scope.statement_defs.get(name);
        // A definition later in this same block (the same endpoint's, in
        // `observe`), else any other.
        let same = defs.and_then(|defs| {
            defs.iter().find(|d| {
                d.block == here
                    && (here != BlockKind::Observe || d.endpoint == self.current_endpoint)
            })
        });
        let err = match (same, defs.and_then(|d| d.first())) {
            (Some(def), _) => Error::UseBeforeDefinition {
                name: name.to_string(),
                span,
                definition: def.span,
            },
            (None, Some(def)) => Error::NotVisibleHere {
                name: name.to_string(),
                kind: match def.block {
                    BlockKind::Dynamics => NameKind::DynamicsVariable,
                    BlockKind::Observe => NameKind::ObserveVariable,
                    _ => NameKind::Parameter,
                },
                block,
                span,
                definition: Some(def.span),
            },
            (None, None) => Error::UnknownName {
                name: name.to_string(),
                span,
                candidates: similar(name, self.scope.all_names()),
            },
        };
        self.error(err);
    }
}

//! Typed IR → DAG functions: `individual`, `rhs` and `observe`.

use super::{Function, Graph, Input, Kind, NodeId};
use crate::ir::{self, BinOp, ExprKind, Model, Type};

/// What `Param` and `Local` references mean while lowering one function.
struct Env<'a> {
    /// In `individual`, the nodes of the parameters computed so far; in the
    /// other functions parameters are inputs.
    params: Option<&'a [NodeId]>,
    locals: &'a [NodeId],
}

/// Converts a condition to 1.0 / 0.0, as stored in slices.
fn as_real(g: &mut Graph, n: NodeId) -> NodeId {
    if g.kind(n) == Kind::Bool {
        let one = g.constant_node(1.0);
        let zero = g.constant_node(0.0);
        g.select(n, one, zero)
    } else {
        n
    }
}

/// Reads a stored value back as the type the IR says it has.
fn typed_input(g: &mut Graph, input: Input, ty: Type) -> NodeId {
    let n = g.input(input, Kind::Real);
    match ty {
        Type::Real => n,
        Type::Bool => {
            let zero = g.constant_node(0.0);
            g.binary(BinOp::Ne, n, zero)
        }
    }
}

fn expr(g: &mut Graph, e: &ir::Expr, env: &Env<'_>) -> NodeId {
    match &e.kind {
        ExprKind::Const(v) => match e.ty {
            Type::Bool => g.bool_node(*v != 0.0),
            Type::Real => g.constant_node(*v),
        },
        ExprKind::Theta(id) => g.input(Input::Theta(id.0), Kind::Real),
        ExprKind::Eta(id) => g.input(Input::Eta(id.0), Kind::Real),
        ExprKind::Cov(id) => typed_input(g, Input::Cov(id.0), e.ty),
        ExprKind::Time => g.input(Input::Time, Kind::Real),
        ExprKind::State(id) => g.input(Input::State(id.0), Kind::Real),
        ExprKind::Param(id) => match env.params {
            Some(done) => done[id.index()],
            None => typed_input(g, Input::Param(id.0), e.ty),
        },
        ExprKind::Local(id) => env.locals[id.index()],
        ExprKind::Unary(op, a) => {
            let a = expr(g, a, env);
            g.unary(*op, a)
        }
        ExprKind::Binary(op, a, b) => {
            let a = expr(g, a, env);
            let b = expr(g, b, env);
            g.binary(*op, a, b)
        }
        ExprKind::If(c, a, b) => {
            let c = expr(g, c, env);
            let a = expr(g, a, env);
            let b = expr(g, b, env);
            g.select(c, a, b)
        }
        ExprKind::Call(f, args) => {
            let a = expr(g, &args[0], env);
            match args.get(1) {
                Some(b) => {
                    let b = expr(g, b, env);
                    g.call2(*f, a, b)
                }
                None => g.call1(*f, a),
            }
        }
    }
}

/// `individual(theta, eta, cov, time) -> params`.
pub fn individual(m: &Model) -> Function {
    let mut g = Graph::default();
    let mut done: Vec<NodeId> = Vec::with_capacity(m.params.len());
    for p in &m.params {
        let n = expr(
            &mut g,
            &p.expr,
            &Env {
                params: Some(&done),
                locals: &[],
            },
        );
        done.push(n);
    }
    let outputs = done.into_iter().map(|n| as_real(&mut g, n)).collect();
    Function { graph: g, outputs }
}

fn locals(g: &mut Graph, defs: &[ir::Local]) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = Vec::with_capacity(defs.len());
    for l in defs {
        let n = expr(
            g,
            &l.expr,
            &Env {
                params: None,
                locals: &out,
            },
        );
        out.push(n);
    }
    out
}

/// `rhs(time, amounts, params, cov) -> d/dt amounts`.
pub fn rhs(m: &Model) -> Function {
    let mut g = Graph::default();
    let ls = locals(&mut g, &m.dynamics);
    let env = Env {
        params: None,
        locals: &ls,
    };
    let outputs = m.derivs.iter().map(|d| expr(&mut g, d, &env)).collect();
    Function { graph: g, outputs }
}

/// `observe(time, amounts, params, cov) -> [outputs, then per endpoint:
/// prediction, error params]`. The outputs are every endpoint's variables,
/// in block order.
pub fn observe(m: &Model) -> Function {
    let mut g = Graph::default();
    let ls = locals(&mut g, &m.observe);
    let env = Env {
        params: None,
        locals: &ls,
    };
    let mut outputs: Vec<NodeId> = ls.iter().map(|n| as_real(&mut g, *n)).collect();
    for e in &m.endpoints {
        outputs.push(expr(&mut g, &e.prediction, &env));
        for p in &e.params {
            outputs.push(expr(&mut g, p, &env));
        }
    }
    Function { graph: g, outputs }
}

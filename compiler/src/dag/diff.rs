//! Symbolic differentiation of DAG functions (forward mode, one pass per
//! input), producing new nodes in the same graph.
//!
//! Piecewise functions differentiate piecewise: `if` selects the derivative
//! of the branch taken; `min(a, b)` takes `a`'s when `a <= b`; `max(a, b)`
//! takes `a`'s when `a >= b`; `abs(a)` takes `+da` when `a >= 0`. At the
//! switching points these are one-sided derivatives (the true derivative
//! does not exist there).

use super::{Function, Graph, Input, Kind, Node, NodeId};
use crate::ir::{BinOp, Builtin, UnOp};

/// The derivative of every node below `n` with respect to `wrt`.
fn derivatives(g: &mut Graph, n: usize, wrt: Input) -> Vec<NodeId> {
    let zero = g.constant_node(0.0);
    let one = g.constant_node(1.0);
    let mut d: Vec<NodeId> = Vec::with_capacity(n);
    for i in 0..n {
        let id = NodeId(i as u32);
        let node = g.node(id);
        let di = if g.kind(id) == Kind::Bool {
            zero
        } else {
            match node {
                Node::Const(_) => zero,
                Node::Input(x) => {
                    if x == wrt {
                        one
                    } else {
                        zero
                    }
                }
                Node::Unary(UnOp::Neg, a) => {
                    let da = d[a.index()];
                    g.unary(UnOp::Neg, da)
                }
                Node::Unary(UnOp::Not, _) => zero,
                Node::Binary(op, a, b) => {
                    let (da, db) = (d[a.index()], d[b.index()]);
                    binary(g, op, id, a, b, da, db)
                }
                Node::Powi(a, k) => {
                    let da = d[a.index()];
                    if g.is_zero(da) {
                        zero
                    } else {
                        let km1 = g.constant_node(f64::from(k - 1));
                        let p = g.binary(BinOp::Pow, a, km1);
                        let kc = g.constant_node(f64::from(k));
                        let dp = g.mul_d(kc, p);
                        g.mul_d(dp, da)
                    }
                }
                Node::Select(c, a, b) => {
                    let (da, db) = (d[a.index()], d[b.index()]);
                    g.select(c, da, db)
                }
                Node::Call1(f, a) => {
                    let da = d[a.index()];
                    if g.is_zero(da) {
                        zero
                    } else {
                        call1(g, f, id, a, da)
                    }
                }
                Node::Call2(f, a, b) => {
                    let (da, db) = (d[a.index()], d[b.index()]);
                    let op = match f {
                        Builtin::Max => BinOp::Ge,
                        _ => BinOp::Le,
                    };
                    let c = g.binary(op, a, b);
                    g.select(c, da, db)
                }
            }
        };
        d.push(di);
    }
    d
}

fn binary(
    g: &mut Graph,
    op: BinOp,
    n: NodeId,
    a: NodeId,
    b: NodeId,
    da: NodeId,
    db: NodeId,
) -> NodeId {
    let zero = g.constant_node(0.0);
    match op {
        BinOp::Add => g.add_d(da, db),
        BinOp::Sub => g.sub_d(da, db),
        BinOp::Mul => {
            let l = g.mul_d(da, b);
            let r = g.mul_d(a, db);
            g.add_d(l, r)
        }
        BinOp::Div => {
            // d(a/b) = (da - (a/b)·db) / b
            let ndb = g.mul_d(n, db);
            let num = g.sub_d(da, ndb);
            if g.is_zero(num) {
                zero
            } else {
                g.binary(BinOp::Div, num, b)
            }
        }
        BinOp::Pow => {
            // d(a^b) = b·a^(b−1)·da + a^b·ln(a)·db
            let left = if g.is_zero(da) {
                zero
            } else {
                let one = g.constant_node(1.0);
                let bm1 = g.binary(BinOp::Sub, b, one);
                let p = g.binary(BinOp::Pow, a, bm1);
                let bp = g.mul_d(b, p);
                g.mul_d(bp, da)
            };
            let right = if g.is_zero(db) {
                zero
            } else {
                let ln = g.call1(Builtin::Log, a);
                let nl = g.mul_d(n, ln);
                g.mul_d(nl, db)
            };
            g.add_d(left, right)
        }
        // Conditions have no derivative.
        _ => zero,
    }
}

fn call1(g: &mut Graph, f: Builtin, n: NodeId, a: NodeId, da: NodeId) -> NodeId {
    let one = g.constant_node(1.0);
    match f {
        Builtin::Exp => g.mul_d(n, da),
        Builtin::Log => g.binary(BinOp::Div, da, a),
        Builtin::Log10 => {
            let ln10 = g.constant_node(std::f64::consts::LN_10);
            let den = g.mul_d(a, ln10);
            g.binary(BinOp::Div, da, den)
        }
        Builtin::Sqrt => {
            let two = g.constant_node(2.0);
            let den = g.mul_d(two, n);
            g.binary(BinOp::Div, da, den)
        }
        Builtin::Abs => {
            let zero = g.constant_node(0.0);
            let c = g.binary(BinOp::Ge, a, zero);
            let neg = g.unary(UnOp::Neg, da);
            g.select(c, da, neg)
        }
        Builtin::Logit => {
            let om = g.binary(BinOp::Sub, one, a);
            let den = g.mul_d(a, om);
            g.binary(BinOp::Div, da, den)
        }
        Builtin::Expit => {
            let om = g.binary(BinOp::Sub, one, n);
            let s = g.mul_d(n, om);
            g.mul_d(s, da)
        }
        Builtin::Phi => {
            // φ(a) = exp(−a²/2) / √(2π)
            let two = g.constant_node(2.0);
            let a2 = g.binary(BinOp::Pow, a, two);
            let half = g.constant_node(-0.5);
            let e = g.mul_d(half, a2);
            let ex = g.call1(Builtin::Exp, e);
            let c = g.constant_node(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            let dens = g.mul_d(c, ex);
            g.mul_d(dens, da)
        }
        Builtin::Min | Builtin::Max => unreachable!("two-argument builtins are Call2"),
    }
}

/// The Jacobian of `f`'s outputs with respect to `wrt`, as a function whose
/// outputs are column-major: output `j·m + i` is ∂out_i/∂wrt_j (m outputs).
pub fn jacobian(f: &Function, wrt: &[Input]) -> Function {
    let mut g = f.graph.clone();
    let n = g.nodes().len();
    let mut outputs = Vec::with_capacity(f.outputs.len() * wrt.len());
    for &v in wrt {
        let d = derivatives(&mut g, n, v);
        outputs.extend(f.outputs.iter().map(|o| d[o.index()]));
    }
    Function { graph: g, outputs }
}

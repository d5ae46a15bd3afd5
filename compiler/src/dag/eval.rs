//! Evaluates a DAG function directly: the reference for the code generator
//! on derivative functions, which the typed-IR interpreter does not have.

use super::{Function, Input, Node};
use crate::interp::{builtin1, builtin2, powi};
use crate::ir::{BinOp, UnOp};

/// The slices a function reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inputs<'a> {
    pub t: f64,
    pub theta: &'a [f64],
    pub eta: &'a [f64],
    pub cov: &'a [f64],
    pub y: &'a [f64],
    pub params: &'a [f64],
}

fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Evaluates `f` into `out` (one value per output).
pub fn eval(f: &Function, inputs: &Inputs<'_>, out: &mut [f64]) {
    let live = f.graph.live(&f.outputs);
    let mut v = vec![0.0; f.graph.nodes().len()];
    for (i, node) in f.graph.nodes().iter().enumerate() {
        if !live[i] {
            continue;
        }
        v[i] = match *node {
            Node::Const(bits) => match f.graph.kind(super::NodeId(i as u32)) {
                super::Kind::Bool => bits as f64,
                super::Kind::Real => f64::from_bits(bits),
            },
            Node::Input(x) => match x {
                Input::Time => inputs.t,
                Input::Theta(k) => inputs.theta[k as usize],
                Input::Eta(k) => inputs.eta[k as usize],
                Input::Cov(k) => inputs.cov[k as usize],
                Input::State(k) => inputs.y[k as usize],
                Input::Param(k) => inputs.params[k as usize],
            },
            Node::Unary(op, a) => match op {
                UnOp::Neg => -v[a.index()],
                UnOp::Not => truth(v[a.index()] == 0.0),
            },
            Node::Binary(op, a, b) => {
                let (x, y) = (v[a.index()], v[b.index()]);
                match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                    BinOp::Pow => x.powf(y),
                    BinOp::Lt => truth(x < y),
                    BinOp::Le => truth(x <= y),
                    BinOp::Gt => truth(x > y),
                    BinOp::Ge => truth(x >= y),
                    BinOp::Eq => truth(x == y),
                    BinOp::Ne => truth(x != y),
                    BinOp::And => truth(x != 0.0 && y != 0.0),
                    BinOp::Or => truth(x != 0.0 || y != 0.0),
                }
            }
            Node::Select(c, a, b) => {
                if v[c.index()] != 0.0 {
                    v[a.index()]
                } else {
                    v[b.index()]
                }
            }
            Node::Call1(fun, a) => builtin1(fun, v[a.index()]),
            Node::Call2(fun, a, b) => builtin2(fun, v[a.index()], v[b.index()]),
            Node::Powi(a, k) => powi(v[a.index()], k),
        };
    }
    for (o, id) in out.iter_mut().zip(&f.outputs) {
        *o = v[id.index()];
    }
}

//! A readable listing of a DAG function, for snapshots: one line per live
//! node (`%7 = mul %3, %5`), then the outputs.

use super::{Function, Input, Kind, Node, NodeId};
use crate::ir::{BinOp, UnOp};
use std::fmt::Write;

/// Names for the inputs of a listing (the model's names).
pub struct Names<'a> {
    pub theta: &'a [String],
    pub eta: &'a [String],
    pub cov: &'a [String],
    pub state: &'a [String],
    pub param: &'a [String],
}

fn input_name(x: Input, names: &Names<'_>) -> String {
    match x {
        Input::Time => "time".into(),
        Input::Theta(k) => format!("theta:{}", names.theta[k as usize]),
        Input::Eta(k) => format!("eta:{}", names.eta[k as usize]),
        Input::Cov(k) => format!("cov:{}", names.cov[k as usize]),
        Input::State(k) => format!("amt:{}", names.state[k as usize]),
        Input::Param(k) => format!("param:{}", names.param[k as usize]),
    }
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::Div => "div",
        BinOp::Pow => "pow",
        BinOp::Lt => "lt",
        BinOp::Le => "le",
        BinOp::Gt => "gt",
        BinOp::Ge => "ge",
        BinOp::Eq => "eq",
        BinOp::Ne => "ne",
        BinOp::And => "and",
        BinOp::Or => "or",
    }
}

/// The listing of `f`, with `labels[i]` naming output `i`. Constants and
/// inputs are written in place; nodes are renumbered densely; outputs that
/// are exactly zero (the structural zeros of a Jacobian) are only counted.
pub fn print_function(f: &Function, names: &Names<'_>, labels: &[String]) -> String {
    let g = &f.graph;
    let live = g.live(&f.outputs);
    let mut text: Vec<String> = vec![String::new(); g.nodes().len()];
    let mut out = String::new();
    let mut next = 0;
    for (i, node) in g.nodes().iter().enumerate() {
        if !live[i] {
            continue;
        }
        let r = |n: NodeId, text: &[String]| text[n.index()].clone();
        let rhs = match *node {
            Node::Const(bits) => {
                text[i] = match g.kind(NodeId(i as u32)) {
                    Kind::Bool => (bits != 0).to_string(),
                    Kind::Real => format!("{}", f64::from_bits(bits)),
                };
                continue;
            }
            Node::Input(x) => {
                text[i] = input_name(x, names);
                continue;
            }
            Node::Unary(UnOp::Neg, a) => format!("neg {}", r(a, &text)),
            Node::Unary(UnOp::Not, a) => format!("not {}", r(a, &text)),
            Node::Binary(op, a, b) => format!("{} {}, {}", op_name(op), r(a, &text), r(b, &text)),
            Node::Select(c, a, b) => {
                format!("select {}, {}, {}", r(c, &text), r(a, &text), r(b, &text))
            }
            Node::Call1(fun, a) => format!("{} {}", fun.name(), r(a, &text)),
            Node::Call2(fun, a, b) => format!("{} {}, {}", fun.name(), r(a, &text), r(b, &text)),
            Node::Powi(a, k) => format!("powi {}, {k}", r(a, &text)),
        };
        let name = format!("%{next}");
        next += 1;
        let _ = writeln!(out, "  {name} = {rhs}");
        text[i] = name;
    }
    let mut zeros = 0;
    for (label, o) in labels.iter().zip(&f.outputs) {
        if matches!(g.node(*o), Node::Const(0)) {
            zeros += 1;
            continue;
        }
        let _ = writeln!(out, "  {label} <- {}", text[o.index()]);
    }
    if zeros > 0 {
        let _ = writeln!(out, "  ({zeros} other outputs are 0)");
    }
    out
}

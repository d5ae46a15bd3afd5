//! Loop-invariant code motion for the right-hand side: the part of a
//! per-state function that depends on parameters and covariates only.
//!
//! An ODE solver calls the right-hand side a dozen times per step with the
//! same parameters; in `d/dt(central) = ka·depot − cl/v·central` the
//! division `cl/v` is the same at every call. [`hoist`] splits such a
//! function into `invariants` (those sub-expressions, computed once per
//! parameter set) and `core` (the function with each of them read as an
//! input), as NONMEM's `$PK` computes `K = CL/V` once for `$DES`. The
//! operations and their order are unchanged, so the results are the same to
//! the bit.
//!
//! `core` reads the invariants through the [`Input::Theta`] slots, which no
//! per-state function otherwise reads (the functions' one signature has no
//! slot of its own for them).

use super::{Function, Graph, Input, Kind, Node, NodeId};

/// The most invariants hoisted: what a solver keeps on the stack.
pub use mido_runtime::model::MAX_INVARIANTS;

/// A per-state function split in two.
#[derive(Debug, Clone)]
pub struct Hoisted {
    /// Reads parameters and covariates; writes the invariants.
    pub invariants: Function,
    /// The original function, reading invariant `k` as `Theta(k)`.
    pub core: Function,
}

/// Splits `f` when it has invariant operations worth computing once: real
/// nodes that read neither time nor amounts, are not themselves an input or
/// a constant, and are used by a node that does (or are outputs). `None`
/// when there are none, more than [`MAX_INVARIANTS`], or `f` reads theta or
/// eta (whose slots `core` needs).
pub fn hoist(f: &Function) -> Option<Hoisted> {
    let g = &f.graph;
    let n = g.nodes().len();
    let live = g.live(&f.outputs);
    // Whether a node depends on time or the amounts.
    let mut varying = vec![false; n];
    for (i, node) in g.nodes().iter().enumerate() {
        varying[i] = match *node {
            Node::Const(_) => false,
            Node::Input(Input::Time | Input::State(_)) => true,
            Node::Input(Input::Theta(_) | Input::Eta(_)) => {
                if live[i] {
                    return None;
                }
                false
            }
            Node::Input(Input::Cov(_) | Input::Param(_)) => false,
            _ => node.operands().iter().flatten().any(|a| varying[a.index()]),
        };
    }
    let hoistable = |id: NodeId| {
        let i = id.index();
        live[i]
            && !varying[i]
            && g.kind(id) == Kind::Real
            && !matches!(g.node(id), Node::Const(_) | Node::Input(_))
    };
    let mut frontier = vec![false; n];
    for (i, node) in g.nodes().iter().enumerate() {
        if live[i] && varying[i] {
            for a in node.operands().iter().flatten() {
                if hoistable(*a) {
                    frontier[a.index()] = true;
                }
            }
        }
    }
    for o in &f.outputs {
        if hoistable(*o) {
            frontier[o.index()] = true;
        }
    }
    let hoisted: Vec<NodeId> = (0..n as u32)
        .map(NodeId)
        .filter(|id| frontier[id.index()])
        .collect();
    if hoisted.is_empty() || hoisted.len() > MAX_INVARIANTS {
        return None;
    }
    // The core: every node copied in order, a hoisted one replaced by its
    // input (what it no longer needs is dead and never emitted).
    let mut core = Graph::default();
    let mut map = Vec::with_capacity(n);
    let mut next = 0u32;
    for (i, node) in g.nodes().iter().enumerate() {
        let kind = g.kind(NodeId(i as u32));
        let id = if frontier[i] {
            next += 1;
            core.input(Input::Theta(next - 1), Kind::Real)
        } else {
            let m = |a: NodeId| map[a.index()];
            let copy = match *node {
                Node::Const(_) | Node::Input(_) => *node,
                Node::Unary(op, a) => Node::Unary(op, m(a)),
                Node::Binary(op, a, b) => Node::Binary(op, m(a), m(b)),
                Node::Select(c, a, b) => Node::Select(m(c), m(a), m(b)),
                Node::Call1(fun, a) => Node::Call1(fun, m(a)),
                Node::Call2(fun, a, b) => Node::Call2(fun, m(a), m(b)),
                Node::Powi(a, k) => Node::Powi(m(a), k),
            };
            core.intern(copy, kind)
        };
        map.push(id);
    }
    Some(Hoisted {
        invariants: Function {
            graph: g.clone(),
            outputs: hoisted,
        },
        core: Function {
            graph: core,
            outputs: f.outputs.iter().map(|o| map[o.index()]).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::eval;
    use crate::ir::BinOp;

    /// `d/dt(depot) = −ka·depot`, `d/dt(central) = ka·depot − cl/v·central`.
    fn oral() -> Function {
        let mut g = Graph::default();
        let (ka, cl, v) = (
            g.input(Input::Param(0), Kind::Real),
            g.input(Input::Param(1), Kind::Real),
            g.input(Input::Param(2), Kind::Real),
        );
        let (depot, central) = (
            g.input(Input::State(0), Kind::Real),
            g.input(Input::State(1), Kind::Real),
        );
        let absorbed = g.binary(BinOp::Mul, ka, depot);
        let minus = g.unary(crate::ir::UnOp::Neg, absorbed);
        let k = g.binary(BinOp::Div, cl, v);
        let eliminated = g.binary(BinOp::Mul, k, central);
        let dcentral = g.binary(BinOp::Sub, absorbed, eliminated);
        Function {
            graph: g,
            outputs: vec![minus, dcentral],
        }
    }

    #[test]
    fn the_division_by_the_volume_is_computed_once() {
        let f = oral();
        let h = hoist(&f).expect("cl / v is invariant");
        assert_eq!(h.invariants.outputs.len(), 1);
        let core_divisions = h
            .core
            .graph
            .nodes()
            .iter()
            .zip(h.core.graph.live(&h.core.outputs))
            .filter(|(n, live)| *live && matches!(n, Node::Binary(BinOp::Div, _, _)))
            .count();
        assert_eq!(core_divisions, 0);
        // Same values, to the bit.
        let (params, y) = ([1.3, 2.75, 31.8], [4.0, 7.5]);
        let inputs = |theta, y| eval::Inputs {
            t: 0.0,
            theta,
            eta: &[],
            cov: &[],
            y,
            params: &params,
        };
        let mut inv = [0.0];
        eval::eval(&h.invariants, &inputs(&[], &[]), &mut inv);
        let (mut whole, mut split) = ([0.0; 2], [0.0; 2]);
        eval::eval(&f, &inputs(&[], &y), &mut whole);
        eval::eval(&h.core, &inputs(&inv, &y), &mut split);
        assert_eq!(whole.map(f64::to_bits), split.map(f64::to_bits));
    }

    #[test]
    fn nothing_to_hoist_when_every_operation_reads_an_amount() {
        let mut g = Graph::default();
        let ka = g.input(Input::Param(0), Kind::Real);
        let depot = g.input(Input::State(0), Kind::Real);
        let absorbed = g.binary(BinOp::Mul, ka, depot);
        let f = Function {
            graph: g,
            outputs: vec![absorbed],
        };
        assert!(hoist(&f).is_none());
    }
}

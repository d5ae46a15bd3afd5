//! The flat IR: each compiled function as a hash-consed DAG of scalar
//! operations over its inputs.
//!
//! Lowering the typed IR to a DAG inlines every parameter and local, so equal
//! sub-expressions become one node (common-subexpression elimination by
//! construction) and constants fold as nodes are made. Symbolic derivatives
//! ([`diff`]) are new nodes in the same graph, so they share work with the
//! function itself. Code generation and the DAG evaluator ([`eval`]) read the
//! graph in node order, which is a topological order.
//!
//! Folding never reassociates or changes a floating-point result: it only
//! removes operations whose result is exactly known (`x * 1`, `x + 0`,
//! `0 * x` for the derivative's structural zeros, constant arithmetic).

pub mod diff;
pub mod eval;
pub mod hoist;
pub mod lower;
pub mod print;

use crate::ir::{BinOp, Builtin, UnOp};
use std::collections::HashMap;

/// A node's index; nodes only refer to earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An input of a compiled function: where its value is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    Time,
    Theta(u32),
    Eta(u32),
    Cov(u32),
    State(u32),
    Param(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// A constant, by its bits so that nodes hash.
    Const(u64),
    Input(Input),
    Unary(UnOp, NodeId),
    Binary(BinOp, NodeId, NodeId),
    /// `if c then a else b`.
    Select(NodeId, NodeId, NodeId),
    Call1(Builtin, NodeId),
    Call2(Builtin, NodeId, NodeId),
    /// `x ^ n` for a small integer constant `n`, expanded to multiplications.
    Powi(NodeId, i32),
}

impl Node {
    /// The nodes this one reads (up to three).
    pub fn operands(self) -> [Option<NodeId>; 3] {
        match self {
            Node::Const(_) | Node::Input(_) => [None; 3],
            Node::Unary(_, a) | Node::Call1(_, a) | Node::Powi(a, _) => [Some(a), None, None],
            Node::Binary(_, a, b) | Node::Call2(_, a, b) => [Some(a), Some(b), None],
            Node::Select(c, a, b) => [Some(c), Some(a), Some(b)],
        }
    }
}

/// Whether a node yields a number or a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Real,
    Bool,
}

/// A graph of nodes with their kinds, hash-consed.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    kinds: Vec<Kind>,
    index: HashMap<Node, NodeId>,
}

/// A function: a graph and the nodes whose values it writes to `out`, in order.
#[derive(Debug, Clone, Default)]
pub struct Function {
    pub graph: Graph,
    pub outputs: Vec<NodeId>,
}

impl Graph {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> Node {
        self.nodes[id.index()]
    }

    pub fn kind(&self, id: NodeId) -> Kind {
        self.kinds[id.index()]
    }

    /// The constant value of a node, if it is one.
    pub fn constant(&self, id: NodeId) -> Option<f64> {
        match self.node(id) {
            Node::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }

    fn intern(&mut self, node: Node, kind: Kind) -> NodeId {
        if let Some(id) = self.index.get(&node) {
            return *id;
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(node);
        self.kinds.push(kind);
        self.index.insert(node, id);
        id
    }

    pub fn constant_node(&mut self, x: f64) -> NodeId {
        // One zero: -0.0 and 0.0 fold together only where that is exact,
        // so keep them apart by their bits.
        self.intern(Node::Const(x.to_bits()), Kind::Real)
    }

    pub fn bool_node(&mut self, b: bool) -> NodeId {
        self.intern(Node::Const(u64::from(b)), Kind::Bool)
    }

    pub fn input(&mut self, input: Input, kind: Kind) -> NodeId {
        self.intern(Node::Input(input), kind)
    }

    pub fn unary(&mut self, op: UnOp, a: NodeId) -> NodeId {
        match op {
            UnOp::Neg => {
                if let Some(x) = self.constant(a) {
                    return self.constant_node(-x);
                }
                if let Node::Unary(UnOp::Neg, inner) = self.node(a) {
                    return inner;
                }
                self.intern(Node::Unary(op, a), Kind::Real)
            }
            UnOp::Not => self.intern(Node::Unary(op, a), Kind::Bool),
        }
    }

    pub fn binary(&mut self, op: BinOp, a: NodeId, b: NodeId) -> NodeId {
        let ca = self.constant(a);
        let cb = self.constant(b);
        let is = |c: Option<f64>, v: f64| {
            c.is_some_and(|x| x == v && x.is_sign_positive() == v.is_sign_positive())
        };
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow => {
                if let (Some(x), Some(y)) = (ca, cb) {
                    let v = match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                        _ => x.powf(y),
                    };
                    return self.constant_node(v);
                }
                match op {
                    // x + 0 = x and 0 + x = x are exact for every x but -0.0
                    // (-0 + 0 = +0); the difference is invisible downstream
                    // except through 1/x, which a model's values never reach.
                    BinOp::Add if is(cb, 0.0) => return a,
                    BinOp::Add if is(ca, 0.0) => return b,
                    BinOp::Sub if is(cb, 0.0) => return a,
                    BinOp::Sub if is(ca, 0.0) => return self.unary(UnOp::Neg, b),
                    BinOp::Mul if is(cb, 1.0) => return a,
                    BinOp::Mul if is(ca, 1.0) => return b,
                    // Multiplying by -1 is an exact negation.
                    BinOp::Mul if is(cb, -1.0) => return self.unary(UnOp::Neg, a),
                    BinOp::Mul if is(ca, -1.0) => return self.unary(UnOp::Neg, b),
                    BinOp::Div if is(cb, 1.0) => return a,
                    BinOp::Pow => {
                        if let Some(y) = cb {
                            if y == 1.0 {
                                return a;
                            }
                            if y == 0.0 {
                                // powf(x, 0) is 1 for every x, NaN included.
                                return self.constant_node(1.0);
                            }
                            if y.fract() == 0.0 && (2.0..=8.0).contains(&y.abs()) {
                                return self.intern(Node::Powi(a, y as i32), Kind::Real);
                            }
                        }
                    }
                    _ => {}
                }
                self.intern(Node::Binary(op, a, b), Kind::Real)
            }
            BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Eq
            | BinOp::Ne
            | BinOp::And
            | BinOp::Or => self.intern(Node::Binary(op, a, b), Kind::Bool),
        }
    }

    /// Structural-zero-aware product used by differentiation: a derivative
    /// that is exactly zero stays a zero node, so Jacobians stay sparse.
    pub fn mul_d(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.is_zero(a) || self.is_zero(b) {
            return self.constant_node(0.0);
        }
        self.binary(BinOp::Mul, a, b)
    }

    pub fn add_d(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.is_zero(a) {
            return b;
        }
        if self.is_zero(b) {
            return a;
        }
        self.binary(BinOp::Add, a, b)
    }

    pub fn sub_d(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.is_zero(b) {
            return a;
        }
        if self.is_zero(a) {
            return self.unary(UnOp::Neg, b);
        }
        self.binary(BinOp::Sub, a, b)
    }

    pub fn is_zero(&self, id: NodeId) -> bool {
        self.constant(id) == Some(0.0)
    }

    pub fn select(&mut self, c: NodeId, a: NodeId, b: NodeId) -> NodeId {
        if a == b {
            return a;
        }
        match self.node(c) {
            Node::Const(bits) if self.kind(c) == Kind::Bool => {
                if bits != 0 {
                    a
                } else {
                    b
                }
            }
            _ => {
                let kind = self.kind(a);
                self.intern(Node::Select(c, a, b), kind)
            }
        }
    }

    pub fn call1(&mut self, f: Builtin, a: NodeId) -> NodeId {
        self.intern(Node::Call1(f, a), Kind::Real)
    }

    pub fn call2(&mut self, f: Builtin, a: NodeId, b: NodeId) -> NodeId {
        self.intern(Node::Call2(f, a, b), Kind::Real)
    }

    /// Which nodes the given outputs need, as a mask over all nodes.
    pub fn live(&self, outputs: &[NodeId]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for o in outputs {
            live[o.index()] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if !live[i] {
                continue;
            }
            for a in self.nodes[i].operands().into_iter().flatten() {
                live[a.index()] = true;
            }
        }
        live
    }
}

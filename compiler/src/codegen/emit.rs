//! One DAG function → one Cranelift function.
//!
//! Nodes are emitted in index order (a topological order), live nodes only.
//! Inputs are loads at offsets fixed at compile time from the argument
//! pointers; conditions are `i8` values (0 or 1); `if` is a `select`, so
//! both branches are computed (they are pure, and a NaN in the branch not
//! taken is discarded).

use super::abi::{self, ARG_COV, ARG_ETA, ARG_OUT, ARG_PARAMS, ARG_THETA, ARG_Y};
use crate::dag::{Function, Input, Kind, Node};
use crate::ir::{BinOp, Builtin, UnOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, FuncRef, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::FunctionBuilder;
use std::collections::HashMap;

/// The math functions declared in the function being built, by symbol.
pub type MathRefs = HashMap<&'static str, FuncRef>;

/// Outputs from which a mostly-zero result (a sparse Jacobian) is cleared
/// with one `memset` instead of a store per zero.
const MEMSET_MIN_ZEROS: usize = 16;

pub fn emit(
    b: &mut FunctionBuilder<'_>,
    f: &Function,
    math: &MathRefs,
    config: TargetFrontendConfig,
) {
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let args: Vec<Value> = b.block_params(block).to_vec();
    // Slices are 8-byte aligned and never null where the function reads them.
    let flags = MemFlagsData::trusted();
    let g = &f.graph;
    let live = g.live(&f.outputs);
    let mut vals: Vec<Option<Value>> = vec![None; g.nodes().len()];
    let v = |vals: &[Option<Value>], n: crate::dag::NodeId| {
        vals[n.index()].expect("operands precede their uses in a DAG")
    };
    for (i, node) in g.nodes().iter().enumerate() {
        if !live[i] {
            continue;
        }
        let kind = g.kind(crate::dag::NodeId(i as u32));
        let val = match *node {
            Node::Const(bits) => match kind {
                Kind::Bool => b.ins().iconst(types::I8, i64::from(bits != 0)),
                Kind::Real => b.ins().f64const(f64::from_bits(bits)),
            },
            Node::Input(x) => {
                let (arg, k) = match x {
                    Input::Time => {
                        vals[i] = Some(args[0]);
                        continue;
                    }
                    Input::Theta(k) => (ARG_THETA, k),
                    Input::Eta(k) => (ARG_ETA, k),
                    Input::Cov(k) => (ARG_COV, k),
                    Input::State(k) => (ARG_Y, k),
                    Input::Param(k) => (ARG_PARAMS, k),
                };
                b.ins().load(types::F64, flags, args[arg], (k * 8) as i32)
            }
            Node::Unary(UnOp::Neg, a) => b.ins().fneg(v(&vals, a)),
            Node::Unary(UnOp::Not, a) => b.ins().bxor_imm_u(v(&vals, a), 1),
            Node::Binary(op @ (BinOp::Eq | BinOp::Ne), a, c) if g.kind(a) == Kind::Bool => {
                // Comparing two conditions: integers, not floats.
                let cc = if op == BinOp::Eq {
                    IntCC::Equal
                } else {
                    IntCC::NotEqual
                };
                b.ins().icmp(cc, v(&vals, a), v(&vals, c))
            }
            Node::Binary(op, a, c) => {
                let (x, y) = (v(&vals, a), v(&vals, c));
                match op {
                    BinOp::Add => b.ins().fadd(x, y),
                    BinOp::Sub => b.ins().fsub(x, y),
                    BinOp::Mul => b.ins().fmul(x, y),
                    BinOp::Div => b.ins().fdiv(x, y),
                    BinOp::Pow => {
                        let call = b.ins().call(math[abi::POW_SYMBOL], &[x, y]);
                        b.inst_results(call)[0]
                    }
                    BinOp::Lt => b.ins().fcmp(FloatCC::LessThan, x, y),
                    BinOp::Le => b.ins().fcmp(FloatCC::LessThanOrEqual, x, y),
                    BinOp::Gt => b.ins().fcmp(FloatCC::GreaterThan, x, y),
                    BinOp::Ge => b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, y),
                    BinOp::Eq => b.ins().fcmp(FloatCC::Equal, x, y),
                    BinOp::Ne => b.ins().fcmp(FloatCC::NotEqual, x, y),
                    BinOp::And => b.ins().band(x, y),
                    BinOp::Or => b.ins().bor(x, y),
                }
            }
            Node::Select(c, a, d) => {
                let (c, x, y) = (v(&vals, c), v(&vals, a), v(&vals, d));
                b.ins().select(c, x, y)
            }
            Node::Call1(fun, a) => {
                let x = v(&vals, a);
                match fun {
                    Builtin::Sqrt => b.ins().sqrt(x),
                    Builtin::Abs => b.ins().fabs(x),
                    other => {
                        let symbol =
                            abi::math_symbol(other).expect("a called builtin has a symbol");
                        let call = b.ins().call(math[symbol], &[x]);
                        b.inst_results(call)[0]
                    }
                }
            }
            Node::Call2(fun, a, c) => {
                let (x, y) = (v(&vals, a), v(&vals, c));
                match fun {
                    Builtin::Max => b.ins().fmax(x, y),
                    _ => b.ins().fmin(x, y),
                }
            }
            Node::Powi(a, k) => {
                let x = v(&vals, a);
                let mut p = x;
                for _ in 1..k.unsigned_abs() {
                    p = b.ins().fmul(p, x);
                }
                if k < 0 {
                    let one = b.ins().f64const(1.0);
                    p = b.ins().fdiv(one, p);
                }
                p
            }
        };
        vals[i] = Some(val);
    }
    let zeros = f
        .outputs
        .iter()
        .filter(|o| is_positive_zero(g, **o))
        .count();
    let clear_first = zeros >= MEMSET_MIN_ZEROS && zeros * 2 >= f.outputs.len();
    if clear_first {
        let ptr = config.pointer_type();
        let byte = b.ins().iconst(types::I8, 0);
        let size = b.ins().iconst(ptr, (f.outputs.len() * 8) as i64);
        b.call_memset(config, args[ARG_OUT], byte, size);
    }
    for (k, o) in f.outputs.iter().enumerate() {
        if clear_first && is_positive_zero(g, *o) {
            continue;
        }
        let mut x = v(&vals, *o);
        if g.kind(*o) == Kind::Bool {
            // Outputs are numbers; lowering converts conditions already, but
            // stay safe if a condition reaches an output.
            let one = b.ins().f64const(1.0);
            let zero = b.ins().f64const(0.0);
            x = b.ins().select(x, one, zero);
        }
        b.ins().store(flags, x, args[ARG_OUT], (k * 8) as i32);
    }
    b.ins().return_(&[]);
}

/// A +0.0 constant: all-zero bytes, what `memset(0)` writes.
fn is_positive_zero(g: &crate::dag::Graph, n: crate::dag::NodeId) -> bool {
    matches!(g.node(n), Node::Const(0))
}

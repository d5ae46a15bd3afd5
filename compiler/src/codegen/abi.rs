//! The JIT ABI, defined once: the one signature every generated function
//! has, and the math functions generated code may call.

use crate::interp::builtin1;
use crate::ir::Builtin;
use cranelift_codegen::ir::{types, AbiParam, Signature};
use cranelift_codegen::isa::CallConv;

/// Every generated function: `(t, theta, eta, cov, y, params, out)`. Inputs
/// a function does not read may be null; `out` receives its outputs. The
/// runtime's name for the same type, so that it can call generated code.
pub type ModelFn = mido_runtime::model::NativeFn;

/// Positions of the pointer arguments after `t`.
pub const ARG_THETA: usize = 1;
pub const ARG_ETA: usize = 2;
pub const ARG_COV: usize = 3;
pub const ARG_Y: usize = 4;
pub const ARG_PARAMS: usize = 5;
pub const ARG_OUT: usize = 6;

/// The Cranelift signature of [`ModelFn`].
pub fn model_fn_signature(call_conv: CallConv, ptr: types::Type) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::F64));
    for _ in 0..6 {
        sig.params.push(AbiParam::new(ptr));
    }
    sig
}

extern "C" fn mido_exp(x: f64) -> f64 {
    builtin1(Builtin::Exp, x)
}
extern "C" fn mido_log(x: f64) -> f64 {
    builtin1(Builtin::Log, x)
}
extern "C" fn mido_log10(x: f64) -> f64 {
    builtin1(Builtin::Log10, x)
}
extern "C" fn mido_logit(x: f64) -> f64 {
    builtin1(Builtin::Logit, x)
}
extern "C" fn mido_expit(x: f64) -> f64 {
    builtin1(Builtin::Expit, x)
}
extern "C" fn mido_phi(x: f64) -> f64 {
    builtin1(Builtin::Phi, x)
}
extern "C" fn mido_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// A math function generated code calls: its symbol, address and arity.
pub struct MathFn {
    pub symbol: &'static str,
    pub address: *const u8,
    pub arity: usize,
}

/// The symbol generated code calls for a builtin, if it is a call (sqrt,
/// abs, min and max are instructions).
pub fn math_symbol(f: Builtin) -> Option<&'static str> {
    match f {
        Builtin::Exp => Some("mido_exp"),
        Builtin::Log => Some("mido_log"),
        Builtin::Log10 => Some("mido_log10"),
        Builtin::Logit => Some("mido_logit"),
        Builtin::Expit => Some("mido_expit"),
        Builtin::Phi => Some("mido_phi"),
        Builtin::Sqrt | Builtin::Abs | Builtin::Min | Builtin::Max => None,
    }
}

pub const POW_SYMBOL: &str = "mido_pow";

/// Every math function, registered with the JIT module by symbol.
pub fn math_functions() -> [MathFn; 7] {
    [
        MathFn {
            symbol: "mido_exp",
            address: mido_exp as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: "mido_log",
            address: mido_log as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: "mido_log10",
            address: mido_log10 as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: "mido_logit",
            address: mido_logit as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: "mido_expit",
            address: mido_expit as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: "mido_phi",
            address: mido_phi as *const u8,
            arity: 1,
        },
        MathFn {
            symbol: POW_SYMBOL,
            address: mido_pow as *const u8,
            arity: 2,
        },
    ]
}

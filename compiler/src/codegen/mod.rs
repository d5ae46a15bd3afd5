//! Cranelift code generation: a model's functions compiled to native code.
//!
//! Lifecycle (as in the Cranelift JIT demo): declare every function and the
//! imported math functions, define each, finalize once, then keep the
//! module alive as long as the function pointers; dropping the model frees
//! the code.

pub mod abi;
mod emit;

use crate::dag::{hoist, Function};
use crate::functions::{FnKind, ModelFunctions};
use crate::interp::model_info;
use crate::ir::{self, DoseProp};
use abi::ModelFn;
use cranelift_codegen::ir::{types, AbiParam, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use mido_runtime::model::{DoseProps, Model, ModelInfo, NativeRhs};
use std::collections::HashMap;
use std::fmt;

/// Why a model could not be compiled to native code.
#[derive(Debug, Clone, PartialEq)]
pub enum CodegenError {
    /// The host CPU is not one Cranelift supports.
    UnsupportedHost(String),
    /// Cranelift rejected a setting or a function (a bug in mido).
    Backend {
        function: &'static str,
        message: String,
    },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::UnsupportedHost(m) => write!(
                f,
                "native code generation is not available on this machine: {m}"
            ),
            CodegenError::Backend { function, message } => {
                write!(
                    f,
                    "internal error while compiling `{function}` to native code: {message}"
                )
            }
        }
    }
}

impl std::error::Error for CodegenError {}

fn backend(function: &'static str) -> impl Fn(String) -> CodegenError {
    move |message| CodegenError::Backend { function, message }
}

/// Owns the JIT module so its code lives exactly as long as the model.
struct Code(Option<JITModule>);

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.0.take() {
            // SAFETY: the function pointers into this module are held only by
            // the `JitModel` that owns this `Code`, and are dropped with it.
            unsafe { module.free_memory() };
        }
    }
}

// SAFETY: after `finalize_definitions` the module's code is immutable and is
// only freed on drop; the generated functions are pure (no shared state), so
// calling them from several threads is safe.
unsafe impl Send for Code {}
unsafe impl Sync for Code {}

/// A model compiled to native code.
pub struct JitModel {
    fns: [ModelFn; 9],
    /// The right-hand side with its parameter-only operations hoisted, for
    /// solvers ([`Model::native_rhs`]).
    split_rhs: Option<SplitRhs>,
    needs: [Need; 9],
    info: ModelInfo,
    dose_props: Vec<Vec<(DoseProp, usize)>>,
    uses_time: bool,
    _code: Code,
}

/// `mido_rhs_invariants` and `mido_rhs_core` (see [`hoist`]).
#[derive(Debug, Clone, Copy)]
struct SplitRhs {
    invariants: ModelFn,
    core: ModelFn,
    count: usize,
}

fn isa_flags() -> Result<settings::Flags, CodegenError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v).map_err(|e| CodegenError::Backend {
            function: "settings",
            message: e.to_string(),
        })
    };
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "opt_level", "speed")?;
    Ok(settings::Flags::new(flags))
}

impl JitModel {
    /// Compiles every function of `model`.
    pub fn compile(model: &ir::Model) -> Result<Self, CodegenError> {
        let functions = ModelFunctions::new(model);
        let isa = cranelift_native::builder()
            .map_err(|m| CodegenError::UnsupportedHost(m.to_string()))?
            .finish(isa_flags()?)
            .map_err(|e| CodegenError::UnsupportedHost(e.to_string()))?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for m in abi::math_functions() {
            builder.symbol(m.symbol, m.address);
        }
        let mut module = JITModule::new(builder);
        let ptr = module.target_config().pointer_type();
        let call_conv = module.target_config().default_call_conv;

        let mut math_ids = HashMap::new();
        for m in abi::math_functions() {
            let mut sig = module.make_signature();
            for _ in 0..m.arity {
                sig.params.push(AbiParam::new(types::F64));
            }
            sig.returns.push(AbiParam::new(types::F64));
            let id = module
                .declare_function(m.symbol, Linkage::Import, &sig)
                .map_err(|e| backend("imports")(e.to_string()))?;
            math_ids.insert(m.symbol, id);
        }

        let sig = abi::model_fn_signature(call_conv, ptr);
        let mut ctx = module.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let mut ids = Vec::new();
        // The nine functions, then the right-hand side split for solvers
        // (`dag::hoist`) when it has parameter-only operations.
        let hoisted = hoist::hoist(functions.get(FnKind::Rhs));
        let mut sources: Vec<(&'static str, &Function)> = FnKind::ALL
            .iter()
            .map(|&k| (k.symbol(), functions.get(k)))
            .collect();
        if let Some(h) = &hoisted {
            sources.push(("mido_rhs_invariants", &h.invariants));
            sources.push(("mido_rhs_core", &h.core));
        }
        for (name, function) in sources {
            let id = module
                .declare_function(name, Linkage::Local, &sig)
                .map_err(|e| backend(name)(e.to_string()))?;
            ctx.func.signature = sig.clone();
            ctx.func.name = UserFuncName::user(0, id.as_u32());
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
                let mut refs = HashMap::new();
                for (symbol, mid) in &math_ids {
                    refs.insert(*symbol, module.declare_func_in_func(*mid, b.func));
                }
                emit::emit(&mut b, function, &refs, module.target_config());
                b.finalize(module.target_config());
            }
            module
                .define_function(id, &mut ctx)
                .map_err(|e| backend(name)(format!("{e:?}")))?;
            module.clear_context(&mut ctx);
            ids.push(id);
        }
        module
            .finalize_definitions()
            .map_err(|e| backend("finalize")(e.to_string()))?;
        let finalized = |k: usize| {
            let code = module.get_finalized_function(ids[k]);
            // SAFETY: the function was defined with `model_fn_signature`,
            // which is the signature `ModelFn` spells out.
            unsafe { std::mem::transmute::<*const u8, ModelFn>(code) }
        };
        let fns = std::array::from_fn(finalized);
        let split_rhs = hoisted.map(|h| SplitRhs {
            invariants: finalized(FnKind::ALL.len()),
            core: finalized(FnKind::ALL.len() + 1),
            count: h.invariants.outputs.len(),
        });
        let info = model_info(model);
        Ok(JitModel {
            uses_time: functions.individual_uses_time(),
            fns,
            split_rhs,
            needs: FnKind::ALL.map(|k| Need::of(k, &info)),
            info,
            dose_props: model
                .states
                .iter()
                .map(|s| {
                    s.dose_props
                        .iter()
                        .map(|(p, id)| (*p, id.index()))
                        .collect()
                })
                .collect(),
            _code: Code(Some(module)),
        })
    }

    /// Calls a generated function after checking that every slice it
    /// touches is long enough, so no input can make it read or write out of
    /// bounds. The lengths were computed once at compile time; the checks are
    /// a few predictable comparisons.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        kind: FnKind,
        t: f64,
        theta: &[f64],
        eta: &[f64],
        cov: &[f64],
        y: &[f64],
        params: &[f64],
        out: &mut [f64],
    ) {
        let need = &self.needs[kind.index()];
        // Functions per record read theta and eta; functions per state read
        // amounts and parameters. Only what is read is compared.
        let per_subject = matches!(
            kind,
            FnKind::Individual | FnKind::IndividualJacEta | FnKind::IndividualJacTheta
        );
        let ok = if per_subject {
            theta.len() >= need.theta && eta.len() >= need.eta
        } else {
            y.len() >= need.y && params.len() >= need.params
        } && cov.len() >= need.cov
            && out.len() >= need.out;
        if !ok {
            slice_too_short(
                kind,
                need,
                [
                    theta.len(),
                    eta.len(),
                    cov.len(),
                    y.len(),
                    params.len(),
                    out.len(),
                ],
            );
        }
        // SAFETY: every slice holds at least as many values as the function
        // reads at compile-time-fixed offsets (checked above); `out` as many
        // as it writes.
        unsafe {
            (self.fns[kind.index()])(
                t,
                theta.as_ptr(),
                eta.as_ptr(),
                cov.as_ptr(),
                y.as_ptr(),
                params.as_ptr(),
                out.as_mut_ptr(),
            )
        }
    }

    /// The raw function pointer of a generated function, for benchmarks.
    pub fn raw(&self, kind: FnKind) -> ModelFn {
        self.fns[kind.index()]
    }
}

/// How many values a function reads from each slice and writes to `out`.
#[derive(Debug, Clone, Copy, Default)]
struct Need {
    theta: usize,
    eta: usize,
    cov: usize,
    y: usize,
    params: usize,
    out: usize,
}

impl Need {
    fn of(kind: FnKind, info: &ModelInfo) -> Need {
        let (nt, ne, nc, ns, np, no) = (
            info.thetas.len(),
            info.etas.len(),
            info.covariates.len(),
            info.states.len(),
            info.params.len(),
            info.observe_len(),
        );
        let per_subject = Need {
            theta: nt,
            eta: ne,
            cov: nc,
            ..Need::default()
        };
        let per_state = Need {
            cov: nc,
            y: ns,
            params: np,
            ..Need::default()
        };
        match kind {
            FnKind::Individual => Need {
                out: np,
                ..per_subject
            },
            FnKind::IndividualJacEta => Need {
                out: np * ne,
                ..per_subject
            },
            FnKind::IndividualJacTheta => Need {
                out: np * nt,
                ..per_subject
            },
            FnKind::Rhs => Need {
                out: ns,
                ..per_state
            },
            FnKind::RhsJacY => Need {
                out: ns * ns,
                ..per_state
            },
            FnKind::RhsJacP => Need {
                out: ns * np,
                ..per_state
            },
            FnKind::Observe => Need {
                out: no,
                ..per_state
            },
            FnKind::ObserveJacY => Need {
                out: no * ns,
                ..per_state
            },
            FnKind::ObserveJacP => Need {
                out: no * np,
                ..per_state
            },
        }
    }
}

/// A caller passed a slice shorter than the model's metadata says: a bug in
/// the caller, reported before any memory is touched.
#[cold]
#[inline(never)]
fn slice_too_short(kind: FnKind, need: &Need, got: [usize; 6]) -> ! {
    panic!(
        "{}: slices too short (theta, eta, cov, y, params, out): need {:?}, got {got:?}",
        kind.symbol(),
        [
            need.theta,
            need.eta,
            need.cov,
            need.y,
            need.params,
            need.out
        ]
    )
}

impl Model for JitModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn individual_uses_time(&self) -> bool {
        self.uses_time
    }

    fn individual(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, params: &mut [f64]) {
        self.call(FnKind::Individual, t, theta, eta, cov, &[], &[], params);
    }

    fn rhs(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], dydt: &mut [f64]) {
        self.call(FnKind::Rhs, t, &[], &[], cov, y, params, dydt);
    }

    fn native_rhs(&self) -> Option<NativeRhs> {
        let need = &self.needs[FnKind::Rhs.index()];
        let states = need.y.max(need.out);
        // SAFETY: the generated right-hand side (and its split) reads only
        // the covariates, amounts and parameters (`Need` counts how many of
        // each, from the model's metadata) and writes one derivative per
        // state; `mido_rhs_invariants` reads parameters and covariates only
        // and writes `count` values, which `mido_rhs_core` reads through
        // theta (`dag::hoist`).
        Some(unsafe {
            match self.split_rhs {
                Some(s) => NativeRhs::with_invariants(
                    s.core,
                    (s.invariants, s.count),
                    need.params,
                    need.cov,
                    states,
                ),
                _ => NativeRhs::new(self.raw(FnKind::Rhs), need.params, need.cov, states),
            }
        })
    }

    fn dose_props(&self, _t: f64, params: &[f64], _cov: &[f64], out: &mut [DoseProps]) {
        for (props, defs) in out.iter_mut().zip(&self.dose_props) {
            *props = DoseProps::default();
            for (prop, i) in defs {
                let v = params[*i];
                match prop {
                    DoseProp::Bioavailability => props.bioavailability = v,
                    DoseProp::Lag => props.lag = v,
                    DoseProp::Rate => props.rate = v,
                    DoseProp::Duration => props.duration = v,
                }
            }
        }
    }

    fn observe(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], out: &mut [f64]) {
        self.call(FnKind::Observe, t, &[], &[], cov, y, params, out);
    }

    fn rhs_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.call(FnKind::RhsJacY, t, &[], &[], cov, y, params, jac);
    }

    fn rhs_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.call(FnKind::RhsJacP, t, &[], &[], cov, y, params, jac);
    }

    fn individual_jac_eta(&self, theta: &[f64], eta: &[f64], cov: &[f64], t: f64, jac: &mut [f64]) {
        self.call(FnKind::IndividualJacEta, t, theta, eta, cov, &[], &[], jac);
    }

    fn individual_jac_theta(
        &self,
        theta: &[f64],
        eta: &[f64],
        cov: &[f64],
        t: f64,
        jac: &mut [f64],
    ) {
        self.call(
            FnKind::IndividualJacTheta,
            t,
            theta,
            eta,
            cov,
            &[],
            &[],
            jac,
        );
    }

    fn observe_jac_y(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.call(FnKind::ObserveJacY, t, &[], &[], cov, y, params, jac);
    }

    fn observe_jac_p(&self, t: f64, y: &[f64], params: &[f64], cov: &[f64], jac: &mut [f64]) {
        self.call(FnKind::ObserveJacP, t, &[], &[], cov, y, params, jac);
    }
}

//! The mido compiler: from model text to a runnable model.
//!
//! Stages, each one public function: [`parse`] (text → AST, in the grammar
//! crate), [`check`] (AST → typed IR, with diagnostics), and
//! [`compile_model`], which runs them all and returns a model the runtime
//! can execute: native code from [`codegen`] (Cranelift), or the reference
//! [`interp`]reter.
//!
//! Architecture invariants: the checker knows nothing of code generation;
//! code generation sees only the typed IR (through the DAGs of
//! [`functions`]); the runtime sees the result only through
//! `mido_runtime::model::Model`.

#![deny(clippy::unwrap_used)]

pub mod check;
pub mod codegen;
pub mod dag;
pub mod diagnostic;
pub mod error;
pub mod functions;
pub mod interp;
pub mod ir;
pub mod pretty;
pub mod scenario;
pub mod suggest;
pub mod variant;

pub use check::check;
pub use diagnostic::{render_plain, Diagnostic};
pub use error::Error;
pub use mido_grammar::parse;

/// The outcome of compiling a model file: the IR when valid, and every
/// diagnostic found.
#[derive(Debug)]
pub struct Compiled {
    pub model: Option<ir::Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks a model's source text. Syntax errors and semantic errors
/// are reported together: the checker runs on whatever the parser recovered.
pub fn compile_source(source: &str) -> Compiled {
    let (file, syntax_errors) = parse(source);
    let mut errors: Vec<Error> = syntax_errors.into_iter().map(Error::Syntax).collect();
    let mut model = None;
    if let Some(file) = file {
        let (ir, check_errors) = check(&file);
        // After a syntax error the tree has holes; semantic errors about
        // what is missing would be noise, so keep only those that stand alone.
        if errors.is_empty() {
            errors.extend(check_errors);
            model = ir;
        } else {
            errors.extend(check_errors.into_iter().filter(survives_syntax_errors));
        }
    }
    Compiled {
        model,
        diagnostics: errors.iter().map(Error::diagnostic).collect(),
    }
}

/// Semantic errors still worth reporting when the parse was incomplete:
/// those that do not depend on statements the parser may have dropped.
fn survives_syntax_errors(e: &Error) -> bool {
    !matches!(
        e,
        Error::UnusedRandomEffect { .. }
            | Error::UnusedFixedEffect { .. }
            | Error::CompartmentWithoutOde { .. }
            | Error::MissingBlock { .. }
            | Error::ObservationCount { .. }
            | Error::UseBeforeDefinition { .. }
            | Error::UnknownName { .. }
    )
}

/// The engine that runs a compiled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Native code generated with Cranelift (the default).
    #[default]
    Jit,
    /// The reference interpreter of the typed IR.
    Interp,
}

/// Why model text did not become a runnable model.
#[derive(Debug)]
pub enum CompileError {
    /// Mistakes in the model text.
    Diagnostics(Vec<Diagnostic>),
    /// Native code generation failed.
    Codegen(codegen::CodegenError),
}

/// Compiles model text to a runnable model on the chosen engine.
pub fn compile_model(
    source: &str,
    engine: Engine,
) -> Result<Box<dyn mido_runtime::model::Model>, CompileError> {
    let compiled = compile_source(source);
    let model = match compiled.model {
        Some(model) if !compiled.has_errors() => model,
        _ => return Err(CompileError::Diagnostics(compiled.diagnostics)),
    };
    lower_to_engine(model, engine)
}

/// Turns checked IR into a runnable model on the chosen engine.
pub fn lower_to_engine(
    model: ir::Model,
    engine: Engine,
) -> Result<Box<dyn mido_runtime::model::Model>, CompileError> {
    match engine {
        Engine::Jit => codegen::JitModel::compile(&model)
            .map(|m| Box::new(m) as Box<dyn mido_runtime::model::Model>)
            .map_err(CompileError::Codegen),
        Engine::Interp => Ok(Box::new(interp::Interpreter::new(model))),
    }
}

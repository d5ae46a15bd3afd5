//! mido: a modeling language and engine for model-informed dose exploration
//! and optimization.
//!
//! This crate is the `mido` command and a thin facade over the stages:
//! [`grammar`] (text → AST), [`compiler`] (AST → typed IR → runnable model),
//! [`runtime`] (data, events, solvers, simulation) and [`stdlib`] (the model
//! library).

pub use mido_compiler as compiler;
pub use mido_grammar as grammar;
pub use mido_runtime as runtime;
pub use mido_stdlib as stdlib;

pub mod cli;
pub mod scenario;

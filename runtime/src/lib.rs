//! The mido runtime: datasets and dosing events, ODE solvers and simulation.
//!
//! Architecture invariant: the runtime sees a model only through
//! [`model::Model`] and its [`model::ModelInfo`]; it never depends on the
//! grammar or the compiler.

#![deny(clippy::unwrap_used)]

pub mod data;
pub mod estimate;
pub mod evaluate;
pub mod events;
pub mod explore;
pub mod format;
pub mod model;
pub mod pk;
pub mod random;
pub mod simulate;
pub mod solver;

//! Scenario files to explorations: the checked scenario (from
//! `mido_compiler::scenario`) lowered to the engine's
//! `mido_runtime::explore` types, with the files it names read.
//!
//! This lives in the `mido` package because it needs both sides: the
//! compiler's checked scenario and the runtime's exploration types (the
//! compiler sees only the runtime's model interface). `inputs` reads the
//! estimates and datasets a scenario names (the only file access);
//! `lower` is a pure mapping.

mod inputs;
mod lower;

pub use inputs::{read_inputs, InputFile, Inputs};
pub use lower::{lower, Lowered};

//! `mido check MODEL`: diagnostics only.

use super::{load_model, Failure};
use std::path::Path;

pub fn run(path: &Path, ir: bool, derivatives: bool) -> Result<(), Failure> {
    let (_, compiled) = load_model(path)?;
    if let Some(model) = &compiled.model {
        if ir {
            print!("{}", mido_compiler::pretty::print_model(model));
        }
        if derivatives {
            print!("{}", mido_compiler::functions::print_functions(model));
        }
        if !ir && !derivatives {
            eprintln!("{}: ok", path.display());
        }
    }
    Ok(())
}

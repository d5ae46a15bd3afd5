//! `mido check MODEL`: diagnostics only.

use super::{load_model, Failure};
use std::path::Path;

pub fn run(path: &Path, ir: bool) -> Result<(), Failure> {
    let (_, compiled) = load_model(path)?;
    if let Some(model) = &compiled.model {
        if ir {
            print!("{}", mido_compiler::pretty::print_model(model));
        } else {
            eprintln!("{}: ok", path.display());
        }
    }
    Ok(())
}

//! `mido check FILE`: diagnostics only, for a model or a scenario (with
//! the model it names).

use super::{load_model, Failure};
use std::path::Path;

pub fn run(path: &Path, ir: bool, derivatives: bool) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read model file {}: {e}", path.display())))?;
    if mido_compiler::scenario::is_scenario(&text) {
        super::explore::load(path)?;
        eprintln!("{}: ok", path.display());
        return Ok(());
    }
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

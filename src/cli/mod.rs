//! The `mido` command line.
//!
//! Exit codes: 0 success; 1 the model, the data or the run is wrong (the
//! diagnostics say where); 2 usage or file-system errors.

mod check;
mod estimates;
mod fit;
mod output;
mod simulate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mido",
    version,
    about = "Model-informed dose exploration and optimization"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a model file and report every mistake in it.
    Check {
        /// The model file (.mido).
        model: PathBuf,
        /// Print the typed IR of a valid model.
        #[arg(long)]
        ir: bool,
        /// Print the compiled functions and their symbolic derivatives.
        #[arg(long)]
        derivatives: bool,
    },
    /// Simulate a dataset's design with a model's parameter values.
    Simulate(simulate::Args),
    /// Estimate a model's population parameters from a dataset (FOCEI, FOCE,
    /// FO, Laplace).
    Fit(fit::Args),
}

/// Why a command failed, deciding the exit code.
pub enum Failure {
    /// The model, the data or the run: exit 1.
    Input(String),
    /// Usage or the file system: exit 2.
    Usage(String),
    /// Diagnostics were already printed: exit 1.
    Reported,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            model,
            ir,
            derivatives,
        } => check::run(&model, ir, derivatives),
        Command::Simulate(args) => simulate::run(&args),
        Command::Fit(args) => fit::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Reads a model file and compiles it, printing diagnostics on failure.
pub(crate) fn load_model(
    path: &std::path::Path,
) -> Result<(String, mido_compiler::Compiled), Failure> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read model file {}: {e}", path.display())))?;
    let compiled = mido_compiler::compile_source(&source);
    if compiled.has_errors() {
        mido_compiler::diagnostic::emit_to_stderr(
            &compiled.diagnostics,
            &path.display().to_string(),
            &source,
        );
        let n = compiled.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!(
            "error: {} has {n} error{}",
            path.display(),
            if n == 1 { "" } else { "s" }
        );
        return Err(Failure::Reported);
    }
    Ok((source, compiled))
}

//! The `mido` command line.
//!
//! Exit codes: 0 success; 1 the model, the data or the run is wrong (the
//! diagnostics say where); 2 usage or file-system errors.

mod bootstrap;
mod check;
mod compare;
mod diagnostic_plots;
mod estimates;
mod explore;
mod explore_plots;
mod explore_report;
mod fit;
mod output;
mod plot;
mod report;
mod scm;
mod simulate;
mod vpc;

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
    /// Check a model or scenario file and report every mistake in it.
    Check {
        /// The model or scenario file (.mido).
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
    /// Simulate a scenario's virtual populations under its candidate
    /// regimens: exposure metrics, target attainment, a recommended regimen.
    Explore(explore::Args),
    /// Bootstrap a fit: refit datasets resampled by subject, with
    /// percentile confidence intervals; resumable and shardable.
    Bootstrap(bootstrap::Args),
    /// Compare two fits of the same data: likelihood-ratio test, AIC, BIC.
    Compare(compare::Args),
    /// Visual predictive check (VPC, pcVPC) of a model on its data.
    Vpc(vpc::Args),
    /// Stepwise covariate modeling: forward inclusion and backward
    /// elimination of covariate effects by likelihood-ratio tests.
    Scm(scm::Args),
    /// Diagnostic plots (SVG) of a fit.
    Plot(plot::Args),
    /// One self-contained HTML report of a fit (estimates, diagnostics,
    /// VPC and bootstrap when given, model, run record).
    Report(report::Args),
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
        Command::Explore(args) => explore::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Vpc(args) => vpc::run(&args),
        Command::Scm(args) => scm::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Report(args) => report::run(&args),
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

/// Compiles a model file to a runnable model on `engine`; returns the
/// source too (for the run record).
pub(crate) fn compile_for_run(
    path: &std::path::Path,
    engine: mido_compiler::Engine,
) -> Result<(String, Box<dyn mido_runtime::model::Model>), Failure> {
    let (source, compiled) = load_model(path)?;
    let Some(ir) = compiled.model else {
        return Err(Failure::Reported);
    };
    let model = mido_compiler::lower_to_engine(ir, engine).map_err(|e| match e {
        mido_compiler::CompileError::Codegen(e) => Failure::Input(e.to_string()),
        mido_compiler::CompileError::Diagnostics(_) => Failure::Reported,
    })?;
    Ok((source, model))
}

/// Reads a dataset for `info`; `verb` says what was not done when it has
/// errors ("simulated", "fitted"). Returns the text too (for its hash).
pub(crate) fn read_dataset(
    path: &std::path::Path,
    info: &mido_runtime::model::ModelInfo,
    verb: &str,
) -> Result<(String, mido_runtime::data::Dataset), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read dataset {}: {e}", path.display())))?;
    let data = mido_runtime::data::Dataset::parse(
        &text,
        &path.display().to_string(),
        &mido_runtime::data::DataSpec::from_info(info),
    )
    .map_err(|e| Failure::Input(format!("the dataset has errors; nothing was {verb}\n{e}")))?;
    Ok((text, data))
}

/// The index of the model covariate `name` (case-insensitive) for the
/// option `flag`, or a usage error listing the model's covariates.
pub(crate) fn covariate_index(
    info: &mido_runtime::model::ModelInfo,
    flag: &str,
    name: &str,
) -> Result<usize, Failure> {
    info.covariates
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<&str> = info.covariates.iter().map(|c| c.name.as_str()).collect();
            Failure::Usage(format!(
                "{flag} {name}: the model has no covariate {name} (its covariates: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

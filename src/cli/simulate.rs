//! `mido simulate MODEL`: the dataset's design run through the model.

use super::output::OutDir;
use super::{compile_for_run, read_dataset, Failure};
use mido_compiler::Engine;
use mido_runtime::simulate::{simulate, SimOptions};
use mido_runtime::solver::{Method, SolverOptions};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The model file (.mido).
    model: PathBuf,
    /// NONMEM-format dataset; default: the file the model names with `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Directory for `simulation.csv`; without it the table goes to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace results already in the --out directory.
    #[arg(long)]
    force: bool,
    /// Parameter values (fixed effects and OMEGA) from a fit's
    /// estimates.json instead of the model's initial values.
    #[arg(long)]
    params: Option<PathBuf>,
    /// Seed of the random draws (random effects and residual errors).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Typical subjects: no random effects and no residual error.
    #[arg(long)]
    typical: bool,
    /// Relative tolerance of the ODE solver.
    #[arg(long, default_value_t = SolverOptions::default().rtol)]
    rtol: f64,
    /// Absolute tolerance of the ODE solver.
    #[arg(long, default_value_t = SolverOptions::default().atol)]
    atol: f64,
    /// ODE method: auto (explicit Dormand–Prince 8(5,3), switching to the
    /// stiff Rodas4 when stiffness is detected), explicit (DOP853 only),
    /// dopri5 (Dormand–Prince 5(4) only), or stiff.
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    method: MethodArg,
    /// Solve a closed-form model (`pk ...`) through its ODEs instead of
    /// analytically.
    #[arg(long)]
    ode: bool,
    /// Print solver statistics (steps, evaluations, method switches).
    #[arg(long, short)]
    verbose: bool,
    /// How the model runs: native code (jit) or the reference interpreter.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    Auto,
    Explicit,
    Dopri5,
    Stiff,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Auto => Method::Auto,
            MethodArg::Explicit => Method::Explicit,
            MethodArg::Dopri5 => Method::Dopri5,
            MethodArg::Stiff => Method::Stiff,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EngineArg {
    Jit,
    Interp,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Jit => Engine::Jit,
            EngineArg::Interp => Engine::Interp,
        }
    }
}

const TABLE: &str = "simulation.csv";

pub fn run(args: &Args) -> Result<(), Failure> {
    let (_, model) = compile_for_run(&args.model, args.engine.into())?;
    let from_file = match &args.params {
        Some(path) => {
            let (theta, omega) = super::estimates::read_for_model(path, model.info())?;
            Some(super::estimates::WithEstimates::new(
                model.as_ref(),
                &theta,
                &omega,
            ))
        }
        None => None,
    };
    let model: &dyn mido_runtime::model::Model = match &from_file {
        Some(m) => m,
        None => model.as_ref(),
    };
    let info = model.info();
    let data_path = data_path(&args.model, args.data.as_deref(), info.data_file.as_deref())?;

    let out = match &args.out {
        Some(dir) => {
            let out = OutDir::new(dir, args.force)?;
            out.ensure_free(&[TABLE])?;
            Some(out)
        }
        None => None,
    };

    let (_, data) = read_dataset(&data_path, info, "simulated")?;

    if !(args.rtol > 0.0 && args.atol > 0.0) {
        return Err(Failure::Usage("--rtol and --atol must be positive".into()));
    }
    let opts = SimOptions {
        seed: args.seed,
        typical: args.typical,
        closed_form: !args.ode,
        solver: SolverOptions {
            rtol: args.rtol,
            atol: args.atol,
            method: args.method.into(),
            ..SolverOptions::default()
        },
    };
    let table = simulate(model, &data, &info.theta_init(), &opts)
        .map_err(|e| Failure::Input(e.to_string()))?;
    if args.verbose {
        let s = &table.stats;
        eprintln!(
            "solver: {} accepted and {} rejected steps, {} right-hand-side and {} Jacobian evaluations, \
             {} LU decompositions, {} switches to the stiff method",
            s.accepted, s.rejected, s.rhs_evals, s.jac_evals, s.lu_decomps, s.stiff_switches
        );
    }

    match out {
        Some(out) => {
            let path = out.write(TABLE, |w| table.write_csv(w))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            table
                .write_csv(&mut lock)
                .map_err(|e| Failure::Usage(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(())
}

/// The dataset to read: `--data`, else the model's `data` relative to the
/// model file.
pub(crate) fn data_path(
    model: &Path,
    flag: Option<&Path>,
    declared: Option<&str>,
) -> Result<PathBuf, Failure> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    match declared {
        Some(rel) => Ok(model.parent().unwrap_or(Path::new(".")).join(rel)),
        None => Err(Failure::Usage(format!(
            "no dataset: pass --data FILE or name one in {} with `data \"file.csv\"`",
            model.display()
        ))),
    }
}

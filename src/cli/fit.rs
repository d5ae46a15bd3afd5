//! `mido fit MODEL`: population estimation, with a NONMEM-familiar summary
//! on stdout and machine-readable results in the output directory.

use super::estimates;
use super::output::OutDir;
use super::simulate::{data_path, EngineArg};
use super::{compile_for_run, read_dataset, Failure};
use mido_runtime::data::Dataset;
use mido_runtime::estimate::{fit, CovarianceKind, FitOptions, FitResult, Iteration, Method};
use mido_runtime::evaluate::npde::{npde, NpdeOptions, NpdeValue};
use mido_runtime::model::Model;
use mido_runtime::solver::SolverOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (.mido).
    model: PathBuf,
    /// NONMEM-format dataset; default: the file the model names with `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Estimation method.
    #[arg(long, value_enum, default_value_t = MethodArg::Focei)]
    method: MethodArg,
    /// Output directory; default: `<model>-fit` beside the model file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace results already in the output directory.
    #[arg(long)]
    force: bool,
    /// Starting values from an earlier fit's estimates.json.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Covariance step: the sandwich R⁻¹SR⁻¹, R⁻¹, S⁻¹, or none.
    #[arg(long, value_enum, default_value_t = CovArg::Sandwich)]
    covariance: CovArg,
    /// Most outer (BFGS) iterations.
    #[arg(long, default_value_t = 500)]
    max_iterations: usize,
    /// Relative tolerance of the ODE solver.
    #[arg(long, default_value_t = FitOptions::default().solver.rtol)]
    rtol: f64,
    /// Absolute tolerance of the ODE solver.
    #[arg(long, default_value_t = FitOptions::default().solver.atol)]
    atol: f64,
    /// Solve a closed-form model (`pk ...`) through its ODEs instead of
    /// analytically.
    #[arg(long)]
    ode: bool,
    /// Add NPDE and PD columns to sdtab.csv, from this many simulations
    /// of the design with the final estimates (e.g. 1000; at least 100).
    #[arg(long, value_name = "SIMULATIONS")]
    npde: Option<usize>,
    /// Seed of the NPDE simulations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// How the model runs: native code (jit) or the reference interpreter.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    Focei,
    Foce,
    Fo,
    Laplace,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Focei => Method::Focei,
            MethodArg::Foce => Method::Foce,
            MethodArg::Fo => Method::Fo,
            MethodArg::Laplace => Method::Laplace,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CovArg {
    Sandwich,
    R,
    S,
    None,
}

impl From<CovArg> for CovarianceKind {
    fn from(c: CovArg) -> Self {
        match c {
            CovArg::Sandwich => CovarianceKind::Sandwich,
            CovArg::R => CovarianceKind::R,
            CovArg::S => CovarianceKind::S,
            CovArg::None => CovarianceKind::None,
        }
    }
}

/// The files a fit writes.
const FILES: [&str; 4] = ["estimates.json", "sdtab.csv", "iterations.csv", "run.json"];

pub fn run(args: &Args) -> Result<(), Failure> {
    let started = Instant::now();
    let (source, model) = compile_for_run(&args.model, args.engine.into())?;
    let model = model.as_ref();
    let info = model.info();
    let data_path = data_path(&args.model, args.data.as_deref(), info.data_file.as_deref())?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| super::output::default_out(&args.model, "fit"));
    let out = OutDir::new(&out_dir, args.force)?;
    out.ensure_free(&FILES)?;

    let (data_text, data) = read_dataset(&data_path, info, "fitted")?;
    if !(args.rtol > 0.0 && args.atol > 0.0) {
        return Err(Failure::Usage("--rtol and --atol must be positive".into()));
    }
    let start = match &args.init {
        Some(path) => Some(estimates::read_for_model(path, info)?),
        None => None,
    };
    let opts = FitOptions {
        method: args.method.into(),
        solver: SolverOptions {
            rtol: args.rtol,
            atol: args.atol,
            ..FitOptions::default().solver
        },
        max_iterations: args.max_iterations,
        covariance: args.covariance.into(),
        closed_form: !args.ode,
        start,
    };
    let quiet = args.quiet;
    // The iterations as they come, kept for a fit that fails.
    let mut seen: Vec<Iteration> = Vec::new();
    let mut progress = |it: &Iteration| {
        if !quiet {
            eprintln!(
                "iteration {:>4}  OFV {:>16.6}  gradient {:>10.3e}  evaluations {}",
                it.iteration, it.ofv, it.gradient, it.evaluations
            );
        }
        seen.push(it.clone());
    };
    let outcome = fit(model, &data, &opts, &mut progress);
    let elapsed = started.elapsed().as_secs_f64();
    let mut run = RunRecord {
        model_path: &args.model,
        model_source: &source,
        data_path: &data_path,
        data_text: &data_text,
        opts: &opts,
        elapsed,
        error: None,
        npde: args.npde.map(|n| (n, args.seed)),
    };
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            // Write what there is: the run record with the reason, and the
            // iterations the search made before it stopped.
            let message = format!("the fit failed: {e}");
            run.error = Some(&message);
            out.write("iterations.csv", |w| write_iteration_log(w, &seen))?;
            let path = out.write("run.json", |w| run.write(w))?;
            if let Some(dir) = path.parent() {
                eprintln!(
                    "wrote iterations.csv, run.json (with the reason) in {}",
                    dir.display()
                );
            }
            return Err(Failure::Input(message));
        }
    };

    let summary = estimates::summary(model, &data, &result, elapsed);
    print!("{summary}");
    out.write("estimates.json", |w| {
        estimates::write_json(w, model, &data, &result, elapsed)
    })?;
    // A failed NPDE computation loses nothing else: the sdtab is written
    // without its columns, and the command fails at the end.
    let npde = args.npde.map(|samples| {
        let fitted = estimates::WithEstimates::new(model, &result.theta, &result.omega);
        let opts = NpdeOptions {
            samples,
            seed: args.seed,
            solver: opts.solver,
            closed_form: opts.closed_form,
        };
        npde(&fitted, &data, &result.theta, &opts)
    });
    let npde_values = npde.as_ref().and_then(|r| r.as_ref().ok());
    out.write("sdtab.csv", |w| {
        write_sdtab(w, model, &data, &result, npde_values.map(Vec::as_slice))
    })?;
    out.write("iterations.csv", |w| write_iterations(w, &result))?;
    let path = out.write("run.json", |w| run.write(w))?;
    if let Some(dir) = path.parent() {
        eprintln!(
            "wrote estimates.json, sdtab.csv, iterations.csv, run.json in {}",
            dir.display()
        );
    }
    if let Some(Err(e)) = npde {
        return Err(Failure::Input(format!(
            "the NPDE could not be computed ({e}); sdtab.csv has no NPDE columns"
        )));
    }
    Ok(())
}

fn num(v: f64) -> String {
    mido_runtime::format::fmt_num(v)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, num)
}

/// NONMEM-like table: ID, TIME, DV, MDV, PRED, IPRED, RES, WRES, CWRES,
/// IWRES, with `npde` also PD and NPDE, and each eta, one row per
/// observation record.
fn write_sdtab(
    w: &mut dyn Write,
    model: &dyn Model,
    data: &Dataset,
    r: &FitResult,
    npde: Option<&[NpdeValue]>,
) -> std::io::Result<()> {
    let info = model.info();
    write!(w, "ID,TIME,DV,PRED,IPRED,RES,WRES,CWRES,IWRES")?;
    if npde.is_some() {
        write!(w, ",PD,NPDE")?;
    }
    for e in &info.etas {
        write!(w, ",{}", e.name)?;
    }
    writeln!(w)?;
    let npde_of = |subject: usize, record: usize| {
        npde.and_then(|v| {
            v.binary_search_by(|x| (x.subject, x.record).cmp(&(subject, record)))
                .ok()
                .map(|i| &v[i])
        })
    };
    for row in &r.diagnostics.rows {
        let subject = &data.subjects[row.subject];
        let rec = &subject.records[row.record];
        write!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            subject.label,
            num(rec.time),
            opt(rec.dv),
            num(row.pred),
            num(row.ipred),
            opt(row.res),
            opt(row.wres),
            opt(row.cwres),
            opt(row.iwres)
        )?;
        if npde.is_some() {
            match npde_of(row.subject, row.record) {
                Some(v) => write!(w, ",{},{}", num(v.pd), num(v.npde))?,
                None => write!(w, ",,")?,
            }
        }
        for e in &r.subjects[row.subject].eta {
            write!(w, ",{}", num(*e))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn write_iterations(w: &mut dyn Write, r: &FitResult) -> std::io::Result<()> {
    write_iteration_log(w, &r.log)
}

fn write_iteration_log(w: &mut dyn Write, log: &[Iteration]) -> std::io::Result<()> {
    writeln!(w, "iteration,ofv,gradient,evaluations")?;
    for it in log {
        writeln!(
            w,
            "{},{},{},{}",
            it.iteration,
            num(it.ofv),
            num(it.gradient),
            it.evaluations
        )?;
    }
    Ok(())
}

/// What was run, to trace and reproduce a result.
struct RunRecord<'a> {
    model_path: &'a Path,
    model_source: &'a str,
    data_path: &'a Path,
    data_text: &'a str,
    opts: &'a FitOptions,
    elapsed: f64,
    /// Why the fit failed, when it did.
    error: Option<&'a str>,
    /// NPDE simulations and their seed, when asked.
    npde: Option<(usize, u64)>,
}

impl RunRecord<'_> {
    fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let v = serde_json::json!({
            "mido_version": env!("CARGO_PKG_VERSION"),
            "command": std::env::args().collect::<Vec<_>>(),
            "model": {
                "path": self.model_path.display().to_string(),
                "sha256": estimates::sha256_hex(self.model_source.as_bytes()),
            },
            "data": {
                "path": self.data_path.display().to_string(),
                "sha256": estimates::sha256_hex(self.data_text.as_bytes()),
            },
            "options": {
                "method": self.opts.method.name(),
                "covariance": self.opts.covariance.name(),
                "max_iterations": self.opts.max_iterations,
                "rtol": self.opts.solver.rtol,
                "atol": self.opts.solver.atol,
                "initial_values": if self.opts.start.is_some() { "from --init" } else { "model" },
                "npde_simulations": self.npde.map(|(n, _)| n),
            },
            "seed": self.npde.map(|(_, seed)| seed),
            "run_time_seconds": self.elapsed,
            "status": if self.error.is_some() { "failed" } else { "completed" },
            "error": self.error,
        });
        serde_json::to_writer_pretty(&mut *w, &v)?;
        writeln!(w)
    }
}

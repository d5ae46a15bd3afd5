//! `mido explore SCENARIO`: virtual populations × candidate regimens, with
//! a readable report on stdout and tables and a run record in the output
//! directory (docs/explore.md says how to read each).

use super::output::OutDir;
use super::simulate::EngineArg;
use super::Failure;
use crate::scenario::{lower, read_inputs, InputFile};
use mido_compiler::diagnostic::{emit_to_stderr, Diagnostic};
use mido_compiler::scenario::{compile_scenario, ScenarioError};
use mido_runtime::explore::{explore_with_progress, optimize, Exploration, SearchOutcome};
use mido_runtime::model::Model;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (.mido).
    scenario: PathBuf,
    /// Output directory; default: `<scenario>-explore` beside the scenario file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace results already in the output directory.
    #[arg(long)]
    force: bool,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Seed of every random draw (overrides the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Threads simulating subjects; default: every core. Results do not
    /// depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// How the model runs: native code (jit) or the reference interpreter.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
}

/// The files an exploration writes.
const FILES: [&str; 7] = [
    "results.csv",
    "results.json",
    "subjects.csv",
    "searches.csv",
    "profiles.csv",
    "plots",
    "run.json",
];

/// A scenario file checked against its model.
pub(crate) struct Loaded {
    pub source: String,
    pub scenario: mido_compiler::scenario::ir::Scenario,
    pub model: mido_compiler::ir::Model,
    pub model_path: PathBuf,
    pub model_text: String,
}

/// Reads and checks a scenario and its model, printing every diagnostic of
/// both files on failure.
pub(crate) fn load(path: &Path) -> Result<Loaded, Failure> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        Failure::Usage(format!("cannot read scenario file {}: {e}", path.display()))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut model_file: Option<(PathBuf, String)> = None;
    let checked = compile_scenario(&source, |rel| {
        let model_path = base.join(rel);
        let text = std::fs::read_to_string(&model_path)
            .map_err(|e| format!("{}: {e}", model_path.display()))?;
        let compiled = mido_compiler::compile_source(&text);
        if compiled.has_errors() {
            emit_to_stderr(
                &compiled.diagnostics,
                &model_path.display().to_string(),
                &text,
            );
            let n = compiled.diagnostics.iter().filter(|d| d.is_error()).count();
            return Err(format!(
                "{} has {n} error{} (shown above)",
                model_path.display(),
                plural(n)
            ));
        }
        let model = compiled
            .model
            .ok_or_else(|| "the model did not compile".to_string())?;
        model_file = Some((model_path, text));
        Ok(model)
    });
    if checked.has_errors() {
        return Err(report(&checked.diagnostics, path, &source));
    }
    match (checked.scenario, checked.model, model_file) {
        (Some(scenario), Some(model), Some((model_path, model_text))) => Ok(Loaded {
            source,
            scenario,
            model,
            model_path,
            model_text,
        }),
        _ => Err(Failure::Reported),
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let started = Instant::now();
    let path = &args.scenario;
    let Loaded {
        source,
        scenario,
        model: model_ir,
        model_path,
        model_text,
    } = load(path)?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let model =
        mido_compiler::lower_to_engine(model_ir, args.engine.into()).map_err(|e| match e {
            mido_compiler::CompileError::Codegen(e) => Failure::Input(e.to_string()),
            mido_compiler::CompileError::Diagnostics(_) => Failure::Reported,
        })?;
    let model = model.as_ref();
    let inputs = read_inputs(&scenario, model.info(), &base).map_err(|errors| {
        let diags: Vec<Diagnostic> = errors.iter().map(ScenarioError::diagnostic).collect();
        report(&diags, path, &source)
    })?;
    for name in &inputs.parameters.missing {
        eprintln!("warning: the estimates file has no value for `{name}`; the model's initial value is used");
    }
    let params_file = inputs.params_file.clone();
    let data_files: Vec<(String, InputFile)> = inputs
        .datasets
        .iter()
        .map(|(n, _, f)| (n.clone(), f.clone()))
        .collect();
    let mut lowered = lower(&scenario, inputs);
    if let Some(seed) = args.seed {
        lowered.scenario.seed = seed;
    }

    if args.threads == Some(0) {
        return Err(Failure::Usage("--threads must be at least 1".into()));
    }
    let out_dir = args.out.clone().unwrap_or_else(|| default_out(path));
    let out = OutDir::new(&out_dir, args.force)?;
    out.ensure_free(&FILES)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the threads: {e}")))?;
    let prepared_at = started.elapsed().as_secs_f64();

    let s = &lowered.scenario;
    let mut record = RunRecord {
        scenario: (path, &source),
        model: (&model_path, &model_text),
        params: params_file.as_ref(),
        data: &data_files,
        seed: s.seed,
        threads: pool.current_num_threads(),
        args,
        timings: (prepared_at, 0.0, 0.0),
        subjects: s.populations.iter().map(|p| p.size).sum::<usize>() * s.variability.replicates,
        variability: s.variability,
        error: None,
    };
    let bar = progress_bar(args.quiet, (s.regimens.len() * s.populations.len()) as u64);
    let outcome = pool.install(|| {
        explore_with_progress(model, s, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .map_err(|e| format!("the exploration failed: {e}"))
        .and_then(|exploration| {
            let mut searches = Vec::new();
            for (name, search) in &lowered.searches {
                let outcome = optimize(model, s, search)
                    .map_err(|e| format!("dose search `{name}` failed: {e}"))?;
                searches.push((name.clone(), search.clone(), outcome));
            }
            Ok((exploration, searches))
        })
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    record.timings = (prepared_at, elapsed - prepared_at, elapsed);
    let (exploration, searches) = match outcome {
        Ok(x) => x,
        Err(message) => {
            // The run record says what was tried and why it failed.
            record.error = Some(message.clone());
            let written = out.write("run.json", |w| record.write(w))?;
            eprintln!(
                "wrote run.json (with the reason) in {}",
                written.parent().unwrap_or(Path::new(".")).display()
            );
            return Err(Failure::Input(message));
        }
    };

    print!(
        "{}",
        super::explore_report::report(&scenario.name, s, &exploration, &searches)
    );
    out.write("results.csv", |w| exploration.write_csv(w))?;
    out.write("results.json", |w| exploration.write_json(w))?;
    out.write("subjects.csv", |w| write_subjects(w, model, &exploration))?;
    out.write("searches.csv", |w| write_searches(w, &searches))?;
    out.write("profiles.csv", |w| exploration.write_profiles_csv(w))?;
    let plots = super::explore_plots::render_all(&exploration)
        .map_err(|e| Failure::Input(format!("cannot render the plots: {e}")))?;
    let plot_dir = OutDir::new(&out.path().join("plots"), true)?;
    for p in &plots {
        plot_dir.write(&p.file, |w| w.write_all(p.svg.as_bytes()))?;
    }
    record.timings.2 = started.elapsed().as_secs_f64();
    let written = out.write("run.json", |w| record.write(w))?;
    if let Some(dir) = written.parent() {
        eprintln!("wrote {} in {}", FILES.join(", "), dir.display());
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Prints a scenario's diagnostics and the count.
fn report(diagnostics: &[Diagnostic], path: &Path, source: &str) -> Failure {
    emit_to_stderr(diagnostics, &path.display().to_string(), source);
    let n = diagnostics.iter().filter(|d| d.is_error()).count();
    eprintln!("error: {} has {n} error{}", path.display(), plural(n));
    Failure::Reported
}

fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(
        || "scenario".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    scenario
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{stem}-explore"))
}

/// A bar over the regimen × population simulations; hidden with `--quiet`
/// or when stderr is not a terminal.
fn progress_bar(quiet: bool, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "simulating {bar:30} {pos}/{len} regimen × population [{elapsed}]",
    ) {
        bar.set_style(style);
    }
    bar
}

fn num(x: f64) -> String {
    mido_runtime::format::fmt_num(x)
}

/// Every virtual subject's covariates, administered dose and metrics.
fn write_subjects(w: &mut dyn Write, model: &dyn Model, x: &Exploration) -> std::io::Result<()> {
    let info = model.info();
    let Some(first) = x.values.first() else {
        return Ok(());
    };
    let mut header = String::from("regimen,population,replicate,subject,total_dose");
    for c in &info.covariates {
        let _ = write!(header, ",{}", c.name);
    }
    for m in &first.metric_names {
        let _ = write!(header, ",{m}");
    }
    writeln!(w, "{header}")?;
    let nc = info.covariates.len();
    for v in &x.values {
        let n = v.n_subjects();
        let per = n / v.replicates.max(1);
        let nm = v.metric_names.len();
        for k in 0..n {
            write!(
                w,
                "{},{},{},{},{}",
                csv_field(&v.regimen),
                csv_field(&v.population),
                k / per.max(1) + 1,
                k % per.max(1) + 1,
                num(v.administered[k])
            )?;
            for c in &v.covariates[k * nc..(k + 1) * nc] {
                write!(w, ",{}", num(*c))?;
            }
            for m in &v.metrics[k * nm..(k + 1) * nm] {
                write!(w, ",{}", num(*m))?;
            }
            writeln!(w)?;
        }
    }
    Ok(())
}

/// A CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_searches(
    w: &mut dyn Write,
    searches: &[(String, mido_runtime::explore::DoseSearch, SearchOutcome)],
) -> std::io::Result<()> {
    writeln!(w, "search,regimen,population,interval,dose,efficacy_attainment,safety_attainment,effective,safe,recommended")?;
    for (name, s, outcome) in searches {
        for p in &outcome.evaluated {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{},{}",
                csv_field(name),
                csv_field(&s.regimen),
                csv_field(&s.population),
                num(p.interval),
                num(p.dose),
                num(p.efficacy),
                num(p.safety),
                p.effective,
                p.safe,
                outcome.dose == Some(p.dose) && outcome.interval == Some(p.interval)
            )?;
        }
    }
    Ok(())
}

/// What was run, to trace and reproduce a result (the conventions of
/// `mido fit`'s run record).
struct RunRecord<'a> {
    scenario: (&'a Path, &'a str),
    model: (&'a Path, &'a str),
    params: Option<&'a InputFile>,
    data: &'a [(String, InputFile)],
    seed: u64,
    threads: usize,
    args: &'a Args,
    /// Preparing (parse, check, compile, read), simulating, total: seconds.
    timings: (f64, f64, f64),
    subjects: usize,
    variability: mido_runtime::explore::Variability,
    /// Why the exploration failed, when it did.
    error: Option<String>,
}

impl RunRecord<'_> {
    fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let hash = |text: &str| super::estimates::sha256_hex(text.as_bytes());
        let v = serde_json::json!({
            "mido_version": env!("CARGO_PKG_VERSION"),
            "command": std::env::args().collect::<Vec<_>>(),
            "scenario": {
                "path": self.scenario.0.display().to_string(),
                "sha256": hash(self.scenario.1),
            },
            "model": {
                "path": self.model.0.display().to_string(),
                "sha256": hash(self.model.1),
            },
            "params": self.params.map(|p| serde_json::json!({
                "path": p.path.display().to_string(),
                "sha256": p.sha256,
            })),
            "data": self.data.iter().map(|(population, f)| serde_json::json!({
                "population": population,
                "path": f.path.display().to_string(),
                "sha256": f.sha256,
            })).collect::<Vec<_>>(),
            "seed": self.seed,
            "options": {
                "threads": self.threads,
                "engine": match self.args.engine { EngineArg::Jit => "jit", EngineArg::Interp => "interp" },
                "seed_from": if self.args.seed.is_some() { "--seed" } else { "scenario" },
                "between_subject_variability": self.variability.between_subject,
                "residual_variability": self.variability.residual,
                "parameter_uncertainty": self.variability.parameter_uncertainty,
                "replicates": self.variability.replicates,
            },
            "virtual_subjects": self.subjects,
            "timings_seconds": {
                "prepare": self.timings.0,
                "simulate": self.timings.1,
                "total": self.timings.2,
            },
            "status": if self.error.is_some() { "failed" } else { "completed" },
            "error": self.error,
        });
        serde_json::to_writer_pretty(&mut *w, &v)?;
        writeln!(w)
    }
}

//! `mido bootstrap MODEL`: the case bootstrap, resumable and shardable.
//!
//! Every finished replicate is appended at once, as one JSON line, to
//! `runs.jsonl` in the output directory (flushed and synced), so nothing
//! is lost when a run is interrupted; rerunning the same command continues
//! with the replicates that are missing. Replicate `r` always draws the
//! same subjects (see `mido_runtime::evaluate::bootstrap`), so an
//! interrupted and resumed bootstrap, or one split with `--shard K/N`
//! across machines and merged with `mido bootstrap merge`, gives the table
//! of one uninterrupted run.

use super::estimates;
use super::fit::MethodArg;
use super::output::OutDir;
use super::simulate::data_path;
use super::{compile_for_run, read_dataset, Failure};
use mido_runtime::data::Dataset;
use mido_runtime::estimate::{fit, CovarianceKind, FitOptions, Status};
use mido_runtime::evaluate::bootstrap::{resample, summarize, Outcome, Resampling, Summary};
use mido_runtime::format::fmt_num;
use mido_runtime::model::Model;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<MergeCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum MergeCommand {
    /// Merge the runs of bootstrap shards (directories written with
    /// `--shard K/N`) into one table.
    Merge {
        /// The shards' output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output directory of the merged bootstrap.
        #[arg(long)]
        out: PathBuf,
        /// Replace a merged result already in the output directory.
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The model file (.mido).
    #[arg(required = true)]
    model: Option<PathBuf>,
    /// NONMEM-format dataset; default: the file the model names with `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of bootstrap replicates.
    #[arg(short = 'n', long = "samples", default_value_t = 1000)]
    samples: usize,
    /// Resample within the strata of this covariate (each keeps its size).
    #[arg(long)]
    strata: Option<String>,
    /// Seed of the resampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Starting values (and the original estimates) from a fit's
    /// estimates.json; default: the model's initial values.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Run only shard K of N (replicates r with r mod N = K − 1), e.g. one
    /// task of a job array; combine the shards with `mido bootstrap merge`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Estimation method of every refit.
    #[arg(long, value_enum, default_value_t = MethodArg::Focei)]
    method: MethodArg,
    /// Most outer iterations per refit.
    #[arg(long, default_value_t = 500)]
    max_iterations: usize,
    /// Output directory; default: `<model>-bootstrap` beside the model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Discard the runs of a different earlier bootstrap in the output
    /// directory (the same bootstrap is always resumed).
    #[arg(long)]
    force: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// One of `count` shards (`index` 0-based).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shard {
    index: usize,
    count: usize,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not K/N (e.g. 3/10)"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a shard number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a shard count"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok(Shard {
        index: k - 1,
        count: n,
    })
}

const RUNS: &str = "runs.jsonl";
const RECORD: &str = "run.json";
const TABLE: &str = "bootstrap.csv";
const SUMMARY: &str = "bootstrap.json";

pub fn run(args: &Args) -> Result<(), Failure> {
    match &args.merge {
        Some(MergeCommand::Merge { dirs, out, force }) => merge(dirs, out, *force),
        None => run_bootstrap(&args.run),
    }
}

/// What identifies a bootstrap: runs made under the same settings belong
/// to the same bootstrap (whatever the shard).
#[derive(Clone, Debug, PartialEq)]
struct Settings(BTreeMap<String, Value>);

impl Settings {
    fn from_record(record: &Value) -> Option<Settings> {
        let map = record.get("settings")?.as_object()?;
        Some(Settings(map.clone().into_iter().collect()))
    }

    fn to_value(&self) -> Value {
        Value::Object(self.0.clone().into_iter().collect())
    }

    /// The first setting that differs, for messages.
    fn difference(&self, other: &Settings) -> Option<String> {
        let keys: std::collections::BTreeSet<&String> =
            self.0.keys().chain(other.0.keys()).collect();
        keys.into_iter().find_map(|k| {
            let (a, b) = (self.0.get(k), other.0.get(k));
            (a != b).then(|| {
                let show =
                    |v: Option<&Value>| v.map_or_else(|| "absent".to_string(), Value::to_string);
                format!("{k}: {} there, {} now", show(a), show(b))
            })
        })
    }
}

fn run_bootstrap(args: &RunArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let model_path = args
        .model
        .as_deref()
        .ok_or_else(|| Failure::Usage("a model file is required".into()))?;
    if args.samples == 0 {
        return Err(Failure::Usage("-n must be at least 1".into()));
    }
    let (source, model) = compile_for_run(model_path, mido_compiler::Engine::Jit)?;
    let model = model.as_ref();
    let info = model.info();
    let data_file = data_path(model_path, args.data.as_deref(), info.data_file.as_deref())?;
    let (data_text, data) = read_dataset(&data_file, info, "resampled")?;
    let stratum = match &args.strata {
        Some(name) => Some(super::covariate_index(info, "--strata", name)?),
        None => None,
    };
    let (init_text, start) = match &args.init {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
            (Some(text), Some(estimates::read_for_model(path, info)?))
        }
        None => (None, None),
    };
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| super::output::default_out(model_path, "bootstrap"));
    let out = OutDir::new(&out_dir, true)?;
    let settings = Settings(
        [
            (
                "model_sha256",
                json!(estimates::sha256_hex(source.as_bytes())),
            ),
            (
                "data_sha256",
                json!(estimates::sha256_hex(data_text.as_bytes())),
            ),
            (
                "init_sha256",
                json!(init_text
                    .as_deref()
                    .map(|t| estimates::sha256_hex(t.as_bytes()))),
            ),
            ("seed", json!(args.seed)),
            (
                "strata",
                json!(stratum.map(|i| info.covariates[i].name.clone())),
            ),
            (
                "method",
                json!(mido_runtime::estimate::Method::from(args.method).name()),
            ),
            ("max_iterations", json!(args.max_iterations)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );

    // The same bootstrap continues; another one is only replaced on --force.
    let runs_path = out_dir.join(RUNS);
    let mut done = if runs_path.exists() {
        let previous = read_record(&out_dir)?;
        let same = Settings::from_record(&previous).as_ref() == Some(&settings)
            && previous.get("shard") == Some(&shard_value(args.shard));
        if same {
            read_runs(&runs_path)?
        } else if args.force {
            std::fs::remove_file(&runs_path).map_err(|e| {
                Failure::Usage(format!("cannot remove {}: {e}", runs_path.display()))
            })?;
            BTreeMap::new()
        } else {
            let why = Settings::from_record(&previous)
                .and_then(|p| p.difference(&settings))
                .unwrap_or_else(|| "a different shard".to_string());
            return Err(Failure::Usage(format!(
                "{} holds the runs of a different bootstrap ({why}); choose another --out directory or pass --force to discard them",
                out_dir.display()
            )));
        }
    } else {
        BTreeMap::new()
    };

    let opts = FitOptions {
        method: args.method.into(),
        max_iterations: args.max_iterations,
        covariance: CovarianceKind::None,
        start,
        ..FitOptions::default()
    };
    let original = fit(model, &data, &opts, &mut |_| {})
        .map_err(|e| Failure::Input(format!("the fit of the original data failed: {e}")))?;
    if original.status != Status::Converged && !args.quiet {
        eprintln!(
            "warning: the fit of the original data stopped: {}; the bootstrap starts from where it stopped",
            original.status.describe()
        );
    }
    let names = estimates::psi_names(info, &original);
    let record = json!({
        "mido_version": env!("CARGO_PKG_VERSION"),
        "command": std::env::args().collect::<Vec<_>>(),
        "model": { "path": model_path.display().to_string() },
        "data": { "path": data_file.display().to_string() },
        "settings": settings.to_value(),
        "samples": args.samples,
        "shard": shard_value(args.shard),
        "original": { "parameters": names, "estimates": original.psi, "ofv": original.ofv },
    });
    out.write(RECORD, |w| write_json(w, &record))?;

    let pending: Vec<usize> = (0..args.samples)
        .filter(|&r| in_shard_of(args.shard, r))
        .filter(|r| !done.contains_key(r))
        .collect();
    let in_shard = (0..args.samples)
        .filter(|&r| in_shard_of(args.shard, r))
        .count();
    if !args.quiet && !done.is_empty() {
        eprintln!(
            "resuming: {} of {in_shard} replicates already in {}",
            done.len(),
            runs_path.display()
        );
    }
    let log = Mutex::new(Appender::open(&runs_path)?);
    let refit_opts = FitOptions {
        start: Some((original.theta.clone(), original.omega.clone())),
        ..opts.clone()
    };
    let how = Resampling {
        seed: args.seed,
        stratum,
    };
    // One worker per core, each refitting one replicate at a time on its
    // own single-thread pool: the fit's parallel loop over subjects then
    // runs inline, and exactly `workers` fits are in flight.
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().clamp(1, pending.len().max(1));
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<Failure>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().ok();
                while let Some(&r) = pending.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = match &pool {
                        Some(p) => p.install(|| refit(model, &data, how, r, &refit_opts)),
                        None => refit(model, &data, how, r, &refit_opts),
                    };
                    let Ok(mut log) = log.lock() else { break };
                    if let Err(e) = log.append(r, &outcome) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        // Stop every worker: what is not logged is lost.
                        next.store(usize::MAX, Ordering::Relaxed);
                        break;
                    }
                    log.finished += 1;
                    if !args.quiet
                        && (log.finished % (in_shard / 20).max(1) == 0
                            || log.finished == pending.len())
                    {
                        eprintln!(
                            "bootstrap: {}/{} replicates ({:.1} s)",
                            log.finished + in_shard - pending.len(),
                            in_shard,
                            started.elapsed().as_secs_f64()
                        );
                    }
                    drop(log);
                    if let Ok(mut v) = results.lock() {
                        v.push((r, outcome));
                    }
                }
            });
        }
    });
    if let Some(f) = failure.into_inner().ok().flatten() {
        return Err(f);
    }
    done.extend(results.into_inner().unwrap_or_default());
    // A bootstrap resumed with a smaller -n summarizes its first n.
    let outcomes: Vec<Outcome> = done
        .into_iter()
        .filter(|(r, _)| *r < args.samples)
        .map(|(_, o)| o)
        .collect();
    let summary = summarize(&names, &original.psi, &outcomes);
    finish(&out, &summary, in_shard, started.elapsed().as_secs_f64())
}

/// One replicate: its dataset, refitted from the original estimates.
fn refit(
    model: &dyn Model,
    data: &Dataset,
    how: Resampling,
    r: usize,
    opts: &FitOptions,
) -> Outcome {
    let sample = match resample(data, how, r) {
        Ok(d) => d,
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
            }
        }
    };
    match fit(model, &sample, opts, &mut |_| {}) {
        Ok(f) if f.status == Status::Converged => Outcome::Converged {
            ofv: f.ofv,
            estimates: f.psi,
        },
        Ok(f) => Outcome::Stopped {
            ofv: f.ofv,
            estimates: f.psi,
            status: f.status.describe().to_string(),
        },
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    }
}

/// Whether replicate `r` belongs to `shard` (every replicate without one).
fn in_shard_of(shard: Option<Shard>, r: usize) -> bool {
    match shard {
        Some(s) => r % s.count == s.index,
        None => true,
    }
}

fn shard_value(shard: Option<Shard>) -> Value {
    shard.map_or(Value::Null, |s| {
        json!(format!("{}/{}", s.index + 1, s.count))
    })
}

/// The run log, appended one synced line per replicate.
struct Appender {
    file: std::fs::File,
    path: PathBuf,
    finished: usize,
}

impl Appender {
    fn open(path: &Path) -> Result<Appender, Failure> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Failure::Usage(format!("cannot open {}: {e}", path.display())))?;
        Ok(Appender {
            file,
            path: path.to_path_buf(),
            finished: 0,
        })
    }

    fn append(&mut self, replicate: usize, outcome: &Outcome) -> Result<(), Failure> {
        let mut line = outcome_to_json(replicate, outcome).to_string();
        line.push('\n');
        // One write of the whole line: a crash leaves at most a truncated
        // last line, which the next run drops.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Failure::Usage(format!("cannot append to {}: {e}", self.path.display())))
    }
}

fn outcome_to_json(replicate: usize, o: &Outcome) -> Value {
    match o {
        Outcome::Converged { ofv, estimates } => json!({
            "replicate": replicate, "status": "converged", "ofv": ofv, "estimates": estimates,
        }),
        Outcome::Stopped {
            ofv,
            estimates,
            status,
        } => json!({
            "replicate": replicate, "status": status, "ofv": ofv, "estimates": estimates,
        }),
        Outcome::Failed { error } => json!({
            "replicate": replicate, "status": "failed", "error": error,
        }),
    }
}

fn outcome_from_json(v: &Value) -> Option<(usize, Outcome)> {
    let r = usize::try_from(v.get("replicate")?.as_u64()?).ok()?;
    let status = v.get("status")?.as_str()?;
    let nums = |v: &Value| -> Option<Vec<f64>> {
        v.as_array()?
            .iter()
            .map(|x| x.as_f64().or(Some(f64::NAN)))
            .collect()
    };
    let outcome = match status {
        "failed" => Outcome::Failed {
            error: v.get("error")?.as_str()?.to_string(),
        },
        "converged" => Outcome::Converged {
            ofv: v.get("ofv")?.as_f64().unwrap_or(f64::NAN),
            estimates: nums(v.get("estimates")?)?,
        },
        other => Outcome::Stopped {
            ofv: v.get("ofv")?.as_f64().unwrap_or(f64::NAN),
            estimates: nums(v.get("estimates")?)?,
            status: other.to_string(),
        },
    };
    Some((r, outcome))
}

/// The finished replicates of a run log. A last line cut short by an
/// interruption is dropped (and removed from the file, so that appends
/// start on a fresh line); damage anywhere else is an error.
fn read_runs(path: &Path) -> Result<BTreeMap<usize, Outcome>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut runs = BTreeMap::new();
    let mut good_len = 0;
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        offset += line.len();
        let complete = line.ends_with('\n');
        let parsed = serde_json::from_str::<Value>(line.trim())
            .ok()
            .as_ref()
            .and_then(outcome_from_json);
        match parsed {
            Some((r, o)) if complete => {
                runs.insert(r, o);
                good_len = offset;
            }
            _ if i + 1 == lines.len() => {
                // The interrupted last write.
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(good_len as u64));
                f.map_err(|e| Failure::Usage(format!("cannot repair {}: {e}", path.display())))?;
            }
            _ => {
                return Err(Failure::Input(format!(
                    "{}:{}: not a bootstrap run record; the log is damaged",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(runs)
}

fn read_record(dir: &Path) -> Result<Value, Failure> {
    let path = dir.join(RECORD);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Input(format!(
            "{}: not a bootstrap run record: {e}",
            path.display()
        ))
    })
}

/// `mido bootstrap merge`: the union of the shards' runs.
fn merge(dirs: &[PathBuf], out_dir: &Path, force: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let mut settings: Option<(Settings, Value, &Path)> = None;
    let mut samples: Option<u64> = None;
    let mut runs: BTreeMap<usize, Outcome> = BTreeMap::new();
    for dir in dirs {
        let record = read_record(dir)?;
        let s = Settings::from_record(&record).ok_or_else(|| {
            Failure::Input(format!(
                "{}: run.json has no bootstrap settings",
                dir.display()
            ))
        })?;
        let n = record.get("samples").and_then(Value::as_u64);
        if samples.is_some() && samples != n {
            return Err(Failure::Input(format!(
                "{} was run with -n {}, the other shards with -n {}",
                dir.display(),
                n.map_or_else(|| "?".to_string(), |n| n.to_string()),
                samples.map_or_else(|| "?".to_string(), |n| n.to_string())
            )));
        }
        samples = n;
        match &settings {
            None => {
                let original = record.get("original").cloned().unwrap_or(Value::Null);
                settings = Some((s, original, dir));
            }
            Some((first, _, first_dir)) => {
                if let Some(why) = first.difference(&s) {
                    return Err(Failure::Input(format!(
                        "{} and {} are shards of different bootstraps ({why})",
                        first_dir.display(),
                        dir.display()
                    )));
                }
            }
        }
        for (r, o) in read_runs(&dir.join(RUNS))? {
            if let Some(prev) = runs.get(&r) {
                if *prev != o {
                    return Err(Failure::Input(format!(
                        "replicate {} has different results in two shards (the second in {})",
                        r + 1,
                        dir.display()
                    )));
                }
            }
            runs.insert(r, o);
        }
    }
    let Some((settings, original, _)) = settings else {
        return Err(Failure::Usage("no shard directories given".into()));
    };
    let samples = samples.unwrap_or(0) as usize;
    runs.retain(|r, _| *r < samples);
    let names: Vec<String> = original
        .get("parameters")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let estimates: Vec<f64> = original
        .get("estimates")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default();
    let out = OutDir::new(out_dir, force)?;
    out.ensure_free(&[RUNS, RECORD, TABLE, SUMMARY])?;
    let record = json!({
        "mido_version": env!("CARGO_PKG_VERSION"),
        "command": std::env::args().collect::<Vec<_>>(),
        "settings": settings.to_value(),
        "samples": samples,
        "shard": Value::Null,
        "merged_from": dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
        "original": original,
    });
    out.write(RUNS, |w| {
        for (r, o) in &runs {
            writeln!(w, "{}", outcome_to_json(*r, o))?;
        }
        Ok(())
    })?;
    out.write(RECORD, |w| write_json(w, &record))?;
    let outcomes: Vec<Outcome> = runs.into_values().collect();
    let summary = summarize(&names, &estimates, &outcomes);
    finish(&out, &summary, samples, started.elapsed().as_secs_f64())
}

/// Writes the table and the summary and prints them.
fn finish(out: &OutDir, s: &Summary, expected: usize, seconds: f64) -> Result<(), Failure> {
    out.write(TABLE, |w| write_table(w, s))?;
    out.write(SUMMARY, |w| write_json(w, &summary_json(s, expected)))?;
    print!("{}", render(s, expected, seconds));
    Ok(())
}

fn write_json(w: &mut dyn Write, v: &Value) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, v)?;
    writeln!(w)
}

fn write_table(w: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    writeln!(
        w,
        "parameter,original,median,mean,se,ci95_lower,ci95_upper,ci90_lower,ci90_upper,bias_percent"
    )?;
    for p in &s.parameters {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{}",
            p.name,
            fmt_num(p.original),
            fmt_num(p.median),
            fmt_num(p.mean),
            fmt_num(p.se),
            fmt_num(p.ci95.0),
            fmt_num(p.ci95.1),
            fmt_num(p.ci90.0),
            fmt_num(p.ci90.1),
            fmt_num(p.bias_percent)
        )?;
    }
    Ok(())
}

fn summary_json(s: &Summary, expected: usize) -> Value {
    let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    json!({
        "format": "mido-bootstrap-1",
        "replicates_expected": expected,
        "replicates_finished": s.replicates,
        "complete": s.replicates == expected,
        "converged": s.converged,
        "stopped": s.stopped,
        "failed": s.failed,
        "success_rate": num(s.success_rate()),
        "parameters": s.parameters.iter().map(|p| json!({
            "name": p.name,
            "original": num(p.original),
            "median": num(p.median),
            "mean": num(p.mean),
            "se": num(p.se),
            "ci95": [num(p.ci95.0), num(p.ci95.1)],
            "ci90": [num(p.ci90.0), num(p.ci90.1)],
            "bias_percent": num(p.bias_percent),
        })).collect::<Vec<_>>(),
    })
}

/// The table on stdout.
fn render(s: &Summary, expected: usize, seconds: f64) -> String {
    let mut t = String::new();
    let _ = std::fmt::Write::write_fmt(
        &mut t,
        format_args!(
            "Bootstrap: {} of {} replicates finished, {} converged ({:.1}%), {} stopped early, {} failed ({:.1} s)\n",
            s.replicates,
            expected,
            s.converged,
            100.0 * s.success_rate(),
            s.stopped,
            s.failed,
            seconds
        ),
    );
    if s.replicates < expected {
        t.push_str("The bootstrap is incomplete: rerun the same command to continue it.\n");
    }
    t.push_str("Percentile intervals from the converged replicates.\n\n");
    let width = s
        .parameters
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let _ = std::fmt::Write::write_fmt(
        &mut t,
        format_args!(
            "{:<width$}  {:>12} {:>12} {:>12}  {:>25}  {:>8}\n",
            "parameter", "original", "median", "boot SE", "95% interval", "bias %"
        ),
    );
    for p in &s.parameters {
        let interval = format!("[{}, {}]", sig(p.ci95.0), sig(p.ci95.1));
        let _ = std::fmt::Write::write_fmt(
            &mut t,
            format_args!(
                "{:<width$}  {:>12} {:>12} {:>12}  {:>25}  {:>8.2}\n",
                p.name,
                sig(p.original),
                sig(p.median),
                sig(p.se),
                interval,
                p.bias_percent
            ),
        );
    }
    t
}

/// Five significant digits.
fn sig(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = format!("{v:.4e}");
    let parsed: f64 = s.parse().unwrap_or(v);
    format!("{parsed}")
}

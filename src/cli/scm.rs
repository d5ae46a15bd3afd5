//! `mido scm MODEL`: stepwise covariate modeling. The compiler writes each
//! variant (`mido_compiler::variant`), the runtime fits it and runs the
//! forward/backward search (`mido_runtime::evaluate::scm`); this file
//! wires them and writes the log, the selected model and a run record.

use super::estimates;
use super::output::OutDir;
use super::simulate::data_path;
use super::{read_dataset, Failure};
use mido_compiler::variant::{self, CovariateKind, Effect, Shape};
use mido_compiler::Engine;
use mido_runtime::data::Dataset;
use mido_runtime::estimate::{fit, CovarianceKind, FitOptions, Status};
use mido_runtime::evaluate::scm::{stepwise, Candidate, Direction, ScmResult};
use mido_runtime::explore::quantile_sorted;
use mido_runtime::format::fmt_num;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The base model file (.mido).
    model: PathBuf,
    /// NONMEM-format dataset; default: the file the model names with `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Candidate effects as PARAMETER:COVARIATE[,COVARIATE…], e.g.
    /// `--effect cl:WT,CRCL,SEX --effect v:WT` (repeatable).
    #[arg(long = "effect", required = true, value_name = "PARAM:COVS")]
    effects: Vec<String>,
    /// Relationships tested for continuous covariates (category and bool
    /// covariates always get a shift).
    #[arg(long, value_delimiter = ',', default_value = "power", value_parser = parse_shape)]
    shapes: Vec<Shape>,
    /// Significance level of forward inclusion.
    #[arg(long, default_value_t = 0.05)]
    forward: f64,
    /// Significance level of backward elimination.
    #[arg(long, default_value_t = 0.01)]
    backward: f64,
    /// Output directory; default: `<model>-scm` beside the model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace results already in the output directory.
    #[arg(long)]
    force: bool,
    /// No log lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_shape(s: &str) -> Result<Shape, String> {
    match s {
        "linear" => Ok(Shape::Linear),
        "power" => Ok(Shape::Power),
        "exponential" => Ok(Shape::Exponential),
        other => Err(format!(
            "`{other}` is not a relationship (linear, power, exponential)"
        )),
    }
}

const LOG: &str = "scm_log.csv";
const FINAL: &str = "final.mido";
const RECORD: &str = "run.json";

pub fn run(args: &Args) -> Result<(), Failure> {
    let started = Instant::now();
    let (source, base_model) = super::compile_for_run(&args.model, Engine::Jit)?;
    let info = base_model.info();
    let data_file = data_path(&args.model, args.data.as_deref(), info.data_file.as_deref())?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| super::output::default_out(&args.model, "scm"));
    let out = OutDir::new(&out_dir, args.force)?;
    out.ensure_free(&[LOG, FINAL, RECORD])?;
    let (data_text, data) = read_dataset(&data_file, info, "fitted")?;
    let usage = |m: String| Failure::Usage(m);
    let kinds = variant::covariates(&source).map_err(|e| usage(e.to_string()))?;
    let params = variant::parameters(&source).map_err(|e| usage(e.to_string()))?;

    // Candidates: one per (parameter, covariate, shape).
    let mut effects: Vec<(Effect, CovariateKind)> = Vec::new();
    for spec in &args.effects {
        let (p, covs) = spec.split_once(':').ok_or_else(|| {
            usage(format!(
                "--effect {spec}: expected PARAMETER:COVARIATE[,COVARIATE…]"
            ))
        })?;
        let p = p.trim();
        if !params.iter().any(|x| x == p) {
            return Err(usage(format!(
                "--effect {spec}: `{p}` is not a parameter of `individual` (they are: {})",
                params.join(", ")
            )));
        }
        for cov in covs.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let Some((name, kind)) = kinds.iter().find(|(n, _)| n.eq_ignore_ascii_case(cov)) else {
                let known: Vec<&str> = kinds.iter().map(|(n, _)| n.as_str()).collect();
                return Err(usage(format!(
                    "--effect {spec}: the model has no covariate {cov} (its covariates: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let index = info
                .covariates
                .iter()
                .position(|c| c.name == *name)
                .ok_or_else(|| usage(format!("covariate {name} is not in the compiled model")))?;
            let (center, range) = center_and_range(&data, index);
            let shapes: Vec<Shape> = if *kind == CovariateKind::Real {
                args.shapes.clone()
            } else {
                vec![Shape::Shift]
            };
            for shape in shapes {
                let e = Effect {
                    parameter: p.to_string(),
                    covariate: name.clone(),
                    shape,
                    center,
                    range,
                };
                // Fail early, naming the effect, if the variant cannot be made.
                variant::with_effect(&source, &e)
                    .map_err(|err| Failure::Input(format!("{}: {err}", e.label())))?;
                effects.push((e, kind.clone()));
            }
        }
    }
    let candidates: Vec<Candidate> = effects
        .iter()
        .map(|(e, kind)| Candidate {
            label: e.label(),
            pair: (e.parameter.clone(), e.covariate.clone()),
            df: variant::new_thetas(e, kind).len(),
        })
        .collect();

    // Fits, memoized by effect set (backward steps revisit forward ones),
    // each starting from the estimates of the smaller model it extends.
    let memo: Mutex<HashMap<Vec<usize>, FitRecord>> = Mutex::new(HashMap::new());
    let quiet = args.quiet;
    let fit_set = |set: &[usize]| -> Result<f64, String> {
        if let Some(r) = memo.lock().ok().and_then(|m| m.get(set).cloned()) {
            return r.ofv;
        }
        let text = model_text(&source, &effects, set)?;
        let start = memo.lock().ok().and_then(|m| {
            // The largest fitted subset: its estimates, by name.
            m.iter()
                .filter(|(k, r)| k.iter().all(|c| set.contains(c)) && r.ofv.is_ok())
                .max_by_key(|(k, _)| k.len())
                .map(|(_, r)| r.estimates.clone())
        });
        let record = fit_variant(&text, &data, start.as_ref());
        if !quiet {
            let label = if set.is_empty() {
                "base model".to_string()
            } else {
                set.iter()
                    .map(|&c| candidates[c].label.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            match &record.ofv {
                Ok(o) => eprintln!("fitted {label}: OFV {o:.4}"),
                Err(e) => eprintln!("fitted {label}: failed ({e})"),
            }
        }
        let ofv = record.ofv.clone();
        if let Ok(mut m) = memo.lock() {
            m.insert(set.to_vec(), record);
        }
        ofv
    };
    let result = stepwise(&candidates, args.forward, args.backward, &fit_set)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let final_text = model_text(&source, &effects, &result.selected).map_err(Failure::Input)?;

    out.write(LOG, |w| write_log(w, &candidates, &result))?;
    out.write(FINAL, |w| w.write_all(final_text.as_bytes()))?;
    let record = serde_json::json!({
        "mido_version": env!("CARGO_PKG_VERSION"),
        "command": std::env::args().collect::<Vec<_>>(),
        "model": { "path": args.model.display().to_string(), "sha256": estimates::sha256_hex(source.as_bytes()) },
        "data": { "path": data_file.display().to_string(), "sha256": estimates::sha256_hex(data_text.as_bytes()) },
        "options": { "forward_alpha": args.forward, "backward_alpha": args.backward, "method": "focei" },
        "candidates": candidates.iter().map(|c| &c.label).collect::<Vec<_>>(),
        "selected": result.selected.iter().map(|&c| &candidates[c].label).collect::<Vec<_>>(),
        "final_ofv": result.final_ofv,
        "run_time_seconds": started.elapsed().as_secs_f64(),
    });
    let path = out.write(RECORD, |w| {
        serde_json::to_writer_pretty(&mut *w, &record)?;
        writeln!(w)
    })?;
    print!("{}", render(&candidates, &result, args));
    if let Some(dir) = path.parent() {
        eprintln!("wrote {LOG}, {FINAL}, {RECORD} in {}", dir.display());
    }
    Ok(())
}

/// A fitted variant: its objective and estimates by name (thetas) and
/// OMEGA, to start larger models from.
#[derive(Clone)]
struct FitRecord {
    ofv: Result<f64, String>,
    estimates: Estimates,
}

#[derive(Clone, Default)]
struct Estimates {
    thetas: HashMap<String, f64>,
    omega: Vec<f64>,
}

/// The base model with the effects of `set`, in candidate order.
fn model_text(
    source: &str,
    effects: &[(Effect, CovariateKind)],
    set: &[usize],
) -> Result<String, String> {
    let mut text = source.to_string();
    for &c in set {
        text = variant::with_effect(&text, &effects[c].0).map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// Fits one variant by FOCEI without a covariance step; a search that
/// does not converge counts as a failed fit.
fn fit_variant(text: &str, data: &Dataset, start: Option<&Estimates>) -> FitRecord {
    let failed = |e: String| FitRecord {
        ofv: Err(e),
        estimates: Estimates::default(),
    };
    let model = match mido_compiler::compile_model(text, Engine::Jit) {
        Ok(m) => m,
        Err(e) => return failed(format!("does not compile: {e:?}")),
    };
    let info = model.info();
    let start = start.map(|s| {
        let theta: Vec<f64> = info
            .thetas
            .iter()
            .map(|t| s.thetas.get(&t.name).copied().unwrap_or(t.init))
            .collect();
        (theta, s.omega.clone())
    });
    let opts = FitOptions {
        covariance: CovarianceKind::None,
        start: start.filter(|(_, o)| o.len() == info.etas.len() * info.etas.len()),
        ..FitOptions::default()
    };
    match fit(model.as_ref(), data, &opts, &mut |_| {}) {
        Ok(r) if r.status == Status::Converged => FitRecord {
            ofv: Ok(r.ofv),
            estimates: Estimates {
                thetas: info
                    .thetas
                    .iter()
                    .zip(&r.theta)
                    .map(|(t, v)| (t.name.clone(), *v))
                    .collect(),
                omega: r.omega.clone(),
            },
        },
        Ok(r) => failed(format!("the search stopped: {}", r.status.describe())),
        Err(e) => failed(e.to_string()),
    }
}

/// Median and range of a covariate over subjects (first record).
fn center_and_range(data: &Dataset, index: usize) -> (f64, (f64, f64)) {
    let mut v: Vec<f64> = data
        .subjects
        .iter()
        .filter_map(|s| s.covariates.get(index).copied())
        .filter(|x| x.is_finite())
        .collect();
    v.sort_by(f64::total_cmp);
    let range = (
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN),
    );
    (quantile_sorted(&v, 0.5), range)
}

fn write_log(w: &mut dyn Write, candidates: &[Candidate], r: &ScmResult) -> std::io::Result<()> {
    writeln!(
        w,
        "step,direction,model_effects,tested,ofv,delta_ofv,df,p_value,chosen,status"
    )?;
    for (k, s) in r.steps.iter().enumerate() {
        let dir = match s.direction {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
        };
        let inc: Vec<&str> = s
            .included
            .iter()
            .map(|&c| candidates[c].label.as_str())
            .collect();
        for t in &s.tests {
            let (ofv, status) = match &t.ofv {
                Ok(o) => (fmt_num(*o), "ok".to_string()),
                Err(e) => (
                    String::new(),
                    format!("failed: {}", e.replace(['"', '\n'], " ")),
                ),
            };
            writeln!(
                w,
                "{},{dir},\"{}\",\"{}\",{ofv},{},{},{},{},\"{status}\"",
                k + 1,
                inc.join(" + "),
                candidates[t.candidate].label,
                fmt_num(t.delta),
                candidates[t.candidate].df,
                fmt_num(t.p_value),
                s.chosen == Some(t.candidate)
            )?;
        }
    }
    Ok(())
}

fn render(candidates: &[Candidate], r: &ScmResult, args: &Args) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    for (k, s) in r.steps.iter().enumerate() {
        let (dir, alpha) = match s.direction {
            Direction::Forward => ("Forward", args.forward),
            Direction::Backward => ("Backward", args.backward),
        };
        let _ = writeln!(
            t,
            "{dir} step {} (base OFV {:.4}, α = {alpha}):",
            k + 1,
            s.base_ofv
        );
        for test in &s.tests {
            let mark = if s.chosen == Some(test.candidate) {
                match s.direction {
                    Direction::Forward => "  <- added",
                    Direction::Backward => "  <- removed",
                }
            } else {
                ""
            };
            match &test.ofv {
                Ok(o) => {
                    let _ = writeln!(
                        t,
                        "  {:<32} OFV {:>12.4}  ΔOFV {:>9.4}  df {}  p {:.3e}{mark}",
                        candidates[test.candidate].label,
                        o,
                        test.delta,
                        candidates[test.candidate].df,
                        test.p_value
                    );
                }
                Err(e) => {
                    let _ = writeln!(t, "  {:<32} failed: {e}", candidates[test.candidate].label);
                }
            }
        }
    }
    let chosen: Vec<&str> = r
        .selected
        .iter()
        .map(|&c| candidates[c].label.as_str())
        .collect();
    let _ = writeln!(
        t,
        "\nSelected: {} (OFV {:.4})",
        if chosen.is_empty() {
            "no covariate effect".to_string()
        } else {
            chosen.join(", ")
        },
        r.final_ofv
    );
    t
}

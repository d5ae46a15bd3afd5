//! `mido vpc MODEL`: the visual predictive check of a fitted model on its
//! data, as a table (`vpc.csv`), a plot (`vpc.svg`) and a run record.

use super::estimates;
use super::output::OutDir;
use super::simulate::data_path;
use super::{compile_for_run, read_dataset, Failure};
use mido_compiler::Engine;
use mido_runtime::evaluate::vpc::{vpc, Binning, Vpc, VpcOptions, PERCENTILES};
use mido_runtime::format::fmt_num;
use mido_runtime::model::Model;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (.mido).
    model: PathBuf,
    /// NONMEM-format dataset; default: the file the model names with `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Parameter values from a fit's estimates.json (default: the model's
    /// initial values, which is rarely what a VPC should show).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Number of simulated replicates of the design.
    #[arg(short = 'n', long = "samples", default_value_t = 500)]
    samples: usize,
    /// Prediction-corrected VPC.
    #[arg(long)]
    pred_corrected: bool,
    /// One VPC per value of this covariate (on each subject's first record).
    #[arg(long)]
    stratify: Option<String>,
    /// Time bins: `auto` (natural breaks of the sampling times, up to 10
    /// bins), a number of bins, or comma-separated edges (e.g. 0,1,2,4,8,24).
    #[arg(long, default_value = "auto", value_parser = parse_bins)]
    bins: Binning,
    /// Seed of the simulations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory; default: `<model>-vpc` beside the model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace results already in the output directory.
    #[arg(long)]
    force: bool,
    /// No table on stdout.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_bins(s: &str) -> Result<Binning, String> {
    if s == "auto" {
        return Ok(Binning::Auto);
    }
    if !s.contains(',') {
        return s
            .parse::<usize>()
            .map(Binning::Count)
            .map_err(|_| format!("`{s}` is not auto, a number of bins or comma-separated edges"));
    }
    s.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("bin edge `{v}` is not a number"))
        })
        .collect::<Result<Vec<f64>, String>>()
        .map(Binning::Edges)
}

const TABLE: &str = "vpc.csv";
const PLOT: &str = "vpc.svg";
const RECORD: &str = "run.json";

pub fn run(args: &Args) -> Result<(), Failure> {
    let started = Instant::now();
    let (source, compiled) = compile_for_run(&args.model, Engine::Jit)?;
    let (params_text, from_file) = match &args.params {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
            let (theta, omega) = estimates::read_for_model(path, compiled.info())?;
            (
                Some(text),
                Some(estimates::WithEstimates::new(
                    compiled.as_ref(),
                    &theta,
                    &omega,
                )),
            )
        }
        None => (None, None),
    };
    let model: &dyn Model = match &from_file {
        Some(m) => m,
        None => compiled.as_ref(),
    };
    let info = model.info();
    let data_file = data_path(&args.model, args.data.as_deref(), info.data_file.as_deref())?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| super::output::default_out(&args.model, "vpc"));
    let out = OutDir::new(&out_dir, args.force)?;
    out.ensure_free(&[TABLE, PLOT, RECORD])?;
    let (data_text, data) = read_dataset(&data_file, info, "checked")?;
    let stratify = match &args.stratify {
        Some(name) => Some(super::covariate_index(info, "--stratify", name)?),
        None => None,
    };
    let opts = VpcOptions {
        replicates: args.samples,
        seed: args.seed,
        binning: args.bins.clone(),
        pred_corrected: args.pred_corrected,
        stratify,
        ..VpcOptions::default()
    };
    let result = vpc(model, &data, &info.theta_init(), &opts)
        .map_err(|e| Failure::Input(format!("the VPC failed: {e}")))?;
    out.write(TABLE, |w| write_table(w, &result))?;
    let svg = super::diagnostic_plots::vpc_svg(&result)
        .map_err(|e| Failure::Input(format!("cannot render the VPC plot: {e}")))?;
    out.write(PLOT, |w| w.write_all(svg.as_bytes()))?;
    let record = serde_json::json!({
        "mido_version": env!("CARGO_PKG_VERSION"),
        "command": std::env::args().collect::<Vec<_>>(),
        "model": { "path": args.model.display().to_string(), "sha256": estimates::sha256_hex(source.as_bytes()) },
        "data": { "path": data_file.display().to_string(), "sha256": estimates::sha256_hex(data_text.as_bytes()) },
        "params": args.params.as_ref().map(|p| serde_json::json!({
            "path": p.display().to_string(),
            "sha256": params_text.as_deref().map(|t| estimates::sha256_hex(t.as_bytes())),
        })),
        "options": {
            "replicates": args.samples,
            "pred_corrected": args.pred_corrected,
            "stratify": args.stratify,
            "bins": format!("{:?}", args.bins),
            "percentiles": PERCENTILES,
            "ci": opts.ci,
        },
        "censoring": result.censoring(),
        "seed": args.seed,
        "run_time_seconds": started.elapsed().as_secs_f64(),
    });
    let path = out.write(RECORD, |w| {
        serde_json::to_writer_pretty(&mut *w, &record)?;
        writeln!(w)
    })?;
    if !args.quiet {
        print!("{}", render(&result));
    }
    if let Some(dir) = path.parent() {
        eprintln!("wrote {TABLE}, {PLOT}, {RECORD} in {}", dir.display());
    }
    Ok(())
}

/// Stratum label: the endpoint, with the covariate value.
fn stratum_label(s: &mido_runtime::evaluate::vpc::Stratum) -> String {
    match &s.covariate {
        Some((name, v)) => format!("{} {}={}", s.endpoint, name, fmt_num(*v)),
        None => s.endpoint.clone(),
    }
}

/// A number of the table: empty when unknown (below the limit of
/// quantification, or no observation in the bin).
fn csv_num(x: f64) -> String {
    if x.is_finite() {
        fmt_num(x)
    } else {
        String::new()
    }
}

/// One row per stratum and bin; with censoring, the bin's limit and the
/// fractions below it in five more columns (absent otherwise, so the table
/// of uncensored data does not change).
fn write_table(w: &mut dyn Write, v: &Vpc) -> std::io::Result<()> {
    let censoring = v.censoring();
    write!(w, "stratum,bin,lower,upper,time,n_obs")?;
    for p in ["p5", "p50", "p95"] {
        write!(w, ",obs_{p}")?;
    }
    for p in ["p5", "p50", "p95"] {
        write!(w, ",sim_{p}_lower,sim_{p}_median,sim_{p}_upper")?;
    }
    if censoring {
        write!(
            w,
            ",lloq,obs_blq,sim_blq_lower,sim_blq_median,sim_blq_upper"
        )?;
    }
    writeln!(w)?;
    for s in &v.strata {
        let label = stratum_label(s);
        for (i, b) in s.bins.iter().enumerate() {
            write!(
                w,
                "{label},{},{},{},{},{}",
                i + 1,
                fmt_num(b.lower),
                fmt_num(b.upper),
                csv_num(b.time),
                b.n_obs
            )?;
            for o in b.observed {
                write!(w, ",{}", csv_num(o))?;
            }
            for s in b.simulated {
                for x in s {
                    write!(w, ",{}", csv_num(x))?;
                }
            }
            if censoring {
                let (limit, observed, simulated) = match &b.blq {
                    Some(q) => (q.limit, q.observed, q.simulated),
                    None => (f64::NAN, f64::NAN, [f64::NAN; 3]),
                };
                for x in [limit, observed].into_iter().chain(simulated) {
                    write!(w, ",{}", csv_num(x))?;
                }
            }
            writeln!(w)?;
        }
    }
    Ok(())
}

/// Whether an observed value lies outside its simulated interval. A value
/// below the limit (`-∞`) compares as lower than any known one.
fn outside(o: f64, s: [f64; 3]) -> bool {
    o < s[0] || o > s[2]
}

/// Counts a known observed value in `n = (outside, total)`.
fn count(n: &mut (usize, usize), o: f64, s: [f64; 3]) {
    if !o.is_nan() {
        n.1 += 1;
        n.0 += usize::from(outside(o, s));
    }
}

/// A percentile or fraction on stdout: `<LLOQ` below the limit.
fn show(x: f64) -> String {
    if x == f64::NEG_INFINITY {
        "<LLOQ".to_string()
    } else {
        format!("{x:.4}")
    }
}

/// The table on stdout, with each observed percentile (and fraction below
/// the limit of quantification) flagged when it lies outside the
/// confidence interval of its simulated counterpart.
fn render(v: &Vpc) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{}VPC, {} replicates; observed percentile [95% CI of the simulated one], * outside{}",
        if v.pred_corrected {
            "Prediction-corrected "
        } else {
            ""
        },
        v.replicates,
        if v.censoring() {
            "; <LLOQ: below the bin's limit of quantification"
        } else {
            ""
        }
    );
    let cell = |o: f64, s: [f64; 3]| {
        let flag = if outside(o, s) { "*" } else { " " };
        format!("{:>9} [{}, {}]{flag}", show(o), show(s[0]), show(s[2]))
    };
    // (outside, total) for percentiles and for fractions below the limit.
    let mut percentiles = (0, 0);
    let mut fractions = (0, 0);
    for s in &v.strata {
        let censored = s.bins.iter().any(|b| b.blq.is_some());
        let _ = writeln!(t, "\n{}", stratum_label(s));
        let _ = write!(
            t,
            "{:>17} {:>5}  {:<30} {:<30} {:<30}",
            "time bin", "n", "5th", "50th", "95th"
        );
        let _ = writeln!(t, "{}", if censored { " below LLOQ" } else { "" });
        for b in &s.bins {
            let bin = format!("[{}, {}]", fmt_num(b.lower), fmt_num(b.upper));
            let cells: Vec<String> = (0..3)
                .map(|p| cell(b.observed[p], b.simulated[p]))
                .collect();
            for p in 0..3 {
                count(&mut percentiles, b.observed[p], b.simulated[p]);
            }
            let _ = write!(
                t,
                "{bin:>17} {:>5}  {:<30} {:<30} {:<30}",
                b.n_obs, cells[0], cells[1], cells[2]
            );
            if let Some(q) = &b.blq {
                count(&mut fractions, q.observed, q.simulated);
                let _ = write!(t, " {}", cell(q.observed, q.simulated));
            }
            let _ = writeln!(t);
        }
    }
    let _ = writeln!(
        t,
        "\n{} of {} observed percentiles lie outside the 95% intervals of the simulated ones",
        percentiles.0, percentiles.1
    );
    if v.censoring() {
        let _ = writeln!(
            t,
            "{} of {} observed fractions below LLOQ lie outside the 95% intervals of the simulated ones",
            fractions.0, fractions.1
        );
    }
    t
}

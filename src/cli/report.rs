//! `mido report FITDIR`: one self-contained HTML file (inline CSS and SVG,
//! no scripts, nothing fetched) a reviewer can open anywhere: the model
//! text, the estimates, the diagnostic plots, the VPC and the bootstrap
//! intervals when given, and the run record.

use super::output::OutDir;
use super::plot::render_gof;
use super::Failure;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A `mido fit` output directory.
    fit_dir: PathBuf,
    /// A `mido vpc` output directory to include.
    #[arg(long)]
    vpc: Option<PathBuf>,
    /// A `mido bootstrap` output directory to include.
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// The HTML file; default: FIT_DIR/report.html.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing report.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| args.fit_dir.join("report.html"));
    let dir = out_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::Usage(format!("{} is not a file name", out_path.display())))?;
    let out = OutDir::new(dir, args.force)?;
    out.ensure_free(&[&name])?;
    let html = render(args)?;
    let path = out.write(&name, |w| w.write_all(html.as_bytes()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::Input(format!("{} is not JSON: {e}", path.display())))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with five significant digits, or a dash.
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.is_finite() => {
            let s = format!("{x:.4e}");
            s.parse::<f64>().map_or(s, |p| format!("{p}"))
        }
        _ => "–".into(),
    }
}

/// An SVG document without its XML prolog, to inline in HTML.
fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}\
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0;flex:1 1 480px}\
figure svg{width:100%;height:auto}figcaption{font-size:.85em;color:#555}\
.warn{color:#a00}";

fn render(args: &Args) -> Result<String, Failure> {
    let est = read_json(&args.fit_dir.join("estimates.json"))?;
    let record = read_json(&args.fit_dir.join("run.json"))?;
    let model_name = est.get("model").and_then(Value::as_str).unwrap_or("model");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mido report: {}</title><style>{STYLE}</style></head><body>",
        esc(model_name)
    );
    let _ = write!(h, "<h1>Model {}</h1>", esc(model_name));
    let _ = write!(
        h,
        "<p>Method {}, {}; OFV {} (−2 log L without the n·log 2π constant, NONMEM's convention); AIC {}, BIC {}; {} subjects, {} observations.</p>",
        esc(est.get("method").and_then(Value::as_str).unwrap_or("?")),
        esc(est.get("status").and_then(Value::as_str).unwrap_or("?")),
        num(&est["ofv"]["value"]),
        num(&est["aic"]),
        num(&est["bic"]),
        est["subjects"],
        est["observations"]
    );
    if est["covariance"]["status"] == "failed" {
        let _ = write!(
            h,
            "<p class=\"warn\">The covariance step failed: {}</p>",
            esc(est["covariance"]["reason"].as_str().unwrap_or(""))
        );
    }

    // Estimates.
    h.push_str("<h2>Estimates</h2><table><tr><th>parameter</th><th>estimate</th><th>SE</th><th>RSE %</th><th>95% CI</th><th>shrinkage %</th></tr>");
    let ci = |v: &Value| match v.as_array() {
        Some(a) if a.len() == 2 => format!("[{}, {}]", num(&a[0]), num(&a[1])),
        _ => "–".into(),
    };
    for t in est["theta"].as_array().into_iter().flatten() {
        let fixed = if t["fixed"] == true { " (fixed)" } else { "" };
        let _ = write!(
            h,
            "<tr><td>{}{fixed}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
            esc(t["name"].as_str().unwrap_or("?")),
            num(&t["estimate"]),
            num(&t["se"]),
            num(&t["rse_percent"]),
            ci(&t["ci95"])
        );
    }
    for o in est["omega"].as_array().into_iter().flatten() {
        let (r, c) = (
            o["row"].as_str().unwrap_or("?"),
            o["column"].as_str().unwrap_or("?"),
        );
        let label = if r == c {
            format!("OMEGA({r})")
        } else {
            format!("OMEGA({r}, {c})")
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label),
            num(&o["estimate"]),
            num(&o["se"]),
            num(&o["rse_percent"]),
            ci(&o["ci95"]),
            num(&o["shrinkage_percent"])
        );
    }
    h.push_str("</table>");

    // Bootstrap.
    if let Some(dir) = &args.bootstrap {
        let b = read_json(&dir.join("bootstrap.json"))?;
        let _ = write!(
            h,
            "<h2>Bootstrap</h2><p>{} of {} replicates finished, {} converged ({}%); percentile intervals from the converged ones.</p>",
            b["replicates_finished"],
            b["replicates_expected"],
            b["converged"],
            b["success_rate"].as_f64().map_or("–".into(), |r| format!("{:.1}", 100.0 * r))
        );
        h.push_str("<table><tr><th>parameter</th><th>original</th><th>median</th><th>bootstrap SE</th><th>95% interval</th></tr>");
        for p in b["parameters"].as_array().into_iter().flatten() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("?")),
                num(&p["original"]),
                num(&p["median"]),
                num(&p["se"]),
                ci(&p["ci95"])
            );
        }
        h.push_str("</table>");
    }

    // Diagnostics.
    h.push_str("<h2>Goodness of fit</h2><div class=\"plots\">");
    for p in render_gof(&args.fit_dir)? {
        let _ = write!(
            h,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            inline_svg(&p.svg),
            esc(&p.file)
        );
    }
    h.push_str("</div>");
    if let Some(dir) = &args.vpc {
        let svg = std::fs::read_to_string(dir.join("vpc.svg")).map_err(|e| {
            Failure::Usage(format!(
                "cannot read {}: {e}",
                dir.join("vpc.svg").display()
            ))
        })?;
        let _ = write!(
            h,
            "<h2>Visual predictive check</h2><figure>{}</figure>",
            inline_svg(&svg)
        );
    }

    // Model and record.
    let model_path = record
        .pointer("/model/path")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    h.push_str("<h2>Model</h2>");
    match model_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        Some(text) => {
            let _ = write!(
                h,
                "<p>{}</p><pre>{}</pre>",
                esc(&model_path
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()),
                esc(&text)
            );
        }
        None => {
            h.push_str("<p class=\"warn\">The model file named in run.json cannot be read.</p>")
        }
    }
    let pretty = serde_json::to_string_pretty(&record).unwrap_or_default();
    let _ = write!(h, "<h2>Run record</h2><pre>{}</pre>", esc(&pretty));
    let _ = writeln!(
        h,
        "<p><small>Written by mido {}.</small></p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(h)
}

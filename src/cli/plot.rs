//! `mido plot gof FITDIR`: goodness-of-fit plots from a fit's output
//! directory (sdtab.csv, estimates.json, and for etas against covariates
//! the model and data named in run.json).

use super::diagnostic_plots::{
    eta_histogram, individual_fits, scatter, Plot, Reference, SubjectFit,
};
use super::output::OutDir;
use super::{compile_for_run, read_dataset, Failure};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(clap::Subcommand)]
enum Kind {
    /// Goodness-of-fit plots of a fit: observations against predictions
    /// (linear and log), residuals against time and predictions, NPDE when
    /// computed, individual fits, eta distributions and etas against
    /// covariates.
    Gof {
        /// A `mido fit` output directory.
        fit_dir: PathBuf,
        /// Where the SVG files go; default: FIT_DIR/plots.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace plots already there.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &Args) -> Result<(), Failure> {
    match &args.kind {
        Kind::Gof {
            fit_dir,
            out,
            force,
        } => gof(fit_dir, out.as_deref(), *force),
    }
}

/// sdtab.csv as columns by name.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, Failure> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?
            .iter()
            .map(String::from)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                r.map(|r| r.iter().map(String::from).collect())
                    .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
            })
            .collect::<Result<_, _>>()?;
        Ok(Table { header, rows })
    }

    fn col(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.header.iter().position(|h| h == name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN))
                .collect(),
        )
    }

    fn text(&self, name: &str) -> Option<Vec<String>> {
        let i = self.header.iter().position(|h| h == name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).cloned().unwrap_or_default())
                .collect(),
        )
    }
}

fn gof(fit_dir: &Path, out: Option<&Path>, force: bool) -> Result<(), Failure> {
    let plots = render_gof(fit_dir)?;
    let dir = out.map_or_else(|| fit_dir.join("plots"), Path::to_path_buf);
    let out = OutDir::new(&dir, force)?;
    let names: Vec<&str> = plots.iter().map(|p| p.file.as_str()).collect();
    out.ensure_free(&names)?;
    for p in &plots {
        out.write(&p.file, |w| w.write_all(p.svg.as_bytes()))?;
    }
    eprintln!("wrote {} plots in {}", plots.len(), dir.display());
    Ok(())
}

/// Every goodness-of-fit plot of the fit in `fit_dir`, rendered.
pub fn render_gof(fit_dir: &Path) -> Result<Vec<Plot>, Failure> {
    let sdtab = Table::read(&fit_dir.join("sdtab.csv"))?;
    let need = |name: &str| {
        sdtab.col(name).ok_or_else(|| {
            Failure::Input(format!(
                "{} has no {name} column: not a mido sdtab",
                fit_dir.join("sdtab.csv").display()
            ))
        })
    };
    let (time, dv, pred, ipred) = (need("TIME")?, need("DV")?, need("PRED")?, need("IPRED")?);
    let (cwres, iwres) = (need("CWRES")?, need("IWRES")?);
    let ids = sdtab
        .text("ID")
        .ok_or_else(|| Failure::Input("sdtab.csv has no ID column".into()))?;
    let d = |r: std::io::Result<String>| {
        r.map_err(|e| Failure::Input(format!("cannot render a plot: {e}")))
    };
    let zip = |a: &[f64], b: &[f64]| -> Vec<(f64, f64)> {
        a.iter().copied().zip(b.iter().copied()).collect()
    };

    let mut plots = vec![
        Plot {
            file: "dv_vs_pred.svg".into(),
            svg: d(scatter(
                "DV vs PRED",
                "PRED",
                "DV",
                &zip(&pred, &dv),
                Reference::Identity,
                false,
            ))?,
        },
        Plot {
            file: "dv_vs_ipred.svg".into(),
            svg: d(scatter(
                "DV vs IPRED",
                "IPRED",
                "DV",
                &zip(&ipred, &dv),
                Reference::Identity,
                false,
            ))?,
        },
        Plot {
            file: "dv_vs_pred_log.svg".into(),
            svg: d(scatter(
                "DV vs PRED (log)",
                "PRED",
                "DV",
                &zip(&pred, &dv),
                Reference::Identity,
                true,
            ))?,
        },
        Plot {
            file: "dv_vs_ipred_log.svg".into(),
            svg: d(scatter(
                "DV vs IPRED (log)",
                "IPRED",
                "DV",
                &zip(&ipred, &dv),
                Reference::Identity,
                true,
            ))?,
        },
        Plot {
            file: "cwres_vs_time.svg".into(),
            svg: d(scatter(
                "CWRES vs TIME",
                "TIME",
                "CWRES",
                &zip(&time, &cwres),
                Reference::Zero,
                false,
            ))?,
        },
        Plot {
            file: "cwres_vs_pred.svg".into(),
            svg: d(scatter(
                "CWRES vs PRED",
                "PRED",
                "CWRES",
                &zip(&pred, &cwres),
                Reference::Zero,
                false,
            ))?,
        },
        Plot {
            file: "iwres_vs_ipred.svg".into(),
            svg: d(scatter(
                "IWRES vs IPRED",
                "IPRED",
                "IWRES",
                &zip(&ipred, &iwres),
                Reference::Zero,
                false,
            ))?,
        },
    ];
    if let Some(npde) = sdtab.col("NPDE") {
        plots.push(Plot {
            file: "npde_vs_time.svg".into(),
            svg: d(scatter(
                "NPDE vs TIME",
                "TIME",
                "NPDE",
                &zip(&time, &npde),
                Reference::Zero,
                false,
            ))?,
        });
        plots.push(Plot {
            file: "npde_vs_pred.svg".into(),
            svg: d(scatter(
                "NPDE vs PRED",
                "PRED",
                "NPDE",
                &zip(&pred, &npde),
                Reference::Zero,
                false,
            ))?,
        });
    }
    // Individual fits, 12 subjects a page, in file order.
    let mut subjects: Vec<SubjectFit> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if subjects.last().is_none_or(|s| s.id != *id) {
            subjects.push(SubjectFit {
                id: id.clone(),
                rows: Vec::new(),
            });
        }
        if let Some(s) = subjects.last_mut() {
            s.rows.push((time[i], dv[i], pred[i], ipred[i]));
        }
    }
    let pages = subjects.len().div_ceil(12);
    for (k, page) in subjects.chunks(12).enumerate() {
        plots.push(Plot {
            file: format!("individual_fits_{}.svg", k + 1),
            svg: d(individual_fits(
                page,
                &format!(
                    "Individual fits, page {} of {pages}: DV (points), IPRED (line), PRED (dashed)",
                    k + 1
                ),
            ))?,
        });
    }
    // Etas: one value per subject.
    let estimates: Option<Value> = std::fs::read_to_string(fit_dir.join("estimates.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let eta_names: Vec<String> = estimates
        .as_ref()
        .and_then(|e| e.pointer("/omega_matrix/etas")?.as_array().cloned())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let first_rows: Vec<usize> = (0..ids.len())
        .filter(|&i| i == 0 || ids[i] != ids[i - 1])
        .collect();
    let covariates = subject_covariates(
        fit_dir,
        &first_rows
            .iter()
            .map(|&i| ids[i].clone())
            .collect::<Vec<_>>(),
    );
    for (k, name) in eta_names.iter().enumerate() {
        let Some(col) = sdtab.col(name) else { continue };
        let values: Vec<f64> = first_rows.iter().map(|&i| col[i]).collect();
        let omega = estimates.as_ref().and_then(|e| {
            e.pointer(&format!("/omega_matrix/values/{k}/{k}"))?
                .as_f64()
        });
        plots.push(Plot {
            file: format!("eta_{name}.svg"),
            svg: d(eta_histogram(name, &values, omega))?,
        });
        for (cov, cov_values) in &covariates {
            let pts: Vec<(f64, f64)> = cov_values
                .iter()
                .copied()
                .zip(values.iter().copied())
                .collect();
            plots.push(Plot {
                file: format!("eta_{name}_vs_{cov}.svg"),
                svg: d(scatter(
                    &format!("{name} vs {cov}"),
                    cov,
                    name,
                    &pts,
                    Reference::Zero,
                    false,
                ))?,
            });
        }
    }

    Ok(plots)
}

/// Each model covariate's value on each subject's first record, from the
/// model and data the fit's run record names; empty (with a note) when
/// they cannot be read.
fn subject_covariates(fit_dir: &Path, ids: &[String]) -> Vec<(String, Vec<f64>)> {
    let record: Option<Value> = std::fs::read_to_string(fit_dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let path = |key: &str| -> Option<PathBuf> {
        record
            .as_ref()?
            .pointer(&format!("/{key}/path"))?
            .as_str()
            .map(PathBuf::from)
    };
    let (Some(model_path), Some(data_path)) = (path("model"), path("data")) else {
        eprintln!("note: no model and data paths in run.json; no etas-vs-covariates plots");
        return Vec::new();
    };
    let loaded = compile_for_run(&model_path, mido_compiler::Engine::Interp)
        .and_then(|(_, m)| read_dataset(&data_path, m.info(), "read").map(|(_, d)| (m, d)));
    let Ok((model, data)) = loaded else {
        eprintln!(
            "note: cannot read {} or {}; no etas-vs-covariates plots",
            model_path.display(),
            data_path.display()
        );
        return Vec::new();
    };
    model
        .info()
        .covariates
        .iter()
        .enumerate()
        .map(|(c, info)| {
            let values = ids
                .iter()
                .map(|id| {
                    data.subjects
                        .iter()
                        .find(|s| s.label == *id)
                        .and_then(|s| s.covariates.get(c).copied())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (info.name.clone(), values)
        })
        .collect()
}

//! The files a scenario names: a fit's estimates and datasets to resample
//! covariates from, read relative to the scenario file, hashed for the
//! run record. A file that cannot be read or used is a diagnostic pointing
//! at its path in the scenario.

use mido_compiler::scenario::ir::{CovariateSource, FileRef, Scenario};
use mido_compiler::scenario::ScenarioError;
use mido_runtime::data::{DataSpec, Dataset};
use mido_runtime::explore::Parameters;
use mido_runtime::model::ModelInfo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A file read for the run, with its hash.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
}

/// What the scenario's files hold.
pub struct Inputs {
    pub parameters: Parameters,
    pub params_file: Option<InputFile>,
    /// One per population resampled from a dataset, by population name.
    pub datasets: Vec<(String, Dataset, InputFile)>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(base: &Path, file: &FileRef) -> Result<(String, InputFile), ScenarioError> {
    let path = base.join(&file.path);
    let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::UnreadableFile {
        path: file.path.clone(),
        span: file.span,
        reason: format!("{}: {e}", path.display()),
    })?;
    let sha256 = sha256_hex(text.as_bytes());
    Ok((text, InputFile { path, sha256 }))
}

/// Reads the estimates and datasets of `scenario` for `info`; every
/// problem is reported, not only the first.
pub fn read_inputs(
    scenario: &Scenario,
    info: &ModelInfo,
    base: &Path,
) -> Result<Inputs, Vec<ScenarioError>> {
    let mut errors = Vec::new();
    let (parameters, params_file) = match &scenario.params {
        None => (Parameters::from_model(info), None),
        Some(file) => match read(base, file) {
            Ok((text, input)) => match Parameters::from_estimates(&text, info) {
                Ok(p) if scenario.parameter_uncertainty && p.theta_covariance.is_none() => {
                    errors.push(ScenarioError::InvalidFile {
                        path: file.path.clone(),
                        span: file.span,
                        reason: "`uncertainty = covariance` needs the covariance of the fixed effects, and this fit has none (its covariance step did not run or failed)".into(),
                    });
                    (p, None)
                }
                Ok(p) => (p, Some(input)),
                Err(e) => {
                    errors.push(ScenarioError::InvalidFile {
                        path: file.path.clone(),
                        span: file.span,
                        reason: e.to_string(),
                    });
                    (Parameters::from_model(info), None)
                }
            },
            Err(e) => {
                errors.push(e);
                (Parameters::from_model(info), None)
            }
        },
    };
    let mut datasets = Vec::new();
    for p in &scenario.populations {
        let CovariateSource::Dataset(file) = &p.source else {
            continue;
        };
        match read(base, file) {
            Ok((text, input)) => {
                match Dataset::parse(&text, &file.path, &DataSpec::from_info(info)) {
                    Ok(data) if data.subjects.is_empty() => {
                        errors.push(ScenarioError::InvalidFile {
                            path: file.path.clone(),
                            span: file.span,
                            reason: "the dataset has no subject".into(),
                        })
                    }
                    Ok(data) => datasets.push((p.name.clone(), data, input)),
                    Err(e) => errors.push(ScenarioError::InvalidFile {
                        path: file.path.clone(),
                        span: file.span,
                        reason: format!("the dataset has errors:\n{e}"),
                    }),
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(Inputs {
            parameters,
            params_file,
            datasets,
        })
    } else {
        Err(errors)
    }
}

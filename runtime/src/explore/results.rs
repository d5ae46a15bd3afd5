//! The result tables of an exploration and their CSV and JSON writers.
//!
//! Percentiles are R's type 7 (linear interpolation between order
//! statistics), over every virtual subject of every replicate. The writers
//! take any `io::Write`: where and how files are created (atomically, not
//! over earlier results) is the command line's business.

use super::bands::ProfileBands;
use super::responses::ResponseSummary;
use super::targets::{Overlap, SubgroupRatio, TargetKind};
use serde::Serialize;
use std::io::{self, Write};

/// Summary of one metric over the subjects of a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    pub name: String,
    pub median: f64,
    pub p5: f64,
    pub p95: f64,
    pub mean: f64,
}

/// Attainment of one target over the subjects of a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attainment {
    pub target: String,
    pub kind: TargetKind,
    /// Share of subjects (all replicates) meeting the condition.
    pub fraction: f64,
    pub required: f64,
    pub met: bool,
    /// 5th and 95th percentiles of the per-replicate fractions (equal to
    /// `fraction` with one replicate).
    pub replicate_p5: f64,
    pub replicate_p95: f64,
}

/// One regimen in one population (or one of its subgroups).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    pub regimen: String,
    pub population: String,
    /// `None` for the whole population.
    pub subgroup: Option<String>,
    /// Virtual subjects, over all replicates.
    pub subjects: usize,
    /// Mean amount administered per subject (after dose rules).
    pub total_dose: f64,
    pub metrics: Vec<MetricSummary>,
    pub targets: Vec<Attainment>,
    pub meets_all_targets: bool,
    /// Exposure–response probabilities, one per scenario response.
    pub responses: Vec<ResponseSummary>,
}

/// The regimen recommended for a population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub population: String,
    /// The lowest mean total dose meeting every target; `None` when no
    /// regimen meets them all.
    pub regimen: Option<String>,
    /// Every regimen meeting every target, in scenario order.
    pub meeting_all: Vec<String>,
}

/// Everything an exploration reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exploration {
    pub rows: Vec<ResultRow>,
    pub recommendations: Vec<Recommendation>,
    pub overlap: Vec<Overlap>,
    pub subgroup_ratios: Vec<SubgroupRatio>,
    /// Percentile bands over time: per band spec, regimen, population and
    /// subgroup (the whole population first, then its subgroups).
    pub bands: Vec<ProfileBands>,
    /// Per regimen × population, the metric values of every subject.
    #[serde(skip)]
    pub values: Vec<SubjectValues>,
    /// ODE solver work over the whole exploration (zero on the closed-form path).
    #[serde(skip)]
    pub solver_stats: crate::solver::SolverStats,
}

/// Raw metric values of one regimen in one population, subjects in order
/// (replicate-major), for plots and further analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectValues {
    pub regimen: String,
    pub population: String,
    pub metric_names: Vec<String>,
    /// `subjects × metrics`, row-major.
    pub metrics: Vec<f64>,
    /// Amount administered to each subject.
    pub administered: Vec<f64>,
    /// Each subject's covariates (model order), `subjects × covariates`.
    pub covariates: Vec<f64>,
    pub replicates: usize,
}

impl SubjectValues {
    pub fn n_subjects(&self) -> usize {
        self.administered.len()
    }

    /// Values of metric `m`, one per subject.
    pub fn metric(&self, m: usize) -> impl Iterator<Item = f64> + '_ {
        let k = self.metric_names.len();
        self.metrics.iter().skip(m).step_by(k.max(1)).copied()
    }
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted values, R type 7; NaN when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Median, 5th and 95th percentiles and mean of the finite values.
pub(crate) fn summarize(
    name: &str,
    values: impl Iterator<Item = f64>,
    scratch: &mut Vec<f64>,
) -> MetricSummary {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()));
    scratch.sort_by(f64::total_cmp);
    let mean = if scratch.is_empty() {
        f64::NAN
    } else {
        scratch.iter().sum::<f64>() / scratch.len() as f64
    };
    MetricSummary {
        name: name.to_string(),
        median: quantile_sorted(scratch, 0.5),
        p5: quantile_sorted(scratch, 0.05),
        p95: quantile_sorted(scratch, 0.95),
        mean,
    }
}

impl Exploration {
    /// The rows as CSV: one line per row; per metric `NAME_median`,
    /// `NAME_p5`, `NAME_p95`; per target `NAME_attainment`, `NAME_met`;
    /// per response `NAME_probability` and the 5th–95th percentiles of the
    /// per-replicate means, `NAME_probability_p5`, `NAME_probability_p95`.
    pub fn write_csv(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        let to_io = |e: csv::Error| io::Error::other(e.to_string());
        let Some(first) = self.rows.first() else {
            return out.flush();
        };
        let mut header: Vec<String> = [
            "regimen",
            "population",
            "subgroup",
            "subjects",
            "total_dose",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for m in &first.metrics {
            for s in ["median", "p5", "p95"] {
                header.push(format!("{}_{s}", m.name));
            }
        }
        for t in &first.targets {
            header.push(format!("{}_attainment", t.target));
            header.push(format!("{}_met", t.target));
        }
        for r in &first.responses {
            for s in ["probability", "probability_p5", "probability_p95"] {
                header.push(format!("{}_{s}", r.name));
            }
        }
        header.push("meets_all_targets".into());
        out.write_record(&header).map_err(to_io)?;
        for r in &self.rows {
            let mut rec = vec![
                r.regimen.clone(),
                r.population.clone(),
                r.subgroup.clone().unwrap_or_default(),
                r.subjects.to_string(),
                num(r.total_dose),
            ];
            for m in &r.metrics {
                rec.extend([num(m.median), num(m.p5), num(m.p95)]);
            }
            for t in &r.targets {
                rec.push(num(t.fraction));
                rec.push(t.met.to_string());
            }
            for p in &r.responses {
                rec.extend([
                    num(p.probability),
                    num(p.replicate_p5),
                    num(p.replicate_p95),
                ]);
            }
            rec.push(r.meets_all_targets.to_string());
            out.write_record(&rec).map_err(to_io)?;
        }
        out.flush()
    }

    /// The percentile bands as CSV (`profiles.csv`): one line per band
    /// time of each variable × regimen × population × subgroup, with
    /// columns `regimen, population, subgroup, variable, subjects, time`
    /// and one column `pX` per percentile X asked for (empty where that
    /// band does not have it). A dose time has two lines, the value just
    /// before the dose first.
    pub fn write_profiles_csv(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        let to_io = |e: csv::Error| io::Error::other(e.to_string());
        let mut percentiles: Vec<f64> = Vec::new();
        for b in &self.bands {
            for &p in &b.percentiles {
                if !percentiles.contains(&p) {
                    percentiles.push(p);
                }
            }
        }
        percentiles.sort_by(f64::total_cmp);
        let mut header: Vec<String> = [
            "regimen",
            "population",
            "subgroup",
            "variable",
            "subjects",
            "time",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        header.extend(percentiles.iter().map(|p| format!("p{p}")));
        out.write_record(&header).map_err(to_io)?;
        for b in &self.bands {
            // Column of each percentile in this band's values.
            let columns: Vec<Option<usize>> = percentiles
                .iter()
                .map(|p| b.percentiles.iter().position(|q| q == p))
                .collect();
            for (i, &t) in b.times.iter().enumerate() {
                let mut rec = vec![
                    b.regimen.clone(),
                    b.population.clone(),
                    b.subgroup.clone().unwrap_or_default(),
                    b.variable.clone(),
                    b.subjects.to_string(),
                    num(t),
                ];
                for c in &columns {
                    rec.push(
                        c.and_then(|j| b.values.get(j))
                            .and_then(|v| v.get(i))
                            .map_or(String::new(), |&x| num(x)),
                    );
                }
                out.write_record(&rec).map_err(to_io)?;
            }
        }
        out.flush()
    }

    /// The whole report (rows, recommendations, overlap, subgroup ratios,
    /// percentile bands) as pretty JSON; non-finite numbers are `null`.
    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self).map_err(io::Error::other)?;
        writeln!(w)
    }
}

/// Numbers in CSV: shortest round-trip form; NaN as an empty field.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_7_quantiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert_eq!(quantile_sorted(&v, 0.05), 1.2);
        assert!((quantile_sorted(&v, 0.95) - 4.8).abs() < 1e-12);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }
}

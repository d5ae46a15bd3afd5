//! The report `mido explore` prints: one table per population (a row per
//! regimen and per subgroup: metric medians with 5th–95th percentiles,
//! target attainment), the regimens meeting every target and the one
//! recommended, exposure overlap between adjacent dose levels, subgroup
//! exposure ratios, and dose searches.

use mido_runtime::explore::{DoseSearch, Exploration, ResultRow, Scenario, SearchOutcome};
use std::fmt::Write as _;

/// Four significant digits, plain notation where it reads well.
pub fn sig(x: f64) -> String {
    if !x.is_finite() {
        return "-".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&mag) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    format!("{x:.decimals$}")
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", 100.0 * x)
    } else {
        "-".to_string()
    }
}

/// A table with a header, the first column left-aligned and the others right.
fn table(out: &mut String, header: Vec<String>, rows: Vec<Vec<String>>, indent: &str) {
    let n = header.len();
    let mut width = vec![0; n];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::from(indent);
        for (j, (c, w)) in r.iter().zip(&width).enumerate() {
            let pad = w - c.chars().count();
            if j == 0 {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn row_cells(r: &ResultRow, label: String) -> Vec<String> {
    let mut cells = vec![label, sig(r.total_dose)];
    for m in &r.metrics {
        cells.push(format!("{} [{}–{}]", sig(m.median), sig(m.p5), sig(m.p95)));
    }
    for t in &r.targets {
        let spread = if t.replicate_p5 != t.replicate_p95 {
            format!(" ({}–{})", pct(t.replicate_p5), pct(t.replicate_p95))
        } else {
            String::new()
        };
        cells.push(format!(
            "{}{spread} {}",
            pct(t.fraction),
            if t.met { "met" } else { "not met" }
        ));
    }
    cells.push(if r.meets_all_targets { "yes" } else { "no" }.to_string());
    for p in &r.responses {
        let spread = if p.replicate_p5 != p.replicate_p95 {
            format!(" ({}–{})", pct(p.replicate_p5), pct(p.replicate_p95))
        } else {
            String::new()
        };
        cells.push(format!("{}{spread}", pct(p.probability)));
    }
    cells
}

pub fn report(
    name: &str,
    s: &Scenario,
    x: &Exploration,
    searches: &[(String, DoseSearch, SearchOutcome)],
) -> String {
    let mut out = String::new();
    let reps = s.variability.replicates;
    let _ = writeln!(
        out,
        "scenario {name}: {} regimen{} × {} population{}, seed {}{}",
        s.regimens.len(),
        if s.regimens.len() == 1 { "" } else { "s" },
        s.populations.len(),
        if s.populations.len() == 1 { "" } else { "s" },
        s.seed,
        if reps > 1 {
            format!(", {reps} replicates")
        } else {
            String::new()
        }
    );
    for p in &s.populations {
        let _ = writeln!(
            out,
            "\npopulation {} ({} virtual subjects)",
            p.name,
            p.size * reps
        );
        let mut header = vec!["regimen".to_string(), "total dose".to_string()];
        for m in &s.metrics {
            header.push(format!("{} median [5th–95th]", m.name));
        }
        for t in &s.targets {
            header.push(format!("{} ≥{}", t.name, pct(t.fraction)));
        }
        header.push("all targets".to_string());
        for r in &s.responses {
            header.push(format!("P({})", r.name));
        }
        let mut rows = Vec::new();
        for r in x.rows.iter().filter(|r| r.population == p.name) {
            let label = match &r.subgroup {
                None => r.regimen.clone(),
                Some(g) => format!("  {g} (n = {})", r.subjects),
            };
            rows.push(row_cells(r, label));
        }
        table(&mut out, header, rows, "  ");
    }
    if !s.targets.is_empty() {
        let _ = writeln!(
            out,
            "\nregimens meeting every target (recommended: the lowest mean total dose)"
        );
        for rec in &x.recommendations {
            match &rec.regimen {
                Some(best) => {
                    let _ = writeln!(
                        out,
                        "  {}: recommended {best}; meeting all: {}",
                        rec.population,
                        rec.meeting_all.join(", ")
                    );
                }
                None => {
                    let _ = writeln!(out, "  {}: no regimen meets every target", rec.population);
                }
            }
        }
    }
    if !x.overlap.is_empty() {
        let _ = writeln!(out, "\nexposure overlap between adjacent dose levels (share of the 5th–95th percentile ranges)");
        let rows = x
            .overlap
            .iter()
            .map(|o| {
                vec![
                    o.population.clone(),
                    o.metric.clone(),
                    format!("{} → {}", o.lower, o.upper),
                    sig(o.share),
                ]
            })
            .collect();
        table(
            &mut out,
            vec![
                "population".into(),
                "metric".into(),
                "dose levels".into(),
                "overlap".into(),
            ],
            rows,
            "  ",
        );
    }
    if !x.subgroup_ratios.is_empty() {
        let _ = writeln!(out, "\nsubgroup exposure ratios (geometric mean ratio to the reference, 90% CI, band 0.80–1.25)");
        let rows = x
            .subgroup_ratios
            .iter()
            .map(|g| {
                vec![
                    g.regimen.clone(),
                    g.population.clone(),
                    g.metric.clone(),
                    format!("{} vs {}", g.subgroup, g.reference),
                    format!("{} [{}–{}]", sig(g.gmr), sig(g.ci90.0), sig(g.ci90.1)),
                    if g.within_band { "within" } else { "outside" }.to_string(),
                    match g.dose_factor_range {
                        Some((lo, hi)) => {
                            format!("×{} [{}–{}]", sig(g.dose_factor), sig(lo), sig(hi))
                        }
                        None => format!("×{} [none]", sig(g.dose_factor)),
                    },
                ]
            })
            .collect();
        table(
            &mut out,
            [
                "regimen",
                "population",
                "metric",
                "subgroup",
                "GMR [90% CI]",
                "band",
                "dose factor [into band]",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
            rows,
            "  ",
        );
    }
    for (name, search, outcome) in searches {
        let _ = writeln!(
            out,
            "\ndose search {name}: regimen {} in population {}, efficacy {} under safety {}",
            search.regimen, search.population, search.efficacy, search.safety
        );
        // The interval column only when the search chose among several.
        let by_interval = outcome.intervals.len() > 1;
        let rows = outcome
            .evaluated
            .iter()
            .map(|p| {
                let mut row = Vec::new();
                if by_interval {
                    row.push(sig(p.interval));
                }
                row.push(sig(p.dose));
                row.push(format!(
                    "{}{}",
                    pct(p.efficacy),
                    if p.effective { " met" } else { "" }
                ));
                row.push(format!(
                    "{}{}",
                    pct(p.safety),
                    if p.safe { " met" } else { "" }
                ));
                row
            })
            .collect();
        let mut header = Vec::new();
        if by_interval {
            header.push("interval".into());
        }
        header.extend(["dose".into(), "efficacy".into(), "safety".into()]);
        table(&mut out, header, rows, "  ");
        if by_interval {
            if let Some(t) = outcome.interval {
                let _ = writeln!(
                    out,
                    "  chosen interval: {} (the longest at which a dose meets both targets, or the best efficacy)",
                    sig(t)
                );
            }
        }
        let _ = match outcome.dose {
            Some(d) if outcome.effective => {
                writeln!(out, "  recommended dose: {} (meets both targets)", sig(d))
            }
            Some(d) => writeln!(
                out,
                "  recommended dose: {} (the highest safe dose; the efficacy target is not met)",
                sig(d)
            ),
            None => writeln!(out, "  no dose meets the safety target"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig(1234.567), "1235");
        assert_eq!(sig(2.0), "2.000");
        assert_eq!(sig(0.012345), "0.01235");
        assert_eq!(sig(0.0), "0");
        assert_eq!(sig(f64::NAN), "-");
    }
}

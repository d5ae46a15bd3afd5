//! SVG plots of an exploration: concentration–time percentile bands,
//! metric distributions per regimen, and the subgroup forest plot.
//!
//! Each plot is rendered in memory ([`render_all`]); the command writes
//! them atomically through `OutDir`, so an interrupted run never leaves
//! half an SVG. Plots are SVG
//! only (plotters' SVG backend, no font or bitmap crates): text is left to
//! the viewer's fonts, and the files are small and diffable.
//!
//! This module reads an [`Exploration`] and draws; it computes nothing the
//! report does not already hold except the box-plot percentiles of each
//! metric, taken from the per-subject values ([`Exploration::values`]).

use mido_runtime::explore::{quantile_sorted, Exploration, ProfileBands, SubgroupRatio};
use plotters::prelude::*;
use std::io;

/// Width of every plot, and height of one panel (pixels).
const WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 320;
/// Panels per row in multi-panel plots.
const COLUMNS: usize = 2;
/// Colours of the regimens' series, cycled.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// A rendered plot: its file name and SVG text.
pub struct Plot {
    pub file: String,
    pub svg: String,
}

/// Every plot: the bands of each variable × population (and subgroup),
/// the metric distributions of each population, the forest plot of each
/// population × compared metric.
pub fn render_all(exploration: &Exploration) -> io::Result<Vec<Plot>> {
    let mut plots = Vec::new();
    let mut keys: Vec<(&str, &str, Option<&str>)> = Vec::new();
    for b in &exploration.bands {
        let key = (
            b.variable.as_str(),
            b.population.as_str(),
            b.subgroup.as_deref(),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (variable, population, subgroup) in keys {
        let bands: Vec<&ProfileBands> = exploration
            .bands
            .iter()
            .filter(|b| {
                b.variable == variable
                    && b.population == population
                    && b.subgroup.as_deref() == subgroup
            })
            .collect();
        let mut file = format!("bands_{}_{}", slug(variable), slug(population));
        if let Some(g) = subgroup {
            file.push('_');
            file.push_str(&slug(g));
        }
        plots.push(Plot {
            file: file + ".svg",
            svg: bands_svg(&bands)?,
        });
    }
    let mut populations: Vec<&str> = Vec::new();
    for v in &exploration.values {
        if !populations.contains(&v.population.as_str()) {
            populations.push(&v.population);
        }
    }
    for population in populations {
        if let Some(svg) = metrics_svg(exploration, population)? {
            plots.push(Plot {
                file: format!("metrics_{}.svg", slug(population)),
                svg,
            });
        }
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for r in &exploration.subgroup_ratios {
        if !pairs.contains(&(r.population.as_str(), r.metric.as_str())) {
            pairs.push((&r.population, &r.metric));
        }
    }
    for (population, metric) in pairs {
        let ratios: Vec<&SubgroupRatio> = exploration
            .subgroup_ratios
            .iter()
            .filter(|r| r.population == population && r.metric == metric)
            .collect();
        plots.push(Plot {
            file: format!("forest_{}_{}.svg", slug(population), slug(metric)),
            svg: forest_svg(&ratios)?,
        });
    }
    Ok(plots)
}

/// A file-name part: letters, digits, `-` and `_`; anything else `_`.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(e.to_string())
}

/// `p12.5` for 12.5, `p5` for 5.
fn percentile_name(p: f64) -> String {
    format!("p{p}")
}

/// Rows and columns of a grid of `n` panels.
fn grid(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, COLUMNS);
    (n.div_ceil(cols).max(1), cols)
}

/// Lowest and highest finite values, padded; `(0, 1)` when there are none.
fn value_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let lo = if lo >= 0.0 { 0.0 } else { lo };
    let pad = 0.05 * (hi - lo).max(hi.abs() * 1e-3).max(1e-12);
    (lo, hi + pad)
}

/// One panel per regimen: the outermost percentiles as a shaded band, the
/// next ones inside as a darker band, the middle percentile (the median)
/// as a line.
fn bands_svg(bands: &[&ProfileBands]) -> io::Result<String> {
    let mut svg = String::new();
    {
        let (rows, cols) = grid(bands.len());
        let root = SVGBackend::with_string(&mut svg, (WIDTH, PANEL_HEIGHT * rows as u32 + 40))
            .into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let title = bands.first().map_or(String::new(), |b| {
            let mut t = format!("{} — population {}", b.variable, b.population);
            if let Some(g) = &b.subgroup {
                t.push_str(&format!(", subgroup {g}"));
            }
            t
        });
        let root = root
            .titled(&title, ("sans-serif", 20))
            .map_err(draw_error)?;
        for ((k, band), panel) in bands
            .iter()
            .enumerate()
            .zip(root.split_evenly((rows, cols)))
        {
            let color = PALETTE[k % PALETTE.len()];
            let t_end = band.times.last().copied().unwrap_or(1.0).max(1e-9);
            let (y0, y1) = value_range(band.values.iter().flatten().copied());
            let mut chart = ChartBuilder::on(&panel)
                .caption(&band.regimen, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..t_end, y0..y1)
                .map_err(draw_error)?;
            chart
                .configure_mesh()
                .x_desc("time")
                .y_desc(band.variable.as_str())
                .draw()
                .map_err(draw_error)?;
            let mut order: Vec<usize> = (0..band.percentiles.len()).collect();
            order.sort_by(|&a, &b| band.percentiles[a].total_cmp(&band.percentiles[b]));
            let series = |j: usize| -> Vec<(f64, f64)> {
                band.times
                    .iter()
                    .zip(&band.values[j])
                    .filter(|(_, v)| v.is_finite())
                    .map(|(&t, &v)| (t, v))
                    .collect()
            };
            let (mut lo, mut hi) = (0usize, order.len());
            let mut shade = 0.18;
            while lo + 1 < hi {
                let (a, b) = (order[lo], order[hi - 1]);
                let mut outline = series(b);
                outline.extend(series(a).into_iter().rev());
                let label = format!(
                    "{}–{}",
                    percentile_name(band.percentiles[a]),
                    percentile_name(band.percentiles[b])
                );
                let style = color.mix(shade).filled();
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, style)))
                    .map_err(draw_error)?
                    .label(label)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
                lo += 1;
                hi -= 1;
                shade += 0.17;
            }
            if lo + 1 == hi {
                let j = order[lo];
                let p = band.percentiles[j];
                let label = if p == 50.0 {
                    "median".to_string()
                } else {
                    percentile_name(p)
                };
                chart
                    .draw_series(LineSeries::new(series(j), color.stroke_width(2)))
                    .map_err(draw_error)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Percentiles of a metric drawn as a box: the 25th–75th as the box, the
/// median across it, whiskers to the 5th and 95th.
#[derive(Debug, Clone, Copy)]
struct BoxStats {
    p5: f64,
    p25: f64,
    median: f64,
    p75: f64,
    p95: f64,
}

fn box_stats(values: impl Iterator<Item = f64>) -> Option<BoxStats> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p| quantile_sorted(&v, p);
    Some(BoxStats {
        p5: q(0.05),
        p25: q(0.25),
        median: q(0.5),
        p75: q(0.75),
        p95: q(0.95),
    })
}

/// One panel per metric; in each, one box per regimen of `population`.
fn metrics_svg(exploration: &Exploration, population: &str) -> io::Result<Option<String>> {
    let sets: Vec<_> = exploration
        .values
        .iter()
        .filter(|v| v.population == population)
        .collect();
    let Some(first) = sets.first() else {
        return Ok(None);
    };
    let names = &first.metric_names;
    if names.is_empty() {
        return Ok(None);
    }
    let regimens: Vec<&str> = sets.iter().map(|v| v.regimen.as_str()).collect();
    let mut svg = String::new();
    {
        let (rows, cols) = grid(names.len());
        let root = SVGBackend::with_string(&mut svg, (WIDTH, PANEL_HEIGHT * rows as u32 + 40))
            .into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let title = format!(
            "metrics by regimen — population {population} \
             (box p25–p75, line median, whiskers p5–p95)"
        );
        let root = root
            .titled(&title, ("sans-serif", 20))
            .map_err(draw_error)?;
        for ((m, name), panel) in names
            .iter()
            .enumerate()
            .zip(root.split_evenly((rows, cols)))
        {
            let stats: Vec<Option<BoxStats>> =
                sets.iter().map(|v| box_stats(v.metric(m))).collect();
            let (y0, y1) = value_range(stats.iter().flatten().flat_map(|s| [s.p5, s.p95]));
            let n = regimens.len();
            let label_of = |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    regimens
                        .get(i as usize)
                        .map_or(String::new(), |r| r.to_string())
                } else {
                    String::new()
                }
            };
            let mut chart = ChartBuilder::on(&panel)
                .caption(name, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(-0.5..n as f64 - 0.5, y0..y1)
                .map_err(draw_error)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&label_of)
                .y_desc(name.as_str())
                .draw()
                .map_err(draw_error)?;
            for (i, s) in stats.iter().enumerate() {
                let Some(s) = s else { continue };
                let color = PALETTE[i % PALETTE.len()];
                let x = i as f64;
                let (l, r) = (x - 0.25, x + 0.25);
                chart
                    .draw_series([
                        Rectangle::new([(l, s.p25), (r, s.p75)], color.mix(0.3).filled()),
                        Rectangle::new([(l, s.p25), (r, s.p75)], color.stroke_width(1)),
                    ])
                    .map_err(draw_error)?;
                chart
                    .draw_series([
                        PathElement::new([(l, s.median), (r, s.median)], color.stroke_width(3)),
                        PathElement::new([(x, s.p75), (x, s.p95)], color.stroke_width(1)),
                        PathElement::new([(x, s.p25), (x, s.p5)], color.stroke_width(1)),
                        PathElement::new(
                            [(x - 0.1, s.p95), (x + 0.1, s.p95)],
                            color.stroke_width(1),
                        ),
                        PathElement::new([(x - 0.1, s.p5), (x + 0.1, s.p5)], color.stroke_width(1)),
                    ])
                    .map_err(draw_error)?;
            }
        }
        root.present().map_err(draw_error)?;
    }
    Ok(Some(svg))
}

/// Geometric mean ratios with their 90% intervals on a log axis, one row
/// per subgroup (and regimen, when there are several), the 0.80–1.25 band
/// shaded and the line of no difference at 1.
fn forest_svg(ratios: &[&SubgroupRatio]) -> io::Result<String> {
    let several = ratios
        .iter()
        .any(|r| r.regimen != ratios.first().map_or("", |f| f.regimen.as_str()));
    let labels: Vec<String> = ratios
        .iter()
        .map(|r| {
            if several {
                format!("{} ({})", r.subgroup, r.regimen)
            } else {
                r.subgroup.clone()
            }
        })
        .collect();
    let (lo, hi) = ratios.iter().fold((0.8f64, 1.25f64), |(a, b), r| {
        let (c0, c1) = r.ci90;
        (
            if c0.is_finite() && c0 > 0.0 {
                a.min(c0)
            } else {
                a
            },
            if c1.is_finite() { b.max(c1) } else { b },
        )
    });
    // A linear axis of ln(ratio), labelled with ratios: plotters' log axis
    // labels only powers of ten, too sparse around 1.
    let (lo, hi) = ((lo / 1.1).ln(), (hi * 1.1).ln());
    let n = ratios.len();
    // Two empty rows above the subgroups hold the legend.
    let top = n as f64 + 1.5;
    let mut svg = String::new();
    {
        let height = (150 + 36 * n as u32).max(260);
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (metric, population, reference) = ratios.first().map_or(("", "", ""), |r| {
            (
                r.metric.as_str(),
                r.population.as_str(),
                r.reference.as_str(),
            )
        });
        let caption = format!("{metric}: ratio to {reference} (90% CI) — population {population}");
        // Rows from the top: row i at y = n − 1 − i.
        let label_of = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                labels[n - 1 - i as usize].clone()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(200)
            .build_cartesian_2d(lo..hi, -0.5..top)
            .map_err(draw_error)?;
        let ratio_label = |x: &f64| format!("{:.2}", x.exp());
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n + 2)
            .y_label_formatter(&label_of)
            .x_labels(10)
            .x_label_formatter(&ratio_label)
            .x_desc("geometric mean ratio (log scale)")
            .draw()
            .map_err(draw_error)?;
        let band = RGBColor(44, 160, 44).mix(0.18).filled();
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.8f64.ln(), -0.5), (1.25f64.ln(), top)],
                band,
            )))
            .map_err(draw_error)?
            .label("0.80–1.25")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], band));
        chart
            .draw_series(std::iter::once(PathElement::new(
                [(0.0, -0.5), (0.0, top)],
                BLACK.stroke_width(1),
            )))
            .map_err(draw_error)?;
        let color = PALETTE[0];
        chart
            .draw_series(ratios.iter().enumerate().map(|(i, r)| {
                let y = (n - 1 - i) as f64;
                PathElement::new(
                    [(r.ci90.0.ln(), y), (r.ci90.1.ln(), y)],
                    color.stroke_width(2),
                )
            }))
            .map_err(draw_error)?
            .label("90% CI")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart
            .draw_series(ratios.iter().enumerate().map(|(i, r)| {
                let y = (n - 1 - i) as f64;
                Circle::new((r.gmr.ln(), y), 5, color.filled())
            }))
            .map_err(draw_error)?
            .label("GMR")
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mido_runtime::explore::{SubgroupRatio, SubjectValues};

    fn bands(regimen: &str) -> ProfileBands {
        let times: Vec<f64> = vec![0.0, 0.0, 1.0, 2.0, 3.0];
        let median = vec![0.0, 10.0, 8.0, 6.0, 4.5];
        ProfileBands {
            regimen: regimen.into(),
            population: "adults".into(),
            subgroup: None,
            variable: "cp".into(),
            subjects: 100,
            percentiles: vec![5.0, 50.0, 95.0],
            times,
            values: vec![
                median.iter().map(|v| 0.5 * v).collect(),
                median.clone(),
                median.iter().map(|v| 2.0 * v).collect(),
            ],
        }
    }

    fn ratio(subgroup: &str, gmr: f64) -> SubgroupRatio {
        SubgroupRatio {
            regimen: "100 mg".into(),
            population: "adults".into(),
            metric: "auc".into(),
            subgroup: subgroup.into(),
            reference: "normal renal".into(),
            subjects: 50,
            gmr,
            ci90: (gmr * 0.9, gmr * 1.1),
            within_band: false,
            dose_factor: 1.0 / gmr,
            dose_factor_range: None,
        }
    }

    fn exploration() -> Exploration {
        let values = |regimen: &str, scale: f64| SubjectValues {
            regimen: regimen.into(),
            population: "adults".into(),
            metric_names: vec!["cmax".into(), "auc".into()],
            metrics: (0..50)
                .flat_map(|i| [scale * (1.0 + f64::from(i) / 50.0), scale * f64::from(i)])
                .collect(),
            administered: vec![scale; 50],
            covariates: vec![],
            replicates: 1,
        };
        Exploration {
            rows: vec![],
            recommendations: vec![],
            overlap: vec![],
            subgroup_ratios: vec![ratio("mild", 1.3), ratio("severe", 2.1)],
            bands: vec![bands("50 mg q12h"), bands("100 mg q24h")],
            values: vec![values("50 mg q12h", 1.0), values("100 mg q24h", 2.0)],
            solver_stats: Default::default(),
        }
    }

    /// A well-formed SVG document: one root element, closed.
    fn assert_svg(svg: &str) {
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{}",
            &svg[..80.min(svg.len())]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn bands_plot_has_a_panel_per_regimen_with_its_series() {
        let e = exploration();
        let plots = render_all(&e).expect("renders");
        let p = plots
            .iter()
            .find(|p| p.file == "bands_cp_adults.svg")
            .expect("the bands plot");
        assert_svg(&p.svg);
        for label in [
            "50 mg q12h",
            "100 mg q24h",
            "p5–p95",
            "median",
            "cp — population adults",
        ] {
            assert!(p.svg.contains(label), "missing {label}");
        }
        // One shaded band and one median line per regimen.
        assert_eq!(p.svg.matches("<polygon").count(), 2);
    }

    #[test]
    fn metrics_plot_has_a_box_per_regimen() {
        let plots = render_all(&exploration()).expect("renders");
        let p = plots
            .iter()
            .find(|p| p.file == "metrics_adults.svg")
            .expect("the metrics plot");
        assert_svg(&p.svg);
        for label in [
            "cmax",
            "auc",
            "50 mg q12h",
            "100 mg q24h",
            "whiskers p5–p95",
        ] {
            assert!(p.svg.contains(label), "missing {label}");
        }
    }

    #[test]
    fn forest_plot_shows_each_subgroup_against_the_band() {
        let plots = render_all(&exploration()).expect("renders");
        let p = plots
            .iter()
            .find(|p| p.file == "forest_adults_auc.svg")
            .expect("the forest plot");
        assert_svg(&p.svg);
        for label in [
            "mild",
            "severe",
            "0.80–1.25",
            "90% CI",
            "GMR",
            "ratio to normal renal",
        ] {
            assert!(p.svg.contains(label), "missing {label}");
        }
    }

    #[test]
    fn render_all_names_every_plot() {
        let plots = render_all(&exploration()).expect("renders");
        let mut names: Vec<&str> = plots.iter().map(|p| p.file.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "bands_cp_adults.svg",
                "forest_adults_auc.svg",
                "metrics_adults.svg"
            ]
        );
        for p in &plots {
            assert_svg(&p.svg);
        }
    }
}

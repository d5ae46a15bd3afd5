//! SVG plots of model diagnostics: the goodness-of-fit set read from a
//! fit's `sdtab.csv`, and the VPC. Rendered in memory (plotters' SVG
//! backend, text left to the viewer's fonts); the commands write them
//! atomically through `OutDir`.

use mido_runtime::evaluate::vpc::{Bin, Blq, Vpc};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 540;
const POINT: RGBColor = RGBColor(31, 119, 180);
const LINE: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(110, 110, 110);

/// A rendered plot: its file name and SVG text.
pub struct Plot {
    pub file: String,
    pub svg: String,
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(e.to_string())
}

/// Lowest and highest finite values, padded by 5%.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = 0.05 * (hi - lo).max(hi.abs() * 1e-3).max(1e-9);
    (lo - pad, hi + pad)
}

/// Tick marks of a log axis over `[lo, hi]`: labelled (bold) at 1, 2 and 5
/// per decade, with a light line at every other integer multiple; over
/// more than three decades labelled at the powers of ten only, with light
/// lines at 2 and 5. Labels at every plotters key point crowded together
/// at the top of each decade ("8.0 9.0 10.0").
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return (vec![], vec![]);
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let wide = k1 - k0 > 3;
    let (mut bold, mut light) = (Vec::new(), Vec::new());
    for k in k0..=k1 {
        let decade = 10f64.powi(k);
        for m in 1..10 {
            let v = f64::from(m) * decade;
            if v < lo || v > hi {
                continue;
            }
            let labelled = if wide { m == 1 } else { matches!(m, 1 | 2 | 5) };
            if labelled {
                bold.push(v);
            } else if !wide || matches!(m, 2 | 5) {
                light.push(v);
            }
        }
    }
    (bold, light)
}

/// A tick label without trailing zeros: `0.05`, `2`, `500`.
pub fn tick_label(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        return format!("{v:e}");
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The reference drawn over a scatter plot.
#[derive(Clone, Copy, PartialEq)]
pub enum Reference {
    /// y = x (observations against predictions).
    Identity,
    /// y = 0 (residuals), with ±1.96 dashed.
    Zero,
}

/// A scatter plot with its reference line; on log axes, points ≤ 0 are
/// left out (and counted in the caption).
pub fn scatter(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    reference: Reference,
    log: bool,
) -> io::Result<String> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log || (*x > 0.0 && *y > 0.0)))
        .collect();
    let dropped = points.len() - pts.len();
    let caption = if log && dropped > 0 {
        format!("{title} ({dropped} values ≤ 0 not shown)")
    } else {
        title.to_string()
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (mut x0, mut x1) = range(pts.iter().map(|p| p.0));
        let (mut y0, mut y1) = range(pts.iter().map(|p| p.1));
        if reference == Reference::Identity {
            (x0, x1) = (x0.min(y0), x1.max(y1));
            (y0, y1) = (x0, x1);
        }
        if reference == Reference::Zero {
            let m = y0.abs().max(y1.abs()).max(2.5);
            (y0, y1) = (-m, m);
        }
        let ref_line: Vec<(f64, f64)> = match reference {
            Reference::Identity => vec![(x0, x0), (x1, x1)],
            Reference::Zero => vec![(x0, 0.0), (x1, 0.0)],
        };
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(&caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if log {
            // One range for both axes (an identity plot), from the positive
            // values with a margin of a quarter on the log scale.
            let (lo, hi) = pts
                .iter()
                .flat_map(|p| [p.0, p.1])
                .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
            let (lo, hi) = if lo.is_finite() && hi > lo {
                (lo * 0.8, hi * 1.25)
            } else {
                (0.1, 10.0)
            };
            let axis = || {
                let (bold, light) = log_ticks(lo, hi);
                (lo..hi)
                    .log_scale()
                    .with_key_points(bold)
                    .with_light_points(light)
            };
            let mut chart = builder
                .build_cartesian_2d(axis(), axis())
                .map_err(draw_error)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&|v| tick_label(*v))
                .y_label_formatter(&|v| tick_label(*v))
                .draw()
                .map_err(draw_error)?;
            // The identity line across the whole (square) chart.
            chart
                .draw_series(LineSeries::new(
                    vec![(lo, lo), (hi, hi)],
                    GREY.stroke_width(1),
                ))
                .map_err(draw_error)?;
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 3, POINT.mix(0.6).filled())),
                )
                .map_err(draw_error)?;
        } else {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(draw_error)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .draw()
                .map_err(draw_error)?;
            chart
                .draw_series(LineSeries::new(ref_line, GREY.stroke_width(1)))
                .map_err(draw_error)?;
            if reference == Reference::Zero {
                for y in [-1.96, 1.96] {
                    chart
                        .draw_series(DashedLineSeries::new(
                            vec![(x0, y), (x1, y)],
                            4,
                            4,
                            GREY.stroke_width(1),
                        ))
                        .map_err(draw_error)?;
                }
            }
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 3, POINT.mix(0.6).filled())),
                )
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// One subject's data for the individual-fit pages.
pub struct SubjectFit {
    pub id: String,
    /// (time, DV, PRED, IPRED) per observation.
    pub rows: Vec<(f64, f64, f64, f64)>,
}

/// Individual fits, a page of up to 12 subjects: DV as points, IPRED as a
/// solid line, PRED dashed.
pub fn individual_fits(page: &[SubjectFit], title: &str) -> io::Result<String> {
    let cols = 4;
    let rows = page.len().div_ceil(cols).max(1);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (1080, 240 * rows as u32 + 40)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(draw_error)?;
        for (s, panel) in page.iter().zip(root.split_evenly((rows, cols))) {
            let (t0, t1) = range(s.rows.iter().map(|r| r.0));
            let (y0, y1) = range(s.rows.iter().flat_map(|r| [r.1, r.2, r.3]));
            let mut chart = ChartBuilder::on(&panel)
                .caption(format!("ID {}", s.id), ("sans-serif", 14))
                .margin(6)
                .x_label_area_size(24)
                .y_label_area_size(40)
                .build_cartesian_2d(t0..t1, y0..y1)
                .map_err(draw_error)?;
            chart.configure_mesh().draw().map_err(draw_error)?;
            chart
                .draw_series(DashedLineSeries::new(
                    s.rows.iter().map(|r| (r.0, r.2)),
                    4,
                    3,
                    GREY.stroke_width(1),
                ))
                .map_err(draw_error)?;
            chart
                .draw_series(LineSeries::new(
                    s.rows.iter().map(|r| (r.0, r.3)),
                    LINE.stroke_width(2),
                ))
                .map_err(draw_error)?;
            chart
                .draw_series(
                    s.rows
                        .iter()
                        .map(|r| Circle::new((r.0, r.1), 3, POINT.filled())),
                )
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// A histogram of `values` with the N(0, ω) density it should follow,
/// scaled to the counts.
pub fn eta_histogram(name: &str, values: &[f64], omega: Option<f64>) -> io::Result<String> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = range(finite.iter().copied());
    let m = lo.abs().max(hi.abs()).max(1e-6);
    let (lo, hi) = (-m, m);
    let bins = ((finite.len() as f64).sqrt().ceil() as usize).clamp(5, 30);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in &finite {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.2;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{name}: empirical Bayes estimates"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(name)
            .y_desc("subjects")
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(b, &c)| {
                let x = lo + b as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, c as f64)], POINT.mix(0.5).filled())
            }))
            .map_err(draw_error)?;
        if let Some(var) = omega.filter(|v| *v > 0.0) {
            let sd = var.sqrt();
            let n = finite.len() as f64;
            let curve = (0..=200).map(|k| {
                let x = lo + (hi - lo) * k as f64 / 200.0;
                let d =
                    (-0.5 * (x / sd).powi(2)).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt());
                (x, n * width * d)
            });
            chart
                .draw_series(LineSeries::new(curve, LINE.stroke_width(2)))
                .map_err(draw_error)?
                .label(format!("N(0, {var:.4})"));
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// A chart over linear `f64` axes on an SVG area.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Height of the panel of fractions below the limit under each VPC panel.
const BLQ_HEIGHT: u32 = 240;

/// A captioned chart with its mesh and axis descriptions.
fn frame<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    x: (f64, f64),
    y: (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> io::Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(draw_error)?;
    Ok(chart)
}

/// The runs of consecutive finite points: lines and bands break where a
/// value is unknown (a percentile below the limit of quantification).
fn finite_runs<T: Copy>(points: &[T], finite: impl Fn(&T) -> bool) -> Vec<Vec<T>> {
    points
        .split(|p| !finite(p))
        .filter(|run| !run.is_empty())
        .map(<[T]>::to_vec)
        .collect()
}

/// A line through the finite points, solid or dashed.
fn broken_line(
    chart: &mut Chart,
    points: &[(f64, f64)],
    style: ShapeStyle,
    dashed: bool,
) -> io::Result<()> {
    for run in finite_runs(points, |p| p.1.is_finite()) {
        if dashed {
            chart.draw_series(DashedLineSeries::new(run, 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(run, style))
        }
        .map_err(draw_error)?;
    }
    Ok(())
}

/// A shaded band between `(x, lower, upper)` where both are finite.
fn band(chart: &mut Chart, points: &[(f64, f64, f64)], color: RGBColor) -> io::Result<()> {
    for run in finite_runs(points, |p| p.1.is_finite() && p.2.is_finite()) {
        let mut outline: Vec<(f64, f64)> = run.iter().map(|p| (p.0, p.2)).collect();
        outline.extend(run.iter().rev().map(|p| (p.0, p.1)));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.2).filled(),
            )))
            .map_err(draw_error)?;
    }
    Ok(())
}

/// The VPC of one stratum per panel: the 95% intervals of the simulated
/// 5th and 95th percentiles shaded blue, of the median shaded red; the
/// observed percentiles as lines (median solid, others dashed) and the
/// quantified observations as points. Percentiles below the limit of
/// quantification are not drawn; an interval whose lower bound is below
/// it is shaded down to the limit (a dotted line). With censoring, a
/// second panel under each shows the fraction below the limit: observed
/// (line), simulated median (dashed) and 95% interval (band).
pub fn vpc_svg(v: &Vpc) -> io::Result<String> {
    let n = v.strata.len().max(1);
    let cols = n.min(2);
    let rows = n.div_ceil(cols);
    let censoring = v.censoring();
    let cell = HEIGHT + if censoring { BLQ_HEIGHT } else { 0 };
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH * cols as u32, cell * rows as u32 + 40))
                .into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let title = format!(
            "{}VPC, {} replicates: observed percentiles (lines) and 95% intervals of the simulated ones",
            if v.pred_corrected { "Prediction-corrected " } else { "" },
            v.replicates
        );
        let root = root
            .titled(&title, ("sans-serif", 16))
            .map_err(draw_error)?;
        for ((s, stratum), panel) in v
            .strata
            .iter()
            .enumerate()
            .zip(root.split_evenly((rows, cols)))
        {
            let (top, bottom) = if censoring {
                let (top, bottom) = panel.split_vertically(HEIGHT);
                (top, Some(bottom))
            } else {
                (panel, None)
            };
            let obs: Vec<(f64, f64)> = v
                .observations
                .iter()
                .filter(|o| o.stratum == s && !o.lloq.is_some_and(|l| l.is_below()))
                .map(|o| (o.time, o.dv))
                .collect();
            let (t0, t1) = range(
                v.observations
                    .iter()
                    .filter(|o| o.stratum == s)
                    .map(|o| o.time),
            );
            let bins: Vec<_> = stratum.bins.iter().filter(|b| b.time.is_finite()).collect();
            let limit = |b: &Bin| b.blq.as_ref().map_or(f64::NAN, |q| q.limit);
            let (y0, y1) = range(obs.iter().map(|o| o.1).chain(bins.iter().flat_map(|b| {
                b.simulated
                    .iter()
                    .flatten()
                    .copied()
                    .chain(std::iter::once(limit(b)))
            })));
            let label = match &stratum.covariate {
                Some((name, value)) => format!("{} ({name} = {value})", stratum.endpoint),
                None => stratum.endpoint.clone(),
            };
            let y_desc = if v.pred_corrected {
                "prediction-corrected DV"
            } else {
                "DV"
            };
            let mut chart = frame(&top, &label, (t0, t1), (y0, y1), "time", y_desc)?;
            for (p, color) in [(0usize, POINT), (1, LINE), (2, POINT)] {
                let points: Vec<(f64, f64, f64)> = bins
                    .iter()
                    .map(|b| {
                        let [lower, _, upper] = b.simulated[p];
                        let lower = if lower == f64::NEG_INFINITY {
                            limit(b)
                        } else {
                            lower
                        };
                        (b.time, lower, upper)
                    })
                    .collect();
                band(&mut chart, &points, color)?;
            }
            // The limit, bin by bin (a step when it differs between bins).
            let steps: Vec<(f64, f64)> = stratum
                .bins
                .iter()
                .flat_map(|b| {
                    [
                        (b.lower, limit(b)),
                        (b.upper, limit(b)),
                        (b.upper, f64::NAN),
                    ]
                })
                .collect();
            for run in finite_runs(&steps, |p| p.1.is_finite()) {
                chart
                    .draw_series(DashedLineSeries::new(run, 2, 3, GREY.stroke_width(2)))
                    .map_err(draw_error)?;
            }
            chart
                .draw_series(
                    obs.iter()
                        .map(|&o| Circle::new(o, 2, GREY.mix(0.5).filled())),
                )
                .map_err(draw_error)?;
            for p in [0usize, 2] {
                let line: Vec<(f64, f64)> = bins.iter().map(|b| (b.time, b.observed[p])).collect();
                broken_line(&mut chart, &line, BLACK.stroke_width(2), true)?;
            }
            let median: Vec<(f64, f64)> = bins.iter().map(|b| (b.time, b.observed[1])).collect();
            broken_line(&mut chart, &median, BLACK.stroke_width(2), false)?;
            if let Some(area) = bottom {
                blq_panel(&area, &bins, (t0, t1))?;
            }
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// The fraction below the limit of quantification over time: observed
/// (solid), simulated median (dashed) and 95% interval (shaded).
fn blq_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    bins: &[&Bin],
    t: (f64, f64),
) -> io::Result<()> {
    let blq: Vec<(f64, &Blq)> = bins
        .iter()
        .filter_map(|b| Some((b.time, b.blq.as_ref()?)))
        .collect();
    if blq.is_empty() {
        return Ok(());
    }
    let mut chart = frame(
        area,
        "fraction below LLOQ: observed (line), simulated median (dashed) and 95% interval",
        t,
        (0.0, 1.0),
        "time",
        "fraction < LLOQ",
    )?;
    let interval: Vec<(f64, f64, f64)> = blq
        .iter()
        .map(|(t, q)| (*t, q.simulated[0], q.simulated[2]))
        .collect();
    band(&mut chart, &interval, LINE)?;
    let median: Vec<(f64, f64)> = blq.iter().map(|(t, q)| (*t, q.simulated[1])).collect();
    broken_line(&mut chart, &median, LINE.stroke_width(2), true)?;
    let observed: Vec<(f64, f64)> = blq.iter().map(|(t, q)| (*t, q.observed)).collect();
    broken_line(&mut chart, &observed, BLACK.stroke_width(2), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_label_one_two_five_per_decade() {
        let (bold, light) = log_ticks(0.8, 12.5);
        assert_eq!(bold, vec![1.0, 2.0, 5.0, 10.0]);
        assert_eq!(light, vec![0.8, 0.9, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0]);
        // Wide ranges: powers of ten labelled, 2 and 5 light.
        let (bold, light) = log_ticks(0.01, 1000.0);
        assert_eq!(bold, vec![0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(light.len(), 10);
        assert_eq!(log_ticks(0.0, 1.0), (vec![], vec![]));
    }

    #[test]
    fn tick_labels_have_no_trailing_zeros() {
        let labels: Vec<String> = [0.05, 0.2, 1.0, 20.0, 500.0, 1e-6]
            .iter()
            .map(|v| tick_label(*v))
            .collect();
        assert_eq!(labels, ["0.05", "0.2", "1", "20", "500", "1e-6"]);
    }
}

//! Exposure metrics over windows of a simulated profile.
//!
//! # The profile
//!
//! A subject's simulation keeps a sample at every time of its grid: the
//! observation grid (every [`super::Sampling::step`]), every window
//! boundary, and every event (dose arrival, infusion end). Between two
//! consecutive samples nothing happens, so the profile is smooth there (a
//! *segment*). At an event time the profile has two values: `pre` (the
//! limit from the left, before the event) and `post` (after it). A window
//! `[from, to]` uses `post` at `from` (a dose at the window's start belongs
//! to it), `pre` at `to` (the trough before the next dose), and both inside.
//!
//! # Which path each metric takes
//!
//! | metric | value |
//! |---|---|
//! | `Max`, `Min`, `TimeOfMax` | the grid extreme, then (with [`MetricOptions::refine_extrema`]) Brent's method on the two segments around it, on the continuous solution: exact to rounding for closed-form models, to the solver tolerance for ODEs |
//! | `Trough` | `pre` at the window's end: exact (a grid point) |
//! | `Auc`, `Average` | [`AucMethod::LinearUpLogDown`]: the trapezoid on the grid, log-trapezoid on decreasing positive segments; [`AucMethod::Exact`]: 8-point Gauss–Legendre quadrature on every segment of the continuous solution (exact to ~1e-13 for segments shorter than the fastest half-life; to the solver tolerance for ODEs) |
//! | `TimeAbove`, `TimeBelow` | the grid, crossing times by linear interpolation inside a segment |
//! | `ValueAt` | the continuous solution at that time: exact |
//!
//! With residual variability switched on, the metrics of an endpoint's
//! prediction use its simulated observations on the grid only (no
//! refinement or quadrature: noise has no continuous solution).

use super::error::SubjectFailure;
use serde::Serialize;

/// A named metric: `kind` of `variable` over `window`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSpec {
    pub name: String,
    /// An `observe` variable of the model or an endpoint name (its prediction).
    pub variable: String,
    pub kind: MetricKind,
    pub window: Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum MetricKind {
    /// Cmax.
    Max,
    /// Tmax, from the window's start.
    TimeOfMax,
    /// Cmin over the window.
    Min,
    /// Ctrough: the value at the window's end, before a dose there.
    Trough,
    /// AUC over the window.
    Auc,
    /// Cavg = AUC / window length.
    Average,
    /// Time with the variable above the threshold.
    TimeAbove(f64),
    /// Time with the variable below the threshold.
    TimeBelow(f64),
    /// The value at this time after the window's start.
    ValueAt(f64),
}

/// Where a metric is taken.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Window {
    /// From the first dose to the first dose plus its interval.
    FirstInterval,
    /// From the last dose to the last dose plus its interval.
    LastInterval,
    /// One interval of the last phase at true steady state (after
    /// infinitely many of its doses), simulated after the course.
    SteadyState,
    /// From time 0 to the end of the simulation.
    Whole,
    /// An explicit time range.
    Range { from: f64, to: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum AucMethod {
    /// Linear trapezoid where the profile rises, logarithmic where it falls
    /// (both ends positive): the standard non-compartmental rule.
    #[default]
    LinearUpLogDown,
    /// Gauss–Legendre quadrature of the continuous solution on every segment.
    Exact,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricOptions {
    pub auc: AucMethod,
    /// Locate Cmax, Cmin and Tmax on the continuous solution, not only on
    /// the grid.
    pub refine_extrema: bool,
}

impl Default for MetricOptions {
    fn default() -> Self {
        MetricOptions {
            auc: AucMethod::LinearUpLogDown,
            refine_extrema: true,
        }
    }
}

/// Samples of a subject's simulation (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Profile {
    /// Variables per sample.
    pub nv: usize,
    /// States per sample.
    pub ns: usize,
    pub times: Vec<f64>,
    /// `times × nv`: values before the events at each time.
    pub pre: Vec<f64>,
    /// `times × nv`: values after them.
    pub post: Vec<f64>,
    /// `times × ns`: states after the events.
    pub states: Vec<f64>,
    /// `times × ns`: infusion rates running after the events.
    pub rates: Vec<f64>,
    /// Per variable: whether its values are noisy observations (residual
    /// error: no continuous solution to refine on).
    pub noisy: Vec<bool>,
}

impl Profile {
    pub fn clear(&mut self, nv: usize, ns: usize) {
        self.nv = nv;
        self.ns = ns;
        self.times.clear();
        self.pre.clear();
        self.post.clear();
        self.states.clear();
        self.rates.clear();
        self.noisy.clear();
        self.noisy.resize(nv, false);
    }

    pub fn pre(&self, i: usize, v: usize) -> f64 {
        self.pre[i * self.nv + v]
    }

    pub fn post(&self, i: usize, v: usize) -> f64 {
        self.post[i * self.nv + v]
    }

    /// Sample indices `(lo, hi)` of the window `[from, to]` (both sample
    /// times, which the grid guarantees).
    pub fn window(&self, from: f64, to: f64) -> Option<(usize, usize)> {
        let tol = |t: f64| 1e-9 * t.abs().max(1.0);
        let lo = self.times.partition_point(|&t| t < from - tol(from));
        let hi = self.times.partition_point(|&t| t <= to + tol(to));
        (hi > lo + 1 || (hi == lo + 1 && from == to)).then(|| (lo, hi - 1))
    }
}

/// The continuous solution inside a segment, from the state of its first sample.
pub(crate) trait Continuous {
    /// The value of variable `var` at `t` in segment `seg` (between samples
    /// `seg` and `seg + 1`), advanced from the post-event state of sample `seg`.
    fn value_at(
        &mut self,
        profile: &Profile,
        seg: usize,
        t: f64,
        var: usize,
    ) -> Result<f64, (f64, SubjectFailure)>;
}

/// A metric with its variable and window resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CompiledMetric {
    pub var: usize,
    pub kind: MetricKind,
    pub from: f64,
    pub to: f64,
    /// Taken on the steady-state profile.
    pub steady_state: bool,
}

/// The metric's value on `profile`.
pub(crate) fn evaluate(
    m: &CompiledMetric,
    profile: &Profile,
    cont: &mut dyn Continuous,
    opts: &MetricOptions,
) -> Result<f64, (f64, SubjectFailure)> {
    let Some((lo, hi)) = profile.window(m.from, m.to) else {
        return Ok(f64::NAN);
    };
    let v = m.var;
    let exact = !profile.noisy.get(v).copied().unwrap_or(false);
    Ok(match m.kind {
        MetricKind::Max | MetricKind::TimeOfMax | MetricKind::Min => {
            let sign = if matches!(m.kind, MetricKind::Min) {
                -1.0
            } else {
                1.0
            };
            let (mut best_t, mut best, mut at) =
                (profile.times[lo], sign * profile.post(lo, v), lo);
            for i in lo + 1..=hi {
                let pre = sign * profile.pre(i, v);
                if pre > best {
                    (best_t, best, at) = (profile.times[i], pre, i);
                }
                if i < hi {
                    let post = sign * profile.post(i, v);
                    if post > best {
                        (best_t, best, at) = (profile.times[i], post, i);
                    }
                }
            }
            if opts.refine_extrema && exact {
                // The extreme lies in one of the two segments around the
                // best sample (or at the sample itself).
                for seg in [at.wrapping_sub(1), at] {
                    if seg < lo || seg >= hi {
                        continue;
                    }
                    let (a, b) = (profile.times[seg], profile.times[seg + 1]);
                    let (t, val) = brent_max(a, b, |t| {
                        cont.value_at(profile, seg, t, v).map(|x| sign * x)
                    })?;
                    if val > best {
                        (best_t, best) = (t, val);
                    }
                }
            }
            match m.kind {
                MetricKind::TimeOfMax => best_t - m.from,
                _ => sign * best,
            }
        }
        MetricKind::Trough => profile.pre(hi, v),
        MetricKind::Auc | MetricKind::Average => {
            let auc = auc(
                profile,
                lo,
                hi,
                v,
                cont,
                opts.auc == AucMethod::Exact && exact,
            )?;
            if matches!(m.kind, MetricKind::Average) {
                auc / (m.to - m.from)
            } else {
                auc
            }
        }
        MetricKind::TimeAbove(x) | MetricKind::TimeBelow(x) => {
            let above = matches!(m.kind, MetricKind::TimeAbove(_));
            let mut total = 0.0;
            for i in lo..hi {
                let (t0, t1) = (profile.times[i], profile.times[i + 1]);
                let (c0, c1) = (profile.post(i, v), profile.pre(i + 1, v));
                let frac = fraction_above(c0, c1, x);
                total += (t1 - t0) * if above { frac } else { 1.0 - frac };
            }
            total
        }
        MetricKind::ValueAt(dt) => {
            let t = m.from + dt;
            let tol = 1e-9 * t.abs().max(1.0);
            let i = profile.times.partition_point(|&s| s < t - tol);
            match profile.times.get(i) {
                Some(&s) if (s - t).abs() <= tol => {
                    if i == hi && i > lo {
                        profile.pre(i, v)
                    } else {
                        profile.post(i, v)
                    }
                }
                _ if i == 0 || i > hi => f64::NAN,
                _ if exact => cont.value_at(profile, i - 1, t, v)?,
                _ => {
                    // Noisy observations: interpolate linearly.
                    let (t0, t1) = (profile.times[i - 1], profile.times[i]);
                    let (c0, c1) = (profile.post(i - 1, v), profile.pre(i, v));
                    c0 + (c1 - c0) * (t - t0) / (t1 - t0)
                }
            }
        }
    })
}

/// Share of a segment with a linear profile from `c0` to `c1` spent above `x`.
fn fraction_above(c0: f64, c1: f64, x: f64) -> f64 {
    match (c0 > x, c1 > x) {
        (true, true) => 1.0,
        (false, false) => 0.0,
        (true, false) => (c0 - x) / (c0 - c1),
        (false, true) => (c1 - x) / (c1 - c0),
    }
}

fn auc(
    profile: &Profile,
    lo: usize,
    hi: usize,
    v: usize,
    cont: &mut dyn Continuous,
    exact: bool,
) -> Result<f64, (f64, SubjectFailure)> {
    let mut total = 0.0;
    for i in lo..hi {
        let (t0, t1) = (profile.times[i], profile.times[i + 1]);
        let dt = t1 - t0;
        if dt <= 0.0 {
            continue;
        }
        if exact {
            let (mid, half) = (0.5 * (t0 + t1), 0.5 * dt);
            let mut s = 0.0;
            for (x, w) in GAUSS_LEGENDRE_8 {
                s += w * cont.value_at(profile, i, mid + half * x, v)?;
            }
            total += half * s;
        } else {
            let (c0, c1) = (profile.post(i, v), profile.pre(i + 1, v));
            total += if c1 < c0 && c1 > 0.0 {
                (c0 - c1) / (c0 / c1).ln() * dt
            } else {
                0.5 * (c0 + c1) * dt
            };
        }
    }
    Ok(total)
}

/// Nodes and weights of 8-point Gauss–Legendre quadrature on [-1, 1]
/// (Abramowitz & Stegun 25.4.30): exact for polynomials of degree 15.
/// The digits are the table's; the compiler rounds them to `f64`.
#[allow(clippy::excessive_precision)]
const GAUSS_LEGENDRE_8: [(f64, f64); 8] = [
    (-0.960_289_856_497_536_2, 0.101_228_536_290_376_26),
    (-0.796_666_477_413_626_7, 0.222_381_034_453_374_47),
    (-0.525_532_409_916_329_0, 0.313_706_645_877_887_3),
    (-0.183_434_642_495_649_8, 0.362_683_783_378_362_0),
    (0.183_434_642_495_649_8, 0.362_683_783_378_362_0),
    (0.525_532_409_916_329_0, 0.313_706_645_877_887_3),
    (0.796_666_477_413_626_7, 0.222_381_034_453_374_47),
    (0.960_289_856_497_536_2, 0.101_228_536_290_376_26),
];

/// Maximizes `f` on `[a, b]` by Brent's method (golden section with
/// parabolic steps; Brent 1973, `fmin`): converges superlinearly on smooth
/// profiles. Returns the best point and value found.
fn brent_max(
    a: f64,
    b: f64,
    mut f: impl FnMut(f64) -> Result<f64, (f64, SubjectFailure)>,
) -> Result<(f64, f64), (f64, SubjectFailure)> {
    const GOLD: f64 = 0.381_966_011_250_105_1;
    let (mut a, mut b) = (a, b);
    let mut x = a + GOLD * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = -f(x)?;
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e): (f64, f64) = (0.0, 0.0);
    for _ in 0..100 {
        let m = 0.5 * (a + b);
        let tol = 1e-10 * x.abs().max(1.0);
        let tol2 = 2.0 * tol;
        if (x - m).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol {
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            if p.abs() < (0.5 * q * e).abs() && p > q * (a - x) && p < q * (b - x) {
                e = d;
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = if x < m { tol } else { -tol };
                }
                golden = false;
            }
        }
        if golden {
            e = if x < m { b - x } else { a - x };
            d = GOLD * e;
        }
        let u = if d.abs() >= tol {
            x + d
        } else {
            x + tol.copysign(d)
        };
        let fu = -f(u)?;
        if fu <= fx {
            if u < x {
                b = x;
            } else {
                a = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    Ok((x, -fx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_the_peak_of_a_bateman_curve() {
        let (ka, k) = (1.0f64, 0.1f64);
        let f = |t: f64| Ok((-k * t).exp() - (-ka * t).exp());
        let (t, v) = brent_max(0.0, 10.0, f).expect("no failure");
        let tmax = (ka / k).ln() / (ka - k);
        assert!((t - tmax).abs() < 1e-6, "{t} vs {tmax}");
        let cmax = (-k * tmax).exp() - (-ka * tmax).exp();
        assert!((v - cmax).abs() < 1e-14 * cmax);
    }

    #[test]
    fn gauss_legendre_integrates_an_exponential() {
        let mut s = 0.0;
        for (x, w) in GAUSS_LEGENDRE_8 {
            s += w * (-0.5 * (1.0 + x)).exp();
        }
        let exact = 2.0 * (1.0 - (-1.0f64).exp());
        assert!((s - exact).abs() < 1e-14);
    }

    #[test]
    fn crossing_fraction_is_linear() {
        assert_eq!(fraction_above(2.0, 0.0, 1.0), 0.5);
        assert_eq!(fraction_above(0.0, 4.0, 1.0), 0.75);
        assert_eq!(fraction_above(3.0, 4.0, 1.0), 1.0);
    }
}

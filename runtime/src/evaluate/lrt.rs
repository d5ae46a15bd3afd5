//! Comparing two fits of the same data: the likelihood-ratio test for
//! nested models and the information criteria.
//!
//! For nested models fitted by maximum likelihood, the drop in objective
//! (−2 log L) from the reduced to the full model is asymptotically χ² with
//! as many degrees of freedom as the full model has extra estimated
//! parameters. That is the test behind stepwise covariate modeling's
//! "ΔOFV > 3.84 at p < 0.05 for one parameter".

/// `P(X > x)` for `X ~ χ²(df)`: the regularized upper incomplete gamma
/// function `Q(df/2, x/2)`.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(0.5 * df, 0.5 * x)
}

/// The `x` with `chi2_sf(x, df) = p`, by bisection on the monotone
/// survival function (for critical values in messages and tests).
pub fn chi2_isf(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0 && df > 0.0) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (0.0, df.max(1.0));
    while chi2_sf(hi, df) > p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if chi2_sf(mid, df) > p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-14 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Regularized upper incomplete gamma `Q(a, x)`: the series of `P` below
/// `x < a + 1`, Lentz's continued fraction of `Q` above (Numerical
/// Recipes §6.2), both to full double precision.
fn gamma_q(a: f64, x: f64) -> f64 {
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - sum * log_prefix.exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        log_prefix.exp() * h
    }
}

/// `ln Γ(a)` for `a > 0` (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(a: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if a < 0.5 {
        // Reflection: Γ(a)Γ(1 − a) = π / sin(πa).
        let pi = std::f64::consts::PI;
        return (pi / (pi * a).sin()).ln() - ln_gamma(1.0 - a);
    }
    let x = a - 1.0;
    let mut s = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        s += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// One fit, as a comparison needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    pub name: String,
    /// −2 log L without the constant (NONMEM's OFV).
    pub ofv: f64,
    /// Number of estimated parameters.
    pub parameters: usize,
    pub observations: usize,
}

impl FitSummary {
    /// −2 log L with the `n·log 2π` constant, for the information criteria.
    fn ofv_with_constant(&self) -> f64 {
        self.ofv + self.observations as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    pub fn aic(&self) -> f64 {
        self.ofv_with_constant() + 2.0 * self.parameters as f64
    }

    pub fn bic(&self) -> f64 {
        self.ofv_with_constant() + self.parameters as f64 * (self.observations as f64).ln()
    }
}

/// The likelihood-ratio test of `reduced` against `full`.
#[derive(Debug, Clone, PartialEq)]
pub struct LikelihoodRatio {
    /// OFV(reduced) − OFV(full).
    pub delta_ofv: f64,
    pub df: usize,
    pub p_value: f64,
}

/// Why two fits cannot be compared by a likelihood-ratio test.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareError {
    /// Different numbers of observations: not the same data.
    DifferentObservations { a: usize, b: usize },
    /// Same number of parameters: not nested (compare AIC/BIC instead).
    SameParameterCount(usize),
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompareError::DifferentObservations { a, b } => write!(
                f,
                "the fits use different numbers of observations ({a} and {b}): objective values of different data cannot be compared"
            ),
            CompareError::SameParameterCount(n) => write!(
                f,
                "both fits estimate {n} parameters, so neither is nested in the other; compare AIC and BIC instead"
            ),
        }
    }
}

impl std::error::Error for CompareError {}

/// The test of the model with fewer parameters (reduced) against the one
/// with more (full), in whichever order they are given. Nesting itself
/// cannot be checked from the numbers; the caller vouches for it.
pub fn likelihood_ratio(a: &FitSummary, b: &FitSummary) -> Result<LikelihoodRatio, CompareError> {
    if a.observations != b.observations {
        return Err(CompareError::DifferentObservations {
            a: a.observations,
            b: b.observations,
        });
    }
    let (reduced, full) = match a.parameters.cmp(&b.parameters) {
        std::cmp::Ordering::Less => (a, b),
        std::cmp::Ordering::Greater => (b, a),
        std::cmp::Ordering::Equal => return Err(CompareError::SameParameterCount(a.parameters)),
    };
    let df = full.parameters - reduced.parameters;
    let delta_ofv = reduced.ofv - full.ofv;
    Ok(LikelihoodRatio {
        delta_ofv,
        df,
        p_value: chi2_sf(delta_ofv, df as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Critical values from any χ² table (R: `qchisq(1 - p, df)`).
    #[test]
    fn critical_values_match_tables() {
        let cases = [
            (3.841_458_820_694_124, 1.0, 0.05),
            (6.634_896_601_021_214, 1.0, 0.01),
            (10.827_566_170_662_733, 1.0, 0.001),
            (5.991_464_547_107_979, 2.0, 0.05),
            (9.210_340_371_976_182, 2.0, 0.01),
            (7.814_727_903_251_178, 3.0, 0.05),
            (18.307_038_053_275_146, 10.0, 0.05),
        ];
        for (x, df, p) in cases {
            let sf = chi2_sf(x, df);
            assert!(
                (sf - p).abs() < 1e-12 * p.max(1e-3),
                "sf({x}, {df}) = {sf}, want {p}"
            );
            let q = chi2_isf(p, df);
            assert!((q - x).abs() < 1e-9 * x, "isf({p}, {df}) = {q}, want {x}");
        }
        // df = 2 has the closed form e^{−x/2}.
        for x in [0.1, 1.0, 7.5, 40.0] {
            assert!((chi2_sf(x, 2.0) - (-0.5 * x).exp()).abs() < 1e-15);
        }
        assert_eq!(chi2_sf(0.0, 3.0), 1.0);
        assert!(chi2_sf(1.0, 0.0).is_nan());
    }

    #[test]
    fn likelihood_ratio_orders_the_models() {
        let reduced = FitSummary {
            name: "base".into(),
            ofv: 110.0,
            parameters: 7,
            observations: 132,
        };
        let full = FitSummary {
            name: "wt".into(),
            ofv: 100.0,
            parameters: 8,
            observations: 132,
        };
        let t = likelihood_ratio(&full, &reduced).expect("nested");
        assert_eq!((t.df, t.delta_ofv), (1, 10.0));
        assert!((t.p_value - chi2_sf(10.0, 1.0)).abs() == 0.0);
        assert!(t.p_value < 0.01 && t.p_value > 0.001);
        assert!(full.aic() < reduced.aic());
        let other = FitSummary {
            observations: 131,
            ..full.clone()
        };
        assert!(matches!(
            likelihood_ratio(&reduced, &other),
            Err(CompareError::DifferentObservations { .. })
        ));
    }
}

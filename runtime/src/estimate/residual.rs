//! The likelihood of one observation given its prediction: residual and
//! variance, with their derivatives with respect to the random effects.

use crate::model::ErrorModel;

/// One observation's contribution, on the scale the likelihood is written
/// on (the log scale for log-normal error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Residual {
    /// Observed value minus prediction.
    pub r: f64,
    /// Variance of the observation around the prediction.
    pub v: f64,
    /// Prediction (log prediction for log-normal error).
    pub f: f64,
}

/// Derivatives, one entry per direction, of a prediction and of its first
/// and second error parameters (empty when not needed).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slopes<'a> {
    pub f: &'a [f64],
    pub e0: &'a [f64],
    pub e1: &'a [f64],
}

/// The residual of observing `y` with prediction `f` and error parameters
/// `e`; with `slopes`, also the derivatives of the prediction (on the
/// likelihood's scale) and of the variance, written into `gf` and `gv`.
pub(crate) fn residual(
    model: ErrorModel,
    y: f64,
    f: f64,
    e: &[f64],
    slopes: Slopes<'_>,
    gf: &mut [f64],
    gv: &mut [f64],
) -> Residual {
    let e0 = e.first().copied().unwrap_or(f64::NAN);
    let e1 = e.get(1).copied().unwrap_or(f64::NAN);
    // (scale of f, ∂v/∂f, ∂v/∂e0, ∂v/∂e1) on the likelihood's scale.
    let (res, dvdf, dvde0, dvde1, fscale) = match model {
        ErrorModel::Additive => (
            Residual {
                r: y - f,
                v: e0 * e0,
                f,
            },
            0.0,
            2.0 * e0,
            0.0,
            1.0,
        ),
        ErrorModel::Proportional => (
            Residual {
                r: y - f,
                v: e0 * e0 * f * f,
                f,
            },
            2.0 * e0 * e0 * f,
            2.0 * e0 * f * f,
            0.0,
            1.0,
        ),
        ErrorModel::Combined => (
            Residual {
                r: y - f,
                v: e0 * e0 + e1 * e1 * f * f,
                f,
            },
            2.0 * e1 * e1 * f,
            2.0 * e0,
            2.0 * e1 * f * f,
            1.0,
        ),
        ErrorModel::LogNormal => (
            Residual {
                r: y.ln() - f.ln(),
                v: e0 * e0,
                f: f.ln(),
            },
            0.0,
            2.0 * e0,
            0.0,
            1.0 / f,
        ),
    };
    for (k, (gfk, gvk)) in gf.iter_mut().zip(gv.iter_mut()).enumerate() {
        let d = slopes.f.get(k).copied().unwrap_or(0.0);
        let d0 = slopes.e0.get(k).copied().unwrap_or(0.0);
        let d1 = slopes.e1.get(k).copied().unwrap_or(0.0);
        *gfk = d * fscale;
        *gvk = dvdf * d + dvde0 * d0 + dvde1 * d1;
    }
    res
}

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

/// How the likelihood's prediction and variance move with the model's
/// outputs: `∂f/∂(prediction)` on the likelihood's scale, and `∂V/∂` the
/// prediction and the first two error parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sensitivity {
    pub f_scale: f64,
    pub dv_df: f64,
    pub dv_de0: f64,
    pub dv_de1: f64,
}

impl Sensitivity {
    /// `(∂f, ∂V)` along one direction, from the direction's derivatives
    /// of the prediction and the two error parameters.
    #[inline]
    pub fn along(&self, d: f64, d0: f64, d1: f64) -> (f64, f64) {
        (
            d * self.f_scale,
            self.dv_df * d + self.dv_de0 * d0 + self.dv_de1 * d1,
        )
    }
}

/// The residual of observing `y` with prediction `f` and error parameters
/// `e`, and how it moves with them.
pub(crate) fn residual_sensitivity(
    model: ErrorModel,
    y: f64,
    f: f64,
    e: &[f64],
) -> (Residual, Sensitivity) {
    let e0 = e.first().copied().unwrap_or(f64::NAN);
    let e1 = e.get(1).copied().unwrap_or(f64::NAN);
    // (scale of f, ∂v/∂f, ∂v/∂e0, ∂v/∂e1) on the likelihood's scale.
    let (res, dv_df, dv_de0, dv_de1, f_scale) = match model {
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
    (
        res,
        Sensitivity {
            f_scale,
            dv_df,
            dv_de0,
            dv_de1,
        },
    )
}

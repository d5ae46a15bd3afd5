//! Drawing random effects: `η = L·z`, `z ~ N(0, I)`, `L` the Cholesky factor
//! of OMEGA restricted to one variability level.

use crate::model::{ModelInfo, RandomLevel};
use rand::Rng;
use rand_distr::StandardNormal;

/// Why OMEGA cannot be factored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPositiveSemidefinite {
    /// Index (into the model's etas) of the eta where factoring failed.
    pub eta: usize,
}

/// Samples the etas of one level into a full-length eta vector.
#[derive(Debug, Clone)]
pub struct LevelSampler {
    /// Indices into the model's etas, ascending.
    indices: Vec<usize>,
    /// Lower-triangular factor, row-major `k × k`.
    chol: Vec<f64>,
}

impl LevelSampler {
    pub fn new(info: &ModelInfo, level: RandomLevel) -> Result<Self, NotPositiveSemidefinite> {
        let n = info.etas.len();
        let indices: Vec<usize> = (0..n).filter(|&i| info.etas[i].level == level).collect();
        let full = info.omega_matrix();
        let k = indices.len();
        let mut sub = vec![0.0; k * k];
        for (a, &i) in indices.iter().enumerate() {
            for (b, &j) in indices.iter().enumerate() {
                sub[a * k + b] = full.get(i * n + j).copied().unwrap_or(0.0);
            }
        }
        let chol = cholesky(&sub, k).map_err(|a| NotPositiveSemidefinite { eta: indices[a] })?;
        Ok(LevelSampler { indices, chol })
    }

    /// Number of etas at this level.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Draws this level's etas (one standard normal per eta, in eta order)
    /// and writes them at their positions in `eta`.
    pub fn draw<R: Rng>(&self, rng: &mut R, z: &mut Vec<f64>, eta: &mut [f64]) {
        let k = self.indices.len();
        z.clear();
        z.extend((0..k).map(|_| rng.sample::<f64, _>(StandardNormal)));
        for (a, &i) in self.indices.iter().enumerate() {
            let row = &self.chol[a * k..a * k + a + 1];
            eta[i] = row.iter().zip(z.iter()).map(|(l, z)| l * z).sum();
        }
    }

    /// Writes this level's entries of `source` into `eta`.
    pub fn copy(&self, source: &[f64], eta: &mut [f64]) {
        for &i in &self.indices {
            eta[i] = source[i];
        }
    }
}

/// Lower Cholesky factor of a symmetric positive semi-definite `n × n`
/// matrix. A zero pivot is accepted (an eta with zero variance, e.g. fixed to
/// 0) when the rest of its column is zero too. Errs with the failing index.
pub fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>, usize> {
    let mut l: Vec<f64> = vec![0.0; n * n];
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    let tol = 1e-12 * scale.max(f64::MIN_POSITIVE);
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| l[j * n + k].powi(2)).sum::<f64>();
        if !d.is_finite() || d < -tol {
            return Err(j);
        }
        let pivot = if d > tol { d.sqrt() } else { 0.0 };
        l[j * n + j] = pivot;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if pivot > 0.0 {
                l[i * n + j] = s / pivot;
            } else if s.abs() > tol {
                return Err(j);
            }
        }
    }
    Ok(l)
}

/// SplitMix64's finalizer: spreads nearby integers over all 64 bits, so
/// that seeds derived from (seed, index) pairs give unrelated streams.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_matrix() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 1.0];
        let l = cholesky(&a, 3).expect("positive definite");
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn zero_variance_is_accepted_but_indefinite_is_not() {
        assert!(cholesky(&[0.0, 0.0, 0.0, 1.0], 2).is_ok());
        assert_eq!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2), Err(1));
    }
}

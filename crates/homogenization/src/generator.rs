//! Two-phase microstructures: periodic Gaussian-filtered noise thresholded at an exact rank.

use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fft3::{C64, Fft3};
use crate::{Error, Result};

/// The smoothing filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// PyMKS's kernel: `exp(−2π² Σ (kᵢ/gᵢ)²)` on integer offsets `kᵢ` of a `gᵢ`-voxel box
    /// (fftfreq order), i.e. a Gaussian of standard deviation `gᵢ/(2π)` truncated to the box.
    Pymks {
        /// Grain size (box side) per axis.
        grain: [usize; 3],
    },
    /// A periodic Gaussian applied in Fourier space, `exp(−2π² Σ σᵢ² fᵢ²)`.
    Gaussian {
        /// Standard deviation per axis, in voxels.
        sigma: [f64; 3],
    },
}

/// What defines one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    /// The filter.
    pub kernel: Kernel,
    /// Volume fraction of phase 1 (stiff).
    pub volume_fraction: f64,
}

/// PyMKS's real-space kernel value at integer offset `k` (per axis) for grain sizes `g`.
pub fn pymks_kernel_value(k: [i64; 3], grain: [usize; 3]) -> f64 {
    let s: f64 = k
        .iter()
        .zip(grain)
        .map(|(&ki, gi)| (ki as f64 / gi as f64).powi(2))
        .sum();
    (-2.0 * std::f64::consts::PI.powi(2) * s).exp()
}

/// Integer offsets of a `g`-point axis in numpy's `fftfreq` order, times `g`.
fn fftfreq_offsets(g: usize) -> Vec<i64> {
    let g = g as i64;
    (0..g)
        .map(|j| if j < (g + 1) / 2 { j } else { j - g })
        .collect()
}

/// Draws the paper-like prior: vf ~ U(0.1, 0.9); half PyMKS kernels with gᵢ ~ U{3..25},
/// half Fourier Gaussians with σᵢ = exp(U(ln 0.5, ln 8)).
pub fn draw_spec(rng: &mut ChaCha8Rng) -> SampleSpec {
    let volume_fraction = rng.random_range(0.1..0.9);
    let kernel = if rng.random_bool(0.5) {
        Kernel::Pymks {
            grain: [0; 3].map(|_| rng.random_range(3..=25)),
        }
    } else {
        let (lo, hi) = (0.5f64.ln(), 8.0f64.ln());
        Kernel::Gaussian {
            sigma: [0.0; 3].map(|_| rng.random_range(lo..hi).exp()),
        }
    };
    SampleSpec {
        kernel,
        volume_fraction,
    }
}

/// The RNG of sample `index` of a data set with `seed` (independent streams, so samples can
/// be made in any order and in parallel).
pub fn sample_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Generates one `n³` sample (labels 0 soft / 1 stiff) from its spec and RNG.
pub fn generate(n: usize, spec: &SampleSpec, rng: &mut ChaCha8Rng) -> Result<Array3<u8>> {
    if n == 0 {
        return Err(Error::Empty {
            shape: vec![0, 0, 0],
        });
    }
    let vf = spec.volume_fraction;
    if !(0.0..=1.0).contains(&vf) {
        return Err(Error::Parameter {
            name: "volume_fraction",
            reason: format!("{vf} is not in [0, 1]"),
        });
    }
    let fft = Fft3::shared([n; 3]);
    let noise: Vec<f64> = (0..fft.len()).map(|_| rng.random::<f64>()).collect();
    let mut spec_noise = vec![C64::default(); fft.spectrum_len()];
    fft.forward(&noise, &mut spec_noise);
    let filter = filter_spectrum(&fft, &spec.kernel)?;
    for (a, f) in spec_noise.iter_mut().zip(&filter) {
        *a *= f;
    }
    let mut blurred = vec![0.0; fft.len()];
    fft.inverse(&mut spec_noise, &mut blurred);
    let ones = (vf * fft.len() as f64).round() as usize;
    let labels = threshold_exact(&blurred, ones);
    Ok(Array3::from_shape_vec((n, n, n), labels).unwrap_or_else(|_| Array3::zeros((n, n, n))))
}

/// Half spectrum of the filter on the grid.
fn filter_spectrum(fft: &Fft3, kernel: &Kernel) -> Result<Vec<C64>> {
    let [n0, n1, n2] = fft.shape;
    match kernel {
        Kernel::Pymks { grain } => {
            if grain.contains(&0) {
                return Err(Error::Parameter {
                    name: "grain",
                    reason: format!("{grain:?}: every size must be at least 1"),
                });
            }
            // Real-space kernel centred at the origin (offset k at index k mod n; a box larger
            // than the grid wraps around, as a periodic convolution does).
            let mut k = vec![0.0; fft.len()];
            let offs: Vec<Vec<i64>> = grain.iter().map(|&g| fftfreq_offsets(g)).collect();
            for &a in &offs[0] {
                for &b in &offs[1] {
                    for &c in &offs[2] {
                        let idx = |o: i64, n: usize| o.rem_euclid(n as i64) as usize;
                        k[(idx(a, n0) * n1 + idx(b, n1)) * n2 + idx(c, n2)] +=
                            pymks_kernel_value([a, b, c], *grain);
                    }
                }
            }
            let mut out = vec![C64::default(); fft.spectrum_len()];
            fft.forward(&k, &mut out);
            Ok(out)
        }
        Kernel::Gaussian { sigma } => {
            if sigma.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
                return Err(Error::Parameter {
                    name: "sigma",
                    reason: format!("{sigma:?}: must be finite and non-negative"),
                });
            }
            let f = |q: usize, n: usize| {
                let q = if q <= n / 2 {
                    q as f64
                } else {
                    q as f64 - n as f64
                };
                q / n as f64
            };
            let pi2 = std::f64::consts::PI.powi(2);
            let mut out = Vec::with_capacity(fft.spectrum_len());
            for q0 in 0..n0 {
                for q1 in 0..n1 {
                    for q2 in 0..fft.half {
                        let s = (sigma[0] * f(q0, n0)).powi(2)
                            + (sigma[1] * f(q1, n1)).powi(2)
                            + (sigma[2] * f(q2, n2)).powi(2);
                        out.push(C64::new((-2.0 * pi2 * s).exp(), 0.0));
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Labels the `ones` largest values 1 (ties broken by position), the rest 0.
pub fn threshold_exact(values: &[f64], ones: usize) -> Vec<u8> {
    let mut labels = vec![0u8; values.len()];
    if ones >= values.len() {
        labels.fill(1);
        return labels;
    }
    if ones == 0 {
        return labels;
    }
    // Ties broken by position make the order strict, so the `ones` first are one set, which
    // a selection finds without sorting.
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.select_nth_unstable_by(ones - 1, |&a, &b| {
        values[b].total_cmp(&values[a]).then(a.cmp(&b))
    });
    for &i in &order[..ones] {
        labels[i] = 1;
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: sort by value (descending), ties by position, label the first `ones`.
    fn by_sorting(values: &[f64], ones: usize) -> Vec<u8> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let mut labels = vec![0u8; values.len()];
        for &i in order.iter().take(ones) {
            labels[i] = 1;
        }
        labels
    }

    #[test]
    fn the_selection_labels_what_sorting_labels() {
        // Many ties (values from 7 levels), every count from none to all.
        let values: Vec<f64> = (0..200u64)
            .map(|i| ((i.wrapping_mul(2654435761) >> 7) % 7) as f64 * 0.5)
            .collect();
        for ones in 0..=values.len() + 1 {
            assert_eq!(
                threshold_exact(&values, ones),
                by_sorting(&values, ones),
                "{ones}"
            );
        }
    }
}

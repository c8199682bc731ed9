//! OpenCV's `adaptiveThreshold` for 8-bit gray images, with its exact mean rounding.

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};

/// How the local threshold is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum AdaptiveMethod {
    /// Mean of the block × block neighbourhood (`ADAPTIVE_THRESH_MEAN_C`), bit-exact.
    #[default]
    Mean,
    /// Gaussian-weighted mean (`ADAPTIVE_THRESH_GAUSSIAN_C`), as `adaptive_threshold` computes it.
    Gaussian,
}

/// Which side of the threshold becomes `max_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum ThresholdType {
    /// `src > mean − C` → max_value (`THRESH_BINARY`).
    #[default]
    Binary,
    /// `src ≤ mean − C` → max_value (`THRESH_BINARY_INV`).
    BinaryInv,
}

/// The paper's block size: `m = floor(min(h, w) / 2)`, then `m + 1` if `m` is even, else `m`.
pub fn paper_block_size(height: usize, width: usize) -> usize {
    let m = height.min(width) / 2;
    if m.is_multiple_of(2) { m + 1 } else { m }
}

/// Checks an adaptive-threshold block size (odd and greater than 1).
pub fn check_block_size(block: usize) -> Result<()> {
    if block <= 1 || block.is_multiple_of(2) {
        return Err(Error::BlockSize { block });
    }
    Ok(())
}

/// Thresholds `src` against its local mean minus `c`, exactly as OpenCV's
/// `adaptiveThreshold(src, max_value, method, kind, block, c)`.
///
/// The mean is first rounded to 8 bits the way OpenCV does, then the integer comparison
/// `src − mean > −ceil(c)` (binary) or `src − mean ≤ −floor(c)` (inverse) is made. Borders
/// replicate. MEAN_C is bit-exact; GAUSSIAN_C accumulates in double precision where OpenCV
/// uses its own SIMD float order, so its rounded mean can differ by one in about 1e-5 of the
/// pixels (it changes the output only where `src − mean` equals the threshold exactly).
pub fn adaptive_threshold(
    src: &ArrayView2<'_, u8>,
    max_value: u8,
    method: AdaptiveMethod,
    kind: ThresholdType,
    block: usize,
    c: f64,
) -> Result<Array2<u8>> {
    check_block_size(block)?;
    if src.is_empty() {
        return Err(Error::Empty {
            what: "image to threshold".to_string(),
            shape: src.shape().to_vec(),
        });
    }
    if !c.is_finite() {
        return Err(Error::NonFinite {
            what: "threshold constant C".to_string(),
            index: 0,
        });
    }
    let mean = match method {
        AdaptiveMethod::Mean => box_mean(src, block),
        AdaptiveMethod::Gaussian => gaussian_mean(src, block),
    };
    let delta = match kind {
        ThresholdType::Binary => c.ceil(),
        ThresholdType::BinaryInv => c.floor(),
    }
    .clamp(-1e6, 1e6) as i32;
    let mut out = Array2::zeros(src.raw_dim());
    ndarray::Zip::from(&mut out)
        .and(src)
        .and(&mean)
        .for_each(|o, &s, &m| {
            let diff = i32::from(s) - i32::from(m);
            let above = diff > -delta;
            let on = match kind {
                ThresholdType::Binary => above,
                ThresholdType::BinaryInv => !above,
            };
            *o = if on { max_value } else { 0 };
        });
    Ok(out)
}

/// Sums over a `k`-wide window along rows, with replicated borders (exact integers).
fn row_box_sums(src: &ArrayView2<'_, u8>, k: usize) -> Array2<u32> {
    let (h, w) = src.dim();
    let r = (k / 2) as isize;
    let clamp = |x: isize| x.clamp(0, w as isize - 1) as usize;
    let mut out = Array2::zeros((h, w));
    for (row, mut dst) in src.rows().into_iter().zip(out.rows_mut()) {
        let mut s: u32 = (-r..=r).map(|x| u32::from(row[clamp(x)])).sum();
        for j in 0..w {
            dst[j] = s;
            let j = j as isize;
            s = s + u32::from(row[clamp(j + r + 1)]) - u32::from(row[clamp(j - r)]);
        }
    }
    out
}

/// OpenCV's normalized `boxFilter` to 8 bits (BORDER_REPLICATE) with its rounding rules.
fn box_mean(src: &ArrayView2<'_, u8>, k: usize) -> Array2<u8> {
    let (h, w) = src.dim();
    let rows = row_box_sums(src, k);
    let d = (k * k) as u64;
    let r = (k / 2) as isize;
    let clamp = |y: isize| y.clamp(0, h as isize - 1) as usize;
    let round = MeanRounding::new(k, w);
    let mut out = Array2::zeros((h, w));
    let mut sums: Vec<u64> = (0..w)
        .map(|j| (-r..=r).map(|y| u64::from(rows[[clamp(y), j]])).sum())
        .collect();
    for i in 0..h {
        for (j, s) in sums.iter_mut().enumerate() {
            out[[i, j]] = round.apply(*s, j, d);
            let (add, sub) = (clamp(i as isize + r + 1), clamp(i as isize - r));
            *s = *s + u64::from(rows[[add, j]]) - u64::from(rows[[sub, j]]);
        }
    }
    out
}

/// The division of a window sum by `k²` as OpenCV's `ColumnSum` specialisations round it.
struct MeanRounding {
    /// `k ≤ 15`: 23-bit fixed point `((s + delta) * scale) >> 23`.
    fixed: Option<(u64, u64)>,
    /// `k ≥ 17`: columns below this use float32 `s * (float)(1/d)`, the rest double.
    simd_columns: usize,
    inv_f32: f32,
    inv_f64: f64,
}

impl MeanRounding {
    fn new(k: usize, width: usize) -> Self {
        let d = (k * k) as f64;
        let fixed = (k * k <= 256).then(|| {
            let scalef = f64::from(1u32 << 23) / d;
            let mut scale = scalef.floor() as u64;
            let mut delta = (k * k / 2) as u64;
            if scalef - (scale as f64) < 0.5 {
                delta += 1;
            } else {
                scale += 1;
            }
            (delta, scale)
        });
        Self {
            fixed,
            simd_columns: width & !7,
            inv_f32: (1.0 / d) as f32,
            inv_f64: 1.0 / d,
        }
    }

    fn apply(&self, s: u64, column: usize, _d: u64) -> u8 {
        let v = match self.fixed {
            Some((delta, scale)) => ((s + delta) * scale) >> 23,
            None if column < self.simd_columns => {
                (s as f32 * self.inv_f32).round_ties_even().max(0.0) as u64
            }
            None => (s as f64 * self.inv_f64).round_ties_even().max(0.0) as u64,
        };
        v.min(255) as u8
    }
}

/// OpenCV's float32 Gaussian kernel of odd size `k` with sigma from `k` (`getGaussianKernel`).
fn gaussian_kernel(k: usize) -> Vec<f32> {
    let fixed: Option<&[f64]> = match k {
        1 => Some(&[1.0]),
        3 => Some(&[0.25, 0.5, 0.25]),
        5 => Some(&[0.0625, 0.25, 0.375, 0.25, 0.0625]),
        7 => Some(&[
            0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
        ]),
        9 => Some(&[
            4.0 / 256.0,
            13.0 / 256.0,
            30.0 / 256.0,
            51.0 / 256.0,
            60.0 / 256.0,
            51.0 / 256.0,
            30.0 / 256.0,
            13.0 / 256.0,
            4.0 / 256.0,
        ]),
        _ => None,
    };
    if let Some(f) = fixed {
        return f.iter().map(|&v| v as f32).collect();
    }
    let sigma = ((k as f64 - 1.0) * 0.5 - 1.0) * 0.3 + 0.8;
    let c = (k as f64 - 1.0) * 0.5;
    let t: Vec<f64> = (0..k)
        .map(|i| {
            let x = i as f64 - c;
            (-(x * x) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f64 = t.iter().sum();
    t.iter().map(|v| (v / sum) as f32).collect()
}

/// Gaussian-weighted local mean rounded to 8 bits (separable float filter, replicated border).
fn gaussian_mean(src: &ArrayView2<'_, u8>, k: usize) -> Array2<u8> {
    let (h, w) = src.dim();
    let kernel: Vec<f64> = gaussian_kernel(k).into_iter().map(f64::from).collect();
    let r = (k / 2) as isize;
    let cx = |x: isize| x.clamp(0, w as isize - 1) as usize;
    let cy = |y: isize| y.clamp(0, h as isize - 1) as usize;
    let mut rows = Array2::<f32>::zeros((h, w));
    for i in 0..h {
        for j in 0..w {
            let acc: f64 = (-r..=r)
                .zip(&kernel)
                .map(|(t, kv)| kv * f64::from(src[[i, cx(j as isize + t)]]))
                .sum();
            rows[[i, j]] = acc as f32;
        }
    }
    let mut out = Array2::zeros((h, w));
    for i in 0..h {
        for j in 0..w {
            let acc: f64 = (-r..=r)
                .zip(&kernel)
                .map(|(t, kv)| kv * f64::from(rows[[cy(i as isize + t), j]]))
                .sum();
            out[[i, j]] = acc.round_ties_even().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_windows() {
        assert_eq!(paper_block_size(300, 300), 151);
        assert_eq!(paper_block_size(512, 512), 257);
        assert_eq!(paper_block_size(131, 97), 49);
        assert_eq!(paper_block_size(1024, 768), 385);
    }

    #[test]
    fn gaussian_kernels_are_normalized() {
        for k in [3, 9, 11, 51] {
            let s: f32 = gaussian_kernel(k).iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "{k}");
        }
    }
}

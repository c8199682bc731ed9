//! Separable resampling: PyTorch's bicubic weights and Pillow's antialiased resize.
//!
//! Both are written as 1-D weight tables so that a 2-D resize is two small passes whose
//! arithmetic follows the reference implementations step by step.

/// Cubic convolution kernel with parameter `a` (PyTorch uses -0.75, Pillow and
/// PyTorch's antialiased path -0.5).
fn cubic(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Triangle kernel of Pillow's `BILINEAR` filter.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// One output sample: the first input index and the weights of the inputs from there.
#[derive(Debug, Clone, PartialEq)]
pub struct Taps {
    /// First input index.
    pub start: usize,
    /// Weights of inputs `start, start + 1, ...`.
    pub weights: Vec<f64>,
}

/// Weights of `torch.nn.functional.interpolate(mode="bicubic", align_corners=False)` along one
/// axis, given the output size (`antialias=False`: border taps clamped, a = -0.75).
pub fn torch_bicubic(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|i| {
            let real = scale * (i as f64 + 0.5) - 0.5;
            let floor = real.floor();
            let t = real - floor;
            let w = [
                cubic(t + 1.0, -0.75),
                cubic(t, -0.75),
                cubic(1.0 - t, -0.75),
                cubic(2.0 - t, -0.75),
            ];
            let mut dense = vec![0.0; input];
            for (k, wk) in w.iter().enumerate() {
                let idx = (floor as i64 - 1 + k as i64).clamp(0, input as i64 - 1) as usize;
                dense[idx] += wk;
            }
            compact(dense)
        })
        .collect()
}

/// Weights of Pillow's resampling (and of PyTorch's `antialias=True` path) along one axis:
/// the kernel widens by the downscaling factor and each row is normalized to sum to one.
fn support_taps(
    input: usize,
    output: usize,
    support: f64,
    kernel: impl Fn(f64) -> f64,
) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    let support = support * filter_scale;
    let inv = 1.0 / filter_scale;
    (0..output)
        .map(|i| {
            let center = (i as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64) as usize;
            let mut weights: Vec<f64> = (xmin..xmax)
                .map(|x| kernel((x as f64 - center + 0.5) * inv))
                .collect();
            let total: f64 = weights.iter().sum();
            if total != 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            }
            Taps {
                start: xmin,
                weights,
            }
        })
        .collect()
}

/// Weights of `interpolate(mode="bicubic", align_corners=False, antialias=True)` along one axis.
pub fn torch_bicubic_antialias(input: usize, output: usize) -> Vec<Taps> {
    support_taps(input, output, 2.0, |x| cubic(x, -0.5))
}

/// Weights of Pillow's `BILINEAR` resize along one axis (before fixed-point rounding).
pub fn pil_bilinear(input: usize, output: usize) -> Vec<Taps> {
    support_taps(input, output, 1.0, triangle)
}

fn compact(dense: Vec<f64>) -> Taps {
    let start = dense.iter().position(|w| *w != 0.0).unwrap_or(0);
    let end = dense
        .iter()
        .rposition(|w| *w != 0.0)
        .map_or(start, |e| e + 1);
    Taps {
        start,
        weights: dense[start..end].to_vec(),
    }
}

/// A dense `output × input` row-major matrix of the taps, in f32.
pub fn dense_matrix(taps: &[Taps], input: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; taps.len() * input];
    for (row, t) in taps.iter().enumerate() {
        for (k, w) in t.weights.iter().enumerate() {
            m[row * input + t.start + k] = *w as f32;
        }
    }
    m
}

/// Fixed-point precision of Pillow's 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Taps in Pillow's fixed-point form.
fn fixed_point(taps: &[Taps]) -> Vec<(usize, Vec<i32>)> {
    let one = f64::from(1u32 << PRECISION_BITS);
    taps.iter()
        .map(|t| {
            let w = t
                .weights
                .iter()
                .map(|w| {
                    if *w < 0.0 {
                        (-0.5 + w * one) as i32
                    } else {
                        (0.5 + w * one) as i32
                    }
                })
                .collect();
            (t.start, w)
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an interleaved 8-bit image (`channels` per pixel) exactly as Pillow's
/// `Image.resize(..., BILINEAR)` does: horizontal pass, then vertical, each rounded to 8 bits.
pub fn pil_resize_bilinear(
    pixels: &[u8],
    (width, height): (usize, usize),
    channels: usize,
    (out_w, out_h): (usize, usize),
) -> Vec<u8> {
    let vertical = pil_bilinear(height, out_h);
    let need_h = out_w != width;
    let need_v = out_h != height;
    // Pillow resamples only the rows the vertical pass will read.
    let (first_row, last_row) = if need_v {
        let first = vertical.first().map_or(0, |t| t.start);
        let last = vertical
            .last()
            .map_or(height, |t| t.start + t.weights.len());
        (first, last)
    } else {
        (0, height)
    };
    let mut rows = pixels[first_row * width * channels..last_row * width * channels].to_vec();
    let mut cur_w = width;
    if need_h {
        let taps = fixed_point(&pil_bilinear(width, out_w));
        let n_rows = last_row - first_row;
        let mut out = vec![0u8; n_rows * out_w * channels];
        for y in 0..n_rows {
            let src = &rows[y * width * channels..(y + 1) * width * channels];
            for (x, (start, w)) in taps.iter().enumerate() {
                for c in 0..channels {
                    let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                    for (k, wk) in w.iter().enumerate() {
                        acc += i32::from(src[(start + k) * channels + c]) * wk;
                    }
                    out[(y * out_w + x) * channels + c] = clip8(acc);
                }
            }
        }
        rows = out;
        cur_w = out_w;
    }
    if !need_v {
        return rows;
    }
    let taps = fixed_point(&vertical);
    let stride = cur_w * channels;
    let mut out = vec![0u8; out_h * stride];
    for (y, (start, w)) in taps.iter().enumerate() {
        let start = start - first_row;
        for i in 0..stride {
            let mut acc: i32 = 1 << (PRECISION_BITS - 1);
            for (k, wk) in w.iter().enumerate() {
                acc += i32::from(rows[(start + k) * stride + i]) * wk;
            }
            out[y * stride + i] = clip8(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bicubic_identity_when_sizes_match() {
        for taps in [torch_bicubic(5, 5), torch_bicubic_antialias(5, 5)] {
            for (i, t) in taps.iter().enumerate() {
                let m = dense_matrix(std::slice::from_ref(t), 5);
                for (j, w) in m.iter().enumerate() {
                    assert!(
                        (w - if i == j { 1.0 } else { 0.0 }).abs() < 1e-6,
                        "{i} {j} {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn rows_sum_to_one() {
        for (i, o) in [(4, 7), (37, 52), (9, 3), (16, 16)] {
            for taps in [
                torch_bicubic(i, o),
                torch_bicubic_antialias(i, o),
                pil_bilinear(i, o),
            ] {
                for t in taps {
                    let s: f64 = t.weights.iter().sum();
                    assert!((s - 1.0).abs() < 1e-12, "{i}->{o}: {s}");
                }
            }
        }
    }

    #[test]
    fn pil_resize_keeps_constant_images() {
        let img = vec![77u8; 13 * 9 * 3];
        for size in [(5, 4), (20, 30), (13, 2)] {
            let out = pil_resize_bilinear(&img, (13, 9), 3, size);
            assert_eq!(out.len(), size.0 * size.1 * 3);
            assert!(out.iter().all(|v| *v == 77));
        }
    }
}

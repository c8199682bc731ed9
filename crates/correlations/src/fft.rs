//! N-dimensional real FFT correlation with cached plans and pruned transforms.
//!
//! Layout: a real array of padded shape `P = (P0, .., Pd-1)` has the half spectrum of shape
//! `(P0, .., Pd-2, Pd-1 / 2 + 1)`, row-major. The forward transform runs real-to-complex along
//! the last axis, then complex FFTs along the other axes from last to first, skipping lanes that
//! are known to be zero (the padding). The inverse runs the other way and only produces the
//! output lines that fall inside the requested displacement window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

type C64 = Complex<f64>;

/// All plans needed to transform arrays of one padded shape.
pub(crate) struct Plan {
    padded: Vec<usize>,
    spectrum_shape: Vec<usize>,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    forward: Vec<Arc<dyn Fft<f64>>>,
    inverse: Vec<Arc<dyn Fft<f64>>>,
}

struct Planners {
    real: RealFftPlanner<f64>,
    complex: FftPlanner<f64>,
    plans: HashMap<Vec<usize>, Arc<Plan>>,
}

fn planners() -> &'static Mutex<Planners> {
    static PLANNERS: OnceLock<Mutex<Planners>> = OnceLock::new();
    PLANNERS.get_or_init(|| {
        Mutex::new(Planners {
            real: RealFftPlanner::new(),
            complex: FftPlanner::new(),
            plans: HashMap::new(),
        })
    })
}

impl Plan {
    /// Returns the (process-wide cached) plan for one padded shape.
    pub(crate) fn for_shape(padded: &[usize]) -> Arc<Plan> {
        // A poisoned lock only means another thread panicked while planning; the cache is
        // still consistent (entries are inserted whole), so keep using it.
        let mut guard = planners().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = guard.plans.get(padded) {
            return Arc::clone(plan);
        }
        let d = padded.len();
        let last = padded[d - 1];
        let r2c = guard.real.plan_fft_forward(last);
        let c2r = guard.real.plan_fft_inverse(last);
        let forward = padded[..d - 1]
            .iter()
            .map(|&n| guard.complex.plan_fft_forward(n))
            .collect();
        let inverse = padded[..d - 1]
            .iter()
            .map(|&n| guard.complex.plan_fft_inverse(n))
            .collect();
        let mut spectrum_shape = padded.to_vec();
        spectrum_shape[d - 1] = last / 2 + 1;
        let plan = Arc::new(Plan {
            padded: padded.to_vec(),
            spectrum_shape,
            r2c,
            c2r,
            forward,
            inverse,
        });
        guard.plans.insert(padded.to_vec(), Arc::clone(&plan));
        plan
    }

    /// Product of the padded sizes (the inverse transform's normalization).
    pub(crate) fn len(&self) -> usize {
        self.padded.iter().product()
    }

    /// Half spectrum of a real row-major array of `shape` placed at the origin of the padding.
    pub(crate) fn forward(&self, data: &[f64], shape: &[usize]) -> Vec<C64> {
        let d = self.padded.len();
        let spec = &self.spectrum_shape;
        let sstrides = strides(spec);
        let mut out = vec![C64::default(); spec.iter().product()];
        let last = self.padded[d - 1];
        let mut line = self.r2c.make_input_vec();
        let mut scratch = self.r2c.make_scratch_vec();
        let n_last = shape[d - 1];
        let rows: Vec<Vec<usize>> = shape[..d - 1].iter().map(|&n| (0..n).collect()).collect();
        for_each_index(&rows, |idx, row| {
            let src = &data[row * n_last..(row + 1) * n_last];
            line[..n_last].copy_from_slice(src);
            line[n_last..last].fill(0.0);
            let base: usize = idx.iter().zip(&sstrides).map(|(i, s)| i * s).sum();
            let dst = &mut out[base..base + spec[d - 1]];
            // Lengths come from the plan itself, so this cannot fail.
            let _ = self.r2c.process_with_scratch(&mut line, dst, &mut scratch);
        });
        for axis in (0..d - 1).rev() {
            let allowed: Vec<Vec<usize>> = (0..d)
                .map(|j| {
                    if j < axis {
                        (0..shape[j]).collect()
                    } else {
                        (0..spec[j]).collect()
                    }
                })
                .collect();
            transform_axis(&mut out, spec, axis, &allowed, &*self.forward[axis]);
        }
        out
    }

    /// Real values of the inverse transform at the index sets `window[j]` of each axis,
    /// unnormalized, as a row-major array of shape `(window[0].len(), ..)`.
    pub(crate) fn inverse_window(&self, mut spectrum: Vec<C64>, window: &[Vec<usize>]) -> Vec<f64> {
        let d = self.padded.len();
        let spec = &self.spectrum_shape;
        for axis in 0..d - 1 {
            let allowed: Vec<Vec<usize>> = (0..d)
                .map(|j| {
                    if j < axis {
                        window[j].clone()
                    } else {
                        (0..spec[j]).collect()
                    }
                })
                .collect();
            transform_axis(&mut spectrum, spec, axis, &allowed, &*self.inverse[axis]);
        }
        let sstrides = strides(spec);
        let out_last = window[d - 1].len();
        let out_len: usize = window.iter().map(Vec::len).product();
        let mut out = vec![0.0; out_len];
        let mut line = self.c2r.make_output_vec();
        let mut half = self.c2r.make_input_vec();
        let mut scratch = self.c2r.make_scratch_vec();
        let last = self.padded[d - 1];
        for_each_index(&window[..d - 1], |idx, row| {
            let base: usize = idx.iter().zip(&sstrides).map(|(i, s)| i * s).sum();
            half.copy_from_slice(&spectrum[base..base + spec[d - 1]]);
            // The DC (and Nyquist) bins of a real signal are real; drop rounding residue.
            half[0].im = 0.0;
            if last % 2 == 0 {
                let n = half.len();
                half[n - 1].im = 0.0;
            }
            let _ = self
                .c2r
                .process_with_scratch(&mut half, &mut line, &mut scratch);
            let dst = &mut out[row * out_last..(row + 1) * out_last];
            for (o, &k) in dst.iter_mut().zip(&window[d - 1]) {
                *o = line[k];
            }
        });
        out
    }
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for j in (0..shape.len().saturating_sub(1)).rev() {
        s[j] = s[j + 1] * shape[j + 1];
    }
    s
}

/// Calls `f(index, counter)` for every combination of values in `sets`, in row-major order.
pub(crate) fn for_each_index(sets: &[Vec<usize>], mut f: impl FnMut(&[usize], usize)) {
    if sets.iter().any(Vec::is_empty) {
        return;
    }
    let mut pos = vec![0usize; sets.len()];
    let mut idx: Vec<usize> = sets.iter().map(|s| s[0]).collect();
    let mut counter = 0;
    loop {
        f(&idx, counter);
        counter += 1;
        let mut j = sets.len();
        loop {
            if j == 0 {
                return;
            }
            j -= 1;
            pos[j] += 1;
            if pos[j] < sets[j].len() {
                idx[j] = sets[j][pos[j]];
                break;
            }
            pos[j] = 0;
            idx[j] = sets[j][0];
        }
    }
}

/// Lanes gathered per batch in [`transform_axis`]: adjacent lanes share cache lines.
const BLOCK: usize = 16;

/// In-place FFT along `axis` of every lane whose other indices lie in `allowed`.
///
/// The last axis must be fully allowed (it always is: it holds the half spectrum). Lanes that
/// differ only in their last index are adjacent in memory, so they are gathered `BLOCK` at a
/// time into contiguous rows, transformed in one batched call, and scattered back.
fn transform_axis(
    data: &mut [C64],
    shape: &[usize],
    axis: usize,
    allowed: &[Vec<usize>],
    fft: &dyn Fft<f64>,
) {
    let d = shape.len();
    let st = strides(shape);
    let n = shape[axis];
    let last = shape[d - 1];
    let stride = st[axis];
    let mut buf = vec![C64::default(); BLOCK * n];
    let mut scratch = vec![C64::default(); fft.get_inplace_scratch_len()];
    let mut sets = allowed[..d - 1].to_vec();
    sets[axis] = vec![0];
    for_each_index(&sets, |idx, _| {
        let base: usize = idx.iter().zip(&st).map(|(i, s)| i * s).sum();
        let mut c0 = 0;
        while c0 < last {
            let w = BLOCK.min(last - c0);
            for k in 0..n {
                let row = &data[base + k * stride + c0..base + k * stride + c0 + w];
                for (j, v) in row.iter().enumerate() {
                    buf[j * n + k] = *v;
                }
            }
            fft.process_with_scratch(&mut buf[..w * n], &mut scratch);
            for k in 0..n {
                let row = &mut data[base + k * stride + c0..base + k * stride + c0 + w];
                for (j, v) in row.iter_mut().enumerate() {
                    *v = buf[j * n + k];
                }
            }
            c0 += w;
        }
    });
}

/// Smallest length `>= n` whose only prime factors are 2, 3, 5 and 7 (even if `even`).
pub(crate) fn fast_len(n: usize, even: bool) -> usize {
    let mut m = n.max(1);
    loop {
        if (!even || m % 2 == 0) && is_smooth(m) {
            return m;
        }
        m += 1;
    }
}

fn is_smooth(mut m: usize) -> bool {
    for p in [2, 3, 5, 7] {
        while m % p == 0 {
            m /= p;
        }
    }
    m == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_lengths() {
        assert_eq!(fast_len(1, false), 1);
        assert_eq!(fast_len(11, false), 12);
        assert_eq!(fast_len(13, true), 14);
        assert_eq!(fast_len(1557, false), 1568);
        assert!(is_smooth(fast_len(1039, true)));
    }

    #[test]
    fn index_walk_is_row_major() {
        let mut seen = Vec::new();
        for_each_index(&[vec![1, 3], vec![0, 2]], |idx, c| seen.push((idx.to_vec(), c)));
        assert_eq!(
            seen,
            vec![
                (vec![1, 0], 0),
                (vec![1, 2], 1),
                (vec![3, 0], 2),
                (vec![3, 2], 3)
            ]
        );
    }
}

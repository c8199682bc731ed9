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
    last: LastAxis,
    forward: Vec<Arc<dyn Fft<f64>>>,
    inverse: Vec<Arc<dyn Fft<f64>>>,
}

/// Real transforms along the last axis.
enum LastAxis {
    /// Smooth lengths: realfft's real-to-complex and complex-to-real plans.
    Real {
        r2c: Arc<dyn RealToComplex<f64>>,
        c2r: Arc<dyn ComplexToReal<f64>>,
    },
    /// Lengths with a prime factor above 7: full complex plans, whose SIMD butterflies beat the
    /// scalar ones realfft would pick (a real FFT of odd length is a complex one anyway).
    Complex {
        forward: Arc<dyn Fft<f64>>,
        inverse: Arc<dyn Fft<f64>>,
    },
}

struct Planners {
    real: RealFftPlanner<f64>,
    complex: FftPlanner<f64>,
    #[cfg(target_arch = "x86_64")]
    sse: Option<rustfft::FftPlannerSse<f64>>,
    plans: HashMap<Vec<usize>, Arc<Plan>>,
}

impl Planners {
    /// A complex plan; lengths with a prime factor above 7 use the SSE planner where it runs,
    /// whose prime butterflies (11–31) are vectorized (the AVX planner's are scalar).
    fn complex(&mut self, len: usize, direction: rustfft::FftDirection) -> Arc<dyn Fft<f64>> {
        #[cfg(target_arch = "x86_64")]
        if let (false, Some(sse)) = (is_smooth(len), self.sse.as_mut()) {
            return sse.plan_fft(len, direction);
        }
        self.complex.plan_fft(len, direction)
    }
}

fn planners() -> &'static Mutex<Planners> {
    static PLANNERS: OnceLock<Mutex<Planners>> = OnceLock::new();
    PLANNERS.get_or_init(|| {
        Mutex::new(Planners {
            real: RealFftPlanner::new(),
            complex: FftPlanner::new(),
            #[cfg(target_arch = "x86_64")]
            sse: rustfft::FftPlannerSse::new().ok(),
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
        use rustfft::FftDirection::{Forward, Inverse};
        let last_axis = if is_smooth(last) {
            LastAxis::Real {
                r2c: guard.real.plan_fft_forward(last),
                c2r: guard.real.plan_fft_inverse(last),
            }
        } else {
            LastAxis::Complex {
                forward: guard.complex(last, Forward),
                inverse: guard.complex(last, Inverse),
            }
        };
        let forward = padded[..d - 1]
            .iter()
            .map(|&n| guard.complex(n, Forward))
            .collect();
        let inverse = padded[..d - 1]
            .iter()
            .map(|&n| guard.complex(n, Inverse))
            .collect();
        let mut spectrum_shape = padded.to_vec();
        spectrum_shape[d - 1] = last / 2 + 1;
        let plan = Arc::new(Plan {
            padded: padded.to_vec(),
            spectrum_shape,
            last: last_axis,
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
        let mut rows = LineTransform::new(&self.last, self.padded[d - 1]);
        let n_last = shape[d - 1];
        let half = spec[d - 1];
        let row_sets: Vec<Vec<usize>> = shape[..d - 1].iter().map(|&n| (0..n).collect()).collect();
        let mut lines = Vec::new();
        for_each_index(&row_sets, |idx, row| {
            let base: usize = idx.iter().zip(&sstrides).map(|(i, s)| i * s).sum();
            lines.push((row * n_last, base));
        });
        let src = |start: usize| &data[start..start + n_last];
        for pair in lines.chunks(2) {
            match *pair {
                [(s1, b1), (s2, b2)] if rows.pairs() => {
                    // Lines are visited in increasing order, so b1 + half <= b2.
                    let (lo, hi) = out.split_at_mut(b2);
                    rows.forward_pair(src(s1), src(s2), &mut lo[b1..b1 + half], &mut hi[..half]);
                }
                _ => {
                    for &(s0, b0) in pair {
                        rows.forward(src(s0), &mut out[b0..b0 + half]);
                    }
                }
            }
        }
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
        let mut rows = LineTransform::new(&self.last, self.padded[d - 1]);
        let half = spec[d - 1];
        let mut lines = Vec::new();
        for_each_index(&window[..d - 1], |idx, row| {
            let base: usize = idx.iter().zip(&sstrides).map(|(i, s)| i * s).sum();
            lines.push((row * out_last, base));
        });
        let pick = |line: &[f64], dst: &mut [f64]| {
            for (o, &k) in dst.iter_mut().zip(&window[d - 1]) {
                *o = line[k];
            }
        };
        for pair in lines.chunks(2) {
            match *pair {
                [(o1, b1), (o2, b2)] if rows.pairs() => {
                    let (x1, x2) =
                        rows.inverse_pair(&spectrum[b1..b1 + half], &spectrum[b2..b2 + half]);
                    pick(x1, &mut out[o1..o1 + out_last]);
                    pick(x2, &mut out[o2..o2 + out_last]);
                }
                _ => {
                    for &(o0, b0) in pair {
                        let line = rows.inverse(&spectrum[b0..b0 + half]);
                        pick(line, &mut out[o0..o0 + out_last]);
                    }
                }
            }
        }
        out
    }
}

/// Buffers and plans for transforming single lines along the last axis.
struct LineTransform<'a> {
    last: &'a LastAxis,
    len: usize,
    real: Vec<f64>,
    real2: Vec<f64>,
    complex: Vec<C64>,
    half: Vec<C64>,
    scratch: Vec<C64>,
}

impl<'a> LineTransform<'a> {
    fn new(last: &'a LastAxis, len: usize) -> Self {
        let scratch_len = match last {
            LastAxis::Real { r2c, c2r } => r2c.get_scratch_len().max(c2r.get_scratch_len()),
            LastAxis::Complex { forward, inverse } => forward
                .get_inplace_scratch_len()
                .max(inverse.get_inplace_scratch_len()),
        };
        Self {
            last,
            len,
            real: vec![0.0; len],
            real2: vec![0.0; len],
            complex: vec![C64::default(); len],
            half: vec![C64::default(); len / 2 + 1],
            scratch: vec![C64::default(); scratch_len],
        }
    }

    /// Whether two real lines are transformed at once (complex plans only).
    fn pairs(&self) -> bool {
        matches!(self.last, LastAxis::Complex { .. })
    }

    /// Half spectra of two real lines from one complex FFT of `a + i b`.
    fn forward_pair(&mut self, a: &[f64], b: &[f64], da: &mut [C64], db: &mut [C64]) {
        let LastAxis::Complex { forward, .. } = self.last else {
            self.forward(a, da);
            self.forward(b, db);
            return;
        };
        let len = self.len;
        self.complex.fill(C64::default());
        for ((c, &x), &y) in self.complex.iter_mut().zip(a).zip(b) {
            *c = C64::new(x, y);
        }
        forward.process_with_scratch(&mut self.complex, &mut self.scratch);
        for k in 0..da.len() {
            let z = self.complex[k];
            let zc = self.complex[(len - k) % len].conj();
            da[k] = (z + zc) * 0.5;
            db[k] = (z - zc) * C64::new(0.0, -0.5);
        }
    }

    /// Two real lines from their half spectra with one complex FFT (unnormalized).
    fn inverse_pair(&mut self, h1: &[C64], h2: &[C64]) -> (&[f64], &[f64]) {
        let len = self.len;
        let LastAxis::Complex { inverse, .. } = self.last else {
            let first = self.inverse(h1).to_vec();
            self.real2.copy_from_slice(&first);
            self.inverse(h2);
            return (&self.real2, &self.real);
        };
        let i = C64::new(0.0, 1.0);
        let clean = |h: &[C64], k: usize| {
            // DC (and Nyquist) bins of real lines are real; drop rounding residue.
            if k == 0 || 2 * k == len {
                C64::new(h[k].re, 0.0)
            } else {
                h[k]
            }
        };
        for k in 0..h1.len() {
            self.complex[k] = clean(h1, k) + i * clean(h2, k);
        }
        for k in 1..len.div_ceil(2) {
            self.complex[len - k] = clean(h1, k).conj() + i * clean(h2, k).conj();
        }
        inverse.process_with_scratch(&mut self.complex, &mut self.scratch);
        for ((r1, r2), c) in self.real.iter_mut().zip(&mut self.real2).zip(&self.complex) {
            *r1 = c.re;
            *r2 = c.im;
        }
        (&self.real, &self.real2)
    }

    /// Half spectrum of `src` zero-padded to the plan's length, into `dst`.
    fn forward(&mut self, src: &[f64], dst: &mut [C64]) {
        let n = src.len();
        match self.last {
            LastAxis::Real { r2c, .. } => {
                self.real[..n].copy_from_slice(src);
                self.real[n..].fill(0.0);
                // Lengths come from the plan itself, so this cannot fail.
                let _ = r2c.process_with_scratch(&mut self.real, dst, &mut self.scratch);
            }
            LastAxis::Complex { forward, .. } => {
                for (c, &v) in self.complex.iter_mut().zip(src) {
                    *c = C64::new(v, 0.0);
                }
                self.complex[n..].fill(C64::default());
                forward.process_with_scratch(&mut self.complex, &mut self.scratch);
                dst.copy_from_slice(&self.complex[..dst.len()]);
            }
        }
    }

    /// Real line whose half spectrum is `half` (unnormalized).
    fn inverse(&mut self, half: &[C64]) -> &[f64] {
        let len = self.len;
        match self.last {
            LastAxis::Real { c2r, .. } => {
                self.half.copy_from_slice(half);
                // The DC (and Nyquist) bins of a real signal are real; drop rounding residue.
                self.half[0].im = 0.0;
                if len.is_multiple_of(2) {
                    self.half[len / 2].im = 0.0;
                }
                let _ = c2r.process_with_scratch(&mut self.half, &mut self.real, &mut self.scratch);
            }
            LastAxis::Complex { inverse, .. } => {
                self.complex[..half.len()].copy_from_slice(half);
                for (k, h) in half.iter().enumerate().take(len.div_ceil(2)).skip(1) {
                    self.complex[len - k] = h.conj();
                }
                inverse.process_with_scratch(&mut self.complex, &mut self.scratch);
                for (r, c) in self.real.iter_mut().zip(&self.complex) {
                    *r = c.re;
                }
            }
        }
        &self.real
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
        if (!even || m.is_multiple_of(2)) && is_smooth(m) {
            return m;
        }
        m += 1;
    }
}

fn is_smooth(mut m: usize) -> bool {
    for p in [2, 3, 5, 7] {
        while m.is_multiple_of(p) {
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
        for_each_index(&[vec![1, 3], vec![0, 2]], |idx, c| {
            seen.push((idx.to_vec(), c))
        });
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

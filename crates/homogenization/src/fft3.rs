//! 3-D real FFTs of periodic fields on an `n0 × n1 × n2` grid, with plans made once per shape
//! and shared by every solve in the process.
//!
//! Every axis is transformed over blocks of `lanes::LANES` lines at once
//! (rows of lanes, see the `lanes` module); the last axis takes two real lines per complex lane
//! (`z = a + i·b`), which halves its cost for every length. Lengths without a split into small
//! factors fall back to rustfft, one lane at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};

use crate::lanes::{LANES, LaneDft, Row, Scratch};

/// Complex value.
pub type C64 = Complex<f64>;

/// Plans for one grid; the half spectrum has shape `n0 × n1 × (n2 / 2 + 1)`, row-major.
pub struct Fft3 {
    /// Grid shape.
    pub shape: [usize; 3],
    /// Last-axis length of the half spectrum.
    pub half: usize,
    /// Forward and inverse plans per axis.
    plans: [[Axis; 2]; 3],
}

/// A complex DFT of one length over rows of lanes.
enum Axis {
    Lanes(LaneDft),
    Single(Arc<dyn Fft<f64>>),
}

/// Buffers for transforming one block of rows.
struct Block {
    rows: Vec<Row>,
    scratch: Option<Scratch>,
    line: Vec<C64>,
}

impl Axis {
    fn new(n: usize, direction: FftDirection, planner: &mut Planner) -> Self {
        match LaneDft::new(n, direction) {
            Some(plan) => Axis::Lanes(plan),
            None => Axis::Single(planner.plan(n, direction)),
        }
    }

    fn block(&self, n: usize) -> Block {
        Block {
            rows: vec![[0.0; 2 * LANES]; n],
            scratch: match self {
                Axis::Lanes(plan) => Some(plan.scratch()),
                Axis::Single(_) => None,
            },
            line: vec![C64::default(); n],
        }
    }

    /// Transforms every lane of `b.rows`.
    fn apply(&self, b: &mut Block) {
        match (self, b.scratch.as_mut()) {
            (Axis::Lanes(plan), Some(scratch)) => plan.apply(&mut b.rows, scratch),
            (Axis::Lanes(plan), None) => plan.apply(&mut b.rows, &mut plan.scratch()),
            (Axis::Single(fft), _) => {
                for l in 0..LANES {
                    for (z, row) in b.line.iter_mut().zip(&b.rows) {
                        *z = C64::new(row[2 * l], row[2 * l + 1]);
                    }
                    fft.process(&mut b.line);
                    for (z, row) in b.line.iter().zip(b.rows.iter_mut()) {
                        row[2 * l] = z.re;
                        row[2 * l + 1] = z.im;
                    }
                }
            }
        }
    }
}

impl Fft3 {
    /// Plans for a grid.
    pub fn new(shape: [usize; 3]) -> Self {
        let mut planner = Planner::new();
        let mut plan = |n| {
            [
                Axis::new(n, FftDirection::Forward, &mut planner),
                Axis::new(n, FftDirection::Inverse, &mut planner),
            ]
        };
        let plans = [plan(shape[0]), plan(shape[1]), plan(shape[2])];
        Self {
            shape,
            half: shape[2] / 2 + 1,
            plans,
        }
    }

    /// The process-wide plans for a grid, made on first use.
    pub fn shared(shape: [usize; 3]) -> Arc<Self> {
        static CACHE: OnceLock<Mutex<HashMap<[usize; 3], Arc<Fft3>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        // A poisoned lock only means a panic elsewhere; entries are inserted whole.
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(shape)
            .or_insert_with(|| Arc::new(Self::new(shape)))
            .clone()
    }

    /// Number of real grid points.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of half-spectrum entries.
    pub fn spectrum_len(&self) -> usize {
        self.shape[0] * self.shape[1] * self.half
    }

    /// Forward transform of a real field (row-major) into `out` (unnormalized).
    pub fn forward(&self, field: &[f64], out: &mut [C64]) {
        self.last_forward(field, out);
        let [n0, n1, _] = self.shape;
        let h = self.half;
        let axis1 = &self.plans[1][0];
        let mut block = axis1.block(n1);
        for plane in out.chunks_exact_mut(n1 * h) {
            strided(plane, h, h, axis1, &mut block);
        }
        let axis0 = &self.plans[0][0];
        strided(out, n1 * h, n1 * h, axis0, &mut axis0.block(n0));
    }

    /// Inverse transform of a half spectrum (consumed) into a real field, divided by the
    /// number of grid points. The imaginary parts that a real field cannot have (zero and
    /// Nyquist frequencies of the last axis) are ignored.
    pub fn inverse(&self, spectrum: &mut [C64], field: &mut [f64]) {
        let [n0, n1, _] = self.shape;
        let h = self.half;
        let axis0 = &self.plans[0][1];
        strided(spectrum, n1 * h, n1 * h, axis0, &mut axis0.block(n0));
        let axis1 = &self.plans[1][1];
        let mut block = axis1.block(n1);
        for plane in spectrum.chunks_exact_mut(n1 * h) {
            strided(plane, h, h, axis1, &mut block);
        }
        self.last_inverse(spectrum, field, 1.0 / self.len() as f64);
    }

    /// Real-to-half-spectrum transforms of every last-axis line, two lines per lane.
    fn last_forward(&self, field: &[f64], out: &mut [C64]) {
        let (n, h) = (self.shape[2], self.half);
        let axis = &self.plans[2][0];
        let mut b = axis.block(n);
        for (src, dst) in field
            .chunks(2 * LANES * n)
            .zip(out.chunks_mut(2 * LANES * h))
        {
            let lines = src.len() / n;
            for (k, row) in b.rows.iter_mut().enumerate() {
                for (l, z) in row.chunks_exact_mut(2).enumerate() {
                    z[0] = src.get(2 * l * n + k).copied().unwrap_or(0.0);
                    z[1] = src.get((2 * l + 1) * n + k).copied().unwrap_or(0.0);
                }
            }
            axis.apply(&mut b);
            for l in 0..lines.div_ceil(2) {
                let (a, rest) = dst[2 * l * h..].split_at_mut(h);
                let second = (2 * l + 1 < lines).then(|| &mut rest[..h]);
                unpack(&b.rows, l, a, second);
            }
        }
    }

    /// Half-spectrum-to-real transforms of every last-axis line, two lines per lane,
    /// multiplied by `scale`.
    fn last_inverse(&self, spectrum: &[C64], field: &mut [f64], scale: f64) {
        let (n, h) = (self.shape[2], self.half);
        let axis = &self.plans[2][1];
        let mut b = axis.block(n);
        for (src, dst) in spectrum
            .chunks(2 * LANES * h)
            .zip(field.chunks_mut(2 * LANES * n))
        {
            let lines = src.len() / h;
            for l in 0..LANES {
                let a = src.get(2 * l * h..(2 * l + 1) * h);
                let second = src.get((2 * l + 1) * h..(2 * l + 2) * h);
                pack(a, second, &mut b.rows, l);
            }
            axis.apply(&mut b);
            for (k, row) in b.rows.iter().enumerate() {
                for l in 0..lines.div_ceil(2) {
                    dst[2 * l * n + k] = row[2 * l] * scale;
                    if 2 * l + 1 < lines {
                        dst[(2 * l + 1) * n + k] = row[2 * l + 1] * scale;
                    }
                }
            }
        }
    }
}

/// Splits lane `l` of `rows` (the DFT of `a + i·b`) into the half spectra of the real lines
/// `a` and `b`.
fn unpack(rows: &[Row], l: usize, a: &mut [C64], b: Option<&mut [C64]>) {
    let n = rows.len();
    let z = |k: usize| C64::new(rows[k][2 * l], rows[k][2 * l + 1]);
    match b {
        Some(b) => {
            for (k, (ak, bk)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                let (zk, zc) = (z(k), z((n - k) % n).conj());
                *ak = (zk + zc) * 0.5;
                let d = zk - zc;
                *bk = C64::new(0.5 * d.im, -0.5 * d.re);
            }
        }
        None => {
            for (k, ak) in a.iter_mut().enumerate() {
                *ak = z(k);
            }
        }
    }
}

/// Packs the half spectra of two real lines into lane `l` of `rows` as the full spectrum of
/// `a + i·b`, dropping the imaginary parts a real line's zero and Nyquist frequencies cannot
/// have; missing lines are zero.
fn pack(a: Option<&[C64]>, b: Option<&[C64]>, rows: &mut [Row], l: usize) {
    let n = rows.len();
    let at = |s: Option<&[C64]>, k: usize| {
        let Some(s) = s else {
            return C64::default();
        };
        let m = if k < s.len() { k } else { n - k };
        let v = s[m];
        let v = if m == 0 || 2 * m == n {
            C64::new(v.re, 0.0)
        } else {
            v
        };
        if k < s.len() { v } else { v.conj() }
    };
    for (k, row) in rows.iter_mut().enumerate() {
        let (x, y) = (at(a, k), at(b, k));
        row[2 * l] = x.re - y.im;
        row[2 * l + 1] = x.im + y.re;
    }
}

/// DFT of every lane `base + k·stride` (`k < n`, the number of rows of `b`) for the bases
/// `0..width`, a block of `LANES` contiguous bases at a time.
fn strided(data: &mut [C64], stride: usize, width: usize, axis: &Axis, b: &mut Block) {
    let mut c0 = 0;
    while c0 < width {
        let w = LANES.min(width - c0);
        for (k, row) in b.rows.iter_mut().enumerate() {
            let src = &data[k * stride + c0..][..w];
            for (z, v) in row.chunks_exact_mut(2).zip(src) {
                z[0] = v.re;
                z[1] = v.im;
            }
            row[2 * w..].fill(0.0);
        }
        axis.apply(b);
        for (k, row) in b.rows.iter().enumerate() {
            let dst = &mut data[k * stride + c0..][..w];
            for (z, v) in row.chunks_exact(2).zip(dst) {
                *v = C64::new(z[0], z[1]);
            }
        }
        c0 += w;
    }
}

/// rustfft's planners for the fallback: the SSE one for lengths with a prime factor above 7
/// (its prime butterflies are vectorized, the AVX planner's are not), the default otherwise.
struct Planner {
    default: FftPlanner<f64>,
    #[cfg(target_arch = "x86_64")]
    sse: Option<rustfft::FftPlannerSse<f64>>,
}

impl Planner {
    fn new() -> Self {
        Self {
            default: FftPlanner::new(),
            #[cfg(target_arch = "x86_64")]
            sse: rustfft::FftPlannerSse::new().ok(),
        }
    }

    fn plan(&mut self, len: usize, direction: FftDirection) -> Arc<dyn Fft<f64>> {
        #[cfg(target_arch = "x86_64")]
        if let (false, Some(sse)) = (is_smooth(len), self.sse.as_mut()) {
            return sse.plan_fft(len, direction);
        }
        self.default.plan_fft(len, direction)
    }
}

/// Whether a length has no prime factor above 7.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn is_smooth(mut m: usize) -> bool {
    for p in [2, 3, 5, 7] {
        while m > 0 && m.is_multiple_of(p) {
            m /= p;
        }
    }
    m == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct DFT of a real row-major field at one half-spectrum index.
    fn dft(field: &[f64], shape: [usize; 3], q: [usize; 3]) -> C64 {
        let mut sum = C64::default();
        let mut i = 0;
        for x0 in 0..shape[0] {
            for x1 in 0..shape[1] {
                for x2 in 0..shape[2] {
                    let phase = -2.0
                        * std::f64::consts::PI
                        * ((q[0] * x0) as f64 / shape[0] as f64
                            + (q[1] * x1) as f64 / shape[1] as f64
                            + (q[2] * x2) as f64 / shape[2] as f64);
                    sum += C64::from_polar(field[i], phase);
                    i += 1;
                }
            }
        }
        sum
    }

    #[test]
    fn matches_the_direct_dft_and_round_trips() {
        // Odd and even line counts and lengths, smooth and prime lengths.
        for shape in [
            [5, 4, 6],
            [3, 3, 7],
            [2, 5, 37],
            [4, 3, 1],
            [1, 1, 11],
            [3, 2, 34],
            [37, 3, 5],
            [3, 17, 9],
        ] {
            let f = Fft3::new(shape);
            let field: Vec<f64> = (0..f.len())
                .map(|i| ((i * 7919) % 13) as f64 - 6.0 + 0.1 * i as f64)
                .collect();
            let mut spec = vec![C64::default(); f.spectrum_len()];
            f.forward(&field, &mut spec);
            for (idx, s) in spec.iter().enumerate() {
                let q = [
                    idx / (shape[1] * f.half),
                    (idx / f.half) % shape[1],
                    idx % f.half,
                ];
                let want = dft(&field, shape, q);
                assert!((s - want).norm() < 1e-9, "{shape:?} {q:?}: {s} vs {want}");
            }
            let mut back = vec![0.0; f.len()];
            f.inverse(&mut spec, &mut back);
            for (a, b) in field.iter().zip(&back) {
                assert!((a - b).abs() < 1e-12, "{shape:?}");
            }
        }
    }

    #[test]
    fn inverse_ignores_imaginary_parts_a_real_field_cannot_have() {
        let f = Fft3::new([1, 1, 6]);
        let mut spec = vec![
            C64::new(1.0, 5.0),
            C64::default(),
            C64::default(),
            C64::new(0.0, 7.0),
        ];
        let mut out = vec![0.0; 6];
        f.inverse(&mut spec, &mut out);
        for v in out {
            assert!((v - 1.0 / 6.0).abs() < 1e-15);
        }
    }

    #[test]
    fn shared_plans_are_reused() {
        assert!(Arc::ptr_eq(
            &Fft3::shared([3, 4, 5]),
            &Fft3::shared([3, 4, 5])
        ));
    }
}

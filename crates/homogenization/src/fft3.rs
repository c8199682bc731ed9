//! 3-D real FFTs of periodic fields on an `n0 × n1 × n2` grid, with plans made once.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

/// Complex value.
pub type C64 = Complex<f64>;

/// Plans for one grid; the half spectrum has shape `n0 × n1 × (n2 / 2 + 1)`, row-major.
pub struct Fft3 {
    /// Grid shape.
    pub shape: [usize; 3],
    /// Last-axis length of the half spectrum.
    pub half: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    f1: Arc<dyn Fft<f64>>,
    i1: Arc<dyn Fft<f64>>,
    f0: Arc<dyn Fft<f64>>,
    i0: Arc<dyn Fft<f64>>,
}

impl Fft3 {
    /// Plans for a grid.
    pub fn new(shape: [usize; 3]) -> Self {
        let mut real = RealFftPlanner::<f64>::new();
        let mut complex = FftPlanner::<f64>::new();
        Self {
            shape,
            half: shape[2] / 2 + 1,
            r2c: real.plan_fft_forward(shape[2]),
            c2r: real.plan_fft_inverse(shape[2]),
            f1: complex.plan_fft_forward(shape[1]),
            i1: complex.plan_fft_inverse(shape[1]),
            f0: complex.plan_fft_forward(shape[0]),
            i0: complex.plan_fft_inverse(shape[0]),
        }
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
        let [_, _, n2] = self.shape;
        let mut line = self.r2c.make_input_vec();
        let mut scratch = self.r2c.make_scratch_vec();
        for (src, dst) in field.chunks_exact(n2).zip(out.chunks_exact_mut(self.half)) {
            line.copy_from_slice(src);
            // Lengths come from the plan, so this cannot fail.
            let _ = self.r2c.process_with_scratch(&mut line, dst, &mut scratch);
        }
        self.axes(out, &*self.f1, &*self.f0);
    }

    /// Inverse transform of a half spectrum (consumed) into a real field, divided by the
    /// number of grid points.
    pub fn inverse(&self, spectrum: &mut [C64], field: &mut [f64]) {
        let [_, _, n2] = self.shape;
        self.axes(spectrum, &*self.i1, &*self.i0);
        let mut scratch = self.c2r.make_scratch_vec();
        let scale = 1.0 / self.len() as f64;
        for (src, dst) in spectrum
            .chunks_exact_mut(self.half)
            .zip(field.chunks_exact_mut(n2))
        {
            src[0].im = 0.0;
            if n2.is_multiple_of(2) {
                src[self.half - 1].im = 0.0;
            }
            let _ = self.c2r.process_with_scratch(src, dst, &mut scratch);
            dst.iter_mut().for_each(|v| *v *= scale);
        }
    }

    /// Complex FFTs along axis 1 then axis 0 of a half spectrum.
    fn axes(&self, data: &mut [C64], fft1: &dyn Fft<f64>, fft0: &dyn Fft<f64>) {
        let [n0, n1, _] = self.shape;
        let h = self.half;
        for plane in data.chunks_exact_mut(n1 * h) {
            strided(plane, n1, h, h, fft1);
        }
        strided(data, n0, n1 * h, n1 * h, fft0);
    }
}

/// FFT of every lane `base + k·stride` (`k < n`) for the `width` bases `0..width`, gathered
/// 16 lanes at a time so that memory is read contiguously.
fn strided(data: &mut [C64], n: usize, stride: usize, width: usize, fft: &dyn Fft<f64>) {
    const BLOCK: usize = 16;
    let mut buf = vec![C64::default(); BLOCK * n];
    let mut scratch = vec![C64::default(); fft.get_inplace_scratch_len()];
    let mut c0 = 0;
    while c0 < width {
        let w = BLOCK.min(width - c0);
        for k in 0..n {
            for j in 0..w {
                buf[j * n + k] = data[k * stride + c0 + j];
            }
        }
        fft.process_with_scratch(&mut buf[..w * n], &mut scratch);
        for k in 0..n {
            for j in 0..w {
                data[k * stride + c0 + j] = buf[j * n + k];
            }
        }
        c0 += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_dc() {
        let f = Fft3::new([5, 4, 6]);
        let field: Vec<f64> = (0..f.len())
            .map(|i| ((i * 7919) % 13) as f64 - 6.0)
            .collect();
        let mut spec = vec![C64::default(); f.spectrum_len()];
        f.forward(&field, &mut spec);
        assert!((spec[0].re - field.iter().sum::<f64>()).abs() < 1e-9);
        let mut back = vec![0.0; f.len()];
        f.inverse(&mut spec, &mut back);
        for (a, b) in field.iter().zip(&back) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}

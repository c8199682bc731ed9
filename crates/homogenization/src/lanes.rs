//! Complex DFTs of one length applied to many lanes at once: each of the `n` inputs is a row
//! of `LANES` values (one per lane), so every arithmetic step is a loop over contiguous lanes
//! that the compiler vectorizes. Used for lengths that split into two factors up to
//! [`MAX_FACTOR`] (51 = 3 · 17 for the 51³ data set), where it beats one-at-a-time transforms.
//!
//! The length `n = n1 · n2` is done in two steps of small direct DFTs (each over symmetric
//! input pairs, as in FFTW's codelets) with twiddles between them:
//! `X[k1 + n1·k2] = Σ_{j2} W_{n2}^{j2·k2} · W_n^{j2·k1} · Σ_{j1} W_{n1}^{j1·k1} x[n2·j1 + j2]`.

use rustfft::FftDirection;
use rustfft::num_complex::Complex;

/// Lanes per row.
pub(crate) const LANES: usize = 4;

/// Largest factor done as one direct DFT.
pub(crate) const MAX_FACTOR: usize = 32;

/// One row: `LANES` interleaved complex values.
pub(crate) type Row = [f64; 2 * LANES];

/// A direct DFT of a small length over rows.
struct Direct {
    p: usize,
    /// `cos(2π j k / p)` at `[j * p + k]`.
    cos: Vec<f64>,
    /// `± sin(2π j k / p)` (the sign of the direction) at `[j * p + k]`.
    sin: Vec<f64>,
}

impl Direct {
    fn new(p: usize, direction: FftDirection) -> Self {
        let sign = match direction {
            FftDirection::Forward => 1.0,
            FftDirection::Inverse => -1.0,
        };
        let angle =
            |j: usize, k: usize| 2.0 * std::f64::consts::PI * ((j * k) % p) as f64 / p as f64;
        let table = |f: &dyn Fn(f64) -> f64| -> Vec<f64> {
            (0..p * p).map(|i| f(angle(i / p, i % p))).collect()
        };
        Self {
            p,
            cos: table(&f64::cos),
            sin: table(&|a| sign * a.sin()),
        }
    }

    /// `out[k] = Σ_j x[j] e^{∓2πi jk/p}`; `a` and `b` are scratch of at least `p` rows.
    #[inline(always)]
    fn apply(&self, x: &[Row], out: &mut [Row], a: &mut [Row], b: &mut [Row]) {
        let p = self.p;
        let h = (p - 1) / 2;
        for j in 1..=h {
            let (xj, xm) = (&x[j], &x[p - j]);
            for (((aj, bj), u), v) in a[j].iter_mut().zip(b[j].iter_mut()).zip(xj).zip(xm) {
                *aj = u + v;
                *bj = u - v;
            }
        }
        // Two frequencies per sweep over the pairs, accumulators in registers.
        let mut k = 0;
        while k <= p / 2 {
            let k2 = (k + 1).min(p / 2);
            let mut sa = [x[0], x[0]];
            let mut sb = [[0.0; 2 * LANES]; 2];
            if p.is_multiple_of(2) {
                for (t, kk) in [k, k2].into_iter().enumerate() {
                    axpy(&mut sa[t], if kk % 2 == 0 { 1.0 } else { -1.0 }, &x[p / 2]);
                }
            }
            for ((aj, bj), j) in a[1..=h].iter().zip(&b[1..=h]).zip(1..) {
                let (c0, c1) = (self.cos[j * p + k], self.cos[j * p + k2]);
                let (s0, s1) = (self.sin[j * p + k], self.sin[j * p + k2]);
                for l in 0..2 * LANES {
                    sa[0][l] += c0 * aj[l];
                    sa[1][l] += c1 * aj[l];
                    sb[0][l] += s0 * bj[l];
                    sb[1][l] += s1 * bj[l];
                }
            }
            // The pair (j, p − j) gives cos·a ∓ i·sin·b at k and cos·a ± i·sin·b at p − k.
            for (t, kk) in [k, k2].into_iter().enumerate() {
                if kk != 0 && 2 * kk != p {
                    rotate_add(&mut out[p - kk], &sa[t], &sb[t], 1.0);
                }
                rotate_add(&mut out[kk], &sa[t], &sb[t], -1.0);
            }
            k += 2;
        }
    }
}

/// `y += c·x` over one row.
#[inline(always)]
fn axpy(y: &mut Row, c: f64, x: &Row) {
    for (v, w) in y.iter_mut().zip(x) {
        *v += c * w;
    }
}

/// `out = a + s·i·b` over one row of complex values.
#[inline(always)]
fn rotate_add(out: &mut Row, a: &Row, b: &Row, s: f64) {
    for ((o, a), b) in out
        .chunks_exact_mut(2)
        .zip(a.chunks_exact(2))
        .zip(b.chunks_exact(2))
    {
        o[0] = a[0] - s * b[1];
        o[1] = a[1] + s * b[0];
    }
}

/// A DFT of length `n1 · n2` over rows of lanes.
pub(crate) struct LaneDft {
    n1: usize,
    n2: usize,
    first: Direct,
    second: Direct,
    /// `W_n^{j2·k1}` at `[j2 * n1 + k1]`.
    twiddles: Vec<Complex<f64>>,
    /// Whether the CPU runs AVX2.
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

/// Scratch rows for [`LaneDft::apply`].
pub(crate) struct Scratch {
    mid: Vec<Row>,
    tin: Vec<Row>,
    tout: Vec<Row>,
    a: Vec<Row>,
    b: Vec<Row>,
}

impl LaneDft {
    /// A plan for length `n`, or `None` when `n` has no split into two factors up to
    /// [`MAX_FACTOR`].
    pub(crate) fn new(n: usize, direction: FftDirection) -> Option<Self> {
        let (n1, n2) = (1..=MAX_FACTOR)
            .filter(|&n2| n.is_multiple_of(n2) && n / n2 <= MAX_FACTOR)
            .map(|n2| (n / n2, n2))
            .min_by_key(|&(n1, n2)| (n1 + n2, std::cmp::Reverse(n1)))?;
        let sign = match direction {
            FftDirection::Forward => -1.0,
            FftDirection::Inverse => 1.0,
        };
        let twiddles = (0..n2 * n1)
            .map(|i| {
                let (j2, k1) = (i / n1, i % n1);
                let angle = 2.0 * std::f64::consts::PI * ((j2 * k1) % n) as f64 / n as f64;
                Complex::from_polar(1.0, sign * angle)
            })
            .collect();
        Some(Self {
            n1,
            n2,
            first: Direct::new(n1, direction),
            second: Direct::new(n2, direction),
            twiddles,
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        })
    }

    /// Scratch for this plan.
    pub(crate) fn scratch(&self) -> Scratch {
        let rows = |k: usize| vec![[0.0; 2 * LANES]; k];
        let m = self.n1.max(self.n2);
        Scratch {
            mid: rows(self.n1 * self.n2),
            tin: rows(m),
            tout: rows(m),
            a: rows(m),
            b: rows(m),
        }
    }

    /// Transforms `rows` (`n` rows) in place.
    pub(crate) fn apply(&self, rows: &mut [Row], s: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU supports AVX2 (checked when the plan was made).
            unsafe { self.apply_avx2(rows, s) };
            return;
        }
        self.apply_portable(rows, s);
    }

    /// [`Self::apply`] compiled for AVX2: the same operations in the same order (no fused
    /// multiply-adds), so results are bit-identical, on vectors twice as wide.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(&self, rows: &mut [Row], s: &mut Scratch) {
        self.apply_portable(rows, s);
    }

    #[inline(always)]
    fn apply_portable(&self, rows: &mut [Row], s: &mut Scratch) {
        let (n1, n2) = (self.n1, self.n2);
        if n2 == 1 {
            s.tin[..n1].copy_from_slice(&rows[..n1]);
            self.first.apply(&s.tin, rows, &mut s.a, &mut s.b);
            return;
        }
        for j2 in 0..n2 {
            for j1 in 0..n1 {
                s.tin[j1] = rows[n2 * j1 + j2];
            }
            self.first.apply(&s.tin, &mut s.tout, &mut s.a, &mut s.b);
            for k1 in 0..n1 {
                let w = self.twiddles[j2 * n1 + k1];
                let (src, dst) = (&s.tout[k1], &mut s.mid[j2 * n1 + k1]);
                for l in 0..LANES {
                    let (re, im) = (src[2 * l], src[2 * l + 1]);
                    dst[2 * l] = re * w.re - im * w.im;
                    dst[2 * l + 1] = re * w.im + im * w.re;
                }
            }
        }
        for k1 in 0..n1 {
            for j2 in 0..n2 {
                s.tin[j2] = s.mid[j2 * n1 + k1];
            }
            self.second.apply(&s.tin, &mut s.tout, &mut s.a, &mut s.b);
            for k2 in 0..n2 {
                rows[k1 + n1 * k2] = s.tout[k2];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::FftPlanner;

    #[test]
    fn matches_rustfft_on_every_lane() {
        for n in [
            1, 2, 3, 4, 6, 9, 16, 17, 25, 32, 51, 64, 100, 128, 289, 1024,
        ] {
            for direction in [FftDirection::Forward, FftDirection::Inverse] {
                let plan = LaneDft::new(n, direction).unwrap();
                let mut rows: Vec<Row> = (0..n)
                    .map(|k| {
                        std::array::from_fn(|i| {
                            ((k * 31 + i * 7) % 11) as f64 - 5.0 + 0.01 * i as f64
                        })
                    })
                    .collect();
                let mut want: Vec<Vec<Complex<f64>>> = (0..LANES)
                    .map(|l| {
                        (0..n)
                            .map(|k| Complex::new(rows[k][2 * l], rows[k][2 * l + 1]))
                            .collect()
                    })
                    .collect();
                let fft = FftPlanner::new().plan_fft(n, direction);
                want.iter_mut().for_each(|w| fft.process(w));
                plan.apply(&mut rows, &mut plan.scratch());
                for (l, w) in want.iter().enumerate() {
                    for k in 0..n {
                        let got = Complex::new(rows[k][2 * l], rows[k][2 * l + 1]);
                        assert!(
                            (got - w[k]).norm() < 1e-9 * n as f64,
                            "n={n} k={k}: {got} vs {}",
                            w[k]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn declines_lengths_without_a_small_split() {
        assert!(LaneDft::new(37, FftDirection::Forward).is_none());
        assert!(LaneDft::new(2 * 37, FftDirection::Forward).is_none());
        assert!(LaneDft::new(33 * 33, FftDirection::Forward).is_none());
    }
}

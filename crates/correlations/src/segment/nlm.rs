//! OpenCV's `fastNlMeansDenoising` for 8-bit gray images, bit-exact.
//!
//! For every pixel and every offset of the search window, the weight is
//! `lut[ssd >> bin_shift]`, where `ssd` is the sum of squared differences of the template
//! windows and `lut` OpenCV's fixed-point table of `exp(−d / h²)`; the output is the weighted
//! mean rounded half up. All of it is integer arithmetic, so the order of summation (here:
//! rows of the image in parallel stripes, offsets inside, running column sums per offset) does
//! not change the result.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows of output computed by one task (fixed, so results never depend on the thread count).
const STRIPE: usize = 64;

/// Parameters of non-local-means denoising (OpenCV's `h`, `templateWindowSize`,
/// `searchWindowSize`; even window sizes behave like OpenCV's, `size / 2 * 2 + 1`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NlMeans {
    h: f32,
    template_half: usize,
    search_half: usize,
}

impl Default for NlMeans {
    /// The paper's settings: h = 10, template 7, search 21.
    fn default() -> Self {
        Self {
            h: 10.0,
            template_half: 3,
            search_half: 10,
        }
    }
}

impl NlMeans {
    /// Validated parameters: `h` finite, windows of at least 1 pixel.
    pub fn new(h: f32, template: usize, search: usize) -> Result<Self> {
        if !h.is_finite() {
            return Err(Error::NonFinite {
                what: "NLM filter strength h".to_string(),
                index: 0,
            });
        }
        if template == 0 || search == 0 {
            return Err(Error::WindowSize {
                name: if template == 0 { "template" } else { "search" },
                size: 0,
            });
        }
        Ok(Self {
            h,
            template_half: template / 2,
            search_half: search / 2,
        })
    }

    /// Denoises an 8-bit gray image.
    pub fn denoise(&self, src: &ArrayView2<'_, u8>) -> Result<Array2<u8>> {
        let (h, w) = src.dim();
        if h == 0 || w == 0 {
            return Err(Error::Empty {
                what: "image to denoise".to_string(),
                shape: vec![h, w],
            });
        }
        let tables = Tables::new(self);
        let border = self.search_half + self.template_half;
        let ext = Extended::reflect101(src, border);
        let mut out = Array2::<u8>::zeros((h, w));
        let out_rows = out
            .as_slice_mut()
            .map(|s| s.par_chunks_mut(STRIPE * w).enumerate());
        if let Some(chunks) = out_rows {
            chunks.for_each(|(k, chunk)| {
                let r0 = k * STRIPE;
                let r1 = (r0 + STRIPE).min(h);
                denoise_stripe(&ext, self, &tables, r0, r1, w, chunk);
            });
        }
        Ok(out)
    }
}

/// Fixed-point weights.
struct Tables {
    lut: Vec<i32>,
    bin_shift: u32,
}

impl Tables {
    fn new(p: &NlMeans) -> Self {
        let tws = 2 * p.template_half + 1;
        let sws = 2 * p.search_half + 1;
        let fixed_point_mult = i32::MAX / (sws * sws * 255) as i32;
        let mut bin_shift = 0;
        while (1usize << bin_shift) < tws * tws {
            bin_shift += 1;
        }
        let mult = f64::from(1u32 << bin_shift) / (tws * tws) as f64;
        let max_dist = 255.0 * 255.0;
        let almost_max = (max_dist / mult + 1.0) as usize;
        let hh = f64::from(p.h * p.h);
        let mut lut = Vec::with_capacity(almost_max);
        for ad in 0..almost_max {
            let dist = ad as f64 * mult;
            let mut w = (-dist / hh).exp();
            if w.is_nan() {
                w = 1.0;
            }
            let mut weight = (f64::from(fixed_point_mult) * w).round_ties_even() as i32;
            if f64::from(weight) < 0.001 * f64::from(fixed_point_mult) {
                weight = 0;
            }
            lut.push(weight);
        }
        // Weights only decrease with distance: keep the table up to its first zero.
        if let Some(first_zero) = lut.iter().position(|&v| v == 0) {
            lut.truncate(first_zero + 1);
        }
        Self { lut, bin_shift }
    }
}

/// The image padded by `border` on every side with BORDER_REFLECT_101, as `i32`.
struct Extended {
    data: Vec<i32>,
    width: usize,
    border: usize,
}

impl Extended {
    fn reflect101(src: &ArrayView2<'_, u8>, border: usize) -> Self {
        let (h, w) = src.dim();
        let (eh, ew) = (h + 2 * border, w + 2 * border);
        let rows: Vec<usize> = (0..eh)
            .map(|y| reflect101(y as isize - border as isize, h))
            .collect();
        let cols: Vec<usize> = (0..ew)
            .map(|x| reflect101(x as isize - border as isize, w))
            .collect();
        let mut data = Vec::with_capacity(eh * ew);
        for &y in &rows {
            data.extend(cols.iter().map(|&x| i32::from(src[[y, x]])));
        }
        Self {
            data,
            width: ew,
            border,
        }
    }

    /// Row `y` of the extended image (0 = first padded row).
    fn row(&self, y: usize) -> &[i32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// OpenCV's `borderInterpolate(p, len, BORDER_REFLECT_101)`, reflecting as often as needed.
fn reflect101(mut p: isize, len: usize) -> usize {
    let n = len as isize;
    if n == 1 {
        return 0;
    }
    while p < 0 || p >= n {
        p = if p < 0 { -p } else { 2 * n - 2 - p };
    }
    p as usize
}

/// Denoises output rows `r0..r1` into `out` (row-major, `w` wide).
///
/// Offsets are the outer loop and rows the inner one, so the running column sums of an offset
/// stay in the L1 cache. Offsets go in pairs `(dy, dx)`, `(dy, dx + 1)`, whose two running
/// window sums form independent chains the processor overlaps.
fn denoise_stripe(
    ext: &Extended,
    p: &NlMeans,
    tables: &Tables,
    r0: usize,
    r1: usize,
    w: usize,
    out: &mut [u8],
) {
    let sh = p.search_half as isize;
    let n_cols = w + 2 * p.template_half;
    let mut work = Work {
        cs: [vec![0; n_cols], vec![0; n_cols]],
        ssd: [vec![0; w], vec![0; w]],
        est: vec![0; (r1 - r0) * w],
        wsum: vec![0; (r1 - r0) * w],
    };
    let stripe = Stripe {
        ext,
        p,
        tables,
        r0,
        r1,
        w,
    };
    for dy in -sh..=sh {
        let mut dx = -sh;
        while dx < sh {
            stripe.offsets(dy, [dx, dx + 1], &mut work);
            dx += 2;
        }
        if dx == sh {
            stripe.offsets(dy, [dx, dx], &mut work);
        }
    }
    for ((o, &e), &s) in out.iter_mut().zip(&work.est).zip(&work.wsum) {
        let (e, s) = (e as u32, s as u32);
        *o = ((e + s / 2) / s).min(255) as u8;
    }
}

/// Buffers of one stripe: running column sums and template distances of two offsets, and the
/// weighted sums and weight sums of the stripe's pixels.
struct Work {
    cs: [Vec<i32>; 2],
    ssd: [Vec<i32>; 2],
    est: Vec<i32>,
    wsum: Vec<i32>,
}

/// Rows `r0..r1` of the output.
struct Stripe<'a> {
    ext: &'a Extended,
    p: &'a NlMeans,
    tables: &'a Tables,
    r0: usize,
    r1: usize,
    w: usize,
}

impl Stripe<'_> {
    /// Adds the contributions of offsets `(dy, dxs[0])` and `(dy, dxs[1])` (once if equal).
    fn offsets(&self, dy: isize, dxs: [isize; 2], work: &mut Work) {
        let (th, b, w) = (self.p.template_half, self.ext.border, self.w);
        let tws = 2 * th + 1;
        let x0 = b - th; // first extended column a template can touch
        let shifted = |y: usize| (y as isize + dy) as usize;
        let pair = dxs[0] != dxs[1];
        let ext = self.ext;
        for i in self.r0..self.r1 {
            let yc = i + b; // extended row of the output pixel
            for (cs, &dx) in work.cs.iter_mut().zip(&dxs).take(1 + usize::from(pair)) {
                let xs = (x0 as isize + dx) as usize;
                if i == self.r0 {
                    cs.fill(0);
                    for y in yc - th..=yc + th {
                        add_sq_diff(cs, &ext.row(y)[x0..], &ext.row(shifted(y))[xs..], 1);
                    }
                } else {
                    let (add, sub) = (yc + th, yc - th - 1);
                    add_sq_diff(cs, &ext.row(add)[x0..], &ext.row(shifted(add))[xs..], 1);
                    add_sq_diff(cs, &ext.row(sub)[x0..], &ext.row(shifted(sub))[xs..], -1);
                }
            }
            let [ssd0, ssd1] = &mut work.ssd;
            if pair {
                window_sums2(&work.cs, tws, ssd0, ssd1);
            } else {
                window_sums(&work.cs[0], tws, ssd0);
            }
            let k = (i - self.r0) * w;
            for (ssd, &dx) in work.ssd.iter().zip(&dxs).take(1 + usize::from(pair)) {
                let values = &ext.row(shifted(yc))[(b as isize + dx) as usize..];
                accumulate(
                    ssd,
                    values,
                    self.tables,
                    &mut work.est[k..k + w],
                    &mut work.wsum[k..k + w],
                );
            }
        }
    }
}

// The hot loops below use wrapping arithmetic: it is exact here (all values are bounded:
// squared differences ≤ 255², template sums ≤ 225·255² for a 15×15 template, weighted sums
// ≤ INT_MAX by OpenCV's choice of the fixed-point multiplier) and, unlike checked arithmetic,
// lets the compiler vectorize.

/// `cs[x] += sign · (a[x] − b[x])²` for every `x` of `cs`.
fn add_sq_diff(cs: &mut [i32], a: &[i32], b: &[i32], sign: i32) {
    for ((c, &x), &y) in cs.iter_mut().zip(a).zip(b) {
        let d = x.wrapping_sub(y);
        *c = c.wrapping_add(sign.wrapping_mul(d.wrapping_mul(d)));
    }
}

/// `out[j] = Σ cs[j..j + width]` for every `j` of `out` (`cs` is `width − 1` longer).
fn window_sums(cs: &[i32], width: usize, out: &mut [i32]) {
    let mut s = cs[..width].iter().fold(0i32, |a, &v| a.wrapping_add(v));
    if let Some((first, rest)) = out.split_first_mut() {
        *first = s;
        for ((o, &add), &sub) in rest.iter_mut().zip(&cs[width..]).zip(cs) {
            s = s.wrapping_add(add.wrapping_sub(sub));
            *o = s;
        }
    }
}

/// [`window_sums`] of two rows at once (two independent dependency chains).
fn window_sums2(cs: &[Vec<i32>; 2], width: usize, out0: &mut [i32], out1: &mut [i32]) {
    let sum = |c: &[i32]| c[..width].iter().fold(0i32, |a, &v| a.wrapping_add(v));
    let (mut s0, mut s1) = (sum(&cs[0]), sum(&cs[1]));
    let n = out0.len().min(out1.len());
    if n == 0 {
        return;
    }
    out0[0] = s0;
    out1[0] = s1;
    let adds = cs[0][width..].iter().zip(&cs[1][width..]);
    let subs = cs[0].iter().zip(&cs[1]);
    let outs = out0[1..n].iter_mut().zip(&mut out1[1..n]);
    for ((o, a), s) in outs.zip(adds).zip(subs) {
        s0 = s0.wrapping_add(a.0.wrapping_sub(*s.0));
        s1 = s1.wrapping_add(a.1.wrapping_sub(*s.1));
        *o.0 = s0;
        *o.1 = s1;
    }
}

/// Pixels tested together for a non-zero weight before the (scalar) table look-ups.
const CHUNK: usize = 8;

/// Adds `lut[ssd >> shift] · value` to `est` and the weight to `wsum` (zero past the table).
///
/// Most weights are zero (the table ends where `exp(−d / h²) < 0.001`), so blocks whose
/// distances all lie past the table are skipped after one vectorizable comparison.
fn accumulate(ssd: &[i32], values: &[i32], tables: &Tables, est: &mut [i32], wsum: &mut [i32]) {
    let (lut, shift) = (&tables.lut, tables.bin_shift);
    let limit = i32::try_from(lut.len() << shift).unwrap_or(i32::MAX);
    let blocks = ssd
        .chunks(CHUNK)
        .zip(values.chunks(CHUNK))
        .zip(est.chunks_mut(CHUNK).zip(wsum.chunks_mut(CHUNK)));
    for ((d, v), (e, ws)) in blocks {
        if d.iter().fold(false, |any, &x| any | (x < limit)) {
            for (((&d, &v), e), ws) in d.iter().zip(v).zip(e.iter_mut()).zip(ws.iter_mut()) {
                let wt = lut.get((d >> shift) as usize).copied().unwrap_or(0);
                *e = e.wrapping_add(wt.wrapping_mul(v));
                *ws = ws.wrapping_add(wt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect101_reflects_repeatedly() {
        assert_eq!(reflect101(-1, 5), 1);
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(-9, 5), 1);
        assert_eq!(reflect101(13, 5), 3);
        assert_eq!(reflect101(-3, 1), 0);
    }

    #[test]
    fn lut_matches_opencv_constants() {
        let t = Tables::new(&NlMeans::default());
        assert_eq!(t.bin_shift, 6);
        assert_eq!(t.lut[0], 19096);
        assert_eq!(t.lut[1], 18848);
        assert_eq!(t.lut.len(), 529);
        assert_eq!(t.lut[528], 0);
    }
}

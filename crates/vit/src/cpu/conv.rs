//! 2-D convolutions of CPU tensors: im2col columns and one matrix product per image (or per
//! batch in [`Order::Cnhw`]), cut into pieces of pixels that stay in cache, with an inference
//! BatchNorm, a residual and a ReLU folded into each piece ([`Epilogue`]).

use std::cell::Cell;
use std::ops::Range;

use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Device, Shape, Tensor};
use rayon::prelude::*;

use super::linear::{Ptr, SendPtr, Split, in_blocks, product};
use super::{dense, flex};

/// How a batch of feature maps lies in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `[batch, channels, h, w]`: each image's channels together (burn's and PyTorch's order).
    Nchw,
    /// `[channels, batch, h, w]`: each channel's images together, so that one matrix product
    /// covers the pixels of the whole batch and packs the weight once.
    Cnhw,
}

/// An ungrouped, undilated 2-D convolution of a CPU tensor (`[batch, c_in, h, w]`, or
/// `[c_in, batch, h, w]` in [`Order::Cnhw`], the output then in the same order) with a weight
/// `[c_out, c_in, kh, kw]`, zero padding `[ph, pw]` on both sides, and an optional bias: the
/// patches are laid out as columns (none for a 1 × 1 stride-1 kernel, which reads the input
/// as it is) and multiplied by the weight, per image in `Nchw` and for the whole batch in
/// `Cnhw`; the product is cut into two blocks per thread and each block into pieces of pixels
/// whose columns stay in cache; `then`, if given, is applied to each piece while it is in
/// cache. `x` back on other devices or shapes.
pub fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    then: Option<Epilogue>,
    order: Order,
) -> Result<Tensor<4>, Tensor<4>> {
    let cpu = |d: Device, t: DType| d == Device::flex() && t == DType::F32;
    let [c_out, c_in, kh, kw] = weight.dims();
    let [d0, d1, h, w] = x.dims();
    let (b, xc) = match order {
        Order::Nchw => (d0, d1),
        Order::Cnhw => (d1, d0),
    };
    let bias_ok = bias.is_none_or(|b| cpu(b.device(), b.dtype()));
    let (sh, sw, ph, pw) = (stride[0], stride[1], padding[0], padding[1]);
    let fits = xc == c_in && sh > 0 && sw > 0 && h + 2 * ph >= kh && w + 2 * pw >= kw;
    let (ho, wo) = if fits {
        ((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1)
    } else {
        (0, 0)
    };
    let out_dims = match order {
        Order::Nchw => [b, c_out, ho, wo],
        Order::Cnhw => [c_out, b, ho, wo],
    };
    let then_ok = then.as_ref().is_none_or(|e| e.fits(c_out, out_dims));
    if !cpu(weight.device(), weight.dtype()) || !bias_ok || !fits || !then_ok {
        return Err(x);
    }
    let residual = then.as_ref().and_then(|e| e.residual.clone());
    let residual = residual.and_then(|r| r.try_into_primitive::<Flex>().ok());
    let residual = residual.map(dense);
    let res = residual
        .as_ref()
        .map(|r| Ptr(r.storage::<f32>()[r.layout().start_offset()..].as_ptr()));
    let x = dense(flex(x)?);
    let Some(wt) = weight.clone().try_into_primitive::<Flex>().ok() else {
        unreachable!("CPU f32 tensors are Flex tensors");
    };
    let wt = dense(wt);
    let bt = bias.and_then(|b| b.clone().try_into_primitive::<Flex>().ok());
    let bt = bt.map(dense);
    let hw = ho * wo;
    let k = c_in * kh * kw;
    // One product per group of `images` images side by side: each image in `Nchw`, the
    // whole batch in `Cnhw`; a group's product has `n` pixels.
    let images = match order {
        Order::Nchw => 1,
        Order::Cnhw => b,
    };
    let n = images * hw;
    // Each piece writes its own part of the output: the bias just before its product adds
    // to it, as in `linear`, or, without a bias, the product alone.
    let mut out: Vec<f32> = Vec::with_capacity(b * c_out * hw);
    let bias = bt
        .as_ref()
        .map(|t| &t.storage::<f32>()[t.layout().start_offset()..][..c_out]);
    let xs = &x.storage::<f32>()[x.layout().start_offset()..][..b * c_in * h * w];
    let ws = &wt.storage::<f32>()[wt.layout().start_offset()..];
    let direct = (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0);
    let geometry = Im2col {
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
        wo,
        ho,
        images,
    };
    let split = Split::of(c_out, n, k);
    let piece = piece_pixels(c_out, k);
    // Blocks of all output channels (one block, or a column cut) fill their own pixels'
    // columns just before their product reads them, in this thread's buffer; blocks of some
    // channels (a row cut) share columns filled beforehand.
    let shared = !direct && matches!(split, Split::Rows(_));
    // Taken from this thread for the call (zeroed only where it grows); every element of
    // `k × n` is written by `fill` before it is read.
    let mut cols = if shared { SHARED.take() } else { Vec::new() };
    if shared && cols.len() < k * n {
        cols.resize(k * n, 0.0);
    }
    for (g, group) in xs.chunks_exact(images * c_in * h * w).enumerate() {
        if shared {
            let taps = kh * kw;
            cols[..k * n]
                .par_chunks_exact_mut(taps * n)
                .enumerate()
                .for_each(|(c, rows)| geometry.fill(group, c * taps..(c + 1) * taps, 0..n, rows));
        }
        let (cols, wp) = (&cols, Ptr(ws.as_ptr()));
        // SAFETY: group `g`'s output lies inside `out`'s capacity.
        let dst = SendPtr(unsafe { out.as_mut_ptr().add(g * c_out * n) });
        // Output channels `r` and pixels `c` of this group.
        let pixels = |r: Range<usize>, c: Range<usize>, own: &mut Vec<f32>| {
            let (wp, dst) = (wp, dst);
            // The product's right operand: k rows of the piece's pixels.
            let (rhs, stride) = if direct {
                (group[c.start..].as_ptr(), n)
            } else if shared {
                (cols[c.start..].as_ptr(), n)
            } else {
                if own.len() < k * c.len() {
                    own.resize(k * c.len(), 0.0);
                }
                geometry.fill(group, 0..k, c.clone(), &mut own[..k * c.len()]);
                (own.as_ptr(), c.len())
            };
            // SAFETY: the piece lies inside the right operand (k × its pixels, row stride
            // `stride`), W (c_out × k) and this group's output (c_out × n, within `out`'s
            // capacity); pieces of different tasks do not overlap, and the product reads
            // only the piece's elements written just before.
            unsafe {
                // With a bias the product adds to it; without, it overwrites the piece.
                if let Some(bias) = bias {
                    for ch in r.clone() {
                        let line = std::slice::from_raw_parts_mut(
                            dst.0
                                .add(ch * n + c.start)
                                .cast::<std::mem::MaybeUninit<f32>>(),
                            c.len(),
                        );
                        line.fill(std::mem::MaybeUninit::new(bias[ch]));
                    }
                }
                product(
                    (r.len(), c.len(), k),
                    (dst.0.add(r.start * n + c.start), n as isize, 1),
                    (wp.0.add(r.start * k), k as isize, 1),
                    (rhs, stride as isize, 1),
                    if bias.is_some() { 1.0 } else { 0.0 },
                    1.0,
                );
            }
            if let Some(e) = &then {
                for ch in r {
                    let at = ch * n + c.start;
                    // SAFETY: row `ch`, columns `c` of this group's output belong to this
                    // piece; the residual has the output's shape (checked by `fits`).
                    let row = unsafe { std::slice::from_raw_parts_mut(dst.0.add(at), c.len()) };
                    let skip = res.map(|p| unsafe {
                        std::slice::from_raw_parts(p.0.add(g * c_out * n + at), c.len())
                    });
                    epilogue_row(row, e.scale[ch], e.shift[ch], skip, e.relu);
                }
            }
        };
        let block = |r: Range<usize>, c: Range<usize>| {
            COLUMNS.with_borrow_mut(|own| {
                let count = c.len().div_ceil(piece);
                let step = c.len().div_ceil(count).div_ceil(64) * 64;
                let mut at = c.start;
                while at < c.end {
                    let end = (at + step).min(c.end);
                    pixels(r.clone(), at..end, own);
                    at = end;
                }
                if own.len() > KEPT_COLUMNS {
                    *own = Vec::new();
                }
            });
        };
        in_blocks(c_out, n, k, block);
    }
    // SAFETY: for every group the pieces cover all c_out × n elements and wrote each of them.
    unsafe { out.set_len(b * c_out * hw) };
    if shared && cols.len() <= KEPT_COLUMNS {
        SHARED.set(cols);
    }
    drop((x, wt, bt, residual));
    let layout = Layout::contiguous(Shape::new(out_dims));
    let t = FlexTensor::new(Bytes::from_elems(out), layout, DType::F32);
    Ok(Tensor::from_primitive::<Flex>(t))
}

/// Pixels per piece of a product with `m` output channels and inner size `k`: as many as
/// keep the piece's columns and output within [`PIECE_ELEMENTS`], but at least
/// [`PIECE_PIXELS`], so that packing the weight again for each piece stays a small share.
fn piece_pixels(m: usize, k: usize) -> usize {
    (PIECE_ELEMENTS / (k + m).max(1)).max(PIECE_PIXELS)
}

/// Elements of columns and output a piece of a convolution's product aims at (4 MiB, within
/// a core's share of the last-level cache).
const PIECE_ELEMENTS: usize = 1 << 20;

/// Pixels a piece of a convolution's product has at least.
const PIECE_PIXELS: usize = 256;

/// Elements of a thread's im2col buffer kept for the next convolution (16 MiB); a larger
/// one is freed after use.
const KEPT_COLUMNS: usize = 1 << 22;

thread_local! {
    /// This thread's im2col buffer, kept between convolutions.
    static COLUMNS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The im2col buffer of the convolutions this thread calls whose blocks share one set of
    /// columns, kept between them.
    static SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// The geometry of a convolution's im2col columns: input `h × w`, kernel `kh × kw`, stride,
/// padding and output width.
#[derive(Debug, Clone, Copy)]
struct Im2col {
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    wo: usize,
    /// Output height.
    ho: usize,
    /// Images side by side in each channel's planes (the batch in [`Order::Cnhw`], else 1).
    images: usize,
}

impl Im2col {
    /// Fills `cols` with rows `rows` of the columns of `input` (`images` images side by side
    /// in each channel) at output pixels `pixels` (numbered image after image), one row of
    /// `pixels.len()` after another: row (c, ky, kx) at pixel (n, oy, ox) holds
    /// `x[c, n, oy·sh + ky - ph, ox·sw + kx - pw]`, zero outside the image.
    fn fill(&self, input: &[f32], rows: Range<usize>, pixels: Range<usize>, cols: &mut [f32]) {
        let Self {
            h,
            w,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            wo,
            ho,
            images,
        } = *self;
        let len = pixels.len();
        if len == 0 {
            return;
        }
        for (j, row) in rows.zip(cols.chunks_exact_mut(len)) {
            let (c, ky, kx) = (j / (kh * kw), j / kw % kh, j % kw);
            let planes = &input[c * images * h * w..][..images * h * w];
            // Outputs [lo, hi) of a line read inside the input row: ox·sw + kx - pw ∈ [0, w).
            let lo = pw.saturating_sub(kx).div_ceil(sw).min(wo);
            let hi = ((w + pw).saturating_sub(kx).div_ceil(sw)).clamp(lo, wo);
            // Image, output row and column of pixel `p`, advanced line by line (a line ends
            // with its output row).
            let (mut image, q) = (pixels.start / (ho * wo), pixels.start % (ho * wo));
            let (mut oy, mut ox0) = (q / wo, q % wo);
            let mut p = pixels.start;
            while p < pixels.end {
                let ox1 = wo.min(ox0 + (pixels.end - p));
                let line = &mut row[p - pixels.start..][..ox1 - ox0];
                let iy = (oy * sh + ky).wrapping_sub(ph);
                if iy >= h {
                    line.fill(0.0);
                } else {
                    let src = &planes[image * h * w + iy * w..][..w];
                    let (lo, hi) = (lo.clamp(ox0, ox1), hi.clamp(ox0, ox1));
                    line[..lo - ox0].fill(0.0);
                    line[hi - ox0..].fill(0.0);
                    if hi > lo {
                        let first = lo * sw + kx - pw;
                        let inside = &mut line[lo - ox0..hi - ox0];
                        if sw == 1 {
                            inside.copy_from_slice(&src[first..first + inside.len()]);
                        } else {
                            let from = src[first..].iter().step_by(sw);
                            for (v, x) in inside.iter_mut().zip(from) {
                                *v = *x;
                            }
                        }
                    }
                }
                p += ox1 - ox0;
                (oy, ox0) = (oy + 1, 0);
                if oy == ho {
                    (image, oy) = (image + 1, 0);
                }
            }
        }
    }
}

/// What follows a convolution, per output channel `c`: `y = scale[c] · y + shift[c]`, plus a
/// residual tensor of the output's shape, then a ReLU: an inference BatchNorm folded into the
/// convolution's output while it is in cache.
#[derive(Debug, Clone)]
pub struct Epilogue {
    /// Per-channel factor.
    pub scale: Vec<f32>,
    /// Per-channel offset.
    pub shift: Vec<f32>,
    /// Added after the affine map, `[batch, c_out, h_out, w_out]`.
    pub residual: Option<Tensor<4>>,
    /// Whether a ReLU ends it.
    pub relu: bool,
}

impl Epilogue {
    /// The inference BatchNorm `(y - mean) / √(var + eps) · gamma + beta` as scale and shift.
    pub fn batch_norm(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f64) -> Self {
        let scale: Vec<f32> = gamma
            .iter()
            .zip(var)
            .map(|(&g, &v)| (g as f64 / (v as f64 + eps).sqrt()) as f32)
            .collect();
        let shift = beta
            .iter()
            .zip(mean)
            .zip(&scale)
            .map(|((&b, &m), &s)| (b as f64 - m as f64 * s as f64) as f32)
            .collect();
        Self {
            scale,
            shift,
            residual: None,
            relu: false,
        }
    }

    /// Whether it applies on the CPU to an output of `channels` channels and shape `dims`.
    fn fits(&self, channels: usize, dims: [usize; 4]) -> bool {
        let residual_ok = self.residual.as_ref().is_none_or(|r| {
            r.device() == Device::flex() && r.dtype() == DType::F32 && r.dims() == dims
        });
        self.scale.len() == channels && self.shift.len() == channels && residual_ok
    }
}

dispatch!(epilogue_row(row: &mut [f32], scale: f32, shift: f32, skip: Option<&[f32]>, relu: bool) {
    match skip {
        Some(skip) => {
            for (v, r) in row.iter_mut().zip(skip) {
                *v = *v * scale + shift + *r;
            }
        }
        None => {
            for v in row.iter_mut() {
                *v = *v * scale + shift;
            }
        }
    }
    if relu {
        for v in row.iter_mut() {
            *v = v.max(0.0);
        }
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_util::{pool, random, rel};

    /// Random input `shape`, weight and bias of a convolution to `c_out` channels with a
    /// `k × k` kernel, and burn's options for stride `s` and padding `p`.
    fn conv_case(
        shape: [usize; 4],
        c_out: usize,
        k: usize,
        s: usize,
        p: usize,
    ) -> (
        Tensor<4>,
        Tensor<4>,
        Tensor<1>,
        burn::tensor::ops::ConvOptions<2>,
    ) {
        let options = burn::tensor::ops::ConvOptions::new([s, s], [p, p], [1, 1], 1);
        let w = random([c_out, shape[1], k, k]);
        (random(shape), w, random([c_out]), options)
    }

    #[test]
    fn conv2d_matches_burn() {
        use burn::tensor::module::conv2d as burn_conv2d;
        // (input, c_out, kernel, stride, padding): ResNet's 1 × 1, 3 × 3 (strides 1 and 2),
        // its 7 × 7 stem, and odd shapes.
        let cases = [
            ([1, 64, 56, 56], 256, 1, 1, 0),
            ([2, 512, 7, 7], 2048, 1, 1, 0),
            ([1, 64, 56, 56], 64, 3, 1, 1),
            ([2, 32, 29, 31], 48, 3, 2, 1),
            ([1, 3, 64, 64], 64, 7, 2, 3),
            ([3, 4, 5, 6], 7, 1, 2, 0),
            ([1, 2, 4, 3], 5, 3, 1, 2),
            // Cut by output channels (columns filled once, shared), strides 1 and 2.
            ([1, 256, 14, 14], 256, 3, 1, 1),
            ([1, 128, 28, 28], 256, 3, 2, 1),
            // Cut by pixels, blocks starting inside an output row.
            ([1, 64, 56, 56], 128, 3, 2, 1),
        ];
        for (shape, c_out, k, s, p) in cases {
            let (x, w, b, options) = conv_case(shape, c_out, k, s, p);
            for bias in [None, Some(b)] {
                let want = burn_conv2d(x.clone(), w.clone(), bias.clone(), options.clone());
                for threads in [1, 2, 3] {
                    let got = pool(threads)
                        .install(|| {
                            conv2d(
                                x.clone(),
                                &w,
                                bias.as_ref(),
                                [s, s],
                                [p, p],
                                None,
                                Order::Nchw,
                            )
                        })
                        .unwrap_or_else(|_| panic!("a CPU tensor"));
                    let e = rel(got, want.clone());
                    assert!(e < 1e-5, "{shape:?} → {c_out}, k {k}, s {s}, p {p}: {e}");
                }
            }
        }
    }

    #[test]
    fn conv2d_in_cnhw_order_matches_burn() {
        use burn::tensor::activation::relu;
        use burn::tensor::module::conv2d as burn_conv2d;
        // (input [b, c, h, w], c_out, kernel, stride, padding): a 1 × 1 read in place, a
        // strided 1 × 1, and 3 × 3 kernels whose products are cut into pieces of pixels that
        // span images and start inside output rows (k = 4608).
        let cases = [
            ([3, 64, 7, 7], 96, 1, 1, 0),
            ([2, 32, 9, 11], 40, 1, 2, 0),
            ([3, 512, 10, 9], 64, 3, 1, 1),
            ([4, 512, 13, 14], 32, 3, 2, 1),
        ];
        for (shape, c_out, k, s, p) in cases {
            let (x, w, b, options) = conv_case(shape, c_out, k, s, p);
            let y = burn_conv2d(x.clone(), w.clone(), Some(b.clone()), options);
            let residual = random(y.dims());
            let mut e = Epilogue::batch_norm(
                &vec![1.5; c_out],
                &vec![0.25; c_out],
                &vec![0.5; c_out],
                &vec![4.0; c_out],
                0.0,
            );
            e.residual = Some(residual.clone().swap_dims(0, 1));
            e.relu = true;
            let want = relu((y - 0.5) * 0.75 + 0.25 + residual);
            for threads in [1, 2, 3] {
                let got = pool(threads)
                    .install(|| {
                        let x = x.clone().swap_dims(0, 1);
                        let then = Some(e.clone());
                        conv2d(x, &w, Some(&b), [s, s], [p, p], then, Order::Cnhw)
                    })
                    .unwrap_or_else(|_| panic!("a CPU tensor"));
                let got = got.swap_dims(0, 1);
                assert_eq!(got.dims(), want.dims());
                let err = rel(got, want.clone());
                assert!(err < 1e-5, "{shape:?} → {c_out}, k {k}, s {s}: {err}");
            }
        }
        // The residual in the other order does not fit.
        let x = random([2, 3, 4, 4]);
        let mut e = Epilogue::batch_norm(&[1.0; 5], &[0.0; 5], &[0.0; 5], &[1.0; 5], 0.0);
        e.residual = Some(random([2, 5, 4, 4]));
        let w = random([5, 3, 1, 1]);
        let got = conv2d(
            x.swap_dims(0, 1),
            &w,
            None,
            [1, 1],
            [0, 0],
            Some(e),
            Order::Cnhw,
        );
        assert!(got.is_err());
    }

    #[test]
    fn folded_batch_norm_matches_burn() {
        use burn::tensor::activation::relu;
        use burn::tensor::module::{batch_norm, conv2d as burn_conv2d};
        use burn::tensor::ops::ConvOptions;
        let x = random([2, 16, 20, 20]);
        let w = random([32, 16, 3, 3]);
        let positive = |n| random([n]).abs().add_scalar(0.5);
        let (gamma, beta, mean, var) = (random([32]), random([32]), random([32]), positive(32));
        let residual = random([2, 32, 20, 20]);
        let values = |t: &Tensor<1>| t.to_data().try_to_vec::<f32>().unwrap_or_default();
        for (with_residual, with_relu) in [(false, true), (true, true), (true, false)] {
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let y = burn_conv2d(x.clone(), w.clone(), None, options);
            let y = batch_norm(
                y,
                gamma.clone(),
                beta.clone(),
                mean.clone(),
                var.clone(),
                1e-5,
            );
            let y = if with_residual {
                y + residual.clone()
            } else {
                y
            };
            let want = if with_relu { relu(y) } else { y };
            let mut e = Epilogue::batch_norm(
                &values(&gamma),
                &values(&beta),
                &values(&mean),
                &values(&var),
                1e-5,
            );
            e.residual = with_residual.then(|| residual.clone());
            e.relu = with_relu;
            for threads in [1, 2] {
                let got = pool(threads)
                    .install(|| {
                        conv2d(
                            x.clone(),
                            &w,
                            None,
                            [1, 1],
                            [1, 1],
                            Some(e.clone()),
                            Order::Nchw,
                        )
                    })
                    .unwrap_or_else(|_| panic!("a CPU tensor"));
                let err = rel(got, want.clone());
                assert!(
                    err < 1e-5,
                    "residual {with_residual}, relu {with_relu}: {err}"
                );
            }
        }
    }
}

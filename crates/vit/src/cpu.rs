//! Fused CPU kernels for burn's Flex backend: the exact (erf) GELU, CLIP's quick GELU, and
//! scaled dot-product attention that reads the heads in place and writes them merged.
//!
//! burn's Flex backend evaluates GELU with a scalar `erf` per element and attention's softmax
//! with a scalar `exp`; on the ViTs these took about a quarter of a forward pass. Here both
//! are branch-free polynomials that the compiler vectorizes (AVX2/FMA chosen at run time),
//! run on rayon's current pool. Tensors on any other device return `None` and go through
//! burn's own ops, so the models have one code path. [`by_images`] runs a batch as one part
//! per thread, the kernels uncut within each part.

// The kernels hand the caller's tensor back unchanged in `Err` when they do not apply: both
// variants are tensors, so the size lint says nothing useful here.
#![allow(clippy::result_large_err)]

use std::cell::Cell;
use std::ops::Range;

use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Device, Shape, Tensor};
use rayon::prelude::*;

/// Elements per parallel chunk of an elementwise kernel.
const CHUNK: usize = 1 << 14;

/// Query rows per attention piece, rounded to the caller's row alignment.
const ATTENTION_ROWS: usize = 256;

/// Defines `$name`, running `$body` compiled for AVX-512, else AVX2 + FMA, when the CPU has
/// them, else for the baseline target. The bodies are plain loops that the compiler
/// vectorizes for each; inside them the const `FMA` says whether fused multiply-adds are
/// native (x86 with FMA, aarch64), so that [`mad`] can use them.
macro_rules! dispatch {
    ($name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body<const FMA: bool>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn widest($($arg: $ty),*) {
                    body::<true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn wide($($arg: $ty),*) {
                    body::<true>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the features `widest` is compiled for.
                    return unsafe { widest($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            body::<{ cfg!(target_arch = "aarch64") }>($($arg),*)
        }
    };
}

/// `a b + c`, fused into one rounding where the target has native FMA (`FMA`), else two.
#[inline(always)]
fn mad<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// The f32 Flex tensor behind `x`, or `x` back when it lives elsewhere.
fn flex<const D: usize>(x: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    if x.device() != Device::flex() || x.dtype() != DType::F32 {
        return Err(x);
    }
    let back = x.clone();
    x.try_into_primitive::<Flex>().map_err(|_| back)
}

/// A contiguous f32 tensor that this caller owns alone (copied only when shared or strided).
fn owned(t: FlexTensor) -> FlexTensor {
    FlexTensor::from_data(t.into_data())
}

/// `t` with its elements in row-major order of its shape (copied only where strided).
fn dense(t: FlexTensor) -> FlexTensor {
    if t.layout().is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

/// Applies `kernel` to every element of `x` in place, in parallel chunks.
fn map<const D: usize>(x: FlexTensor, kernel: fn(&mut [f32])) -> Tensor<D> {
    let mut t = owned(x);
    let values = t.storage_mut::<f32>();
    if values.len() <= 2 * CHUNK || threads() <= 1 {
        kernel(values);
    } else {
        values.par_chunks_mut(CHUNK).for_each(kernel);
    }
    Tensor::from_primitive::<Flex>(t)
}

/// The exact GELU, `x Φ(x)`, of a CPU tensor; `None` (with `x` back) on other devices.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    flex(x).map(|t| map(t, gelu_slice))
}

/// CLIP's quick GELU, `x σ(1.702 x)`, of a CPU tensor; `x` back on other devices.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    flex(x).map(|t| map(t, quick_gelu_slice))
}

/// Work (m·n·k) below which a linear layer runs on one thread.
const PARALLEL_WORK: usize = 1 << 22;

thread_local! {
    /// Whether this thread runs one part of [`by_images`], the kernels uncut on it.
    static WHOLE: Cell<bool> = const { Cell::new(false) };
}

/// Threads the kernels cut their work across: rayon's, or one inside a part of [`by_images`].
fn threads() -> usize {
    if WHOLE.get() {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` with the kernels uncut on this thread, restoring the previous setting afterwards,
/// also when `f` panics (the panic reaches the caller).
fn whole<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            WHOLE.set(self.0);
        }
    }
    let _restore = Restore(WHOLE.replace(true));
    f()
}

/// Runs `forward` on a batch of images `[n, c, h, w]` and stacks its per-image rows in order.
/// On the CPU with `t > 1` threads and `n ≥ t`, the first `t·⌊n / t⌋` images run as `t`
/// equal parts at once, one per thread, each kernel uncut on its part's thread, so that no
/// layer waits for the other threads; the remaining `n mod t` images run afterwards with
/// every kernel cut across the threads. Anywhere else `forward` runs once on the whole batch.
pub fn by_images<E: Send>(
    x: Tensor<4>,
    forward: impl Fn(Tensor<4>) -> Result<Tensor<2>, E> + Sync,
) -> Result<Tensor<2>, E> {
    let t = threads();
    let n = x.dims()[0];
    if x.device() != Device::flex() || t <= 1 || n < t {
        return forward(x);
    }
    let per = n / t;
    let parts: Vec<Tensor<4>> = (0..t).map(|i| x.clone().narrow(0, i * per, per)).collect();
    let rest = (n > t * per).then(|| x.narrow(0, t * per, n - t * per));
    let mut rows = parts
        .into_par_iter()
        .map(|part| whole(|| forward(part)))
        .collect::<Result<Vec<_>, E>>()?;
    if let Some(rest) = rest {
        rows.push(forward(rest)?);
    }
    Ok(Tensor::cat(rows, 0))
}

/// `x` with its elements in row-major order of its shape: a copy on the CPU where its
/// layout is strided, else `x` itself.
pub fn contiguous<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match flex(x) {
        Ok(t) => Tensor::from_primitive::<Flex>(dense(t)),
        Err(x) => x,
    }
}

/// `x Wᵀ + b` of a CPU tensor `[.., d_in]` with burn's `[d_in, d_out]` weight, the bias added
/// by the matrix product itself; `x` back on other devices. With several threads the product
/// is cut into two blocks per thread (for balance on a busy machine) along the longer of
/// tokens and outputs, so that each block packs only its share of the larger operand.
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: &Tensor<2>,
    bias: Option<&Tensor<1>>,
) -> Result<Tensor<D>, Tensor<D>> {
    let cpu = |d: Device, t: DType| d == Device::flex() && t == DType::F32;
    let bias_ok = bias.is_none_or(|b| cpu(b.device(), b.dtype()));
    let [d_in, d_out] = weight.dims();
    if !cpu(weight.device(), weight.dtype()) || !bias_ok || x.dims()[D - 1] != d_in {
        return Err(x);
    }
    let dims = x.dims();
    let x = dense(flex(x)?);
    let w = weight.clone().try_into_primitive::<Flex>().ok();
    let b = bias.and_then(|b| b.clone().try_into_primitive::<Flex>().ok());
    let Some(w) = w else {
        unreachable!("CPU f32 tensors are Flex tensors");
    };
    let b = b.map(dense);
    let m = dims[..D - 1].iter().product::<usize>();
    let (k, n) = (d_in, d_out);
    let bias = b
        .as_ref()
        .map(|b| Ptr(b.storage::<f32>()[b.layout().start_offset()..][..n].as_ptr()));
    // Each block writes its own part of the output (the bias, or zeros) just before its
    // product adds to it, so the writes run in parallel and every element is written once
    // before it is read.
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    let xs = &x.storage::<f32>()[x.layout().start_offset()..];
    let (w_rs, w_cs) = (w.layout().strides()[0], w.layout().strides()[1]);
    // SAFETY: `start_offset` lies inside the weight's storage by the layout's invariant.
    let w_base = unsafe { w.storage::<f32>().as_ptr().add(w.layout().start_offset()) };
    let (xp, wp, dst) = (Ptr(xs.as_ptr()), Ptr(w_base), SendPtr(out.as_mut_ptr()));
    in_blocks(m, n, k, |r, c| {
        let (xp, wp, dst) = (xp, wp, dst);
        // SAFETY: the block lies inside x (m × k, row-major), the weight (k × n with its
        // strides), the bias (n) and `out` (capacity m × n); blocks of different tasks do not
        // overlap, and the product reads only the block's elements written just before.
        unsafe {
            for row in r.clone() {
                let line = dst.0.add(row * n + c.start);
                match bias {
                    Some(b) => std::ptr::copy_nonoverlapping(b.0.add(c.start), line, c.len()),
                    None => std::ptr::write_bytes(line, 0, c.len()),
                }
            }
            product(
                (r.len(), c.len(), k),
                (dst.0.add(r.start * n + c.start), n as isize, 1),
                (xp.0.add(r.start * k), k as isize, 1),
                (wp.0.wrapping_offset(c.start as isize * w_cs), w_rs, w_cs),
                1.0,
                1.0,
            );
        }
    });
    // SAFETY: the blocks cover all m × n elements and wrote each of them.
    unsafe { out.set_len(m * n) };
    drop((x, w, b));
    let mut shape = dims;
    shape[D - 1] = n;
    let t = FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::new(shape)),
        DType::F32,
    );
    Ok(Tensor::from_primitive::<Flex>(t))
}

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

/// Max pooling of a CPU tensor `[b, c, h, w]` with `kernel`, `stride` and symmetric
/// `padding` (padded cells never win, as in PyTorch; a NaN in a window gives NaN); `x` back on
/// other devices, or when the padding exceeds half the kernel.
pub fn max_pool2d(
    x: Tensor<4>,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<Tensor<4>, Tensor<4>> {
    let [b, c, h, w] = x.dims();
    let ([kh, kw], [sh, sw], [ph, pw]) = (kernel, stride, padding);
    // Every window then holds at least one input cell.
    let fits = kh > 0
        && kw > 0
        && sh > 0
        && sw > 0
        && 2 * ph <= kh
        && 2 * pw <= kw
        && h + 2 * ph >= kh
        && w + 2 * pw >= kw;
    if !fits {
        return Err(x);
    }
    let x = dense(flex(x)?);
    let (ho, wo) = ((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1);
    let xs = &x.storage::<f32>()[x.layout().start_offset()..][..b * c * h * w];
    let mut out = vec![0f32; b * c * ho * wo];
    // The larger of two values, NaN when either is.
    let pick = |a: f32, v: f32| if v > a || v.is_nan() { v } else { a };
    let plane = |(src, dst): (&[f32], &mut [f32])| {
        let mut line = vec![0f32; w];
        for (oy, row) in dst.chunks_exact_mut(wo).enumerate() {
            // Input rows [y0, y1) of this window row; the column maxima go to `line`.
            let y0 = (oy * sh).saturating_sub(ph);
            let y1 = (oy * sh + kh - ph).min(h);
            line.copy_from_slice(&src[y0 * w..][..w]);
            for y in y0 + 1..y1 {
                for (m, &v) in line.iter_mut().zip(&src[y * w..][..w]) {
                    *m = pick(*m, v);
                }
            }
            for (ox, o) in row.iter_mut().enumerate() {
                let x0 = (ox * sw).saturating_sub(pw);
                let x1 = (ox * sw + kw - pw).min(w);
                *o = line[x0 + 1..x1].iter().fold(line[x0], |m, &v| pick(m, v));
            }
        }
    };
    if threads() <= 1 || xs.len() < 2 * CHUNK {
        xs.chunks_exact(h * w)
            .zip(out.chunks_exact_mut(ho * wo))
            .for_each(plane);
    } else {
        xs.par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(ho * wo))
            .for_each(plane);
    }
    let layout = Layout::contiguous(Shape::new([b, c, ho, wo]));
    let t = FlexTensor::new(Bytes::from_elems(out), layout, DType::F32);
    Ok(Tensor::from_primitive::<Flex>(t))
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

/// `dst = alpha dst + beta lhs · rhs` for an `m × n` block with inner size `k`,
/// single-threaded; each operand given as (pointer, row stride, column stride) in elements.
/// gemm packs an operand into its micro-kernel's layout only where the strides ask for it,
/// and a packing that transposes runs element by element: callers lay operands out so that
/// the large ones are read in place.
///
/// # Safety
/// Every element addressed through the pointers and strides must lie in its allocation, and
/// no other thread may write the destination block meanwhile.
unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, isize, isize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    alpha: f32,
    beta: f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.2,
            dst.1,
            alpha != 0.0,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            alpha,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// How [`in_blocks`] cuts an `m × n` product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// One block, on this thread.
    Whole,
    /// Blocks of this many rows, all columns.
    Rows(usize),
    /// Blocks of this many columns, all rows.
    Columns(usize),
}

impl Split {
    /// Whole when small or single-threaded, else two blocks per thread along the longer side
    /// (columns in multiples of 16, the micro-kernel's width), so that each block packs only
    /// its share of the larger operand.
    fn of(m: usize, n: usize, k: usize) -> Self {
        let threads = threads();
        if threads <= 1 || m * n * k < PARALLEL_WORK {
            Split::Whole
        } else if m >= n {
            Split::Rows(m.div_ceil(2 * threads))
        } else {
            Split::Columns(n.div_ceil(2 * threads).div_ceil(16) * 16)
        }
    }
}

/// Runs `block(rows, columns)` over an `m × n` product of inner size `k`, cut as
/// [`Split::of`] says.
fn in_blocks(m: usize, n: usize, k: usize, block: impl Fn(Range<usize>, Range<usize>) + Sync) {
    match Split::of(m, n, k) {
        Split::Whole => block(0..m, 0..n),
        Split::Rows(step) => (0..m.div_ceil(step))
            .into_par_iter()
            .for_each(|i| block(i * step..((i + 1) * step).min(m), 0..n)),
        Split::Columns(step) => (0..n.div_ceil(step))
            .into_par_iter()
            .for_each(|i| block(0..m, i * step..((i + 1) * step).min(n))),
    }
}

/// A read-only pointer shared by tasks.
#[derive(Clone, Copy)]
struct Ptr(*const f32);

// SAFETY: the pointed-to storage is immutable and outlives every task.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

dispatch!(gelu_slice(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu_f32::<FMA>(*v);
    }
});

dispatch!(quick_gelu_slice(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = quick_gelu_f32::<FMA>(*v);
    }
});

/// `exp(x)` to about 1 ulp: `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-7 Taylor
/// polynomial in `r`, and `2^n` built in the exponent bits. Branch-free, so loops vectorize.
#[inline(always)]
fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that `n * LN2_HI` is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    // Below LO the result is under f32's smallest normal; above HI it overflows.
    const LO: f32 = -87.3;
    const HI: f32 = 88.72;
    // Not `clamp`, which keeps NaN: NaN becomes LO here (so the integer conversion below is
    // defined) and is restored at the end.
    #[allow(clippy::manual_clamp)]
    let xc = x.max(LO).min(HI);
    let n = mad::<FMA>(xc, LOG2_E, ROUND) - ROUND;
    let r = mad::<FMA>(-n, LN2_LO, mad::<FMA>(-n, LN2_HI, xc));
    // Horner's scheme for the Taylor polynomial of degree 7.
    const C: [f32; 8] = [
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        1.0 / 2.0,
        1.0,
        1.0,
    ];
    let p = C[1..].iter().fold(C[0], |acc, &c| mad::<FMA>(acc, r, c));
    // 2^n in two factors, so that n = 128 (x near HI) stays representable. Wrapping
    // arithmetic: exact here (|n| ≤ 128), and without overflow checks the loops vectorize.
    // SAFETY: n is an integer in [-126, 128].
    let n: i32 = unsafe { n.to_int_unchecked() };
    let half = n >> 1;
    let pow2 = |e: i32| f32::from_bits(e.wrapping_add(127).wrapping_shl(23) as u32);
    let y = p * pow2(half) * pow2(n.wrapping_sub(half));
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// `x Φ(x)` with `Φ(x) = 1 - erfc(x / √2) / 2`, `erfc` by Abramowitz & Stegun 7.1.26
/// (absolute error below 1.5e-7, the approximation PyTorch's vectorized CPU GELU uses),
/// evaluated on `|x|` so that the negative tail keeps its relative precision.
#[inline(always)]
fn gelu_f32<const FMA: bool>(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * z);
    let poly = t * A[..4]
        .iter()
        .rev()
        .fold(A[4], |acc, &a| mad::<FMA>(acc, t, a));
    let half_erfc = 0.5 * poly * exp_f32::<FMA>(-z * z);
    let phi = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    x * phi
}

/// `x σ(1.702 x) = x / (1 + e^{-1.702 x})`.
#[inline(always)]
fn quick_gelu_f32<const FMA: bool>(x: f32) -> f32 {
    x / (1.0 + exp_f32::<FMA>(-1.702 * x))
}

/// Scaled dot-product attention of CPU tensors `[batch, heads, tokens, dim]` with scale
/// `1 / √dim` and an optional additive bias (`bias(batch, heads, rows)` gives a piece's
/// `[b, h, rows, keys]`, asked for `rows` in multiples of `row_align`). The output is laid out
/// `[batch, tokens, heads, dim]` in memory, so merging the heads afterwards copies nothing.
/// Returns the inputs back when they are not on the CPU.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    row_align: usize,
    bias: &dyn Fn(Range<usize>, Range<usize>, Range<usize>) -> Option<Tensor<4>>,
) -> Result<Tensor<4>, (Tensor<4>, Tensor<4>, Tensor<4>)> {
    let on_cpu = |t: &Tensor<4>| t.device() == Device::flex() && t.dtype() == DType::F32;
    let ([qb, qh, _, qd], [kb, kh, keys, kd], [vb, vh, vk, _]) = (q.dims(), k.dims(), v.dims());
    let shapes_agree = (qb, qh, qd) == (kb, kh, kd) && (qb, qh, keys) == (vb, vh, vk);
    if !(on_cpu(&q) && on_cpu(&k) && on_cpu(&v) && shapes_agree) {
        // burn's own op reports shapes that do not agree.
        return Err((q, k, v));
    }
    let unwrap = |t: Tensor<4>| t.try_into_primitive::<Flex>().ok();
    let (Some(q), Some(k), Some(v)) = (unwrap(q), unwrap(k), unwrap(v)) else {
        unreachable!("CPU f32 tensors are Flex tensors");
    };
    let [b, h, n, d] = dims(&q);
    let dv = dims(&v)[3];
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; b * n * h * dv];
    let align = row_align.max(1);
    let block = if n <= 2 * ATTENTION_ROWS {
        n
    } else {
        (ATTENTION_ROWS / align).max(1) * align
    };
    let qs = Strided::new(&q);
    // With several row pieces, gemm would gather each piece's keys into its packed layout
    // again, one element at a time, and read keys and values through rows that lie a page
    // apart (heads are interleaved); copied once per head, keys transposed, both are read in
    // place or packed with whole-vector copies.
    let copies = (n > block).then(|| (per_head(&k, true), per_head(&v, false)));
    let (ks, vs) = match &copies {
        Some(((kt, k_strides), (vc, v_strides))) => (
            Strided {
                base: kt.as_ptr(),
                strides: *k_strides,
            },
            Strided {
                base: vc.as_ptr(),
                strides: *v_strides,
            },
        ),
        None => (Strided::new(&k), Strided::new(&v)),
    };
    let dst = SendPtr(out.as_mut_ptr());
    for r0 in (0..n).step_by(block.max(1)) {
        let rows = block.min(n - r0);
        let piece = bias(0..b, 0..h, r0..r0 + rows).map(|t| {
            // Broadcast to the piece's full shape (a view), on the CPU in f32; a bias whose
            // rows are not contiguous is copied once into a plain layout.
            let full = [b, h, rows, keys];
            let t = if t.dims() == full { t } else { t.expand(full) };
            let t = t.to_device(&Device::flex());
            let t = if t.dtype() == DType::F32 {
                t
            } else {
                t.cast(burn::tensor::FloatDType::F32)
            };
            let Ok(t) = t.try_into_primitive::<Flex>() else {
                unreachable!("CPU f32 tensors are Flex tensors");
            };
            let unit = t.layout().strides().get(3) == Some(&1);
            if unit { t } else { owned(t) }
        });
        let bs = piece.as_ref().map(Strided::new);
        let job = Head {
            q: qs,
            k: ks,
            v: vs,
            bias: bs,
            rows: r0..r0 + rows,
            keys,
            d,
            dv,
            heads: h,
            tokens: n,
            scale,
            dst,
        };
        let scratch = || vec![0f32; rows * keys + rows];
        if threads() <= 1 {
            let mut scratch = scratch();
            (0..b * h).for_each(|i| job.run(i / h, i % h, &mut scratch));
        } else {
            (0..b * h)
                .into_par_iter()
                .for_each_init(scratch, |scratch, i| job.run(i / h, i % h, scratch));
        }
        drop(piece);
    }
    drop(copies);
    // The returned view is `[b, h, n, dv]` over memory ordered `[b, n, h, dv]`.
    let strides = vec![(n * h * dv) as isize, dv as isize, (h * dv) as isize, 1];
    let layout = Layout::new(Shape::new([b, h, n, dv]), strides, 0);
    let t = FlexTensor::new(Bytes::from_elems(out), layout, DType::F32);
    drop((q, k, v));
    Ok(Tensor::from_primitive::<Flex>(t))
}

/// A `[b, h, tokens, d]` tensor (any strides) copied head by head into contiguous memory, as
/// `[b, h, d, tokens]` when `transpose`, else as `[b, h, tokens, d]`; with its strides in
/// the `[b, h, tokens, d]` order. Token by token, each write of the transposed copy touches
/// the same `d` lines as the token before, so both sides stay in cache.
fn per_head(t: &FlexTensor, transpose: bool) -> (Vec<f32>, [isize; 4]) {
    let [b, h, tokens, d] = dims(t);
    let src = Strided::new(t);
    let mut out = vec![0f32; b * h * tokens * d];
    let copy = |(i, head): (usize, &mut [f32])| {
        let (bi, hi) = (i / h, i % h);
        for c in 0..tokens {
            let row = src.at(bi, hi, c);
            let (first, step) = if transpose { (c, tokens) } else { (c * d, 1) };
            for (l, dst) in head[first..].iter_mut().step_by(step).take(d).enumerate() {
                // SAFETY: element [bi, hi, c, l] lies inside the tensor's storage.
                *dst = unsafe { *row.wrapping_offset(l as isize * src.strides[3]) };
            }
        }
    };
    let chunk = (tokens * d).max(1);
    if threads() <= 1 {
        out.chunks_mut(chunk).enumerate().for_each(copy);
    } else {
        out.par_chunks_mut(chunk).enumerate().for_each(copy);
    }
    let head = (tokens * d) as isize;
    let (token, dim) = if transpose {
        (1, tokens as isize)
    } else {
        (d as isize, 1)
    };
    (out, [h as isize * head, head, token, dim])
}

/// The four dimensions of a rank-4 tensor.
fn dims(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

/// A raw view of a Flex tensor's elements: base pointer and strides.
#[derive(Clone, Copy)]
struct Strided {
    base: *const f32,
    strides: [isize; 4],
}

// SAFETY: the pointed-to storage is immutable and outlives every use (the tensors are held
// by `attention` until all tasks have finished).
unsafe impl Send for Strided {}
unsafe impl Sync for Strided {}

impl Strided {
    fn new(t: &FlexTensor) -> Self {
        let l = t.layout();
        let s = l.strides();
        // SAFETY: `start_offset` is inside the storage by the layout's invariant.
        let base = unsafe { t.storage::<f32>().as_ptr().add(l.start_offset()) };
        Self {
            base,
            strides: [s[0], s[1], s[2], s[3]],
        }
    }

    /// Pointer to element `[i, j, r, 0]`.
    fn at(&self, i: usize, j: usize, r: usize) -> *const f32 {
        let s = self.strides;
        let off = i as isize * s[0] + j as isize * s[1] + r as isize * s[2];
        self.base.wrapping_offset(off)
    }
}

/// The output buffer, shared by tasks that write disjoint rows.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);

// SAFETY: each task writes only its own (batch, head, rows) elements.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// One piece of attention: a block of query rows of every (batch, head).
struct Head {
    q: Strided,
    k: Strided,
    v: Strided,
    bias: Option<Strided>,
    rows: Range<usize>,
    keys: usize,
    d: usize,
    dv: usize,
    heads: usize,
    tokens: usize,
    scale: f32,
    dst: SendPtr,
}

impl Head {
    /// Attention of batch item `bi`, head `hi` over this piece's rows.
    fn run(&self, bi: usize, hi: usize, scratch: &mut [f32]) {
        let m = self.rows.len();
        let (scores, inv) = scratch.split_at_mut(m * self.keys);
        let q = self.q.at(bi, hi, self.rows.start);
        let k = self.k.at(bi, hi, 0);
        let v = self.v.at(bi, hi, 0);
        // SAFETY: every pointer addresses elements inside its tensor (shapes checked by the
        // strides' layout); `scores` holds m × keys; the destination rows of (bi, hi) are
        // written by this task only.
        unsafe {
            // scores = scale · q kᵀ
            product(
                (m, self.keys, self.d),
                (scores.as_mut_ptr(), self.keys as isize, 1),
                (q, self.q.strides[2], self.q.strides[3]),
                (k, self.k.strides[3], self.k.strides[2]),
                0.0,
                self.scale,
            );
        }
        for (r, row) in scores.chunks_exact_mut(self.keys).enumerate() {
            let bias = self.bias.map(|b| {
                // SAFETY: the bias piece is [b, h, rows, keys] with unit key stride.
                unsafe { std::slice::from_raw_parts(b.at(bi, hi, r), self.keys) }
            });
            inv[r] = softmax_row(row, bias);
        }
        let out_rs = (self.heads * self.dv) as isize;
        let first = (bi * self.tokens + self.rows.start) * self.heads + hi;
        let dst = self.dst.0.wrapping_add(first * self.dv);
        unsafe {
            // out = p v (p unnormalized)
            product(
                (m, self.dv, self.keys),
                (dst, out_rs, 1),
                (scores.as_ptr(), self.keys as isize, 1),
                (v, self.v.strides[2], self.v.strides[3]),
                0.0,
                1.0,
            );
            for (r, &s) in inv.iter().enumerate() {
                let row = std::slice::from_raw_parts_mut(
                    dst.wrapping_offset(r as isize * out_rs),
                    self.dv,
                );
                for x in row {
                    *x *= s;
                }
            }
        }
    }
}

/// Adds `bias` to a row of scores, replaces it by `exp(s - max)`, and returns `1 / Σ`.
fn softmax_row(row: &mut [f32], bias: Option<&[f32]>) -> f32 {
    if let Some(b) = bias {
        add_slice(row, b);
    }
    let max = max_slice(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return 0.0;
    }
    let sum = exp_sum_slice(row, max);
    1.0 / sum
}

dispatch!(add_slice(row: &mut [f32], b: &[f32]) {
    for (x, y) in row.iter_mut().zip(b) {
        *x += *y;
    }
});

/// Lanes of the vectorized reductions.
const LANES: usize = 16;

fn max_slice(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    max_lanes(row, &mut acc);
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

dispatch!(max_lanes(row: &[f32], acc: &mut [f32; LANES]) {
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = if x > *a { x } else { *a };
    }
});

fn exp_sum_slice(row: &mut [f32], max: f32) -> f32 {
    let mut acc = [0f32; LANES];
    exp_lanes(row, max, &mut acc);
    acc.iter().sum()
}

dispatch!(exp_lanes(row: &mut [f32], max: f32, acc: &mut [f32; LANES]) {
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c.iter_mut()) {
            *x = exp_f32::<FMA>(*x - max);
            *a += *x;
        }
    }
    for (a, x) in acc.iter_mut().zip(chunks.into_remainder().iter_mut()) {
        *x = exp_f32::<FMA>(*x - max);
        *a += *x;
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample points: a dense grid plus the extremes.
    fn points() -> Vec<f32> {
        let mut xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 1e-3).collect();
        xs.extend([
            -100.0, -88.5, -87.5, -87.2, 88.5, 88.7, 88.8, 100.0, 0.0, -0.0, 1e-30, -1e-30,
        ]);
        xs
    }

    /// Whether the dispatched kernels use fused multiply-adds on this CPU.
    fn native_fma() -> bool {
        // The same test as `dispatch!`: AVX-512, or AVX2 with FMA.
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                || (std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma"))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            cfg!(target_arch = "aarch64")
        }
    }

    /// Runs `check` on both the fused and the unfused variant of a scalar kernel.
    fn both<F: Fn(&str, fn(f32) -> f32)>(fused: fn(f32) -> f32, plain: fn(f32) -> f32, check: F) {
        check("fused", fused);
        check("unfused", plain);
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        both(exp_f32::<true>, exp_f32::<false>, |variant, exp| {
            for x in points() {
                let want = (x as f64).exp();
                let got = exp(x) as f64;
                if want < f32::MIN_POSITIVE as f64 * 4.0 {
                    assert!(
                        got <= f32::MIN_POSITIVE as f64 * 4.0,
                        "{variant} exp({x}) = {got}"
                    );
                } else if want > f32::MAX as f64 {
                    assert!(
                        got.is_infinite() || got > 1e38,
                        "{variant} exp({x}) = {got}"
                    );
                } else {
                    assert!(
                        (got - want).abs() <= 2.5e-7 * want,
                        "{variant} exp({x}) = {got}, want {want}"
                    );
                }
            }
            assert!(exp(f32::NAN).is_nan());
            assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        });
    }

    #[test]
    fn gelu_matches_the_exact_definition() {
        both(gelu_f32::<true>, gelu_f32::<false>, |variant, gelu| {
            let mut worst = 0f64;
            for x in points() {
                let xd = x as f64;
                let want = 0.5 * xd * (1.0 + erf(xd / std::f64::consts::SQRT_2));
                let err = (gelu(x) as f64 - want).abs() / xd.abs().max(1.0);
                worst = worst.max(err);
            }
            assert!(worst < 2e-7, "{variant}: worst scaled error {worst}");
        });
        let mut v = points();
        let scalar = if native_fma() {
            gelu_f32::<true>
        } else {
            gelu_f32::<false>
        };
        let want: Vec<f32> = v.iter().map(|&x| scalar(x)).collect();
        gelu_slice(&mut v);
        assert_eq!(v, want, "the dispatched kernel computes the same values");
    }

    #[test]
    fn quick_gelu_matches_its_definition() {
        both(
            quick_gelu_f32::<true>,
            quick_gelu_f32::<false>,
            |variant, quick| {
                for x in points() {
                    let xd = x as f64;
                    let want = xd / (1.0 + (-1.702 * xd).exp());
                    let got = quick(x) as f64;
                    assert!(
                        (got - want).abs() <= 3e-7 * xd.abs().max(1e-30),
                        "{variant} quick_gelu({x}) = {got}"
                    );
                }
            },
        );
    }

    use burn::tensor::Distribution;

    fn random<const D: usize>(shape: [usize; D]) -> Tensor<D> {
        Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), &Device::flex())
    }

    /// Largest |a - b| relative to the largest |b|.
    fn rel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-30);
        (a - b).abs().max().into_scalar::<f32>() / scale
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    }

    #[test]
    fn linear_matches_burn_in_every_split() {
        // Row blocks (tokens ≥ outputs), column blocks (fewer tokens), one block (small), with
        // a contiguous and a transposed (strided) weight, with and without bias.
        for (x_shape, d_out) in [([2, 300, 96], 200), ([1, 40, 96], 2000), ([1, 5, 8], 6)] {
            let x = random(x_shape);
            let d_in = x_shape[2];
            let w_plain = random([d_in, d_out]);
            let w_strided = random([d_out, d_in]).transpose();
            let b = random([d_out]);
            for w in [w_plain, w_strided] {
                for bias in [Some(b.clone()), None] {
                    let want = burn::tensor::module::linear(x.clone(), w.clone(), bias.clone());
                    for threads in [1, 2, 3] {
                        let got = pool(threads)
                            .install(|| linear(x.clone(), &w, bias.as_ref()))
                            .unwrap_or_else(|_| panic!("a CPU tensor"));
                        let e = rel(got, want.clone());
                        assert!(e < 1e-5, "{x_shape:?} × {d_out}, {threads} threads: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn by_images_runs_equal_parts_whole_and_the_rest_cut() {
        use std::sync::Mutex;
        let w = random([512, 3000]);
        let b = random([3000]);
        // A linear layer and GELU per image, noting the batch and the threads its kernels saw.
        let seen = Mutex::new(Vec::new());
        let forward = |x: Tensor<4>| -> Result<Tensor<2>, String> {
            let [n, c, h, wd] = x.dims();
            seen.lock().expect("not poisoned").push((n, threads()));
            let y = linear(x.reshape([n, c * h * wd]), &w, Some(&b)).map_err(|_| "not CPU")?;
            gelu(y).map_err(|_| "not CPU".to_string())
        };
        for (threads_in_pool, n, calls) in [
            (2, 5, vec![(2, 1), (2, 1), (1, 2)]),
            (2, 4, vec![(2, 1), (2, 1)]),
            (3, 7, vec![(2, 1), (2, 1), (2, 1), (1, 3)]),
            (3, 2, vec![(2, 3)]),
            (1, 5, vec![(5, 1)]),
        ] {
            let x = random([n, 2, 16, 16]);
            let want = pool(1).install(|| forward(x.clone())).expect("runs");
            seen.lock().expect("not poisoned").clear();
            let p = pool(threads_in_pool);
            let got = p.install(|| by_images(x.clone(), forward)).expect("runs");
            let e = rel(got, want);
            assert!(e < 1e-6, "{threads_in_pool} threads, batch {n}: {e}");
            let mut seen_now = std::mem::take(&mut *seen.lock().expect("not poisoned"));
            seen_now.sort_by_key(|&(batch, t)| (std::cmp::Reverse(batch), t));
            assert_eq!(seen_now, calls, "{threads_in_pool} threads, batch {n}");
            // Every worker cuts kernels again afterwards.
            assert!(
                p.broadcast(|_| threads())
                    .iter()
                    .all(|&t| t == threads_in_pool)
            );
        }
        // An error of one part is the result, and leaves no worker uncut.
        let p = pool(2);
        let failing = |x: Tensor<4>| -> Result<Tensor<2>, String> {
            if x.dims()[0] == 1 {
                return Err("part of one".into());
            }
            forward(x)
        };
        let err = p.install(|| by_images(random([3, 2, 16, 16]), failing));
        assert_eq!(err.err().as_deref(), Some("part of one"));
        assert!(p.broadcast(|_| threads()).iter().all(|&t| t == 2));
    }

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
    fn max_pool2d_matches_burn() {
        use burn::nn::PaddingConfig2d;
        use burn::nn::pool::MaxPool2dConfig;
        // (input, kernel, stride, padding): ResNet's stem pool and odd shapes.
        let cases = [
            ([1, 64, 112, 112], [3, 3], [2, 2], [1, 1]),
            ([2, 5, 9, 7], [3, 3], [2, 2], [1, 1]),
            ([1, 3, 8, 11], [2, 3], [2, 1], [1, 0]),
            ([2, 2, 5, 5], [5, 4], [3, 3], [2, 2]),
            ([1, 1, 1, 1], [1, 1], [1, 1], [0, 0]),
        ];
        for (shape, kernel, stride, padding) in cases {
            let x = random(shape);
            let [ph, pw] = padding;
            let want = MaxPool2dConfig::new(kernel)
                .with_strides(stride)
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .init()
                .forward(x.clone());
            for threads in [1, 2, 3] {
                let got = pool(threads)
                    .install(|| max_pool2d(x.clone(), kernel, stride, padding))
                    .unwrap_or_else(|_| panic!("a CPU tensor"));
                assert_eq!(got.dims(), want.dims(), "{shape:?}");
                let e = rel(got, want.clone());
                assert!(
                    e == 0.0,
                    "{shape:?}, {kernel:?} {stride:?} {padding:?}: {e}"
                );
            }
        }
        // A NaN wins its windows, as in PyTorch; padding beyond half the kernel is declined.
        let mut values = vec![1.0f32; 16];
        values[5] = f32::NAN;
        let data = burn::tensor::TensorData::new(values, [1, 1, 4, 4]);
        let x = Tensor::<4>::from_data(data, &Device::flex());
        let got = max_pool2d(x.clone(), [2, 2], [2, 2], [0, 0]).unwrap_or_else(|_| panic!("CPU"));
        let got = got.into_data().try_to_vec::<f32>().unwrap_or_default();
        assert!(
            got[0].is_nan() && got[1..].iter().all(|v| *v == 1.0),
            "{got:?}"
        );
        assert!(max_pool2d(x, [2, 2], [1, 1], [2, 2]).is_err());
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

    #[test]
    fn attention_matches_burn_with_bias_and_row_pieces() {
        use burn::tensor::module::attention as burn_attention;
        for (n, keys, align) in [(700, 700, 7), (30, 50, 1), (600, 130, 20)] {
            let heads = 3;
            let split = |t: Tensor<3>| crate::layers::split_heads(t, heads);
            let q = split(random([2, n, 48]));
            let k = split(random([2, keys, 48]));
            let v = split(random([2, keys, 48]));
            let bias = random([2, heads, n, keys]).mul_scalar(3.0);
            // No bias, a full one, and one broadcast over the batch ([1, h, rows, keys]).
            for (with_bias, broadcast) in [(true, false), (false, false), (true, true)] {
                let piece = |b: Range<usize>, h: Range<usize>, r: Range<usize>| {
                    let b = if broadcast { 0..1 } else { b };
                    with_bias.then(|| bias.clone().slice([b, h, r]))
                };
                let want = burn_attention(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    None,
                    piece(0..2, 0..heads, 0..n),
                    Default::default(),
                );
                for threads in [1, 2] {
                    let got = pool(threads)
                        .install(|| attention(q.clone(), k.clone(), v.clone(), align, &piece))
                        .unwrap_or_else(|_| panic!("CPU tensors"));
                    let e = rel(got, want.clone());
                    assert!(
                        e < 1e-5,
                        "n {n}, keys {keys}, bias {with_bias} {broadcast}: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn activations_on_strided_tensors_match_burn() {
        let x = random([64, 300]).mul_scalar(6.0).transpose();
        let want = burn::tensor::activation::gelu(x.clone());
        let got = gelu(x.clone()).unwrap_or_else(|_| panic!("a CPU tensor"));
        assert!(rel(got, want) < 1e-6);
        let sig = burn::tensor::activation::sigmoid(x.clone().mul_scalar(1.702));
        let want = x.clone() * sig;
        let got = quick_gelu(x).unwrap_or_else(|_| panic!("a CPU tensor"));
        assert!(rel(got, want) < 1e-6);
    }

    /// erf in f64.
    fn erf(x: f64) -> f64 {
        libm::erf(x)
    }
}

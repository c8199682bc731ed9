//! Scaled dot-product attention of CPU tensors: heads read in place through their strides (or,
//! for long sequences, from one per-head copy of keys and values), query rows in pieces, a
//! vectorized softmax, and the heads written merged.

use std::ops::Range;

use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Device, Shape, Tensor};
use rayon::prelude::*;

use super::activation::exp_f32;
use super::linear::{SendPtr, product};
use super::owned;
use super::threads::threads;

/// Query rows per attention piece, rounded to the caller's row alignment.
const ATTENTION_ROWS: usize = 256;

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
    use crate::cpu::test_util::{pool, random, rel};

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
}

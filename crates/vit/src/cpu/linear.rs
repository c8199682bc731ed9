//! Matrix products: the fused linear layer, and the single-threaded gemm product with the cut
//! of a product into blocks per thread that the convolutions and attention share.

use std::ops::Range;

use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Device, Shape, Tensor};
use rayon::prelude::*;

use super::threads::{PARALLEL_WORK, threads};
use super::{dense, flex};

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

/// `dst = alpha dst + beta lhs · rhs` for an `m × n` block with inner size `k`,
/// single-threaded; each operand given as (pointer, row stride, column stride) in elements.
/// gemm packs an operand into its micro-kernel's layout only where the strides ask for it,
/// and a packing that transposes runs element by element: callers lay operands out so that
/// the large ones are read in place.
///
/// # Safety
/// Every element addressed through the pointers and strides must lie in its allocation, and
/// no other thread may write the destination block meanwhile.
pub(super) unsafe fn product(
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
pub(super) enum Split {
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
    pub(super) fn of(m: usize, n: usize, k: usize) -> Self {
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
pub(super) fn in_blocks(
    m: usize,
    n: usize,
    k: usize,
    block: impl Fn(Range<usize>, Range<usize>) + Sync,
) {
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
pub(super) struct Ptr(pub(super) *const f32);

// SAFETY: the pointed-to storage is immutable and outlives every task.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// The output buffer, shared by tasks that write disjoint rows.
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);

// SAFETY: each task writes only its own elements (its block of a product, its (batch, head,
// rows) of attention).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_util::{pool, random, rel};

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
}

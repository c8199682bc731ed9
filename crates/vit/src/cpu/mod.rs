//! Fused CPU kernels for burn's Flex backend, for the operations that dominate a forward pass:
//! linear layers ([`linear()`], the bias added by the matrix product), 2-D convolutions
//! ([`conv2d`], im2col and one product per image or per batch, an inference BatchNorm, a
//! residual and a ReLU folded in by an [`Epilogue`]), max pooling ([`max_pool2d`]), the exact
//! (erf) GELU and CLIP's quick GELU ([`gelu`], [`quick_gelu`]), and scaled dot-product
//! attention that reads the heads in place and writes them merged ([`attention()`]).
//! [`by_images`] runs a batch as one part of images per thread, the kernels uncut within each
//! part; [`contiguous`] lays a tensor out row-major.
//!
//! burn's Flex backend evaluates GELU with a scalar `erf` per element and attention's softmax
//! with a scalar `exp`; on the ViTs these took about a quarter of a forward pass. Here both
//! are branch-free polynomials that the compiler vectorizes (AVX-512 or AVX2/FMA chosen at run
//! time), run on rayon's current pool. The products call gemm once per block, each thread's
//! block packing only its share of the larger operand. A kernel given a tensor on any other
//! device (or a shape it does not handle) hands it back in `Err`, and the caller goes through
//! burn's own op, so the models have one code path.
//!
//! One file per job: `threads.rs` (how work is cut across threads, [`by_images`]),
//! `activation.rs` (GELU, quick GELU, `exp`), `linear.rs` (linear layers and the blocked gemm
//! product the others share), `conv.rs` (convolutions, [`Order`], [`Epilogue`]), `pool.rs`
//! (max pooling) and `attention.rs`; this file holds the run-time SIMD dispatch and the Flex
//! tensor helpers.

// The kernels hand the caller's tensor back unchanged in `Err` when they do not apply: both
// variants are tensors, so the size lint says nothing useful here.
#![allow(clippy::result_large_err)]

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Device, Tensor};
use rayon::prelude::*;

use threads::{CHUNK, threads};

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

mod activation;
mod attention;
mod conv;
mod linear;
mod pool;
mod threads;

pub use activation::{gelu, quick_gelu};
pub use attention::attention;
pub use conv::{Epilogue, Order, conv2d};
pub use linear::linear;
pub use pool::max_pool2d;
pub use threads::by_images;

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

/// `x` with its elements in row-major order of its shape: a copy on the CPU where its
/// layout is strided, else `x` itself.
pub fn contiguous<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match flex(x) {
        Ok(t) => Tensor::from_primitive::<Flex>(dense(t)),
        Err(x) => x,
    }
}

/// Helpers shared by the kernels' tests.
#[cfg(test)]
mod test_util {
    use burn::tensor::{Device, Distribution, Tensor};

    pub(super) fn random<const D: usize>(shape: [usize; D]) -> Tensor<D> {
        Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), &Device::flex())
    }

    /// Largest |a - b| relative to the largest |b|.
    pub(super) fn rel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-30);
        (a - b).abs().max().into_scalar::<f32>() / scale
    }

    pub(super) fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    }
}

//! Max pooling of CPU feature maps (ResNet's stem).

use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Shape, Tensor};
use rayon::prelude::*;

use super::threads::{CHUNK, threads};
use super::{dense, flex};

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

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::cpu::test_util::{pool, random, rel};

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
}

//! Elementwise activations of CPU tensors: the exact (erf) GELU and CLIP's quick GELU, as
//! branch-free polynomials that vectorize, and the `exp` they (and attention's softmax) share.

use burn::tensor::Tensor;

use super::{flex, mad, map};

/// The exact GELU, `x Φ(x)`, of a CPU tensor; `x` back on other devices.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    flex(x).map(|t| map(t, gelu_slice))
}

/// CLIP's quick GELU, `x σ(1.702 x)`, of a CPU tensor; `x` back on other devices.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    flex(x).map(|t| map(t, quick_gelu_slice))
}

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
pub(super) fn exp_f32<const FMA: bool>(x: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_util::{random, rel};

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

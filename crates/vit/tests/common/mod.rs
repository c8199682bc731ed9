//! Helpers shared by the parity tests.

use burn::tensor::Tensor;
use ndarray::ArrayD;

/// Largest accepted max |rust − reference| / max |reference|.
pub const TOL: f32 = 1e-4;

/// Asserts that `got` has `want`'s shape and is within [`TOL`] of it (relative to its scale).
pub fn compare<const D: usize>(what: &str, got: Tensor<D>, want: &ArrayD<f32>) {
    assert_eq!(got.dims().to_vec(), want.shape().to_vec(), "{what}: shape");
    let got: Vec<f32> = got.into_data().try_to_vec::<f32>().unwrap();
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let rel = err / scale;
    println!("{what}: max abs error {err:.3e}, relative {rel:.3e} (scale {scale:.3e})");
    assert!(rel <= TOL, "{what}: relative error {rel:.3e} > {TOL:e}");
}

//! Fixture loading shared by the parity tests (`scripts/make_sklearn_fixtures.py` writes them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::ReadNpyExt;

/// The fixture directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture array of any dimension.
pub fn load(name: &str) -> ArrayD<f64> {
    let path = dir().join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ArrayD::<f64>::read_npy(file).unwrap()
}

/// A 2-D fixture.
pub fn load2(name: &str) -> Array2<f64> {
    load(name).into_dimensionality().unwrap()
}

/// A 1-D fixture.
pub fn load1(name: &str) -> Array1<f64> {
    load(name).into_dimensionality().unwrap()
}

/// Largest difference relative to the largest reference magnitude.
pub fn max_rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

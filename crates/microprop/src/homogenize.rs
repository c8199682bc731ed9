//! Effective moduli of a user's own voxel volume.

use std::path::Path;

use microprop_correlations::{distinct_labels, io::read_npy_labels};
use ndarray::{Array3, Ix3};

use crate::error::{Error, Result};

/// Reads a two-phase volume from `.npy` (binary, or two labels: the larger one is the stiff
/// phase) as labels 0 (soft) / 1 (stiff).
pub fn read_volume(path: &Path) -> Result<Array3<u8>> {
    let labels = read_npy_labels(path)?;
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    };
    let present = distinct_labels(&labels);
    if present.len() > 2 {
        return Err(bad(format!(
            "{} distinct labels (first few: {:?}); a two-phase volume is needed",
            present.len(),
            &present[..present.len().min(8)]
        )));
    }
    let stiff = present.last().copied().unwrap_or(1);
    let soft_only = present.len() == 1 && present[0] == 0;
    let shape = labels.shape().to_vec();
    labels
        .mapv(|v| u8::from(v == stiff && !soft_only))
        .into_dimensionality::<Ix3>()
        .map_err(|_| bad(format!("shape {shape:?}; a 3-D volume is needed")))
}

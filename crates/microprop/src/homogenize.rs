//! Effective moduli of a user's own voxel volume.

use std::path::Path;

use microprop_correlations::{distinct_labels, io::read_npy_labels};
use microprop_homogenization::solver::{Control, Solver};
use ndarray::{Array3, ArrayBase, ArrayView3, Data, Dimension, Ix3};
use serde::Serialize;

use crate::error::{Error, Result};

/// Reads a two-phase volume from `.npy` (binary, or two labels: the larger one is the stiff
/// phase) as labels 0 (soft) / 1 (stiff).
pub fn read_volume(path: &Path) -> Result<Array3<u8>> {
    let labels = read_npy_labels(path)?;
    two_phase(&labels).map_err(|detail| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    })
}

/// A label volume as 0 (soft) / 1 (stiff): one label, or two of which the larger is the
/// stiff phase (a volume of zeros alone is all soft). The error says what is wrong.
pub fn two_phase<S: Data<Elem = u16>, D: Dimension>(
    labels: &ArrayBase<S, D>,
) -> std::result::Result<Array3<u8>, String> {
    let present = distinct_labels(labels);
    if present.len() > 2 {
        return Err(format!(
            "{} distinct labels (first few: {:?}); a two-phase volume is needed",
            present.len(),
            &present[..present.len().min(8)]
        ));
    }
    let stiff = present.last().copied().unwrap_or(1);
    let soft_only = present.len() == 1 && present[0] == 0;
    let shape = labels.shape().to_vec();
    labels
        .mapv(|v| u8::from(v == stiff && !soft_only))
        .into_dimensionality::<Ix3>()
        .map_err(|_| format!("shape {shape:?}; a 3-D volume is needed"))
}

/// Which effective moduli to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moduli {
    /// `E11` (mixed control) only.
    E11,
    /// `C1111` (strain control) only.
    C1111,
    /// Both.
    Both,
}

/// The effective moduli of one volume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Homogenized {
    /// Young's modulus along axis 1, `1 / S*1111` (uniaxial stress).
    #[serde(rename = "E11")]
    pub e11: Option<f64>,
    /// `C*1111` (uniaxial strain).
    #[serde(rename = "C1111")]
    pub c1111: Option<f64>,
    /// Volume fraction of the stiff phase (label 1).
    pub volume_fraction: f64,
    /// CG iterations of all solves.
    pub iterations: usize,
}

/// Homogenizes a 0/1 volume: `E11` under mixed control, `C1111` under strain control.
pub fn homogenize(
    solver: &Solver,
    volume: &ArrayView3<'_, u8>,
    which: Moduli,
) -> Result<Homogenized> {
    let run = |c: Control| solver.solve(volume, c).map_err(Error::from);
    let mixed = (which != Moduli::C1111)
        .then(|| run(Control::Mixed))
        .transpose()?;
    let strain = (which != Moduli::E11)
        .then(|| run(Control::Strain))
        .transpose()?;
    let stiff = volume.iter().filter(|&&v| v == 1).count();
    Ok(Homogenized {
        e11: mixed.as_ref().map(|s| s.mean_stress[0]),
        c1111: strain.as_ref().map(|s| s.mean_stress[0]),
        volume_fraction: stiff as f64 / volume.len().max(1) as f64,
        iterations: mixed.iter().chain(&strain).map(|s| s.iterations).sum(),
    })
}

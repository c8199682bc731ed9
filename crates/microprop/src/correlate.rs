//! Two-point feature vectors of label images: where a two-point feature vector is made.

use std::path::{Path, PathBuf};

use microprop_correlations::segment::Segmenter;
use microprop_correlations::{
    Cutoff, Labels, Order, TwoPoint, binary_phases, distinct_labels, read_labels,
};
use ndarray::{Array2, ArrayD};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inputs::stem;
use crate::progress::Progress;
use crate::segment::read_labels_maybe_segmented;

/// Auto- or cross-correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// `⟨A(x) A(x + r)⟩`.
    #[default]
    Auto,
    /// `⟨A(x) B(x + r)⟩`.
    Cross,
}

/// Everything that decides the features of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelateSettings {
    /// Auto or cross.
    pub kind: Kind,
    /// Phase pairs `(A, B)`; empty: the two phases of a binary image, A = the higher label.
    pub pairs: Vec<(u16, u16)>,
    /// Statistics settings (periodicity and cutoff).
    pub two_point: TwoPoint,
    /// Centre crop of each map to this side (odd).
    pub crop: Option<usize>,
    /// Flattening order of each map.
    pub order: Order,
    /// Variable read from `.mat` files.
    pub mat_variable: String,
    /// Accept a phase that does not occur in an image (its statistics are then zero).
    pub allow_absent_phase: bool,
    /// Region of known phase (`true`) applied to every image; pixels outside it are ignored.
    pub mask: Option<Mask>,
    /// Segment gray micrographs (to 0/255) before computing statistics.
    pub segment: Option<Segmenter>,
}

impl Default for CorrelateSettings {
    fn default() -> Self {
        Self {
            kind: Kind::Auto,
            pairs: Vec::new(),
            two_point: TwoPoint::non_periodic().with_cutoff(Cutoff::Half),
            crop: None,
            order: Order::RowMajor,
            mat_variable: "a".to_string(),
            allow_absent_phase: false,
            mask: None,
            segment: None,
        }
    }
}

impl CorrelateSettings {
    /// The settings the paper used for case study 2 (`Features_TP`): non-periodic cross
    /// correlation of phase 255 with phase 0, cutoff half, maps cropped to 159 × 159,
    /// column-major order.
    pub fn paper_case2() -> Self {
        Self {
            kind: Kind::Cross,
            pairs: vec![(255, 0)],
            two_point: TwoPoint::non_periodic().with_cutoff(Cutoff::Half),
            crop: Some(159),
            order: Order::ColumnMajor,
            ..Self::default()
        }
    }

    /// Checks settings that do not depend on the images.
    pub fn validate(&self) -> Result<()> {
        // Zero is a multiple of two, so this also refuses 0.
        if let Some(c) = self.crop.filter(|c| c.is_multiple_of(2)) {
            return Err(Error::Setting {
                name: "--crop",
                reason: format!(
                    "{c} must be odd and positive (zero displacement stays at the centre)"
                ),
            });
        }
        Ok(())
    }

    /// The phase pairs used for one image.
    fn pairs_for(&self, labels: &Labels, path: &Path) -> Result<Vec<(u16, u16)>> {
        let what = path.display().to_string();
        let pairs = if self.pairs.is_empty() {
            let (hi, lo) = binary_phases(labels, &what)?;
            if hi == lo && self.kind == Kind::Cross && !self.allow_absent_phase {
                return Err(absent(&what, labels, lo));
            }
            vec![(hi, lo)]
        } else {
            self.pairs.clone()
        };
        let pairs: Vec<_> = pairs
            .into_iter()
            .map(|(a, b)| match self.kind {
                Kind::Auto => (a, a),
                Kind::Cross => (a, b),
            })
            .collect();
        if !self.allow_absent_phase {
            let present = distinct_labels(labels);
            for &(a, b) in &pairs {
                for p in [a, b] {
                    if present.binary_search(&p).is_err() {
                        return Err(absent(&what, labels, p));
                    }
                }
            }
        }
        Ok(pairs)
    }
}

fn absent(what: &str, labels: &Labels, phase: u16) -> Error {
    microprop_correlations::Error::PhaseAbsent {
        what: what.to_string(),
        phase,
        present: distinct_labels(labels).into_iter().take(8).collect(),
    }
    .into()
}

/// `730×665`.
fn shape_text(shape: &[usize]) -> String {
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// The feature vector of one label image (maps of all pairs, concatenated).
pub fn features_of_labels(
    labels: &Labels,
    path: &Path,
    settings: &CorrelateSettings,
) -> Result<Vec<f64>> {
    let in_file = |e: microprop_correlations::Error| Error::from(e.in_file(path));
    let pairs = settings.pairs_for(labels, path)?;
    if let Some(m) = &settings.mask
        && m.values.shape() != labels.shape()
    {
        return Err(Error::Setting {
            name: "mask",
            reason: format!(
                "mask {} is {} but image {} is {}",
                m.path.display(),
                shape_text(m.values.shape()),
                path.display(),
                shape_text(labels.shape())
            ),
        });
    }
    let mask = settings.mask.as_ref().map(|m| m.values.view());
    let maps = settings
        .two_point
        .phases(labels, &pairs, mask.as_ref())
        .map_err(in_file)?;
    let mut features = Vec::new();
    for map in maps {
        let map = match settings.crop {
            Some(c) => map.centre_crop(c).map_err(in_file)?,
            None => map,
        };
        features.extend(map.flatten(settings.order));
    }
    Ok(features)
}

/// A region of known phase, with the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// The mask file.
    pub path: PathBuf,
    /// `true` where the phase is known.
    pub values: ArrayD<bool>,
}

/// Reads a mask file: any image, `.npy` or `.mat` whose non-zero pixels are of known phase.
pub fn read_mask(path: &Path, mat_variable: &str) -> Result<Mask> {
    Ok(Mask {
        path: path.to_path_buf(),
        values: read_labels(path, mat_variable)?.mapv(|v| v != 0),
    })
}

/// The feature vector of one file.
pub fn features_of_file(path: &Path, settings: &CorrelateSettings) -> Result<Vec<f64>> {
    let labels =
        read_labels_maybe_segmented(path, settings.segment.as_ref(), &settings.mat_variable)?;
    features_of_labels(&labels, path, settings)
}

/// One row of features per file (in the given order), computed in parallel.
pub fn feature_matrix(files: &[PathBuf], settings: &CorrelateSettings) -> Result<Array2<f64>> {
    settings.validate()?;
    let progress = Progress::new("two-point", files.len());
    let rows: Vec<Result<Vec<f64>>> = files
        .par_iter()
        .map(|f| {
            let r = features_of_file(f, settings);
            progress.tick();
            r
        })
        .collect();
    progress.finish();
    let rows: Vec<Vec<f64>> = rows.into_iter().collect::<Result<_>>()?;
    stack(files, rows)
}

/// Stacks equal-length rows into a matrix, naming the first file whose length differs.
fn stack(files: &[PathBuf], rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
    let width = rows.first().map_or(0, Vec::len);
    if let Some(i) = rows.iter().position(|r| r.len() != width) {
        return Err(Error::FeatureLength {
            path: files[i].clone(),
            len: rows[i].len(),
            first: files[0].clone(),
            expected: width,
        });
    }
    let n = rows.len();
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    Array2::from_shape_vec((n, width), flat).map_err(|e| Error::Setting {
        name: "features",
        reason: e.to_string(),
    })
}

/// Row names (file stems) of a list of inputs.
pub fn row_names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| stem(f)).collect()
}

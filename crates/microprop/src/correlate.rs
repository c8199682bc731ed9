//! Two-point feature vectors of label images: where a two-point feature vector is made.

use std::path::{Path, PathBuf};

use microprop_correlations::segment::Segmenter;
use microprop_correlations::{Labels, TwoPointFeatures, read_labels_with, stack_rows};
use ndarray::{Array1, Array2, ArrayD};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inputs::stem;
use crate::progress::Progress;
use crate::segment::read_labels_maybe_segmented;

/// Everything that decides the features of one file: the feature spec of the correlations
/// crate, and how files are read (`.mat` variable, mask, segmentation).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelateSettings {
    /// What each vector holds (pairs, periodicity, cutoff, crop, order).
    pub features: TwoPointFeatures,
    /// Variable read from `.mat` files.
    pub mat_variable: String,
    /// Region of known phase (`true`) applied to every image; pixels outside it are ignored.
    pub mask: Option<Mask>,
    /// Segment gray micrographs (to 0/255) before computing statistics.
    pub segment: Option<Segmenter>,
}

impl Default for CorrelateSettings {
    fn default() -> Self {
        Self {
            features: TwoPointFeatures::default(),
            mat_variable: "a".to_string(),
            mask: None,
            segment: None,
        }
    }
}

impl CorrelateSettings {
    /// The settings the paper used for case study 2 (`Features_TP`): see
    /// [`TwoPointFeatures::paper_case2`].
    pub fn paper_case2() -> Self {
        Self {
            features: TwoPointFeatures::paper_case2(),
            ..Self::default()
        }
    }

    /// Checks settings that do not depend on the images.
    pub fn validate(&self) -> Result<()> {
        Ok(self.features.validate()?)
    }

    /// Everything that decides the features, as JSON (what a shard manifest records, so
    /// that shards computed with other settings are never merged).
    pub fn manifest_settings(&self) -> Result<serde_json::Value> {
        let json = serde_json::json!({
            "features": self.features,
            "mat_variable": self.mat_variable,
            "mask": self.mask.as_ref().map(|m| m.path.display().to_string()),
            "segment": self.segment,
        });
        Ok(json)
    }
}

/// `730×665`.
fn shape_text(shape: &[usize]) -> String {
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// The feature vector of one label image read from `path` (maps of all pairs, concatenated).
pub fn features_of_labels(
    labels: &Labels,
    path: &Path,
    settings: &CorrelateSettings,
) -> Result<Vec<f64>> {
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
    let what = path.display().to_string();
    let vector = settings
        .features
        .vector_of(&labels.view(), mask.as_ref(), &what)
        .map_err(|e| Error::from(e.in_file(path)))?;
    Ok(vector.to_vec())
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
        values: read_labels_with(path, mat_variable)?.mapv(|v| v != 0),
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
pub(crate) fn stack(files: &[PathBuf], rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
    let rows = rows.into_iter().map(Array1::from).collect();
    Ok(stack_rows(rows, |i| files[i].display().to_string())?)
}

/// Row names (file stems) of a list of inputs.
pub fn row_names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| stem(f)).collect()
}
